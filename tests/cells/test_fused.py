"""seqmodels.recurrence.fused, the whole-batch kernels (hand-written backward),
against their reference, the plain `lax.scan` of the cell's own step under
vmap, and against finite differences."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from seqmodels import recurrence
from seqmodels.cells import GRU, LSTM
from seqmodels.recurrence import fused

B, T, D, H = 3, 6, 4, 5
CELLS = {"lstm": LSTM(D, H), "gru": GRU(D, H)}
LENGTHS = np.array([6, 2, 0])


def _random_params(cell, key):
    """Non-trivial values everywhere (init leaves some biases at zero)."""
    params = cell.init(key)
    leaves, tree = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.fold_in(key, 1), len(leaves))
    return jax.tree.unflatten(tree, [0.5 * jax.random.normal(k, x.shape) for k, x in zip(keys, leaves)])


def _loss(out):
    carry, ys = out
    weights = jnp.arange(1.0, ys.shape[-1] + 1)
    return jnp.sum(jnp.sin(ys) * weights) + sum(jnp.sum(jnp.cos(c)) for c in jax.tree.leaves(carry))


def test_supported():
    assert fused.supported(LSTM(D, H)) and fused.supported(GRU(D, H))
    assert not fused.supported(LSTM(D, H, peepholes=True))
    assert not fused.supported(LSTM(D, H, proj_size=2))
    assert not fused.supported(GRU(D, H, reset="before"))
    assert not fused.supported(LSTM(D, H, variant="FGR")) and not fused.supported(GRU(D, H, activation="relu"))
    with pytest.raises(ValueError, match="no fused kernel"):
        fused.batch(GRU(D, H, reset="before"), {}, jnp.zeros((B, T, D)))


def test_settings_backend_override(monkeypatch):
    """fused.SETTINGS_BACKEND forces one backend's settings (benchmarks/rnn.py --fused_settings)."""
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    assert fused._settings() is fused._ACCELERATOR
    monkeypatch.setattr(fused, "SETTINGS_BACKEND", "cpu")
    cpu = fused._settings()
    assert cpu["tanh"] is not jnp.tanh and cpu["chunk"] == fused.BWD_CHUNK
    monkeypatch.setattr(jax, "default_backend", lambda: "cpu")
    monkeypatch.setattr(fused, "SETTINGS_BACKEND", "gpu")
    assert fused._settings() is fused._ACCELERATOR


@pytest.mark.parametrize("name", sorted(CELLS))
@pytest.mark.parametrize("use_lengths", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("hoist", [False, True])  # the kernel's CPU and accelerator forms
@pytest.mark.parametrize("chunk", [None, 4, "gpu"])  # None: the default (> T: one short chunk); 4: 4 + 2
def test_fused_equals_scan(name, use_lengths, reverse, hoist, chunk, monkeypatch):  # steps; gpu: those settings
    if chunk == "gpu":  # the accelerator settings (one chunk, other unrolls, jnp.tanh), run on the CPU
        monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
        assert fused._settings() is fused._ACCELERATOR
    elif chunk is not None:
        monkeypatch.setattr(fused, "BWD_CHUNK", chunk)
    cell = CELLS[name]
    fast = recurrence.RNN(cell, reverse=reverse, fused=True, hoist=hoist)
    slow = recurrence.RNN(cell, reverse=reverse, fused=False, hoist=False)
    params = _random_params(cell, jax.random.key(0))
    xs = jax.random.normal(jax.random.key(1), (B, T, D))
    lengths = jnp.asarray(LENGTHS) if use_lengths else None
    carry0 = jax.tree.map(lambda c: jax.random.normal(jax.random.key(2), (B,) + c.shape),
                          cell.initial_carry(params))

    run = lambda layer: lambda p, x: layer.apply_batch(p, x, lengths=lengths, initial_carry=carry0)
    out_fast, out_slow = run(fast)(params, xs), run(slow)(params, xs)
    for a, b in zip(jax.tree.leaves(out_fast), jax.tree.leaves(out_slow)):
        np.testing.assert_allclose(a, b, atol=1e-6, rtol=1e-6)
    if use_lengths:  # padding gives zeros and an untouched carry for the empty sequence
        assert float(jnp.abs(out_fast[1][2]).max()) == 0.0
        np.testing.assert_allclose(out_fast[0]["h"][2], carry0["h"][2])

    g_fast = jax.grad(lambda p, x: _loss(run(fast)(p, x)), argnums=(0, 1))(params, xs)
    g_slow = jax.grad(lambda p, x: _loss(run(slow)(p, x)), argnums=(0, 1))(params, xs)
    for a, b in zip(jax.tree.leaves(g_fast), jax.tree.leaves(g_slow)):
        np.testing.assert_allclose(a, b, atol=2e-5, rtol=1e-5)


@pytest.mark.parametrize("name", sorted(CELLS))
@pytest.mark.parametrize("hoist", [False, True])
@pytest.mark.parametrize("chunk", [None, 3])  # 3: two whole chunks, no short one
def test_fused_gradient_finite_differences(name, hoist, chunk, monkeypatch):
    if chunk is not None:
        monkeypatch.setattr(fused, "BWD_CHUNK", chunk)
    cell = CELLS[name]
    with jax.enable_x64(True):
        params = jax.tree.map(lambda x: x.astype(jnp.float64), _random_params(cell, jax.random.key(3)))
        xs = jax.random.normal(jax.random.key(4), (2, 4, D), jnp.float64)
        lengths = jnp.array([4, 3])
        f = lambda p, x: _loss(fused.batch(cell, p, x, lengths=lengths, hoist=hoist))
        check_grads(f, (params, xs), order=1, modes=["rev"], atol=1e-5, rtol=1e-5)


def test_fused_jit_matches_eager():
    cell = CELLS["lstm"]
    params = _random_params(cell, jax.random.key(5))
    xs = jax.random.normal(jax.random.key(6), (B, T, D))
    eager = fused.batch(cell, params, xs)
    jitted = jax.jit(lambda p, x: fused.batch(cell, p, x))(params, xs)
    for a, b in zip(jax.tree.leaves(eager), jax.tree.leaves(jitted)):
        np.testing.assert_allclose(a, b, atol=1e-6)
