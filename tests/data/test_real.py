"""TFDS real data sets under tfds.testing.mock_data (no files), and the missing-data error."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

from seqmodels.data import batching, real, tokenizers


@pytest.fixture
def mock():
    with tfds.testing.mock_data(num_examples=5):
        yield


def test_imdb_reviews(mock):
    texts = real.imdb_texts("train")
    assert len(texts) == 5 and all(isinstance(t, str) for t in texts)
    tok = tokenizers.WordTokenizer.build(texts)
    source = real.imdb_reviews("train", tok, max_length=4)
    ex = source[0]
    assert ex["x"].dtype == np.int32 and 1 <= len(ex["x"]) <= 4 and ex["y"] in (0, 1)
    np.testing.assert_array_equal(ex["x"], tok.encode(texts[0])[:4])
    batch = next(batching.TrainIterator(source, 2, seed=0))
    assert batch["x"].shape[0] == 2 and batch["lengths"].shape == (2,)


def test_tiny_shakespeare(mock):
    text = real.tiny_shakespeare_text("train")
    assert isinstance(text, str) and len(text) > 0
    tok = tokenizers.CharTokenizer.build([text])
    ids = tok.encode(text)
    windows = batching.WindowSource(ids, window=4, next_step=True)
    np.testing.assert_array_equal(windows[0]["y"][:-1], windows[0]["x"][1:])


@pytest.mark.parametrize("permute_seed", [None, 0])
def test_sequential_mnist(mock, permute_seed):
    source = real.sequential_mnist("test", permute_seed=permute_seed)
    raw = tfds.data_source("mnist", split="test")
    ex = source[0]
    assert ex["x"].shape == (784, 1) and ex["x"].dtype == np.float32 and 0 <= ex["x"].min() <= ex["x"].max() <= 1
    pixels = raw[0]["image"].reshape(784).astype(np.float32) / 255
    if permute_seed is None:
        np.testing.assert_allclose(ex["x"][:, 0], pixels)  # row-major pixel order
    else:
        np.testing.assert_allclose(np.sort(ex["x"][:, 0]), np.sort(pixels))
    assert ex["y"] == raw[0]["label"]


def test_ted_pt_en(mock):
    pairs = real.ted_pt_en("train")
    assert set(pairs[0]) == {"pt", "en"} and isinstance(pairs[0]["pt"], str)
    pt = tokenizers.CharTokenizer.build([pairs[i]["pt"] for i in range(len(pairs))])
    en = tokenizers.CharTokenizer.build([pairs[i]["en"] for i in range(len(pairs))])
    ids = real.ted_pt_en("validation", src_tokenizer=pt, tgt_tokenizer=en)
    ex = ids[0]
    assert ex["y"][0] == tokenizers.BOS_ID and ex["y"][-1] == tokenizers.EOS_ID
    batch = next(batching.eval_batches(ids, 4, seq_keys=("x", "y")))
    assert batch["x"].shape[1] == batch["y"].shape[1] and "y_lengths" in batch
    with pytest.raises(ValueError, match="needs both src_tokenizer and tgt_tokenizer"):
        real.ted_pt_en("train", src_tokenizer=pt)


def test_missing_data_says_how_to_get_it(tmp_path):
    with pytest.raises(real.DataNotFoundError) as info:
        real.data_source("imdb_reviews", "train", data_dir=str(tmp_path))
    message = str(info.value)
    assert "tfds build imdb_reviews --file_format=array_record" in message
    assert str(tmp_path) in message and "download=True" in message
    assert isinstance(info.value, FileNotFoundError)
    with pytest.raises(real.DataNotFoundError, match="ted_hrlr_translate/pt_to_en"):
        real.ted_pt_en("train", data_dir=str(tmp_path))


def test_unknown_name_keeps_tfds_error(tmp_path):
    with pytest.raises(Exception, match="not found") as info:
        real.data_source("no_such_data_set_xyz", "train", data_dir=str(tmp_path))
    assert not isinstance(info.value, real.DataNotFoundError)


def test_mnist_arrays(mock):
    data = real.mnist("train", limit=3)
    raw = tfds.data_source("mnist", split="train")
    assert data["x"].shape == (3, 28, 28) and data["x"].dtype == np.float32 and data["y"].dtype == np.int32
    np.testing.assert_allclose(data["x"][1], raw[1]["image"][..., 0].astype(np.float32) / 255)
    np.testing.assert_array_equal(data["y"], [raw[i]["label"] for i in range(3)])
    assert len(real.mnist("test")["y"]) == 5  # all of the mock split


def test_mnist_missing_says_how_to_get_it(tmp_path):
    with pytest.raises(real.DataNotFoundError, match="tfds build mnist"):
        real.mnist("train", data_dir=str(tmp_path))
