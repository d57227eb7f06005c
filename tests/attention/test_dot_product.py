"""Dot-product attention: dense reference vs jax.nn, blockwise vs dense (values and gradients),
hand-computed values, causality and padding properties, memory growth, bad input."""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from seqmodels.attention import dot_product as dp
from seqmodels.attention import masks

T, N, K = 12, 4, 8


def qkv(T=T, S=None, N=N, Nkv=None, K=K, Kv=None, seed=0, dtype=jnp.float32):
    S = T if S is None else S
    Nkv = N if Nkv is None else Nkv
    kq, kk, kv = jax.random.split(jax.random.key(seed), 3)
    return (jax.random.normal(kq, (T, N, K), dtype), jax.random.normal(kk, (S, Nkv, K), dtype),
            jax.random.normal(kv, (S, Nkv, Kv or K), dtype))


def jax_nn(q, k, v, *, mask=None, causal=False, lengths=None, query_lengths=None, scale=None):
    """jax.nn.dot_product_attention on one example (adds and removes the batch axis)."""
    seq = lambda n: None if n is None else jnp.array([n], jnp.int32)  # noqa: E731
    mask = None if mask is None else jnp.broadcast_to(mask, (q.shape[1], q.shape[0], k.shape[0]))[None]
    return jax.nn.dot_product_attention(q[None], k[None], v[None], mask=mask, is_causal=causal, scale=scale,
                                        query_seq_lengths=seq(query_lengths),
                                        key_value_seq_lengths=seq(lengths))[0]


RANDOM_MASK = np.random.default_rng(0).random((T, T)) < 0.7
RANDOM_MASK[:, 0] = True  # every row keeps a key (jax.nn averages empty rows; we return zeros)
HEAD_MASK = jnp.asarray(np.random.default_rng(1).random((N, T, T)) < 0.5) | jnp.eye(T, dtype=bool)

CASES = {
    "plain": {},
    "causal": dict(causal=True),
    "lengths": dict(lengths=7, query_lengths=7),
    "causal+lengths": dict(causal=True, lengths=5, query_lengths=9),
    "causal+lengths (arrays)": dict(causal=True, lengths=jnp.asarray(5), query_lengths=jnp.asarray(9)),
    "mask[T,S]": dict(mask=jnp.asarray(RANDOM_MASK)),
    "mask[N,T,S]+causal": dict(mask=HEAD_MASK, causal=True),
    "scale": dict(scale=0.3),
}


# --------------------------------------------------------------------------- dense reference


@pytest.mark.parametrize("case", CASES)
def test_dense_matches_jax_nn(case):
    q, k, v = qkv()
    np.testing.assert_allclose(dp.dot_product_attention(q, k, v, **CASES[case]),
                               jax_nn(q, k, v, **CASES[case]), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("Nkv", [1, 2])
def test_grouped_query_matches_jax_nn(Nkv):
    q, k, v = qkv(Nkv=Nkv)
    np.testing.assert_allclose(dp.dot_product_attention(q, k, v, causal=True),
                               jax_nn(q, k, v, causal=True), atol=1e-5)


def test_cross_attention_shapes_and_value_dim():
    q, k, v = qkv(T=5, S=9)
    ours = jax.jit(lambda q, k, v: dp.dot_product_attention(q, k, v, lengths=6))
    np.testing.assert_allclose(ours(q, k, v), jax.jit(lambda q, k, v: jax_nn(q, k, v, lengths=6))(q, k, v),
                               atol=1e-5)
    q, k, v = qkv(T=5, S=9, Kv=3)  # values may have their own width (jax.nn does not allow it)
    assert jax.eval_shape(ours, q, k, v).shape == (5, N, 3)


def test_hand_computed_values():
    # one head, K=2, scale 1: logits of query [1, 0] against keys [1, 0] and [0, 1] are [1, 0].
    q = jnp.array([[[1.0, 0.0]]])  # [T=1, N=1, K=2]
    k = jnp.array([[[1.0, 0.0]], [[0.0, 1.0]]])  # [S=2, 1, 2]
    v = jnp.array([[[2.0]], [[-1.0]]])  # [2, 1, 1]
    a = np.e / (1 + np.e)
    y, w = dp.dot_product_attention(q, k, v, scale=1.0, return_weights=True)
    np.testing.assert_allclose(w[0, 0], [a, 1 - a], rtol=1e-6)
    np.testing.assert_allclose(y[0, 0, 0], 2 * a - (1 - a), rtol=1e-6)
    # masking the first key leaves all weight on the second.
    y = dp.dot_product_attention(q, k, v, lengths=None, mask=jnp.array([[False, True]]))
    np.testing.assert_allclose(y[0, 0, 0], -1.0)


def test_rows_without_keys_are_zero_with_finite_gradients():
    q, k, v = qkv()
    f = lambda q: dp.dot_product_attention(q, k, v, lengths=0)  # noqa: E731
    np.testing.assert_array_equal(f(q), 0.0)
    assert np.isfinite(jax.grad(lambda q: f(q).sum())(q)).all()


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
@pytest.mark.parametrize("fn", ["dense", "blockwise"])
def test_dtypes(dtype, fn):
    q, k, v = qkv(dtype=dtype)
    f = dp.dot_product_attention if fn == "dense" else functools.partial(dp.blockwise_attention, block_size=4)
    y = jax.jit(functools.partial(f, causal=True))(q, k, v)
    assert y.dtype == dtype and y.shape == (T, N, K)
    ref = dp.dot_product_attention(*(a.astype(jnp.float32) for a in (q, k, v)), causal=True)
    np.testing.assert_allclose(y.astype(jnp.float32), ref, atol=0.05)


def test_weights_dropout():
    q, k, v = qkv()
    ref = dp.dot_product_attention(q, k, v)
    np.testing.assert_array_equal(dp.dot_product_attention(q, k, v, drop_rate=0.5, deterministic=True), ref)
    a = dp.dot_product_attention(q, k, v, drop_rate=0.5, key=jax.random.key(1))
    b = dp.dot_product_attention(q, k, v, drop_rate=0.5, key=jax.random.key(2))
    assert not np.allclose(a, ref) and not np.allclose(a, b)
    with pytest.raises(ValueError, match="key"):
        dp.dot_product_attention(q, k, v, drop_rate=0.5)


# --------------------------------------------------------------------------- blockwise fast path


def _grads(fn, q, k, v, **kw):
    ct = jax.random.normal(jax.random.key(9), (q.shape[0], q.shape[1], v.shape[-1]))
    return jax.grad(lambda q, k, v: jnp.sum(fn(q, k, v, **kw) * ct), argnums=(0, 1, 2))(q, k, v)


@pytest.mark.parametrize("case", CASES)
def test_blockwise_equals_dense_values_and_gradients(case):
    q, k, v = qkv()
    kw = CASES[case]
    fast = functools.partial(dp.blockwise_attention, block_q=4, block_k=6)
    np.testing.assert_allclose(fast(q, k, v, **kw), dp.dot_product_attention(q, k, v, **kw), atol=1e-5)
    for g_fast, g_ref in zip(_grads(fast, q, k, v, **kw), _grads(dp.dot_product_attention, q, k, v, **kw)):
        np.testing.assert_allclose(g_fast, g_ref, atol=1e-5)


def test_blockwise_dropout_equals_dense_formula_with_the_same_factors():
    """y = (A * Z) v with Z the tile-by-tile dropout factors: values and gradients."""
    q, k, v = qkv()
    key = jax.random.key(7, impl="rbg")  # any key works; rbg bits compile ~4x faster than threefry's
    Z = jax.jit(lambda key: dp.blockwise_dropout_factors(key, N, T, T, drop_rate=0.3, block_q=4, block_k=6))(key)
    np.testing.assert_allclose(np.unique(Z), [0.0, 1 / 0.7], rtol=1e-6)
    assert 0.6 < float((Z > 0).mean()) < 0.8

    def reference(q, k, v, **kw):
        A = dp.attention_weights(q, k, causal=True, lengths=9, query_lengths=9)  # [N, T, S]
        return jnp.einsum("nts,snk->tnk", A * Z, v)

    fast = functools.partial(dp.blockwise_attention, causal=True, lengths=9, query_lengths=9, drop_rate=0.3,
                             key=key, block_q=4, block_k=6)
    fast, reference = jax.jit(fast), jax.jit(reference)
    np.testing.assert_allclose(fast(q, k, v), reference(q, k, v), atol=1e-5)
    for g_fast, g_ref in zip(_grads(fast, q, k, v), _grads(reference, q, k, v)):
        np.testing.assert_allclose(g_fast, g_ref, atol=1e-5)
    np.testing.assert_array_equal(  # deterministic: no dropout
        dp.blockwise_attention(q, k, v, drop_rate=0.3, deterministic=True, block_size=4),
        dp.blockwise_attention(q, k, v, block_size=4))


def test_blockwise_grouped_cross_attention_under_vmap_and_jit():
    B = 2
    q, k, v = (jnp.stack([a, a[::-1]]) for a in qkv(T=8, S=12, Nkv=2, Kv=5))
    lengths = jnp.array([12, 5])
    fast = jax.jit(jax.vmap(lambda q, k, v, n: dp.blockwise_attention(q, k, v, lengths=n, block_size=4)))
    ref = jax.vmap(lambda q, k, v, n: dp.dot_product_attention(q, k, v, lengths=n))
    assert fast(q, k, v, lengths).shape == (B, 8, N, 5)
    np.testing.assert_allclose(fast(q, k, v, lengths), ref(q, k, v, lengths), atol=1e-5)


def test_blockwise_empty_rows_are_zero_with_finite_gradients():
    q, k, v = qkv()
    f = lambda q: dp.blockwise_attention(q, k, v, lengths=0, block_size=4)  # noqa: E731
    np.testing.assert_array_equal(f(q), 0.0)
    assert np.isfinite(jax.grad(lambda q: f(q).sum())(q)).all()


def test_blockwise_static_lengths_skip_the_tiles_past_them():
    """A Python-int `lengths` is static: tiles past it are dropped, only the one it crosses is masked."""
    cfg = dp._Tiling(T=8, S=12, block_q=4, block_k=4, causal=False, scale=1.0, drop_rate=0.0, key_len=5)
    assert {cut: list(zip(*(a.tolist() for a in ij))) for cut, ij in cfg.tiles()} == {
        False: [(0, 0), (1, 0)], True: [(0, 1), (1, 1)]}
    causal = dataclasses.replace(cfg, T=12, causal=True, key_len=6)
    assert {cut: list(zip(*(a.tolist() for a in ij))) for cut, ij in causal.tiles()} == {
        False: [(1, 0), (2, 0)], True: [(0, 0), (1, 1), (2, 1)]}
    q, k, v = qkv(T=8, S=12)
    for n in (0, 3, 5, 8, 12, np.int32(5), np.int64(9)):
        fast = functools.partial(dp.blockwise_attention, lengths=n, block_size=4)
        ref = functools.partial(dp.dot_product_attention, lengths=n)
        np.testing.assert_allclose(fast(q, k, v), ref(q, k, v), atol=1e-5, err_msg=f"lengths={n}")
        for g_fast, g_ref in zip(_grads(fast, q, k, v), _grads(ref, q, k, v)):
            np.testing.assert_allclose(g_fast, g_ref, atol=1e-5, err_msg=f"lengths={n}")
    for n in (-2, 20):  # out of [0, S]: refused (seqmodels.nn.lengths), by both paths
        for attend in (dp.blockwise_attention, dp.dot_product_attention):
            with pytest.raises(ValueError, match=rf"lengths {n} out of range \[0, 12\]"):
                attend(q, k, v, lengths=n)


@pytest.mark.parametrize("T_, causal", [(37, True), (530, False)])
def test_attention_dispatch_pads_to_blocks(T_, causal):
    q, k, v = qkv(T=T_, N=2, K=4)
    kw = dict(causal=causal, lengths=T_ - 3, query_lengths=T_ - 3)
    ref = dp.dot_product_attention(q, k, v, **kw)
    out = dp.attention(q, k, v, impl="auto" if T_ >= dp.AUTO_BLOCKWISE_MIN_LENGTH else "blockwise",
                       block_size=16 if T_ < 100 else 256, **kw)
    np.testing.assert_allclose(out, ref, atol=1e-5)


def test_blockwise_memory_is_linear_in_length():
    """XLA's own temporary-buffer estimate for value-and-grad: ~2x per doubling (dense: ~4x)."""
    def temp_bytes(fn, T):
        q = jnp.ones((T, 1, 8))
        f = jax.jit(jax.grad(lambda q: fn(q, q, q).sum()))
        return f.lower(q).compile().memory_analysis().temp_size_in_bytes

    fast = lambda q, k, v: dp.blockwise_attention(q, k, v, causal=True, block_size=64)  # noqa: E731
    dense = lambda q, k, v: dp.dot_product_attention(q, k, v, causal=True)  # noqa: E731
    assert temp_bytes(fast, 1024) < 2.5 * temp_bytes(fast, 512)
    assert temp_bytes(dense, 1024) > 3.5 * temp_bytes(dense, 512)


def test_blockwise_loss_goes_down():
    """Learn queries that retrieve chosen values: gradient descent through the custom backward."""
    q, k, v = qkv(T=16)
    target = v[::-1]
    loss = jax.jit(lambda q: jnp.mean((dp.blockwise_attention(q, k, v, block_size=8) - target) ** 2))
    grad = jax.jit(jax.grad(loss))
    start = loss(q)
    for _ in range(30):
        q = q - 100.0 * grad(q)
    assert loss(q) < 0.5 * start


# --------------------------------------------------------------------------- properties


FNS = {
    "dense": dp.dot_product_attention,
    "blockwise": functools.partial(dp.blockwise_attention, block_size=4),
}
# Compiled once per module (hypothesis then only changes the data, not the shapes).
CAUSAL = {name: jax.jit(functools.partial(f, causal=True)) for name, f in FNS.items()}
PADDED = {name: jax.jit(lambda q, k, v, n, f=f: f(q, k, v, lengths=n, query_lengths=n)) for name, f in FNS.items()}


def _perturb_from(arrays, start, seed, scale=1.0):
    """Add noise to rows >= start of each [T, N, K] array."""
    noise = jax.random.normal(jax.random.key(seed), (len(arrays), T, N, K)) * scale
    later = (jnp.arange(T) >= start)[:, None, None]
    return [jnp.where(later, a + e, a) for a, e in zip(arrays, noise)]


@pytest.mark.parametrize("name", FNS)
@given(t=st.integers(0, T - 1), seed=st.integers(0, 2 ** 16))
def test_causal_outputs_ignore_the_future(name, t, seed):
    q, k, v = qkv()
    y = CAUSAL[name](q, k, v)
    y2 = CAUSAL[name](*_perturb_from((q, k, v), t, seed))
    np.testing.assert_allclose(y2[:t], y[:t], atol=1e-6)


@pytest.mark.parametrize("name", FNS)
@given(length=st.integers(1, T), seed=st.integers(0, 2 ** 16))
def test_padding_invariance(name, length, seed):
    """Padded frames never reach valid outputs; padded outputs are zeros."""
    q, k, v = qkv()
    y = PADDED[name](q, k, v, length)
    y2 = PADDED[name](*_perturb_from((q, k, v), length, seed, scale=10.0), length)
    np.testing.assert_allclose(y2, y, atol=1e-5)
    np.testing.assert_array_equal(y[length:], 0.0)


# --------------------------------------------------------------------------- bad input


BAD = {
    "heads not a multiple": (qkv(N=4, Nkv=3), {}, "multiple of key/value heads"),
    "head dims differ": ((qkv()[0], qkv(K=6)[1], qkv(K=6)[2]), {}, "head dims differ"),
    "v keys differ": ((*qkv()[:2], qkv(T=5)[2]), {}, "expected v of shape"),
    "rank": ((qkv()[0][0], *qkv()[1:]), {}, r"\[T, N, K\]"),
    "mask shape": (qkv(), dict(mask=jnp.ones((T, T + 1), bool)), r"\[T, S\] = \[12, 12\]"),
    "mask dtype": (qkv(), dict(mask=jnp.ones((T, T))), "boolean"),
    "causal cross": (qkv(T=4, S=6), dict(causal=True), "T == S"),
}


@pytest.mark.parametrize("fn", ["dense", "blockwise", "attention"])
@pytest.mark.parametrize("case", BAD)
def test_bad_input_raises(fn, case):
    args, kw, match = BAD[case]
    f = {"dense": dp.dot_product_attention, "blockwise": dp.blockwise_attention, "attention": dp.attention}[fn]
    with pytest.raises(ValueError, match=match):
        f(*args, **kw)


def test_blockwise_block_size_must_divide():
    with pytest.raises(ValueError, match="T=12 divisible by block_q=5"):
        dp.blockwise_attention(*qkv(), block_size=5)
    with pytest.raises(ValueError, match="impl"):
        dp.attention(*qkv(), impl="flash")
    with pytest.raises(ValueError, match="needs a PRNG"):
        dp.attention(*qkv(), impl="blockwise", drop_rate=0.1)


def test_build_mask_combines_everything():
    m = dp.build_mask(4, 4, 2, causal=True, lengths=3, query_lengths=2, mask=jnp.ones((2, 4, 4), bool))
    expected = masks.causal_mask(4) & masks.padding_mask(3, 4, query_lengths=2)
    np.testing.assert_array_equal(m, jnp.broadcast_to(expected, (2, 4, 4)))


def test_blockwise_under_vmap_loops_over_the_batch_with_the_same_values_and_gradients():
    """On the CPU a vmap runs the blockwise kernel example by example (a loop, not a batched tile)."""
    B, T, N, K = 3, 48, 2, 8
    q, k, v, g = (jax.random.normal(key, (B, T, N, K)) for key in jax.random.split(jax.random.key(7), 4))
    lengths = jnp.array([48, 30, 5])
    loss = lambda fn: lambda q, k, v: jnp.sum(jax.vmap(  # noqa: E731
        lambda q, k, v, n: fn(q, k, v, causal=True, lengths=n, query_lengths=n))(q, k, v, lengths) * g)
    blockwise = jax.jit(jax.value_and_grad(loss(functools.partial(dp.blockwise_attention, block_size=16)),
                                           argnums=(0, 1, 2)))
    dense = jax.value_and_grad(loss(dp.dot_product_attention), argnums=(0, 1, 2))
    for a, b in zip(jax.tree.leaves(blockwise(q, k, v)), jax.tree.leaves(dense(q, k, v))):
        np.testing.assert_allclose(a, b, atol=2e-5, rtol=2e-5)
