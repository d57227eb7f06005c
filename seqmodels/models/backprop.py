"""Backpropagation written out by hand: the lecture's equations, each checked against `jax.grad`.

Row-vector convention, as everywhere in seqmodels (`dense.apply` is x @ W, W: [D_in, D_out]); the slides'
column form W a + b is the transpose of the same thing.

1. The delta rule for an MLP (params: `seqmodels.models.mlp.MLP`'s list of dense {'w', 'b'}):

       forward    a_0 = x,   z_l = a_{l-1} W_l + b_l,   a_l = f(z_l) (l < L),   logits = z_L
       output     delta_L = dLoss/dz_L = softmax(z_L) - onehot(y)          (softmax + cross-entropy)
       backward   delta_l = (W_{l+1} delta_{l+1}) * f'(z_l)                (slides: W_{l+1}^T delta_{l+1})
       gradients  dW_l = outer(a_{l-1}, delta_l)   (slides: delta_l a_{l-1}^T),   db_l = delta_l

2. A 'valid' convolution's gradients (params: `seqmodels.conv.Conv1D`'s {'kernel': [K, C, O], 'bias': [O]}):

       forward    y[t, o] = sum_{k, c} x[t + k, c] w[k, c, o] + b[o]                  t = 0 .. T - K
       weights    dw[k, c, o] = sum_t x[t + k, c] g[t, o]       the input CORRELATED with g = dL/dy
       input      dx[s, c] = sum_{k, o} g[s - k, o] w[k, c, o]  g zero-padded and CONVOLVED with w
       bias       db[o] = sum_t g[t, o]

   and in 2-D (kernel [K1, K2, C, O]): dw[i, j, c, o] = sum_{t, s} x[t + i, s + j, c] g[t, s, o].

3. Backpropagation through time for an Elman RNN (params: `seqmodels.cells.Elman`'s {'W', 'R', 'b'}):

       forward    h_t = tanh(x_t W + h_{t-1} R + b),   t = 1 .. T,   h_0 given
       backward   e_t = dL/dh_t (total) = dl/dh_t + delta_{t+1} R^T,    e_T = dl/dh_T
                  delta_t = dL/d(pre-activation)_t = e_t * (1 - h_t^2)
       gradients  dW = sum_t outer(x_t, delta_t),  dR = sum_t outer(h_{t-1}, delta_t),  db = sum_t delta_t,
                  dh_0 = delta_1 R^T

   where dl/dh_t is the loss's direct gradient at step t (from a read-out) and the second term is what
   flows back from the future. The (1 - h^2) factors multiplied over many steps are why gradients vanish.
"""

import jax
import jax.numpy as jnp

from seqmodels.array_types import Array, Float, Int, Params
from seqmodels.nn import activations

# f'(z) of the activations the delta rule knows, written from f's value a = f(z) where that is the textbook form
DERIVATIVES = {
    "tanh": lambda z, a: 1.0 - a * a,
    "sigmoid": lambda z, a: a * (1.0 - a),
    "relu": lambda z, a: (z > 0).astype(z.dtype),
    "identity": lambda z, a: jnp.ones_like(z),
}


def _derivative(activation: str):
    if activation not in DERIVATIVES:
        raise ValueError(f"backprop: no derivative for activation {activation!r}; expected one of "
                         f"{sorted(DERIVATIVES)}")
    return DERIVATIVES[activation]


# -- 1. the MLP ----------------------------------------------------------------------------------------

def mlp_forward(params: Params, x: Float[Array, "D"], activation: str = "relu") -> tuple[list, list]:
    """(zs, activations): zs[l] = z_{l+1} for every layer, activations[0] = x, activations[l] = f(z_l)."""
    f = activations.get(activation)
    zs, acts = [], [x]
    for i, p in enumerate(params):
        z = acts[-1] @ p["w"] + p["b"]  # [D_l]
        zs.append(z)
        if i < len(params) - 1:
            acts.append(f(z))
    return zs, acts


def mlp_loss(params: Params, x: Float[Array, "D"], y: Int[Array, ""], activation: str = "relu") -> Array:
    """Softmax cross-entropy of one example: the loss the deltas differentiate."""
    logits = mlp_forward(params, x, activation)[0][-1]
    return -jax.nn.log_softmax(logits)[y]


def mlp_grads(params: Params, x: Float[Array, "D"], y: Int[Array, ""], activation: str = "relu") -> Params:
    """dLoss/dparams of `mlp_loss` by the delta rule (the module docstring, part 1)."""
    fprime = _derivative(activation)
    zs, acts = mlp_forward(params, x, activation)
    delta = jax.nn.softmax(zs[-1]) - jax.nn.one_hot(y, zs[-1].shape[-1], dtype=zs[-1].dtype)  # delta_L
    grads = [None] * len(params)
    for l in reversed(range(len(params))):
        grads[l] = {"w": jnp.outer(acts[l], delta), "b": delta}  # acts[l] = a_{l-1} of layer l (0-based)
        if l > 0:
            delta = (params[l]["w"] @ delta) * fprime(zs[l - 1], acts[l])  # (W_{l+1} delta_{l+1}) * f'(z_l)
    return grads


# -- 2. convolutions -----------------------------------------------------------------------------------

def conv1d_valid(params: Params, x: Float[Array, "T C"]) -> Float[Array, "T_out O"]:
    """y[t] = sum_k x[t + k] w[k] + b, T_out = T - K + 1 (a loop over taps: the equation, not a fast path)."""
    w = params["kernel"]
    K, T_out = w.shape[0], x.shape[0] - w.shape[0] + 1
    return sum(x[k:k + T_out] @ w[k] for k in range(K)) + params["bias"]


def conv1d_grads(params: Params, x: Float[Array, "T C"], g: Float[Array, "T_out O"]) -> tuple[Params, Array]:
    """({'kernel': dw, 'bias': db}, dx) of `conv1d_valid` for the output gradient g = dL/dy."""
    w = params["kernel"]
    K, T_out = w.shape[0], g.shape[0]
    dw = jnp.stack([x[k:k + T_out].T @ g for k in range(K)])  # [K, C, O]: correlation of x with g
    g_full = jnp.pad(g, ((K - 1, K - 1), (0, 0)))  # [T_out + 2K - 2, O]
    dx = sum(g_full[K - 1 - k:K - 1 - k + x.shape[0]] @ w[k].T for k in range(K))  # g convolved with w: [T, C]
    return {"kernel": dw, "bias": g.sum(0)}, dx


def conv2d_valid(params: Params, x: Float[Array, "T S C"]) -> Float[Array, "T_out S_out O"]:
    """y[t, s] = sum_{i, j} x[t + i, s + j] w[i, j] + b."""
    w = params["kernel"]
    K1, K2 = w.shape[:2]
    T_out, S_out = x.shape[0] - K1 + 1, x.shape[1] - K2 + 1
    return sum(x[i:i + T_out, j:j + S_out] @ w[i, j] for i in range(K1) for j in range(K2)) + params["bias"]


def conv2d_weight_grad(x: Float[Array, "T S C"], g: Float[Array, "T_out S_out O"], kernel_shape) -> Array:
    """dw[i, j, c, o] = sum_{t, s} x[t + i, s + j, c] g[t, s, o] (the deck's homework)."""
    K1, K2 = kernel_shape[:2]
    T_out, S_out = g.shape[:2]
    return jnp.stack([jnp.stack([jnp.einsum("tsc,tso->co", x[i:i + T_out, j:j + S_out], g) for j in range(K2)])
                      for i in range(K1)])  # [K1, K2, C, O]


# -- 3. backpropagation through time -------------------------------------------------------------------

def elman_forward(params: Params, x: Float[Array, "T D"], h0: Float[Array, "H"]) -> Float[Array, "T H"]:
    """h_t = tanh(x_t W + h_{t-1} R + b) for t = 1 .. T (the states, without h_0)."""
    def step(h, x_t):
        h = jnp.tanh(x_t @ params["W"] + h @ params["R"] + params["b"])
        return h, h
    return jax.lax.scan(step, h0, x)[1]


def elman_bptt(params: Params, x: Float[Array, "T D"], h0: Float[Array, "H"],
               dl_dh: Float[Array, "T H"]) -> tuple[Params, Array]:
    """({'W', 'R', 'b'} gradients, dL/dh_0) for a loss whose direct gradient at h_t is dl_dh[t] (docstring, 3)."""
    hs = elman_forward(params, x, h0)  # [T, H]
    h_prev = jnp.concatenate([h0[None], hs[:-1]])  # h_{t-1}: [T, H]

    def back(delta_next, inputs):  # from t = T down to 1
        dl_dh_t, h_t = inputs
        e_t = dl_dh_t + delta_next @ params["R"].T  # dL/dh_t: now and from the future
        delta_t = e_t * (1.0 - h_t * h_t)
        return delta_t, delta_t

    zero = jnp.zeros_like(h0)
    delta_1, deltas = jax.lax.scan(back, zero, (dl_dh, hs), reverse=True)  # deltas [T, H]
    grads = {"W": x.T @ deltas, "R": h_prev.T @ deltas, "b": deltas.sum(0)}  # sums of outer products
    return grads, delta_1 @ params["R"].T
