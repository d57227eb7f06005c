"""Fused whole-batch LSTM and GRU kernels with hand-written backward passes.

Reference: `scans.scan` of the cell's own `step` under `jax.vmap`, which is
what `RNN(cell, fused=False).apply_batch` runs; tests/cells/test_fused.py
compares values and gradients, with padding, reversal and initial carries.

`lax.scan`'s automatic backward pass accumulates the weight gradient inside
the reverse scan: one more small [H, B] x [B, G] product per time step. Here
the reverse scan only carries the gradient through time (da_t R^T), and the
weight gradients are large products over chunks of BWD_CHUNK steps:

    dR = sum_t h_{t-1}^T da_t        ([H, chunk*B] x [chunk*B, 4H] per chunk)
    dW = sum_t x_t^T da_t            db = sum_t da_t

with a_t the gate pre-activations. The forward pass saves the gate
activations and tanh(c_t), so the backward pass recomputes nothing. The kernel
runs on the whole batch, time-major ([T, B, ...]), because under `jax.vmap` a
custom VJP would produce the weight gradients per example and sum them.

Equations, gate order and parameters are those of `seqmodels.cells.LSTM`
(vanilla, no peepholes/projection, default activations; the cell declares
`ScanKind.FUSED_LSTM`):

    z = tanh(W_z x + R_z h' + b_z)   i, f, o = sigmoid(W_. x + R_. h' + b_.)
    c = z * i + c' * f               h = tanh(c) * o

The GRU kernel does the same for `GRU(reset="after")` (cuDNN/flax form;
`ScanKind.FUSED_GRU`):

    r, u = sigmoid(W_. x + R_. h' + b_.)   n = tanh(W_h x + b_h + r * (R_h h' + b_hn))
    h = u * h' + (1 - u) * n

Choices, each the faster one measured (figures: benchmarks/README.md):
  * the input gradient dx_t = da_t W^T is one product per chunk, outside the
    per-step loop, so XLA drops it where the inputs need no gradient (the
    first layer), as autodiff of a plain scan does;
  * the forward scan takes one [x_t, h] [W; R] product per step on the CPU,
    and adds a precomputed x_t W + b to h R with `hoist=True` (what
    `RNN` asks for on accelerators, `scans.default_hoist`);
  * on the CPU, tanh is `seqmodels.nn.activations.rational_tanh`, the float32
    rational approximation XLA's CPU backend uses for `jnp.tanh` (within 5 ulp,
    tests/nn/test_layers.py) written as plain arithmetic, which XLA compiles
    into faster code inside a scan body than its own tanh.
"""

import functools

import jax
import jax.numpy as jnp
from jax import lax

from seqmodels.array_types import Array, Bool, Float
from seqmodels.cells.base import ScanKind, cast_tree, compute_dtype
from seqmodels.nn.activations import rational_tanh
from seqmodels.nn.lengths import check_lengths
from seqmodels.recurrence import scans

# lax.scan unroll of the kernels' forward and (per-chunk) reverse scans on the CPU, the fastest measured.
LSTM_UNROLL = 1
LSTM_BWD_UNROLL = 2
GRU_UNROLL = 1
GRU_BWD_UNROLL = 1

# The reverse scans run in chunks of BWD_CHUNK steps on the CPU: each chunk's per-step gradients feed the
# weight-gradient product while still in cache, instead of a [T, B, G] array that one product reads after the scan.
BWD_CHUNK = 32

# Off the CPU (measured on an H200, results/benchmarks_gpu/rnn_settings_variants.jsonl): jnp.tanh, the whole
# sequence as one chunk, LSTM unroll 2 / 2, GRU 4 / 4.
_ACCELERATOR = {"tanh": jnp.tanh, "chunk": None, "lstm_unroll": (2, 2), "gru_unroll": (4, 4)}

# Whose settings the kernels use: None = those of jax.default_backend(); "cpu" or any other name forces
# them (benchmarks/rnn.py --fused_settings, to measure the CPU settings on an accelerator). Read at trace time.
SETTINGS_BACKEND = None


def _settings():
    """tanh, chunk and unrolls for the default backend (or SETTINGS_BACKEND), decided when the kernel is traced."""
    if (SETTINGS_BACKEND or jax.default_backend()) == "cpu":
        return {"tanh": rational_tanh, "chunk": BWD_CHUNK, "lstm_unroll": (LSTM_UNROLL, LSTM_BWD_UNROLL),
                "gru_unroll": (GRU_UNROLL, GRU_BWD_UNROLL)}
    return _ACCELERATOR


def _reverse_scan_chunked(body, carry, body_seq, chunk_fn, acc, *, chunk, unroll=1):
    """A reverse `lax.scan` of `body` whose per-step outputs are consumed chunk by chunk.

    body(carry, body_inputs_t) -> (carry, emitted_t); body_seq: tuple of time-major [T, ...] arrays.
    chunk_fn(t0, n, emitted [n, ...]) -> (increment to `acc`, per-step outputs [n, ...]) for the time
    steps [t0, t0 + n) (t0 may be traced, n is static). Returns (carry, acc, per-step outputs [T, ...]). The first T % chunk steps,
    the last ones the reverse scan reaches, form one shorter chunk.
    """
    T = body_seq[0].shape[0]
    head, n = T % chunk, T // chunk
    outs_tail = None
    if n:
        tail = tuple(a[head:].reshape((n, chunk) + a.shape[1:]) for a in body_seq)

        def outer(state, inp):
            c, a = state
            j, seq = inp
            c, emitted = lax.scan(body, c, seq, reverse=True, unroll=unroll)
            inc, outs = chunk_fn(head + j * chunk, chunk, emitted)
            return (c, jax.tree.map(jnp.add, a, inc)), outs

        (carry, acc), outs_tail = lax.scan(outer, (carry, acc), (jnp.arange(n), tail), reverse=True)
        outs_tail = jax.tree.map(lambda o: o.reshape((n * chunk,) + o.shape[2:]), outs_tail)
    if head:
        carry, emitted = lax.scan(body, carry, tuple(a[:head] for a in body_seq), reverse=True, unroll=unroll)
        inc, outs_head = chunk_fn(0, head, emitted)
        acc = jax.tree.map(jnp.add, acc, inc)
        outs = outs_head if outs_tail is None else jax.tree.map(
            lambda a, b: jnp.concatenate([a, b]), outs_head, outs_tail)
    else:
        outs = outs_tail
    return carry, acc, outs


def _tanh(x):
    """`rational_tanh` on the CPU (module docstring), `jnp.tanh` elsewhere (`_settings`)."""
    return _settings()["tanh"](x)


def supported(cell) -> bool:
    """Whether a kernel here computes `cell` exactly, as the cell declares (`cell.scan_kind`)."""
    return cell.scan_kind in (ScanKind.FUSED_LSTM, ScanKind.FUSED_GRU)


def check_supported(cell) -> None:
    """ValueError unless a kernel here computes `cell` (`supported`)."""
    if not supported(cell):
        raise ValueError(f"no fused kernel for {cell} (scan_kind {cell.scan_kind.name}); supported: LSTM (vanilla, "
                         f"no peepholes/projection) and GRU(reset='after') with default activations")


def _split4(a, H):
    return a[..., :H], a[..., H:2 * H], a[..., 2 * H:3 * H], a[..., 3 * H:]


def _forward(masked, hoist, W, R, b, xs, mask, h0, c0):
    """xs [T, B, D], mask [T, B, 1] (True = valid), h0/c0 [B, H] -> outputs, saved activations.

    The scan emits only what the recurrence produces (gate activations and
    cell states, c_{t-1} where nothing is padded); h_t = tanh(c_t) * o_t is
    recomputed for all t at once after it.
    `hoist`: x_t W + b for all t as one product before the scan (faster on
    GPUs), else one [x_t, h] [W; R] product per step (faster on the CPU).
    """
    H = h0.shape[-1]
    WR = jnp.concatenate([W, R], axis=0)  # [D + H, 4H]: one product per step
    inputs = xs @ W + b if hoist else xs  # [T, B, 4H] or [T, B, D]

    def body(carry, inp):
        h, c = carry
        x_t, m = inp
        a = x_t + h @ R if hoist else jnp.concatenate([x_t, h], axis=-1) @ WR + b  # [B, 4H]
        z, i, f, o = _split4(a, H)
        z, i, f, o = _tanh(z), jax.nn.sigmoid(i), jax.nn.sigmoid(f), jax.nn.sigmoid(o)
        c_new = z * i + c * f
        h_new = _tanh(c_new) * o
        acts = jnp.concatenate([z, i, f, o], axis=-1)  # [B, 4H]
        if not masked:
            return (h_new, c_new), (acts, c)  # c: the cell state before step t, c_{t-1}
        h_out, c_out = jnp.where(m, h_new, h), jnp.where(m, c_new, c)  # padding keeps the carry
        return (h_out, c_out), (acts, c_new, h_out, c_out)

    (hT, cT), outs = lax.scan(body, (h0, c0), (inputs, mask), unroll=_settings()["lstm_unroll"][0])
    acts = outs[0]
    if masked:
        c_new, h_outs, c_outs = outs[1], outs[2], outs[3]
        c_prev = jnp.concatenate([c0[None], c_outs[:-1]])  # [T, B, H]
    else:  # c_t is step t+1's c_{t-1}, and c_T the final carry (XLA fuses this concatenate into the tanh)
        c_prev = outs[1]
        c_new = jnp.concatenate([c_prev[1:], cT[None]])
    tanh_c = _tanh(c_new)  # [T, B, H], reused by the backward pass
    ys = tanh_c * acts[..., 3 * H:]  # h_t = tanh(c_t) * o_t
    if masked:
        ys = jnp.where(mask, ys, 0.0)
    else:
        h_outs = ys
    return (ys, hT, cT), (acts, tanh_c, h_outs, c_prev)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0, 1))
def lstm_time_major(masked: bool, hoist: bool, W: Float[Array, "D G"], R: Float[Array, "H G"],
                    b: Float[Array, "G"], xs: Float[Array, "T B D"], mask: Bool[Array, "T B 1"],
                    h0: Float[Array, "B H"], c0: Float[Array, "B H"]):
    """(ys [T, B, H], h_T [B, H], c_T [B, H]); `masked=False` skips the padding logic, `hoist` computes
    the input projection of all steps before the scan."""
    return _forward(masked, hoist, W, R, b, xs, mask, h0, c0)[0]


def _fwd(masked, hoist, W, R, b, xs, mask, h0, c0):
    out, saved = _forward(masked, hoist, W, R, b, xs, mask, h0, c0)
    return out, (W, R, xs, mask, h0, c0) + saved


def _bwd(masked, hoist, res, cts):
    W, R, xs, mask, h0, c0, acts, tanh_c, h_outs, c_prev = res
    dys, dhT, dcT = cts
    T, B, H = dys.shape
    h_prev = jnp.concatenate([h0[None], h_outs[:-1]])  # [T, B, H]
    D = xs.shape[-1]
    R_T = R.T  # [4H, H]

    def body(carry, inp):
        dh_out, dc_out = carry  # gradient reaching the carry after step t
        dy, act, tc, cp, m = inp
        z, i, f, o = _split4(act, H)
        dh, dc_in = dh_out + dy, dc_out
        if masked:
            dh, dc_in = jnp.where(m, dh, 0.0), jnp.where(m, dc_out, 0.0)
        do = dh * tc
        dc = dc_in + dh * o * (1.0 - tc * tc)
        da = jnp.concatenate([dc * i * (1.0 - z * z),  # z = tanh: 1 - z^2
                              dc * z * i * (1.0 - i),  # sigmoid: s (1 - s)
                              dc * cp * f * (1.0 - f),
                              do * o * (1.0 - o)], axis=-1)  # [B, 4H]
        dh_prev, dc_prev = da @ R_T, dc * f  # [B, H]
        if masked:  # a padded step passed its carry through unchanged
            dh_prev = dh_prev + jnp.where(m, 0.0, dh_out)
            dc_prev = dc_prev + jnp.where(m, 0.0, dc_out)
        return (dh_prev, dc_prev), da

    ones = jnp.ones((T, B, 1), xs.dtype)

    def chunk_grads(t0, n, das):  # das [n, B, 4H] for the steps [t0, t0 + n)
        # dR, dW and db in ONE product: [h_{t-1}, x_t, 1]^T da_t summed over the chunk's t and b
        ins = jnp.concatenate([lax.dynamic_slice_in_dim(a, t0, n) for a in (h_prev, xs, ones)], axis=-1)
        grads = ins.reshape(n * B, H + D + 1).T @ das.reshape(n * B, 4 * H)  # [H + D + 1, 4H]
        # dx_t = da_t W^T: none at all where the inputs need no gradient (XLA drops the unused result)
        return grads, das @ W.T

    (dh0, dc0), grads, dxs = _reverse_scan_chunked(
        body, (dhT, dcT), (dys, acts, tanh_c, c_prev, mask), chunk_grads,
        jnp.zeros((H + D + 1, 4 * H), R.dtype), chunk=_settings()["chunk"] or max(T, 1),
        unroll=_settings()["lstm_unroll"][1])
    dR, dW, db = grads[:H], grads[H:H + D], grads[H + D]
    return dW, dR, db, dxs, None, dh0, dc0


lstm_time_major.defvjp(_fwd, _bwd)


def _prepare(cell, params, xs, lengths, initial_carry):
    """The checks and dtype rule of `scans.scan` for a batch: (params, xs, lengths, carry [B, ...] or None),
    params, xs and carry cast up to the dtype the cell computes in (none cast when all dtypes agree)."""
    name = type(cell).__name__
    scans.check_batch(xs, None, cell.input_size, name)
    B, T, _ = xs.shape
    lengths = check_lengths(lengths, T, name, batch=B)
    cell.check_params(params)
    carry = scans.batch_carry(cell, params, initial_carry, B, name)
    dtype = compute_dtype(xs, params, carry)
    return cast_tree(params, dtype), cast_tree(xs, dtype), lengths, cast_tree(carry, dtype)


def lstm_batch(cell, params, xs: Float[Array, "B T D"], *, lengths=None, initial_carry=None, hoist: bool = False):
    """An LSTM of kind FUSED_LSTM over a batch: (carry {'c','h'}: [B, H], ys [B, T, H]).

    Same masking model, checks and dtype rule as `scans.scan` (forward direction); `initial_carry` as
    `RNN.apply_batch` takes it (`scans.batch_carry`: shared, or per example with a leading [B] axis).
    """
    params, xs, lengths, carry = _prepare(cell, params, xs, lengths, initial_carry)
    B, T, _ = xs.shape
    if carry is None:
        h0 = c0 = jnp.zeros((B, cell.hidden_size), xs.dtype)
    else:
        h0, c0 = carry["h"], carry["c"]
    ys, hT, cT = lstm_time_major(lengths is not None, bool(hoist), params["W"], params["R"], params["b"],
                                 jnp.swapaxes(xs, 0, 1), _time_major_mask(lengths, B, T), h0, c0)
    return {"c": cT, "h": hT}, jnp.swapaxes(ys, 0, 1)


# -- GRU (reset after) ------------------------------------------------------------

def _gru_forward(masked, hoist, W, R, b, b_hn, xs, mask, h0):
    """xs [T, B, D], mask [T, B, 1], h0 [B, H] -> outputs, saved activations (`hoist`: as the LSTM's)."""
    H = h0.shape[-1]
    inputs = xs @ W + b if hoist else xs  # [T, B, 3H] or [T, B, D]

    def body(h, inp):
        x_t, m = inp
        gx = x_t if hoist else x_t @ W + b  # [B, 3H]
        gh = h @ R  # [B, 3H]
        r = jax.nn.sigmoid(gx[:, :H] + gh[:, :H])
        u = jax.nn.sigmoid(gx[:, H:2 * H] + gh[:, H:2 * H])
        ghn = gh[:, 2 * H:] + b_hn  # [B, H]
        n = _tanh(gx[:, 2 * H:] + r * ghn)
        h_new = u * h + (1.0 - u) * n
        acts = jnp.concatenate([r, u, n, ghn], axis=-1)  # [B, 4H]
        if not masked:
            return h_new, (h_new, acts)
        h_out = jnp.where(m, h_new, h)
        return h_out, (jnp.where(m, h_new, 0.0), acts, h_out)

    hT, outs = lax.scan(body, h0, (inputs, mask), unroll=_settings()["gru_unroll"][0])
    ys, acts = outs[0], outs[1]
    h_outs = outs[2] if masked else ys
    return (ys, hT), (acts, h_outs)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0, 1))
def gru_time_major(masked: bool, hoist: bool, W, R, b, b_hn, xs: Float[Array, "T B D"],
                   mask: Bool[Array, "T B 1"], h0: Float[Array, "B H"]):
    """(ys [T, B, H], h_T [B, H]) for GRU(reset="after")."""
    return _gru_forward(masked, hoist, W, R, b, b_hn, xs, mask, h0)[0]


def _gru_fwd(masked, hoist, W, R, b, b_hn, xs, mask, h0):
    out, saved = _gru_forward(masked, hoist, W, R, b, b_hn, xs, mask, h0)
    return out, (W, R, xs, mask, h0) + saved


def _gru_bwd(masked, hoist, res, cts):
    W, R, xs, mask, h0, acts, h_outs = res
    dys, dhT = cts
    T, B, H = dys.shape
    h_prev = jnp.concatenate([h0[None], h_outs[:-1]])  # [T, B, H]
    R_T = R.T  # [3H, H]

    def body(dh_out, inp):
        dy, act, hp, m = inp
        r, u, n, ghn = act[:, :H], act[:, H:2 * H], act[:, 2 * H:3 * H], act[:, 3 * H:]
        dh = dh_out + dy
        if masked:
            dh = jnp.where(m, dh, 0.0)
        dn_pre = dh * (1.0 - u) * (1.0 - n * n)  # through n = tanh(.)
        dar = dn_pre * ghn * r * (1.0 - r)
        dau = dh * (hp - n) * u * (1.0 - u)
        dgh = jnp.concatenate([dar, dau, dn_pre * r], axis=-1)  # d(h R) [B, 3H]
        dh_prev = dh * u + dgh @ R_T
        if masked:
            dh_prev = dh_prev + jnp.where(m, 0.0, dh_out)
        return dh_prev, (dgh, dn_pre)

    D = xs.shape[-1]
    ones = jnp.ones((T, B, 1), xs.dtype)

    def chunk_grads(t0, n, emitted):  # d(h R) [n, B, 3H] and dn_pre [n, B, H] for the steps [t0, t0 + n)
        dgh, dn_pre = emitted
        dgx = jnp.concatenate([dgh[..., :2 * H], dn_pre], axis=-1)  # d(x W + b) [n, B, 3H]
        hp = lax.dynamic_slice_in_dim(h_prev, t0, n).reshape(n * B, H)
        x1 = jnp.concatenate([lax.dynamic_slice_in_dim(a, t0, n) for a in (xs, ones)], axis=-1)
        dgh_flat = dgh.reshape(n * B, 3 * H)
        inc = (hp.T @ dgh_flat, dgh_flat[:, 2 * H:].sum(0), x1.reshape(n * B, D + 1).T @ dgx.reshape(n * B, 3 * H))
        return inc, dgx @ W.T

    acc0 = (jnp.zeros((H, 3 * H), R.dtype), jnp.zeros((H,), R.dtype), jnp.zeros((D + 1, 3 * H), R.dtype))
    dh0, (dR, db_hn, dWb), dxs = _reverse_scan_chunked(body, dhT, (dys, acts, h_prev, mask), chunk_grads, acc0,
                                                       chunk=_settings()["chunk"] or max(T, 1),
                                                       unroll=_settings()["gru_unroll"][1])
    dW, db = dWb[:D], dWb[D]
    return dW, dR, db, db_hn, dxs, None, dh0


gru_time_major.defvjp(_gru_fwd, _gru_bwd)


def _time_major_mask(lengths, B, T):
    if lengths is None:
        return jnp.ones((T, B, 1), bool)
    return (jnp.arange(T)[:, None] < lengths[None, :])[..., None]  # [T, B, 1]


def gru_batch(cell, params, xs: Float[Array, "B T D"], *, lengths=None, initial_carry=None, hoist: bool = False):
    """A GRU of kind FUSED_GRU over a batch: (carry {'h'}: [B, H], ys [B, T, H]); checks, dtypes and
    `initial_carry` as `lstm_batch`."""
    params, xs, lengths, carry = _prepare(cell, params, xs, lengths, initial_carry)
    B, T, _ = xs.shape
    H = cell.hidden_size
    h0 = jnp.zeros((B, H), xs.dtype) if carry is None else carry["h"]
    ys, hT = gru_time_major(lengths is not None, bool(hoist), params["W"], params["R"], params["b"],
                            params["b_hn"],
                            jnp.swapaxes(xs, 0, 1), _time_major_mask(lengths, B, T), h0)
    return {"h": hT}, jnp.swapaxes(ys, 0, 1)


def batch(cell, params, xs, *, lengths=None, initial_carry=None, hoist: bool = False):
    """The kernel `cell` declares (its `scan_kind`); `RNN.apply_batch` passes
    `hoist=scans.default_hoist()` unless told otherwise."""
    match cell.scan_kind:
        case ScanKind.FUSED_LSTM:
            return lstm_batch(cell, params, xs, lengths=lengths, initial_carry=initial_carry, hoist=hoist)
        case ScanKind.FUSED_GRU:
            return gru_batch(cell, params, xs, lengths=lengths, initial_carry=initial_carry, hoist=hoist)
        case _:
            check_supported(cell)
