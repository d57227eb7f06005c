"""Hopfield network: Hebbian weights against numpy, the energy law, fixed points, the synchronous 2-cycle."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, strategies as st

from seqmodels.models import hopfield


def random_patterns(seed, p, n):
    return np.random.default_rng(seed).choice([-1.0, 1.0], size=(p, n)).astype(np.float32)


def test_hebbian_weights_are_the_outer_product_sum():
    x = random_patterns(0, 5, 12)
    expected = sum(np.outer(p, p) for p in x) / 12
    np.fill_diagonal(expected, 0.0)
    params = hopfield.hebbian(x)
    np.testing.assert_allclose(params["W"], expected, atol=1e-6)
    np.testing.assert_array_equal(params["theta"], np.zeros(12))


def test_energy_is_the_quadratic_form():
    params = hopfield.hebbian(random_patterns(1, 3, 6), theta=np.linspace(-1, 1, 6))
    s = random_patterns(2, 1, 6)[0]
    w, theta = np.asarray(params["W"]), np.asarray(params["theta"])
    expected = -0.5 * sum(w[i, j] * s[i] * s[j] for i in range(6) for j in range(6)) + theta @ s
    np.testing.assert_allclose(hopfield.energy(params, s), expected, rtol=1e-5)


@jax.jit
def _energies_along_updates(params, s, order, key):
    """The energy after each single-unit update in `order`, and after each of 3 recall sweeps."""
    def body(s, i):
        s = hopfield.update_unit(params, s, i)
        return s, hopfield.energy(params, s)
    s, unit_energies = jax.lax.scan(body, s, order)
    return unit_energies, hopfield.recall(params, s, key, num_sweeps=3)[1]


@given(seed=st.integers(0, 2**31 - 1), thresholds=st.booleans())
def test_energy_never_increases_under_asynchronous_updates(seed, thresholds):
    """Any symmetric W with a zero diagonal (not only Hebbian ones), after every single-unit update and sweep."""
    n = 16
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, n))
    params = {"W": jnp.asarray((a + a.T) * (1 - np.eye(n)), jnp.float32),
              "theta": jnp.asarray(rng.standard_normal(n) * thresholds, jnp.float32)}
    s = jnp.asarray(rng.choice([-1.0, 1.0], n), jnp.float32)
    order = np.concatenate([rng.permutation(n) for _ in range(3)])
    unit_energies, sweep_energies = _energies_along_updates(params, s, order, jax.random.key(seed))
    for e in (np.concatenate([[hopfield.energy(params, s)], unit_energies]), np.asarray(sweep_energies)):
        assert np.all(np.diff(e) <= 1e-4 * (1 + np.abs(e[:-1])))
    assert np.diff(unit_energies).min() < 0 or np.all(unit_energies == unit_energies[0])


@pytest.mark.parametrize("mode", hopfield.MODES)
def test_orthogonal_patterns_are_fixed_points(mode):
    """Hadamard rows: W x_p = (1 - P/N) x_p exactly, so every stored pattern is a fixed point for P < N."""
    x = scipy.linalg.hadamard(32).astype(np.float32)[1:9]  # 8 orthogonal patterns, N = 32
    params = hopfield.hebbian(x)
    np.testing.assert_allclose(params["W"] @ x[0], (1 - 8 / 32) * x[0], atol=1e-5)
    keys = jax.random.split(jax.random.key(0), len(x))
    states, _ = jax.vmap(lambda s, k: hopfield.recall(params, s, k, num_sweeps=2, mode=mode))(jnp.asarray(x), keys)
    np.testing.assert_array_equal(states[:, -1], x)


def test_few_random_patterns_are_fixed_points_and_attract_corrupted_inputs():
    n, p = 200, 5  # P / N = 0.025, far below 0.138
    x = random_patterns(3, p, n)
    params = hopfield.hebbian(x)
    recall = jax.jit(jax.vmap(lambda s, k: hopfield.recall(params, s, k, num_sweeps=5)[0][-1]))
    keys = jax.random.split(jax.random.key(0), p)
    np.testing.assert_array_equal(recall(jnp.asarray(x), keys), x)
    flips = np.random.default_rng(4).random((p, n)) < 0.15
    np.testing.assert_array_equal(recall(jnp.asarray(np.where(flips, -x, x)), keys), x)


def test_synchronous_updates_can_two_cycle_where_asynchronous_ones_converge():
    """Two units storing (+1, +1): W = [[0, 1/2], [1/2, 0]]; synchronously (+1, -1) <-> (-1, +1) forever."""
    params = hopfield.hebbian(np.ones((1, 2), np.float32))
    start = jnp.array([1.0, -1.0])
    states, energies = hopfield.recall(params, start, num_sweeps=4, mode="sync")
    np.testing.assert_array_equal(states, [[1, -1], [-1, 1], [1, -1], [-1, 1], [1, -1]])
    np.testing.assert_allclose(energies, 0.5)  # the energy stays where it is
    states, energies = hopfield.recall(params, start, jax.random.key(0), num_sweeps=2, mode="async")
    assert abs(float(states[-1].sum())) == 2 and energies[-1] == -0.5  # a stored state (+-(1, 1))


def test_bad_inputs_are_clear_errors():
    params = hopfield.hebbian(random_patterns(0, 2, 4))
    with pytest.raises(ValueError, match="mode"):
        hopfield.recall(params, jnp.ones(4), jax.random.key(0), num_sweeps=1, mode="random")
    with pytest.raises(ValueError, match="one example"):
        hopfield.recall(params, jnp.ones((2, 4)), jax.random.key(0), num_sweeps=1)
    with pytest.raises(ValueError, match="PRNG key"):
        hopfield.recall(params, jnp.ones(4), num_sweeps=1)
    with pytest.raises(ValueError, match=r"\[P, N\]"):
        hopfield.hebbian(np.ones(4))
