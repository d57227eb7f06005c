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

Cells whose recurrence is linear in the carry (minGRU, minLSTM) also define
`linear_coefficients(params, xs) -> (a, b)` with h_t = a_t * h_{t-1} + b_t,
which lets the recurrence run as an associative (parallel) scan.
"""

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from seqmodels.array_types import Array, Float, Key, Params

Carry = Any  # a pytree of arrays (e.g. {'h': [H], 'c': [H]})


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

    # -- shared ---------------------------------------------------------------
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


def zeros_like_carry(shape_tree, dtype=jnp.float32):
    return jax.tree.map(lambda s: jnp.zeros(s, dtype), shape_tree, is_leaf=lambda s: isinstance(s, tuple))
