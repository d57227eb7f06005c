"""seqmodels.recurrence: dispatch on the cells' scan_kind, lengths, reverse,
bidirectional, stacks, carries, TBPTT, the associative and log-space scans,
and errors. Per-cell properties live in tests/cells/ (the fused kernels:
tests/cells/test_fused.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, strategies as st

from seqmodels import cells, recurrence
from seqmodels.cells import GRU, LSTM, MGU, Elman, Jordan, MinGRU, MinLSTM, ScanKind

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


_linear_scan_log = jax.jit(recurrence.linear_scan_log)


@given(seed=st.integers(0, 1000), zero_h0=st.booleans(), zero_b=st.booleans())
def test_linear_scan_log_equals_sequential(seed, zero_h0, zero_b):
    """linear_scan_log(log a, log b, log h0) == linear_scan_sequential(a, b, h0), zeros (-inf) included."""
    T, width = 6, 4
    rng = np.random.default_rng(seed)
    log_a = -rng.exponential(size=(T, width)).astype(np.float32)
    log_b = rng.normal(size=(T, width)).astype(np.float32)
    if zero_b:
        log_b[rng.integers(0, T, 3), rng.integers(0, width, 3)] = -np.inf
    h0 = np.zeros(width, np.float32) if zero_h0 else rng.uniform(0.1, 2.0, width).astype(np.float32)
    with np.errstate(divide="ignore"):
        log_h0 = np.log(h0)  # -inf where h0 = 0
    hs = _linear_scan_log(log_a, log_b, log_h0)
    reference = recurrence.linear_scan_sequential(np.exp(log_a), np.exp(log_b), h0)
    np.testing.assert_allclose(hs, reference, rtol=1e-5, atol=1e-6)


def test_linear_scan_log_long_sequence():
    """T = 1024 in float32 against float64 numpy: the pairwise log form keeps full relative accuracy."""
    rng = np.random.default_rng(0)
    a = rng.uniform(0.9, 1.0, (1024, 2))
    b = rng.uniform(0.0, 1.0, (1024, 2))
    hs = np.asarray(_linear_scan_log(np.log(a).astype(np.float32), np.log(b).astype(np.float32),
                                     np.full(2, -np.inf, np.float32)))
    h, expected = np.zeros(2), []
    for t in range(1024):
        h = a[t] * h + b[t]
        expected.append(h)
    np.testing.assert_allclose(hs, np.stack(expected), rtol=2e-5)


# -- dispatch ---------------------------------------------------------------------

@pytest.mark.parametrize("cell,kind", [
    (LSTM(D, H), ScanKind.FUSED_LSTM), (LSTM(D, H, variant="NP"), ScanKind.FUSED_LSTM),
    (LSTM(D, H, peepholes=True), ScanKind.STEP), (LSTM(D, H, proj_size=2), ScanKind.STEP),
    (LSTM(D, H, variant="CIFG"), ScanKind.STEP), (LSTM(D, H, output_activation="relu"), ScanKind.STEP),
    (GRU(D, H), ScanKind.FUSED_GRU), (GRU(D, H, reset="before"), ScanKind.STEP),
    (GRU(D, H, activation="relu"), ScanKind.STEP), (MGU(D, H), ScanKind.STEP),
    (Elman(D, H), ScanKind.STEP), (Jordan(D, H), ScanKind.STEP),
    (MinGRU(D, H), ScanKind.LOG_LINEAR), (MinLSTM(D, H), ScanKind.LOG_LINEAR),
    (MinGRU(D, H, log_space=False), ScanKind.LINEAR), (MinLSTM(D, H, log_space=False), ScanKind.LINEAR),
])
def test_cells_declare_their_scan_kind(cell, kind):
    assert cell.scan_kind is kind
    assert recurrence.fused.supported(cell) is (kind in (ScanKind.FUSED_LSTM, ScanKind.FUSED_GRU))


@pytest.mark.parametrize("cell,path", [
    (LSTM(D, H), "scan"), (MinGRU(D, H), "scan_log"), (MinGRU(D, H, log_space=False), "scan_linear_cell")])
@pytest.mark.parametrize("parallel", [True, False])
def test_rnn_apply_takes_the_declared_path(cell, path, parallel, monkeypatch):
    """RNN.apply runs the scan the cell's scan_kind names (scans.scan when parallel=False)."""
    called = []
    for name in ("scan", "scan_log", "scan_linear_cell"):
        original = getattr(recurrence.scans, name)
        monkeypatch.setattr(recurrence.scans, name,
                            lambda *a, _name=name, _f=original, **k: called.append(_name) or _f(*a, **k))
    params = cell.init(jax.random.key(0))
    recurrence.RNN(cell, parallel=parallel).apply(params, _xs(4), lengths=3)
    assert called == [path if parallel else "scan"]


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
    carry, ys = recurrence.scan(CELL, PARAMS, xs, lengths=4)
    carry_ref, ys_ref = recurrence.scan(CELL, PARAMS, xs[:4])
    np.testing.assert_allclose(ys[:4], ys_ref, atol=1e-6)
    assert float(jnp.abs(ys[4:]).max()) == 0.0
    for k in ("h", "c"):
        np.testing.assert_allclose(carry[k], carry_ref[k], atol=1e-6)


def test_reverse_with_length_equals_manual_reversal():
    xs = _xs(7)
    _, ys = recurrence.scan(CELL, PARAMS, xs, lengths=5, reverse=True)
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
    _, plain = recurrence.scan(CELL, PARAMS, xs, hoist=False, unroll=unroll, lengths=7)
    _, hoisted = recurrence.scan(CELL, PARAMS, xs, hoist=True, lengths=7)
    np.testing.assert_allclose(plain, hoisted, atol=1e-6)


def test_jit_vmap_grad_equal_eager():
    xs = jax.random.normal(jax.random.key(2), (2, 5, D))
    lengths = jnp.array([5, 3])

    def loss(params, xs, lengths):
        ys = jax.vmap(lambda x, l: recurrence.scan(CELL, params, x, lengths=l)[1])(xs, lengths)
        return jnp.sum(ys ** 2)

    eager_ys = jnp.stack([recurrence.scan(CELL, PARAMS, xs[b], lengths=int(lengths[b]))[1] for b in range(2)])
    vmapped = jax.jit(jax.vmap(lambda x, l: recurrence.scan(CELL, PARAMS, x, lengths=l)[1]))(xs, lengths)
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
    _, ys = bi.apply(params, xs, lengths=4)
    _, yf = recurrence.scan(CELL, params["forward"], xs, lengths=4)
    _, yb = recurrence.scan(CELL, params["backward"], xs, lengths=4, reverse=True)
    np.testing.assert_allclose(ys, jnp.concatenate([yf, yb], -1), atol=1e-6)
    _, ys_sum = recurrence.Bidirectional.of(CELL, merge="sum").apply(params, xs, lengths=4)
    np.testing.assert_allclose(ys_sum, yf + yb, atol=1e-6)


def test_stack_residual_dropout_and_batch_path():
    layers = [recurrence.RNN(LSTM(D, H)), recurrence.RNN(LSTM(H, H)), recurrence.RNN(LSTM(H, H))]
    stack = recurrence.Stack(layers, residual=True, drop_rate=0.5)
    params = stack.init(jax.random.key(6))
    xs = _xs(5)
    _, ys = stack.apply(params, xs, deterministic=True)  # no dropout
    h = recurrence.scan(layers[0].cell, params["layers"][0], xs)[1]  # no residual: widths differ
    for k in (1, 2):
        h = h + recurrence.scan(layers[k].cell, params["layers"][k], h)[1]
    np.testing.assert_allclose(ys, h, atol=1e-5)
    _, dropped = stack.apply(params, xs, key=jax.random.key(7), deterministic=False)
    assert not np.allclose(dropped, ys)
    batch = jnp.stack([xs, _xs(5, key=9)])
    _, ys_batch = stack.apply_batch(params, batch, lengths=jnp.array([5, 3]), deterministic=True)
    np.testing.assert_allclose(ys_batch[0], ys, atol=1e-5)


def test_stack_dropout_needs_a_key_unless_deterministic():
    """The one rule for layers with dropout: deterministic=False by default, and then a key is required."""
    layers = [recurrence.RNN(LSTM(D, H)), recurrence.RNN(LSTM(H, H))]
    xs = _xs(5)
    stack = recurrence.Stack(layers, drop_rate=0.5)
    params = stack.init(jax.random.key(6))
    with pytest.raises(ValueError, match="needs a PRNG `key`"):
        stack.apply(params, xs)
    with pytest.raises(ValueError, match="needs a PRNG `key`"):
        stack.apply_batch(params, xs[None])
    keyed = stack.apply(params, xs, key=jax.random.key(7))[1]
    explicit = stack.apply(params, xs, key=jax.random.key(7), deterministic=False)[1]
    np.testing.assert_array_equal(keyed, explicit)
    no_dropout = recurrence.Stack(layers)  # drop_rate=0: no key needed
    np.testing.assert_array_equal(no_dropout.apply(params, xs)[1], stack.apply(params, xs, deterministic=True)[1])


def test_truncated_bptt_values_and_truncated_gradients():
    xs = _xs(8)
    layer = recurrence.RNN(CELL)
    carry, ys = recurrence.truncated_bptt(layer, PARAMS, xs, chunk_size=4, lengths=6)
    carry_ref, ys_ref = recurrence.scan(CELL, PARAMS, xs, lengths=6)
    np.testing.assert_allclose(ys, ys_ref, atol=1e-6)
    np.testing.assert_allclose(carry["h"], carry_ref["h"], atol=1e-6)
    # A loss on the last chunk sends no gradient into the first chunk's inputs.
    last = lambda x: jnp.sum(recurrence.truncated_bptt(layer, PARAMS, x, chunk_size=4)[1][4:])
    grad = jax.grad(last)(xs)
    assert float(jnp.abs(grad[:4]).max()) == 0.0 and float(jnp.abs(grad[4:]).max()) > 0.0
    full = jax.grad(lambda x: jnp.sum(recurrence.scan(CELL, PARAMS, x)[1][4:]))(xs)
    assert float(jnp.abs(full[:4]).max()) > 0.0


def test_truncated_bptt_runs_a_causal_stack_and_rejects_non_causal_layers():
    xs = _xs(8)
    stack = recurrence.Stack([recurrence.RNN(CELL), recurrence.RNN(LSTM(H, H))])
    params = stack.init(jax.random.key(10))
    _, ys = recurrence.truncated_bptt(stack, params, xs, chunk_size=2, lengths=7)
    np.testing.assert_allclose(ys, stack.apply(params, xs, lengths=7)[1], atol=1e-6)
    for layer in (recurrence.RNN(CELL, reverse=True), recurrence.Bidirectional.of(CELL),
                  recurrence.Stack([recurrence.Bidirectional.of(CELL)])):
        with pytest.raises(ValueError, match="is not causal"):
            recurrence.truncated_bptt(layer, layer.init(jax.random.key(0)), xs, chunk_size=4)


# -- errors ----------------------------------------------------------------------

def test_clear_errors():
    with pytest.raises(ValueError, match=r"\[T, D\] with D=3, got \(5, 2\)"):
        recurrence.scan(CELL, PARAMS, jnp.zeros((5, 2)))
    with pytest.raises(ValueError, match="batch with jax.vmap"):
        recurrence.scan(CELL, PARAMS, jnp.zeros((2, 5, 3)))
    with pytest.raises(ValueError, match=r"lengths 9 out of range \[0, 5\]"):
        recurrence.scan(CELL, PARAMS, jnp.zeros((5, 3)), lengths=9)
    with pytest.raises(ValueError, match="integers"):
        recurrence.scan(CELL, PARAMS, jnp.zeros((5, 3)), lengths=jnp.float32(2))
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
    with pytest.raises(ValueError, match=r"no fused kernel for .*scan_kind STEP"):
        recurrence.RNN(LSTM(D, H, peepholes=True), fused=True).apply_batch(PARAMS, jnp.zeros((2, 5, 3)))
    with pytest.raises(NotImplementedError, match="LSTM is a FUSED_LSTM cell: no linear_coefficients"):
        recurrence.scan_linear_cell(CELL, PARAMS, jnp.zeros((5, 3)))


@pytest.mark.parametrize("name", ["MinGRU", "MinLSTM"])
@pytest.mark.parametrize("log_space", [True, False])
def test_rnn_parallel_path_for_min_cells_equals_sequential(name, log_space):
    cell = getattr(cells, name)(D, H, log_space=log_space)
    params = cell.init(jax.random.key(8))
    xs = _xs(9)
    for reverse in (False, True):
        par = recurrence.RNN(cell, reverse=reverse).apply(params, xs, lengths=6)
        seq = recurrence.RNN(cell, reverse=reverse, parallel=False).apply(params, xs, lengths=6)
        for a, b in zip(jax.tree.leaves(par), jax.tree.leaves(seq)):
            np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5)
