"""Real TFDS data sets through `tfds.data_source` (ArrayRecord, random access, no TensorFlow).

    imdb_reviews(split, tokenizer)     {'x': token ids [T], 'y': 0/1}        sentiment
    tiny_shakespeare_text(split)       the split's text (one string)         char LM
    sequential_mnist(split)            {'x': [784, 1] in [0, 1], 'y'}         pixel by pixel
    mnist(split)                       arrays {'x': [N, 28, 28] in [0, 1], 'y': [N]}   images
    ted_pt_en(split, ...)              {'x': pt ids, 'y': en ids} or strings  translation
    data_source(name, split)           any TFDS data set, with a clear error when missing

Nothing is downloaded unless `download=True`. A data set must already be
prepared in ArrayRecord format under `data_dir` (default `$TFDS_DATA_DIR`
or ~/tensorflow_datasets); otherwise `DataNotFoundError` says how to get it.
Tests use `tfds.testing.mock_data`, which needs no files. This module is the
one place to change when the TFDS API moves.
"""

import os

import numpy as np
import tensorflow_datasets as tfds

from seqmodels.data.batching import MapSource
from seqmodels.data.tokenizers import Tokenizer, as_text


class DataNotFoundError(FileNotFoundError):
    """A TFDS data set is not prepared (as ArrayRecord) where we looked, and downloading was not asked for."""


def _how_to_get(name: str, data_dir) -> str:
    where = data_dir or os.environ.get("TFDS_DATA_DIR") or "~/tensorflow_datasets"
    return (
        f"TFDS data set {name!r} is not prepared in ArrayRecord format under {where}. On a machine with "
        f"internet access (and TensorFlow, which some TFDS builders need to prepare), run\n"
        f"    tfds build {name} --file_format=array_record --data_dir=DIR\n"
        f"or in Python: tfds.data_source({name!r}, data_dir='DIR', download=True)  (it prepares ArrayRecord);\n"
        f"then copy DIR to this machine and pass data_dir=DIR (or set TFDS_DATA_DIR=DIR). "
        f"With internet here, pass download=True."
    )


def data_source(name: str, split: str, *, data_dir: str | None = None, download: bool = False):
    """`tfds.data_source(name, split=split)`: a random-access sequence of example dicts.

    Raises DataNotFoundError (with the commands to get the data) when the
    data set is not prepared as ArrayRecord under data_dir and download is False.
    """
    try:
        return tfds.data_source(name, split=split, data_dir=data_dir, download=download)
    except Exception as e:  # tfds raises NotImplementedError / KeyError / AssertionError ... when data is missing
        try:
            builder = tfds.builder(name, data_dir=data_dir)
            prepared = builder.is_prepared() and "array_record" in str(builder.info.file_format).lower()
        except Exception:  # an unknown name: let tfds's own error (it lists the known names) through
            raise e from None
        if prepared:
            raise  # the data is there; the problem is something else (a bad split name, ...)
        raise DataNotFoundError(_how_to_get(name, data_dir)) from e


# --------------------------------------------------------------------------- IMDB


def imdb_texts(split: str = "train", *, data_dir: str | None = None, download: bool = False) -> list[str]:
    """All review texts of a split (to build a tokenizer: WordTokenizer.build(imdb_texts('train')))."""
    source = data_source("imdb_reviews", split, data_dir=data_dir, download=download)
    return [as_text(source[i]["text"]) for i in range(len(source))]


def imdb_reviews(split: str, tokenizer: Tokenizer, *, max_length: int | None = None,
                 data_dir: str | None = None, download: bool = False) -> MapSource:
    """IMDB sentiment (25k train / 25k test): examples {'x': int32 [T] token ids, 'y': int32 0 (neg) / 1 (pos)}.

    Reviews longer than `max_length` tokens keep their first max_length.
    """
    source = data_source("imdb_reviews", split, data_dir=data_dir, download=download)

    def encode(ex):
        ids = tokenizer.encode(ex["text"])
        return {"x": ids if max_length is None else ids[:max_length], "y": np.int32(ex["label"])}

    return MapSource(source, encode)


# --------------------------------------------------------------------------- tiny Shakespeare


def tiny_shakespeare_text(split: str = "train", *, data_dir: str | None = None, download: bool = False) -> str:
    """The text of a split of tiny_shakespeare (Karpathy's char-rnn corpus; train/validation/test).

    Batch it with CharTokenizer and batching.WindowSource(ids, T, next_step=True).
    """
    source = data_source("tiny_shakespeare", split, data_dir=data_dir, download=download)
    return "".join(as_text(source[i]["text"]) for i in range(len(source)))


# --------------------------------------------------------------------------- sequential MNIST


def sequential_mnist(split: str, *, permute_seed: int | None = None, data_dir: str | None = None,
                     download: bool = False) -> MapSource:
    """MNIST read pixel by pixel: {'x': float32 [784, 1] in [0, 1] (row-major), 'y': int32 0..9}.

    With `permute_seed` the 784 positions follow one fixed random
    permutation (permuted MNIST, Le et al. 2015).
    """
    source = data_source("mnist", split, data_dir=data_dir, download=download)
    order = None if permute_seed is None else np.random.default_rng(permute_seed).permutation(784)

    def to_sequence(ex):
        x = np.asarray(ex["image"], np.float32).reshape(784, 1) / 255.0  # [T=784, 1]
        return {"x": x if order is None else x[order], "y": np.int32(ex["label"])}

    return MapSource(source, to_sequence)


def mnist(split: str, *, limit: int | None = None, data_dir: str | None = None,
          download: bool = False) -> dict[str, np.ndarray]:
    """MNIST images in memory: {'x': float32 [N, 28, 28] in [0, 1], 'y': int32 [N]}, the split's first
    `limit` examples (all when None). As a "sequence" an image is its 28 rows, x [T=28, D=28]."""
    source = data_source("mnist", split, data_dir=data_dir, download=download)
    n = len(source) if limit is None else min(limit, len(source))
    examples = [source[i] for i in range(n)]
    x = np.stack([np.asarray(ex["image"], np.float32).reshape(28, 28) for ex in examples]) / 255.0
    return {"x": x, "y": np.array([ex["label"] for ex in examples], np.int32)}


# --------------------------------------------------------------------------- TED talks pt -> en


def ted_pt_en(split: str, *, src_tokenizer: Tokenizer | None = None, tgt_tokenizer: Tokenizer | None = None,
              data_dir: str | None = None, download: bool = False) -> MapSource:
    """TED talks Portuguese -> English (ted_hrlr_translate/pt_to_en, Qi et al. 2018).

    Without tokenizers: {'pt': str, 'en': str}. With both: {'x': pt ids [S],
    'y': en ids [T] with <bos> ... <eos>} (batch with seq_keys=('x', 'y')).
    """
    if (src_tokenizer is None) != (tgt_tokenizer is None):
        raise ValueError("ted_pt_en needs both src_tokenizer and tgt_tokenizer, or neither")
    source = data_source("ted_hrlr_translate/pt_to_en", split, data_dir=data_dir, download=download)
    if src_tokenizer is None:
        return MapSource(source, lambda ex: {"pt": as_text(ex["pt"]), "en": as_text(ex["en"])})
    return MapSource(source, lambda ex: {
        "x": src_tokenizer.encode(ex["pt"]),
        "y": tgt_tokenizer.encode(ex["en"], add_bos=True, add_eos=True),
    })


__all__ = ["DataNotFoundError", "data_source", "imdb_texts", "imdb_reviews", "tiny_shakespeare_text",
           "sequential_mnist", "mnist", "ted_pt_en"]
