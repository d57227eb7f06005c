"""Elman and Jordan cells: flax.linen.SimpleCell, numpy references, hand values, properties."""

import flax.linen as flax_nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from seqmodels import recurrence
from seqmodels.cells import Elman, Jordan
from tests.cells import helpers
from tests.cells.helpers import D



def numpy_elman(params, xs, act):
    W, R, b = (np.asarray(params[k], np.float64) for k in ("W", "R", "b"))
    h, ys = np.zeros(R.shape[0]), []
    for x in xs:
        h = act(x @ W + h @ R + b)
        ys.append(h)
    return np.stack(ys)


def numpy_jordan(params, xs):
    W, R, b, V, c = (np.asarray(params[k], np.float64) for k in ("W", "R", "b", "V", "c"))
    y, ys = np.zeros(V.shape[1]), []
    for x in xs:
        h = np.tanh(x @ W + y @ R + b)
        y = np.tanh(h @ V + c)
        ys.append(y)
    return np.stack(ys)


# -- equivalence with references ---------------------------------------------------

@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_elman_equals_flax_simple_cell(activation):
    """flax 'i' kernel/bias -> W, b; 'h' kernel -> R; the whole sequence, to 1e-5."""
    H = 4
    act_fn = {"tanh": jnp.tanh, "relu": jax.nn.relu}[activation]
    flax_cell = flax_nn.SimpleCell(features=H, activation_fn=act_fn, bias_init=flax_nn.initializers.normal(0.5))
    xs = jnp.asarray(helpers.inputs(0))
    variables = flax_cell.init(jax.random.key(1), jnp.zeros(H), xs[0])
    p = variables["params"]
    _, ys_flax = lax.scan(lambda c, x: flax_cell.apply(variables, c, x), jnp.zeros(H), xs)

    cell = Elman(D, H, activation=activation)
    ours = {"W": p["i"]["kernel"], "b": p["i"]["bias"], "R": p["h"]["kernel"]}
    assert jax.tree.structure(ours) == jax.tree.structure(cell.init(jax.random.key(0)))
    for hoist in (False, True):
        carry, ys = recurrence.scan(cell, ours, xs, hoist=hoist)
        np.testing.assert_allclose(ys, ys_flax, atol=1e-5, rtol=1e-5)
        np.testing.assert_allclose(carry["h"], ys_flax[-1], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("activation", ["identity", "relu", "tanh"])
def test_elman_equals_numpy(activation):
    cell = Elman(D, 4, activation=activation)
    act = {"identity": lambda v: v, "relu": lambda v: np.maximum(v, 0), "tanh": np.tanh}[activation]
    params = helpers.params_of(cell)
    xs = helpers.inputs(1)
    _, ys = helpers.runners(cell)["plain"](params, xs)
    np.testing.assert_allclose(ys, numpy_elman(params, xs, act), atol=1e-5, rtol=1e-5)


def test_jordan_equals_numpy():
    cell = Jordan(D, 5, out_size=2)
    params = helpers.params_of(cell)
    xs = helpers.inputs(2)
    carry, ys = helpers.runners(cell)["plain"](params, xs)
    expected = numpy_jordan(params, xs)
    np.testing.assert_allclose(ys, expected, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(carry["y"], expected[-1], atol=1e-5, rtol=1e-5)


# -- hand-computed values ----------------------------------------------------------

def test_elman_hand_values():
    """act = identity, D = H = 1: h = 2x + 0.5h' + 1 on x = 1, 2, 3 -> 3, 6.5, 10.25."""
    cell = Elman(1, 1, activation="identity")
    params = {"W": jnp.array([[2.0]]), "R": jnp.array([[0.5]]), "b": jnp.array([1.0])}
    _, ys = recurrence.scan(cell, params, jnp.array([[1.0], [2.0], [3.0]]))
    np.testing.assert_allclose(ys[:, 0], [3.0, 6.5, 10.25], rtol=1e-6)


def test_jordan_hand_values():
    """Identity activations: h = x + 0.5 y', y = 2h on x = 1, 2 -> y = 2, 6 (the OUTPUT is fed back)."""
    cell = Jordan(1, 1, activation="identity", output_activation="identity")
    params = {"W": jnp.array([[1.0]]), "R": jnp.array([[0.5]]), "b": jnp.array([0.0]),
              "V": jnp.array([[2.0]]), "c": jnp.array([0.0])}
    carry, ys = recurrence.scan(cell, params, jnp.array([[1.0], [2.0]]))
    np.testing.assert_allclose(ys[:, 0], [2.0, 6.0], rtol=1e-6)
    np.testing.assert_allclose(carry["y"], [6.0], rtol=1e-6)


# -- bad options (the shared properties, gradients, shapes and bad input: test_properties.py)

def test_bad_options():
    with pytest.raises(ValueError, match="unknown activation 'sigmoidd'"):
        Elman(2, 3, activation="sigmoidd")
    with pytest.raises(ValueError, match="unknown activation 'nope'"):
        Jordan(2, 3, output_activation="nope")
    with pytest.raises(ValueError, match="out_size must be a positive int or None, got 0"):
        Jordan(2, 3, out_size=0)
    with pytest.raises(ValueError, match="hidden_size must be a positive int, got -1"):
        Elman(2, -1)
