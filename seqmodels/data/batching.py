"""Sources, padding, bucketing and batch iterators (numpy only; the model side vmaps).

A *source* is anything with `len(source)` and `source[i] -> dict of arrays`
(one example, time first): a TFDS data source (`tfds.data_source(...)`,
`builders.prepare(...)`) or the in-memory sources here:

    ArraySource({'x': x, 'y': y})         fields indexed along their first axis
                                          (lists of variable-length arrays allowed)
    MapSource(source, fn)                 fn(example) -> example, applied on read
    WindowSource(series, window, stride)  windows of one long series (language
                                          modelling, Santa Fe), optional next-step targets

A *batch* is a dict of numpy arrays with the batch axis first:

    {'x': [B, T, ...], 'y': ..., 'lengths': [B] int32}

Fields named in `seq_keys` are right-padded with `pad_value` along their
time axis to a common length; `lengths` holds the valid length of
`seq_keys[0]` and `<key>_lengths` that of every other seq key. Other fields
are stacked as they are.

`TrainIterator` is infinite over epochs. The batches of epoch e are a pure
function of (seed, e): a permutation of the examples, cut into batches (per
length bucket when bucketing, then the batches shuffled), so the whole
position of the iterator is three ints:

    it.get_state() -> {'seed': s, 'epoch': e, 'position': p}   (JSON as it is)
    it.set_state(state)   # the next batch is batch p of epoch e

and a restored iterator yields exactly what the saved one would have.
`eval_batches` is finite, in order, every example once, fixed batch shape.
"""

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

Example = dict[str, Any]
Batch = dict[str, np.ndarray]


# --------------------------------------------------------------------------- sources


class ArraySource:
    """In-memory source: example i is {name: field[i]} for every field.

    Fields are numpy arrays `[N, ...]` or lists of N arrays (ragged, e.g.
    variable-length token sequences); all fields must have the same N.
    """

    def __init__(self, fields: Mapping[str, Any]):
        if not fields:
            raise ValueError("ArraySource needs at least one field, got an empty mapping")
        sizes = {name: len(value) for name, value in fields.items()}
        if len(set(sizes.values())) != 1:
            raise ValueError(f"ArraySource: every field needs the same number of examples, got {sizes}")
        self.fields = dict(fields)
        self._n = next(iter(sizes.values()))

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: int) -> Example:
        if not -self._n <= i < self._n:
            raise IndexError(f"ArraySource index {i} out of range for {self._n} examples")
        return {name: value[i] for name, value in self.fields.items()}

    def __getitems__(self, indices: Sequence[int]) -> list[Example]:
        return [self[int(i)] for i in indices]


class MapSource:
    """`fn` applied to each example on read: MapSource(src, fn)[i] == fn(src[i])."""

    def __init__(self, source, fn: Callable[[Example], Example]):
        self.source = source
        self.fn = fn

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, i: int) -> Example:
        return self.fn(self.source[i])

    def __getitems__(self, indices: Sequence[int]) -> list[Example]:
        return [self.fn(ex) for ex in _read(self.source, indices)]


class WindowSource:
    """Windows of one long series `[L, ...]`: example i is series[i*stride : i*stride + window].

    With `next_step=True` the example is {'x': s[a : a+W], 'y': s[a+1 : a+W+1]}
    (next-step prediction: language modelling, Santa Fe); otherwise {'x': s[a : a+W]}.
    """

    def __init__(self, series, window: int, stride: int | None = None, *, next_step: bool = False):
        series = np.asarray(series)
        if series.ndim < 1:
            raise ValueError(f"WindowSource needs a series with a time axis [L, ...], got shape {series.shape}")
        stride = window if stride is None else stride
        if window < 1 or stride < 1:
            raise ValueError(f"WindowSource: window and stride must be >= 1, got window={window}, stride={stride}")
        needed = window + int(next_step)
        if len(series) < needed:
            raise ValueError(f"WindowSource: series of length {len(series)} is shorter than one window ({needed})")
        self.series, self.window, self.stride, self.next_step = series, window, stride, next_step
        self._n = (len(series) - needed) // stride + 1

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: int) -> Example:
        if not 0 <= i < self._n:
            raise IndexError(f"WindowSource index {i} out of range for {self._n} windows")
        a = i * self.stride
        if self.next_step:
            return {"x": self.series[a: a + self.window], "y": self.series[a + 1: a + self.window + 1]}
        return {"x": self.series[a: a + self.window]}

    def __getitems__(self, indices: Sequence[int]) -> list[Example]:
        return [self[int(i)] for i in indices]


def _read(source, indices) -> list[Example]:
    """Examples at `indices`, through the source's batched read (`__getitems__`) when it has one."""
    indices = [int(i) for i in indices]
    getitems = getattr(source, "__getitems__", None)
    if getitems is not None:
        try:
            return list(getitems(indices))
        except TypeError:  # tfds 4.9.10's mock_data binds __getitems__ wrongly; one at a time still works
            pass  # (a genuine TypeError from the source raises again below)
    return [source[i] for i in indices]


def example_lengths(source, seq_keys: Sequence[str] = ("x",)) -> np.ndarray:
    """[N] int: for each example, the longest of its seq_keys fields (one pass over the source)."""
    out = np.empty(len(source), np.int64)
    for start in range(0, len(source), 1024):
        exs = _read(source, range(start, min(start + 1024, len(source))))
        for j, ex in enumerate(exs):
            out[start + j] = max(_len(ex, k) for k in seq_keys)
    return out


def _len(example: Example, key: str) -> int:
    if key not in example:
        raise ValueError(f"sequence field {key!r} not in the example; it has fields {sorted(example)}")
    value = np.asarray(example[key])
    if value.ndim < 1:
        raise ValueError(f"sequence field {key!r} must have a time axis, got a scalar of shape {value.shape}")
    return value.shape[0]


# --------------------------------------------------------------------------- padding


def pad_batch(
    examples: Sequence[Example],
    *,
    seq_keys: Sequence[str] = ("x",),
    pad_to: int | None = None,
    pad_multiple: int = 1,
    pad_value: float = 0,
) -> Batch:
    """Stack examples into a batch, right-padding the `seq_keys` fields along time.

    Every seq field is padded to the same length L: `pad_to` when given,
    else the longest seq field in the batch rounded up to `pad_multiple`.
    Returns the fields plus 'lengths' [B] int32 (valid length of seq_keys[0])
    and '<key>_lengths' for the other seq keys.
    """
    if not examples:
        raise ValueError("pad_batch needs at least one example, got none")
    if not seq_keys:
        raise ValueError("pad_batch needs at least one seq key (the field whose valid length is 'lengths')")
    if pad_multiple < 1:
        raise ValueError(f"pad_multiple must be >= 1, got {pad_multiple}")
    lengths = {k: np.asarray([_len(ex, k) for ex in examples], np.int32) for k in seq_keys}  # [B] each
    longest = max(int(v.max()) for v in lengths.values())
    if pad_to is None:
        pad_to = -(-longest // pad_multiple) * pad_multiple
    elif longest > pad_to:
        key = max(seq_keys, key=lambda k: int(lengths[k].max()))
        raise ValueError(f"pad_batch: field {key!r} has a sequence of length {longest} > pad_to={pad_to}")
    batch: Batch = {}
    for name in examples[0]:
        values = [np.asarray(ex[name]) for ex in examples]
        if name in seq_keys:
            first = values[0]
            out = np.full((len(values), pad_to) + first.shape[1:], pad_value, dtype=first.dtype)  # [B, L, ...]
            for b, v in enumerate(values):
                if v.shape[1:] != first.shape[1:]:
                    raise ValueError(
                        f"pad_batch: field {name!r} needs the same feature shape in every example, "
                        f"expected [T, {', '.join(map(str, first.shape[1:]))}] but got shape {v.shape}"
                    )
                out[b, : len(v)] = v
            batch[name] = out
        else:
            shapes = {v.shape for v in values}
            if len(shapes) != 1:
                raise ValueError(
                    f"pad_batch: field {name!r} is not a seq key, so every example needs the same shape; "
                    f"got shapes {sorted(shapes)} (add it to seq_keys to pad it)"
                )
            batch[name] = np.stack(values)
    batch["lengths"] = lengths[seq_keys[0]]
    for k in seq_keys[1:]:
        batch[f"{k}_lengths"] = lengths[k]
    return batch


# --------------------------------------------------------------------------- bucketing


def quantile_boundaries(lengths, num_buckets: int, multiple: int = 8) -> tuple[int, ...]:
    """Bucket upper bounds at length quantiles, rounded up to `multiple`; the last one covers the longest example."""
    lengths = np.asarray(lengths)
    if num_buckets < 1 or lengths.size == 0:
        raise ValueError(
            f"quantile_boundaries needs num_buckets >= 1 and some lengths, got {num_buckets}, {lengths.size}"
        )
    qs = np.quantile(lengths, np.arange(1, num_buckets + 1) / num_buckets)
    bounds = sorted({int(-(-int(np.ceil(q)) // multiple) * multiple) for q in qs})
    return tuple(bounds)


def epoch_batches(
    num_examples: int,
    batch_size: int,
    seed: int,
    epoch: int,
    *,
    lengths: np.ndarray | None = None,
    bucket_boundaries: Sequence[int] | None = None,
    drop_remainder: bool = True,
    shuffle: bool = True,
) -> list[np.ndarray]:
    """The batches (arrays of example indices) of one epoch: a pure function of (seed, epoch).

    Without buckets: a permutation cut into consecutive batches
    (`shuffle=False`: the examples in their stored order, every epoch alike,
    as code that cycles through a fixed array does). With buckets
    (upper bounds; bucket j holds lengths in (b_{j-1}, b_j]): the permutation
    split by bucket keeping its order, each bucket cut into batches, then the
    list of batches permuted. `drop_remainder` drops each partial batch
    (False keeps every example exactly once per epoch).
    """
    if not shuffle and bucket_boundaries is not None:
        raise ValueError("epoch_batches: shuffle=False is for unbucketed batches; bucketing permutes batches")
    rng = np.random.default_rng([seed, epoch])
    perm = rng.permutation(num_examples) if shuffle else np.arange(num_examples)  # [N]
    if bucket_boundaries is None:
        groups = [perm]
    else:
        bucket = np.searchsorted(np.asarray(bucket_boundaries), np.asarray(lengths)[perm], side="left")  # [N]
        groups = [perm[bucket == j] for j in range(len(bucket_boundaries))]
    batches = []
    for group in groups:
        for start in range(0, len(group), batch_size):
            chunk = group[start: start + batch_size]
            if len(chunk) == batch_size or not drop_remainder:
                batches.append(chunk)
    if bucket_boundaries is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


# --------------------------------------------------------------------------- iterators


class TrainIterator(Iterator[Batch]):
    """Infinite, shuffled, resumable batches of `source`.

    Args:
      source: len() and [i] -> example dict (see the module docstring).
      batch_size: B.
      seed: shuffling seed; epoch e's order depends only on (seed, e).
      seq_keys: fields padded along time (the first one gives 'lengths').
      bucket_boundaries: upper bounds of length buckets (ascending); each
        batch comes from one bucket and is padded to its bound. Example
        length = longest of its seq_keys fields. Longer examples raise.
      lengths: precomputed example lengths [N] (else one pass over the source
        when bucketing).
      pad_to, pad_multiple, pad_value: padding without buckets (see pad_batch).
      drop_remainder: drop partial batches (fixed B for jit). With buckets
        and drop_remainder=False every example appears once per epoch.
      transform: fn(batch) -> batch applied last (e.g. normalisation).
      shuffle: False keeps the stored order in every epoch (no buckets).
    """

    def __init__(
        self,
        source,
        batch_size: int,
        *,
        seed: int = 0,
        seq_keys: Sequence[str] = ("x",),
        bucket_boundaries: Sequence[int] | None = None,
        lengths=None,
        pad_to: int | None = None,
        pad_multiple: int = 1,
        pad_value: float = 0,
        drop_remainder: bool = True,
        transform: Callable[[Batch], Batch] | None = None,
        shuffle: bool = True,
    ):
        n = len(source)
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        if n == 0:
            raise ValueError("TrainIterator: the source is empty (0 examples)")
        if drop_remainder and bucket_boundaries is None and n < batch_size:
            raise ValueError(
                f"TrainIterator: {n} examples cannot fill one batch of {batch_size} with drop_remainder=True"
            )
        self.source, self.batch_size, self.seq_keys = source, int(batch_size), tuple(seq_keys)
        self.pad_to, self.pad_multiple, self.pad_value = pad_to, pad_multiple, pad_value
        self.drop_remainder, self.transform, self.shuffle = drop_remainder, transform, bool(shuffle)
        if not self.shuffle and bucket_boundaries is not None:
            raise ValueError("TrainIterator: shuffle=False cannot be combined with bucket_boundaries "
                             "(bucketing permutes the batches)")
        self.bucket_boundaries = None if bucket_boundaries is None else tuple(int(b) for b in bucket_boundaries)
        self.lengths = None
        if self.bucket_boundaries is not None:
            b = self.bucket_boundaries
            if not b or any(x >= y for x, y in zip(b, b[1:])) or b[0] < 1:
                raise ValueError(f"bucket_boundaries must be positive and strictly increasing, got {b}")
            self.lengths = np.asarray(example_lengths(source, self.seq_keys) if lengths is None else lengths)
            if self.lengths.shape != (n,):
                raise ValueError(f"lengths must have shape [{n}] (one per example), got {self.lengths.shape}")
            if self.lengths.max() > b[-1]:
                raise ValueError(
                    f"an example of length {int(self.lengths.max())} exceeds the last bucket boundary {b[-1]}; "
                    "add a larger boundary or truncate the examples"
                )
        self._seed, self._epoch, self._position = int(seed), 0, 0
        self._plan_epoch, self._plan = None, None
        if not self._batches(0):
            raise ValueError(
                f"TrainIterator: no bucket holds a full batch of {self.batch_size} with drop_remainder=True"
            )

    def _batches(self, epoch: int) -> list[np.ndarray]:
        if self._plan_epoch != epoch:
            self._plan = epoch_batches(
                len(self.source), self.batch_size, self._seed, epoch, lengths=self.lengths,
                bucket_boundaries=self.bucket_boundaries, drop_remainder=self.drop_remainder, shuffle=self.shuffle,
            )
            self._plan_epoch = epoch
        return self._plan

    def batch_at(self, epoch: int, position: int) -> Batch:
        """Batch `position` of `epoch` (what __next__ returns in that state); does not move the iterator."""
        indices = self._batches(epoch)[position]
        examples = _read(self.source, indices)
        if self.bucket_boundaries is not None:
            longest = int(self.lengths[indices].max())
            pad_to = self.bucket_boundaries[int(np.searchsorted(self.bucket_boundaries, longest))]
        else:
            pad_to = self.pad_to
        batch = pad_batch(examples, seq_keys=self.seq_keys, pad_to=pad_to, pad_multiple=self.pad_multiple,
                          pad_value=self.pad_value)
        return self.transform(batch) if self.transform is not None else batch

    def __iter__(self) -> "TrainIterator":
        return self

    def __next__(self) -> Batch:
        batch = self.batch_at(self._epoch, self._position)
        self._position += 1
        if self._position == len(self._batches(self._epoch)):
            self._epoch, self._position = self._epoch + 1, 0
        return batch

    @property
    def batches_per_epoch(self) -> int:
        """Batches per epoch (the same every epoch: bucket sizes do not depend on the shuffle)."""
        return len(self._batches(self._epoch))

    def get_state(self) -> dict[str, int]:
        """{'seed', 'epoch', 'position'}: plain ints, JSON-serialisable, enough to resume exactly."""
        return {"seed": self._seed, "epoch": self._epoch, "position": self._position}

    def set_state(self, state: Mapping[str, int]) -> None:
        """Resume from `get_state()` output: the next batch is batch `position` of `epoch` under `seed`."""
        missing = {"seed", "epoch", "position"} - set(state)
        if missing:
            raise ValueError(
                f"iterator state needs keys seed, epoch, position; missing {sorted(missing)} in {dict(state)}"
            )
        seed, epoch, position = (int(state[k]) for k in ("seed", "epoch", "position"))
        if epoch < 0 or position < 0:
            raise ValueError(f"iterator state needs epoch >= 0 and position >= 0, got {dict(state)}")
        saved = (self._seed, self._plan_epoch, self._plan)
        self._seed, self._plan_epoch = seed, None
        num = len(self._batches(epoch))
        if position >= num:
            self._seed, self._plan_epoch, self._plan = saved
            raise ValueError(f"iterator state position {position} out of range: epoch {epoch} has {num} batches")
        self._epoch, self._position = epoch, position


def eval_batches(
    source,
    batch_size: int,
    *,
    seq_keys: Sequence[str] = ("x",),
    pad_to: int | None = None,
    pad_multiple: int = 1,
    pad_value: float = 0,
    pad_last: bool = True,
    transform: Callable[[Batch], Batch] | None = None,
) -> Iterator[Batch]:
    """Finite batches of `source` in order, every example exactly once.

    Each batch has a 'valid' [B] bool field. With `pad_last` the last batch
    is filled up to `batch_size` with copies of its last real example marked
    valid=False (finite values, one batch shape for jit): weight metrics by
    `valid` with `where`, not by multiplying.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    n = len(source)
    for start in range(0, n, batch_size):
        examples = _read(source, range(start, min(start + batch_size, n)))
        real = len(examples)
        if pad_last and real < batch_size:
            examples = examples + [examples[-1]] * (batch_size - real)
        batch = pad_batch(examples, seq_keys=seq_keys, pad_to=pad_to, pad_multiple=pad_multiple, pad_value=pad_value)
        batch["valid"] = np.arange(len(examples)) < real  # [B]
        yield transform(batch) if transform is not None else batch


__all__ = [
    "ArraySource", "MapSource", "WindowSource", "example_lengths", "pad_batch", "quantile_boundaries",
    "epoch_batches", "TrainIterator", "eval_batches",
]
