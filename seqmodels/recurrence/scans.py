"""A cell over ONE sequence xs [T, D] with an optional scalar `lengths` (right padding).

Masking model (shared by every layer of seqmodels): outputs at t >= lengths
are zeros; the final carry is the one after the last valid step; a reversed
pass reverses only the valid part x[:lengths].

Every fast path sits beside its reference, and the tests compare their values:

    fast                                          reference
    scan(hoist=True): the input projection of     scan(hoist=False): `cell.step` in the body
      all T steps outside the loop
    linear_scan: associative scan of              linear_scan_sequential: `lax.scan`
      h_t = a_t * h_{t-1} + b_t
    linear_scan_log: the same on logarithms       linear_scan_sequential on exp of the inputs
      (a, b, h_0 >= 0)
    scan_linear_cell, scan_log: a LINEAR or       scan: the cell's own `step`
      LOG_LINEAR cell (minGRU, minLSTM) over xs

Inputs, checked before any work, one rule for every runner here, in `fused`
and in `layers`:

    lengths        `seqmodels.nn.lengths.check_lengths`: integers in [0, T] where
                   concrete, clamped to [0, T] where traced (under jit; masks
                   need no op for it, `reverse_valid` clamps its index)
    params         the tree and shapes of `cell.init(key)` (`Cell.check_params`)
    initial_carry  one example: the tree and shapes of `cell.initial_carry(params)`;
                   a batch (`batch_carry`): each leaf either shared (that shape,
                   broadcast to the batch) or per example (a leading [B] axis)
    dtypes         the scan runs in `jnp.result_type` of xs, params and carry, and
                   the carry is cast up to it (float16 params with float32 xs run
                   in float32; same-dtype inputs are never cast)
"""

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from seqmodels.array_types import Array, Float, Int, Params
from seqmodels.cells.base import Carry, Cell, cast_tree, compute_dtype
from seqmodels.nn.lengths import check_lengths, clamp_lengths


def default_hoist() -> bool:
    """Hoist the input projection out of the scan on accelerators, not on CPU.

    On a CPU, reading a precomputed [T, G] array inside the scan costs more
    than the small per-step product; on a GPU the hoisted scan is faster
    (TPUs assumed alike, not measured). Figures: benchmarks/README.md.
    """
    return jax.default_backend() != "cpu"


# -- checks and masking -------------------------------------------------------------

def check_sequence(xs: Array, input_size: int, name: str) -> None:
    if xs.ndim != 2 or xs.shape[-1] != input_size:
        hint = " (batch with jax.vmap)" if xs.ndim == 3 and xs.shape[-1] == input_size else ""
        raise ValueError(f"{name}: expected xs of shape [T, D] with D={input_size}, got {tuple(xs.shape)}{hint}")


def check_batch(xs: Array, lengths, input_size: int, name: str) -> None:
    """ValueError unless xs is [B, T, D] with D=input_size and `lengths` None or valid [B] (`check_lengths`)."""
    if xs.ndim != 3 or xs.shape[-1] != input_size:
        raise ValueError(f"{name}: expected a batch xs [B, T, D] with D={input_size}, got {tuple(xs.shape)}")
    check_lengths(lengths, xs.shape[1], name, batch=xs.shape[0])


def start_carry(cell: Cell, params: Params, initial_carry: Carry | None, *inputs) -> Carry:
    """The carry a scan over `inputs` starts from: `initial_carry` (checked against the cell's) or the
    cell's zeros, cast up to the dtype the cell computes in with these params and inputs."""
    if initial_carry is None:
        carry = cell.initial_carry(params)
    else:
        cell.check_carry(initial_carry)
        carry = initial_carry
    return cast_tree(carry, compute_dtype(carry, params, *inputs))


def batch_carry(cell: Cell, params: Params, initial_carry: Carry | None, B: int, name: str) -> Carry | None:
    """The rule of `apply_batch(initial_carry=...)` on every path: a carry of B examples ([B, ...] leaves).

    Each leaf is compared with the cell's own carry (`cell.initial_carry(params)`, one example): a leaf of
    that shape is shared and broadcast to [B, ...]; a leaf with a leading [B] axis is per example and
    passed on as it is; any other shape or tree is a ValueError naming both expected shapes.
    """
    if initial_carry is None:
        return None
    expected = cell.carry_shapes()
    got_leaves, got_tree = jax.tree_util.tree_flatten_with_path(initial_carry)
    want_leaves, want_tree = jax.tree_util.tree_flatten(expected)
    shapes = lambda tree: jax.tree.map(lambda a: tuple(np.shape(a)), tree)  # noqa: E731
    if got_tree != want_tree:
        raise ValueError(f"{name}: initial_carry must have the tree of the cell's carry, {shapes(expected)} "
                         f"(shared) or with a leading [B] = [{B}] axis (per example), got {shapes(initial_carry)}")
    out = []
    for (path, leaf), want in zip(got_leaves, want_leaves):
        shape = tuple(np.shape(leaf))
        if shape == want.shape:
            out.append(jnp.broadcast_to(leaf, (B,) + want.shape))
        elif shape == (B,) + want.shape:
            out.append(leaf)
        else:
            raise ValueError(f"{name}: initial_carry{jax.tree_util.keystr(path)} has shape {shape}; expected "
                             f"{want.shape} (shared by the batch) or {(B,) + want.shape} (per example)")
    return jax.tree_util.tree_unflatten(want_tree, out)


def reverse_valid(xs: Array, lengths: Array | int | None) -> Array:
    """Reverse the first `lengths` steps of xs [T, ...], leave the padding in place.

    It is its own inverse: reverse_valid(reverse_valid(xs, L), L) == xs.
    """
    T = xs.shape[0]
    if lengths is None:
        return xs[::-1]
    lengths = clamp_lengths(lengths, T)  # the index below computes with it (nn.lengths)
    t = jnp.arange(T)
    index = jnp.where(t < lengths, lengths - 1 - t, t)  # [T]
    return jnp.take(xs, index, axis=0)


def _where_tree(pred, new, old):
    return jax.tree.map(lambda a, b: jnp.where(pred, a, b), new, old)


# -- any cell: plain and hoisted lax.scan ---------------------------------------------

def scan(cell: Cell, params: Params, xs: Float[Array, "T D"], *,
         lengths: Int[Array, ""] | int | None = None,
         initial_carry: Carry | None = None,
         reverse: bool = False,
         hoist: bool | None = None,
         unroll: int = 1) -> tuple[Carry, Float[Array, "T H"]]:
    """Run `cell` over xs [T, D]; returns (final carry, ys [T, cell.output_size]).

    lengths: valid steps (right padding); outputs past it are zeros and the
             final carry is the one after step lengths-1.
    reverse: run from the last valid step to the first; ys stay aligned with xs.
    hoist:   compute the input projection of all steps outside the scan
             (default: `default_hoist()`); the reference is hoist=False.
    unroll:  passed to `lax.scan`.
    """
    name = type(cell).__name__
    check_sequence(xs, cell.input_size, name)
    lengths = check_lengths(lengths, xs.shape[0], name)
    cell.check_params(params)
    hoist = default_hoist() if hoist is None else hoist
    carry0 = start_carry(cell, params, initial_carry, xs)
    if reverse:
        xs = reverse_valid(xs, lengths)
    T = xs.shape[0]

    if hoist:
        inputs = cell.input_projection(params, xs)  # [T, G]
        body_step = cell.recurrent_step
    else:
        inputs = xs  # [T, D]
        body_step = cell.step

    if lengths is None:
        def body(carry, u_t):
            return body_step(params, carry, u_t)

        carry, ys = lax.scan(body, carry0, inputs, unroll=unroll)
    else:
        def body(carry, inp):
            u_t, t = inp
            new_carry, y_t = body_step(params, carry, u_t)
            valid = t < lengths
            return _where_tree(valid, new_carry, carry), jnp.where(valid, y_t, jnp.zeros_like(y_t))

        carry, ys = lax.scan(body, carry0, (inputs, jnp.arange(T)), unroll=unroll)

    if reverse:
        ys = reverse_valid(ys, lengths)
    return carry, ys


# -- linear recurrences: h_t = a_t * h_{t-1} + b_t --------------------------------------

def linear_scan_sequential(a: Float[Array, "T H"], b: Float[Array, "T H"], h0: Float[Array, "H"]) -> Float[Array, "T H"]:
    """Reference: h_t = a_t * h_{t-1} + b_t with `lax.scan`; returns h_1..h_T."""

    def body(h, ab):
        a_t, b_t = ab
        h = a_t * h + b_t
        return h, h

    _, hs = lax.scan(body, h0, (a, b))
    return hs


def linear_scan(a: Float[Array, "T H"], b: Float[Array, "T H"], h0: Float[Array, "H"]) -> Float[Array, "T H"]:
    """h_t = a_t * h_{t-1} + b_t for all t with `lax.associative_scan` (O(log T) depth).

    The pair (a, b) stands for the map h -> a h + b; composing two maps is
    (a1, b1) then (a2, b2) = (a1 a2, a2 b1 + b2), which is associative.
    h0 is folded into the first step. Accumulates in float32 at least.
    """
    dtype = b.dtype
    acc = jnp.promote_types(dtype, jnp.float32)
    a, b = a.astype(acc), b.astype(acc)
    b = b.at[0].add(a[0] * h0.astype(acc))

    def compose(left, right):
        a1, b1 = left
        a2, b2 = right
        return a1 * a2, a2 * b1 + b2

    _, hs = lax.associative_scan(compose, (a, b))
    return hs.astype(dtype)


def linear_scan_log(log_a: Float[Array, "T H"], log_b: Float[Array, "T H"],
                    log_h0: Float[Array, "H"]) -> Float[Array, "T H"]:
    """h_t = a_t * h_{t-1} + b_t for positive a, b, h_0 given by their logs; returns h_1..h_T.

    In logs the map h -> a h + b is (log a, log b), and composing two maps is

        (la1, lb1) then (la2, lb2) = (la1 + la2, logaddexp(la2 + lb1, lb2)),

    which is associative, so `lax.associative_scan` runs it in O(log T)
    depth. The minGRU paper (after Heinsen 2023) instead writes
    log h_t = A_t + logcumsumexp(log b - A)_t with A = cumsum(log a), which
    subtracts two numbers that grow like T; the pairwise form never does.
    log b = -inf (b = 0) and log h_0 = -inf (h_0 = 0) are allowed.
    Reference: `linear_scan_sequential` on exp of the inputs (tests).
    Accumulates in float32 at least (float64 stays float64).
    """
    dtype = log_b.dtype
    acc = jnp.promote_types(dtype, jnp.float32)
    log_a, log_b = log_a.astype(acc), log_b.astype(acc)
    log_b = log_b.at[0].set(jnp.logaddexp(log_a[0] + log_h0.astype(acc), log_b[0]))

    def compose(left, right):
        la1, lb1 = left
        la2, lb2 = right
        return la1 + la2, jnp.logaddexp(la2 + lb1, lb2)

    _, log_hs = lax.associative_scan(compose, (log_a, log_b))
    return jnp.exp(log_hs).astype(dtype)


def _scan_coefficients(cell: Cell, params: Params, xs, lengths, initial_carry, reverse, coefficients,
                       identity: tuple[float, float], run) -> tuple[Carry, Array]:
    """The contract of `scan` for a cell whose step is h_t = a_t h_{t-1} + b_t, given as `coefficients(params,
    xs)` -> (a, b) [T, H] (or their logs) and run by `run(a, b, h0)`; padded steps are the identity map."""
    name = type(cell).__name__
    check_sequence(xs, cell.input_size, name)
    lengths = check_lengths(lengths, xs.shape[0], name)
    cell.check_params(params)
    if initial_carry is not None:
        cell.check_carry(initial_carry)
    h0 = cell.initial_carry(params) if initial_carry is None else initial_carry
    if reverse:
        xs = reverse_valid(xs, lengths)
    a, b = coefficients(params, xs)  # [T, H] each
    if lengths is not None:
        valid = (jnp.arange(xs.shape[0]) < lengths)[:, None]  # [T, 1]
        a = jnp.where(valid, a, identity[0])
        b = jnp.where(valid, b, identity[1])
    hs = run(a, b, h0)  # [T, H]
    carry = hs[-1]
    ys = hs if lengths is None else jnp.where(valid, hs, 0.0)  # the output is the state
    if reverse:
        ys = reverse_valid(ys, lengths)
    return carry, ys


def scan_linear_cell(cell: Cell, params: Params, xs: Float[Array, "T D"], *,
                     lengths: Int[Array, ""] | int | None = None,
                     initial_carry: Carry | None = None,
                     reverse: bool = False,
                     parallel: bool = True) -> tuple[Carry, Float[Array, "T H"]]:
    """Run a LINEAR or LOG_LINEAR cell (its `linear_coefficients`: minGRU, minLSTM) over xs [T, D].

    The contract of `scan`. Padded steps become the identity map (a=1, b=0),
    so the carry after the last step is the carry after the last valid step.
    parallel: `linear_scan`, else its reference `linear_scan_sequential`.
    """
    return _scan_coefficients(cell, params, xs, lengths, initial_carry, reverse, cell.linear_coefficients,
                              (1.0, 0.0), linear_scan if parallel else linear_scan_sequential)


def scan_log(cell: Cell, params: Params, xs: Float[Array, "T D"], *,
             lengths: Int[Array, ""] | int | None = None,
             initial_carry: Carry | None = None,
             reverse: bool = False) -> tuple[Carry, Float[Array, "T H"]]:
    """Run a LOG_LINEAR cell (its `log_coefficients`: minGRU, minLSTM with log_space=True) with `linear_scan_log`.

    The contract of `scan`; padded steps are the identity map (log a = 0,
    log b = -inf). The initial carry must be >= 0 (zeros by default); its
    gradient is undefined where it is 0.
    """
    return _scan_coefficients(cell, params, xs, lengths, initial_carry, reverse, cell.log_coefficients,
                              (0.0, -jnp.inf), lambda log_a, log_b, h0: linear_scan_log(log_a, log_b, jnp.log(h0)))
