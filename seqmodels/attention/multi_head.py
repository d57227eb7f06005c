"""Multi-head attention with projections, grouped-query heads, rotary positions and a KV cache.

For queries from x: [T, D] and keys/values from a context c: [S, D'] (c = x
for self-attention):

    q = x W_q + b_q    reshaped  [T, N, K]
    k = c W_k + b_k    reshaped  [S, N', K]       (N' = num_kv_heads divides N)
    v = c W_v + b_v    reshaped  [S, N', K]
    y = concat_n attention(q, k, v)_n  W_o + b_o  [T, D_out]

with `attention` from `seqmodels.attention.dot_product` (dense, or blockwise
for long sequences) unless the spec's `kind` (an `AttentionKind`) names a
long-range self-attention: a sparse pattern of `seqmodels.attention.sparse`
(local, strided, fixed, Longformer, BigBird) or the Performer's linear
attention (`seqmodels.attention.linear`). N' < N shares each key/value
head among N/N' query heads (grouped-query attention; N' = 1 is multi-query attention); the KV
cache then shrinks by N/N'. With `rotary=True`, q and k are rotated by their
positions (`positional.rotary`) in self-attention.

Padding: in self-attention `lengths` masks keys and queries alike, and the
rows t >= lengths of the output are zeros. In cross-attention `lengths`
masks the queries (rows) and `context_lengths` the keys. Both follow the rule
of `seqmodels.nn.lengths` (integers in [0, T] and [0, S]; clamped under jit).

The long-range kinds compute self-attention only, without a KV cache,
attention dropout, an extra `mask` or `return_weights` (ValueError names
what is missing); the sequence is padded internally to a multiple of the
kind's block (and stride), which never changes the valid outputs.

Static choices live in the frozen `MultiHeadAttention` spec; params are a
plain dict {'query', 'key', 'value', 'out'} of `nn.dense` params.
"""

import dataclasses
import numbers

import jax
import jax.numpy as jnp

from seqmodels.array_types import Array, Bool, Float, Int, Key, Params
from seqmodels.attention import dot_product, kv_cache, linear, masks, positional, sparse
from seqmodels.nn import dense
from seqmodels.nn.lengths import check_lengths

KINDS = ("dense", "local", "strided", "fixed", "longformer", "bigbird", "performer")


@dataclasses.dataclass(frozen=True)
class AttentionKind:
    """Which attention a self-attention layer computes, and its parameters (hashable, static).

    name         the pattern (True = query t may attend to key s; every kind is intersected with s <= t when
                 causal and with s < lengths):
                   dense       every key (`dot_product.attention`, dense or blockwise by `impl`)
                   local       |t - s| < window
                   strided     |t - s| < stride or (t - s) mod stride == 0       (Child et al. 2019)
                   fixed       same chunk of stride, or s one of the last num_summary of its chunk
                   longformer  |t - s| < window, or t or s one of the first global_tokens positions
                   bigbird     blocks of block_size: num_window_blocks around the diagonal, num_global_blocks
                               global blocks, num_random_blocks random blocks per query block
                   performer   softmax attention estimated with num_features positive random features
    block_size   the sparse kinds' blocks (BigBird's b: it is part of the pattern; for local, strided, fixed
                 and Longformer only the computation's tile, and window / stride must be a multiple of it).
                 Default: window (local, longformer), stride (strided, fixed), 64 (bigbird).
    seed         BigBird's random blocks and the Performer's features are drawn once from key(seed): the same
                 at training and evaluation, in every layer.

    A kind ignores the parameters of the others (a config may list them all).
    """

    name: str = "dense"
    window: int | None = None  # local, longformer
    stride: int | None = None  # strided, fixed: l
    num_summary: int = 1  # fixed: c
    global_tokens: int = 1  # longformer: the first n positions are global
    num_global_blocks: int = 2  # bigbird: g
    num_random_blocks: int = 3  # bigbird: r
    num_window_blocks: int = 3  # bigbird: w_b (odd)
    block_size: int | None = None  # sparse blocks (see above)
    num_features: int = 256  # performer: M
    seed: int = 0  # bigbird's random blocks, performer's features

    def __post_init__(self):
        if self.name not in KINDS:
            raise ValueError(f"AttentionKind: name must be one of {KINDS}, got {self.name!r}")
        need = {"local": ("window",), "longformer": ("window",), "strided": ("stride",), "fixed": ("stride",),
                "performer": ("num_features",), "bigbird": ("num_window_blocks",)}.get(self.name, ())
        for field in need + (("block_size",) if self.block_size is not None else ()):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
                raise ValueError(f"AttentionKind: {self.name} attention needs {field} as a positive int, "
                                 f"got {value!r}")
        for field in ("num_summary", "global_tokens", "num_global_blocks", "num_random_blocks", "seed"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
                raise ValueError(f"AttentionKind: {field} must be an int >= 0, got {value!r}")
        span = {"local": "window", "longformer": "window", "strided": "stride", "fixed": "stride"}.get(self.name)
        if span and getattr(self, span) % self.block:
            raise ValueError(f"AttentionKind: {self.name} attention needs {span}={getattr(self, span)} to be a "
                             f"multiple of block_size={self.block}")
        if self.name == "fixed" and self.num_summary > self.stride:
            raise ValueError(f"AttentionKind: fixed attention needs num_summary <= stride={self.stride}, "
                             f"got {self.num_summary}")
        if self.name == "bigbird" and self.num_window_blocks % 2 == 0:
            raise ValueError(f"AttentionKind: bigbird needs an odd num_window_blocks (the block and as many on "
                             f"each side), got {self.num_window_blocks}")

    @property
    def block(self) -> int:
        """The block size the sparse computation uses."""
        if self.block_size is not None:
            return self.block_size
        return {"local": self.window, "longformer": self.window, "strided": self.stride,
                "fixed": self.stride}.get(self.name, 64)

    def features(self, head_dim: int) -> Float[Array, "M K"]:
        """The Performer's random features W: [M, K], fixed by `seed`."""
        return linear.init_features(jax.random.key(self.seed), head_dim, self.num_features)

    def attend(self, q: Float[Array, "T N K"], k: Float[Array, "T N' K"], v: Float[Array, "T N' K"], *,
               causal: bool, lengths: Int[Array, ""] | None = None) -> Float[Array, "T N K"]:
        """Self-attention of this kind (not dense): y [T, N, K], zeros at padded rows t >= lengths."""
        T, N = q.shape[:2]
        k, v = (jnp.repeat(x, N // x.shape[1], axis=1) for x in (k, v))  # grouped heads -> [T, N, K]
        if self.name == "performer":
            return linear.performer_attention(q, k, v, self.features(q.shape[-1]), causal=causal, lengths=lengths)
        period = self.block if self.name in ("local", "longformer", "bigbird") else self.stride
        pad = -T % period  # padded keys lie beyond `lengths`: the valid outputs do not change
        if pad:
            q, k, v = (jnp.pad(x, ((0, pad), (0, 0), (0, 0))) for x in (q, k, v))
            lengths = T if lengths is None else lengths
        common = dict(causal=causal, lengths=lengths, block_size=self.block)
        if self.name == "local":
            y = sparse.local_attention(q, k, v, window=self.window, **common)
        elif self.name == "strided":
            y = sparse.strided_attention(q, k, v, stride=self.stride, **common)
        elif self.name == "fixed":
            y = sparse.fixed_attention(q, k, v, stride=self.stride, num_summary=self.num_summary, **common)
        elif self.name == "longformer":
            y = sparse.longformer_attention(q, k, v, window=self.window,
                                            global_tokens=min(self.global_tokens, T + pad), **common)
        else:
            y = sparse.bigbird_attention(q, k, v, num_global_blocks=self.num_global_blocks,
                                         num_random_blocks=self.num_random_blocks,
                                         num_window_blocks=self.num_window_blocks,
                                         key=jax.random.key(self.seed), **common)
        return y[:T]  # [T, N, K]


DENSE = AttentionKind()


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
    impl: str = "auto"  # "auto" | "dense" | "blockwise" | "cudnn" | "pallas" (see dot_product.attention)
    block_size: int = dot_product.DEFAULT_BLOCK_SIZE
    kind: AttentionKind = DENSE  # a long-range self-attention (sparse, Performer) instead of dense

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
        if self.impl not in dot_product.IMPLS:
            raise ValueError(f"MultiHeadAttention: impl must be one of {dot_product.IMPLS}, got {self.impl!r}")
        if not isinstance(self.kind, AttentionKind):
            raise ValueError(f"MultiHeadAttention: kind must be an AttentionKind, got {self.kind!r}")
        if self.kind.name != "dense" and self.drop_rate:
            raise ValueError(f"MultiHeadAttention: attention dropout (drop_rate={self.drop_rate}) exists for dense "
                             f"attention only, not {self.kind.name}; use drop_rate=0")

    def _dense_only(self, what: str) -> None:
        if self.kind.name != "dense":
            raise ValueError(f"MultiHeadAttention: {what} needs dense attention (kind 'dense'); {self.kind.name} "
                             f"attention is whole-sequence self-attention under its own pattern")

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
        if self.kind.name != "dense":
            return self._apply_kind(params, x, context, mask=mask, causal=causal, lengths=lengths,
                                    positions=positions, return_weights=return_weights, first=first)
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

    def _apply_kind(self, params, x, context, *, mask, causal, lengths, positions, return_weights, first):
        """Self-attention of a long-range kind over all T rows, then the rows first.. of the output."""
        if context is not x:
            self._dense_only("cross-attention (a context)")
        if mask is not None or return_weights:
            self._dense_only("an extra mask" if mask is not None else "return_weights")
        q, k, v = self.project(params, x, x)
        if self.rotary:
            q = positional.rotary(q, positions, base=self.rotary_base)
            k = positional.rotary(k, positions, base=self.rotary_base)
        y = self.kind.attend(q, k, v, causal=causal, lengths=lengths)  # [T, N, K]
        return self._output(params, y[first:], rows_lengths(lengths, first))

    def _output(self, params, y, lengths):
        T = y.shape[0]
        out = dense.apply(params["out"], y.reshape(T, -1))  # [T, D_out]
        return masks.zero_padding(out, lengths)  # padded rows: zeros

    # ------------------------------------------------------------------ cached decoding

    def init_cache(self, max_len: int, dtype=jnp.float32) -> Params:
        """An empty KV cache: {'k', 'v': [L, N', K], 'index': 0}."""
        self._dense_only("KV-cache decoding")
        return kv_cache.init(max_len, self.kv_heads, self.head_dim, dtype=dtype)

    def decode(self, params: Params, cache: Params, x: Float[Array, "T D"], *, key: Key | None = None,
               deterministic: bool = False) -> tuple[Params, Float[Array, "T D"]]:
        """Causal self-attention for T new positions given the cached past; returns (cache, y: [T, out_dim]).

        Feeding a sequence in pieces (token by token, or a prompt then
        tokens) gives the same outputs as `apply(..., causal=True)` on the
        whole sequence. Dropout as in `apply` (with drop_rate > 0, pass
        deterministic=True to decode for inference).
        """
        self._dense_only("KV-cache decoding")
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
        self._dense_only("cross-attention (context_kv)")
        _, k, v = self.project(params, context[:0], context)
        return {"k": k, "v": v}

    def attend(self, params: Params, x: Float[Array, "T D"], kv: Params, *,
               context_lengths: Int[Array, ""] | None = None) -> Float[Array, "T D"]:
        """Cross-attention (deterministic) of x: [T, D] to a context given as `context_kv(params, context)`:
        the same y as `apply(params, x, context, context_lengths=...)`."""
        self._dense_only("cross-attention (attend)")
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


__all__ = ["KINDS", "AttentionKind", "MultiHeadAttention", "check_last", "rows_lengths"]
