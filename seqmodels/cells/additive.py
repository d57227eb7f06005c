"""The additive RNN: the lecture's ungated "LSTM idea" cell.

    h = h' + act(W x + R h' + b)                     carry {'h': [H]}, output h

An Elman cell (seqmodels/cells/rnn.py) whose new state is ADDED to the old
one: dh/dh' = I + diag(act') R, so the identity path carries the gradient
back through time (the constant error carousel of the LSTM's cell state,
without its gates; nothing can forget, so h may grow like a random walk).
Parameters and initialisers are Elman's: W: [D, H], R: [H, H], b: [H].
"""

import dataclasses

from seqmodels.array_types import Array, Float, Params
from seqmodels.cells.base import Carry
from seqmodels.cells.rnn import Elman
from seqmodels.nn import activations


@dataclasses.dataclass(frozen=True)
class AdditiveRNN(Elman):
    """h = h' + act(W x + R h' + b); Elman's fields and parameters (see the module docstring)."""

    def recurrent_step(self, params: Params, carry: Carry, gx_t: Float[Array, "H"]) -> tuple[Carry, Array]:
        act = activations.get(self.activation)
        h = carry["h"] + act(gx_t + carry["h"] @ params["R"])  # [H]
        return {"h": h}, h
