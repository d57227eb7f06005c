"""Attention pooling: hand-computed (uniform) case, a float64 loop reference, padding, training."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from seqmodels.attention import pooling
from tests.helpers import adam_train

T, D = 7, 4


def test_zero_projection_pools_the_mean_of_valid_frames():
    params = jax.tree.map(jnp.zeros_like, pooling.init(jax.random.key(0), D))  # u_t = 0: equal scores
    h = jax.random.normal(jax.random.key(1), (T, D))
    pooled, weights = pooling.apply(params, h, lengths=3)
    np.testing.assert_allclose(weights, [1 / 3] * 3 + [0] * 4, rtol=1e-6)
    np.testing.assert_allclose(pooled, h[:3].mean(0), rtol=1e-5)


def test_matches_loop_reference():
    params = pooling.init(jax.random.key(0), D, hidden_dim=3)
    h = jax.random.normal(jax.random.key(1), (T, D))
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
    scores = np.array([np.tanh(np.asarray(h[t], np.float64) @ p["proj"]["w"] + p["proj"]["b"]) @ p["context"]
                       for t in range(5)])
    a = np.exp(scores - scores.max())
    a /= a.sum()
    pooled, weights = pooling.apply(params, h, lengths=5)
    np.testing.assert_allclose(weights[:5], a, atol=1e-6)
    np.testing.assert_allclose(pooled, a @ np.asarray(h[:5], np.float64), atol=1e-6)


def test_padding_invariance_and_vmap():
    params = pooling.init(jax.random.key(0), D)
    h = jax.random.normal(jax.random.key(1), (2, T, D))
    lengths = jnp.array([T, 2])
    pooled, weights = jax.vmap(lambda x, n: pooling.apply(params, x, lengths=n))(h, lengths)
    assert pooled.shape == (2, D) and weights.shape == (2, T)
    pooled2, _ = jax.vmap(lambda x, n: pooling.apply(params, x, lengths=n))(h.at[1, 2:].set(100.0), lengths)
    np.testing.assert_allclose(pooled2, pooled, atol=1e-6)
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-6)


def test_learns_to_pick_the_marked_frame():
    h = jax.random.normal(jax.random.key(1), (T, D)).at[:, 0].set(-1.0).at[4, 0].set(1.0)
    params = pooling.init(jax.random.key(0), D)
    loss = lambda p: -jnp.log(pooling.apply(p, h)[1][4])  # noqa: E731
    params, losses = adam_train(loss, params, learning_rate=0.1, steps=30)
    assert loss(params) < 0.2 * losses[0]


def test_bad_input_raises():
    with pytest.raises(ValueError, match=r"\[T, D\]"):
        pooling.apply(pooling.init(jax.random.key(0), D), jnp.ones((2, T, D)))
