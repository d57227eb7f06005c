"""Sequence layers over cells: RNN, Bidirectional, Stack, and truncated BPTT.

`apply` runs one sequence xs [T, D] with scalar `lengths` (vmap it
yourself); `apply_batch` is the model boundary, xs [B, T, D] with lengths
[B], and takes the fastest path the cell declares. Its `initial_carry` is,
on every path, either shared (the shape of `initial_carry(params)`) or per
example (a leading [B] axis), leaf by leaf (`scans.batch_carry`).
"""

import dataclasses

import jax
import jax.numpy as jnp
from jax import lax

from seqmodels.array_types import Array, Float, Int, Key, Params
from seqmodels.cells.base import Carry, Cell, ScanKind
from seqmodels.nn import dropout as dropout_lib
from seqmodels.recurrence import fused as fused_lib
from seqmodels.recurrence import scans


def _vmap_apply(layer, params, xs, lengths, initial_carry):
    """vmap of layer.apply over the batch (params shared; carries batched if given)."""
    carry_axis = None if initial_carry is None else 0
    if lengths is None:
        return jax.vmap(lambda x, c: layer.apply(params, x, initial_carry=c), (0, carry_axis))(xs, initial_carry)
    return jax.vmap(lambda x, l, c: layer.apply(params, x, lengths=l, initial_carry=c),
                    (0, 0, carry_axis))(xs, lengths, initial_carry)


@dataclasses.dataclass(frozen=True)
class RNN:
    """A cell run over time: `init(key)`, `apply(params, xs, *, lengths, initial_carry) -> (carry, ys)`.

    `apply` and `apply_batch` match on the cell's declared `scan_kind`:

        apply:        LOG_LINEAR -> scans.scan_log, LINEAR -> scans.scan_linear_cell
                      (while `parallel`); any other kind -> scans.scan
        apply_batch:  FUSED_LSTM, FUSED_GRU -> fused.batch (while `fused` is not False);
                      any other kind -> `apply` under vmap

    hoist:    for scans.scan, the input projection outside the loop (default: scans.default_hoist()).
    unroll:   for scans.scan, passed to `lax.scan`.
    parallel: for LINEAR / LOG_LINEAR cells, the associative scan; False: scans.scan of `step`.
    fused:    in `apply_batch`, the fused whole-batch kernel with its hand-written
              backward pass (`recurrence.fused`); None: whenever the cell declares one,
              True: always (ValueError for a cell without one).
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

    @property
    def causal(self) -> bool:
        """Whether output t sees only x[:t + 1] (what truncated BPTT needs)."""
        return not self.reverse

    def init(self, key: Key) -> Params:
        return self.cell.init(key)

    def initial_carry(self, params: Params) -> Carry:
        return self.cell.initial_carry(params)

    def apply(self, params: Params, xs: Float[Array, "T D"], *, lengths: Int[Array, ""] | int | None = None,
              initial_carry: Carry | None = None, key: Key | None = None) -> tuple[Carry, Array]:
        del key  # no randomness inside a cell
        options = dict(lengths=lengths, initial_carry=initial_carry, reverse=self.reverse)
        match self.cell.scan_kind if self.parallel else ScanKind.STEP:
            case ScanKind.LOG_LINEAR:
                return scans.scan_log(self.cell, params, xs, **options)
            case ScanKind.LINEAR:
                return scans.scan_linear_cell(self.cell, params, xs, **options)
            case _:  # STEP, and the fused kernels' cells one sequence at a time
                return scans.scan(self.cell, params, xs, hoist=self.hoist, unroll=self.unroll, **options)

    def apply_batch(self, params: Params, xs: Float[Array, "B T D"], *, lengths: Int[Array, "B"] | None = None,
                    initial_carry: Carry | None = None, key: Key | None = None) -> tuple[Carry, Array]:
        """Batched `apply`: xs [B, T, D], lengths [B] -> (carries with a leading B axis, ys [B, T, H]).

        initial_carry: shared by the batch (the shape of `initial_carry(params)`) or per example (a
        leading [B] axis), leaf by leaf, on the fused and the scan paths alike (`scans.batch_carry`).
        """
        del key
        name = type(self.cell).__name__
        scans.check_batch(xs, None, self.input_size, name)
        lengths = scans.check_lengths(lengths, xs.shape[1], name, batch=xs.shape[0])
        fused = fused_lib.supported(self.cell) if self.fused is None else self.fused
        if fused:
            fused_lib.check_supported(self.cell)
        self.cell.check_params(params)
        initial_carry = scans.batch_carry(self.cell, params, initial_carry, xs.shape[0], name)
        if fused:
            if self.reverse:
                xs = jax.vmap(scans.reverse_valid)(xs, lengths) if lengths is not None else xs[:, ::-1]
            carry, ys = fused_lib.batch(self.cell, params, xs, lengths=lengths, initial_carry=initial_carry,
                                        hoist=scans.default_hoist() if self.hoist is None else self.hoist)
            if self.reverse:
                ys = jax.vmap(scans.reverse_valid)(ys, lengths) if lengths is not None else ys[:, ::-1]
            return carry, ys
        return _vmap_apply(self, params, xs, lengths, initial_carry)


@dataclasses.dataclass(frozen=True)
class Bidirectional:
    """Forward and backward RNNs over the same sequence; outputs concatenated ([T, 2H]) or summed.

    The backward pass reverses only the valid part (x[:lengths]), so with
    padding its first output is the one that has seen x[lengths-1] ... x[0].
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

    @property
    def causal(self) -> bool:
        return False

    def init(self, key: Key) -> Params:
        kf, kb = jax.random.split(key)
        return {"forward": self.forward.init(kf), "backward": self.backward.init(kb)}

    def initial_carry(self, params: Params) -> Carry:
        return {"forward": self.forward.initial_carry(params["forward"]),
                "backward": self.backward.initial_carry(params["backward"])}

    def apply(self, params: Params, xs, *, lengths=None, initial_carry=None, key=None):
        init = _directions(initial_carry)
        cf, yf = self.forward.apply(params["forward"], xs, lengths=lengths, initial_carry=init["forward"])
        cb, yb = self.backward.apply(params["backward"], xs, lengths=lengths, initial_carry=init["backward"])
        return {"forward": cf, "backward": cb}, self._merge(yf, yb)

    def apply_batch(self, params: Params, xs, *, lengths=None, initial_carry=None, key=None):
        init = _directions(initial_carry)
        cf, yf = self.forward.apply_batch(params["forward"], xs, lengths=lengths, initial_carry=init["forward"])
        cb, yb = self.backward.apply_batch(params["backward"], xs, lengths=lengths, initial_carry=init["backward"])
        return {"forward": cf, "backward": cb}, self._merge(yf, yb)

    def _merge(self, yf, yb):
        return jnp.concatenate([yf, yb], axis=-1) if self.merge == "concat" else yf + yb


def _directions(initial_carry) -> dict:
    """Bidirectional's initial_carry: None or {'forward': carry or None, 'backward': carry or None}."""
    if initial_carry is None:
        return {"forward": None, "backward": None}
    if not isinstance(initial_carry, dict) or set(initial_carry) - {"forward", "backward"}:
        got = f"a dict with keys {list(initial_carry)}" if isinstance(initial_carry, dict) else \
            type(initial_carry).__name__
        raise ValueError(f"Bidirectional: initial_carry must be a dict {{'forward': carry, 'backward': carry}} "
                         f"(either may be None), got {got}")
    return {"forward": initial_carry.get("forward"), "backward": initial_carry.get("backward")}


@dataclasses.dataclass(frozen=True)
class Stack:
    """Layers (RNN or Bidirectional) applied in turn, with optional residual
    connections (where input and output widths agree) and dropout between layers.

    apply(params, xs, *, lengths=None, initial_carry=None, key=None, deterministic=False)
      -> (list of final carries, ys of the last layer)

    With drop_rate > 0 and deterministic=False, `key` is required (the
    project's one rule for every layer with dropout).
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

    @property
    def causal(self) -> bool:
        return all(layer.causal for layer in self.layers)

    def init(self, key: Key) -> Params:
        keys = jax.random.split(key, len(self.layers))
        return {"layers": [layer.init(k) for layer, k in zip(self.layers, keys)]}

    def initial_carry(self, params: Params) -> list:
        return [layer.initial_carry(p) for layer, p in zip(self.layers, params["layers"])]

    def apply(self, params: Params, xs, *, lengths=None, initial_carry=None, key: Key | None = None,
              deterministic: bool = False):
        """One sequence xs [T, D]. Under your own vmap, give each example its own dropout key."""
        run = lambda layer, p, h, c: layer.apply(p, h, lengths=lengths, initial_carry=c)
        return self._run(run, params, xs, initial_carry, key, deterministic)

    def apply_batch(self, params: Params, xs, *, lengths=None, initial_carry=None, key: Key | None = None,
                    deterministic: bool = False):
        """A batch xs [B, T, D], lengths [B]; each layer takes its fastest batched path."""
        run = lambda layer, p, h, c: layer.apply_batch(p, h, lengths=lengths, initial_carry=c)
        return self._run(run, params, xs, initial_carry, key, deterministic)

    def _run(self, run_layer, params, xs, initial_carry, key, deterministic):
        carries = []
        h = xs
        init = initial_carry if initial_carry is not None else [None] * len(self.layers)
        if not isinstance(init, (list, tuple)) or len(init) != len(self.layers):
            raise ValueError(f"Stack: initial_carry must be a list of {len(self.layers)} carries (one per layer, "
                             f"or None), got {type(init).__name__}"
                             + (f" of {len(init)}" if isinstance(init, (list, tuple)) else ""))
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
                   lengths: Int[Array, ""] | int | None = None,
                   initial_carry: Carry | None = None) -> tuple[Carry, Array]:
    """Run a causal `layer` (a forward RNN, or a Stack of them) over xs in chunks of
    `chunk_size` steps, passing the carry on with `stop_gradient` between chunks.

    The forward values equal one pass over the whole sequence; gradients
    flow back at most `chunk_size` steps. T must be a multiple of chunk_size.
    """
    T = xs.shape[0]
    if chunk_size <= 0 or T % chunk_size:
        raise ValueError(f"truncated_bptt: chunk_size must be a positive divisor of T={T}, got {chunk_size}")
    if not layer.causal:
        raise ValueError(f"truncated_bptt: {type(layer).__name__} is not causal (a reversed or bidirectional "
                         f"pass); use forward RNNs")
    lengths = scans.check_lengths(lengths, T, "truncated_bptt")
    n = T // chunk_size
    chunks = xs.reshape(n, chunk_size, xs.shape[-1])  # [T/c, c, D]
    carry0 = layer.initial_carry(params) if initial_carry is None else initial_carry

    def body(carry, inp):
        chunk, k = inp
        chunk_lengths = None if lengths is None else jnp.clip(lengths - k * chunk_size, 0, chunk_size)
        carry, ys = layer.apply(params, chunk, lengths=chunk_lengths, initial_carry=carry)
        return jax.lax.stop_gradient(carry), ys

    carry, ys = lax.scan(body, carry0, (chunks, jnp.arange(n)))
    return carry, ys.reshape(T, -1)
