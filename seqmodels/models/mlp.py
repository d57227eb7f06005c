"""Multi-layer perceptron on a whole (flattened) sequence: the feed-forward baseline.

    h_0 = vec(x);   a_l = drop(act(W_l h_{l-1} + b_l));   h_l = a_l   (plain, and l = 1)
                                                          h_l = h_{l-1} + a_l   (residual, l >= 2)
    y = W_L h_{L-1} + b_L

With no hidden layer it is logistic (softmax) regression. `act` is any name of
seqmodels.nn.activations (relu by default); `drop` is inverted dropout on the
hidden activations (seqmodels.nn.dropout: it needs a `key` unless
`deterministic`). `hidden_states` returns h_1 .. h_{L-1}; the params are a
list with one {'w', 'b'} per layer, so grads[l]["w"] is dL/dW_{l+1}
(`layer_norms` gives one norm per layer: the depth experiment's plot).

Initialisers (`init_kind`; biases zero unless said):

    default   seqmodels.nn.dense's: Glorot-uniform (the same draws as "glorot")
    torch     nn.Linear's U(+-1/sqrt(fan_in)) for weights and biases
    glorot    Glorot & Bengio (2010) normalised init, U(+-sqrt(6 / (fan_in + fan_out))):
              Var W = 2 / (fan_in + fan_out)
    naive     "small random numbers", W ~ N(0, 0.01^2) whatever the width (CS231n's 0.01 * randn):
              the vanishing-gradient slide's init

Keys: one per layer (`heads.split_parts`: the key itself for a single layer).
"""

import dataclasses

import jax
import jax.numpy as jnp

from seqmodels.array_types import Array, Float, Int, Key, Params
from seqmodels.models.heads import readout_init, split_parts
from seqmodels.nn import activations, dense, dropout, initializers

INITS = ("default", "torch", "glorot", "naive")
NAIVE_STD = 0.01


def init_layer(key: Key, fan_in: int, fan_out: int, kind: str = "default") -> Params:
    """One dense layer {'w': [fan_in, fan_out], 'b': [fan_out]} drawn as `kind` says (module docstring)."""
    if kind == "glorot":
        return dense.init(key, fan_in, fan_out, w_init=initializers.glorot_uniform)
    if kind == "naive":
        return dense.init(key, fan_in, fan_out, w_init=initializers.normal(NAIVE_STD))
    if kind not in ("default", "torch"):
        raise ValueError(f"MLP: init_kind must be one of {INITS}, got {kind!r}")
    return readout_init(key, fan_in, fan_out, kind)


def layer_norms(tree: Params, leaf: str = "w") -> Float[Array, "L"]:
    """||tree[l][leaf]|| (Frobenius) for each layer l: of the weights, or of their gradients dL/dW_l."""
    return jnp.stack([jnp.linalg.norm(p[leaf]) for p in tree])


@dataclasses.dataclass(frozen=True)
class MLP:
    """x [T, D] (flattened to T * D) -> y [num_outputs]; see the module docstring."""
    input_size: int  # T * D
    hidden_sizes: tuple[int, ...]
    num_outputs: int
    residual: bool = False  # h + act(W h + b) from the second hidden layer on (sizes must agree)
    init_kind: str = "default"  # default | torch | glorot | naive
    activation: str = "relu"  # any name of seqmodels.nn.activations
    drop_rate: float = 0.0  # dropout on the hidden activations

    def __post_init__(self):
        object.__setattr__(self, "hidden_sizes", tuple(self.hidden_sizes))
        sizes = self.hidden_sizes
        if self.residual and any(a != b for a, b in zip(sizes, sizes[1:])):
            raise ValueError(f"MLP: residual layers need equal hidden sizes, got {sizes}")
        if self.init_kind not in INITS:
            raise ValueError(f"MLP: init_kind must be one of {INITS}, got {self.init_kind!r}")
        activations.get(self.activation)  # raises on unknown names
        if not 0.0 <= self.drop_rate < 1.0:
            raise ValueError(f"MLP: drop_rate must be in [0, 1), got {self.drop_rate}")

    def init(self, key: Key) -> Params:
        sizes = (self.input_size, *self.hidden_sizes, self.num_outputs)
        keys = split_parts(key, len(sizes) - 1)
        return [init_layer(k, a, b, self.init_kind) for k, a, b in zip(keys, sizes, sizes[1:])]

    def hidden_states(self, params: Params, x: Float[Array, "T D"], *, key: Key | None = None,
                      deterministic: bool = False) -> list[Array]:
        """[h_1, ..., h_{L-1}], the hidden layers' outputs (after dropout) for one example."""
        act = activations.get(self.activation)
        keys = dropout.split(None if deterministic else key, len(params) - 1)
        h, hs = x.reshape(-1), []  # [T * D]
        for i, (p, k) in enumerate(zip(params[:-1], keys)):
            a = dropout.apply(act(dense.apply(p, h)), self.drop_rate, key=k, deterministic=deterministic,
                              name="MLP")
            h = h + a if self.residual and i > 0 else a
            hs.append(h)
        return hs

    def apply(self, params: Params, x: Float[Array, "T D"], *, lengths: Int[Array, ""] | None = None,
              key: Key | None = None, deterministic: bool = False) -> Float[Array, "O"]:
        if lengths is not None:
            raise ValueError("MLP: reads a whole fixed-length sequence; lengths are not supported")
        hs = self.hidden_states(params, x, key=key, deterministic=deterministic)
        return dense.apply(params[-1], hs[-1] if hs else x.reshape(-1))

    def apply_batch(self, params: Params, xs: Float[Array, "B T D"], lengths=None, *, key: Key | None = None,
                    deterministic: bool = False) -> Float[Array, "B O"]:
        """`apply` vmapped; each example gets its own dropout key (split from `key`)."""
        keys = None if key is None else jax.random.split(key, xs.shape[0])
        return jax.vmap(lambda x, k: self.apply(params, x, key=k, deterministic=deterministic))(xs, keys)
