"""A small wav2vec 2.0 pretrained on unlabelled melodies, then linear pitch probes from frozen features.

    python -m experiments.wav2vec --workdir=workdirs/wav2vec [--config=experiments/configs/wav2vec.py:small]

Audio: seqmodels/data/melodies.py (the transcription experiment's harmonic notes, C5..C6), clips of
`data.seconds` at `data.sample_rate`. Pretraining (seqmodels/models/wav2vec.py) reads `data.num_unlabelled`
clips, their notes unused; the Gumbel temperature is annealed with the step (each train batch carries it).
Evaluation: the same loss on `data.num_valid` more clips, masked and quantised without noise.

Downstream (final_eval): every latent frame gets the pitch sounding at the centre of its receptive field
(one of P pitches, or "rest": P + 1 classes). A linear probe (scikit-learn's multinomial logistic regression
on standardised features) is fitted on the frames of `probe.num_train` labelled clips and scored on the frames
of `probe.num_test` others, from the frozen features of (a) the pretrained model (context c, latent z),
(b) the same model at random init, (c) raw features of the frame's receptive field: the waveform samples
themselves and their log-magnitude spectrum (Hann window, rfft). Codebook usage on the test clips:
plots/codebook_usage.png; probe accuracies: plots/probe_accuracy.png.
"""

import functools
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from experiments import launcher, models, tasks  # noqa: E402
from seqmodels.conv.conv1d import receptive_field  # noqa: E402
from seqmodels.data import batching, melodies  # noqa: E402
from seqmodels.models.wav2vec import Wav2Vec2, code_perplexity, temperature  # noqa: E402
from seqmodels.training import ConfigError, Task, validate  # noqa: E402

SETS = ("unlabelled", "valid", "probe_train", "probe_test")  # seeds data.seed + 0, 1, 2, 3


def build(config) -> Wav2Vec2:
    try:
        return Wav2Vec2(**config.model.to_dict())
    except (TypeError, ValueError) as e:
        raise ConfigError(f"model: {e}") from None


@tasks.cached_per_data_config
def load_data(config) -> dict:
    d = config.data
    for field in ("seconds", "sample_rate", "num_unlabelled", "num_valid", "num_probe_train", "num_probe_test"):
        validate.positive(f"data.{field}", d[field], integer=field.startswith("num") or field == "sample_rate")
    sizes = dict(unlabelled=d.num_unlabelled, valid=d.num_valid, probe_train=d.num_probe_train,
                 probe_test=d.num_probe_test)
    return {name: melodies.make_melodies(d.seed + i, sizes[name], seconds=d.seconds, sample_rate=d.sample_rate,
                                         noise=d.noise) for i, name in enumerate(SETS)}


def frame_windows(model: Wav2Vec2, num_samples: int) -> tuple[np.ndarray, int]:
    """(first sample of each latent frame's receptive field [T], its width R)."""
    R = receptive_field(model.conv_kernels, strides=model.conv_strides)
    hop = int(np.prod(model.conv_strides))
    return np.arange(model.num_frames(num_samples)) * hop, R


def frame_pitch(clips: dict, starts: np.ndarray, width: int, sample_rate: int) -> np.ndarray:
    """[N, T] pitch index sounding at each frame's centre, or P (= rest)."""
    centre = (starts + width / 2) / sample_rate  # [T] seconds
    P = len(melodies.C_MAJOR_5)
    ends = clips["onset"] + np.asarray(melodies.DURATIONS)[clips["duration"]]  # [N, L]
    on = (clips["pitch"][:, :, None] >= 0) & (clips["onset"][:, :, None] <= centre) & (centre < ends[:, :, None])
    return np.where(on.any(1), np.take_along_axis(clips["pitch"], on.argmax(1), 1), P).astype(np.int32)  # [N, T]


def raw_features(audio: np.ndarray, starts: np.ndarray, width: int) -> dict[str, np.ndarray]:
    """Each frame's receptive field: the samples [N, T, R] and their log-magnitude spectrum [N, T, R // 2 + 1]."""
    frames = audio[:, starts[:, None] + np.arange(width)]  # [N, T, R]
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(width), axis=-1))
    return {"raw waveform": frames, "raw log spectrum": np.log(spectrum + 1e-3)}


@functools.cache
def _batch_features(model: Wav2Vec2):
    return jax.jit(jax.vmap(model.features, in_axes=(None, 0)))  # one compilation for every params


def model_features(model: Wav2Vec2, params, audio: np.ndarray, batch_size: int) -> dict[str, np.ndarray]:
    """Frozen {'context', 'latent'} features [N, T, .] of the clips, batch by batch (the last one padded)."""
    n, fn = len(audio), _batch_features(model)
    audio = np.concatenate([audio, np.zeros((-n % batch_size, audio.shape[1]), audio.dtype)])
    outs = [fn(params, jnp.asarray(audio[i:i + batch_size])) for i in range(0, n, batch_size)]
    return {k: np.concatenate([np.asarray(o[k]) for o in outs])[:n] for k in ("context", "latent")}


def probe(train_x, train_y, test_x, test_y, seed: int) -> float:
    """Frame accuracy of a multinomial logistic regression on standardised features."""
    flat = lambda a: a.reshape(-1, a.shape[-1])
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
    clf.fit(flat(train_x), train_y.reshape(-1))
    return float((clf.predict(flat(test_x)) == test_y.reshape(-1)).mean())


class StepIterator(batching.TrainIterator):
    """Train batches that carry the step they train (batch["step"], [B]), for the temperature schedule;
    derived from the iterator's own state, so a resumed run continues the schedule."""

    def __next__(self):
        state = self.get_state()
        step = state["epoch"] * self.batches_per_epoch + state["position"]
        return {**super().__next__(), "step": np.full(self.batch_size, step, np.int32)}


def make_task(config, workdir=None) -> Task:
    model, data, q = build(config), load_data(config), config.quantizer
    tau_min = validate.positive("quantizer.tau_min", q.tau_min)
    validate.positive("quantizer.tau_max", q.tau_max)
    validate.in_range("quantizer.decay", q.decay, 0.0, 1.0)
    num_samples = data["unlabelled"]["audio"].shape[1]
    if model.num_frames(num_samples) < model.mask_span + 1:
        raise ConfigError(f"data.seconds: {config.data.seconds} s gives {model.num_frames(num_samples)} latent "
                          f"frames, fewer than model.mask_span + 1 = {model.mask_span + 1}; use longer clips")

    def loss_fn(params, batch, key, train):
        tau = temperature(batch["step"][0], q.tau_max, tau_min, q.decay) if train else tau_min
        # eval: no Gumbel noise, no dropout; every eval clip is real (num_valid is a multiple of batch_size)
        return model.batch_loss(params, batch["x"], key, tau, deterministic=not train)

    def final_eval(params):
        return downstream(config, model, params, data, workdir)

    if config.data.num_valid % config.batch_size:
        raise ConfigError(f"data.num_valid: expected a multiple of batch_size={config.batch_size} (every eval "
                          f"batch full), got {config.data.num_valid}")
    train, valid = ({"x": data[s]["audio"]} for s in ("unlabelled", "valid"))
    return Task(init_params=model.init, loss_fn=loss_fn,
                train_iterator=StepIterator(batching.ArraySource(train), config.batch_size, seed=config.seed),
                eval_batches=lambda: batching.eval_batches(batching.ArraySource(valid), config.batch_size),
                final_eval=final_eval,
                reference={"source": "Baevski et al. 2020 (wav2vec 2.0)", "probe_chance": 1 / 9})


def downstream(config, model: Wav2Vec2, params, data: dict, workdir) -> dict:
    """Linear pitch probes from frozen features (module docstring), codebook usage; plots into workdir."""
    sr, bs = config.data.sample_rate, config.batch_size
    starts, width = frame_windows(model, data["probe_train"]["audio"].shape[1])
    random_params = model.init(jax.random.fold_in(jax.random.PRNGKey(config.seed), 1))
    feats, labels = {}, {}
    for split in ("probe_train", "probe_test"):
        audio = data[split]["audio"]
        labels[split] = frame_pitch(data[split], starts, width, sr)
        trained, random = model_features(model, params, audio, bs), model_features(model, random_params, audio, bs)
        feats[split] = {"pretrained context": trained["context"], "pretrained latent": trained["latent"],
                        "random-init context": random["context"], "random-init latent": random["latent"],
                        **raw_features(audio, starts, width)}
    y_train, y_test = labels["probe_train"], labels["probe_test"]
    accuracy = {name: probe(feats["probe_train"][name], y_train, feats["probe_test"][name], y_test, config.seed)
                for name in feats["probe_train"]}
    majority = float((y_test == np.bincount(y_train.ravel()).argmax()).mean())
    codes = jax.jit(jax.vmap(lambda p, x: model.quantize(p, model.encode(p, x), None, 1.0)[2], in_axes=(None, 0)))(
        params, jnp.asarray(data["probe_test"]["audio"]))  # [N, T, G]: the hard codes, no noise
    usage = np.asarray(jax.nn.one_hot(codes, model.num_entries).sum((0, 1)))  # [G, V]
    if workdir is not None and jax.process_index() == 0:
        plot(Path(workdir) / "plots", accuracy, majority, usage)
    return {**{f"probe_accuracy/{k.replace(' ', '_')}": v for k, v in accuracy.items()},
            "probe_accuracy/majority_class": majority, "probe_train_frames": int(y_train.size),
            "probe_test_frames": int(y_test.size), "codebook_entries_used": int((usage > 0).sum()),
            "test_code_perplexity": float(code_perplexity(codes, model.num_entries)),
            "num_params": models.num_params(params)}


def plot(out: Path, accuracy: dict, majority: float, usage: np.ndarray) -> None:
    out.mkdir(parents=True, exist_ok=True)
    plot_probes(out / "probe_accuracy.png", accuracy, majority)
    fig, axes = plt.subplots(len(usage), 1, figsize=(7, 1.6 * len(usage) + 0.6), squeeze=False)
    for g, ax in enumerate(axes[:, 0]):
        ax.bar(np.arange(usage.shape[1]), usage[g] / usage[g].sum())
        ax.set_ylabel(f"group {g}")
    axes[-1, 0].set_xlabel("codebook entry (share of the test frames)")
    fig.tight_layout()
    fig.savefig(out / "codebook_usage.png", dpi=90)
    plt.close(fig)


def plot_probes(path: Path, accuracy: dict, majority: float) -> None:
    """Bars of the probe accuracies (keys as in `downstream`), the majority class dotted."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    names = list(accuracy)
    ax.barh(names, [100 * accuracy[n] for n in names], color=["C0" if "pre" in n else "C7" if "random" in n
                                                              else "C1" for n in names])
    ax.axvline(100 * majority, color="k", ls=":")
    ax.set_title(f"linear pitch probes from frozen features (dotted: majority class, {100 * majority:.1f}%)")
    ax.set_xlabel("frame accuracy on the test clips (%)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


if __name__ == "__main__":
    launcher.run(make_task)
