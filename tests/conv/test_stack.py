"""ConvStack and receptive fields: impulse responses span exactly the helper's
receptive field, streaming == full pass, padding, a tiny training run."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from seqmodels.conv import conv1d
from seqmodels.conv.conv1d import Conv1D
from seqmodels.conv.stack import ConvStack
from tests.conv import helpers


def test_impulse_response_spans_receptive_field():
    """Linear stack (identity activation, zero bias): an impulse at t0 reaches
    exactly the outputs t0 .. t0 + R - 1."""
    spec = ConvStack(1, (3, 3, 1), kernel_size=3, dilations=(1, 2, 4), activation="identity")
    params = helpers.random_params(spec)
    for layer in params["layers"]:
        layer["bias"] = jnp.zeros_like(layer["bias"])
    assert spec.receptive_field == 1 + 2 * (1 + 2 + 4) == 15
    t0 = 5
    impulse = jnp.zeros((40, 1)).at[t0, 0].set(1.0)
    response = np.asarray(spec.apply(params, impulse))[:, 0]
    np.testing.assert_array_equal(np.flatnonzero(response), np.arange(t0, t0 + 15))


@pytest.mark.parametrize("kernels, dilations, strides", [
    ((3, 3, 2), (1, 1, 1), (2, 2, 1)),
    ((2, 4, 3), (3, 1, 2), (1, 3, 1)),
])
def test_strided_stack_span_matches_helper(kernels, dilations, strides):
    layers = [Conv1D(2, 2, w, padding="valid", stride=s, dilation=d)
              for w, d, s in zip(kernels, dilations, strides)]
    params = [helpers.random_params(layer, seed=i) for i, layer in enumerate(layers)]

    def f(x):
        for layer, p in zip(layers, params):
            x = jnp.tanh(layer.apply(p, x))
        return x

    span = helpers.input_span(f, helpers.normal((60, 2)), out_index=0)
    np.testing.assert_array_equal(span, np.arange(conv1d.receptive_field(kernels, dilations, strides)))


@given(kernel=st.integers(1, 4), dilations=st.lists(st.integers(1, 5), min_size=1, max_size=3),
       t=st.integers(1, 24))
def test_streaming_equals_full_pass(kernel, dilations, t):
    spec = ConvStack(2, (3,) * len(dilations), kernel_size=kernel, dilations=dilations, activation="tanh")
    params = helpers.random_params(spec)
    x = helpers.normal((t, 2))
    ys = helpers.stream(lambda s, x_t: spec.step(params, s, x_t), spec.init_state(), x)
    np.testing.assert_allclose(ys, spec.apply(params, x), atol=1e-5, rtol=1e-5)


@given(t=st.integers(0, 29))
def test_stack_is_causal(t):
    spec = ConvStack(2, (4, 4), kernel_size=3, dilations=(1, 4))
    params = helpers.random_params(spec)
    x = helpers.normal((30, 2))
    y, y_changed = spec.apply(params, x), spec.apply(params, x.at[t].add(1.0))
    np.testing.assert_array_equal(y[:t], y_changed[:t])


@pytest.mark.parametrize("padding", ["causal", "same", "valid"])
def test_padded_frames_never_leak(padding):
    spec = ConvStack(2, (4, 3), kernel_size=3, dilations=(1, 2), padding=padding, activation="sigmoid")
    params = helpers.random_params(spec)
    x = helpers.normal((9, 2))
    padded = jnp.concatenate([x, 50.0 * helpers.normal((7, 2), seed=5)])
    y = spec.apply(params, padded, lengths=jnp.asarray(9))
    y_ref = spec.apply(params, x)
    n = y_ref.shape[0]
    np.testing.assert_allclose(y[:n], y_ref, atol=1e-5)
    np.testing.assert_array_equal(y[n:], 0.0)


def test_shapes_under_vmap_and_dtypes():
    spec = ConvStack(3, (8, 5), kernel_size=3, dilations=(1, 2))
    for dtype in (jnp.float32, jnp.bfloat16, jnp.float16):
        params = jax.eval_shape(lambda k: spec.init(k, dtype=dtype), jax.random.key(0))
        x = jax.ShapeDtypeStruct((4, 10, 3), dtype)
        y = jax.eval_shape(lambda p, x: jax.vmap(lambda x: spec.apply(p, x))(x), params, x)
        assert y.shape == (4, 10, 5) and y.dtype == dtype


def test_loss_goes_down():
    """Learn y[t] = x[t - 3] with a 2-layer dilated causal stack."""
    spec = ConvStack(1, (8, 1), kernel_size=3, dilations=(1, 2), activate_last=False)
    params = spec.init(jax.random.key(0))
    x = helpers.normal((8, 32, 1))
    target = jnp.pad(x, ((0, 0), (3, 0), (0, 0)))[:, :32]
    loss_fn = lambda p: jnp.mean(jnp.square(jax.vmap(lambda x: spec.apply(p, x))(x) - target))
    _, losses = helpers.adam_train(loss_fn, params, learning_rate=1e-2, steps=300)
    assert losses[-1] < 0.05 * losses[0]


def test_bad_input_raises():
    with pytest.raises(ValueError, match="expected 2 dilations"):
        ConvStack(2, (4, 4), dilations=(1,))
    with pytest.raises(ValueError, match="dilation: expected a positive int, got 0"):
        ConvStack(2, (4,), dilations=(0,))
    with pytest.raises(ValueError, match="unknown activation"):
        ConvStack(2, (4,), activation="swish2")
    with pytest.raises(ValueError, match=r"expected input \[T, 2\]"):
        spec = ConvStack(2, (4,))
        spec.apply(helpers.random_params(spec), jnp.ones((5, 3)))
