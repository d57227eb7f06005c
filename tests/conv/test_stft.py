"""The STFT as a strided Conv1D against numpy.fft and scipy.signal; its inverse as a transposed conv
against a numpy overlap-add loop and scipy.signal.istft."""

import jax.numpy as jnp
import numpy as np
import pytest
import scipy.signal

from seqmodels.conv import stft as S


def signal(length, seed=0):
    return np.random.default_rng(seed).normal(size=length).astype(np.float32)


def numpy_stft(x, n_fft, hop, w):
    num_frames = (len(x) - n_fft) // hop + 1
    frames = np.stack([x[f * hop:f * hop + n_fft] * w for f in range(num_frames)])  # [F, N]
    return np.fft.rfft(frames.astype(np.float64), axis=1)  # [F, K]


@pytest.mark.parametrize("n_fft,hop,name", [(64, 16, "hann"), (33, 11, "sqrt_hann")])
def test_strided_conv_is_numpy_rfft_of_the_windowed_frames(n_fft, hop, name):
    x = signal(700)
    ours = np.asarray(S.stft(jnp.asarray(x), n_fft, hop, name, center=False))
    np.testing.assert_allclose(ours, numpy_stft(x, n_fft, hop, S.window(name, n_fft)), atol=2e-5 * n_fft)


def test_stft_matches_scipy_signal_stft():
    n_fft, hop, x = 64, 16, signal(1000, seed=1)
    _, _, z = scipy.signal.stft(x, window="hann", nperseg=n_fft, noverlap=n_fft - hop, boundary=None,
                                padded=False)  # [K, F], scaled by 1 / sum(w)
    ours = np.asarray(S.stft(jnp.asarray(x), n_fft, hop, center=False))
    np.testing.assert_allclose(ours, z.T * S.window("hann", n_fft).sum(), atol=1e-4)
    np.testing.assert_allclose(S.window("hann", n_fft), scipy.signal.get_window("hann", n_fft), atol=1e-12)


@pytest.mark.parametrize("n_fft,hop", [(64, 16), (20, 10)])
def test_transposed_conv_is_a_numpy_overlap_add_loop(n_fft, hop):
    rng = np.random.default_rng(2)
    spectrum = rng.normal(size=(9, n_fft // 2 + 1)) + 1j * rng.normal(size=(9, n_fft // 2 + 1))
    g = S.dual_window(n_fft, hop)
    expected = np.zeros(8 * hop + n_fft)
    for f, row in enumerate(spectrum):  # inverse DFT of the frame (of its Hermitian extension), weighted
        expected[f * hop:f * hop + n_fft] += g * np.fft.irfft(row, n_fft)
    ours = np.asarray(S.istft(jnp.asarray(spectrum), n_fft, hop))
    np.testing.assert_allclose(ours, expected, atol=1e-5)


@pytest.mark.parametrize("n_fft,hop,name", [(64, 32, "sqrt_hann"), (64, 24, "hann"), (50, 25, "rectangular")])
def test_istft_of_stft_is_the_signal(n_fft, hop, name):
    x = signal(777, seed=3)
    y = S.istft(S.stft(jnp.asarray(x), n_fft, hop, name), n_fft, hop, name, length=len(x))
    np.testing.assert_allclose(np.asarray(y), x, atol=1e-5)


def test_hann_squared_is_cola_at_a_quarter_hop_and_the_dual_window_is_w_over_1_5():
    np.testing.assert_allclose(S.dual_window(64, 16), S.window("hann", 64) / 1.5, atol=1e-12)


@pytest.mark.filterwarnings("ignore:NOLA condition failed")  # scipy: the edge samples, which we leave out
def test_istft_matches_scipy_signal_istft_where_every_frame_overlaps():
    n_fft, hop, x = 64, 16, signal(1000, seed=4)
    _, _, z = scipy.signal.stft(x, window="hann", nperseg=n_fft, noverlap=n_fft - hop, boundary=None, padded=False)
    _, expected = scipy.signal.istft(z, window="hann", nperseg=n_fft, noverlap=n_fft - hop, boundary=False)
    ours = np.asarray(S.istft(jnp.asarray(z.T * S.window("hann", n_fft).sum()), n_fft, hop))
    inner = slice(n_fft - hop, len(expected) - (n_fft - hop))  # scipy divides the edges by their own sum of w^2
    np.testing.assert_allclose(ours[inner], expected[inner], atol=1e-5)
    np.testing.assert_allclose(ours[inner], x[inner], atol=1e-5)


def test_bad_inputs_are_clear_errors():
    with pytest.raises(ValueError, match="one signal"):
        S.stft(jnp.zeros((10, 1)), 8, 2)
    with pytest.raises(ValueError, match="hop"):
        S.stft(jnp.zeros(10), 8, 9)
    with pytest.raises(ValueError, match="window"):
        S.window("hamming2", 8)
    with pytest.raises(ValueError, match=r"spectrum \[F, 5\]"):
        S.istft(jnp.zeros((3, 4), jnp.complex64), 8, 2)
    with pytest.raises(ValueError, match="no overlap-add"):
        S.dual_window(8, 8, "hann")  # w[0] = 0 and nothing overlaps it
