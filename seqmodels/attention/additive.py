"""Attention for encoder-decoder RNNs: additive (Bahdanau) and Luong (dot / general).

A decoder state q_t: [Dq] scores every encoder state h_s: [Dk], the scores
become weights by a softmax over the valid s < lengths, and the context is
the weighted mean of the values (the encoder states themselves by default):

    Bahdanau et al. 2015 (additive):  e[t, s] = v . tanh(W_q q_t + W_k h_s + b)
    Luong et al. 2015, "dot":         e[t, s] = q_t . h_s                       (Dq = Dk)
    Luong et al. 2015, "general":     e[t, s] = q_t W h_s

    a[t, s] = softmax_s(e[t, s]),     c_t = sum_s a[t, s] h_s

Queries are [T, Dq] (all decoder steps at once, e.g. teacher forcing) or a
single state [Dq] (inside a decoder's scan step); keys [S, Dk]; values
[S, Dv]. `apply` returns (context, weights) so attention maps can be plotted.
"""

import jax
import jax.numpy as jnp

from seqmodels.array_types import Array, Float, Int, Key, Params
from seqmodels.attention import dot_product, masks
from seqmodels.nn import dense

LUONG_SCORES = ("dot", "general")


def _as_rows(q: Array, keys: Array, name: str) -> tuple[Array, bool]:
    if q.ndim not in (1, 2):
        raise ValueError(f"{name}: expected a query of shape [Dq] or [T, Dq], got shape {q.shape}")
    if keys.ndim != 2:
        raise ValueError(f"{name}: expected keys of shape [S, Dk], got shape {keys.shape}")
    return (q[None] if q.ndim == 1 else q), q.ndim == 1


def attend(scores: Float[Array, "T S"], values: Float[Array, "S Dv"], *,
           lengths: Int[Array, ""] | None = None,
           name: str = "attend") -> tuple[Float[Array, "T Dv"], Float[Array, "T S"]]:
    """a = softmax over the valid keys s < lengths (an int in [0, S]) of the scores (float32); context = a values."""
    S = values.shape[0]
    if scores.shape[-1] != S:
        raise ValueError(f"attend: expected scores [T, {S}] for {S} values, got shape {scores.shape}")
    valid = None if lengths is None else masks.length_mask(lengths, S, name=name)  # [S]
    weights = dot_product.masked_softmax(scores, valid)  # [T, S]; lengths == 0 gives zeros
    context = jnp.einsum("ts,sd->td", weights.astype(values.dtype), values)  # [T, Dv]
    return context, weights


# --------------------------------------------------------------------------- Bahdanau (additive)


def bahdanau_init(key: Key, query_dim: int, key_dim: int, hidden_dim: int, *, dtype=jnp.float32) -> Params:
    """Params {'query': W_q [Dq, H], 'key': W_k [Dk, H] and b [H], 'v': [H]}."""
    kq, kk, kv = jax.random.split(key, 3)
    return {
        "query": dense.init(kq, query_dim, hidden_dim, use_bias=False, dtype=dtype),
        "key": dense.init(kk, key_dim, hidden_dim, dtype=dtype),
        "v": jax.random.normal(kv, (hidden_dim,), dtype) / jnp.sqrt(hidden_dim),
    }


def bahdanau_scores(params: Params, q: Float[Array, "T Dq"], keys: Float[Array, "S Dk"]) -> Float[Array, "T S"]:
    """e[t, s] = v . tanh(W_q q_t + W_k h_s + b)."""
    hq = dense.apply(params["query"], q)  # [T, H]
    hk = dense.apply(params["key"], keys)  # [S, H]
    return jnp.tanh(hq[:, None, :] + hk[None, :, :]) @ params["v"]  # [T, S]


def bahdanau_apply(params: Params, q: Float[Array, "T Dq"], keys: Float[Array, "S Dk"],
                   values: Float[Array, "S Dv"] | None = None, *, lengths: Int[Array, ""] | None = None):
    """(context [T, Dv], weights [T, S]); a query of shape [Dq] gives ([Dv], [S]).

    Hoist `dense.apply(params['key'], keys)` out of a decoder loop if it
    matters: it does not depend on the query.
    """
    rows, single = _as_rows(q, keys, "bahdanau")
    context, weights = attend(bahdanau_scores(params, rows, keys), keys if values is None else values,
                              lengths=lengths, name="bahdanau")
    return (context[0], weights[0]) if single else (context, weights)


# --------------------------------------------------------------------------- Luong (dot / general)


def luong_init(key: Key, query_dim: int, key_dim: int, *, score: str = "general", dtype=jnp.float32) -> Params:
    """'general': {'w': [Dq, Dk]}; 'dot': {} (needs Dq == Dk)."""
    if score not in LUONG_SCORES:
        raise ValueError(f"luong: score must be one of {LUONG_SCORES}, got {score!r}")
    if score == "dot":
        if query_dim != key_dim:
            raise ValueError(f"luong 'dot' score needs query_dim == key_dim, got {query_dim} and {key_dim}")
        return {}
    return {"w": dense.init(key, query_dim, key_dim, use_bias=False, dtype=dtype)["w"]}


def luong_scores(params: Params, q: Float[Array, "T Dq"], keys: Float[Array, "S Dk"], *,
                 score: str = "general") -> Float[Array, "T S"]:
    """'dot': e = q h^T;  'general': e = q W h^T."""
    if score not in LUONG_SCORES:
        raise ValueError(f"luong: score must be one of {LUONG_SCORES}, got {score!r}")
    if score == "general":
        q = q @ params["w"]  # [T, Dk]
    if q.shape[-1] != keys.shape[-1]:
        raise ValueError(f"luong '{score}': expected keys [S, {q.shape[-1]}], got shape {keys.shape}")
    return q @ keys.T  # [T, S]


def luong_apply(params: Params, q: Float[Array, "T Dq"], keys: Float[Array, "S Dk"],
                values: Float[Array, "S Dv"] | None = None, *, score: str = "general",
                lengths: Int[Array, ""] | None = None):
    """(context [T, Dv], weights [T, S]); a query of shape [Dq] gives ([Dv], [S])."""
    rows, single = _as_rows(q, keys, "luong")
    context, weights = attend(luong_scores(params, rows, keys, score=score), keys if values is None else values,
                              lengths=lengths, name="luong")
    return (context[0], weights[0]) if single else (context, weights)


__all__ = ["attend", "bahdanau_init", "bahdanau_scores", "bahdanau_apply",
           "luong_init", "luong_scores", "luong_apply", "LUONG_SCORES"]
