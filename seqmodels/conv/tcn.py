"""Temporal convolutional network (Bai, Kolter & Koltun 2018).

Level i (dilation d_i = 2^i, kernel W, width C_i) is a residual block of two
weight-normalised dilated causal convolutions:

    h = dropout(relu(conv1(x)))          conv: causal, dilation d_i, kernel W
    h = dropout(relu(conv2(h)))
    y = relu(h + res(x))                 res = identity, or a 1x1 conv when
                                         C_{i-1} != C_i

Weight normalisation (Salimans & Kingma 2016), per output channel o:

    kernel[:, :, o] = g[o] v[:, :, o] / ||v[:, :, o]||     (norm over W and C_in)

Initialisation as in the paper's code: v ~ N(0, 0.01^2) (g = ||v||, so the
first kernel equals v), 1x1 residual kernel ~ N(0, 0.01^2), biases
U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (PyTorch's Conv1d default).

Receptive field: 1 + 2 (W - 1) sum_i 2^i = 1 + 2 (W - 1)(2^L - 1).
Dropout follows `seqmodels.nn.dropout`'s rule: `apply(..., key, deterministic=False)`
drops (and needs a key when drop_rate > 0), `deterministic=True` evaluates;
`step` (streaming) never drops.
"""

import dataclasses

import jax
import jax.numpy as jnp

from seqmodels.array_types import Array, Float, Key, Params
from seqmodels.conv import conv1d
from seqmodels.nn import dropout, initializers
from seqmodels.nn.lengths import check_lengths


def weight_norm(v: Float[Array, "W C_in C_out"], g: Float[Array, "C_out"]) -> Float[Array, "W C_in C_out"]:
    """g v / ||v||, the norm taken over (W, C_in) for each output channel."""
    norm = jnp.sqrt(jnp.sum(jnp.square(v), axis=(0, 1)))  # [C_out]
    return v * (g / norm)


# How the weight-normalised convolutions' directions v start:
#   "normal":  N(0, init_scale), the init the paper describes (and the downsample's);
#   "pytorch": U(+-1/sqrt(fan_in)), PyTorch's default nn.Conv1d init. This is what the paper's code
#              really starts from: its `conv.weight.data.normal_(0, 0.01)` runs after `weight_norm`, whose
#              forward pre-hook recomputes `weight` from g and v, so the N(0, 0.01) never takes effect
#              (locuslab/TCN issue #1). It matters: on the adding problem the N(0, 0.01) start sits on
#              the trivial baseline for thousands of steps.
CONV_INITS = ("normal", "pytorch")


def _torch_uniform(key: Key, fan_in: int, shape: int | tuple[int, ...], dtype) -> Array:
    """U(+-1/sqrt(fan_in)): PyTorch's default init of conv biases and (kaiming_uniform, a=sqrt(5)) kernels."""
    bound = 1.0 / fan_in ** 0.5
    return jax.random.uniform(key, shape if isinstance(shape, tuple) else (shape,), dtype, -bound, bound)


@dataclasses.dataclass(frozen=True)
class TCN:
    """A stack of TCN residual blocks; `channels[i]` is level i's width.

    Params: {'blocks': [{'conv1': {'v', 'g', 'bias'}, 'conv2': {...},
    'downsample': {'kernel': [1, C_in, C_out], 'bias'} (only where widths differ)}]}.
    """

    in_channels: int
    channels: tuple[int, ...]
    kernel_size: int = 2
    drop_rate: float = 0.0
    init_scale: float = 0.01
    conv_init: str = "normal"

    def __post_init__(self):
        object.__setattr__(self, "channels", tuple(self.channels))
        if not self.channels:
            raise ValueError("TCN: expected at least one level, got channels=()")
        conv1d._check_positive(in_channels=self.in_channels, kernel_size=self.kernel_size,
                               **{f"channels[{i}]": c for i, c in enumerate(self.channels)})
        if not 0.0 <= self.drop_rate < 1.0:
            raise ValueError(f"TCN: drop_rate must be in [0, 1), got {self.drop_rate}")
        if self.conv_init not in CONV_INITS:
            raise ValueError(f"TCN: unknown conv_init {self.conv_init!r}; valid: {list(CONV_INITS)}")

    @property
    def dilations(self) -> tuple[int, ...]:
        return tuple(2 ** i for i in range(len(self.channels)))

    @property
    def receptive_field(self) -> int:
        return conv1d.receptive_field([self.kernel_size] * 2 * len(self.channels),
                                      [d for d in self.dilations for _ in range(2)])

    def _convs(self, i: int) -> tuple[conv1d.Conv1D, conv1d.Conv1D, conv1d.Conv1D | None]:
        c_in = self.in_channels if i == 0 else self.channels[i - 1]
        c_out, d = self.channels[i], self.dilations[i]
        conv1 = conv1d.Conv1D(c_in, c_out, self.kernel_size, dilation=d)
        conv2 = conv1d.Conv1D(c_out, c_out, self.kernel_size, dilation=d)
        return conv1, conv2, (conv1d.Conv1D(c_in, c_out, 1) if c_in != c_out else None)

    def init(self, key: Key, dtype=jnp.float32) -> Params:
        normal = initializers.normal(self.init_scale)
        blocks = []
        for i, block_key in enumerate(jax.random.split(key, len(self.channels))):
            keys = iter(jax.random.split(block_key, 6))
            block = {}
            for name, conv in zip(("conv1", "conv2", "downsample"), self._convs(i)):
                if conv is None:
                    continue
                fan_in = conv.kernel_size * conv.in_channels
                if self.conv_init == "pytorch" and name != "downsample":
                    v = _torch_uniform(next(keys), fan_in, conv.kernel_shape, dtype)  # U(+-1/sqrt(fan_in))
                else:
                    v = normal(next(keys), conv.kernel_shape, dtype)
                bias = _torch_uniform(next(keys), fan_in, conv.out_channels, dtype)
                if name == "downsample":
                    block[name] = {"kernel": v, "bias": bias}
                else:
                    g = jnp.sqrt(jnp.sum(jnp.square(v), axis=(0, 1)))  # [C_out]: kernel = v at init
                    block[name] = {"v": v, "g": g, "bias": bias}
            blocks.append(block)
        return {"blocks": blocks}

    @staticmethod
    def _kernel(p: Params) -> Params:
        return {"kernel": weight_norm(p["v"], p["g"]), "bias": p["bias"]}

    def _block(self, i: int, p: Params, x, lengths, key, deterministic):
        conv1, conv2, down = self._convs(i)
        keys = dropout.split(key, 2)
        drop = dict(deterministic=deterministic, name="TCN")
        h = jax.nn.relu(conv1.apply(self._kernel(p["conv1"]), x, lengths=lengths))  # [T, C_i]
        h = dropout.apply(h, self.drop_rate, key=keys[0], **drop)
        h = jax.nn.relu(conv2.apply(self._kernel(p["conv2"]), h, lengths=lengths))  # [T, C_i]
        h = dropout.apply(h, self.drop_rate, key=keys[1], **drop)
        res = x if down is None else down.apply(p["downsample"], x)  # [T, C_i]
        return jax.nn.relu(h + res)

    def apply(self, params: Params, x: Float[Array, "T C_in"], *, lengths=None,
              key: Key | None = None, deterministic: bool = False) -> Float[Array, "T C_out"]:
        """The full causal pass, with dropout (rate `drop_rate`, which then needs `key`) unless
        `deterministic`."""
        conv1d._check_input("TCN", x, self.in_channels)
        lengths = check_lengths(lengths, x.shape[0], "TCN")
        h = x
        for i, p in enumerate(params["blocks"]):
            block_key = None if key is None else jax.random.fold_in(key, i)
            h = self._block(i, p, h, lengths, block_key, deterministic)  # [T, C_i]
        return h if lengths is None else conv1d.time_mask(h, lengths)

    def init_state(self, dtype=jnp.float32) -> Params:
        """Two ring buffers per level (the 1x1 residual needs none)."""
        return {"blocks": [{"conv1": conv1.init_state(dtype), "conv2": conv2.init_state(dtype)}
                           for conv1, conv2, _ in map(self._convs, range(len(self.channels)))]}

    def step(self, params: Params, state: Params,
             x_t: Float[Array, "C_in"]) -> tuple[Params, Float[Array, "C_out"]]:
        h, states = x_t, []
        for i, (p, s) in enumerate(zip(params["blocks"], state["blocks"])):
            conv1, conv2, down = self._convs(i)
            s1, a = conv1.step(self._kernel(p["conv1"]), s["conv1"], h)
            s2, a = conv2.step(self._kernel(p["conv2"]), s["conv2"], jax.nn.relu(a))
            res = h if down is None else down.apply(p["downsample"], h[None])[0]  # 1x1: no state
            h = jax.nn.relu(jax.nn.relu(a) + res)  # [C_i]
            states.append({"conv1": s1, "conv2": s2})
        return {"blocks": states}, h
