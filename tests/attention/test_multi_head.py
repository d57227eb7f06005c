"""Multi-head attention: flax.linen.MultiHeadDotProductAttention with copied weights, grouped-query
heads against jax.nn, KV-cache decoding against the full causal pass, causality, bad input."""

import flax.linen as fnn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from seqmodels.attention import kv_cache, masks
from seqmodels.attention.multi_head import MultiHeadAttention
from tests.helpers import adam_train

T, S, D, N, K = 7, 9, 16, 4, 4


def inputs(T=T, D=D, seed=0):
    return jax.random.normal(jax.random.key(seed), (T, D))


def flax_model_and_params(x, context=None, out_dim=D):
    model = fnn.MultiHeadDotProductAttention(num_heads=N, qkv_features=N * K, out_features=out_dim,
                                             deterministic=True)
    variables = model.init(jax.random.key(1), x[None], None if context is None else context[None])
    return model, variables


def copy_flax_params(variables):
    """flax DenseGeneral kernels [D, N, K] / [N, K, D] -> our dense [D, N K] / [N K, D]."""
    p = variables["params"]
    ours = {}
    for name in ("query", "key", "value"):
        kernel = p[name]["kernel"]
        ours[name] = {"w": kernel.reshape(kernel.shape[0], -1), "b": p[name]["bias"].reshape(-1)}
    kernel = p["out"]["kernel"]
    ours["out"] = {"w": kernel.reshape(-1, kernel.shape[-1]), "b": p["out"]["bias"]}
    return ours


MHA = MultiHeadAttention(num_heads=N, head_dim=K)


def test_params_shapes():
    params = MHA.init(jax.random.key(0), D, kv_dim=5, out_dim=3)
    shapes = jax.tree.map(jnp.shape, params)
    assert shapes == {"query": {"w": (D, N * K), "b": (N * K,)}, "key": {"w": (5, N * K), "b": (N * K,)},
                      "value": {"w": (5, N * K), "b": (N * K,)}, "out": {"w": (N * K, 3), "b": (3,)}}
    gqa = MultiHeadAttention(num_heads=N, head_dim=K, num_kv_heads=1).init(jax.random.key(0), D)
    assert gqa["key"]["w"].shape == (D, K)


@pytest.mark.parametrize("case", ["plain", "causal", "mask", "padding"])
def test_self_attention_matches_flax(case):
    x = inputs()
    model, variables = flax_model_and_params(x)
    params = copy_flax_params(variables)
    kw, flax_mask, rows = {}, None, slice(None)
    if case == "causal":
        kw, flax_mask = dict(causal=True), fnn.make_causal_mask(jnp.ones((1, T)))
    elif case == "mask":
        m = jnp.asarray(np.random.default_rng(0).random((N, T, T)) < 0.5) | jnp.eye(T, dtype=bool)
        kw, flax_mask = dict(mask=m), m[None]
    elif case == "padding":
        valid = jnp.arange(T) < 4
        kw, flax_mask, rows = dict(lengths=4), fnn.make_attention_mask(valid, valid)[None], slice(0, 4)
    ref = model.apply(variables, x[None], mask=flax_mask)[0]
    ours = MHA.apply(params, x, **kw)
    np.testing.assert_allclose(ours[rows], ref[rows], atol=1e-5, rtol=1e-5)
    if case == "padding":
        np.testing.assert_array_equal(ours[4:], 0.0)  # flax leaves padded rows as the mean of all values


@pytest.mark.parametrize("case", ["plain", "causal", "mask", "padding"])
@pytest.mark.parametrize("last", [1, 3, T])
def test_last_rows_match_flax_and_the_full_pass(case, last):
    """`last=L`: the last L rows alone equal flax's attention of the queries x[-L:] to all of x (copied
    weights, the same mask rows) and our full pass's last rows."""
    x = inputs()
    model, variables = flax_model_and_params(x)
    params = copy_flax_params(variables)
    kw, flax_mask = {}, None
    if case == "causal":
        kw, flax_mask = dict(causal=True), masks.causal_mask(T)[None, None]
    elif case == "mask":
        m = jnp.asarray(np.random.default_rng(0).random((N, T, T)) < 0.5) | jnp.eye(T, dtype=bool)
        kw, flax_mask = dict(mask=m), m[None]
    elif case == "padding":
        kw, flax_mask = dict(lengths=5), masks.padding_mask(5, T, query_lengths=5)[None, None]
    rows = slice(T - last, T)
    ours = MHA.apply(params, x, last=np.int64(last), **kw)  # any integer type
    assert ours.shape == (last, D)
    np.testing.assert_allclose(ours, MHA.apply(params, x, **kw)[rows], atol=1e-6, rtol=1e-6)
    ref = model.apply(variables, x[None, rows], x[None], mask=None if flax_mask is None else flax_mask[..., rows, :])[0]
    if case == "padding":  # rows past the length: zeros here, the mean of all values in flax
        valid = jnp.arange(T)[rows] < 5
        np.testing.assert_array_equal(ours[~valid], 0.0)
        ours, ref = ours[valid], ref[valid]
    np.testing.assert_allclose(ours, ref, atol=1e-5, rtol=1e-5)


def test_last_rows_with_rotary_positions_weights_and_gradients():
    mha = MultiHeadAttention(num_heads=N, head_dim=K, num_kv_heads=2, rotary=True)
    params = mha.init(jax.random.key(3), D)
    x = inputs(seed=4)
    positions = jnp.arange(T) * 3 + 5
    for kw in (dict(), dict(positions=positions), dict(causal=True, positions=positions), dict(positions=T),
               dict(lengths=jnp.asarray(3, jnp.uint8)), dict(lengths=jnp.asarray(6, jnp.uint32), causal=True),
               dict(mask=jnp.arange(T)[None, None, :] % 3 > 0, causal=True)):  # a broadcast mask, with causal
        full = mha.apply(params, x, **kw)
        np.testing.assert_allclose(mha.apply(params, x, last=2, **kw), full[-2:], atol=1e-6, rtol=1e-6)
    y, w = MHA.apply(MHA.init(jax.random.key(0), D), x, causal=True, return_weights=True, last=2)
    y_full, w_full = MHA.apply(MHA.init(jax.random.key(0), D), x, causal=True, return_weights=True)
    assert w.shape == (N, 2, T)
    np.testing.assert_allclose(w, w_full[:, -2:], atol=1e-6)
    np.testing.assert_allclose(y, y_full[-2:], atol=1e-6)
    grad = lambda f: jax.grad(lambda p: jnp.sum(f(p) ** 2))(params)  # noqa: E731
    g_last = grad(lambda p: mha.apply(p, x, causal=True, last=1))
    g_full = grad(lambda p: mha.apply(p, x, causal=True)[-1:])
    for a, b in zip(jax.tree.leaves(g_last), jax.tree.leaves(g_full)):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5)


def test_cross_attention_matches_flax():
    x, context = inputs(), inputs(T=S, seed=1)
    model, variables = flax_model_and_params(x, context)
    flax_mask = fnn.make_attention_mask(jnp.ones(T, bool), jnp.arange(S) < 6)[None]
    ref = model.apply(variables, x[None], context[None], mask=flax_mask)[0]
    ours = MHA.apply(copy_flax_params(variables), x, context, context_lengths=6)
    np.testing.assert_allclose(ours, ref, atol=1e-5, rtol=1e-5)
    # the same with the context's keys and values projected once (decoding)
    params = copy_flax_params(variables)
    attended = MHA.attend(params, x, MHA.context_kv(params, context), context_lengths=6)
    np.testing.assert_allclose(attended, ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("num_kv_heads", [1, 2])
def test_grouped_query_heads_match_jax_nn(num_kv_heads):
    mha = MultiHeadAttention(num_heads=N, head_dim=K, num_kv_heads=num_kv_heads)
    params = mha.init(jax.random.key(0), D)
    x = inputs()
    q, k, v = mha.project(params, x, x)
    y = jax.nn.dot_product_attention(q[None], k[None], v[None], is_causal=True)[0]  # [T, N, K]
    ref = y.reshape(T, N * K) @ params["out"]["w"] + params["out"]["b"]
    np.testing.assert_allclose(mha.apply(params, x, causal=True), ref, atol=1e-5)


def test_blockwise_impl_equals_dense():
    x = inputs(T=16)
    dense_mha = MultiHeadAttention(num_heads=N, head_dim=K, impl="dense", rotary=True)
    fast_mha = MultiHeadAttention(num_heads=N, head_dim=K, impl="blockwise", block_size=4, rotary=True)
    params = dense_mha.init(jax.random.key(0), D)
    np.testing.assert_allclose(fast_mha.apply(params, x, causal=True, lengths=11),
                               dense_mha.apply(params, x, causal=True, lengths=11), atol=1e-5)


def test_return_weights():
    params = MHA.init(jax.random.key(0), D)
    y, w = MHA.apply(params, inputs(), causal=True, return_weights=True)
    assert y.shape == (T, D) and w.shape == (N, T, T)
    np.testing.assert_allclose(w.sum(-1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(w[:, 0, 1:], 0.0)


def test_attention_dropout_needs_key_and_is_off_when_deterministic():
    mha = MultiHeadAttention(num_heads=N, head_dim=K, drop_rate=0.5)
    params = mha.init(jax.random.key(0), D)
    x = inputs()
    np.testing.assert_array_equal(mha.apply(params, x, deterministic=True), MHA.apply(params, x))
    assert not np.allclose(mha.apply(params, x, key=jax.random.key(3)), MHA.apply(params, x))
    with pytest.raises(ValueError, match="key"):
        mha.apply(params, x)


# --------------------------------------------------------------------------- KV cache


@pytest.mark.parametrize("spec", [
    MultiHeadAttention(num_heads=N, head_dim=K),
    MultiHeadAttention(num_heads=N, head_dim=K, num_kv_heads=2, rotary=True),
])
def test_cached_decoding_equals_full_pass(spec):
    params = spec.init(jax.random.key(0), D)
    x = inputs(T=10)
    full = spec.apply(params, x, causal=True)

    @jax.jit
    def token_by_token(x):
        def step(cache, x_t):
            cache, y = spec.decode(params, cache, x_t[None])
            return cache, y[0]
        return jax.lax.scan(step, spec.init_cache(12), x)[1]

    np.testing.assert_allclose(token_by_token(x), full, atol=1e-5)
    # a prompt of 6, then 4 at once
    cache, y1 = spec.decode(params, spec.init_cache(12), x[:6])
    cache, y2 = spec.decode(params, cache, x[6:])
    np.testing.assert_allclose(jnp.concatenate([y1, y2]), full, atol=1e-5)
    assert int(cache["index"]) == 10


def test_kv_cache_mask_and_update():
    cache = kv_cache.init(5, 2, 3)
    cache = kv_cache.update(cache, jnp.ones((2, 2, 3)), 2 * jnp.ones((2, 2, 3)))
    np.testing.assert_array_equal(kv_cache.mask(cache, 2), masks.causal_mask(2, 5, offset=0))
    cache = kv_cache.update(cache, jnp.ones((1, 2, 3)), jnp.ones((1, 2, 3)))
    np.testing.assert_array_equal(kv_cache.mask(cache, 1), [[1, 1, 1, 0, 0]])
    np.testing.assert_array_equal(cache["v"][:, 0, 0], [2, 2, 1, 0, 0])
    with pytest.raises(ValueError, match="expected k"):
        kv_cache.update(cache, jnp.ones((1, 3, 3)), jnp.ones((1, 3, 3)))


# --------------------------------------------------------------------------- properties


CAUSAL_SPEC = MultiHeadAttention(num_heads=N, head_dim=K, num_kv_heads=2, rotary=True)
CAUSAL_PARAMS = CAUSAL_SPEC.init(jax.random.key(0), D)
CAUSAL_APPLY = jax.jit(lambda x: CAUSAL_SPEC.apply(CAUSAL_PARAMS, x, causal=True))


@given(t=st.integers(0, T - 1), seed=st.integers(0, 2 ** 16))
def test_causality(t, seed):
    x = inputs()
    x2 = jnp.where((jnp.arange(T) >= t)[:, None], x + jax.random.normal(jax.random.key(seed), x.shape), x)
    np.testing.assert_allclose(CAUSAL_APPLY(x2)[:t], CAUSAL_APPLY(x)[:t], atol=1e-6)


def test_loss_goes_down():
    x, target = inputs(), inputs(seed=5)
    params = MHA.init(jax.random.key(0), D)
    loss = lambda p: jnp.mean((MHA.apply(p, x) - target) ** 2)  # noqa: E731
    params, losses = adam_train(loss, params, learning_rate=1e-2, steps=40)
    assert loss(params) < 0.5 * losses[0]


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("make, match", [
    (lambda: MultiHeadAttention(num_heads=4, head_dim=4, num_kv_heads=3), "multiple of num_kv_heads=3"),
    (lambda: MultiHeadAttention(num_heads=4, head_dim=5, rotary=True), "even head_dim"),
    (lambda: MultiHeadAttention(num_heads=4, head_dim=4, impl="flash"), "impl"),
    (lambda: MHA.apply(MHA.init(jax.random.key(0), D), inputs()[None]), r"\[T, D\]"),
    (lambda: MHA.apply(MHA.init(jax.random.key(0), D), inputs(D=5)), r"expected input \[..., 16\]"),
    (lambda: MHA.apply(MHA.init(jax.random.key(0), D), inputs(), inputs(T=S), causal=True), "T == S"),
    (lambda: MHA.apply(MHA.init(jax.random.key(0), D), inputs(), mask=jnp.ones((T, T + 1), bool)),
     r"\[T, S\] = \[7, 7\]"),
    (lambda: MHA.apply(MHA.init(jax.random.key(0), D), inputs(), last=0), r"last must be an int in 1..T=7"),
    (lambda: MHA.apply(MHA.init(jax.random.key(0), D), inputs(), last=T + 1), r"1..T=7.*got 8"),
    (lambda: MHA.apply(MHA.init(jax.random.key(0), D), inputs(), last=1.0), "last must be an int"),
    (lambda: MHA.apply(MHA.init(jax.random.key(0), D), inputs()[0], last=1), r"x of shape \[T, D\].*got shape \(16,\)"),
    (lambda: MultiHeadAttention(num_heads=N, head_dim=K, rotary=True).apply(
        MHA.init(jax.random.key(0), D), inputs(), positions=jnp.arange(T + 1), last=2),
     r"positions of shape \[T\] = \[7\], got shape \(8,\)"),
    (lambda: MHA.apply(MHA.init(jax.random.key(0), D), inputs(), inputs(T=S), last=1), "self-attention"),
    (lambda: MHA.apply(MHA.init(jax.random.key(0), D), inputs(), mask=jnp.ones((T, T + 1), bool), last=2),
     r"\[T, S\] = \[7, 7\]"),
])
def test_bad_input_raises(make, match):
    with pytest.raises(ValueError, match=match):
        make()
