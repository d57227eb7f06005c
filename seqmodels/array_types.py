"""Shape letters used in every docstring, annotation and `# [..]` comment.

    B  batch                     T  time (query time)
    S  key / source time         D  input or model width
    H  hidden width              G  fused gate width (e.g. 4H for an LSTM)
    P  projection width          N  heads
    K  head dimension            W  kernel width
    C  channels                  V  vocabulary size

Code is written for one example, time first: `x: [T, D]`. The batch letter
only appears at model boundaries, where `jax.vmap` adds it.
"""

from typing import Any

import jax
from jaxtyping import Array, Bool, Float, Int

Params = dict[str, Any]  # nested dict of arrays (a pytree Orbax and jax.tree handle as is)
Key = jax.Array  # a PRNG key from jax.random.key / jax.random.PRNGKey

# Common aliases (jaxtyping: the string lists the named axes).
Sequence = Float[Array, "T D"]
Hidden = Float[Array, "H"]
Frame = Float[Array, "D"]
Lengths = Int[Array, "B"]
Mask = Bool[Array, "T S"]

__all__ = [
    "Array", "Bool", "Float", "Int", "Params", "Key",
    "Sequence", "Hidden", "Frame", "Lengths", "Mask",
]
