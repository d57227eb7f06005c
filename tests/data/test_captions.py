"""Captioned digit canvases: the caption says what the pixels show, seeded, held-out digits only in the test set."""

import numpy as np
import pytest

from seqmodels.data import captions, packaged


@pytest.fixture(scope="module")
def data():
    return captions.digit_captions(300, 100, seed=3)


def _parse(text: str):
    """Independent reading of a caption: [(label, small)] in order and the relation words between them."""
    digits, relations, words = [], [], []
    small = False
    for w in text.split():
        if w in captions.NAMES:
            digits.append((captions.NAMES.index(w), small))
            relations.append(words)
            small, words = False, []
        elif w == "small":
            small = True
        else:
            words.append(w)
    return digits, relations[1:]


def test_relations_by_hand():
    assert captions.relation((0, 0), (0, 2)) == ["left", "of"]
    assert captions.relation((0, 2), (1, 0)) == ["above", "right", "of"]
    assert captions.relation((0, 0), (2, 1)) == ["above", "left", "of"]
    assert captions.relation((0, 1), (2, 1)) == ["above"]
    with pytest.raises(ValueError, match="reading order"):
        captions.relation((1, 0), (0, 2))
    assert captions.caption([7, 3], [(1, 2), (0, 0)], [1, 0]) == "three above left of small seven"


def test_caption_describes_the_canvas(data):
    split = data["train"]
    cell = split["x"].shape[1] // 3
    for i, text in enumerate(split["captions"]):
        k = split["labels"][i] >= 0
        order = np.lexsort((split["cols"][i, k], split["rows"][i, k]))  # reading order
        digits, relations = _parse(text)
        assert [d for d, _ in digits] == split["labels"][i, k][order].tolist()
        assert [s for _, s in digits] == split["small"][i, k][order].astype(bool).tolist()
        cells = list(zip(split["rows"][i, k][order], split["cols"][i, k][order]))
        for (ra, ca), (rb, cb), words in zip(cells, cells[1:], relations):
            assert ("above" in words, "left" in words, "right" in words) == (ra < rb, ca < cb, ca > cb)
        ink = split["x"][i].reshape(3, cell, 3, cell).max(axis=(1, 3)) > 0  # [3, 3] cells with ink
        assert {tuple(c) for c in zip(*np.nonzero(ink))} == set(map(tuple, cells))
        assert len(set(cells)) == len(cells) and 2 <= len(cells) <= 3


def test_pixels_are_the_drawn_digits_and_test_digits_are_held_out(data):
    digits = packaged.digits(test_fraction=0.2, seed=0)
    train_pool = {d.tobytes() for d in digits["train"]["x"]}
    split, pool = data["test"], digits["test"]
    for i in range(len(split["captions"])):
        for k in np.nonzero(split["labels"][i] >= 0)[0]:
            source = pool["x"][split["source"][i, k]]
            digit = captions.shrink(source, 6) if split["small"][i, k] else source
            top, left = split["top"][i, k], split["left"][i, k]
            patch = split["x"][i, top:top + digit.shape[0], left:left + digit.shape[1]]
            np.testing.assert_array_equal(patch, digit)
            assert split["labels"][i, k] == pool["y"][split["source"][i, k]]
            assert split["small"][i, k] or patch.tobytes() not in train_pool


def test_seeded_and_lengths_spread(data):
    again = captions.digit_captions(300, 100, seed=3)
    np.testing.assert_array_equal(again["train"]["x"], data["train"]["x"])
    assert again["test"]["captions"] == data["test"]["captions"]
    other = captions.digit_captions(300, 100, seed=4)
    assert other["train"]["captions"] != data["train"]["captions"]
    lengths = {len(t.split()) for t in data["train"]["captions"]}
    assert min(lengths) == 3 and max(lengths) >= 10


def test_shrink_keeps_constants_and_the_size_8_identity():
    rng = np.random.default_rng(0)
    x = rng.random((8, 8)).astype(np.float32)
    np.testing.assert_allclose(captions.shrink(x, 8), x, atol=1e-6)
    np.testing.assert_allclose(captions.shrink(np.full((8, 8), 0.5, np.float32), 5), 0.5, atol=1e-6)


def test_encode_decode_round_trip():
    texts = ["three left of small seven", "two above zero left of one"]
    ids, lengths = captions.encode(texts)
    assert ids.shape == (2, captions.MAX_WORDS + 2) and lengths.tolist() == [7, 8]
    assert ids[0, 0] == captions.BOS_ID and ids[0, 6] == captions.EOS_ID and ids[0, 7] == captions.PAD_ID
    assert [captions.decode(r) for r in ids] == texts
    assert captions.encode(["three beside seven"])[0][0, 2] == captions.UNK_ID
    with pytest.raises(ValueError, match="more than max_len"):
        captions.encode(["one " * 20])


def test_bad_layout():
    with pytest.raises(ValueError, match="min_digits"):
        captions.make_canvases(np.zeros((3, 8, 8)), np.zeros(3, int), 2, seed=0, min_digits=4, max_digits=10)
    with pytest.raises(ValueError, match="small_size"):
        captions.make_canvases(np.zeros((3, 8, 8)), np.zeros(3, int), 2, seed=0, cell=6)
