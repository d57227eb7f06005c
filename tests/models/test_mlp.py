"""MLP: activations against jax.nn, initialiser statistics, dropout statistics and its rule, the
weight-space symmetries (permuting hidden units; flipping a tanh unit's signs), per-layer read-outs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from seqmodels.models.mlp import MLP, NAIVE_STD, layer_norms

T, D, H, O = 4, 3, 16, 5
X = jax.random.normal(jax.random.key(7), (T, D))


def numpy_forward(params, x, act, residual=False):
    """The MLP in float64 numpy: an independent forward pass."""
    h = np.asarray(x, np.float64).reshape(-1)
    for i, p in enumerate(params[:-1]):
        a = act(h @ np.asarray(p["w"], np.float64) + np.asarray(p["b"], np.float64))
        h = h + a if residual and i > 0 else a
    return h @ np.asarray(params[-1]["w"], np.float64) + np.asarray(params[-1]["b"], np.float64)


def with_biases(params, seed=3):
    """Non-zero biases, so every test sees them (init sets them to zero)."""
    return [{"w": p["w"], "b": 0.3 * jax.random.normal(jax.random.key(seed + i), p["b"].shape)}
            for i, p in enumerate(params)]


@pytest.mark.parametrize("activation, act", [("relu", jax.nn.relu), ("sigmoid", jax.nn.sigmoid),
                                             ("tanh", jnp.tanh), ("gelu", jax.nn.gelu), ("elu", jax.nn.elu)])
@pytest.mark.parametrize("residual", [False, True])
def test_activation_choice_matches_jax_nn(activation, act, residual):
    model = MLP(T * D, (H, H, H), O, residual=residual, activation=activation)
    params = with_biases(model.init(jax.random.key(0)))
    want = numpy_forward(params, X, lambda z: np.asarray(act(jnp.asarray(z)), np.float64), residual)
    np.testing.assert_allclose(model.apply(params, X), want, rtol=1e-5, atol=1e-5)


def test_default_is_relu_glorot_uniform_and_logistic_without_hidden():
    model = MLP(T * D, (H,), O)
    params = model.init(jax.random.key(1))
    glorot = MLP(T * D, (H,), O, init_kind="glorot").init(jax.random.key(1))
    jax.tree.map(np.testing.assert_array_equal, params, glorot)  # the same draws (module docstring)
    np.testing.assert_allclose(model.apply(params, X), numpy_forward(params, X, lambda z: np.maximum(z, 0)),
                               rtol=1e-5, atol=1e-6)
    logistic = MLP(T * D, (), O)
    p = logistic.init(jax.random.key(2))
    np.testing.assert_allclose(logistic.apply(p, X), X.reshape(-1) @ p[0]["w"] + p[0]["b"], rtol=1e-6)


@pytest.mark.parametrize("fan_in, fan_out", [(400, 100), (300, 300)])
def test_glorot_naive_and_torch_statistics(fan_in, fan_out):
    sizes = dict(input_size=fan_in, hidden_sizes=(fan_out,), num_outputs=7)
    w = np.asarray(MLP(**sizes, init_kind="glorot").init(jax.random.key(0))[0]["w"])
    bound = np.sqrt(6 / (fan_in + fan_out))  # Glorot & Bengio (2010), eq. 16
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    np.testing.assert_allclose(w.var(), 2 / (fan_in + fan_out), rtol=0.03)
    w = np.asarray(MLP(**sizes, init_kind="naive").init(jax.random.key(0))[0]["w"])
    np.testing.assert_allclose(w.std(), NAIVE_STD, rtol=0.03)
    torch = MLP(**sizes, init_kind="torch").init(jax.random.key(0))[0]
    for leaf in (torch["w"], torch["b"]):  # nn.Linear: U(+-1/sqrt(fan_in)) for weights and biases
        assert np.abs(leaf).max() <= fan_in ** -0.5
    np.testing.assert_allclose(np.var(torch["w"]), 1 / (3 * fan_in), rtol=0.03)


def test_dropout_statistics_and_scaling():
    """A fraction drop_rate of the hidden units is zero; the rest are scaled by 1 / (1 - drop_rate), so the
    mean over masks is the deterministic activation."""
    rate, width, n = 0.3, 512, 200
    model = MLP(T * D, (width,), O, activation="sigmoid", drop_rate=rate)  # sigmoid: no unit is zero by itself
    params = model.init(jax.random.key(0))
    clean = model.hidden_states(params, X, deterministic=True)[0]
    keys = jax.random.split(jax.random.key(1), n)
    dropped = jax.vmap(lambda k: model.hidden_states(params, X, key=k)[0])(keys)  # [n, width]
    zero = np.asarray(dropped == 0)
    assert abs(zero.mean() - rate) < 0.01  # n * width = 102,400 draws: std of the mean 0.0014
    np.testing.assert_allclose(np.asarray(dropped)[~zero], np.broadcast_to(clean / (1 - rate), zero.shape)[~zero],
                               rtol=1e-6)
    np.testing.assert_allclose(dropped.mean(), clean.mean(), rtol=0.01)  # 5 standard errors


def test_dropout_follows_the_one_rule():
    model = MLP(T * D, (H, H), O, drop_rate=0.5)
    params = model.init(jax.random.key(0))
    no_drop = MLP(T * D, (H, H), O).apply(params, X)
    np.testing.assert_array_equal(model.apply(params, X, deterministic=True), no_drop)
    with pytest.raises(ValueError, match="needs a PRNG `key`"):
        model.apply(params, X)
    xs = jnp.stack([X, X])
    ys = model.apply_batch(params, xs, key=jax.random.key(3))
    assert not np.allclose(ys[0], ys[1])  # each example has its own mask
    with pytest.raises(ValueError, match="drop_rate"):
        MLP(T * D, (H,), O, drop_rate=1.0)
    with pytest.raises(ValueError, match="unknown activation"):
        MLP(T * D, (H,), O, activation="swish!")
    with pytest.raises(ValueError, match="init_kind"):
        MLP(T * D, (H,), O, init_kind="he")


# -- weight-space symmetries (the lecture's slide) -----------------------------------------------

@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_permuting_hidden_units_leaves_the_output_unchanged(activation):
    """Permute layer l's units: the columns of W_l (our w is [in, out]: the rows of W in W h), the entries of
    b_l and the rows of W_{l+1} (its columns in W h). Any activation, every hidden layer at once."""
    model = MLP(T * D, (H, H), O, activation=activation)
    params = with_biases(model.init(jax.random.key(0)))
    perms = [np.asarray(jax.random.permutation(jax.random.key(10 + l), H)) for l in range(2)]
    permuted = [dict(p) for p in params]
    for l, perm in enumerate(perms):
        permuted[l] = {"w": permuted[l]["w"][:, perm], "b": permuted[l]["b"][perm]}
        permuted[l + 1] = {"w": permuted[l + 1]["w"][perm, :], "b": permuted[l + 1]["b"]}
    assert not np.allclose(permuted[0]["w"], params[0]["w"])
    np.testing.assert_allclose(model.apply(permuted, X), model.apply(params, X), rtol=1e-5, atol=1e-6)


def test_flipping_a_tanh_units_signs_leaves_the_output_unchanged():
    """tanh is odd: negating unit j's incoming weights and bias negates its output, and negating its
    outgoing weights undoes that. (With relu the same flip changes the output.)"""
    def flip(params, units):
        s = np.ones(H, np.float32)
        s[units] = -1
        return [{"w": params[0]["w"] * s, "b": params[0]["b"] * s}, {"w": params[1]["w"] * s[:, None],
                                                                      "b": params[1]["b"]}]
    for activation, same in (("tanh", True), ("relu", False)):
        model = MLP(T * D, (H,), O, activation=activation)
        params = with_biases(model.init(jax.random.key(0)))
        flipped = flip(params, [0, 5, 9])
        assert np.allclose(model.apply(flipped, X), model.apply(params, X), rtol=1e-5, atol=1e-6) == same


# -- per-layer read-outs --------------------------------------------------------------------------

def test_hidden_states_and_layer_norms_of_gradients():
    model = MLP(T * D, (H, H, H), O, residual=True, activation="tanh")
    params = with_biases(model.init(jax.random.key(0)))
    hs = model.hidden_states(params, X)
    assert [h.shape for h in hs] == [(H,)] * 3
    np.testing.assert_allclose(hs[1], hs[0] + jnp.tanh(hs[0] @ params[1]["w"] + params[1]["b"]), rtol=1e-6)
    grads = jax.grad(lambda p: jnp.sum(model.apply(p, X) ** 2))(params)
    norms = layer_norms(grads)
    assert norms.shape == (4,)
    np.testing.assert_allclose(norms, [np.sqrt(np.sum(np.square(g["w"]))) for g in grads], rtol=1e-5)
