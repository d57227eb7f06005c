"""TCN (Bai et al. 2018): weight norm by hand, initialisation statistics, a
block against flax nn.Conv(padding='CAUSAL') with the normalised kernels,
streaming, the receptive field, dropout, padding, and a tiny training run."""

import flax.linen as flax_nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from jax.test_util import check_grads

from seqmodels.conv.tcn import TCN, weight_norm
from seqmodels.nn import dense
from tests.conv import helpers


def test_weight_norm_by_hand():
    v = jnp.array([[[3.0, 1.0]], [[4.0, 0.0]]])  # [W=2, C_in=1, C_out=2]; column norms 5 and 1
    w = weight_norm(v, jnp.array([10.0, 2.0]))
    np.testing.assert_allclose(w[:, 0, 0], [6.0, 8.0])
    np.testing.assert_allclose(w[:, 0, 1], [2.0, 0.0])


def test_init_follows_the_paper():
    spec = TCN(3, (64, 64), kernel_size=4)
    params = spec.init(jax.random.key(0))
    block0, block1 = params["blocks"]
    assert set(block0) == {"conv1", "conv2", "downsample"} and set(block1) == {"conv1", "conv2"}
    v = block0["conv2"]["v"]
    assert v.shape == (4, 64, 64)
    np.testing.assert_allclose(np.std(np.asarray(v)), 0.01, rtol=0.05)
    np.testing.assert_allclose(weight_norm(v, block0["conv2"]["g"]), v, rtol=1e-5, atol=1e-7)  # g = ||v||
    bound = 1 / np.sqrt(4 * 64)
    assert np.abs(np.asarray(block0["conv2"]["bias"])).max() <= bound


def test_pytorch_init_is_what_the_papers_code_runs():
    """conv_init="pytorch": weight-normed kernels start from nn.Conv1d's U(+-1/sqrt(fan_in)) (the paper's
    N(0, 0.01) is overwritten by weight_norm's pre-hook), the 1x1 downsample from N(0, init_scale)."""
    spec = TCN(3, (64, 64), kernel_size=4, conv_init="pytorch")
    block0, block1 = spec.init(jax.random.key(0))["blocks"]
    for conv, fan_in in ((block0["conv1"], 4 * 3), (block0["conv2"], 4 * 64), (block1["conv1"], 4 * 64)):
        v, bound = np.asarray(conv["v"]), 1 / np.sqrt(fan_in)
        assert np.abs(v).max() <= bound
        np.testing.assert_allclose(v.std(), bound / np.sqrt(3), rtol=0.1)  # std of U(-b, b)
        np.testing.assert_allclose(weight_norm(conv["v"], conv["g"]), v, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np.std(np.asarray(block0["downsample"]["kernel"])), 0.01, rtol=0.1)
    with pytest.raises(ValueError, match="unknown conv_init 'xavier'; valid"):
        TCN(3, (4,), conv_init="xavier")


def test_pytorch_init_learns_the_adding_problem_where_n001_stalls():
    """Adding problem, T=24, 300 full-batch Adam steps: from the init the paper's code really runs the
    TCN solves it; from the N(0, 0.01) the paper describes it is still on the trivial baseline (1/6)."""
    from seqmodels.data import synthetic
    from seqmodels.nn import initializers

    data = synthetic.make_adding(0, 128, seq_len=24)
    x, y = jnp.asarray(data["x"]), jnp.asarray(data["y"])
    final = {}
    for conv_init in ("pytorch", "normal"):
        spec = TCN(2, (16, 16, 16), kernel_size=3, conv_init=conv_init)
        params = {"tcn": spec.init(jax.random.key(0)),
                  "head": dense.init(jax.random.key(1), 16, 1, w_init=initializers.normal(0.01))}
        last = lambda p, x: dense.apply(p["head"], spec.apply(p["tcn"], x))[-1, 0]
        loss_fn = lambda p: jnp.mean(jnp.square(jax.vmap(lambda x: last(p, x))(x) - y))
        final[conv_init] = float(helpers.adam_train(loss_fn, params, learning_rate=5e-3, steps=300)[1][-1])
    assert final["pytorch"] < 0.02 and final["normal"] > 0.1, final


def flax_block(params, x, dilation, kernel_size):
    """One temporal block from flax nn.Conv(padding='CAUSAL') and the paper's formula."""
    def conv(p, h, features, k, d):
        kernel = weight_norm(p["v"], p["g"]) if "v" in p else p["kernel"]
        module = flax_nn.Conv(features, (k,), padding="CAUSAL", kernel_dilation=d)
        return module.apply({"params": {"kernel": kernel, "bias": p["bias"]}}, h)

    c_out = params["conv1"]["bias"].shape[0]
    h = jax.nn.relu(conv(params["conv1"], x, c_out, kernel_size, dilation))
    h = jax.nn.relu(conv(params["conv2"], h, c_out, kernel_size, dilation))
    res = conv(params["downsample"], x, c_out, 1, 1) if "downsample" in params else x
    return jax.nn.relu(h + res)


def test_equals_flax_blocks():
    spec = TCN(2, (5, 5, 3), kernel_size=3)
    params = helpers.random_params(spec)
    x = helpers.normal((30, 2))
    h = x
    for i, p in enumerate(params["blocks"]):
        h = flax_block(p, h, 2 ** i, 3)
    np.testing.assert_allclose(spec.apply(params, x), h, atol=1e-5, rtol=1e-5)


def test_receptive_field():
    spec = TCN(1, (4, 4, 4), kernel_size=3)
    assert spec.receptive_field == 1 + 2 * 2 * (1 + 2 + 4) == 29
    params = helpers.random_params(spec, scale=0.3)
    span = helpers.input_span(lambda x: spec.apply(params, x), helpers.normal((40, 1)))
    np.testing.assert_array_equal(span, np.arange(40 - 29, 40))


@helpers.half_examples()
@given(kernel=st.integers(1, 4), channels=st.lists(st.sampled_from([2, 3]), min_size=1, max_size=3),
       t=st.integers(1, 20))
def test_streaming_equals_full_pass(kernel, channels, t):
    spec = TCN(2, tuple(channels), kernel_size=kernel)
    params = helpers.random_params(spec)
    x = helpers.normal((t, 2))
    ys = helpers.stream(lambda s, x_t: spec.step(params, s, x_t), spec.init_state(), x)
    np.testing.assert_allclose(ys, spec.apply(params, x), atol=1e-5, rtol=1e-5)


def test_dropout_unless_deterministic():
    spec = TCN(2, (16, 16), kernel_size=2, drop_rate=0.5)
    params = helpers.random_params(spec)
    x = helpers.normal((12, 2))
    evaluation = spec.apply(params, x, deterministic=True)
    np.testing.assert_array_equal(spec.apply(params, x, key=jax.random.key(1), deterministic=True), evaluation)
    y1, y2 = (spec.apply(params, x, key=jax.random.key(k)) for k in (1, 2))
    assert not np.allclose(y1, y2)
    assert not np.allclose(y1, evaluation)
    with pytest.raises(ValueError, match="TCN: dropout with drop_rate=0.5 > 0 needs a PRNG `key`"):
        spec.apply(params, x)  # training without a key: an error, not a silent evaluation


def test_padded_frames_never_leak():
    spec = TCN(2, (4, 3), kernel_size=3)
    params = helpers.random_params(spec)
    x = helpers.normal((9, 2))
    y = spec.apply(params, jnp.concatenate([x, 99.0 * helpers.normal((5, 2), seed=1)]),
                   lengths=jnp.asarray(9))
    np.testing.assert_allclose(y[:9], spec.apply(params, x), atol=1e-5)
    np.testing.assert_array_equal(y[9:], 0.0)


def test_gradients_match_finite_differences():
    spec = TCN(1, (2, 3), kernel_size=2)
    params = helpers.random_params(spec)
    x = helpers.normal((6, 1))
    check_grads(jax.jit(lambda p: jnp.sum(jnp.sin(spec.apply(p, x)))), (params,), order=1, modes=["rev"],
                atol=2e-2, rtol=2e-2)


def test_loss_goes_down():
    """y(t) = x(t - 2) with a 2-level TCN (RF 7) and a linear read-out."""
    spec = TCN(1, (8, 8), kernel_size=2)
    params = {"tcn": spec.init(jax.random.key(0)), "head": dense.init(jax.random.key(1), 8, 1)}
    x = helpers.normal((4, 32, 1))
    target = jnp.pad(x, ((0, 0), (2, 0), (0, 0)))[:, :32]
    model = lambda p, x: dense.apply(p["head"], spec.apply(p["tcn"], x))  # [T, 1]
    loss_fn = lambda p: jnp.mean(jnp.square(jax.vmap(lambda x: model(p, x))(x) - target))
    _, losses = helpers.adam_train(loss_fn, params, learning_rate=2e-2, steps=150)
    assert losses[-1] < 0.1 * losses[0]


def test_bad_input_raises():
    with pytest.raises(ValueError, match="drop_rate must be in"):
        TCN(1, (4,), drop_rate=1.0)
    with pytest.raises(ValueError, match="at least one level"):
        TCN(1, ())
    with pytest.raises(ValueError, match=r"expected input \[T, 3\]"):
        spec = TCN(3, (4,))
        spec.apply(helpers.random_params(spec), jnp.ones((5, 2)))
