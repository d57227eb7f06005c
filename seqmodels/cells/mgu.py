"""Minimal gated unit (Zhou, Wu, Zhang & Zhou 2016, "Minimal Gated Unit for
Recurrent Neural Networks"): a GRU whose reset and update gates are one gate f.

Equations exactly as in the paper (h' is the previous state, s = sigmoid,
[h', x] a concatenation, so W_f [h', x] = R_f h' + W_f x below):

    f  = s(W_f x + R_f h' + b_f)                 forget gate
    h~ = tanh(W_h x + R_h (f * h') + b_h)        candidate (f resets h' BEFORE the product)
    h  = (1 - f) * h' + f * h~                   f = 1 forgets h' and takes h~

flax.linen.MGUCell (0.12.8) is a different model, not a reparametrisation:

    f  = s(W_if x + b_if + W_hf h')
    n  = tanh(W_in x + b_in + f * (W_hn h' + b_hn))   reset AFTER the product, extra bias b_hn
    h  = (1 - f) * n + f * h'                         f = 1 KEEPS h' (the paper's weights reversed)

With `reset_gate=False` flax drops the reset term altogether. Replacing f
by 1 - f (negating the gate's weights) turns flax's update into the
paper's, but then flax's reset multiplies by 1 - f, so the two agree only
where the reset term vanishes (R_h = 0); tests/cells/test_mgu.py checks
exactly that, and the full model against a numpy transcription of the paper.

Parameters (blocks in the order f, h):

    W: [D, 2H]   b: [2H]   R_f: [H, H]   R_h: [H, H]

The carry is {'h': [H]}; the output y_t equals the new 'h'.
"""

import dataclasses

import jax
import jax.numpy as jnp

from seqmodels.array_types import Array, Float, Key, Params
from seqmodels.cells.base import Carry, Cell
from seqmodels.nn import activations, initializers


@dataclasses.dataclass(frozen=True)
class MGU(Cell):
    """MGU cell (Zhou et al. 2016); see the module docstring."""

    input_size: int
    hidden_size: int
    # initial b_f. In the paper's convention f = 1 forgets, so a NEGATIVE value
    # favours memory (flax's MGUCell, whose gate is reversed, initialises it to +1).
    forget_bias: float = 0.0
    gate_activation: str = "sigmoid"  # s
    activation: str = "tanh"  # the candidate's
    kernel_init: str = "lecun_normal"
    recurrent_init: str = "orthogonal"

    def __post_init__(self):
        super().__post_init__()
        for name in ("gate_activation", "activation"):
            activations.get(getattr(self, name))  # raises on unknown names

    # -- parameters -----------------------------------------------------------
    def init(self, key: Key, dtype=jnp.float32) -> Params:
        D, H = self.input_size, self.hidden_size
        k_w, k_rf, k_rh = jax.random.split(key, 3)
        recurrent_init = initializers.get(self.recurrent_init)
        b = jnp.zeros((2, H), dtype).at[0].set(self.forget_bias)
        return {
            "W": initializers.blockwise(initializers.get(self.kernel_init), 2)(k_w, (D, 2 * H), dtype),
            "b": b.reshape(2 * H),
            "R_f": recurrent_init(k_rf, (H, H), dtype),
            "R_h": recurrent_init(k_rh, (H, H), dtype),
        }

    def initial_carry(self, params: Params) -> Carry:
        return {"h": jnp.zeros((self.hidden_size,), params["W"].dtype)}

    # -- the equations --------------------------------------------------------
    def input_projection(self, params: Params, x: Float[Array, "... D"]) -> Float[Array, "... G"]:
        """W x + b for f and h~ at once (any leading axes)."""
        return x @ params["W"] + params["b"]

    def recurrent_step(self, params: Params, carry: Carry, gx_t: Float[Array, "G"]) -> tuple[Carry, Array]:
        H = self.hidden_size
        s = activations.get(self.gate_activation)
        act = activations.get(self.activation)
        h_prev = carry["h"]
        f = s(gx_t[:H] + h_prev @ params["R_f"])  # [H]
        h_tilde = act(gx_t[H:] + (f * h_prev) @ params["R_h"])  # [H]
        h = (1.0 - f) * h_prev + f * h_tilde
        return {"h": h}, h
