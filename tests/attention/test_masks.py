"""Masks: hand-computed patterns, agreement with jax.nn's own masking, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from seqmodels.attention import masks


def test_causal_mask_hand_computed():
    np.testing.assert_array_equal(masks.causal_mask(3), np.tril(np.ones((3, 3), bool)))
    # 2 queries after 2 cached keys, buffer of 5: query t sees keys s <= 2 + t.
    np.testing.assert_array_equal(
        masks.causal_mask(2, 5, offset=2),
        [[1, 1, 1, 0, 0], [1, 1, 1, 1, 0]])


def test_causal_mask_with_traced_offset():
    out = jax.jit(lambda o: masks.causal_mask(2, 4, offset=o))(1)
    np.testing.assert_array_equal(out, [[1, 1, 0, 0], [1, 1, 1, 0]])


def test_length_and_padding_masks():
    np.testing.assert_array_equal(masks.length_mask(2, 4), [1, 1, 0, 0])
    np.testing.assert_array_equal(masks.length_mask(None, 3), [1, 1, 1])
    np.testing.assert_array_equal(
        masks.padding_mask(3, 2, 4, query_lengths=1),
        [[1, 1, 1, 0], [0, 0, 0, 0]])
    batched = jax.vmap(lambda n: masks.padding_mask(n, 3))(jnp.array([1, 3]))
    assert batched.shape == (2, 3, 3)
    np.testing.assert_array_equal(batched[0], [[1, 0, 0]] * 3)


def test_zero_padding_zeroes_rows_from_lengths_on():
    x = jnp.arange(1.0, 7.0).reshape(3, 2)
    np.testing.assert_array_equal(masks.zero_padding(x, 2), [[1, 2], [3, 4], [0, 0]])
    np.testing.assert_array_equal(jax.jit(masks.zero_padding)(x, jnp.asarray(0)), jnp.zeros((3, 2)))
    assert masks.zero_padding(x, None) is x


def test_combine_skips_none_and_broadcasts():
    assert masks.combine(None, None) is None
    out = masks.combine(masks.causal_mask(3), None, masks.length_mask(2, 3)[None, :])
    np.testing.assert_array_equal(out, [[1, 0, 0], [1, 1, 0], [1, 1, 0]])


def test_masks_match_jax_nn_conventions():
    """Our masks reproduce jax.nn.dot_product_attention's is_causal and seq-length arguments."""
    T, N, K = 5, 2, 4
    q, k, v = jax.random.normal(jax.random.key(0), (3, 1, T, N, K))
    ref = jax.nn.dot_product_attention(q, k, v, is_causal=True, key_value_seq_lengths=jnp.array([3]))
    mask = masks.combine(masks.causal_mask(T), masks.padding_mask(3, T))
    ours = jax.nn.dot_product_attention(q, k, v, mask=mask[None, None])
    np.testing.assert_allclose(ours, ref, atol=1e-6)


@pytest.mark.parametrize("call, match", [
    (lambda: masks.causal_mask(0), "positive"),
    (lambda: masks.length_mask(jnp.array([1, 2]), 3), "int scalar per example"),
    (lambda: masks.check_mask(jnp.ones((3, 4), bool), 2, 3, 5), r"\[T, S\] = \[3, 5\]"),
    (lambda: masks.check_mask(jnp.ones((3, 3, 5), bool), 2, 3, 5), r"got shape \(3, 3, 5\)"),
    (lambda: masks.check_mask(jnp.ones((3, 5)), 2, 3, 5), "boolean"),
    (lambda: masks.check_causal(3, 4), "T == S"),
])
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()
