"""Simple recurrent networks: Elman (1990) and Jordan (1986).

Both are one affine map and an activation per step; they differ in what is
fed back. Elman feeds back the hidden state, Jordan the network's OUTPUT
(h' and y' are the previous hidden state and output, `act` and `out_act`
any name of `seqmodels.nn.activations`):

    Elman:   h = act(W x + R h' + b)                 carry {'h': [H]}, output h
    Jordan:  h = act(W x + R y' + b)                 carry {'y': [O]}, output y
             y = out_act(h V + c)

Parameters (x is a row vector, so `W x` is `x @ W` in the code):

    W: [D, H]   R: [H, H] (Elman) or [O, H] (Jordan)   b: [H]
    V: [H, O]   c: [O]                                  (Jordan only)

Elman with act=tanh is flax's `SimpleCell` (W = 'i' kernel, b = 'i' bias,
R = 'h' kernel) and PyTorch's `nn.RNN` (which adds a second, redundant bias).
"""

import dataclasses

import jax
import jax.numpy as jnp

from seqmodels.array_types import Array, Float, Key, Params
from seqmodels.cells.base import Carry, Cell, check_size
from seqmodels.nn import activations, initializers


@dataclasses.dataclass(frozen=True)
class Elman(Cell):
    """Elman RNN cell: h = act(W x + R h' + b); see the module docstring."""

    input_size: int
    hidden_size: int
    activation: str = "tanh"  # act: tanh, relu, identity, ... (seqmodels.nn.activations)
    kernel_init: str = "lecun_normal"
    recurrent_init: str = "orthogonal"

    def __post_init__(self):
        super().__post_init__()
        activations.get(self.activation)  # raises on unknown names

    # -- parameters -----------------------------------------------------------
    def init(self, key: Key, dtype=jnp.float32) -> Params:
        D, H = self.input_size, self.hidden_size
        k_w, k_r = jax.random.split(key)
        return {
            "W": initializers.get(self.kernel_init)(k_w, (D, H), dtype),
            "R": initializers.get(self.recurrent_init)(k_r, (H, H), dtype),
            "b": jnp.zeros((H,), dtype),
        }

    def initial_carry(self, params: Params) -> Carry:
        return {"h": jnp.zeros((self.hidden_size,), params["W"].dtype)}

    # -- the equations --------------------------------------------------------
    def input_projection(self, params: Params, x: Float[Array, "... D"]) -> Float[Array, "... H"]:
        """W x + b (any leading axes)."""
        return x @ params["W"] + params["b"]

    def recurrent_step(self, params: Params, carry: Carry, gx_t: Float[Array, "H"]) -> tuple[Carry, Array]:
        act = activations.get(self.activation)
        h = act(gx_t + carry["h"] @ params["R"])  # [H]
        return {"h": h}, h


@dataclasses.dataclass(frozen=True)
class Jordan(Cell):
    """Jordan RNN cell: the previous OUTPUT y' is fed back; see the module docstring.

    out_size: O, the width of y (default: hidden_size).
    """

    input_size: int
    hidden_size: int
    out_size: int | None = None
    activation: str = "tanh"  # act
    output_activation: str = "tanh"  # out_act; bounded, since y is fed back
    kernel_init: str = "lecun_normal"
    recurrent_init: str = "orthogonal"
    output_init: str = "glorot_uniform"

    def __post_init__(self):
        super().__post_init__()
        check_size(self, "out_size", optional=True)
        for name in ("activation", "output_activation"):
            activations.get(getattr(self, name))  # raises on unknown names

    @property
    def output_size(self) -> int:
        return self.out_size or self.hidden_size

    # -- parameters -----------------------------------------------------------
    def init(self, key: Key, dtype=jnp.float32) -> Params:
        D, H, O = self.input_size, self.hidden_size, self.output_size
        k_w, k_r, k_v = jax.random.split(key, 3)
        recurrent_init = initializers.get(self.recurrent_init)
        return {
            "W": initializers.get(self.kernel_init)(k_w, (D, H), dtype),
            "R": recurrent_init(k_r, (O, H), dtype),
            "b": jnp.zeros((H,), dtype),
            "V": initializers.get(self.output_init)(k_v, (H, O), dtype),
            "c": jnp.zeros((O,), dtype),
        }

    def initial_carry(self, params: Params) -> Carry:
        return {"y": jnp.zeros((self.output_size,), params["W"].dtype)}

    # -- the equations --------------------------------------------------------
    def input_projection(self, params: Params, x: Float[Array, "... D"]) -> Float[Array, "... H"]:
        """W x + b (any leading axes)."""
        return x @ params["W"] + params["b"]

    def recurrent_step(self, params: Params, carry: Carry, gx_t: Float[Array, "H"]) -> tuple[Carry, Array]:
        act = activations.get(self.activation)
        out_act = activations.get(self.output_activation)
        h = act(gx_t + carry["y"] @ params["R"])  # [H]
        y = out_act(h @ params["V"] + params["c"])  # [O]
        return {"y": y}, y
