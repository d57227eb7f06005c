"""Transformer blocks and stacks (encoder, decoder, and decoder with cross-attention), with KV-cache decoding.

One block (Vaswani et al. 2017), on x: [T, D]:

    pre-norm  (GPT-2, most modern models):        post-norm (the original paper, BERT):
      x = x + Drop(SelfAttn(Norm(x)))               x = Norm(x + Drop(SelfAttn(x)))
      x = x + Drop(CrossAttn(Norm(x), m))           x = Norm(x + Drop(CrossAttn(x, m)))
      x = x + Drop(MLP(Norm(x)))                    x = Norm(x + Drop(MLP(x)))

    MLP(x) = act(x W_1 + b_1) W_2 + b_2             W_1: [D, F], W_2: [F, D]

The cross-attention sublayer exists only in the decoder of an
encoder-decoder (`cross_attention=True`; m: [S, D] is the encoder output).
Decoder self-attention is causal. A pre-norm stack ends with a final norm.

Padding: `lengths` masks padded keys and zeroes padded rows after every
sublayer, so padded frames never reach valid ones; `memory_lengths` masks
the padded encoder frames in cross-attention. An extra boolean `mask`
([T, T], True = attend) restricts dense self-attention further.

Long-range self-attention: `attn_kind` (a `multi_head.AttentionKind`) picks
dense (the default; `attn_impl` dense or blockwise), local, strided, fixed,
Longformer, BigBird or Performer attention, e.g.
`Block(64, 4, 256, attn_kind=AttentionKind("local", window=128))`; each
equals the dense block under the pattern's mask (tested). Cross-attention
stays dense; KV-cache decoding needs dense self-attention.

Incremental decoding: `init_cache` + `decode` run the causal stack on new
tokens only, keeping each layer's keys and values in a KV cache; decoding a
sequence token by token gives the same outputs as `apply` on the whole of
it (tested). `memory_kv` projects the cross-attention keys and values of an
encoder output once, for `decode(..., memory_kv=)` at every step.

Dropout (`drop_rate` on each residual branch, `attn_drop_rate` on the
attention weights) follows `seqmodels.nn.dropout`'s rule: it runs unless
`deterministic`, and then needs a `key`.

The models built on these stacks have their own files:
`models.language_model` (decoder-only LM), `models.encoder_decoder`
(sequence to sequence). Each spec is a frozen dataclass (static, hashable)
with `init` / `apply`; params are nested dicts of arrays.
"""

import dataclasses

import jax
import jax.numpy as jnp

from seqmodels.array_types import Array, Bool, Float, Int, Key, Params
from seqmodels.attention import dot_product, masks
from seqmodels.attention.multi_head import DENSE, AttentionKind, MultiHeadAttention, check_last, rows_lengths
from seqmodels.nn import activations, dense, dropout, norms

NORMS = ("pre", "post")
NORM_TYPES = ("layer", "rms")


# --------------------------------------------------------------------------- one block


@dataclasses.dataclass(frozen=True)
class Block:
    """One encoder block, or a decoder block (causal=True, with cross_attention in an encoder-decoder)."""

    d_model: int  # D
    num_heads: int  # N
    d_ff: int  # F, the MLP hidden width
    head_dim: int | None = None  # K; None = D / N
    num_kv_heads: int | None = None  # grouped-query attention; None = N
    causal: bool = False  # causal self-attention (decoder)
    cross_attention: bool = False  # attend to an encoder output (encoder-decoder decoder)
    norm: str = "pre"  # "pre" | "post"
    norm_type: str = "layer"  # "layer" | "rms"
    activation: str = "gelu"
    drop_rate: float = 0.0  # dropout on each residual branch
    attn_drop_rate: float = 0.0  # dropout on attention weights
    rotary: bool = False  # rotary positions in self-attention
    attn_impl: str = "auto"  # "auto" | "dense" | "blockwise"
    block_size: int = dot_product.DEFAULT_BLOCK_SIZE
    attn_kind: AttentionKind = DENSE  # self-attention: dense | local | strided | ... | performer
    norm_eps: float = 1e-6

    def __post_init__(self):
        if self.norm not in NORMS:
            raise ValueError(f"Block: norm must be one of {NORMS}, got {self.norm!r}")
        if self.norm_type not in NORM_TYPES:
            raise ValueError(f"Block: norm_type must be one of {NORM_TYPES}, got {self.norm_type!r}")
        if self.head_dim is None and self.d_model % self.num_heads:
            raise ValueError(f"Block: d_model={self.d_model} is not divisible by num_heads={self.num_heads}; "
                             f"pass head_dim explicitly")
        activations.get(self.activation)
        if self.attn_kind != DENSE:
            _ = self.attention  # MultiHeadAttention checks the kind against the other fields (dropout)

    @property
    def attention(self) -> MultiHeadAttention:
        return MultiHeadAttention(
            num_heads=self.num_heads, head_dim=self.head_dim or self.d_model // self.num_heads,
            num_kv_heads=self.num_kv_heads, drop_rate=self.attn_drop_rate, rotary=self.rotary,
            impl=self.attn_impl, block_size=self.block_size, kind=self.attn_kind)

    @property
    def cross(self) -> MultiHeadAttention:
        return dataclasses.replace(self.attention, rotary=False, kind=DENSE)

    def _norm_init(self, dtype):
        if self.norm_type == "layer":
            return norms.layer_norm_init(self.d_model, dtype=dtype)
        return norms.rms_norm_init(self.d_model, dtype=dtype)

    def _norm(self, params, x):
        fn = norms.layer_norm if self.norm_type == "layer" else norms.rms_norm
        return fn(params, x, eps=self.norm_eps)

    def init(self, key: Key, *, dtype=jnp.float32) -> Params:
        ka, kc, k1, k2 = jax.random.split(key, 4)
        D = self.d_model
        params = {
            "attn": self.attention.init(ka, D, dtype=dtype),
            "attn_norm": self._norm_init(dtype),
            "mlp": {"in": dense.init(k1, D, self.d_ff, dtype=dtype), "out": dense.init(k2, self.d_ff, D, dtype=dtype)},
            "mlp_norm": self._norm_init(dtype),
        }
        if self.cross_attention:
            params["cross"] = self.cross.init(kc, D, dtype=dtype)
            params["cross_norm"] = self._norm_init(dtype)
        return params

    def _sublayer(self, norm_params, x, branch, *, key, deterministic, last=None):
        """Residual connection around `branch`, pre- or post-norm, with dropout on the branch; with `last`,
        branch returns only the last `last` rows, and so does this."""
        res = x if last is None else x[x.shape[0] - last:]
        drop = dict(key=key, deterministic=deterministic, name="Block")
        if self.norm == "pre":
            return res + dropout.apply(branch(self._norm(norm_params, x)), self.drop_rate, **drop)
        return self._norm(norm_params, res + dropout.apply(branch(x), self.drop_rate, **drop))

    def _mlp(self, params, x):
        h = activations.get(self.activation)(dense.apply(params["in"], x))  # [T, F]
        return dense.apply(params["out"], h)  # [T, D]

    def _check_x(self, x):
        if x.ndim != 2 or x.shape[-1] != self.d_model:
            raise ValueError(f"Block: expected x of shape [T, {self.d_model}], got shape {x.shape}")

    def _check_memory(self, memory):
        if memory is None or memory.ndim != 2 or memory.shape[-1] != self.d_model:
            raise ValueError(f"Block: cross-attention expects memory of shape [S, {self.d_model}] (one example; "
                             f"vmap over the batch), got {None if memory is None else memory.shape}")

    def _check(self, x, memory):
        self._check_x(x)
        if self.cross_attention:
            self._check_memory(memory)
        if not self.cross_attention and memory is not None:
            raise ValueError("Block: got a memory but the block has no cross-attention (cross_attention=False)")

    def apply(self, params: Params, x: Float[Array, "T D"], memory: Float[Array, "S D"] | None = None, *,
              lengths: Int[Array, ""] | None = None, memory_lengths: Int[Array, ""] | None = None,
              key: Key | None = None, deterministic: bool = False, last: int | None = None,
              mask: Bool[Array, "T T"] | None = None) -> Float[Array, "T D"]:
        """y: [T, D]; with `last`, only the last `last` rows, [last, D] (= apply(...)[-last:]; all T
        positions still give the self-attention's keys and values): see MultiHeadAttention.apply.
        `mask` ([T, T] or [N, T, T], True = attend; dense self-attention only) is ANDed with the others."""
        self._check(x, memory)
        if last is not None:
            check_last(last, x.shape[0], name="Block")
        row_lengths = rows_lengths(lengths, 0 if last is None else x.shape[0] - int(last))  # of the rows computed
        k_attn, k_res1, k_cross, k_res2, k_res3 = dropout.split(key, 5)
        run = dict(deterministic=deterministic)
        x = self._sublayer(params["attn_norm"], x, lambda h: self.attention.apply(
            params["attn"], h, causal=self.causal, lengths=lengths, mask=mask, key=k_attn, last=last, **run),
            key=k_res1, last=last, **run)
        x = masks.zero_padding(x, row_lengths)
        if self.cross_attention:
            x = self._sublayer(params["cross_norm"], x, lambda h: self.cross.apply(
                params["cross"], h, memory, lengths=row_lengths, context_lengths=memory_lengths, key=k_cross,
                **run), key=k_res2, **run)
            x = masks.zero_padding(x, row_lengths)
        x = self._sublayer(params["mlp_norm"], x, lambda h: self._mlp(params["mlp"], h), key=k_res3, **run)
        return masks.zero_padding(x, row_lengths)

    def init_cache(self, max_len: int, dtype=jnp.float32) -> Params:
        if not self.causal:
            raise ValueError("Block: incremental decoding needs a causal block (causal=True)")
        return self.attention.init_cache(max_len, dtype)

    def memory_kv(self, params: Params, memory: Float[Array, "S D"]) -> Params:
        """The cross-attention keys and values of `memory`, projected once for `decode(..., memory_kv=)`."""
        if not self.cross_attention:
            raise ValueError("Block: memory_kv needs a block with cross-attention (cross_attention=True)")
        self._check_memory(memory)
        return self.cross.context_kv(params["cross"], memory)

    def decode(self, params: Params, cache: Params, x: Float[Array, "T D"],
               memory: Float[Array, "S D"] | None = None, *,
               memory_lengths: Int[Array, ""] | None = None,
               memory_kv: Params | None = None) -> tuple[Params, Float[Array, "T D"]]:
        """T new positions (deterministic) given the cached past: (cache, y [T, D]).

        Cross-attention reads `memory_kv` (`self.memory_kv(params, memory)`) when given, else projects
        `memory` again.
        """
        if memory_kv is None:
            self._check(x, memory)
        elif not self.cross_attention:
            raise ValueError("Block: got memory_kv but the block has no cross-attention (cross_attention=False)")
        elif memory is not None:
            raise ValueError("Block: got both memory and memory_kv; pass one (memory_kv holds its projection)")
        else:
            self._check_x(x)
        run = dict(key=None, deterministic=True)
        out = {}

        def self_attention(h):
            out["cache"], y = self.attention.decode(params["attn"], cache, h, deterministic=True)
            return y

        x = self._sublayer(params["attn_norm"], x, self_attention, **run)
        if self.cross_attention:
            kv = self.cross.context_kv(params["cross"], memory) if memory_kv is None else memory_kv
            x = self._sublayer(params["cross_norm"], x, lambda h: self.cross.attend(
                params["cross"], h, kv, context_lengths=memory_lengths), **run)
        x = self._sublayer(params["mlp_norm"], x, lambda h: self._mlp(params["mlp"], h), **run)
        return out["cache"], x


# --------------------------------------------------------------------------- a stack of blocks


@dataclasses.dataclass(frozen=True)
class Stack:
    """`num_layers` blocks of the same spec; a pre-norm stack ends with a norm (`final_norm`)."""

    block: Block
    num_layers: int
    final_norm: bool | None = None  # None: True for pre-norm, False for post-norm

    @property
    def _final_norm(self) -> bool:
        return self.block.norm == "pre" if self.final_norm is None else self.final_norm

    def init(self, key: Key, *, dtype=jnp.float32) -> Params:
        if self.num_layers <= 0:
            raise ValueError(f"Stack: expected num_layers >= 1, got {self.num_layers}")
        keys = jax.random.split(key, self.num_layers)
        params = {f"layer_{i}": self.block.init(k, dtype=dtype) for i, k in enumerate(keys)}
        if self._final_norm:
            params["final_norm"] = self.block._norm_init(dtype)
        return params

    def apply(self, params: Params, x: Float[Array, "T D"], memory: Float[Array, "S D"] | None = None, *,
              lengths: Int[Array, ""] | None = None, memory_lengths: Int[Array, ""] | None = None,
              key: Key | None = None, deterministic: bool = False, last: int | None = None,
              mask: Bool[Array, "T T"] | None = None) -> Float[Array, "T D"]:
        """y: [T, D]; with `last`, only the last `last` rows, [last, D], computed by the final layer alone
        (= apply(...)[-last:]; the layers below it run over all T positions): see Block.apply. `mask`: the
        same extra self-attention mask in every layer."""
        if last is not None:
            self.block._check_x(x)
            check_last(last, x.shape[0], name="Stack")
        first = 0 if last is None else x.shape[0] - int(last)
        for i, k in enumerate(dropout.split(key, self.num_layers)):
            x = self.block.apply(params[f"layer_{i}"], x, memory, lengths=lengths, memory_lengths=memory_lengths,
                                 key=k, deterministic=deterministic, mask=mask,
                                 last=last if i == self.num_layers - 1 else None)
        if self._final_norm:
            x = masks.zero_padding(self.block._norm(params["final_norm"], x), rows_lengths(lengths, first))
        return x

    def init_cache(self, max_len: int, dtype=jnp.float32) -> Params:
        return {f"layer_{i}": self.block.init_cache(max_len, dtype) for i in range(self.num_layers)}

    def memory_kv(self, params: Params, memory: Float[Array, "S D"]) -> Params:
        """Every layer's cross-attention keys and values of `memory`: {'layer_i': {'k', 'v'}}."""
        return {f"layer_{i}": self.block.memory_kv(params[f"layer_{i}"], memory) for i in range(self.num_layers)}

    def decode(self, params: Params, cache: Params, x: Float[Array, "T D"],
               memory: Float[Array, "S D"] | None = None, *,
               memory_lengths: Int[Array, ""] | None = None,
               memory_kv: Params | None = None) -> tuple[Params, Float[Array, "T D"]]:
        new_cache = {}
        for i in range(self.num_layers):
            name = f"layer_{i}"
            new_cache[name], x = self.block.decode(params[name], cache[name], x, memory,
                                                   memory_lengths=memory_lengths,
                                                   memory_kv=None if memory_kv is None else memory_kv[name])
        if self._final_norm:
            x = self.block._norm(params["final_norm"], x)
        return new_cache, x


# --------------------------------------------------------------------------- encoder classifier


__all__ = ["Block", "Stack"]
