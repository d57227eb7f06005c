"""minGRU and minLSTM: numpy transcriptions of Feng et al. 2024, every runner
against them and against the cell's own step, hand values, properties, training.

The sequential reference everywhere is `cell.step` (the paper's sequential
mode); the fast paths are `recurrence.scan_linear_cell` (associative scan in
linear space) and `recurrence.scan_log` (associative scan in log space; the
scan itself, `recurrence.linear_scan_log`, is tested in tests/test_recurrence.py).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from seqmodels import recurrence
from seqmodels.cells import MinGRU, MinLSTM, min_rnn
from tests.cells import helpers
from tests.cells.helpers import D, T
from tests.helpers import adam_train

CELLS = [MinGRU(D, 4), MinGRU(D, 4, log_space=False), MinLSTM(D, 4), MinLSTM(D, 4, log_space=False)]
# Properties on the log_space cells, which have all three runners (plain, parallel, log);
# log_space=False only changes the candidate (no g), checked against numpy and by hand.
CASES = helpers.property_cases([MinGRU(D, 4), MinLSTM(D, 4)])
ids = lambda c: f"{type(c).__name__}-{'log' if c.log_space else 'lin'}" if not isinstance(c, str) else c


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def numpy_g(v):
    return np.where(v >= 0, v + 0.5, sigmoid(v))


def numpy_min_rnn(cell, params, xs, h0=None):
    """The paper's sequential mode, in float64, with f' = f / (f + i) as written."""
    H = cell.hidden_size
    W, b = np.asarray(params["W"], np.float64), np.asarray(params["b"], np.float64)
    candidate = numpy_g if cell.log_space else (lambda v: v)
    h = np.zeros(H) if h0 is None else np.asarray(h0, np.float64)
    ys = []
    for x in xs:
        pre = x @ W + b
        if isinstance(cell, MinGRU):
            z = sigmoid(pre[:H])
            h = (1.0 - z) * h + z * candidate(pre[H:])
        else:
            f, i = sigmoid(pre[:H]), sigmoid(pre[H:2 * H])
            f_n, i_n = f / (f + i), i / (f + i)
            h = f_n * h + i_n * candidate(pre[2 * H:])
        ys.append(h)
    return np.stack(ys)


# -- equivalence with references ---------------------------------------------------

@pytest.mark.parametrize("cell", CELLS, ids=ids)
def test_every_runner_equals_numpy(cell):
    params = helpers.params_of(cell)
    xs = helpers.inputs(1)
    expected = numpy_min_rnn(cell, params, xs)
    for name, run in helpers.runners(cell).items():
        carry, ys = run(params, xs)
        np.testing.assert_allclose(ys, expected, atol=1e-5, rtol=1e-5, err_msg=name)
        np.testing.assert_allclose(carry, expected[-1], atol=1e-5, rtol=1e-5, err_msg=name)


@pytest.mark.parametrize("cell", [MinGRU(D, 4), MinLSTM(D, 4)], ids=ids)
def test_initial_carry(cell):
    """A given (positive, for the log scan) initial carry is used by every runner."""
    params = helpers.params_of(cell)
    xs = helpers.inputs(2)
    h0 = jnp.array([0.5, 1.0, 2.0, 0.1])
    expected = numpy_min_rnn(cell, params, xs, h0)
    for name, run in helpers.runners(cell).items():
        _, ys = run(params, xs, initial_carry=h0)
        np.testing.assert_allclose(ys, expected, atol=1e-5, rtol=1e-5, err_msg=name)


def test_g_and_log_g():
    v = jnp.array([-30.0, -1.0, 0.0, 1.0, 100.0])
    np.testing.assert_allclose(min_rnn.g(v), [sigmoid(-30.0), sigmoid(-1.0), 0.5, 1.5, 100.5], rtol=1e-6)
    np.testing.assert_allclose(min_rnn.log_g(v), np.log(numpy_g(np.asarray(v, np.float64))), rtol=1e-6)
    assert bool(jnp.all(jnp.isfinite(jax.grad(lambda u: min_rnn.log_g(u).sum())(v))))


# -- hand-computed values ----------------------------------------------------------

@pytest.mark.parametrize("cell", CELLS, ids=ids)
def test_hand_values(cell):
    """W = 0 and gate biases 0 (z = 1/2, or f' = i' = 1/2), candidate bias v:
    h_t = h_{t-1}/2 + c/2 from h_0 = 0, so h_t = c (1 - 2^-t), c = g(v) or v."""
    params = jax.tree.map(jnp.zeros_like, cell.init(jax.random.key(0)))
    v = jnp.array([-1.0, 0.0, 0.5, 2.0])
    params["b"] = params["b"].at[-4:].set(v)
    c = numpy_g(np.asarray(v, np.float64)) if cell.log_space else np.asarray(v)
    expected = c[None, :] * (1.0 - 0.5 ** np.arange(1, T + 1))[:, None]
    for name, run in helpers.runners(cell).items():
        _, ys = run(params, helpers.inputs(0))
        np.testing.assert_allclose(ys, expected, atol=1e-6, rtol=1e-5, err_msg=name)


# -- properties --------------------------------------------------------------------

@pytest.mark.parametrize("cell,runner", CASES, ids=ids)
@given(seed=st.integers(0, 1000), t=st.integers(0, T - 1))
def test_causality(cell, runner, seed, t):
    helpers.check_causality(cell, runner, seed, t)


@pytest.mark.parametrize("cell,runner", CASES, ids=ids)
@given(seed=st.integers(0, 1000), length=st.integers(0, T), reverse=st.booleans())
def test_padding_invariance(cell, runner, seed, length, reverse):
    helpers.check_padding(cell, runner, seed, length, reverse)


@pytest.mark.parametrize("cell", [MinGRU(D, 4), MinLSTM(D, 4)], ids=ids)
@given(seed=st.integers(0, 1000), length=st.integers(0, T))
def test_associative_scan_equals_lax_scan(cell, seed, length):
    """scan_linear_cell (parallel=True and False) and scan_log == lax.scan of the cell's own step."""
    params = helpers.params_of(cell)
    xs = helpers.inputs(seed)
    reference = helpers.runners(cell)["plain"](params, xs, lengths=jnp.asarray(length))
    for fast in (helpers.runners(cell)["parallel"], helpers.runners(cell)["log"],
                 lambda p, x, lengths: _scan_linear_sequential(cell, p, x, lengths=lengths)):
        helpers.assert_trees_close(fast(params, xs, lengths=jnp.asarray(length)), reference)


_scan_linear_sequential = jax.jit(lambda cell, p, x, lengths: recurrence.scan_linear_cell(
    cell, p, x, lengths=lengths, parallel=False), static_argnums=0)


@pytest.mark.parametrize("cell", [MinGRU(D, 4), MinLSTM(D, 4)], ids=ids)
@given(seed=st.integers(0, 1000), length=st.integers(0, T))
def test_bidirectional_with_lengths(cell, seed, length):
    helpers.check_bidirectional(cell, seed, length)


@pytest.mark.parametrize("cell", [MinGRU(D, 4), MinLSTM(D, 4)], ids=ids)
@given(seed=st.integers(0, 1000), length=st.integers(0, T), reverse=st.booleans())
def test_hoisted_equals_plain(cell, seed, length, reverse):
    helpers.check_hoist(cell, seed, length, reverse)


@pytest.mark.parametrize("cell", [MinGRU(D, 4), MinLSTM(D, 4)], ids=ids)
def test_jit_vmap_grad_equal_eager(cell):
    helpers.check_transforms(cell)


@pytest.mark.parametrize("runner", ["plain", "parallel", "log"])
@pytest.mark.parametrize("cell", [MinGRU(D, 4), MinLSTM(D, 4)], ids=ids)
def test_finite_difference_gradients(cell, runner):
    helpers.check_gradients(cell, runner)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
@pytest.mark.parametrize("cell", [MinGRU(2, 3), MinLSTM(2, 3), MinLSTM(5, 1, log_space=False)], ids=ids)
def test_shapes_and_dtypes(cell, dtype):
    helpers.check_shapes(cell, dtype)


# -- bad input ---------------------------------------------------------------------

@pytest.mark.parametrize("cell", [MinGRU(D, 4), MinLSTM(D, 4)], ids=ids)
def test_bad_input(cell):
    helpers.check_bad_input(cell)
    params = helpers.params_of(cell)
    with pytest.raises(ValueError, match=rf"expected input \[T, D\] with D={D}, got shape \(2, {T}, {D}\)"):
        cell.linear_coefficients(params, jnp.zeros((2, T, D)))


def test_log_coefficients_need_log_space():
    cell = MinGRU(D, 4, log_space=False)
    with pytest.raises(ValueError, match="needs log_space=True.*got log_space=False"):
        recurrence.scan_log(cell, helpers.params_of(cell), jnp.zeros((T, D)))


# -- training ----------------------------------------------------------------------

def test_loss_goes_down():
    """A minGRU (log-space scan) + linear readout learns the running mean of its input."""
    cell = MinGRU(1, 6)
    key_cell, key_out, key_data = jax.random.split(jax.random.key(0), 3)
    params = {"cell": cell.init(key_cell), "V": 0.1 * jax.random.normal(key_out, (6, 1)), "c": jnp.zeros(1)}
    xs = jax.random.normal(key_data, (16, 8, 1))  # [B, T, D]
    targets = jnp.cumsum(xs, axis=1) / jnp.arange(1, 9)[:, None]  # [B, T, 1]

    def loss_fn(params):
        _, hs = jax.vmap(lambda x: recurrence.scan_log(cell, params["cell"], x))(xs)  # [B, T, H]
        return jnp.mean((hs @ params["V"] + params["c"] - targets) ** 2)

    _, losses = adam_train(loss_fn, params, learning_rate=3e-2, steps=60)
    assert losses[-1] < 0.3 * losses[0], losses[::10]
