"""recurrence.py: lengths, reverse, bidirectional, stacks, carries, TBPTT,
the associative scan, and errors. Per-cell properties live in tests/cells/."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, strategies as st

from seqmodels import recurrence
from seqmodels.cells import LSTM

D, H = 3, 4
CELL = LSTM(D, H)
PARAMS = CELL.init(jax.random.key(0))


def _xs(T, key=1):
    return jax.random.normal(jax.random.key(key), (T, D))


# -- associative scan ---------------------------------------------------------

@given(T=st.integers(1, 17), width=st.integers(1, 3), seed=st.integers(0, 100))
def test_linear_scan_matches_sequential(T, width, seed):
    ka, kb, kh = jax.random.split(jax.random.key(seed), 3)
    a = jax.random.uniform(ka, (T, width), minval=-1.0, maxval=1.0)
    b = jax.random.normal(kb, (T, width))
    h0 = jax.random.normal(kh, (width,))
    np.testing.assert_allclose(recurrence.linear_scan(a, b, h0),
                               recurrence.linear_scan_sequential(a, b, h0), atol=1e-5, rtol=1e-5)


def test_linear_scan_hand_computed():
    a = jnp.array([[2.0], [0.5], [3.0]])
    b = jnp.array([[1.0], [1.0], [-1.0]])
    # h1 = 2*1 + 1 = 3, h2 = 0.5*3 + 1 = 2.5, h3 = 3*2.5 - 1 = 6.5
    np.testing.assert_allclose(recurrence.linear_scan(a, b, jnp.array([1.0]))[:, 0], [3.0, 2.5, 6.5])


# -- reverse_valid -----------------------------------------------------------

def test_reverse_valid_hand_computed_and_involution():
    xs = jnp.arange(6)
    np.testing.assert_array_equal(recurrence.reverse_valid(xs, 4), [3, 2, 1, 0, 4, 5])
    np.testing.assert_array_equal(recurrence.reverse_valid(xs, None), xs[::-1])
    np.testing.assert_array_equal(recurrence.reverse_valid(recurrence.reverse_valid(xs, 4), 4), xs)
    np.testing.assert_array_equal(recurrence.reverse_valid(xs, 0), xs)


# -- scan ----------------------------------------------------------------------

def test_lengths_zero_padding_and_final_carry():
    xs = _xs(7)
    carry, ys = recurrence.scan(CELL, PARAMS, xs, length=4)
    carry_ref, ys_ref = recurrence.scan(CELL, PARAMS, xs[:4])
    np.testing.assert_allclose(ys[:4], ys_ref, atol=1e-6)
    assert float(jnp.abs(ys[4:]).max()) == 0.0
    for k in ("h", "c"):
        np.testing.assert_allclose(carry[k], carry_ref[k], atol=1e-6)


def test_reverse_with_length_equals_manual_reversal():
    xs = _xs(7)
    _, ys = recurrence.scan(CELL, PARAMS, xs, length=5, reverse=True)
    _, ys_ref = recurrence.scan(CELL, PARAMS, xs[:5][::-1])
    np.testing.assert_allclose(ys[:5], ys_ref[::-1], atol=1e-6)
    assert float(jnp.abs(ys[5:]).max()) == 0.0


def test_carry_in_carry_out_splits_a_sequence():
    xs = _xs(8)
    c1, y1 = recurrence.scan(CELL, PARAMS, xs[:3])
    c2, y2 = recurrence.scan(CELL, PARAMS, xs[3:], initial_carry=c1)
    c_full, y_full = recurrence.scan(CELL, PARAMS, xs)
    np.testing.assert_allclose(jnp.concatenate([y1, y2]), y_full, atol=1e-6)
    np.testing.assert_allclose(c2["c"], c_full["c"], atol=1e-6)


@pytest.mark.parametrize("unroll", [1, 3])
def test_hoisted_equals_plain_and_unroll(unroll):
    xs = _xs(9)
    _, plain = recurrence.scan(CELL, PARAMS, xs, hoist=False, unroll=unroll, length=7)
    _, hoisted = recurrence.scan(CELL, PARAMS, xs, hoist=True, length=7)
    np.testing.assert_allclose(plain, hoisted, atol=1e-6)


def test_jit_vmap_grad_equal_eager():
    xs = jax.random.normal(jax.random.key(2), (2, 5, D))
    lengths = jnp.array([5, 3])

    def loss(params, xs, lengths):
        ys = jax.vmap(lambda x, l: recurrence.scan(CELL, params, x, length=l)[1])(xs, lengths)
        return jnp.sum(ys ** 2)

    eager_ys = jnp.stack([recurrence.scan(CELL, PARAMS, xs[b], length=int(lengths[b]))[1] for b in range(2)])
    vmapped = jax.jit(jax.vmap(lambda x, l: recurrence.scan(CELL, PARAMS, x, length=l)[1]))(xs, lengths)
    np.testing.assert_allclose(vmapped, eager_ys, atol=1e-6)
    g_eager = jax.grad(loss)(PARAMS, xs, lengths)
    g_jit = jax.jit(jax.grad(loss))(PARAMS, xs, lengths)
    for a, b in zip(jax.tree.leaves(g_eager), jax.tree.leaves(g_jit)):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_sharded_batch_on_8_devices_equals_one_device():
    devices = jax.devices("cpu")  # the 8 host devices of tests/conftest.py, also on a machine with a GPU
    assert len(devices) == 8, "tests/conftest.py sets 8 host devices"
    layer = recurrence.Stack([recurrence.Bidirectional.of(CELL), recurrence.RNN(LSTM(2 * H, H))])
    params = layer.init(jax.random.key(3))
    xs = jax.random.normal(jax.random.key(4), (8, 6, D))
    lengths = jnp.array([6, 5, 4, 3, 2, 1, 6, 0])
    apply = jax.jit(lambda p, x, l: layer.apply_batch(p, x, lengths=l)[1])
    params, xs, lengths = jax.device_put((params, xs, lengths), devices[0])
    single = apply(params, xs, lengths)
    mesh = jax.sharding.Mesh(np.array(devices), ("batch",))
    batch_sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("batch"))
    replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
    sharded = apply(jax.device_put(params, replicated), jax.device_put(xs, batch_sharding),
                    jax.device_put(lengths, batch_sharding))
    assert len(sharded.sharding.device_set) == 8
    np.testing.assert_allclose(np.asarray(sharded), np.asarray(single), atol=1e-6)


# -- layers ----------------------------------------------------------------------

def test_bidirectional_concat_and_sum():
    xs = _xs(6)
    bi = recurrence.Bidirectional.of(CELL)
    params = bi.init(jax.random.key(5))
    _, ys = bi.apply(params, xs, length=4)
    _, yf = recurrence.scan(CELL, params["forward"], xs, length=4)
    _, yb = recurrence.scan(CELL, params["backward"], xs, length=4, reverse=True)
    np.testing.assert_allclose(ys, jnp.concatenate([yf, yb], -1), atol=1e-6)
    _, ys_sum = recurrence.Bidirectional.of(CELL, merge="sum").apply(params, xs, length=4)
    np.testing.assert_allclose(ys_sum, yf + yb, atol=1e-6)


def test_stack_residual_dropout_and_batch_path():
    layers = [recurrence.RNN(LSTM(D, H)), recurrence.RNN(LSTM(H, H)), recurrence.RNN(LSTM(H, H))]
    stack = recurrence.Stack(layers, residual=True, drop_rate=0.5)
    params = stack.init(jax.random.key(6))
    xs = _xs(5)
    _, ys = stack.apply(params, xs)  # deterministic: no dropout
    h = recurrence.scan(layers[0].cell, params["layers"][0], xs)[1]  # no residual: widths differ
    for k in (1, 2):
        h = h + recurrence.scan(layers[k].cell, params["layers"][k], h)[1]
    np.testing.assert_allclose(ys, h, atol=1e-5)
    _, dropped = stack.apply(params, xs, key=jax.random.key(7), deterministic=False)
    assert not np.allclose(dropped, ys)
    batch = jnp.stack([xs, _xs(5, key=9)])
    _, ys_batch = stack.apply_batch(params, batch, lengths=jnp.array([5, 3]))
    np.testing.assert_allclose(ys_batch[0], ys, atol=1e-5)


def test_truncated_bptt_values_and_truncated_gradients():
    xs = _xs(8)
    layer = recurrence.RNN(CELL)
    carry, ys = recurrence.truncated_bptt(layer, PARAMS, xs, chunk_size=4, length=6)
    carry_ref, ys_ref = recurrence.scan(CELL, PARAMS, xs, length=6)
    np.testing.assert_allclose(ys, ys_ref, atol=1e-6)
    np.testing.assert_allclose(carry["h"], carry_ref["h"], atol=1e-6)
    # A loss on the last chunk sends no gradient into the first chunk's inputs.
    last = lambda x: jnp.sum(recurrence.truncated_bptt(layer, PARAMS, x, chunk_size=4)[1][4:])
    grad = jax.grad(last)(xs)
    assert float(jnp.abs(grad[:4]).max()) == 0.0 and float(jnp.abs(grad[4:]).max()) > 0.0
    full = jax.grad(lambda x: jnp.sum(recurrence.scan(CELL, PARAMS, x)[1][4:]))(xs)
    assert float(jnp.abs(full[:4]).max()) > 0.0


# -- errors ----------------------------------------------------------------------

def test_clear_errors():
    with pytest.raises(ValueError, match=r"\[T, D\] with D=3, got \(5, 2\)"):
        recurrence.scan(CELL, PARAMS, jnp.zeros((5, 2)))
    with pytest.raises(ValueError, match="batch with jax.vmap"):
        recurrence.scan(CELL, PARAMS, jnp.zeros((2, 5, 3)))
    with pytest.raises(ValueError, match=r"length 9 out of range \[0, 5\]"):
        recurrence.scan(CELL, PARAMS, jnp.zeros((5, 3)), length=9)
    with pytest.raises(ValueError, match="integers"):
        recurrence.scan(CELL, PARAMS, jnp.zeros((5, 3)), length=jnp.float32(2))
    with pytest.raises(ValueError, match=r"lengths \[B\] with B=2"):
        recurrence.RNN(CELL).apply_batch(PARAMS, jnp.zeros((2, 5, 3)), lengths=jnp.array([1, 2, 3]))
    with pytest.raises(ValueError, match="layer 1 expects input size 3 but layer 0 outputs 4"):
        recurrence.Stack([recurrence.RNN(CELL), recurrence.RNN(CELL)])
    with pytest.raises(ValueError, match="merge must be"):
        recurrence.Bidirectional.of(CELL, merge="mean")
    with pytest.raises(ValueError, match="positive divisor of T=5"):
        recurrence.truncated_bptt(recurrence.RNN(CELL), PARAMS, jnp.zeros((5, 3)), chunk_size=2)
    with pytest.raises(ValueError, match="unknown variant 'XYZ'"):
        LSTM(3, 4, variant="XYZ")
    with pytest.raises(ValueError, match="hidden_size must be a positive int, got 0"):
        LSTM(3, 0)


@pytest.mark.parametrize("name", ["MinGRU", "MinLSTM"])
@pytest.mark.parametrize("log_space", [True, False])
def test_rnn_parallel_path_for_min_cells_equals_sequential(name, log_space):
    from seqmodels import cells

    cell = getattr(cells, name)(D, H, log_space=log_space)
    params = cell.init(jax.random.key(8))
    xs = _xs(9)
    for reverse in (False, True):
        par = recurrence.RNN(cell, reverse=reverse).apply(params, xs, length=6)
        seq = recurrence.RNN(cell, reverse=reverse, parallel=False).apply(params, xs, length=6)
        for a, b in zip(jax.tree.leaves(par), jax.tree.leaves(seq)):
            np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5)
