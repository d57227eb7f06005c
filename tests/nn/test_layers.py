"""nn/: dense, embedding, norms, dropout, initialisers, activations against flax/jax references."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from seqmodels.nn import activations, dense, dropout, embedding, initializers, norms


def test_dense_matches_flax_dense():
    params = dense.init(jax.random.key(0), 5, 3)
    x = jax.random.normal(jax.random.key(1), (4, 7, 5))
    flax_out = nn.Dense(3).apply({"params": {"kernel": params["w"], "bias": params["b"]}}, x)
    np.testing.assert_allclose(dense.apply(params, x), flax_out, atol=1e-6)
    assert "b" not in dense.init(jax.random.key(0), 5, 3, use_bias=False)
    with pytest.raises(ValueError, match=r"expected input \[..., 5\], got shape \(4, 6\)"):
        dense.apply(params, jnp.zeros((4, 6)))
    with pytest.raises(ValueError, match="positive"):
        dense.init(jax.random.key(0), 0, 3)


def test_layer_norm_and_rms_norm_match_flax():
    x = 3.0 * jax.random.normal(jax.random.key(2), (2, 6, 8)) + 1.0
    p = norms.layer_norm_init(8)
    p = {"scale": p["scale"] * 2.0, "bias": p["bias"] + 0.5}
    ref = nn.LayerNorm(epsilon=1e-6).apply({"params": p}, x)
    np.testing.assert_allclose(norms.layer_norm(p, x), ref, atol=1e-5)
    r = {"scale": jnp.linspace(0.5, 1.5, 8)}
    ref = nn.RMSNorm(epsilon=1e-6).apply({"params": r}, x)
    np.testing.assert_allclose(norms.rms_norm(r, x), ref, atol=1e-5)


def test_embedding_lookup_and_attend():
    p = embedding.init(jax.random.key(3), 10, 4)
    ids = jnp.array([[1, 9], [0, 3]])
    np.testing.assert_array_equal(embedding.apply(p, ids), p["table"][ids])
    np.testing.assert_allclose(embedding.attend(p, p["table"][2]), p["table"] @ p["table"][2], atol=1e-6)
    with pytest.raises(ValueError, match="integer ids"):
        embedding.apply(p, jnp.zeros((2,), jnp.float32))


def test_dropout_rate_scale_and_determinism():
    x = jnp.ones((20000,))
    y = dropout.apply(x, 0.3, key=jax.random.key(4))
    dropped = float(jnp.mean(y == 0))
    assert abs(dropped - 0.3) < 0.02  # drop_rate is the probability of DROPPING
    np.testing.assert_allclose(float(y[y > 0][0]), 1 / 0.7, rtol=1e-6)
    assert abs(float(y.mean()) - 1.0) < 0.03  # inverted dropout keeps the mean
    np.testing.assert_array_equal(dropout.apply(x, 0.3, key=None, deterministic=True), x)
    with pytest.raises(ValueError, match=r"drop_rate must be in \[0, 1\)"):
        dropout.apply(x, 1.0, key=jax.random.key(0))
    with pytest.raises(ValueError, match="needs a PRNG"):
        dropout.apply(x, 0.1, key=None)


def test_initializers():
    q = initializers.blockwise(initializers.orthogonal, 3)(jax.random.key(5), (6, 18))
    for k in range(3):
        block = q[:, 6 * k:6 * (k + 1)]
        np.testing.assert_allclose(block.T @ block, np.eye(6), atol=1e-5)
    w = initializers.uniform(0.1)(jax.random.key(6), (1000,))
    assert float(jnp.abs(w).max()) <= 0.1
    assert initializers.get("glorot_uniform") is initializers.glorot_uniform
    with pytest.raises(ValueError, match="unknown initialiser 'nope'"):
        initializers.get("nope")
    with pytest.raises(ValueError, match="do not split into 4 blocks"):
        initializers.blockwise(initializers.orthogonal, 4)(jax.random.key(0), (3, 10))


def test_activations():
    x = jnp.linspace(-3, 3, 13)
    np.testing.assert_allclose(activations.get("tanh")(x), jnp.tanh(x))
    np.testing.assert_allclose(activations.get("identity")(x), x)
    np.testing.assert_allclose(activations.get("hard_sigmoid")(jnp.array([-5.0, 0.0, 5.0])), [0.0, 0.5, 1.0])
    with pytest.raises(ValueError, match="unknown activation 'swishy'"):
        activations.get("swishy")


def test_orthogonal_init_is_computed_in_float32_for_low_precision_dtypes():
    """A bfloat16 orthogonal init is the float32 one rounded (GPUs have no bfloat16 QR)."""
    from seqmodels.nn import initializers
    key = jax.random.key(5)
    q32 = initializers.orthogonal(key, (6, 6), jnp.float32)
    np.testing.assert_allclose(q32.T @ q32, np.eye(6), atol=1e-5)
    q16 = initializers.orthogonal(key, (6, 6), jnp.bfloat16)
    assert q16.dtype == jnp.bfloat16
    np.testing.assert_array_equal(np.asarray(q16, np.float32), np.asarray(q32.astype(jnp.bfloat16), np.float32))


def test_rational_tanh_is_float32_tanh_to_5_ulp_and_differentiates_as_tanh():
    """The fused kernels' tanh: checked against float64 numpy, on a dense grid and geometric tails."""
    grid = np.concatenate([np.linspace(-20, 20, 400_001), np.geomspace(1e-38, 30, 20_000),
                           -np.geomspace(1e-38, 30, 20_000)]).astype(np.float32)
    ref = np.tanh(grid.astype(np.float64))
    ulp = np.spacing(np.abs(ref).astype(np.float32)).astype(np.float64)
    got = np.asarray(jax.jit(activations.rational_tanh)(grid)).astype(np.float64)
    assert np.max(np.abs(got - ref) / ulp) <= 5.0
    assert np.max(np.abs(got)) <= 1.0  # never past +-1
    # jnp.tanh itself lies within the same bound (XLA's CPU tanh is this approximation)
    np.testing.assert_allclose(got, np.asarray(jax.jit(jnp.tanh)(grid)), rtol=0, atol=5e-7)
    special = jax.jit(activations.rational_tanh)(jnp.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30], jnp.float32))
    assert np.isnan(special[0]) and special[1] > 0.9999997 and special[2] < -0.9999997
    np.testing.assert_array_equal(np.signbit(special[3:5]), [False, True])
    assert special[5] == np.float32(1e-30)  # tanh(x) = x for tiny x
    # derivative 1 - tanh^2, under jit, grad and vmap
    x = jnp.linspace(-6.0, 6.0, 101)
    d = jax.vmap(jax.grad(activations.rational_tanh))(x)
    np.testing.assert_allclose(d, 1.0 - np.tanh(np.asarray(x, np.float64)) ** 2, atol=1e-6)
    # other dtypes fall back to jnp.tanh (the coefficients are float32's)
    xb = jnp.linspace(-3.0, 3.0, 13, dtype=jnp.bfloat16)
    y = activations.rational_tanh(xb)
    assert y.dtype == jnp.bfloat16
    np.testing.assert_array_equal(np.asarray(y, np.float32), np.asarray(jnp.tanh(xb), np.float32))
