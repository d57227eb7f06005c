"""The properties every cell shares, over all cells: causality, padding invariance,
bidirectional with lengths, hoisted == plain, jit/vmap/grad == eager, finite
differences, shapes and dtypes, bad input. (minGRU/minLSTM run their own set in
test_min_rnn.py, with the associative and log-space scans among the runners.)"""

import dataclasses

import jax.numpy as jnp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from seqmodels.cells import GRU, LSTM, MGU, Elman, Jordan
from tests.cells import helpers
from tests.cells.helpers import D, T

CELLS = [LSTM(D, 4, peepholes=True, proj_size=2), LSTM(D, 4, variant="FGR"),
         GRU(D, 4, reset="before"), GRU(D, 4, reset="after"), MGU(D, 4),
         Elman(D, 4), Jordan(D, 5, out_size=2)]
CASES = helpers.property_cases(CELLS)
SHAPE_CELLS = [LSTM(2, 3), LSTM(2, 3, peepholes=True, variant="FGR"), LSTM(5, 3, proj_size=1),
               GRU(2, 3, reset="before"), GRU(2, 3, reset="after"), GRU(5, 1), MGU(2, 3), MGU(4, 1),
               Elman(2, 3), Jordan(3, 4), Jordan(3, 4, out_size=1)]


def ids(c):
    """LSTM(4, 4, peepholes=True, proj_size=2) -> 'LSTM-4-4-peepholes=True-proj_size=2'; runner names as they are."""
    if isinstance(c, str):
        return c
    fields = [f for f in dataclasses.fields(c) if f.default is not dataclasses.MISSING]
    changed = [f"{f.name}={getattr(c, f.name)}" for f in fields if getattr(c, f.name) != f.default]
    return "-".join([type(c).__name__, str(c.input_size), str(c.hidden_size)] + changed)


@pytest.mark.parametrize("cell,runner", CASES, ids=ids)
@given(seed=st.integers(0, 1000), t=st.integers(0, T - 1))
def test_causality(cell, runner, seed, t):
    helpers.check_causality(cell, runner, seed, t)


@pytest.mark.parametrize("cell,runner", CASES, ids=ids)
@given(seed=st.integers(0, 1000), length=st.integers(0, T), reverse=st.booleans())
def test_padding_invariance(cell, runner, seed, length, reverse):
    helpers.check_padding(cell, runner, seed, length, reverse)


@pytest.mark.parametrize("cell", CELLS, ids=ids)
@given(seed=st.integers(0, 1000), length=st.integers(0, T))
def test_bidirectional_with_lengths(cell, seed, length):
    helpers.check_bidirectional(cell, seed, length)


@pytest.mark.parametrize("cell", CELLS, ids=ids)
@given(seed=st.integers(0, 1000), length=st.integers(0, T), reverse=st.booleans())
def test_hoisted_equals_plain(cell, seed, length, reverse):
    helpers.check_hoist(cell, seed, length, reverse)


@pytest.mark.parametrize("cell", CELLS, ids=ids)
def test_jit_vmap_grad_equal_eager(cell):
    helpers.check_transforms(cell)


@pytest.mark.parametrize("cell", CELLS + [LSTM(D, 4, variant="CIFG", peepholes=True)], ids=ids)
def test_finite_difference_gradients(cell):
    helpers.check_gradients(cell)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
@pytest.mark.parametrize("cell", SHAPE_CELLS, ids=ids)
def test_shapes_and_dtypes(cell, dtype):
    helpers.check_shapes(cell, dtype)


@pytest.mark.parametrize("cell", CELLS, ids=ids)
def test_bad_input(cell):
    helpers.check_bad_input(cell)
