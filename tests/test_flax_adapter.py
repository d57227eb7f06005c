"""The flax adapter: a seqmodels layer inside a flax.linen model, same numbers."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from seqmodels import flax_adapter, recurrence
from seqmodels.cells import GRU, LSTM


class Tagger(nn.Module):
    @nn.compact
    def __call__(self, xs, lengths):
        _, hs = flax_adapter.FlaxLayer(recurrence.RNN(LSTM(3, 8)), method="apply_batch")(xs, lengths=lengths)
        return nn.Dense(2)(hs)


def test_adapter_params_are_the_layer_params_and_outputs_match():
    layer = recurrence.Bidirectional.of(GRU(3, 4))
    module = flax_adapter.FlaxLayer(layer)
    xs = jax.random.normal(jax.random.key(0), (6, 3))
    variables = module.init(jax.random.key(1), xs, lengths=4)
    params = variables["params"]["layer"]
    assert jax.tree.structure(params) == jax.tree.structure(layer.init(jax.random.key(2)))
    out_flax = module.apply(variables, xs, lengths=4)
    out_direct = layer.apply(params, xs, lengths=4)
    for a, b in zip(jax.tree.leaves(out_flax), jax.tree.leaves(out_direct)):
        np.testing.assert_array_equal(a, b)


def test_adapter_trains_inside_a_flax_model():
    model = Tagger()
    xs = jax.random.normal(jax.random.key(3), (4, 5, 3))
    lengths = jnp.array([5, 4, 3, 2])
    labels = (xs[..., 0] > 0).astype(jnp.int32)
    params = model.init(jax.random.key(4), xs, lengths)["params"]
    opt = optax.adam(3e-2)
    opt_state = opt.init(params)

    def loss_fn(params):
        logits = model.apply({"params": params}, xs, lengths)
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

    @jax.jit
    def step(params, opt_state):
        updates, opt_state = opt.update(jax.grad(loss_fn)(params), opt_state)
        return optax.apply_updates(params, updates), opt_state

    first = float(loss_fn(params))
    for _ in range(30):
        params, opt_state = step(params, opt_state)
    assert float(loss_fn(params)) < 0.5 * first
