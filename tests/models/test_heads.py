"""Heads over any backbone (seqmodels/models/heads.py): batched == one example at a time, the per-example
dropout keys, pooling over valid frames, streaming == the full pass, `last`, the order of initialisation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from seqmodels import recurrence
from seqmodels.cells import GRU, LSTM, Elman
from seqmodels.conv import TCN, TDNN
from seqmodels.models import heads, mixer, transformer
from seqmodels.nn import dense

B, T, D = 3, 12, 2
XS = jax.random.normal(jax.random.key(1), (B, T, D))
LENGTHS = jnp.array([12, 7, 1])


def _backbones():
    return {
        "rnn": heads.recurrent(recurrence.RNN(LSTM(D, 5))),
        "bidirectional": heads.recurrent(recurrence.Bidirectional.of(GRU(D, 4))),
        "stack": heads.recurrent(recurrence.Stack((recurrence.RNN(Elman(D, 4)), recurrence.RNN(GRU(4, 3))))),
        "rnn_torch": heads.recurrent(recurrence.RNN(GRU(D, 4)), init="torch", hidden_size=4),
        "tcn": heads.convolutional(TCN(D, (6, 6), kernel_size=3, drop_rate=0.2), 6),
        "tdnn": heads.convolutional(TDNN((D, 4, 3), (3, 2)), 3),
        "transformer": heads.transformer(transformer.Stack(transformer.Block(8, 2, 16), 1), D),
        "transformer_learned": heads.transformer(transformer.Stack(transformer.Block(8, 2, 16), 1), D,
                                                 positional_kind="learned", max_len=T),
    }


BACKBONES = _backbones()


@pytest.mark.parametrize("name", list(BACKBONES))
def test_frame_head_batched_equals_one_example_at_a_time(name):
    model = heads.FrameHead(BACKBONES[name], output_size=4)
    params = model.init(jax.random.key(0))
    batched = model.apply_batch(params, XS, LENGTHS, deterministic=True)
    assert batched.shape == (B, T, 4)
    for b in range(B):
        one = model.apply(params, XS[b], lengths=LENGTHS[b], deterministic=True)
        np.testing.assert_allclose(batched[b], one, atol=1e-5, rtol=1e-5)
    # the read-out is a dense layer on the backbone's features
    h = heads.batch_features(model.backbone, params["backbone"], XS, LENGTHS, None, True)
    np.testing.assert_allclose(batched, jnp.einsum("bth,ho->bto", h, params["readout"]["w"]) + params["readout"]["b"],
                               atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("pool", heads.POOLS)
@pytest.mark.parametrize("name", ["rnn", "tcn", "transformer"])
def test_sequence_classifier_pools_over_valid_frames_only(name, pool):
    if pool == "flatten":  # reads every frame: no lengths
        lengths, seq_len = None, T
    else:
        lengths, seq_len = LENGTHS, None
    model = heads.SequenceClassifier(BACKBONES[name], num_classes=3, pool=pool, seq_len=seq_len)
    params = model.init(jax.random.key(0))
    logits = model.apply_batch(params, XS, lengths, deterministic=True)
    assert logits.shape == (B, 3)
    h = heads.batch_features(model.backbone, params["backbone"], XS, lengths, None, True)  # [B, T, H]
    for b in range(B):
        n = T if lengths is None else int(lengths[b])
        pooled = {"mean": h[b, :n].mean(0), "last": h[b, n - 1], "flatten": h[b].reshape(-1)}.get(pool)
        if pooled is not None:  # the reference: numpy on the valid frames
            want = pooled @ params["readout"]["w"] + params["readout"]["b"]
            np.testing.assert_allclose(logits[b], want, atol=1e-5, rtol=1e-5)
    if lengths is not None:  # whatever sits in the padding never reaches the logits
        noisy = XS.at[1, 7:].set(50.0).at[2, 1:].set(-9.0)
        np.testing.assert_allclose(model.apply_batch(params, noisy, lengths, deterministic=True), logits,
                                   atol=1e-5, rtol=1e-5)


def test_dropout_keys_are_drawn_once_per_example():
    """A per-example backbone is vmapped with split(key, B); deterministic draws nothing; a key is required."""
    backbone = BACKBONES["tcn"]
    params = backbone.init(jax.random.key(0))
    key = jax.random.key(7)
    got = heads.batch_features(backbone, params, XS, None, key, False)
    keys = jax.random.split(key, B)
    for b in range(B):
        want = backbone.apply(params, XS[b], key=keys[b], deterministic=False)
        np.testing.assert_allclose(got[b], want, atol=1e-6)
    plain = heads.batch_features(backbone, params, XS, None, None, True)
    assert float(jnp.abs(got - plain).max()) > 1e-3
    with pytest.raises(ValueError, match="key"):
        heads.batch_features(backbone, params, XS, None, None, False)


def test_recurrent_output_dropout_draws_one_mask_for_the_batch():
    layer = recurrence.RNN(GRU(D, 4))
    backbone = heads.recurrent(layer, drop_rate=0.5)
    params = backbone.init(jax.random.key(0))
    key = jax.random.key(3)
    got = heads.batch_features(backbone, params, XS, None, key, False)
    _, hs = layer.apply_batch(params, XS)
    keep = jax.random.bernoulli(key, 0.5, hs.shape)
    np.testing.assert_allclose(got, jnp.where(keep, hs / 0.5, 0.0), atol=1e-6)


@pytest.mark.parametrize("name", ["rnn", "rnn_torch", "tcn", "tdnn"])
def test_streaming_step_equals_the_full_pass(name):
    model = heads.FrameHead(BACKBONES[name], output_size=2)
    params = model.init(jax.random.key(0))
    x = XS[0]
    full = model.apply(params, x, deterministic=True)
    state = model.init_state(params)
    outs = []
    for t in range(T):
        state, y = model.step(params, state, x[t])
        outs.append(y)
    np.testing.assert_allclose(jnp.stack(outs), full, atol=1e-5, rtol=1e-5)


def test_forecast_feeds_each_prediction_back():
    model = heads.FrameHead(BACKBONES["tdnn"], output_size=None)  # [T, 2] -> [T, 3]: not a predictor of x
    with pytest.raises(Exception):
        heads.forecast(model, model.init(jax.random.key(0)), XS[0], 3)
    model = heads.FrameHead(heads.recurrent(recurrence.RNN(GRU(1, 4))), output_size=1)
    params = model.init(jax.random.key(0))
    prime = XS[0, :, :1]
    got = heads.forecast(model, params, prime, 4)  # [4, 1]
    seq = jnp.concatenate([prime, got[:-1]], axis=0)
    np.testing.assert_allclose(got, model.apply(params, seq, deterministic=True)[T - 1:], atol=1e-5)


@pytest.mark.parametrize("name", ["transformer", "rnn", "tcn"])
def test_last_rows_equal_the_full_output(name):
    model = heads.FrameHead(BACKBONES[name], output_size=2)
    params = model.init(jax.random.key(0))
    full = model.apply_batch(params, XS, deterministic=True)
    for last in (1, 5):
        np.testing.assert_allclose(model.apply_batch(params, XS, deterministic=True, last=last), full[:, T - last:],
                                   atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="last"):
        model.apply_batch(params, XS, deterministic=True, last=T + 1)


def test_initialisation_splits_the_key_over_the_parts_in_order():
    """Backbone keys first, the read-out's last; one part takes the key itself."""
    key = jax.random.key(5)
    backbone = BACKBONES["transformer_learned"]  # projection, stack, positions: 3 keys
    params = heads.SequenceClassifier(backbone, 4).init(key)
    k_in, k_stack, k_pos, k_out = jax.random.split(key, 4)
    np.testing.assert_array_equal(params["backbone"]["proj"]["w"], dense.init(k_in, D, 8)["w"])
    np.testing.assert_array_equal(params["readout"]["w"], dense.init(k_out, 8, 4)["w"])
    tdnn = heads.FrameHead(BACKBONES["tdnn"], output_size=None).init(key)  # no read-out: the key itself
    jax.tree.map(np.testing.assert_array_equal, tdnn["backbone"], BACKBONES["tdnn"].init(key))
    assert heads.split_parts(key, 1) == [key]
    torch = heads.SequenceClassifier(BACKBONES["rnn_torch"], 3, readout_init="torch").init(key)
    assert float(jnp.abs(torch["readout"]["w"]).max()) <= 4 ** -0.5 and float(jnp.abs(torch["readout"]["b"]).min()) > 0


def test_token_classifier_ignores_padding_tokens():
    """Token ids through the transformer backbone (sqrt(D) E[id] + positions), attention pooling, post-norm."""
    stack = transformer.Stack(transformer.Block(8, 2, 16, norm="post"), 1)
    model = heads.SequenceClassifier(heads.transformer(stack, vocab_size=11, positional_kind="learned", max_len=T),
                                     num_classes=3, pool="attention")
    params = model.init(jax.random.key(0))
    ids = jax.random.randint(jax.random.key(1), (2, T), 0, 11)
    lengths = jnp.array([T, 3])
    out = jax.jit(lambda p, x: model.apply_batch(p, x, lengths, deterministic=True))(params, ids)
    assert out.shape == (2, 3)
    np.testing.assert_allclose(model.apply_batch(params, ids.at[1, 3:].set(7), lengths, deterministic=True), out,
                               atol=1e-5)


def test_mixer_backbone_is_the_mixer_without_its_head():
    block = mixer.MixerBlock(seq_len=T, d_model=8, token_hidden=8, channel_hidden=16)
    with_head = mixer.Mixer(block, 2, input_dim=D, num_classes=3)
    model = heads.SequenceClassifier(heads.mixer(mixer.Mixer(block, 2, input_dim=D)), 3)
    key = jax.random.key(0)
    ours, theirs = model.init(key), with_head.init(key)
    params = {**ours["backbone"], "head": ours["readout"]}
    jax.tree.map(np.testing.assert_array_equal, params, theirs)  # the same draws
    np.testing.assert_allclose(model.apply_batch(ours, XS, deterministic=True),
                               jax.vmap(lambda x: with_head.apply(theirs, x, deterministic=True))(XS),
                               atol=1e-6, rtol=1e-6)


def test_bad_arguments_name_the_problem():
    with pytest.raises(ValueError, match="pool must be one of"):
        heads.SequenceClassifier(BACKBONES["rnn"], 3, pool="max")
    with pytest.raises(ValueError, match="needs seq_len"):
        heads.SequenceClassifier(BACKBONES["rnn"], 3, pool="flatten")
    with pytest.raises(ValueError, match="hidden_size"):
        heads.recurrent(recurrence.RNN(GRU(D, 4)), init="torch")
    with pytest.raises(ValueError, match="does not stream"):
        heads.FrameHead(BACKBONES["bidirectional"], 2).init_state({})
    model = heads.FrameHead(BACKBONES["tcn"], 2)
    for bad in (jnp.array([12, 13, 1]), jnp.array([2.5, 1.0, 1.0]), jnp.array([1, 2])):
        with pytest.raises(ValueError, match="lengths"):  # out of range, not integers, not [B]
            model.apply_batch(model.init(jax.random.key(0)), XS, bad, deterministic=True)
    with pytest.raises(ValueError, match="exactly one of"):
        heads.transformer(transformer.Stack(transformer.Block(8, 2, 16), 1), D, vocab_size=5)
    with pytest.raises(ValueError, match="readout init"):
        heads.readout_init(jax.random.key(0), 3, 2, "xavier")


@pytest.mark.parametrize("name,pool", [("rnn", "attention"), ("rnn", "last"), ("transformer", "mean")])
def test_embedded_reads_table_rows_and_ignores_padding(name, pool):
    """Embedded(model) on ids == the model on one_hot(ids) @ E (jax.nn.one_hot); ids past `lengths` change
    nothing, with mean, last and attention pooling."""
    V = 9
    model = heads.Embedded(heads.SequenceClassifier(BACKBONES[name], 3, pool=pool), V, D)
    params = model.init(jax.random.key(0))
    ids = jax.random.randint(jax.random.key(1), (B, T), 0, V)
    padded = jnp.where(jnp.arange(T) < LENGTHS[:, None], ids, (ids + 1) % V)

    @jax.jit
    def outputs(p):
        frames = jax.nn.one_hot(ids, V) @ p["embed"]["table"]  # [B, T, D]
        return (model.apply_batch(p, ids, LENGTHS, deterministic=True),
                model.model.apply_batch(p["model"], frames, LENGTHS, deterministic=True),
                model.apply(p, ids[1], lengths=LENGTHS[1], deterministic=True),
                model.apply_batch(p, padded, LENGTHS, deterministic=True))

    out, reference, one, out_padded = outputs(params)
    np.testing.assert_allclose(out, reference, atol=1e-5)
    np.testing.assert_allclose(one, out[1], atol=1e-5)
    np.testing.assert_allclose(out_padded, out, atol=1e-5)
    with pytest.raises(ValueError, match=r"expected token ids of shape \[B, T\]"):
        model.apply_batch(params, ids[0])
