"""The regularisation experiment: its sub-runs (methods x seeds, the penalties and early stopping where the
config puts them), and the small config from the command line."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from experiments import regularization
from experiments.configs import regularization as reg_config

ROOT = Path(__file__).resolve().parents[2]


def test_sub_runs_are_methods_times_seeds():
    config = reg_config.get_config()
    subs = regularization.sub_runs(config)
    assert list(subs) == [f"{m}_seed{s}" for m in reg_config.METHODS for s in (0, 1, 2)]
    assert subs["l1_seed2"].seed == 2 and subs["l1_seed2"].optimizer.l1 == 1e-4
    assert subs["l1_seed2"].optimizer.get("l2", 0) == 0
    assert subs["l2_seed0"].optimizer.l2 == 3e-3 and subs["none_seed0"].optimizer.get("l2", 0) == 0
    assert subs["dropout_seed1"].model.dropout.drop_rate == 0.5
    early, plain = subs["early_stopping_seed0"], subs["none_seed0"]
    assert early.restore_best and early.early_stopping.patience == config.patience
    assert not plain.restore_best and plain.early_stopping.patience == 0  # watched, never stops
    assert early.early_stopping.metric == plain.early_stopping.metric == "valid_loss"


def test_small_config_runs_from_the_command_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "experiments.regularization", f"--workdir={tmp_path}",
                           "--config=experiments/configs/regularization.py:small"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert list(results["methods"]) == ["early_stopping", "dropout"]
    for m in results["methods"].values():
        accs = m["test_accuracy_per_seed"]
        assert len(accs) == 2 and all(0.0 <= a <= 1.0 for a in accs)
        np.testing.assert_allclose(m["test_accuracy_mean"], np.mean(accs))
        np.testing.assert_allclose(m["test_accuracy_std"], np.std(accs, ddof=1))
    weights = np.load(tmp_path / "dropout_seed0" / "weights.npy")
    assert weights.shape == (8 * 8 * 32 + 32 * 32,)  # the two hidden layers' weights
    for name in ("curves", "accuracy", "weights"):
        assert (tmp_path / "plots" / f"{name}.png").exists()
