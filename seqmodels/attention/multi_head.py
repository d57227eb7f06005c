"""Multi-head attention with projections, grouped-query heads, rotary positions and a KV cache.

For queries from x: [T, D] and keys/values from a context c: [S, D'] (c = x
for self-attention):

    q = x W_q + b_q    reshaped  [T, N, K]
    k = c W_k + b_k    reshaped  [S, N', K]       (N' = num_kv_heads divides N)
    v = c W_v + b_v    reshaped  [S, N', K]
    y = concat_n attention(q, k, v)_n  W_o + b_o  [T, D_out]

with `attention` from `seqmodels.attention.dot_product` (dense, or blockwise
for long sequences). N' < N shares each key/value head among N/N' query
heads (grouped-query attention; N' = 1 is multi-query attention); the KV
cache then shrinks by N/N'. With `rotary=True`, q and k are rotated by their
positions (`positional.rotary`) in self-attention.

Padding: in self-attention `lengths` masks keys and queries alike, and the
rows t >= lengths of the output are zeros. In cross-attention `lengths`
masks the queries (rows) and `context_lengths` the keys. Both follow the rule
of `seqmodels.nn.lengths` (integers in [0, T] and [0, S]; clamped under jit).

Static choices live in the frozen `MultiHeadAttention` spec; params are a
plain dict {'query', 'key', 'value', 'out'} of `nn.dense` params.
"""

import dataclasses
import numbers

import jax
import jax.numpy as jnp

from seqmodels.array_types import Array, Bool, Float, Int, Key, Params
from seqmodels.attention import dot_product, kv_cache, masks, positional
from seqmodels.nn import dense
from seqmodels.nn.lengths import check_lengths


@dataclasses.dataclass(frozen=True)
class MultiHeadAttention:
    """Spec of a multi-head attention layer (hashable: safe as a static jit argument)."""

    num_heads: int  # N query heads
    head_dim: int  # K
    num_kv_heads: int | None = None  # N' key/value heads; None = num_heads
    use_bias: bool = True
    drop_rate: float = 0.0  # dropout on the attention weights (training only)
    rotary: bool = False  # rotary position embedding on q and k (self-attention)
    rotary_base: float = 10000.0
    impl: str = "auto"  # "auto" | "dense" | "blockwise" (see dot_product.attention)
    block_size: int = dot_product.DEFAULT_BLOCK_SIZE

    def __post_init__(self):
        for name in ("num_heads", "head_dim", "num_kv_heads", "block_size"):
            value = getattr(self, name)
            if name == "num_kv_heads" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
                raise ValueError(f"MultiHeadAttention: {name} must be a positive int"
                                 f"{' or None' if name == 'num_kv_heads' else ''}, got {value!r}")
        if not 0.0 <= self.drop_rate < 1.0:
            raise ValueError(f"MultiHeadAttention: drop_rate must be in [0, 1), got {self.drop_rate}")
        if self.num_heads % self.kv_heads:
            raise ValueError(f"MultiHeadAttention: num_heads={self.num_heads} must be a multiple of "
                             f"num_kv_heads={self.kv_heads}")
        if self.rotary and self.head_dim % 2:
            raise ValueError(f"MultiHeadAttention: rotary needs an even head_dim, got {self.head_dim}")
        if self.impl not in ("auto", "dense", "blockwise"):
            raise ValueError(f"MultiHeadAttention: impl must be 'auto', 'dense' or 'blockwise', got {self.impl!r}")

    @property
    def kv_heads(self) -> int:
        return self.num_heads if self.num_kv_heads is None else self.num_kv_heads

    # ------------------------------------------------------------------ params

    def init(self, key: Key, d_model: int, *, kv_dim: int | None = None, out_dim: int | None = None,
             dtype=jnp.float32) -> Params:
        """Params for queries from [T, d_model], keys/values from [S, kv_dim], output [T, out_dim]."""
        kv_dim = d_model if kv_dim is None else kv_dim
        out_dim = d_model if out_dim is None else out_dim
        N, Nkv, K = self.num_heads, self.kv_heads, self.head_dim
        kq, kk, kv, ko = jax.random.split(key, 4)
        return {
            "query": dense.init(kq, d_model, N * K, use_bias=self.use_bias, dtype=dtype),
            "key": dense.init(kk, kv_dim, Nkv * K, use_bias=self.use_bias, dtype=dtype),
            "value": dense.init(kv, kv_dim, Nkv * K, use_bias=self.use_bias, dtype=dtype),
            "out": dense.init(ko, N * K, out_dim, use_bias=self.use_bias, dtype=dtype),
        }

    def project(self, params: Params, x: Float[Array, "T D"], context: Float[Array, "S D"]):
        """q: [T, N, K], k: [S, N', K], v: [S, N', K] (no positions applied)."""
        _check_rank2(x, "x")
        _check_rank2(context, "context")
        T, S = x.shape[0], context.shape[0]
        N, Nkv, K = self.num_heads, self.kv_heads, self.head_dim
        q = dense.apply(params["query"], x).reshape(T, N, K)  # [T, N, K]
        k = dense.apply(params["key"], context).reshape(S, Nkv, K)  # [S, N', K]
        v = dense.apply(params["value"], context).reshape(S, Nkv, K)  # [S, N', K]
        return q, k, v

    # ------------------------------------------------------------------ full sequence

    def apply(self, params: Params, x: Float[Array, "T D"], context: Float[Array, "S D"] | None = None, *,
              mask: Bool[Array, "..."] | None = None, causal: bool = False,
              lengths: Int[Array, ""] | None = None, context_lengths: Int[Array, ""] | None = None,
              positions: Int[Array, "T"] | None = None, key: Key | None = None,
              deterministic: bool = False, return_weights: bool = False, last: int | None = None):
        """Self-attention (context None) or cross-attention; y: [T, out_dim].

        With `return_weights` (dense path) returns (y, A) with A: [N, T, S].

        `last` (self-attention only): compute just the last `last` rows, y: [last, out_dim] (and A:
        [N, last, T]), equal to `apply(...)[-last:]`; every position still gives keys and values. For a
        read-out at the end of a sequence (a regression or a classifier on the last step) this skips the
        other T - last queries: the last layer's attention costs last/T of the full one. (With causal=True
        the rows are masked by an explicit [last, T] mask, so the blockwise path visits every tile: meant
        for small `last`.)
        """
        self_attention = context is None
        context = x if self_attention else context
        _check_rank2(x, "x")
        _check_rank2(context, "context")
        lengths = check_lengths(lengths, x.shape[0], "MultiHeadAttention")
        context_lengths = check_lengths(context_lengths, context.shape[0], "MultiHeadAttention",
                                        arg="context_lengths")
        if not self_attention and causal:
            masks.check_causal(x.shape[0], context.shape[0], name="MultiHeadAttention")
        T = x.shape[0]
        if last is not None:
            if not self_attention:
                raise ValueError("MultiHeadAttention: last= applies to self-attention (context=None); in "
                                 "cross-attention pass the query rows x[-last:] instead")
            check_last(last, T, name="MultiHeadAttention")
        first = 0 if last is None else T - int(last)  # position of the first query computed
        q, k, v = self.project(params, x[first:], context)
        if self.rotary and self_attention:
            q_positions = positions
            if first:  # the queries sit at positions[first:]
                if positions is None or isinstance(positions, int):  # an int P means 0..P-1, as in rotary
                    positions = jnp.arange(T if positions is None else positions)
                positions = jnp.asarray(positions)
                if positions.shape != (T,):
                    raise ValueError(f"MultiHeadAttention: expected positions of shape [T] = [{T}], got shape "
                                     f"{positions.shape}")
                q_positions = positions[first:]
            q = positional.rotary(q, q_positions, base=self.rotary_base)
            k = positional.rotary(k, positions, base=self.rotary_base)
        key_lengths = lengths if self_attention else context_lengths
        query_lengths = rows_lengths(lengths, first)
        if first:
            masks.check_mask(mask, self.num_heads, T, T, name="MultiHeadAttention")
            if mask is not None and mask.ndim >= 2 and mask.shape[-2] == T:
                mask = mask[..., first:, :]  # the rows of the queries computed
            if causal:
                mask = masks.combine(mask, masks.causal_mask(last, T, offset=first))
                causal = False
        common = dict(mask=mask, causal=causal, lengths=key_lengths, query_lengths=query_lengths)
        if return_weights:
            y, weights = dot_product.dot_product_attention(
                q, k, v, **common, drop_rate=self.drop_rate, key=key, deterministic=deterministic,
                return_weights=True)
        else:
            y = dot_product.attention(q, k, v, **common, drop_rate=self.drop_rate, key=key,
                                      deterministic=deterministic, impl=self.impl, block_size=self.block_size)
        out = self._output(params, y, query_lengths)
        return (out, weights) if return_weights else out

    def _output(self, params, y, lengths):
        T = y.shape[0]
        out = dense.apply(params["out"], y.reshape(T, -1))  # [T, D_out]
        return masks.zero_padding(out, lengths)  # padded rows: zeros

    # ------------------------------------------------------------------ cached decoding

    def init_cache(self, max_len: int, dtype=jnp.float32) -> Params:
        """An empty KV cache: {'k', 'v': [L, N', K], 'index': 0}."""
        return kv_cache.init(max_len, self.kv_heads, self.head_dim, dtype=dtype)

    def decode(self, params: Params, cache: Params, x: Float[Array, "T D"], *, key: Key | None = None,
               deterministic: bool = False) -> tuple[Params, Float[Array, "T D"]]:
        """Causal self-attention for T new positions given the cached past; returns (cache, y: [T, out_dim]).

        Feeding a sequence in pieces (token by token, or a prompt then
        tokens) gives the same outputs as `apply(..., causal=True)` on the
        whole sequence. Dropout as in `apply` (with drop_rate > 0, pass
        deterministic=True to decode for inference).
        """
        T = x.shape[0]
        q, k, v = self.project(params, x, x)
        if self.rotary:
            positions = cache["index"] + jnp.arange(T)  # [T]
            q = positional.rotary(q, positions, base=self.rotary_base)
            k = positional.rotary(k, positions, base=self.rotary_base)
        cache = kv_cache.update(cache, k, v)
        y = dot_product.dot_product_attention(q, cache["k"], cache["v"], mask=kv_cache.mask(cache, T),
                                              drop_rate=self.drop_rate, key=key,
                                              deterministic=deterministic)  # [T, N, K]
        return cache, self._output(params, y, None)

    def context_kv(self, params: Params, context: Float[Array, "S D"]) -> Params:
        """Keys and values of a cross-attention context, projected once: {'k', 'v': [S, N', K]}.

        For decoding: `attend` reuses them at every step instead of projecting the whole context again.
        """
        _, k, v = self.project(params, context[:0], context)
        return {"k": k, "v": v}

    def attend(self, params: Params, x: Float[Array, "T D"], kv: Params, *,
               context_lengths: Int[Array, ""] | None = None) -> Float[Array, "T D"]:
        """Cross-attention (deterministic) of x: [T, D] to a context given as `context_kv(params, context)`:
        the same y as `apply(params, x, context, context_lengths=...)`."""
        if x.ndim != 2:
            raise ValueError(f"MultiHeadAttention: expected x of shape [T, D] (one example; vmap over the batch), "
                             f"got shape {x.shape}")
        context_lengths = check_lengths(context_lengths, kv["k"].shape[0], "MultiHeadAttention.attend",
                                        arg="context_lengths")
        q = dense.apply(params["query"], x).reshape(x.shape[0], self.num_heads, self.head_dim)  # [T, N, K]
        y = dot_product.attention(q, kv["k"], kv["v"], lengths=context_lengths, deterministic=True,
                                  impl=self.impl, block_size=self.block_size)
        return self._output(params, y, None)


def _check_rank2(arr, what: str) -> None:
    if arr.ndim != 2:
        raise ValueError(f"MultiHeadAttention: expected {what} of shape [T, D] (one example; vmap over the "
                         f"batch), got shape {arr.shape}")


def check_last(last, T: int, *, name: str) -> None:
    """`last` (the number of final positions to compute) must be an integer (not traced) in 1..T."""
    if isinstance(last, bool) or not isinstance(last, numbers.Integral) or not 1 <= last <= T:
        raise ValueError(f"{name}: last must be an int in 1..T={T} (the number of final positions to "
                         f"compute), got {last!r}")


def rows_lengths(lengths: Int[Array, ""] | None, first: int) -> Int[Array, ""] | None:
    """The valid length counted from row `first` on (0 when lengths <= first; unsigned types included)."""
    if lengths is None or not first:
        return lengths
    return jnp.maximum(lengths, first) - first


__all__ = ["MultiHeadAttention", "check_last", "rows_lengths"]
