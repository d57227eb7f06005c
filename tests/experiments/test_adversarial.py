"""experiments/adversarial.py: the small config from the command line; its figures are consistent."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("models", ["mlp", pytest.param("mlp,cnn2d", marks=pytest.mark.slow)])
def test_small_config_runs_from_the_command_line(tmp_path, models):
    proc = subprocess.run([sys.executable, "-m", "experiments.adversarial", f"--workdir={tmp_path}",
                           "--config=experiments/configs/adversarial.py:small", f"--config.model.names={models}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["models"]) == set(models.split(","))
    for name, m in results["models"].items():
        assert m["fgsm_accuracy"][0] == pytest.approx(m["clean_accuracy"])  # eps = 0 changes nothing
        assert m["fgsm_accuracy"][1] <= m["clean_accuracy"]
        assert m["deepfool_fooled"] == 1.0 and 0.0 < m["deepfool_median_rho"] < 1.0
        assert m["prune_least_sensitive"][0] == pytest.approx(m["clean_accuracy"])  # k = 0 prunes nothing
        report = json.loads((tmp_path / f"{name}_seed0" / "adversarial.json").read_text())
        assert report["deepfool"]["examples"] == 20 and len(report["sensitivity"]) == 8
        assert (tmp_path / "plots" / f"{name}_examples.png").stat().st_size > 0
    for picture in ("fgsm_accuracy", "pruning_accuracy", "sensitivity"):
        assert (tmp_path / "plots" / f"{picture}.png").stat().st_size > 0
