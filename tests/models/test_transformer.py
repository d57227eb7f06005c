"""Transformer blocks and stacks: blocks against a flax.linen reference with copied weights, the `last=`
rows against the full pass, shapes and dtypes, the classifier's padding, bad input."""

import flax.linen as fnn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from seqmodels.models import transformer as tf

D, N, F, T = 16, 4, 32, 8

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


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("make, match", [
    (lambda: tf.Block(10, 4, 8), "not divisible by num_heads"),
    (lambda: tf.Block(D, N, F, norm="sandwich"), "norm must be one of"),
    (lambda: tf.Block(D, N, F, activation="swish2"), "unknown activation"),
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
])
def test_bad_input_raises(make, match):
    with pytest.raises(ValueError, match=match):
        make()
