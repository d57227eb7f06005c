"""Pretraining experiment: the labelled subsets, the pretrained init in the MLP, the small config end to end."""

import json
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from experiments import label_fractions, pretraining
from experiments.configs import pretraining as pretraining_config
from seqmodels.training import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_labelled_subset_is_stratified_and_seeded():
    y = np.repeat(np.arange(10), 50)
    a, b = label_fractions.labelled_subset(y, 0.1, 0), label_fractions.labelled_subset(y, 0.1, 1)
    assert np.all(np.bincount(y[a]) == 5) and len(set(a) ^ set(b)) > 0
    np.testing.assert_array_equal(a, label_fractions.labelled_subset(y, 0.1, 0))
    assert np.all(np.bincount(y[label_fractions.labelled_subset(y, 0.001, 0)]) == 1)  # at least one per class


def test_pretrained_init_puts_the_encoders_in_the_mlp():
    config = pretraining_config.get_config("small")
    sub = pretraining.sub_runs(config)["labels10pct_pretrained_seed0"]
    task = pretraining.make_task(sub)
    layers = pretraining.pretrained_layers(sub, 0)[0]
    p1, p2 = task.init_params(jax.random.key(1)), task.init_params(jax.random.key(2))
    np.testing.assert_array_equal(p1[0]["w"], layers[0]["w"])
    assert not np.allclose(p1[-1]["w"], p2[-1]["w"])  # the read-out is drawn from the key


def test_residual_mlp_is_refused():
    config = pretraining_config.get_config("small")
    config.model.mlp = dict(hidden_size=16, num_layers=2, residual=True)
    with pytest.raises(ConfigError, match="residual"):
        pretraining.sub_runs(config)


def test_small_config_runs_from_the_command_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "experiments.pretraining", f"--workdir={tmp_path}",
                           "--config=experiments/configs/pretraining.py:small"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["table"]) == {"10%_random", "10%_pretrained"}
    assert all(0.0 <= m["test_accuracy_mean"] <= 1.0 for m in results["table"].values())
    assert (tmp_path / "plots" / "accuracy.png").exists() and (tmp_path / "plots" / "filters.png").exists()
