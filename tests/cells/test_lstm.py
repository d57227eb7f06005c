"""LSTM: flax.linen.LSTMCell and OptimizedLSTMCell, a numpy transcription of the
Greff et al. 2017 equations (peepholes, all eight variants, projection), hand
values, properties (training is checked in test_gru.py and test_min_rnn.py)."""

import flax.linen as flax_nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from seqmodels import recurrence
from seqmodels.cells import LSTM
from tests.cells import helpers
from tests.cells.helpers import D

# Properties on the two cells with the most structure: peepholes + projection, and FGR (carry with i, f, o).


def ids(c):
    if isinstance(c, str):
        return c
    return f"{c.variant}{'-peep' if c.peepholes else ''}{f'-proj{c.proj_size}' if c.proj_size else ''}"


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def numpy_greff(cell, params, xs):
    """Greff et al. 2017, section 2 and BENCHMARKS.md, in float64, one gate at a time:

        z = g(W_z x + R_z y' + b_z);  i = s(W_i x + R_i y' + p_i*c' + b_i)
        f = s(W_f x + R_f y' + p_f*c' + b_f);  c = z*i + c'*f
        o = s(W_o x + R_o y' + p_o*c + b_o);  y = h(c)*o  (then y W_proj with a projection)

    and the variants NIG i=1, NFG f=1, NOG o=1, NIAF g=id, NOAF h=id, NP no
    peepholes, CIFG f=1-i, FGR gates also see the previous i, f, o.
    The only thing taken from our code is where each block sits in the fused W, R, b.
    """
    H, v = cell.hidden_size, cell.variant
    arr = {k: np.asarray(a, np.float64) for k, a in params.items()}
    blocks = [g for g in "zifo" if not (g == "i" and v == "NIG") and not (g == "f" and v in ("NFG", "CIFG"))
              and not (g == "o" and v == "NOG")]
    W = {g: arr["W"][:, k * H:(k + 1) * H] for k, g in enumerate(blocks)}
    R = {g: arr["R"][:, k * H:(k + 1) * H] for k, g in enumerate(blocks)}
    b = {g: arr["b"][k * H:(k + 1) * H] for k, g in enumerate(blocks)}
    peep = {g: arr.get(f"p_{g}", np.zeros(H)) for g in "ifo"}  # zeros where absent
    R_gate = {(j, k): arr["R_ifo"][a * H:(a + 1) * H, c * H:(c + 1) * H]  # from previous gate j to gate k
              for a, j in enumerate("ifo") for c, k in enumerate("ifo")} if v == "FGR" else {}
    g_act = (lambda u: u) if v == "NIAF" else np.tanh
    h_act = (lambda u: u) if v == "NOAF" else np.tanh

    y = np.zeros(cell.output_size)
    c = np.zeros(H)
    prev = {"i": np.zeros(H), "f": np.zeros(H), "o": np.zeros(H)}
    ys = []
    for x in xs:
        def pre(g):
            a = x @ W[g] + y @ R[g] + b[g]
            if v == "FGR" and g != "z":  # 9 matrices: previous i, f, o into the gates i, f, o
                a = a + sum(prev[j] @ R_gate[(j, g)] for j in "ifo")
            return a

        z = g_act(pre("z"))
        i = np.ones(H) if v == "NIG" else sigmoid(pre("i") + peep["i"] * c)
        if v == "NFG":
            f = np.ones(H)
        elif v == "CIFG":
            f = 1.0 - i
        else:
            f = sigmoid(pre("f") + peep["f"] * c)
        c = z * i + c * f
        o = np.ones(H) if v == "NOG" else sigmoid(pre("o") + peep["o"] * c)
        y = h_act(c) * o
        if cell.proj_size:
            y = y @ arr["W_proj"]
        prev = {"i": i, "f": f, "o": o}
        ys.append(y)
    return np.stack(ys), c


# -- equivalence with references ---------------------------------------------------

@pytest.mark.parametrize("flax_class", [flax_nn.LSTMCell, flax_nn.OptimizedLSTMCell])
def test_equals_flax(flax_class):
    """flax gates i, f, g, o; ours z (= g), i, f, o: W = [ig|ii|if|io] kernels,
    R = [hg|hi|hf|ho] kernels, b = [hg|hi|hf|ho] biases (flax puts the bias on the h side)."""
    H = 4
    flax_cell = flax_class(features=H, bias_init=flax_nn.initializers.normal(0.5))
    xs = jnp.asarray(helpers.inputs(0))
    carry0 = (jnp.zeros(H), jnp.zeros(H))
    variables = flax_cell.init(jax.random.key(1), carry0, xs[0])
    p = variables["params"]
    (c_flax, h_flax), ys_flax = lax.scan(lambda c, x: flax_cell.apply(variables, c, x), carry0, xs)

    cell = LSTM(D, H)
    cat = lambda names, leaf: jnp.concatenate([p[n][leaf] for n in names], axis=-1)
    ours = {"W": cat(["ig", "ii", "if", "io"], "kernel"), "R": cat(["hg", "hi", "hf", "ho"], "kernel"),
            "b": cat(["hg", "hi", "hf", "ho"], "bias")}
    assert jax.tree.map(jnp.shape, ours) == jax.tree.map(jnp.shape, cell.init(jax.random.key(0)))
    for hoist in (False, True):
        carry, ys = recurrence.scan(cell, ours, xs, hoist=hoist)
        np.testing.assert_allclose(ys, ys_flax, atol=1e-5, rtol=1e-5)
        np.testing.assert_allclose(carry["c"], c_flax, atol=1e-5, rtol=1e-5)
        np.testing.assert_allclose(carry["h"], h_flax, atol=1e-5, rtol=1e-5)


GREFF_CELLS = ([LSTM(D, 4, peepholes=(v != "NP"), variant=v)
                for v in ("vanilla", "NIG", "NFG", "NOG", "NIAF", "NOAF", "NP", "CIFG", "FGR")]
               + [LSTM(D, 4), LSTM(D, 4, peepholes=True, proj_size=2), LSTM(D, 4, variant="CIFG", proj_size=3)])


@pytest.mark.parametrize("cell", GREFF_CELLS, ids=ids)
def test_equals_numpy_greff(cell):
    params = helpers.params_of(cell)
    xs = helpers.inputs(1)
    carry, ys = helpers.runners(cell)["plain"](params, xs)
    expected_ys, expected_c = numpy_greff(cell, params, xs)
    np.testing.assert_allclose(ys, expected_ys, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(carry["h"], expected_ys[-1], atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(carry["c"], expected_c, atol=1e-5, rtol=1e-5)


def test_variants_have_their_parameters():
    shapes = lambda cell: jax.tree.map(jnp.shape, jax.eval_shape(cell.init, jax.random.key(0)))
    H = 4
    assert shapes(LSTM(D, H)) == {"W": (D, 4 * H), "R": (H, 4 * H), "b": (4 * H,)}
    assert shapes(LSTM(D, H, variant="CIFG", peepholes=True)) == {
        "W": (D, 3 * H), "R": (H, 3 * H), "b": (3 * H,), "p_i": (H,), "p_o": (H,)}
    assert shapes(LSTM(D, H, variant="FGR"))["R_ifo"] == (3 * H, 3 * H)
    assert shapes(LSTM(D, H, proj_size=2)) == {"W": (D, 4 * H), "R": (2, 4 * H), "b": (4 * H,), "W_proj": (H, 2)}


# -- hand-computed values ----------------------------------------------------------

def test_hand_values():
    """All weights and biases 0 except W_z = 1 (D = H = 1): i = f = o = 1/2, z = tanh(x),
    c = z/2 + c'/2, y = tanh(c)/2. x = 1, 0 -> c = 0.3807971, 0.1903985; y = 0.1816997, 0.0940653."""
    cell = LSTM(1, 1)
    params = jax.tree.map(jnp.zeros_like, cell.init(jax.random.key(0)))
    params["W"] = jnp.array([[1.0, 0.0, 0.0, 0.0]])
    carry, ys = recurrence.scan(cell, params, jnp.array([[1.0], [0.0]]))
    np.testing.assert_allclose(ys[:, 0], [0.18169974, 0.09406533], rtol=1e-6)
    np.testing.assert_allclose(carry["c"], [0.19039854], rtol=1e-6)


def test_forget_bias_initialisation():
    params = LSTM(D, 4, forget_bias=1.0).init(jax.random.key(0))
    np.testing.assert_array_equal(params["b"], np.repeat([0.0, 0.0, 1.0, 0.0], 4))  # blocks z, i, f, o


# -- bad options (the shared properties, gradients, shapes and bad input: test_properties.py)

def test_bad_options():
    with pytest.raises(ValueError, match=r"unknown variant 'NXG'; expected one of \['vanilla', 'NIG'"):
        LSTM(2, 3, variant="NXG")
    with pytest.raises(ValueError, match="'NP' means no peepholes"):
        LSTM(2, 3, variant="NP", peepholes=True)
    with pytest.raises(ValueError, match="proj_size must be a positive int or None, got 0"):
        LSTM(2, 3, proj_size=0)
    with pytest.raises(ValueError, match="unknown activation 'tahn'"):
        LSTM(2, 3, output_activation="tahn")
