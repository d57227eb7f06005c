"""NT-Xent against optax and a float64 numpy transcription; the augmentations; cluster purity by hand and
against scikit-learn's contingency matrix."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from sklearn.metrics.cluster import contingency_matrix

from seqmodels.models import contrastive
from seqmodels.training import losses


def nt_xent_numpy(z1, z2, tau):
    """SimCLR's loss written out in float64: l_i = -log(exp(s_ip) / sum_{k != i} exp(s_ik)), mean over 2N."""
    z = np.concatenate([z1, z2]).astype(np.float64)
    u = z / np.linalg.norm(z, axis=1, keepdims=True)
    s = u @ u.T / tau
    n2 = len(z)
    total = 0.0
    for i in range(n2):
        p = (i + n2 // 2) % n2
        others = [k for k in range(n2) if k != i]
        total += -s[i, p] + np.log(np.sum(np.exp(s[i, others])))
    return total / n2


def _views(seed, n=6, p=5):
    z1, z2 = jax.random.normal(jax.random.key(seed), (2, n, p))
    return z1, z2


@pytest.mark.parametrize("tau", [0.07, 1.0])
def test_nt_xent_equals_optax_ntxent(tau):
    z1, z2 = _views(0)
    n = z1.shape[0]
    # optax: the positives of an anchor are the other rows with its label; one view pair per label here
    reference = optax.losses.ntxent(jnp.concatenate([z1, z2]), jnp.tile(jnp.arange(n), 2), tau)
    np.testing.assert_allclose(contrastive.nt_xent(z1, z2, tau), reference, rtol=1e-5)


def test_nt_xent_equals_float64_transcription():
    z1, z2 = _views(1, n=5, p=3)
    for tau in (0.1, 0.3):
        np.testing.assert_allclose(contrastive.nt_xent(z1, z2, tau), nt_xent_numpy(np.asarray(z1), np.asarray(z2), tau),
                                   rtol=1e-5)


def test_nt_xent_bounds_and_pair_accuracy():
    eye = jnp.eye(4)  # four orthogonal directions: each view's positive is the only similar one
    loss = contrastive.nt_xent(eye, 3 * eye, 0.1)
    # l = -10 + log(e^10 + 6 e^0): the positive at cos 1, six negatives at cos 0
    np.testing.assert_allclose(loss, -10 + np.log(np.exp(10) + 6), atol=1e-6)
    assert contrastive.pair_accuracy(eye, 3 * eye) == 1.0
    same = jnp.ones((4, 2))  # every view identical: the positive is one of 7 equal choices
    np.testing.assert_allclose(contrastive.nt_xent(same, same, 0.5), np.log(7), rtol=1e-6)


def test_valid_mask_equals_the_loss_of_the_valid_sequences():
    z1, z2 = _views(2, n=6)
    valid = jnp.array([True, True, False, True, True, False])
    keep = np.flatnonzero(valid)
    np.testing.assert_allclose(contrastive.nt_xent(z1, z2, 0.2, valid), contrastive.nt_xent(z1[keep], z2[keep], 0.2),
                               rtol=1e-5)
    np.testing.assert_allclose(contrastive.pair_accuracy(z1, z2, valid), contrastive.pair_accuracy(z1[keep], z2[keep]))


@pytest.mark.slow  # compiles two gradients (~4 s of CPU)
def test_nt_xent_gradient_is_finite_and_matches_optax():
    z1, z2 = _views(3)
    ours = jax.jit(jax.grad(lambda a: contrastive.nt_xent(a, z2, 0.1)))(z1)
    ref = jax.grad(lambda a: optax.losses.ntxent(jnp.concatenate([a, z2]), jnp.tile(jnp.arange(6), 2), 0.1))(z1)
    assert np.all(np.isfinite(ours))
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("bad", [((4, 3), (5, 3)), ((1, 3), (1, 3)), ((4,), (4,))])
def test_nt_xent_refuses_bad_shapes(bad):
    with pytest.raises(ValueError, match="nt_xent"):
        contrastive.nt_xent(jnp.ones(bad[0]), jnp.ones(bad[1]))
    with pytest.raises(ValueError, match="temperature"):
        contrastive.nt_xent(jnp.ones((3, 2)), jnp.ones((3, 2)), 0.0)


@pytest.mark.slow  # ~4 s of CPU; the experiment's small run also trains with it
def test_nt_xent_training_separates_the_views():
    """Loss goes down: free embeddings of 8 instances, their two noisy views pulled together."""
    base = jax.random.normal(jax.random.key(4), (8, 4))
    noise = 0.5 * jax.random.normal(jax.random.key(5), (2, 8, 4))
    loss = lambda w: contrastive.nt_xent((base + noise[0]) @ w, (base + noise[1]) @ w, 0.2)
    w = jnp.eye(4) * 0.1
    final = jax.lax.fori_loop(0, 50, lambda _, w: w - 0.5 * jax.grad(loss)(w), w)
    assert loss(final) < loss(w)


X = jnp.arange(1.0, 21.0).reshape(20, 1) * jnp.array([[1.0, -1.0]])  # [T=20, C=2], no zero entry


def over_keys(fn, num_keys, *args):
    """fn(key, X, *args) for keys 0 .. num_keys - 1, vmapped (one compilation): [num_keys, T, C] numpy."""
    return np.asarray(jax.vmap(lambda k: fn(k, X, *args))(jax.random.split(jax.random.key(0), num_keys)))


def test_augmentations_keep_shape_dtype_and_are_deterministic_per_key():
    opts = dict(max_shift=3, shift_mode="zeros", scale_low=0.5, scale_high=1.5, noise_std=0.1, mask_fraction=0.2)
    @jax.jit  # one compilation for all the calls
    def calls(k0, k1):
        return (contrastive.augment(k0, X, **opts), contrastive.augment(k0, X, **opts),
                contrastive.augment(k1, X, **opts), contrastive.augment(k0, X),
                contrastive.two_views(k0, jnp.stack([X, X, X]), **opts))

    a, again, other, identity, (v1, v2) = calls(jax.random.key(0), jax.random.key(1))
    assert a.shape == X.shape and a.dtype == X.dtype
    np.testing.assert_array_equal(a, again)
    assert not np.allclose(a, other)
    np.testing.assert_array_equal(identity, X)  # the defaults: the identity
    assert v1.shape == v2.shape == (3, 20, 2) and not np.allclose(v1, v2)


def test_circular_shift_is_a_roll_within_range():
    seen = set()
    for y in over_keys(contrastive.shift, 30, 3, "circular"):
        s = [k for k in range(-3, 4) if np.array_equal(y, np.roll(X, k, axis=0))]
        assert len(s) == 1
        seen.add(s[0])
    assert seen == set(range(-3, 4))


def test_zero_shift_lets_in_zeros():
    for y in over_keys(contrastive.shift, 20, 4, "zeros"):
        zeros = np.flatnonzero(np.all(y == 0, axis=1))
        s = len(zeros) * (1 if zeros.size and zeros[0] == 0 else -1)  # zeros at the start: moved later
        expected = np.zeros_like(X)
        if s >= 0:
            expected[s:] = X[:20 - s]
        else:
            expected[:s] = X[-s:]
        np.testing.assert_array_equal(y, expected)
        assert abs(s) <= 4


def test_scale_and_noise():
    for ratio in over_keys(contrastive.scale, 10, 0.5, 2.0) / np.asarray(X):
        assert np.allclose(ratio, ratio[0, 0]) and 0.5 <= ratio[0, 0] <= 2.0
    big = jnp.zeros((20000, 1))
    e = np.asarray(contrastive.add_noise(jax.random.key(0), big, 0.3))
    assert abs(e.std() - 0.3) < 0.01 and abs(e.mean()) < 0.01


@pytest.mark.parametrize("fraction, span", [(0.0, 0), (0.33, 7), (1.0, 20)])
def test_mask_time_zeroes_one_span_of_the_fraction(fraction, span):
    for y in over_keys(contrastive.mask_time, 10, fraction):
        masked = np.flatnonzero(np.all(y == 0, axis=1))
        assert len(masked) == span
        if span:
            assert np.all(np.diff(masked) == 1)  # one contiguous span
        kept = np.setdiff1d(np.arange(20), masked)
        np.testing.assert_array_equal(y[kept], X[kept])


@pytest.mark.parametrize("call", [
    lambda: contrastive.shift(jax.random.key(0), X, 20),
    lambda: contrastive.shift(jax.random.key(0), X, 2, "reflect"),
    lambda: contrastive.scale(jax.random.key(0), X, 2.0, 1.0),
    lambda: contrastive.add_noise(jax.random.key(0), X, -1.0),
    lambda: contrastive.mask_time(jax.random.key(0), X, 1.5),
    lambda: contrastive.augment(jax.random.key(0), X[:, 0]),
])
def test_bad_augmentation_arguments_raise(call):
    with pytest.raises(ValueError):
        call()


def test_projection_head_shape():
    head = contrastive.projection_head(8, 16, 4)
    z = head.apply(head.init(jax.random.key(0)), jnp.ones(8))
    assert z.shape == (4,)


def test_cluster_purity_by_hand():
    y = np.array([0, 0, 0, 1, 1, 2])
    k = np.array([5, 5, 7, 7, 7, 9])
    # cluster 5: {0, 0} -> 2; cluster 7: {0, 1, 1} -> 2; cluster 9: {2} -> 1; (2 + 2 + 1) / 6
    np.testing.assert_allclose(losses.cluster_purity(y, k), 5 / 6)
    np.testing.assert_allclose(losses.cluster_purity(y, 10 - y), 1.0)  # any relabelling of the classes
    np.testing.assert_allclose(losses.cluster_purity(y, np.zeros(6, int)), 0.5)  # one cluster: the majority


def test_cluster_purity_matches_sklearn_contingency():
    rng = np.random.default_rng(0)
    y, k = rng.integers(10, size=300), rng.integers(7, size=300)
    expected = contingency_matrix(y, k).max(axis=0).sum() / 300  # rows: classes, columns: clusters
    np.testing.assert_allclose(losses.cluster_purity(y, k), expected, rtol=1e-6)
    with pytest.raises(ValueError, match="cluster_purity"):
        losses.cluster_purity(y, k[:10])
