"""Inverted dropout: zero each unit with probability `drop_rate`, scale the rest by 1/(1 - drop_rate).

The one rule every layer with dropout follows: `apply(..., key=None, deterministic=False)`.
Dropout runs unless `deterministic` (evaluation) or drop_rate == 0, and then needs a PRNG `key`;
without one it is an error, never a silent switch to evaluation.
"""

import jax
import jax.numpy as jnp

from seqmodels.array_types import Array, Key


def apply(x: Array, drop_rate: float, *, key: Key | None = None, deterministic: bool = False,
          name: str = "dropout") -> Array:
    """Dropout at training time; identity when `deterministic` or drop_rate == 0.

    `drop_rate` is the probability of DROPPING a unit (not stax's keep rate);
    `name` (the calling layer) heads the error message.
    """
    if not 0.0 <= drop_rate < 1.0:
        raise ValueError(f"{name}: drop_rate must be in [0, 1), got {drop_rate}")
    if deterministic or drop_rate == 0.0:
        return x
    if key is None:
        raise ValueError(f"{name}: dropout with drop_rate={drop_rate} > 0 needs a PRNG `key` "
                         f"(or deterministic=True for evaluation)")
    keep = jax.random.bernoulli(key, 1.0 - drop_rate, x.shape)
    return jnp.where(keep, x / (1.0 - drop_rate), jnp.zeros_like(x))


def split(key: Key | None, n: int) -> list:
    """`n` keys for the dropout sites of a layer, or `n` Nones without a key (then each site either
    runs deterministic or raises)."""
    return [None] * n if key is None else list(jax.random.split(key, n))


__all__ = ["apply", "split"]
