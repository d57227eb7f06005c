"""The activation table: every activation's value and derivative (jax.grad) against its closed form in numpy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import expit

from seqmodels.nn import activations

# x on both sides of every kink, none at a kink (0, +-1, +-2.5), float64 closed forms
X = np.array([-4.0, -2.7, -1.3, -0.6, -0.2, 0.3, 0.8, 1.6, 2.2, 3.5])
SELU_L, SELU_A = 1.0507009873554805, 1.6732632423543772
_C = np.sqrt(2 / np.pi)
_gelu_t = lambda x: np.tanh(_C * (x + 0.044715 * x ** 3))  # noqa: E731

# name: (f(x), f'(x))
CLOSED_FORMS = {
    "identity": (lambda x: x, lambda x: np.ones_like(x)),
    "binary_step": (lambda x: (x >= 0).astype(float), lambda x: np.zeros_like(x)),  # 0 a.e., undefined at 0
    "sigmoid": (expit, lambda x: expit(x) * (1 - expit(x))),
    "tanh": (np.tanh, lambda x: 1 - np.tanh(x) ** 2),
    "arctan": (np.arctan, lambda x: 1 / (1 + x ** 2)),
    "softsign": (lambda x: x / (1 + np.abs(x)), lambda x: 1 / (1 + np.abs(x)) ** 2),
    "isru": (lambda x: x / np.sqrt(1 + x ** 2), lambda x: (1 + x ** 2) ** -1.5),
    "relu": (lambda x: np.maximum(x, 0), lambda x: (x > 0).astype(float)),
    "leaky_relu": (lambda x: np.where(x > 0, x, 0.01 * x), lambda x: np.where(x > 0, 1.0, 0.01)),
    "elu": (lambda x: np.where(x > 0, x, np.exp(x) - 1), lambda x: np.where(x > 0, 1.0, np.exp(x))),
    "selu": (lambda x: SELU_L * np.where(x > 0, x, SELU_A * (np.exp(x) - 1)),
             lambda x: SELU_L * np.where(x > 0, 1.0, SELU_A * np.exp(x))),
    "softplus": (lambda x: np.log1p(np.exp(x)), expit),
    "silu": (lambda x: x * expit(x), lambda x: expit(x) * (1 + x * (1 - expit(x)))),
    "gelu": (lambda x: 0.5 * x * (1 + _gelu_t(x)),
             lambda x: 0.5 * (1 + _gelu_t(x)) + 0.5 * x * (1 - _gelu_t(x) ** 2) * _C * (1 + 3 * 0.044715 * x ** 2)),
    "bent_identity": (lambda x: (np.sqrt(x ** 2 + 1) - 1) / 2 + x, lambda x: x / (2 * np.sqrt(x ** 2 + 1)) + 1),
    "sinusoid": (np.sin, np.cos),
    "sinc": (lambda x: np.sin(x) / x, lambda x: np.cos(x) / x - np.sin(x) / x ** 2),
    "gaussian": (lambda x: np.exp(-x ** 2), lambda x: -2 * x * np.exp(-x ** 2)),
    "hard_sigmoid": (lambda x: np.clip(0.2 * x + 0.5, 0, 1), lambda x: np.where(np.abs(x) < 2.5, 0.2, 0.0)),
    "hard_tanh": (lambda x: np.clip(x, -1, 1), lambda x: (np.abs(x) < 1).astype(float)),
}


def test_every_named_activation_has_a_closed_form():
    assert set(activations.NAMES) - {"linear"} == set(CLOSED_FORMS)


@pytest.mark.parametrize("name", sorted(CLOSED_FORMS))
def test_value_and_derivative(name):
    f, df = CLOSED_FORMS[name]
    fn = activations.get(name)
    x = jnp.asarray(X, jnp.float32)
    np.testing.assert_allclose(fn(x), f(X), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(jax.vmap(jax.grad(fn))(x), df(X), rtol=1e-4, atol=1e-6)


def test_at_zero():
    """Values at the kink / removable singularity: binary_step(0) = 1, sinc(0) = 1 with sinc'(0) = 0."""
    assert activations.binary_step(jnp.float32(0.0)) == 1.0 and activations.binary_step(jnp.float32(-1e-6)) == 0.0
    assert activations.sinc(jnp.float32(0.0)) == 1.0 and jax.grad(activations.sinc)(0.0) == 0.0
    assert jax.grad(activations.binary_step)(0.0) == 0.0  # no gradient flows through a step


def test_prelu_value_and_both_derivatives():
    alpha = 0.25
    x = jnp.asarray(X, jnp.float32)
    np.testing.assert_allclose(activations.prelu(x, alpha), np.where(X > 0, X, alpha * X), rtol=1e-6)
    dx = jax.vmap(jax.grad(activations.prelu), (0, None))(x, alpha)
    da = jax.vmap(jax.grad(activations.prelu, argnums=1), (0, None))(x, alpha)
    np.testing.assert_allclose(dx, np.where(X > 0, 1.0, alpha), rtol=1e-6)
    np.testing.assert_allclose(da, np.minimum(X, 0), rtol=1e-6)  # d/da a x = x on the negative side
    per_channel = activations.prelu(-jnp.ones((4, 3)), jnp.array([0.1, 0.2, 0.3]))  # one slope per channel
    np.testing.assert_allclose(per_channel[0], [-0.1, -0.2, -0.3], rtol=1e-6)
    np.testing.assert_allclose(activations.prelu(x, 0.01), activations.leaky_relu(x), rtol=1e-6)
