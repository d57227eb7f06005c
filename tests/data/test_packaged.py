"""Data sets shipped by PyPI packages (mnist1d, reservoirpy, music21, scikit-learn) and the JSB file loader."""

import pickle
import random

import numpy as np
import pytest

from seqmodels.data import packaged


def test_mnist1d_sizes():
    data = packaged.mnist1d()
    assert data["train"]["x"].shape == (4000, 40, 1) and data["test"]["x"].shape == (1000, 40, 1)
    assert data["train"]["x"].dtype == np.float32 and data["train"]["y"].dtype == np.int32
    assert set(np.unique(data["train"]["y"])) == set(range(10))
    counts = np.bincount(data["train"]["y"])
    assert counts.min() > 350  # balanced: 500 per class before the split
    x = np.concatenate([data["train"]["x"], data["test"]["x"]])
    assert abs(x.mean()) < 1e-4 and abs(x.std() - 1) < 1e-3  # the package standardises the whole set


def test_mnist1d_shuffled_is_a_fixed_permutation_of_positions():
    plain, shuffled = packaged.mnist1d(num_samples=600), packaged.mnist1d(num_samples=600, shuffle_positions=True)
    assert shuffled["train"]["x"].shape == (480, 40, 1)
    np.testing.assert_array_equal(plain["train"]["y"], shuffled["train"]["y"])
    a, b = plain["train"]["x"][:, :, 0], shuffled["train"]["x"][:, :, 0]
    assert not np.allclose(a, b)
    # every shuffled column equals one original column: a permutation of the 40 positions
    match = [int(np.argmin(np.abs(a - b[:, [j]]).sum(0))) for j in range(40)]
    assert sorted(match) == list(range(40))
    np.testing.assert_allclose(b, a[:, match], atol=1e-5)


def test_mnist1d_notebook_permutation_is_the_papers_seed_42_permutation():
    """The paper's benchmark notebook: np.random.seed(42); order = np.random.permutation(40); x[:, order]."""
    plain = packaged.mnist1d(num_samples=300)
    nb = packaged.mnist1d(num_samples=300, shuffle_positions=True, permutation="notebook")
    pkg = packaged.mnist1d(num_samples=300, shuffle_positions=True)
    order = np.array([int(np.argmin(np.abs(plain["train"]["x"][:, :, 0] - nb["train"]["x"][:, [j], 0]).sum(0)))
                      for j in range(40)])
    np.random.seed(42)
    np.testing.assert_array_equal(order, np.random.permutation(40))
    for split in ("train", "test"):
        np.testing.assert_array_equal(nb[split]["x"], plain[split]["x"][:, order])
        np.testing.assert_array_equal(nb[split]["y"], plain[split]["y"])
    assert not np.allclose(nb["train"]["x"], pkg["train"]["x"])  # not the package's own permutation
    with pytest.raises(ValueError, match="unknown permutation 'random'"):
        packaged.mnist1d(shuffle_positions=True, permutation="random")


def test_mnist1d_restores_global_rng_and_overrides():
    np.random.seed(123)
    random.seed(123)
    expected = (np.random.rand(), random.random())
    np.random.seed(123)
    random.seed(123)
    small = packaged.mnist1d(num_samples=100)
    assert (np.random.rand(), random.random()) == expected
    assert small["train"]["x"].shape == (80, 40, 1)
    with pytest.raises(ValueError, match=r"unknown dataset args \['bogus'\]"):
        packaged.mnist1d(bogus=1)


def test_santa_fe():
    d = packaged.santa_fe_laser()
    assert d["series"].shape == (10093, 1) and d["series"].dtype == np.float32
    assert np.array_equal(d["series"], np.round(d["series"]))  # integer recording
    np.testing.assert_array_equal(d["train"], d["series"][:1000])
    np.testing.assert_array_equal(d["continuation"], d["series"][1000:1100])
    # BENCHMARKS' baselines: the training mean scores ~1.0, persistence ~1.34 (true-variance normaliser)
    train = d["train"][:, 0]
    assert abs(packaged.santa_fe_nmse(np.full(100, train.mean()))["nmse_true_var"] - 1.0) < 0.05
    assert abs(packaged.santa_fe_nmse(np.full(100, train[-1]))["nmse_true_var"] - 1.34) < 0.01
    perfect = packaged.santa_fe_nmse(d["continuation"])
    assert perfect == {"nmse_true_var": 0.0, "nmse_train_var": 0.0}
    with pytest.raises(ValueError, match=r"expected 100 predicted values, got shape \(99,\)"):
        packaged.santa_fe_nmse(np.zeros(99))


def test_digits():
    d = packaged.digits()
    assert d["train"]["x"].shape[1:] == (8, 8) and len(d["train"]["y"]) + len(d["test"]["y"]) == 1797
    assert len(d["test"]["y"]) == 359
    assert d["train"]["x"].min() == 0 and d["train"]["x"].max() == 1
    with pytest.raises(ValueError, match="test_fraction must be in \\(0, 1\\), got 1.5"):
        packaged.digits(test_fraction=1.5)


# --------------------------------------------------------------------------- piano rolls


def test_piano_roll_hand_example():
    roll = packaged.piano_roll([[60, 64, 67], [], (21.0, 108)])
    assert roll.shape == (3, 88) and roll.dtype == np.float32
    assert np.flatnonzero(roll[0]).tolist() == [39, 43, 46] and roll[1].sum() == 0
    assert np.flatnonzero(roll[2]).tolist() == [0, 87]
    with pytest.raises(ValueError, match=r"MIDI note 20.0 at frame 0 is off the 88-key range \[21, 108\]"):
        packaged.piano_roll([[20]])


def test_load_jsb_pickle_and_mat(tmp_path):
    data = {"train": [[[60, 64], [62]], [[48]]], "valid": [[[70], []]], "test": [[[21, 108]]]}
    path = tmp_path / "JSB_Chorales.pickle"
    path.write_bytes(pickle.dumps(data, protocol=2))
    rolls = packaged.load_jsb_chorales(path)
    assert [len(rolls[s]) for s in ("train", "valid", "test")] == [2, 1, 1]
    assert rolls["train"][0].shape == (2, 88) and rolls["train"][0][0, 60 - 21] == 1
    assert rolls["valid"][0][1].sum() == 0

    from scipy.io import savemat

    def cells(rs):
        out = np.empty((1, len(rs)), dtype=object)
        for i, r in enumerate(rs):
            out[0, i] = r.astype(np.uint8)
        return out

    mat = tmp_path / "JSB_Chorales.mat"
    savemat(mat, {"traindata": cells(rolls["train"]), "validdata": cells(rolls["valid"]),
                  "testdata": cells(rolls["test"])})
    from_mat = packaged.load_jsb_chorales(mat)
    for split in rolls:
        assert len(from_mat[split]) == len(rolls[split])
        for a, b in zip(from_mat[split], rolls[split]):
            np.testing.assert_array_equal(a, b)


def test_load_jsb_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="JSB_Chorales.pickle or JSB_Chorales.mat"):
        packaged.load_jsb_chorales(tmp_path / "missing.pickle")
    bad = tmp_path / "x.pickle"
    bad.write_bytes(pickle.dumps({"train": []}))
    with pytest.raises(ValueError, match=r"expected splits \['train', 'valid', 'test'\], missing \['valid', 'test'\]"):
        packaged.load_jsb_chorales(bad)
    other = tmp_path / "x.txt"
    other.write_text("")
    with pytest.raises(ValueError, match="expected a .pickle, .pkl or .mat file, got 'x.txt'"):
        packaged.load_jsb_chorales(other)


@pytest.fixture(scope="module")
def chorales(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    rolls, names = packaged.bach_chorales(num_pieces=4, cache_dir=cache, return_names=True)
    return rolls, names, cache


def test_bach_chorales_split_and_rolls(chorales):
    rolls, names, _ = chorales
    assert [len(rolls[s]) for s in ("train", "valid", "test")] == [2, 1, 1]  # split by piece
    all_names = sum(names.values(), [])
    assert sorted(all_names) == sorted(packaged.bach_chorale_names()[:4]) and len(set(all_names)) == 4
    for r in sum(rolls.values(), []):
        assert r.ndim == 2 and r.shape[1] == 88 and r.shape[0] > 10 and r.dtype == np.float32
        assert set(np.unique(r)) <= {0.0, 1.0}
        assert r.sum(1).max() <= 4 and r.sum(1).mean() > 3  # four voices (fewer on unisons and rests)


def test_bach_chorales_match_music21_chordify(chorales):
    """Frame t holds exactly the pitches music21's chordify() says sound at quarter t (SATB pieces)."""
    from music21 import corpus

    rolls, names, _ = chorales
    roll, name = rolls["train"][0], names["train"][0]
    score = corpus.parse(name)
    assert [p.partName for p in score.parts] == ["Soprano", "Alto", "Tenor", "Bass"]
    expected = np.zeros_like(roll)
    for ch in score.chordify().flatten().notes:
        start, end = float(ch.offset), float(ch.offset + ch.quarterLength)
        for t in range(int(np.ceil(start)), int(np.ceil(end))):
            expected[t, [p.midi - 21 for p in ch.pitches]] = 1
    np.testing.assert_array_equal(roll, expected)


def test_bach_chorales_cache_is_used(chorales, monkeypatch):
    from music21 import corpus

    rolls, _, cache = chorales
    assert len(list(cache.glob("bach_chorales_*.npz"))) == 1
    monkeypatch.setattr(corpus, "parse", lambda *a, **k: pytest.fail("parsed again despite the cache"))
    again = packaged.bach_chorales(num_pieces=4, cache_dir=cache)
    for split in rolls:
        for a, b in zip(again[split], rolls[split]):
            np.testing.assert_array_equal(a, b)
    other_split = packaged.bach_chorales(num_pieces=4, cache_dir=cache, split_seed=1)
    assert sum(len(v) for v in other_split.values()) == 4
    pairs = packaged.next_frame_examples(rolls["train"])
    np.testing.assert_array_equal(pairs["x"][0][1:], pairs["y"][0][:-1])
    with pytest.raises(ValueError, match="num_pieces must be in \\[3, 371\\]"):
        packaged.bach_chorales(num_pieces=2, cache_dir=cache)
