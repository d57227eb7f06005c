"""Positional encodings: hand-computed sinusoids, the paper's formulas, rotary's relative-position law."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from seqmodels.attention import positional


def test_sinusoidal_hand_computed():
    # D = 4: w = [1, 1, 10000^-0.5, 10000^-0.5] = [1, 1, 0.01, 0.01]
    p = positional.sinusoidal(3, 4)
    assert p.shape == (3, 4) and p.dtype == jnp.float32
    np.testing.assert_allclose(p[0], [0, 1, 0, 1], atol=1e-7)
    np.testing.assert_allclose(p[2], [np.sin(2), np.cos(2), np.sin(0.02), np.cos(0.02)], rtol=1e-6)


def test_sinusoidal_matches_vaswani_formula():
    """PE(pos, 2i) = sin(pos / 10000^(2i/D)), PE(pos, 2i+1) = cos(pos / 10000^(2i/D)) (float64 numpy)."""
    T, D = 50, 16
    pos = np.arange(T)[:, None]
    i = np.arange(D // 2)[None, :]
    ref = np.zeros((T, D))
    ref[:, 0::2] = np.sin(pos / 10000 ** (2 * i / D))
    ref[:, 1::2] = np.cos(pos / 10000 ** (2 * i / D))
    np.testing.assert_allclose(positional.sinusoidal(T, D), ref, atol=2e-5)


def test_sinusoidal_positions_and_odd_width():
    np.testing.assert_allclose(positional.sinusoidal(jnp.array([3, 4]), 6), positional.sinusoidal(5, 6)[3:], atol=1e-6)
    assert positional.sinusoidal(4, 5, dtype=jnp.bfloat16).shape == (4, 5)


def test_learned():
    params = positional.learned_init(jax.random.key(0), 8, 3)
    np.testing.assert_array_equal(positional.learned(params, 4), params["table"][:4])
    np.testing.assert_array_equal(positional.learned(params, jnp.array([7, 0])), params["table"][jnp.array([7, 0])])
    with pytest.raises(ValueError, match="holds 8 positions"):
        positional.learned(params, 9)


def rotary_reference(x, positions, base=10000.0):
    """RoFormer's complex form: (x_2i + i x_2i+1) e^(i t theta_i), theta_i = base^(-2i/K), float64."""
    x = np.asarray(x, np.float64)
    K = x.shape[-1]
    theta = base ** (-2.0 * np.arange(K // 2) / K)
    z = (x[..., 0::2] + 1j * x[..., 1::2]) * np.exp(1j * np.asarray(positions)[:, None, None] * theta)
    out = np.empty_like(x)
    out[..., 0::2], out[..., 1::2] = z.real, z.imag
    return out


def test_rotary_matches_complex_form_and_keeps_norms():
    x = jax.random.normal(jax.random.key(0), (6, 2, 8))
    y = positional.rotary(x)
    np.testing.assert_allclose(y, rotary_reference(x, np.arange(6)), atol=1e-5)
    np.testing.assert_allclose(jnp.linalg.norm(y, axis=-1), jnp.linalg.norm(x, axis=-1), rtol=1e-5)
    np.testing.assert_array_equal(y[0], x[0])  # position 0: no rotation
    np.testing.assert_allclose(positional.rotary(x, jnp.arange(6) + 3), rotary_reference(x, np.arange(3, 9)),
                               atol=1e-4)


@given(t=st.integers(0, 50), s=st.integers(0, 50), shift=st.integers(0, 50))
def test_rotary_scores_depend_on_offset_only(t, s, shift):
    q, k = jax.random.normal(jax.random.key(1), (2, 1, 1, 8))
    def score(a, b):
        return jnp.sum(positional.rotary(q, jnp.array([a])) * positional.rotary(k, jnp.array([b])))
    np.testing.assert_allclose(score(t, s), score(t + shift, s + shift), atol=1e-4)


@pytest.mark.parametrize("call, match", [
    (lambda: positional.rotary(jnp.ones((3, 2, 5))), "even"),
    (lambda: positional.rotary(jnp.ones((3, 4))), r"\[T, N, K\]"),
    (lambda: positional.rotary(jnp.ones((3, 1, 4)), jnp.arange(4)), r"positions of shape \[3\]"),
    (lambda: positional.sinusoidal(0, 4), "positive length"),
    (lambda: positional.sinusoidal(jnp.ones((2, 2), int), 4), r"\[T\]"),
])
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()
