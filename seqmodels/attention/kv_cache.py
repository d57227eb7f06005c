"""Key/value cache for incremental (token by token) causal decoding.

A cache holds the keys and values of every position decoded so far in
fixed-size buffers, plus the number of positions written:

    cache = {'k': [L, N', K], 'v': [L, N', K'], 'index': int32 scalar}

Decoding T_new positions at once writes them at rows index .. index+T_new-1,
and the new queries attend with the mask

    M[t, s] = s <= index + t            (t < T_new, s < L)

which is the causal mask with offset = index: the same keys a full causal
pass would show them, so cached decoding equals the full pass (tested).
Buffers keep a static shape, so a decoding loop compiles once.
"""

import jax.numpy as jnp
from jax import lax

from seqmodels.array_types import Array, Bool, Float, Params
from seqmodels.attention import masks


def init(max_len: int, num_kv_heads: int, head_dim: int, *, value_dim: int | None = None,
         dtype=jnp.float32) -> Params:
    """An empty cache with room for `max_len` positions."""
    if min(max_len, num_kv_heads, head_dim) <= 0:
        raise ValueError(f"kv_cache: sizes must be positive, got max_len={max_len}, "
                         f"num_kv_heads={num_kv_heads}, head_dim={head_dim}")
    value_dim = head_dim if value_dim is None else value_dim
    return {
        "k": jnp.zeros((max_len, num_kv_heads, head_dim), dtype),  # [L, N', K]
        "v": jnp.zeros((max_len, num_kv_heads, value_dim), dtype),  # [L, N', K']
        "index": jnp.zeros((), jnp.int32),
    }


def update(cache: Params, k: Float[Array, "T N' K"], v: Float[Array, "T N' K'"]) -> Params:
    """Write T new positions at `index` and advance it (positions past the buffer are dropped by XLA's clamp:
    keep index + T <= L)."""
    if k.shape[1:] != cache["k"].shape[1:] or v.shape[1:] != cache["v"].shape[1:] or k.shape[0] != v.shape[0]:
        raise ValueError(f"kv_cache.update: expected k [T, {', '.join(map(str, cache['k'].shape[1:]))}] and "
                         f"v [T, {', '.join(map(str, cache['v'].shape[1:]))}], got {k.shape} and {v.shape}")
    if k.shape[0] > cache["k"].shape[0]:
        raise ValueError(f"kv_cache.update: {k.shape[0]} new positions do not fit a cache of "
                         f"{cache['k'].shape[0]}")
    index = cache["index"]
    return {
        "k": lax.dynamic_update_slice_in_dim(cache["k"], k.astype(cache["k"].dtype), index, axis=0),
        "v": lax.dynamic_update_slice_in_dim(cache["v"], v.astype(cache["v"].dtype), index, axis=0),
        "index": index + k.shape[0],
    }


def mask(cache: Params, T: int) -> Bool[Array, "T L"]:
    """Mask for T queries just written at index - T ..: M[t, s] = s <= index - T + t."""
    L = cache["k"].shape[0]
    return masks.causal_mask(T, L, offset=cache["index"] - T)  # [T, L]


__all__ = ["init", "update", "mask"]
