"""Mixed precision (seqmodels/training/precision.py): the cast policy, the float32 islands, bf16 training."""

import json

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from experiments import models, template
from seqmodels import recurrence
from seqmodels.attention import dot_product
from seqmodels.cells import LSTM
from seqmodels.nn import norms
from seqmodels.training import (ConfigError, losses, optimizers, precision, train_and_evaluate, train_state)
from tests.training import tiny_task

BF16 = precision.get_policy("bfloat16")


def test_policy_names():
    assert precision.get_policy(None) == precision.get_policy("float32") == precision.POLICIES["float32"]
    assert BF16 == precision.Policy(jnp.float32, jnp.bfloat16, jnp.float32)
    with pytest.raises(ConfigError, match="precision: expected one of"):
        precision.get_policy("float16")


def test_casts_floating_leaves_only():
    tree = {"x": np.ones((2, 3), np.float32), "ids": np.arange(3), "mask": np.ones(2, bool),
            "key": jax.random.key(0), "y": jnp.ones(2)}
    out = precision.cast_floating(tree, jnp.bfloat16)
    assert out["x"].dtype == out["y"].dtype == jnp.bfloat16
    assert out["ids"].dtype == tree["ids"].dtype and out["mask"].dtype == bool
    assert out["key"] is tree["key"]


def _recording_loss(seen):
    """The tiny MLP's squared error, recording (at trace time) the dtypes the model is given."""

    def loss_fn(params, batch, key, train):
        seen.update(params={str(p.dtype) for p in jax.tree.leaves(params)}, x=str(batch["x"].dtype),
                    ids=str(batch["ids"].dtype))
        pred = jnp.tanh(batch["x"] @ params["w"]) @ params["v"]  # [B, 1]
        return jnp.mean(jnp.square(pred - batch["y"])), {"pred_mean": jnp.mean(pred)}

    return loss_fn


def test_model_sees_bf16_grads_and_optimizer_state_stay_float32():
    seen = {}
    params = {"w": jnp.full((4, 8), 0.1), "v": jnp.full((8, 1), 0.1)}
    batch = {"x": np.ones((6, 4), np.float32), "y": np.zeros((6, 1), np.float32), "ids": np.arange(6, dtype=np.int32)}
    loss_fn = precision.wrap_loss(_recording_loss(seen), BF16)
    (loss, metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, batch, None, True)
    assert seen == {"params": {"bfloat16"}, "x": "bfloat16", "ids": "int32"}
    assert loss.dtype == metrics["pred_mean"].dtype == jnp.float32
    assert {g.dtype for g in jax.tree.leaves(grads)} == {jnp.dtype(jnp.float32)}
    # the gradient is the bf16 model's gradient, cast up: close to the float32 one (bf16 has 8 bits of mantissa)
    g32 = jax.grad(lambda p: _recording_loss({})(p, batch, None, True)[0])(params)
    np.testing.assert_allclose(grads["w"], g32["w"], rtol=3e-2)

    optimizer = optimizers.make_optimizer({"name": "adam", "learning_rate": 0.01}, num_steps=10)
    state = train_state.create_train_state(params, optimizer)
    state, _ = train_state.make_train_step(loss_fn, optimizer)(state, batch, jax.random.key(0))
    leaves = jax.tree.leaves((state.params, state.opt_state))
    dtypes = {x.dtype for x in leaves if jnp.issubdtype(x.dtype, jnp.floating)}
    assert dtypes == {jnp.dtype(jnp.float32)}


def test_softmax_is_float32_under_bf16_logits():
    logits = jax.random.normal(jax.random.key(0), (3, 7)).astype(jnp.bfloat16) * 8
    mask = jnp.arange(7) < jnp.array([[7], [3], [0]])
    p = dot_product.masked_softmax(logits, mask)
    assert p.dtype == jnp.float32
    expected = jax.nn.softmax(jnp.where(mask, logits.astype(jnp.float32), -jnp.inf), axis=-1)
    np.testing.assert_allclose(p[:2], expected[:2], rtol=1e-6)
    np.testing.assert_array_equal(p[2], 0.0)  # a row with no key


def test_norm_statistics_are_float32_under_bf16_inputs():
    # exact in bf16 (steps of 0.5 in [64, 128)), but the mean 67.75 is not: bf16 statistics would be off
    x = (64 + jnp.arange(16.0) / 2).astype(jnp.bfloat16)
    params = {"scale": jnp.ones(16, jnp.bfloat16), "bias": jnp.zeros(16, jnp.bfloat16)}
    y = norms.layer_norm(params, x)
    x64 = np.asarray(x, np.float64)
    expected = (x64 - x64.mean()) / np.sqrt(x64.var() + 1e-6)
    assert y.dtype == jnp.bfloat16
    np.testing.assert_allclose(np.asarray(y, np.float64), expected, rtol=1e-2, atol=1e-2)
    r = norms.rms_norm({"scale": jnp.ones(16, jnp.bfloat16)}, x)
    np.testing.assert_allclose(np.asarray(r, np.float64), x64 / np.sqrt(np.mean(x64**2) + 1e-6), rtol=1e-2)


def test_loss_logsumexp_is_float32_under_bf16_logits():
    V = 4096  # log V = 8.3178; bf16 holds 8.3125 or 8.3750 nearby, float32 the exact value
    loss = losses.cross_entropy(jnp.zeros((2, V), jnp.bfloat16), jnp.array([0, 5]))
    assert loss.dtype == jnp.float32
    np.testing.assert_allclose(loss, np.log(V), rtol=1e-6)
    logits = jax.random.normal(jax.random.key(1), (5, 11)).astype(jnp.bfloat16)
    labels = jnp.arange(5)
    expected = optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), labels).mean()
    np.testing.assert_allclose(losses.cross_entropy(logits, labels), expected, rtol=1e-6)


def test_scan_carry_under_bf16():
    """bf16 params and inputs keep a bf16 carry through the scan; a float32 carry given by the caller
    promotes the run to float32 (recurrence's compute dtype) instead of failing in lax.scan."""
    layer = recurrence.RNN(LSTM(3, 5))
    params = precision.cast_floating(layer.init(jax.random.key(0)), jnp.bfloat16)
    xs = jnp.ones((6, 3), jnp.bfloat16)
    carry, ys = layer.apply(params, xs)
    assert ys.dtype == jnp.bfloat16 and {c.dtype for c in jax.tree.leaves(carry)} == {jnp.dtype(jnp.bfloat16)}
    f32_carry = jax.tree.map(lambda c: c.astype(jnp.float32), carry)
    carry, ys = layer.apply(params, xs, initial_carry=f32_carry)
    assert ys.dtype == jnp.float32


def test_train_and_evaluate_applies_config_precision(tmp_path):
    config = tiny_task.get_config()
    config.num_steps, config.eval_every, config.checkpoint_every, config.log_every = 4, 4, 4, 4
    config.precision = "bfloat16"
    task = tiny_task.make_task(config)
    seen = {}
    inner = task.loss_fn

    def loss_fn(params, batch, key, train):
        seen["params"] = {str(p.dtype) for p in jax.tree.leaves(params)}
        return inner(params, batch, key, train)

    task.loss_fn = loss_fn
    results = train_and_evaluate(config, tmp_path, task)
    assert seen["params"] == {"bfloat16"} and np.isfinite(results["metrics"]["loss"])
    assert json.loads((tmp_path / "results.json").read_text())["config"]["precision"] == "bfloat16"
    config.precision = "fp8"
    with pytest.raises(ConfigError, match="precision"):
        train_and_evaluate(config, tmp_path / "bad", tiny_task.make_task(config))


SECTIONS = {"gru": dict(hidden_size=16, pool="last"),
            "tcn": dict(channels=16, levels=3, kernel_size=3, conv_init="pytorch", pool="mean"),
            "transformer": dict(d_model=16, num_heads=2, d_ff=32, num_layers=1, pool="mean")}


def _final_test_loss(name: str, policy: str, steps: int) -> float:
    """Train a registry model on the template's sinusoids (Adam, batch 32) under `policy`; float32 test loss."""
    train, test = (template.make_sinusoids(seed, n, 32, 4, 0.5) for seed, n in ((0, 256), (1, 128)))
    model = models.build(ml_collections.ConfigDict({"name": name, name: SECTIONS[name]}),
                         models.Spec(1, 4, output="class", seq_len=32))

    def loss_fn(params, batch, key, train):
        logits = model.apply_batch(params, batch["x"], key=key, deterministic=not train)
        return losses.cross_entropy(logits, batch["y"]), {}

    optimizer = optimizers.make_optimizer({"name": "adam", "learning_rate": 1e-2}, num_steps=steps)
    state = train_state.create_train_state(model.init(jax.random.key(0)), optimizer)
    step = train_state.make_train_step(precision.wrap_loss(loss_fn, precision.get_policy(policy)), optimizer)
    for s in range(steps):
        idx = np.random.default_rng(s).permutation(256)[:32]
        state, _ = step(state, {k: v[idx] for k, v in train.items()}, jax.random.key(1))
    return float(loss_fn(state.params, test, None, False)[0])  # evaluated in float32


@pytest.mark.parametrize("name, steps", [("gru", 40), pytest.param("tcn", 150, marks=pytest.mark.slow),
                                         pytest.param("transformer", 150, marks=pytest.mark.slow)])
def test_bf16_trains_like_float32(name, steps):
    """Same init, data and steps: the bf16 run's float32 test loss is within 0.1 nats of the float32 run's,
    and both learned (chance: log 4 = 1.39). Seen: GRU 0.847 / 0.849 (40 steps), TCN 0.113 / 0.147,
    Transformer 0.642 / 0.605 (150 steps), float32 / bfloat16."""
    f32, bf16 = _final_test_loss(name, "float32", steps), _final_test_loss(name, "bfloat16", steps)
    assert f32 < 1.0 and bf16 < 1.0, (f32, bf16)
    assert abs(bf16 - f32) < 0.1, (f32, bf16)
