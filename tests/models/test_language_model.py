"""Decoder-only language model: KV-cache decoding and generation against the full pass, causality and
padding properties, a tiny training run, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given
from hypothesis import strategies as st

from seqmodels.models import transformer as tf
from seqmodels.models.language_model import LanguageModel
from tests.helpers import adam_train

D, N, F, T, V = 16, 4, 32, 8, 11


def lm_spec(norm="pre", positional="sinusoidal", rotary=False, num_kv_heads=None, impl="auto", layers=2):
    block = tf.Block(D, N, F, causal=True, norm=norm, rotary=rotary, num_kv_heads=num_kv_heads, attn_impl=impl)
    return LanguageModel(V, tf.Stack(block, layers), max_len=16, positional=positional)


def ids_of(seed=1, length=T):
    return jax.random.randint(jax.random.key(seed), (length,), 0, V)


@pytest.mark.parametrize("spec", [
    lm_spec(),
    lm_spec(norm="post", positional="learned"),
    lm_spec(positional="none", rotary=True, num_kv_heads=2),
])
def test_lm_cached_decoding_equals_full_pass(spec):
    params = spec.init(jax.random.key(0))
    ids = ids_of()
    full = spec.apply(params, ids, deterministic=True)

    @jax.jit
    def token_by_token(ids):
        def step(cache, token):
            cache, logits = spec.decode(params, cache, token[None])
            return cache, logits[0]
        return jax.lax.scan(step, spec.init_cache(T), ids)[1]

    np.testing.assert_allclose(token_by_token(ids), full, atol=1e-4)


def test_greedy_generate_equals_repeated_full_passes():
    spec = lm_spec()
    params = spec.init(jax.random.key(0))
    prompt = ids_of(length=3)
    out = jax.jit(lambda p: spec.generate(params, p, 4))(prompt)
    # Reference: the full (uncached) pass on the text so far, right-padded to 7 tokens (causal, so
    # the padding does not matter), then argmax at the last real position.
    full = jax.jit(lambda ids: spec.apply(params, ids, deterministic=True))
    expected = jnp.zeros(7, prompt.dtype).at[:3].set(prompt)
    for n in range(3, 7):
        expected = expected.at[n].set(jnp.argmax(full(expected)[n - 1]).astype(prompt.dtype))
    np.testing.assert_array_equal(out, expected)


# --------------------------------------------------------------------------- properties


CAUSAL_LM = lm_spec(rotary=True, impl="blockwise")
CAUSAL_PARAMS = CAUSAL_LM.init(jax.random.key(0))
CAUSAL_LOGITS = jax.jit(lambda ids, n: CAUSAL_LM.apply(CAUSAL_PARAMS, ids, lengths=n, deterministic=True))


@given(t=st.integers(0, T - 1), seed=st.integers(0, 2 ** 16))
def test_lm_is_causal(t, seed):
    ids = ids_of()
    changed = jnp.where(jnp.arange(T) >= t, ids_of(seed), ids)
    np.testing.assert_allclose(CAUSAL_LOGITS(changed, T)[:t], CAUSAL_LOGITS(ids, T)[:t], atol=1e-5)


@given(length=st.integers(1, T), seed=st.integers(0, 2 ** 16))
def test_lm_padding_invariance(length, seed):
    ids = ids_of()
    changed = jnp.where(jnp.arange(T) >= length, ids_of(seed), ids)
    a, b = CAUSAL_LOGITS(ids, length), CAUSAL_LOGITS(changed, length)
    np.testing.assert_allclose(b, a, atol=1e-5)
    np.testing.assert_array_equal(a[length:], 0.0)


# --------------------------------------------------------------------------- training


def _train(loss, params, steps, lr=3e-3):
    params, losses = adam_train(loss, params, learning_rate=lr, steps=steps)
    return losses[0], loss(params), params


def test_lm_loss_goes_down_and_samples():
    spec = lm_spec(layers=1)
    ids = jnp.tile(jnp.arange(4), 4)  # 0 1 2 3 0 1 2 3 ...: predictable
    def loss(p):
        logits = spec.apply(p, ids[:-1], deterministic=True)
        return optax.softmax_cross_entropy_with_integer_labels(logits, ids[1:]).mean()
    first, last, params = _train(loss, spec.init(jax.random.key(0)), 40)
    assert last < 0.3 * first
    sample = jax.jit(lambda k: spec.generate(params, ids[:4], 8, key=k, temperature=0.1))(jax.random.key(0))
    np.testing.assert_array_equal(sample, ids[:12])  # the trained model continues the pattern


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("make, match", [
    (lambda: LanguageModel(V, tf.Stack(tf.Block(D, N, F), 1)), "causal=True"),
    (lambda: lm_spec().apply(lm_spec().init(jax.random.key(0)), jnp.zeros(20, int)), "longer than max_len=16"),
    (lambda: lm_spec(positional="rotary").init(jax.random.key(0)), "positional must be one of"),
])
def test_bad_input_raises(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# --------------------------------------------------------------------------- GPT-2 / nanoGPT options


def test_default_embedding_is_unchanged_vaswani():
    """The defaults draw E ~ N(0, 1/D) with the same key as before the options existed and scale by sqrt(D)."""
    spec, key, ids = lm_spec(positional="learned"), jax.random.key(3), ids_of()
    params = spec.init(key)
    k_embed = jax.random.split(key, 3)[0]
    k_tokens, k_positions = jax.random.split(k_embed)
    table = D ** -0.5 * jax.random.normal(k_tokens, (V, D))
    np.testing.assert_array_equal(params["embed"]["tokens"]["table"], table)
    np.testing.assert_array_equal(params["embed"]["positions"]["table"], 0.02 * jax.random.normal(k_positions, (16, D)))
    x = spec._embed(params["embed"], ids, jnp.arange(T))
    np.testing.assert_allclose(x, np.sqrt(D) * table[ids] + params["embed"]["positions"]["table"][:T], rtol=1e-6)


def test_gpt2_options_embedding_and_weights():
    block = tf.Block(D, N, F, causal=True)
    plain = LanguageModel(V, tf.Stack(block, 2), max_len=16, positional="learned")
    spec = LanguageModel(V, tf.Stack(block, 2), max_len=16, positional="learned", embed_scale=False,
                         embed_stddev=0.02, weight_init="gpt2")
    key, ids = jax.random.key(3), ids_of()
    params, before = spec.init(key), plain.init(key)
    table = params["embed"]["tokens"]["table"]
    np.testing.assert_allclose(table, 0.02 * D ** 0.5 * before["embed"]["tokens"]["table"], rtol=1e-6)
    x = spec._embed(params["embed"], ids, jnp.arange(T))  # x_t = E[id_t] + p_t, unscaled
    np.testing.assert_allclose(x, table[ids] + params["embed"]["positions"]["table"][:T], rtol=1e-6)
    layers = [params["decoder"][f"layer_{i}"] for i in range(2)]
    residual = np.concatenate([np.ravel(l[a]["out"]["w"]) for l in layers for a in ("attn", "mlp")])
    others = np.concatenate([np.ravel(l[a][b]["w"]) for l in layers
                             for a, b in (("attn", "query"), ("attn", "key"), ("attn", "value"), ("mlp", "in"))])
    assert abs(others.std() - 0.02) < 0.002 and abs(others.mean()) < 0.002  # 2560 draws of N(0, 0.02^2)
    assert abs(residual.std() - 0.01) < 0.0015  # 0.02 / sqrt(2 L), L = 2: 1536 draws
    for l, b in zip(layers, [before["decoder"][f"layer_{i}"] for i in range(2)]):  # biases and norms untouched
        np.testing.assert_array_equal(l["attn"]["out"]["b"], b["attn"]["out"]["b"])
        np.testing.assert_array_equal(l["mlp_norm"]["scale"], b["mlp_norm"]["scale"])
    full = spec.apply(params, ids, deterministic=True)  # the cache path uses the options too
    cache, step = spec.init_cache(T), []
    for t in range(T):
        cache, logits = spec.decode(params, cache, ids[t:t + 1])
        step.append(logits[0])
    np.testing.assert_allclose(jnp.stack(step), full, atol=1e-4)


def test_bad_weight_init_raises():
    with pytest.raises(ValueError, match="weight_init must be one of"):
        LanguageModel(V, tf.Stack(tf.Block(D, N, F, causal=True), 1), weight_init="xavier")
