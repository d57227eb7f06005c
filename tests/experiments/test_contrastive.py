"""The contrastive experiment: the small config through the command line; the scores on data of known structure."""

import json
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from experiments import contrastive
from experiments.configs import contrastive as contrastive_config
from seqmodels.training import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_the_contrastive_task_at_init():
    """The small config's contrastive Task, wired as the launcher wires it: one train batch through its loss.
    At init NT-Xent is near chance, log(2B - 1): a (2B - 1)-way choice, B = 40."""
    task = contrastive.make_task(contrastive.sub_runs(contrastive_config.get_config("small"))["contrastive"])
    key = jax.random.key(0)
    loss, metrics = jax.jit(task.loss_fn, static_argnums=3)(task.init_params(key), next(task.train_iterator),
                                                            key, True)
    assert abs(float(loss) - np.log(79)) < 0.5, float(loss)
    assert 0.0 <= float(metrics["pair_accuracy"]) <= 1.0


@pytest.mark.slow  # ~30 s of CPU (two trainings, compilations, scikit-learn); the test above wires the contrastive Task
def test_small_config_runs_from_the_command_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "experiments.contrastive", f"--workdir={tmp_path}",
                           "--config=experiments/configs/contrastive.py:small"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert list(results["representations"]) == ["raw", "random", "contrastive", "supervised"]
    for name, row in results["representations"].items():
        for metric in ("probe_accuracy", "kmeans_purity", "gmm_purity"):
            assert 0.1 <= row[metric] <= 1.0, (name, metric, row[metric])  # purity >= the largest class's share
    assert 0.0 <= results["representations"]["contrastive"]["test_pair_accuracy"] <= 1.0
    assert (tmp_path / "contrastive" / "embeddings.npz").exists()
    assert (tmp_path / "plots" / "embeddings_pca.png").exists() and (tmp_path / "plots" / "scores.png").exists()


@pytest.mark.parametrize("field, value, message", [
    ("objectives", "byol", "objectives"), ("augment.shift_mode", "reflect", "augment.shift_mode"),
    ("augment.scale_low", 2.0, "scale_low"), ("model.name", "lstm2", "lstm2")])
def test_bad_config_values_are_config_errors(field, value, message):
    config = contrastive_config.get_config("small")
    with config.ignore_type():
        section, _, name = field.rpartition(".")
        (config[section] if section else config)[name] = value
    with pytest.raises(ConfigError, match=message):
        contrastive.sub_runs(config)


def test_scores_of_separated_and_of_shuffled_classes():
    rng = np.random.default_rng(0)
    centres = 10 * rng.standard_normal((10, 5))
    y_train, y_test = rng.integers(10, size=500), rng.integers(10, size=200)
    x_train = centres[y_train] + 0.1 * rng.standard_normal((500, 5))
    x_test = centres[y_test] + 0.1 * rng.standard_normal((200, 5))
    separated = contrastive.score(x_train, y_train, x_test, y_test, seed=0, n_init=2)
    assert separated == {"probe_accuracy": 1.0, "kmeans_purity": 1.0, "gmm_purity": 1.0}
    blind = contrastive.score(x_train, rng.permutation(y_train), x_test, rng.permutation(y_test), seed=0, n_init=2)
    assert blind["probe_accuracy"] < 0.3 and blind["kmeans_purity"] < 0.3


def test_config_docstring_names_the_command():
    assert "python -m experiments.contrastive" in contrastive_config.__doc__
