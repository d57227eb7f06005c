"""Conv1D and ConvTranspose1D: against lax.conv_general_dilated, flax nn.Conv /
nn.ConvTranspose and jax autodiff (the transpose is the adjoint), hand values,
streaming == full pass, padding, causality, gradients, bad input."""

import flax.linen as flax_nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from jax.test_util import check_grads

from seqmodels.conv import conv1d
from seqmodels.conv.conv1d import Conv1D, ConvTranspose1D

C_IN, C_OUT = 4, 8
# (kernel W, stride s, dilation d, groups G)
CASES = [(3, 1, 1, 1), (3, 2, 2, 2), (4, 3, 1, 4), (2, 1, 5, 1), (5, 2, 1, 1), (1, 1, 1, 4)]
case_id = lambda c: "W{}_s{}_d{}_G{}".format(*c)


def random_params(spec, seed=0):
    """N(0, 1/fan_in) kernels and N(0, 1) biases, drawn by numpy (no PRNG compilation per shape)."""
    rng = np.random.default_rng(seed)
    shapes = jax.eval_shape(spec.init, jax.random.key(0))
    return {name: jnp.asarray(rng.normal(size=leaf.shape) / (np.sqrt(np.prod(leaf.shape[:-1]))
                                                             if name == "kernel" else 1.0),
                              jnp.float32)
            for name, leaf in shapes.items()}


def random_x(time, channels=C_IN, seed=2):
    return jnp.asarray(np.random.default_rng(seed).normal(size=(time, channels)), jnp.float32)


# -- sizes: one documented rule ----------------------------------------------------

@pytest.mark.parametrize("padding, expected", [("valid", 2), ("causal", 4), ("same", 4)])
def test_output_length_hand_values(padding, expected):
    # T = 10, W = 3, d = 2 (span k = 5), s = 3: valid floor((10 - 5) / 3) + 1 = 2; else ceil(10 / 3) = 4
    assert conv1d.output_length(10, 3, padding=padding, stride=3, dilation=2) == expected
    spec = Conv1D(C_IN, C_OUT, 3, padding=padding, stride=3, dilation=2)
    assert spec.apply(random_params(spec), random_x(10)).shape == (expected, C_OUT)


def test_output_length_rule_is_one_formula():
    """T_out = floor((T + P_l + P_r - k) / s) + 1 for every padding."""
    for padding in conv1d.PADDINGS:
        for t, w, s, d in [(10, 3, 3, 2), (7, 4, 2, 1), (16, 2, 1, 8), (9, 5, 4, 2)]:
            p_l, p_r = conv1d.padding_amounts(t, w, padding=padding, stride=s, dilation=d)
            k = d * (w - 1) + 1
            if t + p_l + p_r >= k:
                assert conv1d.output_length(t, w, padding=padding, stride=s, dilation=d) == \
                    (t + p_l + p_r - k) // s + 1


def test_transposed_output_length_hand_values():
    # T = 5, W = 4, s = 3: valid (5 - 1) 3 + 4 = 16; causal and same 5 * 3 = 15
    assert conv1d.transposed_output_length(5, 4, padding="valid", stride=3) == 16
    assert conv1d.transposed_output_length(5, 4, padding="causal", stride=3) == 15
    assert conv1d.transposed_output_length(5, 4, padding="same", stride=3) == 15


def test_receptive_field_hand_values():
    assert conv1d.receptive_field([3] * 8, [2 ** i for i in range(8)]) == 1 + 2 * 255
    assert conv1d.receptive_field([2] * 10, [2 ** i for i in range(10)]) == 1024
    # strides scale the layers above: 1 + (3 - 1) + (3 - 1) * 2 + (2 - 1) * 4 = 11
    assert conv1d.receptive_field([3, 3, 2], strides=[2, 2, 1]) == 11


# -- hand-computed values --------------------------------------------------------------

def test_causal_hand_values():
    # lax layout: the LAST tap multiplies the current sample. y[t] = x[t] + 0.5 x[t - d]
    kernel = jnp.array([0.5, 1.0]).reshape(2, 1, 1)
    x = jnp.array([1.0, 2.0, 3.0, 4.0])[:, None]
    y1 = Conv1D(1, 1, 2, use_bias=False).apply({"kernel": kernel}, x)
    np.testing.assert_allclose(y1[:, 0], [1.0, 2.5, 4.0, 5.5])
    y2 = Conv1D(1, 1, 2, dilation=2, use_bias=False).apply({"kernel": kernel}, x)
    np.testing.assert_allclose(y2[:, 0], [1.0, 2.0, 3.5, 5.0])
    y3 = Conv1D(1, 1, 2, stride=2, use_bias=False).apply({"kernel": kernel}, x)
    np.testing.assert_allclose(y3[:, 0], [1.0, 4.0])  # outputs at t = 0, 2


def test_depthwise_hand_values():
    """groups = channels: channel c is filtered by kernel[:, 0, c] alone."""
    kernel = jnp.array([[[1.0, 0.0]], [[0.0, 2.0]]])  # [W=2, 1, C=2]: ch0 delays by 1, ch1 doubles
    x = jnp.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0]])
    y = Conv1D(2, 2, 2, groups=2, use_bias=False).apply({"kernel": kernel}, x)
    np.testing.assert_allclose(y, [[0.0, 20.0], [1.0, 40.0], [2.0, 60.0]])


def test_transposed_hand_values():
    # s = 2, W = 2, kernel [a, b] = [1, 10] (no transpose_kernel flip): full output frame
    # i s + (W - 1 - w) gets x[i] kernel[w]: x = [1, 2] -> [10, 1, 20, 2, 0][:full=4]
    kernel = jnp.array([1.0, 10.0]).reshape(2, 1, 1)
    x = jnp.array([1.0, 2.0])[:, None]
    y = ConvTranspose1D(1, 1, 2, padding="valid", stride=2, use_bias=False).apply({"kernel": kernel}, x)
    np.testing.assert_allclose(y[:, 0], [10.0, 1.0, 20.0, 2.0])
    y = ConvTranspose1D(1, 1, 2, padding="causal", stride=2, use_bias=False).apply({"kernel": kernel}, x)
    np.testing.assert_allclose(y[:, 0], [10.0, 1.0, 20.0, 2.0])


# -- equivalence with lax and flax (copied weights) --------------------------------------

@pytest.mark.parametrize("padding", conv1d.PADDINGS)
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_conv_equals_flax_and_lax(padding, case):
    w, s, d, g = case
    spec = Conv1D(C_IN, C_OUT, w, padding=padding, stride=s, dilation=d, groups=g)
    params, x = random_params(spec), random_x(23)
    y = spec.apply(params, x)
    flax_conv = flax_nn.Conv(C_OUT, (w,), strides=s, padding=padding.upper(), kernel_dilation=d,
                             feature_group_count=g)
    np.testing.assert_allclose(y, flax_conv.apply({"params": params}, x), atol=1e-5, rtol=1e-5)
    pads = conv1d.padding_amounts(23, w, padding=padding, stride=s, dilation=d)
    y_lax = jax.lax.conv_general_dilated(
        x[None], params["kernel"], (s,), [pads], rhs_dilation=(d,),
        dimension_numbers=("NWC", "WIO", "NWC"), feature_group_count=g)[0] + params["bias"]
    np.testing.assert_allclose(y, y_lax, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("padding", conv1d.PADDINGS)
@pytest.mark.parametrize("case", [c for c in CASES if c[3] == 1] + [(2, 4, 1, 1), (1, 3, 1, 1)],
                         ids=case_id)
def test_transpose_equals_flax(padding, case):
    """flax nn.ConvTranspose: 'SAME' is ours; our 'valid' (full) and 'causal' are
    prefixes of flax 'VALID' (which pads s - k zero frames when k < s)."""
    w, s, d, _ = case
    spec = ConvTranspose1D(C_IN, C_OUT, w, padding=padding, stride=s, dilation=d)
    params, x = random_params(spec), random_x(7)
    y = spec.apply(params, x)
    flax_conv = flax_nn.ConvTranspose(C_OUT, (w,), strides=(s,), kernel_dilation=(d,),
                                      padding="SAME" if padding == "same" else "VALID")
    y_flax = flax_conv.apply({"params": params}, x)
    assert y.shape == (spec.output_length(7), C_OUT)
    np.testing.assert_allclose(y, y_flax[:y.shape[0]], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("case", [CASES[0], CASES[3], CASES[4]], ids=case_id)
def test_transpose_valid_is_adjoint_of_valid_conv(case):
    """<conv_T(x), z> = <x, conv(z)> with the kernel flipped in time and in/out swapped
    (what transpose_kernel=True would do): the vjp of the strided valid conv."""
    w, s, d, _ = case
    kernel = random_params(ConvTranspose1D(C_IN, C_OUT, w))["kernel"]
    x = random_x(6)

    @jax.jit
    def both(x, kernel):
        y = conv1d.conv_transpose1d(x, kernel, padding="valid", stride=s, dilation=d)  # [T_out, C_OUT]
        adjoint_kernel = kernel[::-1].transpose(0, 2, 1)  # [W, C_OUT, C_IN]
        forward = lambda z: conv1d.conv1d(z, adjoint_kernel, padding="valid", stride=s, dilation=d)
        z, vjp = jax.vjp(forward, jnp.zeros_like(y))
        assert z.shape == x.shape
        return y, vjp(x)[0]

    y, y_adjoint = both(x, kernel)
    np.testing.assert_allclose(y, y_adjoint, atol=1e-5, rtol=1e-5)


@given(w=st.integers(1, 5), s=st.integers(1, 3), d=st.integers(1, 4), g=st.sampled_from([1, 2, 4]),
       t=st.integers(1, 20), padding=st.sampled_from(conv1d.PADDINGS))
def test_fast_path_equals_reference(w, s, d, g, t, padding):
    if padding == "valid":
        t = max(t, d * (w - 1) + 1)
    spec = Conv1D(C_IN, C_OUT, w, padding=padding, stride=s, dilation=d, groups=g)
    tspec = ConvTranspose1D(C_IN, C_OUT, w, padding=padding, stride=s, dilation=d, groups=g)
    params, x = random_params(spec), random_x(t)
    both = jax.jit(lambda p, x: [(c.apply(p, x), c.apply_reference(p, x)) for c in (spec, tspec)])
    for fast, reference in both(params, x):
        np.testing.assert_allclose(fast, reference, atol=1e-5, rtol=1e-5)


# -- streaming, padding, causality --------------------------------------------------------

def stream(spec, params, x):
    return jax.lax.scan(lambda s, x_t: spec.step(params, s, x_t), spec.init_state(), x)[1]


@given(w=st.integers(1, 5), d=st.integers(1, 6), g=st.sampled_from([1, 2, 4]), t=st.integers(1, 30))
def test_streaming_equals_full_pass(w, d, g, t):
    spec = Conv1D(C_IN, C_OUT, w, dilation=d, groups=g)
    params, x = random_params(spec), random_x(t)
    np.testing.assert_allclose(stream(spec, params, x), spec.apply(params, x), atol=1e-5, rtol=1e-5)


@given(w=st.integers(1, 5), s=st.integers(1, 4), d=st.integers(1, 3), t=st.integers(1, 12))
def test_transpose_streaming_equals_full_pass(w, s, d, t):
    spec = ConvTranspose1D(C_IN, C_OUT, w, padding="causal", stride=s, dilation=d, groups=2)
    params, x = random_params(spec), random_x(t)
    ys = stream(spec, params, x)  # [T, s, C_out]
    np.testing.assert_allclose(ys.reshape(-1, C_OUT), spec.apply(params, x), atol=1e-5, rtol=1e-5)


@given(length=st.integers(1, 16), padding=st.sampled_from(conv1d.PADDINGS), s=st.sampled_from([1, 2]),
       transposed=st.booleans())
def test_padded_frames_never_leak(length, padding, s, transposed):
    """apply(x padded with garbage, lengths=L)[:T_out(L)] == apply(x[:L]); the rest is 0."""
    if padding == "same" and s > 1:
        s = 1  # 'same' centring with stride follows the padded length (lax's rule)
    cls = ConvTranspose1D if transposed else Conv1D
    spec = cls(C_IN, C_OUT, 3, padding=padding, stride=s, dilation=2)
    if padding == "valid" and not transposed:
        length = max(length, 5)
    params = random_params(spec)
    x = random_x(length)
    padded = jnp.concatenate([x, 100.0 * random_x(16 - length + 5, seed=9)])  # garbage after L
    y = spec.apply(params, padded, lengths=jnp.asarray(length))
    n = spec.output_length(length)
    np.testing.assert_allclose(y[:n], spec.apply(params, x), atol=1e-4, rtol=1e-5)
    np.testing.assert_array_equal(y[n:], 0.0)


@given(t=st.integers(0, 19), w=st.integers(1, 4), d=st.integers(1, 3))
def test_causal_conv_is_causal(t, w, d):
    spec = Conv1D(C_IN, C_OUT, w, dilation=d)
    params, x = random_params(spec), random_x(20)
    y = spec.apply(params, x)
    y_changed = spec.apply(params, x.at[t].add(1.0))
    np.testing.assert_array_equal(y[:t], y_changed[:t])
    assert not np.allclose(y[t], y_changed[t])


# -- gradients, dtypes --------------------------------------------------------------------

@pytest.mark.parametrize("cls, padding", [(Conv1D, "causal"), (Conv1D, "same"), (ConvTranspose1D, "valid")])
def test_gradients_match_finite_differences(cls, padding):
    spec = cls(2, 3, 3, padding=padding, stride=2, dilation=2)
    params, x = random_params(spec), random_x(9, channels=2)
    f = lambda p, x: jnp.sum(jnp.sin(spec.apply(p, x)))
    check_grads(jax.jit(f), (params, x), order=1, modes=["rev"], atol=2e-2, rtol=2e-2)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16, jnp.float16])
@pytest.mark.parametrize("cls", [Conv1D, ConvTranspose1D])
def test_shapes_and_dtypes(dtype, cls):
    for padding in conv1d.PADDINGS:
        spec = cls(C_IN, C_OUT, 3, padding=padding, stride=2, groups=2)
        params = jax.eval_shape(lambda k: spec.init(k, dtype=dtype), jax.random.key(0))
        x = jax.ShapeDtypeStruct((2, 11, C_IN), dtype)
        y = jax.eval_shape(lambda p, x: jax.vmap(lambda x: spec.apply(p, x))(x), params, x)
        assert y.dtype == dtype
        assert y.shape == (2, spec.output_length(11), C_OUT)


# -- bad input ----------------------------------------------------------------------------

def test_bad_input_raises():
    spec = Conv1D(C_IN, C_OUT, 3)
    params = random_params(spec)
    with pytest.raises(ValueError, match=r"expected input \[T, 4\].*got shape \(10, 5\)"):
        spec.apply(params, jnp.ones((10, 5)))
    with pytest.raises(ValueError, match=r"expected input \[T, 4\]"):
        spec.apply(params, jnp.ones((2, 10, 4)))  # batched: vmap instead
    with pytest.raises(ValueError, match="needs at least 7 frames"):
        Conv1D(C_IN, C_OUT, 4, padding="valid", dilation=2).apply(
            random_params(Conv1D(C_IN, C_OUT, 4, padding="valid", dilation=2)), jnp.ones((6, 4)))
    with pytest.raises(ValueError, match="dilation: expected a positive int, got 0"):
        Conv1D(C_IN, C_OUT, 3, dilation=0)
    with pytest.raises(ValueError, match="stride: expected a positive int, got -1"):
        ConvTranspose1D(C_IN, C_OUT, 3, stride=-1)
    with pytest.raises(ValueError, match="groups=3 must divide in_channels=4"):
        Conv1D(C_IN, C_OUT, 3, groups=3)
    with pytest.raises(ValueError, match="padding: expected one of"):
        Conv1D(C_IN, C_OUT, 3, padding="full")
    with pytest.raises(ValueError, match=r"expected kernel .* = \(3, 4, 8\), got \(3, 2, 8\)"):
        spec.apply({"kernel": jnp.ones((3, 2, 8))}, jnp.ones((10, 4)))
    with pytest.raises(ValueError, match="streaming needs padding='causal' and stride=1"):
        Conv1D(C_IN, C_OUT, 3, stride=2).init_state()
    with pytest.raises(ValueError, match=r"expected one frame \[4\]"):
        spec.step(params, spec.init_state(), jnp.ones((2, 4)))
    with pytest.raises(ValueError, match="int scalar per example"):
        spec.apply(params, jnp.ones((10, 4)), lengths=jnp.array([3, 4]))


@pytest.mark.parametrize("padding", ["causal", "same", "valid"])
@pytest.mark.parametrize("kernel_size, dilation", [(1, 1), (2, 1), (3, 4), (5, 2)])
def test_shifted_matmul_path_equals_lax_and_the_reference(padding, kernel_size, dilation):
    """impl='shifted' (the accelerator default): the same outputs and gradients as the lax convolution."""
    kx, kw = jax.random.split(jax.random.key(7))
    x = jax.random.normal(kx, (23, 3))
    kernel = jax.random.normal(kw, (kernel_size, 3, 4))
    kwargs = dict(padding=padding, dilation=dilation)
    want = conv1d.conv1d_reference(x, kernel, **kwargs)
    for impl in ("lax", "shifted"):
        np.testing.assert_allclose(conv1d.conv1d(x, kernel, impl=impl, **kwargs), want, rtol=1e-5, atol=1e-5)
    grads = [jax.grad(lambda x, k: jnp.sum(jnp.sin(conv1d.conv1d(x, k, impl=impl, **kwargs))), argnums=(0, 1))(
        x, kernel) for impl in ("lax", "shifted")]
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_shifted_path_falls_back_to_lax_for_strides_and_groups_and_rejects_unknown_impls():
    x = jax.random.normal(jax.random.key(0), (20, 4))
    kernel = jax.random.normal(jax.random.key(1), (3, 2, 4))  # 2 groups of 2 input channels
    for kwargs in (dict(padding="same", stride=2, groups=2), dict(padding="causal", stride=1, groups=2)):
        np.testing.assert_allclose(conv1d.conv1d(x, kernel, impl="shifted", **kwargs),
                                   conv1d.conv1d_reference(x, kernel, **kwargs), rtol=1e-5, atol=1e-5)
    assert conv1d.default_conv_impl() == ("lax" if jax.default_backend() == "cpu" else "shifted")
    with pytest.raises(ValueError, match="unknown impl 'cudnn'"):
        conv1d.conv1d(x, kernel, padding="causal", groups=2, impl="cudnn")
