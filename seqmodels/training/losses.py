"""Losses and metrics with masks, for batches of padded sequences.

Every function takes model outputs and targets with any leading shape
(`[B, T]`, `[T]`, `[B]`, ...) and an optional `mask` of that leading shape
(True / 1 where the position is real, False / 0 where it is padding, see
`mask_from_lengths`). Padded positions contribute nothing, and an all-padding
input gives 0 rather than NaN. All reductions are done in float32.

With m the mask, l the per-position loss and n = sum(m):

    cross_entropy(per="token")      = sum(m * l) / n                 (nats per token)
    cross_entropy(per="sequence")   = sum(m * l) / (number of sequences)
    mean_squared_error              = sum(m * (y - t)^2) / (n * C)   (mean over valid entries)
    bernoulli_nll                   = sum(m * sum_keys bce) / n      (summed over keys, mean over frames)
    accuracy                        = sum(m * [argmax y == t]) / n
    perplexity(ce)                  = exp(ce)
    bits_per_character(ce)          = ce / ln 2
    cluster_purity(y, k)            = (1 / N) sum_k max_c |{i: k_i = k, y_i = c}|   (no mask)

"Number of sequences" is the product of all axes of `labels` but the last
(time) one: 1 for a single `[T]` example, B for `[B, T]`.
"""

import math

import jax
import jax.numpy as jnp

from seqmodels.array_types import Array, Float, Int

__all__ = [
    "mask_from_lengths", "masked_mean", "cross_entropy", "mean_squared_error",
    "bernoulli_nll", "accuracy", "perplexity", "bits_per_character", "cluster_purity",
]

CROSS_ENTROPY_PER = ("token", "sequence")


def mask_from_lengths(lengths: Int[Array, "B"], max_len: int) -> Array:
    """Right-padding mask: mask[b, t] = t < lengths[b]; `[B, T]` bool (or `[T]` for a scalar length)."""
    lengths = jnp.asarray(lengths)
    return jnp.arange(max_len) < lengths[..., None]  # [B, T]


def _check_mask(mask, shape: tuple[int, ...], what: str) -> Array:
    if mask is None:
        return jnp.ones(shape, jnp.float32)
    mask = jnp.asarray(mask)
    if mask.shape != shape:
        raise ValueError(f"{what}: expected mask of shape {shape} (the leading shape of the targets), "
                         f"got {mask.shape}")
    return mask.astype(jnp.float32)


def masked_mean(values: Array, mask=None) -> Float[Array, ""]:
    """sum(mask * values) / max(sum(mask), 1) with `mask` of the same shape as `values`."""
    values = jnp.asarray(values, jnp.float32)
    mask = _check_mask(mask, values.shape, "masked_mean")
    return jnp.sum(values * mask) / jnp.maximum(jnp.sum(mask), 1.0)


def cross_entropy(logits: Float[Array, "... V"], labels: Int[Array, "..."], mask=None, *,
                  per: str = "token") -> Float[Array, ""]:
    """Softmax cross-entropy with integer labels, in nats.

    l = logsumexp(logits) - logits[label]. `per="token"` averages over valid
    tokens; `per="sequence"` sums over time (the last axis of `labels`) and
    averages over sequences (the usual "NLL per sequence").
    """
    if per not in CROSS_ENTROPY_PER:
        raise ValueError(f"cross_entropy: per must be one of {CROSS_ENTROPY_PER}, got {per!r}")
    if logits.shape[:-1] != labels.shape:
        raise ValueError(f"cross_entropy: expected labels of shape {logits.shape[:-1]} (logits {logits.shape} "
                         f"without the class axis), got {labels.shape}")
    if not jnp.issubdtype(labels.dtype, jnp.integer):
        raise ValueError(f"cross_entropy: expected integer labels, got dtype {labels.dtype}")
    mask = _check_mask(mask, labels.shape, "cross_entropy")
    logits = logits.astype(jnp.float32)
    label_logits = jnp.take_along_axis(logits, labels[..., None], axis=-1)[..., 0]  # [...]
    token_loss = jax.nn.logsumexp(logits, axis=-1) - label_logits  # [...]
    total = jnp.sum(token_loss * mask)
    if per == "token":
        return total / jnp.maximum(jnp.sum(mask), 1.0)
    if labels.ndim == 0:
        raise ValueError("cross_entropy(per='sequence'): labels need a time axis, got a scalar")
    num_sequences = math.prod(labels.shape[:-1])
    return total / num_sequences


def mean_squared_error(predictions: Float[Array, "... C"], targets: Float[Array, "... C"], mask=None
                       ) -> Float[Array, ""]:
    """Mean of (y - t)^2 over valid positions and all feature entries.

    `mask` has the shape of `predictions` without the last (feature) axis.
    """
    if predictions.shape != targets.shape:
        raise ValueError(f"mean_squared_error: expected targets of shape {predictions.shape}, got {targets.shape}")
    if predictions.ndim == 0:
        raise ValueError("mean_squared_error: expected predictions [..., C] with a feature axis, got a scalar")
    mask = _check_mask(mask, predictions.shape[:-1], "mean_squared_error")
    error = jnp.square(predictions.astype(jnp.float32) - targets.astype(jnp.float32))  # [..., C]
    per_position = jnp.sum(error, axis=-1)  # [...]
    count = jnp.sum(mask) * predictions.shape[-1]
    return jnp.sum(per_position * mask) / jnp.maximum(count, 1.0)


def bernoulli_nll(logits: Float[Array, "... C"], targets: Float[Array, "... C"], mask=None
                  ) -> Float[Array, ""]:
    """Negative log-likelihood of binary targets (piano-roll keys), summed over keys, mean over frames.

    With p = sigmoid(z): -[t log p + (1 - t) log(1 - p)] = softplus(z) - t z
    (the stable form), summed over the last axis (C keys, 88 for a piano roll).
    """
    if logits.shape != targets.shape:
        raise ValueError(f"bernoulli_nll: expected targets of shape {logits.shape}, got {targets.shape}")
    if logits.ndim == 0:
        raise ValueError("bernoulli_nll: expected logits [..., C] with a key axis, got a scalar")
    mask = _check_mask(mask, logits.shape[:-1], "bernoulli_nll")
    z = logits.astype(jnp.float32)
    t = targets.astype(jnp.float32)
    per_frame = jnp.sum(jax.nn.softplus(z) - t * z, axis=-1)  # [...]
    return jnp.sum(per_frame * mask) / jnp.maximum(jnp.sum(mask), 1.0)


def accuracy(logits: Float[Array, "... V"], labels: Int[Array, "..."], mask=None) -> Float[Array, ""]:
    """Fraction of valid positions where argmax(logits) == label."""
    if logits.shape[:-1] != labels.shape:
        raise ValueError(f"accuracy: expected labels of shape {logits.shape[:-1]}, got {labels.shape}")
    mask = _check_mask(mask, labels.shape, "accuracy")
    correct = (jnp.argmax(logits, axis=-1) == labels).astype(jnp.float32)  # [...]
    return jnp.sum(correct * mask) / jnp.maximum(jnp.sum(mask), 1.0)


def perplexity(mean_cross_entropy: Array) -> Array:
    """exp(cross-entropy per token in nats)."""
    return jnp.exp(mean_cross_entropy)


def bits_per_character(mean_cross_entropy: Array) -> Array:
    """Cross-entropy per character in nats, converted to bits: ce / ln 2."""
    return mean_cross_entropy / math.log(2.0)


def cluster_purity(labels_true: Int[Array, "N"], labels_pred: Int[Array, "N"]) -> Float[Array, ""]:
    """Each cluster votes for its most frequent class: the fraction of the N points in their cluster's class.
    1 for clusters that never mix classes, 1 / C for C balanced classes in clusters blind to them; any ints."""
    labels_true, labels_pred = jnp.asarray(labels_true), jnp.asarray(labels_pred)
    if labels_true.ndim != 1 or labels_true.shape != labels_pred.shape or not labels_true.size:
        raise ValueError(f"cluster_purity: expected two label vectors of one length N >= 1, got shapes "
                         f"{labels_true.shape} and {labels_pred.shape}")
    _, classes = jnp.unique(labels_true, return_inverse=True)  # relabel 0..C-1 (host: data-dependent size)
    _, clusters = jnp.unique(labels_pred, return_inverse=True)
    clusters, classes = clusters.ravel(), classes.ravel()
    counts = jax.nn.one_hot(clusters, clusters.max() + 1).T @ jax.nn.one_hot(classes, classes.max() + 1)
    return jnp.sum(jnp.max(counts, axis=1)) / labels_true.size  # counts: [K clusters, C classes]
