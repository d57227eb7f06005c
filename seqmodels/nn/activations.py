"""Activations by name, so configs and cell options can name them.

The lecture's table (name: f(x); f'(x)), each derivative checked against jax.grad in
tests/nn/test_activations.py:

    identity        x                                   1
    binary_step     1 if x >= 0 else 0                  0 for x != 0, undefined at 0 (jax.grad gives 0:
                                                        no gradient flows, hence the perceptron rule)
    sigmoid         1 / (1 + e^-x)                      f (1 - f)
    tanh            tanh x                              1 - f^2
    arctan          arctan x                            1 / (1 + x^2)
    softsign        x / (1 + |x|)                       1 / (1 + |x|)^2
    isru            x / sqrt(1 + a x^2)   (a = 1)       (1 + a x^2)^(-3/2)
    relu            max(0, x)                           1 if x > 0 else 0
    leaky_relu      x if x >= 0 else a x  (a = 0.01)    1 if x > 0 else a
    prelu(x, a)     leaky ReLU with a learned slope a   d/dx: 1 or a;  d/da: min(x, 0)
    elu             x if x > 0 else a (e^x - 1) (a = 1) 1 if x > 0 else f + a
    selu            l elu_a(x), l = 1.0507, a = 1.6733  l if x > 0 else l a e^x
    softplus        ln(1 + e^x)                         sigmoid(x)
    silu (swish)    x sigmoid(x)                        f + sigmoid(x) (1 - f)
    gelu            x Phi(x) (tanh approximation)       (see the test)
    bent_identity   (sqrt(x^2 + 1) - 1) / 2 + x         x / (2 sqrt(x^2 + 1)) + 1
    sinusoid        sin x                               cos x
    sinc            sin(x) / x, 1 at 0                  cos(x) / x - sin(x) / x^2, 0 at 0
    gaussian        e^(-x^2)                            -2 x e^(-x^2)
    hard_sigmoid    clip(0.2 x + 0.5, 0, 1)             0.2 inside (-2.5, 2.5), else 0
    hard_tanh       clip(x, -1, 1)                      1 inside (-1, 1), else 0

PReLU has a parameter (He et al. 2015: one learned slope per channel), so it is
`prelu(x, alpha)`, not a name in the table of `get`.
"""

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


def binary_step(x):
    """Heaviside step, 1 for x >= 0 else 0. Its derivative is 0 almost everywhere (undefined at 0), so
    gradient descent cannot train through it: jax.grad returns 0."""
    return jnp.where(x >= 0, 1.0, 0.0).astype(jnp.result_type(x, float))


def arctan(x):
    return jnp.arctan(x)


def softsign(x):
    """x / (1 + |x|): tanh's shape with polynomial (not exponential) tails."""
    return x / (1.0 + jnp.abs(x))


def isru(x, alpha: float = 1.0):
    """Inverse square root unit: x / sqrt(1 + alpha x^2), in (-1/sqrt(alpha), 1/sqrt(alpha))."""
    return x * jax.lax.rsqrt(1.0 + alpha * x * x)


def leaky_relu(x, alpha: float = 0.01):
    return jnp.where(x >= 0, x, alpha * x)


def prelu(x, alpha):
    """Parametric ReLU (He et al. 2015): leaky ReLU whose slope `alpha` is a trained parameter (a scalar or
    one per channel, broadcast against x)."""
    return jnp.where(x >= 0, x, alpha * x)


def bent_identity(x):
    return (jnp.sqrt(x * x + 1.0) - 1.0) / 2.0 + x


def sinc(x):
    """sin(x) / x (unnormalised), 1 at x = 0 (jnp.sinc is the normalised sin(pi x) / (pi x))."""
    return jnp.sinc(x / jnp.pi)


def gaussian(x):
    return jnp.exp(-x * x)


_BY_NAME: dict[str, Callable] = {
    "tanh": jnp.tanh,
    "sigmoid": jax.nn.sigmoid,
    "relu": jax.nn.relu,
    "gelu": jax.nn.gelu,
    "silu": jax.nn.silu,
    "elu": jax.nn.elu,
    "selu": jax.nn.selu,
    "softplus": jax.nn.softplus,
    "binary_step": binary_step,
    "arctan": arctan,
    "softsign": softsign,
    "isru": isru,
    "leaky_relu": leaky_relu,
    "bent_identity": bent_identity,
    "sinusoid": jnp.sin,
    "sinc": sinc,
    "gaussian": gaussian,
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
