"""wav2vec 2.0: the straight-through Gumbel-softmax against jax.nn.one_hot/argmax and jax.grad of the soft
sample, the diversity loss and the contrastive loss against float64 numpy transcriptions, span-masking and
distractor statistics, shapes, and a loss that goes down."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from seqmodels.models import wav2vec as w

TINY = dict(conv_channels=(8, 16), conv_kernels=(10, 4), conv_strides=(5, 4), num_groups=2, num_entries=8,
            code_dim=8, final_dim=8, d_model=16, num_heads=2, d_ff=32, num_layers=1, pos_kernel=4, pos_groups=2,
            mask_span=4, num_distractors=5)


def test_gumbel_softmax_hard_forward_and_straight_through_gradient():
    key, logits = jax.random.PRNGKey(0), jax.random.normal(jax.random.PRNGKey(1), (6, 3, 5))
    tau = 0.7
    hard = w.gumbel_softmax(key, logits, tau)
    noise = jax.random.gumbel(key, logits.shape)
    np.testing.assert_allclose(hard, jax.nn.one_hot(jnp.argmax(logits + noise, -1), 5), atol=1e-6)
    weights = jax.random.normal(jax.random.PRNGKey(2), logits.shape)
    g_hard = jax.grad(lambda l: jnp.sum(weights * w.gumbel_softmax(key, l, tau)))(logits)
    g_soft = jax.grad(lambda l: jnp.sum(weights * jax.nn.softmax((l + noise) / tau)))(logits)
    np.testing.assert_allclose(g_hard, g_soft, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(w.gumbel_softmax(None, logits, tau, hard=False), jax.nn.softmax(logits / tau),
                               rtol=1e-6)


def diversity_numpy(logits):
    logits = np.asarray(logits, np.float64)
    G, V = logits.shape[-2:]
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p = (p / p.sum(-1, keepdims=True)).reshape(-1, G, V).mean(0)
    return (G * V - sum(np.exp(-np.sum(p[g] * np.log(p[g] + 1e-7))) for g in range(G))) / (G * V)


def test_diversity_loss_against_numpy_and_its_extremes():
    logits = jax.random.normal(jax.random.PRNGKey(0), (4, 7, 3, 6)) * 2
    np.testing.assert_allclose(w.diversity_loss(logits), diversity_numpy(logits), rtol=1e-5)
    assert abs(float(w.diversity_loss(jnp.zeros((10, 2, 8))))) < 1e-5  # uniform usage: 0
    collapsed = jnp.zeros((10, 2, 8)).at[..., 3].set(100.0)  # one entry per group: (V - 1) / V, the maximum
    np.testing.assert_allclose(w.diversity_loss(collapsed), 7 / 8, rtol=1e-5)
    assert float(w.code_perplexity(jnp.tile(jnp.arange(8)[:, None], (3, 2)), 8)) == pytest.approx(16, rel=1e-5)


def test_contrastive_loss_against_numpy_with_fixed_distractors():
    T, E, kappa = 6, 5, 0.1
    c, q = (np.asarray(jax.random.normal(k, (T, E))) for k in jax.random.split(jax.random.PRNGKey(3)))
    codes = np.arange(T)[:, None].repeat(2, 1)
    codes[4] = codes[1]  # frame 4 has frame 1's codes: as a distractor of 1 (and 1 of 4) it is left out
    negatives = np.array([[1, 2, 4], [0, 4, 5], [0, 1, 3], [5, 5, 0], [1, 2, 3], [0, 3, 4]])
    mask = np.array([1, 1, 0, 1, 1, 1], bool)
    loss, acc = w.contrastive_loss(w.contrastive_logits(c, q, negatives, kappa, codes), mask)
    cos = lambda a, b: a @ b / np.linalg.norm(a) / np.linalg.norm(b)
    nll, first = [], []
    for t in np.flatnonzero(mask):
        sims = [cos(c[t], q[t]) / kappa] + [cos(c[t], q[d]) / kappa for d in negatives[t]
                                            if not np.array_equal(codes[d], codes[t])]
        nll.append(np.log(np.sum(np.exp(sims))) - sims[0])
        first.append(np.argmax(sims) == 0)
    np.testing.assert_allclose(loss, np.mean(nll), rtol=1e-5)
    np.testing.assert_allclose(acc, np.mean(first))


def test_span_mask_statistics_and_distractors():
    T, M, p = 50, 10, 0.065
    masks = np.asarray(jax.vmap(lambda k: w.span_mask(k, T, p, M))(jax.random.split(jax.random.PRNGKey(0), 2000)))
    starts = masks & ~np.concatenate([np.zeros((len(masks), 1), bool), masks[:, :-1]], 1)  # [N, T] run starts
    ends = masks & ~np.concatenate([masks[:, 1:], np.zeros((len(masks), 1), bool)], 1)
    run_lengths = np.flatnonzero(ends.ravel()) - np.flatnonzero(starts.ravel()) + 1
    assert run_lengths.min() >= M and starts.sum(1).max() <= round(p * T)  # spans of M (merged where they overlap)
    # round(p T) = 3 distinct starts in [0, T - M]; frame t is masked unless none of the n_t starts covering it
    # is drawn: P(unmasked) = C(T - M + 1 - n_t, 3) / C(T - M + 1, 3)
    covering = np.array([min(t, T - M) - max(0, t - M + 1) + 1 for t in range(T)])
    unmasked = np.array([math.comb(T - M + 1 - n, 3) / math.comb(T - M + 1, 3) for n in covering])
    np.testing.assert_allclose(masks.mean(0), 1 - unmasked, atol=0.04)
    key = jax.random.PRNGKey(1)
    mask = jnp.asarray(masks[0])
    d = np.asarray(w.sample_distractors(key, mask, 400))
    for t in np.flatnonzero(masks[0]):
        assert set(d[t]) == set(np.flatnonzero(masks[0])) - {t}  # every other masked frame, never t itself
    one = jnp.zeros(T, bool).at[7].set(True)
    assert np.all(np.asarray(w.sample_distractors(key, one, 3))[7] == 7)  # nothing else to draw: t (left out)


def test_shapes_features_and_temperature():
    model = w.Wav2Vec2(**TINY)
    params = model.init(jax.random.PRNGKey(0))
    x = jax.random.normal(jax.random.PRNGKey(1), (3, 400))
    T = model.num_frames(400)
    assert T == ((400 - 10) // 5 + 1 - 4) // 4 + 1
    f, out, (loss, metrics) = jax.eval_shape(lambda p, x: (  # shapes only (the values: test_loss_goes_down)
        model.features(p, x[0]), model.example(p, x[0], jax.random.PRNGKey(2), 1.0),
        model.batch_loss(p, x, jax.random.PRNGKey(3), 1.0)), params, x)
    assert f["latent"].shape == (T, 16) and f["context"].shape == (T, 16)
    assert out["logits"].shape == (T, 6) and out["codes"].shape == (T, 2) and out["q_logits"].shape == (T, 2, 8)
    assert loss.shape == () and set(metrics) >= {"contrastive_accuracy", "code_perplexity", "diversity_loss"}
    np.testing.assert_allclose(w.temperature(jnp.array([0, 10, 10**6]), 2.0, 0.5, 0.9), [2.0, 2 * 0.9**10, 0.5],
                               rtol=1e-5)
    with pytest.raises(ValueError, match=r"one clip of shape \[S\]"):
        model.encode(params, x)
    with pytest.raises(ValueError, match="code_dim"):
        w.Wav2Vec2(code_dim=7)


def test_loss_goes_down():
    model = w.Wav2Vec2(**{**TINY, "drop_rate": 0.0})
    t = np.arange(400) / 8000
    x = jnp.asarray(np.stack([np.sin(2 * np.pi * f * t) for f in (300, 500, 700, 900)]), jnp.float32)
    params, opt = model.init(jax.random.PRNGKey(0)), optax.adam(3e-3)
    state = opt.init(params)

    @jax.jit
    def step(params, state, key):
        loss, grads = jax.value_and_grad(lambda p: model.batch_loss(p, x, key, 1.0)[0])(params)
        updates, state = opt.update(grads, state)
        return optax.apply_updates(params, updates), state, loss

    losses = []
    for i in range(40):  # 4 clips of 400 samples: 19 frames each, 1 span of 4 masked
        params, state, loss = step(params, state, jax.random.PRNGKey(i))
        losses.append(float(loss))
    assert np.all(np.isfinite(losses)) and np.mean(losses[-10:]) < 0.8 * np.mean(losses[:5])
