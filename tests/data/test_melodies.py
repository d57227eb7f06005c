"""Synthesised melodies: each note's fundamental at its pitch (FFT peak), onsets and durations as drawn, seeds."""

import numpy as np
import pytest

from seqmodels.data import melodies

SR = 16000


def peak_frequency(x: np.ndarray, sample_rate: int = SR, pad: int = 1 << 16) -> float:
    """Frequency of the largest |FFT| bin (zero-padded to `pad` samples, a Hann window)."""
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)), n=pad))
    return np.fft.rfftfreq(pad, 1 / sample_rate)[spectrum.argmax()]


def test_note_frequency_is_equal_temperament():
    np.testing.assert_allclose(melodies.note_frequency([69, 81, 60, 72]), [440.0, 880.0, 261.6256, 523.2511],
                               rtol=1e-6)
    assert melodies.note_name(69) == "A4" and melodies.note_name(72) == "C5"


@pytest.mark.parametrize("midi", melodies.C_MAJOR_5)
def test_synthesised_note_has_its_fundamental_and_harmonics(midi):
    f0 = float(melodies.note_frequency(midi))
    note = melodies.synthesize_note(f0, 0.25, sample_rate=SR, num_harmonics=4)
    assert len(note) == SR // 4
    assert abs(peak_frequency(note) - f0) < 1.0  # the fundamental is the strongest partial
    spectrum = np.abs(np.fft.rfft(note * np.hanning(len(note)), n=1 << 16))
    freqs = np.fft.rfftfreq(1 << 16, 1 / SR)
    amps = [spectrum[np.abs(freqs - k * f0).argmin()] for k in (1, 2, 3, 4)]
    np.testing.assert_allclose(np.array(amps) / amps[0], [1, 1 / 2, 1 / 3, 1 / 4], rtol=0.05)  # 1/k partials


def test_envelope_ramps():
    env = melodies.envelope(SR // 4, SR)
    assert env[0] == 0.0 and env[-1] <= 1 / (melodies.RELEASE * SR) + 1e-12 and env[SR // 8] == 1.0
    assert np.all(np.diff(env[:int(melodies.ATTACK * SR)]) > 0)  # attack rises


def test_each_note_of_a_melody_sits_at_its_onset_with_its_pitch_and_duration():
    d = melodies.make_melodies(3, 20, noise=0.0)
    assert d["audio"].shape == (20, SR) and d["audio"].dtype == np.float32
    pitches, durations = np.array(melodies.C_MAJOR_5), np.array(melodies.DURATIONS)
    for i in range(20):
        n = d["num_notes"][i]
        assert n >= 1 and (d["pitch"][i, n:] == -1).all() and (d["onset"][i, n:] == -1).all()
        onsets, durs = d["onset"][i, :n], durations[d["duration"][i, :n]]
        rests = np.diff(np.concatenate([[0.0], onsets])) - np.concatenate([[0.0], durs[:-1]])
        assert np.all(np.isin(np.round(rests, 6), melodies.GAPS))  # every rest drawn from the gaps
        assert onsets[-1] + durs[-1] <= 1.0 + 1e-6
        covered = np.zeros(SR, bool)
        for j in range(n):
            a, b = int(round(onsets[j] * SR)), int(round((onsets[j] + durs[j]) * SR))
            covered[a:b] = True
            segment = d["audio"][i, a:b]
            assert abs(peak_frequency(segment) - melodies.note_frequency(pitches[d["pitch"][i, j]])) < 2.0
            assert np.abs(segment[len(segment) // 4: -len(segment) // 4]).max() > 0.2  # sounding in the middle
        assert np.all(d["audio"][i, ~covered] == 0.0)  # silent (noise 0) in the rests and after the last note


def test_tokens_are_bos_notes_eos_pad():
    d = melodies.make_melodies(0, 50)
    names = melodies.token_names()
    assert len(names) == melodies.vocab_size() == 4 + 8 * 3
    for i in range(50):
        n, row = d["num_notes"][i], d["tokens"][i]
        assert row[0] == melodies.BOS and row[n + 1] == melodies.EOS and (row[n + 2:] == melodies.PAD).all()
        assert d["length"][i] == n + 2
        expected = [(melodies.C_MAJOR_5[p], melodies.DURATIONS[q])
                    for p, q in zip(d["pitch"][i, :n], d["duration"][i, :n])]
        assert melodies.decode_tokens(row) == expected
        assert names[row[1]] == f"{melodies.note_name(expected[0][0])}/{expected[0][1]:g}"


def test_seeded_and_deterministic():
    a, b = melodies.make_melodies(7, 5), melodies.make_melodies(np.random.default_rng(7), 5)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["tokens"], melodies.make_melodies(8, 5)["tokens"])


def test_bad_arguments_are_clear():
    with pytest.raises(ValueError, match="num_examples"):
        melodies.make_melodies(0, -1)
    with pytest.raises(ValueError, match="Nyquist"):
        melodies.make_melodies(0, 1, sample_rate=1000)
    with pytest.raises(ValueError, match="durations"):
        melodies.make_melodies(0, 1, durations=(0.01,))
