"""The seq2seq platform (experiments/seq2seq.py): models built from config sections, the loss against optax,
batched decoding against one-example decoding, BLEU and exact match against sacrebleu, clear config errors."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest
import sacrebleu

from experiments import seq2seq
from seqmodels.data.tokenizers import BOS_ID, EOS_ID
from seqmodels.models import rnn_seq2seq
from seqmodels.training import ConfigError

V_SRC, V_TGT = 17, 13


def model_config(name="m", **section):
    return ml_collections.ConfigDict({"name": name, name: section})


def toy_data(n=10, seed=0):
    rng = np.random.default_rng(seed)
    src = [rng.integers(4, V_SRC, size=rng.integers(2, 9)) for _ in range(n)]
    tgt = [np.r_[BOS_ID, rng.integers(4, V_TGT, size=rng.integers(1, 7)), EOS_ID] for _ in range(n)]
    return seq2seq.pairs(src, tgt)


def small(kind, **fields):
    sizes = dict(rnn=dict(hidden_size=8, embed_dim=6), transformer=dict(d_model=8, num_heads=2, num_layers=1, d_ff=16))
    return seq2seq.build(model_config(kind=kind, **sizes[kind], **fields), V_TGT, src_vocab=V_SRC, max_len=32)


@pytest.mark.parametrize("attention", seq2seq.ATTENTIONS)
def test_build_rnn_sections(attention):
    both_ways = attention != "luong_dot"  # s_t . h_s needs the decoder as wide as the memory
    model = small("rnn", attention=attention, bidirectional=both_ways)
    assert isinstance(model, rnn_seq2seq.RNNEncoderDecoder) and model.decoder.attention == attention
    assert model.encoder.bidirectional == both_ways and model.decoder.memory_dim == 8 * (1 + both_ways)
    vectors = seq2seq.build(model_config(kind="rnn", hidden_size=4), V_TGT, input_size=5)
    assert vectors.encoder.input_size == 5 and vectors.encoder.vocab_size is None


@pytest.mark.parametrize("section, message", [
    (dict(kind="rnn", hiden_size=8), "unknown field"),
    (dict(kind="rnn", attention="luong"), "model.m.attention"),
    (dict(kind="gru"), "model.m.kind"),
    (dict(kind="transformer", sampling_prob=0.5), "sampling_prob: scheduled sampling needs a recurrent"),
    (dict(kind="rnn", hidden_size=0), "model.m.hidden_size"),
])
def test_build_errors_name_the_field(section, message):
    with pytest.raises(ConfigError, match=message):
        seq2seq.build(model_config(**section), V_TGT, src_vocab=V_SRC)


def test_transformer_over_vectors_is_a_config_error():
    with pytest.raises(ConfigError, match="reads token ids"):
        seq2seq.build(model_config(kind="transformer"), V_TGT, input_size=3)


def test_transformer_cache_decoding_equals_teacher_forcing():
    model = small("transformer")
    params = model.init(jax.random.key(0))
    src, tgt = jnp.array([5, 6, 7, 8, 0, 0]), jnp.array([BOS_ID, 4, 9, 10, EOS_ID])
    full = model.apply(params, src, tgt, src_lengths=4, deterministic=True)
    cache = model.init_cache(params, src, src_lengths=4)
    steps = []
    for token in tgt:
        cache, logits = model.decode(params, cache, token[None])
        steps.append(logits[0])
    np.testing.assert_allclose(np.stack(steps), full, atol=1e-5)


@pytest.mark.parametrize("kind", ["rnn", "transformer"])
def test_loss_is_the_cross_entropy_of_the_valid_next_tokens(kind):
    model = small(kind)
    params = model.init(jax.random.key(1))
    data = toy_data(6)
    batch = next(iter(seq2seq.eval_batches(data, 8, seq2seq.max_length(data))))  # 6 real + 2 fillers
    loss, metrics = seq2seq.loss_fn(model)(params, batch, jax.random.key(2), False)
    total, count = 0.0, 0
    for src, tgt in zip(data["src"], data["tgt"]):  # one unpadded example at a time, optax's cross-entropy
        logits = model.apply(params, jnp.asarray(src), jnp.asarray(tgt), deterministic=True)
        total += float(optax.softmax_cross_entropy_with_integer_labels(logits[:-1], tgt[1:]).sum())
        count += len(tgt) - 1
    np.testing.assert_allclose(loss, total / count, rtol=1e-5)
    assert int(metrics["weight"]) == count


def test_pairs_checks_targets():
    with pytest.raises(ValueError, match="starting with BOS"):
        seq2seq.pairs([[5, 6]], [[5, 6, EOS_ID]])
    with pytest.raises(ValueError, match="as many sources as targets"):
        seq2seq.pairs([[5, 6]], [])


@pytest.mark.parametrize("beam_width", [1, 3])
def test_batched_decoding_equals_one_example_decoding(beam_width):
    model = small("rnn", attention="bahdanau")
    params = model.init(jax.random.key(3))
    data = toy_data(7)
    batched = seq2seq.decode_all(model, params, data, beam_width=beam_width, max_len=9, batch_size=4)
    for src, out in zip(data["src"], batched):
        if beam_width == 1:
            tokens, _ = model.greedy(params, jnp.asarray(src), max_len=9)
        else:
            tokens = model.beam_search(params, jnp.asarray(src), beam_width=beam_width, max_len=9)[0][0]
        assert out == seq2seq.strip(tokens)


def test_fixed_shape_sources_decode_without_lengths():
    model = seq2seq.build(model_config(kind="rnn", hidden_size=6, attention="luong_general"), V_TGT, input_size=5)
    params = model.init(jax.random.key(5))
    images = np.random.default_rng(0).normal(size=(3, 4, 5)).astype(np.float32)  # 3 sources [S=4, D=5]
    data = seq2seq.pairs(images, [[BOS_ID, 5, EOS_ID]] * 3)
    assert not isinstance(data["src"], list)
    for src, out in zip(images, seq2seq.decode_all(model, params, data, max_len=6, batch_size=2)):
        assert out == seq2seq.strip(model.greedy(params, jnp.asarray(src), max_len=6)[0])


def test_transformer_greedy_equals_its_own_generate():
    model = small("transformer")
    params = model.init(jax.random.key(4))
    data = toy_data(3)
    for src, out in zip(data["src"], seq2seq.decode_all(model, params, data, max_len=8)):
        generated = model.inner.generate(params, jnp.asarray(src), jnp.array([BOS_ID]), 8)
        assert out == seq2seq.strip(generated[1:])


def test_scores_against_sacrebleu_and_by_length():
    words = {4: "un", 5: "deux", 6: "trois", 7: "quatre"}
    detok = lambda ids: " ".join(words[i] for i in ids)
    refs = [[4, 5, 6, 7], [5, 6], [4, 4, 5, 6, 7, 7]]
    hyps = [[4, 5, 6, 7], [5, 7], [4, 4, 5, 6, 7]]
    out = seq2seq.scores(hyps, refs, detok, lengths=[4, 2, 6], edges=[1, 5, 9])
    expected = sacrebleu.corpus_bleu([detok(h) for h in hyps], [[detok(r) for r in refs]]).score
    assert out["exact_match"] == pytest.approx(1 / 3) and out["bleu"] == pytest.approx(expected)
    long = sacrebleu.corpus_bleu([detok(hyps[2])], [[detok(refs[2])]]).score
    assert out["bleu_by_length"]["5-8"] == pytest.approx(long) and set(out["bleu_by_length"]) == {"1-4", "5-8"}
    assert seq2seq.scores(refs, refs, detok)["bleu"] == pytest.approx(100.0)


def test_strip_and_alignment_plot(tmp_path):
    assert seq2seq.strip([BOS_ID, 7, 8, EOS_ID, 9, EOS_ID]) == [7, 8]
    path = seq2seq.plot_alignment(np.eye(3), ["a", "b", "c"], ["x", "y", "z"], tmp_path / "a.png", title="t")
    assert path.stat().st_size > 1000
