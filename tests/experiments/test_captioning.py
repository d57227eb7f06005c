"""experiments/captioning.py: the small config from the command line (both models, scores, pictures), the
baseline, and config errors."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from experiments import captioning, seq2seq
from experiments.configs import captioning as configs
from seqmodels.data import captions
from seqmodels.training import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_small_config_runs_from_the_command_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "experiments.captioning", f"--workdir={tmp_path}",
                           "--config=experiments/configs/captioning.py:small"],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["models"]) == {"attention", "none"}
    assert results["models"]["attention"]["attention"] == "bahdanau"
    for m in results["models"].values():
        for metric in ("exact_match", "exact_match_beam2", "exact_match_2_digits", "exact_match_3_digits"):
            assert 0.0 <= m[metric] <= 1.0
        assert 0.0 <= m["bleu"] <= 100.0 and m["steps"] == 20 and m["num_params"] > 0
    assert results["data"]["train"] == 64 and results["data"]["test"] == 24
    assert 0.0 <= results["reference"]["exact_match"] <= 1.0
    for picture in ("attention_attention", "scores", "test_loss"):
        assert (tmp_path / "plots" / f"{picture}.png").stat().st_size > 0
    assert not (tmp_path / "plots" / "attention_none.png").exists()  # no attention, no map


def test_data_are_seq2seq_pairs_of_images_and_captions():
    config = configs.get_config("small")
    data = captioning.load_data(config)
    assert data["train"]["src"].shape == (64, 36, 36) and len(data["train"]["tgt"]) == 64
    first = data["train"]["tgt"][0]
    assert first[0] == captions.BOS_ID and first[-1] == captions.EOS_ID
    assert captioning.detokenize(seq2seq.strip(first)) == data["raw"]["train"]["captions"][0]


def test_baseline_is_the_most_frequent_training_caption():
    ids = lambda texts: [t[:n] for t, n in zip(*captions.encode(texts))]
    data = {"train": seq2seq.pairs(np.zeros((3, 4, 4)), ids(["one left of two", "one left of two", "two above one"])),
            "test": seq2seq.pairs(np.zeros((2, 4, 4)), ids(["one left of two", "three above four"]))}
    base = captioning.baseline(data)
    assert base["most_frequent_caption"] == "one left of two" and base["exact_match"] == 0.5
    assert 0.0 < base["bleu"] < 100.0


def test_config_errors_name_the_field():
    config = configs.get_config("small")
    config.model.none.update(dropout=0.5)
    with pytest.raises(ConfigError, match="model.none: unknown field"):
        captioning.sub_runs(config)
    config = configs.get_config("small")
    config.model.attention.attention = "luong_sideways"
    with pytest.raises(ConfigError, match="model.attention: .*attention must be one of"):
        captioning.sub_runs(config)
    config = configs.get_config("small")
    config.data.max_digits = 12
    with pytest.raises(ConfigError, match="data: make_canvases: expected 1 <= min_digits"):
        captioning.load_data(config)
