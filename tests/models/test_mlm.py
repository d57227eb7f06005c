"""Masked LM: the BERT corruption rule (proportions, what is never chosen), the loss against a hand
computation with jax.nn.log_softmax, padding invariance of the encoder's states."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from seqmodels.models.mlm import MaskedLM, mask_tokens
from seqmodels.models.transformer import Block, Stack

V, MASK, SPECIAL = 30, 29, (0, 2, 3)


def model():
    return MaskedLM(V, Stack(Block(d_model=16, num_heads=2, d_ff=32), num_layers=2), mask_id=MASK,
                    special_ids=SPECIAL, max_len=16)


def draws(n=400, T=50):
    """n corruptions of one sequence of T tokens (40 valid, some of them special) -> ids, outputs."""
    ids = jnp.asarray(np.random.default_rng(0).integers(4, MASK, T), jnp.int32).at[::7].set(2).at[40:].set(0)
    keys = jax.random.split(jax.random.key(0), n)
    out = jax.vmap(lambda k: mask_tokens(k, ids, 40, mask_id=MASK, vocab_size=V, special_ids=SPECIAL))(keys)
    return np.asarray(ids), [np.asarray(o) for o in out]


def within(count, n, p, z=4.5):
    return abs(count - n * p) <= z * np.sqrt(n * p * (1 - p))


def test_masking_proportions_follow_bert_within_binomial_tolerance():
    ids, (corrupted, targets, chosen) = draws()
    eligible = (np.arange(len(ids)) < 40) & (ids != 2)
    n_eligible = eligible.sum() * len(chosen)
    assert within(chosen.sum(), n_eligible, 0.15)
    picked = corrupted[chosen]
    original = np.broadcast_to(ids, chosen.shape)[chosen]
    n = len(picked)
    n_mask = np.sum(picked == MASK)
    n_kept = np.sum(picked == original)
    assert within(n_mask, n, 0.8)
    assert within(n_kept, n, 0.1 + 0.1 / (V - 4))  # kept, or a random draw that hit the same id
    assert within(n - n_mask - n_kept, n, 0.1 * (1 - 1 / (V - 4)))
    assert set(np.unique(picked[(picked != MASK)])) <= set(range(V)) - {*SPECIAL, MASK}  # random ids are never special
    np.testing.assert_array_equal(targets, np.broadcast_to(ids, targets.shape))
    np.testing.assert_array_equal(corrupted[~chosen], np.broadcast_to(ids, chosen.shape)[~chosen])


def test_padding_and_special_tokens_are_never_chosen():
    ids, (_, _, chosen) = draws()
    assert not chosen[:, 40:].any()  # padding
    assert not chosen[:, ids == 2].any()  # special
    assert chosen[:, :40].any(0)[ids[:40] != 2].all()  # every eligible position is chosen in some draw


def test_bad_split_is_refused():
    with pytest.raises(ValueError, match="split"):
        mask_tokens(jax.random.key(0), jnp.ones(5, jnp.int32), 5, mask_id=MASK, vocab_size=V, special_ids=(0,),
                    split=(0.5, 0.1, 0.1))


def test_loss_reads_only_the_chosen_positions():
    m = model()
    params = m.init(jax.random.key(1))
    ids = jnp.asarray(np.random.default_rng(1).integers(4, MASK, (3, 12)), jnp.int32)
    lengths = jnp.asarray([12, 7, 9])
    ids = jnp.where(jnp.arange(12) < lengths[:, None], ids, 0)
    key = jax.random.key(5)
    loss, metrics = m.loss(params, ids, lengths, key, deterministic=True)
    corrupted, targets, chosen = m.corrupt(jax.random.split(key)[0], ids, lengths)
    assert 0 < int(chosen.sum()) == int(metrics["weight"])
    logp = jnp.stack([jax.nn.log_softmax(m.apply(params, x, lengths=n, deterministic=True))
                      for x, n in zip(corrupted, lengths)])  # [B, T, V]
    nll = -np.take_along_axis(np.asarray(logp), np.asarray(targets)[..., None], -1)[..., 0]
    np.testing.assert_allclose(loss, nll[np.asarray(chosen)].mean(), rtol=1e-5)


def test_padding_does_not_change_the_states_of_valid_positions():
    m = model()
    params = m.init(jax.random.key(2))
    ids = jnp.asarray([5, 9, 4, 11, 7], jnp.int32)
    h = m.encode(params, ids, 5)
    padded = jnp.concatenate([ids, jnp.asarray([13, 1, 8], jnp.int32)])  # junk in the padding
    hp = m.encode(params, padded, 5)
    np.testing.assert_allclose(hp[:5], h, atol=1e-5)
    np.testing.assert_array_equal(hp[5:], 0)
    assert m.apply(params, padded, lengths=5, deterministic=True).shape == (8, V)


def test_causal_encoder_is_refused():
    with pytest.raises(ValueError, match="causal"):
        MaskedLM(V, Stack(Block(16, 2, 32, causal=True), 1), mask_id=MASK)
