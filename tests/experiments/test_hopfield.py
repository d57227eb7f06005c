"""The Hopfield experiment: its helpers, and the small config from the command line."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from experiments import hopfield

ROOT = Path(__file__).resolve().parents[2]


def test_digit_prototypes_are_bipolar_class_means():
    x = hopfield.digit_prototypes((0, 1, 7))
    assert x.shape == (3, 64) and set(np.unique(x)) == {-1.0, 1.0}
    assert abs(x.mean()) < 0.5  # thresholded at each image's mean: both signs well represented


def test_corrupt_flips_the_stated_number_of_bits():
    x = np.ones((5, 64), np.float32)
    y = hopfield.corrupt(np.random.default_rng(0), x, 0.1)
    np.testing.assert_array_equal((y == -1).sum(1), [6] * 5)  # round(0.1 * 64)


def run_cli(workdir, *overrides):
    return subprocess.run([sys.executable, "-m", "experiments.hopfield", f"--workdir={workdir}",
                           "--config=experiments/configs/hopfield.py:small", *overrides],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_small_config_runs_from_the_command_line(tmp_path):
    proc = run_cli(tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    digits = results["metrics"]["digits"]
    assert digits["2_stored"]["stored_fixed_points"] == 2  # two digit prototypes are stable
    for rates in results["metrics"]["capacity"]["32"]["recall_rate"].values():
        assert all(0.0 <= r <= 1.0 for r in rates) and rates[0] == 1.0  # one stored pattern is always recalled
    for name in ("digits_recall.png", "energy_per_sweep.png", "capacity.png"):
        assert (tmp_path / name).stat().st_size > 0


def test_bad_config_is_a_one_paragraph_error(tmp_path):
    proc = run_cli(tmp_path, "--config.digits.num_stored=(2, 11)")
    assert proc.returncode == 1 and "digits.num_stored" in proc.stderr and "Traceback" not in proc.stderr
