"""The 2-D CNN against the same network written in flax.linen (ported weights), and through the registry."""

import flax.linen as fnn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from experiments import models
from seqmodels.models.cnn2d import CNN2D
from seqmodels.training import ConfigError


class FlaxCNN(fnn.Module):
    """conv -> act -> pool per block, flatten, (dense -> act), dense: the network the docstring writes."""
    channels: tuple
    num_classes: int
    padding: str
    pooling: str
    hidden_size: int
    act: callable

    @fnn.compact
    def __call__(self, x):  # [B, H, W, C]
        for c in self.channels:
            x = self.act(fnn.Conv(c, (3, 3), padding=self.padding)(x))
            if self.pooling == "max":
                x = fnn.max_pool(x, (2, 2), strides=(2, 2))
            elif self.pooling == "avg":
                x = fnn.avg_pool(x, (2, 2), strides=(2, 2))
        x = x.reshape(x.shape[0], -1)
        if self.hidden_size:
            x = self.act(fnn.Dense(self.hidden_size)(x))
        return fnn.Dense(self.num_classes)(x)


def _port(params, hidden: bool) -> dict:
    """seqmodels params -> flax's {'Conv_i': {kernel, bias}, 'Dense_j': {kernel, bias}} (same layouts)."""
    out = {f"Conv_{i}": {"kernel": p["kernel"], "bias": p["bias"]} for i, p in enumerate(params["convs"])}
    dense = ([params["hidden"]] if hidden else []) + [params["readout"]]
    out.update({f"Dense_{j}": {"kernel": p["w"], "bias": p["b"]} for j, p in enumerate(dense)})
    return {"params": out}


@pytest.mark.parametrize("padding, pooling, hidden, act, shape", [
    ("SAME", "max", 0, "relu", (8, 8)),
    ("VALID", "avg", 16, "tanh", (12, 11, 2)),
    ("SAME", "none", 0, "elu", (6, 5, 3)),
])
def test_matches_flax(padding, pooling, hidden, act, shape):
    channels = 1 if len(shape) == 2 else shape[2]
    model = CNN2D(shape[:2], channels, (4, 6), 5, padding=padding, pooling=pooling, hidden_size=hidden,
                  activation=act)
    params = model.init(jax.random.PRNGKey(0))
    xs = jax.random.normal(jax.random.PRNGKey(1), (3, *shape))
    flax_model = FlaxCNN((4, 6), 5, padding, pooling, hidden, getattr(jax.nn, act) if act != "tanh" else jnp.tanh)
    want = flax_model.apply(_port(params, bool(hidden)), xs.reshape(3, *shape[:2], channels))
    got = jax.jit(lambda p, x: model.apply_batch(p, x, deterministic=True))(params, xs)
    assert got.shape == (3, 5)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(model.apply(params, xs[0]), want[0], rtol=1e-5, atol=1e-5)


def test_feature_maps_and_sizes():
    model = CNN2D((8, 8), 1, (8, 16), 10)
    params = model.init(jax.random.PRNGKey(0))
    maps = jax.jit(model.features)(params, jnp.ones((8, 8)))
    assert [m.shape for m in maps] == [(8, 8, 8), (4, 4, 16)] and model.block_sizes == [(4, 4), (2, 2)]
    assert model.feature_size == 64 and params["readout"]["w"].shape == (64, 10)
    assert all(float(m.min()) >= 0 for m in maps)  # after the ReLU


def test_dropout_needs_a_key_and_varies():
    model = CNN2D((8, 8), 1, (4,), 3, drop_rate=0.5)
    params = model.init(jax.random.PRNGKey(0))
    xs = jnp.ones((2, 8, 8))
    a = model.apply_batch(params, xs, key=jax.random.PRNGKey(1))
    b = model.apply_batch(params, xs, key=jax.random.PRNGKey(2))
    assert not np.allclose(a, b)
    np.testing.assert_allclose(model.apply_batch(params, xs, deterministic=True)[0],
                               model.apply_batch(params, xs, deterministic=True)[1])
    with pytest.raises(ValueError, match="needs a PRNG `key`"):
        model.apply(params, xs[0])


def test_loss_goes_down():
    model = CNN2D((8, 8), 1, (4,), 2)
    xs = jax.random.normal(jax.random.PRNGKey(0), (32, 8, 8))
    ys = (xs[:, :4].sum((1, 2)) > xs[:, 4:].sum((1, 2))).astype(jnp.int32)  # top half brighter than bottom

    def loss(p):
        logits = model.apply_batch(p, xs, deterministic=True)
        return -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(32), ys])

    params = model.init(jax.random.PRNGKey(1))
    step = jax.jit(lambda p: jax.tree.map(lambda w, g: w - 0.1 * g, p, jax.grad(loss)(p)))
    before = loss(params)
    for _ in range(30):
        params = step(params)
    assert loss(params) < 0.7 * before


def test_registry_reads_rows_as_an_image():
    config = ml_collections.ConfigDict({"name": "cnn2d", "cnn2d": {"channels": (4, 8), "pooling": "avg",
                                                                   "hidden_size": 12}})
    model = models.build(config, models.Spec(input_size=9, output_size=10, output="class", seq_len=8))
    params = model.init(jax.random.PRNGKey(0))
    assert model.image_size == (8, 9) and model.pooling == "avg"
    assert model.apply_batch(params, jnp.ones((2, 8, 9)), deterministic=True).shape == (2, 10)
    assert models.num_params(params) == (9 * 4 + 4) + (36 * 8 + 8) + (2 * 2 * 8 * 12 + 12) + (12 * 10 + 10)


def test_errors():
    model = CNN2D((8, 8), 1, (4,), 3)
    params = model.init(jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match=r"expected one image \[8, 8\] or \[8, 8, 1\]"):
        model.apply(params, jnp.ones((2, 8, 8)))
    with pytest.raises(ValueError, match="leave no pixel of a 8 x 8 image"):
        CNN2D((8, 8), 1, (4, 4, 4, 4), 3)
    with pytest.raises(ValueError, match="pooling: expected one of"):
        CNN2D((8, 8), 1, (4,), 3, pooling="min")
    spec = models.Spec(input_size=8, output_size=10, output="class", seq_len=8)
    bad = {"channels": (4, 4, 4, 4)}, {"pooling": "min"}, {"channels": (4,), "stride": 2}, {"channels": (0,)}
    for fields, message in zip(bad, ["leave no pixel", "pooling", "unknown field", "channels"]):
        with pytest.raises(ConfigError, match=message):
            models.build(ml_collections.ConfigDict({"name": "c", "c": {"kind": "cnn2d", **fields}}), spec)
    with pytest.raises(ConfigError, match="a 2-D CNN reads a whole image"):
        models.build(ml_collections.ConfigDict({"name": "cnn2d", "cnn2d": {}}),
                     models.Spec(input_size=8, output_size=10, output="frames", seq_len=8))
