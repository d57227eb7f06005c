"""One-second melodies of harmonic notes: the music transcription task of issue 22 (plain numpy, seeded).

A melody is a monophonic sequence of notes from a vocabulary of P pitches x D
durations. Note i starts after a rest g_i drawn from `gaps` (seconds):

    onset_1 = g_1,   onset_{i+1} = onset_i + duration_i + g_{i+1},

and notes are drawn until the next one would end after `seconds`. A note of
MIDI pitch m has the fundamental f0 = 440 * 2^((m - 69) / 12) Hz and K
harmonics with amplitudes 1/k (the fundamental is the strongest partial):

    s(t) = a * env(t) * sum_{k=1}^{K} (1/k) sin(2 pi k f0 t + phi_k),  phi_k ~ U[0, 2 pi),

with a loudness a ~ U[min_loudness, 1] per note and env a 10 ms linear attack
and a 30 ms linear release (no clicks; two equal notes in a row are told apart
by the dip between them). White noise of std `noise` is added to the melody.

The transcription target is the note sequence, one token per (pitch, duration)
with the repo's reserved ids (seqmodels.data.tokenizers: 0 = PAD, 1 = UNK,
2 = BOS, 3 = EOS) and note (p, d) = 4 + p D + d, so tokens [N, L_max + 2] =
BOS notes EOS PAD...
The same seed gives the same melodies on every machine (numpy's PCG64).
"""

import numpy as np

from seqmodels.data.synthetic import RngOrSeed, as_rng
from seqmodels.data.tokenizers import BOS_ID as BOS, EOS_ID as EOS, PAD_ID as PAD, RESERVED

NUM_SPECIAL = len(RESERVED)  # PAD, UNK, BOS, EOS
C_MAJOR_5 = (72, 74, 76, 77, 79, 81, 83, 84)  # C5 D5 E5 F5 G5 A5 B5 C6: 523-1047 Hz
DURATIONS = (0.125, 0.25, 0.375)  # seconds: eighth, quarter and dotted quarter at 120 bpm
GAPS = (0.0, 0.0, 0.0625)  # rests before a note, drawn uniformly (so no rest 2/3 of the time)
ATTACK, RELEASE = 0.010, 0.030  # envelope ramps, seconds
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def note_frequency(midi) -> np.ndarray:
    """f0 = 440 * 2^((m - 69) / 12) Hz of MIDI pitch m (A4 = 69 = 440 Hz)."""
    return 440.0 * 2.0 ** ((np.asarray(midi, np.float64) - 69) / 12)


def note_name(midi: int) -> str:
    return f"{NOTE_NAMES[midi % 12]}{midi // 12 - 1}"


def vocab_size(pitches=C_MAJOR_5, durations=DURATIONS) -> int:
    return NUM_SPECIAL + len(pitches) * len(durations)


def token_id(pitch_index, duration_index, num_durations: int = len(DURATIONS)):
    """4 + p D + d."""
    return NUM_SPECIAL + np.asarray(pitch_index) * num_durations + np.asarray(duration_index)


def token_names(pitches=C_MAJOR_5, durations=DURATIONS) -> list[str]:
    """Names of every id, e.g. 'E5/0.25' for the note E5 lasting 0.25 s."""
    return list(RESERVED) + [f"{note_name(m)}/{d:g}" for m in pitches for d in durations]


def envelope(num_samples: int, sample_rate: int) -> np.ndarray:
    """Linear attack from 0 to 1 over ATTACK s, flat, linear release to 0 over the last RELEASE s."""
    t = np.arange(num_samples) / sample_rate
    end = num_samples / sample_rate
    return np.clip(np.minimum(t / ATTACK, (end - t) / RELEASE), 0.0, 1.0)


def synthesize_note(frequency: float, duration: float, *, sample_rate: int = 16000, num_harmonics: int = 4,
                    phases=None, loudness: float = 1.0) -> np.ndarray:
    """One harmonic note [round(duration * sample_rate)] float64 (module docstring); harmonics above the
    Nyquist frequency are left out. `phases` [K] defaults to zeros."""
    n = int(round(duration * sample_rate))
    t = np.arange(n) / sample_rate
    phases = np.zeros(num_harmonics) if phases is None else np.asarray(phases)
    k = np.arange(1, num_harmonics + 1)
    k = k[k * frequency < sample_rate / 2]
    partials = np.sin(2 * np.pi * frequency * k[:, None] * t[None] + phases[k - 1, None]) / k[:, None]  # [K, n]
    return loudness * envelope(n, sample_rate) * partials.sum(0)


def _check(name: str, value, minimum) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or value < minimum:
        raise ValueError(f"{name}: expected a number >= {minimum}, got {value!r}")


def make_melodies(rng_or_seed: RngOrSeed, num_examples: int, *, pitches=C_MAJOR_5, durations=DURATIONS,
                  gaps=GAPS, seconds: float = 1.0, sample_rate: int = 16000, num_harmonics: int = 4,
                  noise: float = 0.01, min_loudness: float = 0.5) -> dict[str, np.ndarray]:
    """N melodies (module docstring). Returns, with L = floor(seconds / min(durations)) the most notes:

        audio      [N, S] float32, S = seconds * sample_rate samples
        tokens     [N, L + 2] int32: BOS, note ids, EOS, then PAD
        length     [N] int32: notes + 2 (BOS and EOS), the valid part of tokens
        pitch      [N, L] int32: index into `pitches` of each note, -1 after the last
        duration   [N, L] int32: index into `durations`, -1 after the last
        onset      [N, L] float32: seconds, -1 after the last
        num_notes  [N] int32
    """
    if isinstance(num_examples, bool) or not isinstance(num_examples, (int, np.integer)) or num_examples < 0:
        raise ValueError(f"num_examples: expected an int >= 0, got {num_examples!r}")
    if not len(pitches) or not len(durations) or not len(gaps):
        raise ValueError(f"pitches, durations and gaps must be non-empty, got {pitches!r}, {durations!r}, {gaps!r}")
    for name, value, low in (("seconds", seconds, 1e-3), ("sample_rate", sample_rate, 1), ("noise", noise, 0),
                             ("num_harmonics", num_harmonics, 1), ("min_loudness", min_loudness, 0),
                             ("durations", min(durations), ATTACK + RELEASE), ("gaps", min(gaps), 0)):
        _check(name, value, low)
    if min(durations) + min(gaps) > seconds or max(note_frequency(pitches)) >= sample_rate / 2:
        raise ValueError(f"no melody fits: the shortest note ({min(durations)} s) must fit in seconds={seconds} "
                         f"and every pitch must lie below the Nyquist frequency {sample_rate / 2} Hz")
    rng = as_rng(rng_or_seed)
    num_samples, max_notes = int(round(seconds * sample_rate)), int(seconds // min(durations))
    audio = np.zeros((num_examples, num_samples))
    pitch, duration = (np.full((num_examples, max_notes), -1, np.int32) for _ in range(2))
    onset = np.full((num_examples, max_notes), -1.0, np.float32)
    frequencies = note_frequency(pitches)
    for i in range(num_examples):
        t, j = 0.0, 0
        while True:
            p, d, g = rng.integers(len(pitches)), rng.integers(len(durations)), gaps[rng.integers(len(gaps))]
            if t + g + durations[d] > seconds + 1e-9:
                break
            start = int(round((t + g) * sample_rate))
            note = synthesize_note(frequencies[p], durations[d], sample_rate=sample_rate,
                                   num_harmonics=num_harmonics, phases=rng.uniform(0, 2 * np.pi, num_harmonics),
                                   loudness=rng.uniform(min_loudness, 1.0))
            end = min(start + len(note), num_samples)
            audio[i, start:end] += note[:end - start]
            pitch[i, j], duration[i, j], onset[i, j] = p, d, t + g
            t, j = t + g + durations[d], j + 1
    audio += noise * rng.standard_normal(audio.shape)
    num_notes = (pitch >= 0).sum(1).astype(np.int32)
    tokens = np.full((num_examples, max_notes + 2), PAD, np.int32)
    tokens[:, 0] = BOS
    tokens[:, 1:-1] = np.where(pitch >= 0, token_id(pitch, duration, len(durations)), PAD)
    tokens[np.arange(num_examples), num_notes + 1] = EOS
    return {"audio": audio.astype(np.float32), "tokens": tokens, "length": num_notes + 2, "pitch": pitch,
            "duration": duration, "onset": onset, "num_notes": num_notes}


def decode_tokens(ids, pitches=C_MAJOR_5, durations=DURATIONS) -> list[tuple[int, float]]:
    """Note ids (BOS, PAD, UNK skipped; stops at EOS) -> [(MIDI pitch, duration s)]."""
    notes = []
    for i in np.asarray(ids).tolist():
        if i == EOS:
            break
        if i >= NUM_SPECIAL and i < vocab_size(pitches, durations):
            p, d = divmod(i - NUM_SPECIAL, len(durations))
            notes.append((pitches[p], durations[d]))
    return notes
