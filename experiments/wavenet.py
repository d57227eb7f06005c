"""mu-law WaveNet on melody audio: test log-likelihood against simple baselines, and streaming generation.

    python -m experiments.wavenet --workdir=DIR [--config=experiments/configs/wavenet.py[:small]]

Data: one-second harmonic melodies (seqmodels/data/melodies.py) at a low sample rate, scaled so that the training
set peaks at `data.peak`, mu-law quantised to Q levels (seqmodels/conv/mulaw.py). The WaveNet
(seqmodels/conv/wavenet.py, categorical output) is trained by the next-sample cross-entropy on `segment`-sample
cuts of the training clips and scored on whole held-out clips: the mean -log2 p(q_t | q_<t) over every sample
after the first (bits per sample). Baselines on exactly the same samples, fitted on the training clips:

    unigram   p(q_t) = the training histogram of levels (add-one smoothed)
    bigram    p(q_t | q_{t-1}) = training transition counts + `bigram_alpha` (the last value's bin model)
    AR(p)     a linear predictor of the decoded amplitude a_t = mu_law_decode(q_t) from a_{t-1..t-p} (least squares);
              p(q_t) = the training histogram (add-one) of the level error q_t - mu_law_encode(prediction)

Generation streams (WaveNet.init_state / step, one ring buffer per dilated conv): each sample continues a
`prime_seconds` prompt cut from a test clip. Writes DIR/results.json, DIR/plots/samples.png (waveforms and
spectrograms) and DIR/samples/sample_<i>.wav (16-bit mono, prompt then continuation).
"""

import wave
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from experiments import launcher, models
from seqmodels.conv import mulaw, stft
from seqmodels.conv.wavenet import WaveNet, cycle_dilations
from seqmodels.data import batching, melodies
from seqmodels.training import ConfigError, Task, validate

LN2 = np.log(2.0)


def make_levels(config) -> dict[str, np.ndarray]:
    """{'train', 'test'}: int32 mu-law levels [N, S] of the scaled melodies; 'scale' the common gain."""
    d = config.data
    audio = {s: melodies.make_melodies(d.seed + i, n, seconds=d.seconds, sample_rate=d.sample_rate,
                                       noise=d.noise)["audio"]
             for i, (s, n) in enumerate((("train", d.num_train), ("test", d.num_test)))}
    scale = d.peak / np.abs(audio["train"]).max()
    mu = config.model.num_classes - 1
    levels = {s: np.asarray(mulaw.mu_law_encode(jnp.asarray(a * scale), mu)) for s, a in audio.items()}
    return {"scale": scale, **levels}


# -- baselines (numpy, float64) --------------------------------------------------------

def unigram_bits(train: np.ndarray, test: np.ndarray, num_classes: int) -> float:
    p = np.bincount(train.ravel(), minlength=num_classes) + 1.0
    return float(-np.mean(np.log2(p / p.sum())[test[:, 1:]]))


def bigram_bits(train: np.ndarray, test: np.ndarray, num_classes: int, alpha: float) -> float:
    counts = np.full((num_classes, num_classes), alpha)
    np.add.at(counts, (train[:, :-1].ravel(), train[:, 1:].ravel()), 1.0)
    log_p = np.log2(counts / counts.sum(1, keepdims=True))  # [Q prev, Q next]
    return float(-np.mean(log_p[test[:, :-1], test[:, 1:]]))


def ar_bits(train: np.ndarray, test: np.ndarray, num_classes: int, order: int) -> float:
    """AR(p) on decoded amplitudes by least squares; p(q_t) = the training histogram of the level offset
    q_t - encode(prediction), renormalised over the levels that exist."""
    mu = num_classes - 1
    decode = lambda q: np.asarray(mulaw.mu_law_decode(jnp.asarray(q), mu), np.float64)

    def predict(levels, phi=None):  # lags [N, S - 1, p]: a[t - 1], ..., a[t - p] (zeros before the start)
        lags = np.lib.stride_tricks.sliding_window_view(np.pad(decode(levels), ((0, 0), (order, 0))), order,
                                                        axis=1)[:, 1:-1, ::-1]
        if phi is None:  # normal equations of the least-squares fit of a[t] (t >= 1)
            phi = np.linalg.solve(np.einsum("nti,ntj->ij", lags, lags),
                                  np.einsum("nti,nt->i", lags, decode(levels)[:, 1:]))
        return np.asarray(mulaw.mu_law_encode(jnp.asarray(lags @ phi), mu)), phi  # [N, S - 1] levels

    pred, phi = predict(train)
    offsets = np.bincount((train[:, 1:] - pred).ravel() + mu, minlength=2 * mu + 1) + 1.0  # [2 mu + 1]
    cumulative = np.concatenate([[0.0], np.cumsum(offsets)])
    pred, _ = predict(test, phi)
    target = test[:, 1:]
    norm = cumulative[2 * mu + 1 - pred] - cumulative[mu - pred]  # offsets -pred .. mu - pred
    return float(-np.mean(np.log2(offsets[target - pred + mu] / norm)))


# -- outputs -----------------------------------------------------------------------------

def write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(sample_rate)
        f.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())


def plot_samples(path: Path, rows: list[tuple[str, np.ndarray]], num_prime: int, sample_rate: int) -> None:
    """One row per waveform (prompt grey, continuation coloured) with its spectrogram (N = 256, H = 64)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(rows), 2, figsize=(12, 2.1 * len(rows)), squeeze=False)
    for (title, audio), (ax_w, ax_s) in zip(rows, axes):
        t = np.arange(len(audio)) / sample_rate
        ax_w.plot(t[:num_prime], audio[:num_prime], color="0.6", lw=0.5)
        ax_w.plot(t[num_prime:], audio[num_prime:], color="C0", lw=0.5)
        ax_w.set(title=title, xlabel="s", ylim=(-1, 1))
        spec = np.abs(np.asarray(stft.stft(jnp.asarray(audio, jnp.float32), 256, 64)))  # [F, K]
        ax_s.imshow(20 * np.log10(spec.T / spec.max() + 1e-5), origin="lower", aspect="auto", vmin=-60, vmax=0,
                    cmap="magma", extent=(0, len(audio) / sample_rate, 0, sample_rate / 2))
        ax_s.axvline(num_prime / sample_rate, color="w", lw=0.8, ls="--")
        ax_s.set(ylabel="Hz", xlabel="s")
    fig.tight_layout()
    fig.savefig(path, dpi=60)
    plt.close(fig)


# -- the task ------------------------------------------------------------------------------

def check_config(config) -> None:
    d, m, g = config.data, config.model, config.generate
    for field, value in (("data.sample_rate", d.sample_rate), ("data.num_train", d.num_train),
                         ("data.num_test", d.num_test), ("data.segment", d.segment), ("model.ar_order", m.ar_order),
                         ("generate.num_samples", g.num_samples)):
        validate.positive(field, value, integer=True)
    validate.in_range("model.num_classes", m.num_classes, 2, 256)
    validate.in_range("data.peak", d.peak, 0.0, 1.0)
    validate.positive("generate.temperature", g.temperature)
    validate.positive("model.bigram_alpha", m.bigram_alpha)
    clip = int(round(d.seconds * d.sample_rate))
    if not 2 <= d.segment <= clip:
        raise ConfigError(f"data.segment: expected 2..{clip} samples (a clip), got {d.segment}")
    if not 1 <= int(round(g.prime_seconds * d.sample_rate)) < clip or g.seconds <= 0:
        raise ConfigError(f"generate.prime_seconds / generate.seconds: expected a prompt of 1..{clip - 1} samples "
                          f"cut from a test clip and seconds > 0, got {g.prime_seconds}, {g.seconds}")


def make_task(config, workdir=None) -> Task:
    check_config(config)
    d, m, g = config.data, config.model, config.generate
    model = WaveNet(output="categorical", num_classes=m.num_classes,
                    dilations=cycle_dilations(m.max_exponent, m.cycles),
                    residual_channels=m.residual_channels, dilation_channels=m.dilation_channels,
                    skip_channels=m.skip_channels)
    data = make_levels(config)
    cuts = data["train"].shape[1] // d.segment
    train = {"x": data["train"][:, :cuts * d.segment].reshape(-1, d.segment)}  # [num_train * cuts, segment]
    if config.batch_size > len(train["x"]):
        raise ConfigError(f"batch_size: {config.batch_size} is more than the {len(train['x'])} training segments")

    def loss_fn(params, batch, key, train):
        nll = jax.vmap(model.loss, in_axes=(None, 0))(params, batch["x"])  # [B] nats per sample
        mask = batch.get("valid")
        if mask is None:
            return nll.mean(), {"bits_per_sample": nll.mean() / LN2}
        mean = jnp.sum(jnp.where(mask, nll, 0.0)) / jnp.maximum(mask.sum(), 1)
        return mean, {"bits_per_sample": mean / LN2, "weight": mask.sum()}

    def final_eval(params):
        num_prime, num_new = int(round(g.prime_seconds * d.sample_rate)), int(round(g.seconds * d.sample_rate))
        prompts = jnp.asarray(data["test"][:g.num_samples, :num_prime])
        keys = jax.random.split(jax.random.key(config.seed + 1), len(prompts))
        generate = jax.jit(jax.vmap(lambda p, k: model.generate(params, k, num_new, prime=p,
                                                                temperature=g.temperature)))
        new = np.asarray(generate(prompts, keys))  # [num_samples, num_new] levels
        audio = np.asarray(mulaw.mu_law_decode(jnp.concatenate([prompts, jnp.asarray(new)], 1), m.num_classes - 1))
        if workdir is not None:
            (Path(workdir) / "samples").mkdir(parents=True, exist_ok=True)
            (Path(workdir) / "plots").mkdir(parents=True, exist_ok=True)
            for i, a in enumerate(audio):
                write_wav(Path(workdir) / "samples" / f"sample_{i}.wav", a, d.sample_rate)
            real = np.asarray(mulaw.mu_law_decode(jnp.asarray(data["test"][0, :num_prime + num_new]),
                                                  m.num_classes - 1))
            rows = [("test clip 0 (the truth after the prompt)", real)] + [
                (f"WaveNet sample {i} (prompt: test clip {i}, temperature {g.temperature})", a)
                for i, a in enumerate(audio)]
            plot_samples(Path(workdir) / "plots" / "samples.png", rows, num_prime, d.sample_rate)
        return {"receptive_field": model.receptive_field, "num_params": models.num_params(params),
                "generated_rms": float(np.sqrt(np.mean(np.square(audio[:, num_prime:])))),
                "test_rms": float(np.sqrt(np.mean(np.square(np.asarray(mulaw.mu_law_decode(
                    jnp.asarray(data["test"]), m.num_classes - 1))))))}

    baselines = {"unigram_bits_per_sample": unigram_bits(data["train"], data["test"], m.num_classes),
                 "bigram_bits_per_sample": bigram_bits(data["train"], data["test"], m.num_classes, m.bigram_alpha),
                 f"ar{m.ar_order}_bits_per_sample": ar_bits(data["train"], data["test"], m.num_classes, m.ar_order),
                 "uniform_bits_per_sample": float(np.log2(m.num_classes))}
    print("baselines (test bits per sample): " + ", ".join(f"{k} {v:.3f}" for k, v in baselines.items()))
    return Task(
        init_params=model.init, loss_fn=loss_fn,
        train_iterator=batching.TrainIterator(batching.ArraySource(train), config.batch_size, seed=config.seed),
        eval_batches=lambda: batching.eval_batches(batching.ArraySource({"x": data["test"]}), config.batch_size),
        final_eval=final_eval, reference=baselines)


if __name__ == "__main__":
    launcher.run(make_task)
