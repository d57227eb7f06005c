"""The translation experiment: its data split, config errors, and the small config from the command line."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from experiments import translation
from experiments.configs import translation as configs
from seqmodels.data.tokenizers import BOS_ID, EOS_ID
from seqmodels.training import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_data_split_has_every_length_and_no_test_sentence_in_train():
    config = configs.get_config("small")
    data = translation.load_data(config)
    train, test = data["train"], data["test"]
    assert len(train["tgt"]) == config.data.num_train and 0 < len(test["tgt"]) <= config.data.num_test
    assert not {tuple(s) for s in test["src"]} & {tuple(s) for s in train["src"]}
    lengths = {len(s) for s in test["src"]}
    assert min(lengths) >= config.data.min_len and max(lengths) <= config.data.max_len and len(lengths) >= 6
    assert all(t[0] == BOS_ID and t[-1] == EOS_ID for t in train["tgt"])


@pytest.mark.parametrize("field, value, message", [
    ("data.source", "europarl", "data.source"),
    ("model.names", "rnn_none,gru", "has no section"),
    ("model.transformer.sampling_prob", 0.5, "scheduled sampling needs a recurrent decoder"),
])
def test_config_errors(field, value, message):
    config = configs.get_config("small")
    section, name = field.rsplit(".", 1)
    target = config
    for part in section.split("."):
        target = target[part]
    with target.ignore_type():
        target[name] = value
    with pytest.raises(ConfigError, match=message):
        translation.sub_runs(config)


def run_small(tmp_path, names):
    proc = subprocess.run([sys.executable, "-m", "experiments.translation", f"--workdir={tmp_path}",
                           "--config=experiments/configs/translation.py:small", f"--config.model.names={names}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((tmp_path / "results.json").read_text())


def test_small_config_runs_from_the_command_line(tmp_path):
    results = run_small(tmp_path, "rnn_luong")
    row = results["models"]["rnn_luong"]
    assert 0 <= row["beam_bleu"] <= 100 and 0 <= row["greedy_exact_match"] <= 1
    assert set(row["beam_bleu_by_length"]) == {"3-7", "8-12"}
    assert (tmp_path / "plots" / "bleu_by_length.png").exists()
    assert list((tmp_path / "rnn_luong" / "plots").glob("alignment_*.png"))
    assert "->" in (tmp_path / "rnn_luong" / "translations.txt").read_text()


@pytest.mark.slow
def test_small_config_all_kinds(tmp_path):
    results = run_small(tmp_path, "rnn_none,rnn_bahdanau_ss,transformer")
    assert set(results["models"]) == {"rnn_none", "rnn_bahdanau_ss", "transformer"}
    assert results["models"]["rnn_bahdanau_ss"]["sampling_prob"] == 0.25
