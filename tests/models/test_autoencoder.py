"""Dense autoencoders: shapes, tied weights, the linear autoencoder's PCA subspace (against scikit-learn's PCA),
denoising corruption statistics, and greedy pretraining in the MLP's parameter layout."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.linalg import subspace_angles
from sklearn.decomposition import PCA

from seqmodels.models import autoencoder as ae
from seqmodels.models.mlp import MLP


@pytest.mark.parametrize("tied", [False, True])
def test_shapes_and_layout(tied):
    model = ae.Autoencoder(64, (32, 16), activation="tanh", output="sigmoid", tied=tied)
    params = model.init(jax.random.key(0))
    assert [p["w"].shape for p in params["encoder"]] == [(64, 32), (32, 16)]
    assert [p["b"].shape for p in params["decoder"]] == [(64,), (32,)]
    assert all(("w" in p) != tied for p in params["decoder"])
    x = jax.random.uniform(jax.random.key(1), (5, 64))
    assert model.encode(params, x).shape == (5, 16)
    xhat = model.apply(params, x)
    assert xhat.shape == (5, 64) and bool(jnp.all((xhat > 0) & (xhat < 1)))
    assert model.apply(params, x[0]).shape == (64,)  # one example


def test_tied_decoder_is_the_transposed_encoder():
    model = ae.Autoencoder(6, (4,), activation="identity", output="linear", tied=True)
    params = model.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (6,))
    w, b, c = params["encoder"][0]["w"], params["encoder"][0]["b"], params["decoder"][0]["b"]
    np.testing.assert_allclose(model.apply(params, x), (x @ w + b) @ w.T + c, rtol=1e-5, atol=1e-6)
    # one matrix, two uses: its gradient is the sum of the encoder's and the decoder's contributions
    grads = jax.grad(model.loss)(params, x[None])
    untied = ae.Autoencoder(6, (4,), activation="identity", output="linear")
    p2 = {"encoder": params["encoder"], "decoder": [{"w": w.T, "b": c}]}
    g2 = jax.grad(untied.loss)(p2, x[None])
    np.testing.assert_allclose(grads["encoder"][0]["w"], g2["encoder"][0]["w"] + g2["decoder"][0]["w"].T,
                               rtol=1e-5, atol=1e-6)


def test_linear_autoencoder_spans_the_top_k_principal_subspace():
    rng = np.random.default_rng(0)
    D, k, N = 10, 3, 500
    basis = np.linalg.qr(rng.standard_normal((D, D)))[0]
    scales = np.array([3.0, 2.5, 2.0, 0.6, 0.5, 0.4, 0.3, 0.2, 0.2, 0.1])
    x = (rng.standard_normal((N, D)) * scales) @ basis.T + 1.5  # an offset the biases must absorb
    model = ae.Autoencoder(D, (k,), activation="identity", output="linear")
    params, losses = ae.fit(model, jax.random.key(0), x, num_steps=3000, batch_size=N, learning_rate=1e-2)
    top_k = PCA(k).fit(x).components_.T  # [D, k]
    angles = subspace_angles(np.asarray(params["decoder"][0]["w"]).T, top_k)
    assert np.degrees(angles).max() < 2.0
    # and its error is PCA's: half the variance left in the other D - k directions
    pca_error = 0.5 * PCA(D).fit(x).explained_variance_[k:].sum() * (N - 1) / N
    assert losses[-1] == pytest.approx(pca_error, rel=0.02) and losses[-1] < losses[0] / 5


def test_masking_corruption_statistics():
    x = jnp.ones((200, 100))
    xt = ae.corrupt(jax.random.key(0), x, "masking", 0.3)
    assert set(np.unique(np.asarray(xt))) <= {0.0, 1.0}  # kept inputs are not rescaled
    assert abs(float(jnp.mean(xt == 0)) - 0.3) < 0.01  # 20,000 draws: std of the rate 0.003


def test_gaussian_corruption_statistics():
    x = jax.random.uniform(jax.random.key(1), (200, 100))
    noise = np.asarray(ae.corrupt(jax.random.key(0), x, "gaussian", 0.5) - x)
    assert abs(noise.mean()) < 0.01 and abs(noise.std() - 0.5) < 0.01
    assert ae.corrupt(jax.random.key(0), x, "none", 0.5) is x


def test_denoising_loss_needs_a_key_and_bad_values_are_refused():
    model = ae.Autoencoder(4, (2,))
    params = model.init(jax.random.key(0))
    with pytest.raises(ValueError, match="needs a PRNG"):
        model.loss(params, jnp.ones((1, 4)), corruption="masking", level=0.2)
    with pytest.raises(ValueError, match="kind must be one of"):
        ae.corrupt(jax.random.key(0), jnp.ones(3), "salt")
    with pytest.raises(ValueError, match="output must be one of"):
        ae.Autoencoder(4, (2,), output="softmax")


def test_greedy_pretraining_gives_mlp_layers_and_lowers_each_layers_loss():
    x = np.random.default_rng(0).uniform(size=(256, 16)).astype(np.float32)
    layers, curves = ae.pretrain_greedy(jax.random.key(0), x, (12, 12), activation="relu", num_steps=300,
                                        batch_size=64, learning_rate=3e-3)
    assert [p["w"].shape for p in layers] == [(16, 12), (12, 12)]
    assert all(np.mean(c[-20:]) < np.mean(c[:20]) for c in curves)
    mlp = MLP(16, (12, 12), 3)
    params = layers + mlp.init(jax.random.key(1))[2:]  # the read-out stays random
    assert jax.tree.structure(params) == jax.tree.structure(mlp.init(jax.random.key(1)))
    # the MLP's hidden code is the stacked encoders' code
    stacked = ae.Autoencoder(16, (12, 12), activation="relu", output="linear")
    enc = {"encoder": layers, "decoder": stacked.init(jax.random.key(2))["decoder"]}
    h = stacked.encode(enc, jnp.asarray(x[:3]))
    np.testing.assert_allclose(jax.vmap(lambda v: mlp.apply(params, v))(x[:3]), h @ params[2]["w"] + params[2]["b"],
                               rtol=1e-5, atol=1e-5)
