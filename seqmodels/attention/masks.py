"""Boolean attention masks, shared by every attention variant.

Convention (one example, no batch axis):

    q: [T, N, K]      k, v: [S, N, K]      mask: [T, S] or [N, T, S]

A mask entry is True where query t MAY attend to key s. Masks combine with
logical AND (`combine`). Every function here builds its mask from static
sizes plus, at most, traced integer scalars (`lengths`, `offset`), so masks
work inside `jit` and `vmap`.

    causal:    M[t, s] = s <= t + offset          (offset = position of query 0)
    length:    m[s]    = s < lengths              (right padding of the keys)
    padding:   M[t, s] = s < lengths  and  t < query_lengths

Causal masks with T != S are only defined with an explicit `offset` (the
number of keys before query 0, e.g. the cache index when decoding); a plain
causal self-attention has T == S and offset 0.

Outputs follow the same model: `zero_padding` zeroes the rows t >= lengths
of a layer's output, so padded frames stay zeros from layer to layer.

`lengths` (and `query_lengths`) follow the one rule of `seqmodels.nn.lengths`,
here and in every attention layer: integers in [0, S] (keys) or [0, T]
(queries) where concrete, clamped to that range under jit.
"""

import jax.numpy as jnp

from seqmodels.array_types import Array, Bool, Float, Int
from seqmodels.nn.lengths import check_lengths


def causal_mask(T: int, S: int | None = None, *, offset: int | Int[Array, ""] = 0) -> Bool[Array, "T S"]:
    """M[t, s] = s <= t + offset: query t sees keys up to its own position.

    `S` defaults to `T`. With T != S an `offset` must say where the queries
    sit among the keys (for a KV cache, offset = number of cached keys).
    """
    S = T if S is None else S
    if T <= 0 or S <= 0:
        raise ValueError(f"causal_mask: expected positive sizes, got T={T}, S={S}")
    t = jnp.arange(T)[:, None]  # [T, 1]
    s = jnp.arange(S)[None, :]  # [1, S]
    return s <= t + offset  # [T, S]


def length_mask(lengths: int | Int[Array, ""] | None, S: int, *, name: str = "length_mask",
                arg: str = "lengths") -> Bool[Array, "S"]:
    """m[s] = s < lengths (all True when `lengths` is None); lengths an int in [0, S]."""
    if S <= 0:
        raise ValueError(f"{name}: expected a positive size, got S={S}")
    if lengths is None:
        return jnp.ones((S,), bool)
    lengths = check_lengths(lengths, S, name, arg=arg)
    return jnp.arange(S) < lengths  # [S]


def padding_mask(lengths: int | Int[Array, ""] | None, T: int, S: int | None = None, *,
                 query_lengths: int | Int[Array, ""] | None = None) -> Bool[Array, "T S"]:
    """M[t, s] = s < lengths and t < query_lengths (either check skipped when None).

    For self-attention pass the same value for both; rows of padded queries
    are then all False, and attention returns zeros there.
    """
    S = T if S is None else S
    keys = length_mask(lengths, S, name="padding_mask")[None, :]  # [1, S]
    queries = length_mask(query_lengths, T, name="padding_mask", arg="query_lengths")[:, None]  # [T, 1]
    return keys & queries  # [T, S]


def zero_padding(x: Float[Array, "T D"], lengths: Int[Array, ""] | None) -> Float[Array, "T D"]:
    """x with its rows t >= lengths set to zero (x unchanged when `lengths` is None); lengths in [0, T]."""
    if lengths is None:
        return x
    lengths = check_lengths(lengths, x.shape[0], "zero_padding")
    return jnp.where((jnp.arange(x.shape[0]) < lengths)[:, None], x, 0.0)  # [T, D]


def combine(*masks: Bool[Array, "..."] | None) -> Bool[Array, "..."] | None:
    """Logical AND of broadcastable masks; None entries are skipped (None if all are)."""
    out = None
    for m in masks:
        if m is None:
            continue
        m = jnp.asarray(m, bool)
        out = m if out is None else out & m
    return out


def check_mask(mask: Array | None, N: int, T: int, S: int, *, name: str = "attention") -> None:
    """Raise ValueError unless `mask` broadcasts to [N, T, S] (rank 2 or 3) and is boolean."""
    if mask is None:
        return
    shape = tuple(mask.shape)
    ok = len(shape) in (2, 3) and all(
        d in (1, want) for d, want in zip(shape[::-1], (S, T, N)))
    if not ok:
        raise ValueError(
            f"{name}: expected a boolean mask of shape [T, S] = [{T}, {S}] or broadcastable to "
            f"[N, T, S] = [{N}, {T}, {S}], got shape {shape}")
    if mask.dtype != bool:
        raise ValueError(f"{name}: expected a boolean mask (True = attend), got dtype {mask.dtype}")


def check_causal(T: int, S: int, *, name: str = "attention") -> None:
    """Causal attention without an offset is defined only for T == S."""
    if T != S:
        raise ValueError(
            f"{name}: causal=True needs as many queries as keys (T == S), got T={T}, S={S}; "
            f"for cached decoding pass mask=causal_mask(T, S, offset=...) instead")


__all__ = ["causal_mask", "length_mask", "padding_mask", "zero_padding", "combine", "check_mask", "check_causal"]
