"""The word2vec experiment: the small config from the command line, and clean errors for bad data files."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from experiments import word2vec
from experiments.configs import word2vec as word2vec_config
from seqmodels.training import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_small_config_runs_from_the_command_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "experiments.word2vec", f"--workdir={tmp_path}",
                           "--config=experiments/configs/word2vec.py:small"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["corpus"]["words"] == 20_000 and results["corpus"]["source"].startswith("pydoc_data")
    ours = results["seqmodels"]
    assert ours["words_per_second"] > 0 and len(ours["neighbours"]) > 0
    assert all(len(n) == 8 for n in ours["neighbours"].values())
    if "gensim" in results:
        assert 0.0 <= ours["analogy"]["accuracy"] <= 1.0 and results["gensim"]["train_seconds"] > 0
    assert (tmp_path / "pca.png").stat().st_size > 0


def _config(**data):
    config = word2vec_config.get_config("small")
    config.data.update(data)
    return config


@pytest.mark.parametrize("content, message", [(b"", "is empty"), (b"  \n\n", "is empty"),
                                              (b"caf\xe9 au lait", "is not UTF-8")])
def test_bad_data_file_is_a_clear_error(tmp_path, content, message):
    path = tmp_path / "input.txt"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=message):
        word2vec.corpus(_config(data_file=str(path)))
    with pytest.raises(ConfigError, match="is not a file"):
        word2vec.corpus(_config(data_file=str(tmp_path / "missing.txt")))


def test_vocabulary_larger_than_the_corpus_is_a_clear_error(tmp_path):
    path = tmp_path / "input.txt"
    path.write_text("the quick brown fox jumps over the lazy dog\n" * 3, encoding="utf-8")
    with pytest.raises(ConfigError, match="max_vocab_size=100 is larger than the corpus"):
        word2vec.corpus(_config(data_file=str(path), max_vocab_size=100, min_count=1))
    with pytest.raises(ConfigError, match="min_count"):
        word2vec.corpus(_config(data_file=str(path), min_count=50))
    data = word2vec.corpus(_config(data_file=str(path), min_count=3))
    assert data["vocab"] == ["the", "brown", "dog", "fox", "jumps", "lazy", "over", "quick"]


def test_command_line_error_is_one_paragraph(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    proc = subprocess.run([sys.executable, "-m", "experiments.word2vec", f"--workdir={tmp_path / 'run'}",
                           f"--config.data.data_file={empty}"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert len(errors) == 1 and errors[0].startswith("error: data.data_file"), proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
