"""Multi-layer perceptron on a whole (flattened) sequence: the feed-forward baseline.

    h_1 = relu(W_1 vec(x) + b_1);   h_l = h_{l-1} + relu(W_l h_{l-1} + b_l)  (residual, l >= 2);   y = W_L h + b_L

With no hidden layer it is logistic (softmax) regression. Keys: one per layer (`heads.split_parts`: the key
itself for a single layer).
"""

import dataclasses

import jax

from seqmodels.array_types import Array, Float, Int, Key, Params
from seqmodels.models.heads import readout_init, split_parts
from seqmodels.nn import dense


@dataclasses.dataclass(frozen=True)
class MLP:
    """x [T, D] (flattened to T * D) -> y [num_outputs]. init: "default" (lecun-normal) | "torch" (nn.Linear's)."""
    input_size: int  # T * D
    hidden_sizes: tuple[int, ...]
    num_outputs: int
    residual: bool = False  # h + relu(W h + b) from the second hidden layer on (sizes must agree)
    init_kind: str = "default"

    def __post_init__(self):
        object.__setattr__(self, "hidden_sizes", tuple(self.hidden_sizes))
        sizes = self.hidden_sizes
        if self.residual and any(a != b for a, b in zip(sizes, sizes[1:])):
            raise ValueError(f"MLP: residual layers need equal hidden sizes, got {sizes}")

    def init(self, key: Key) -> Params:
        sizes = (self.input_size, *self.hidden_sizes, self.num_outputs)
        keys = split_parts(key, len(sizes) - 1)
        return [readout_init(k, a, b, self.init_kind) for k, a, b in zip(keys, sizes, sizes[1:])]

    def apply(self, params: Params, x: Float[Array, "T D"], *, lengths: Int[Array, ""] | None = None,
              key: Key | None = None, deterministic: bool = False) -> Float[Array, "O"]:
        del key, deterministic  # no dropout
        if lengths is not None:
            raise ValueError("MLP: reads a whole fixed-length sequence; lengths are not supported")
        h = x.reshape(-1)  # [T * D]
        for i, p in enumerate(params[:-1]):
            a = jax.nn.relu(dense.apply(p, h))
            h = h + a if self.residual and i > 0 else a
        return dense.apply(params[-1], h)

    def apply_batch(self, params: Params, xs: Float[Array, "B T D"], lengths=None, *, key: Key | None = None,
                    deterministic: bool = False) -> Float[Array, "B O"]:
        return jax.vmap(lambda x: self.apply(params, x, lengths=None, deterministic=deterministic))(xs)
