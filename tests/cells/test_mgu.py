"""MGU: a numpy transcription of Zhou et al. 2016, flax.linen.MGUCell where the
two models coincide, hand values, properties.

flax.linen.MGUCell (0.12.8) differs from the paper in two ways (see
seqmodels/cells/mgu.py): its update is reversed (h = (1 - f) n + f h', so
f = 1 KEEPS the old state, where the paper's f = 1 takes the candidate), and
its reset is applied after the recurrent product with an extra bias
(f * (W_hn h' + b_hn)) where the paper resets h' before it (R_h (f * h')).
Negating flax's gate weights turns f into 1 - f and fixes the update; the
reset then still differs, so the models agree exactly only with W_hn = 0.
"""

import flax.linen as flax_nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from seqmodels import recurrence
from seqmodels.cells import MGU
from tests.cells import helpers
from tests.cells.helpers import D, T



def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def numpy_mgu_paper(params, xs):
    """Zhou et al. 2016, with [h', x] written out as two products, in float64:
    f = s(W_f [h', x] + b_f), h~ = tanh(W_h [f * h', x] + b_h), h = (1 - f) * h' + f * h~."""
    H = params["R_f"].shape[0]
    W, b = np.asarray(params["W"], np.float64), np.asarray(params["b"], np.float64)
    W_f = np.concatenate([np.asarray(params["R_f"], np.float64), W[:, :H]])  # acts on [h', x]
    W_h = np.concatenate([np.asarray(params["R_h"], np.float64), W[:, H:]])
    h, ys = np.zeros(H), []
    for x in xs:
        f = sigmoid(np.concatenate([h, x]) @ W_f + b[:H])
        h_tilde = np.tanh(np.concatenate([f * h, x]) @ W_h + b[H:])
        h = (1.0 - f) * h + f * h_tilde
        ys.append(h)
    return np.stack(ys)


def flax_mgu(H, xs, zero_hn):
    """flax's MGUCell over xs with random weights (W_hn, b_hn zeroed if zero_hn): (params, ys)."""
    flax_cell = flax_nn.MGUCell(features=H, forget_bias_init=flax_nn.initializers.normal(0.5),
                                activation_bias_init=flax_nn.initializers.normal(0.5))
    variables = flax_cell.init(jax.random.key(1), jnp.zeros(H), xs[0])
    if zero_hn:
        variables = jax.tree.map(lambda a: a, variables)
        variables["params"]["hn"] = jax.tree.map(jnp.zeros_like, variables["params"]["hn"])
    _, ys = lax.scan(lambda c, x: flax_cell.apply(variables, c, x), jnp.zeros(H), xs)
    return variables["params"], ys


def from_flax(p):
    """Our params from flax's: the gate NEGATED (f_ours = 1 - f_flax), the candidate as is, b_hn dropped."""
    return {"W": jnp.concatenate([-p["if"]["kernel"], p["in"]["kernel"]], axis=1),
            "b": jnp.concatenate([-p["if"]["bias"], p["in"]["bias"]]),
            "R_f": -p["hf"]["kernel"], "R_h": p["hn"]["kernel"]}


# -- equivalence with references ---------------------------------------------------

def test_equals_numpy_paper():
    cell = MGU(D, 4)
    params = helpers.params_of(cell)
    xs = helpers.inputs(1)
    carry, ys = helpers.runners(cell)["plain"](params, xs)
    expected = numpy_mgu_paper(params, xs)
    np.testing.assert_allclose(ys, expected, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(carry["h"], expected[-1], atol=1e-5, rtol=1e-5)


def test_equals_flax_mgu_cell_where_the_reset_vanishes():
    """With W_hn = b_hn = 0 (so R_h = 0) and the gate negated, flax's MGUCell is the paper's MGU."""
    H = 4
    xs = jnp.asarray(helpers.inputs(0))
    p, ys_flax = flax_mgu(H, xs, zero_hn=True)
    cell = MGU(D, H)
    ours = from_flax(p)
    assert jax.tree.map(jnp.shape, ours) == jax.tree.map(jnp.shape, cell.init(jax.random.key(0)))
    for hoist in (False, True):
        carry, ys = recurrence.scan(cell, ours, xs, hoist=hoist)
        np.testing.assert_allclose(ys, ys_flax, atol=1e-5, rtol=1e-5)
        np.testing.assert_allclose(carry["h"], ys_flax[-1], atol=1e-5, rtol=1e-5)


def test_flax_mgu_cell_is_a_different_model():
    """With all of flax's weights, the same mapping does not give flax's outputs (documented difference)."""
    xs = jnp.asarray(helpers.inputs(0))
    p, ys_flax = flax_mgu(4, xs, zero_hn=False)
    _, ys = recurrence.scan(MGU(D, 4), from_flax(p), xs)
    assert np.abs(np.asarray(ys) - np.asarray(ys_flax)).max() > 1e-3
    # Without negating the gate, not even the W_hn = 0 case matches (the update is reversed).
    p, ys_flax = flax_mgu(4, xs, zero_hn=True)
    unnegated = {**from_flax(p), "R_f": p["hf"]["kernel"]}
    unnegated["W"] = unnegated["W"].at[:, :4].set(p["if"]["kernel"])
    unnegated["b"] = unnegated["b"].at[:4].set(p["if"]["bias"])
    _, ys = recurrence.scan(MGU(D, 4), unnegated, xs)
    assert np.abs(np.asarray(ys) - np.asarray(ys_flax)).max() > 1e-3


# -- hand-computed values ----------------------------------------------------------

def test_hand_values():
    """All weights 0 except W_h = 1 (D = H = 1): f = 1/2, h = h'/2 + tanh(x)/2.
    x = 1, 0 -> h = tanh(1)/2 = 0.3807971, then 0.1903985."""
    cell = MGU(1, 1)
    params = jax.tree.map(jnp.zeros_like, cell.init(jax.random.key(0)))
    params["W"] = jnp.array([[0.0, 1.0]])
    _, ys = recurrence.scan(cell, params, jnp.array([[1.0], [0.0]]))
    np.testing.assert_allclose(ys[:, 0], [0.3807971, 0.1903985], rtol=1e-6)


def test_forget_gate_zero_keeps_state():
    """Paper convention: f = 0 (b_f -> -inf) keeps h' unchanged; f = 1 takes h~ with h' fully visible."""
    cell = MGU(D, 4, forget_bias=-1e4)
    params = cell.init(jax.random.key(0))
    h0 = {"h": jnp.arange(4.0)}
    _, ys = recurrence.scan(cell, params, jnp.asarray(helpers.inputs(3)), initial_carry=h0)
    np.testing.assert_allclose(ys, np.tile(np.arange(4.0), (T, 1)), atol=1e-6)


# -- bad options (the shared properties, gradients, shapes and bad input: test_properties.py)

def test_bad_options():
    with pytest.raises(ValueError, match="unknown activation 'tanhh'"):
        MGU(2, 3, activation="tanhh")
    with pytest.raises(ValueError, match="hidden_size must be a positive int, got 2.5"):
        MGU(2, 2.5)
