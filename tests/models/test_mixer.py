"""MLP-Mixer: a flax.linen reference with copied weights, causality of the causal variant, padding,
shapes, a tiny training run, bad input."""

import flax.linen as fnn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given
from hypothesis import strategies as st

from seqmodels.models.mixer import Mixer, MixerBlock
from tests.helpers import adam_train

T, D, HT, HC = 8, 6, 5, 12


class FlaxMixerBlock(fnn.Module):
    """Tolstikhin et al.'s block as in their reference code (flax.linen layers, channels-last)."""

    @fnn.compact
    def __call__(self, x):  # [T, D]
        y = fnn.LayerNorm(epsilon=1e-6, name="token_norm")(x).T  # [D, T]
        y = fnn.Dense(T, name="token_out")(jax.nn.gelu(fnn.Dense(HT, name="token_in")(y))).T
        x = x + y
        y = fnn.LayerNorm(epsilon=1e-6, name="channel_norm")(x)
        return x + fnn.Dense(D, name="channel_out")(jax.nn.gelu(fnn.Dense(HC, name="channel_in")(y)))


def test_block_matches_flax():
    x = jax.random.normal(jax.random.key(0), (T, D))
    variables = FlaxMixerBlock().init(jax.random.key(1), x)
    dense = lambda p: {"w": p["kernel"], "b": p["bias"]}  # noqa: E731
    params = {layer: dict(p) if "norm" in layer else dense(p) for layer, p in variables["params"].items()}
    block = MixerBlock(T, D, HT, HC)
    assert jax.tree.structure(params) == jax.tree.structure(block.init(jax.random.key(0)))
    np.testing.assert_allclose(block.apply(params, x), FlaxMixerBlock().apply(variables, x), atol=1e-5)


CAUSAL = MixerBlock(T, D, T, HC, causal=True)
CAUSAL_PARAMS = CAUSAL.init(jax.random.key(0))
CAUSAL_APPLY = jax.jit(lambda x, n: CAUSAL.apply(CAUSAL_PARAMS, x, lengths=n))


@given(t=st.integers(0, T - 1), seed=st.integers(0, 2 ** 16))
def test_causal_block_ignores_the_future(t, seed):
    x = jax.random.normal(jax.random.key(1), (T, D))
    x2 = jnp.where((jnp.arange(T) >= t)[:, None], jax.random.normal(jax.random.key(seed), (T, D)), x)
    np.testing.assert_allclose(CAUSAL_APPLY(x2, T)[:t], CAUSAL_APPLY(x, T)[:t], atol=1e-5)


@given(length=st.integers(1, T), seed=st.integers(0, 2 ** 16))
def test_padding_invariance(length, seed):
    x = jax.random.normal(jax.random.key(1), (T, D))
    x2 = jnp.where((jnp.arange(T) >= length)[:, None], 100 * jax.random.normal(jax.random.key(seed), (T, D)), x)
    y = CAUSAL_APPLY(x, length)
    np.testing.assert_allclose(CAUSAL_APPLY(x2, length), y, atol=1e-5)
    np.testing.assert_array_equal(y[length:], 0.0)


@pytest.mark.parametrize("num_classes, per_frame, shape", [(None, False, (2, T, D)), (3, False, (2, 3)),
                                                           (3, True, (2, T, 3))])
def test_model_shapes(num_classes, per_frame, shape):
    model = Mixer(MixerBlock(T, D, HT, HC, drop_rate=0.1), 2, input_dim=4, num_classes=num_classes,
                  per_frame=per_frame)
    params = model.init(jax.random.key(0))
    x = jnp.ones((2, T, 4))
    out = jax.vmap(lambda x, n, k: model.apply(params, x, lengths=n, key=k))(
        x, jnp.array([T, 3]), jax.random.split(jax.random.key(1), 2))
    assert out.shape == shape


def test_mixer_learns_a_position_dependent_task():
    """Class = the token at position 5: the token-mixing MLP must route that frame."""
    model = Mixer(MixerBlock(T, D, HT, HC), 1, vocab_size=4, num_classes=4)
    ids = jax.random.randint(jax.random.key(0), (32, T), 0, 4)

    def loss(p):
        logits = jax.vmap(lambda i: model.apply(p, i))(ids)
        return optax.softmax_cross_entropy_with_integer_labels(logits, ids[:, 5]).mean()

    params, losses = adam_train(loss, model.init(jax.random.key(1)), learning_rate=1e-2, steps=80)
    assert loss(params) < 0.3 * losses[0]


@pytest.mark.parametrize("make, match", [
    (lambda: MixerBlock(T, D, HT, HC, causal=True), "token_hidden == seq_len"),
    (lambda: MixerBlock(T, D, HT, HC).apply(MixerBlock(T, D, HT, HC).init(jax.random.key(0)), jnp.ones((T + 1, D))),
     r"expected x of shape \[8, 6\]"),
    (lambda: Mixer(MixerBlock(T, D, HT, HC), 1), "exactly one of"),
    (lambda: Mixer(MixerBlock(T, D, HT, HC), 1, input_dim=3).apply(
        Mixer(MixerBlock(T, D, HT, HC), 1, input_dim=3).init(jax.random.key(0)), jnp.ones((T, 4))),
     r"\[T, 3\]"),
])
def test_bad_input_raises(make, match):
    with pytest.raises(ValueError, match=match):
        make()
