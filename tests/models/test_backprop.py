"""Hand-written backpropagation (seqmodels.models.backprop) against jax.grad of the same forward pass."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from seqmodels import recurrence
from seqmodels.cells import Elman
from seqmodels.conv import Conv1D
from seqmodels.models import backprop
from seqmodels.models.mlp import MLP


def _close(a, b):
    jax.tree.map(lambda u, v: np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6), a, b)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu", "identity"])
def test_delta_rule_equals_jax_grad_of_the_mlp(activation):
    """The hand deltas are the gradient of seqmodels.models.mlp.MLP itself (x [T, D] flattened)."""
    mlp = MLP(4 * 3, (7, 5), 4, activation=activation)
    params = mlp.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (4, 3))
    auto = jax.grad(lambda p: -jax.nn.log_softmax(mlp.apply(p, x))[2])(params)
    hand = backprop.mlp_grads(params, x.reshape(-1), 2, activation)
    _close(hand, auto)
    _close(hand, jax.grad(backprop.mlp_loss)(params, x.reshape(-1), 2, activation))


def test_delta_rule_refuses_an_unknown_derivative():
    with pytest.raises(ValueError, match="no derivative"):
        backprop.mlp_grads([{"w": jnp.ones((2, 2)), "b": jnp.zeros(2)}], jnp.ones(2), 0, "gelu")


def test_conv1d_weight_gradient_is_a_correlation_of_input_and_output_gradient():
    layer = Conv1D(3, 4, 5, padding="valid")
    params = layer.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (20, 3))
    np.testing.assert_allclose(backprop.conv1d_valid(params, x), layer.apply(params, x), rtol=1e-5, atol=1e-6)
    g = jax.random.normal(jax.random.key(2), (16, 4))  # dL/dy of L = sum(y * g)
    grads, dx = backprop.conv1d_grads(params, x, g)
    loss = lambda p, x: jnp.sum(layer.apply(p, x) * g)  # noqa: E731
    _close(grads, jax.grad(loss)(params, x))
    _close(dx, jax.grad(loss, argnums=1)(params, x))
    # the same correlation, by numpy: dw[k] = sum_t x[t + k] g[t]^T
    dw = np.stack([sum(np.outer(np.asarray(x)[t + k], np.asarray(g)[t]) for t in range(16)) for k in range(5)])
    np.testing.assert_allclose(grads["kernel"], dw, rtol=1e-5, atol=1e-5)


def test_conv2d_weight_gradient_equals_jax_grad_of_lax_conv():
    x = jax.random.normal(jax.random.key(0), (9, 7, 2))
    params = {"kernel": jax.random.normal(jax.random.key(1), (3, 2, 2, 4)), "bias": jnp.zeros(4)}
    conv = lambda w: jax.lax.conv_general_dilated(x[None], w, (1, 1), "VALID",  # noqa: E731
                                                  dimension_numbers=("NHWC", "HWIO", "NHWC"))[0]
    np.testing.assert_allclose(backprop.conv2d_valid(params, x), conv(params["kernel"]), rtol=1e-5, atol=1e-5)
    g = jax.random.normal(jax.random.key(2), (7, 6, 4))
    auto = jax.grad(lambda w: jnp.sum(conv(w) * g))(params["kernel"])
    np.testing.assert_allclose(backprop.conv2d_weight_grad(x, g, (3, 2)), auto, rtol=1e-5, atol=1e-5)


def test_bptt_equals_jax_grad_through_the_elman_cell():
    cell = Elman(3, 5)
    params = cell.init(jax.random.key(0))
    params["b"] = jax.random.normal(jax.random.key(4), (5,)) * 0.1
    x = jax.random.normal(jax.random.key(1), (11, 3))
    h0 = jax.random.normal(jax.random.key(2), (5,)) * 0.5
    target = jax.random.normal(jax.random.key(3), (11, 5))

    def loss(p, h0):  # the repository's own Elman cell, run by recurrence.RNN, squared error at every step
        hs = recurrence.RNN(cell).apply(p, x, initial_carry={"h": h0})[1]
        return 0.5 * jnp.sum((hs - target) ** 2)

    hs = backprop.elman_forward(params, x, h0)
    np.testing.assert_allclose(hs, recurrence.RNN(cell).apply(params, x, initial_carry={"h": h0})[1],
                               rtol=1e-5, atol=1e-6)
    grads, dh0 = backprop.elman_bptt(params, x, h0, hs - target)  # dl/dh_t of the squared error
    auto, auto_h0 = jax.grad(loss, argnums=(0, 1))(params, h0)
    _close(grads, auto)
    _close(dh0, auto_h0)


def test_bptt_with_a_loss_at_the_last_step_only():
    """All the gradient comes from the future term delta_{t+1} R^T (it shrinks going back: vanishing)."""
    params = Elman(2, 4).init(jax.random.key(5))
    x = jax.random.normal(jax.random.key(6), (30, 2))
    h0 = jnp.zeros(4)
    dl_dh = jnp.zeros((30, 4)).at[-1].set(1.0)
    grads, _ = backprop.elman_bptt(params, x, h0, dl_dh)
    auto = jax.grad(lambda p: backprop.elman_forward(p, x, h0)[-1].sum())(params)
    _close(grads, auto)
