"""Tokenisers: reserved ids, round trips, unknowns, save/load."""

import collections
import json
import re

import numpy as np
import pytest
from hypothesis import given, settings
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


# --------------------------------------------------------------------------- property tests, BPE

SENNRICH = "low " * 5 + "lower " * 2 + "newest " * 6 + "widest " * 3  # Sennrich et al. 2016, Algorithm 1
WORDS = ["the", "film", "was", "not", "good", "at", "all", "but", "great"]


def test_bpe_merges_equal_sennrich_algorithm_1():
    """The paper's dictionary {'l o w </w>': 5, 'l o w e r </w>': 2, 'n e w e s t </w>': 6, 'w i d e s t </w>': 3}
    with 10 merges; '</w>' is the space after the word here. Hand computation (counts in brackets): e s (9),
    es t (9), est </w> (9), l o (7), lo w (7), n e (6), ne w (6), new est</w> (6), low </w> (5), w i (3)."""
    tok = tk.BPETokenizer.build([SENNRICH], num_merges=10)
    assert tok.merges == [("e", "s"), ("es", "t"), ("est", " "), ("l", "o"), ("lo", "w"), ("n", "e"), ("ne", "w"),
                          ("new", "est "), ("low", " "), ("w", "i")]
    assert tok.tokens[4:15] == ["e", " ", "w", "s", "t", "l", "o", "n", "d", "i", "r"]  # 17, 16, 16, 9, 9, ...
    assert tok.tokens[15:] == ["es", "est", "est ", "lo", "low", "ne", "new", "newest ", "low ", "wi"]
    assert tok.split("lowest newer ") == ["low", "est ", "new", "e", "r", " "]  # the paper's unseen 'lowest'
    full = tk.BPETokenizer.build([SENNRICH])  # min_count=2: merge until every chunk is one token
    assert full.split(SENNRICH) == [w + " " for w in SENNRICH.split()]
    assert full.split("widest newest ") == ["widest ", "newest "]


BPE = tk.BPETokenizer.build([SENNRICH, "lo, wider.\nnew"], num_merges=30)


def paper_bpe(text: str, num_merges: int) -> list[tuple[str, str]]:
    """Sennrich et al.'s Algorithm 1 as printed (pair statistics recounted from scratch after every merge,
    ties to the first pair counted), on the same chunks."""
    vocab = collections.Counter(re.findall(tk.BPE_PATTERN, text))
    vocab = {tuple(w): n for w, n in vocab.items()}
    merges = []
    for _ in range(num_merges):
        pairs = collections.Counter()
        for word, n in vocab.items():
            for pair in zip(word, word[1:]):
                pairs[pair] += n
        if not pairs or max(pairs.values()) < 2:
            break
        best = max(pairs, key=pairs.get)  # the first of the most frequent, in counting order
        merges.append(best)
        vocab = {merge_ref(w, best): n for w, n in vocab.items()}
    return merges


def merge_ref(word, pair):
    """The paper's re.sub of 'a b' by 'ab': non-overlapping occurrences, left to right."""
    out = list(word)
    i = 0
    while i < len(out) - 1:
        if (out[i], out[i + 1]) == pair:
            out[i:i + 2] = [out[i] + out[i + 1]]
        i += 1
    return tuple(out)


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet="abcab ", min_size=1, max_size=80), st.integers(1, 12))
def test_bpe_equals_the_papers_algorithm(text, num_merges):
    assert tk.BPETokenizer.build([text], num_merges=num_merges).merges == paper_bpe(text, num_merges)


@given(st.text(alphabet="lowernstid ,.\n", max_size=60))
def test_bpe_round_trip(text):
    tok = BPE
    ids = tok.encode(text)
    assert tk.UNK_ID not in ids.tolist()
    assert tok.decode(ids) == text
    assert len(ids) <= len(text)


@given(st.lists(st.sampled_from(WORDS), max_size=12), st.lists(st.sampled_from([" ", "  ", "\n", "\t "]), max_size=12),
       st.lists(st.booleans(), max_size=12))
def test_word_round_trip_up_to_case_and_spaces(words, blanks, upper):
    tok = tk.WordTokenizer.build([" ".join(WORDS)])
    cased = [w.upper() if u else w for w, u in zip(words, upper + [False] * len(words))]
    text = "".join(w + b for w, b in zip(cased, blanks + [" "] * len(cased)))
    assert tok.decode(tok.encode(text)) == " ".join(words)


@given(st.lists(st.text(alphabet="xyzq", min_size=1, max_size=5), min_size=1, max_size=8))
def test_unknown_words_map_to_unk(unseen):
    tok = tk.WordTokenizer.build([" ".join(WORDS)])
    ids = tok.encode(" ".join(["good"] + unseen + ["film"]))
    assert ids.tolist() == [tok.tokens.index("good")] + [tk.UNK_ID] * len(unseen) + [tok.tokens.index("film")]


@given(st.permutations(TEXTS + ["a b a", "b b c"]))
def test_vocabulary_order_is_deterministic(texts):
    """Word and char vocabularies depend on the counts only (not on the order of the texts); BPE on the texts."""
    for cls in (tk.WordTokenizer, tk.CharTokenizer):
        assert cls.build(texts).tokens == cls.build(TEXTS + ["a b a", "b b c"]).tokens
    assert tk.BPETokenizer.build(texts, num_merges=20) == tk.BPETokenizer.build(list(texts), num_merges=20)


def test_word_vocabulary_cut_by_frequency():
    text = "a " * 5 + "b " * 4 + "c " * 3 + "d " * 2 + "e"
    assert tk.WordTokenizer.build([text], max_size=7).tokens[4:] == ["a", "b", "c"]
    assert tk.WordTokenizer.build([text], min_count=3).tokens[4:] == ["a", "b", "c"]
    np.testing.assert_array_equal(tk.WordTokenizer.build([text], max_size=6).encode("a b c"), [4, 5, tk.UNK_ID])


def test_bpe_save_load_limits_and_errors(tmp_path):
    tok = tk.BPETokenizer.build([SENNRICH], max_size=20)
    assert tok.vocab_size == 20 and len(tok.merges) == 20 - 15
    assert tk.BPETokenizer.build([SENNRICH], min_count=7).merges == [("e", "s"), ("es", "t"), ("est", " "),
                                                                    ("l", "o"), ("lo", "w")]
    path = tmp_path / "bpe.json"
    tok.save(path)
    loaded = tk.load_tokenizer(path)
    assert type(loaded) is tk.BPETokenizer and loaded == tok and loaded.merges == tok.merges
    np.testing.assert_array_equal(loaded.encode("newest widest"), tok.encode("newest widest"))
    assert tok.decode(tok.encode("lowz")) == "low<unk>"  # an unseen character, no byte fallback
    with pytest.raises(ValueError, match=r"max_size=10 is smaller than the 4 reserved ids plus the 11 characters"):
        tk.BPETokenizer.build([SENNRICH], max_size=10)
    with pytest.raises(ValueError, match="which is not in the vocabulary"):
        tk.BPETokenizer(list(tk.RESERVED) + ["a", "b"], merges=[("a", "b")])
