"""Every attention kind inside a Transformer stack: outputs and gradients equal the same stack with dense
attention under the kind's mask (`sparse.*_mask`), or, for the Performer, with its feature-map formula
written out here; padding via lengths, causal and not, several blocks and heads. Plus the registry's
pass-through and the errors for what a kind cannot do."""

import dataclasses

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from experiments import models
from seqmodels.attention import linear, sparse
from seqmodels.attention.multi_head import AttentionKind, MultiHeadAttention
from seqmodels.models import heads
from seqmodels.models import transformer as tf

D, N, F, T = 16, 4, 32, 11  # T = 11 is no multiple of any block below: the kinds pad internally
LENGTHS = jnp.array([11, 7, 2])
BIGBIRD = dict(block_size=2, num_global_blocks=1, num_random_blocks=2, num_window_blocks=3, seed=3)

# kind, its dense [T, T] mask (for one example's length), extra Block fields
CASES = {
    "local": (AttentionKind("local", window=4),
              lambda causal, L: sparse.local_mask(T, window=4, causal=causal), {}),
    "strided": (AttentionKind("strided", stride=3),
                lambda causal, L: sparse.strided_mask(T, stride=3, causal=causal), {"rotary": True}),
    "fixed": (AttentionKind("fixed", stride=4, num_summary=2),
              lambda causal, L: sparse.fixed_mask(T, stride=4, num_summary=2, causal=causal), {"norm": "post"}),
    "longformer": (AttentionKind("longformer", window=2, global_tokens=2),
                   lambda causal, L: sparse.longformer_mask(T, window=2, global_tokens=2, causal=causal),
                   {"num_kv_heads": 2}),
    # BigBird's blocks come from the padded length 12 (and from L): the same key gives the same random blocks
    "bigbird": (AttentionKind("bigbird", **BIGBIRD),
                lambda causal, L: sparse.bigbird_mask(12, block_size=2, num_global_blocks=1, num_random_blocks=2,
                                                      causal=causal, key=jax.random.key(3), lengths=L)[:T, :T],
                {}),
}
DEFAULT = {("local", True), ("bigbird", True)}  # the rest is marked slow (each case compiles two stacks' gradients)


def cases():
    return [pytest.param(c, causal, marks=() if (c, causal) in DEFAULT else pytest.mark.slow)
            for c in CASES for causal in (False, True)]


def run(stack, params, xs, g, **kwargs):
    """Outputs [B, T, D] and the gradients (params, xs) of sum(y * g), with per-example kwargs vmapped."""
    def loss(params, xs):
        ys = jax.vmap(lambda x, kw: stack.apply(params, x, deterministic=True, **kw))(xs, kwargs)
        return jnp.sum(ys * g), ys

    (_, ys), grads = jax.jit(jax.value_and_grad(loss, argnums=(0, 1), has_aux=True))(params, xs)
    return ys, grads


def data(key):
    kx, kg = jax.random.split(key)
    xs = jax.random.normal(kx, (len(LENGTHS), T, D))
    return xs, jax.random.normal(kg, xs.shape)


def assert_same(a, b, atol=2e-5):
    jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, atol=atol, rtol=1e-4), a, b)


@pytest.mark.parametrize("case,causal", cases())
def test_sparse_stack_equals_dense_under_mask(case, causal):
    kind, mask_fn, extra = CASES[case]
    block = tf.Block(D, N, F, causal=causal, attn_kind=kind, **extra)
    stack, dense = tf.Stack(block, 2), tf.Stack(dataclasses.replace(block, attn_kind=AttentionKind()), 2)
    params = stack.init(jax.random.key(0))
    xs, g = data(jax.random.key(1))
    ys, grads = run(stack, params, xs, g, lengths=LENGTHS)
    mask = jax.vmap(lambda L: mask_fn(causal, L))(LENGTHS)  # [B, T, T]
    assert not mask[0].all(), "the pattern must leave keys out"
    want, want_grads = run(dense, params, xs, g, lengths=LENGTHS, mask=mask)
    assert_same(ys, want)
    assert_same(grads, want_grads)
    assert float(jnp.abs(ys[1, 7:]).max()) == 0.0  # padded rows


def performer_formula(q, k, v, features, *, causal, lengths=None, chunk_size=None):
    """FAVOR+ written out: phi(x) = exp(W x' - |x'|^2 / 2) / sqrt(M), x' = x / K^(1/4);
    out_t = sum_s phi(q_t).phi(k_s) v_s / sum_s phi(q_t).phi(k_s) over keys s < L (and s <= t).
    W: the features drawn from key(5) (not the ones passed: equal outputs show the model drew those)."""
    del chunk_size
    M, K = features.shape
    features = linear.init_features(jax.random.key(5), K, M)

    def phi(x):  # [..., K] -> [..., M]
        x = x * K ** -0.25
        return jnp.exp(x @ features.T - jnp.sum(x * x, -1, keepdims=True) / 2) / M ** 0.5

    scores = jnp.einsum("tnm,snm->nts", phi(q), phi(k))  # [N, T, S]
    t, s = np.arange(q.shape[0])[:, None], np.arange(k.shape[0])[None, :]
    allowed = (s < lengths) & ((s <= t) if causal else True)  # [T, S]
    scores = jnp.where(allowed, scores, 0.0)
    out = jnp.einsum("nts,snk->tnk", scores, v) / jnp.sum(scores, -1).T[..., None]  # [T, N, K]
    return jnp.where((t < lengths)[..., None], out, 0.0)


@pytest.mark.parametrize("causal", [pytest.param(False, marks=pytest.mark.slow), True])
def test_performer_stack_equals_its_formula(causal, monkeypatch):
    kind = AttentionKind("performer", num_features=8, seed=5)
    stack = tf.Stack(tf.Block(D, N, F, causal=causal, attn_kind=kind), 2)
    params = stack.init(jax.random.key(0))
    xs, g = data(jax.random.key(1))
    ys, grads = run(stack, params, xs, g, lengths=LENGTHS)
    monkeypatch.setattr(linear, "performer_attention", performer_formula)  # the same stack, the formula inside
    want, want_grads = run(stack, params, xs, g, lengths=LENGTHS)
    assert_same(ys, want, atol=1e-4)
    assert_same(grads, want_grads, atol=1e-4)


@pytest.mark.slow
def test_blockwise_stack_equals_dense():
    """The "dense blockwise" kind (attn_impl="blockwise"): tiles of 4 over T = 11, causal, padding."""
    block = tf.Block(D, N, F, causal=True, attn_impl="blockwise", block_size=4)
    stack, dense = tf.Stack(block, 2), tf.Stack(dataclasses.replace(block, attn_impl="dense"), 2)
    params = stack.init(jax.random.key(0))
    xs, g = data(jax.random.key(1))
    assert_same(run(stack, params, xs, g, lengths=LENGTHS), run(dense, params, xs, g, lengths=LENGTHS))


def test_last_rows():
    stack = tf.Stack(tf.Block(D, N, F, attn_kind=AttentionKind("local", window=4)), 2)
    params = stack.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (T, D))
    full, rows = jax.jit(lambda p: (stack.apply(p, x, lengths=9, deterministic=True),
                                    stack.apply(p, x, lengths=9, deterministic=True, last=3)))(params)
    np.testing.assert_allclose(rows, full[-3:], atol=1e-6)


def transformer_config(**fields):
    return ml_collections.ConfigDict(dict(name="tf", tf=dict(kind="transformer", d_model=D, num_heads=N, d_ff=F,
                                                            num_layers=2, **fields)))


def test_registry_passes_the_kind_through():
    spec = models.Spec(3, 5, output="class")
    model = models.build(transformer_config(attention="bigbird", block_size=2, num_global_blocks=1,
                                            num_random_blocks=2, attention_seed=3, window=99), spec)
    block = tf.Block(D, N, F, attn_kind=AttentionKind("bigbird", **BIGBIRD))
    by_hand = heads.SequenceClassifier(heads.transformer(tf.Stack(block, 2), 3), 5)
    params = model.init(jax.random.key(0))
    xs = jax.random.normal(jax.random.key(1), (3, T, 3))
    ys, want = (jax.jit(lambda p, m=m: m.apply_batch(p, xs, LENGTHS, deterministic=True))(params)
                for m in (model, by_hand))
    np.testing.assert_array_equal(ys, want)


@pytest.mark.parametrize("fields,message", [
    (dict(attention="local"), "needs window"),
    (dict(attention="local", window=6, block_size=4), "multiple of block_size"),
    (dict(attention="fixed", stride=4, num_summary=5), "num_summary <= stride"),
    (dict(attention="bigbird", num_window_blocks=2), "odd num_window_blocks"),
    (dict(attention="sparse"), "attention"),
])
def test_registry_errors(fields, message):
    with pytest.raises(models.ConfigError, match=message):
        models.build(transformer_config(**fields), models.Spec(3, 5, output="class"))


def test_what_a_kind_cannot_do():
    kind = AttentionKind("local", window=4)
    mha = MultiHeadAttention(num_heads=2, head_dim=4, kind=kind)
    params = mha.init(jax.random.key(0), D)
    x = jnp.ones((8, D))
    for call, what in [(lambda: mha.apply(params, x, jnp.ones((5, D))), "cross-attention"),
                       (lambda: mha.apply(params, x, mask=jnp.ones((8, 8), bool)), "extra mask"),
                       (lambda: mha.apply(params, x, return_weights=True), "return_weights"),
                       (lambda: mha.init_cache(8), "KV-cache"),
                       (lambda: tf.Block(D, N, F, causal=True, attn_kind=kind).init_cache(8), "KV-cache")]:
        with pytest.raises(ValueError, match=what):
            call()
    with pytest.raises(ValueError, match="dropout"):
        tf.Block(D, N, F, attn_kind=kind, attn_drop_rate=0.1)
    with pytest.raises(ValueError, match="AttentionKind"):
        tf.Block(D, N, F, attn_kind="local")
    # a decoder block's cross-attention stays dense under a sparse self-attention
    decoder = tf.Block(D, N, F, causal=True, cross_attention=True, attn_kind=kind)
    assert decoder.attention.kind == kind and decoder.cross.kind == AttentionKind()
