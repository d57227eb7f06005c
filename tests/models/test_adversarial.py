"""Saliency, FGSM, DeepFool and pruning on linear classifiers, where the answers are closed forms."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from seqmodels.models import adversarial


def _linear(seed, num_classes, shape=(3, 4)):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((num_classes, int(np.prod(shape))))
    b = rng.standard_normal(num_classes)
    fn = lambda x: jnp.asarray(w, jnp.float32) @ x.reshape(-1) + jnp.asarray(b, jnp.float32)  # noqa: E731
    return w, b, fn, jnp.asarray(rng.standard_normal(shape), jnp.float32)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_deepfool_binary_linear_is_the_projection(seed):
    """One logit f = w.x + b: the minimal perturbation is r* = -f w / ||w||^2, reached in one step."""
    w, b, fn, x = _linear(seed, 1)
    f = float(w[0] @ np.asarray(x).reshape(-1) + b[0])
    out = jax.jit(lambda v: adversarial.deepfool(fn, v, overshoot=0.0))(x)
    r = np.asarray(out["perturbation"]).reshape(-1)
    r_star = -f * w[0] / (w[0] @ w[0])
    assert int(out["iterations"]) == 1 and bool(out["fooled"])
    np.testing.assert_allclose(np.linalg.norm(r), abs(f) / np.linalg.norm(w[0]), rtol=1e-4, atol=2e-4)
    np.testing.assert_allclose(r / np.linalg.norm(r), r_star / np.linalg.norm(r_star), atol=1e-5)
    assert np.sign(float(fn(out["x_adv"])[0])) == -np.sign(f)  # just across the boundary


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_deepfool_multiclass_affine_is_exact(seed):
    """K = 5 affine logits: ||r|| = min_k |f_k - f_k0| / ||w_k - w_k0||, along w_l - w_k0, in one step; no random
    perturbation 1% shorter changes the label."""
    w, b, fn, x = _linear(seed, 5)
    f = w @ np.asarray(x).reshape(-1) + b
    k0 = int(np.argmax(f))
    others = [k for k in range(5) if k != k0]
    dists = [abs(f[k] - f[k0]) / np.linalg.norm(w[k] - w[k0]) for k in others]
    l, d = others[int(np.argmin(dists))], min(dists)
    out = adversarial.deepfool(fn, x, overshoot=0.0)
    r = np.asarray(out["perturbation"]).reshape(-1)
    assert int(out["iterations"]) == 1 and int(out["label"]) == k0 and int(out["adv_label"]) == l
    np.testing.assert_allclose(np.linalg.norm(r), d, rtol=1e-4, atol=2e-4)
    direction = (w[l] - w[k0]) / np.linalg.norm(w[l] - w[k0])
    np.testing.assert_allclose(r / np.linalg.norm(r), direction, atol=1e-5)
    u = np.random.default_rng(seed).standard_normal((20000, x.size))
    shorter = np.asarray(x).reshape(-1) + 0.99 * d * u / np.linalg.norm(u, axis=1, keepdims=True)
    assert np.all(np.argmax(shorter @ w.T + b, axis=1) == k0)


def test_deepfool_overshoot_and_a_nonlinear_model():
    w, b, fn, x = _linear(5, 3)
    base = adversarial.deepfool(fn, x, overshoot=0.0)
    over = adversarial.deepfool(fn, x, overshoot=0.1)
    np.testing.assert_allclose(over["perturbation"], 1.1 * base["perturbation"], rtol=1e-5)
    w2 = jax.random.normal(jax.random.PRNGKey(0), (12, 16))
    w3 = jax.random.normal(jax.random.PRNGKey(1), (16, 4))
    mlp = lambda v: jnp.tanh(v.reshape(-1) @ w2) @ w3  # noqa: E731
    xs = jax.random.normal(jax.random.PRNGKey(2), (8, 3, 4))
    out = jax.jit(jax.vmap(lambda v: adversarial.deepfool(mlp, v)))(xs)
    assert bool(out["fooled"].all())
    assert np.all(np.argmax(jax.vmap(mlp)(out["x_adv"]), 1) == np.asarray(out["adv_label"]))
    assert np.all(np.asarray(out["adv_label"]) != np.argmax(jax.vmap(mlp)(xs), 1))


@pytest.mark.parametrize("label", [0, 1])
def test_fgsm_on_linear_logistic_is_eps_sign_w(label):
    """Binary logistic f = w.x + b, p(1) = sigmoid(f): d CE / d x = (sigmoid(f) - y) w, so FGSM moves every
    feature by eps against the label's side: -eps sign(w) for y = 1, +eps sign(w) for y = 0."""
    w, b, fn, x = _linear(7, 1)
    step = np.asarray(adversarial.fgsm(fn, x, label, 0.1)) - np.asarray(x)
    want = (0.1 if label == 0 else -0.1) * np.sign(w[0]).reshape(x.shape)
    np.testing.assert_allclose(step, want, atol=1e-6)
    two = lambda v: jnp.stack([jnp.zeros(()), fn(v)[0]])  # the same model with two logits [0, f]  # noqa: E731
    np.testing.assert_allclose(adversarial.fgsm(two, x, label, 0.1), x + want, atol=1e-6)
    clipped = adversarial.fgsm(fn, x, label, 10.0, clip=(0.0, 1.0))
    assert float(clipped.min()) >= 0.0 and float(clipped.max()) <= 1.0


def test_saliency_loss_gradient_sensitivity_prune_of_a_linear_model():
    w, b, fn, x = _linear(8, 4)
    np.testing.assert_allclose(adversarial.saliency(fn, x, 2), w[2].reshape(x.shape), rtol=1e-5)
    p = np.asarray(jax.nn.softmax(fn(x)))
    np.testing.assert_allclose(adversarial.loss_gradient(fn, x, 1), ((p - np.eye(4)[1]) @ w).reshape(x.shape),
                               rtol=1e-4, atol=1e-6)
    xs = jax.random.normal(jax.random.PRNGKey(0), (6, 3, 4))
    ys = jnp.array([0, 1, 1, 3, 3, 3])
    want = (np.abs(w[0]) + 2 * np.abs(w[1]) + 3 * np.abs(w[3])) / 6
    sens = adversarial.sensitivity(fn, xs, ys)
    np.testing.assert_allclose(sens, want.reshape(3, 4), rtol=1e-5)
    pruned = np.asarray(adversarial.prune(xs, sens, 5))
    least = np.argsort(want)[:5]
    assert np.all(pruned.reshape(6, -1)[:, least] == 0)
    np.testing.assert_array_equal(np.delete(pruned.reshape(6, -1), least, 1),
                                  np.delete(np.asarray(xs).reshape(6, -1), least, 1))
    with pytest.raises(ValueError, match="k must be in"):
        adversarial.prune(xs, sens, 13)
    with pytest.raises(ValueError, match="sensitivity of one example's shape"):
        adversarial.prune(xs, sens.reshape(-1), 2)
