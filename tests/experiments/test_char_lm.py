"""Character LMs: the small config from the command line (Transformer, LSTM), the stateful stream batches,
the 90/10 split, the data sources, and clear errors for bad data."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow_datasets as tfds

from experiments import char_lm
from experiments.configs import char_lm as char_lm_config
from seqmodels.training import ConfigError

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("model", ["transformer", "lstm"])
def test_small_config_runs_from_the_command_line(tmp_path, model):
    proc = subprocess.run([sys.executable, "-m", "experiments.char_lm", f"--workdir={tmp_path}",
                           "--config=experiments/configs/char_lm.py:small", f"--config.model.name={model}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    m = json.loads((tmp_path / "results.json").read_text())["metrics"]
    assert m["num_chars"] > 400_000 and m["num_params"] > 0
    assert 0 < m["valid_loss"] < 1.2 * np.log(m["vocab_size"])  # below (or about) the uniform guess after 20 steps
    assert m["full_valid_bpc"] == pytest.approx(m["full_valid_loss"] / np.log(2))
    assert ("stateful_valid_loss" in m) == (model == "lstm")
    samples = (tmp_path / "samples.txt").read_text(encoding="utf-8")
    assert samples.count("--- temperature") == 3


def test_streams_are_consecutive_chunks_and_reset_at_each_pass():
    ids = np.arange(2 * 21, dtype=np.int32)  # 2 streams of 21: chunks of 5 -> 4 per pass
    it = char_lm.StreamIterator(ids, batch_size=2, context=5)
    batches = [next(it) for _ in range(5)]
    np.testing.assert_array_equal(batches[0]["x"], [[0, 1, 2, 3, 4], [21, 22, 23, 24, 25]])
    for a, b in zip(batches[:3], batches[1:4]):  # chunk k + 1 continues chunk k in every stream
        np.testing.assert_array_equal(b["x"][:, 0], a["x"][:, -1] + 1)
        np.testing.assert_array_equal(a["y"], a["x"] + 1)
    assert [bool(b["reset"][0]) for b in batches] == [True, False, False, False, True]
    it.set_state({"step": 1})
    np.testing.assert_array_equal(next(it)["x"], batches[1]["x"])


def test_windows_depend_on_seed_and_step_only():
    ids = np.arange(100, dtype=np.int32)
    it = char_lm.WindowIterator(ids, 3, 8, seed=0)
    first, second = next(it), next(it)
    np.testing.assert_array_equal(first["y"], first["x"] + 1)
    it.set_state({"seed": 0, "step": 1})
    np.testing.assert_array_equal(next(it)["x"], second["x"])


def config_with(tmp_path, text: bytes | None = None, **data):
    config = char_lm_config.get_config("small")
    if text is not None:
        path = tmp_path / "input.txt"
        path.write_bytes(text)
        config.data_file = str(path)
    config.data.update(data)
    return config


def test_split_is_ninety_ten_by_position(tmp_path):
    text = "".join(chr(ord("a") + i % 26) for i in range(1000))
    config = config_with(tmp_path, text.encode())
    tokenizer, train, valid = char_lm.split_ids(config, char_lm.load_text(config))
    assert len(train) == 900 and len(valid) == 100
    assert tokenizer.decode(train) == text[:900] and tokenizer.decode(valid) == text[900:]


def test_default_corpus_is_the_stdlib_topics_and_tfds_shakespeare_loads(tmp_path):
    text = char_lm.load_text(config_with(tmp_path))
    assert len(text) > 400_000 and "assert" in text
    with tfds.testing.mock_data(num_examples=3):
        assert len(char_lm.load_text(config_with(tmp_path, source="tiny_shakespeare"))) > 0


@pytest.mark.parametrize("text, message", [
    (b"", "is empty"),
    ("caf\u00e9".encode("latin-1") * 100, "not UTF-8"),
    (b"short text", "longer than the data"),
])
def test_bad_data_file_is_a_clear_error(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        char_lm.make_task(config_with(tmp_path, text))


def test_missing_data_file_from_the_command_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "experiments.char_lm", f"--workdir={tmp_path}",
                           "--config=experiments/configs/char_lm.py:small", f"--config.data_file={tmp_path}/no.txt"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1 and "is not a file" in proc.stderr and "Traceback" not in proc.stderr
