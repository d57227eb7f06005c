"""Normalisation over the last axis: layer norm and RMS norm."""

import jax.numpy as jnp

from seqmodels.array_types import Array, Float, Params


def layer_norm_init(dim: int, *, use_scale: bool = True, use_bias: bool = True, dtype=jnp.float32) -> Params:
    params = {}
    if use_scale:
        params["scale"] = jnp.ones((dim,), dtype)
    if use_bias:
        params["bias"] = jnp.zeros((dim,), dtype)
    return params


def layer_norm(params: Params, x: Float[Array, "... D"], *, eps: float = 1e-6) -> Float[Array, "... D"]:
    """(x - mean) / sqrt(var + eps) * scale + bias, statistics in float32."""
    dtype = x.dtype
    x = x.astype(jnp.float32)
    mean = x.mean(-1, keepdims=True)
    var = jnp.square(x - mean).mean(-1, keepdims=True)
    y = (x - mean) * jnp.reciprocal(jnp.sqrt(var + eps))
    if "scale" in params:
        y = y * params["scale"]
    if "bias" in params:
        y = y + params["bias"]
    return y.astype(dtype)


def rms_norm_init(dim: int, dtype=jnp.float32) -> Params:
    return {"scale": jnp.ones((dim,), dtype)}


def rms_norm(params: Params, x: Float[Array, "... D"], *, eps: float = 1e-6) -> Float[Array, "... D"]:
    dtype = x.dtype
    x = x.astype(jnp.float32)
    y = x * jnp.reciprocal(jnp.sqrt(jnp.square(x).mean(-1, keepdims=True) + eps))
    return (y * params["scale"]).astype(dtype)
