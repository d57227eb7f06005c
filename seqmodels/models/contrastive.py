"""Contrastive instance discrimination (SimCLR: Chen et al., 2020) for sequences: NT-Xent and augmentations.

Two random augmentations of each of N sequences give 2N views; an encoder f and a projection head g
map view a to z_a = g(f(x_a)). View i's positive p(i) is the other view of the same sequence
(p(i) = i + N mod 2N); the other 2N - 2 views are its negatives. With cosine similarity and a
temperature tau,

    s_ik = z_i . z_k / (||z_i|| ||z_k|| tau)                        [2N, 2N]
    l_i  = -log( exp(s_{i,p(i)}) / sum_{k != i} exp(s_ik) )          (NT-Xent of anchor i)
    L    = (1 / 2N) sum_i l_i

that is, a (2N - 1)-way softmax cross-entropy whose target is the positive (`similarity_logits`
gives the logits with s_ii = -inf and the targets p(i)). `valid` [N] (eval batches filled up with
copies) drops a sequence's two views as anchors and as negatives.

Augmentations are pure functions of (key, x [T, C]) -> [T, C], one example at a time (vmap them
with one key per example):

    shift       y_t = x_{(t - s) mod T} (circular) or x_{t - s}, 0 outside [0, T) (zeros),
                s ~ U{-max_shift, ..., max_shift}
    scale       y = a x,  a ~ U(low, high)
    add_noise   y = x + std e,  e ~ N(0, I)
    mask_time   y_t = 0 for t in [t0, t0 + L), L = round(fraction T), t0 ~ U{0, ..., T - L}
    augment     mask_time(add_noise(scale(shift(x)))), each with its own key

The projection head is an MLP on the embedding h = f(x) (SimCLR's g(h) = W_2 relu(W_1 h + b_1) + b_2):
`projection_head` returns a seqmodels.models.mlp.MLP; linear probes read h, not z.
"""

import jax
import jax.numpy as jnp

from seqmodels.array_types import Array, Float, Int, Key
from seqmodels.models.mlp import MLP
from seqmodels.training import losses

SHIFT_MODES = ("circular", "zeros")


def _check_views(z1, z2) -> None:
    if z1.ndim != 2 or z1.shape != z2.shape or z1.shape[0] < 2:
        raise ValueError(f"nt_xent: expected two views z1, z2 of the same shape [N, P] with N >= 2 sequences, "
                         f"got {z1.shape} and {z2.shape}")


def similarity_logits(z1: Float[Array, "N P"], z2: Float[Array, "N P"], temperature: float, valid=None
                      ) -> tuple[Float[Array, "2N 2N"], Int[Array, "2N"]]:
    """(s [2N, 2N]: cosine similarities / tau with s_ii = -inf (and invalid views' columns), targets p(i))."""
    _check_views(z1, z2)
    if temperature <= 0:
        raise ValueError(f"nt_xent: temperature must be positive, got {temperature}")
    n = z1.shape[0]
    z = jnp.concatenate([z1, z2]).astype(jnp.float32)  # [2N, P]
    u = z / jnp.maximum(jnp.linalg.norm(z, axis=-1, keepdims=True), jnp.finfo(jnp.float32).eps)
    s = u @ u.T / temperature  # [2N, 2N]
    drop = jnp.eye(2 * n, dtype=bool)
    if valid is not None:  # invalid views are no one's negatives (their own rows stay finite, masked later)
        keep = jnp.tile(jnp.asarray(valid, bool), 2)  # [2N]
        drop = drop | (keep[:, None] & ~keep[None, :])
    targets = (jnp.arange(2 * n) + n) % (2 * n)  # [2N]
    return jnp.where(drop, -jnp.inf, s), targets


def nt_xent(z1: Float[Array, "N P"], z2: Float[Array, "N P"], temperature: float = 0.1, valid=None
            ) -> Float[Array, ""]:
    """SimCLR's NT-Xent loss of two views z1[i], z2[i] of N sequences (module docstring), mean over 2N anchors."""
    logits, targets = similarity_logits(z1, z2, temperature, valid)
    mask = None if valid is None else jnp.tile(jnp.asarray(valid, bool), 2)
    return losses.cross_entropy(logits, targets, mask)


def pair_accuracy(z1: Float[Array, "N P"], z2: Float[Array, "N P"], valid=None) -> Float[Array, ""]:
    """Fraction of anchors whose most similar other view is their positive (instance-discrimination top-1)."""
    logits, targets = similarity_logits(z1, z2, 1.0, valid)
    mask = None if valid is None else jnp.tile(jnp.asarray(valid, bool), 2)
    return losses.accuracy(logits, targets, mask)


def projection_head(embed_dim: int, hidden_size: int, out_dim: int) -> MLP:
    """g(h) = W_2 relu(W_1 h + b_1) + b_2: an MLP on the embedding h [E] (apply(params, h) -> z [out_dim])."""
    return MLP(embed_dim, (hidden_size,), out_dim)


def shift(key: Key, x: Float[Array, "T C"], max_shift: int, mode: str = "circular") -> Float[Array, "T C"]:
    """x moved by s ~ U{-max_shift..max_shift} frames (later for s > 0): wrapped round, or zeros let in."""
    if mode not in SHIFT_MODES:
        raise ValueError(f"shift: mode must be one of {SHIFT_MODES}, got {mode!r}")
    T = x.shape[0]
    if not 0 <= max_shift < T:
        raise ValueError(f"shift: max_shift must be in [0, T={T}), got {max_shift}")
    s = jax.random.randint(key, (), -max_shift, max_shift + 1)
    y = jnp.roll(x, s, axis=0)
    if mode == "zeros":
        source = jnp.arange(T) - s  # the frame of x that lands at t
        y = jnp.where(((source >= 0) & (source < T))[:, None], y, 0.0)
    return y


def scale(key: Key, x: Float[Array, "T C"], low: float, high: float) -> Float[Array, "T C"]:
    """a x with one amplitude a ~ U(low, high) for the whole sequence."""
    if not 0 <= low <= high:
        raise ValueError(f"scale: expected 0 <= low <= high, got low={low}, high={high}")
    return jax.random.uniform(key, (), minval=low, maxval=high) * x


def add_noise(key: Key, x: Float[Array, "T C"], std: float) -> Float[Array, "T C"]:
    """x + std e, e ~ N(0, I) white Gaussian noise."""
    if std < 0:
        raise ValueError(f"add_noise: std must be >= 0, got {std}")
    return x + std * jax.random.normal(key, x.shape, x.dtype)


def mask_time(key: Key, x: Float[Array, "T C"], fraction: float) -> Float[Array, "T C"]:
    """x with one random span of round(fraction T) consecutive frames set to zero."""
    if not 0 <= fraction <= 1:
        raise ValueError(f"mask_time: fraction must be in [0, 1], got {fraction}")
    T = x.shape[0]
    span = round(fraction * T)
    t0 = jax.random.randint(key, (), 0, T - span + 1)
    t = jnp.arange(T)
    return jnp.where(((t >= t0) & (t < t0 + span))[:, None], 0.0, x)


def augment(key: Key, x: Float[Array, "T C"], *, max_shift: int = 0, shift_mode: str = "circular",
            scale_low: float = 1.0, scale_high: float = 1.0, noise_std: float = 0.0,
            mask_fraction: float = 0.0) -> Float[Array, "T C"]:
    """One random view of x: shift, then scale, then noise, then masking (module docstring)."""
    if x.ndim != 2:
        raise ValueError(f"augment: expected one sequence x [T, C], got shape {x.shape}")
    k_shift, k_scale, k_noise, k_mask = jax.random.split(key, 4)
    x = shift(k_shift, x, max_shift, shift_mode)
    x = scale(k_scale, x, scale_low, scale_high)
    x = add_noise(k_noise, x, noise_std)
    return mask_time(k_mask, x, mask_fraction)


def two_views(key: Key, xs: Float[Array, "B T C"], **options) -> tuple[Array, Array]:
    """Two independent augmentations of every sequence of a batch: ([B, T, C], [B, T, C])."""
    keys = jax.random.split(key, (2, xs.shape[0]))  # [2, B] keys
    view = jax.vmap(lambda k, x: augment(k, x, **options))
    return view(keys[0], xs), view(keys[1], xs)
