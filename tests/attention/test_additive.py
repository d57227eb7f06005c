"""Bahdanau and Luong attention: hand-computed values, a float64 loop reference, jax.nn for the
dot-product scores, padding, a tiny training run, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from seqmodels.attention import additive
from tests.helpers import adam_train

S, DQ, DK, H = 6, 3, 5, 4


def data(seed=0):
    kq, kk, kv = jax.random.split(jax.random.key(seed), 3)
    return (jax.random.normal(kq, (4, DQ)), jax.random.normal(kk, (S, DK)), jax.random.normal(kv, (S, 2)))


def test_bahdanau_hand_computed():
    params = {"query": {"w": jnp.eye(2)}, "key": {"w": jnp.eye(2), "b": jnp.zeros(2)}, "v": jnp.ones(2)}
    keys = jnp.array([[1.0, 0.0], [0.0, 0.0]])
    context, weights = additive.bahdanau_apply(params, jnp.zeros(2), keys)
    e = np.array([np.tanh(1.0), 0.0])
    a = np.exp(e) / np.exp(e).sum()
    np.testing.assert_allclose(weights, a, rtol=1e-6)
    np.testing.assert_allclose(context, [a[0], 0.0], rtol=1e-6)


def test_bahdanau_matches_loop_reference():
    q, keys, values = data()
    params = additive.bahdanau_init(jax.random.key(1), DQ, DK, H)
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
    ref_w = np.zeros((4, S))
    for t in range(4):
        for s in range(4):  # lengths = 4
            ref_w[t, s] = p["v"] @ np.tanh(np.asarray(q[t]) @ p["query"]["w"] + np.asarray(keys[s]) @ p["key"]["w"]
                                           + p["key"]["b"])
        ref_w[t, :4] = np.exp(ref_w[t, :4] - ref_w[t, :4].max())
        ref_w[t] /= ref_w[t].sum()
    context, weights = additive.bahdanau_apply(params, q, keys, values, lengths=4)
    np.testing.assert_allclose(weights, ref_w, atol=1e-6)
    np.testing.assert_allclose(context, ref_w @ np.asarray(values), atol=1e-6)


@pytest.mark.parametrize("score", ["dot", "general"])
def test_luong_matches_jax_nn(score):
    _, keys, _ = data()
    values = jax.random.normal(jax.random.key(4), (S, DK))  # jax.nn wants value width == key width
    dq = DK if score == "dot" else DQ
    q = jax.random.normal(jax.random.key(3), (4, dq))
    params = additive.luong_init(jax.random.key(1), dq, DK, score=score)
    qq = q if score == "dot" else q @ params["w"]
    ref = jax.nn.dot_product_attention(qq[None, :, None], keys[None, :, None], values[None, :, None], scale=1.0,
                                       key_value_seq_lengths=jnp.array([5]))[0, :, 0]
    context, weights = additive.luong_apply(params, q, keys, values, score=score, lengths=5)
    np.testing.assert_allclose(context, ref, atol=1e-5)
    np.testing.assert_array_equal(weights[:, 5:], 0.0)
    c1, w1 = additive.luong_apply(params, q[1], keys, values, score=score, lengths=5)  # one decoder state
    assert c1.shape == (DK,) and w1.shape == (S,)
    np.testing.assert_allclose(c1, context[1], atol=1e-6)


def test_padding_invariance_and_empty_sequences():
    q, keys, values = data()
    params = additive.bahdanau_init(jax.random.key(1), DQ, DK, H)
    c, w = additive.bahdanau_apply(params, q, keys, values, lengths=3)
    c2, w2 = additive.bahdanau_apply(params, q, keys.at[3:].set(9.0), values.at[3:].set(-9.0), lengths=3)
    np.testing.assert_allclose(c2, c, atol=1e-6)
    np.testing.assert_allclose(w.sum(-1), 1.0, rtol=1e-6)
    c0, w0 = additive.bahdanau_apply(params, q, keys, values, lengths=0)
    np.testing.assert_array_equal(c0, 0.0)
    grads = jax.grad(lambda p: additive.bahdanau_apply(p, q, keys, values, lengths=0)[0].sum())(params)
    assert all(np.isfinite(g).all() for g in jax.tree.leaves(grads))


def test_batched_with_vmap():
    q, keys, values = data()
    params = additive.bahdanau_init(jax.random.key(1), DQ, DK, H)
    batched = jax.vmap(lambda k, n: additive.bahdanau_apply(params, q[0], k, lengths=n))
    c, w = batched(jnp.stack([keys, keys]), jnp.array([2, 6]))
    assert c.shape == (2, DK) and w.shape == (2, S)
    np.testing.assert_array_equal(w[0, 2:], 0.0)


def test_bahdanau_learns_to_point():
    """Train the scorer so the context is the value at a position marked in the keys."""
    keys = jax.random.normal(jax.random.key(0), (S, DK)).at[:, 0].set(0.0).at[2, 0].set(3.0)
    values = jax.random.normal(jax.random.key(1), (S, 2))
    q = jnp.ones(DQ)
    params = additive.bahdanau_init(jax.random.key(2), DQ, DK, H)
    loss = lambda p: jnp.sum((additive.bahdanau_apply(p, q, keys, values)[0] - values[2]) ** 2)  # noqa: E731
    params, losses = adam_train(loss, params, learning_rate=0.05, steps=60)
    assert loss(params) < 0.2 * losses[0]


@pytest.mark.parametrize("call, match", [
    (lambda: additive.luong_init(jax.random.key(0), 3, 3, score="concat"), "score must be one of"),
    (lambda: additive.luong_init(jax.random.key(0), 3, 4, score="dot"), "query_dim == key_dim"),
    (lambda: additive.luong_apply({}, jnp.ones(3), jnp.ones((4, 5)), score="dot"), r"expected keys \[S, 3\]"),
    (lambda: additive.bahdanau_apply(additive.bahdanau_init(jax.random.key(0), 3, 5, 4), jnp.ones((1, 1, 3)),
                                     jnp.ones((4, 5))), r"\[Dq\] or \[T, Dq\]"),
    (lambda: additive.attend(jnp.ones((2, 4)), jnp.ones((5, 3))), r"scores \[T, 5\]"),
])
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()
