"""The captioner: its CNN encoder against flax.linen, teacher forcing against step-by-step decoding, attention
maps over the regions, clear errors, and a tiny caption set that it learns."""

import flax.linen as fnn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from seqmodels.data import captions
from seqmodels.models import decoding
from seqmodels.models.captioner import CNNEncoder, captioner

V = len(captions.VOCAB)


class FlaxGrid(fnn.Module):
    """conv -> relu -> 2x2 max pool per block: the grid of region features, written in flax.linen."""
    channels: tuple

    @fnn.compact
    def __call__(self, x):  # [B, H, W, 1]
        for c in self.channels:
            x = fnn.max_pool(jax.nn.relu(fnn.Conv(c, (3, 3), padding="SAME")(x)), (2, 2), strides=(2, 2))
        return x


def test_encoder_equals_flax_conv_stack_with_positions_and_final():
    enc = CNNEncoder((12, 16), channels=(4, 6))
    params = enc.init(jax.random.PRNGKey(0))
    x = jax.random.uniform(jax.random.PRNGKey(1), (12, 16))
    regions, final = enc.apply(params, x)
    flax_params = {f"Conv_{i}": {"kernel": p["kernel"], "bias": p["bias"]} for i, p in enumerate(params["convs"])}
    grid = FlaxGrid((4, 6)).apply({"params": flax_params}, x[None, :, :, None])[0]  # [3, 4, 6]
    assert enc.grid_size == (3, 4) and regions.shape == (12, 6)
    np.testing.assert_allclose(regions, grid.reshape(12, 6) + params["positions"], rtol=1e-5, atol=1e-6)
    w, b = params["readout"]["w"], params["readout"]["b"]
    np.testing.assert_allclose(final, np.tanh(np.asarray(grid).reshape(-1) @ np.asarray(w) + np.asarray(b)),
                               rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(0)
    pool, labels = rng.random((30, 8, 8)).astype(np.float32), np.arange(30) % 10
    data = captions.make_canvases(pool, labels, 6, seed=0, grid=(2, 2), cell=8)
    ids, lengths = captions.encode(data["captions"])
    return jnp.asarray(data["x"]), jnp.asarray(ids), jnp.asarray(lengths)


@pytest.mark.parametrize("attention", ["none", "bahdanau", pytest.param("luong_general", marks=pytest.mark.slow)])
def test_teacher_forcing_equals_step_by_step_decoding(batch, attention):
    xs, ids, lengths = batch
    model = captioner((16, 16), V, channels=(4, 8), hidden_size=12, attention=attention)
    params = model.init(jax.random.PRNGKey(2))
    full = model.apply(params, xs[0], ids[0], tgt_lengths=lengths[0], deterministic=True)  # [T, V]
    cache, steps = model.init_cache(params, xs[0]), []
    for t in range(int(lengths[0])):
        cache, logits = model.decode(params, cache, ids[0, t:t + 1])
        steps.append(logits[0])
    np.testing.assert_allclose(full[:int(lengths[0])], np.stack(steps), rtol=1e-5, atol=1e-5)
    tokens, n = jax.jit(lambda x: decoding.greedy(lambda c, y: model.decode(params, c, y), model.init_cache(
        params, x), captions.BOS_ID, max_len=14, end_token=captions.EOS_ID))(xs[0])
    assert tokens.shape == (14,) and 1 <= int(n) <= 14


def test_alignment_is_a_distribution_over_the_regions(batch):
    xs, ids, lengths = batch
    model = captioner((16, 16), V, channels=(4, 8), hidden_size=12, attention="bahdanau")
    params = model.init(jax.random.PRNGKey(3))
    _, a = model.apply(params, xs[1], ids[1], tgt_lengths=lengths[1], deterministic=True, return_alignment=True)
    n = int(lengths[1])
    assert a.shape == (ids.shape[1], 16)  # 16 x 16 -> 8 x 8 -> 4 x 4 regions
    np.testing.assert_allclose(a[:n].sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(a[n:], 0.0)


def test_bad_inputs(batch):
    xs, ids, _ = batch
    model = captioner((16, 16), V, channels=(4, 8), hidden_size=12)
    params = model.init(jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="no padding"):
        model.apply(params, xs[0], ids[0], src_lengths=16)
    with pytest.raises(ValueError, match="expected one image"):
        model.apply(params, xs[0, :8], ids[0])
    with pytest.raises(ValueError, match="leave no pixel"):
        CNNEncoder((4, 4), channels=(4, 4, 4))


@pytest.mark.parametrize("attention", [pytest.param("none", marks=pytest.mark.slow), "bahdanau"])
def test_learns_a_few_captions(batch, attention):
    """Teacher-forced loss goes down and greedy decoding then writes the training captions."""
    xs, ids, lengths = batch
    model = captioner((16, 16), V, channels=(8, 16), hidden_size=32, attention=attention)
    params, opt = model.init(jax.random.PRNGKey(0)), optax.adam(1e-2)

    def loss_fn(p):
        logits = jax.vmap(lambda x, y, n: model.apply(p, x, y, tgt_lengths=n, deterministic=True))(xs, ids, lengths)
        mask = jnp.arange(ids.shape[1] - 1)[None] < (lengths - 1)[:, None]  # position t predicts ids[t + 1]
        nll = -jnp.take_along_axis(jax.nn.log_softmax(logits[:, :-1]), ids[:, 1:, None], -1)[..., 0]
        return (nll * mask).sum() / mask.sum()

    @jax.jit
    def step(p, s):
        loss, g = jax.value_and_grad(loss_fn)(p)
        u, s = opt.update(g, s, p)
        return optax.apply_updates(p, u), s, loss

    state, first = opt.init(params), None
    for _ in range(150):
        params, state, loss = step(params, state)
        first = loss if first is None else first
    assert float(loss) < 0.1 * float(first)
    tokens, _ = jax.vmap(lambda x: model.greedy(params, x, max_len=14))(xs)
    written = [captions.decode(t) for t in np.asarray(tokens)]
    truth = [captions.decode(t) for t in np.asarray(ids)]
    assert np.mean([w == r for w, r in zip(written, truth)]) >= 5 / 6
