"""Generated tasks: shapes, the exact protocols, and references written elsewhere (scipy, numpy, Python eval)."""

import re

import numpy as np
import pytest
from scipy.signal import lfilter

from seqmodels.data import synthetic


# --------------------------------------------------------------------------- adding


@pytest.mark.parametrize("n,t", [(1, 2), (5, 7), (64, 50)])
def test_adding_shapes_and_protocol(n, t):
    d = synthetic.make_adding(0, n, seq_len=t)
    assert d["x"].shape == (n, t, 2) and d["x"].dtype == np.float32
    assert d["y"].shape == (n,) and d["y"].dtype == np.float32
    values, markers = d["x"][..., 0], d["x"][..., 1]
    assert ((values >= 0) & (values < 1)).all()
    assert set(np.unique(markers)) <= {0.0, 1.0}
    np.testing.assert_array_equal(markers.sum(axis=1), 2.0)  # exactly two markers per example
    np.testing.assert_array_equal(d["y"], (values * markers).sum(axis=1))  # target = the marked sum, exactly


def test_adding_hand_example_and_seed():
    a = synthetic.make_adding(3, 4, seq_len=9)
    b = synthetic.make_adding(np.random.default_rng(3), 4, seq_len=9)
    np.testing.assert_array_equal(a["x"], b["x"])
    x = a["x"][0]
    p1, p2 = np.flatnonzero(x[:, 1])
    assert a["y"][0] == x[p1, 0] + x[p2, 0]
    c = synthetic.make_adding(4, 4, seq_len=9)
    assert not np.array_equal(a["x"], c["x"])


def test_adding_trivial_baseline_is_one_sixth():
    d = synthetic.make_adding(1, 4000, seq_len=20)
    mse = np.mean((d["y"] - 1.0) ** 2)
    assert abs(mse - 1 / 6) < 0.01  # BENCHMARKS: always predicting 1 scores 1/6
    positions = np.argwhere(d["x"][..., 1] == 1)[:, 1]
    counts = np.bincount(positions, minlength=20)
    assert counts.min() > 0.7 * counts.mean()  # markers anywhere in [0, T)


# --------------------------------------------------------------------------- copy memory


@pytest.mark.parametrize("t", [1, 5, 30])
def test_copy_memory_protocol(t):
    n = 6
    d = synthetic.make_copy_memory(0, n, seq_len=t)
    x, y = d["x"], d["y"]
    assert x.shape == (n, t + 20, 1) and x.dtype == np.float32
    assert y.shape == (n, t + 20) and y.dtype == np.int32
    xi = x[..., 0].astype(np.int32)
    digits = xi[:, :10]
    assert ((digits >= 1) & (digits <= 8)).all()
    np.testing.assert_array_equal(xi[:, 10: 10 + t - 1], 0)  # T - 1 zeros
    np.testing.assert_array_equal(xi[:, t + 9:], 9)  # 11 nines (the first is the delimiter)
    assert xi[:, t + 9:].shape[1] == 11
    np.testing.assert_array_equal(y[:, : t + 10], 0)  # T + 10 zeros
    np.testing.assert_array_equal(y[:, t + 10:], digits)  # then the digits


def test_copy_memory_hand_example():
    d = synthetic.make_copy_memory(7, 1, seq_len=3)
    digits = d["x"][0, :10, 0].astype(int).tolist()
    assert d["x"][0, :, 0].astype(int).tolist() == digits + [0, 0] + [9] * 11
    assert d["y"][0].tolist() == [0] * 13 + digits


def test_copy_memory_memoryless_baseline():
    # Predicting 0 until the recall phase and uniform over 1..8 there: 10 ln 8 / (T + 20).
    t = 1000
    d = synthetic.make_copy_memory(0, 2, seq_len=t)
    probs = np.zeros((t + 20, 10))
    probs[: t + 10, 0] = 1.0
    probs[t + 10:, 1:9] = 1 / 8
    ce = -np.mean(np.log(probs[np.arange(t + 20), d["y"][0]]))
    np.testing.assert_allclose(ce, 10 * np.log(8) / (t + 20))
    assert abs(ce - 0.0204) < 1e-4  # BENCHMARKS' number at T = 1000


# --------------------------------------------------------------------------- delay sum


@pytest.mark.parametrize("t,delay", [(1, 3), (3, 3), (10, 3), (12, 0), (12, 5)])
def test_delay_sum_matches_fir_filter(t, delay):
    d = synthetic.make_delay_sum(0, 4, seq_len=t, delay=delay)
    assert d["x"].shape == d["y"].shape == (4, t, 1)
    b = np.zeros(delay + 1)
    b[0] += 1
    b[delay] += 1  # y = x + z^-delay x
    np.testing.assert_allclose(d["y"][..., 0], lfilter(b, [1.0], d["x"][..., 0], axis=1), rtol=1e-6, atol=1e-6)


def test_delay_sum_hand_values_and_learnable():
    d = synthetic.make_delay_sum(0, 1, seq_len=6)
    x, y = d["x"][0, :, 0], d["y"][0, :, 0]
    np.testing.assert_array_equal(y[:3], x[:3])  # x(t < 0) = 0
    np.testing.assert_array_equal(y[3:], x[3:] + x[:3])
    # "loss goes down": least squares on 5 lags recovers the taps [1, 0, 0, 1, 0] exactly.
    d = synthetic.make_delay_sum(1, 20, seq_len=30)
    x = np.pad(d["x"][..., 0], ((0, 0), (4, 0)))
    lags = np.stack([x[:, 4 - k: x.shape[1] - k] for k in range(5)], axis=-1).reshape(-1, 5)  # [N*T, 5]
    taps, *_ = np.linalg.lstsq(lags, d["y"].reshape(-1), rcond=None)
    np.testing.assert_allclose(taps, [1, 0, 0, 1, 0], atol=1e-5)


# --------------------------------------------------------------------------- ListOps


def _python_eval(text: str) -> int:
    """An independent evaluator: the prefix expression rewritten as nested Python calls (LRA's np.median)."""
    expr = re.sub(r"\[(MIN|MAX|MED|SM)", r"\1(", text).replace(" ]", ")")
    expr = re.sub(r"(\d|\)) (?=[\dA-Z])", r"\1, ", expr)
    ops = {"MIN": lambda *a: min(a), "MAX": lambda *a: max(a),
           "MED": lambda *a: int(np.median(a)), "SM": lambda *a: int(np.sum(a) % 10)}
    return eval(expr, {"__builtins__": {}}, ops)  # noqa: S307 - our own generated strings


@pytest.mark.parametrize("text,value", [
    ("[MAX 2 9 [MIN 4 7 ] 0 ]", 9),
    ("[MED 1 2 3 4 ]", 2),  # int(median) = int(2.5)
    ("[SM 9 8 [MED 5 ] ]", 2),  # (9 + 8 + 5) mod 10
    ("[MIN [MAX 1 2 ] [SM 5 5 ] ]", 0),
    ("7", 7),
])
def test_listops_hand_values(text, value):
    assert synthetic.listops_evaluate(text) == value
    assert _python_eval(text) == value
    assert synthetic.listops_decode(synthetic.listops_encode(text)) == text


def test_listops_protocol_and_values_against_python_eval():
    d = synthetic.make_listops(0, 60, min_length=10, max_length=80)
    assert len(d["x"]) == 60 and d["y"].shape == (60,) and d["y"].dtype == np.int32
    seen = set()
    for x, y in zip(d["x"], d["y"]):
        assert x.dtype == np.int32 and 10 <= len(x) <= 80
        assert x.min() >= 1 and x.max() < len(synthetic.LISTOPS_VOCAB)  # no padding id inside
        text = synthetic.listops_decode(x)
        assert _python_eval(text) == y == synthetic.listops_evaluate(x)
        assert text.count("[") == text.count("]")
        seen.add(x.tobytes())
    assert len(seen) == 60  # distinct examples
    assert set(d["y"].tolist()) <= set(range(10))


def test_listops_depth_and_arguments_bounded():
    d = synthetic.make_listops(1, 30, min_length=3, max_length=60, max_depth=3, max_args=4)
    for x in d["x"]:
        depth, max_depth, args = 0, 0, [0]
        for tok in synthetic.listops_decode(x).split():
            if tok.startswith("["):
                args[-1] += 1
                depth += 1
                max_depth = max(max_depth, depth)
                args.append(0)
            elif tok == "]":
                assert 2 <= args.pop() <= 4
                depth -= 1
            else:
                args[-1] += 1
        assert max_depth <= 2  # operators at depths 1..max_depth-1; depth max_depth holds values only


def test_listops_lra_length_range_and_seed():
    d = synthetic.make_listops(5, 8)  # LRA defaults: 500..2000 tokens
    assert all(500 <= len(x) <= 2000 for x in d["x"])
    e = synthetic.make_listops(5, 8)
    assert all(np.array_equal(a, b) for a, b in zip(d["x"], e["x"]))


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("call,match", [
    (lambda: synthetic.make_adding(0, 3, seq_len=1), "seq_len must be an int >= 2, got 1"),
    (lambda: synthetic.make_adding(0, -1), "num_examples must be an int >= 0, got -1"),
    (lambda: synthetic.make_copy_memory(0, 2, seq_len=0), "seq_len must be an int >= 1, got 0"),
    (lambda: synthetic.make_delay_sum(0, 2, delay=-1), "delay must be an int >= 0, got -1"),
    (lambda: synthetic.make_listops(0, 2, min_length=9, max_length=5), "min_length=9, max_length=5"),
    (lambda: synthetic.make_listops(0, 2, max_args=1), "max_args must be an int >= 2, got 1"),
    (lambda: synthetic.make_listops(0, 2, min_length=5, max_length=9, max_depth=1), r"only 0 of the 2"),
    (lambda: synthetic.make_adding(1.5, 2), "expected an int seed or a np.random.Generator, got 1.5"),
    (lambda: synthetic.listops_encode("[MAX 1 x ]"), r"unknown ListOps tokens \['x'\]"),
    (lambda: synthetic.listops_evaluate("[MAX 1 2"), "malformed ListOps expression"),
])
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --------------------------------------------------------------------------- sentiment


def read_review(text: str) -> tuple[int, int]:
    """(label, words after the deciding clause) by reading the review as a person would (written here, not in
    synthetic.py): the clause after 'but' / after the comma of 'although' / after 'however ,' decides, else the
    one clause with an opinion; 'not' or 'never' flips the opinion word."""
    words = synthetic.SENTIMENT_WORDS
    pos = set(words["positive"]) | set(words["like"]) | {"like", "enjoy", "love"}
    neg = set(words["negative"]) | set(words["dislike"]) | {"hate", "dislike"}
    sentences = text.split(" . ")
    sentences[-1] = sentences[-1].rstrip(" .")
    k = next(i for i, s in enumerate(sentences) if set(s.split()) & (pos | neg))
    clause, last = sentences[k], k
    if k + 1 < len(sentences) and sentences[k + 1].startswith("however , "):
        clause, last = sentences[k + 1][len("however , "):], k + 1
    elif " , but " in clause:
        clause = clause.split(" , but ")[1]
    elif clause.startswith("although "):
        clause = clause.split(" , ")[1]
    tokens = clause.split()
    polarity = 1 if set(tokens) & pos else -1
    if {"not", "never"} & set(tokens):
        polarity = -polarity
    after = sum(len(s.split()) + 1 for s in sentences[last + 1:]) + 1  # the words and dots after the clause
    return int(polarity > 0), after


def test_sentiment_labels_follow_the_grammar():
    d = synthetic.make_sentiment(0, 400)
    assert d["text"].shape == d["y"].shape == d["contrast"].shape == d["distance"].shape == (400,)
    assert d["y"].dtype == np.int32 and d["y"].sum() == 200  # balanced
    read = [read_review(t) for t in d["text"]]
    np.testing.assert_array_equal([r[0] for r in read], d["y"])
    np.testing.assert_array_equal([r[1] for r in read], d["distance"])
    assert 0.5 < d["contrast"].mean() < 0.7 and d["distance"].max() > 25  # far from the end, often
    e = synthetic.make_sentiment(np.random.default_rng(0), 400)
    assert list(e["text"]) == list(d["text"])


def test_sentiment_bag_of_words_cannot_solve_it():
    """Logistic regression on word counts (scikit-learn): chance on the contrast reviews, where swapping the
    clauses flips the label and keeps the words; far from solved overall."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    train, test = synthetic.make_sentiment(1, 4000), synthetic.make_sentiment(2, 2000)
    counts = CountVectorizer(token_pattern=r"\S+").fit(train["text"])
    clf = LogisticRegression(max_iter=1000).fit(counts.transform(train["text"]), train["y"])
    right = clf.predict(counts.transform(test["text"])) == test["y"]
    assert right[test["contrast"]].mean() < 0.58 and right.mean() < 0.65
    swapped = "the plot was good , but i never liked it .", "i never liked it , but the plot was good ."
    assert sorted(swapped[0].split()) == sorted(swapped[1].split())
    assert [read_review(t)[0] for t in swapped] == [0, 1]


@pytest.mark.parametrize("kwargs,match", [({"contrast_rate": 1.5}, r"contrast_rate must lie in \[0, 1\]"),
                                          ({"max_after": -1}, "max_after must be an int >= 0")])
def test_sentiment_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        synthetic.make_sentiment(0, 4, **kwargs)
