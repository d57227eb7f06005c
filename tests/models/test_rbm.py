"""RBM against brute-force enumeration of a tiny model and against scikit-learn's BernoulliRBM."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
from scipy.special import logsumexp
from sklearn.neural_network import BernoulliRBM

from seqmodels.models import rbm

V, H = 4, 3


def tiny_params(seed=0, scale=1.0):
    k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
    return {"W": scale * jax.random.normal(k1, (V, H)), "b_v": jax.random.normal(k2, (V,)),
            "b_h": jax.random.normal(k3, (H,))}


def all_states(n):
    return np.array(list(itertools.product([0.0, 1.0], repeat=n)), np.float32)  # [2^n, n]


def joint_log_weights(params):
    """-E(v, h) for every (v, h), straight from the energy's definition with numpy: [2^V, 2^H]."""
    w, bv, bh = (np.asarray(params[k], np.float64) for k in ("W", "b_v", "b_h"))
    vs, hs = all_states(V), all_states(H)
    return vs @ bv[:, None] + (hs @ bh)[None, :] + np.einsum("ai,ij,bj->ab", vs, w, hs)


def test_energy_and_free_energy_against_enumeration():
    params = tiny_params()
    log_w = joint_log_weights(params)
    vs, hs = all_states(V), all_states(H)
    np.testing.assert_allclose(rbm.energy(params, vs[5], hs[3]), -log_w[5, 3], rtol=1e-5)
    free = jax.vmap(rbm.free_energy, in_axes=(None, 0))(params, vs)
    np.testing.assert_allclose(free, -logsumexp(log_w, axis=1), rtol=1e-5, atol=1e-5)


def test_p_v_from_the_free_energy_is_normalised_and_is_the_joint_marginal():
    params = tiny_params(1)
    log_w = joint_log_weights(params)
    free = np.asarray(jax.vmap(rbm.free_energy, in_axes=(None, 0))(params, all_states(V)), np.float64)
    p_v = np.exp(-free - logsumexp(-free))
    np.testing.assert_allclose(p_v.sum(), 1.0, rtol=1e-9)
    np.testing.assert_allclose(p_v, np.exp(logsumexp(log_w, axis=1) - logsumexp(log_w)), rtol=1e-4)


def test_conditionals_against_the_joint():
    """p(h_j = 1 | v) and p(v_i = 1 | h) by summing the enumerated joint, not by the sigmoid formula."""
    params = tiny_params(2)
    p = np.exp(joint_log_weights(params))
    vs, hs = all_states(V), all_states(H)
    p_h_given_v = (p @ hs) / p.sum(1, keepdims=True)  # [2^V, H]
    p_v_given_h = (p.T @ vs) / p.sum(0)[:, None]  # [2^H, V]
    np.testing.assert_allclose(jax.vmap(rbm.hidden_probs, in_axes=(None, 0))(params, vs), p_h_given_v, atol=1e-5)
    np.testing.assert_allclose(jax.vmap(rbm.visible_probs, in_axes=(None, 0))(params, hs), p_v_given_h, atol=1e-5)


def test_gibbs_chains_sample_p_v():
    """4096 chains, 25 steps each (CD's sampler and PCD's): visited states match the exact p(v)."""
    params = tiny_params(3, scale=0.7)
    log_w = joint_log_weights(params)
    p_v = np.exp(logsumexp(log_w, axis=1) - logsumexp(log_w))
    keys = jax.random.split(jax.random.key(0), 4096)
    v = jax.vmap(lambda k: rbm.cd_negative(params, jnp.zeros(V), k, k=25))(keys)
    v2, _ = jax.vmap(lambda k: rbm.pcd_negative(params, jnp.zeros(H), k, k=25))(keys)
    for sample in (v, v2):
        index = np.asarray(sample, np.int64) @ (2 ** np.arange(V)[::-1])  # row of all_states
        freq = np.bincount(index, minlength=2**V) / len(index)
        np.testing.assert_allclose(freq, p_v, atol=0.025)  # 4 standard errors at most


def sklearn_rbm(params, random_state=0):
    model = BernoulliRBM(n_components=params["W"].shape[1], random_state=random_state)
    model.components_ = np.asarray(params["W"], np.float64).T.copy()
    model.intercept_hidden_ = np.asarray(params["b_h"], np.float64)
    model.intercept_visible_ = np.asarray(params["b_v"], np.float64)
    model.n_features_in_ = params["W"].shape[0]
    return model


def test_pseudo_likelihood_equals_sklearn_score_samples():
    """score_samples flips bit RandomState(random_state).randint(0, V, N) of each sample: the same indices here."""
    k1, k2, k3, k4 = jax.random.split(jax.random.key(4), 4)
    params = {"W": jax.random.normal(k1, (20, 7)), "b_v": jax.random.normal(k2, (20,)),
              "b_h": jax.random.normal(k3, (7,))}
    x = np.asarray(jax.random.bernoulli(k4, 0.4, (50, 20)), np.float64)
    expected = sklearn_rbm(params, random_state=7).score_samples(x)
    index = np.random.RandomState(7).randint(0, 20, 50)
    ours = jax.vmap(rbm.pseudo_likelihood, in_axes=(None, 0, 0))(params, jnp.asarray(x, jnp.float32), index)
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-4)


def test_contrastive_gradient_is_sklearns_pcd_update(monkeypatch):
    """One SGD step on the surrogate = one BernoulliRBM._fit step, given the same negative samples."""
    k1, k2, k3 = jax.random.split(jax.random.key(5), 3)
    params = rbm.init(k1, 12, 5, stddev=0.5)
    v_data = jnp.asarray(jax.random.bernoulli(k2, 0.5, (8, 12)), jnp.float32)
    v_model = jnp.asarray(jax.random.bernoulli(k3, 0.5, (8, 12)), jnp.float32)
    grads = jax.grad(rbm.contrastive_loss)(params, v_data, v_model)
    lr = 0.1
    model = sklearn_rbm(params)
    model.learning_rate, model.batch_size = lr, 8
    model.h_samples_ = np.zeros((8, 5))
    monkeypatch.setattr(model, "_sample_visibles", lambda h, rng: np.asarray(v_model, np.float64))
    model._fit(np.asarray(v_data, np.float64), np.random.RandomState(0))
    np.testing.assert_allclose(params["W"] - lr * grads["W"], model.components_.T, atol=1e-5)
    np.testing.assert_allclose(params["b_h"] - lr * grads["b_h"], model.intercept_hidden_, atol=1e-5)
    np.testing.assert_allclose(params["b_v"] - lr * grads["b_v"], model.intercept_visible_, atol=1e-5)


def test_full_pseudo_likelihood_is_the_sum_of_exact_conditionals():
    """sum_i log p(v_i | v_-i), each conditional p(v) / (p(v) + p(v with bit i flipped)) from the joint."""
    params = tiny_params(7)
    log_p = logsumexp(joint_log_weights(params), axis=1)  # log p(v) + log Z, rows of all_states
    vs = all_states(V)
    row = lambda v: int(v @ (2 ** np.arange(V)[::-1]))
    for v in vs[[0, 6, 13]]:
        expected = sum(log_p[row(v)] - np.logaddexp(log_p[row(v)], log_p[row(np.where(np.arange(V) == i, 1 - v, v))])
                       for i in range(V))
        np.testing.assert_allclose(rbm.pseudo_likelihood(params, jnp.asarray(v)), expected, rtol=1e-4)


def test_reconstruction_error_is_the_mean_field_pass():
    params = tiny_params(6)
    v = all_states(V)[9]
    h = 1 / (1 + np.exp(-(np.asarray(params["b_h"]) + v @ np.asarray(params["W"]))))
    recon = 1 / (1 + np.exp(-(np.asarray(params["b_v"]) + np.asarray(params["W"]) @ h)))
    np.testing.assert_allclose(rbm.reconstruction_error(params, v), np.mean((v - recon) ** 2), rtol=1e-5)
