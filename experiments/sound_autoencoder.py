"""The lecture's sound autoencoder: one strided convolution in, one transposed convolution out, on melody audio.

    python -m experiments.sound_autoencoder --workdir=DIR [--config=experiments/configs/sound_autoencoder.py[:small]]

The encoder is the STFT's shape with learned kernels: a Conv1D of C channels, kernel N (a DFT size) and stride H
(the hop) over the padded waveform, then an activation; the decoder a ConvTranspose1D with the same N and H (an
overlap-add of learned synthesis bases). With the DFT's 2K = N + 2 kernels, no activation and the dual-window
synthesis kernels it is exactly the STFT and its inverse (seqmodels/conv/stft.py): the perfect reconstruction it is
compared with. Data: one-second harmonic melodies (seqmodels/data/melodies.py), trained on `segment`-sample cuts of
the training clips by mean squared error plus `code_l1` times the mean |code| (a sparse code: each unit tunes to
few frequencies), scored on whole held-out clips by the reconstruction SNR

    SNR = 10 log10(sum x^2 / sum (x - x_hat)^2)  dB   (over every test sample),

beside the same architecture at its random initialisation. Writes DIR/results.json and DIR/plots/bases.png (the
learned analysis kernels sorted by the frequency of their spectral peak, and their magnitude spectra).
"""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from experiments import launcher, models
from seqmodels.conv import stft
from seqmodels.data import batching, melodies
from seqmodels.nn import activations
from seqmodels.training import ConfigError, Task, losses, validate


def make_audio(d, seed: int, num: int) -> np.ndarray:
    """[num, seconds * sample_rate] float32 melodies."""
    return melodies.make_melodies(seed, num, seconds=d.seconds, sample_rate=d.sample_rate, noise=d.noise)["audio"]


class SoundAutoencoder:
    """x [T] -> code = act(Conv1D_{N, stride H}(pad(x))) [F, C] -> ConvTranspose1D_{N, stride H} -> crop -> x_hat [T].

    The synthesis bases (the decoder's C kernels) are used at unit norm, so that an L1 penalty on the code cannot
    be dodged by shrinking the code and growing the bases."""

    def __init__(self, n_fft: int, hop: int, channels: int, activation: str, init_scale: float = 1.0):
        self.n_fft, self.hop, self.init_scale = n_fft, hop, init_scale
        self.encoder = stft.analysis_layer(n_fft, hop, channels)
        self.decoder = stft.synthesis_layer(n_fft, hop, channels)
        self.activation = activations.get(activation)

    def init(self, key):
        k_enc, k_dec = jax.random.split(key)  # LeCun-normal kernels times init_scale
        params = {"encoder": self.encoder.init(k_enc), "decoder": self.decoder.init(k_dec)}
        return jax.tree.map(lambda w: self.init_scale * w, params)

    def encode(self, params, x):  # [T] -> [F, C]
        return self.activation(self.encoder.apply(params["encoder"], stft.pad(x, self.n_fft, self.hop)[:, None]))

    def decode(self, params, code, length: int):  # [F, C] -> [T]; every synthesis basis scaled to unit norm
        kernel = params["decoder"]["kernel"]  # [N, C, 1]
        kernel = kernel / jnp.sqrt(jnp.sum(jnp.square(kernel), axis=0, keepdims=True) + 1e-12)
        y = self.decoder.apply({"kernel": kernel}, code)[:, 0]  # [(F - 1) H + N]
        return y[self.n_fft - self.hop:self.n_fft - self.hop + length]

    def apply(self, params, x):
        return self.decode(params, self.encode(params, x), x.shape[0])


def snr_db(x: np.ndarray, x_hat: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(np.square(x, dtype=np.float64)) / np.sum(np.square(x - x_hat, dtype=np.float64))))


def check_config(config) -> None:
    d, m = config.data, config.model
    for field, value in (("data.sample_rate", d.sample_rate), ("data.num_train", d.num_train),
                         ("data.num_test", d.num_test), ("data.segment", d.segment), ("model.n_fft", m.n_fft),
                         ("model.hop", m.hop), ("model.channels", m.channels)):
        validate.positive(field, value, integer=True)
    if m.hop > m.n_fft or m.n_fft % m.hop:
        raise ConfigError(f"model.hop: expected a divisor of model.n_fft={m.n_fft} (so N / H frames overlap every "
                          f"sample), got {m.hop}")
    if d.segment > int(round(d.seconds * d.sample_rate)):
        raise ConfigError(f"data.segment: {d.segment} samples is longer than a clip "
                          f"({d.seconds} s at {d.sample_rate} Hz)")
    validate.choice("model.activation", m.activation, activations.NAMES)
    validate.positive("model.init_scale", m.init_scale)
    validate.non_negative("model.code_l1", m.code_l1)


def plot_bases(path: Path, kernels: np.ndarray, sample_rate: int, snr: float) -> None:
    """Analysis kernels [N, C] sorted by peak frequency: 16 of them as waveforms, all of them as spectra."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_fft, channels = kernels.shape
    spectra = np.abs(np.fft.rfft(kernels, axis=0)).T  # [C, K]
    order = np.argsort(spectra.argmax(1), kind="stable")
    spectra_db = 20 * np.log10(spectra[order] / spectra.max(1, keepdims=True)[order] + 1e-6)
    fig = plt.figure(figsize=(13, 5))
    shown = order[np.linspace(0, channels - 1, 16).astype(int)]
    for i, c in enumerate(shown):
        ax = fig.add_subplot(4, 8, 8 * (i // 4) + i % 4 + 1)
        ax.plot(kernels[:, c], lw=0.8)
        ax.set(xticks=[], yticks=[], title=f"{spectra[c].argmax() * sample_rate / n_fft:.0f} Hz")
        ax.title.set_fontsize(7)
    ax = fig.add_subplot(1, 2, 2)
    ax.imshow(spectra_db.T, origin="lower", aspect="auto", vmin=-40, vmax=0, cmap="magma",
              extent=(0, channels, 0, sample_rate / 2))
    ax.set(xlabel="kernel (sorted by peak frequency)", ylabel="frequency (Hz)",
           title=f"|spectrum| of the {channels} kernels, dB (test SNR {snr:.1f} dB)")
    fig.tight_layout()
    fig.savefig(path, dpi=64)
    plt.close(fig)


def make_task(config, workdir=None) -> Task:
    check_config(config)
    d, m = config.data, config.model
    model = SoundAutoencoder(m.n_fft, m.hop, m.channels, m.activation, m.init_scale)
    train_clips, test_clips = make_audio(d, d.seed, d.num_train), make_audio(d, d.seed + 1, d.num_test)
    cuts = train_clips.shape[1] // d.segment
    train = {"x": train_clips[:, :cuts * d.segment].reshape(-1, d.segment)}  # [num_train * cuts, segment]
    reconstruct = jax.jit(jax.vmap(model.apply, in_axes=(None, 0)))

    def loss_fn(params, batch, key, train):
        code = jax.vmap(model.encode, in_axes=(None, 0))(params, batch["x"])  # [B, F, C]
        x_hat = jax.vmap(model.decode, in_axes=(None, 0, None))(params, code, batch["x"].shape[1])  # [B, T]
        mask = batch.get("valid")
        mse = losses.mean_squared_error(x_hat, batch["x"], mask)
        l1 = losses.masked_mean(jnp.abs(code).mean(axis=(1, 2)), mask)
        return mse + m.code_l1 * l1, {"mse": mse, "code_l1": l1, **({} if mask is None else {"weight": mask.sum()})}

    def dft_reconstruction(x):  # the STFT with DFT kernels and its overlap-add inverse
        return stft.istft(stft.stft(x, m.n_fft, m.hop, m.window), m.n_fft, m.hop, m.window, length=x.shape[0])

    def final_eval(params):
        x = jnp.asarray(test_clips)
        untrained = model.init(jax.random.key(config.seed))
        out = {"snr_db": snr_db(test_clips, np.asarray(reconstruct(params, x))),
               "untrained_snr_db": snr_db(test_clips, np.asarray(reconstruct(untrained, x))),
               "dft_snr_db": snr_db(test_clips, np.asarray(jax.jit(jax.vmap(dft_reconstruction))(x))),
               "code_values_per_sample": m.channels / m.hop, "num_params": models.num_params(params)}
        if workdir is not None:
            (Path(workdir) / "plots").mkdir(parents=True, exist_ok=True)
            plot_bases(Path(workdir) / "plots" / "bases.png", np.asarray(params["encoder"]["kernel"][:, 0, :]),
                       d.sample_rate, out["snr_db"])
        print(f"test SNR: learned {out['snr_db']:.2f} dB, untrained {out['untrained_snr_db']:.2f} dB, "
              f"DFT kernels {out['dft_snr_db']:.1f} dB")
        return out

    if config.batch_size > len(train["x"]):
        raise ConfigError(f"batch_size: {config.batch_size} is more than the {len(train['x'])} training segments")
    return Task(
        init_params=model.init, loss_fn=loss_fn,
        train_iterator=batching.TrainIterator(batching.ArraySource(train), config.batch_size, seed=config.seed),
        eval_batches=lambda: batching.eval_batches(batching.ArraySource({"x": test_clips}), config.batch_size),
        final_eval=final_eval,
        reference={"dft_kernels": "perfect reconstruction (the STFT and its overlap-add inverse): dft_snr_db",
                   "untrained": "the same autoencoder at its random initialisation: untrained_snr_db"})


if __name__ == "__main__":
    launcher.run(make_task)
