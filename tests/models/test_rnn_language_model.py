"""Recurrent language model against an unrolled reference (a Python loop of cell steps), the batched fused
path against the one-example path, chunked stateful runs against one pass, carried-state decoding and
generation, a tiny training run, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from seqmodels.models.rnn_language_model import RNNLanguageModel
from tests.helpers import adam_train

V, H, D, T = 11, 8, 6, 12


def unrolled(model, params, ids, carry=None):
    """x_t = E[id_t]; every layer's cell stepped by hand; logits_t = h_t W + b."""
    layers = [layer.cell for layer in model.rnn.layers]
    carry = model.initial_carry(params) if carry is None else carry
    carry, out = list(carry), []
    for t in range(ids.shape[0]):
        h = params["embed"]["table"][ids[t]]
        for k, cell in enumerate(layers):
            carry[k], h = cell.step(params["rnn"]["layers"][k], carry[k], h)
        out.append(h @ params["head"]["w"] + params["head"]["b"])
    return carry, jnp.stack(out)


@pytest.fixture(params=["lstm", "gru"])
def lm(request):
    model = RNNLanguageModel.of(request.param, V, H, num_layers=2, embed_size=D)
    return model, model.init(jax.random.key(0))


def ids_of(seed=1, shape=(T,)):
    return jax.random.randint(jax.random.key(seed), shape, 0, V)


def test_apply_equals_unrolled_reference(lm):
    model, params = lm
    ids = ids_of()
    carry, logits = model.apply(params, ids, deterministic=True)
    ref_carry, ref_logits = unrolled(model, params, ids)
    assert logits.shape == (T, V)
    np.testing.assert_allclose(logits, ref_logits, rtol=1e-5, atol=1e-5)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5), carry, ref_carry)


def test_batch_fused_path_equals_one_example_path(lm):
    model, params = lm
    ids = ids_of(shape=(3, T))
    carry0 = jax.tree.map(lambda c: jax.random.normal(jax.random.key(5), (3, *c.shape)), model.initial_carry(params))
    carry, logits = model.apply_batch(params, ids, initial_carry=carry0, deterministic=True)
    ref_carry, ref_logits = jax.vmap(lambda i, c: model.apply(params, i, initial_carry=c, deterministic=True))(
        ids, carry0)
    np.testing.assert_allclose(logits, ref_logits, rtol=1e-5, atol=1e-5)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5), carry, ref_carry)


def test_chunks_with_carried_state_equal_one_pass(lm):
    """Stateful truncated BPTT's forward values: chunk by chunk with the carry passed on = the whole stream."""
    model, params = lm
    ids = ids_of(shape=(2, 3 * T))
    _, full = model.apply_batch(params, ids, deterministic=True)
    carry, parts = None, []
    for k in range(3):
        carry, logits = model.apply_batch(params, ids[:, k * T:(k + 1) * T], initial_carry=carry, deterministic=True)
        carry = jax.lax.stop_gradient(carry)
        parts.append(logits)
    np.testing.assert_allclose(jnp.concatenate(parts, 1), full, rtol=1e-5, atol=1e-5)


def test_lengths_zero_padded_logits_and_carry_at_last_valid_step(lm):
    model, params = lm
    ids = ids_of()
    carry, logits = model.apply(params, ids, lengths=jnp.array(5), deterministic=True)
    ref_carry, ref_logits = model.apply(params, ids[:5], deterministic=True)
    np.testing.assert_allclose(logits[:5], ref_logits, rtol=1e-5, atol=1e-5)
    assert np.all(np.asarray(logits[5:]) == 0)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5), carry, ref_carry)


def test_greedy_generation_equals_argmax_of_full_pass(lm):
    model, params = lm
    prompt = ids_of(shape=(4,))
    out = model.generate(params, prompt, 6)
    assert out.shape == (10,) and np.array_equal(out[:4], prompt)
    _, logits = model.apply(params, out[:-1], deterministic=True)  # causal: position t sees out[:t + 1]
    np.testing.assert_array_equal(out[4:], jnp.argmax(logits[3:], -1))  # each new token: the argmax before it


def test_sampling_is_seeded_and_in_vocabulary(lm):
    model, params = lm
    a = model.generate(params, ids_of(shape=(3,)), 20, key=jax.random.key(2), temperature=0.8)
    b = model.generate(params, ids_of(shape=(3,)), 20, key=jax.random.key(2), temperature=0.8)
    assert np.array_equal(a, b) and a.min() >= 0 and a.max() < V


def test_dropout_needs_a_key_and_changes_outputs():
    model = RNNLanguageModel.of("lstm", V, H, num_layers=2, drop_rate=0.5)
    params, ids = model.init(jax.random.key(0)), ids_of()
    with pytest.raises(ValueError, match="needs a PRNG"):
        model.apply(params, ids)
    _, a = model.apply(params, ids, key=jax.random.key(1))
    _, b = model.apply(params, ids, deterministic=True)
    assert not np.allclose(a, b)


def test_tiny_training_lowers_the_loss():
    """A deterministic cycle 0, 1, ..., V-1 is learnt: next-token cross-entropy falls well below log V."""
    model = RNNLanguageModel.of("gru", V, 16)
    ids = jnp.arange(2 * T) % V

    def loss(params):
        _, logits = model.apply(params, ids[:-1], deterministic=True)
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), ids[1:, None], -1))

    params = model.init(jax.random.key(0))
    before = float(loss(params))
    params, _ = adam_train(loss, params, steps=150, learning_rate=0.03)
    assert before > 2.0 and float(loss(params)) < 0.3


def test_bad_inputs():
    with pytest.raises(ValueError, match="cell kind"):
        RNNLanguageModel.of("tcn", V, H)
    model = RNNLanguageModel.of("lstm", V, H)
    params = model.init(jax.random.key(0))
    with pytest.raises(ValueError, match=r"shape \[T\]"):
        model.apply(params, ids_of(shape=(2, T)))
    with pytest.raises(ValueError, match=r"\[B, T\]"):
        model.apply_batch(params, ids_of())
