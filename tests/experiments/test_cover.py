"""Cover's theorem experiment: the kernel identity, the feature map, and the small config from the command line."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from experiments import cover
from experiments.configs import cover as cover_config
from seqmodels.training import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_polynomial_kernel_is_the_dot_product_of_phi():
    rng = np.random.default_rng(0)
    x, z = rng.standard_normal((100, 2)), rng.standard_normal((100, 2))
    np.testing.assert_allclose(cover.poly_kernel(x, z), np.sum(cover.phi(x) * cover.phi(z), -1), rtol=1e-12,
                               atol=1e-12)
    # and a hand value: x = (1, 2), z = (3, -1): (3 - 2)^2 = 1
    assert cover.poly_kernel(np.array([1.0, 2.0]), np.array([3.0, -1.0])) == pytest.approx(1.0)


def test_phi_maps_circles_to_a_plane():
    theta = np.linspace(0, 2 * np.pi, 50)
    for r in (0.5, 1.0):
        f = cover.phi(r * np.stack([np.cos(theta), np.sin(theta)], -1))
        np.testing.assert_allclose(f[:, 0] + f[:, 1], r ** 2, rtol=1e-12)  # x1^2 + x2^2 = r^2: a plane


def test_unknown_target_is_a_config_error(tmp_path):
    config = cover_config.get_config("small")
    config.fit.functions = ("square", "cube")
    with pytest.raises(ConfigError, match="fit.functions"):
        cover.run(config, tmp_path)


def test_small_config_runs_from_the_command_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "experiments.cover", f"--workdir={tmp_path}",
                           "--config=experiments/configs/cover.py:small"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    m = json.loads((tmp_path / "results.json").read_text())["metrics"]
    assert m["circles_input_test_accuracy"] < 0.7 and m["circles_phi_test_accuracy"] > 0.95
    assert m["perceptron_digits_train_errors"] == 0
    assert 0 < m["perceptron_circles_phi_updates"] <= m["novikoff_bound_circles_phi"]
    assert m["fit_mse_square"] < m["fit_mse_sign"]  # the step is the hard one for 3 smooth units
    assert (tmp_path / "plots" / "circles.png").exists() and (tmp_path / "plots" / "tanh_fits.png").exists()


def test_unknown_override_is_a_one_paragraph_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "experiments.cover", f"--workdir={tmp_path}", "--config.nope=1"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and "no field 'nope'" in proc.stderr
