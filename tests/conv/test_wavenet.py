"""WaveNet, mu-law and the discretised logistic mixture: hand values, a
flax.linen transcription with copied weights, streaming == full pass,
streaming generation == recomputing the receptive field, causality, the
receptive field, padding, conditioning, and learning to continue a sine."""

import flax.linen as flax_nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from jax.test_util import check_grads

from seqmodels.conv import logistic_mixture
from seqmodels.conv.mulaw import mu_law_decode, mu_law_encode
from seqmodels.conv.wavenet import WaveNet, cycle_dilations
from tests.conv import helpers

SMALL = dict(residual_channels=4, dilation_channels=3, skip_channels=5)


def categorical(**kwargs):
    return WaveNet(num_classes=8, **{"dilations": (1, 2, 4), **SMALL, **kwargs})


def mixture(**kwargs):
    return WaveNet(output="logistic_mixture", num_classes=256, num_mixtures=2,
                   **{"dilations": (1, 2, 4), **SMALL, **kwargs})


def levels(t, seed=0, q=8):
    return jnp.asarray(np.random.default_rng(seed).integers(0, q, t), jnp.int32)


# -- mu-law ---------------------------------------------------------------------------

def test_mu_law_hand_values():
    np.testing.assert_array_equal(mu_law_encode(jnp.array([-1.0, 0.0, 1.0, -2.0, 2.0])),
                                  [0, 128, 255, 0, 255])
    np.testing.assert_allclose(mu_law_decode(jnp.array([0, 255])), [-1.0, 1.0], atol=1e-6)
    # f(0.5) = ln(1 + 127.5) / ln(256) = 0.87549; q = floor(1.87549 / 2 * 255 + 0.5) = 239
    assert int(mu_law_encode(jnp.array(0.5))) == 239


def test_mu_law_round_trip():
    encode, decode = jax.jit(mu_law_encode), jax.jit(mu_law_decode)
    x = jnp.linspace(-1.0, 1.0, 1001)
    q = encode(x)
    assert q.dtype == jnp.int32 and int(q.min()) == 0 and int(q.max()) == 255
    np.testing.assert_array_equal(encode(decode(jnp.arange(256))), np.arange(256))
    # companding: the error is small near 0 and grows with |x|
    err = np.abs(np.asarray(decode(q) - x))
    assert err[np.abs(np.asarray(x)) < 0.01].max() < 5e-4 and err.max() < 0.025  # half a level: (1/mu) dx/df <= 0.022


# -- discretised logistic mixture -------------------------------------------------------

def numpy_mixture_probs(params, num_classes):
    """P(bin) for every bin centre, straight from the logistic CDF (float64)."""
    logits, means, log_scales = (np.asarray(a, np.float64) for a in np.split(np.asarray(params), 3))
    weights = np.exp(logits - logits.max())
    weights /= weights.sum()
    centres = np.linspace(-1.0, 1.0, num_classes)
    h = 1.0 / (num_classes - 1)
    cdf = lambda v: 1.0 / (1.0 + np.exp(-(v[:, None] - means) / np.exp(log_scales)))
    upper = np.where(centres[:, None] > 1 - h, 1.0, cdf(centres + h))
    lower = np.where(centres[:, None] < -1 + h, 0.0, cdf(centres - h))
    return ((upper - lower) * weights).sum(axis=1), centres


def test_mixture_log_prob_equals_numpy_and_normalises():
    params = jnp.array([0.3, -0.2, 1.0, 0.1, -0.5, 0.2, -2.0, -1.5, -3.0])  # M = 3
    probs, centres = numpy_mixture_probs(params, 64)
    log_p = logistic_mixture.log_prob(jnp.broadcast_to(params, (64, 9)), jnp.asarray(centres, jnp.float32), 64)
    np.testing.assert_allclose(np.exp(log_p), probs, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(probs.sum(), 1.0, rtol=1e-9)
    np.testing.assert_allclose(np.exp(log_p).sum(), 1.0, rtol=1e-4)


def test_mixture_sampling_statistics():
    """One sharp component at 0.3 with weight ~1: samples are logistic(0.3, s)."""
    params = jnp.array([10.0, -10.0, 0.3, -0.6, np.log(0.05), np.log(0.05)])
    x = jax.jit(logistic_mixture.sample)(jax.random.key(0), jnp.broadcast_to(params, (20000, 6)))
    assert np.abs(np.mean(x) - 0.3) < 0.01
    np.testing.assert_allclose(np.std(x), 0.05 * np.pi / np.sqrt(3), rtol=0.05)  # logistic std
    assert float(x.min()) >= -1.0 and float(x.max()) <= 1.0


# -- the network against a flax transcription -----------------------------------------

class FlaxWaveNet(flax_nn.Module):
    """WaveNet from flax.linen layers (the paper's figure 4), weights copied in."""
    spec: WaveNet

    @flax_nn.compact
    def __call__(self, u, local_cond=None, global_cond=None):
        s = self.spec
        h = flax_nn.Conv(s.residual_channels, (s.input_kernel_size,), padding="CAUSAL", name="input")(u)
        skips = 0.0
        for i, d in enumerate(s.dilations):
            a = flax_nn.Conv(2 * s.dilation_channels, (s.kernel_size,), padding="CAUSAL",
                             kernel_dilation=d, name=f"dilated_{i}")(h)
            if local_cond is not None:
                a = a + flax_nn.Dense(2 * s.dilation_channels, use_bias=False, name=f"local_{i}")(local_cond)
            if global_cond is not None:
                a = a + flax_nn.Dense(2 * s.dilation_channels, use_bias=False, name=f"global_{i}")(global_cond)
            z = jnp.tanh(a[:, :s.dilation_channels]) * jax.nn.sigmoid(a[:, s.dilation_channels:])
            skips = skips + flax_nn.Dense(s.skip_channels, name=f"skip_{i}")(z)
            h = h + flax_nn.Dense(s.residual_channels, name=f"residual_{i}")(z)
        y = jax.nn.relu(flax_nn.Dense(s.skip_channels, name="output1")(jax.nn.relu(skips)))
        return flax_nn.Dense(s.output_channels, name="output2")(y)


def to_flax(params):
    dense = lambda p: {"kernel": p["w"], **({"bias": p["b"]} if "b" in p else {})}
    out = {"input": params["input"], "output1": dense(params["output1"]), "output2": dense(params["output2"])}
    for i, block in enumerate(params["blocks"]):
        out[f"dilated_{i}"] = block["dilated"]
        for name in ("skip", "residual", "local", "global"):
            if name in block:
                out[f"{name}_{i}"] = dense(block[name])
    return {"params": out}


@pytest.mark.parametrize("make, conditioned", [(categorical, False), (mixture, True)])
def test_equals_flax_transcription(make, conditioned):
    spec = make(local_channels=2, global_channels=3) if conditioned else make()
    params = helpers.random_params(spec)
    x = levels(20) if spec.output == "categorical" else helpers.normal((20,), scale=0.5)
    cond = dict(local_cond=helpers.normal((20, 2)), global_cond=helpers.normal((3,))) if conditioned else {}
    y = spec.apply(params, x, **cond)
    assert y.shape == (20, spec.output_channels)
    y_flax = FlaxWaveNet(spec).apply(to_flax(params), spec._inputs(x), **cond)
    np.testing.assert_allclose(y, y_flax, atol=1e-5, rtol=1e-5)


def test_receptive_field():
    assert WaveNet(dilations=cycle_dilations(9)).receptive_field == 1025
    assert cycle_dilations(2, 2) == (1, 2, 4, 1, 2, 4)
    spec = mixture(dilations=(1, 2, 4, 1, 2))
    assert spec.receptive_field == 1 + 1 + (1 + 2 + 4 + 1 + 2) == 12
    params = helpers.random_params(spec)
    span = helpers.input_span(lambda x: spec.apply(params, x), helpers.normal((30,), scale=0.5))
    np.testing.assert_array_equal(span, np.arange(30 - 12, 30))


# -- streaming ------------------------------------------------------------------------

@helpers.half_examples()
@given(kernel=st.integers(1, 3), exponent=st.integers(0, 3), t=st.integers(1, 20), conditioned=st.booleans())
def test_streaming_equals_full_pass(kernel, exponent, t, conditioned):
    spec = mixture(kernel_size=kernel, dilations=cycle_dilations(exponent, 2),
                   **(dict(local_channels=2, global_channels=3) if conditioned else {}))
    params = helpers.random_params(spec)
    x = helpers.normal((t,), scale=0.5)
    local = helpers.normal((t, 2)) if conditioned else None
    glob = helpers.normal((3,)) if conditioned else None
    ys = helpers.stream(lambda s, x_t, *c: spec.step(params, s, x_t, *c, global_cond=glob),
                        spec.init_state(), x, local)
    np.testing.assert_allclose(ys, jax.jit(spec.apply)(params, x, local_cond=local, global_cond=glob),
                               atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("prime_length", [None, 3, 30])
def test_generate_equals_recomputing_the_receptive_field(prime_length):
    spec = categorical(dilations=(1, 2, 4, 8))  # R = 17
    params = helpers.random_params(spec, scale=1.0)
    prime = None if prime_length is None else levels(prime_length, seed=3)
    key = jax.random.key(7)
    fast = jax.jit(lambda p: spec.generate(p, key, 40, prime=prime))(params)
    slow = jax.jit(lambda p: spec.generate_reference(p, key, 40, prime=prime))(params)
    assert fast.shape == (40,) and fast.dtype == jnp.int32
    np.testing.assert_array_equal(fast, slow)
    assert len(np.unique(fast)) > 1


def test_generate_with_conditioning_and_mixture():
    spec = mixture(local_channels=2, global_channels=3)
    params = helpers.random_params(spec)
    prime = helpers.normal((5,), scale=0.3)
    cond = dict(local_cond=helpers.normal((5 + 12, 2)), global_cond=helpers.normal((3,)))
    key = jax.random.key(1)
    fast = spec.generate(params, key, 12, prime=prime, **cond)
    slow = spec.generate_reference(params, key, 12, prime=prime, **cond)
    np.testing.assert_allclose(fast, slow, atol=1e-5)
    assert fast.shape == (12,) and float(jnp.abs(fast).max()) <= 1.0


@given(t=st.integers(0, 24))
def test_is_causal(t):
    spec = categorical()
    params = helpers.random_params(spec)
    x = levels(25)
    y, y_changed = spec.apply(params, x), spec.apply(params, x.at[t].set((x[t] + 1) % 8))
    np.testing.assert_array_equal(y[:t], y_changed[:t])
    assert not np.allclose(y[t], y_changed[t])


def test_padded_frames_never_leak_and_loss_masks():
    spec = categorical()
    params = helpers.random_params(spec)
    x = levels(10)
    padded = jnp.concatenate([x, levels(6, seed=4)])
    apply, loss = jax.jit(spec.apply), jax.jit(spec.loss)
    y = apply(params, padded, lengths=jnp.asarray(10))
    np.testing.assert_allclose(y[:10], apply(params, x), atol=1e-6)
    np.testing.assert_array_equal(y[10:], 0.0)
    np.testing.assert_allclose(loss(params, padded, lengths=jnp.asarray(10)), loss(params, x), rtol=1e-6)


def test_loss_is_next_sample_cross_entropy():
    spec = categorical()
    params = helpers.random_params(spec)
    x = levels(12)
    log_p = jax.nn.log_softmax(spec.apply(params, x[:-1]))
    expected = -np.mean([log_p[t, x[t + 1]] for t in range(11)])
    np.testing.assert_allclose(spec.loss(params, x), expected, rtol=1e-6)


def test_gradients_match_finite_differences():
    spec = categorical(dilations=(1, 2))
    params = helpers.random_params(spec)
    x = levels(9)
    check_grads(jax.jit(lambda p: spec.loss(p, x)), (params,), order=1, modes=["rev"], atol=2e-2, rtol=2e-2)


def test_learns_to_continue_a_sine():
    """Tiny categorical WaveNet on mu-law sines (period 16, 4 phases): the
    next-sample loss falls 10x, and low-temperature generation from a prime
    continues the wave."""
    spec = WaveNet(num_classes=32, dilations=(1, 2, 4), residual_channels=16, dilation_channels=16,
                   skip_channels=32)
    t = jnp.arange(64.0)
    waves = 0.8 * jnp.sin(2 * jnp.pi * (t[None] / 16.0 + jnp.arange(4.0)[:, None] / 4.0))  # [4, 64]
    x = mu_law_encode(waves, mu=31)
    params = spec.init(jax.random.key(0))
    loss_fn = lambda p: jnp.mean(jax.vmap(lambda x: spec.loss(p, x))(x))
    params, losses = helpers.adam_train(loss_fn, params, learning_rate=1e-2, steps=60)
    assert losses[-1] < 0.1 * losses[0], (losses[0], losses[-1])
    samples = jax.jit(lambda p: spec.generate(p, jax.random.key(1), 32, prime=x[0, :32], temperature=0.1))(params)
    np.testing.assert_allclose(mu_law_decode(samples, mu=31), waves[0, 32:], atol=0.2)


def test_bad_input_raises():
    spec = categorical()
    params = helpers.random_params(spec)
    with pytest.raises(ValueError, match="takes int levels"):
        spec.apply(params, jnp.zeros(5))
    with pytest.raises(ValueError, match=r"expected one sequence of samples \[T\]"):
        spec.apply(params, jnp.zeros((5, 8), jnp.int32))
    with pytest.raises(ValueError, match="got local_cond of shape"):
        spec.apply(params, levels(5), local_cond=jnp.zeros((5, 2)))
    cond = categorical(local_channels=2)
    with pytest.raises(ValueError, match=r"expected local_cond of shape \(5, 2\), got None"):
        cond.apply(helpers.random_params(cond), levels(5))
    with pytest.raises(ValueError, match=r"expected local_cond of shape \(9, 2\)"):
        cond.generate(helpers.random_params(cond), jax.random.key(0), 8, local_cond=jnp.zeros((8, 2)))
    with pytest.raises(ValueError, match="output must be one of"):
        WaveNet(output="gaussian")
    with pytest.raises(ValueError, match="dilation: expected a positive int, got 0"):
        WaveNet(dilations=(1, 0))
