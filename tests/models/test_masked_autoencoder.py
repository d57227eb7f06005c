"""Masked autoencoder: the shuffle / keep / unshuffle masking against a numpy argsort transcription, the exact
mask ratio, the loss against a hand computation, the encoder on the visible patches against the full encoder
whose attention cannot see the masked patches, finite gradients and a loss that goes down."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, strategies as st

from seqmodels.attention import positional
from seqmodels.models import masked_autoencoder as mae
from seqmodels.models.transformer import Block, Stack

T, C, P_SIZE = 24, 2, 4  # 6 patches of 4 frames x 2 channels


def model(mask_ratio=0.5, norm_pix_loss=False):
    return mae.MaskedAutoencoder(T, C, P_SIZE, Stack(Block(16, 2, 32), 2), Stack(Block(8, 2, 16), 1),
                                 mask_ratio=mask_ratio, norm_pix_loss=norm_pix_loss)


def numpy_masking(noise, keep):  # MAE's random_masking (models_mae.py), one example, in numpy
    ids_shuffle = np.argsort(noise)
    ids_restore = np.argsort(ids_shuffle)
    mask = np.ones(len(noise))
    mask[:keep] = 0
    return ids_shuffle[:keep], ids_restore, mask[ids_restore]


@given(st.integers(2, 40), st.floats(0.05, 0.95), st.integers(0, 2**31 - 1))
def test_masking_matches_numpy_and_the_ratio_is_exact(num_patches, ratio, seed):
    keep = int(num_patches * (1 - ratio))
    if not 0 < keep < num_patches:
        with pytest.raises(ValueError, match="mask_ratio"):
            mae.num_kept(num_patches, ratio)
        return
    assert mae.num_kept(num_patches, ratio) == keep
    noise = np.random.default_rng(seed).random(num_patches).astype(np.float32)
    got = [np.asarray(a) for a in mae.mask_from_noise(jnp.asarray(noise), keep)]
    for a, b in zip(got, numpy_masking(noise, keep)):
        np.testing.assert_array_equal(a, b)
    keep_ids, restore, mask = got
    assert mask.sum() == num_patches - keep and np.all(mask[keep_ids] == 0)  # the kept ones are the visible ones
    shuffled = np.concatenate([keep_ids, np.flatnonzero(mask)[np.argsort(noise[mask > 0])]])
    np.testing.assert_array_equal(shuffled[restore], np.arange(num_patches))  # restore undoes the shuffle


def test_loss_by_hand():
    pred = jnp.asarray([[1.0, 2.0], [0.0, 0.0], [3.0, -1.0]])
    patches = jnp.asarray([[0.0, 0.0], [5.0, 5.0], [1.0, 1.0]])
    mask = jnp.asarray([1.0, 0.0, 1.0])  # the middle patch is visible: its error does not count
    # patch 0: (1 + 4) / 2 = 2.5; patch 2: (4 + 4) / 2 = 4; mean over the two masked patches = 3.25
    assert float(mae.masked_patch_loss(pred, patches, mask)) == pytest.approx(3.25)
    # per-patch normalised targets: patch 0 -> [0, 0] (zero variance), patch 2 -> [0, 0]
    expected = ((1 + 4) / 2 + (9 + 1) / 2) / 2
    assert float(mae.masked_patch_loss(pred, patches, mask, norm_pix_loss=True)) == pytest.approx(expected, rel=1e-5)
    x = jnp.asarray([[1.0, 3.0], [2.0, 6.0]])  # [P=2, 2]: mean 2, var 1 and mean 4, var 4
    np.testing.assert_allclose(mae.normalise_patches(x), [[-1, 1], [-1, 1]], atol=1e-5)


def test_patchify_round_trip_and_order():
    x = jnp.arange(T * C, dtype=jnp.float32).reshape(T, C)
    p = mae.patchify(x, P_SIZE)
    assert p.shape == (T // P_SIZE, P_SIZE * C)
    np.testing.assert_array_equal(p[1], np.asarray(x[4:8]).reshape(-1))  # frames 4..7, channels interleaved
    np.testing.assert_array_equal(mae.unpatchify(p, C), x)


def test_encoder_on_visible_patches_is_the_full_encoder_blind_to_the_masked_ones():
    m = model()
    params = m.init(jax.random.key(0))["encoder"]
    x = jax.random.normal(jax.random.key(1), (T, C))
    keep, _, mask = mae.mask_from_noise(jax.random.uniform(jax.random.key(2), (m.num_patches,)), m.num_keep)
    encode = jax.jit(m.encode)
    visible = encode(params, x, keep)  # [K, D]
    # reference: all P patches through the same stack, attention allowed to visible keys only
    e = jax.vmap(lambda p: p @ params["proj"]["w"] + params["proj"]["b"])(mae.patchify(x, P_SIZE))
    e = e + positional.sinusoidal(m.num_patches, 16)
    attend = jnp.broadcast_to(mask == 0, (m.num_patches, m.num_patches))  # [P, P] rows: queries, cols: keys
    full = jax.jit(lambda p, e, a: m.encoder.apply(p, e, mask=a))(params["stack"], e, attend)
    np.testing.assert_allclose(visible, full[keep], atol=1e-5)
    # and the masked patches' samples cannot change it
    noisy = x + jnp.repeat(mask, P_SIZE)[:, None] * 100.0
    np.testing.assert_allclose(encode(params, noisy, keep), visible, atol=1e-5)


def test_apply_shapes_mask_and_finite_gradients():
    m = model(mask_ratio=0.75, norm_pix_loss=True)
    params = m.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (T, C))
    pred, mask = jax.jit(lambda p, x, k: m.apply(p, x, key=k))(params, x, jax.random.key(2))
    assert pred.shape == (6, P_SIZE * C) and float(mask.sum()) == 6 - int(6 * 0.25)
    xs = jax.random.normal(jax.random.key(3), (4, T, C))
    grads = jax.jit(jax.grad(m.loss))(params, xs, jax.random.key(4))
    leaves = jax.tree.leaves(grads)
    assert all(np.all(np.isfinite(g)) for g in leaves)
    assert np.abs(grads["decoder"]["mask_token"]).sum() > 0 and np.abs(grads["encoder"]["proj"]["w"]).sum() > 0
    filled, masked = jax.jit(m.reconstruct)(params, x, jax.random.key(2))
    np.testing.assert_array_equal(np.asarray(filled)[~np.asarray(masked)], np.asarray(x)[~np.asarray(masked)])


def test_backbone_reads_all_patches():
    m = model()
    params = m.init_encoder(jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (T, C))
    h = jax.jit(lambda p, x: m.backbone().apply(p, x, deterministic=True))(params, x)
    np.testing.assert_allclose(h, jax.jit(m.encode)(params, x, jnp.arange(m.num_patches)), atol=1e-6)
    with pytest.raises(ValueError, match="shape"):
        m.encode(params, x[:-1])


@pytest.mark.slow  # 150 jitted Adam steps (the small config's command-line test trains end to end)
def test_loss_goes_down():
    m = model()
    xs = jnp.sin(jnp.linspace(0, 6, T))[None, :, None] * jnp.asarray([1.0, -1.0])[:, None, None]  # [2, T, 1]
    xs = jnp.concatenate([xs, xs * 0.5], -1)  # [2, T, C]
    params, opt = m.init(jax.random.key(0)), optax.adam(3e-3)
    state = opt.init(params)

    @jax.jit
    def step(params, state, key):
        loss, g = jax.value_and_grad(m.loss)(params, xs, key)
        updates, state = opt.update(g, state)
        return optax.apply_updates(params, updates), state, loss

    evaluate = jax.jit(lambda p: m.loss(p, xs, jax.random.key(99), deterministic=True))
    first = evaluate(params)
    for i in range(150):
        params, state, _ = step(params, state, jax.random.key(i))
    assert evaluate(params) < 0.3 * first
