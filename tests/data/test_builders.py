"""TFDS builders: tiny configs prepare as ArrayRecord, read back through data sources, hold the protocols."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

from seqmodels.data import batching, builders, synthetic


def _rows(source):
    return [source[i] for i in range(len(source))]


def _same_multiset(rows, data, n):
    """TFDS stores examples in hash order: compare as sets of (x bytes, y bytes)."""
    y_dtype = np.asarray(data["y"]).dtype  # scalars come back as Python numbers
    got = sorted(np.asarray(r["x"]).tobytes() + np.asarray(r["y"], y_dtype).tobytes() for r in rows)
    want = sorted(np.asarray(data["x"][i]).tobytes() + np.asarray(data["y"][i]).tobytes() for i in range(n))
    assert got == want


def test_adding_builder(tmp_path):
    cfg = builders.AddingConfig(seq_len=9, num_train=12, num_test=5)
    splits = builders.prepare(builders.AddingProblem, cfg, data_dir=str(tmp_path))
    assert {k: len(v) for k, v in splits.items()} == {"train": 12, "test": 5}
    rows = _rows(splits["train"])
    for r in rows:
        assert r["x"].shape == (9, 2) and r["x"].dtype == np.float32
        assert r["x"][:, 1].sum() == 2
        assert np.float32(r["y"]) == (r["x"][:, 0] * r["x"][:, 1]).sum()
    # split i is make_adding(default_rng([seed, i]), n) for n <= CHUNK
    _same_multiset(rows, synthetic.make_adding(np.random.default_rng([0, 0]), 12, seq_len=9), 12)
    _same_multiset(_rows(splits["test"]), synthetic.make_adding(np.random.default_rng([0, 1]), 5, seq_len=9), 5)


def test_copy_memory_builder(tmp_path):
    cfg = builders.CopyMemoryConfig(seq_len=4, num_train=6, num_test=2, seed=3)
    splits = builders.prepare(builders.CopyMemory, cfg, data_dir=str(tmp_path))
    rows = _rows(splits["train"])
    for r in rows:
        assert r["x"].shape == (24, 1) and r["y"].shape == (24,) and r["y"].dtype == np.int32
        np.testing.assert_array_equal(r["y"][-10:], r["x"][:10, 0])
        np.testing.assert_array_equal(r["y"][:14], 0)
    _same_multiset(rows, synthetic.make_copy_memory(np.random.default_rng([3, 0]), 6, seq_len=4), 6)


def test_delay_sum_builder(tmp_path):
    cfg = builders.DelaySumConfig(seq_len=8, delay=2, num_train=4, num_test=2)
    splits = builders.prepare(builders.DelaySum, cfg, data_dir=str(tmp_path))
    for r in _rows(splits["test"]):
        assert r["x"].shape == r["y"].shape == (8, 1)
        np.testing.assert_array_equal(r["y"][2:], r["x"][2:] + r["x"][:-2])


def test_listops_builder_splits_disjoint(tmp_path):
    cfg = builders.ListOpsConfig(min_length=5, max_length=25, num_train=10, num_validation=3, num_test=4)
    splits = builders.prepare(builders.ListOps, cfg, data_dir=str(tmp_path))
    assert {k: len(v) for k, v in splits.items()} == {"train": 10, "validation": 3, "test": 4}
    seen = set()
    for split in splits.values():
        for r in _rows(split):
            assert 5 <= len(r["x"]) <= 25 and r["x"].dtype == np.int32
            assert synthetic.listops_evaluate(r["x"]) == r["y"]
            seen.add(r["x"].tobytes())
    assert len(seen) == 17  # no expression in two splits


def test_config_names_and_presets(tmp_path):
    a = builders.AddingConfig(seq_len=9, num_train=12, num_test=5)
    b = builders.AddingConfig(seq_len=10, num_train=12, num_test=5)
    assert a.name != b.name and "seq_len9" in a.name  # different sizes never share a directory
    assert builders.AddingProblem.name == "adding_problem"
    assert [c.name for c in builders.AddingProblem.BUILDER_CONFIGS] == ["bai2018_t600"]
    preset = builders.AddingProblem.BUILDER_CONFIGS[0]
    assert (preset.seq_len, preset.num_train, preset.num_test) == (600, 50_000, 1_000)
    lra = builders.ListOps.BUILDER_CONFIGS[0]
    assert (lra.min_length, lra.max_length, lra.max_depth, lra.max_args) == (500, 2000, 10, 10)
    assert (lra.num_train, lra.num_validation, lra.num_test) == (96_000, 2_000, 2_000)
    copy = builders.CopyMemory.BUILDER_CONFIGS[0]
    assert (copy.seq_len, copy.num_train, copy.num_test) == (1000, 10_000, 1_000)
    # the registered name works with tfds's own entry points
    builder = tfds.builder("delay_sum", data_dir=str(tmp_path), config="t100")
    assert builder.builder_config.seq_len == 100


def test_prepare_twice_reuses_and_bad_class(tmp_path):
    cfg = builders.DelaySumConfig(seq_len=3, num_train=2, num_test=1)
    first = builders.prepare(builders.DelaySum, cfg, data_dir=str(tmp_path))
    again = builders.prepare(builders.DelaySum, cfg, data_dir=str(tmp_path))
    np.testing.assert_array_equal(first["train"][0]["x"], again["train"][0]["x"])
    with pytest.raises(ValueError, match="builder_class must be one of"):
        builders.prepare(dict, cfg)


def test_data_source_feeds_train_iterator(tmp_path):
    cfg = builders.ListOpsConfig(min_length=5, max_length=30, num_train=16, num_validation=1, num_test=1)
    train = builders.prepare(builders.ListOps, cfg, data_dir=str(tmp_path))["train"]
    it = batching.TrainIterator(train, 4, seed=1, bucket_boundaries=(16, 32), drop_remainder=False)
    seen = 0
    for _ in range(it.batches_per_epoch):
        b = next(it)
        assert b["x"].shape[1] in (16, 32) and b["y"].shape == b["lengths"].shape
        for row, n in zip(b["x"], b["lengths"]):
            assert (row[n:] == 0).all() and (row[:n] > 0).all()
        seen += len(b["y"])
    assert seen == 16
