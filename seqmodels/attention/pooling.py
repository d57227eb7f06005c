"""Attention pooling: a sequence [T, D] to one vector [D] (Yang et al. 2016; the lecture's form).

    u_t = tanh(W h_t + b)                 u_t: [H]
    a_t = softmax_t(u_t . u_l)            over the valid t < lengths
    l   = sum_t a_t h_t                   l: [D]

u_l: [H] is a learned context vector ("which frames matter"). `apply`
returns (l, a) so the weights can be plotted over time.
"""

import jax
import jax.numpy as jnp

from seqmodels.array_types import Array, Float, Int, Key, Params
from seqmodels.attention import additive
from seqmodels.nn import dense


def init(key: Key, dim: int, hidden_dim: int | None = None, *, dtype=jnp.float32) -> Params:
    """Params {'proj': W [D, H] and b [H], 'context': u_l [H]} (H defaults to D)."""
    hidden_dim = dim if hidden_dim is None else hidden_dim
    kp, kc = jax.random.split(key)
    return {
        "proj": dense.init(kp, dim, hidden_dim, dtype=dtype),
        "context": jax.random.normal(kc, (hidden_dim,), dtype) / jnp.sqrt(hidden_dim),
    }


def apply(params: Params, h: Float[Array, "T D"], *,
          lengths: Int[Array, ""] | None = None) -> tuple[Float[Array, "D"], Float[Array, "T"]]:
    """(pooled l: [D], weights a: [T]); padded frames get weight 0."""
    if h.ndim != 2:
        raise ValueError(f"attention pooling: expected h of shape [T, D] (one example; vmap over the batch), "
                         f"got shape {h.shape}")
    u = jnp.tanh(dense.apply(params["proj"], h))  # [T, H]
    scores = u @ params["context"]  # [T]
    pooled, weights = additive.attend(scores[None], h, lengths=lengths, name="attention pooling")  # [1, D], [1, T]
    return pooled[0], weights[0]


__all__ = ["init", "apply"]
