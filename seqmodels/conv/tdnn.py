"""Time-delay neural network in Wan's FIR-network form (Wan 1993; the Santa
Fe laser winner: 1-12-12-1 units, tap delays 25/5/5).

Every connection is an FIR filter instead of a single weight. Layer l, unit j:

    a_j(t) = b_j + sum_i sum_{k=0}^{W_l - 1} w_{jik} x_i(t - k)
    y_j(t) = f_l(a_j(t))

`FIR` is one such layer. Its kernel is kept in the FILTER layout
[W, C_in, C_out] with tap k = delay k: kernel[0] multiplies the current
sample x(t), kernel[k] the sample k steps back. A learned delay-sum
y(t) = x(t) + x(t - 3) therefore reads kernel[:, 0, 0] = [1, 0, 0, 1].
(`conv1d.Conv1D` uses lax's layout, where the LAST tap is the current
sample; FIR flips its kernel once to call the fast convolution.)

`taps` counts coefficients per filter (delays 0 .. W - 1). Accounts of Wan's
"25/5/5 taps" differ on whether a tap count includes the current sample:
taps=(25, 5, 5) has longest delays 24/4/4, taps=(26, 6, 6) the reading with
delays up to 25/5/5. Receptive field R = 1 + sum_l (W_l - 1).
"""

import dataclasses

import jax
import jax.numpy as jnp

from seqmodels.array_types import Array, Float, Key, Params
from seqmodels.conv import conv1d
from seqmodels.nn import activations, initializers
from seqmodels.nn.lengths import check_lengths


@dataclasses.dataclass(frozen=True)
class FIR:
    """Causal FIR layer: params {'kernel': [W, C_in, C_out] (tap k = delay k), 'bias': [C_out]}."""

    in_channels: int
    out_channels: int
    taps: int
    use_bias: bool = True

    def __post_init__(self):
        conv1d._check_positive(in_channels=self.in_channels, out_channels=self.out_channels,
                               taps=self.taps)

    @property
    def conv(self) -> conv1d.Conv1D:
        return conv1d.Conv1D(self.in_channels, self.out_channels, self.taps, padding="causal",
                             use_bias=self.use_bias)

    @property
    def receptive_field(self) -> int:
        return self.taps

    def init(self, key: Key, *, w_init=initializers.lecun_normal, dtype=jnp.float32) -> Params:
        return self.conv.init(key, w_init=w_init, dtype=dtype)

    def _as_conv(self, params: Params) -> Params:
        """Filter layout (tap 0 = now) -> lax layout (last tap = now)."""
        conv1d._check_kernel("FIR", params["kernel"], self.conv.kernel_shape)
        return {**params, "kernel": params["kernel"][::-1]}

    def apply(self, params: Params, x: Float[Array, "T C_in"], *, lengths=None,
              key: Key | None = None, deterministic: bool = False) -> Float[Array, "T C_out"]:
        del key, deterministic  # no dropout: the same call as a layer with dropout
        conv1d._check_input("FIR", x, self.in_channels)
        lengths = check_lengths(lengths, x.shape[0], "FIR")
        return self.conv.apply(self._as_conv(params), x, lengths=lengths)

    def apply_reference(self, params: Params, x: Float[Array, "T C_in"]) -> Float[Array, "T C_out"]:
        """The defining sum: a(t) = b + sum_k x(t - k) @ kernel[k], with x(t < 0) = 0."""
        conv1d._check_input("FIR", x, self.in_channels)
        a = jnp.zeros((x.shape[0], self.out_channels), x.dtype)
        for k in range(self.taps):
            delayed = jnp.pad(x, ((k, 0), (0, 0)))[:x.shape[0]]  # x(t - k): [T, C_in]
            a = a + delayed @ params["kernel"][k]
        return a + params["bias"] if "bias" in params else a

    def init_state(self, dtype=jnp.float32) -> Params:
        return self.conv.init_state(dtype)

    def step(self, params: Params, state: Params,
             x_t: Float[Array, "C_in"]) -> tuple[Params, Float[Array, "C_out"]]:
        return self.conv.step(self._as_conv(params), state, x_t)


@dataclasses.dataclass(frozen=True)
class TDNN:
    """FIR network: `sizes` = units per layer incl. input (e.g. (1, 12, 12, 1)),
    `taps` = filter length of each of the len(sizes) - 1 layers (e.g. (25, 5, 5)).

    Hidden layers use `activation`, the last layer `output_activation`.
    Params: {'layers': [FIR params, ...]}.
    """

    sizes: tuple[int, ...]
    taps: tuple[int, ...]
    activation: str = "tanh"
    output_activation: str = "identity"
    use_bias: bool = True

    def __post_init__(self):
        object.__setattr__(self, "sizes", tuple(self.sizes))
        object.__setattr__(self, "taps", tuple(self.taps))
        if len(self.sizes) < 2 or len(self.taps) != len(self.sizes) - 1:
            raise ValueError(f"TDNN: expected sizes of L + 1 >= 2 widths and L taps, got "
                             f"sizes={self.sizes}, taps={self.taps}")
        activations.get(self.activation)
        activations.get(self.output_activation)
        self.layers  # checks every layer

    @property
    def layers(self) -> tuple[FIR, ...]:
        return tuple(FIR(c_in, c_out, w, use_bias=self.use_bias)
                     for c_in, c_out, w in zip(self.sizes[:-1], self.sizes[1:], self.taps))

    @property
    def receptive_field(self) -> int:
        return conv1d.receptive_field(self.taps)

    def init(self, key: Key, *, w_init=initializers.lecun_normal, dtype=jnp.float32) -> Params:
        keys = jax.random.split(key, len(self.taps))
        return {"layers": [layer.init(k, w_init=w_init, dtype=dtype)
                           for layer, k in zip(self.layers, keys)]}

    def _act(self, l: int):
        last = l == len(self.taps) - 1
        return activations.get(self.output_activation if last else self.activation)

    def apply(self, params: Params, x: Float[Array, "T C_in"], *, lengths=None,
              key: Key | None = None, deterministic: bool = False) -> Float[Array, "T C_out"]:
        del key, deterministic  # no dropout: the same call as a layer with dropout
        conv1d._check_input("TDNN", x, self.sizes[0])
        lengths = check_lengths(lengths, x.shape[0], "TDNN")
        h = x
        for l, (layer, p) in enumerate(zip(self.layers, params["layers"])):
            h = self._act(l)(layer.apply(p, h, lengths=lengths))  # [T, sizes[l + 1]]
        return h if lengths is None else conv1d.time_mask(h, lengths)

    def init_state(self, dtype=jnp.float32) -> Params:
        return {"layers": [layer.init_state(dtype) for layer in self.layers]}

    def step(self, params: Params, state: Params,
             x_t: Float[Array, "C_in"]) -> tuple[Params, Float[Array, "C_out"]]:
        h, states = x_t, []
        for l, (layer, p, s) in enumerate(zip(self.layers, params["layers"], state["layers"])):
            s, h = layer.step(p, s, h)
            h = self._act(l)(h)
            states.append(s)
        return {"layers": states}, h
