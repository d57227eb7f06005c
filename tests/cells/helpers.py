"""Checks shared by every cell's test file (test_rnn.py, test_gru.py, ...).

Every property test runs on the same shapes (T steps of D inputs) and jitted
functions take the cell as a static argument and `lengths` as a traced one,
so hypothesis examples reuse one compiled function per cell and runner.

The reference for all of them is a Python loop over `cell.step` (jitted once
per cell): it has no lengths, no reversal, no hoisting and no associative
scan, so each of those is checked against plain one-step-at-a-time code.
"""

import functools

import jax
import jax.test_util
import jax.numpy as jnp
import numpy as np
import pytest

from seqmodels import recurrence
from seqmodels.cells import ScanKind

T, D = 6, 3  # the shapes every property test uses
ATOL = 1e-5

_scan = jax.jit(recurrence.scan, static_argnums=0, static_argnames=("reverse", "hoist", "unroll"))
_scan_linear = jax.jit(recurrence.scan_linear_cell, static_argnums=0, static_argnames=("reverse", "parallel"))
_scan_log = jax.jit(recurrence.scan_log, static_argnums=0, static_argnames=("reverse",))
_step = jax.jit(lambda cell, params, carry, x_t: cell.step(params, carry, x_t), static_argnums=0)


@functools.lru_cache(maxsize=None)
def params_of(cell, seed: int = 0):
    """Random params (cells are hashable, so each is initialised once per session)."""
    params = cell.init(jax.random.key(seed))
    # Non-zero biases, so the tests see every bias term (init sets most to zero).
    return jax.tree.map(lambda p: p + 0.1 * jax.random.normal(jax.random.key(seed + 1), p.shape, p.dtype)
                        if p.ndim == 1 else p, params)


def inputs(seed: int, steps: int = T, width: int = D) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(steps, width)).astype(np.float32)


def property_cases(cells) -> list:
    """(cell, runner) pairs for the causality and padding properties. The hoisted runner
    shares the plain one's masking code and has its own test (check_hoist)."""
    return [(cell, name) for cell in cells for name in runners(cell) if name != "hoisted"]


def runners(cell) -> dict:
    """Every way to run `cell` over a sequence, as its scan_kind declares:
    name -> fn(params, xs, lengths=, reverse=) -> (carry, ys)."""
    out = {"plain": functools.partial(_scan, cell, hoist=False),
           "hoisted": functools.partial(_scan, cell, hoist=True)}
    if cell.scan_kind in (ScanKind.LINEAR, ScanKind.LOG_LINEAR):
        out["parallel"] = functools.partial(_scan_linear, cell, parallel=True)
    if cell.scan_kind is ScanKind.LOG_LINEAR:
        out["log"] = functools.partial(_scan_log, cell)
    return out


def step_loop(cell, params, xs, carry=None):
    """The reference: carry, ys from `cell.step` one step at a time (a Python loop)."""
    carry = cell.initial_carry(params) if carry is None else carry
    ys = []
    for x_t in xs:
        carry, y_t = _step(cell, params, carry, jnp.asarray(x_t))
        ys.append(y_t)
    ys = np.stack(ys) if ys else np.zeros((0, cell.output_size), np.float32)
    return carry, ys


def assert_trees_close(a, b, atol=ATOL, rtol=1e-5):
    jax.tree.map(lambda u, v: np.testing.assert_allclose(np.asarray(u), np.asarray(v), atol=atol, rtol=rtol),
                 a, b)


# -- properties -------------------------------------------------------------------

def check_causality(cell, runner: str, seed: int, t: int) -> None:
    """Changing x[t] leaves y[:t] unchanged (and does change y[t:])."""
    params, run = params_of(cell), runners(cell)[runner]
    xs = inputs(seed)
    xs2 = xs.copy()
    xs2[t] = inputs(seed + 1, 1)[0] + 1.0
    ys = np.asarray(run(params, xs)[1])  # numpy before slicing: jax slices compile per shape
    ys2 = np.asarray(run(params, xs2)[1])
    np.testing.assert_array_equal(ys[:t], ys2[:t])
    assert np.abs(ys2[t:] - ys[t:]).max() > 0.0


def check_padding(cell, runner: str, seed: int, length: int, reverse: bool) -> None:
    """With `length`, valid outputs and the final carry equal the step loop over x[:length],
    whatever the padding holds and however much of it there is; padded outputs are zeros."""
    params, run = params_of(cell), runners(cell)[runner]
    xs = inputs(seed)
    garbage = 10.0 * inputs(seed + 1, T + 2)
    xs_a = np.concatenate([xs[:length], garbage[:T - length]])  # [T, D]
    xs_b = np.concatenate([xs[:length], -garbage[:T + 2 - length]])  # [T+2, D]: more padding, other values
    valid = xs[:length][::-1] if reverse else xs[:length]
    carry_ref, ys_ref = step_loop(cell, params, valid)
    if reverse:
        ys_ref = ys_ref[::-1]
    for xs_padded in (xs_a, xs_b):
        carry, ys = run(params, xs_padded, lengths=jnp.asarray(length), reverse=reverse)
        ys = np.asarray(ys)
        assert ys.shape == (xs_padded.shape[0], cell.output_size)
        np.testing.assert_allclose(ys[:length], ys_ref, atol=ATOL, rtol=1e-5)
        np.testing.assert_array_equal(ys[length:], 0.0)
        assert_trees_close(carry, carry_ref)


_bi_apply = jax.jit(lambda layer, params, xs, length: layer.apply(params, xs, lengths=length), static_argnums=0)


def check_bidirectional(cell, seed: int, length: int) -> None:
    """recurrence.Bidirectional with lengths == forward loop + loop over the reversed valid part, by hand."""
    layer = recurrence.Bidirectional.of(cell, hoist=False)
    params = layer.init(jax.random.key(seed % 7))
    xs = inputs(seed)
    xs[length:] = 5.0  # padding, must not be read
    carry, ys = _bi_apply(layer, params, xs, jnp.asarray(length))

    carry_f, ys_f = step_loop(cell, params["forward"], xs[:length])
    carry_b, ys_b = step_loop(cell, params["backward"], xs[:length][::-1])  # x[L-1], ..., x[0]
    expected = np.zeros((T, 2 * cell.output_size), np.float32)
    expected[:length] = np.concatenate([ys_f, ys_b[::-1]], axis=-1)  # backward output at t has seen x[t:L]
    np.testing.assert_allclose(np.asarray(ys), expected, atol=ATOL, rtol=1e-5)
    assert_trees_close(carry, {"forward": carry_f, "backward": carry_b})


def check_hoist(cell, seed: int, length: int, reverse: bool) -> None:
    """The hoisted scan (input projection outside the loop) gives the plain scan's numbers."""
    params, run = params_of(cell), runners(cell)
    xs = inputs(seed)
    plain = run["plain"](params, xs, lengths=jnp.asarray(length), reverse=reverse)
    hoisted = run["hoisted"](params, xs, lengths=jnp.asarray(length), reverse=reverse)
    assert_trees_close(hoisted, plain, atol=1e-6)


# -- transformations and gradients -------------------------------------------------

def _loss(cell, params, xs, length, run=None):
    run = run or functools.partial(recurrence.scan, cell, hoist=False)
    carry, ys = run(params, xs, lengths=length)
    return jnp.sum(ys**2) + sum(jnp.sum(jnp.sin(c)) for c in jax.tree.leaves(carry))


def check_transforms(cell) -> None:
    """jit, vmap and grad give the same numbers as eager execution."""
    params = params_of(cell)
    xs = jnp.asarray(inputs(3))
    lengths = jnp.array([T, T - 2])
    eager = recurrence.scan(cell, params, xs, lengths=lengths[1], hoist=False)
    jitted = _scan(cell, params, xs, lengths=lengths[1], hoist=False)
    assert_trees_close(jitted, eager, atol=1e-6)

    batch = jnp.stack([xs, jnp.asarray(inputs(4))])  # [B, T, D]
    batched = jax.vmap(lambda x, L: recurrence.scan(cell, params, x, lengths=L, hoist=False))(batch, lengths)
    for b in range(2):
        one = _scan(cell, params, batch[b], lengths=lengths[b], hoist=False)
        assert_trees_close(jax.tree.map(lambda a: a[b], batched), one, atol=1e-6)

    grad_eager = jax.grad(_loss, argnums=1)(cell, params, xs, lengths[1])
    grad_jit = jax.jit(jax.grad(_loss, argnums=1), static_argnums=0)(cell, params, xs, lengths[1])
    assert_trees_close(grad_jit, grad_eager, atol=1e-5)
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grad_eager))


def check_gradients(cell, runner: str = "plain", steps: int = 4) -> None:
    """Finite differences agree with reverse-mode gradients w.r.t. params and inputs.

    In float64 (tight tolerances), except the "parallel" runner:
    `recurrence.linear_scan` always computes in float32, so its check is
    float32 with eps = 1e-3 and 1e-2 tolerances.
    """
    run = runners(cell)[runner]
    f = jax.jit(lambda p, x: _loss(cell, p, x, jnp.asarray(steps - 1), run))
    if runner == "parallel":
        jax.test_util.check_grads(f, (params_of(cell), jnp.asarray(inputs(5, steps))), order=1, modes=["rev"],
                                  eps=1e-3, atol=1e-2, rtol=1e-2)
        return
    with jax.enable_x64(True):
        params = jax.tree.map(lambda p: p.astype(jnp.float64), params_of(cell))
        xs = jnp.asarray(inputs(5, steps), jnp.float64)
        jax.test_util.check_grads(f, (params, xs), order=1, modes=["rev"], eps=1e-6, atol=1e-6, rtol=1e-5)


# -- shapes and dtypes -------------------------------------------------------------

def check_shapes(cell, dtype) -> None:
    """ys: [T, output_size] and the carry keep the params' dtype; traced only (jax.eval_shape)."""
    params = jax.eval_shape(functools.partial(cell.init, dtype=dtype), jax.random.key(0))
    xs = jax.ShapeDtypeStruct((T, cell.input_size), dtype)
    carry0 = jax.eval_shape(cell.initial_carry, params)
    for name, run in runners(cell).items():
        carry, ys = jax.eval_shape(lambda p, x: run(p, x, lengths=jnp.asarray(T - 1)), params, xs)
        assert ys.shape == (T, cell.output_size) and ys.dtype == dtype, (name, ys)
        assert jax.tree.structure(carry) == jax.tree.structure(carry0)
        for c, c0 in zip(jax.tree.leaves(carry), jax.tree.leaves(carry0)):
            assert c.shape == c0.shape and c.dtype == dtype == c0.dtype, (name, c, c0)
    carry, y = jax.eval_shape(cell.step, params, carry0, jax.ShapeDtypeStruct((cell.input_size,), dtype))
    assert y.shape == (cell.output_size,) and y.dtype == dtype


# -- bad input ---------------------------------------------------------------------

def check_bad_input(cell) -> None:
    """Wrong input width or rank: ValueError naming the expected D and the received shape."""
    params = params_of(cell)
    carry = cell.initial_carry(params)
    D_ = cell.input_size
    with pytest.raises(ValueError, match=rf"D={D_}.*\({D_ + 1},\)"):
        cell.step(params, carry, jnp.zeros(D_ + 1))
    with pytest.raises(ValueError, match=rf"D={D_}.*\(2, {D_}\).*vmap"):
        cell.step(params, carry, jnp.zeros((2, D_)))
    for run in runners(cell).values():
        with pytest.raises(ValueError, match=rf"D={D_}.*\({T}, {D_ + 1}\)"):
            run(params, jnp.zeros((T, D_ + 1)))
        with pytest.raises(ValueError, match=rf"D={D_}.*\(2, {T}, {D_}\).*vmap"):
            run(params, jnp.zeros((2, T, D_)))
