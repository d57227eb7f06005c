"""Performer FAVOR+: its three forms agree, and it approximates softmax attention.

References: the slow quadratic form of the same estimator (chunked causal and
bidirectional fast paths against it), `lax.scan` over `step` (the recurrent
form against the causal full form), and `jax.nn.dot_product_attention` (the
softmax attention being approximated: the error falls as features grow).
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from seqmodels.attention import linear
from tests.helpers import adam_train

N, K = 2, 4


def _normal(seed, shape, dtype=jnp.float32):
    """Gaussian test data from numpy (jax.random would compile anew for every shape)."""
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), dtype)


def _key(seed):
    """An "rbg" PRNG key: its programs compile several times faster on CPU than threefry's."""
    return jax.random.key(seed, impl="rbg")


def _qkv(seed, T, scale=0.5):
    q, k, v = _normal(seed, (3, T, N, K))
    return scale * q, scale * k, v


init_features = jax.jit(linear.init_features, static_argnames=("head_dim", "num_features", "orthogonal"))
FEATURES = init_features(_key(0), K, 16)
performer = jax.jit(linear.performer_attention, static_argnames=("causal", "chunk_size"))
reference = jax.jit(linear.performer_attention_reference, static_argnames=("causal",))


def _recurrent(features, q, k, v):
    """The causal outputs from `step`, one position at a time under lax.scan."""
    state = linear.init_state(features, q.shape[1])
    _, out = jax.lax.scan(lambda state, x: linear.step(features, state, *x), state, (q, k, v))
    return out  # [T, N, K]


# ---------------------------------------------------------------------------
# Features
# ---------------------------------------------------------------------------

def test_features_are_orthogonal_in_blocks_with_gaussian_lengths():
    W = init_features(_key(1), 8, 20)
    assert W.shape == (20, 8) and W.dtype == jnp.float32
    for block in (W[:8], W[8:16]):
        gram = block @ block.T  # [K, K]
        np.testing.assert_allclose(gram - jnp.diag(jnp.diag(gram)), 0.0, atol=1e-5)
    norms = jnp.linalg.norm(init_features(_key(2), 8, 4096), axis=-1)
    assert abs(float(jnp.mean(norms ** 2)) - 8.0) < 0.5  # E|w|^2 = K for w ~ N(0, I_K)


@pytest.mark.parametrize("orthogonal", [True, False])
def test_features_estimate_the_softmax_kernel_without_bias(orthogonal):
    """phi(x) . phi(y) -> exp(x . y / sqrt(K)) as M grows (the features' key bound cancels out)."""
    x = _normal(3, (3, K)) * 0.25  # small norms: the estimator's relative variance grows like exp(|x|^2)
    W = init_features(_key(4), K, 2 ** 16, orthogonal=orthogonal)
    phi_q = linear.feature_map(W, x, is_query=True)  # [3, M]
    phi_k = linear.feature_map(W, x, is_query=False)  # [3, M]
    # Undo the two stabilisers to compare absolute values.
    x_scaled = x * K ** -0.25
    q_shift = jnp.max(x_scaled @ W.T - 0.5 * jnp.sum(x_scaled ** 2, -1, keepdims=True), axis=-1)  # [3]
    k_shift = 0.5 * jnp.max(jnp.sum(W * W, -1))
    estimate = (phi_q @ phi_k.T) * jnp.exp(q_shift[:, None] + k_shift)  # [3, 3]
    np.testing.assert_allclose(estimate, jnp.exp(x @ x.T / np.sqrt(K)), rtol=0.03)


def test_feature_stabilisers_keep_features_in_range():
    """Query features peak at exactly 1/sqrt(M); key features stay <= 1/sqrt(M), even for huge keys."""
    M = FEATURES.shape[0]
    x = 30.0 * _normal(5, (6, K))
    phi_q = linear.feature_map(FEATURES, x, is_query=True)
    phi_k = linear.feature_map(FEATURES, x, is_query=False)
    np.testing.assert_allclose(jnp.max(phi_q, axis=-1), M ** -0.5, rtol=1e-6)
    assert bool(jnp.all(jnp.isfinite(phi_k))) and float(jnp.max(phi_k)) <= M ** -0.5


# ---------------------------------------------------------------------------
# Fast forms == slow forms (values and gradients)
# ---------------------------------------------------------------------------

few_examples = settings(max_examples=max(2, settings.default.max_examples // 3))


@pytest.mark.parametrize("causal", [False, True])
@few_examples
@example(T=11, chunk_size=4, fraction=0.6)
@given(T=st.integers(1, 12), chunk_size=st.sampled_from([1, 3, 4, 16]), fraction=st.floats(0.0, 1.0))
def test_fast_form_matches_quadratic_form(causal, T, chunk_size, fraction):
    L = max(1, int(np.ceil(fraction * T)))
    q, k, v = _qkv(T, T)
    cotangent = _normal(T + 1, (T, N, K))

    def value_and_grads(fn):
        out, vjp = jax.vjp(fn, q, k, v)
        return out, vjp(cotangent)

    ours = jax.jit(value_and_grads, static_argnums=0)(
        functools.partial(linear.performer_attention, features=FEATURES, causal=causal, lengths=L,
                          chunk_size=chunk_size))
    theirs = jax.jit(value_and_grads, static_argnums=0)(
        functools.partial(linear.performer_attention_reference, features=FEATURES, causal=causal, lengths=L))
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs)):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("causal", [False, True])
def test_backward_keeps_a_few_copies_of_q(causal):
    """XLA's temporaries for value and gradients at T = 8192, M = 256 stay under 16 times q's size (features
    and per-chunk prefix sums kept for all T took 38 times, causal)."""
    T, heads, dim = 8192, 4, 64
    features = jax.ShapeDtypeStruct((256, dim), jnp.float32)
    x = jax.ShapeDtypeStruct((T, heads, dim), jnp.float32)
    grad = jax.jit(jax.grad(lambda q, k, v, w: jnp.sum(linear.performer_attention(q, k, v, w, causal=causal) ** 2),
                            argnums=(0, 1, 2)))
    temp = grad.lower(x, x, x, features).compile().memory_analysis().temp_size_in_bytes
    assert temp <= 16 * T * heads * dim * 4, temp / (T * heads * dim * 4)


def test_recurrent_form_matches_causal_form():
    T = 13
    q, k, v = _qkv(0, T)
    full = performer(q, k, v, FEATURES, causal=True, chunk_size=4)
    np.testing.assert_allclose(jax.jit(_recurrent)(FEATURES, q, k, v), full, atol=1e-5, rtol=1e-5)


def test_hand_computed_identical_keys_average_the_values():
    """All keys equal -> every weight is equal -> out_t = mean of the (valid, earlier) values."""
    T, L = 6, 4
    q, _, v = _qkv(1, T)
    k = jnp.broadcast_to(_normal(2, (1, N, K)), (T, N, K))
    out = performer(q, k, v, FEATURES, causal=False, lengths=L)
    np.testing.assert_allclose(out[:L], jnp.broadcast_to(v[:L].mean(0), (L, N, K)), atol=1e-5)
    np.testing.assert_array_equal(out[L:], 0.0)
    causal = performer(q, k, v, FEATURES, causal=True, chunk_size=4)
    prefix_means = jnp.cumsum(v, axis=0) / jnp.arange(1, T + 1)[:, None, None]
    np.testing.assert_allclose(causal, prefix_means, atol=1e-5)


# ---------------------------------------------------------------------------
# Approximation of softmax attention
# ---------------------------------------------------------------------------

def test_error_to_softmax_attention_falls_with_more_features():
    """Mean |performer - softmax attention| over 8 feature draws, for M = 4, 16, 64, 256, 1024: decreasing."""
    T = 16
    q, k, v = _qkv(3, T)
    exact = jax.nn.dot_product_attention(q, k, v)

    @functools.partial(jax.jit, static_argnums=0)
    def mean_error(M):
        def error(key):
            W = linear.init_features(key, K, M)
            return jnp.mean(jnp.abs(linear.performer_attention(q, k, v, W, causal=False) - exact))
        return jnp.mean(jax.vmap(error)(jax.random.split(_key(0), 8)))

    errors = [float(mean_error(M)) for M in (4, 16, 64, 256, 1024)]
    assert all(a > b for a, b in zip(errors, errors[1:])), errors
    assert errors[-1] < errors[0] / 4, errors


# ---------------------------------------------------------------------------
# Properties: causality, padding invariance
# ---------------------------------------------------------------------------

def test_causal_form_does_not_look_ahead():
    T, t0 = 12, 5
    q, k, v = _qkv(0, T)
    q2, k2, v2 = (x.at[t0:].set(10 * y[t0:]) for x, y in zip((q, k, v), _qkv(1, T)))
    out = performer(q, k, v, FEATURES, causal=True, chunk_size=4)
    out2 = performer(q2, k2, v2, FEATURES, causal=True, chunk_size=4)
    np.testing.assert_allclose(out[:t0], out2[:t0], atol=1e-6)
    assert not np.allclose(out[t0:], out2[t0:])


@pytest.mark.parametrize("causal", [False, True])
def test_extra_padding_changes_nothing(causal):
    T, L, extra = 9, 6, 5
    q, k, v = _qkv(0, T)
    long = [jnp.concatenate([x, 100 * g]) for x, g in zip((q, k, v), _qkv(1, extra))]
    out = performer(q, k, v, FEATURES, causal=causal, lengths=L, chunk_size=4)
    out_long = performer(*long, FEATURES, causal=causal, lengths=L, chunk_size=4)
    np.testing.assert_allclose(out[:L], out_long[:L], atol=1e-6)
    np.testing.assert_array_equal(out_long[L:], 0.0)


# ---------------------------------------------------------------------------
# Shapes, dtypes, batching; bad input
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
@pytest.mark.parametrize("causal", [False, True])
def test_batched_shapes_and_dtypes(dtype, causal):
    B, T = 3, 7
    q, k, v = _normal(0, (3, B, T, N, K), dtype)
    lengths = jnp.array([7, 4, 1])
    fn = functools.partial(linear.performer_attention, features=FEATURES, causal=causal, chunk_size=4)
    out = jax.jit(jax.vmap(lambda q, k, v, L: fn(q, k, v, lengths=L)))(q, k, v, lengths)
    assert out.shape == (B, T, N, K) and out.dtype == dtype
    assert bool(jnp.all(out[1, 4:] == 0)) and bool(jnp.all(out[2, 1:] == 0))
    state = linear.init_state(FEATURES, N)
    assert state["kv"].shape == (N, 16, K) and state["z"].shape == (N, 16)
    state, out_t = linear.step(FEATURES, state, q[0, 0], k[0, 0], v[0, 0])
    assert out_t.shape == (N, K) and out_t.dtype == dtype


def test_bad_input_raises():
    q, k, v = _qkv(0, 6)
    with pytest.raises(ValueError, match="heads and head dim"):
        linear.performer_attention(q[:, :1], k, v, FEATURES, causal=False)
    with pytest.raises(ValueError, match="heads and head dim"):
        linear.performer_attention(q[..., :3], k, v, FEATURES, causal=False)
    with pytest.raises(ValueError, match="k and v of the same shape"):
        linear.performer_attention(q, k, v[:5], FEATURES, causal=False)
    with pytest.raises(ValueError, match=r"features of shape \[M, K\] with K=4"):
        linear.performer_attention(q, k, v, FEATURES[:, :3], causal=False)
    with pytest.raises(ValueError, match="T == S"):
        linear.performer_attention(q[:4], k, v, FEATURES, causal=True)
    with pytest.raises(ValueError, match="scalar per example"):
        linear.performer_attention(q, k, v, FEATURES, causal=False, lengths=jnp.array([1, 2]))
    with pytest.raises(ValueError, match="chunk_size"):
        linear.performer_attention(q, k, v, FEATURES, causal=True, chunk_size=0)
    with pytest.raises(ValueError, match="head_dim"):
        linear.init_features(_key(0), 0, 8)
    state = linear.init_state(FEATURES, N)
    with pytest.raises(ValueError, match=r"q_t of shape \[N, K\] = \[2, 4\]"):
        linear.step(FEATURES, state, q[0, :1], k[0], v[0])


# ---------------------------------------------------------------------------
# A tiny model learns through FAVOR+
# ---------------------------------------------------------------------------

def test_loss_goes_down():
    """Fit q/k/v projections so causal Performer attention reproduces a random target."""
    T, D = 12, 8
    x = _normal(0, (T, D))
    target = _normal(1, (T, N, K))
    params = {"w": 0.3 * _normal(2, (3, D, N * K))}

    def loss_fn(params):
        q, k, v = (jnp.einsum("td,dh->th", x, w).reshape(T, N, K) for w in params["w"])  # [T, N, K]
        return jnp.mean((linear.performer_attention(q, k, v, FEATURES, causal=True, chunk_size=4) - target) ** 2)

    _, losses = adam_train(loss_fn, params, learning_rate=3e-2, steps=60)
    assert losses[-1] < 0.7 * losses[0], losses[::10]
