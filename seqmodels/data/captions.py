"""Captioned digit canvases: scikit-learn's 8x8 digits placed on a grid, described in words (offline).

A canvas is a grid of `grid` = (rows, cols) cells of `cell` x `cell` pixels. An image holds 2..3 digits
(`min_digits`..`max_digits`) in distinct cells, each a real 8x8 handwritten digit or, with probability
`small_prob`, the same digit shrunk to `small_size` x `small_size` (bilinear); inside its cell a digit sits at
a random offset. The caption names the digits in reading order (top to bottom, then left to right), each
one's size ("small" or nothing) and where it is relative to the next:

    same row:                    "<a> left of <b>"
    a's row above b's:           "<a> above [left of | right of] <b>"   (the column's side, if any)

    e.g. "three left of small seven", "small two above right of five left of one"

so a caption is a deterministic function of the image (exact match is a fair score), 3 to 12 words long,
and writing it means reading every digit and comparing positions: a decoder that can look at one region
per word has an easy job, a decoder that starts from one vector has to squeeze the whole layout into it.
Held-out images are made from held-out digit images (`packaged.digits`' split), so the test set has never
seen a test digit's strokes.

Token ids (seqmodels.data.tokenizers' reserved ids): 0 <pad>, 1 <unk>, 2 <bos>, 3 <eos>, then WORDS from 4.
"""

import numpy as np

from seqmodels.data import packaged
from seqmodels.data.tokenizers import BOS_ID, EOS_ID, PAD_ID, RESERVED, UNK_ID

NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
WORDS = NAMES + ("small", "left", "right", "above", "of")
VOCAB = RESERVED + WORDS
MAX_WORDS = 12  # 3 digits x 2 words + 2 relations x 3 words


def _resize_matrix(n_out: int, n_in: int) -> np.ndarray:
    """[n_out, n_in] bilinear interpolation weights (pixel centres aligned), rows summing to 1."""
    pos = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
    pos = np.clip(pos, 0, n_in - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = pos - lo
    m = np.zeros((n_out, n_in))
    m[np.arange(n_out), lo] += 1 - frac
    m[np.arange(n_out), hi] += frac
    return m


def shrink(digit: np.ndarray, size: int) -> np.ndarray:
    """An 8x8 image resized to [size, size] (bilinear, separable: R x R^T)."""
    r = _resize_matrix(size, digit.shape[0])
    return (r @ digit @ r.T).astype(np.float32)


def relation(a: tuple[int, int], b: tuple[int, int]) -> list[str]:
    """Words placing cell a = (row, col) relative to cell b, with a before b in reading order."""
    (ra, ca), (rb, cb) = a, b
    if (ra, ca) >= (rb, cb):
        raise ValueError(f"relation: cell {a} must come before cell {b} in reading order")
    side = ["left", "of"] if ca < cb else ["right", "of"] if ca > cb else []
    return side if ra == rb else ["above", *side]


def caption(labels, cells, small) -> str:
    """The caption of digits `labels` at `cells` (row, col), `small` flags, given in any order."""
    order = sorted(range(len(labels)), key=lambda i: tuple(cells[i]))
    words = []
    for k, i in enumerate(order):
        if k:
            words += relation(tuple(cells[order[k - 1]]), tuple(cells[i]))
        words += ["small"] * bool(small[i]) + [NAMES[labels[i]]]
    return " ".join(words)


def make_canvases(images: np.ndarray, labels: np.ndarray, n: int, *, seed: int, grid=(3, 3), cell: int = 12,
                  min_digits: int = 2, max_digits: int = 3, small_prob: float = 0.3,
                  small_size: int = 6) -> dict:
    """n canvases from the digit pool `images` [M, 8, 8] (values in [0, 1]) with `labels` [M].

    Returns {'x': [n, rows cell, cols cell] float32, 'captions': list of n str, and per digit in drawing
    order [n, max_digits] int32 (-1 where an image has fewer digits): 'labels', 'rows', 'cols' (its cell),
    'small' (0/1), 'top', 'left' (its top-left pixel), 'source' (its index in `images`)}.
    """
    rows, cols = grid
    side = images.shape[1]
    if not 1 <= min_digits <= max_digits <= rows * cols:
        raise ValueError(f"make_canvases: expected 1 <= min_digits <= max_digits <= {rows * cols} cells, got "
                         f"min_digits={min_digits}, max_digits={max_digits}")
    if not (side <= cell and 0 < small_size <= side):
        raise ValueError(f"make_canvases: expected 0 < small_size <= {side} (digit side) <= cell, got "
                         f"small_size={small_size}, cell={cell}")
    rng = np.random.default_rng(seed)
    x = np.zeros((n, rows * cell, cols * cell), np.float32)
    fields = {f: np.full((n, max_digits), -1, np.int32)
              for f in ("labels", "rows", "cols", "small", "top", "left", "source")}
    captions = []
    for i in range(n):
        count = rng.integers(min_digits, max_digits + 1)
        where = rng.choice(rows * cols, size=count, replace=False)
        picks = rng.integers(len(labels), size=count)
        tiny = rng.random(count) < small_prob
        for k, (c, p, s) in enumerate(zip(where, picks, tiny)):
            digit = shrink(images[p], small_size) if s else images[p]
            dy, dx = rng.integers(cell - digit.shape[0] + 1, size=2)
            top, left = (c // cols) * cell + dy, (c % cols) * cell + dx
            x[i, top:top + digit.shape[0], left:left + digit.shape[1]] = digit
            for f, v in zip(fields, (labels[p], c // cols, c % cols, s, top, left, p)):
                fields[f][i, k] = v
        used = slice(0, count)
        cells = np.stack([fields["rows"][i, used], fields["cols"][i, used]], 1)
        captions.append(caption(fields["labels"][i, used], cells, fields["small"][i, used]))
    return {"x": x, "captions": captions, **fields}


def digit_captions(num_train: int, num_test: int, *, seed: int = 0, split_seed: int = 0,
                   test_fraction: float = 0.2, **layout) -> dict:
    """{'train', 'test'} canvases (make_canvases) from scikit-learn's digits split by `packaged.digits`:
    test canvases use only held-out digit images. The train set uses `seed`, the test set `seed + 1`."""
    digits = packaged.digits(test_fraction=test_fraction, seed=split_seed)
    return {name: make_canvases(digits[name]["x"], digits[name]["y"], n, seed=seed + i, **layout)
            for i, (name, n) in enumerate((("train", num_train), ("test", num_test)))}


def encode(captions, max_len: int = MAX_WORDS + 2) -> tuple[np.ndarray, np.ndarray]:
    """Captions -> (ids [N, max_len] int32 = <bos> words <eos> then <pad>, lengths [N] counting <bos> and <eos>).
    A word outside WORDS is <unk>; a caption longer than max_len - 2 words is a ValueError."""
    ids = {w: i for i, w in enumerate(VOCAB)}
    out = np.full((len(captions), max_len), PAD_ID, np.int32)
    lengths = np.zeros(len(captions), np.int32)
    for n, text in enumerate(captions):
        seq = [BOS_ID] + [ids.get(w, UNK_ID) for w in text.split()] + [EOS_ID]
        if len(seq) > max_len:
            raise ValueError(f"encode: caption {n} has {len(seq) - 2} words, more than max_len - 2 = "
                             f"{max_len - 2}: {text!r}")
        out[n, :len(seq)], lengths[n] = seq, len(seq)
    return out, lengths


def decode(ids) -> str:
    """Token ids -> words, stopping at <eos>, leaving out <pad> and <bos>."""
    words = []
    for i in np.asarray(ids).tolist():
        if i == EOS_ID:
            break
        if i not in (PAD_ID, BOS_ID):
            words.append(VOCAB[i] if 0 <= i < len(VOCAB) else VOCAB[UNK_ID])
    return " ".join(words)


__all__ = ["NAMES", "WORDS", "VOCAB", "MAX_WORDS", "shrink",
           "relation", "caption", "make_canvases", "digit_captions", "encode", "decode"]
