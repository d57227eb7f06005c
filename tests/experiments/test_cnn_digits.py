"""experiments/cnn_digits.py: the small config from the command line, the MNIST path under TFDS mock data."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import tensorflow_datasets as tfds

from experiments import cnn_digits, launcher
from experiments.configs import cnn_digits as configs
from seqmodels.training import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_small_config_runs_from_the_command_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "experiments.cnn_digits", f"--workdir={tmp_path}",
                           "--config=experiments/configs/cnn_digits.py:small"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["models"]) == {"mlp", "cnn2d"}
    assert results["models"]["mlp"]["num_params"] == 64 * 100 + 100 + 100 * 10 + 10
    assert results["models"]["cnn2d"]["num_params"] == (9 * 8 + 8) + (9 * 8 * 16 + 16) + (2 * 2 * 16 * 10 + 10)
    for m in results["models"].values():
        assert 0.0 <= m["test_accuracy_mean"] <= 1.0 and len(m["test_accuracy_per_seed"]) == 1
    assert results["data"] == {"source": "digits", "train": 1438, "test": 359}
    for picture in ("cnn2d_first_layer", "cnn2d_feature_maps", "mlp_first_layer", "accuracy_curves"):
        assert (tmp_path / "plots" / f"{picture}.png").stat().st_size > 0


def test_seeds_make_sub_runs():
    config = configs.get_config("small")
    config.num_seeds = 2
    config.seed = 3
    subs = cnn_digits.sub_runs(config)
    assert list(subs) == ["mlp_seed3", "mlp_seed4", "cnn2d_seed3", "cnn2d_seed4"]
    assert subs["cnn2d_seed4"].seed == 4 and subs["cnn2d_seed4"].model.name == "cnn2d"


@pytest.mark.slow  # the loader itself is tested in tests/data/test_real.py; this trains 2 steps on 28x28
def test_mnist_source_under_mock_data(tmp_path):
    config = configs.get_config("mnist")
    config.model.names = "cnn2d"
    config.data.num_train = 16
    config.num_steps = 2
    config.batch_size = 8  # splits over the 8 simulated devices of the tests
    config.eval_every = config.checkpoint_every = config.log_every = 2
    with tfds.testing.mock_data(num_examples=24):
        data = cnn_digits.load_data(config)
        assert data["train"]["x"].shape == (16, 28, 28) and len(data["test"]["y"]) == 24
        results = launcher.run_experiment(config, tmp_path, cnn_digits.make_task, sub_runs=cnn_digits.sub_runs,
                                          combine=cnn_digits.combine)
    assert results["data"]["source"] == "mnist" and results["models"]["cnn2d"]["num_params"] == (
        (9 * 16 + 16) + (9 * 16 * 32 + 32) + (7 * 7 * 32 * 64 + 64) + (64 * 10 + 10))


def test_bad_source_is_a_config_error():
    config = configs.get_config("small")
    config.data.source = "cifar"
    with pytest.raises(ConfigError, match="data.source"):
        cnn_digits.load_data(config)
