"""Music transcription: one-second melodies of harmonic notes (16 kHz audio) -> note tokens.

    python -m experiments.transcription --workdir=workdirs/transcription

The deck's system (seqmodels/models/transcriber.py): a Conv1D front-end with
long filters on the raw samples, ReLU, max-pooling to 16 ms frames, a
bidirectional GRU encoder over the frames and a GRU decoder with attention
emitting one token per note (pitch and duration), trained by teacher forcing
through experiments/seq2seq.py. Data (seqmodels/data/melodies.py): notes of
the C major scale C5-C6 lasting 1/8, 1/4 or 3/8 s, with rests, 4 harmonics,
train and test drawn from different seeds. Reported at the end (greedy and
beam decoding of the test set): the note error rate (NER) = Levenshtein
distance (rapidfuzz) between transcribed and true note sequences summed over
the test set / the number of true notes, its pitch-only version (durations
ignored), exact match, and the NER of a trivial baseline (the training set's
most frequent note, repeated its most frequent number of notes). Plots:
plots/filters.png (the learned filters' magnitude spectra sorted by peak
frequency, the notes' fundamentals marked) and plots/transcriptions.png
(test melodies: front-end frames, and the transcription against the truth).
"""

import collections
from pathlib import Path

import jax
import numpy as np
from rapidfuzz.distance import Levenshtein

from experiments import launcher, seq2seq, tasks
from experiments.summarize import plt
from seqmodels.data import melodies
from seqmodels.models.transcriber import FrontEnd, Transcriber
from seqmodels.training import ConfigError, Task, validate

def melody_kwargs(d) -> dict:
    """make_melodies' keyword arguments from config.data (checked)."""
    for field in ("num_train", "num_test"):
        validate.positive(f"data.{field}", d[field], integer=True)
    return dict(pitches=tuple(d.pitches), durations=tuple(d.durations), gaps=tuple(d.gaps), seconds=d.seconds,
                sample_rate=validate.positive("data.sample_rate", d.sample_rate, integer=True),
                num_harmonics=validate.positive("data.num_harmonics", d.num_harmonics, integer=True),
                noise=validate.non_negative("data.noise", d.noise))


@tasks.cached_per_data_config
def load_data(config) -> dict:
    """{'train', 'test'}: make_melodies' arrays, from seeds data.seed and data.seed + 1."""
    d = config.data
    kwargs = melody_kwargs(d)
    try:
        return {s: melodies.make_melodies(d.seed + i, n, **kwargs)
                for i, (s, n) in enumerate((("train", d.num_train), ("test", d.num_test)))}
    except ValueError as e:
        raise ConfigError(f"data: {e}") from None


def as_pairs(data: dict) -> dict:
    """experiments.seq2seq's {"src": audio [N, S], "tgt": [BOS notes EOS] per melody}."""
    return seq2seq.pairs(data["audio"], [t[:n] for t, n in zip(data["tokens"], data["length"])])


def build_model(config, vocab: int) -> Transcriber:
    """The FrontEnd of config.front_end and experiments/seq2seq.py's encoder-decoder of config.model."""
    front = dict(config.front_end)
    unknown = sorted(set(front) - set(FrontEnd.__dataclass_fields__))
    if unknown:
        raise ConfigError(f"front_end: unknown field(s) {unknown}; fields are {list(FrontEnd.__dataclass_fields__)}")
    for field, value in front.items():
        validate.positive(f"front_end.{field}", value, integer=True)
    front_end = FrontEnd(**front)
    return Transcriber(front_end, seq2seq.build(config.model, vocab, input_size=front_end.num_filters))


# --------------------------------------------------------------------------- scores


def note_error_rate(hypotheses: list[list[int]], references: list[list[int]]) -> float:
    """sum_i Levenshtein(hyp_i, ref_i) / sum_i |ref_i|: insertions, deletions and substitutions of notes."""
    edits = sum(Levenshtein.distance(h, r) for h, r in zip(hypotheses, references))
    return edits / max(sum(len(r) for r in references), 1)


def pitches_of(ids: list[int], num_durations: int) -> list[int]:
    """Note tokens -> their pitch indices (durations dropped)."""
    return [(i - melodies.NUM_SPECIAL) // num_durations for i in ids if i >= melodies.NUM_SPECIAL]


def baseline_sequence(train_refs: list[list[int]]) -> list[int]:
    """The training set's most frequent note, repeated its most frequent number of notes."""
    note = collections.Counter(t for r in train_refs for t in r).most_common(1)[0][0]
    length = collections.Counter(len(r) for r in train_refs).most_common(1)[0][0]
    return [note] * length


def scores(hypotheses, references, num_durations: int) -> dict:
    return {"note_error_rate": note_error_rate(hypotheses, references),
            "pitch_error_rate": note_error_rate([pitches_of(h, num_durations) for h in hypotheses],
                                                [pitches_of(r, num_durations) for r in references]),
            "exact_match": float(np.mean([h == r for h, r in zip(hypotheses, references)]))}


# --------------------------------------------------------------------------- the Task


def make_task(config, workdir=None) -> Task:
    data = load_data(config)
    d = config.data
    model = build_model(config, melodies.vocab_size(d.pitches, d.durations))
    train, test = as_pairs(data["train"]), as_pairs(data["test"])
    references = [seq2seq.strip(t) for t in test["tgt"]]
    baseline = baseline_sequence([seq2seq.strip(t) for t in train["tgt"]])
    base = scores([baseline] * len(references), references, len(d.durations))
    max_len = data["test"]["tokens"].shape[1]
    beam = validate.positive("eval.beam_width", config.eval.beam_width, integer=True)
    num_plotted = min(validate.positive("eval.num_plotted", config.eval.num_plotted, integer=True), d.num_test)

    def final_eval(params):
        out = {f"baseline_{k}": v for k, v in base.items()}
        decoded = {}
        for name, width in (("greedy", 1), ("beam", beam)):
            decoded[name] = seq2seq.decode_all(model, params, test, beam_width=width, max_len=max_len,
                                               batch_size=config.eval.batch_size)
            out.update({f"{name}_{k}": v for k, v in scores(decoded[name], references, len(d.durations)).items()})
        if workdir is not None and jax.process_index() == 0:
            plots = Path(workdir) / "plots"
            out.update(plot_filters(params["front_end"]["kernel"], d, plots / "filters.png"))
            fresh = model.front_end.init(jax.random.key(config.seed))["kernel"]  # untrained, same init law
            peaks = filter_spectra(fresh, d.sample_rate)[2]
            for name, targets in (("fundamental", partials(d)[:len(d.pitches)]), ("partial", partials(d))):
                out[f"untrained_filters_at_{name}"] = tuned_share(peaks, targets, d.sample_rate)[0]
            plot_transcriptions(model, params, data["test"], decoded["greedy"], d, plots / "transcriptions.png",
                                num=num_plotted)
        return out

    reference = {"baseline": "most frequent note x most frequent length", "baseline_note_error_rate":
                 base["note_error_rate"], "baseline_pitch_error_rate": base["pitch_error_rate"]}
    return seq2seq.task(config, model, train, test, reference=reference, final_eval=final_eval)


# --------------------------------------------------------------------------- pictures


def filter_spectra(kernel, sample_rate: int, n_fft: int = 8192):
    """(|FFT| [F, n_fft / 2 + 1] of each filter, the bin frequencies, each filter's peak frequency)."""
    taps = np.asarray(kernel)[:, 0, :].T  # [F, W]
    mags = np.abs(np.fft.rfft(taps, n=n_fft, axis=1))
    freqs = np.fft.rfftfreq(n_fft, 1 / sample_rate)
    return mags, freqs, freqs[mags.argmax(1)]


def partials(d) -> np.ndarray:
    """k f0 of every note, k = 1..K: [K P], fundamentals first."""
    f0 = melodies.note_frequency(d.pitches)
    return np.concatenate([k * f0 for k in range(1, d.num_harmonics + 1)])


QUARTER_TONE = 2 ** (1 / 24) - 1  # relative distance of a quarter tone: half-way to the next semitone


def tuned_share(peaks, targets, sample_rate: int, tolerance: float = QUARTER_TONE) -> tuple[float, float]:
    """(share of `peaks` within `tolerance` (relative) of a target frequency, share of [0, Nyquist] within it)."""
    near = lambda f: np.any(np.abs(np.asarray(f)[:, None] - targets) <= tolerance * targets, axis=1)  # noqa: E731
    return float(near(peaks).mean()), float(near(np.linspace(0, sample_rate / 2, 20001)).mean())


def plot_filters(kernel, d, path: Path) -> dict:
    """The filters' magnitude spectra (dB, each row to its max) sorted by peak frequency, the fundamentals
    (and the harmonics) of the notes marked. Returns the share of filters peaking within a quarter tone of a
    note's fundamental f0 (filters_at_fundamental), or of any partial k f0, k = 1..K (filters_at_partial), and
    the share of [0, Nyquist] such windows cover (_chance: what a filter peaking at random would hit)."""
    mags, freqs, peaks = filter_spectra(kernel, d.sample_rate)
    order = np.argsort(peaks)
    f0 = melodies.note_frequency(d.pitches)
    out = {}
    for name, targets in (("fundamental", f0), ("partial", partials(d))):
        out[f"filters_at_{name}"], out[f"filters_at_{name}_chance"] = tuned_share(peaks, targets, d.sample_rate)
    top = min(d.sample_rate / 2, 2.3 * f0.max())  # the fundamentals and the second harmonics
    shown = freqs <= top
    db = 20 * np.log10(mags[order][:, shown] / mags.max(1, keepdims=True)[order] + 1e-6)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 5), gridspec_kw={"width_ratios": [2.2, 1]})
    ax.imshow(np.clip(db, -30, 0), aspect="auto", origin="lower", cmap="magma", interpolation="nearest",
              extent=(0, freqs[shown][-1], -0.5, len(peaks) - 0.5))
    for f in f0:
        ax.axvline(f, color="cyan", lw=0.7, ls="--")
    for f in partials(d)[len(f0):2 * len(f0)]:
        ax.axvline(f, color="white", lw=0.4, ls=":", alpha=0.5)
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("filter (sorted by peak frequency)")
    ax.set_title("front-end filters: |FFT| in dB (cyan: note fundamentals, dotted: 2nd harmonics)", fontsize=9)
    ax2.plot(peaks[order], np.arange(len(peaks)), "o", ms=3)
    for m, f in zip(d.pitches, f0):
        ax2.axvline(f, color="C1", lw=0.7, ls="--")
        ax2.text(f, len(peaks) - 0.5, melodies.note_name(m), rotation=90, fontsize=7, va="top", ha="right")
    ax2.set_xscale("log")
    ax2.set_xlabel("peak frequency (Hz, log)")
    ax2.set_title(f"peaks within a quarter tone of a note's f0: {100 * out['filters_at_fundamental']:.0f}% "
                  f"(random: {100 * out['filters_at_fundamental_chance']:.0f}%)\nof a partial k f0, k <= "
                  f"{d.num_harmonics}: {100 * out['filters_at_partial']:.0f}% (random: "
                  f"{100 * out['filters_at_partial_chance']:.0f}%)", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return out


def plot_transcriptions(model: Transcriber, params, test: dict, hypotheses: list[list[int]], d, path: Path,
                        num: int = 3) -> None:
    """Per test melody: the front-end's frames (filters sorted by peak frequency), and a piano roll of the true
    notes (grey) and the transcribed ones (orange; each drawn from the frame its attention weighs most, or end to
    end without attention)."""
    _, _, peaks = filter_spectra(params["front_end"]["kernel"], d.sample_rate)
    order = np.argsort(peaks)
    hop = model.front_end.hop / d.sample_rate  # seconds per frame
    fig, axes = plt.subplots(2, num, figsize=(4.2 * num, 5.5), squeeze=False)
    for j in range(num):
        audio, n = test["audio"][j], int(test["num_notes"][j])
        hyp = hypotheses[j]
        frames = np.asarray(model.features(params, audio)[0])  # [T, F]
        ax = axes[0, j]
        ax.imshow(frames[:, order].T, aspect="auto", origin="lower", cmap="viridis",
                  extent=(0, frames.shape[0] * hop, -0.5, len(order) - 0.5))
        ax.set_title(f"test melody {j}: front-end frames", fontsize=9)
        ax.set_ylabel("filter (by peak freq.)")
        ax = axes[1, j]
        for p, q, t in zip(test["pitch"][j, :n], test["duration"][j, :n], test["onset"][j, :n]):
            ax.add_patch(plt.Rectangle((t, p - 0.4), d.durations[q], 0.8, color="0.6"))
        notes = [divmod(i - melodies.NUM_SPECIAL, len(d.durations)) for i in hyp]
        if notes and model.seq2seq.decoder.attention != "none":
            tgt = np.asarray([melodies.BOS, *hyp], np.int32)
            _, alignment = model.apply(params, audio, tgt, deterministic=True, return_alignment=True)
            where = np.asarray(alignment).argmax(1) * hop  # [len(hyp) + 1]: row i predicts hyp[i]
        else:  # no alignment: the notes end to end from the first true onset
            where = test["onset"][j, 0] + np.cumsum([0.0] + [d.durations[q] for _, q in notes])
        for (p, q), t in zip(notes, where):
            ax.add_patch(plt.Rectangle((t, p - 0.2), d.durations[q], 0.4, color="C1", alpha=0.85))
        ax.set_xlim(0, d.seconds)
        ax.set_ylim(-0.7, len(d.pitches) - 0.3)
        ax.set_yticks(range(len(d.pitches)), [melodies.note_name(m) for m in d.pitches], fontsize=7)
        ax.set_xlabel("time (s)")
        edits = Levenshtein.distance(hyp, seq2seq.strip(test["tokens"][j]))
        ax.set_title(f"truth (grey) vs transcription (orange): {edits} edit(s)", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


if __name__ == "__main__":
    launcher.run(make_task)
