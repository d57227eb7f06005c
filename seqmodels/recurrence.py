"""Run a cell over a sequence: lengths, reverse, bidirectional, stacks,
carry in/out, truncated BPTT, and the associative scan for linear recurrences.

Everything here is written for ONE sequence `xs: [T, D]` with an optional
scalar `length` (right padding); batch with `jax.vmap`:

    layer = RNN(LSTM(64, 256))
    params = layer.init(key)
    carry, ys = jax.vmap(layer.apply, (None, 0, 0))(params, xs, lengths)   # xs: [B, T, D]

Masking model (shared by every layer of seqmodels): outputs at t >= length
are zeros; the final carry is the one after the last valid step; a reversed
pass reverses only the valid part x[:length].

Two execution paths give identical numbers (tests compare them):
  * plain:   the scan body is `cell.step(params, carry, x_t)`;
  * hoisted: `cell.input_projection(params, xs)` for all T steps as one
             [T, D] x [D, G] product outside the scan, the body only does the
             recurrent part. Which is faster depends on the backend; see
             `default_hoist` (measured by `python -m benchmarks.rnn`).
Cells with a linear recurrence (h_t = a_t * h_{t-1} + b_t: minGRU, minLSTM)
can also run as an associative scan (`linear_scan`), with `lax.scan` as its
reference.
"""

import dataclasses

import jax
import jax.numpy as jnp
from jax import lax

from seqmodels.array_types import Array, Float, Int, Key, Params
from seqmodels.cells import fused as fused_lib
from seqmodels.cells.base import Carry, Cell
from seqmodels.nn import dropout as dropout_lib


def default_hoist() -> bool:
    """Hoist the input projection out of the scan on accelerators, not on CPU.

    On the 2-core CPU of our CI machine the hoisted LSTM training step was
    slower (see README, benchmarks.rnn): reading a precomputed [T, G] array in
    the scan costs more than the small per-step product. On an H200 the
    hoisted plain scan was faster (LSTM 8.4 vs 9.8 ms, GRU 7.7 vs 8.9 ms per
    training step, README); TPUs are assumed to behave alike (not measured).
    """
    return jax.default_backend() != "cpu"


def check_sequence(xs: Array, input_size: int, name: str) -> None:
    if xs.ndim != 2 or xs.shape[-1] != input_size:
        hint = " (batch with jax.vmap)" if xs.ndim == 3 and xs.shape[-1] == input_size else ""
        raise ValueError(f"{name}: expected xs of shape [T, D] with D={input_size}, got {tuple(xs.shape)}{hint}")


def check_length(length: Array | int | None, T: int, name: str) -> None:
    if length is None:
        return
    length = jnp.asarray(length)
    if length.ndim != 0:
        raise ValueError(f"{name}: expected a scalar length per sequence (vmap over a [B] lengths array), "
                         f"got shape {tuple(length.shape)}")
    if not jnp.issubdtype(length.dtype, jnp.integer):
        raise ValueError(f"{name}: lengths must be integers, got dtype {length.dtype}")
    if not isinstance(length, jax.core.Tracer) and not 0 <= int(length) <= T:
        raise ValueError(f"{name}: length {int(length)} out of range [0, {T}]")


def reverse_valid(xs: Array, length: Array | int | None) -> Array:
    """Reverse the first `length` steps of xs [T, ...], leave the padding in place.

    It is its own inverse: reverse_valid(reverse_valid(xs, L), L) == xs.
    """
    T = xs.shape[0]
    if length is None:
        return xs[::-1]
    t = jnp.arange(T)
    index = jnp.where(t < length, length - 1 - t, t)  # [T]
    return jnp.take(xs, index, axis=0)


def check_batch(xs: Array, lengths, input_size: int, name: str) -> None:
    if xs.ndim != 3 or xs.shape[-1] != input_size:
        raise ValueError(f"{name}: expected a batch xs [B, T, D] with D={input_size}, got {tuple(xs.shape)}")
    if lengths is not None and (jnp.ndim(lengths) != 1 or jnp.shape(lengths)[0] != xs.shape[0]):
        raise ValueError(f"{name}: expected lengths [B] with B={xs.shape[0]}, got shape {tuple(jnp.shape(lengths))}")


def _vmap_apply(layer, params, xs, lengths, initial_carry):
    """vmap of layer.apply over the batch (params shared; carries batched if given)."""
    carry_axis = None if initial_carry is None else 0
    if lengths is None:
        return jax.vmap(lambda x, c: layer.apply(params, x, initial_carry=c), (0, carry_axis))(xs, initial_carry)
    return jax.vmap(lambda x, l, c: layer.apply(params, x, length=l, initial_carry=c),
                    (0, 0, carry_axis))(xs, lengths, initial_carry)


def _where_tree(pred, new, old):
    return jax.tree.map(lambda a, b: jnp.where(pred, a, b), new, old)


def scan(cell: Cell, params: Params, xs: Float[Array, "T D"], *,
         length: Int[Array, ""] | int | None = None,
         initial_carry: Carry | None = None,
         reverse: bool = False,
         hoist: bool | None = None,
         unroll: int = 1) -> tuple[Carry, Float[Array, "T H"]]:
    """Run `cell` over xs [T, D]; returns (final carry, ys [T, cell.output_size]).

    length:  valid steps (right padding); outputs past it are zeros and the
             final carry is the one after step length-1.
    reverse: run from the last valid step to the first; ys stay aligned with xs.
    hoist:   compute the input projection of all steps outside the scan
             (default: `default_hoist()`).
    unroll:  passed to `lax.scan`.
    """
    name = type(cell).__name__
    check_sequence(xs, cell.input_size, name)
    check_length(length, xs.shape[0], name)
    hoist = default_hoist() if hoist is None else hoist
    carry0 = cell.initial_carry(params) if initial_carry is None else initial_carry
    if reverse:
        xs = reverse_valid(xs, length)
    T = xs.shape[0]

    if hoist:
        inputs = cell.input_projection(params, xs)  # [T, G]
        body_step = cell.recurrent_step
    else:
        inputs = xs  # [T, D]
        body_step = cell.step

    if length is None:
        def body(carry, u_t):
            return body_step(params, carry, u_t)

        carry, ys = lax.scan(body, carry0, inputs, unroll=unroll)
    else:
        def body(carry, inp):
            u_t, t = inp
            new_carry, y_t = body_step(params, carry, u_t)
            valid = t < length
            return _where_tree(valid, new_carry, carry), jnp.where(valid, y_t, jnp.zeros_like(y_t))

        carry, ys = lax.scan(body, carry0, (inputs, jnp.arange(T)), unroll=unroll)

    if reverse:
        ys = reverse_valid(ys, length)
    return carry, ys


# -- linear recurrences: h_t = a_t * h_{t-1} + b_t --------------------------------

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


def scan_linear_cell(cell: Cell, params: Params, xs: Float[Array, "T D"], *,
                     length=None, initial_carry=None, reverse: bool = False,
                     parallel: bool = True) -> tuple[Carry, Array]:
    """Run a cell with `linear_coefficients` (minGRU/minLSTM) over xs.

    Padded steps become the identity map (a=1, b=0), so the carry after the
    last step is the carry after the last valid step.
    """
    name = type(cell).__name__
    check_sequence(xs, cell.input_size, name)
    check_length(length, xs.shape[0], name)
    h0 = cell.initial_carry(params) if initial_carry is None else initial_carry
    if reverse:
        xs = reverse_valid(xs, length)
    a, b = cell.linear_coefficients(params, xs)  # [T, H] each
    if length is not None:
        valid = (jnp.arange(xs.shape[0]) < length)[:, None]  # [T, 1]
        a = jnp.where(valid, a, 1.0)
        b = jnp.where(valid, b, 0.0)
    hs = (linear_scan if parallel else linear_scan_sequential)(a, b, h0)
    carry = hs[-1]
    ys = cell.output(params, hs) if hasattr(cell, "output") else hs
    if length is not None:
        ys = jnp.where(valid, ys, 0.0)
    if reverse:
        ys = reverse_valid(ys, length)
    return carry, ys


# -- sequence layers ----------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class RNN:
    """A cell run over time: `init(key)`, `apply(params, xs, *, length, initial_carry) -> (carry, ys)`.

    parallel: for cells with `linear_coefficients`, use the associative scan
              (in log space for cells with `log_space=True`, as minGRU/minLSTM).
    fused:    in `apply_batch`, use the fused whole-batch kernel with its
              hand-written backward pass where the cell supports it
              (`seqmodels.cells.fused`; default: whenever supported).

    `apply` is for one sequence (vmap it yourself); `apply_batch` is the model
    boundary: xs [B, T, D], lengths [B], and it picks the fastest path.
    """

    cell: Cell
    reverse: bool = False
    hoist: bool | None = None
    unroll: int = 1
    parallel: bool = True
    fused: bool | None = None

    @property
    def input_size(self) -> int:
        return self.cell.input_size

    @property
    def output_size(self) -> int:
        return self.cell.output_size

    def init(self, key: Key) -> Params:
        return self.cell.init(key)

    def initial_carry(self, params: Params) -> Carry:
        return self.cell.initial_carry(params)

    def apply(self, params: Params, xs: Float[Array, "T D"], *, length=None, initial_carry=None,
              key: Key | None = None) -> tuple[Carry, Array]:
        del key  # no randomness inside a cell
        if getattr(self.cell, "log_space", False) and self.parallel:
            from seqmodels.cells import min_rnn  # min_rnn imports this module

            return min_rnn.scan_log(self.cell, params, xs, length=length, initial_carry=initial_carry,
                                    reverse=self.reverse)
        if hasattr(self.cell, "linear_coefficients") and self.parallel:
            return scan_linear_cell(self.cell, params, xs, length=length, initial_carry=initial_carry,
                                    reverse=self.reverse)
        return scan(self.cell, params, xs, length=length, initial_carry=initial_carry,
                    reverse=self.reverse, hoist=self.hoist, unroll=self.unroll)

    def apply_batch(self, params: Params, xs: Float[Array, "B T D"], *, lengths=None, initial_carry=None,
                    key: Key | None = None) -> tuple[Carry, Array]:
        """Batched `apply`: xs [B, T, D], lengths [B] -> (carries with a leading B axis, ys [B, T, H])."""
        del key
        check_batch(xs, lengths, self.input_size, type(self.cell).__name__)
        if self.fused if self.fused is not None else fused_lib.supported(self.cell):
            if self.reverse:
                xs = jax.vmap(reverse_valid)(xs, lengths) if lengths is not None else xs[:, ::-1]
            carry, ys = fused_lib.batch(self.cell, params, xs, lengths=lengths, initial_carry=initial_carry,
                                        hoist=default_hoist() if self.hoist is None else self.hoist)
            if self.reverse:
                ys = jax.vmap(reverse_valid)(ys, lengths) if lengths is not None else ys[:, ::-1]
            return carry, ys
        return _vmap_apply(self, params, xs, lengths, initial_carry)


@dataclasses.dataclass(frozen=True)
class Bidirectional:
    """Forward and backward RNNs over the same sequence; outputs concatenated ([T, 2H]) or summed.

    The backward pass reverses only the valid part (x[:length]), so with
    padding its first output is the one that has seen x[length-1] ... x[0].
    Carries are returned as {'forward': ..., 'backward': ...}.
    """

    forward: RNN
    backward: RNN
    merge: str = "concat"

    def __post_init__(self):
        if self.merge not in ("concat", "sum"):
            raise ValueError(f"Bidirectional: merge must be 'concat' or 'sum', got {self.merge!r}")
        if self.backward.reverse is self.forward.reverse:
            raise ValueError("Bidirectional: the backward RNN needs reverse=True and the forward reverse=False")
        if self.merge == "sum" and self.forward.output_size != self.backward.output_size:
            raise ValueError(f"Bidirectional: merge='sum' needs equal output sizes, got "
                             f"{self.forward.output_size} and {self.backward.output_size}")

    @classmethod
    def of(cls, cell: Cell, merge: str = "concat", **rnn_options) -> "Bidirectional":
        return cls(RNN(cell, reverse=False, **rnn_options), RNN(cell, reverse=True, **rnn_options), merge)

    @property
    def input_size(self) -> int:
        return self.forward.input_size

    @property
    def output_size(self) -> int:
        f, b = self.forward.output_size, self.backward.output_size
        return f + b if self.merge == "concat" else f

    def init(self, key: Key) -> Params:
        kf, kb = jax.random.split(key)
        return {"forward": self.forward.init(kf), "backward": self.backward.init(kb)}

    def initial_carry(self, params: Params) -> Carry:
        return {"forward": self.forward.initial_carry(params["forward"]),
                "backward": self.backward.initial_carry(params["backward"])}

    def apply(self, params: Params, xs, *, length=None, initial_carry=None, key=None):
        init = initial_carry or {"forward": None, "backward": None}
        cf, yf = self.forward.apply(params["forward"], xs, length=length, initial_carry=init["forward"])
        cb, yb = self.backward.apply(params["backward"], xs, length=length, initial_carry=init["backward"])
        return {"forward": cf, "backward": cb}, self._merge(yf, yb)

    def apply_batch(self, params: Params, xs, *, lengths=None, initial_carry=None, key=None):
        init = initial_carry or {"forward": None, "backward": None}
        cf, yf = self.forward.apply_batch(params["forward"], xs, lengths=lengths, initial_carry=init["forward"])
        cb, yb = self.backward.apply_batch(params["backward"], xs, lengths=lengths, initial_carry=init["backward"])
        return {"forward": cf, "backward": cb}, self._merge(yf, yb)

    def _merge(self, yf, yb):
        return jnp.concatenate([yf, yb], axis=-1) if self.merge == "concat" else yf + yb


@dataclasses.dataclass(frozen=True)
class Stack:
    """Layers (RNN or Bidirectional) applied in turn, with optional residual
    connections (where input and output widths agree) and dropout between layers.

    apply(params, xs, *, length, initial_carry=None, key=None, deterministic=True)
      -> (list of final carries, ys of the last layer)
    """

    layers: tuple
    residual: bool = False
    drop_rate: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "layers", tuple(self.layers))
        if not self.layers:
            raise ValueError("Stack: needs at least one layer")
        for k in range(1, len(self.layers)):
            if self.layers[k].input_size != self.layers[k - 1].output_size:
                raise ValueError(f"Stack: layer {k} expects input size {self.layers[k].input_size} "
                                 f"but layer {k - 1} outputs {self.layers[k - 1].output_size}")
        if not 0.0 <= self.drop_rate < 1.0:
            raise ValueError(f"Stack: drop_rate must be in [0, 1), got {self.drop_rate}")

    @property
    def input_size(self) -> int:
        return self.layers[0].input_size

    @property
    def output_size(self) -> int:
        return self.layers[-1].output_size

    def init(self, key: Key) -> Params:
        keys = jax.random.split(key, len(self.layers))
        return {"layers": [layer.init(k) for layer, k in zip(self.layers, keys)]}

    def initial_carry(self, params: Params) -> list:
        return [layer.initial_carry(p) for layer, p in zip(self.layers, params["layers"])]

    def apply(self, params: Params, xs, *, length=None, initial_carry=None, key: Key | None = None,
              deterministic: bool = True):
        """One sequence xs [T, D]. Under your own vmap, give each example its own dropout key."""
        run = lambda layer, p, h, c: layer.apply(p, h, length=length, initial_carry=c)
        return self._run(run, params, xs, initial_carry, key, deterministic)

    def apply_batch(self, params: Params, xs, *, lengths=None, initial_carry=None, key: Key | None = None,
                    deterministic: bool = True):
        """A batch xs [B, T, D], lengths [B]; each layer takes its fastest batched path."""
        run = lambda layer, p, h, c: layer.apply_batch(p, h, lengths=lengths, initial_carry=c)
        return self._run(run, params, xs, initial_carry, key, deterministic)

    def _run(self, run_layer, params, xs, initial_carry, key, deterministic):
        carries = []
        h = xs
        init = initial_carry if initial_carry is not None else [None] * len(self.layers)
        for k, (layer, p) in enumerate(zip(self.layers, params["layers"])):
            if k > 0 and self.drop_rate > 0.0:
                h = dropout_lib.apply(h, self.drop_rate, key=None if key is None else jax.random.fold_in(key, k),
                                      deterministic=deterministic)
            carry, out = run_layer(layer, p, h, init[k])
            if self.residual and out.shape == h.shape:
                out = out + h
            carries.append(carry)
            h = out
        return carries, h


# -- truncated backpropagation through time -----------------------------------------

def truncated_bptt(layer, params: Params, xs: Float[Array, "T D"], chunk_size: int, *,
                   length=None, initial_carry=None) -> tuple[Carry, Array]:
    """Run `layer` (an RNN, Bidirectional is not causal) over xs in chunks of `chunk_size`
    steps, passing the carry on with `stop_gradient` between chunks.

    The forward values equal one pass over the whole sequence; gradients
    flow back at most `chunk_size` steps. T must be a multiple of chunk_size.
    """
    T = xs.shape[0]
    if chunk_size <= 0 or T % chunk_size:
        raise ValueError(f"truncated_bptt: chunk_size must be a positive divisor of T={T}, got {chunk_size}")
    if getattr(layer, "reverse", False):
        raise ValueError("truncated_bptt: a reversed layer is not causal; use a forward RNN")
    check_length(length, T, "truncated_bptt")
    n = T // chunk_size
    chunks = xs.reshape(n, chunk_size, xs.shape[-1])  # [T/c, c, D]
    carry0 = layer.initial_carry(params) if initial_carry is None else initial_carry

    def body(carry, inp):
        chunk, k = inp
        chunk_length = None if length is None else jnp.clip(length - k * chunk_size, 0, chunk_size)
        carry, ys = layer.apply(params, chunk, length=chunk_length, initial_carry=carry)
        return jax.lax.stop_gradient(carry), ys

    carry, ys = lax.scan(body, carry0, (chunks, jnp.arange(n)))
    return carry, ys.reshape(T, -1)
