"""One validation rule for layer inputs, across every layer family.

* `lengths` (seqmodels.nn.lengths): every layer that takes `lengths` refuses
  negative, > T, float and bool lengths with a ValueError naming them; under
  `jax.jit` an out-of-range length is clamped to [0, T] (the output equals the
  one at the clamped value); a length of T equals no lengths at all.
* Clear messages for inputs that used to fail deep inside JAX (a dot_general,
  scan-carry, lax.conv or ZeroDivisionError) or pass unnoticed (`LSTM(8, True)`).
* `apply_batch(initial_carry=...)`: a shared carry (the cell's own shape) or a
  per-example carry (a leading [B] axis), the same on the fused and scan paths.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from seqmodels import recurrence
from seqmodels.attention import additive, dot_product, linear, masks, multi_head, pooling, sparse
from seqmodels.cells import GRU, LSTM, MGU, Elman, Jordan, MinGRU, MinLSTM
from seqmodels.conv import (FIR, TCN, TDNN, ConvAutoencoder, ConvStack, Conv1D, ConvTranspose1D, WaveNet,
                            conv1d)
from seqmodels.nn.lengths import check_lengths, clamp_lengths
from seqmodels.recurrence import fused

B, T, D, H = 2, 8, 3, 4
KEY = jax.random.key(0)


def _normal(seed, shape):
    return jnp.asarray(np.random.default_rng(seed).normal(size=shape), jnp.float32)


X = _normal(1, (T, D))  # one example
XS = _normal(2, (B, T, D))  # a batch
Q = _normal(3, (T, 2, 4))  # attention q = k = v: [T, N, K]


@functools.cache
def params(layer, *args):
    """layer.init(KEY, *args), once per layer, concrete even when first asked for inside `jax.jit`."""
    with jax.ensure_compile_time_eval():
        return layer.init(KEY, *args)


# -- every layer with `lengths`: name -> (run(lengths) -> output, T its lengths count, batched) ----------

def _rnn(cell, **options):
    return recurrence.RNN(cell, **options)


LSTM_ = LSTM(D, H)
GRU_ = GRU(D, H)
BI = recurrence.Bidirectional.of(LSTM_)
STACK = recurrence.Stack([_rnn(GRU_), _rnn(LSTM(H, H))])
CONV = Conv1D(D, 4, 3, dilation=2)
CONV_T = ConvTranspose1D(D, 4, 3, stride=2)
CONV_T_VALID = ConvTranspose1D(D, 4, 5, stride=2, padding="valid")  # output_length(0) = 3 frames > 0
STACK_CONV = ConvStack(D, (4, 2), dilations=(1, 2))
TCN_ = TCN(D, (4, 4))
TDNN_ = TDNN((D, 4, 2), (3, 2))
FIR_ = FIR(D, 2, 3)
AE = ConvAutoencoder(D, (4, 2), kernel_size=4, stride=2)
WAVENET = WaveNet(output="logistic_mixture", num_mixtures=2, dilations=(1, 2), residual_channels=4,
                  dilation_channels=4, skip_channels=4)
MHA = multi_head.MultiHeadAttention(2, 4)
FEATURES = linear.init_features(KEY, 4, 8)

LAYERS = {
    # recurrence: one example (scalar lengths)
    "scan": (lambda n: recurrence.scan(LSTM_, params(LSTM_), X, lengths=n), T, False),
    "scan_linear_cell": (lambda n: recurrence.scan_linear_cell(MinGRU(D, H, log_space=False),
                                                               params(MinGRU(D, H, log_space=False)), X, lengths=n),
                         T, False),
    "scan_log": (lambda n: recurrence.scan_log(MinLSTM(D, H), params(MinLSTM(D, H)), X, lengths=n), T, False),
    "RNN.apply": (lambda n: _rnn(Elman(D, H)).apply(params(Elman(D, H)), X, lengths=n), T, False),
    "RNN.apply reverse": (lambda n: _rnn(GRU_, reverse=True).apply(params(GRU_), X, lengths=n), T, False),
    "Bidirectional.apply": (lambda n: BI.apply(params(BI), X, lengths=n), T, False),
    "Stack.apply": (lambda n: STACK.apply(params(STACK), X, lengths=n), T, False),
    "truncated_bptt": (lambda n: recurrence.truncated_bptt(STACK, params(STACK), X, 4, lengths=n), T, False),
    # recurrence: a batch ([B] lengths)
    "RNN.apply_batch fused": (lambda n: _rnn(LSTM_).apply_batch(params(LSTM_), XS, lengths=n), T, True),
    "RNN.apply_batch fused=False": (lambda n: _rnn(LSTM_, fused=False).apply_batch(params(LSTM_), XS, lengths=n),
                                    T, True),
    "RNN.apply_batch fused GRU reverse": (lambda n: _rnn(GRU_, reverse=True).apply_batch(params(GRU_), XS,
                                                                                          lengths=n), T, True),
    "RNN.apply_batch MGU": (lambda n: _rnn(MGU(D, H)).apply_batch(params(MGU(D, H)), XS, lengths=n), T, True),
    "fused.lstm_batch": (lambda n: fused.lstm_batch(LSTM_, params(LSTM_), XS, lengths=n), T, True),
    "Bidirectional.apply_batch": (lambda n: BI.apply_batch(params(BI), XS, lengths=n), T, True),
    "Stack.apply_batch": (lambda n: STACK.apply_batch(params(STACK), XS, lengths=n), T, True),
    # conv
    "Conv1D": (lambda n: CONV.apply(params(CONV), X, lengths=n), T, False),
    "Conv1D valid stride": (lambda n: Conv1D(D, 4, 3, padding="valid", stride=2).apply(
        params(Conv1D(D, 4, 3, padding="valid", stride=2)), X, lengths=n), T, False),
    "Conv1D.apply_reference": (lambda n: CONV.apply_reference(params(CONV), X, lengths=n), T, False),
    "ConvTranspose1D": (lambda n: CONV_T.apply(params(CONV_T), X, lengths=n), T, False),
    "ConvTranspose1D valid": (lambda n: CONV_T_VALID.apply(params(CONV_T_VALID), X, lengths=n), T, False),
    "ConvStack": (lambda n: STACK_CONV.apply(params(STACK_CONV), X, lengths=n), T, False),
    "FIR": (lambda n: FIR_.apply(params(FIR_), X, lengths=n), T, False),
    "TDNN": (lambda n: TDNN_.apply(params(TDNN_), X, lengths=n), T, False),
    "TCN": (lambda n: TCN_.apply(params(TCN_), X, lengths=n), T, False),
    "ConvAutoencoder": (lambda n: AE.apply(params(AE), X, lengths=n), T, False),
    "ConvAutoencoder.loss": (lambda n: AE.loss(params(AE), X, lengths=n), T, False),
    "WaveNet": (lambda n: WAVENET.apply(params(WAVENET), jnp.tanh(X[:, 0]), lengths=n), T, False),
    "WaveNet.loss": (lambda n: WAVENET.loss(params(WAVENET), jnp.tanh(X[:, 0]), lengths=n), T, False),
    "time_mask": (lambda n: conv1d.time_mask(X, n), T, False),
    # attention
    "attention dense": (lambda n: dot_product.attention(Q, Q, Q, lengths=n, impl="dense"), T, False),
    "attention blockwise": (lambda n: dot_product.attention(Q, Q, Q, lengths=n, impl="blockwise", block_size=4),
                            T, False),
    "attention blockwise padded": (lambda n: dot_product.attention(Q, Q, Q, lengths=n, impl="blockwise",
                                                                   block_size=3), T, False),
    "attention query_lengths": (lambda n: dot_product.attention(Q, Q, Q, query_lengths=n, impl="dense"), T, False),
    "dot_product_attention": (lambda n: dot_product.dot_product_attention(Q, Q, Q, lengths=n, causal=True), T, False),
    "blockwise_attention": (lambda n: dot_product.blockwise_attention(Q, Q, Q, lengths=n, block_size=4), T, False),
    "MultiHeadAttention": (lambda n: MHA.apply(params(MHA, D), X, lengths=n, causal=True), T, False),
    "MultiHeadAttention last": (lambda n: MHA.apply(params(MHA, D), X, lengths=n, last=2), T, False),
    "MultiHeadAttention context_lengths": (lambda n: MHA.apply(params(MHA, D), X[:3], X, context_lengths=n), T, False),
    "local_attention": (lambda n: sparse.local_attention(Q, Q, Q, window=4, causal=True, lengths=n, block_size=4),
                        T, False),
    "strided_attention": (lambda n: sparse.strided_attention(Q, Q, Q, stride=4, causal=False, lengths=n), T, False),
    "fixed_attention": (lambda n: sparse.fixed_attention(Q, Q, Q, stride=4, num_summary=1, causal=True, lengths=n),
                        T, False),
    "longformer_attention": (lambda n: sparse.longformer_attention(Q, Q, Q, window=2, global_tokens=1, causal=False,
                                                                   lengths=n, block_size=2), T, False),
    "bigbird_attention": (lambda n: sparse.bigbird_attention(Q, Q, Q, block_size=2, num_global_blocks=1,
                                                             num_random_blocks=1, causal=False, key=KEY, lengths=n),
                          T, False),
    "sparse.dense_attention": (lambda n: sparse.dense_attention(Q, Q, Q, lengths=n), T, False),
    "performer_attention": (lambda n: linear.performer_attention(Q, Q, Q, FEATURES, causal=True, lengths=n,
                                                                 chunk_size=4), T, False),
    "attention pooling": (lambda n: pooling.apply(params(pooling, D), X, lengths=n), T, False),
    "bahdanau": (lambda n: additive.bahdanau_apply(additive.bahdanau_init(KEY, D, D, 5), X[:2], X, lengths=n),
                 T, False),
    "luong": (lambda n: additive.luong_apply({}, X[:2], X, score="dot", lengths=n), T, False),
    "length_mask": (lambda n: masks.length_mask(n, T), T, False),
    "padding_mask": (lambda n: masks.padding_mask(n, T), T, False),
    "zero_padding": (lambda n: masks.zero_padding(X, n), T, False),
}


def _bad(kind: str, T_: int, batched: bool):
    """A bad `lengths` of the given kind (scalar, or a [B] vector with one bad entry)."""
    scalar = {"negative": -1, "above T": T_ + 1, "float": 2.5, "bool": True}[kind]
    if not batched:
        return scalar
    good = {"float": 1.0, "bool": False}.get(kind, 1)
    return np.asarray([good, scalar])


@pytest.mark.parametrize("kind", ["negative", "above T", "float", "bool"])
@pytest.mark.parametrize("name", list(LAYERS))
def test_bad_lengths_refused_naming_lengths(name, kind):
    run, T_, batched = LAYERS[name]
    match = r"lengths.*(out of range|must be integers)"
    with pytest.raises(ValueError, match=match):
        run(_bad(kind, T_, batched))
    with pytest.raises(ValueError, match=match):  # the same as a concrete JAX array
        run(jnp.asarray(_bad(kind, T_, batched)))


@pytest.mark.parametrize("name", list(LAYERS))
def test_lengths_clamped_under_jit(name):
    """A traced out-of-range length is clamped to [0, T]: the output at the clamped value, to the bit (the same
    compiled function), and within rounding of the eager output."""
    run, T_, batched = LAYERS[name]
    if batched:
        cases = [(jnp.asarray([T_ + 3, -2]), jnp.asarray([T_, 0]))]
    else:
        cases = [(jnp.asarray(-2), jnp.asarray(0)), (jnp.asarray(T_ + 3), jnp.asarray(T_))]
    jitted = jax.jit(run)
    for bad, clamped in cases:
        _assert_trees_equal(jitted(bad), jitted(clamped))
        _assert_trees_close(jitted(bad), run(clamped))


@pytest.mark.parametrize("name", list(LAYERS))
def test_full_length_equals_no_lengths(name):
    """lengths == T (as an int, and as an array under jit) gives the output without lengths."""
    run, T_, batched = LAYERS[name]
    expected = run(None)
    full = np.full((B,), T_) if batched else T_
    _assert_trees_close(run(full), expected)
    _assert_trees_close(jax.jit(run)(jnp.asarray(full)), expected)


def _assert_trees_equal(a, b):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def _assert_trees_close(a, b):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-5, atol=1e-5)


def test_check_lengths_rule():
    """The rule itself: values returned as given (an int stays an int); `clamp_lengths` clamps traced ones."""
    assert check_lengths(None, 5, "f") is None
    assert check_lengths(3, 5, "f") == 3 and isinstance(check_lengths(3, 5, "f"), int)
    assert check_lengths(np.int64(0), 5, "f") == 0
    np.testing.assert_array_equal(check_lengths(jnp.asarray([0, 5]), 5, "f", batch=2), [0, 5])
    with pytest.raises(ValueError, match=r"f: lengths 6 out of range \[0, 5\]"):
        check_lengths(6, 5, "f")
    with pytest.raises(ValueError, match=r"f: lengths \[1, -1\] out of range \[0, 5\] \(lengths\[1\] = -1\)"):
        check_lengths([1, -1], 5, "f", batch=2)
    with pytest.raises(ValueError, match=r"f: lengths must be integers .* got lengths=5.5 of dtype float64"):
        check_lengths(5.5, 5, "f")
    with pytest.raises(ValueError, match=r"f: query_lengths must be integers .* of dtype bool"):
        check_lengths(jnp.asarray(True), 5, "f", arg="query_lengths")
    with pytest.raises(ValueError, match=r"f: expected lengths \[B\] with B=3, got shape \(2,\)"):
        check_lengths([1, 2], 5, "f", batch=3)
    with pytest.raises(ValueError, match=r"int scalar per example"):
        check_lengths([1, 2], 5, "f")
    # traced: returned as given (a mask t < L is already that of the clamped L), and clamped by clamp_lengths
    assert int(jax.jit(lambda n: check_lengths(n, 5, "f"))(jnp.asarray(9))) == 9
    clamp = jax.jit(lambda n: clamp_lengths(check_lengths(n, 5, "f"), 5))
    assert [int(clamp(jnp.asarray(v))) for v in (-3, 0, 4, 5, 9)] == [0, 0, 4, 5, 5]
    assert int(jax.jit(lambda n: clamp_lengths(n, 1000))(jnp.asarray(100, jnp.int8))) == 100
    assert int(jax.jit(lambda n: clamp_lengths(n, 5))(jnp.asarray(200, jnp.uint8))) == 5
    assert clamp_lengths(7, 5) == 7 and clamp_lengths(None, 5) is None  # concrete values: checked, not clamped


def test_masks_need_no_clamp():
    """Why mask-only layers add no op under jit: t < L over t in [0, T) is the mask of clip(L, 0, T)."""
    t = np.arange(T)
    for L in range(-3, T + 4):
        np.testing.assert_array_equal(t < L, t < np.clip(L, 0, T))


# -- clear messages for inputs that failed deep inside JAX --------------------------------------------

def test_wrong_size_params_named():
    other = LSTM(D, H + 1).init(KEY)
    message = r"LSTM\(input_size=3, hidden_size=4\): params\['R'\] has shape \(5, 20\), expected \(4, 16\)"
    with pytest.raises(ValueError, match=message):
        recurrence.scan(LSTM_, other, X)
    with pytest.raises(ValueError, match=message):
        _rnn(LSTM_).apply_batch(other, XS)  # the fused kernel
    with pytest.raises(ValueError, match=message):
        LSTM_.step(other, LSTM_.initial_carry(params(LSTM_)), X[0])
    with pytest.raises(ValueError, match=r"params: expected the tree .*'R_h'.*got .*'b_hn'"):
        recurrence.scan(GRU(D, H, reset="before"), params(GRU_), X)


def test_wrong_size_initial_carry_named():
    carry = {"c": jnp.zeros(H + 1), "h": jnp.zeros(H + 1)}
    with pytest.raises(ValueError, match=r"initial_carry\['c'\] has shape \(5,\), expected \(4,\)"):
        recurrence.scan(LSTM_, params(LSTM_), X, initial_carry=carry)
    with pytest.raises(ValueError, match=r"initial_carry\['c'\] has shape \(2, 4\), expected \(4,\).*apply_batch"):
        recurrence.scan(LSTM_, params(LSTM_), X, initial_carry={"c": jnp.zeros((B, H)), "h": jnp.zeros((B, H))})
    with pytest.raises(ValueError, match=r"carry\['c'\] has shape \(5,\), expected \(4,\)"):
        LSTM_.step(params(LSTM_), carry, X[0])
    with pytest.raises(ValueError, match=r"initial_carry has shape \(3,\), expected \(4,\)"):
        recurrence.scan_log(MinGRU(D, H), params(MinGRU(D, H)), X, initial_carry=jnp.ones(3))


@pytest.mark.parametrize("fused_path", [None, False])
def test_float16_params_compute_in_float32(fused_path):
    """Mixed dtypes run in jnp.result_type of xs, params and carry (no scan-carry type error); both paths agree."""
    p16 = jax.tree.map(lambda a: a.astype(jnp.float16), params(LSTM_))
    p32 = jax.tree.map(lambda a: a.astype(jnp.float32), p16)
    layer = _rnn(LSTM_, fused=fused_path)
    carry, ys = layer.apply_batch(p16, XS, lengths=np.asarray([T, 5]))
    assert ys.dtype == jnp.float32 and carry["c"].dtype == jnp.float32
    _assert_trees_close((carry, ys), layer.apply_batch(p32, XS, lengths=np.asarray([T, 5])))
    grads = jax.grad(lambda p: layer.apply_batch(p, XS)[1].sum())(p16)
    assert all(g.dtype == jnp.float16 for g in jax.tree.leaves(grads))
    _assert_trees_close(recurrence.scan(LSTM_, p16, X), recurrence.scan(LSTM_, p32, X))
    # float32 params with bfloat16 xs: the carry stays float32 on both paths
    assert layer.apply_batch(p32, XS.astype(jnp.bfloat16))[1].dtype == jnp.float32


def test_conv_int_input_named_and_mixed_floats_promoted():
    with pytest.raises(ValueError, match="Conv1D: expected a floating-point input x, got dtype int32"):
        CONV.apply(params(CONV), jnp.ones((T, D), jnp.int32))
    with pytest.raises(ValueError, match="TCN: expected a floating-point input x, got dtype int32"):
        TCN_.apply(params(TCN_), jnp.ones((T, D), jnp.int32))
    p16 = jax.tree.map(lambda a: a.astype(jnp.float16), params(CONV))
    np.testing.assert_allclose(CONV.apply(p16, X), CONV.apply_reference(p16, X), rtol=1e-5, atol=1e-5)


def test_attention_size_arguments_named():
    with pytest.raises(ValueError, match="attention: block_size must be a positive int, got 0"):
        dot_product.attention(Q, Q, Q, impl="blockwise", block_size=0)
    with pytest.raises(ValueError, match="blockwise_attention: block_q must be a positive int, got 0"):
        dot_product.blockwise_attention(Q, Q, Q, block_q=0)
    with pytest.raises(ValueError, match="num_kv_heads must be a positive int or None, got 0"):
        multi_head.MultiHeadAttention(2, 4, num_kv_heads=0)
    with pytest.raises(ValueError, match="num_heads must be a positive int, got True"):
        multi_head.MultiHeadAttention(True, 4)
    with pytest.raises(ValueError, match="block_size must be a positive int, got 0"):
        multi_head.MultiHeadAttention(2, 4, block_size=0)
    with pytest.raises(ValueError, match="strided_attention: expected a positive int stride, got 0"):
        sparse.strided_attention(Q, Q, Q, stride=0, causal=False)
    with pytest.raises(ValueError, match="fixed_attention: expected a positive int stride, got 0"):
        sparse.fixed_attention(Q, Q, Q, stride=0, num_summary=0, causal=False)
    with pytest.raises(ValueError, match="local_attention: expected a positive int block_size, got True"):
        sparse.local_attention(Q, Q, Q, window=4, causal=False, block_size=True)


@pytest.mark.parametrize("make", [lambda: LSTM(8, True), lambda: LSTM(True, 8), lambda: GRU(3, 4.0),
                                  lambda: LSTM(3, 4, proj_size=True), lambda: Jordan(3, 4, out_size=False)])
def test_cell_sizes_are_positive_ints_not_bools(make):
    with pytest.raises(ValueError, match=r"(input|hidden|proj|out)_size must be a positive int"):
        make()


# -- apply_batch(initial_carry=...): one rule for every path ----------------------------------------

CARRY_LAYERS = {
    "LSTM fused": _rnn(LSTM_),
    "LSTM fused=False": _rnn(LSTM_, fused=False),
    "GRU fused reverse": _rnn(GRU_, reverse=True),
    "GRU fused=False": _rnn(GRU_, fused=False),
    "LSTM projection": _rnn(LSTM(D, H, proj_size=2)),
    "GRU reset before": _rnn(GRU(D, H, reset="before")),
    "Elman": _rnn(Elman(D, H)),
    "MinGRU": _rnn(MinGRU(D, H)),
}


@pytest.mark.parametrize("name", list(CARRY_LAYERS))
def test_initial_carry_shared_or_per_example(name):
    layer = CARRY_LAYERS[name]
    p = params(layer)
    lengths = np.asarray([T, 5])
    shared = jax.tree.map(lambda a: a + 0.5, layer.initial_carry(p))
    per_example = jax.tree.map(lambda a: a * jnp.arange(1, B + 1).reshape((B,) + (1,) * a.ndim), shared)
    by_hand = jax.tree.map(lambda a: jnp.broadcast_to(a, (B,) + a.shape), shared)
    _assert_trees_equal(layer.apply_batch(p, XS, lengths=lengths, initial_carry=shared),
                        layer.apply_batch(p, XS, lengths=lengths, initial_carry=by_hand))
    got = layer.apply_batch(p, XS, lengths=lengths, initial_carry=per_example)
    one_by_one = jax.vmap(lambda x, n, c: layer.apply(p, x, lengths=n, initial_carry=c))(XS, lengths, per_example)
    _assert_trees_close(got, one_by_one)
    leaves = jax.tree.leaves(shared)
    wrong = jax.tree.unflatten(jax.tree.structure(shared), [jnp.zeros((B + 1,) + a.shape) for a in leaves])
    with pytest.raises(ValueError, match=r"initial_carry.* has shape \(3, \d\); expected \(\d,\) \(shared by the "
                                         r"batch\) or \(2, \d\) \(per example\)"):
        layer.apply_batch(p, XS, initial_carry=wrong)


def test_initial_carry_when_batch_equals_hidden():
    """B == H: a per-example [B, H] carry is not mistaken for anything else (it used to be a matmul error)."""
    cell = Elman(D, B)
    layer = _rnn(cell)
    p = params(layer)
    per_example = {"h": _normal(4, (B, B))}
    _assert_trees_close(layer.apply_batch(p, XS, initial_carry=per_example),
                        jax.vmap(lambda x, c: layer.apply(p, x, initial_carry=c))(XS, per_example))


def test_initial_carry_containers():
    with pytest.raises(ValueError, match="Bidirectional: initial_carry must be a dict"):
        BI.apply_batch(params(BI), XS, initial_carry={"fwd": None})
    with pytest.raises(ValueError, match="Stack: initial_carry must be a list of 2 carries"):
        STACK.apply_batch(params(STACK), XS, initial_carry=[None])
    shared = {"forward": LSTM_.initial_carry(params(LSTM_)), "backward": None}
    carry, _ = BI.apply_batch(params(BI), XS, initial_carry=shared)
    assert carry["forward"]["h"].shape == (B, H)
