"""ListOps against LRA's own generator (google-research/long-range-arena, lra_benchmarks/data/listops.py)."""

import random

import numpy as np
import pytest

from seqmodels.data import synthetic

# ---- LRA's generate_tree / to_value, copied with its global `random` made a parameter `rng`.
MIN, MAX, MED, SUM_MOD, END = "[MIN", "[MAX", "[MED", "[SM", "]"
OPERATORS = [MIN, MAX, MED, SUM_MOD]
VALUES = range(10)
VALUE_P = 0.25


def generate_tree(rng, depth, max_depth, max_args):
    r = rng.random() if depth < max_depth else 1
    if r > VALUE_P:
        return rng.choice(VALUES), 1
    length = 2
    num_values = rng.randint(2, max_args)
    values = []
    for _ in range(num_values):
        sub_t, sub_l = generate_tree(rng, depth + 1, max_depth, max_args)
        values.append(sub_t)
        length += sub_l
    op = rng.choice(OPERATORS)
    t = (op, values[0])
    for value in values[1:]:
        t = (t, value)
    return (t, END), length


def to_string(t):
    if isinstance(t, str):
        return t
    if isinstance(t, int):
        return str(t)
    return "( " + to_string(t[0]) + " " + to_string(t[1]) + " )"


def to_value(t):
    if not isinstance(t, tuple):
        return t
    l, r = to_value(t[0]), to_value(t[1])
    if l in OPERATORS:
        return (l, [r])
    if r == END:
        return {MIN: min, MAX: max, MED: lambda v: int(np.median(v)), SUM_MOD: lambda v: np.sum(v) % 10}[l[0]](l[1])
    return (l[0], l[1] + [r])


def lra_examples(seed, n, min_length, max_length, max_depth=10, max_args=10):
    """LRA's main loop (a set of trees, min_length < length < max_length), kept in the order drawn."""
    rng = random.Random(int(np.random.default_rng(seed).integers(2**63)))  # make_listops's seeding
    data, seen = [], set()
    while len(data) < n:
        tree, length = generate_tree(rng, 1, max_depth, max_args)
        if min_length < length < max_length and tree not in seen:
            seen.add(tree)
            data.append((to_string(tree), int(to_value(tree))))
    return data


@pytest.mark.parametrize("seed,n,lo,hi,depth,args", [(0, 40, 20, 200, 10, 10), (3, 30, 2, 40, 4, 5),
                                                     (7, 5, 500, 2000, 10, 10)])
def test_same_trees_as_lra_generator(seed, n, lo, hi, depth, args):
    ours = synthetic.make_listops(seed, n, min_length=lo, max_length=hi, max_depth=depth, max_args=args)
    for x, y, (text, value) in zip(ours["x"], ours["y"], lra_examples(seed, n, lo, hi, depth, args)):
        np.testing.assert_array_equal(x, synthetic.listops_encode(text))  # LRA's parentheses dropped
        assert y == value == synthetic.listops_evaluate(x)
        assert lo < len(x) < hi  # LRA's strict bounds


def test_length_bounds_are_strict():
    d = synthetic.make_listops(0, 10, min_length=0, max_length=4, max_depth=2, max_args=2)
    assert {len(x) for x in d["x"]} == {1}  # the 10 values: [OP a b ] has 4 tokens, not < 4
    with pytest.raises(ValueError, match="min_length \\+ 2 <= max_length"):
        synthetic.make_listops(0, 1, min_length=5, max_length=6)


def test_lra_statistics():
    """LRA's data: the four operators alike, every class present, the most frequent class below a quarter."""
    d = synthetic.make_listops(1, 300, min_length=500, max_length=2000)
    counts = np.bincount(d["y"], minlength=10) / 300
    assert counts.min() > 0 and counts.max() < 0.3
    ops = np.bincount(np.concatenate(d["x"]), minlength=len(synthetic.LISTOPS_VOCAB))[11:15]
    assert ops.min() / ops.max() > 0.9
