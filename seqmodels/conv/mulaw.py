"""mu-law companding and quantisation (ITU-T G.711; WaveNet's 8-bit output).

    f(x) = sign(x) ln(1 + mu |x|) / ln(1 + mu),          x in [-1, 1]
    q    = floor((f(x) + 1) / 2 * mu + 1/2)               q in {0, ..., mu}
    f_q  = 2 q / mu - 1,   x_q = sign(f_q) ((1 + mu)^|f_q| - 1) / mu

mu = 255 gives mu + 1 = 256 levels (`num_classes = mu + 1`); x = 0 is level
128, x = -1 level 0, x = 1 level 255.
"""

import jax.numpy as jnp

from seqmodels.array_types import Array, Float, Int


def mu_law_encode(x: Float[Array, "..."], mu: int = 255) -> Int[Array, "..."]:
    """Amplitudes in [-1, 1] (clipped) -> integer levels in {0, ..., mu}."""
    x = jnp.clip(x, -1.0, 1.0)
    f = jnp.sign(x) * jnp.log1p(mu * jnp.abs(x)) / jnp.log1p(mu)
    return jnp.floor((f + 1.0) / 2.0 * mu + 0.5).astype(jnp.int32)


def mu_law_decode(q: Int[Array, "..."], mu: int = 255) -> Float[Array, "..."]:
    """Integer levels in {0, ..., mu} -> amplitudes in [-1, 1]."""
    f = 2.0 * q.astype(jnp.float32) / mu - 1.0
    return jnp.sign(f) * jnp.expm1(jnp.abs(f) * jnp.log1p(mu)) / mu
