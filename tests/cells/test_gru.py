"""GRU, both reset conventions: flax.linen.GRUCell (reset after), a numpy
transcription of Cho et al. 2014 (reset before), hand values, properties, training."""

import flax.linen as flax_nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from seqmodels import recurrence
from seqmodels.cells import GRU
from tests.cells import helpers
from tests.cells.helpers import D, T
from tests.helpers import adam_train



def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def numpy_gru_cho(params, xs):
    """Cho et al. 2014 (section 2.3), in float64: r = s(W_r x + U_r h'), z = s(W_z x + U_z h'),
    h~ = tanh(W x + U (r * h')), h = z * h' + (1 - z) * h~ (plus biases)."""
    H = params["R_h"].shape[0]
    W, b, R, U = (np.asarray(params[k], np.float64) for k in ("W", "b", "R", "R_h"))
    W_r, W_z, W_h = W[:, :H], W[:, H:2 * H], W[:, 2 * H:]
    b_r, b_z, b_h = b[:H], b[H:2 * H], b[2 * H:]
    U_r, U_z = R[:, :H], R[:, H:]
    h, ys = np.zeros(H), []
    for x in xs:
        r = sigmoid(x @ W_r + h @ U_r + b_r)
        z = sigmoid(x @ W_z + h @ U_z + b_z)
        h_tilde = np.tanh(x @ W_h + (r * h) @ U + b_h)
        h = z * h + (1.0 - z) * h_tilde
        ys.append(h)
    return np.stack(ys)


# -- equivalence with references ---------------------------------------------------

def test_reset_after_equals_flax_gru_cell():
    """flax: W = [ir|iz|in] kernels, b = [ir|iz|in] biases, R = [hr|hz|hn] kernels, b_hn = hn bias."""
    H = 4
    flax_cell = flax_nn.GRUCell(features=H, bias_init=flax_nn.initializers.normal(0.5))
    xs = jnp.asarray(helpers.inputs(0))
    variables = flax_cell.init(jax.random.key(1), jnp.zeros(H), xs[0])
    p = variables["params"]
    _, ys_flax = lax.scan(lambda c, x: flax_cell.apply(variables, c, x), jnp.zeros(H), xs)

    cell = GRU(D, H, reset="after")
    cat = lambda names, leaf: jnp.concatenate([p[n][leaf] for n in names], axis=-1)
    ours = {"W": cat(["ir", "iz", "in"], "kernel"), "b": cat(["ir", "iz", "in"], "bias"),
            "R": cat(["hr", "hz", "hn"], "kernel"), "b_hn": p["hn"]["bias"]}
    assert jax.tree.map(jnp.shape, ours) == jax.tree.map(jnp.shape, cell.init(jax.random.key(0)))
    for hoist in (False, True):
        carry, ys = recurrence.scan(cell, ours, xs, hoist=hoist)
        np.testing.assert_allclose(ys, ys_flax, atol=1e-5, rtol=1e-5)
        np.testing.assert_allclose(carry["h"], ys_flax[-1], atol=1e-5, rtol=1e-5)


def test_reset_before_equals_numpy_cho():
    cell = GRU(D, 4, reset="before")
    params = helpers.params_of(cell)
    xs = helpers.inputs(1)
    carry, ys = helpers.runners(cell)["plain"](params, xs)
    expected = numpy_gru_cho(params, xs)
    np.testing.assert_allclose(ys, expected, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(carry["h"], expected[-1], atol=1e-5, rtol=1e-5)


def test_conventions_differ():
    """Same W, b and recurrent blocks, different models: the reset acts on h' or on R h'."""
    before, after = GRU(D, 4, reset="before"), GRU(D, 4, reset="after")
    p = helpers.params_of(before)
    p_after = {"W": p["W"], "b": p["b"], "R": jnp.concatenate([p["R"], p["R_h"]], axis=1),
               "b_hn": jnp.zeros(4)}
    xs = helpers.inputs(2)
    _, ys_before = helpers.runners(before)["plain"](p, xs)
    _, ys_after = helpers.runners(after)["plain"](p_after, xs)
    assert np.abs(ys_before - ys_after).max() > 1e-3
    # ... and they agree when r = 1 (b_r -> +inf): both give tanh(W_h x + R_h h' + b_h).
    big = p["b"].at[:4].set(1e4)
    _, ys_before = helpers.runners(before)["plain"]({**p, "b": big}, xs)
    _, ys_after = helpers.runners(after)["plain"]({**p_after, "b": big}, xs)
    np.testing.assert_allclose(ys_before, ys_after, atol=1e-5)


# -- hand-computed values ----------------------------------------------------------

@pytest.mark.parametrize("reset", ["before", "after"])
def test_hand_values(reset):
    """All weights 0 except W_h = 1 (D = H = 1): u = 1/2, h = h'/2 + tanh(x)/2.
    x = 1, 0 -> h = tanh(1)/2 = 0.3807971, then 0.1903985."""
    cell = GRU(1, 1, reset=reset)
    params = jax.tree.map(jnp.zeros_like, cell.init(jax.random.key(0)))
    params["W"] = jnp.array([[0.0, 0.0, 1.0]])
    _, ys = recurrence.scan(cell, params, jnp.array([[1.0], [0.0]]))
    np.testing.assert_allclose(ys[:, 0], [0.3807971, 0.1903985], rtol=1e-6)


def test_update_gate_keeps_old_state():
    """u = 1 (b_u -> +inf) copies h' through: the flax/Cho convention h = u h' + (1-u) h~."""
    cell = GRU(D, 4)
    params = helpers.params_of(cell)
    params = {**params, "b": params["b"].at[4:8].set(1e4)}
    h0 = {"h": jnp.arange(4.0)}
    carry, ys = recurrence.scan(cell, params, jnp.asarray(helpers.inputs(3)), initial_carry=h0)
    np.testing.assert_allclose(ys, np.tile(np.arange(4.0), (T, 1)), atol=1e-6)


# -- bad options (the shared properties, gradients, shapes and bad input: test_properties.py)

def test_bad_options():
    with pytest.raises(ValueError, match=r"unknown reset 'middle'; expected one of \['before', 'after'\]"):
        GRU(2, 3, reset="middle")
    with pytest.raises(ValueError, match="unknown activation 'sigmod'"):
        GRU(2, 3, gate_activation="sigmod")
    with pytest.raises(ValueError, match="input_size must be a positive int, got 0"):
        GRU(0, 3)


# -- training ----------------------------------------------------------------------

def test_loss_goes_down():
    """A GRU + linear readout learns the running mean of its input in 60 Adam steps."""
    cell = GRU(1, 6)
    key_cell, key_out, key_data = jax.random.split(jax.random.key(0), 3)
    params = {"cell": cell.init(key_cell), "V": 0.1 * jax.random.normal(key_out, (6, 1))}
    xs = jax.random.normal(key_data, (16, 8, 1))  # [B, T, D]
    targets = jnp.cumsum(xs, axis=1) / jnp.arange(1, 9)[:, None]  # [B, T, 1]

    def loss_fn(params):
        _, hs = jax.vmap(lambda x: recurrence.scan(cell, params["cell"], x))(xs)  # [B, T, H]
        return jnp.mean((hs @ params["V"] - targets) ** 2)

    _, losses = adam_train(loss_fn, params, learning_rate=3e-2, steps=60)
    assert losses[-1] < 0.2 * losses[0], losses[::10]
