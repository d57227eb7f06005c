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
"""

import dataclasses
import enum
from typing import Any

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
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"{type(self).__name__}: {name} must be a positive int, got {value!r}")

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
        return self.recurrent_step(params, carry, self.input_projection(params, x_t))

    def __call__(self, params, carry, x_t):
        return self.step(params, carry, x_t)

    def check_input(self, x: Array, rank: int) -> None:
        """ValueError unless x has `rank` axes and last axis input_size."""
        letters = {1: "[D]", 2: "[T, D]"}[rank]
        if x.ndim != rank or x.shape[-1] != self.input_size:
            raise ValueError(
                f"{type(self).__name__}: expected input {letters} with D={self.input_size}, "
                f"got shape {tuple(x.shape)}" + (" (batch with jax.vmap)" if x.ndim == rank + 1 else ""))
