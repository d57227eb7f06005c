"""The mu-law WaveNet experiment: its baselines against plain loops, its WAV writer, and the small config."""

import collections
import json
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from experiments import wavenet as wn

ROOT = Path(__file__).resolve().parents[2]


def levels(seed, shape, num_classes):
    return np.random.default_rng(seed).integers(num_classes, size=shape)


def test_unigram_and_bigram_bits_match_plain_loops():
    q, train, test = 5, levels(0, (3, 40), 5), levels(1, (2, 30), 5)
    counts = collections.Counter(train.ravel().tolist())
    unigram = [-np.log2((counts[v] + 1) / (train.size + q)) for row in test for v in row[1:]]
    assert np.isclose(wn.unigram_bits(train, test, q), np.mean(unigram))
    pairs = collections.Counter((a, b) for row in train.tolist() for a, b in zip(row, row[1:]))
    bigram = [-np.log2((pairs[a, b] + 0.5) / (sum(pairs[a, c] for c in range(q)) + 0.5 * q))
              for row in test.tolist() for a, b in zip(row, row[1:])]
    assert np.isclose(wn.bigram_bits(train, test, q, 0.5), np.mean(bigram))


def test_ar_baseline_predicts_a_sinusoid_and_normalises():
    q = 64
    t = np.arange(2000)
    train, test = (np.asarray(wn.mulaw.mu_law_encode(0.8 * np.sin(0.3 * t + phase), q - 1))[None] for phase in (0, 1))
    # a sinusoid is an exact AR(2); what is left is the quantisation error, which a longer AR fits better
    assert wn.ar_bits(train, test, q, 8) < wn.ar_bits(train, test, q, 2) < 0.5 * wn.unigram_bits(train, test, q)
    noise = levels(2, (1, 3000), q)
    # on white noise the error histogram can only be spread out: about log2 Q bits (a normalised distribution)
    assert abs(wn.ar_bits(noise, levels(3, (1, 3000), q), q, 2) - np.log2(q)) < 0.25


def test_wav_files_are_16_bit_mono_at_the_sample_rate(tmp_path):
    audio = np.sin(np.arange(800) / 5.0)
    wn.write_wav(tmp_path / "a.wav", audio, 8000)
    with wave.open(str(tmp_path / "a.wav")) as f:
        assert (f.getnchannels(), f.getsampwidth(), f.getframerate(), f.getnframes()) == (1, 2, 8000, 800)
        back = np.frombuffer(f.readframes(800), "<i2") / 32767
    np.testing.assert_allclose(back, audio, atol=1e-4)


@pytest.mark.slow  # about 21 s of CPU (compiling the training step, evaluation and the streamed generation)
def test_small_config_runs_from_the_command_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "experiments.wavenet", f"--workdir={tmp_path}",
                           "--config=experiments/configs/wavenet.py:small"],
                          cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert 0 < results["metrics"]["bits_per_sample"] < 8 and results["metrics"]["receptive_field"] == 17
    assert results["reference"]["uniform_bits_per_sample"] == 6.0  # 64 levels
    wavs = sorted((tmp_path / "samples").glob("*.wav"))
    assert len(wavs) == 2 and all(0 < w.stat().st_size < 300_000 for w in wavs)
    assert (tmp_path / "plots" / "samples.png").stat().st_size > 0
