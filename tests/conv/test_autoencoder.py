"""Convolutional autoencoder: shapes, a flax.linen transcription (nn.Conv /
nn.ConvTranspose with 'SAME'), padding, and compressing a tiny sound."""

import flax.linen as flax_nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from seqmodels.conv.autoencoder import ConvAutoencoder
from tests.conv import helpers


@pytest.mark.parametrize("time, code_time", [(64, 8), (50, 7), (1, 1)])
def test_shapes(time, code_time):
    spec = ConvAutoencoder(2, (4, 6, 3), kernel_size=5, stride=2)
    params = jax.eval_shape(spec.init, jax.random.key(0))
    x = jax.ShapeDtypeStruct((time, 2), jnp.float32)
    assert spec.code_length(time) == code_time
    assert jax.eval_shape(lambda p, x: spec.encode(p, x), params, x).shape == (code_time, 3)
    assert jax.eval_shape(lambda p, x: spec.apply(p, x), params, x).shape == (time, 2)


class FlaxAutoencoder(flax_nn.Module):
    spec: ConvAutoencoder

    @flax_nn.compact
    def __call__(self, x):
        s, widths = self.spec, (self.spec.in_channels,) + self.spec.channels
        h = x
        for l, c in enumerate(s.channels):
            h = flax_nn.Conv(c, (s.kernel_size,), strides=s.stride, padding="SAME", name=f"enc_{l}")(h)
            h = jnp.tanh(h) if l < len(s.channels) - 1 else h
        for l, c in enumerate(widths[::-1][1:]):
            h = flax_nn.ConvTranspose(c, (s.kernel_size,), strides=(s.stride,), padding="SAME",
                                      name=f"dec_{l}")(h)
            h = jnp.tanh(h) if l < len(s.channels) - 1 else h
        return h[:x.shape[0]]


def test_equals_flax_transcription():
    spec = ConvAutoencoder(1, (3, 4), kernel_size=4, stride=2)
    params = helpers.random_params(spec)
    x = helpers.normal((21, 1))
    variables = {"params": {**{f"enc_{l}": p for l, p in enumerate(params["encoder"])},
                            **{f"dec_{l}": p for l, p in enumerate(params["decoder"])}}}
    np.testing.assert_allclose(spec.apply(params, x), FlaxAutoencoder(spec).apply(variables, x),
                               atol=1e-5, rtol=1e-5)


def test_padded_frames_never_leak():
    """Garbage after `lengths` changes nothing; reconstructed padded frames are 0."""
    spec = ConvAutoencoder(1, (3, 4), kernel_size=4, stride=2)
    params = helpers.random_params(spec)
    x = jnp.concatenate([helpers.normal((13, 1)), jnp.zeros((7, 1))])
    garbage = x.at[13:].set(100.0)
    y = spec.apply(params, garbage, lengths=jnp.asarray(13))
    np.testing.assert_allclose(y, spec.apply(params, x, lengths=jnp.asarray(13)), atol=1e-6)
    np.testing.assert_array_equal(y[13:], 0.0)
    np.testing.assert_allclose(spec.loss(params, garbage, lengths=jnp.asarray(13)),
                               jnp.mean(jnp.square(y[:13] - x[:13])), rtol=1e-5)


def test_compresses_a_tiny_sound():
    """Two-tone 'sound' [64, 1] -> code [8, 4] (2x fewer numbers) -> back: MSE falls 10x."""
    spec = ConvAutoencoder(1, (8, 8, 4), kernel_size=8, stride=2)
    t = jnp.arange(64.0)
    phases = jnp.asarray(np.random.default_rng(0).uniform(0, 2 * np.pi, (16, 2)), jnp.float32)
    sound = (0.5 * jnp.sin(2 * jnp.pi * t / 16 + phases[:, :1])
             + 0.3 * jnp.sin(2 * jnp.pi * t / 6 + phases[:, 1:]))[..., None]  # [16, 64, 1]
    params = spec.init(jax.random.key(0))
    loss_fn = lambda p: jnp.mean(jax.vmap(lambda x: spec.loss(p, x))(sound))
    _, losses = helpers.adam_train(loss_fn, params, learning_rate=1e-2, steps=150)
    assert losses[-1] < 0.1 * losses[0], (losses[0], losses[-1])


def test_bad_input_raises():
    with pytest.raises(ValueError, match="at least one layer"):
        ConvAutoencoder(1, ())
    with pytest.raises(ValueError, match="stride: expected a positive int, got 0"):
        ConvAutoencoder(1, (4,), stride=0)
    spec = ConvAutoencoder(1, (4,))
    with pytest.raises(ValueError, match=r"expected input \[T, 1\]"):
        spec.apply(helpers.random_params(spec), jnp.ones((8, 2)))
