"""The transcription experiment: its scores against hand-computed edit distances, the small config from the
command line (results.json, plots), a bad config as a one-paragraph error."""

import json
import subprocess
import sys
from pathlib import Path

import ml_collections
import numpy as np
import pytest

from experiments import transcription
from experiments.configs import transcription as transcription_config
from seqmodels.data import melodies

ROOT = Path(__file__).resolve().parents[2]


def test_note_error_rate_is_edits_over_reference_notes():
    refs = [[4, 5, 6], [7, 8]]
    hyps = [[4, 6], [7, 8, 9, 10]]  # one deletion; two insertions
    assert transcription.note_error_rate(hyps, refs) == pytest.approx(3 / 5)
    assert transcription.note_error_rate(refs, refs) == 0.0
    assert transcription.note_error_rate([[], []], refs) == 1.0  # transcribing nothing deletes every note
    assert transcription.note_error_rate([[9, 9, 9], [5]], refs) == pytest.approx((3 + 2) / 5)  # substitutions


def test_pitch_scores_ignore_durations():
    d = len(melodies.DURATIONS)
    same_pitch = [int(melodies.token_id(2, 0)), int(melodies.token_id(5, 2))]
    other_durations = [int(melodies.token_id(2, 1)), int(melodies.token_id(5, 0))]
    assert transcription.pitches_of(same_pitch, d) == [2, 5]
    s = transcription.scores([other_durations], [same_pitch], d)
    assert s["note_error_rate"] == 1.0 and s["pitch_error_rate"] == 0.0 and s["exact_match"] == 0.0


def test_baseline_is_the_most_frequent_note_and_length():
    assert transcription.baseline_sequence([[4, 5, 5], [5, 6, 7], [5, 6]]) == [5, 5, 5]


def test_filter_share_against_hand_counts():
    peaks, targets = np.array([440.0, 445.0, 470.0, 1000.0]), np.array([440.0, 1000.0])
    tuned, chance = transcription.tuned_share(peaks, targets, 16000)
    assert tuned == 0.75  # 470 Hz is 6.8% above A4: more than a quarter tone (2.9%)
    assert chance == pytest.approx(2 * 0.0293 * (440 + 1000) / 8000, rel=0.02)


def test_small_config_runs_from_the_command_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "experiments.transcription", f"--workdir={tmp_path}",
                           "--config=experiments/configs/transcription.py:small"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    m = json.loads((tmp_path / "results.json").read_text())["metrics"]
    for name in ("greedy", "beam", "baseline"):
        assert m[f"{name}_note_error_rate"] >= 0 and 0 <= m[f"{name}_exact_match"] <= 1
    assert 0 <= m["filters_at_fundamental"] <= 1 and 0 < m["filters_at_partial_chance"] < 1
    for png in ("filters.png", "transcriptions.png"):
        assert (tmp_path / "plots" / png).stat().st_size > 1000


def test_bad_front_end_is_a_one_paragraph_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "experiments.transcription", f"--workdir={tmp_path}",
                           "--config=experiments/configs/transcription.py:small", "--config.front_end.pool=0"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "front_end.pool" in proc.stderr.strip().splitlines()[-1]


def test_config_variants():
    assert transcription_config.get_config().num_steps > transcription_config.get_config("small").num_steps
    with pytest.raises(ValueError, match="small"):
        transcription_config.get_config("big")
    config = transcription_config.get_config("small")
    assert isinstance(config, ml_collections.ConfigDict)
    model = transcription.build_model(config, melodies.vocab_size())
    assert model.front_end.num_filters == config.front_end.num_filters
