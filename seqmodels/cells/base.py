"""The cell contract: a recurrent cell is the body of a `lax.scan`.

A cell is a small frozen dataclass that holds only static options (sizes,
variant, activation names). It is hashable, so it can be a static argument
of `jax.jit`; its methods are pure functions of explicit parameters:

    cell = LSTM(input_size=D, hidden_size=H, peepholes=True)
    params = cell.init(key)                        # nested dict of arrays
    carry = cell.initial_carry(params)             # zeros
    carry, y_t = cell.step(params, carry, x_t)     # x_t: [D] -> y_t: [cell.output_size]

`step` is split in two so that `seqmodels.recurrence` can hoist the
input-dependent part of every time step out of the scan:

    step(params, carry, x_t) == recurrent_step(params, carry, input_projection(params, x_t))

`input_projection` works on any leading axes (`[D]` or `[T, D]`), so the
whole sequence's projection is ONE matrix product `[T, D] @ [D, G]`.

Every cell declares how `seqmodels.recurrence` may run it over time, its
`scan_kind` (a `ScanKind`); `recurrence.RNN` matches on it, never probes for
methods. Every kind also runs step by step. Cells whose recurrence is linear
in the carry (minGRU, minLSTM) declare LINEAR and define
`linear_coefficients(params, xs) -> (a, b)` with h_t = a_t * h_{t-1} + b_t,
which lets the recurrence run as an associative (parallel) scan; LOG_LINEAR
cells (a, b > 0) also define `log_coefficients` for the log-space scan. A
subclass that changes a cell's equations declares its own kind (STEP is
always right).

Checks every cell shares (ValueError naming the argument, what was expected
and what was received, before any matrix product):

    sizes    input_size, hidden_size (and a cell's other sizes): positive
             ints, not bool (`LSTM(8, True)` is refused), in `__post_init__`
    params   `check_params`: the tree and shapes of `init(key)` (from
             `jax.eval_shape`, once per cell), e.g. params of another size
    carry    `check_carry`: the tree and shapes of `initial_carry(params)`

Dtypes are not checked but promoted: `seqmodels.recurrence` runs a cell in
`jnp.result_type` of xs, params and carry (float16 params with float32 xs
compute in float32), casting the carry up to it (`compute_dtype`).
"""

import dataclasses
import enum
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from seqmodels.array_types import Array, Float, Key, Params

Carry = Any  # a pytree of arrays (e.g. {'h': [H], 'c': [H]})


class ScanKind(enum.Enum):
    """How `seqmodels.recurrence` may run a cell over time (the cell's `scan_kind`).

    STEP        `lax.scan` of `step` (or of `recurrent_step` after a hoisted `input_projection`)
    LINEAR      h_t = a_t * h_{t-1} + b_t: `linear_coefficients` -> associative scan
    LOG_LINEAR  LINEAR with a, b > 0: also `log_coefficients` -> associative scan on logarithms
    FUSED_LSTM  STEP, and a whole-batch LSTM kernel with a hand-written backward pass (`apply_batch`)
    FUSED_GRU   STEP, and the same for GRU(reset="after")
    """

    STEP = "step"
    LINEAR = "linear"
    LOG_LINEAR = "log_linear"
    FUSED_LSTM = "fused_lstm"
    FUSED_GRU = "fused_gru"


@dataclasses.dataclass(frozen=True)
class Cell:
    """Base class: subclasses set the fields and implement the four methods."""

    input_size: int
    hidden_size: int

    def __post_init__(self):
        for name in ("input_size", "hidden_size"):
            check_size(self, name)

    # -- to implement ---------------------------------------------------------
    def init(self, key: Key) -> Params:
        raise NotImplementedError

    def initial_carry(self, params: Params) -> Carry:
        raise NotImplementedError

    def input_projection(self, params: Params, x: Float[Array, "... D"]) -> Float[Array, "... G"]:
        raise NotImplementedError

    def recurrent_step(self, params: Params, carry: Carry, gx_t: Float[Array, "G"]) -> tuple[Carry, Array]:
        raise NotImplementedError

    # -- LINEAR and LOG_LINEAR cells only --------------------------------------
    def linear_coefficients(self, params: Params, xs: Float[Array, "T D"]) -> tuple[Array, Array]:
        """(a [T, H], b [T, H]) with h_t = a_t * h_{t-1} + b_t."""
        raise NotImplementedError(f"{type(self).__name__} is a {self.scan_kind.name} cell: no linear_coefficients")

    def log_coefficients(self, params: Params, xs: Float[Array, "T D"]) -> tuple[Array, Array]:
        """(log a [T, H], log b [T, H]) of `linear_coefficients`."""
        raise NotImplementedError(f"{type(self).__name__} is a {self.scan_kind.name} cell: no log_coefficients")

    # -- shared ---------------------------------------------------------------
    @property
    def scan_kind(self) -> ScanKind:
        """How `seqmodels.recurrence` may run this cell (see ScanKind); STEP unless a subclass says more."""
        return ScanKind.STEP

    @property
    def output_size(self) -> int:
        return self.hidden_size

    def step(self, params: Params, carry: Carry, x_t: Float[Array, "D"]) -> tuple[Carry, Array]:
        """One time step: (carry, x_t) -> (carry, y_t), the `lax.scan` body signature."""
        self.check_input(x_t, rank=1)
        self.check_params(params)
        self.check_carry(carry, what="carry")
        return self.recurrent_step(params, carry, self.input_projection(params, x_t))

    def __call__(self, params, carry, x_t):
        return self.step(params, carry, x_t)

    # -- checks ---------------------------------------------------------------
    def check_params(self, params: Params) -> None:
        """ValueError unless `params` has the tree and shapes of `self.init(key)` (any dtype)."""
        _check_tree(f"{self.label}: params", params, _param_shapes(self), "a batch of params? vmap over them")

    def check_carry(self, carry: Carry, *, what: str = "initial_carry") -> None:
        """ValueError unless `carry` has the tree and shapes of `self.initial_carry(params)` (one example)."""
        _check_tree(f"{self.label}: {what}", carry, self.carry_shapes(), "a batched carry? vmap over it, "
                    "or pass it to apply_batch")

    def carry_shapes(self) -> Carry:
        """The carry of one example as a tree of `jax.ShapeDtypeStruct` (dtype: that of float32 params)."""
        return _carry_shapes(self)

    @property
    def label(self) -> str:
        """`Name(input_size=D, hidden_size=H)`, the head of error messages."""
        return f"{type(self).__name__}(input_size={self.input_size}, hidden_size={self.hidden_size})"

    def check_input(self, x: Array, rank: int) -> None:
        """ValueError unless x has `rank` axes and last axis input_size."""
        letters = {1: "[D]", 2: "[T, D]"}[rank]
        if x.ndim != rank or x.shape[-1] != self.input_size:
            raise ValueError(
                f"{type(self).__name__}: expected input {letters} with D={self.input_size}, "
                f"got shape {tuple(x.shape)}" + (" (batch with jax.vmap)" if x.ndim == rank + 1 else ""))


# -- shared checks ----------------------------------------------------------------------

def check_size(cell, name: str, *, optional: bool = False) -> None:
    """ValueError unless the field `name` of `cell` is a positive int (not a bool; None too if `optional`)."""
    value = getattr(cell, name)
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{type(cell).__name__}: {name} must be a positive int{' or None' if optional else ''}, "
                         f"got {value!r}")


def compute_dtype(*trees) -> jnp.dtype:
    """The dtype a cell computes in given its xs, params and carry: `jnp.result_type` of all their leaves."""
    return jnp.result_type(*[leaf.dtype for tree in trees for leaf in jax.tree.leaves(tree)])


def cast_tree(tree, dtype):
    """`tree` with every leaf of another dtype cast to `dtype` (leaves already in it are left as they are)."""
    return jax.tree.map(lambda a: a if a.dtype == dtype else a.astype(dtype), tree)


@functools.lru_cache(maxsize=None)
def _param_shapes(cell: "Cell") -> Params:
    return jax.eval_shape(cell.init, jax.random.key(0))


@functools.lru_cache(maxsize=None)
def _carry_shapes(cell: "Cell") -> Carry:
    return jax.eval_shape(cell.initial_carry, _param_shapes(cell))


def _shapes(tree) -> Any:
    """The tree with each leaf replaced by its shape, for messages."""
    return jax.tree.map(lambda a: tuple(np.shape(a)), tree)


def _check_tree(what: str, got, expected, batched_hint: str) -> None:
    """ValueError unless `got` has the tree structure and leaf shapes of `expected` (ShapeDtypeStructs);
    `batched_hint` is added where a leaf has one axis too many."""
    got_leaves, got_tree = jax.tree_util.tree_flatten_with_path(got)
    want_leaves, want_tree = jax.tree_util.tree_flatten_with_path(expected)
    if got_tree != want_tree:
        raise ValueError(f"{what}: expected the tree {_shapes(expected)}, got {_shapes(got)}")
    for (path, leaf), (_, want) in zip(got_leaves, want_leaves):
        shape = tuple(np.shape(leaf))
        if shape != want.shape:
            hint = f"; {batched_hint}" if shape[1:] == want.shape else ""
            raise ValueError(f"{what}{jax.tree_util.keystr(path)} has shape {shape}, expected {want.shape} "
                             f"(expected shapes: {_shapes(expected)}{hint})")
