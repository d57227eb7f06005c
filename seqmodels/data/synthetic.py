"""Generated sequence tasks as plain numpy functions (no TFDS, no JAX).

Every generator has the signature

    make_<task>(rng_or_seed, num_examples, **sizes) -> dict of numpy arrays

and returns whole data sets with the example axis first (`[N, ...]`, N =
num_examples); one example is time first (`x: [T, C]`). `rng_or_seed` is an
int seed or a `np.random.Generator` (then the call advances it). The same
seed gives the same data on every machine (numpy's PCG64 stream is stable).
`seqmodels.data.builders` wraps these as TFDS builders.

Protocols (Bai, Kolter & Koltun 2018; Tay et al. 2021):

Adding problem, `make_adding`:
    x: [T, 2]; x[:, 0] ~ U[0, 1); x[:, 1] = 0 except two 1s at positions
    p1 != p2 drawn without replacement from [0, T).
    y = x[p1, 0] + x[p2, 0]  (a scalar; MSE on the last step). Predicting 1
    always scores E[(y - 1)^2] = Var(y) = 2/12 = 1/6.

Copy memory, `make_copy_memory` (T = seq_len, 10 digits to remember):
    x = [d_1 .. d_10, 0 x (T - 1), 9 x 11]     length T + 20, d_i ~ U{1..8}
    y = [0 x (T + 10), d_1 .. d_10]             length T + 20
    The first 9 is the delimiter: "now reproduce the digits". x is one float
    channel [T + 20, 1]; y holds class ids in 0..9 (cross-entropy over 10
    classes at every position). Memoryless baseline: 10 ln 8 / (T + 20).

Delay sum, `make_delay_sum` (a linear regression with memory):
    x ~ N(0, 1), x: [T, 1];  y(t) = x(t) + x(t - delay), with x(t < 0) = 0.

ListOps, `make_listops` (LRA's generator, Tay et al. 2021, after Nangia &
Bowman 2018): random expression trees over values 0..9 with operators
    [MIN  min    [MAX  max    [MED  int(median)    [SM  sum mod 10
written in prefix form, e.g. `[MAX 2 9 [MIN 4 7 ] 0 ]` = 9. A node is an
operator with probability 1/4 (a value otherwise) while depth < max_depth
(the root has depth 1), with 2..max_args arguments; trees whose token count
n has min_length < n < max_length are kept (LRA's strict bounds), duplicates
removed. Python's `random` is drawn in LRA's order (the operator after its
arguments), so a seeded generator gives LRA's very trees. Tokens are LRA's
whitespace tokens without the parentheses LRA's strings carry (the S4
convention; LRA's own tokenizer also dropped the brackets, a known bug):
ids from LISTOPS_VOCAB, 0 = padding. y is the value, 10 classes.
"""

import random

import numpy as np

RngOrSeed = int | np.random.Generator | np.random.SeedSequence


def as_rng(rng_or_seed: RngOrSeed) -> np.random.Generator:
    """A `np.random.Generator` from a seed (int, sequence of ints, SeedSequence) or a Generator (returned as is)."""
    if isinstance(rng_or_seed, np.random.Generator):
        return rng_or_seed
    if isinstance(rng_or_seed, (bool, float)) or rng_or_seed is None:
        raise ValueError(f"expected an int seed or a np.random.Generator, got {rng_or_seed!r}")
    return np.random.default_rng(rng_or_seed)


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


# --------------------------------------------------------------------------- adding


def make_adding(rng_or_seed: RngOrSeed, num_examples: int, seq_len: int = 600) -> dict[str, np.ndarray]:
    """Adding problem: x [N, T, 2] float32, y [N] float32 (the sum of the two marked values).

    The pair of marker positions is uniform over ordered pairs p1 != p2:
    p1 ~ U{0..T-1}, q ~ U{0..T-2}, p2 = q + [q >= p1].
    """
    n = _check_int("num_examples", num_examples, 0)
    t = _check_int("seq_len", seq_len, 2)  # two distinct markers need T >= 2
    rng = as_rng(rng_or_seed)
    values = rng.uniform(0.0, 1.0, size=(n, t)).astype(np.float32)  # [N, T]
    p1 = rng.integers(0, t, size=n)
    p2 = rng.integers(0, t - 1, size=n)
    p2 = p2 + (p2 >= p1)  # skip p1: uniform over the T - 1 other positions
    markers = np.zeros((n, t), np.float32)  # [N, T]
    rows = np.arange(n)
    markers[rows, p1] = 1.0
    markers[rows, p2] = 1.0
    x = np.stack([values, markers], axis=-1)  # [N, T, 2]
    y = values[rows, p1] + values[rows, p2]  # [N], float32 sum as a model computing in float32 would
    return {"x": x, "y": y.astype(np.float32)}


# --------------------------------------------------------------------------- copy memory

COPY_NUM_DIGITS = 10  # digits to remember
COPY_DELIMITER = 9  # the first of the 11 trailing nines


def make_copy_memory(rng_or_seed: RngOrSeed, num_examples: int, seq_len: int = 1000) -> dict[str, np.ndarray]:
    """Copy memory: x [N, T+20, 1] float32 (digits as one float channel), y [N, T+20] int32 class ids."""
    n = _check_int("num_examples", num_examples, 0)
    t = _check_int("seq_len", seq_len, 1)
    rng = as_rng(rng_or_seed)
    k = COPY_NUM_DIGITS
    digits = rng.integers(1, 9, size=(n, k)).astype(np.int32)  # [N, 10], uniform in 1..8
    x = np.zeros((n, t + 2 * k), np.int32)  # [N, T+20]
    x[:, :k] = digits
    x[:, k + t - 1:] = COPY_DELIMITER  # 11 nines: positions T+9 .. T+19
    y = np.zeros((n, t + 2 * k), np.int32)  # [N, T+20]
    y[:, t + k:] = digits
    return {"x": x[..., None].astype(np.float32), "y": y}  # x: [N, T+20, 1]


# --------------------------------------------------------------------------- delay sum


def make_delay_sum(
    rng_or_seed: RngOrSeed, num_examples: int, seq_len: int = 100, delay: int = 3
) -> dict[str, np.ndarray]:
    """Delay sum: x [N, T, 1] ~ N(0, 1) float32, y [N, T, 1] = x(t) + x(t - delay) (x(t<0) = 0)."""
    n = _check_int("num_examples", num_examples, 0)
    t = _check_int("seq_len", seq_len, 1)
    d = _check_int("delay", delay, 0)
    rng = as_rng(rng_or_seed)
    x = rng.standard_normal(size=(n, t, 1)).astype(np.float32)  # [N, T, 1]
    delayed = np.zeros_like(x)
    delayed[:, d:] = x[:, : t - d] if d < t else 0.0  # x(t - d), zero before the start
    return {"x": x, "y": x + delayed}


# --------------------------------------------------------------------------- ListOps

LISTOPS_OPERATORS = ("[MIN", "[MAX", "[MED", "[SM")
LISTOPS_END = "]"
LISTOPS_VOCAB = ("<pad>",) + tuple(str(v) for v in range(10)) + LISTOPS_OPERATORS + (LISTOPS_END,)
LISTOPS_PAD_ID = 0
_LISTOPS_ID = {tok: i for i, tok in enumerate(LISTOPS_VOCAB)}
_VALUE_ID = [_LISTOPS_ID[str(v)] for v in range(10)]  # value v -> id v + 1
_OP_ID = [_LISTOPS_ID[op] for op in LISTOPS_OPERATORS]
_END_ID = _LISTOPS_ID[LISTOPS_END]
_OPERATOR_P = 0.25  # LRA's VALUE_P: a node is an operator when random() <= 0.25


def _apply_op(op: str, args: list[int]) -> int:
    if op == "[MIN":
        return min(args)
    if op == "[MAX":
        return max(args)
    if op == "[MED":  # int(np.median(args)) as in LRA: the mean of the middle pair, truncated
        s = sorted(args)
        m = len(s) // 2
        return s[m] if len(s) % 2 else (s[m - 1] + s[m]) // 2
    if op == "[SM":
        return sum(args) % 10
    raise ValueError(f"unknown ListOps operator {op!r}; expected one of {LISTOPS_OPERATORS}")


def _listops_tree(py_rng: random.Random, depth: int, max_depth: int, max_args: int, out: list[int]) -> int:
    """Append one random subtree's token ids to `out`; return its value. LRA's generate_tree, draw for draw."""
    if depth < max_depth and py_rng.random() <= _OPERATOR_P:
        num_args = py_rng.randint(2, max_args)
        start = len(out)
        out.append(-1)  # the operator, drawn after its arguments as in LRA
        args = [_listops_tree(py_rng, depth + 1, max_depth, max_args, out) for _ in range(num_args)]
        op_index = py_rng.randrange(len(LISTOPS_OPERATORS))
        out[start] = _OP_ID[op_index]
        out.append(_END_ID)
        return _apply_op(LISTOPS_OPERATORS[op_index], args)
    value = py_rng.randrange(10)
    out.append(_VALUE_ID[value])
    return value


def make_listops(
    rng_or_seed: RngOrSeed,
    num_examples: int,
    min_length: int = 500,
    max_length: int = 2000,
    max_depth: int = 10,
    max_args: int = 10,
    max_tries: int | None = None,
) -> dict:
    """ListOps: {'x': list of N int32 arrays [T_i] (token ids, min_length < T_i < max_length), 'y': [N] int32}.

    Examples are distinct. `max_tries` (default 1000 N + 10000) bounds the
    number of trees drawn; a length range the trees cannot reach raises.
    """
    n = _check_int("num_examples", num_examples, 0)
    lo = _check_int("min_length", min_length, 0)
    hi = _check_int("max_length", max_length, 1)
    if lo + 2 > hi:
        raise ValueError(f"no length n has min_length < n < max_length: expected min_length + 2 <= max_length, "
                         f"got min_length={lo}, max_length={hi}")
    depth = _check_int("max_depth", max_depth, 1)
    args = _check_int("max_args", max_args, 2)
    tries = 1000 * n + 10000 if max_tries is None else _check_int("max_tries", max_tries, 1)
    py_rng = random.Random(int(as_rng(rng_or_seed).integers(2**63)))  # scalar draws: Python's RNG is ~10x faster
    seen: set[bytes] = set()
    xs, ys = [], []
    for _ in range(tries):
        if len(xs) == n:
            break
        tokens: list[int] = []
        value = _listops_tree(py_rng, 1, depth, args, tokens)  # whole trees: the draws stay LRA's
        if not lo < len(tokens) < hi:
            continue
        x = np.asarray(tokens, np.int32)  # [T]
        key = x.tobytes()
        if key in seen:
            continue
        seen.add(key)
        xs.append(x)
        ys.append(value)
    if len(xs) < n:
        raise ValueError(
            f"make_listops: drew {tries} trees but only {len(xs)} of the {n} requested were distinct with "
            f"{lo} < length < {hi} (max_depth={depth}, max_args={args}); widen the range or raise max_tries"
        )
    return {"x": xs, "y": np.asarray(ys, np.int32).reshape(n)}


def listops_encode(text: str) -> np.ndarray:
    """Token ids [T] of a ListOps string (whitespace tokens; parentheses, if any, are dropped)."""
    tokens = text.replace("(", " ").replace(")", " ").split()
    unknown = [t for t in tokens if t not in _LISTOPS_ID or t == "<pad>"]
    if unknown:
        raise ValueError(f"unknown ListOps tokens {unknown[:5]}; expected tokens from {LISTOPS_VOCAB[1:]}")
    return np.asarray([_LISTOPS_ID[t] for t in tokens], np.int32)


def listops_decode(ids) -> str:
    """The ListOps string of token ids (padding ids are skipped)."""
    return " ".join(LISTOPS_VOCAB[int(i)] for i in np.asarray(ids).reshape(-1) if int(i) != LISTOPS_PAD_ID)


def listops_evaluate(ids_or_text) -> int:
    """Value of a ListOps expression with an explicit stack: the reference the generator is tested against."""
    ids = listops_encode(ids_or_text) if isinstance(ids_or_text, str) else np.asarray(ids_or_text).reshape(-1)
    stack: list = []  # operator names and values; an operator opens a frame
    for i in ids:
        tok = LISTOPS_VOCAB[int(i)]
        if tok == "<pad>":
            continue
        if tok == LISTOPS_END:
            args = []
            while stack and not isinstance(stack[-1], str):
                args.append(stack.pop())
            if not stack:
                raise ValueError(f"unbalanced ListOps expression: ']' without an operator in {listops_decode(ids)!r}")
            stack.append(_apply_op(stack.pop(), args[::-1]))
        elif tok in LISTOPS_OPERATORS:
            stack.append(tok)
        else:
            stack.append(int(tok))
    if len(stack) != 1 or isinstance(stack[0], str):
        raise ValueError(f"malformed ListOps expression {listops_decode(ids)!r}")
    return int(stack[0])


# --------------------------------------------------------------------------- sentiment with order and long range

SENTIMENT_WORDS = {
    "subject": ("the film", "the movie", "the plot", "the acting", "the script", "the story", "the cast",
                "the ending", "the music", "the dialogue"),
    "verb": ("was", "is", "felt", "seemed", "looked"),
    "positive": ("good", "great", "wonderful", "brilliant", "enjoyable", "moving", "superb", "charming"),
    "negative": ("bad", "awful", "boring", "dull", "terrible", "weak", "clumsy", "tedious"),
    "intensifier": ("very", "really", "truly", "quite", "so", "extremely"),
    "like": ("liked", "enjoyed", "loved"),  # i liked it / i did not like it at all / i never liked it
    "dislike": ("hated", "disliked"),
    "person": ("i", "we", "my friend", "my sister", "my parents", "the couple next to me", "everyone"),
    "action": ("saw it", "watched it", "went to see it", "bought the tickets", "found a seat", "had popcorn",
               "waited in line", "sat near the front"),
    "when": ("on a sunday", "last week", "after work", "in the evening", "at the old cinema", "with some friends",
             "during the holidays", "before dinner"),
}
_BASE = {"liked": "like", "enjoyed": "enjoy", "loved": "love", "hated": "hate", "disliked": "dislike"}


def _sentiment_clause(rng: np.random.Generator, polarity: int, negation_rate: float) -> str:
    """One clause whose meaning has `polarity` (+1 / -1): an adjective or a verb of liking, possibly negated
    ("not", "never", "not ... at all"), which then carries the opposite word."""
    w = SENTIMENT_WORDS
    pick = lambda name: w[name][rng.integers(len(w[name]))]  # noqa: E731
    negated = rng.random() < negation_rate
    word_polarity = -polarity if negated else polarity
    if rng.random() < 0.25:  # i liked it / i did not like it at all
        verb = pick("like" if word_polarity > 0 else "dislike")
        if not negated:
            return f"i {'really ' * (rng.random() < 0.3)}{verb} it"
        return [f"i did not {_BASE[verb]} it", f"i did not {_BASE[verb]} it at all", f"i never {verb} it"][
            rng.integers(3)]
    subject, verb = pick("subject"), pick("verb")
    adj = pick("positive" if word_polarity > 0 else "negative")
    intens = f"{pick('intensifier')} " if rng.random() < 0.4 else ""
    if not negated:
        return f"{subject} {verb} {intens}{adj}"
    return [f"{subject} {verb} not {intens}{adj}", f"{subject} {verb} not {adj} at all",
            f"{subject} {verb} never {adj}"][rng.integers(3)]


def make_sentiment(rng_or_seed: RngOrSeed, num_examples: int, *, contrast_rate: float = 0.6,
                   negation_rate: float = 0.5, max_before: int = 2, max_after: int = 4) -> dict[str, np.ndarray]:
    """Movie-review sentences whose label needs word order and long range (a bag of words cannot solve them).

    A review is `before` neutral sentences (0..max_before), the deciding part, then `after` neutral sentences
    (0..max_after: the deciding phrase may lie ~30 words before the end), joined with " . ". The deciding part
    is, with probability `contrast_rate`, two clauses of opposite meaning, "A , but B" / "although A , B" /
    "A . however , B", where B decides; else one clause. A clause is "the plot was (very) good", "the plot was
    not (very) good", "... not good at all", "... never good", "i (really) liked it", "i did not like it (at
    all)", "i never liked it"; a negation ("not", "never") flips it (probability `negation_rate`).

    Why a bag of words fails: a contrast review and the one with A and B swapped have the same words and
    opposite labels, and the pair {A, B} is drawn independently of the label, so the bag is uninformative on
    contrast reviews (50%); on single clauses, word x negation is an XOR that a linear read-out of the mean
    embedding solves for at most ~3/4 of the examples.

    Returns {'text': [N] str, 'y': [N] int32 (1 positive, 0 negative), 'contrast': [N] bool,
    'distance': [N] int32 (words from the deciding clause's last word to the end of the text)}; labels are
    balanced (alternating, then shuffled).
    """
    rng = as_rng(rng_or_seed)
    num_examples = _check_int("num_examples", num_examples, 1)
    for name, rate in (("contrast_rate", contrast_rate), ("negation_rate", negation_rate)):
        if not 0 <= rate <= 1:
            raise ValueError(f"make_sentiment: {name} must lie in [0, 1], got {rate!r}")
    max_before, max_after = _check_int("max_before", max_before, 0), _check_int("max_after", max_after, 0)
    w = SENTIMENT_WORDS
    pick = lambda name: w[name][rng.integers(len(w[name]))]  # noqa: E731
    labels = rng.permutation(np.arange(num_examples) % 2).astype(np.int32)  # balanced
    texts, contrast, distance = [], np.zeros(num_examples, bool), np.zeros(num_examples, np.int32)
    for i, y in enumerate(labels):
        polarity = 1 if y else -1
        decide = _sentiment_clause(rng, polarity, negation_rate)
        if rng.random() < contrast_rate:
            other = _sentiment_clause(rng, -polarity, negation_rate)
            form = rng.integers(3)
            decide = [f"{other} , but {decide}", f"although {other} , {decide}", f"{other} . however , {decide}"][form]
            contrast[i] = True
        before, after = ([f"{pick('person')} {pick('action')} {pick('when')}" for _ in range(rng.integers(m + 1))]
                         for m in (max_before, max_after))
        tail = " . ".join(after)
        texts.append(" . ".join(before + [decide] + after) + " .")
        distance[i] = len(tail.split()) + (2 if tail else 1)  # the words of the sentences after, the dots
    return {"text": np.asarray(texts, dtype=object), "y": labels, "contrast": contrast, "distance": distance}
