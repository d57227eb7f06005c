"""1-D convolution over time: causal / same / valid padding, stride, dilation,
groups, the transposed convolution, and a streaming step with a ring buffer.

One example, time first: `x: [T, C_in] -> y: [T_out, C_out]`. The kernel is
`[W, C_in / G, C_out]` in lax's "WIO" layout (flax's `nn.Conv` layout, so
weights copy across as they are): a cross-correlation,

    y[t, o] = b[o] + sum_{w=0}^{W-1} sum_i  x_pad[t s + w d, i] kernel[w, i, o]

with stride s, dilation d and x_pad = x with P_l zeros before and P_r after.
Under causal padding the LAST tap, w = W - 1, multiplies the current sample
x[t] and tap w multiplies x[t - (W - 1 - w) d]. (`tdnn.FIR` keeps the filter
layout instead, tap k = delay k.) With G groups, input channel block g only
feeds output channel block g; G = C_in = C_out is a depthwise convolution.

Output length, one rule for every padding (k = d (W - 1) + 1 is the dilated
kernel span):

    T_out = floor((T + P_l + P_r - k) / s) + 1

    padding   P_l                  P_r            T_out
    valid     0                    0              floor((T - k) / s) + 1
    causal    k - 1                0              ceil(T / s)
    same      floor(P / 2)         P - P_l        ceil(T / s)
              with P = max((ceil(T / s) - 1) s + k - T, 0)   (lax/TF 'SAME')

The transposed convolution (`ConvTranspose1D`) upsamples by the stride: it
inserts s - 1 zeros between input frames, pads, and correlates with the kernel
(lax.conv_transpose / flax nn.ConvTranspose with transpose_kernel=False).
Its 'valid' output is the full one, T_out = (T - 1) s + k; 'causal' keeps the
first T s frames of it (y[j] only sees x[i] with i s <= j), 'same' takes T s
frames centred the way lax 'SAME' does.

Padding with `lengths` (an int scalar per example, right padding): frames at
t >= length are zeroed before the convolution and outputs at t >= T_out(length)
are zeroed after it, so padded frames never reach valid outputs. (For 'same'
with stride > 1 the centring offset follows the padded T, as in lax.) Every
layer of this package checks its `lengths` by the rule of `seqmodels.nn.lengths`
(integers in [0, T]; clamped to [0, T] under jit), and refuses a non-floating
input x (an int32 x would reach lax.conv as a dtype error).

Streaming (causal, stride 1): `init_state` returns a ring buffer holding the
last (W - 1) d inputs, and `step(params, state, x_t)` reads the W taps it
needs from it and writes x_t over the oldest one: O(W C_in C_out) per sample
however large the dilation (the fast-WaveNet scheme, Paine et al. 2016).

Fast path `conv1d`: on CPU one lax.conv_general_dilated with the padding
passed in; on accelerators the sum of W shifted matmuls, each the faster
there (`default_conv_impl`; figures: benchmarks/README.md). A matmul form of
the kernel gradient was slower than XLA's, so the backward pass is XLA's.
Reference `conv1d_reference`: gather the W taps of every output frame, one
einsum.
"""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from seqmodels.array_types import Array, Float, Key, Params
from seqmodels.nn import initializers
from seqmodels.nn.lengths import check_lengths, clamp_lengths

PADDINGS = ("causal", "same", "valid")
_DIMENSION_NUMBERS = ("NWC", "WIO", "NWC")


# -- sizes -------------------------------------------------------------------------

def kernel_span(kernel_size: int, dilation: int = 1) -> int:
    """k = d (W - 1) + 1: how many input frames one output frame spans."""
    return dilation * (kernel_size - 1) + 1


def padding_amounts(length: int, kernel_size: int, *, padding: str, stride: int = 1,
                    dilation: int = 1) -> tuple[int, int]:
    """(P_l, P_r) zeros before and after the input (module docstring table)."""
    _check_padding(padding)
    k = kernel_span(kernel_size, dilation)
    if padding == "valid":
        return 0, 0
    if padding == "causal":
        return k - 1, 0
    total = max((-(-length // stride) - 1) * stride + k - length, 0)
    return total // 2, total - total // 2


def output_length(length, kernel_size: int, *, padding: str, stride: int = 1, dilation: int = 1):
    """T_out for an input of T frames (a Python int, or an int array for `lengths`).

    valid: floor((T - k) / s) + 1 (0 when T < k); causal and same: ceil(T / s).
    """
    _check_padding(padding)
    if padding == "valid":
        k = kernel_span(kernel_size, dilation)
        if isinstance(length, (int, np.integer)):
            return max((length - k) // stride + 1, 0)
        return jnp.maximum((length - k) // stride + 1, 0)
    return -(-length // stride)


def transposed_output_length(length, kernel_size: int, *, padding: str, stride: int = 1,
                             dilation: int = 1):
    """T_out of the transposed convolution: valid (T - 1) s + k; causal and same T s."""
    _check_padding(padding)
    if padding == "valid":
        return (length - 1) * stride + kernel_span(kernel_size, dilation)
    return length * stride


def receptive_field(kernel_sizes, dilations=None, strides=None) -> int:
    """Exact span in input frames of one output of a stack of convolutions.

        R = 1 + sum_l (W_l - 1) d_l prod_{j<l} s_j

    (each layer widens the span by its dilated kernel, measured in input
    frames, i.e. scaled by the strides of the layers below it).
    """
    kernel_sizes = tuple(kernel_sizes)
    dilations = (1,) * len(kernel_sizes) if dilations is None else tuple(dilations)
    strides = (1,) * len(kernel_sizes) if strides is None else tuple(strides)
    if not len(kernel_sizes) == len(dilations) == len(strides):
        raise ValueError(f"receptive_field: expected equal numbers of kernel sizes, dilations and "
                         f"strides, got {len(kernel_sizes)}, {len(dilations)}, {len(strides)}")
    span, jump = 1, 1
    for w, d, s in zip(kernel_sizes, dilations, strides):
        _check_positive(kernel_size=w, dilation=d, stride=s)
        span += (w - 1) * d * jump
        jump *= s
    return span


def time_mask(x: Float[Array, "T C"], lengths, *, name: str = "time_mask") -> Float[Array, "T C"]:
    """Zero the frames t >= lengths (an int scalar in [0, T], this example's valid length; the rule of
    `seqmodels.nn.lengths`); x unchanged when `lengths` is None."""
    if lengths is None:
        return x
    return _zero_frames(x, check_lengths(lengths, x.shape[0], name))


def _zero_frames(x, lengths):
    """`time_mask` without the check (for output lengths computed from checked input lengths)."""
    keep = jnp.arange(x.shape[0])[:, None] < lengths  # [T, 1]
    return jnp.where(keep, x, jnp.zeros_like(x))


# -- checks (static shapes and values, before tracing) -------------------------------

def _check_padding(padding: str) -> None:
    if padding not in PADDINGS:
        raise ValueError(f"padding: expected one of {PADDINGS}, got {padding!r}")


def _check_positive(**values) -> None:
    for name, value in values.items():
        if not isinstance(value, (int, np.integer)) or value <= 0:
            raise ValueError(f"{name}: expected a positive int, got {value!r}")


def _check_groups(in_channels: int, out_channels: int, groups: int) -> None:
    if in_channels % groups or out_channels % groups:
        raise ValueError(f"groups={groups} must divide in_channels={in_channels} and "
                         f"out_channels={out_channels}")


def _check_input(name: str, x, in_channels: int) -> None:
    if x.ndim != 2 or x.shape[1] != in_channels:
        raise ValueError(f"{name}: expected input [T, {in_channels}] (one example, time first; "
                         f"vmap over the batch), got shape {x.shape}")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise ValueError(f"{name}: expected a floating-point input x, got dtype {x.dtype} "
                         f"(cast it, e.g. x.astype(jnp.float32))")


def _check_kernel(name: str, kernel, expected: tuple[int, ...]) -> None:
    if kernel.shape != expected:
        raise ValueError(f"{name}: expected kernel [W, C_in / G, C_out] = {expected}, "
                         f"got {kernel.shape}")


# -- the convolution itself: fast path and reference ---------------------------------

IMPLS = ("lax", "shifted")


def default_conv_impl() -> str:
    """'lax' on CPU, 'shifted' on accelerators: the faster path of a dilated stack's training step on
    each (`python -m benchmarks.conv`; figures: benchmarks/README.md)."""
    return "lax" if jax.default_backend() == "cpu" else "shifted"


def conv1d(x: Float[Array, "T C_in"], kernel: Float[Array, "W C_g C_out"], *, padding: str,
           stride: int = 1, dilation: int = 1, groups: int = 1,
           impl: str | None = None) -> Float[Array, "T_out C_out"]:
    """Fast path: one lax.conv_general_dilated with the padding (P_l, P_r) passed in, or
    (`impl="shifted"`, the default on accelerators, stride 1 and one group only) the sum of W
    matrix products over shifted views of the padded input, y[t] = sum_w x_pad[t + w d] @ K[w].

    (flax pads the input first for 'CAUSAL' and convolves 'VALID': the same
    forward convolution, but a pad copy per layer and, in the backward pass,
    input-gradient convolutions over the padded length plus a slice.)
    """
    impl = default_conv_impl() if impl is None else impl
    if impl not in IMPLS:
        raise ValueError(f"conv1d: unknown impl {impl!r}; expected one of {IMPLS} or None")
    x, kernel = _same_dtype(x, kernel)
    pads = padding_amounts(x.shape[0], kernel.shape[0], padding=padding, stride=stride,
                           dilation=dilation)
    if impl == "shifted" and stride == 1 and groups == 1 and min(pads) >= 0:
        t_out = output_length(x.shape[0], kernel.shape[0], padding=padding, stride=1, dilation=dilation)
        x_pad = jnp.pad(x, (pads, (0, 0)))
        return sum(x_pad[w * dilation:w * dilation + t_out] @ kernel[w] for w in range(kernel.shape[0]))
    y = jax.lax.conv_general_dilated(
        x[None], kernel, window_strides=(stride,), padding=[pads], rhs_dilation=(dilation,),
        dimension_numbers=_DIMENSION_NUMBERS, feature_group_count=groups)  # [1, T_out, C_out]
    return y[0]


def _same_dtype(x, kernel):
    """x and kernel in their promoted dtype, as the reference's einsum computes (lax.conv needs one dtype);
    nothing is cast when they agree."""
    dtype = jnp.result_type(x, kernel)
    return (x if x.dtype == dtype else x.astype(dtype)), (kernel if kernel.dtype == dtype else kernel.astype(dtype))


def grouped_taps(windows: Float[Array, "... W C_in"], kernel: Float[Array, "W C_g C_out"],
                 groups: int) -> Float[Array, "... C_out"]:
    """sum_w windows[..., w, :] @ kernel[w], block-diagonal over the G groups."""
    width, c_g, c_out = kernel.shape
    xs = windows.reshape(*windows.shape[:-1], groups, c_g)  # [..., W, G, C_in/G]
    ks = kernel.reshape(width, c_g, groups, c_out // groups)  # [W, C_in/G, G, C_out/G]
    y = jnp.einsum("...wgi,wigo->...go", xs, ks)  # [..., G, C_out/G]
    return y.reshape(*y.shape[:-2], c_out)


def conv1d_reference(x: Float[Array, "T C_in"], kernel: Float[Array, "W C_g C_out"], *,
                     padding: str, stride: int = 1, dilation: int = 1,
                     groups: int = 1) -> Float[Array, "T_out C_out"]:
    """Reference: gather x_pad[t s + w d] for every (t, w), then one einsum."""
    t_in, width = x.shape[0], kernel.shape[0]
    pad_l, pad_r = padding_amounts(t_in, width, padding=padding, stride=stride, dilation=dilation)
    t_out = output_length(t_in, width, padding=padding, stride=stride, dilation=dilation)
    index = (np.arange(t_out)[:, None] * stride + np.arange(width)[None, :] * dilation
             - pad_l)  # [T_out, W], into the unpadded x
    inside = (index >= 0) & (index < t_in)
    windows = jnp.where(inside[..., None], x[np.clip(index, 0, t_in - 1)], 0.0)  # [T_out, W, C_in]
    return grouped_taps(windows, kernel, groups)


# -- ring buffer ---------------------------------------------------------------------

def ring_init(kernel_size: int, dilation: int, channels: int, dtype=jnp.float32) -> Params:
    """{'buffer': [(W - 1) d, C], 'pos': int32 slot of the oldest frame}."""
    size = (kernel_size - 1) * dilation
    return {"buffer": jnp.zeros((size, channels), dtype), "pos": jnp.zeros((), jnp.int32)}


def ring_step(state: Params, x_t: Float[Array, "C"], kernel_size: int,
              dilation: int) -> tuple[Params, Float[Array, "W C"]]:
    """Read the taps x[t - j d], j = W-1..1, append x_t: the window [W, C] in kernel order.

    With R = (W - 1) d slots and pos = t mod R, x[t - j d] sits in slot
    (pos - j d) mod R; slot pos holds x[t - R], the oldest tap, read before
    x_t overwrites it.
    """
    buffer, pos = state["buffer"], state["pos"]
    size = buffer.shape[0]
    if size == 0:  # W == 1: nothing to remember
        return state, x_t[None]
    delays = np.arange(kernel_size - 1, 0, -1) * dilation  # [W - 1], oldest first
    past = buffer[jnp.mod(pos - delays, size)]  # [W - 1, C]
    window = jnp.concatenate([past, x_t[None].astype(buffer.dtype)], axis=0)  # [W, C]
    state = {"buffer": buffer.at[pos].set(x_t.astype(buffer.dtype)),
             "pos": jnp.mod(pos + 1, size).astype(jnp.int32)}
    return state, window


# -- the layers ----------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class _ConvLayer:
    """Fields, checks, init and masking shared by Conv1D and ConvTranspose1D."""

    in_channels: int
    out_channels: int
    kernel_size: int
    padding: str = "causal"
    stride: int = 1
    dilation: int = 1
    groups: int = 1
    use_bias: bool = True

    def __post_init__(self):
        _check_positive(in_channels=self.in_channels, out_channels=self.out_channels,
                        kernel_size=self.kernel_size, stride=self.stride,
                        dilation=self.dilation, groups=self.groups)
        _check_padding(self.padding)
        _check_groups(self.in_channels, self.out_channels, self.groups)

    @property
    def kernel_shape(self) -> tuple[int, int, int]:
        return (self.kernel_size, self.in_channels // self.groups, self.out_channels)

    def init(self, key: Key, *, w_init=initializers.lecun_normal, b_init=initializers.zeros,
             dtype=jnp.float32) -> Params:
        """Kernel from `w_init` (fan-in W C_in / G: flax's default), bias from `b_init`."""
        w_key, b_key = jax.random.split(key)
        params = {"kernel": initializers.get(w_init)(w_key, self.kernel_shape, dtype)}
        if self.use_bias:
            params["bias"] = initializers.get(b_init)(b_key, (self.out_channels,), dtype)
        return params

    def _check(self, params: Params, x) -> None:
        name = type(self).__name__
        _check_input(name, x, self.in_channels)
        _check_kernel(name, params["kernel"], self.kernel_shape)

    def _run(self, conv, params: Params, x, lengths):
        """Mask the input, convolve, add the bias, mask the output."""
        self._check(params, x)
        lengths = check_lengths(lengths, x.shape[0], type(self).__name__)
        if lengths is not None:
            x = _zero_frames(x, lengths)
        y = conv(x, params["kernel"], padding=self.padding, stride=self.stride,
                 dilation=self.dilation, groups=self.groups)  # [T_out, C_out]
        if "bias" in params:
            y = y + params["bias"]
        if lengths is not None:
            if not self._masks_at_zero:  # its output length at L < 0 is not that at 0: clamp first
                lengths = clamp_lengths(lengths, x.shape[0])
            y = _zero_frames(y, self.output_length(lengths))
        return y

    @property
    def _masks_at_zero(self) -> bool:
        """Whether output_length(L) <= 0 for every L <= 0 (then, being monotone and at least T_out from
        L = T on, it masks a traced out-of-range L as its clamp to [0, T] with no op: nn.lengths)."""
        return True

    def _check_frame(self, params: Params, x_t) -> None:
        name = type(self).__name__
        if x_t.shape != (self.in_channels,):
            raise ValueError(f"{name}.step: expected one frame [{self.in_channels}], "
                             f"got shape {x_t.shape}")
        _check_kernel(name, params["kernel"], self.kernel_shape)


@dataclasses.dataclass(frozen=True)
class Conv1D(_ConvLayer):
    """A 1-D convolution layer: `params = spec.init(key)`, `y = spec.apply(params, x)`.

    Params: {'kernel': [W, C_in / G, C_out], 'bias': [C_out]} (flax nn.Conv's
    names and layout). `padding` is 'causal' (default), 'same' or 'valid'.
    """

    @property
    def receptive_field(self) -> int:
        return kernel_span(self.kernel_size, self.dilation)

    def output_length(self, length):
        return output_length(length, self.kernel_size, padding=self.padding, stride=self.stride,
                             dilation=self.dilation)

    def _check(self, params: Params, x) -> None:
        super()._check(params, x)
        if self.padding == "valid" and x.shape[0] < self.receptive_field:
            raise ValueError(f"Conv1D: a 'valid' convolution needs at least {self.receptive_field} "
                             f"frames (kernel {self.kernel_size}, dilation {self.dilation}), "
                             f"got an input of shape {x.shape}")

    def apply(self, params: Params, x: Float[Array, "T C_in"], *, lengths=None,
              key: Key | None = None, deterministic: bool = False) -> Float[Array, "T_out C_out"]:
        del key, deterministic  # no dropout: the same call as a layer with dropout
        return self._run(conv1d, params, x, lengths)

    def apply_reference(self, params: Params, x: Float[Array, "T C_in"], *,
                        lengths=None) -> Float[Array, "T_out C_out"]:
        return self._run(conv1d_reference, params, x, lengths)

    # -- streaming ---------------------------------------------------------------------

    def init_state(self, dtype=jnp.float32) -> Params:
        """Ring buffer of the last (W - 1) d inputs (zeros = causal zero padding)."""
        if self.padding != "causal" or self.stride != 1:
            raise ValueError(f"Conv1D.init_state: streaming needs padding='causal' and stride=1, "
                             f"got padding={self.padding!r}, stride={self.stride}")
        return ring_init(self.kernel_size, self.dilation, self.in_channels, dtype)

    def step(self, params: Params, state: Params,
             x_t: Float[Array, "C_in"]) -> tuple[Params, Float[Array, "C_out"]]:
        """One causal output frame from one input frame: O(W C_in C_out) work."""
        self._check_frame(params, x_t)
        state, window = ring_step(state, x_t, self.kernel_size, self.dilation)  # [W, C_in]
        y = grouped_taps(window, params["kernel"], self.groups)  # [C_out]
        if "bias" in params:
            y = y + params["bias"]
        return state, y


# -- transposed convolution -----------------------------------------------------------

def _transposed_pads(length: int, kernel_size: int, *, padding: str, stride: int,
                     dilation: int) -> tuple[int, int]:
    """(P_l, P_r) around the zero-stuffed input ((T - 1) s + 1 frames)."""
    k = kernel_span(kernel_size, dilation)
    if padding == "same":  # lax.conv_transpose 'SAME'
        total = k + stride - 2
        pad_l = k - 1 if stride > k - 1 else math.ceil(total / 2)
    else:  # valid (full) and causal (its first T s frames) start at the same place
        pad_l = k - 1
    t_out = transposed_output_length(length, kernel_size, padding=padding, stride=stride,
                                     dilation=dilation)
    pad_r = t_out + k - 1 - ((length - 1) * stride + 1) - pad_l
    return pad_l, pad_r


def conv_transpose1d(x: Float[Array, "T C_in"], kernel: Float[Array, "W C_g C_out"], *,
                     padding: str, stride: int = 1, dilation: int = 1,
                     groups: int = 1) -> Float[Array, "T_out C_out"]:
    """Fast path: one lax.conv_general_dilated with input dilation s."""
    x, kernel = _same_dtype(x, kernel)
    pad_l, pad_r = _transposed_pads(x.shape[0], kernel.shape[0], padding=padding, stride=stride,
                                    dilation=dilation)
    y = jax.lax.conv_general_dilated(
        x[None], kernel, window_strides=(1,), padding=[(pad_l, pad_r)], lhs_dilation=(stride,),
        rhs_dilation=(dilation,), dimension_numbers=_DIMENSION_NUMBERS,
        feature_group_count=groups)  # [1, T_out, C_out]
    return y[0]


def conv_transpose1d_reference(x: Float[Array, "T C_in"], kernel: Float[Array, "W C_g C_out"], *,
                               padding: str, stride: int = 1, dilation: int = 1,
                               groups: int = 1) -> Float[Array, "T_out C_out"]:
    """Reference: scatter. Input frame i adds x[i] @ kernel[w] to full output
    frame i s + (W - 1 - w) d; then crop the frames the padding mode keeps."""
    t_in, width = x.shape[0], kernel.shape[0]
    k = kernel_span(width, dilation)
    full_length = (t_in - 1) * stride + k
    t_out = transposed_output_length(t_in, width, padding=padding, stride=stride,
                                     dilation=dilation)
    pad_l, _ = _transposed_pads(t_in, width, padding=padding, stride=stride, dilation=dilation)
    offset = (k - 1) - pad_l  # full frames dropped at the start
    y = jnp.zeros((max(full_length, offset + t_out), kernel.shape[2]), x.dtype)
    for w in range(width):
        contribution = grouped_taps(x[:, None, :], kernel[w:w + 1], groups)  # [T, C_out]
        y = y.at[np.arange(t_in) * stride + (width - 1 - w) * dilation].add(contribution)
    return y[offset:offset + t_out]


@dataclasses.dataclass(frozen=True)
class ConvTranspose1D(_ConvLayer):
    """Transposed 1-D convolution (upsamples by `stride`), flax nn.ConvTranspose's layout.

    Params: {'kernel': [W, C_in / G, C_out], 'bias': [C_out]}. `padding` is
    'same' (default, T s frames), 'causal' (T s frames) or 'valid' (all
    (T - 1) s + k). Streaming (`init_state`/`step`) for padding='causal': one
    input frame in, `stride` output frames out.
    """

    padding: str = "same"

    def output_length(self, length):
        return transposed_output_length(length, self.kernel_size, padding=self.padding,
                                        stride=self.stride, dilation=self.dilation)

    @property
    def _masks_at_zero(self) -> bool:
        return self.padding != "valid"  # valid: (0 - 1) s + k frames can be > 0

    def apply(self, params: Params, x: Float[Array, "T C_in"], *, lengths=None,
              key: Key | None = None, deterministic: bool = False) -> Float[Array, "T_out C_out"]:
        del key, deterministic  # no dropout: the same call as a layer with dropout
        return self._run(conv_transpose1d, params, x, lengths)

    def apply_reference(self, params: Params, x: Float[Array, "T C_in"], *,
                        lengths=None) -> Float[Array, "T_out C_out"]:
        return self._run(conv_transpose1d_reference, params, x, lengths)

    # -- streaming (causal) ----------------------------------------------------------
    #
    # Output frame j = t s + r (r < s) of the causal transposed convolution is
    #     y[t s + r] = sum_w [s | o(r, w)] x[t + o(r, w) / s] kernel[w],
    #     o(r, w) = r + w d - (k - 1),  -(k - 1) <= o <= s - 1,
    # so it needs the current frame and the M = ceil((k - 1) / s) frames before it.

    def _taps(self):
        k = kernel_span(self.kernel_size, self.dilation)
        past = -(-(k - 1) // self.stride)
        offset = (np.arange(self.stride)[:, None] + np.arange(self.kernel_size)[None, :]
                  * self.dilation - (k - 1))  # [s, W]
        hit = offset % self.stride == 0
        index = past + offset // self.stride  # [s, W], into the window of M + 1 frames
        return past, np.where(hit, index, 0), hit

    def init_state(self, dtype=jnp.float32) -> Params:
        if self.padding != "causal":
            raise ValueError(f"ConvTranspose1D.init_state: streaming needs padding='causal', "
                             f"got {self.padding!r}")
        past, _, _ = self._taps()
        return ring_init(past + 1, 1, self.in_channels, dtype)

    def step(self, params: Params, state: Params,
             x_t: Float[Array, "C_in"]) -> tuple[Params, Float[Array, "S C_out"]]:
        """One input frame -> the `stride` output frames it completes: [s, C_out]."""
        self._check_frame(params, x_t)
        past, index, hit = self._taps()
        state, window = ring_step(state, x_t, past + 1, 1)  # [M + 1, C_in], oldest first
        taps = jnp.where(hit[..., None], window[index], 0.0)  # [s, W, C_in]
        y = grouped_taps(taps, params["kernel"], self.groups)  # [s, C_out]
        if "bias" in params:
            y = y + params["bias"]
        return state, y
