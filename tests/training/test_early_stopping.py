"""Early stopping: hand-traced sequences, min/max, min_delta, state round trip."""

import json
import math

import pytest

from seqmodels.training.early_stopping import EarlyStopping


def _trace(stopper, values):
    out = []
    for step, v in enumerate(values, 1):
        out.append(stopper.update(step * 10, {"loss": v, "accuracy": -v}))
    return out


def test_min_mode_with_patience():
    stopper = EarlyStopping(metric="loss", mode="min", patience=2)
    assert _trace(stopper, [1.0, 0.5, 0.6, 0.4, 0.45, 0.41]) == [True, True, False, True, False, False]
    assert stopper.stopped and stopper.best == 0.4 and stopper.best_step == 40 and stopper.bad_evals == 2


def test_max_mode_and_min_delta():
    stopper = EarlyStopping(metric="accuracy", mode="max", patience=0, min_delta=0.05)
    assert _trace(stopper, [1.0, 0.97, 0.9, 0.5]) == [True, False, True, True]
    assert not stopper.stopped  # patience 0 never stops


def test_nan_is_never_an_improvement():
    stopper = EarlyStopping(patience=1)
    assert _trace(stopper, [math.nan]) == [False]
    assert stopper.stopped and stopper.best is None


def test_state_round_trips_through_json():
    stopper = EarlyStopping(metric="loss", patience=3)
    _trace(stopper, [1.0, 0.3, 0.7])
    again = EarlyStopping.from_dict(json.loads(json.dumps(stopper.to_dict())))
    assert again == stopper
    assert _trace(again, [0.8, 0.9]) == [False, False] and again.stopped


def test_errors():
    with pytest.raises(ValueError, match=r"expected one of \['min', 'max'\], got 'up'"):
        EarlyStopping(mode="up")
    with pytest.raises(ValueError, match="patience: expected >= 0"):
        EarlyStopping(patience=-1)
    with pytest.raises(ValueError, match=r"'acc' is not an eval metric; eval metrics are \['loss'\]"):
        EarlyStopping(metric="acc").update(1, {"loss": 1.0})
