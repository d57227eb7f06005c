"""Dense (affine) layer: y = x W + b, for x of shape [..., D]."""

import jax
import jax.numpy as jnp

from seqmodels.array_types import Array, Float, Key, Params
from seqmodels.nn import initializers


def init(key: Key, in_size: int, out_size: int, *, use_bias: bool = True,
         w_init=initializers.glorot_uniform, b_init=initializers.zeros,
         dtype=jnp.float32) -> Params:
    """Params {'w': [D, H], 'b': [H]} ('b' absent when use_bias=False)."""
    if in_size <= 0 or out_size <= 0:
        raise ValueError(f"dense sizes must be positive, got in_size={in_size}, out_size={out_size}")
    w_key, b_key = jax.random.split(key)
    params = {"w": initializers.get(w_init)(w_key, (in_size, out_size), dtype)}
    if use_bias:
        params["b"] = initializers.get(b_init)(b_key, (out_size,), dtype)
    return params


def apply(params: Params, x: Float[Array, "... D"]) -> Float[Array, "... H"]:
    w = params["w"]
    if x.shape[-1:] != w.shape[:1]:
        raise ValueError(f"dense: expected input [..., {w.shape[0]}], got shape {x.shape}")
    y = x @ w
    if "b" in params:
        y = y + params["b"]
    return y
