"""Adversarial examples and input sensitivity for any differentiable classifier of ONE example.

`logits_fn(x) -> f [K]` (x of any shape, e.g. an image [H, W]; K >= 2 classes, or one logit f, read as the
binary classifier with logits [0, f]). Every function takes one example; vmap over a batch.

    saliency(x, k)        S = d f_k / d x                  (Simonyan et al. 2014: |S| as a map over the pixels)
    loss_gradient(x, y)   g = d CE(f(x), y) / d x
    fgsm(x, y, eps)       x' = clip(x + eps sign(g))        (Goodfellow et al. 2015, fast gradient sign)
    deepfool(x)           Moosavi-Dezfooli et al. 2016, multi-class: with k0 the label of x and x_0 = x,

        w'_k = grad f_k(x_i) - grad f_k0(x_i),   f'_k = f_k(x_i) - f_k0(x_i)     (k != k0)
        l = argmin_k |f'_k| / ||w'_k||,   r_i = (|f'_l| + 1e-4) w'_l / ||w'_l||^2    (1e-4: cross, not touch)
        x_{i+1} = x + (1 + overshoot) sum_{j <= i} r_j,   until argmax f(x_{i+1}) != k0

      For an affine f the first step is exact: the region of class k0 is the intersection of the half-spaces
      f_k0 - f_k >= 0, and the distance from x to its boundary is that to the nearest of their hyperplanes,
      |f'_l| / ||w'_l|| (the binary case: r = -f(x) w / ||w||^2). For a network each step linearises.

    sensitivity(xs, ys)   s = mean_n |d f_{y_n} / d x_n|    per input feature (the saliency, averaged)
    prune(xs, s, k)       the inputs with their k least sensitive features set to 0
"""

import jax
import jax.numpy as jnp

from seqmodels.array_types import Array, Float, Int

_CROSS = 1e-4  # DeepFool's step past the linearised boundary (the paper's code)


def _classes(logits_fn):
    """logits_fn with a single logit f read as the two-class [0, f]."""
    def fn(x):
        f = jnp.atleast_1d(logits_fn(x))
        return jnp.concatenate([jnp.zeros(1, f.dtype), f]) if f.shape[0] == 1 else f
    return fn


def saliency(logits_fn, x: Float[Array, "..."], k: Int[Array, ""]) -> Float[Array, "..."]:
    """d f_k / d x: how much each input feature moves class k's logit."""
    fn = _classes(logits_fn)
    return jax.grad(lambda v: fn(v)[k])(x)


def loss_gradient(logits_fn, x: Float[Array, "..."], y: Int[Array, ""]) -> Float[Array, "..."]:
    """d CE / d x with CE = -log softmax(f(x))_y."""
    fn = _classes(logits_fn)
    return jax.grad(lambda v: -jax.nn.log_softmax(fn(v))[y])(x)


def fgsm(logits_fn, x: Float[Array, "..."], y: Int[Array, ""], eps: float, *,
         clip: tuple[float, float] | None = None) -> Float[Array, "..."]:
    """x + eps sign(d CE / d x), clipped to [clip[0], clip[1]] (the valid pixel range) when given."""
    x_adv = x + eps * jnp.sign(loss_gradient(logits_fn, x, y))
    return x_adv if clip is None else jnp.clip(x_adv, *clip)


def deepfool(logits_fn, x: Float[Array, "..."], *, overshoot: float = 0.02, max_iter: int = 50) -> dict:
    """Multi-class DeepFool from x. Returns {'perturbation': r = x_adv - x, 'x_adv', 'label': k0,
    'adv_label', 'iterations', 'fooled': adv_label != k0 (False if max_iter ran out)}."""
    fn = _classes(logits_fn)
    jacobian = jax.jacrev(fn)
    k0 = jnp.argmax(fn(x))

    def linear_step(x_i):
        f, grads = fn(x_i), jacobian(x_i)  # [K], [K, *x.shape]
        w = (grads - grads[k0]).reshape(f.shape[0], -1)  # [K, N]: w'_k
        df = f - f[k0]  # [K]: f'_k
        norms = jnp.linalg.norm(w, axis=1)
        dist = jnp.where((jnp.arange(f.shape[0]) == k0) | (norms == 0), jnp.inf, jnp.abs(df) / norms)
        l = jnp.argmin(dist)
        return ((jnp.abs(df[l]) + _CROSS) / norms[l] ** 2 * w[l]).reshape(x.shape)  # r_i

    def cond(state):
        _, label, i = state
        return (label == k0) & (i < max_iter)

    def body(state):
        r_total, _, i = state
        r_total = r_total + linear_step(x + (1 + overshoot) * r_total)
        return r_total, jnp.argmax(fn(x + (1 + overshoot) * r_total)), i + 1

    r_total, label, iterations = jax.lax.while_loop(cond, body, (jnp.zeros_like(x), k0, jnp.int32(0)))
    r = (1 + overshoot) * r_total
    return {"perturbation": r, "x_adv": x + r, "label": k0, "adv_label": label, "iterations": iterations,
            "fooled": label != k0}


def sensitivity(logits_fn, xs: Float[Array, "B ..."], ys: Int[Array, "B"]) -> Float[Array, "..."]:
    """mean_n |d f_{y_n} / d x_n|: the mean absolute saliency of each input feature over the examples."""
    return jnp.mean(jnp.abs(jax.vmap(lambda x, y: saliency(logits_fn, x, y))(xs, ys)), axis=0)


def prune(xs: Float[Array, "B ..."], sens: Float[Array, "..."], k: int) -> Float[Array, "B ..."]:
    """xs with the k features of least sensitivity `sens` set to 0 in every example."""
    if sens.shape != xs.shape[1:]:
        raise ValueError(f"prune: expected a sensitivity of one example's shape {xs.shape[1:]}, got {sens.shape}")
    if not 0 <= k <= sens.size:
        raise ValueError(f"prune: k must be in [0, {sens.size}] (the number of features), got {k}")
    keep = jnp.ones(sens.size, bool).at[jnp.argsort(sens.reshape(-1))[:k]].set(False).reshape(sens.shape)
    return jnp.where(keep, xs, 0.0)


__all__ = ["saliency", "loss_gradient", "fgsm", "deepfool", "sensitivity", "prune"]
