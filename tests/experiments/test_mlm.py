"""Masked-LM experiment: the small config end to end from the command line (pretrain, then fine-tune from the
saved encoder), and a clear error for a bad init."""

import json
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from experiments import mlm
from experiments.configs import mlm as mlm_config
from seqmodels.training import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_small_config_runs_from_the_command_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "experiments.mlm", f"--workdir={tmp_path}",
                          "--config=experiments/configs/mlm.py:small"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    results = json.loads((tmp_path / "results.json").read_text())
    rows = results["table"]
    assert set(rows) == {"10%_scratch", "10%_pretrained"}
    for row in rows.values():
        assert row["num_labels"] == 20 and 0 <= row["test_accuracy_mean"] <= 1
    assert np.isfinite(results["pretrain"]["metrics"]["loss"])
    assert (tmp_path / "plots" / "accuracy.png").stat().st_size > 0
    # the pretrained sub-run starts from the encoder the pretrain sub-run saved
    saved = np.load(tmp_path / "pretrain" / "encoder.npz")
    sub = mlm.sub_runs(mlm_config.get_config("small"))["labels10pct_pretrained_seed0"]
    params = mlm.make_task(sub, tmp_path / "labels10pct_pretrained_seed0").init_params(jax.random.key(3))
    np.testing.assert_array_equal(params["backbone"]["embed"]["tokens"]["table"], saved["['embed']['tokens']['table']"])


def test_bad_init_or_step_counts_are_config_errors():
    config = mlm_config.get_config("small")
    config.inits = ("random",)
    with pytest.raises(ConfigError, match="inits"):
        mlm.sub_runs(config)
    config = mlm_config.get_config("small")
    config.fraction_num_steps = (10, 20)  # two step counts, one label fraction
    with pytest.raises(ConfigError, match="fraction_num_steps"):
        mlm.sub_runs(config)
