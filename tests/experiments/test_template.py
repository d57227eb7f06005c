"""The template experiment: a whole experiment on the platform in one short file, for any registry model."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from experiments import template

ROOT = Path(__file__).resolve().parents[2]


def test_data_are_the_labelled_frequencies():
    data = template.make_sinusoids(0, 64, seq_len=32, num_classes=4, noise=0.0)
    assert data["x"].shape == (64, 32, 1) and set(np.unique(data["y"])) <= {0, 1, 2, 3}
    spectrum = np.abs(np.fft.rfft(data["x"][..., 0], axis=1))
    np.testing.assert_array_equal(spectrum.argmax(1), data["y"] + 1)  # y + 1 periods per sequence


@pytest.mark.parametrize("model", ["gru", "tcn", pytest.param("transformer", marks=pytest.mark.slow)])
def test_small_config_runs_from_the_command_line(tmp_path, model):
    proc = subprocess.run([sys.executable, "-m", "experiments.template", f"--workdir={tmp_path}",
                           "--config=experiments/configs/template.py:small", f"--config.model.name={model}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert 0.0 <= results["metrics"]["accuracy"] <= 1.0 and results["metrics"]["num_params"] > 0
    assert results["config"]["model"]["name"] == model


def test_template_is_short():
    """The point of the platform: an experiment is its data, its loss and its Task."""
    code = [line for line in (ROOT / "experiments" / "template.py").read_text().splitlines()
            if line.strip() and not line.lstrip().startswith("#")]
    assert len(code) < 60
