"""Inverted dropout: zero each unit with probability `drop_rate`, scale the rest by 1/(1 - drop_rate)."""

import jax
import jax.numpy as jnp

from seqmodels.array_types import Array, Key


def apply(x: Array, drop_rate: float, *, key: Key | None, deterministic: bool = False) -> Array:
    """Dropout at training time; identity when `deterministic` or drop_rate == 0.

    `drop_rate` is the probability of DROPPING a unit (not stax's keep rate).
    """
    if not 0.0 <= drop_rate < 1.0:
        raise ValueError(f"drop_rate must be in [0, 1), got {drop_rate}")
    if deterministic or drop_rate == 0.0:
        return x
    if key is None:
        raise ValueError("dropout with drop_rate > 0 needs a PRNG `key` (or deterministic=True)")
    keep = jax.random.bernoulli(key, 1.0 - drop_rate, x.shape)
    return jnp.where(keep, x / (1.0 - drop_rate), jnp.zeros_like(x))
