"""Transformer encoder-decoder: cached decoding (cross-attention keys and values in the cache or
re-projected) and generation against the full pass, a tiny copy task, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from seqmodels.models import transformer as tf
from seqmodels.models.encoder_decoder import EncoderDecoder
from tests.helpers import adam_train

D, N, F, T, V = 16, 4, 32, 8, 11


def ids_of(seed=1, length=T):
    return jax.random.randint(jax.random.key(seed), (length,), 0, V)


def seq2seq_spec(**block):
    return EncoderDecoder(13, V, tf.Stack(tf.Block(D, N, F), 1),
                          tf.Stack(tf.Block(D, N, F, causal=True, cross_attention=True, **block), 2), max_len=16)


@pytest.mark.parametrize("memory_in_cache", [False, True])
def test_encoder_decoder_cached_decoding_equals_full_pass(memory_in_cache):
    spec = seq2seq_spec()
    params = spec.init(jax.random.key(0))
    src, tgt = jax.random.randint(jax.random.key(2), (6,), 0, 13), ids_of()
    full = spec.apply(params, src, tgt, src_lengths=4, deterministic=True)

    @jax.jit
    def token_by_token(src, tgt):
        memory = spec.encode(params, src, src_lengths=4, deterministic=True)
        # with the keys and values of `memory` in the cache, decode gets no memory: it cannot re-project it
        cache = spec.init_cache(T, params=params, memory=memory) if memory_in_cache else spec.init_cache(T)

        def step(cache, token):
            cache, logits = spec.decode(params, cache, None if memory_in_cache else memory, token[None],
                                        src_lengths=4)
            return cache, logits[0]
        return jax.lax.scan(step, cache, tgt)[1]

    np.testing.assert_allclose(token_by_token(src, tgt), full, atol=1e-4)


def test_encoder_decoder_memory_kv_is_the_cross_attention_projection():
    spec = seq2seq_spec(num_kv_heads=2)
    params = spec.init(jax.random.key(0))
    memory = jax.random.normal(jax.random.key(3), (6, D))
    kv = spec.init_cache(T, params=params, memory=memory)["memory_kv"]
    for i in range(2):
        cross = params["decoder"][f"layer_{i}"]["cross"]
        np.testing.assert_allclose(kv[f"layer_{i}"]["k"], (memory @ cross["key"]["w"]
                                                           + cross["key"]["b"]).reshape(6, 2, D // N), atol=1e-5)
        np.testing.assert_allclose(kv[f"layer_{i}"]["v"], (memory @ cross["value"]["w"]
                                                           + cross["value"]["b"]).reshape(6, 2, D // N), atol=1e-5)


def test_encoder_decoder_greedy_generate_equals_repeated_full_passes():
    spec = seq2seq_spec()
    params = spec.init(jax.random.key(0))
    src = jax.random.randint(jax.random.key(2), (6,), 0, 13)
    prompt = ids_of(length=2)
    out = jax.jit(lambda s, p: spec.generate(params, s, p, 4, src_lengths=5))(src, prompt)
    full = jax.jit(lambda tgt: spec.apply(params, src, tgt, src_lengths=5, deterministic=True))
    expected = jnp.zeros(6, prompt.dtype).at[:2].set(prompt)
    for n in range(2, 6):
        expected = expected.at[n].set(jnp.argmax(full(expected)[n - 1]).astype(prompt.dtype))
    np.testing.assert_array_equal(out, expected)


def test_encoder_decoder_sampling_at_low_temperature_is_greedy():
    spec = seq2seq_spec()
    params = spec.init(jax.random.key(0))
    src, prompt = jax.random.randint(jax.random.key(2), (6,), 0, 13), ids_of(length=2)
    greedy = spec.generate(params, src, prompt, 4, src_lengths=5)
    # temperature traced (a jit argument), as a sampling sweep would pass it
    sample = jax.jit(lambda t, k: spec.generate(params, src, prompt, 4, src_lengths=5, key=k, temperature=t))
    np.testing.assert_array_equal(sample(1e-6, jax.random.key(7)), greedy)
    hot = [sample(100.0, jax.random.key(k)) for k in range(4)]  # near-uniform: the samples differ
    assert len({tuple(np.asarray(h[2:])) for h in hot}) > 1


def test_encoder_decoder_decode_needs_memory_or_memory_kv():
    spec = seq2seq_spec()
    params = spec.init(jax.random.key(0))
    memory = jnp.zeros((6, D))
    with pytest.raises(ValueError, match="pass the encoder output"):
        spec.decode(params, spec.init_cache(T), None, ids_of(length=1))
    with pytest.raises(ValueError, match="memory needs params"):
        spec.init_cache(T, memory=memory)
    with pytest.raises(ValueError, match="params given without memory"):
        spec.init_cache(T, params=params)
    with pytest.raises(ValueError, match="pass memory=None"):  # not silently the cached source's
        spec.decode(params, spec.init_cache(T, params=params, memory=memory), memory, ids_of(length=1))
    with pytest.raises(ValueError, match=r"memory of shape \[S, 16\] \(one example"):
        spec.init_cache(T, params=params, memory=jnp.zeros((2, 6, D)))
    with pytest.raises(ValueError, match=r"expected a prompt of shape \[P\]"):
        spec.generate(params, ids_of(length=6), jnp.zeros((), jnp.int32), 2)
    with pytest.raises(ValueError, match="temperature > 0"):
        spec.generate(params, ids_of(length=6), ids_of(length=1), 2, key=jax.random.key(0), temperature=0.0)


# --------------------------------------------------------------------------- training


def _train(loss, params, steps, lr=3e-3):
    params, losses = adam_train(loss, params, learning_rate=lr, steps=steps)
    return losses[0], loss(params), params


def test_encoder_decoder_learns_to_copy():
    spec = EncoderDecoder(V, V, tf.Stack(tf.Block(D, N, F), 1),
                          tf.Stack(tf.Block(D, N, F, causal=True, cross_attention=True), 1), max_len=16)
    src = jax.random.randint(jax.random.key(3), (4, 6), 1, V)
    tgt_in = jnp.concatenate([jnp.zeros((4, 1), src.dtype), src[:, :-1]], axis=1)  # BOS = 0, then shifted

    def loss(p):
        logits = jax.vmap(lambda s, t: spec.apply(p, s, t, deterministic=True))(src, tgt_in)
        return optax.softmax_cross_entropy_with_integer_labels(logits, src).mean()
    first, last, _ = _train(loss, spec.init(jax.random.key(0)), 60, lr=1e-2)
    assert last < 0.3 * first


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("make, match", [
    (lambda: EncoderDecoder(V, V, tf.Stack(tf.Block(D, N, F), 1), tf.Stack(tf.Block(D, N, F, causal=True), 1)),
     "cross_attention=True"),
    (lambda: EncoderDecoder(V, V, tf.Stack(tf.Block(D, N, F, causal=True), 1),
                            tf.Stack(tf.Block(D, N, F, causal=True, cross_attention=True), 1)), "non-causal"),
])
def test_bad_input_raises(make, match):
    with pytest.raises(ValueError, match=match):
        make()
