"""Masked losses and metrics: optax as the reference, hand values, padding invariance."""

import math

import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given

from seqmodels.training import losses

B, T, V, C = 3, 5, 7, 4


def _data(seed=0):
    rng = np.random.default_rng(seed)
    logits = jnp.asarray(rng.normal(size=(B, T, V)), jnp.float32)
    labels = jnp.asarray(rng.integers(0, V, size=(B, T)), jnp.int32)
    lengths = jnp.asarray([5, 2, 0])
    return logits, labels, lengths


def test_mask_from_lengths():
    mask = losses.mask_from_lengths(jnp.asarray([3, 0, 1]), 4)
    np.testing.assert_array_equal(mask, [[1, 1, 1, 0], [0, 0, 0, 0], [1, 0, 0, 0]])
    assert losses.mask_from_lengths(jnp.asarray(2), 3).tolist() == [True, True, False]


def test_cross_entropy_matches_optax():
    logits, labels, lengths = _data()
    mask = losses.mask_from_lengths(lengths, T)
    per_token = optax.softmax_cross_entropy_with_integer_labels(logits, labels)  # [B, T]
    expected_token = float(jnp.sum(per_token * mask) / jnp.sum(mask))
    expected_sequence = float(jnp.sum(per_token * mask) / B)
    np.testing.assert_allclose(losses.cross_entropy(logits, labels, mask), expected_token, rtol=1e-6)
    np.testing.assert_allclose(losses.cross_entropy(logits, labels, mask, per="sequence"), expected_sequence,
                               rtol=1e-6)
    np.testing.assert_allclose(losses.cross_entropy(logits, labels), float(per_token.mean()), rtol=1e-6)


def test_cross_entropy_hand_values():
    # uniform logits: ln V per token; a sequence of 4 such tokens: 4 ln V.
    logits = jnp.zeros((4, V))
    labels = jnp.arange(4)
    np.testing.assert_allclose(losses.cross_entropy(logits, labels), math.log(V), rtol=1e-6)
    np.testing.assert_allclose(losses.cross_entropy(logits, labels, per="sequence"), 4 * math.log(V), rtol=1e-6)
    np.testing.assert_allclose(losses.perplexity(losses.cross_entropy(logits, labels)), V, rtol=1e-5)
    np.testing.assert_allclose(losses.bits_per_character(jnp.log(2.0)), 1.0, rtol=1e-6)
    # a confident correct prediction costs ~0 and is accurate.
    sharp = jax.nn.one_hot(labels, V) * 100.0
    assert float(losses.cross_entropy(sharp, labels)) < 1e-6
    assert float(losses.accuracy(sharp, labels)) == 1.0


def test_accuracy_masked_hand_value():
    logits = jnp.asarray([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])  # predicts 1, 0, 0, 1
    labels = jnp.asarray([1, 1, 0, 0])
    assert float(losses.accuracy(logits, labels)) == 0.5
    assert float(losses.accuracy(logits, labels, jnp.asarray([1, 0, 1, 0]))) == 1.0


def test_mse_matches_optax():
    rng = np.random.default_rng(1)
    pred = jnp.asarray(rng.normal(size=(B, T, C)), jnp.float32)
    target = jnp.asarray(rng.normal(size=(B, T, C)), jnp.float32)
    mask = losses.mask_from_lengths(jnp.asarray([5, 2, 0]), T)
    sq = optax.squared_error(pred, target)  # [B, T, C]
    expected = float(jnp.sum(sq * mask[..., None]) / (jnp.sum(mask) * C))
    np.testing.assert_allclose(losses.mean_squared_error(pred, target, mask), expected, rtol=1e-6)
    np.testing.assert_allclose(losses.mean_squared_error(pred, target), float(sq.mean()), rtol=1e-6)
    assert float(losses.mean_squared_error(jnp.ones((2, 1)), jnp.full((2, 1), 3.0))) == 4.0


def test_bernoulli_nll_matches_optax_summed_over_keys():
    rng = np.random.default_rng(2)
    logits = jnp.asarray(rng.normal(size=(B, T, 88)) * 3, jnp.float32)
    roll = jnp.asarray(rng.random(size=(B, T, 88)) < 0.1, jnp.float32)
    mask = losses.mask_from_lengths(jnp.asarray([5, 2, 1]), T)
    per_frame = optax.sigmoid_binary_cross_entropy(logits, roll).sum(-1)  # [B, T]
    expected = float(jnp.sum(per_frame * mask) / jnp.sum(mask))
    np.testing.assert_allclose(losses.bernoulli_nll(logits, roll, mask), expected, rtol=1e-5)
    # p = 1/2 everywhere: 88 ln 2 nats per frame whatever the roll.
    np.testing.assert_allclose(losses.bernoulli_nll(jnp.zeros((T, 88)), roll[0]), 88 * math.log(2), rtol=1e-6)


def test_all_padding_gives_zero_not_nan():
    logits, labels, _ = _data()
    mask = jnp.zeros((B, T))
    for value in (losses.cross_entropy(logits, labels, mask), losses.accuracy(logits, labels, mask),
                  losses.mean_squared_error(logits, logits + 1, mask), losses.bernoulli_nll(logits, logits, mask)):
        assert float(value) == 0.0


@given(st.integers(0, T), st.integers(0, 2**31 - 1))
def test_padding_values_do_not_matter(length, seed):
    logits, labels, _ = _data()
    mask = losses.mask_from_lengths(jnp.asarray([length] * B), T)
    noise = jnp.asarray(np.random.default_rng(seed).normal(size=logits.shape) * 100, jnp.float32)
    garbage = jnp.where(mask[..., None], logits, noise)
    for fn in (losses.cross_entropy, losses.accuracy):
        np.testing.assert_allclose(fn(garbage, labels, mask), fn(logits, labels, mask), rtol=1e-6)
    np.testing.assert_allclose(losses.mean_squared_error(garbage, logits, mask), 0.0, atol=0)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16, jnp.float16])
def test_dtypes_reduce_in_float32(dtype):
    logits, labels, lengths = _data()
    mask = losses.mask_from_lengths(lengths, T)
    value = losses.cross_entropy(logits.astype(dtype), labels, mask)
    assert value.dtype == jnp.float32 and value.shape == ()
    np.testing.assert_allclose(value, losses.cross_entropy(logits, labels, mask), rtol=2e-2)
    assert losses.bernoulli_nll(logits.astype(dtype), (logits > 0).astype(dtype), mask).dtype == jnp.float32


def test_loss_goes_down_with_gradient_descent():
    logits = jnp.zeros((T, V))
    labels = jnp.arange(T) % V
    grad = jax.grad(losses.cross_entropy)
    before = losses.cross_entropy(logits, labels)
    for _ in range(20):
        logits = logits - 1.0 * grad(logits, labels)
    assert float(losses.cross_entropy(logits, labels)) < 0.5 * float(before)


def test_bad_inputs_raise_with_shapes():
    logits, labels, _ = _data()
    with pytest.raises(ValueError, match=r"expected labels of shape \(3, 5\).*got \(3, 4\)"):
        losses.cross_entropy(logits, labels[:, :4])
    with pytest.raises(ValueError, match=r"expected mask of shape \(3, 5\).*got \(5,\)"):
        losses.cross_entropy(logits, labels, jnp.ones(T))
    with pytest.raises(ValueError, match="integer labels"):
        losses.cross_entropy(logits, labels.astype(jnp.float32))
    with pytest.raises(ValueError, match="per must be one of"):
        losses.cross_entropy(logits, labels, per="batch")
    with pytest.raises(ValueError, match=r"expected targets of shape \(3, 5, 7\)"):
        losses.mean_squared_error(logits, logits[..., :2])
    with pytest.raises(ValueError, match=r"expected targets of shape"):
        losses.bernoulli_nll(logits, logits[0])
