"""Blockwise sparse attention vs. dense attention under the same boolean mask.

The external reference is `jax.nn.dot_product_attention` with the pattern's
dense mask (values and gradients, to 1e-5). The masks themselves are checked
against small hand-written matrices; BigBird's random blocks against their
definition. Properties: causality, padding invariance, no T x S intermediate.
"""

import functools

import jax
import jax.extend
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from seqmodels.attention import sparse
from tests.helpers import adam_train

N, K = 2, 4


def _normal(seed, shape, dtype=jnp.float32):
    """Gaussian test data from numpy (jax.random would compile anew for every shape)."""
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), dtype)


def _qkv(seed, T, dtype=jnp.float32):
    q, k, v = _normal(seed, (3, T, N, K), dtype)
    return q, k, v


def _reference(q, k, v, mask, length):
    """jax.nn.dot_product_attention under mask & (s < L); zeros for padded queries."""
    T = q.shape[0]
    valid = jnp.arange(T) < length
    out = jax.nn.dot_product_attention(q, k, v, mask=(mask & valid[None, :])[None])  # [T, N, K]
    return jnp.where(valid[:, None, None], out, 0.0)


def _value_and_grads(fn, q, k, v, cotangent):
    out, vjp = jax.vjp(fn, q, k, v)
    return out, vjp(cotangent)


@jax.jit
def _reference_value_and_grads(q, k, v, cotangent, mask, length):  # compiled once per T
    return _value_and_grads(lambda q, k, v: _reference(q, k, v, mask, length), q, k, v, cotangent)


def _assert_matches_dense(fn, mask, T, length, seed):
    """fn(q, k, v) equals the masked dense reference in value and in all three gradients."""
    q, k, v = _qkv(seed, T)
    cotangent = _normal(seed + 1, (T, N, K))
    ours = jax.jit(functools.partial(_value_and_grads, fn))(q, k, v, cotangent)
    theirs = _reference_value_and_grads(q, k, v, cotangent, mask, length)
    for a, b, what in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs), ["out", "dq", "dk", "dv"]):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5, err_msg=what)


# Each example compiles a forward and backward pass: a quarter of the profile's examples (2 in CI,
# plus the pinned `@example`, for each of causal / bidirectional).
few_examples = settings(max_examples=max(2, settings.default.max_examples // 4))
bigbird_mask = jax.jit(sparse.bigbird_mask, static_argnames=(
    "T", "block_size", "num_global_blocks", "num_random_blocks", "causal", "num_window_blocks"))


# ---------------------------------------------------------------------------
# Hand-computed masks
# ---------------------------------------------------------------------------

def _m(rows):
    return np.array([[c == "1" for c in r] for r in rows.split()])


def test_masks_hand_computed():
    np.testing.assert_array_equal(sparse.local_mask(5, window=2, causal=True), _m(
        "10000 11000 01100 00110 00011"))
    np.testing.assert_array_equal(sparse.local_mask(5, window=2, causal=False), _m(
        "11000 11100 01110 00111 00011"))
    # strided, l = 3: t - s < 3 or 3 | t - s
    np.testing.assert_array_equal(sparse.strided_mask(7, stride=3, causal=True), _m(
        "1000000 1100000 1110000 1111000 0111100 0011110 1001111"))
    # fixed, l = 3, c = 1: same chunk of 3, or s = 2, 5 (last of each chunk)
    np.testing.assert_array_equal(sparse.fixed_mask(6, stride=3, num_summary=1, causal=True), _m(
        "100000 110000 111000 001100 001110 001111"))
    np.testing.assert_array_equal(sparse.fixed_mask(6, stride=3, num_summary=1, causal=False), _m(
        "111001 111001 111001 001111 001111 001111"))
    # longformer, window 2, global token 3
    np.testing.assert_array_equal(sparse.longformer_mask(6, window=2, global_tokens=[3], causal=False), _m(
        "110100 111100 011100 111111 000111 000111"))
    # bigbird, blocks of 2, one global block, window of 3 blocks, no random blocks
    np.testing.assert_array_equal(sparse.bigbird_mask(
        8, block_size=2, num_global_blocks=1, num_random_blocks=0, causal=False, key=None), _m(
        "11111111 11111111 11111100 11111100 11111111 11111111 11001111 11001111"))


def test_dense_attention_hand_computed():
    """One key allowed per row -> that key's value; no key (padding) -> zeros."""
    q, k, v = _qkv(0, 3)
    only_previous = jnp.array([[1, 0, 0], [1, 0, 0], [0, 1, 0]], bool)
    out = jax.jit(sparse.dense_attention)(q, k, v, only_previous, lengths=2)
    np.testing.assert_allclose(out, jnp.stack([v[0], v[0], jnp.zeros((N, K))]), atol=1e-6)


# ---------------------------------------------------------------------------
# Blockwise == dense under the same mask (values and gradients)
# ---------------------------------------------------------------------------
# Hypothesis draws the sizes; `@example` pins one case with several blocks,
# a window of several blocks and padding, so CI always covers it.

blocks_st = st.sampled_from([1, 2, 3])
fraction_st = st.floats(0.0, 1.0)  # lengths and other dependent sizes as fractions of their range


def _length(fraction, T):
    return max(1, int(np.ceil(fraction * T)))


@pytest.mark.parametrize("causal", [False, True])
@few_examples
@example(block=2, multiple=2, num_blocks=5, fraction=0.7)
@given(block=blocks_st, multiple=st.integers(1, 3), num_blocks=st.integers(1, 5), fraction=fraction_st)
def test_local_matches_dense(causal, block, multiple, num_blocks, fraction):
    T, window = block * num_blocks, block * multiple
    L = _length(fraction, T)
    fn = functools.partial(sparse.local_attention, window=window, causal=causal, lengths=L, block_size=block)
    _assert_matches_dense(fn, sparse.local_mask(T, window=window, causal=causal), T, L, seed=T)


@pytest.mark.parametrize("causal", [False, True])
@few_examples
@example(block=2, multiple=2, chunks=3, fraction=0.7)
@given(block=blocks_st, multiple=st.integers(1, 2), chunks=st.integers(1, 4), fraction=fraction_st)
def test_strided_matches_dense(causal, block, multiple, chunks, fraction):
    stride = block * multiple
    T = stride * chunks
    L = _length(fraction, T)
    fn = functools.partial(sparse.strided_attention, stride=stride, causal=causal, lengths=L, block_size=block)
    _assert_matches_dense(fn, sparse.strided_mask(T, stride=stride, causal=causal), T, L, seed=T + 1)


@pytest.mark.parametrize("causal", [False, True])
@few_examples
@example(block=2, multiple=2, chunks=3, fraction=0.7, summary=0.5)
@given(block=blocks_st, multiple=st.integers(1, 2), chunks=st.integers(1, 4), fraction=fraction_st,
       summary=fraction_st)
def test_fixed_matches_dense(causal, block, multiple, chunks, fraction, summary):
    stride = block * multiple
    T = stride * chunks
    L = _length(fraction, T)
    c = int(summary * stride)
    fn = functools.partial(sparse.fixed_attention, stride=stride, num_summary=c, causal=causal, lengths=L,
                           block_size=block)
    _assert_matches_dense(fn, sparse.fixed_mask(T, stride=stride, num_summary=c, causal=causal), T, L, seed=T + 2)


@pytest.mark.parametrize("causal", [False, True])
@few_examples
@example(block=2, multiple=2, num_blocks=5, fraction=0.7, global_tokens=[0, 3, 9])
@given(block=blocks_st, multiple=st.integers(1, 2), num_blocks=st.integers(1, 5), fraction=fraction_st,
       global_tokens=st.one_of(st.integers(0, 2), st.sets(st.integers(0, 14), max_size=3).map(sorted)))
def test_longformer_matches_dense(causal, block, multiple, num_blocks, fraction, global_tokens):
    T, window = block * num_blocks, block * multiple
    L = _length(fraction, T)
    global_tokens = min(global_tokens, T) if isinstance(global_tokens, int) else [g for g in global_tokens if g < T]
    fn = functools.partial(sparse.longformer_attention, window=window, global_tokens=global_tokens, causal=causal,
                           lengths=L, block_size=block)
    mask = sparse.longformer_mask(T, window=window, global_tokens=global_tokens, causal=causal)
    _assert_matches_dense(fn, mask, T, L, seed=T + 3)


@pytest.mark.parametrize("causal", [False, True])
@few_examples
@example(block=2, num_blocks=7, window_blocks=3, g=1, r=2, seed=0, fraction=0.8)
@given(block=blocks_st, num_blocks=st.integers(1, 7), window_blocks=st.sampled_from([1, 3, 5]), g=st.integers(0, 2),
       r=st.integers(0, 3), seed=st.integers(0, 2**16), fraction=fraction_st)
def test_bigbird_matches_dense(causal, block, num_blocks, window_blocks, g, r, seed, fraction):
    T = block * num_blocks
    L = _length(fraction, T)
    options = dict(block_size=block, num_global_blocks=min(g, num_blocks), num_random_blocks=r, causal=causal,
                   key=jax.random.PRNGKey(seed), num_window_blocks=window_blocks)
    fn = functools.partial(sparse.bigbird_attention, lengths=L, **options)
    _assert_matches_dense(fn, bigbird_mask(T, lengths=L, **options), T, L, seed=T + 4)


def test_bigbird_random_blocks_follow_their_definition():
    num_blocks, r, g, w = 12, 3, 1, 3
    for causal in (False, True):
        for num_valid in (12, 9, 3):
            blocks, valid = sparse.bigbird_random_blocks(
                jax.random.PRNGKey(7), num_blocks, num_random_blocks=r, num_global_blocks=g, num_window_blocks=w,
                causal=causal, num_valid_blocks=num_valid)
            for i in range(num_blocks):
                eligible = {j for j in range(g, num_valid) if abs(i - j) > w // 2 and (j < i or not causal)}
                chosen = [int(j) for j, ok in zip(blocks[i], valid[i]) if ok]
                assert len(set(chosen)) == len(chosen) == min(r, len(eligible)), (i, chosen, eligible)
                assert set(chosen) <= eligible
            # Extra right padding (more blocks, same valid count) leaves every draw unchanged.
            more, more_valid = sparse.bigbird_random_blocks(
                jax.random.PRNGKey(7), num_blocks + 4, num_random_blocks=r, num_global_blocks=g, num_window_blocks=w,
                causal=causal, num_valid_blocks=num_valid)
            np.testing.assert_array_equal(jnp.where(valid, blocks, -1), jnp.where(more_valid, more, -1)[:num_blocks])


# ---------------------------------------------------------------------------
# Properties: causality, padding invariance, linear memory
# ---------------------------------------------------------------------------

T_PROP, B_PROP = 12, 2
VARIANTS = {
    "local": functools.partial(sparse.local_attention, window=4, block_size=B_PROP),
    "strided": functools.partial(sparse.strided_attention, stride=4, block_size=B_PROP),
    "fixed": functools.partial(sparse.fixed_attention, stride=4, num_summary=1, block_size=B_PROP),
    "longformer": functools.partial(sparse.longformer_attention, window=2, global_tokens=(0, 5), block_size=B_PROP),
    "bigbird": functools.partial(sparse.bigbird_attention, block_size=B_PROP, num_global_blocks=1,
                                 num_random_blocks=2, key=jax.random.PRNGKey(3)),
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_causal_variants_do_not_look_ahead(name):
    """Changing q, k, v at t >= t0 leaves out[:t0] unchanged."""
    fn = jax.jit(functools.partial(VARIANTS[name], causal=True))
    q, k, v = _qkv(0, T_PROP)
    t0 = 5
    q2, k2, v2 = (x.at[t0:].set(y[t0:]) for x, y in zip((q, k, v), _qkv(1, T_PROP)))
    out, out2 = fn(q, k, v), fn(q2, k2, v2)
    np.testing.assert_allclose(out[:t0], out2[:t0], atol=1e-6)
    assert not np.allclose(out[t0:], out2[t0:])


@pytest.mark.parametrize("name", sorted(VARIANTS))
@pytest.mark.parametrize("causal", [False, True])
def test_extra_padding_changes_nothing(name, causal):
    """More padded frames (garbage values), same length: same valid outputs, zeros after."""
    fn = jax.jit(functools.partial(VARIANTS[name], causal=causal))
    L, extra = 7, 8
    q, k, v = _qkv(0, T_PROP)
    garbage = _qkv(1, extra)
    long = [jnp.concatenate([x, 100 * g]) for x, g in zip((q, k, v), garbage)]
    out = fn(q, k, v, lengths=L)
    out_long = fn(*long, lengths=L)
    np.testing.assert_allclose(out[:L], out_long[:L], atol=1e-6)
    np.testing.assert_array_equal(out_long[L:], 0.0)


def _largest_intermediate(fn, *args):
    """Largest array size produced by any operation of fn's jaxpr (sub-jaxprs included)."""
    def walk(jaxpr):
        for eqn in jaxpr.eqns:
            for var in eqn.outvars:
                yield int(np.prod(var.aval.shape))
            for sub in jax.extend.core.jaxprs_in_params(eqn.params):
                yield from walk(sub)
    return max(walk(jax.make_jaxpr(fn)(*args).jaxpr))


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_no_dense_score_matrix(name):
    """At T = 256 (one head of size 1) nothing as large as the T x S score matrix is ever built."""
    T = 256
    q = k = v = jnp.ones((T, 1, 1))
    fn = functools.partial(VARIANTS[name], causal=False)
    assert _largest_intermediate(fn, q, k, v) <= T * T // 4  # strided/fixed: T * T / stride
    # and the dense reference does build it (the check can see it)
    mask = sparse.local_mask(T, window=4, causal=False)
    assert _largest_intermediate(lambda q, k, v: sparse.dense_attention(q, k, v, mask), q, k, v) >= T * T


def test_memory_grows_linearly_for_local_attention():
    """Local attention's largest intermediate doubles (not quadruples) when T doubles."""
    sizes = [_largest_intermediate(functools.partial(sparse.local_attention, window=8, causal=True, block_size=4),
                                   *(jnp.ones((T, 1, 1)),) * 3) for T in (256, 512)]
    assert sizes[1] == 2 * sizes[0]


MASKS = {  # the dense masks of VARIANTS (BigBird's with lengths=L)
    "local": lambda T, L, causal: sparse.local_mask(T, window=4, causal=causal),
    "strided": lambda T, L, causal: sparse.strided_mask(T, stride=4, causal=causal),
    "fixed": lambda T, L, causal: sparse.fixed_mask(T, stride=4, num_summary=1, causal=causal),
    "longformer": lambda T, L, causal: sparse.longformer_mask(T, window=2, global_tokens=(0, 5), causal=causal),
    "bigbird": lambda T, L, causal: bigbird_mask(T, block_size=B_PROP, num_global_blocks=1, num_random_blocks=2,
                                                 causal=causal, key=jax.random.PRNGKey(3), lengths=L),
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_query_groups_one_block_each_match_dense(name, monkeypatch):
    """Groups of one block (six `lax.map` steps, recomputed in the backward pass): values and gradients."""
    monkeypatch.setattr(sparse, "MAX_GROUP_QUERIES", B_PROP)
    causal, L = name != "fixed", 10  # fixed: the bidirectional form
    fn = functools.partial(VARIANTS[name], causal=causal, lengths=L)
    _assert_matches_dense(fn, MASKS[name](T_PROP, L, causal), T_PROP, L, seed=5)


@pytest.mark.parametrize("name", ["local", "bigbird"])
def test_backward_keeps_a_few_copies_of_q(name):
    """XLA's temporaries for value and gradients at T = 8192 stay under 16 times q's size (the
    gathered blocks and scores of all query blocks at once took 31 (local) and 46 (BigBird) times)."""
    T, heads, dim = 8192, 4, 64
    fn = {"local": functools.partial(sparse.local_attention, window=256, causal=True, block_size=128),
          "bigbird": functools.partial(sparse.bigbird_attention, block_size=64, num_global_blocks=2,
                                       num_random_blocks=3, causal=True, key=jax.random.PRNGKey(0))}[name]
    x = jax.ShapeDtypeStruct((T, heads, dim), jnp.float32)
    grad = jax.jit(jax.grad(lambda q, k, v: jnp.sum(fn(q, k, v) ** 2), argnums=(0, 1, 2)))
    temp = grad.lower(x, x, x).compile().memory_analysis().temp_size_in_bytes
    assert temp <= 16 * T * heads * dim * 4, temp / (T * heads * dim * 4)


# ---------------------------------------------------------------------------
# Shapes, dtypes, batching; bad input
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_batched_shapes_and_dtypes(dtype):
    B, T = 3, 8
    q, k, v = _normal(0, (3, B, T, N, K), dtype)
    lengths = jnp.array([8, 5, 1])
    fn = functools.partial(sparse.bigbird_attention, block_size=2, num_global_blocks=1, num_random_blocks=1,
                           causal=False, key=jax.random.PRNGKey(0))
    out = jax.jit(jax.vmap(lambda q, k, v, L: fn(q, k, v, lengths=L)))(q, k, v, lengths)
    assert out.shape == (B, T, N, K) and out.dtype == dtype
    assert bool(jnp.all(out[1, 5:] == 0)) and bool(jnp.all(out[2, 1:] == 0))
    one = jax.jit(fn)(q[1].astype(jnp.float32), k[1].astype(jnp.float32), v[1].astype(jnp.float32), lengths=5)
    np.testing.assert_allclose(out[1].astype(jnp.float32), one, atol=0.05 if dtype == jnp.bfloat16 else 1e-6)


def test_bad_input_raises():
    q, k, v = _qkv(0, 8)
    local = functools.partial(sparse.local_attention, window=4, causal=True, block_size=2)
    with pytest.raises(ValueError, match="heads and head dim"):
        local(q[:, :1], k, v)
    with pytest.raises(ValueError, match="heads and head dim"):
        local(q[..., :3], k, v)
    with pytest.raises(ValueError, match=r"k and v of the same shape"):
        local(q, k, v[:, :1])
    with pytest.raises(ValueError, match="T == S"):
        local(q[:6], k, v)
    with pytest.raises(ValueError, match="multiple of block_size=3, got T=8"):
        sparse.local_attention(q, k, v, window=3, causal=True, block_size=3)
    with pytest.raises(ValueError, match="window to be a positive multiple of block_size=2, got window=3"):
        sparse.local_attention(q, k, v, window=3, causal=True, block_size=2)
    with pytest.raises(ValueError, match="stride to be a positive multiple of block_size=4"):
        sparse.strided_attention(q, k, v, stride=2, causal=True, block_size=4)
    with pytest.raises(ValueError, match="multiple of stride=3"):
        sparse.fixed_attention(q, k, v, stride=3, num_summary=1, causal=True, block_size=1)
    with pytest.raises(ValueError, match="num_summary"):
        sparse.fixed_attention(q, k, v, stride=4, num_summary=5, causal=True)
    with pytest.raises(ValueError, match="distinct global token positions"):
        sparse.longformer_attention(q, k, v, window=2, global_tokens=[1, 9], causal=False, block_size=2)
    with pytest.raises(ValueError, match="needs a PRNG `key`"):
        sparse.bigbird_attention(q, k, v, block_size=2, num_global_blocks=1, num_random_blocks=1, causal=False,
                                 key=None)
    with pytest.raises(ValueError, match="num_global_blocks"):
        sparse.bigbird_attention(q, k, v, block_size=2, num_global_blocks=5, num_random_blocks=0, causal=False,
                                 key=None)
    with pytest.raises(ValueError, match="scalar per example"):
        local(q, k, v, lengths=jnp.array([3, 4]))
    with pytest.raises(ValueError, match=r"\[T, N, K\]"):
        local(q[None], k[None], v[None])


# ---------------------------------------------------------------------------
# A tiny model learns through the blockwise path
# ---------------------------------------------------------------------------

def test_loss_goes_down():
    """Fit q/k/v projections so causal local attention reproduces a random target."""
    T, D = 16, 8
    x = _normal(0, (T, D))
    target = _normal(1, (T, N, K))
    params = {"w": 0.3 * _normal(2, (3, D, N * K))}
    attend = functools.partial(sparse.local_attention, window=4, block_size=2, causal=True, lengths=13)

    def loss_fn(params):
        q, k, v = (jnp.einsum("td,dh->th", x, w).reshape(T, N, K) for w in params["w"])  # [T, N, K]
        return jnp.mean((attend(q, k, v) - target)[:13] ** 2)

    _, losses = adam_train(loss_fn, params, learning_rate=3e-2, steps=60)
    assert losses[-1] < 0.7 * losses[0], losses[::10]
