"""The one-layer sound autoencoder: with the DFT's kernels it is the STFT and its inverse; the small config runs."""

import json
import subprocess
import sys
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

from experiments import sound_autoencoder as ae
from experiments.configs import sound_autoencoder as sound_autoencoder_config
from seqmodels.conv import stft
from seqmodels.training import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_with_dft_kernels_its_code_is_numpy_stft_and_its_overlap_add_the_signal():
    n_fft, hop, x = 32, 8, np.random.default_rng(0).normal(size=200).astype(np.float32)
    model = ae.SoundAutoencoder(n_fft, hop, n_fft + 2, "linear")
    code = model.encode({"encoder": {"kernel": jnp.asarray(stft.analysis_kernels(n_fft), jnp.float32)}}, jnp.asarray(x))
    padded = np.asarray(stft.pad(jnp.asarray(x), n_fft, hop))
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop] * stft.window("hann", n_fft)
    spectrum = np.fft.rfft(frames, axis=1)  # [F, K]
    np.testing.assert_allclose(np.asarray(code), np.concatenate([spectrum.real, spectrum.imag], 1), atol=1e-4)
    # the decoder's bases are used at unit norm: give it the DFT synthesis kernels and undo the norm on the code
    synthesis = stft.synthesis_kernels(n_fft, hop)  # [N, 2K, 1]
    norms = np.sqrt(np.sum(synthesis ** 2, axis=0))[:, 0]  # [2K]
    scaled = code * jnp.asarray(norms, jnp.float32)
    x_hat = model.decode({"decoder": {"kernel": jnp.asarray(synthesis, jnp.float32)}}, scaled, len(x))
    np.testing.assert_allclose(np.asarray(x_hat), x, atol=1e-4)


def test_snr_is_the_signal_to_error_power_ratio_in_db():
    x = np.array([1.0, -1.0, 1.0, -1.0])
    assert abs(ae.snr_db(x, 0.9 * x) - 20.0) < 1e-9  # error power 1% of the signal's


def test_small_config_runs_from_the_command_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "experiments.sound_autoencoder", f"--workdir={tmp_path}",
                           "--config=experiments/configs/sound_autoencoder.py:small"],
                          cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((tmp_path / "results.json").read_text())["metrics"]
    assert metrics["dft_snr_db"] > 100  # the STFT and its inverse: float32 round-off only
    assert np.isfinite(metrics["snr_db"]) and np.isfinite(metrics["untrained_snr_db"])
    assert (tmp_path / "plots" / "bases.png").stat().st_size > 0


def test_a_hop_that_does_not_divide_the_kernel_is_a_config_error():
    config = sound_autoencoder_config.get_config("small")
    config.model.hop = 60
    with pytest.raises(ConfigError, match="model.hop"):
        ae.make_task(config)
