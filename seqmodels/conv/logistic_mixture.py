"""Discretised mixture of logistics (Salimans et al. 2017, PixelCNN++; the
output of Parallel WaveNet and the WaveNet vocoders of Tacotron 2).

A frame's parameters are 3M numbers: mixture logits pi [M], means mu [M] and
log scales log_s [M] (clamped below at -7). A sample x in [-1, 1] sits in one
of `num_classes` bins of half-width h = 1 / (num_classes - 1); its probability
is the mixture mass of its bin,

    P(x) = sum_m softmax(pi)_m [sigmoid((x + h - mu_m)/s_m) - sigmoid((x - h - mu_m)/s_m)]

with the edge bins open: the lowest takes all mass below -1 + h, the highest
all mass above 1 - h. `loss` is -log P(x), computed stably in log space;
`sample` draws a component, then a logistic by inverse CDF, clipped to [-1, 1].
"""

import jax
import jax.numpy as jnp

from seqmodels.array_types import Array, Float, Key

LOG_SCALE_MIN = -7.0


def split(params: Float[Array, "... P"]) -> tuple[Array, Array, Array]:
    """[..., 3M] -> (logits [..., M], means [..., M], log_scales [..., M])."""
    if params.shape[-1] % 3:
        raise ValueError(f"logistic mixture: expected [..., 3M] parameters, got shape {params.shape}")
    logits, means, log_scales = jnp.split(params, 3, axis=-1)
    return logits, means, jnp.maximum(log_scales, LOG_SCALE_MIN)


def log_prob(params: Float[Array, "... P"], x: Float[Array, "..."], num_classes: int = 65536) -> Float[Array, "..."]:
    """log P(x) of samples x in [-1, 1] under the discretised mixture."""
    logits, means, log_scales = split(params)  # [..., M] each
    x = x[..., None]  # [..., 1]
    half_bin = 1.0 / (num_classes - 1)
    centered = x - means
    inv_scale = jnp.exp(-log_scales)
    plus_in = inv_scale * (centered + half_bin)
    min_in = inv_scale * (centered - half_bin)
    log_cdf_plus = plus_in - jax.nn.softplus(plus_in)  # log sigmoid(plus_in): lowest bin
    log_one_minus_cdf_min = -jax.nn.softplus(min_in)  # log(1 - sigmoid(min_in)): highest bin
    cdf_delta = jax.nn.sigmoid(plus_in) - jax.nn.sigmoid(min_in)
    mid_in = inv_scale * centered
    # When the bin mass underflows, use the density at the centre times the bin width.
    log_pdf_mid = mid_in - log_scales - 2.0 * jax.nn.softplus(mid_in) + jnp.log(2.0 * half_bin)
    inner = jnp.where(cdf_delta > 1e-5, jnp.log(jnp.maximum(cdf_delta, 1e-12)), log_pdf_mid)
    log_probs = jnp.where(x < -1.0 + half_bin, log_cdf_plus,
                          jnp.where(x > 1.0 - half_bin, log_one_minus_cdf_min, inner))
    return jax.nn.logsumexp(log_probs + jax.nn.log_softmax(logits, axis=-1), axis=-1)


def loss(params: Float[Array, "... P"], x: Float[Array, "..."], num_classes: int = 65536) -> Float[Array, "..."]:
    """Negative log-likelihood -log P(x) (nats), one per sample."""
    return -log_prob(params, x, num_classes)


def sample(key: Key, params: Float[Array, "... P"], *, temperature: float = 1.0) -> Float[Array, "..."]:
    """One draw per frame: component m ~ softmax(pi), x = mu_m + s_m (log u - log(1 - u)).

    `temperature` scales the logistic's scale (0 gives the chosen mean).
    """
    logits, means, log_scales = split(params)
    k_component, k_u = jax.random.split(key)
    m = jax.random.categorical(k_component, logits, axis=-1)  # [...]
    mean = jnp.take_along_axis(means, m[..., None], axis=-1)[..., 0]
    scale = jnp.exp(jnp.take_along_axis(log_scales, m[..., None], axis=-1)[..., 0])
    u = jax.random.uniform(k_u, mean.shape, mean.dtype, 1e-5, 1.0 - 1e-5)
    return jnp.clip(mean + temperature * scale * (jnp.log(u) - jnp.log1p(-u)), -1.0, 1.0)
