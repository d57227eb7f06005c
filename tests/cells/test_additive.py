"""The additive RNN ("LSTM idea" cell): unrolled numpy reference, full pass vs step by step, the registry."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from experiments import models
from seqmodels import recurrence
from seqmodels.cells import AdditiveRNN
from tests.cells import helpers
from tests.cells.helpers import D


def numpy_additive(params, xs):
    """h_n = h_{n-1} + tanh(W x_n + R h_{n-1} + b), unrolled in float64."""
    W, R, b = (np.asarray(params[k], np.float64) for k in ("W", "R", "b"))
    h, ys = np.zeros(R.shape[0]), []
    for x in np.asarray(xs, np.float64):
        h = h + np.tanh(x @ W + h @ R + b)
        ys.append(h)
    return np.stack(ys)


def test_one_step_by_hand():
    cell = AdditiveRNN(D, 4)
    params = helpers.params_of(cell)
    h0 = {"h": jnp.arange(4, dtype=jnp.float32) / 4}
    x = jnp.asarray(helpers.inputs(3)[0])
    carry, y = cell.step(params, h0, x)
    want = h0["h"] + jnp.tanh(x @ params["W"] + h0["h"] @ params["R"] + params["b"])
    np.testing.assert_allclose(y, want, atol=1e-6)
    np.testing.assert_allclose(carry["h"], y)


@pytest.mark.parametrize("hoist", [False, True])
def test_full_pass_equals_unrolled_numpy(hoist):
    cell = AdditiveRNN(D, 4)
    params = helpers.params_of(cell)
    xs = helpers.inputs(1)
    carry, ys = recurrence.scan(cell, params, jnp.asarray(xs), hoist=hoist)
    np.testing.assert_allclose(ys, numpy_additive(params, xs), atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(carry["h"], ys[-1])


def test_full_pass_equals_step_by_step_and_gradients():
    cell = AdditiveRNN(D, 4)
    params = helpers.params_of(cell)
    xs = helpers.inputs(2)
    carry, ys = helpers.runners(cell)["plain"](params, xs)
    carry_loop, ys_loop = helpers.step_loop(cell, params, xs)
    helpers.assert_trees_close((carry, ys), (carry_loop, ys_loop))
    helpers.check_gradients(cell)


def test_identity_path_differs_from_elman():
    """With W = R = b = 0 the state is kept exactly (Elman's would be reset to 0)."""
    cell = AdditiveRNN(D, 3)
    params = jax.tree.map(jnp.zeros_like, cell.init(jax.random.key(0)))
    h0 = {"h": jnp.array([1.0, -2.0, 0.5])}
    carry, _ = recurrence.scan(cell, params, jnp.ones((5, D)), initial_carry=h0)
    np.testing.assert_array_equal(carry["h"], h0["h"])


def test_registry_builds_additive():
    config = ml_collections.ConfigDict({"name": "additive", "additive": dict(hidden_size=5)})
    model = models.build(config, models.Spec(input_size=D, output_size=1))
    params = model.init(jax.random.key(0))
    ys = model.apply_batch(params, jnp.ones((2, 7, D)), deterministic=True)
    assert ys.shape == (2, 7, 1) and np.all(np.isfinite(ys))
