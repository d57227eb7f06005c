"""Dense autoencoders, the denoising variant, and greedy layer-wise pretraining (Bengio et al., 2007;
Vincent et al., 2008). (seqmodels/conv/autoencoder.py is the convolutional one, for waveforms.)

    encoder   h_0 = x,   h_l = f(h_{l-1} W_l + b_l),              l = 1 .. L   (code h_L)
    decoder   g_L = h_L,  g_{l-1} = f(g_l V_l + c_l),  l = L .. 2;   xhat = out(g_1 V_1 + c_1)
    tied      V_l = W_l^T (the decoder keeps only its biases c_l)
    loss      |x - xhat|^2 / 2 (out = linear)  or  binary cross-entropy (out = sigmoid, x in [0, 1])
    denoising the loss of reconstructing the clean x from xtilde = corrupt(x):
              masking:  xtilde = x * m,  m_i ~ Bernoulli(1 - p)   (no 1 / (1 - p) rescaling: not dropout)
              gaussian: xtilde = x + sigma * eps,  eps ~ N(0, I)

With linear f and out and k code units, the minimum of the squared error is reached when the decoder's
rows span the data's top-k principal subspace (Baldi & Hornik, 1989): the autoencoder learns PCA's
subspace, not its axes.

Greedy pretraining trains a one-hidden-layer autoencoder on x, then another on its codes, and so on;
the encoders' {'w', 'b'} are the first layers of `seqmodels.models.mlp.MLP`'s params, so a supervised
MLP with the same hidden sizes and activation starts from them (`pretrain_greedy`).
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax

from seqmodels.array_types import Array, Float, Key, Params
from seqmodels.nn import activations, dense
from seqmodels.training import losses

OUTPUTS = ("linear", "sigmoid")
CORRUPTIONS = ("none", "masking", "gaussian")


def corrupt(key: Key, x: Array, kind: str = "masking", level: float = 0.25) -> Array:
    """xtilde: masking zeroes each input with probability `level`; gaussian adds N(0, level^2) noise."""
    if kind not in CORRUPTIONS:
        raise ValueError(f"corrupt: kind must be one of {CORRUPTIONS}, got {kind!r}")
    if kind == "none" or level == 0:
        return x
    if kind == "masking":
        if not 0.0 <= level < 1.0:
            raise ValueError(f"corrupt: the masking probability must be in [0, 1), got {level}")
        return jnp.where(jax.random.bernoulli(key, 1.0 - level, x.shape), x, 0.0)
    if level < 0:
        raise ValueError(f"corrupt: the Gaussian noise std must be >= 0, got {level}")
    return x + level * jax.random.normal(key, x.shape, x.dtype)


@dataclasses.dataclass(frozen=True)
class Autoencoder:
    """x [D] (any leading axes) -> xhat [D] through codes of hidden_sizes[-1] units."""
    input_size: int
    hidden_sizes: tuple[int, ...]
    activation: str = "sigmoid"  # f, of every encoder and hidden decoder layer
    output: str = "sigmoid"  # out: "sigmoid" (inputs in [0, 1], cross-entropy) | "linear" (squared error)
    tied: bool = False  # V_l = W_l^T

    def __post_init__(self):
        object.__setattr__(self, "hidden_sizes", tuple(self.hidden_sizes))
        if not self.hidden_sizes or min((self.input_size, *self.hidden_sizes)) <= 0:
            raise ValueError(f"Autoencoder: expected a positive input_size and at least one positive hidden "
                             f"size, got {self.input_size} and {self.hidden_sizes}")
        activations.get(self.activation)
        if self.output not in OUTPUTS:
            raise ValueError(f"Autoencoder: output must be one of {OUTPUTS}, got {self.output!r}")

    def init(self, key: Key) -> Params:
        """{'encoder': [{'w': [D_{l-1}, D_l], 'b'}], 'decoder': [{'w': [D_l, D_{l-1}], 'b': [D_{l-1}]}]
        (decoder[l-1] is layer l's; tied: biases only)}."""
        sizes = (self.input_size, *self.hidden_sizes)
        k_enc, k_dec = jax.random.split(key)
        pairs = list(zip(sizes[:-1], sizes[1:]))
        enc = [dense.init(k, a, b) for k, (a, b) in zip(jax.random.split(k_enc, len(pairs)), pairs)]
        dec = [dense.init(k, b, a) for k, (a, b) in zip(jax.random.split(k_dec, len(pairs)), pairs)]
        if self.tied:
            dec = [{"b": p["b"]} for p in dec]
        return {"encoder": enc, "decoder": dec}

    def encode(self, params: Params, x: Float[Array, "... D"]) -> Float[Array, "... H"]:
        f = activations.get(self.activation)
        for p in params["encoder"]:
            x = f(dense.apply(p, x))
        return x

    def decode(self, params: Params, h: Float[Array, "... H"]) -> Float[Array, "... D"]:
        f = activations.get(self.activation)
        for l in reversed(range(len(self.hidden_sizes))):
            w = params["encoder"][l]["w"].T if self.tied else params["decoder"][l]["w"]  # [D_l, D_{l-1}]
            h = dense.apply({"w": w, "b": params["decoder"][l]["b"]}, h)
            if l > 0:
                h = f(h)
        return h  # logits when output == "sigmoid"

    def apply(self, params: Params, x: Float[Array, "... D"]) -> Float[Array, "... D"]:
        out = self.decode(params, self.encode(params, x))
        return jax.nn.sigmoid(out) if self.output == "sigmoid" else out

    def loss(self, params: Params, x: Float[Array, "... D"], *, key: Key | None = None,
             corruption: str = "none", level: float = 0.0) -> Array:
        """Mean over examples of the reconstruction loss of the clean x from corrupt(x)."""
        if corruption != "none" and level > 0 and key is None:
            raise ValueError("Autoencoder.loss: a corrupted (denoising) loss needs a PRNG `key`")
        out = self.decode(params, self.encode(params, corrupt(key, x, corruption, level)))
        if self.output == "sigmoid":
            return losses.bernoulli_nll(out, x)  # summed over units, mean over examples
        return 0.5 * x.shape[-1] * losses.mean_squared_error(out, x)  # |x - xhat|^2 / 2, mean over examples


def fit(model: Autoencoder, key: Key, x: np.ndarray, *, num_steps: int = 2000, batch_size: int = 64,
        learning_rate: float = 1e-2, corruption: str = "none", level: float = 0.0,
        params: Params | None = None) -> tuple[Params, list[float]]:
    """Adam on minibatches of x [N, D] (full batch when batch_size >= N); (params, losses every step)."""
    x = jnp.asarray(x, jnp.float32)
    k_init, k_steps = jax.random.split(key)
    params = model.init(k_init) if params is None else params
    opt = optax.adam(learning_rate)
    batch_size = min(batch_size, len(x))

    def step(state, k):
        params, opt_state = state
        k_idx, k_cor = jax.random.split(k)
        batch = x[jax.random.choice(k_idx, len(x), (batch_size,), replace=False)] if batch_size < len(x) else x
        loss, grads = jax.value_and_grad(model.loss)(params, batch, key=k_cor, corruption=corruption, level=level)
        updates, opt_state = opt.update(grads, opt_state)
        return (optax.apply_updates(params, updates), opt_state), loss

    keys = jax.random.split(k_steps, num_steps)
    (params, _), curve = jax.jit(lambda s: jax.lax.scan(step, s, keys))((params, opt.init(params)))
    return params, [float(v) for v in curve]


def pretrain_greedy(key: Key, x: np.ndarray, hidden_sizes: tuple[int, ...], *, activation: str = "relu",
                    output: str = "linear", tied: bool = False, corruption: str = "masking", level: float = 0.25,
                    **fit_options) -> tuple[list[Params], list[list[float]]]:
    """Greedy layer-wise (denoising) autoencoder pretraining on x [N, D].

    Layer l is a one-hidden-layer autoencoder D_{l-1} -> D_l -> D_{l-1} trained on the codes of layers
    1 .. l-1 (frozen); its encoder {'w', 'b'} becomes layer l. Layer 1 reconstructs with `output`; deeper
    layers reconstruct codes of `activation`, with a linear output (codes of relu are unbounded).
    Returns ([{'w', 'b'} per layer]: MLP params' first len(hidden_sizes) entries, [losses per layer]).
    """
    layers, curves = [], []
    h = np.asarray(x, np.float32).reshape(len(x), -1)  # [N, D]
    for l, (k, size) in enumerate(zip(jax.random.split(key, len(hidden_sizes)), hidden_sizes)):
        model = Autoencoder(h.shape[1], (size,), activation, output if l == 0 else "linear", tied)
        params, curve = fit(model, k, h, corruption=corruption, level=level, **fit_options)
        layers.append(params["encoder"][0])
        curves.append(curve)
        h = np.asarray(model.encode(params, jnp.asarray(h)))  # the next layer's data
    return layers, curves
