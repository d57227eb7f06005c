"""Scaled dot-product attention: the dense reference and a blockwise fast path.

For one example, query time first:

    q: [T, N, K]     k: [S, N', K]     v: [S, N', K']     (N a multiple of N')

    A[n, t, s] = softmax_s( q[t, n] . k[s, g(n)] / sqrt(K)  where M[n, t, s], else -inf )
    y[t, n]    = sum_s A[n, t, s] v[s, g(n)]                          y: [T, N, K']

g(n) = n // (N / N') is the key/value head a query head reads (grouped-query
attention, Ainslie et al. 2023; N' = N is ordinary multi-head attention and
N' = 1 multi-query attention). M is the AND of the boolean masks of
`seqmodels.attention.masks` (True = attend): `mask` ([T, S] or [N, T, S]),
`causal` (s <= t, needs T == S), `lengths` (keys s < lengths) and
`query_lengths` (queries t < query_lengths; both ints in [0, S] and [0, T],
clamped to that range under jit: `seqmodels.nn.lengths`). A query row with
no key to attend to (padding) gives zeros, not the mean of the values. Logits and the
softmax are computed in float32 whatever the input dtype.

`dot_product_attention` materialises A ([N, T, S]): the readable reference,
the one to use for short sequences or to get A for a plot.
`blockwise_attention` never does (Rabe & Staats 2021; Dao et al.,
FlashAttention 2022): it visits [Bq, Bk] tiles of A one at a time with a
`lax.scan`, keeping a running max m, normaliser l and output o per query:

    m' = max(m, max_s x_s)       l' = e^(m - m') l + sum_s e^(x_s - m')
    o' = e^(m - m') o + sum_s e^(x_s - m') v_s           y = o / l

and its `custom_vjp` backward recomputes each tile from the saved
log-sum-exp L = m + log l instead of storing A:

    P = e^(x - L)   dV += P^T dY   dP = dY V^T   dX = P * (dP - rowsum(dY * Y))
    dQ += dX K / sqrt(K)           dK += dX^T Q / sqrt(K)

so memory is linear in T and S. Causal attention skips the tiles above the
diagonal (half the work). Dropout on A draws its bits per tile from
fold_in(key, tile), the same in both passes. `attention(..., impl="auto")`
picks between the two paths, or on a GPU a fused kernel of
`seqmodels.attention.flash` (cuDNN or Pallas) where its constraints hold.
"""

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from seqmodels.array_types import Array, Bool, Float, Int, Key
from seqmodels.attention import flash
from seqmodels.attention import masks as masks_lib
from seqmodels.nn import dropout
from seqmodels.nn.lengths import check_lengths

# `attention(impl="auto")` takes the blockwise path from this many keys: below it the dense path is
# about as fast and compiles faster (figures: benchmarks/README.md).
AUTO_BLOCKWISE_MIN_LENGTH = 512
# Tile size: the lowest peak memory and, on CPU, about the fastest; larger tiles (256-512) can be faster,
# e.g. on accelerators: pass block_size= (figures: benchmarks/README.md).
DEFAULT_BLOCK_SIZE = 128
IMPLS = ("auto", "dense", "blockwise", "cudnn", "pallas")  # see `attention`


# --------------------------------------------------------------------------- checks


def check_qkv(q: Array, k: Array, v: Array, *, name: str = "attention") -> tuple[int, int, int, int, int]:
    """Validate q [T, N, K], k [S, N', K], v [S, N', K']; return (T, S, N, N', K)."""
    for arr, what, want in ((q, "q", "[T, N, K]"), (k, "k", "[S, N', K]"), (v, "v", "[S, N', K']")):
        if arr.ndim != 3:
            raise ValueError(f"{name}: expected {what} of shape {want} (one example; vmap over the batch), "
                             f"got shape {arr.shape}")
    T, N, K = q.shape
    S, Nkv, Kk = k.shape
    if Kk != K:
        raise ValueError(f"{name}: q and k head dims differ: expected k of shape [S, N', {K}], got {k.shape}")
    if v.shape[:2] != (S, Nkv):
        raise ValueError(f"{name}: expected v of shape [{S}, {Nkv}, K'] (same keys and heads as k), got {v.shape}")
    if N % Nkv:
        raise ValueError(f"{name}: query heads must be a multiple of key/value heads, "
                         f"got N={N} query heads and N'={Nkv} (q {q.shape}, k {k.shape})")
    return T, S, N, Nkv, K


def check_qkv_same_heads(q: Array, k: Array, v: Array, *, name: str) -> tuple[int, int, int]:
    """Validate q [T, N, K] and k, v [S, N, K] (same heads and head dims, as sparse and linear attention
    need); return q's shape (T, N, K)."""
    for arr, label in ((q, "q"), (k, "k"), (v, "v")):
        if arr.ndim != 3:
            raise ValueError(f"{name}: expected {label} of shape [T, N, K] (one example; vmap over the batch), "
                             f"got shape {arr.shape}")
    if k.shape != v.shape:
        raise ValueError(f"{name}: expected k and v of the same shape [S, N, K], got k {k.shape} and v {v.shape}")
    if q.shape[1:] != k.shape[1:]:
        raise ValueError(f"{name}: expected q and k with the same heads and head dim [.., N, K], "
                         f"got q {q.shape} and k {k.shape}")
    return q.shape


def check_block_size(name: str, **sizes) -> None:
    """ValueError unless each given size (None skipped) is a positive int (not a bool)."""
    for arg, value in sizes.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0):
            raise ValueError(f"{name}: {arg} must be a positive int, got {value!r}")


def check_pad_lengths(lengths, query_lengths, T: int, S: int, name: str):
    """(lengths, query_lengths) by the rule of `seqmodels.nn.lengths`: keys in [0, S], queries in [0, T]."""
    return (check_lengths(lengths, S, name), check_lengths(query_lengths, T, name, arg="query_lengths"))


def _repeat_kv(x: Array, N: int) -> Array:
    """[S, N', K] -> [S, N, K]: query head n reads key/value head n // (N / N')."""
    return jnp.repeat(x, N // x.shape[1], axis=1)  # [S, N, K]


def _default_scale(K: int, scale: float | None) -> float:
    return 1.0 / math.sqrt(K) if scale is None else float(scale)


def build_mask(T: int, S: int, N: int, *, mask: Bool[Array, "..."] | None = None, causal: bool = False,
               lengths: Int[Array, ""] | None = None, query_lengths: Int[Array, ""] | None = None,
               name: str = "attention") -> Bool[Array, "N T S"] | None:
    """The combined boolean mask (None when nothing is masked), checked against [N, T, S]."""
    masks_lib.check_mask(mask, N, T, S, name=name)
    if causal:
        masks_lib.check_causal(T, S, name=name)
    lengths, query_lengths = check_pad_lengths(lengths, query_lengths, T, S, name)
    pad = None
    if lengths is not None or query_lengths is not None:
        pad = masks_lib.padding_mask(lengths, T, S, query_lengths=query_lengths)
    return masks_lib.combine(mask, masks_lib.causal_mask(T, S) if causal else None, pad)


# --------------------------------------------------------------------------- dense reference


def masked_softmax(logits: Float[Array, "... S"], mask: Bool[Array, "... S"] | None) -> Float[Array, "... S"]:
    """softmax over the last axis restricted to mask == True, in float32; a row with no True gives zeros.

    (jax.nn.softmax with a large negative fill would give such a row the
    uniform mean instead, and -inf fills give NaN; this gives 0 and finite
    gradients.)
    """
    logits = logits.astype(jnp.float32)
    if mask is None:
        return jax.nn.softmax(logits, axis=-1)
    logits = jnp.where(mask, logits, -jnp.inf)
    top = lax.stop_gradient(logits.max(-1, keepdims=True))
    top = jnp.where(jnp.isfinite(top), top, 0.0)
    e = jnp.exp(logits - top)  # exactly 0 where masked
    total = e.sum(-1, keepdims=True)
    return e / jnp.where(total > 0, total, 1.0)


def attention_weights(q: Float[Array, "T N K"], k: Float[Array, "S N' K"], *,
                      mask: Bool[Array, "..."] | None = None, causal: bool = False,
                      lengths: Int[Array, ""] | None = None, query_lengths: Int[Array, ""] | None = None,
                      scale: float | None = None) -> Float[Array, "N T S"]:
    """A[n, t, s] = softmax_s(q_t . k_s * scale) over the unmasked s, in float32 (rows with no key: 0)."""
    T, S, N, _, K = check_qkv(q, k, k, name="attention_weights")
    full = build_mask(T, S, N, mask=mask, causal=causal, lengths=lengths, query_lengths=query_lengths,
                      name="attention_weights")
    logits = jnp.einsum("tnk,snk->nts", q, _repeat_kv(k, N),
                        preferred_element_type=jnp.float32)  # [N, T, S]
    logits = logits.astype(jnp.float32) * _default_scale(K, scale)
    return masked_softmax(logits, full)


def dot_product_attention(q: Float[Array, "T N K"], k: Float[Array, "S N' K"], v: Float[Array, "S N' K'"], *,
                          mask: Bool[Array, "..."] | None = None, causal: bool = False,
                          lengths: Int[Array, ""] | None = None, query_lengths: Int[Array, ""] | None = None,
                          scale: float | None = None, drop_rate: float = 0.0, key: Key | None = None,
                          deterministic: bool = False, return_weights: bool = False):
    """Dense attention y[t, n] = sum_s A[n, t, s] v[s] (reference; materialises A: [N, T, S]).

    `drop_rate` drops attention weights (inverted dropout, needs `key` unless
    `deterministic`). With `return_weights` returns (y, A), A before dropout.
    """
    T, S, N, _, _ = check_qkv(q, k, v, name="dot_product_attention")
    weights = attention_weights(q, k, mask=mask, causal=causal, lengths=lengths,
                                query_lengths=query_lengths, scale=scale)  # [N, T, S]
    dropped = dropout.apply(weights, drop_rate, key=key, deterministic=deterministic, name="dot_product_attention")
    y = jnp.einsum("nts,snk->tnk", dropped.astype(v.dtype), _repeat_kv(v, N),
                   preferred_element_type=jnp.float32).astype(q.dtype)  # [T, N, K']
    return (y, weights) if return_weights else y


# --------------------------------------------------------------------------- blockwise fast path


@dataclasses.dataclass(frozen=True)
class _Tiling:
    """Static description of one blockwise call (hashable: a custom_vjp nondiff argument)."""
    T: int
    S: int
    block_q: int
    block_k: int
    causal: bool
    scale: float
    drop_rate: float
    key_len: int | None = None  # a static key length (keys from it on are masked); None: all S keys

    @property
    def static_keys(self) -> int:
        return self.S if self.key_len is None else max(0, min(self.key_len, self.S))

    def tiles(self) -> list[tuple[bool, tuple[np.ndarray, np.ndarray]]]:
        """Groups of (i, j) tile indices, row-major, each with a flag: do the static masks cut the tile?

        Causal attention drops the tiles above the diagonal and masks only
        those the diagonal crosses; the others need no causal mask at all. A
        static key length (`lengths` given as a Python int, or the padding
        `attention` adds) likewise drops the tiles past it and masks only
        the one it crosses.
        """
        nq, nk = self.T // self.block_q, self.S // self.block_k
        below, crossed = [], []
        for i in range(nq):
            for j in range(nk):
                first_t, last_t = i * self.block_q, (i + 1) * self.block_q - 1
                first_s, last_s = j * self.block_k, (j + 1) * self.block_k - 1
                if first_s >= self.static_keys or (self.causal and first_s > last_t):
                    continue  # nothing visible in this tile
                cut = (self.causal and last_s > first_t) or last_s >= self.static_keys
                (crossed if cut else below).append((i, j))
        groups = [(False, below), (True, crossed)]
        return [(cut, tuple(np.asarray(pairs, np.int32).T)) for cut, pairs in groups if pairs]


def _is_static_int(x) -> bool:
    """A key length known at trace time (a Python or NumPy integer, not a traced array)."""
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _tile_mask(cfg: _Tiling, cut: bool, i, j, aux: dict) -> Bool[Array, "Nm Bq Bk"] | None:
    """Mask of tile (i, j): rows i*Bq.., columns j*Bk..; None when no constraint applies."""
    t = i * cfg.block_q + jnp.arange(cfg.block_q)[:, None]  # [Bq, 1]
    s = j * cfg.block_k + jnp.arange(cfg.block_k)[None, :]  # [1, Bk]
    parts = []
    if cut and cfg.causal:
        parts.append(s <= t)  # [Bq, Bk]
    if cut and cfg.static_keys < cfg.S:
        parts.append(s < cfg.static_keys)  # [1, Bk]
    if "lengths" in aux:
        parts.append(s < aux["lengths"])  # [1, Bk]
    if "query_lengths" in aux:
        parts.append(t < aux["query_lengths"])  # [Bq, 1]
    if "mask" in aux:
        mask = aux["mask"]  # [Nm, Tm, Sm], Tm in (1, T), Sm in (1, S)
        rows, cols = mask.shape[1] != 1, mask.shape[2] != 1
        tile = lax.dynamic_slice(mask, (0, i * cfg.block_q if rows else 0, j * cfg.block_k if cols else 0),
                                 (mask.shape[0], cfg.block_q if rows else 1, cfg.block_k if cols else 1))
        parts.append(tile)  # [Nm, Bq, Bk]
    return masks_lib.combine(*parts)


def _tile_keep(cfg: _Tiling, i, j, key: Key, N: int) -> Float[Array, "N Bq Bk"]:
    """Dropout of tile (i, j) as a factor 0 or 1/(1 - rate): the same bits forward and backward."""
    tile_key = jax.random.fold_in(key, i * (cfg.S // cfg.block_k) + j)
    keep = jax.random.bernoulli(tile_key, 1.0 - cfg.drop_rate, (N, cfg.block_q, cfg.block_k))
    return keep.astype(jnp.float32) / (1.0 - cfg.drop_rate)  # [N, Bq, Bk]


def blockwise_dropout_factors(key: Key, N: int, T: int, S: int, *, drop_rate: float,
                              block_q: int, block_k: int) -> Float[Array, "N T S"]:
    """The dropout factors (0 or 1/(1 - drop_rate)) `blockwise_attention` applies to A, as one [N, T, S] array.

    For tests and plots only (it is quadratic): the blockwise path draws
    them tile by tile, from `fold_in(key, tile index)`.
    """
    cfg = _Tiling(T=T, S=S, block_q=block_q, block_k=block_k, causal=False, scale=1.0, drop_rate=drop_rate)
    rows = [jnp.concatenate([_tile_keep(cfg, i, j, key, N) for j in range(S // block_k)], axis=2)
            for i in range(T // block_q)]
    return jnp.concatenate(rows, axis=1)  # [N, T, S]


def _blockwise_forward(cfg: _Tiling, q, k, v, aux):
    """Online-softmax scan over tiles. q: [N, T, K] (already scaled), k: [N, S, K], v: [N, S, K'].

    Returns y: [N, T, K'] (float32) and L: [N, T] (log-sum-exp, +inf on empty rows).
    Dropout (if any) scales p in the output sum but not in the normaliser l.
    """
    N, T, _ = q.shape
    Kv = v.shape[-1]
    bq, bk = cfg.block_q, cfg.block_k

    def step(cut, carry, ij):
        o, m, l = carry  # [N, T, K'], [N, T], [N, T]
        i, j = ij
        qi = lax.dynamic_slice_in_dim(q, i * bq, bq, axis=1)  # [N, Bq, K]
        kj = lax.dynamic_slice_in_dim(k, j * bk, bk, axis=1)  # [N, Bk, K]
        vj = lax.dynamic_slice_in_dim(v, j * bk, bk, axis=1)  # [N, Bk, K']
        x = jnp.einsum("nqk,nsk->nqs", qi, kj, preferred_element_type=jnp.float32)  # [N, Bq, Bk]
        valid = _tile_mask(cfg, cut, i, j, aux)
        if valid is not None:
            x = jnp.where(valid, x, -jnp.inf)
        m_i = lax.dynamic_slice_in_dim(m, i * bq, bq, axis=1)  # [N, Bq]
        l_i = lax.dynamic_slice_in_dim(l, i * bq, bq, axis=1)  # [N, Bq]
        o_i = lax.dynamic_slice_in_dim(o, i * bq, bq, axis=1)  # [N, Bq, K']
        m_new = jnp.maximum(m_i, x.max(-1))  # [N, Bq]
        m_safe = jnp.where(m_new == -jnp.inf, 0.0, m_new)  # rows with nothing seen yet
        p = jnp.exp(x - m_safe[..., None])  # [N, Bq, Bk]
        correction = jnp.exp(m_i - m_safe)  # [N, Bq]
        l_new = correction * l_i + p.sum(-1)
        if "key" in aux:
            p = p * _tile_keep(cfg, i, j, aux["key"], N)
        o_new = correction[..., None] * o_i + jnp.einsum(
            "nqs,nsk->nqk", p.astype(v.dtype), vj, preferred_element_type=jnp.float32)  # [N, Bq, K']
        o = lax.dynamic_update_slice_in_dim(o, o_new, i * bq, axis=1)
        m = lax.dynamic_update_slice_in_dim(m, m_new, i * bq, axis=1)
        l = lax.dynamic_update_slice_in_dim(l, l_new, i * bq, axis=1)
        return (o, m, l), None

    carry = (jnp.zeros((N, T, Kv), jnp.float32), jnp.full((N, T), -jnp.inf, jnp.float32),
             jnp.zeros((N, T), jnp.float32))
    for cut, tiles in cfg.tiles():
        carry, _ = lax.scan(functools.partial(step, cut), carry, tiles)
    o, m, l = carry
    seen = l > 0
    y = o / jnp.where(seen, l, 1.0)[..., None]  # [N, T, K']
    lse = jnp.where(seen, m + jnp.log(jnp.where(seen, l, 1.0)), jnp.inf)  # [N, T]
    return y, lse


def _blockwise_backward(cfg: _Tiling, q, k, v, aux, y, lse, dy):
    """Recompute each tile from L and accumulate dq (w.r.t. the scaled q), dk, dv in float32.

    Tiles are computed transposed, [N, Bk, Bq] (keys first): every product
    is then one XLA:CPU runs at full speed (no transposed left operand),
    and dq is accumulated as dq^T: [N, K, T]. With dropout factors Z,
    Y = (P * Z) V, so dV = (P * Z)^T dY and dP = (dY V^T) * Z, while
    rowsum(dP * P) = rowsum(dY * Y) still holds.
    """
    N, T, K = q.shape
    bq, bk = cfg.block_q, cfg.block_k
    delta = jnp.sum(dy.astype(jnp.float32) * y, axis=-1)  # [N, T] = rowsum(dY * Y)

    def step(cut, carry, ij):
        dq_t, dk, dv = carry  # [N, K, T], [N, S, K], [N, S, K']
        i, j = ij
        qi = lax.dynamic_slice_in_dim(q, i * bq, bq, axis=1)  # [N, Bq, K]
        kj = lax.dynamic_slice_in_dim(k, j * bk, bk, axis=1)  # [N, Bk, K]
        vj = lax.dynamic_slice_in_dim(v, j * bk, bk, axis=1)  # [N, Bk, K']
        dyi = lax.dynamic_slice_in_dim(dy, i * bq, bq, axis=1)  # [N, Bq, K']
        lse_i = lax.dynamic_slice_in_dim(lse, i * bq, bq, axis=1)  # [N, Bq]
        delta_i = lax.dynamic_slice_in_dim(delta, i * bq, bq, axis=1)  # [N, Bq]
        x_t = jnp.einsum("nsk,nqk->nsq", kj, qi, preferred_element_type=jnp.float32)  # [N, Bk, Bq]
        valid = _tile_mask(cfg, cut, i, j, aux)
        if valid is not None:
            x_t = jnp.where(jnp.swapaxes(valid, -1, -2), x_t, -jnp.inf)
        p_t = jnp.exp(x_t - lse_i[:, None, :])  # [N, Bk, Bq]
        dp_t = jnp.einsum("nsk,nqk->nsq", vj, dyi, preferred_element_type=jnp.float32)  # [N, Bk, Bq]
        p_dropped_t = p_t
        if "key" in aux:
            keep_t = jnp.swapaxes(_tile_keep(cfg, i, j, aux["key"], N), -1, -2)  # [N, Bk, Bq]
            p_dropped_t, dp_t = p_t * keep_t, dp_t * keep_t
        dv_j = jnp.einsum("nsq,nqk->nsk", p_dropped_t.astype(dy.dtype), dyi, preferred_element_type=jnp.float32)
        dx_t = p_t * (dp_t - delta_i[:, None, :])  # [N, Bk, Bq]
        dk_j = jnp.einsum("nsq,nqk->nsk", dx_t.astype(q.dtype), qi, preferred_element_type=jnp.float32)
        dq_t_i = jnp.einsum("nsq,nsk->nkq", dx_t.astype(k.dtype), kj, preferred_element_type=jnp.float32)
        dq_t = lax.dynamic_update_slice_in_dim(
            dq_t, lax.dynamic_slice_in_dim(dq_t, i * bq, bq, axis=2) + dq_t_i, i * bq, axis=2)
        dk = lax.dynamic_update_slice_in_dim(
            dk, lax.dynamic_slice_in_dim(dk, j * bk, bk, axis=1) + dk_j, j * bk, axis=1)
        dv = lax.dynamic_update_slice_in_dim(
            dv, lax.dynamic_slice_in_dim(dv, j * bk, bk, axis=1) + dv_j, j * bk, axis=1)
        return (dq_t, dk, dv), None

    carry = (jnp.zeros((N, K, T), jnp.float32), jnp.zeros(k.shape, jnp.float32), jnp.zeros(v.shape, jnp.float32))
    for cut, tiles in cfg.tiles():
        carry, _ = lax.scan(functools.partial(step, cut), carry, tiles)
    dq_t, dk, dv = carry
    return jnp.swapaxes(dq_t, 1, 2), dk, dv  # dq: [N, T, K]


def _per_example(fn, cfg):
    """fn(cfg, ...), which a vmap on the CPU runs as a loop over the batch instead of vectorising it.

    A vectorised tile is [B, N, Bq, Bk]: B times too large for the cache, and every op of the tile step
    streams it from memory; one example's stays in cache (2.6x faster at B=8: benchmarks/README.md).
    Accelerators keep the vectorised tile (their parallelism is the batch).
    """
    fn = functools.partial(fn, cfg)
    return jax.custom_batching.sequential_vmap(fn) if jax.default_backend() == "cpu" else fn


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _blockwise_call(cfg, q, k, v, aux):
    """y: [N, T, K'] with the custom backward below (`cfg` static; `aux`: masks, lengths, dropout key)."""
    y, _ = _per_example(_blockwise_forward, cfg)((q * cfg.scale).astype(q.dtype), k, v, aux)
    return y.astype(q.dtype)


def _blockwise_fwd(cfg, q, k, v, aux):
    qs = (q * cfg.scale).astype(q.dtype)
    y, lse = _per_example(_blockwise_forward, cfg)(qs, k, v, aux)
    y = y.astype(q.dtype)
    return y, (qs, k, v, aux, y, lse)  # linear in T and S (plus a user mask, if any)


def _blockwise_bwd(cfg, residuals, dy):
    qs, k, v, aux, y, lse = residuals
    dq, dk, dv = _per_example(_blockwise_backward, cfg)(qs, k, v, aux, y.astype(jnp.float32), lse, dy)
    dq = dq * cfg.scale  # the forward scaled q before the scan
    no_grad = jax.tree.map(lambda _: None, aux)
    return dq.astype(qs.dtype), dk.astype(k.dtype), dv.astype(v.dtype), no_grad


_blockwise_call.defvjp(_blockwise_fwd, _blockwise_bwd)


def blockwise_attention(q: Float[Array, "T N K"], k: Float[Array, "S N' K"], v: Float[Array, "S N' K'"], *,
                        mask: Bool[Array, "..."] | None = None, causal: bool = False,
                        lengths: Int[Array, ""] | None = None, query_lengths: Int[Array, ""] | None = None,
                        scale: float | None = None, drop_rate: float = 0.0, key: Key | None = None,
                        deterministic: bool = False, block_size: int = DEFAULT_BLOCK_SIZE,
                        block_q: int | None = None, block_k: int | None = None) -> Float[Array, "T N K'"]:
    """Memory-efficient attention: same values and gradients as `dot_product_attention`.

    Tiles are [block_q, block_k] (both default to `block_size`, capped at T
    and S); each must divide its length, else ValueError (`attention` pads
    for you). An explicit `mask` is sliced per tile, but is itself [T, S]:
    for linear memory express the pattern with causal / lengths instead.
    `lengths` as a Python int is static: the tiles past it are skipped and
    only the one it crosses is masked (an array is applied to every tile;
    pass one where many different lengths would each compile their own tiles).
    Dropout on the weights draws its bits tile by tile from `key` (a
    different pattern from the dense path's for the same key; see
    `blockwise_dropout_factors`).
    """
    T, S, N, _, K = check_qkv(q, k, v, name="blockwise_attention")
    masks_lib.check_mask(mask, N, T, S, name="blockwise_attention")
    if causal:
        masks_lib.check_causal(T, S, name="blockwise_attention")
    check_block_size("blockwise_attention", block_size=block_size, block_q=block_q, block_k=block_k)
    lengths, query_lengths = check_pad_lengths(lengths, query_lengths, T, S, "blockwise_attention")
    block_q = min(block_q or block_size, T)
    block_k = min(block_k or block_size, S)
    if block_q <= 0 or block_k <= 0:
        raise ValueError(f"blockwise_attention: block sizes must be positive, got {block_q}, {block_k}")
    if T % block_q or S % block_k:
        raise ValueError(f"blockwise_attention: block sizes must divide the lengths: expected T={T} "
                         f"divisible by block_q={block_q} and S={S} divisible by block_k={block_k}")
    if not 0.0 <= drop_rate < 1.0:
        raise ValueError(f"blockwise_attention: drop_rate must be in [0, 1), got {drop_rate}")
    dropping = drop_rate > 0.0 and not deterministic
    if dropping and key is None:
        raise ValueError(f"blockwise_attention: dropout with drop_rate={drop_rate} > 0 needs a PRNG `key` "
                         f"(or deterministic=True for evaluation)")
    static_len = _is_static_int(lengths)  # a Python int: tiles past it are skipped, not masked
    cfg = _Tiling(T=T, S=S, block_q=block_q, block_k=block_k, causal=bool(causal),
                  scale=_default_scale(K, scale), drop_rate=float(drop_rate) if dropping else 0.0,
                  key_len=int(lengths) if static_len else None)
    aux = {}
    if mask is not None:
        aux["mask"] = jnp.reshape(mask, (1,) * (3 - mask.ndim) + mask.shape)  # [Nm, Tm, Sm]
    if lengths is not None and not static_len:
        aux["lengths"] = jnp.asarray(lengths, jnp.int32)
    if query_lengths is not None:
        aux["query_lengths"] = jnp.asarray(query_lengths, jnp.int32)
    if dropping:
        aux["key"] = key
    qh = jnp.transpose(q, (1, 0, 2))  # [N, T, K]
    kh = jnp.transpose(_repeat_kv(k, N), (1, 0, 2))  # [N, S, K]
    vh = jnp.transpose(_repeat_kv(v, N), (1, 0, 2))  # [N, S, K']
    y = _blockwise_call(cfg, qh, kh, vh, aux)  # [N, T, K']
    return jnp.transpose(y, (1, 0, 2))  # [T, N, K']


# --------------------------------------------------------------------------- dispatch


def attention(q: Float[Array, "T N K"], k: Float[Array, "S N' K"], v: Float[Array, "S N' K'"], *,
              mask: Bool[Array, "..."] | None = None, causal: bool = False,
              lengths: Int[Array, ""] | None = None, query_lengths: Int[Array, ""] | None = None,
              scale: float | None = None, drop_rate: float = 0.0, key: Key | None = None,
              deterministic: bool = False, impl: str = "auto", window: int | None = None,
              block_size: int = DEFAULT_BLOCK_SIZE) -> Float[Array, "T N K'"]:
    """Dot-product attention by the best path: impl in {"auto", "dense", "blockwise", "cudnn", "pallas"}.

    "auto" takes a fused kernel on GPU where `flash.choose_impl` allows one
    (cuDNN, else the Pallas kernel), else the blockwise path when
    S >= AUTO_BLOCKWISE_MIN_LENGTH and the dense one below. The blockwise
    path pads T and S up to a multiple of the block size (padded keys
    masked, padded queries dropped), so any length works here. `window`
    (with `causal`): query t sees keys t - window < s <= t only.
    """
    if impl not in IMPLS:
        raise ValueError(f"attention: impl must be one of {IMPLS}, got {impl!r}")
    check_block_size("attention", block_size=block_size, window=window)
    if window is not None and not causal:
        raise ValueError(f"attention: window={window} needs causal=True (a causal sliding window)")
    T, S, N, _, K = check_qkv(q, k, v)
    same_lengths = query_lengths is lengths or (_is_static_int(lengths) and _is_static_int(query_lengths)
                                                and int(lengths) == int(query_lengths))
    lengths, query_lengths = check_pad_lengths(lengths, query_lengths, T, S, "attention")
    masks_lib.check_mask(mask, N, T, S)
    if causal:
        masks_lib.check_causal(T, S)
    dropping = drop_rate > 0.0 and not deterministic
    if impl == "auto":
        impl = flash.choose_impl(backend=jax.default_backend(), dtype=q.dtype, head_dim=K, value_head_dim=v.shape[-1],
                                 T=T, S=S, causal=causal, lengths=lengths is not None,
                                 query_lengths=query_lengths is not None, same_lengths=same_lengths,
                                 window=window, mask=mask is not None, dropout=dropping)
        impl = {"xla": "blockwise" if S >= AUTO_BLOCKWISE_MIN_LENGTH else "dense"}.get(impl, impl)
    if impl in ("cudnn", "pallas") and (mask is not None or dropping):
        raise ValueError(f"attention: impl={impl!r} takes no mask and no dropout; use 'dense' or 'blockwise'")
    if impl == "cudnn":
        return flash.cudnn_attention(q, k, v, causal=causal, lengths=lengths, query_lengths=query_lengths,
                                     window=window, scale=scale)
    if impl == "pallas":
        if window is not None:
            raise ValueError("attention: the Pallas kernel has no sliding window; use impl='cudnn' or 'blockwise'")
        return flash.pallas_attention(q, k, v, causal=causal, lengths=lengths, query_lengths=query_lengths,
                                      scale=scale)  # key lengths are the query lengths there
    if window is not None:  # the XLA paths take the window as a [T, S] mask
        t, s = jnp.arange(T)[:, None], jnp.arange(S)[None, :]
        mask = masks_lib.combine(mask, s > t - window)  # [T, S] or [N, T, S]
    if impl == "dense":
        return dot_product_attention(q, k, v, mask=mask, causal=causal, lengths=lengths,
                                     query_lengths=query_lengths, scale=scale, drop_rate=drop_rate,
                                     key=key, deterministic=deterministic)
    bq, bk = min(block_size, T), min(block_size, S)
    Tp, Sp = -(-T // bq) * bq, -(-S // bk) * bk
    common = dict(causal=causal, query_lengths=query_lengths, scale=scale, drop_rate=drop_rate, key=key,
                  deterministic=deterministic, block_q=bq, block_k=bk)
    if (Tp, Sp) == (T, S):
        return blockwise_attention(q, k, v, mask=mask, lengths=lengths, **common)
    pad = lambda x, n: jnp.pad(x, ((0, n - x.shape[0]), (0, 0), (0, 0)))  # noqa: E731
    if mask is not None:
        mask = jnp.reshape(mask, (1,) * (3 - mask.ndim) + mask.shape)
        mask = jnp.pad(mask, ((0, 0), (0, Tp - T if mask.shape[1] > 1 else 0),
                              (0, Sp - S if mask.shape[2] > 1 else 0)))
    if lengths is None or _is_static_int(lengths):  # static: only the tiles the limit crosses are masked
        lengths = S if lengths is None else min(int(lengths), S)
    else:
        lengths = jnp.minimum(lengths, S)
    y = blockwise_attention(pad(q, Tp), pad(k, Sp), pad(v, Sp), mask=mask, lengths=lengths, **common)
    return y[:T]


__all__ = ["attention", "IMPLS", "dot_product_attention", "attention_weights", "masked_softmax",
           "blockwise_attention", "blockwise_dropout_factors", "build_mask", "check_block_size", "check_pad_lengths",
           "check_qkv", "check_qkv_same_heads",
           "AUTO_BLOCKWISE_MIN_LENGTH", "DEFAULT_BLOCK_SIZE"]
