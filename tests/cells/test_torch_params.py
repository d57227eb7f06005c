"""PyTorch's parameterisation (uniform init, two bias vectors) for seqmodels' cells."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from seqmodels import recurrence
from seqmodels.cells import GRU, LSTM, Elman, torch_params

D, H = 3, 5


@pytest.mark.parametrize("cell, gates", [(LSTM(D, H), 4), (GRU(D, H), 3), (Elman(D, H), 1)])
def test_parameter_count_is_pytorchs_and_init_is_uniform(cell, gates):
    """nn.LSTM / nn.GRU / nn.RNN hold gates * H * (D + H + 2) numbers per direction (W_ih, W_hh, b_ih, b_hh)."""
    layer = recurrence.Bidirectional.of(cell)
    params = torch_params.uniform_init(layer.init(jax.random.key(0)), H, jax.random.key(1))
    extra = torch_params.hidden_biases(params, H, jax.random.key(2))
    count = sum(x.size for x in jax.tree.leaves((params, extra)))
    assert count == 2 * gates * H * (D + H + 2)
    for x in jax.tree.leaves((params, extra)):
        assert float(jnp.abs(x).max()) <= H ** -0.5 and float(jnp.std(x)) > 0.1 * H ** -0.5


def test_folded_biases_give_the_same_outputs_and_gradients_reach_both_vectors():
    layer = recurrence.RNN(GRU(D, H))
    params, extra = torch_params.init(layer.init(jax.random.key(0)), H, jax.random.key(1))
    k = jax.random.key(1)  # init = uniform_init with fold_in(key, 1), hidden_biases with fold_in(key, 2)
    np.testing.assert_array_equal(params["R"], torch_params.uniform_init(layer.init(jax.random.key(0)), H,
                                                                         jax.random.fold_in(k, 1))["R"])
    np.testing.assert_array_equal(extra["b_hh"], torch_params.hidden_biases(params, H, jax.random.fold_in(k, 2))["b_hh"])
    assert extra["b_hh"].shape == (2 * H,)  # b_hr, b_hz; nn.GRU's b_hn is the cell's own b_hn
    xs = jax.random.normal(jax.random.key(3), (2, 7, D))
    by_hand = dict(params, b=params["b"].at[:2 * H].add(extra["b_hh"]))
    got = layer.apply_batch(torch_params.add_hidden_biases(params, extra), xs)[1]
    np.testing.assert_allclose(got, layer.apply_batch(by_hand, xs)[1], rtol=1e-6, atol=1e-6)

    loss = lambda p, e: jnp.sum(jnp.sin(layer.apply_batch(torch_params.add_hidden_biases(p, e), xs)[1]))
    g_params, g_extra = jax.grad(loss, argnums=(0, 1))(params, extra)
    np.testing.assert_allclose(g_extra["b_hh"], g_params["b"][:2 * H], rtol=1e-6)  # b = b_ih + b_hh
    assert float(jnp.abs(g_extra["b_hh"]).max()) > 0


def test_cells_in_tree_order_and_errors():
    params = recurrence.Bidirectional.of(LSTM(D, H)).init(jax.random.key(0))
    extra = torch_params.hidden_biases(params, H, jax.random.key(1))
    keys = jax.random.split(jax.random.key(1), 2)
    for k, name in zip(keys, params):  # one key per cell, in the tree's own order
        want = jax.random.uniform(k, (4 * H,), minval=-H ** -0.5, maxval=H ** -0.5)
        np.testing.assert_allclose(extra[name]["b_hh"], want, rtol=1e-6)
    with pytest.raises(ValueError, match="more than the cell's b"):
        torch_params.add_hidden_biases({"b": jnp.zeros(3)}, {"b_hh": jnp.zeros(4)})
