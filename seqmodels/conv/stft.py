"""The short-time Fourier transform as a strided convolution, and its inverse as a transposed one.

Analysis. With N = n_fft, hop H, window w[n] and K = N // 2 + 1 frequencies, frame f of x is
x[f H + n], n < N, and its DFT is

    X[f, k] = sum_n w[n] x[f H + n] (cos(2 pi k n / N) - i sin(2 pi k n / N)),

so a Conv1D (padding 'valid', stride H) whose 2K output channels have the kernels
w[n] cos(2 pi k n / N) (channels 0..K-1) and -w[n] sin(2 pi k n / N) (channels K..2K-1) returns
[Re X, Im X]: `analysis_kernels`, [N, 1, 2K] in Conv1D's layout.

Synthesis. The inverse DFT of one real frame, weighted by a synthesis window g, is

    y_f[n] = g[n] / N sum_k c_k (Re X[f, k] cos(2 pi k n / N) - Im X[f, k] sin(2 pi k n / N)),
    c_0 = c_{N/2} = 1, c_k = 2 otherwise,

and overlap-add sums y_f[n] into output sample f H + n. A ConvTranspose1D (padding 'valid', stride
H, output (F - 1) H + N samples) does exactly that sum; its kernel is the synthesis rows reversed
in time (tap j lands at f H + N - 1 - j: conv1d.py). With the dual window

    g[n] = w[n] / sum_m w[(n mod H) + m H]^2

every sample covered by all N / H frames comes back exactly (weighted overlap-add, the
least-squares inverse of Griffin and Lim 1984); for a window whose square is COLA at hop H
(e.g. periodic Hann at H = N / 4) the denominator is a constant. `stft(..., center=True)` pads
N - H zeros on each side, so that every sample of x is such a sample and
`istft(stft(x), length=T) == x`.
"""

import jax.numpy as jnp
import numpy as np

from seqmodels.array_types import Array, Float
from seqmodels.conv.conv1d import Conv1D, ConvTranspose1D

WINDOWS = ("hann", "sqrt_hann", "rectangular")


def window(name: str, n_fft: int) -> np.ndarray:
    """Periodic windows [N] (scipy.signal.get_window's 'hann' for 'hann')."""
    n = np.arange(n_fft)
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * n / n_fft)
    table = {"hann": hann, "sqrt_hann": np.sqrt(hann), "rectangular": np.ones(n_fft)}
    if name not in table:
        raise ValueError(f"window: expected one of {WINDOWS}, got {name!r}")
    return table[name]


def _check(n_fft: int, hop: int) -> None:
    if not (isinstance(n_fft, int) and isinstance(hop, int) and n_fft >= 2 and 1 <= hop <= n_fft):
        raise ValueError(f"stft: expected ints n_fft >= 2 and 1 <= hop <= n_fft, got n_fft={n_fft!r}, hop={hop!r}")


def analysis_kernels(n_fft: int, window_name: str = "hann") -> np.ndarray:
    """[N, 1, 2K]: windowed cosines then windowed negative sines (module docstring)."""
    n, k = np.arange(n_fft)[:, None], np.arange(n_fft // 2 + 1)[None, :]
    phase = 2 * np.pi * n * k / n_fft  # [N, K]
    w = window(window_name, n_fft)[:, None]
    return np.concatenate([w * np.cos(phase), -w * np.sin(phase)], axis=1)[:, None, :]


def dual_window(n_fft: int, hop: int, window_name: str = "hann") -> np.ndarray:
    """g[n] = w[n] / sum_m w[(n mod H) + m H]^2: the synthesis window of weighted overlap-add."""
    _check(n_fft, hop)
    w = window(window_name, n_fft)
    norm = np.array([np.sum(w[r::hop] ** 2) for r in range(hop)])  # [H]
    if np.any(norm <= 0):
        raise ValueError(f"stft: the {window_name!r} window is zero at every hop={hop} offset of some sample; "
                         f"no overlap-add inverts it")
    return w / norm[np.arange(n_fft) % hop]


def synthesis_kernels(n_fft: int, hop: int, window_name: str = "hann") -> np.ndarray:
    """[N, 2K, 1] ConvTranspose1D kernel: g[n] c_k / N (cos rows, then -sin rows), reversed in time."""
    n, k = np.arange(n_fft)[:, None], np.arange(n_fft // 2 + 1)[None, :]
    phase = 2 * np.pi * n * k / n_fft  # [N, K]
    c = np.where((k == 0) | (2 * k == n_fft), 1.0, 2.0)
    g = dual_window(n_fft, hop, window_name)[:, None] * c / n_fft
    rows = np.concatenate([g * np.cos(phase), -g * np.sin(phase)], axis=1)  # [N, 2K]
    return rows[::-1, :, None]


def analysis_layer(n_fft: int, hop: int, channels: int) -> Conv1D:
    """The strided analysis convolution: [T, 1] -> [F, channels], F = floor((T - N) / H) + 1."""
    _check(n_fft, hop)
    return Conv1D(1, channels, n_fft, padding="valid", stride=hop, use_bias=False)


def synthesis_layer(n_fft: int, hop: int, channels: int) -> ConvTranspose1D:
    """The overlap-add transposed convolution: [F, channels] -> [(F - 1) H + N, 1]."""
    _check(n_fft, hop)
    return ConvTranspose1D(channels, 1, n_fft, padding="valid", stride=hop, use_bias=False)


def pad(x: Float[Array, "T"], n_fft: int, hop: int) -> Float[Array, "T_pad"]:
    """N - H zeros on each side (then every sample of x lies under N / H frames), and enough zeros at the
    end for a whole last frame."""
    _check(n_fft, hop)
    t_pad = x.shape[0] + 2 * (n_fft - hop)
    extra = (-(t_pad - n_fft)) % hop
    return jnp.pad(x, (n_fft - hop, n_fft - hop + extra))


def stft(x: Float[Array, "T"], n_fft: int, hop: int, window_name: str = "hann", *,
         center: bool = True) -> Array:
    """Complex STFT [F, K] of one signal x [T] by one strided convolution (center: `pad` first)."""
    if x.ndim != 1:
        raise ValueError(f"stft: expected one signal [T], got shape {x.shape}")
    if center:
        x = pad(x, n_fft, hop)
    kernels = jnp.asarray(analysis_kernels(n_fft, window_name), jnp.float32)
    y = analysis_layer(n_fft, hop, kernels.shape[2]).apply({"kernel": kernels}, x[:, None].astype(jnp.float32))
    re, im = jnp.split(y, 2, axis=1)  # [F, K] each
    return re + 1j * im


def istft(spectrum: Array, n_fft: int, hop: int, window_name: str = "hann", *,
          length: int | None = None) -> Float[Array, "T"]:
    """Overlap-add inverse [T] of a complex STFT [F, K] by one transposed convolution. `length`: the
    length of the signal that `stft(..., center=True)` took (its padding is cropped); None: the whole
    (F - 1) H + N samples (for center=False)."""
    if spectrum.ndim != 2 or spectrum.shape[1] != n_fft // 2 + 1:
        raise ValueError(f"istft: expected a spectrum [F, {n_fft // 2 + 1}] for n_fft={n_fft}, "
                         f"got shape {spectrum.shape}")
    frames = jnp.concatenate([spectrum.real, spectrum.imag], axis=1).astype(jnp.float32)  # [F, 2K]
    kernels = jnp.asarray(synthesis_kernels(n_fft, hop, window_name), jnp.float32)
    y = synthesis_layer(n_fft, hop, frames.shape[1]).apply({"kernel": kernels}, frames)[:, 0]
    return y if length is None else y[n_fft - hop:n_fft - hop + length]
