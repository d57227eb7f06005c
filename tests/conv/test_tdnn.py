"""FIR layer and TDNN (Wan's FIR network): kernel layout by hand (tap k = delay k),
against the defining sum and flax nn.Conv(padding='CAUSAL'), streaming, the
receptive field, padding, and the delay-sum task y(t) = x(t) + x(t - 3)."""

import flax.linen as flax_nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from seqmodels.conv.tdnn import FIR, TDNN
from tests.conv import helpers


def test_fir_kernel_layout_by_hand():
    """kernel[:, 0, 0] = [1, 0, 0, 1] is the delay-sum y(t) = x(t) + x(t - 3)."""
    fir = FIR(1, 1, 4, use_bias=False)
    x = jnp.arange(1.0, 9.0)[:, None]
    y = fir.apply({"kernel": jnp.array([1.0, 0.0, 0.0, 1.0]).reshape(4, 1, 1)}, x)
    np.testing.assert_allclose(y[:, 0], [1, 2, 3, 4 + 1, 5 + 2, 6 + 3, 7 + 4, 8 + 5])
    y = fir.apply({"kernel": jnp.array([0.0, 2.0, 0.0, 0.0]).reshape(4, 1, 1)}, x)  # 2 x(t - 1)
    np.testing.assert_allclose(y[:, 0], [0, 2, 4, 6, 8, 10, 12, 14])


def test_fir_equals_defining_sum_and_flax():
    fir = FIR(3, 5, 6)
    params = helpers.random_params(fir)
    x = helpers.normal((20, 3))
    y = fir.apply(params, x)
    np.testing.assert_allclose(y, fir.apply_reference(params, x), atol=1e-5, rtol=1e-5)
    flax_conv = flax_nn.Conv(5, (6,), padding="CAUSAL")  # lax layout: flip the filter
    y_flax = flax_conv.apply({"params": {**params, "kernel": params["kernel"][::-1]}}, x)
    np.testing.assert_allclose(y, y_flax, atol=1e-5, rtol=1e-5)


def test_tdnn_equals_layerwise_reference():
    spec = TDNN((1, 4, 3, 1), (5, 3, 2))
    params = helpers.random_params(spec)
    x = helpers.normal((25, 1))
    h = x
    for l, layer in enumerate(spec.layers):
        h = layer.apply_reference(params["layers"][l], h)
        h = jnp.tanh(h) if l < 2 else h
    np.testing.assert_allclose(spec.apply(params, x), h, atol=1e-5, rtol=1e-5)


def test_wan_santa_fe_shapes_and_receptive_field():
    spec = TDNN((1, 12, 12, 1), (25, 5, 5))
    assert spec.receptive_field == 1 + 24 + 4 + 4 == 33
    params = helpers.random_params(spec, scale=0.3)
    span = helpers.input_span(lambda x: spec.apply(params, x), helpers.normal((50, 1)))
    np.testing.assert_array_equal(span, np.arange(50 - 33, 50))
    shapes = [p["kernel"].shape for p in params["layers"]]
    assert shapes == [(25, 1, 12), (5, 12, 12), (5, 12, 1)]
    y = jax.eval_shape(jax.vmap(lambda x: spec.apply(params, x)), jax.ShapeDtypeStruct((2, 40, 1), jnp.float32))
    assert y.shape == (2, 40, 1)


@given(taps=st.lists(st.integers(1, 6), min_size=1, max_size=3), t=st.integers(1, 20))
def test_streaming_equals_full_pass(taps, t):
    spec = TDNN((2,) + (3,) * len(taps), taps)
    params = helpers.random_params(spec)
    x = helpers.normal((t, 2))
    ys = helpers.stream(lambda s, x_t: spec.step(params, s, x_t), spec.init_state(), x)
    np.testing.assert_allclose(ys, spec.apply(params, x), atol=1e-5, rtol=1e-5)


def test_padded_frames_never_leak():
    spec = TDNN((1, 4, 1), (4, 3), output_activation="sigmoid")
    params = helpers.random_params(spec)
    x = helpers.normal((10, 1))
    y = spec.apply(params, jnp.concatenate([x, helpers.normal((6, 1), seed=3)]), lengths=jnp.asarray(10))
    np.testing.assert_allclose(y[:10], spec.apply(params, x), atol=1e-6)
    np.testing.assert_array_equal(y[10:], 0.0)


def test_delay_sum_is_learned_and_readable():
    """A 4-tap linear FIR filter learns y(t) = x(t) + x(t - 3): kernel[:, 0, 0] -> [1, 0, 0, 1]."""
    spec = TDNN((1, 1), (4,), use_bias=False)
    params = spec.init(jax.random.key(0))
    x = helpers.normal((16, 40, 1))
    target = x + jnp.pad(x, ((0, 0), (3, 0), (0, 0)))[:, :40]
    loss_fn = lambda p: jnp.mean(jnp.square(jax.vmap(lambda x: spec.apply(p, x))(x) - target))
    params, losses = helpers.adam_train(loss_fn, params, learning_rate=5e-2, steps=300)
    assert losses[-1] < 1e-3 * losses[0]
    np.testing.assert_allclose(params["layers"][0]["kernel"][:, 0, 0], [1, 0, 0, 1], atol=1e-2)


def test_bad_input_raises():
    with pytest.raises(ValueError, match="expected sizes of L \\+ 1 >= 2 widths and L taps"):
        TDNN((1, 12, 1), (25,))
    with pytest.raises(ValueError, match="taps: expected a positive int, got 0"):
        TDNN((1, 1), (0,))
    spec = FIR(2, 3, 4)
    with pytest.raises(ValueError, match=r"expected kernel .* = \(4, 2, 3\), got \(3, 2, 3\)"):
        spec.apply({"kernel": jnp.ones((3, 2, 3)), "bias": jnp.ones(3)}, jnp.ones((5, 2)))
    with pytest.raises(ValueError, match=r"expected input \[T, 2\]"):
        spec.apply(helpers.random_params(spec), jnp.ones((5, 1)))
