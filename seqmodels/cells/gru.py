"""Gated recurrent unit (Cho et al. 2014), with the reset gate applied before
or after the recurrent matrix product.

Equations (h' is the previous state, s the gate activation (sigmoid), `act`
the candidate activation (tanh), * elementwise, x a row vector):

    r = s(W_r x + R_r h' + b_r)                          reset gate
    u = s(W_u x + R_u h' + b_u)                          update gate
    reset="before" (Cho et al. 2014; the lecture's h~ = tanh(W [r*h', x])):
      h~ = act(W_h x + R_h (r * h') + b_h)
    reset="after" (cuDNN, PyTorch, flax's GRUCell):
      h~ = act(W_h x + b_h + r * (R_h h' + b_hn))         note the extra bias b_hn
    h = u * h' + (1 - u) * h~                            u keeps the OLD state

The update follows Cho et al. and flax (`new_h = (1 - z) * n + z * h`): u = 1
copies h' through, u = 0 takes the candidate. With reset="after" every
recurrent product needs only h', so all three fuse into ONE [H, 3H] matrix
per step (the reason cuDNN chose it); with "before", R_h must wait for r.

Parameters (blocks in the order r, u, h):

    W: [D, 3H]   b: [3H]                               both conventions
    R: [H, 2H] (r, u)   R_h: [H, H]                    reset="before"
    R: [H, 3H] (r, u, h)   b_hn: [H]                   reset="after"

The carry is {'h': [H]}; the output y_t equals the new 'h'.

Mapping onto flax.linen.GRUCell (reset="after"): W = [ir | iz | in] kernels,
b = [ir | iz | in] biases, R = [hr | hz | hn] kernels, b_hn = hn bias.
"""

import dataclasses

import jax
import jax.numpy as jnp

from seqmodels.array_types import Array, Float, Key, Params
from seqmodels.cells.base import Carry, Cell, ScanKind
from seqmodels.nn import activations, initializers

RESETS = ("before", "after")


@dataclasses.dataclass(frozen=True)
class GRU(Cell):
    """GRU cell. `reset` is "before" (Cho et al.) or "after" (cuDNN/PyTorch/flax); see the module docstring.

    The default is "after": it matches the PyTorch/flax baselines we compare
    with and needs one fused recurrent product per step.
    """

    input_size: int
    hidden_size: int
    reset: str = "after"
    gate_activation: str = "sigmoid"  # s
    activation: str = "tanh"  # act, the candidate's
    kernel_init: str = "lecun_normal"
    recurrent_init: str = "orthogonal"

    def __post_init__(self):
        super().__post_init__()
        if self.reset not in RESETS:
            raise ValueError(f"GRU: unknown reset {self.reset!r}; expected one of {list(RESETS)}")
        for name in ("gate_activation", "activation"):
            activations.get(getattr(self, name))  # raises on unknown names

    @property
    def scan_kind(self) -> ScanKind:
        """FUSED_GRU where `recurrence.fused` computes these equations exactly (reset="after", default
        activations), else STEP."""
        plain = self.reset == "after" and self.gate_activation == "sigmoid" and self.activation == "tanh"
        return ScanKind.FUSED_GRU if plain else ScanKind.STEP

    # -- parameters -----------------------------------------------------------
    def init(self, key: Key, dtype=jnp.float32) -> Params:
        D, H = self.input_size, self.hidden_size
        k_w, k_r, k_rh = jax.random.split(key, 3)
        recurrent_init = initializers.get(self.recurrent_init)
        params = {
            "W": initializers.blockwise(initializers.get(self.kernel_init), 3)(k_w, (D, 3 * H), dtype),
            "b": jnp.zeros((3 * H,), dtype),
        }
        if self.reset == "before":
            params["R"] = initializers.blockwise(recurrent_init, 2)(k_r, (H, 2 * H), dtype)
            params["R_h"] = recurrent_init(k_rh, (H, H), dtype)
        else:
            params["R"] = initializers.blockwise(recurrent_init, 3)(k_r, (H, 3 * H), dtype)
            params["b_hn"] = jnp.zeros((H,), dtype)
        return params

    def initial_carry(self, params: Params) -> Carry:
        return {"h": jnp.zeros((self.hidden_size,), params["W"].dtype)}

    # -- the equations --------------------------------------------------------
    def input_projection(self, params: Params, x: Float[Array, "... D"]) -> Float[Array, "... G"]:
        """W x + b for r, u and h~ at once (any leading axes): only x-dependent terms."""
        return x @ params["W"] + params["b"]

    def recurrent_step(self, params: Params, carry: Carry, gx_t: Float[Array, "G"]) -> tuple[Carry, Array]:
        H = self.hidden_size
        s = activations.get(self.gate_activation)
        act = activations.get(self.activation)
        h_prev = carry["h"]

        a = h_prev @ params["R"]  # [2H] (before) or [3H] (after)
        r = s(gx_t[:H] + a[:H])
        u = s(gx_t[H:2 * H] + a[H:2 * H])
        if self.reset == "before":
            h_tilde = act(gx_t[2 * H:] + (r * h_prev) @ params["R_h"])  # [H]
        else:
            h_tilde = act(gx_t[2 * H:] + r * (a[2 * H:] + params["b_hn"]))  # [H]
        h = u * h_prev + (1.0 - u) * h_tilde
        return {"h": h}, h
