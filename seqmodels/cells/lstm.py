"""Long short-term memory (Hochreiter & Schmidhuber 1997) with the variants of
Greff et al. 2017, "LSTM: A Search Space Odyssey", and the projection of Sak
et al. 2014 (LSTMP).

Equations (Greff et al.; y' and c' are the previous output and cell state,
s the gate activation (sigmoid), g the input activation, h the output
activation (both tanh), * elementwise):

    z = g(W_z x + R_z y' + b_z)                      block input
    i = s(W_i x + R_i y' + p_i * c' + b_i)           input gate
    f = s(W_f x + R_f y' + p_f * c' + b_f)           forget gate
    c = z * i + c' * f                               cell state
    o = s(W_o x + R_o y' + p_o * c  + b_o)           output gate (peephole on the NEW cell)
    y = h(c) * o                                     output
    y = (h(c) * o) W_proj                            with projection (LSTMP), y: [P]

The peephole terms p_* are present only with `peepholes=True` (Greff's
"vanilla" LSTM has them; flax's and PyTorch's LSTM do not). Greff's eight
variants each change one thing:

    NIG   no input gate           i = 1
    NFG   no forget gate          f = 1
    NOG   no output gate          o = 1
    NIAF  no input activation     g = identity
    NOAF  no output activation    h = identity
    NP    no peepholes            (the same as peepholes=False)
    CIFG  coupled gates           f = 1 - i
    FGR   full gate recurrence    i, f, o also see the previous i', f', o':
                                  a_k += sum_{j in i,f,o} R_{kj} j'   (9 extra [H, H] matrices)

Parameters (fused, one block of H columns per gate present, order z, i, f, o):

    W: [D, G]   R: [P or H, G]   b: [G]    G = (number of gates) * H
    p_i, p_f, p_o: [H]           (peepholes, per gate present)
    R_ifo: [3H, 3H]              (FGR)
    W_proj: [H, P]               (projection)

The carry is {'c': [H], 'h': [P or H]} (+ 'ifo': [3H] for FGR); the output
y_t equals the new 'h'.
"""

import dataclasses

import jax
import jax.numpy as jnp

from seqmodels.array_types import Array, Float, Key, Params
from seqmodels.cells.base import Carry, Cell, ScanKind, check_size
from seqmodels.nn import activations, initializers

VARIANTS = ("vanilla", "NIG", "NFG", "NOG", "NIAF", "NOAF", "NP", "CIFG", "FGR")


@dataclasses.dataclass(frozen=True)
class LSTM(Cell):
    """LSTM cell. `variant` is one of VARIANTS (Greff et al.); see the module docstring."""

    input_size: int
    hidden_size: int
    peepholes: bool = False
    variant: str = "vanilla"
    proj_size: int | None = None
    forget_bias: float = 1.0  # initial b_f (Gers et al. 2000; Jozefowicz et al. 2015); flax/PyTorch use 0
    gate_activation: str = "sigmoid"
    input_activation: str = "tanh"  # g
    output_activation: str = "tanh"  # h
    kernel_init: str = "lecun_normal"
    recurrent_init: str = "orthogonal"

    def __post_init__(self):
        super().__post_init__()
        if self.variant not in VARIANTS:
            raise ValueError(f"LSTM: unknown variant {self.variant!r}; expected one of {list(VARIANTS)}")
        if self.variant == "NP" and self.peepholes:
            raise ValueError("LSTM: variant 'NP' means no peepholes; drop peepholes=True")
        check_size(self, "proj_size", optional=True)
        for name in ("gate_activation", "input_activation", "output_activation"):
            activations.get(getattr(self, name))  # raises on unknown names

    # -- structure ------------------------------------------------------------
    @property
    def gates(self) -> tuple[str, ...]:
        """The gate blocks present, in their order in W, R and b."""
        dropped = {"NIG": "i", "NFG": "f", "NOG": "o", "CIFG": "f"}.get(self.variant)
        return tuple(g for g in "zifo" if g != dropped)

    @property
    def output_size(self) -> int:
        return self.proj_size or self.hidden_size

    @property
    def has_peepholes(self) -> bool:
        return self.peepholes and self.variant != "NP"

    @property
    def scan_kind(self) -> ScanKind:
        """FUSED_LSTM where `recurrence.fused` computes these equations exactly (vanilla, no peepholes or
        projection, default activations), else STEP."""
        plain = (not self.has_peepholes and self.proj_size is None and self.variant in ("vanilla", "NP")
                 and self.gate_activation == "sigmoid" and self.input_activation == "tanh"
                 and self.output_activation == "tanh")
        return ScanKind.FUSED_LSTM if plain else ScanKind.STEP

    # -- parameters -----------------------------------------------------------
    def init(self, key: Key, dtype=jnp.float32) -> Params:
        H, D, P, n = self.hidden_size, self.input_size, self.output_size, len(self.gates)
        k_w, k_r, k_p, k_fgr, k_proj = jax.random.split(key, 5)
        b = jnp.zeros((n, H), dtype)
        if "f" in self.gates:
            b = b.at[self.gates.index("f")].set(self.forget_bias)
        params = {
            "W": initializers.blockwise(initializers.get(self.kernel_init), n)(k_w, (D, n * H), dtype),
            "R": initializers.blockwise(initializers.get(self.recurrent_init), n)(k_r, (P, n * H), dtype),
            "b": b.reshape(n * H),
        }
        if self.has_peepholes:
            for g, k in zip("ifo", jax.random.split(k_p, 3)):
                if g in self.gates:
                    params[f"p_{g}"] = initializers.uniform(1.0 / H**0.5)(k, (H,), dtype)
        if self.variant == "FGR":
            params["R_ifo"] = initializers.blockwise(initializers.orthogonal, 3)(k_fgr, (3 * H, 3 * H), dtype)
        if self.proj_size:
            params["W_proj"] = initializers.glorot_uniform(k_proj, (H, P), dtype)
        return params

    def initial_carry(self, params: Params) -> Carry:
        dtype = params["W"].dtype
        carry = {"c": jnp.zeros((self.hidden_size,), dtype), "h": jnp.zeros((self.output_size,), dtype)}
        if self.variant == "FGR":
            carry["ifo"] = jnp.zeros((3 * self.hidden_size,), dtype)
        return carry

    # -- the equations --------------------------------------------------------
    def input_projection(self, params: Params, x: Float[Array, "... D"]) -> Float[Array, "... G"]:
        """W x + b for every gate at once (any leading axes)."""
        return x @ params["W"] + params["b"]

    def recurrent_step(self, params: Params, carry: Carry, gx_t: Float[Array, "G"]) -> tuple[Carry, Array]:
        H = self.hidden_size
        s = activations.get(self.gate_activation)
        g_act = activations.identity if self.variant == "NIAF" else activations.get(self.input_activation)
        h_act = activations.identity if self.variant == "NOAF" else activations.get(self.output_activation)
        c_prev, y_prev = carry["c"], carry["h"]

        a = gx_t + y_prev @ params["R"]  # [G]
        blocks = {g: a[k * H:(k + 1) * H] for k, g in enumerate(self.gates)}  # each [H]
        if self.variant == "FGR":
            a_ifo = carry["ifo"] @ params["R_ifo"]  # [3H]
            for k, g in enumerate("ifo"):
                blocks[g] = blocks[g] + a_ifo[k * H:(k + 1) * H]
        if self.has_peepholes:
            for g in "if":
                if g in blocks:
                    blocks[g] = blocks[g] + params[f"p_{g}"] * c_prev

        z = g_act(blocks["z"])
        i = s(blocks["i"]) if "i" in blocks else jnp.ones_like(z)
        if self.variant == "CIFG":
            f = 1.0 - i
        else:
            f = s(blocks["f"]) if "f" in blocks else jnp.ones_like(z)
        c = z * i + c_prev * f
        if "o" in blocks:
            o = s(blocks["o"] + params["p_o"] * c) if self.has_peepholes else s(blocks["o"])
        else:
            o = jnp.ones_like(z)
        y = h_act(c) * o
        if self.proj_size:
            y = y @ params["W_proj"]  # [P]

        new_carry = {"c": c, "h": y}
        if self.variant == "FGR":
            new_carry["ifo"] = jnp.concatenate([i, f, o])
        return new_carry, y
