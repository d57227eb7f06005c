"""Sparse attention computed block by block, never materialising the T x S scores.

One example (no batch axis), self-attention, time first:

    q, k, v: [T, N, K]      (keys are the same positions as the queries: S = T)
    lengths: valid length (right padding), an int scalar per example inside vmap
             (an int in [0, T]; clamped to it under jit: `seqmodels.nn.lengths`)

Every pattern is a boolean predicate A(t, s) ("query t may attend to key s")
and attention restricted to it,

    out_t = sum_{s: A(t, s), s < L} softmax_s(q_t . k_s / sqrt(K)) v_s ,

with out_t = 0 for padded queries (t >= L). The patterns:

    local      |t - s| < w                          (causal: t - w < s <= t)
    strided    |t - s| < l  or  (t - s) mod l == 0   Sparse Transformer (Child et al. 2019)
    fixed      floor(t/l) == floor(s/l)  or  s mod l >= l - c               (same paper)
    longformer |t - s| < w  or  t in G  or  s in G   (G: global token positions)
    bigbird    on blocks of size b, block i sees block j if |i - j| <= w_b // 2,
               j < g or i < g (global blocks), or j in R(i) (r random blocks)

and, when `causal`, every pattern is intersected with s <= t.

Each pattern has two implementations here:

* `*_mask(T, ...)`: the dense [T, T] boolean mask (the reference: pass it to
  `dense_attention`, or to `jax.nn.dot_product_attention`), and
* `*_attention(q, k, v, ...)`: the blockwise computation. Queries are cut into
  blocks of `block_size` b; each query block gathers only the key blocks its
  pattern can reach, from a small static table ([T/b, M] block indices), so
  a block's scores are [b, N, M b] instead of [b, N, S]. The few dense pieces
  (global keys, global queries, the strided/summary columns) are computed on
  their own, and all pieces share ONE softmax (a joint normaliser over the
  union of their keys; no key is counted twice). The query blocks go a
  group at a time (`lax.map`), each group recomputed in the backward pass
  (`jax.checkpoint`); global query rows go through
  `dot_product.blockwise_attention`. So what forward + backward keep is
  q, k, v, the output and the gradients, plus one group's scores: at
  T = 16384, B = 8, 8 heads of 64 the XLA temporaries fell from 5.5-34 GiB
  (all blocks' gathered keys, masks and scores kept for the backward) to
  1.3-2.5 GiB (benchmarks/README.md).

Time per head, T = sequence length (memory: O(T K) plus one group's scores):

    local       O(T (w + b))
    longformer  O(T (w + b + |G|))
    bigbird     O(T b (w_b + r + 2 g))
    strided     O(T (l + T / l))     (T^2 / l for a fixed l; O(T sqrt T) at l = sqrt T, as in the paper)
    fixed       O(T (l + c T / l))

Requirements (checked, ValueError otherwise): T == S, `block_size` divides T,
`window` is a positive multiple of `block_size`, `stride` is a multiple of
`block_size` and divides T. Pad the sequence to a multiple of the block and
pass `lengths`: padding never changes the valid outputs.
"""

import functools
from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from seqmodels.array_types import Array, Bool, Float, Int, Key
from seqmodels.attention import dot_product, masks
from seqmodels.nn.lengths import check_lengths, clamp_lengths

Predicate = Callable[[Array, Array], Array]  # A(t, s): int position arrays -> bool, broadcasting


# ---------------------------------------------------------------------------
# Checks (static shapes, in Python, before tracing)
# ---------------------------------------------------------------------------

def _check_qkv(q, k, v, name: str) -> tuple[int, int, int]:
    """q, k, v must all be [T, N, K] (self-attention); returns (T, N, K)."""
    dot_product.check_qkv_same_heads(q, k, v, name=name)
    if q.shape[0] != k.shape[0]:
        raise ValueError(f"{name}: sparse patterns are self-attention patterns and need T == S, "
                         f"got q {q.shape} and k {k.shape}")
    return q.shape


def _is_int(value) -> bool:
    """A static int (Python or NumPy), not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _check_block(T: int, block_size: int, name: str) -> None:
    if not _is_int(block_size) or block_size <= 0:
        raise ValueError(f"{name}: expected a positive int block_size, got {block_size!r}")
    if T % block_size:
        raise ValueError(f"{name}: expected a length that is a multiple of block_size={block_size}, got T={T}; "
                         f"pad the sequence to {-(-T // block_size) * block_size} and pass `lengths`")


def _check_window(window: int, block_size: int, name: str, what: str = "window") -> None:
    if not _is_int(window) or window <= 0 or window % block_size:
        raise ValueError(f"{name}: expected {what} to be a positive multiple of block_size={block_size}, "
                         f"got {what}={window!r}")


def _check_divides(T: int, stride: int, name: str) -> None:
    if T % stride:
        raise ValueError(f"{name}: expected a length that is a multiple of stride={stride}, got T={T}; "
                         f"pad the sequence to {-(-T // stride) * stride} and pass `lengths`")


def _key_length(lengths, T: int, name: str) -> Int[Array, ""]:
    """The valid length as an int32 scalar (T when `lengths` is None), checked by the rule of
    `seqmodels.nn.lengths` (an int in [0, T]; clamped under jit)."""
    if lengths is None:
        return jnp.asarray(T, jnp.int32)
    return jnp.asarray(check_lengths(lengths, T, name)).astype(jnp.int32)


# ---------------------------------------------------------------------------
# The slow reference: dense softmax attention under a boolean [T, S] mask
# ---------------------------------------------------------------------------

def dense_attention(q: Float[Array, "T N K"], k: Float[Array, "S N K"], v: Float[Array, "S N K"],
                    mask: Bool[Array, "T S"] | None = None, *, lengths=None) -> Float[Array, "T N K"]:
    """softmax(q k^T / sqrt(K) where mask, s < L) v, materialising all T x S scores.

    Rows with no key to attend to, and padded queries (t >= L), give zeros.
    """
    T, N, K = q.shape
    S = k.shape[0]
    masks.check_mask(mask, N, T, S, name="dense_attention")
    length = _key_length(lengths, S, "dense_attention")
    allowed = masks.combine(mask, masks.length_mask(length, S)[None, :])  # [T, S]
    scores = jnp.einsum("tnk,snk->nts", q, k) * K ** -0.5  # [N, T, S]
    weights = dot_product.masked_softmax(scores, allowed).astype(v.dtype)  # [N, T, S]
    out = jnp.einsum("nts,snk->tnk", weights, v)  # [T, N, K]
    return jnp.where((jnp.arange(T) < length)[:, None, None], out, 0.0)


# ---------------------------------------------------------------------------
# Patterns: predicates A(t, s) and their dense [T, T] masks
# ---------------------------------------------------------------------------

# Predicates use operators only, so they run on numpy grids (the static dense
# masks) and on traced jnp positions (inside the blockwise computation) alike.

def _local(t, s, *, window: int, causal: bool):
    """|t - s| < window, and s <= t when causal."""
    near = abs(t - s) < window
    return near & (s <= t) if causal else near


def _strided(t, s, *, stride: int, causal: bool):
    """Local window of `stride` keys or the same residue mod `stride` (Child et al. 2019, eq. for A^(1), A^(2))."""
    allowed = (abs(t - s) < stride) | ((t - s) % stride == 0)
    return allowed & (s <= t) if causal else allowed


def _fixed(t, s, *, stride: int, num_summary: int, causal: bool):
    """Same chunk of `stride`, or s is one of the last `num_summary` positions of its chunk."""
    allowed = (t // stride == s // stride) | (s % stride >= stride - num_summary)
    return allowed & (s <= t) if causal else allowed


def _longformer(t, s, *, window: int, is_global: Bool[Array, "T"], causal: bool):
    """Sliding window, plus global tokens that see and are seen by every position."""
    allowed = (abs(t - s) < window) | is_global[t] | is_global[s]
    return allowed & (s <= t) if causal else allowed


def _grid(T: int) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(T, (int, np.integer)) or T <= 0:
        raise ValueError(f"expected a positive int length T, got {T!r}")
    return np.arange(T)[:, None], np.arange(T)[None, :]  # [T, 1], [1, T]


def _positive(name: str, **values) -> None:
    for key, value in values.items():
        if not _is_int(value) or value <= 0:
            raise ValueError(f"{name}: expected a positive int {key}, got {value!r}")


def local_mask(T: int, *, window: int, causal: bool) -> Bool[Array, "T T"]:
    """M[t, s] = |t - s| < window (and s <= t when causal)."""
    _positive("local_mask", window=window)
    return jnp.asarray(_local(*_grid(T), window=window, causal=causal))  # [T, T]


def strided_mask(T: int, *, stride: int, causal: bool) -> Bool[Array, "T T"]:
    """M[t, s] = |t - s| < stride or (t - s) mod stride == 0 (and s <= t when causal)."""
    _positive("strided_mask", stride=stride)
    return jnp.asarray(_strided(*_grid(T), stride=stride, causal=causal))  # [T, T]


def fixed_mask(T: int, *, stride: int, num_summary: int, causal: bool) -> Bool[Array, "T T"]:
    """M[t, s] = floor(t/l) == floor(s/l) or s mod l >= l - c (and s <= t when causal); l = stride, c = num_summary."""
    _positive("fixed_mask", stride=stride)
    return jnp.asarray(_fixed(*_grid(T), stride=stride, num_summary=num_summary, causal=causal))  # [T, T]


def _global_positions(global_tokens, T: int, name: str) -> np.ndarray:
    """`global_tokens` as sorted distinct int positions: an int n means the first n positions."""
    if isinstance(global_tokens, (int, np.integer)):
        if not 0 <= global_tokens <= T:
            raise ValueError(f"{name}: expected 0 <= global_tokens <= T={T}, got {global_tokens}")
        return np.arange(global_tokens)
    try:
        positions = np.asarray(global_tokens, dtype=np.int64).reshape(-1)
    except (TypeError, jax.errors.TracerArrayConversionError) as err:
        raise ValueError(f"{name}: expected global_tokens to be an int or a static sequence of ints, "
                         f"got {global_tokens!r}") from err
    if positions.size and (positions.min() < 0 or positions.max() >= T
                           or len(np.unique(positions)) != positions.size):
        raise ValueError(f"{name}: expected distinct global token positions in [0, {T}), got {positions.tolist()}")
    return np.sort(positions)


def _is_global(positions: np.ndarray, T: int) -> np.ndarray:
    flags = np.zeros(T, bool)
    flags[positions] = True
    return flags  # [T]


def longformer_mask(T: int, *, window: int, global_tokens: int | Sequence[int], causal: bool) -> Bool[Array, "T T"]:
    """M[t, s] = |t - s| < window or t in G or s in G (and s <= t when causal)."""
    _positive("longformer_mask", window=window)
    positions = _global_positions(global_tokens, T, "longformer_mask")
    return jnp.asarray(_longformer(*_grid(T), window=window, is_global=_is_global(positions, T), causal=causal))


# ---------------------------------------------------------------------------
# BigBird's random blocks
# ---------------------------------------------------------------------------

@functools.partial(jax.jit, static_argnames=(
    "num_blocks", "num_random_blocks", "num_global_blocks", "num_window_blocks", "causal"))
def bigbird_random_blocks(key: Key, num_blocks: int, *, num_random_blocks: int, num_global_blocks: int,
                          num_window_blocks: int, causal: bool, num_valid_blocks=None
                          ) -> tuple[Int[Array, "B R"], Bool[Array, "B R"]]:
    """R(i): for each query block i, up to r distinct random key blocks ([T/b, r] indices, [T/b, r] valid).

    Drawn uniformly without replacement (Floyd's algorithm) from the blocks
    BigBird would not otherwise see: valid (j < num_valid_blocks), not global
    (j >= g), outside the window, and, when causal, earlier (j < i). When fewer
    than r blocks are eligible, the extra slots are marked invalid. Block i's
    draw depends only on (key, i, r, its eligible count), so extra right
    padding leaves it unchanged.
    """
    r, g, h = num_random_blocks, num_global_blocks, num_window_blocks // 2
    i = jnp.arange(num_blocks)  # [T/b]
    num_valid = num_blocks if num_valid_blocks is None else num_valid_blocks
    # Eligible blocks: [g, limit) minus the window [lo, hi].
    limit = jnp.minimum(i + 1, num_valid) if causal else jnp.zeros_like(i) + num_valid  # [T/b]
    lo = jnp.maximum(i - h, g)  # [T/b]
    hi = jnp.minimum(i if causal else i + h, limit - 1)  # [T/b]
    in_window = jnp.maximum(hi - lo + 1, 0)  # [T/b]
    num_eligible = jnp.maximum(limit - g, 0) - in_window  # [T/b]

    def draw(i, n):  # r distinct ranks in [0, max(n, r)) for one query block (Floyd's algorithm)
        uniforms = jax.random.uniform(jax.random.fold_in(key, i), (r,))  # [r]
        n = jnp.maximum(n, r)
        ranks = jnp.zeros((r,), jnp.int32)  # [r]
        for step in range(r):  # pick u in [0, top]; if taken already, take top (never taken before)
            top = n - r + step
            u = jnp.minimum(jnp.floor(uniforms[step] * (top + 1).astype(uniforms.dtype)).astype(jnp.int32), top)
            taken = jnp.any((ranks == u) & (jnp.arange(r) < step))
            ranks = ranks.at[step].set(jnp.where(taken, top, u))
        return ranks  # [r]

    ranks = jax.vmap(draw)(i, num_eligible)  # [T/b, r]
    valid = ranks < num_eligible[:, None]  # [T/b, r]
    blocks = g + ranks  # [T/b, r]
    blocks = jnp.where(blocks >= lo[:, None], blocks + in_window[:, None], blocks)  # skip the window
    return jnp.clip(blocks, 0, num_blocks - 1).astype(jnp.int32), valid


def _check_bigbird(T, block_size, num_global_blocks, num_random_blocks, num_window_blocks, key, name):
    _check_block(T, block_size, name)
    num_blocks = T // block_size
    if not 0 <= num_global_blocks <= num_blocks:
        raise ValueError(f"{name}: expected 0 <= num_global_blocks <= T / block_size = {num_blocks}, "
                         f"got {num_global_blocks}")
    if num_random_blocks < 0:
        raise ValueError(f"{name}: expected num_random_blocks >= 0, got {num_random_blocks}")
    if num_window_blocks < 1 or num_window_blocks % 2 == 0:
        raise ValueError(f"{name}: expected an odd num_window_blocks >= 1 (the block and as many on each side), "
                         f"got {num_window_blocks}")
    if num_random_blocks and key is None:
        raise ValueError(f"{name}: num_random_blocks={num_random_blocks} > 0 needs a PRNG `key`")


def bigbird_mask(T: int, *, block_size: int, num_global_blocks: int, num_random_blocks: int, causal: bool,
                 key: Key | None, lengths=None, num_window_blocks: int = 3) -> Bool[Array, "T T"]:
    """The BigBird pattern as a dense [T, T] mask (its random blocks depend on `key` and `lengths`).

    Block level: B[i, j] = |i - j| <= w_b // 2 (causal: 0 <= i - j <= w_b // 2), or j < g,
    or i < g, or j in R(i); M[t, s] = B[t // b, s // b] (and s <= t when causal).
    """
    _check_bigbird(T, block_size, num_global_blocks, num_random_blocks, num_window_blocks, key, "bigbird_mask")
    b, g, h = block_size, num_global_blocks, num_window_blocks // 2
    num_blocks = T // b
    i, j = _grid(num_blocks)  # [T/b, 1], [1, T/b]
    window = (abs(i - j) <= h) & ((j <= i) if causal else True)  # [T/b, T/b]
    blocks = window | (j < g) | (i < g)  # [T/b, T/b]
    if num_random_blocks:
        num_valid = -(-clamp_lengths(_key_length(lengths, T, "bigbird_mask"), T) // b)  # computed with: clamp
        rand, valid = bigbird_random_blocks(key, num_blocks, num_random_blocks=num_random_blocks,
                                            num_global_blocks=g, num_window_blocks=num_window_blocks,
                                            causal=causal, num_valid_blocks=num_valid)  # [T/b, r]
        hit = (rand[:, :, None] == jnp.arange(num_blocks)[None, None, :]) & valid[:, :, None]  # [T/b, r, T/b]
        blocks = blocks | jnp.any(hit, axis=1)  # [T/b, T/b]
    mask = jnp.repeat(jnp.repeat(blocks, b, axis=0), b, axis=1)  # [T, T]
    return mask & masks.causal_mask(T) if causal else mask


# ---------------------------------------------------------------------------
# Blockwise machinery: pieces of the score matrix that share one softmax
# ---------------------------------------------------------------------------

class _Piece(NamedTuple):
    """Some keys for every query: scores [T, N, P], mask [T, 1, P], and weights [T, N, P] -> sum_p w v: [T, N, K]."""
    scores: Array
    mask: Array
    weighted_sum: Callable[[Array], Array]


def _attend(pieces: Sequence[_Piece]) -> Array:
    """One softmax over the union of the pieces' keys: out_t = sum_p exp(s_tp - m_t) v_p / sum_p exp(s_tp - m_t).

    The pieces' masks must be disjoint (no key counted twice). Rows with no
    key at all give zeros. m_t (the row max) only guards exp against overflow.
    """
    masked = [jnp.where(p.mask, p.scores, -jnp.inf) for p in pieces]  # [T, N, P] each
    row_max = functools.reduce(jnp.maximum, [jnp.max(s, axis=-1) for s in masked])  # [T, N]
    row_max = jax.lax.stop_gradient(jnp.where(jnp.isfinite(row_max), row_max, 0.0))  # [T, N]
    exps = [jnp.exp(s - row_max[..., None]) for s in masked]  # [T, N, P] each
    denom = sum(jnp.sum(e, axis=-1) for e in exps)  # [T, N]
    out = sum(p.weighted_sum(e) for p, e in zip(pieces, exps))  # [T, N, K]
    return out / jnp.where(denom > 0, denom, 1.0)[..., None]  # [T, N, K]


def _block_piece(q_g, t, k, v, table: Int[Array, "G M"], slot_valid: Bool[Array, "G M"],
                 allowed: Predicate, block_size: int) -> _Piece:
    """A group's G query blocks against their key blocks table[g, :] (slots with slot_valid False are ignored).

    q_g: [G b, N, K] at positions t: [G b]. Gathers [G, M, b, N, K] keys; scores [G b, N, M b].
    """
    Q, N, K = q_g.shape
    b = block_size
    G, M = table.shape
    q_blocks = q_g.reshape(G, b, N, K)  # [G, b, N, K]
    k_blocks = k.reshape(-1, b, N, K)[table]  # [G, M, b, N, K]
    v_blocks = v.reshape(-1, b, N, K)[table]  # [G, M, b, N, K]
    s = table[:, :, None] * b + jnp.arange(b)[None, None, :]  # [G, M, b]
    mask = slot_valid[:, None, :, None] & allowed(t.reshape(G, b)[:, :, None, None], s[:, None, :, :])  # [G, b, M, b]
    scores = jnp.einsum("itnk,imsnk->itnms", q_blocks, k_blocks)  # [G, b, N, M, b]

    def weighted_sum(w):
        w = w.reshape(G, b, N, M, b)  # [G, b, N, M, b]
        return jnp.einsum("itnms,imsnk->itnk", w, v_blocks).reshape(Q, N, K)  # [G b, N, K]

    return _Piece(scores.reshape(Q, N, M * b), mask.reshape(Q, 1, M * b), weighted_sum)


def _keys_piece(q_g, t, k_p, v_p, positions: Int[Array, "P"], allowed: Predicate) -> _Piece:
    """A group's queries against the keys k_p = k[positions] (global or summary keys): scores [Q, N, P]."""
    scores = jnp.einsum("tnk,pnk->tnp", q_g, k_p)  # [Q, N, P]
    mask = allowed(t[:, None], positions[None, :])  # [Q, P]
    return _Piece(scores, mask[:, None, :], lambda w: jnp.einsum("tnp,pnk->tnk", w, v_p))  # [Q, N, K]


def _columns_piece(q_g, t, k, v, stride: int, allowed: Predicate) -> _Piece:
    """Query t = c l + r against the keys of the same residue r (mod l): scores [Q, N, T/l].

    The group's Q positions lie in one chunk of l (Q divides l): residues r0 .. r0 + Q - 1.
    """
    Q, N, K = q_g.shape
    l = stride
    C = k.shape[0] // l
    r0 = t[0] % l
    k_cols = lax.dynamic_slice_in_dim(k.reshape(C, l, N, K), r0, Q, axis=1)  # [T/l, Q, N, K]
    v_cols = lax.dynamic_slice_in_dim(v.reshape(C, l, N, K), r0, Q, axis=1)  # [T/l, Q, N, K]
    scores = jnp.einsum("rnk,drnk->rnd", q_g, k_cols)  # [Q, N, T/l]
    s = jnp.arange(C)[None, :] * l + (t % l)[:, None]  # [Q, T/l]
    mask = allowed(t[:, None], s)  # [Q, T/l]
    return _Piece(scores, mask[:, None, :], lambda w: jnp.einsum("rnd,drnk->rnk", w, v_cols))  # [Q, N, K]


# Memory: the queries go one group at a time (`_by_groups`: `lax.map` over groups of Q positions, each
# recomputed in the backward pass by `jax.checkpoint`), so one group's scores, gathered blocks and masks
# are alive at a time, never all T's; what the backward keeps is q, k, v and the [T, N, K] gradients.
MAX_GROUP_SCORES = 2 ** 17  # a group holds Q x (keys per query) <= this many scores per head ...
MAX_GROUP_QUERIES = 512  # ... and at most this many queries (at least one block either way)


def _group_size(T: int, block_size: int, keys_per_query: int, unit: int | None = None) -> int:
    """Q = G b: the largest G dividing (unit or T) / b within the bounds above (G = 1 at least)."""
    blocks = (T if unit is None else unit) // block_size
    bound = min(MAX_GROUP_QUERIES, MAX_GROUP_SCORES // keys_per_query)
    return block_size * max(g for g in range(1, blocks + 1) if blocks % g == 0 and (g == 1 or g * block_size <= bound))


def _by_groups(q: Float[Array, "T N K"], group: int, pieces: Callable, *xs) -> Float[Array, "T N K"]:
    """out = _attend(pieces(t, q[t] / sqrt(K), *x)) for each group of `group` positions t, x the group's rows of xs.

    Each xs entry is [T / group, ...] (one row per group: e.g. its block table rows).
    """
    T, N, K = q.shape
    n = T // group

    def one(args):
        t, q_g, *rest = args
        return _attend(pieces(t, q_g * K ** -0.5, *rest))  # [Q, N, K]; scores q . k / sqrt(K)

    out = lax.map(jax.checkpoint(one), (jnp.arange(T).reshape(n, group), q.reshape(n, group, N, K), *xs))
    return out.reshape(T, N, K)  # [T/Q, Q, N, K] -> [T, N, K]


def _rows_by_group(table: Array, group_blocks: int) -> Array:
    """A per-block [T/b, M] table as per-group rows [T/Q, G, M] (Q = G b)."""
    return table.reshape(-1, group_blocks, table.shape[-1])


def _global_rows(q, k, v, positions: Int[Array, "G"], allowed: Predicate, block_size: int,
                 num_keys: int) -> Float[Array, "G N K"]:
    """Full rows for the global queries: each sees every key its pattern allows among the first `num_keys`.

    `dot_product.blockwise_attention` under the [G, S'] mask, tiles of G queries x `block_size` keys
    (scores q . k / sqrt(K)): linear memory in S. Causal callers pass S' = the last global position + 1,
    rounded up to a block: the global rows see no later key.
    """
    S = num_keys
    k, v = k[:S], v[:S]  # [S', N, K]
    mask = allowed(positions[:, None], jnp.arange(S)[None, :])  # [G, S']
    return dot_product.blockwise_attention(q[positions], k, v, mask=mask,
                                           block_q=positions.shape[0], block_k=block_size)  # [G, N, K]


def _visible_keys(positions: np.ndarray, T: int, block_size: int, causal: bool) -> int:
    """How many keys global queries at `positions` can see: all T, or (causal) up to the last one, in whole blocks."""
    return min(T, -(-(int(positions.max()) + 1) // block_size) * block_size) if causal else T


def _offset_table(num_blocks: int, offsets: np.ndarray) -> tuple[Array, Array]:
    """table[i, m] = i + offsets[m] (clipped), valid where 0 <= i + offsets[m] < T/b. Static."""
    table = np.arange(num_blocks)[:, None] + offsets[None, :]  # [T/b, M]
    valid = (table >= 0) & (table < num_blocks)  # [T/b, M]
    return jnp.asarray(np.clip(table, 0, num_blocks - 1), jnp.int32), jnp.asarray(valid)


def _window_offsets(half: int, causal: bool) -> np.ndarray:
    return np.arange(-half, 1) if causal else np.arange(-half, half + 1)


def _prepare(q, k, v, lengths, name: str):
    """Compute in at least float32 (queries are scaled by 1/sqrt(K) one group at a time: `_by_groups`)."""
    dtype = q.dtype if jnp.finfo(q.dtype).bits >= 32 else jnp.float32  # compute in float32 or wider
    q, k, v = (x.astype(dtype) for x in (q, k, v))
    return q, k, v, _key_length(lengths, q.shape[0], name)


def _within(allowed: Predicate, length) -> Predicate:
    """A(t, s) and s < L: padded keys are never attended."""
    return lambda t, s: allowed(t, s) & (s < length)


def _finish(out, length, dtype) -> Array:
    """Padded queries (t >= L) give zeros; back to the input dtype."""
    valid = (jnp.arange(out.shape[0]) < length)[:, None, None]  # [T, 1, 1]
    return jnp.where(valid, out, 0.0).astype(dtype)


# ---------------------------------------------------------------------------
# The blockwise sparse attentions
# ---------------------------------------------------------------------------

def local_attention(q: Float[Array, "T N K"], k: Float[Array, "T N K"], v: Float[Array, "T N K"], *,
                    window: int, causal: bool, lengths=None, block_size: int) -> Float[Array, "T N K"]:
    """Sliding-window attention: query t sees keys |t - s| < window (causal: t - window < s <= t).

    Query block i gathers key blocks i - w/b .. i (+ w/b when bidirectional).
    Equals `dense_attention(q, k, v, local_mask(T, window=window, causal=causal), lengths=lengths)`.
    """
    name = "local_attention"
    T, _, _ = _check_qkv(q, k, v, name)
    _check_block(T, block_size, name)
    _check_window(window, block_size, name)
    dtype = q.dtype
    q, k, v, length = _prepare(q, k, v, lengths, name)
    allowed = _within(functools.partial(_local, window=window, causal=causal), length)
    table, slot_valid = _offset_table(T // block_size, _window_offsets(window // block_size, causal))  # [T/b, M]
    group = _group_size(T, block_size, table.shape[1] * block_size)
    G = group // block_size
    out = _by_groups(q, group, lambda t, q_g, tab, ok: [_block_piece(q_g, t, k, v, tab, ok, allowed, block_size)],
                     _rows_by_group(table, G), _rows_by_group(slot_valid, G))
    return _finish(out, length, dtype)


def strided_attention(q: Float[Array, "T N K"], k: Float[Array, "T N K"], v: Float[Array, "T N K"], *,
                      stride: int, causal: bool, lengths=None, block_size: int | None = None
                      ) -> Float[Array, "T N K"]:
    """Sparse Transformer, strided pattern (merged heads): |t - s| < l or (t - s) mod l == 0.

    Two disjoint pieces under one softmax: the local window |t - s| < l
    (blockwise, blocks of `block_size`, default l), and the columns of the
    same residue mod l with |t - s| >= l ([T/l, l, N, T/l] scores).
    Equals `dense_attention(q, k, v, strided_mask(T, stride=stride, causal=causal), lengths=lengths)`.
    """
    name = "strided_attention"
    T, _, _ = _check_qkv(q, k, v, name)
    _positive(name, stride=stride)
    block_size = stride if block_size is None else block_size
    _check_block(T, block_size, name)
    _check_window(stride, block_size, name, what="stride")
    _check_divides(T, stride, name)
    dtype = q.dtype
    q, k, v, length = _prepare(q, k, v, lengths, name)
    pattern = functools.partial(_strided, stride=stride, causal=causal)
    near = _within(lambda t, s: pattern(t, s) & (abs(t - s) < stride), length)
    far = _within(lambda t, s: pattern(t, s) & (abs(t - s) >= stride), length)
    table, slot_valid = _offset_table(T // block_size, _window_offsets(stride // block_size, causal))  # [T/b, M]
    group = _group_size(T, block_size, table.shape[1] * block_size + T // stride, unit=stride)  # within a chunk
    G = group // block_size
    out = _by_groups(q, group, lambda t, q_g, tab, ok: [_block_piece(q_g, t, k, v, tab, ok, near, block_size),
                                                         _columns_piece(q_g, t, k, v, stride, far)],
                     _rows_by_group(table, G), _rows_by_group(slot_valid, G))
    return _finish(out, length, dtype)


def fixed_attention(q: Float[Array, "T N K"], k: Float[Array, "T N K"], v: Float[Array, "T N K"], *,
                    stride: int, num_summary: int, causal: bool, lengths=None, block_size: int | None = None
                    ) -> Float[Array, "T N K"]:
    """Sparse Transformer, fixed pattern (merged heads): same chunk of l, or the last c positions of any chunk.

    Two disjoint pieces under one softmax: the query's own chunk (blockwise,
    blocks of `block_size`, default l) and the summary keys s mod l >= l - c
    of the OTHER chunks ([T, N, c T / l] scores).
    Equals `dense_attention(q, k, v, fixed_mask(T, stride=..., num_summary=..., causal=...), lengths=...)`.
    """
    name = "fixed_attention"
    T, _, _ = _check_qkv(q, k, v, name)
    _positive(name, stride=stride)
    block_size = stride if block_size is None else block_size
    _check_block(T, block_size, name)
    _check_window(stride, block_size, name, what="stride")
    _check_divides(T, stride, name)
    if not 0 <= num_summary <= stride:
        raise ValueError(f"{name}: expected 0 <= num_summary <= stride={stride}, got {num_summary}")
    dtype = q.dtype
    q, k, v, length = _prepare(q, k, v, lengths, name)
    pattern = functools.partial(_fixed, stride=stride, num_summary=num_summary, causal=causal)
    per_chunk = stride // block_size
    # Blocks of the query's chunk: table[i] = (i // per_chunk) * per_chunk + 0 .. per_chunk - 1.
    table = (np.arange(T // block_size) // per_chunk * per_chunk)[:, None] + np.arange(per_chunk)[None, :]
    own = _within(lambda t, s: pattern(t, s) & (t // stride == s // stride), length)
    other = _within(lambda t, s: pattern(t, s) & (t // stride != s // stride), length)
    summary = jnp.asarray((np.arange(0, T, stride)[:, None]
                           + np.arange(stride - num_summary, stride)[None, :]).reshape(-1), jnp.int32)  # [c T/l]
    k_sum, v_sum = k[summary], v[summary]  # [c T/l, N, K]: gathered once, shared by every group

    def pieces(t, q_g, tab):
        own_chunk = _block_piece(q_g, t, k, v, tab, jnp.ones(tab.shape, bool), own, block_size)
        return [own_chunk, _keys_piece(q_g, t, k_sum, v_sum, summary, other)] if num_summary else [own_chunk]

    group = _group_size(T, block_size, stride + summary.shape[0])
    out = _by_groups(q, group, pieces, _rows_by_group(jnp.asarray(table, jnp.int32), group // block_size))
    return _finish(out, length, dtype)


def longformer_attention(q: Float[Array, "T N K"], k: Float[Array, "T N K"], v: Float[Array, "T N K"], *,
                         window: int, global_tokens: int | Sequence[int], causal: bool, lengths=None,
                         block_size: int) -> Float[Array, "T N K"]:
    """Longformer (Beltagy et al. 2020): sliding window |t - s| < window plus global tokens G.

    `global_tokens` is an int n (the first n positions, e.g. a [CLS] token) or
    static positions. A global token attends to every position and every
    position attends to it. Pieces: window keys that are not global
    (blockwise), global keys ([T, N, |G|]); global queries get full rows
    ([|G|, N, S]) that replace theirs.
    Equals `dense_attention(q, k, v, longformer_mask(T, ...), lengths=lengths)`.
    """
    name = "longformer_attention"
    T, _, _ = _check_qkv(q, k, v, name)
    _check_block(T, block_size, name)
    _check_window(window, block_size, name)
    positions = _global_positions(global_tokens, T, name)
    is_global = jnp.asarray(_is_global(positions, T))  # [T]
    dtype = q.dtype
    q, k, v, length = _prepare(q, k, v, lengths, name)
    pattern = functools.partial(_longformer, window=window, is_global=is_global, causal=causal)
    table, slot_valid = _offset_table(T // block_size, _window_offsets(window // block_size, causal))  # [T/b, M]
    near = _within(lambda t, s: pattern(t, s) & ~is_global[s], length)
    g = jnp.asarray(positions, jnp.int32)  # [G]
    k_g, v_g = k[g], v[g]  # [G, N, K]

    def pieces(t, q_g, tab, ok):
        window_keys = _block_piece(q_g, t, k, v, tab, ok, near, block_size)
        return [window_keys, _keys_piece(q_g, t, k_g, v_g, g, _within(pattern, length))] if positions.size \
            else [window_keys]

    group = _group_size(T, block_size, table.shape[1] * block_size + positions.size)
    G = group // block_size
    out = _by_groups(q, group, pieces, _rows_by_group(table, G), _rows_by_group(slot_valid, G))
    if positions.size:
        out = out.at[g].set(_global_rows(q, k, v, g, _within(pattern, length), block_size,
                                              _visible_keys(positions, T, block_size, causal)))
    return _finish(out, length, dtype)


def bigbird_attention(q: Float[Array, "T N K"], k: Float[Array, "T N K"], v: Float[Array, "T N K"], *,
                      block_size: int, num_global_blocks: int, num_random_blocks: int, causal: bool,
                      key: Key | None, lengths=None, num_window_blocks: int = 3) -> Float[Array, "T N K"]:
    """BigBird (Zaheer et al. 2020, ITC): window blocks + g global blocks + r random blocks per query block.

    The first g blocks are global (they see, and are seen by, everything);
    each other query block sees its `num_window_blocks` neighbour blocks (only
    the earlier half when causal) and r random blocks drawn by
    `bigbird_random_blocks` from `key` (pass the same key to `bigbird_mask`).
    Pieces: window + random blocks that are not global (one gathered table of
    w_b + r blocks), global keys ([T, N, g b]); global queries get full rows.
    Equals `dense_attention(q, k, v, bigbird_mask(T, ..., key=key, lengths=lengths), lengths=lengths)`.
    """
    name = "bigbird_attention"
    T, _, _ = _check_qkv(q, k, v, name)
    _check_bigbird(T, block_size, num_global_blocks, num_random_blocks, num_window_blocks, key, name)
    b, g = block_size, num_global_blocks
    num_blocks = T // b
    dtype = q.dtype
    q, k, v, length = _prepare(q, k, v, lengths, name)
    element = _within((lambda t, s: s <= t) if causal else (lambda t, s: jnp.ones_like(t - s, bool)), length)

    table, slot_valid = _offset_table(num_blocks, _window_offsets(num_window_blocks // 2, causal))  # [T/b, w_b]
    slot_valid = slot_valid & (table >= g)  # global key blocks come in their own piece
    if num_random_blocks:
        rand, rand_valid = bigbird_random_blocks(
            key, num_blocks, num_random_blocks=num_random_blocks, num_global_blocks=g,
            num_window_blocks=num_window_blocks, causal=causal,
            num_valid_blocks=-(-clamp_lengths(length, T) // b))  # [T/b, r]; computed with L: clamp
        table = jnp.concatenate([table, rand], axis=1)  # [T/b, w_b + r]
        slot_valid = jnp.concatenate([slot_valid, rand_valid], axis=1)  # [T/b, w_b + r]
    global_keys = jnp.arange(g * b, dtype=jnp.int32)  # [g b]
    k_g, v_g = k[:g * b], v[:g * b]  # [g b, N, K]

    def pieces(t, q_g, tab, ok):
        blocks = _block_piece(q_g, t, k, v, tab, ok, element, b)
        return [blocks, _keys_piece(q_g, t, k_g, v_g, global_keys, element)] if g else [blocks]

    group = _group_size(T, b, (table.shape[1] + g) * b)
    out = _by_groups(q, group, pieces, _rows_by_group(table, group // b), _rows_by_group(slot_valid, group // b))
    if g:
        out = out.at[:g * b].set(_global_rows(q, k, v, global_keys, element, b, g * b if causal else T))
    return _finish(out, length, dtype)


__all__ = [
    "dense_attention",
    "local_mask", "strided_mask", "fixed_mask", "longformer_mask", "bigbird_mask", "bigbird_random_blocks",
    "local_attention", "strided_attention", "fixed_attention", "longformer_attention", "bigbird_attention",
]
