"""A stack of 1-D convolutions with an activation after each: the plain
dilated causal stack (e.g. kernel 3, dilations 1, 2, ..., 128).

    h_0 = x,   h_l = act(conv_l(h_{l-1})),   y = h_L

Receptive field R = 1 + sum_l (W - 1) d_l (`receptive_field`). Causal stacks
stream: the state is one ring buffer per layer.
"""

import dataclasses

import jax
import jax.numpy as jnp

from seqmodels.array_types import Array, Float, Key, Params
from seqmodels.conv import conv1d
from seqmodels.nn import activations, initializers
from seqmodels.nn.lengths import check_lengths


@dataclasses.dataclass(frozen=True)
class ConvStack:
    """Layers of Conv1D (stride 1) + activation.

    `channels[l]` is layer l's output width; `dilations` defaults to all 1
    (`dilations=tuple(2**l for l in range(L))` for the WaveNet/TCN doubling).
    `activate_last=False` leaves the last layer linear.
    """

    in_channels: int
    channels: tuple[int, ...]
    kernel_size: int = 3
    dilations: tuple[int, ...] | None = None
    padding: str = "causal"
    activation: str = "relu"
    activate_last: bool = True

    def __post_init__(self):
        object.__setattr__(self, "channels", tuple(self.channels))
        if not self.channels:
            raise ValueError("ConvStack: expected at least one layer, got channels=()")
        dilations = (1,) * len(self.channels) if self.dilations is None else tuple(self.dilations)
        if len(dilations) != len(self.channels):
            raise ValueError(f"ConvStack: expected {len(self.channels)} dilations (one per layer), "
                             f"got {len(dilations)}")
        object.__setattr__(self, "dilations", dilations)
        activations.get(self.activation)
        self.layers  # builds (and so checks) every layer

    @property
    def layers(self) -> tuple[conv1d.Conv1D, ...]:
        widths = (self.in_channels,) + self.channels
        return tuple(conv1d.Conv1D(widths[l], widths[l + 1], self.kernel_size, padding=self.padding,
                                   dilation=d)
                     for l, d in enumerate(self.dilations))

    @property
    def receptive_field(self) -> int:
        return conv1d.receptive_field([self.kernel_size] * len(self.channels), self.dilations)

    def init(self, key: Key, *, w_init=initializers.lecun_normal, dtype=jnp.float32) -> Params:
        keys = jax.random.split(key, len(self.channels))
        return {"layers": [layer.init(k, w_init=w_init, dtype=dtype)
                           for layer, k in zip(self.layers, keys)]}

    def _act(self, l: int, h):
        last = l == len(self.channels) - 1
        return h if (last and not self.activate_last) else activations.get(self.activation)(h)

    def apply(self, params: Params, x: Float[Array, "T C_in"], *, lengths=None,
              key: Key | None = None, deterministic: bool = False) -> Float[Array, "T C_out"]:
        del key, deterministic  # no dropout: the same call as a layer with dropout
        conv1d._check_input("ConvStack", x, self.in_channels)
        lengths = check_lengths(lengths, x.shape[0], "ConvStack")
        h = x
        for l, (layer, p) in enumerate(zip(self.layers, params["layers"])):
            h = self._act(l, layer.apply(p, h, lengths=lengths))  # [T_l, C_l]
            lengths = None if lengths is None else layer.output_length(lengths)
        if lengths is not None:  # each layer masks its input; act(0) may not be 0
            h = conv1d.time_mask(h, lengths)
        return h

    def init_state(self, dtype=jnp.float32) -> Params:
        return {"layers": [layer.init_state(dtype) for layer in self.layers]}

    def step(self, params: Params, state: Params,
             x_t: Float[Array, "C_in"]) -> tuple[Params, Float[Array, "C_out"]]:
        h, states = x_t, []
        for l, (layer, p, s) in enumerate(zip(self.layers, params["layers"], state["layers"])):
            s, h = layer.step(p, s, h)
            h = self._act(l, h)
            states.append(s)
        return {"layers": states}, h
