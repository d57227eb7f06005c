"""2-D convolution and pooling for ONE image x [H, W, C] (vmap over the batch).

Here H, W are the image's height and width, C its channels; the kernel is
[KH, KW, C_in / G, C_out] in lax's "HWIO" layout (flax `nn.Conv`'s, so its
weights copy across as they are). Like every deep-learning "convolution" it
is a cross-correlation:

    y[i, j, o] = b[o] + sum_{u < KH} sum_{v < KW} sum_{c < C_in / G}
                        x_pad[i s_h + u d_h, j s_w + v d_w, g(o) C_in / G + c] K[u, v, c, o]

with strides (s_h, s_w), dilations (d_h, d_w), x_pad = x with zeros around it,
and G groups: output channel o belongs to group g(o) = o // (C_out / G) and
only reads that group's C_in / G input channels (G = C_in = C_out: depthwise).

Padding, per axis, with the dilated kernel span k = d (K - 1) + 1:

    'VALID'          P_lo = P_hi = 0
    'SAME'           P = max((ceil(n / s) - 1) s + k - n, 0),  P_lo = floor(P / 2),  P_hi = P - P_lo
                     (lax / TensorFlow 'SAME': the output has ceil(n / s) rows)
    p                p zeros on every side;  (p_h, p_w): per axis;  ((top, bottom), (left, right))

    n_out = floor((n + P_lo + P_hi - k) / s) + 1

Pooling slides a window [KH, KW] with the same strides and padding rules and
takes the max (padding counts as -inf) or the mean (padding counts as 0 and
is included in the divisor, as flax's `avg_pool` does by default; with
count_include_pad=False the divisor is the number of real pixels).

Fast path `conv2d`: one lax.conv_general_dilated with the padding passed in.
Reference `conv2d_reference`: gather every output pixel's KH x KW patch
(im2col), one einsum, a test checks they agree.
"""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from seqmodels.array_types import Array, Float, Key, Params
from seqmodels.nn import initializers

_DIMENSION_NUMBERS = ("NHWC", "HWIO", "NHWC")
PADDINGS = ("SAME", "VALID")


# -- sizes -------------------------------------------------------------------------

def _pair(name: str, value) -> tuple[int, int]:
    """An int or a pair of positive ints -> (height, width)."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and v > 0 for v in pair):
        raise ValueError(f"{name}: expected a positive int or a pair of positive ints (height, width), "
                         f"got {value!r}")
    return int(pair[0]), int(pair[1])


def padding_amounts(size: tuple[int, int], window: tuple[int, int], padding, *, stride=(1, 1),
                    dilation=(1, 1)) -> tuple[tuple[int, int], tuple[int, int]]:
    """((top, bottom), (left, right)) zeros for an image of `size` = (H, W) (module docstring table)."""
    if isinstance(padding, str):
        mode = padding.upper()
        if mode not in PADDINGS:
            raise ValueError(f"padding: expected 'SAME', 'VALID', an int, (p_h, p_w) or "
                             f"((top, bottom), (left, right)), got {padding!r}")
        amounts = []
        for n, w, s, d in zip(size, window, stride, dilation):
            k = d * (w - 1) + 1
            total = 0 if mode == "VALID" else max((-(-n // s) - 1) * s + k - n, 0)
            amounts.append((total // 2, total - total // 2))
        return tuple(amounts)
    if isinstance(padding, (int, np.integer)):
        padding = (padding, padding)
    pads = tuple((p, p) if isinstance(p, (int, np.integer)) else tuple(p) for p in padding)
    if len(pads) != 2 or not all(len(p) == 2 and all(isinstance(q, (int, np.integer)) and q >= 0 for q in p)
                                 for p in pads):
        raise ValueError(f"padding: explicit padding must be non-negative ints: p, (p_h, p_w) or "
                         f"((top, bottom), (left, right)), got {padding!r}")
    return tuple((int(a), int(b)) for a, b in pads)


def output_size(size: tuple[int, int], window: tuple[int, int], padding, *, stride=(1, 1),
                dilation=(1, 1)) -> tuple[int, int]:
    """(H_out, W_out) = floor((n + P_lo + P_hi - k) / s) + 1 per axis (0 when the window does not fit)."""
    pads = padding_amounts(size, window, padding, stride=stride, dilation=dilation)
    return tuple(max((n + lo + hi - (d * (w - 1) + 1)) // s + 1, 0)
                 for n, w, s, d, (lo, hi) in zip(size, window, stride, dilation, pads))


def _check_image(name: str, x, channels: int | None = None) -> None:
    if x.ndim != 3 or (channels is not None and x.shape[-1] != channels):
        want = f"[H, W, {channels}]" if channels is not None else "[H, W, C]"
        raise ValueError(f"{name}: expected one image {want} (height, width, channels; vmap over the batch, "
                         f"add a channel axis x[..., None] to a grey image), got shape {x.shape}")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise ValueError(f"{name}: expected a floating-point image, got dtype {x.dtype} "
                         f"(cast it, e.g. x.astype(jnp.float32))")


def _check_fits(name: str, x, window, padding, stride, dilation) -> None:
    out = output_size(x.shape[:2], window, padding, stride=stride, dilation=dilation)
    if min(out) < 1:
        raise ValueError(f"{name}: a window {window} (dilation {dilation}) with padding {padding!r} does not fit "
                         f"an image of {x.shape[0]} x {x.shape[1]} pixels")


# -- the convolution: fast path and reference ---------------------------------------

def conv2d(x: Float[Array, "H W C_in"], kernel: Float[Array, "KH KW C_g C_out"], *, padding="SAME",
           stride=(1, 1), dilation=(1, 1), groups: int = 1) -> Float[Array, "H_out W_out C_out"]:
    """Fast path: one lax.conv_general_dilated with the padding amounts passed in."""
    stride, dilation = _pair("stride", stride), _pair("dilation", dilation)
    pads = padding_amounts(x.shape[:2], kernel.shape[:2], padding, stride=stride, dilation=dilation)
    dtype = jnp.result_type(x, kernel)
    y = jax.lax.conv_general_dilated(x[None].astype(dtype), kernel.astype(dtype), window_strides=stride,
                                     padding=pads, rhs_dilation=dilation, dimension_numbers=_DIMENSION_NUMBERS,
                                     feature_group_count=groups)  # [1, H_out, W_out, C_out]
    return y[0]


def _patch_index(n: int, window: int, stride: int, dilation: int, pad_lo: int, n_out: int) -> np.ndarray:
    """[n_out, window] indices into the unpadded axis of the pixels each output reads (may fall outside)."""
    return np.arange(n_out)[:, None] * stride + np.arange(window)[None, :] * dilation - pad_lo


def conv2d_reference(x: Float[Array, "H W C_in"], kernel: Float[Array, "KH KW C_g C_out"], *, padding="SAME",
                     stride=(1, 1), dilation=(1, 1), groups: int = 1) -> Float[Array, "H_out W_out C_out"]:
    """Reference (im2col): gather every output pixel's [KH, KW, C_in] patch, then one einsum per group."""
    stride, dilation = _pair("stride", stride), _pair("dilation", dilation)
    (kh, kw, c_g, c_out), (h, w) = kernel.shape, x.shape[:2]
    pads = padding_amounts((h, w), (kh, kw), padding, stride=stride, dilation=dilation)
    h_out, w_out = output_size((h, w), (kh, kw), padding, stride=stride, dilation=dilation)
    rows = _patch_index(h, kh, stride[0], dilation[0], pads[0][0], h_out)  # [H_out, KH]
    cols = _patch_index(w, kw, stride[1], dilation[1], pads[1][0], w_out)  # [W_out, KW]
    inside = (((rows >= 0) & (rows < h))[:, None, :, None]
              & ((cols >= 0) & (cols < w))[None, :, None, :])  # [H_out, W_out, KH, KW]
    patches = x[np.clip(rows, 0, h - 1)[:, None, :, None], np.clip(cols, 0, w - 1)[None, :, None, :]]
    patches = jnp.where(inside[..., None], patches, 0.0)  # [H_out, W_out, KH, KW, C_in]
    patches = patches.reshape(h_out, w_out, kh, kw, groups, c_g)  # [H_out, W_out, KH, KW, G, C_in/G]
    ks = kernel.reshape(kh, kw, c_g, groups, c_out // groups)  # [KH, KW, C_in/G, G, C_out/G]
    y = jnp.einsum("ijuvgc,uvcgo->ijgo", patches, ks)  # [H_out, W_out, G, C_out/G]
    return y.reshape(h_out, w_out, c_out)


@dataclasses.dataclass(frozen=True)
class Conv2D:
    """A 2-D convolution layer: `params = conv.init(key)`, `y = conv.apply(params, x)`, x [H, W, C_in].

    Params: {'kernel': [KH, KW, C_in / G, C_out], 'bias': [C_out]} (flax nn.Conv's names and layout).
    kernel_size, stride, dilation: an int or (height, width); padding: 'SAME' | 'VALID' | explicit ints.
    """
    in_channels: int
    out_channels: int
    kernel_size: int | tuple[int, int] = 3
    stride: int | tuple[int, int] = 1
    padding: str | int | tuple = "SAME"
    dilation: int | tuple[int, int] = 1
    groups: int = 1
    use_bias: bool = True

    def __post_init__(self):
        for field in ("in_channels", "out_channels", "groups"):
            value = getattr(self, field)
            if not isinstance(value, (int, np.integer)) or value <= 0:
                raise ValueError(f"Conv2D.{field}: expected a positive int, got {value!r}")
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ValueError(f"Conv2D: groups={self.groups} must divide in_channels={self.in_channels} and "
                             f"out_channels={self.out_channels}")
        for field in ("kernel_size", "stride", "dilation"):
            object.__setattr__(self, field, _pair(f"Conv2D.{field}", getattr(self, field)))
        padding_amounts((1, 1), (1, 1), self.padding)  # checks the padding's form

    @property
    def kernel_shape(self) -> tuple[int, int, int, int]:
        return (*self.kernel_size, self.in_channels // self.groups, self.out_channels)

    def output_size(self, size: tuple[int, int]) -> tuple[int, int]:
        return output_size(size, self.kernel_size, self.padding, stride=self.stride, dilation=self.dilation)

    def init(self, key: Key, *, w_init=initializers.lecun_normal, b_init=initializers.zeros,
             dtype=jnp.float32) -> Params:
        """Kernel from `w_init` (fan-in KH KW C_in / G: flax's default lecun-normal), bias from `b_init`."""
        w_key, b_key = jax.random.split(key)
        params = {"kernel": initializers.get(w_init)(w_key, self.kernel_shape, dtype)}
        if self.use_bias:
            params["bias"] = initializers.get(b_init)(b_key, (self.out_channels,), dtype)
        return params

    def _run(self, conv, params: Params, x):
        _check_image("Conv2D", x, self.in_channels)
        if params["kernel"].shape != self.kernel_shape:
            raise ValueError(f"Conv2D: expected kernel [KH, KW, C_in / G, C_out] = {self.kernel_shape}, "
                             f"got {params['kernel'].shape}")
        _check_fits("Conv2D", x, self.kernel_size, self.padding, self.stride, self.dilation)
        y = conv(x, params["kernel"], padding=self.padding, stride=self.stride, dilation=self.dilation,
                 groups=self.groups)
        return y + params["bias"] if "bias" in params else y

    def apply(self, params: Params, x: Float[Array, "H W C_in"], *, key: Key | None = None,
              deterministic: bool = False) -> Float[Array, "H_out W_out C_out"]:
        del key, deterministic  # no dropout: the same call as a layer with dropout
        return self._run(conv2d, params, x)

    def apply_reference(self, params: Params, x: Float[Array, "H W C_in"]) -> Float[Array, "H_out W_out C_out"]:
        return self._run(conv2d_reference, params, x)


# -- pooling ---------------------------------------------------------------------------

POOLS = ("max", "avg")


def _pool(kind: str, x, window, stride, padding, count_include_pad: bool = True):
    name = f"{kind}_pool"
    _check_image(name, x)
    window = _pair(f"{name}: window", window)
    stride = window if stride is None else _pair(f"{name}: stride", stride)
    _check_fits(name, x, window, padding, stride, (1, 1))
    pads = padding_amounts(x.shape[:2], window, padding, stride=stride)
    dims, strides, pad3 = (*window, 1), (*stride, 1), (*pads, (0, 0))
    if kind == "max":
        return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, dims, strides, pad3)
    total = jax.lax.reduce_window(x, 0.0, jax.lax.add, dims, strides, pad3)  # [H_out, W_out, C]
    if count_include_pad:
        return total / math.prod(window)
    ones = jnp.ones((*x.shape[:2], 1), x.dtype)
    return total / jax.lax.reduce_window(ones, 0.0, jax.lax.add, dims, strides, pad3)  # real pixels per window


def max_pool(x: Float[Array, "H W C"], window=2, *, stride=None, padding="VALID") -> Float[Array, "H_out W_out C"]:
    """y[i, j, c] = max_{u < KH, v < KW} x_pad[i s_h + u, j s_w + v, c] (x_pad: -inf around x).
    `stride` defaults to the window (non-overlapping windows)."""
    return _pool("max", x, window, stride, padding)


def avg_pool(x: Float[Array, "H W C"], window=2, *, stride=None, padding="VALID",
             count_include_pad: bool = True) -> Float[Array, "H_out W_out C"]:
    """y[i, j, c] = mean_{u < KH, v < KW} x_pad[i s_h + u, j s_w + v, c] (x_pad: zeros around x, counted
    unless count_include_pad=False). `stride` defaults to the window."""
    return _pool("avg", x, window, stride, padding, count_include_pad)


def pool(kind: str, x: Float[Array, "H W C"], window=2, *, stride=None,
         padding="VALID") -> Float[Array, "H_out W_out C"]:
    """max_pool or avg_pool by name (configs)."""
    if kind not in POOLS:
        raise ValueError(f"pool: expected one of {POOLS}, got {kind!r}")
    return _pool(kind, x, window, stride, padding)


__all__ = ["Conv2D", "conv2d", "conv2d_reference", "padding_amounts", "output_size", "max_pool", "avg_pool",
           "pool", "POOLS"]
