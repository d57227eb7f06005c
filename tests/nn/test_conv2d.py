"""Conv2D and pooling against lax.conv_general_dilated / lax.reduce_window (called here directly) and flax.linen."""

import flax.linen as fnn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from seqmodels.nn import conv2d

# (kernel, stride, padding, dilation, groups, c_in, c_out): a grid over the options
CASES = [
    (3, 1, "SAME", 1, 1, 2, 4),
    (3, 2, "SAME", 1, 1, 3, 2),
    ((2, 3), (2, 1), "VALID", 1, 1, 2, 3),
    (3, 1, "VALID", 2, 1, 1, 2),
    (3, (1, 2), "SAME", (2, 1), 1, 2, 2),
    (3, 1, 1, 1, 2, 4, 6),
    ((3, 2), 2, ((2, 0), (1, 3)), 1, 1, 2, 2),
    (5, 2, (2, 1), 1, 1, 1, 3),
    (3, 1, "SAME", 1, 4, 4, 4),  # depthwise
    (1, 1, "VALID", 1, 1, 3, 5),
]


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _lax_padding(padding):
    """The test's own reading of the padding forms: lax takes strings as they are."""
    if isinstance(padding, str):
        return padding
    if isinstance(padding, int):
        return ((padding, padding),) * 2
    return tuple((p, p) if isinstance(p, int) else tuple(p) for p in padding)


def _image_and_params(case, seed=0, size=(9, 8)):
    kernel, stride, padding, dilation, groups, c_in, c_out = case
    layer = conv2d.Conv2D(c_in, c_out, kernel, stride=stride, padding=padding, dilation=dilation, groups=groups)
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(seed), 3)
    params = layer.init(k1, b_init=jax.nn.initializers.normal(1.0))
    x = jax.random.normal(k3, (*size, c_in))
    return layer, params, x


@pytest.mark.parametrize("case", CASES)
def test_conv2d_matches_lax(case):
    layer, params, x = _image_and_params(case)
    kernel, stride, padding, dilation, groups, c_in, c_out = case
    want = jax.lax.conv_general_dilated(
        x[None], params["kernel"], window_strides=_pair(stride), padding=_lax_padding(padding),
        rhs_dilation=_pair(dilation), dimension_numbers=("NHWC", "HWIO", "NHWC"),
        feature_group_count=groups)[0] + params["bias"]
    got = jax.jit(layer.apply)(params, x)
    assert got.shape == want.shape == (*layer.output_size(x.shape[:2]), c_out)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(jax.jit(layer.apply_reference)(params, x), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", CASES)
def test_conv2d_matches_flax_with_ported_weights(case):
    layer, params, x = _image_and_params(case, seed=1)
    kernel, stride, padding, dilation, groups, c_in, c_out = case
    module = fnn.Conv(c_out, _pair(kernel), strides=_pair(stride), padding=_lax_padding(padding),
                      kernel_dilation=_pair(dilation), feature_group_count=groups)
    flax_params = module.init(jax.random.PRNGKey(0), x[None])
    assert flax_params["params"]["kernel"].shape == params["kernel"].shape  # the same layout
    want = module.apply({"params": params}, x[None])[0]
    np.testing.assert_allclose(layer.apply(params, x), want, rtol=1e-5, atol=1e-5)


def test_conv2d_hand_computed():
    """A 2x2 kernel of ones sums each 2x2 window; a one-pixel pad adds the border's partial sums."""
    x = jnp.arange(9.0).reshape(3, 3, 1)
    layer = conv2d.Conv2D(1, 1, 2, padding="VALID", use_bias=False)
    y = layer.apply({"kernel": jnp.ones((2, 2, 1, 1))}, x)
    np.testing.assert_allclose(y[..., 0], [[0 + 1 + 3 + 4, 1 + 2 + 4 + 5], [3 + 4 + 6 + 7, 4 + 5 + 7 + 8]])
    y = conv2d.Conv2D(1, 1, 2, padding=1, use_bias=False).apply({"kernel": jnp.ones((2, 2, 1, 1))}, x)
    assert y.shape == (4, 4, 1) and y[0, 0, 0] == 0 and y[3, 3, 0] == 8


def test_conv2d_jit_and_grad():
    layer, params, x = _image_and_params(CASES[1])
    g = jax.jit(jax.grad(lambda p: jnp.sum(layer.apply(p, x) ** 2)))(params)
    g_ref = jax.jit(jax.grad(lambda p: jnp.sum(layer.apply_reference(p, x) ** 2)))(params)
    np.testing.assert_allclose(g["kernel"], g_ref["kernel"], rtol=1e-4, atol=1e-4)


POOL_CASES = [(2, None, "VALID"), (3, 1, "SAME"), ((2, 3), (1, 2), "SAME"), (3, 2, "VALID"), (2, 2, 1),
              (3, (2, 1), ((1, 0), (0, 2)))]


@pytest.mark.parametrize("window, stride, padding", POOL_CASES)
def test_pooling_matches_lax_and_flax(window, stride, padding):
    x = jax.random.normal(jax.random.PRNGKey(2), (7, 8, 3))
    dims, strides = (*_pair(window), 1), (*_pair(window if stride is None else stride), 1)
    lax_pad = _lax_padding(padding)
    pad3 = lax_pad if isinstance(lax_pad, str) else (*lax_pad, (0, 0))
    want_max = jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, dims, strides, pad3)
    want_avg = jax.lax.reduce_window(x, 0.0, jax.lax.add, dims, strides, pad3) / (dims[0] * dims[1])
    got_max = conv2d.max_pool(x, window, stride=stride, padding=padding)
    got_avg = conv2d.avg_pool(x, window, stride=stride, padding=padding)
    np.testing.assert_allclose(got_max, want_max, rtol=1e-6)
    np.testing.assert_allclose(got_avg, want_avg, rtol=1e-5, atol=1e-6)
    flax_kw = dict(window_shape=_pair(window), strides=strides[:2], padding=lax_pad)  # flax's default stride is 1
    np.testing.assert_allclose(got_max, fnn.max_pool(x[None], **flax_kw)[0], rtol=1e-6)
    np.testing.assert_allclose(got_avg, fnn.avg_pool(x[None], **flax_kw)[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(conv2d.avg_pool(x, window, stride=stride, padding=padding, count_include_pad=False),
                               fnn.avg_pool(x[None], **flax_kw, count_include_pad=False)[0], rtol=1e-5, atol=1e-6)


def test_pooling_hand_computed():
    x = jnp.array([[1.0, 2, 5, 0], [3, 4, -1, 2]])[..., None]  # [2, 4, 1]
    np.testing.assert_allclose(conv2d.max_pool(x, 2)[..., 0], [[4, 5]])
    np.testing.assert_allclose(conv2d.avg_pool(x, 2)[..., 0], [[2.5, 1.5]])
    np.testing.assert_allclose(conv2d.pool("max", x, (1, 4))[..., 0], [[5], [4]])


def test_sizes():
    assert conv2d.output_size((28, 28), (3, 3), "SAME", stride=(2, 2)) == (14, 14)
    assert conv2d.output_size((28, 28), (5, 5), "VALID") == (24, 24)
    assert conv2d.output_size((8, 8), (3, 3), "VALID", dilation=(2, 2)) == (4, 4)
    assert conv2d.padding_amounts((8, 8), (4, 4), "SAME") == ((1, 2), (1, 2))  # the extra zero after, as lax
    assert conv2d.padding_amounts((8, 8), (3, 3), (1, 2)) == ((1, 1), (2, 2))


def test_clear_errors():
    layer = conv2d.Conv2D(3, 4, 3)
    params = layer.init(jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match=r"expected one image \[H, W, 3\]"):
        layer.apply(params, jnp.ones((2, 8, 8, 3)))  # a batch
    with pytest.raises(ValueError, match=r"expected one image \[H, W, 3\]"):
        layer.apply(params, jnp.ones((8, 8, 2)))  # wrong channels
    with pytest.raises(ValueError, match="floating-point"):
        layer.apply(params, jnp.ones((8, 8, 3), jnp.int32))
    with pytest.raises(ValueError, match=r"expected kernel \[KH, KW, C_in / G, C_out\]"):
        layer.apply({"kernel": jnp.ones((3, 3, 2, 4))}, jnp.ones((8, 8, 3)))
    with pytest.raises(ValueError, match="groups=2 must divide in_channels=3"):
        conv2d.Conv2D(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="kernel_size: expected a positive int or a pair"):
        conv2d.Conv2D(3, 4, (3, 0))
    with pytest.raises(ValueError, match="padding: expected 'SAME', 'VALID'"):
        conv2d.Conv2D(3, 4, 3, padding="causal")
    with pytest.raises(ValueError, match="non-negative ints"):
        conv2d.Conv2D(3, 4, 3, padding=-1)
    with pytest.raises(ValueError, match="does not fit an image of 2 x 2"):
        conv2d.Conv2D(3, 4, 3, padding="VALID").apply(params, jnp.ones((2, 2, 3)))
    with pytest.raises(ValueError, match="max_pool: expected one image"):
        conv2d.max_pool(jnp.ones((8, 8)))
    with pytest.raises(ValueError, match="pool: expected one of"):
        conv2d.pool("min", jnp.ones((8, 8, 1)))
