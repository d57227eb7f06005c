"""Token embedding with positions, the input layer of the Transformer language models.

    x_t = sqrt(D) E[id_t] + p_t          E: [V, D] ~ N(0, 1/D)  (Vaswani et al.'s scaling, the default)
    x_t = E[id_t] + p_t                  scale=False, e.g. with stddev=0.02 (GPT-2 / nanoGPT)

p_t is `positional.sinusoidal` (no parameters), a learned table [max_len, D]
(`positional.learned`), or nothing ("none", e.g. with rotary attention,
which puts positions into q and k instead). An output layer can share E
(`nn.embedding.attend`: logits = x E^T).
"""

import math

import jax
import jax.numpy as jnp

from seqmodels.array_types import Array, Float, Int, Key, Params
from seqmodels.attention import positional
from seqmodels.nn import dense, embedding

POSITIONALS = ("sinusoidal", "learned", "none")  # rotary lives in the attention spec (it acts on q, k)


def init(key: Key, vocab_size: int, d_model: int, *, max_len: int, positional_kind: str,
         stddev: float | None = None, dtype=jnp.float32) -> Params:
    """{'tokens': E [V, D] ~ N(0, stddev^2), stddev = 1/sqrt(D) if None} plus {'positions': [max_len, D]
    ~ N(0, 0.02^2)} when positional_kind='learned'."""
    if positional_kind not in POSITIONALS:
        raise ValueError(f"positional must be one of {POSITIONALS}, got {positional_kind!r}")
    ke, kp = jax.random.split(key)
    params = {"tokens": embedding.init(ke, vocab_size, d_model, stddev=d_model ** -0.5 if stddev is None else stddev,
                                          dtype=dtype)}
    if positional_kind == "learned":
        params["positions"] = positional.learned_init(kp, max_len, d_model, dtype=dtype)
    return params


def apply(params: Params, ids: Int[Array, "T"], positions: Int[Array, "T"], *, positional_kind: str,
          max_len: int, scale: bool = True) -> Float[Array, "T D"]:
    """x_t = sqrt(D) E[id_t] + p_t (E[id_t] + p_t if not `scale`) at the given positions (0..T-1, or the
    cache index on when decoding)."""
    if ids.ndim != 1:
        raise ValueError(f"expected token ids of shape [T] (one example; vmap over the batch), got {ids.shape}")
    if ids.shape[0] > max_len:
        raise ValueError(f"sequence of {ids.shape[0]} tokens is longer than max_len={max_len}")
    x = embedding.apply(params["tokens"], ids)  # [T, D]
    if scale:
        x = x * math.sqrt(x.shape[-1])
    if positional_kind == "sinusoidal":
        x = x + positional.sinusoidal(positions, x.shape[-1], dtype=x.dtype)
    elif positional_kind == "learned":
        x = x + positional.learned(params["positions"], positions)
    return x


def logits(params: Params, x: Float[Array, "T D"], head: Params | None = None) -> Float[Array, "T V"]:
    """The output layer over the vocabulary: tied to the embedding (x E^T) when `head` is None, else the dense
    `head` (its own weights and bias)."""
    if head is None:
        return embedding.attend(params["tokens"], x)  # [T, V]
    return dense.apply(head, x)  # [T, V]


__all__ = ["POSITIONALS", "init", "apply", "logits"]
