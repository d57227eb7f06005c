"""Linear attention: Performer FAVOR+ (Choromanski et al. 2021), full, causal and recurrent.

Softmax attention needs every score exp(q_t . k_s / sqrt(K)). The softmax
kernel is an expectation over Gaussian directions w ~ N(0, I_K),

    exp(x . y) = E_w[ exp(w . x - |x|^2 / 2) exp(w . y - |y|^2 / 2) ] ,

so with M random directions W: [M, K] (the `features`) and
x = q / K^(1/4), y = k / K^(1/4), the positive random features

    phi(x) = exp(W x - |x|^2 / 2) / sqrt(M)                    [M]

give phi(x) . phi(y) ~ exp(q . k / sqrt(K)) (unbiased, always positive), and

    out_t = phi(q_t)^T sum_s phi(k_s) v_s^T  /  phi(q_t)^T sum_s phi(k_s)

costs O(T M K) instead of O(T S K). Sums run over valid keys s < L
(`lengths`; padded keys are left out of the normaliser) and, when causal,
over s <= t: then the sums are prefix sums, computed chunk by chunk (exact
quadratic form inside a chunk of `chunk_size`, prefix sums of chunk totals
across chunks), or one step at a time with a running state

    S_t = S_{t-1} + phi(k_t) v_t^T   [N, M, K]      z_t = z_{t-1} + phi(k_t)   [N, M]
    out_t = phi(q_t)^T S_t / phi(q_t)^T z_t                      (`init_state`, `step`).

Orthogonal random features: the rows of W are drawn in blocks of K mutually
orthogonal directions with Gaussian lengths (chi_K), which lowers the
estimator's variance (FAVOR+'s "OR+").

Numerical stability (exact: both factors cancel in the ratio):
* a query's features are divided by their own max, exp(max_m (W x - |x|^2/2)_m);
* keys use a bound that depends on W only, c = max_m |w_m|^2 / 2, since
  w . y - |y|^2 / 2 = |w|^2 / 2 - |y - w|^2 / 2 <= |w|^2 / 2: every key feature
  lies in (0, 1]. (The Performer code subtracts the max over ALL keys, which
  looks at future keys in causal mode and is unknown when decoding.)

One example: q, k, v: [T, N, K]; `features`: [M, K], shared by the heads.
`performer_attention_reference` is the slow quadratic form of the same
estimator (the T x S matrix phi(q) phi(k)^T); tests compare the three forms.
"""

import math

import jax
import jax.numpy as jnp

from seqmodels.array_types import Array, Float, Key, Params
from seqmodels.attention import dot_product
from seqmodels.nn.lengths import check_lengths

# ---------------------------------------------------------------------------
# Random features
# ---------------------------------------------------------------------------


def init_features(key: Key, head_dim: int, num_features: int, *, orthogonal: bool = True,
                  dtype=jnp.float32) -> Float[Array, "M K"]:
    """W: [M, K] random directions, rows w_m ~ N(0, I_K) (orthogonal in blocks of K when `orthogonal`).

    Redraw W (call again with a new key) to resample the estimator; keep it
    fixed for deterministic evaluation and for decoding.
    """
    if head_dim <= 0 or num_features <= 0:
        raise ValueError(f"init_features: expected positive head_dim and num_features, "
                         f"got head_dim={head_dim}, num_features={num_features}")
    K, M = head_dim, num_features
    gauss_key, norm_key = jax.random.split(key)
    if not orthogonal:
        return jax.random.normal(gauss_key, (M, K), dtype)  # [M, K]
    num_blocks = -(-M // K)
    gaussians = jax.random.normal(gauss_key, (num_blocks, K, K), jnp.float32)  # [M/K, K, K]
    rotations, upper = jnp.linalg.qr(gaussians)  # [M/K, K, K], orthonormal columns
    # Signs fixed so that diag(R) > 0: without this, QR's sign convention biases the directions.
    rotations = rotations * jnp.sign(jnp.diagonal(upper, axis1=1, axis2=2))[:, None, :]  # [M/K, K, K]
    directions = jnp.swapaxes(rotations, 1, 2).reshape(num_blocks * K, K)[:M]  # [M, K], unit rows
    lengths = jnp.linalg.norm(jax.random.normal(norm_key, (M, K), jnp.float32), axis=-1)  # [M], ~ chi_K
    return (directions * lengths[:, None]).astype(dtype)  # [M, K]


def feature_map(features: Float[Array, "M K"], x: Float[Array, "... K"], *, is_query: bool) -> Float[Array, "... M"]:
    """phi(x) = exp(W x' - |x'|^2 / 2 - stabiliser) / sqrt(M), x' = x / K^(1/4).

    The stabiliser is per query (its own max) for queries, and the constant
    max_m |w_m|^2 / 2 for keys (see the module docstring); both cancel in
    attention's ratio.
    """
    M, K = features.shape
    if x.shape[-1] != K:
        raise ValueError(f"feature_map: expected x of shape [..., K] with K={K} (features [M, K] = {features.shape}), "
                         f"got shape {x.shape}")
    features = features.astype(x.dtype)
    x = x * K ** -0.25
    exponent = jnp.einsum("...k,mk->...m", x, features) - 0.5 * jnp.sum(x * x, axis=-1, keepdims=True)  # [..., M]
    if is_query:
        stabiliser = jnp.max(exponent, axis=-1, keepdims=True)  # [..., 1]
    else:
        stabiliser = 0.5 * jnp.max(jnp.sum(features * features, axis=-1))  # []
    return jnp.exp(exponent - jax.lax.stop_gradient(stabiliser)) * M ** -0.5  # [..., M]


# ---------------------------------------------------------------------------
# Checks and shared pieces
# ---------------------------------------------------------------------------


def _check(q, k, v, features, name: str) -> tuple[int, int, int]:
    dot_product.check_qkv_same_heads(q, k, v, name=name)
    if features.ndim != 2 or features.shape[1] != q.shape[2]:
        raise ValueError(f"{name}: expected features of shape [M, K] with K={q.shape[2]}, got {features.shape}")
    return q.shape


def _features(q, k, features, lengths, causal: bool):
    """phi(q): [T, N, M], phi(k): [S, N, M] with padded keys zeroed, and the valid length L."""
    T, S = q.shape[0], k.shape[0]
    if causal and T != S:
        raise ValueError(f"performer_attention: causal=True needs T == S, got T={T}, S={S}")
    dtype = q.dtype if jnp.finfo(q.dtype).bits >= 32 else jnp.float32  # compute in float32 or wider
    length = jnp.asarray(S if lengths is None else check_lengths(lengths, S, "performer_attention"))
    phi_q = feature_map(features, q.astype(dtype), is_query=True)  # [T, N, M]
    phi_k = feature_map(features, k.astype(dtype), is_query=False)  # [S, N, M]
    phi_k = jnp.where((jnp.arange(S) < length)[:, None, None], phi_k, 0.0)  # [S, N, M]
    return phi_q, phi_k, length


def _ratio(numerator, denominator):
    """numerator / denominator, with 0 where nothing was attended (denominator 0)."""
    return numerator / jnp.where(denominator > 0, denominator, 1.0)[..., None]


def _chunks(xs, chunk_size: int):
    """Each array of xs ([T, ...]) as [T/C, C, ...] chunks of C = min(chunk_size, T), zero-padded at the end
    (padded keys are never attended: their validity flags pad with False)."""
    def split(x):
        C = min(chunk_size, x.shape[0])
        x = jnp.pad(x, [(0, -x.shape[0] % C)] + [(0, 0)] * (x.ndim - 1))
        return x.reshape(-1, C, *x.shape[1:])

    return jax.tree.map(split, xs)


def _scan_chunks(step, state, chunks):
    """lax.scan of `step` over the chunks, with memory O(sqrt(#chunks)) states instead of one per chunk.

    The chunks are scanned in segments of R ~ sqrt(#chunks); each segment is
    recomputed in the backward pass (jax.checkpoint), so the backward keeps
    one state per segment and one segment's per-chunk values. The chunk
    count is padded to a multiple of R with zero chunks (keys flagged
    invalid: they add nothing; their outputs are dropped).
    """
    n = jax.tree.leaves(chunks)[0].shape[0]
    R = max(1, math.isqrt(n - 1) + 1) if n > 1 else 1  # ceil(sqrt(n))
    pad = -n % R
    segments = jax.tree.map(lambda x: jnp.pad(x, [(0, pad)] + [(0, 0)] * (x.ndim - 1)).reshape(
        (n + pad) // R, R, *x.shape[1:]), chunks)  # [n/R, R, C, ...]
    state, ys = jax.lax.scan(jax.checkpoint(lambda s, seg: jax.lax.scan(step, s, seg)), state, segments)
    return state, jax.tree.map(lambda y: y.reshape(-1, *y.shape[2:])[:n], ys)  # ys: [n, C, ...]


def _finish(out, length, dtype):
    """Padded queries (t >= L) give zeros; back to the input dtype."""
    valid = (jnp.arange(out.shape[0]) < length)[:, None, None]  # [T, 1, 1]
    return jnp.where(valid, out, 0.0).astype(dtype)


# ---------------------------------------------------------------------------
# Full-sequence forms
# ---------------------------------------------------------------------------


def performer_attention(q: Float[Array, "T N K"], k: Float[Array, "S N K"], v: Float[Array, "S N K"],
                        features: Float[Array, "M K"], *, causal: bool, lengths=None,
                        chunk_size: int = 64) -> Float[Array, "T N K"]:
    """FAVOR+ attention in O(T M K): out_t = phi(q_t)^T sum_s phi(k_s) v_s^T / phi(q_t)^T sum_s phi(k_s).

    Both forms go chunk by chunk (C = `chunk_size` positions; features are
    computed per chunk and recomputed in the backward pass, never kept for
    all T). Causal (T == S): a scan carries the sums over the earlier chunks,
    S_c = sum_{s < cC} phi(k_s) v_s^T [N, M, K] and z_c [N, M]; inside a chunk the
    quadratic form phi(q) phi(k)^T (lower triangle) adds the chunk's own keys.
    Bidirectional: the same scan sums all valid keys, then each query chunk
    reads the totals. Memory O(T N K + sqrt(T/C) N M K + C N M) (`_scan_chunks`).
    """
    _check(q, k, v, features, "performer_attention")
    if chunk_size <= 0:
        raise ValueError(f"performer_attention: expected a positive chunk_size, got {chunk_size}")
    T, N, K = q.shape
    S = k.shape[0]
    if causal and T != S:
        raise ValueError(f"performer_attention: causal=True needs T == S, got T={T}, S={S}")
    dtype = q.dtype
    compute = dtype if jnp.finfo(dtype).bits >= 32 else jnp.float32  # compute in float32 or wider
    length = jnp.asarray(S if lengths is None else check_lengths(lengths, S, "performer_attention"))
    features = features.astype(compute)
    M = features.shape[0]

    def key_terms(k_c, v_c, valid_c):  # phi(k) with padded keys zeroed, and its chunk totals
        phi_k = feature_map(features, k_c.astype(compute), is_query=False)  # [C, N, M]
        phi_k = jnp.where(valid_c[:, None, None], phi_k, 0.0)  # [C, N, M]
        v_c = v_c.astype(compute)
        return phi_k, v_c, jnp.einsum("snm,snk->nmk", phi_k, v_c), jnp.sum(phi_k, axis=0)  # ..., [N, M, K], [N, M]

    keys = _chunks((k, v, jnp.arange(S) < length), chunk_size)  # [S/C, C, ...] each; valid keys s < L
    state = (jnp.zeros((N, M, v.shape[-1]), compute), jnp.zeros((N, M), compute))  # S_0 = 0, z_0 = 0
    if causal:
        lower = jnp.tri(min(chunk_size, T), dtype=bool)  # [C, C]

        def step(state, chunk):  # one chunk: its outputs from the earlier chunks' sums plus its own keys
            kv, z = state  # [N, M, K], [N, M]
            q_c, k_c, v_c, valid_c = chunk
            phi_q = feature_map(features, q_c.astype(compute), is_query=True)  # [C, N, M]
            phi_k, v_c, kv_c, z_c = key_terms(k_c, v_c, valid_c)
            scores = jnp.where(lower, jnp.einsum("tnm,snm->nts", phi_q, phi_k), 0.0)  # [N, C, C]
            numerator = jnp.einsum("tnm,nmk->tnk", phi_q, kv) + jnp.einsum("nts,snk->tnk", scores, v_c)  # [C, N, K]
            denominator = jnp.einsum("tnm,nm->tn", phi_q, z) + jnp.einsum("nts->tn", scores)  # [C, N]
            return (kv + kv_c, z + z_c), _ratio(numerator, denominator)

        _, out = _scan_chunks(step, state, (_chunks(q, chunk_size),) + keys)  # [T/C, C, N, K]
    else:
        def add(state, chunk):
            _, _, kv_c, z_c = key_terms(*chunk)
            return (state[0] + kv_c, state[1] + z_c), None

        (kv, z), _ = _scan_chunks(add, state, keys)  # [N, M, K], [N, M]: sums over all valid keys

        def read(q_c):
            phi_q = feature_map(features, q_c.astype(compute), is_query=True)  # [C, N, M]
            return _ratio(jnp.einsum("tnm,nmk->tnk", phi_q, kv), jnp.einsum("tnm,nm->tn", phi_q, z))  # [C, N, K]

        out = jax.lax.map(jax.checkpoint(read), _chunks(q, chunk_size))  # [T/C, C, N, K]
    return _finish(out.reshape(-1, N, out.shape[-1])[:T], length, dtype)


def performer_attention_reference(q: Float[Array, "T N K"], k: Float[Array, "S N K"], v: Float[Array, "S N K"],
                                  features: Float[Array, "M K"], *, causal: bool,
                                  lengths=None) -> Float[Array, "T N K"]:
    """The same estimator, slowly: A = phi(q) phi(k)^T ([N, T, S], lower triangle when causal), out = A v / A 1."""
    _check(q, k, v, features, "performer_attention_reference")
    dtype = q.dtype
    phi_q, phi_k, length = _features(q, k, features, lengths, causal)
    scores = jnp.einsum("tnm,snm->nts", phi_q, phi_k)  # [N, T, S]
    if causal:
        scores = jnp.where(jnp.tri(q.shape[0], dtype=bool), scores, 0.0)  # [N, T, S]
    numerator = jnp.einsum("nts,snk->tnk", scores, v.astype(scores.dtype))  # [T, N, K]
    out = _ratio(numerator, jnp.einsum("nts->tn", scores))  # [T, N, K]
    return _finish(out, length, dtype)


# ---------------------------------------------------------------------------
# Recurrent form (decoding): a running state, one token at a time
# ---------------------------------------------------------------------------


def init_state(features: Float[Array, "M K"], num_heads: int, dtype=jnp.float32) -> Params:
    """{'kv': S_0 = 0 [N, M, K], 'z': z_0 = 0 [N, M]}: the sums over no key yet."""
    if num_heads <= 0:
        raise ValueError(f"init_state: expected a positive num_heads, got {num_heads}")
    M, K = features.shape
    return {"kv": jnp.zeros((num_heads, M, K), dtype), "z": jnp.zeros((num_heads, M), dtype)}


def step(features: Float[Array, "M K"], state: Params, q_t: Float[Array, "N K"], k_t: Float[Array, "N K"],
         v_t: Float[Array, "N K"]) -> tuple[Params, Float[Array, "N K"]]:
    """One causal step: S_t = S_{t-1} + phi(k_t) v_t^T, z_t = z_{t-1} + phi(k_t), out_t = phi(q_t)^T S_t / phi(q_t)^T z_t.

    The body of a `lax.scan` over (q_t, k_t, v_t); equals the causal
    `performer_attention` position by position.
    """
    N, M, K = state["kv"].shape
    for arr, label in ((q_t, "q_t"), (k_t, "k_t"), (v_t, "v_t")):
        if arr.shape != (N, K):
            raise ValueError(f"step: expected {label} of shape [N, K] = [{N}, {K}] (the state's), got {arr.shape}")
    if features.shape != (M, K):
        raise ValueError(f"step: expected features of shape [M, K] = [{M}, {K}] (the state's), got {features.shape}")
    dtype = state["kv"].dtype
    phi_q = feature_map(features, q_t.astype(dtype), is_query=True)  # [N, M]
    phi_k = feature_map(features, k_t.astype(dtype), is_query=False)  # [N, M]
    kv = state["kv"] + phi_k[:, :, None] * v_t.astype(dtype)[:, None, :]  # [N, M, K]
    z = state["z"] + phi_k  # [N, M]
    out = _ratio(jnp.einsum("nm,nmk->nk", phi_q, kv), jnp.einsum("nm,nm->n", phi_q, z))  # [N, K]
    return {"kv": kv, "z": z}, out.astype(v_t.dtype)


__all__ = ["init_features", "feature_map", "performer_attention", "performer_attention_reference",
           "init_state", "step"]
