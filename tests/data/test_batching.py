"""Padding, bucketing, the resumable train iterator and eval batches."""

import collections
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from seqmodels.data import batching
from seqmodels.data.batching import ArraySource, MapSource, TrainIterator, WindowSource, eval_batches, pad_batch


def _ragged_source(n=23, seed=0, max_len=20):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, max_len + 1, size=n)
    xs = [np.full((int(t), 2), i + 1, np.float32) for i, t in enumerate(lengths)]  # example i holds i + 1
    return ArraySource({"x": xs, "y": np.arange(n, dtype=np.int32)}), lengths


def _ids(batch):
    return batch["y"].tolist()


# --------------------------------------------------------------------------- pad_batch


def test_pad_batch_hand_example():
    exs = [{"x": np.array([1, 2, 3]), "y": 0}, {"x": np.array([4]), "y": 1}]
    b = pad_batch(exs)
    np.testing.assert_array_equal(b["x"], [[1, 2, 3], [4, 0, 0]])
    np.testing.assert_array_equal(b["lengths"], [3, 1])
    assert b["lengths"].dtype == np.int32 and b["y"].tolist() == [0, 1]
    b = pad_batch(exs, pad_to=5, pad_value=-1)
    np.testing.assert_array_equal(b["x"], [[1, 2, 3, -1, -1], [4, -1, -1, -1, -1]])
    assert pad_batch(exs, pad_multiple=4)["x"].shape == (2, 4)


def test_pad_batch_two_seq_keys():
    exs = [{"x": np.ones((2, 3)), "y": np.array([5, 6, 7])}, {"x": np.ones((4, 3)), "y": np.array([8])}]
    b = pad_batch(exs, seq_keys=("x", "y"))
    assert b["x"].shape == (2, 4, 3) and b["y"].shape == (2, 4)
    np.testing.assert_array_equal(b["lengths"], [2, 4])
    np.testing.assert_array_equal(b["y_lengths"], [3, 1])
    np.testing.assert_array_equal(b["y"], [[5, 6, 7, 0], [8, 0, 0, 0]])


@given(st.lists(st.integers(1, 9), min_size=1, max_size=6), st.integers(0, 3))
def test_pad_batch_property(lengths, extra):
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=(t, 3)).astype(np.float32) for t in lengths]
    b = pad_batch([{"x": x} for x in xs], pad_to=max(lengths) + extra)
    assert b["x"].shape == (len(xs), max(lengths) + extra, 3) and b["x"].dtype == np.float32
    for row, x, n in zip(b["x"], xs, b["lengths"]):
        np.testing.assert_array_equal(row[:n], x)  # valid part unchanged
        assert (row[n:] == 0).all()  # padding is zeros


def test_pad_batch_errors():
    with pytest.raises(ValueError, match="field 'x' has a sequence of length 3 > pad_to=2"):
        pad_batch([{"x": np.zeros(3)}], pad_to=2)
    with pytest.raises(ValueError, match=r"field 'y' is not a seq key.*got shapes \[\(1,\), \(2,\)\]"):
        pad_batch([{"x": np.zeros(3), "y": np.zeros(1)}, {"x": np.zeros(3), "y": np.zeros(2)}])
    with pytest.raises(ValueError, match=r"expected \[T, 2\] but got shape \(3, 4\)"):
        pad_batch([{"x": np.zeros((3, 2))}, {"x": np.zeros((3, 4))}])
    with pytest.raises(ValueError, match="sequence field 'z' not in the example"):
        pad_batch([{"x": np.zeros(3)}], seq_keys=("z",))
    with pytest.raises(ValueError, match="must have a time axis, got a scalar"):
        pad_batch([{"x": np.float32(1)}])
    with pytest.raises(ValueError, match="at least one example"):
        pad_batch([])


# --------------------------------------------------------------------------- sources


def test_sources():
    src = ArraySource({"x": np.arange(12).reshape(4, 3), "y": [10, 11, 12, 13]})
    assert len(src) == 4 and src[1]["x"].tolist() == [3, 4, 5] and src[-1]["y"] == 13
    doubled = MapSource(src, lambda ex: {"x": ex["x"] * 2, "y": ex["y"]})
    assert doubled[2]["x"].tolist() == [12, 14, 16] and len(doubled) == 4
    assert [e["y"] for e in doubled.__getitems__([3, 0])] == [13, 10]
    with pytest.raises(ValueError, match=r"same number of examples, got \{'x': 4, 'y': 2\}"):
        ArraySource({"x": np.zeros((4, 1)), "y": [1, 2]})
    with pytest.raises(IndexError):
        src[4]


def test_window_source():
    series = np.arange(10)
    w = WindowSource(series, window=4, stride=3)
    assert len(w) == 3 and [w[i]["x"].tolist() for i in range(3)] == [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]]
    lm = WindowSource(series, window=4, stride=2, next_step=True)
    assert len(lm) == 3 and lm[2]["x"].tolist() == [4, 5, 6, 7] and lm[2]["y"].tolist() == [5, 6, 7, 8]
    with pytest.raises(ValueError, match="series of length 3 is shorter than one window \\(5\\)"):
        WindowSource(np.arange(3), window=4, next_step=True)


# --------------------------------------------------------------------------- train iterator


def test_iterator_batches_shapes_and_epochs():
    src, _ = _ragged_source(n=10)
    it = TrainIterator(src, 4, seed=0, pad_to=20)
    assert it.batches_per_epoch == 2  # drop_remainder: 10 // 4
    epoch0 = [_ids(next(it)) for _ in range(2)]
    assert it.get_state() == {"seed": 0, "epoch": 1, "position": 0}
    epoch1 = [_ids(next(it)) for _ in range(2)]
    assert epoch0 != epoch1  # reshuffled each epoch
    assert len(set(sum(epoch0, []))) == 8
    b = it.batch_at(0, 0)
    assert b["x"].shape == (4, 20, 2) and b["lengths"].shape == (4,)
    for row, n, i in zip(b["x"], b["lengths"], b["y"]):
        assert (row[:n] == i + 1).all() and (row[n:] == 0).all()


def test_iterator_fixed_order_cycles_like_an_index_into_the_array():
    """shuffle=False: batch k of the run is examples [k B, (k + 1) B) mod N, as `bix = step * B % N` reads them."""
    src, _ = _ragged_source(n=12)
    it = TrainIterator(src, 4, seed=7, pad_to=20, shuffle=False)
    got = [_ids(next(it)) for _ in range(7)]
    assert got == [[(4 * k + j) % 12 for j in range(4)] for k in range(7)]
    it2 = TrainIterator(src, 4, seed=7, pad_to=20, shuffle=False)
    it2.set_state({"seed": 7, "epoch": 1, "position": 1})
    assert _ids(next(it2)) == got[4]
    with pytest.raises(ValueError, match="shuffle=False"):
        TrainIterator(src, 4, shuffle=False, bucket_boundaries=(5, 10, 20))


def test_iterator_same_seed_same_batches_other_seed_differs():
    src, _ = _ragged_source()
    a = [_ids(next(TrainIterator(src, 5, seed=3))) for _ in range(2)]
    it1, it2, it3 = (TrainIterator(src, 5, seed=s) for s in (3, 3, 4))
    run1 = [_ids(next(it1)) for _ in range(9)]
    assert run1 == [_ids(next(it2)) for _ in range(9)]
    assert run1 != [_ids(next(it3)) for _ in range(9)]
    assert a[0] == a[1] == run1[0]


@pytest.mark.parametrize("buckets", [None, (5, 10, 20)])
@pytest.mark.parametrize("stop", [0, 3, 4, 7])  # 4 = exactly at an epoch boundary (no buckets)
def test_iterator_state_round_trip(buckets, stop):
    src, _ = _ragged_source()
    kw = dict(seed=11, bucket_boundaries=buckets, drop_remainder=buckets is None)
    original = TrainIterator(src, 5, **kw)
    for _ in range(stop):
        next(original)
    state = json.loads(json.dumps(original.get_state()))  # what a checkpoint stores
    assert set(state) == {"seed", "epoch", "position"} and all(type(v) is int for v in state.values())
    expected = [next(original) for _ in range(10)]
    restored = TrainIterator(src, 5, **{**kw, "seed": 0})  # seed comes from the state
    restored.set_state(state)
    for want in expected:
        got = next(restored)
        assert got.keys() == want.keys()
        for k in want:
            np.testing.assert_array_equal(got[k], want[k])


def test_bucketing_every_example_once_per_epoch_one_bucket_per_batch():
    src, lengths = _ragged_source(n=41, seed=2)
    bounds = (4, 8, 16, 20)
    it = TrainIterator(src, 4, seed=0, bucket_boundaries=bounds, drop_remainder=False)
    for epoch in range(2):
        counts = collections.Counter()
        for _ in range(it.batches_per_epoch):
            b = next(it)
            counts.update(_ids(b))
            width = b["x"].shape[1]
            assert width in bounds  # padded to its bucket's bound
            lo = ([0] + list(bounds))[bounds.index(width)]
            assert all(lo < n <= width for n in b["lengths"])  # all from one bucket
            np.testing.assert_array_equal(b["lengths"], lengths[b["y"]])
        assert it.get_state()["epoch"] == epoch + 1
        assert counts == collections.Counter(range(41))  # each example exactly once


def test_bucketing_drop_remainder_keeps_fixed_batch_size():
    src, lengths = _ragged_source(n=41, seed=2)
    bounds = batching.quantile_boundaries(lengths, 3, multiple=4)
    assert bounds[-1] >= lengths.max() and list(bounds) == sorted(bounds)
    it = TrainIterator(src, 4, seed=0, bucket_boundaries=bounds, lengths=lengths)
    sizes = {len(next(it)["y"]) for _ in range(3 * it.batches_per_epoch)}
    assert sizes == {4}


def test_iterator_transform_and_errors():
    src, _ = _ragged_source(n=6)
    it = TrainIterator(src, 2, transform=lambda b: {**b, "x": b["x"] * 0 + 1})
    assert (next(it)["x"] == 1).all()
    with pytest.raises(ValueError, match="6 examples cannot fill one batch of 8"):
        TrainIterator(src, 8)
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        TrainIterator(src, 0)
    with pytest.raises(ValueError, match="length 20 exceeds the last bucket boundary 10|exceeds the last bucket"):
        TrainIterator(src, 2, bucket_boundaries=(5, 10), lengths=np.array([1, 2, 3, 4, 5, 20]))
    with pytest.raises(ValueError, match=r"strictly increasing, got \(10, 5\)"):
        TrainIterator(src, 2, bucket_boundaries=(10, 5))
    with pytest.raises(ValueError, match=r"lengths must have shape \[6\]"):
        TrainIterator(src, 2, bucket_boundaries=(50,), lengths=np.ones(5))
    with pytest.raises(ValueError, match="missing \\['position'\\]"):
        it.set_state({"seed": 0, "epoch": 0})
    before = it.get_state()
    with pytest.raises(ValueError, match="position 3 out of range: epoch 0 has 3 batches"):
        it.set_state({"seed": 0, "epoch": 0, "position": 3})
    assert it.get_state() == before


# --------------------------------------------------------------------------- eval batches


def test_eval_batches_cover_once_with_valid_mask():
    src, lengths = _ragged_source(n=10)
    batches = list(eval_batches(src, 4, pad_multiple=8))
    assert [b["x"].shape[0] for b in batches] == [4, 4, 4]
    valid = np.concatenate([b["valid"] for b in batches])
    ids = np.concatenate([b["y"] for b in batches])[valid]
    assert ids.tolist() == list(range(10))  # in order, each once
    assert valid.tolist() == [True] * 10 + [False] * 2
    last = batches[-1]
    np.testing.assert_array_equal(last["x"][2], last["x"][3])  # filler copies a real example (finite values)
    assert all(b["x"].shape[1] % 8 == 0 for b in batches)
    unpadded = list(eval_batches(src, 4, pad_last=False))
    assert [len(b["y"]) for b in unpadded] == [4, 4, 2] and all(b["valid"].all() for b in unpadded)
