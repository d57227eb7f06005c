"""Weight initialisers: `init(key, shape, dtype) -> array`.

Thin names over `jax.nn.initializers` (which no one here wrote, so they are
their own reference), plus the two recurrent-specific ones: orthogonal
recurrent blocks (one orthogonal [H, H] matrix per gate) and the forget-gate
bias (Gers et al. 2000; Jozefowicz et al. 2015 recommend 1.0).
"""

from typing import Callable

import jax
import jax.numpy as jnp

Initializer = Callable[..., jax.Array]

glorot_uniform = jax.nn.initializers.glorot_uniform()
glorot_normal = jax.nn.initializers.glorot_normal()
lecun_uniform = jax.nn.initializers.lecun_uniform()
lecun_normal = jax.nn.initializers.lecun_normal()
he_uniform = jax.nn.initializers.he_uniform()
he_normal = jax.nn.initializers.he_normal()
_orthogonal_f32 = jax.nn.initializers.orthogonal()


def orthogonal(key, shape, dtype=jnp.float32):
    """jax.nn.initializers.orthogonal(), computed in float32 (at least) and cast to `dtype`: its QR
    decomposition has no bfloat16 / float16 kernel on GPU (cuSOLVER), where a bfloat16 init failed."""
    work = jnp.promote_types(dtype, jnp.float32)
    return _orthogonal_f32(key, shape, work).astype(dtype)
zeros = jax.nn.initializers.zeros
ones = jax.nn.initializers.ones


def normal(stddev: float = 1e-2) -> Initializer:
    """N(0, stddev^2), e.g. the TCN's N(0, 0.01)."""
    return jax.nn.initializers.normal(stddev)


def uniform(scale: float) -> Initializer:
    """U(-scale, scale) (PyTorch's RNN default is scale = 1/sqrt(H))."""

    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -scale, scale)

    return init


def constant(value: float) -> Initializer:
    return jax.nn.initializers.constant(value)


def blockwise(init: Initializer, num_blocks: int) -> Initializer:
    """Initialise a fused [rows, num_blocks * H] matrix one [rows, H] block at a time.

    Fused gate matrices hold one block per gate; orthogonal initialisation
    must make each gate's block orthogonal, not the fused rectangle.
    """

    def fused(key, shape, dtype=jnp.float32):
        rows, cols = shape
        if cols % num_blocks:
            raise ValueError(f"blockwise init: {cols} columns do not split into {num_blocks} blocks")
        keys = jax.random.split(key, num_blocks)
        return jnp.concatenate([init(k, (rows, cols // num_blocks), dtype) for k in keys], axis=1)

    return fused


_BY_NAME = {
    "glorot_uniform": glorot_uniform,
    "glorot_normal": glorot_normal,
    "lecun_uniform": lecun_uniform,
    "lecun_normal": lecun_normal,
    "he_uniform": he_uniform,
    "he_normal": he_normal,
    "orthogonal": orthogonal,
    "zeros": zeros,
    "ones": ones,
}


def get(name_or_fn: str | Initializer) -> Initializer:
    """An initialiser by name (for configs) or passed through if callable."""
    if callable(name_or_fn):
        return name_or_fn
    if name_or_fn not in _BY_NAME:
        raise ValueError(f"unknown initialiser {name_or_fn!r}; expected one of {sorted(_BY_NAME)}")
    return _BY_NAME[name_or_fn]
