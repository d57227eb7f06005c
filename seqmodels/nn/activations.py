"""Activations by name, so configs and cell options can name them."""

from typing import Callable

import jax
import jax.numpy as jnp


def identity(x):
    return x


# Eigen's float tanh: a [13/6] rational function of x, odd, exact to a few ulp on [-8, 8]; past the
# clamp the FMA-evaluated ratio rounds to +-1, and for |x| < 4e-4, tanh(x) = x to float32 precision.
# XLA's CPU backend evaluates jnp.tanh with the same approximation (bit for bit under jit) but, inside
# a `lax.scan` body, much more slowly: written out here it costs an RNN scan about what no activation
# costs (figures: benchmarks/README.md).
_TANH_CLAMP = 7.99881172180175781
_TANH_NUM = (-2.76076847742355e-16, 2.00018790482477e-13, -8.60467152213735e-11, 5.12229709037114e-08,
             1.48572235717979e-05, 6.37261928875436e-04, 4.89352455891786e-03)
_TANH_DEN = (1.19825839466702e-06, 1.18534705686654e-04, 2.26843463243900e-03, 4.89352518554385e-03)


@jax.custom_jvp
def rational_tanh(x):
    """tanh(x) as a rational function written in plain multiplies, adds and one divide.

    Same values as `jnp.tanh` to within 5 ulp in float32 (tests/nn/test_activations.py checks against
    float64 numpy), with tanh's derivative 1 - tanh(x)^2. Other dtypes than float32 use `jnp.tanh`:
    the coefficients are float32's.
    """
    if x.dtype != jnp.float32:
        return jnp.tanh(x)
    xc = jnp.clip(x, -_TANH_CLAMP, _TANH_CLAMP)
    x2 = xc * xc
    p = _TANH_NUM[0]
    for a in _TANH_NUM[1:]:
        p = p * x2 + a
    q = _TANH_DEN[0]
    for a in _TANH_DEN[1:]:
        q = q * x2 + a
    return jnp.where(jnp.abs(x) < 4e-4, x, xc * p / q)


@rational_tanh.defjvp
def _rational_tanh_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    y = rational_tanh(x)
    return y, dx * (1.0 - y * y)


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
