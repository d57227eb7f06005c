"""RNN encoder-decoder: teacher forcing == step-by-step decoding, the attention forms against a numpy
unrolling of the papers' equations, the encoder's final vector, padding invariance, scheduled sampling,
gradients, bad input, and a reversal task learnt to exact match."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from seqmodels import recurrence
from seqmodels.cells import GRU
from seqmodels.data.tokenizers import BOS_ID, EOS_ID
from seqmodels.models import transformer as tf
from seqmodels.models.encoder_decoder import EncoderDecoder
from seqmodels.models.rnn_seq2seq import AttentionDecoder, RNNEncoder, RNNEncoderDecoder
from tests.helpers import adam_train

V_SRC, V_TGT, H = 11, 9, 8
SRC = jnp.array([4, 5, 6, 7, 8, 0, 0])  # 5 valid tokens, then padding
TGT = jnp.array([2, 4, 5, 6, 7, 8, 3])


def model(attention="bahdanau", cell="gru", bidirectional=False, num_layers=1, init_from="final"):
    enc = RNNEncoder(H, vocab_size=V_SRC, cell=cell, bidirectional=bidirectional, num_layers=num_layers)
    return RNNEncoderDecoder(enc, AttentionDecoder(V_TGT, enc.output_size if attention == "luong_dot" else H,
                                                   enc.output_size, cell=cell, attention=attention,
                                                   num_layers=num_layers, init_from=init_from))


@pytest.mark.parametrize("attention, cell, bidirectional, num_layers", [
    ("none", "gru", True, 1), ("bahdanau", "lstm", True, 2), ("luong_dot", "gru", False, 1),
    ("luong_general", "min_gru", False, 1), ("luong_concat", "jordan", True, 1)])
def test_teacher_forced_apply_equals_step_by_step_decode(attention, cell, bidirectional, num_layers):
    m = model(attention, cell, bidirectional, num_layers)
    params = m.init(jax.random.key(0))
    full = m.apply(params, SRC, TGT, src_lengths=5, deterministic=True)
    step = jax.jit(lambda c, ids: m.decode(params, c, ids))
    cache, rows = m.init_cache(params, SRC, src_lengths=5), []
    for t in range(TGT.shape[0]):
        cache, logits = step(cache, TGT[t:t + 1])
        rows.append(logits[0])
    np.testing.assert_allclose(np.stack(rows), full, atol=1e-5)


def _softmax_masked(e, L):
    e = np.where(np.arange(e.shape[0]) < L, e, -np.inf)
    a = np.exp(e - e.max())
    return a / a.sum()


def numpy_decoder(attention, P, memory, L, final, tgt):
    """The module docstring's equations for one Elman layer, unrolled in float64 numpy."""
    P = jax.tree.map(lambda x: np.asarray(x, np.float64), P)
    mem, E, cell = np.asarray(memory, np.float64), P["embed"]["table"], P["cells"][0]
    att = P.get("attention", {})
    additive = lambda q: np.tanh(q @ att["query"]["w"] + mem @ att["key"]["w"] + att["key"]["b"]) @ att["v"]  # noqa
    s = np.tanh(np.asarray(final, np.float64) @ P["bridge"]["w"] + P["bridge"]["b"])  # s_0
    h_tilde, logits, alignment = np.zeros_like(s), [], []
    for y in np.asarray(tgt):
        x = E[y]
        if attention in ("none", "bahdanau"):
            a = _softmax_masked(additive(s), L) if attention == "bahdanau" else np.zeros(len(mem))
            c = a @ mem if attention == "bahdanau" else np.asarray(final, np.float64)
            s = np.tanh(np.concatenate([x, c]) @ cell["W"] + s @ cell["R"] + cell["b"])  # s_t from s_{t-1}
            out = np.concatenate([s, c, x])
        else:
            s = np.tanh(np.concatenate([x, h_tilde]) @ cell["W"] + s @ cell["R"] + cell["b"])
            e = {"luong_dot": lambda: mem @ s, "luong_general": lambda: mem @ (s @ att["w"]),
                 "luong_concat": lambda: additive(s)}[attention]()  # e_s = score(s_t, h_s)
            a = _softmax_masked(e, L)
            h_tilde = np.tanh(np.concatenate([a @ mem, s]) @ P["combine"]["w"])  # attention from s_t
            out = h_tilde
        logits.append(out @ P["out"]["w"] + P["out"]["b"])
        alignment.append(a)
    return np.stack(logits), np.stack(alignment)


@pytest.mark.parametrize("attention", ["none", "bahdanau", "luong_dot", "luong_general", "luong_concat"])
def test_attention_decoder_matches_numpy_unrolled_equations(attention):
    Dm, S, L = 6, 7, 5
    dec = AttentionDecoder(V_TGT, Dm if attention == "luong_dot" else H, Dm, cell="elman", attention=attention,
                           embed_dim=5, attention_dim=4)
    params = dec.init(jax.random.key(1))
    memory = jax.random.normal(jax.random.key(2), (S, Dm))
    final = jax.random.normal(jax.random.key(3), (Dm,))
    out = dec.apply(params, memory, TGT, memory_lengths=L, final=final, deterministic=True,
                    return_alignment=attention != "none")
    logits, alignment = out if attention != "none" else (out, None)
    want_logits, want_alignment = numpy_decoder(attention, params, memory, L, final, TGT)
    np.testing.assert_allclose(logits, want_logits, atol=1e-5)
    if alignment is not None:
        np.testing.assert_allclose(alignment, want_alignment, atol=1e-6)
        assert np.all(np.asarray(alignment)[:, L:] == 0)  # padded source frames get no weight


def test_init_from_mean_is_the_mean_of_the_valid_memory_frames():
    dec = AttentionDecoder(V_TGT, H, 6, attention="none", init_from="mean")
    params = dec.init(jax.random.key(1))
    memory = jax.random.normal(jax.random.key(2), (7, 6))
    cache = dec.init_cache(params, memory, memory_lengths=3)
    np.testing.assert_allclose(cache["context"], memory[:3].mean(0), atol=1e-6)
    np.testing.assert_allclose(cache["carries"][0]["h"], jnp.tanh(memory[:3].mean(0) @ params["bridge"]["w"]
                                                                  + params["bridge"]["b"]), atol=1e-6)


def test_bidirectional_encoder_final_is_each_directions_last_valid_state():
    enc = RNNEncoder(H, input_size=3, cell="gru", bidirectional=True)
    params = enc.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (7, 3))
    memory, final = enc.apply(params, x, lengths=4, deterministic=True)
    layer = params["rnn"]["layers"][0]
    fwd, _ = recurrence.RNN(GRU(3, H)).apply(layer["forward"], x[:4])  # the valid part alone
    bwd, _ = recurrence.RNN(GRU(3, H)).apply(layer["backward"], x[:4][::-1])
    np.testing.assert_allclose(final, jnp.concatenate([fwd["h"], bwd["h"]]), atol=1e-5)
    assert memory.shape == (7, 2 * H) and np.all(np.asarray(memory)[4:] == 0)


def test_padding_of_source_and_target_changes_nothing_valid():
    m = model("luong_general", bidirectional=True)
    params = m.init(jax.random.key(0))
    apply = jax.jit(lambda s, t: m.apply(params, s, t, src_lengths=5, tgt_lengths=4, deterministic=True,
                                         return_alignment=True))
    logits, alignment = apply(SRC, TGT)
    other_src, other_tgt = SRC.at[5:].set(9), TGT.at[4:].set(1)  # different padding
    logits2, alignment2 = apply(other_src, other_tgt)
    np.testing.assert_allclose(logits, logits2, atol=1e-6)
    np.testing.assert_allclose(alignment, alignment2, atol=1e-6)
    assert np.all(np.asarray(logits)[4:] == 0)
    short = m.apply(params, SRC[:5], TGT[:4], deterministic=True)  # no padding at all
    np.testing.assert_allclose(logits[:4], short, atol=1e-5)


def test_scheduled_sampling_with_probability_one_is_free_running():
    m = model("bahdanau")
    params = m.init(jax.random.key(0))
    free = m.apply(params, SRC, TGT, src_lengths=5, deterministic=True, sampling_prob=1.0, key=jax.random.key(5))
    tokens, _ = m.greedy(params, SRC, src_lengths=5, max_len=TGT.shape[0], start_token=int(TGT[0]),
                         end_token=-1)  # never ends
    np.testing.assert_array_equal(np.argmax(free, -1), tokens)
    teacher = m.apply(params, SRC, TGT, src_lengths=5, deterministic=True)
    np.testing.assert_allclose(m.apply(params, SRC, TGT, src_lengths=5, deterministic=True, sampling_prob=0.0),
                               teacher)


def test_gradients_are_finite_with_dropout_and_scheduled_sampling():
    enc = RNNEncoder(H, vocab_size=V_SRC, bidirectional=True, drop_rate=0.2)
    m = RNNEncoderDecoder(enc, AttentionDecoder(V_TGT, H, 2 * H, attention="bahdanau", drop_rate=0.2))
    params = m.init(jax.random.key(0))

    def loss(p):
        logits = m.apply(p, SRC, TGT, src_lengths=5, tgt_lengths=6, key=jax.random.key(1), sampling_prob=0.3,
                         sampling="sample")
        return -jnp.mean(jax.nn.log_softmax(logits[:5])[jnp.arange(5), TGT[1:6]])

    grads = jax.grad(loss)(params)
    leaves = jax.tree.leaves(grads)
    assert all(np.isfinite(g).all() for g in leaves)
    assert sum(float(jnp.abs(g).sum()) for g in leaves) > 0


def test_bad_input_gives_clear_errors():
    m = model("bahdanau")
    params = m.init(jax.random.key(0))
    with pytest.raises(ValueError, match="empty sequence"):
        m.apply(params, SRC, TGT[:0], deterministic=True)
    with pytest.raises(ValueError, match="outside the vocabulary of 11"):
        m.apply(params, SRC.at[2].set(11), TGT, deterministic=True)
    with pytest.raises(ValueError, match=r"tgt\[1\] = -1 is outside the vocabulary of 9"):
        m.apply(params, SRC, TGT.at[1].set(-1), deterministic=True)
    with pytest.raises(ValueError, match="beam_width must be a positive int"):
        m.beam_search(params, SRC, beam_width=0, max_len=4)
    with pytest.raises(ValueError, match="needs a PRNG `key`"):
        m.apply(params, SRC, TGT, deterministic=True, sampling_prob=0.5)
    with pytest.raises(ValueError, match="must equal memory_dim"):
        AttentionDecoder(V_TGT, 8, 16, attention="luong_dot")
    with pytest.raises(ValueError, match="exactly one of vocab_size"):
        RNNEncoder(8)
    with pytest.raises(ValueError, match="init_from='final' needs"):
        AttentionDecoder(V_TGT, H, H).init_cache(params["decoder"], jnp.zeros((3, H)))
    with pytest.raises(ValueError, match="return_alignment needs attention"):
        model("none").apply(params, SRC, TGT, deterministic=True, return_alignment=True)
    transformer = EncoderDecoder(V_SRC, V_TGT, tf.Stack(tf.Block(8, 2, 16), 1),
                                 tf.Stack(tf.Block(8, 2, 16, causal=True, cross_attention=True), 1), max_len=6)
    tparams = transformer.init(jax.random.key(0))
    with pytest.raises(ValueError, match="the source has 7 tokens but the model holds positions for at most"):
        transformer.apply(tparams, SRC, TGT[:3], deterministic=True)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        transformer.apply(tparams, SRC[:5], TGT.at[0].set(V_TGT)[:3], deterministic=True)


def reversal_data(n, seed, max_len=6):
    """Sources of 2..max_len symbols (ids 4..9) padded with 0; targets BOS, the reversed source, EOS."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, max_len + 1, n)
    src = np.zeros((n, max_len), np.int32)
    tgt = np.zeros((n, max_len + 2), np.int32)
    for i, L in enumerate(lengths):
        src[i, :L] = rng.integers(4, 10, L)
        tgt[i, :L + 2] = [BOS_ID] + src[i, :L][::-1].tolist() + [EOS_ID]
    return jnp.asarray(src), jnp.asarray(lengths, jnp.int32), jnp.asarray(tgt), jnp.asarray(lengths + 2, jnp.int32)


@pytest.mark.slow  # about 2 minutes on a loaded 2-vCPU machine
def test_reversal_task_learns_to_exact_match_with_attention():
    enc = RNNEncoder(32, vocab_size=10, bidirectional=True, embed_dim=16)
    m = RNNEncoderDecoder(enc, AttentionDecoder(10, 32, 64, attention="bahdanau", embed_dim=16))
    src, src_len, tgt, tgt_len = reversal_data(1024, 0)

    def loss_fn(p):
        logits = jax.vmap(lambda s, t, ls, lt: m.apply(p, s, t, src_lengths=ls, tgt_lengths=lt,
                                                       deterministic=True))(src, tgt, src_len, tgt_len)
        logp = jnp.take_along_axis(jax.nn.log_softmax(logits[:, :-1]), tgt[:, 1:, None], -1)[..., 0]
        valid = jnp.arange(tgt.shape[1] - 1) < (tgt_len - 1)[:, None]
        return -(logp * valid).sum() / valid.sum()

    params, losses = adam_train(loss_fn, m.init(jax.random.key(0)), learning_rate=1e-2, steps=400)
    assert losses[-1] < 0.05 * losses[0]
    src, src_len, tgt, tgt_len = reversal_data(128, 1)  # held out
    tokens, lengths = jax.jit(jax.vmap(lambda s, l: m.greedy(params, s, src_lengths=l, max_len=8)))(src, src_len)
    exact = [np.array_equal(tokens[i, :lengths[i]], tgt[i, 1:tgt_len[i]]) for i in range(128)]
    assert np.mean(exact) == 1.0, np.mean(exact)
