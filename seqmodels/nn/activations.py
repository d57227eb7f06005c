"""Activations by name, so configs and cell options can name them."""

from typing import Callable

import jax
import jax.numpy as jnp


def identity(x):
    return x


def hard_sigmoid(x):
    """Piecewise-linear sigmoid: clip(0.2 x + 0.5, 0, 1) (Keras' convention)."""
    return jnp.clip(0.2 * x + 0.5, 0.0, 1.0)


_BY_NAME: dict[str, Callable] = {
    "tanh": jnp.tanh,
    "sigmoid": jax.nn.sigmoid,
    "relu": jax.nn.relu,
    "gelu": jax.nn.gelu,
    "silu": jax.nn.silu,
    "elu": jax.nn.elu,
    "softplus": jax.nn.softplus,
    "hard_sigmoid": hard_sigmoid,
    "hard_tanh": jax.nn.hard_tanh,
    "identity": identity,
    "linear": identity,
}

NAMES = tuple(sorted(_BY_NAME))


def get(name_or_fn: str | Callable) -> Callable:
    """The activation function for a name (or a callable passed through)."""
    if callable(name_or_fn):
        return name_or_fn
    if name_or_fn not in _BY_NAME:
        raise ValueError(f"unknown activation {name_or_fn!r}; expected one of {list(NAMES)}")
    return _BY_NAME[name_or_fn]
