"""Greedy and beam search (seqmodels.models.decoding) on the RNN and Transformer encoder-decoders: beam
width 1 is greedy, a beam never scores below greedy, an unpruned beam ranks every sequence as brute-force
enumeration does, the scores are the teacher-forced rescoring of the tokens, vmap over a batch."""

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from seqmodels.models import decoding
from seqmodels.models import transformer as tf
from seqmodels.models.encoder_decoder import EncoderDecoder
from seqmodels.models.rnn_seq2seq import AttentionDecoder, RNNEncoder, RNNEncoderDecoder

V_SRC, START, END = 7, 0, 2
SRC = jnp.array([4, 5, 6, 3, 1, 0])


def rnn(V):
    enc = RNNEncoder(8, vocab_size=V_SRC, bidirectional=True)
    return RNNEncoderDecoder(enc, AttentionDecoder(V, 8, 16, attention="bahdanau", embed_dim=4))


def transformer(V):
    return EncoderDecoder(V_SRC, V, tf.Stack(tf.Block(8, 2, 16), 1),
                          tf.Stack(tf.Block(8, 2, 16, causal=True, cross_attention=True), 1), max_len=16)


MODELS = {"rnn": rnn, "transformer": transformer}


def decoder_of(m, params, src, max_len):
    """(decode(cache, ids), cache) of either model, as its greedy/beam_search methods build them."""
    if isinstance(m, RNNEncoderDecoder):
        return m.start_decoding(params, src, src_lengths=4)
    return m.start_decoding(params, src, max_len=max_len, src_lengths=4)


def scale(params, factor):
    """Sharper output distributions (random models are nearly uniform, where every search ties)."""
    return jax.tree.map(lambda x: x * factor, params)


@pytest.mark.parametrize("name", ["rnn", "transformer"])
def test_beam_width_one_is_greedy(name):
    m, L = MODELS[name](6), 7
    params = scale(m.init(jax.random.key(3)), 3.0)

    @jax.jit
    def both(src):
        decode, cache = decoder_of(m, params, src, L)
        g_tokens, g_len = m.greedy(params, src, src_lengths=4, max_len=L, start_token=START, end_token=END)
        b_tokens, b_score, b_len = m.beam_search(params, src, src_lengths=4, beam_width=1, max_len=L,
                                                 start_token=START, end_token=END)
        g_score = decoding.score(decode, cache, START, g_tokens, g_len)
        return g_tokens, g_len, g_score, b_tokens[0], b_len[0], b_score[0]

    for seed in range(3):
        g_tokens, g_len, g_score, b_tokens, b_len, b_score = both(jax.random.permutation(jax.random.key(seed), SRC))
        np.testing.assert_array_equal(b_tokens, g_tokens)
        assert int(b_len) == int(g_len)
        np.testing.assert_allclose(b_score, g_score, rtol=1e-5)


def test_greedy_pads_with_the_end_token_after_the_end():
    calls = []

    def decode(cache, ids):  # always predicts (last token + 1) mod 5: 0 -> 1 -> 2 (END) -> ...
        calls.append(ids.shape)
        return cache, jax.nn.one_hot((ids + 1) % 5, 5)

    tokens, length = decoding.greedy(decode, {}, START, max_len=6, end_token=END)
    np.testing.assert_array_equal(tokens, [1, 2, 2, 2, 2, 2])
    assert int(length) == 2 and calls == [(1,)]  # one traced step: a lax.scan, not a Python loop


@given(seed=st.integers(0, 2**16), beam_width=st.sampled_from([2, 3]), alpha=st.sampled_from([0.0, 0.6, 1.0]))
def test_a_beam_never_scores_below_greedy(seed, beam_width, alpha):
    params = scale(SEARCH_MODEL.init(jax.random.key(seed)), 2.0)
    src = jax.random.permutation(jax.random.key(seed), SRC)
    greedy_score, beam_scores, rescored = search_vs_greedy(params, src, jnp.float32(alpha), beam_width)
    assert float(beam_scores[0]) >= float(greedy_score) - 1e-5
    assert np.all(np.diff(np.asarray(beam_scores)) <= 1e-6)  # best first
    np.testing.assert_allclose(rescored, beam_scores, rtol=1e-5)  # the scores are the hypotheses' own


SEARCH_MODEL = rnn(5)


@functools.partial(jax.jit, static_argnums=3)
def search_vs_greedy(params, src, alpha, beam_width, L=5):
    """(greedy's score, the beam's scores [K], the beam's hypotheses rescored teacher forced [K])."""
    decode, cache = decoder_of(SEARCH_MODEL, params, src, L)
    g_tokens, g_len = decoding.greedy(decode, cache, START, max_len=L, end_token=END)
    tokens, scores, lengths = decoding.beam_search(decode, cache, START, beam_width=beam_width, max_len=L,
                                                   end_token=END, length_penalty=alpha)
    rescore = jax.vmap(lambda t, n: decoding.score(decode, cache, START, t, n, length_penalty=alpha))
    return (decoding.score(decode, cache, START, g_tokens, g_len, length_penalty=alpha), scores,
            rescore(tokens, lengths))


def test_the_greedy_path_survives_when_a_beam_drops_it_midway():
    """A Markov chain where a beam of 2 drops greedy's prefix at step 2 and ends below it (plain beam
    search is not monotone in K); the greedy row brings it back. Tokens: 0 start, 1 a, 2 END, 3 b, 4 x, 5 y."""
    P = np.full((6, 6), 1e-9)
    P[0, [1, 3, 2, 4, 5]] = [.36, .34, .1, .1, .1]  # start -> a or b
    P[1, [2, 4, 5, 1, 3]] = [.3, .25, .25, .1, .1]  # a -> END: greedy is a END, p = .108
    P[3, [4, 5]] = [.55, .45]  # b x (.187) and b y (.153) push a END (.108) out of the beam
    P[4, [2, 1, 3, 4, 5]] = P[5, [2, 1, 3, 4, 5]] = [.1, .3, .3, .15, .15]  # then every 3-token path < .108
    table = jnp.log(jnp.asarray(P / P.sum(1, keepdims=True), jnp.float32))
    decode = lambda cache, ids: (cache, table[ids])  # noqa: E731
    tokens, scores, lengths = decoding.beam_search(decode, {}, 0, beam_width=2, max_len=3, end_token=END,
                                                   length_penalty=0.0)
    np.testing.assert_array_equal(tokens, [[1, 2, 2], [3, 4, 1]])  # greedy's, then the beam's own best
    np.testing.assert_allclose(scores, np.log([.36 * .3, .34 * .55 * .3]), rtol=1e-4)
    np.testing.assert_array_equal(lengths, [2, 3])


def all_sequences(V, L):
    """Every output of at most L tokens: ending at the first END, or L tokens without END."""
    others = [v for v in range(V) if v != END]
    for n in range(1, L + 1):
        for prefix in itertools.product(others, repeat=n - 1):
            yield list(prefix) + [END] + [END] * (L - n), n
    for seq in itertools.product(others, repeat=L):
        yield list(seq), L


@pytest.mark.parametrize("name, alpha", [("rnn", 0.6), ("transformer", 1.0)])
def test_unpruned_beam_ranks_every_sequence_like_brute_force(name, alpha):
    V, L = 3, 4
    m = MODELS[name](V)
    params = scale(m.init(jax.random.key(4)), 3.0)
    seqs = list(all_sequences(V, L))  # 2^4 + (1 + 2 + 4 + 8) = 31
    K = len(seqs) + 1  # room for all, one row left empty

    @jax.jit
    def go(src, tokens, lengths):
        decode, cache = decoder_of(m, params, src, L)
        scores = jax.vmap(lambda t, n: decoding.score(decode, cache, START, t, n, length_penalty=alpha))(tokens,
                                                                                                         lengths)
        return scores, decoding.beam_search(decode, cache, START, beam_width=K, max_len=L, end_token=END,
                                            length_penalty=alpha)

    tokens = jnp.array([s for s, _ in seqs], jnp.int32)
    lengths = jnp.array([n for _, n in seqs], jnp.int32)
    brute, (b_tokens, b_scores, b_lengths) = go(SRC, tokens, lengths)
    order = np.argsort(-np.asarray(brute), kind="stable")
    np.testing.assert_allclose(b_scores[:-1], np.asarray(brute)[order], rtol=1e-5)
    assert b_scores[-1] == -np.inf
    np.testing.assert_array_equal(b_tokens[0], tokens[order[0]])
    assert int(b_lengths[0]) == int(lengths[order[0]])
    found = {tuple(t) for t in np.asarray(b_tokens[:-1])}
    assert found == {tuple(s) for s, _ in seqs}  # every sequence once, padded with END after its end


def test_beam_search_vmaps_over_a_batch_of_sources():
    m = transformer(6)
    params = scale(m.init(jax.random.key(0)), 3.0)
    srcs = jnp.stack([jax.random.permutation(jax.random.key(s), SRC) for s in range(3)])
    search = lambda s: m.beam_search(params, s, src_lengths=4, beam_width=3, max_len=5, start_token=START,  # noqa
                                     end_token=END)
    batched = jax.jit(jax.vmap(search))(srcs)
    one = jax.jit(search)
    for i in range(3):
        for got, want in zip(batched, one(srcs[i])):
            np.testing.assert_allclose(got[i], want, rtol=1e-5)


def test_bad_search_arguments():
    decode = lambda cache, ids: (cache, jnp.zeros((ids.shape[0], 4)))  # noqa: E731
    with pytest.raises(ValueError, match="beam_width must be a positive int"):
        decoding.beam_search(decode, {}, START, beam_width=0, max_len=3, end_token=END)
    with pytest.raises(ValueError, match="max_len must be a positive int"):
        decoding.greedy(decode, {}, START, max_len=0, end_token=END)
    m = transformer(6)
    with pytest.raises(ValueError, match="cannot decode max_len=17"):
        m.greedy(m.init(jax.random.key(0)), SRC, max_len=17)
