"""Embedding table: ids [...] -> vectors [..., D]."""

import jax
import jax.numpy as jnp

from seqmodels.array_types import Array, Float, Int, Key, Params


def init(key: Key, vocab_size: int, dim: int, *, stddev: float = 1.0, dtype=jnp.float32) -> Params:
    """Params {'table': [V, D]} drawn from N(0, stddev^2) (flax.linen.Embed's default)."""
    if vocab_size <= 0 or dim <= 0:
        raise ValueError(f"embedding sizes must be positive, got vocab_size={vocab_size}, dim={dim}")
    return {"table": stddev * jax.random.normal(key, (vocab_size, dim), dtype)}


def apply(params: Params, ids: Int[Array, "..."]) -> Float[Array, "... D"]:
    if not jnp.issubdtype(ids.dtype, jnp.integer):
        raise ValueError(f"embedding: expected integer ids, got dtype {ids.dtype}")
    return jnp.take(params["table"], ids, axis=0)


def attend(params: Params, x: Float[Array, "... D"]) -> Float[Array, "... V"]:
    """Logits against the table (weight tying): x E^T."""
    return x @ params["table"].T
