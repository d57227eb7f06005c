"""Positional encodings: sinusoidal, learned, and rotary.

Sinusoidal (Vaswani et al. 2017), the lecture's form: every channel d is
one sinusoid of the position t,

    p[t, d] = sin(w_d t + phi_d),    w_d = base^(-2 floor(d/2) / D),    phi_d = 0 (d even), pi/2 (d odd)

so even channels are sin(w t) and odd channels cos(w t). Added to the input
embeddings ([T, D] + [T, D]).

Learned: a trainable table P: [L, D] (L = the longest position), p[t] = P[t].

Rotary (Su et al. 2021, RoFormer): rotate each consecutive pair of a query
or key head vector by an angle proportional to its position,

    [x'_2i, x'_2i+1] = [[cos a, -sin a], [sin a, cos a]] [x_2i, x_2i+1],    a = t base^(-2i/K)

so q'_t . k'_s depends on t - s only. Applied to q and k ([T, N, K]) inside
attention, not to the embeddings.
"""

import jax
import jax.numpy as jnp

from seqmodels.array_types import Array, Float, Int, Key, Params


def _positions(positions: int | Int[Array, "T"]) -> Array:
    """An int T means positions 0..T-1; an int array [T] is used as is."""
    if isinstance(positions, int):
        if positions <= 0:
            raise ValueError(f"positional encoding: expected a positive length, got {positions}")
        return jnp.arange(positions)
    positions = jnp.asarray(positions)
    if positions.ndim != 1:
        raise ValueError(f"positional encoding: expected positions of shape [T], got shape {positions.shape}")
    return positions


# --------------------------------------------------------------------------- sinusoidal


def sinusoidal(positions: int | Int[Array, "T"], dim: int, *, base: float = 10000.0,
               dtype=jnp.float32) -> Float[Array, "T D"]:
    """p[t, d] = sin(w_d t + phi_d) for t in `positions` (an int T means 0..T-1)."""
    if dim <= 0:
        raise ValueError(f"sinusoidal: expected a positive dim, got {dim}")
    t = _positions(positions).astype(jnp.float32)[:, None]  # [T, 1]
    d = jnp.arange(dim)
    w = base ** (-2.0 * (d // 2) / dim)  # [D]
    phi = jnp.where(d % 2 == 0, 0.0, jnp.pi / 2)  # [D]
    return jnp.sin(w * t + phi).astype(dtype)  # [T, D]


# --------------------------------------------------------------------------- learned


def learned_init(key: Key, max_len: int, dim: int, *, stddev: float = 0.02, dtype=jnp.float32) -> Params:
    """Params {'table': [L, D]} drawn from N(0, stddev^2) (BERT/GPT-2 use 0.02)."""
    if max_len <= 0 or dim <= 0:
        raise ValueError(f"learned positions: sizes must be positive, got max_len={max_len}, dim={dim}")
    return {"table": stddev * jax.random.normal(key, (max_len, dim), dtype)}


def learned(params: Params, positions: int | Int[Array, "T"]) -> Float[Array, "T D"]:
    """p[t] = table[t]. A static length beyond the table raises ValueError."""
    max_len = params["table"].shape[0]
    if isinstance(positions, int) and positions > max_len:
        raise ValueError(f"learned positions: the table holds {max_len} positions, got a sequence of {positions}")
    return jnp.take(params["table"], _positions(positions), axis=0)  # [T, D]


# --------------------------------------------------------------------------- rotary


def rotary(x: Float[Array, "T N K"], positions: int | Int[Array, "T"] | None = None, *,
           base: float = 10000.0) -> Float[Array, "T N K"]:
    """Rotate pairs (x_2i, x_2i+1) of every head by angle t base^(-2i/K); positions default to 0..T-1."""
    if x.ndim != 3:
        raise ValueError(f"rotary: expected x of shape [T, N, K], got shape {x.shape}")
    T, _, K = x.shape
    if K % 2:
        raise ValueError(f"rotary: the head dim must be even (pairs are rotated), got K={K}")
    t = _positions(T if positions is None else positions)
    if t.shape[0] != T:
        raise ValueError(f"rotary: expected positions of shape [{T}], got shape {t.shape}")
    freq = base ** (-2.0 * jnp.arange(K // 2) / K)  # [K/2]
    angle = t.astype(jnp.float32)[:, None] * freq  # [T, K/2]
    cos = jnp.cos(angle)[:, None, :]  # [T, 1, K/2]
    sin = jnp.sin(angle)[:, None, :]  # [T, 1, K/2]
    pairs = x.astype(jnp.float32).reshape(*x.shape[:-1], K // 2, 2)  # [T, N, K/2, 2]
    even, odd = pairs[..., 0], pairs[..., 1]  # [T, N, K/2]
    rotated = jnp.stack([even * cos - odd * sin, even * sin + odd * cos], axis=-1)  # [T, N, K/2, 2]
    return rotated.reshape(x.shape).astype(x.dtype)  # [T, N, K]


__all__ = ["sinusoidal", "learned_init", "learned", "rotary"]
