"""The RBM experiment: the small config from the command line, and our PCD against scikit-learn's."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from experiments import rbm as experiment
from experiments.configs import rbm as rbm_config

ROOT = Path(__file__).resolve().parents[2]


def run_cli(workdir, *overrides):
    return subprocess.run([sys.executable, "-m", "experiments.rbm", f"--workdir={workdir}",
                           "--config=experiments/configs/rbm.py:small", *overrides],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_small_config_runs_from_the_command_line(tmp_path):
    proc = run_cli(tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    untrained = results["reference"]["untrained"]
    for method in ("cd1", "pcd1", "sklearn"):
        m = results["metrics"][method]
        assert m["pseudo_likelihood"] > untrained["pseudo_likelihood"] and m["recon_error"] < untrained["recon_error"]
    for name in ("curves.png", "samples.png", "filters.png"):
        assert (tmp_path / name).stat().st_size > 0


def test_bad_method_is_a_one_paragraph_error(tmp_path):
    proc = run_cli(tmp_path, "--config.methods=('cd0',)")
    assert proc.returncode == 1 and "methods" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_our_pcd_reaches_sklearns_figures():
    """BernoulliRBM's digits hyper-parameters (100 units, lr 0.06, batch 10, 20 epochs), three seeds each.
    Seen: pseudo-log-likelihood -15.9 (ours) and -16.3 (theirs), reconstruction error 0.049 and 0.050."""
    config = rbm_config.get_config()
    data = experiment.binarised_digits(config.threshold)
    ours = [experiment.train_ours(config, "pcd1", data, seed)[1][-1] for seed in (0, 1, 2)]
    theirs = [experiment.train_sklearn(config, data, seed)[1][-1] for seed in (0, 1, 2)]
    mean = lambda runs, name: float(np.mean([r[name] for r in runs]))
    pl_ours, pl_theirs = mean(ours, "pseudo_likelihood"), mean(theirs, "pseudo_likelihood")
    assert pl_theirs > -25  # learned (untrained: -44 nats per image)
    assert abs(pl_ours - pl_theirs) < 0.1 * abs(pl_theirs), (pl_ours, pl_theirs)
    r_ours, r_theirs = mean(ours, "recon_error"), mean(theirs, "recon_error")
    assert abs(r_ours - r_theirs) < 0.15 * r_theirs, (r_ours, r_theirs)
