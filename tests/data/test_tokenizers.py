"""Tokenisers: reserved ids, round trips, unknowns, save/load."""

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from seqmodels.data import tokenizers as tk

TEXTS = ["To be, or not to be: that is the question.", "Whether 'tis nobler in the mind to suffer"]


def test_reserved_ids_and_frequency_order():
    tok = tk.WordTokenizer.build(["b a b c b a"])
    assert tok.tokens[:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]
    assert (tk.PAD_ID, tk.UNK_ID, tk.BOS_ID, tk.EOS_ID) == (0, 1, 2, 3)
    assert tok.tokens[4:] == ["b", "a", "c"]  # most frequent first, ties by string
    np.testing.assert_array_equal(tok.encode("a b c d", add_bos=True, add_eos=True), [2, 5, 4, 6, 1, 3])
    assert tok.encode("a").dtype == np.int32


def test_word_tokenizer_hand_example():
    tok = tk.WordTokenizer.build(TEXTS)
    ids = tok.encode("To be, or NOT?")
    assert tok.decode(ids) == "to be , or not <unk>"  # lower-cased; '?' unseen
    assert tok.split("Don't stop.") == ["don", "'", "t", "stop", "."]
    cased = tk.WordTokenizer.build(TEXTS, lowercase=False)
    assert "To" in cased.tokens and "to" in cased.tokens


def test_max_size_and_min_count():
    tok = tk.WordTokenizer.build(["a a a b b c"], max_size=6)
    assert tok.tokens == ["<pad>", "<unk>", "<bos>", "<eos>", "a", "b"]
    tok = tk.WordTokenizer.build(["a a a b b c"], min_count=2)
    assert tok.tokens[4:] == ["a", "b"]


@given(st.text(alphabet="abcdefgh ,.\n", max_size=50))
def test_char_round_trip(text):
    tok = tk.CharTokenizer.build(TEXTS + ["abcdefgh ,.\n"])
    ids = tok.encode(text, add_bos=True, add_eos=True)
    assert len(ids) == len(text) + 2
    assert tok.decode(ids) == text


def test_char_unknown_and_bytes():
    tok = tk.CharTokenizer.build(["abc"])
    np.testing.assert_array_equal(tok.encode(b"abz"), [4, 5, 1])  # TFDS gives bytes for text features
    assert tok.decode([0, 4, 1, 0], skip_special=True) == "a<unk>"
    assert tok.decode([2, 4, 3], skip_special=False) == "<bos>a<eos>"


@pytest.mark.parametrize("cls", [tk.CharTokenizer, tk.WordTokenizer])
def test_save_load(tmp_path, cls):
    tok = cls.build(TEXTS)
    path = tmp_path / "vocab.json"
    tok.save(path)
    loaded = tk.load_tokenizer(path)
    assert type(loaded) is cls and loaded == tok
    np.testing.assert_array_equal(loaded.encode(TEXTS[0]), tok.encode(TEXTS[0]))
    assert cls.load(path) == tok
    assert json.loads(path.read_text())["kind"] == cls.kind


def test_errors(tmp_path):
    with pytest.raises(ValueError, match="must start with the reserved tokens"):
        tk.CharTokenizer(["a", "b"])
    with pytest.raises(ValueError, match=r"unique; repeated: \['a'\]"):
        tk.CharTokenizer(list(tk.RESERVED) + ["a", "a"])
    with pytest.raises(ValueError, match="must be >= 4, got 2"):
        tk.WordTokenizer.build(TEXTS, max_size=2)
    tok = tk.CharTokenizer.build(["ab"])
    with pytest.raises(ValueError, match=r"token ids must lie in \[0, 6\), got values in \[0, 9\]"):
        tok.decode([0, 9])
    bad = tmp_path / "bad.json"
    bad.write_text('{"tokens": []}')
    with pytest.raises(ValueError, match="is not a saved tokenizer"):
        tk.load_tokenizer(bad)
    path = tmp_path / "char.json"
    tok.save(path)
    with pytest.raises(ValueError, match="holds a CharTokenizer, expected a WordTokenizer"):
        tk.WordTokenizer.load(path)
