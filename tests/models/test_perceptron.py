"""The perceptron rule: converges on separable data within Novikoff's bound, never settles on XOR."""

import numpy as np
import pytest

from seqmodels.data import packaged
from seqmodels.models import perceptron


def _separable(seed, n=200, margin=0.2):
    """Points of [-1, 1]^2 at least `margin` from the line u . [x, 1] = 0, labelled by its side."""
    rng = np.random.default_rng(seed)
    u = np.array([1.0, -2.0, 0.3]) / np.linalg.norm([1.0, -2.0, 0.3])
    x = rng.uniform(-1, 1, size=(4 * n, 2))
    s = np.concatenate([x, np.ones((len(x), 1))], axis=1) @ u
    keep = np.abs(s) >= margin
    return x[keep][:n], (s[keep][:n] > 0).astype(np.int32), u


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_updates_respect_novikoffs_bound(seed):
    x, y, u = _separable(seed)
    result = perceptron.train(x, y, seed=seed, max_epochs=1000)
    bound = perceptron.novikoff_bound(x, y, u)
    assert result["converged"] and 0 < result["updates"] <= bound
    assert np.all(perceptron.predict(result["w"], result["b"], x) == y)


def test_learning_rate_does_not_change_the_mistakes_from_zero_init():
    x, y, _ = _separable(3)
    a, b = perceptron.train(x, y, eta=1.0), perceptron.train(x, y, eta=0.01)
    assert a["errors_per_epoch"] == b["errors_per_epoch"]
    np.testing.assert_allclose(a["w"] * 0.01, b["w"], rtol=1e-12)


def test_digits_zero_versus_one_reach_zero_training_errors():
    train = packaged.digits()["train"]
    keep = train["y"] <= 1
    x, y = train["x"][keep].reshape(keep.sum(), -1), train["y"][keep]
    result = perceptron.train(x, y)
    assert result["converged"] and result["errors_per_epoch"][-1] == 0
    assert np.mean(perceptron.predict(result["w"], result["b"], x) == y) == 1.0


def test_xor_never_converges():
    x = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    result = perceptron.train(x, np.array([0, 1, 1, 0]), max_epochs=50)
    assert not result["converged"] and min(result["errors_per_epoch"]) > 0


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="labels must be 0 or 1"):
        perceptron.train(np.zeros((3, 2)), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="does not separate"):
        perceptron.novikoff_bound(np.array([[1.0], [2.0]]), np.array([0, 1]), np.array([-1.0, 0.0]))
