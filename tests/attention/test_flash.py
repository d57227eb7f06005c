"""Fused attention: the dispatcher's decision, and the Pallas kernel (interpret mode) against the dense reference."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from seqmodels.attention import dot_product, flash

BASE = dict(backend="gpu", dtype=jnp.bfloat16, head_dim=64, value_head_dim=64, T=256, S=256)


@pytest.mark.parametrize("change, expected", [
    (dict(), "cudnn"),
    (dict(backend="cpu"), "xla"),
    (dict(backend="tpu"), "xla"),
    (dict(dtype=jnp.float32), "pallas"),                       # cuDNN: half precision only
    (dict(head_dim=60, value_head_dim=60), "pallas"),          # cuDNN: head dim a multiple of 8
    (dict(head_dim=192, value_head_dim=192), "pallas"),        # cuDNN: head dim <= 128
    (dict(head_dim=512, value_head_dim=512), "xla"),           # too large for either kernel
    (dict(value_head_dim=32), "xla"),                          # k and v head dims differ
    (dict(mask=True), "xla"),
    (dict(dropout=True), "xla"),
    (dict(causal=True, window=64), "cudnn"),
    (dict(causal=True, window=64, dtype=jnp.float32), "xla"),  # the Pallas kernel has no window
    (dict(window=64), "xla"),                                  # a two-sided window: neither kernel
    (dict(dtype=jnp.float32, causal=True, lengths=True, query_lengths=True, same_lengths=True), "pallas"),
    (dict(dtype=jnp.float32, causal=True, lengths=True), "xla"),  # padded keys, unpadded queries
    (dict(dtype=jnp.float32, lengths=True, query_lengths=True), "xla"),  # not known to be the same lengths
    (dict(dtype=jnp.float32, T=128, causal=True), "xla"),      # causal cross-attention
    (dict(dtype=jnp.float32, T=128), "pallas"),
    (dict(dtype=jnp.float32, T=200), "xla"),                   # cross-attention would need padding
    (dict(dtype=jnp.float16, causal=True, lengths=True), "cudnn"),  # cuDNN takes both lengths apart
    (dict(dtype=jnp.float32, T=64, S=64), "xla"),              # shorter than one Pallas tile
    (dict(dtype=jnp.float32, head_dim=8, value_head_dim=8), "xla"),  # under Triton's smallest dot
])
def test_choose_impl(change, expected):
    assert flash.choose_impl(**{**BASE, **change}) == expected


def _qkv(T, S, N, Nkv, K, seed=0):
    kq, kk, kv = jax.random.split(jax.random.key(seed), 3)
    return (jax.random.normal(kq, (T, N, K)), jax.random.normal(kk, (S, Nkv, K)),
            jax.random.normal(kv, (S, Nkv, K)))


SMALL = dict(block_size=16, backward_block_size=8, interpret=True)


@pytest.mark.parametrize("T, S, Nkv, opts", [
    (32, 32, 2, dict(causal=True)),
    (24, 24, 1, dict(causal=True, lengths=19, query_lengths=19)),  # T padded to 32; multi-query heads
    pytest.param(32, 32, 2, dict(lengths=7, query_lengths=7), marks=pytest.mark.slow),
    pytest.param(24, 32, 2, dict(query_lengths=20), marks=pytest.mark.slow),  # cross-attention, queries padded
])
def test_pallas_matches_dense(T, S, Nkv, opts):
    q, k, v = _qkv(T, S, 2, Nkv, 8)
    y = flash.pallas_attention(q, k, v, **opts, **SMALL)
    ref = dot_product.dot_product_attention(q, k, v, **opts)
    np.testing.assert_allclose(y, ref, atol=2e-5, rtol=2e-5)


def test_pallas_gradients_match_dense():
    q, k, v = _qkv(24, 24, 2, 1, 8, seed=1)
    g = jax.random.normal(jax.random.key(2), (24, 2, 8))
    opts = dict(causal=True, lengths=21, query_lengths=21)
    loss = lambda fn: lambda q, k, v: jnp.sum(fn(q, k, v, **opts) * g)  # noqa: E731
    grads = jax.grad(loss(lambda *a, **o: flash.pallas_attention(*a, **o, **SMALL)), argnums=(0, 1, 2))(q, k, v)
    ref = jax.grad(loss(dot_product.dot_product_attention), argnums=(0, 1, 2))(q, k, v)
    for a, b in zip(grads, ref):
        np.testing.assert_allclose(a, b, atol=5e-5, rtol=5e-5)


@pytest.mark.parametrize("impl", ["dense", "blockwise"])
def test_window_matches_jax_nn(impl):
    """The causal sliding window on the XLA paths against jax.nn's local_window_size (t - window < s <= t)."""
    q, k, v = _qkv(40, 40, 4, 2, 8, seed=3)
    y = dot_product.attention(q, k, v, causal=True, window=5, impl=impl, block_size=16)
    ref = jax.nn.dot_product_attention(q[None], k[None], v[None], is_causal=True, local_window_size=(4, 0))[0]
    np.testing.assert_allclose(y, ref, atol=2e-5, rtol=2e-5)


def test_auto_on_cpu_takes_the_xla_paths():
    q, k, v = _qkv(32, 32, 2, 2, 8)
    assert jax.default_backend() == "cpu"
    y = dot_product.attention(q, k, v, causal=True, lengths=30, query_lengths=30)
    ref = dot_product.dot_product_attention(q, k, v, causal=True, lengths=30, query_lengths=30)
    np.testing.assert_allclose(y, ref, atol=1e-6)


def test_bad_arguments():
    q, k, v = _qkv(32, 32, 2, 2, 8)
    with pytest.raises(ValueError, match="impl must be one of"):
        dot_product.attention(q, k, v, impl="flash")
    with pytest.raises(ValueError, match="needs causal=True"):
        dot_product.attention(q, k, v, window=4)
    with pytest.raises(ValueError, match="window must be a positive int"):
        dot_product.attention(q, k, v, causal=True, window=0)
    with pytest.raises(ValueError, match="no mask and no dropout"):
        dot_product.attention(q, k, v, mask=jnp.ones((32, 32), bool), impl="pallas")
    with pytest.raises(ValueError, match="need self-attention"):
        flash.pallas_attention(q[:16], k, v, lengths=3, **SMALL)


@pytest.mark.skipif(jax.default_backend() != "gpu", reason="cuDNN needs an NVIDIA GPU")
def test_cudnn_matches_dense():
    q, k, v = (x.astype(jnp.bfloat16) for x in _qkv(256, 256, 4, 2, 64))
    opts = dict(causal=True, lengths=200, query_lengths=200)
    y = flash.cudnn_attention(q, k, v, **opts)
    ref = dot_product.dot_product_attention(q, k, v, **opts)
    np.testing.assert_allclose(y.astype(jnp.float32), ref.astype(jnp.float32), atol=2e-2)
