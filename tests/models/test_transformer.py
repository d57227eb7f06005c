"""Transformers: blocks against a flax.linen reference with copied weights, KV-cache decoding against
the full pass, causality and padding properties, tiny training runs, bad input."""

import flax.linen as fnn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given
from hypothesis import strategies as st

from seqmodels.models import transformer as tf
from tests.helpers import adam_train

D, N, F, T, V = 16, 4, 32, 8, 11


# --------------------------------------------------------------------------- flax reference


class FlaxBlock(fnn.Module):
    """The textbook block written with flax.linen layers (pre- or post-norm, optional cross-attention)."""

    pre_norm: bool
    cross: bool = False

    @fnn.compact
    def __call__(self, x, memory=None, self_mask=None, cross_mask=None):
        def attn(name):
            return fnn.MultiHeadDotProductAttention(num_heads=N, qkv_features=D, deterministic=True, name=name)

        def norm(name):
            return fnn.LayerNorm(epsilon=1e-6, name=name)

        def sublayer(x, branch, name):
            if self.pre_norm:
                return x + branch(norm(name)(x))
            return norm(name)(x + branch(x))

        x = sublayer(x, lambda h: attn("attn")(h, h, mask=self_mask), "attn_norm")
        if self.cross:
            x = sublayer(x, lambda h: attn("cross")(h, memory, mask=cross_mask), "cross_norm")
        mlp = lambda h: fnn.Dense(D, name="mlp_out")(jax.nn.gelu(fnn.Dense(F, name="mlp_in")(h)))  # noqa: E731
        return sublayer(x, mlp, "mlp_norm")


def from_flax(p, cross):
    """flax params -> our Block params."""
    def mha(a):
        out = {n: {"w": a[n]["kernel"].reshape(D, -1), "b": a[n]["bias"].reshape(-1)}
               for n in ("query", "key", "value")}
        out["out"] = {"w": a["out"]["kernel"].reshape(-1, D), "b": a["out"]["bias"]}
        return out

    ours = {"attn": mha(p["attn"]), "attn_norm": dict(p["attn_norm"]),
            "mlp": {"in": {"w": p["mlp_in"]["kernel"], "b": p["mlp_in"]["bias"]},
                    "out": {"w": p["mlp_out"]["kernel"], "b": p["mlp_out"]["bias"]}},
            "mlp_norm": dict(p["mlp_norm"])}
    if cross:
        ours["cross"], ours["cross_norm"] = mha(p["cross"]), dict(p["cross_norm"])
    return ours


@pytest.mark.parametrize("norm", ["pre", "post"])
@pytest.mark.parametrize("kind", ["encoder", "decoder"])
def test_block_matches_flax(norm, kind):
    """Block = the flax block (copied weights); with last=L its last L rows alone."""
    cross = kind == "decoder"
    x = jax.random.normal(jax.random.key(0), (T, D))
    memory = jax.random.normal(jax.random.key(1), (5, D))
    flax_block = FlaxBlock(pre_norm=norm == "pre", cross=cross)
    if cross:
        self_mask = fnn.make_causal_mask(jnp.ones((1, T)))
        cross_mask = fnn.make_attention_mask(jnp.ones((1, T), bool), jnp.arange(5)[None] < 3)
        variables = flax_block.init(jax.random.key(2), x[None], memory[None], self_mask, cross_mask)
        ref = flax_block.apply(variables, x[None], memory[None], self_mask, cross_mask)[0]
    else:
        valid = jnp.arange(T) < 6
        self_mask = fnn.make_attention_mask(valid, valid)[None]
        variables = flax_block.init(jax.random.key(2), x[None], None, self_mask)
        ref = flax_block.apply(variables, x[None], None, self_mask)[0]
    block = tf.Block(D, N, F, causal=cross, cross_attention=cross, norm=norm)
    params = from_flax(variables["params"], cross)
    assert jax.tree.structure(params) == jax.tree.structure(block.init(jax.random.key(0)))
    if cross:
        ours = block.apply(params, x, memory, memory_lengths=3)
        np.testing.assert_allclose(ours, ref, atol=1e-5, rtol=1e-5)
    else:
        ours = block.apply(params, x, lengths=6)
        np.testing.assert_allclose(ours[:6], ref[:6], atol=1e-5, rtol=1e-5)
        np.testing.assert_array_equal(ours[6:], 0.0)
    kw = dict(memory=memory, memory_lengths=3) if cross else dict(lengths=6)
    for last in (1, 3, T):  # only the last rows computed (last=): the same rows
        rows = block.apply(params, x, last=last, **kw)
        assert rows.shape == (last, D)
        np.testing.assert_allclose(rows, ours[T - last:], atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("spec", [
    dict(), dict(causal=True), dict(norm="post", norm_type="rms"), dict(causal=True, rotary=True, num_kv_heads=2),
    dict(causal=True, attn_impl="blockwise", block_size=4), dict(causal=True, cross_attention=True),
])
@pytest.mark.parametrize("lengths", [None, 6, 2, np.uint8(2)])
def test_stack_last_rows_equal_the_full_pass(spec, lengths):
    """Stack.apply(last=L): the layers below run in full, the final one computes L rows; values and
    gradients equal the full pass's last rows (padding rows among them are zeros in both)."""
    stack = tf.Stack(tf.Block(D, N, F, **spec), 2)
    params = stack.init(jax.random.key(0))
    noise = jax.random.split(jax.random.key(3), len(jax.tree.leaves(params)))  # non-zero biases: padding shows
    params = jax.tree.unflatten(jax.tree.structure(params), [
        p + 0.1 * jax.random.normal(k, p.shape) for p, k in zip(jax.tree.leaves(params), noise)])
    x = jax.random.normal(jax.random.key(1), (T, D))
    memory = jax.random.normal(jax.random.key(2), (5, D)) if spec.get("cross_attention") else None
    run = lambda p, last=None: stack.apply(p, x, memory, lengths=lengths, deterministic=True, last=last)  # noqa: E731
    full = run(params)
    for last in (1, 3):
        np.testing.assert_allclose(run(params, last), full[T - last:], atol=1e-5, rtol=1e-5)
    g_last = jax.grad(lambda p: jnp.sum(run(p, 3) ** 2))(params)
    g_full = jax.grad(lambda p: jnp.sum(run(p)[T - 3:] ** 2))(params)
    for a, b in zip(jax.tree.leaves(g_last), jax.tree.leaves(g_full)):
        np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-4)


# --------------------------------------------------------------------------- cached decoding


def lm_spec(norm="pre", positional="sinusoidal", rotary=False, num_kv_heads=None, impl="auto", layers=2):
    block = tf.Block(D, N, F, causal=True, norm=norm, rotary=rotary, num_kv_heads=num_kv_heads, attn_impl=impl)
    return tf.LanguageModel(V, tf.Stack(block, layers), max_len=16, positional=positional)


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


def seq2seq_spec(**block):
    return tf.EncoderDecoder(13, V, tf.Stack(tf.Block(D, N, F), 1),
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


def test_classifier_padding_invariance_and_shapes():
    spec = tf.Classifier(tf.Stack(tf.Block(D, N, F, norm="post"), 1), num_classes=3, input_dim=5, pool="attention")
    params = spec.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (2, T, 5))
    lengths = jnp.array([T, 3])
    f = jax.jit(jax.vmap(lambda x, n: spec.apply(params, x, lengths=n, deterministic=True)))
    out = f(x, lengths)
    assert out.shape == (2, 3)
    np.testing.assert_allclose(f(x.at[1, 3:].set(50.0), lengths), out, atol=1e-5)


@pytest.mark.parametrize("norm_type", ["layer", "rms"])
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_shapes_and_dtypes(norm_type, dtype):
    block = tf.Block(D, N, F, norm_type=norm_type, activation="relu", drop_rate=0.1, attn_drop_rate=0.1)
    stack = tf.Stack(block, 2)
    params = stack.init(jax.random.key(0), dtype=dtype)
    assert all(leaf.dtype == dtype for leaf in jax.tree.leaves(params))
    x = jnp.ones((T, D), dtype)
    y = stack.apply(params, x, key=jax.random.key(1))
    assert y.shape == (T, D) and y.dtype == dtype
    np.testing.assert_array_equal(stack.apply(params, x, deterministic=True),
                                  stack.apply(params, x, deterministic=True))


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


def test_encoder_decoder_learns_to_copy():
    spec = tf.EncoderDecoder(V, V, tf.Stack(tf.Block(D, N, F), 1),
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
    (lambda: tf.Block(10, 4, 8), "not divisible by num_heads"),
    (lambda: tf.Block(D, N, F, norm="sandwich"), "norm must be one of"),
    (lambda: tf.Block(D, N, F, activation="swish2"), "unknown activation"),
    (lambda: tf.LanguageModel(V, tf.Stack(tf.Block(D, N, F), 1)), "causal=True"),
    (lambda: tf.EncoderDecoder(V, V, tf.Stack(tf.Block(D, N, F), 1), tf.Stack(tf.Block(D, N, F, causal=True), 1)),
     "cross_attention=True"),
    (lambda: tf.Classifier(tf.Stack(tf.Block(D, N, F), 1), 2), "exactly one of"),
    (lambda: tf.Block(D, N, F).apply(tf.Block(D, N, F).init(jax.random.key(0)), jnp.ones((T, 3))),
     r"expected x of shape \[T, 16\]"),
    (lambda: tf.Block(D, N, F, causal=True, cross_attention=True).apply(
        tf.Block(D, N, F, causal=True, cross_attention=True).init(jax.random.key(0)), jnp.ones((T, D))),
     "memory of shape"),
    (lambda: tf.Block(D, N, F).init_cache(4), "causal block"),
    (lambda: tf.Block(D, N, F).apply(tf.Block(D, N, F).init(jax.random.key(0)), jnp.ones((T, D)), last=T + 1),
     r"Block: last must be an int in 1..T=8"),
    (lambda: tf.Stack(tf.Block(D, N, F), 2).apply(tf.Stack(tf.Block(D, N, F), 2).init(jax.random.key(0)),
                                                  jnp.ones((T, D)), last=0), r"Stack: last must be an int"),
    (lambda: tf.Stack(tf.Block(D, N, F), 2).apply(tf.Stack(tf.Block(D, N, F), 2).init(jax.random.key(0)),
                                                  jnp.ones((T,)), last=1), r"expected x of shape \[T, 16\]"),
    (lambda: lm_spec().apply(lm_spec().init(jax.random.key(0)), jnp.zeros(20, int)), "longer than max_len=16"),
])
def test_bad_input_raises(make, match):
    with pytest.raises(ValueError, match=match):
        make()
