"""experiments.wav2vec: the frame pitch labels and raw features against the melodies' notes, the temperature
schedule's step in each train batch, a bad config's clean error, and the small config from the command line."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from experiments import wav2vec
from experiments.configs.wav2vec import get_config
from seqmodels.data import melodies
from seqmodels.data.batching import ArraySource
from seqmodels.models.wav2vec import Wav2Vec2

ROOT = Path(__file__).resolve().parents[2]


def test_frame_labels_follow_the_notes():
    clips = melodies.make_melodies(0, 3, seconds=0.5, sample_rate=8000)
    model = Wav2Vec2(conv_kernels=(10, 4, 4), conv_strides=(5, 4, 4))
    starts, width = wav2vec.frame_windows(model, 4000)
    assert width == 10 + 3 * 5 + 3 * 20 and len(starts) == model.num_frames(4000) == 49
    y = wav2vec.frame_pitch(clips, starts, width, 8000)
    centre = (starts + width / 2) / 8000
    for i in range(3):
        for j in range(clips["num_notes"][i]):
            on, end = clips["onset"][i, j], clips["onset"][i, j] + melodies.DURATIONS[clips["duration"][i, j]]
            inside = (centre >= on) & (centre < end)
            assert np.all(y[i, inside] == clips["pitch"][i, j])
    # a frame's log spectrum peaks at its note's fundamental (the strongest partial), within one bin
    raw = wav2vec.raw_features(clips["audio"], starts, width)
    assert raw["raw waveform"].shape == (3, 49, width) and raw["raw log spectrum"].shape == (3, 49, width // 2 + 1)
    np.testing.assert_array_equal(raw["raw waveform"][1, 5], clips["audio"][1, starts[5]:starts[5] + width])
    voiced = y[0] < len(melodies.C_MAJOR_5)
    f0 = melodies.note_frequency(np.asarray(melodies.C_MAJOR_5)[y[0, voiced]])
    peak = raw["raw log spectrum"][0, voiced].argmax(-1) * 8000 / width
    assert np.mean(np.abs(peak - f0) <= 8000 / width) > 0.9


def test_train_batches_carry_their_step_across_epochs_and_resume():
    it = wav2vec.StepIterator(ArraySource({"x": np.zeros((6, 4), np.float32)}), 2, seed=0)
    steps = [int(next(it)["step"][0]) for _ in range(7)]
    assert steps == list(range(7))
    state = it.get_state()
    again = wav2vec.StepIterator(ArraySource({"x": np.zeros((6, 4), np.float32)}), 2, seed=0)
    again.set_state(state)
    assert int(next(again)["step"][1]) == 7


def test_clips_too_short_for_the_mask_span_are_a_config_error(tmp_path):
    config = get_config("small")
    config.model.mask_span = 60  # 0.5 s clips give 49 latent frames
    with pytest.raises(wav2vec.ConfigError, match="data.seconds"):
        wav2vec.make_task(config, tmp_path)


@pytest.mark.slow  # ~20 s of compilation on 2 cores: beyond the default suite's share
def test_small_config_runs_from_the_command_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "experiments.wav2vec", f"--workdir={tmp_path}",
                           "--config=experiments/configs/wav2vec.py:small"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    m = json.loads((tmp_path / "results.json").read_text())["metrics"]
    assert 0 <= m["contrastive_accuracy"] <= 1 and 1 <= m["test_code_perplexity"] <= 2 * 32
    for name in ("pretrained_context", "random-init_context", "raw_waveform", "raw_log_spectrum"):
        assert 0 <= m[f"probe_accuracy/{name}"] <= 1
    assert (tmp_path / "plots" / "probe_accuracy.png").exists() and (tmp_path / "plots" / "codebook_usage.png").exists()
