"""The depth experiment: the logged per-layer gradient norms against jax.grad of an independent loss, the
data split, config errors, and the small config from the command line."""

import json
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from experiments import depth
from experiments.configs import depth as depth_config
from seqmodels.training import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def small_sub_config(name="sigmoid_plain_naive"):
    return depth.sub_config(depth_config.get_config("small"), name)


def test_logged_gradient_norms_are_those_of_the_cross_entropy():
    config = small_sub_config()
    task = depth.make_task(config)
    params = task.init_params(jax.random.key(0))
    batch = next(task.train_iterator)
    _, metrics = task.loss_fn(params, batch, jax.random.key(1), True)
    model_apply = depth.models.build(config.model, depth.SPEC).apply_batch

    def reference(p):  # optax's cross-entropy, not seqmodels'
        logits = model_apply(p, jnp.asarray(batch["x"]), deterministic=True)
        return optax.softmax_cross_entropy_with_integer_labels(logits, jnp.asarray(batch["y"])).mean()

    grads = jax.grad(reference)(params)
    want = [float(jnp.sqrt(jnp.sum(g["w"] ** 2))) for g in grads]
    got = [float(metrics[f"grad_norm_{l + 1:02d}"]) for l in range(len(grads))]
    assert len(got) == config.model[config.model.name].num_layers + 1
    np.testing.assert_allclose(got, want, rtol=1e-4)
    assert got[0] < 1e-3 * got[-2]  # sigmoid, naive init: the gradient vanishes towards the input
    _, eval_metrics = task.loss_fn(params, batch, jax.random.key(1), False)
    assert not any(k.startswith("grad_norm") for k in eval_metrics)


def test_digits_split_and_config_errors():
    d = ml_collections.ConfigDict(dict(test_fraction=0.2, seed=0, num_train=100, num_valid=50))
    data = depth.load_digits(d)
    assert {k: len(v["y"]) for k, v in data.items()} == {"train": 100, "valid": 50, "test": 359}
    assert data["train"]["x"].shape[1:] == (8, 8)
    d.num_train = 1400
    with pytest.raises(ConfigError, match="num_train"):
        depth.load_digits(d)
    config = depth_config.get_config("small")
    config.model.sigmoid_plain_naive.kind = "lstm"
    with pytest.raises(ConfigError, match="trains MLPs"):
        depth.sub_config(config, "sigmoid_plain_naive")


def test_small_config_runs_from_the_command_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "experiments.depth", f"--workdir={tmp_path}",
                           "--config=experiments/configs/depth.py:small"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert list(results["models"]) == ["sigmoid_plain_naive", "relu_residual_glorot"]
    for m in results["models"].values():
        assert 0.0 <= m["test_accuracy"] <= 1.0 and len(m["grad_norms_first_window"]) == 5
    for act in ("sigmoid", "relu"):
        assert (tmp_path / "plots" / f"grad_norms_{act}.png").exists()
        assert (tmp_path / "plots" / f"curves_{act}.png").exists()
