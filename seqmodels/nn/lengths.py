"""The one rule for `lengths`, shared by every layer that takes them (recurrence, conv, attention).

`lengths` counts the valid frames of a right-padded sequence: a scalar per
example (`apply`, code for one example), or a [B] vector at a batch boundary
(`apply_batch`). Every layer passes its `lengths` through `check_lengths`
before using them:

    dtype     integers only (a Python int, a NumPy or JAX integer scalar or
              array); bool and floating values are refused (ValueError naming
              `lengths` and the dtype): 5.5 frames has no meaning, and a
              comparison t < 5.5 would silently mean 6
    shape     [] per example, [B] at a batch boundary (ValueError otherwise)
    values    concrete (a Python or NumPy value, or a JAX array outside `jit`):
              each must lie in [0, T], else ValueError naming the value and T;
              traced (under `jit`, `vmap`, `grad`): clamped to [0, T], since a
              traced value cannot raise without `checkify`. A length below 0
              then means 0 (all outputs zero), one above T means T (no padding)

How the clamp is applied: a layer that only compares positions with the
length (masks t < L) gets the clamped result without any op, since t < L
for t in [0, T) is the same mask for L and for clip(L, 0, T); `check_lengths`
then returns the length as given, and the compiled code of a valid input is
the code it had before the check (to the bit: an extra integer op can change
how XLA fuses the float ops around it). A layer that computes with L (a
reversed pass's index L - 1 - t, a mean over L frames, a count of blocks)
calls `clamp_lengths` before that arithmetic. Values are returned as given
(a Python int stays an int: blockwise attention uses it statically).
"""

import jax
import jax.numpy as jnp
import numpy as np

from seqmodels.array_types import Array

LengthsLike = Array | np.ndarray | int | None


def check_lengths(lengths: LengthsLike, T: int, name: str, *, batch: int | None = None,
                  arg: str = "lengths") -> LengthsLike:
    """`lengths` checked by the rule of this module and returned as given (None stays None); a traced value
    is not clamped here: masks (t < lengths) need no clamp, arithmetic on it needs `clamp_lengths`.

    T:      the number of frames `lengths` counts (valid values are 0..T).
    name:   the calling layer, which heads the error message.
    batch:  None for one example (a scalar), B for a batch boundary (a [B] vector).
    arg:    the argument's name in messages (`query_lengths`, `context_lengths`, ...).
    """
    if lengths is None:
        return None
    dtype = lengths.dtype if hasattr(lengths, "dtype") else np.asarray(lengths).dtype
    if dtype == np.bool_ or not jnp.issubdtype(dtype, jnp.integer):
        raise ValueError(f"{name}: {arg} must be integers (an int or an integer array), got {arg}="
                         f"{_show(lengths)} of dtype {np.dtype(dtype).name}")
    shape = tuple(np.shape(lengths))
    if batch is None and shape != ():
        raise ValueError(f"{name}: expected {arg} as an int scalar per example (vmap over a [B] {arg} "
                         f"array), got shape {shape}")
    if batch is not None and shape != (batch,):
        raise ValueError(f"{name}: expected {arg} [B] with B={batch}, got shape {shape}")
    if isinstance(lengths, jax.core.Tracer):
        return lengths  # clamped in effect: see the module docstring
    values = np.asarray(lengths)
    bad = (values < 0) | (values > T)
    if bad.any():
        if batch is None:
            raise ValueError(f"{name}: {arg} {int(values)} out of range [0, {T}]")
        i = int(np.argmax(bad))
        raise ValueError(f"{name}: {arg} {values.tolist()} out of range [0, {T}] "
                         f"({arg}[{i}] = {int(values[i])})")
    return lengths


def clamp_lengths(lengths: LengthsLike, T: int) -> LengthsLike:
    """`lengths` clamped to [0, T] where traced, for a layer that computes with them (not only masks);
    concrete values (checked by `check_lengths`) and None are returned as given."""
    if not isinstance(lengths, jax.core.Tracer):
        return lengths
    top = min(T, int(jnp.iinfo(lengths.dtype).max))  # an int8 length cannot exceed 127 anyway
    return jnp.clip(lengths, 0, top)


def _show(lengths) -> str:
    return "(traced)" if isinstance(lengths, jax.core.Tracer) else repr(np.asarray(lengths).tolist())


__all__ = ["check_lengths", "clamp_lengths"]
