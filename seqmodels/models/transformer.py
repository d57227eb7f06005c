"""Transformers: encoder and decoder blocks, stacks, encoder-decoder, language model, classifier.

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
the padded encoder frames in cross-attention.

Incremental decoding: `init_cache` + `decode` run the causal stack on new
tokens only, keeping each layer's keys and values in a KV cache; decoding a
sequence token by token gives the same outputs as `apply` on the whole of
it (tested). An encoder-decoder's cache can also hold the cross-attention
keys and values of the encoder output (`init_cache(..., params=, memory=)`),
projected once per source instead of at every step; `generate` does so.

Each spec is a frozen dataclass (static, hashable) with `init` / `apply`;
params are nested dicts of arrays.
"""

import dataclasses
import math

import jax
import jax.numpy as jnp

from seqmodels.array_types import Array, Float, Int, Key, Params
from seqmodels.attention import dot_product, pooling, positional
from seqmodels.attention.multi_head import MultiHeadAttention, check_last, rows_lengths
from seqmodels.nn import activations, dense, dropout, embedding, norms

NORMS = ("pre", "post")
NORM_TYPES = ("layer", "rms")
POSITIONALS = ("sinusoidal", "learned", "none")  # rotary lives in the Block spec (it acts on q, k)


def _keys(key: Key | None, n: int) -> list:
    return [None] * n if key is None else list(jax.random.split(key, n))


def _zero_padding(x: Float[Array, "T D"], lengths: Int[Array, ""] | None) -> Float[Array, "T D"]:
    if lengths is None:
        return x
    return jnp.where((jnp.arange(x.shape[0]) < lengths)[:, None], x, 0.0)  # [T, D]


def _check_generate(prompt, key, temperature) -> None:
    if prompt.ndim != 1 or prompt.shape[0] == 0:
        raise ValueError(f"generate: expected a prompt of shape [P] with P >= 1 (one example; vmap over the "
                         f"batch), got shape {prompt.shape}")
    if key is not None and isinstance(temperature, (int, float)) and not temperature > 0:  # traced: unchecked
        raise ValueError(f"generate: expected temperature > 0 for sampling, got {temperature}")


def _generate(decode, cache: Params, prompt: Int[Array, "P"], num_tokens: int, *, key: Key | None,
              temperature: float) -> Int[Array, "P+L"]:
    """decode(cache, ids) -> (cache, logits [T, V]) on the prompt, then token by token `num_tokens` times:
    argmax when key is None, else a sample of softmax(logits / temperature)."""
    cache, logits = decode(cache, prompt)

    def step(carry, k):
        cache, logits_t = carry
        if k is None:
            token = jnp.argmax(logits_t, -1).astype(prompt.dtype)
        else:
            token = jax.random.categorical(k, logits_t / temperature).astype(prompt.dtype)
        cache, logits = decode(cache, token[None])
        return (cache, logits[0]), token

    if key is None:
        _, tokens = jax.lax.scan(lambda c, _: step(c, None), (cache, logits[-1]), None, length=num_tokens)
    else:
        _, tokens = jax.lax.scan(step, (cache, logits[-1]), jax.random.split(key, num_tokens))
    return jnp.concatenate([prompt, tokens])


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

    @property
    def attention(self) -> MultiHeadAttention:
        return MultiHeadAttention(
            num_heads=self.num_heads, head_dim=self.head_dim or self.d_model // self.num_heads,
            num_kv_heads=self.num_kv_heads, drop_rate=self.attn_drop_rate, rotary=self.rotary,
            impl=self.attn_impl, block_size=self.block_size)

    @property
    def cross(self) -> MultiHeadAttention:
        return dataclasses.replace(self.attention, rotary=False)

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
        if self.norm == "pre":
            return res + dropout.apply(branch(self._norm(norm_params, x)), self.drop_rate, key=key,
                                       deterministic=deterministic)
        return self._norm(norm_params, res + dropout.apply(branch(x), self.drop_rate, key=key,
                                                           deterministic=deterministic))

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
              key: Key | None = None, deterministic: bool = False, last: int | None = None) -> Float[Array, "T D"]:
        """y: [T, D]; with `last`, only the last `last` rows, [last, D] (= apply(...)[-last:]; all T
        positions still give the self-attention's keys and values): see MultiHeadAttention.apply."""
        self._check(x, memory)
        if last is not None:
            check_last(last, x.shape[0], name="Block")
        row_lengths = rows_lengths(lengths, 0 if last is None else x.shape[0] - int(last))  # of the rows computed
        k_attn, k_res1, k_cross, k_res2, k_res3 = _keys(key, 5)
        run = dict(deterministic=deterministic)
        x = self._sublayer(params["attn_norm"], x, lambda h: self.attention.apply(
            params["attn"], h, causal=self.causal, lengths=lengths, key=k_attn, last=last, **run),
            key=k_res1, last=last, **run)
        x = _zero_padding(x, row_lengths)
        if self.cross_attention:
            x = self._sublayer(params["cross_norm"], x, lambda h: self.cross.apply(
                params["cross"], h, memory, lengths=row_lengths, context_lengths=memory_lengths, key=k_cross,
                **run), key=k_res2, **run)
            x = _zero_padding(x, row_lengths)
        x = self._sublayer(params["mlp_norm"], x, lambda h: self._mlp(params["mlp"], h), key=k_res3, **run)
        return _zero_padding(x, row_lengths)

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
            out["cache"], y = self.attention.decode(params["attn"], cache, h)
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
              key: Key | None = None, deterministic: bool = False, last: int | None = None) -> Float[Array, "T D"]:
        """y: [T, D]; with `last`, only the last `last` rows, [last, D], computed by the final layer alone
        (= apply(...)[-last:]; the layers below it run over all T positions): see Block.apply."""
        if last is not None:
            self.block._check_x(x)
            check_last(last, x.shape[0], name="Stack")
        first = 0 if last is None else x.shape[0] - int(last)
        for i, k in enumerate(_keys(key, self.num_layers)):
            x = self.block.apply(params[f"layer_{i}"], x, memory, lengths=lengths, memory_lengths=memory_lengths,
                                 key=k, deterministic=deterministic,
                                 last=last if i == self.num_layers - 1 else None)
        if self._final_norm:
            x = _zero_padding(self.block._norm(params["final_norm"], x), rows_lengths(lengths, first))
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


# --------------------------------------------------------------------------- token embedding + positions


def _embed_init(key: Key, vocab_size: int, d_model: int, max_len: int, positional_kind: str, dtype) -> Params:
    if positional_kind not in POSITIONALS:
        raise ValueError(f"positional must be one of {POSITIONALS}, got {positional_kind!r}")
    ke, kp = jax.random.split(key)
    params = {"tokens": embedding.init(ke, vocab_size, d_model, stddev=d_model ** -0.5, dtype=dtype)}
    if positional_kind == "learned":
        params["positions"] = positional.learned_init(kp, max_len, d_model, dtype=dtype)
    return params


def _embed(params: Params, ids: Int[Array, "T"], positions: Int[Array, "T"], positional_kind: str,
           max_len: int) -> Float[Array, "T D"]:
    """x_t = sqrt(D) E[id_t] + p_t (Vaswani et al.'s scaling)."""
    if ids.ndim != 1:
        raise ValueError(f"expected token ids of shape [T] (one example; vmap over the batch), got {ids.shape}")
    if ids.shape[0] > max_len:
        raise ValueError(f"sequence of {ids.shape[0]} tokens is longer than max_len={max_len}")
    x = embedding.apply(params["tokens"], ids)  # [T, D]
    x = x * math.sqrt(x.shape[-1])
    if positional_kind == "sinusoidal":
        x = x + positional.sinusoidal(positions, x.shape[-1], dtype=x.dtype)
    elif positional_kind == "learned":
        x = x + positional.learned(params["positions"], positions)
    return x


# --------------------------------------------------------------------------- decoder-only language model


@dataclasses.dataclass(frozen=True)
class LanguageModel:
    """Decoder-only Transformer LM: ids [T] -> next-token logits [T, V] (GPT-style with pre-norm)."""

    vocab_size: int  # V
    decoder: Stack  # its block must be causal, without cross-attention
    max_len: int = 2048
    positional: str = "sinusoidal"  # "sinusoidal" | "learned" | "none" (e.g. with rotary blocks)
    tie_embeddings: bool = True  # logits = x E^T

    def __post_init__(self):
        if not self.decoder.block.causal or self.decoder.block.cross_attention:
            raise ValueError("LanguageModel: the decoder block needs causal=True and cross_attention=False")

    def init(self, key: Key, *, dtype=jnp.float32) -> Params:
        ke, kd, ko = jax.random.split(key, 3)
        D = self.decoder.block.d_model
        params = {"embed": _embed_init(ke, self.vocab_size, D, self.max_len, self.positional, dtype),
                  "decoder": self.decoder.init(kd, dtype=dtype)}
        if not self.tie_embeddings:
            params["head"] = dense.init(ko, D, self.vocab_size, dtype=dtype)
        return params

    def _logits(self, params, x):
        if self.tie_embeddings:
            return embedding.attend(params["embed"]["tokens"], x)  # [T, V]
        return dense.apply(params["head"], x)  # [T, V]

    def apply(self, params: Params, ids: Int[Array, "T"], *, lengths: Int[Array, ""] | None = None,
              key: Key | None = None, deterministic: bool = False) -> Float[Array, "T V"]:
        k_emb, k_dec = _keys(key, 2)
        x = _embed(params["embed"], ids, jnp.arange(ids.shape[0]), self.positional, self.max_len)
        x = dropout.apply(x, self.decoder.block.drop_rate, key=k_emb, deterministic=deterministic)
        x = self.decoder.apply(params["decoder"], _zero_padding(x, lengths), lengths=lengths, key=k_dec,
                               deterministic=deterministic)
        return _zero_padding(self._logits(params, x), lengths)

    def init_cache(self, max_len: int | None = None, dtype=jnp.float32) -> Params:
        return {"decoder": self.decoder.init_cache(max_len or self.max_len, dtype),
                "index": jnp.zeros((), jnp.int32)}

    def decode(self, params: Params, cache: Params, ids: Int[Array, "T"]) -> tuple[Params, Float[Array, "T V"]]:
        """Logits for T new tokens given the cached past (deterministic).

        One example (vmap over a batch of caches): every position fed here is
        a real token (no padding), and index + T must stay within the cache
        (and within max_len for learned positions).
        """
        positions = cache["index"] + jnp.arange(ids.shape[0])  # [T]
        x = _embed(params["embed"], ids, positions, self.positional, self.max_len)
        dec_cache, x = self.decoder.decode(params["decoder"], cache["decoder"], x)
        return {"decoder": dec_cache, "index": cache["index"] + ids.shape[0]}, self._logits(params, x)

    def generate(self, params: Params, prompt: Int[Array, "P"], num_tokens: int, *, key: Key | None = None,
                 temperature: float = 1.0) -> Int[Array, "P+L"]:
        """Prompt then `num_tokens` sampled tokens, with the KV cache.

        Greedy (argmax) when key is None, else sampled from softmax(logits /
        temperature), temperature > 0.
        """
        _check_generate(prompt, key, temperature)
        return _generate(lambda c, ids: self.decode(params, c, ids), self.init_cache(prompt.shape[0] + num_tokens),
                         prompt, num_tokens, key=key, temperature=temperature)


# --------------------------------------------------------------------------- encoder-decoder


@dataclasses.dataclass(frozen=True)
class EncoderDecoder:
    """Transformer for sequence-to-sequence: source ids [S], target ids [T] -> logits [T, V_tgt]."""

    src_vocab_size: int
    tgt_vocab_size: int
    encoder: Stack  # non-causal blocks
    decoder: Stack  # causal blocks with cross_attention=True
    max_len: int = 2048
    positional: str = "sinusoidal"
    tie_embeddings: bool = True  # target embedding = output layer

    def __post_init__(self):
        if self.encoder.block.causal or self.encoder.block.cross_attention:
            raise ValueError("EncoderDecoder: encoder blocks must be non-causal without cross-attention")
        if not (self.decoder.block.causal and self.decoder.block.cross_attention):
            raise ValueError("EncoderDecoder: decoder blocks need causal=True and cross_attention=True")
        if self.encoder.block.d_model != self.decoder.block.d_model:
            raise ValueError(f"EncoderDecoder: encoder and decoder widths differ: "
                             f"{self.encoder.block.d_model} and {self.decoder.block.d_model}")

    def init(self, key: Key, *, dtype=jnp.float32) -> Params:
        ks, kt, ke, kd, ko = jax.random.split(key, 5)
        D = self.decoder.block.d_model
        params = {
            "src_embed": _embed_init(ks, self.src_vocab_size, D, self.max_len, self.positional, dtype),
            "tgt_embed": _embed_init(kt, self.tgt_vocab_size, D, self.max_len, self.positional, dtype),
            "encoder": self.encoder.init(ke, dtype=dtype),
            "decoder": self.decoder.init(kd, dtype=dtype),
        }
        if not self.tie_embeddings:
            params["head"] = dense.init(ko, D, self.tgt_vocab_size, dtype=dtype)
        return params

    def _logits(self, params, x):
        if self.tie_embeddings:
            return embedding.attend(params["tgt_embed"]["tokens"], x)  # [T, V]
        return dense.apply(params["head"], x)  # [T, V]

    def encode(self, params: Params, src: Int[Array, "S"], *, src_lengths: Int[Array, ""] | None = None,
               key: Key | None = None, deterministic: bool = False) -> Float[Array, "S D"]:
        k_emb, k_enc = _keys(key, 2)
        x = _embed(params["src_embed"], src, jnp.arange(src.shape[0]), self.positional, self.max_len)
        x = dropout.apply(x, self.encoder.block.drop_rate, key=k_emb, deterministic=deterministic)
        return self.encoder.apply(params["encoder"], _zero_padding(x, src_lengths), lengths=src_lengths,
                                  key=k_enc, deterministic=deterministic)

    def apply(self, params: Params, src: Int[Array, "S"], tgt: Int[Array, "T"], *,
              src_lengths: Int[Array, ""] | None = None, tgt_lengths: Int[Array, ""] | None = None,
              key: Key | None = None, deterministic: bool = False) -> Float[Array, "T V"]:
        """Teacher-forced logits: position t predicts tgt[t + 1] from tgt[:t + 1] and the source."""
        k_enc, k_emb, k_dec = _keys(key, 3)
        memory = self.encode(params, src, src_lengths=src_lengths, key=k_enc, deterministic=deterministic)
        x = _embed(params["tgt_embed"], tgt, jnp.arange(tgt.shape[0]), self.positional, self.max_len)
        x = dropout.apply(x, self.decoder.block.drop_rate, key=k_emb, deterministic=deterministic)
        x = self.decoder.apply(params["decoder"], _zero_padding(x, tgt_lengths), memory, lengths=tgt_lengths,
                               memory_lengths=src_lengths, key=k_dec, deterministic=deterministic)
        return _zero_padding(self._logits(params, x), tgt_lengths)

    def init_cache(self, max_len: int | None = None, dtype=jnp.float32, *, params: Params | None = None,
                   memory: Float[Array, "S D"] | None = None) -> Params:
        """An empty decoder cache (self-attention keys and values in `dtype`); given `params` and the
        encoder output `memory`, it also holds every layer's cross-attention keys and values of `memory`
        ('memory_kv', in the params' dtype), projected once here instead of at every `decode` call."""
        cache = {"decoder": self.decoder.init_cache(max_len or self.max_len, dtype),
                 "index": jnp.zeros((), jnp.int32)}
        if memory is not None:
            if params is None:
                raise ValueError("EncoderDecoder.init_cache: memory needs params (to project its keys and values)")
            cache["memory_kv"] = self.decoder.memory_kv(params["decoder"], memory)
        elif params is not None:
            raise ValueError("EncoderDecoder.init_cache: params given without memory (they serve only to "
                             "project the encoder output's keys and values: pass memory= too)")
        return cache

    def decode(self, params: Params, cache: Params, memory: Float[Array, "S D"] | None, tgt: Int[Array, "T"], *,
               src_lengths: Int[Array, ""] | None = None) -> tuple[Params, Float[Array, "T V"]]:
        """Logits for T new target tokens given the cache and the encoder output `memory`.

        With a cache from `init_cache(..., params=, memory=)` cross-attention uses the keys and values
        stored there and `memory` must be None; otherwise they are projected from `memory` at every call.
        """
        memory_kv = cache.get("memory_kv")
        if memory_kv is None and memory is None:
            raise ValueError("EncoderDecoder.decode: pass the encoder output `memory` [S, D], or a cache "
                             "made by init_cache(..., params=, memory=)")
        if memory_kv is not None and memory is not None:
            raise ValueError("EncoderDecoder.decode: the cache already holds the keys and values of an encoder "
                             "output (init_cache(..., memory=)); pass memory=None")
        positions = cache["index"] + jnp.arange(tgt.shape[0])  # [T]
        x = _embed(params["tgt_embed"], tgt, positions, self.positional, self.max_len)
        dec_cache, x = self.decoder.decode(params["decoder"], cache["decoder"], x, memory,
                                           memory_lengths=src_lengths, memory_kv=memory_kv)
        new_cache = {**cache, "decoder": dec_cache, "index": cache["index"] + tgt.shape[0]}
        return new_cache, self._logits(params, x)

    def generate(self, params: Params, src: Int[Array, "S"], prompt: Int[Array, "P"], num_tokens: int, *,
                 src_lengths: Int[Array, ""] | None = None, key: Key | None = None,
                 temperature: float = 1.0) -> Int[Array, "P+L"]:
        """The target prompt (at least a start token) then `num_tokens` tokens, given the source `src`:
        the source is encoded once, its cross-attention keys and values projected once, and the decoder
        runs with its KV cache. Greedy when key is None, else sampled (as `LanguageModel.generate`)."""
        _check_generate(prompt, key, temperature)
        memory = self.encode(params, src, src_lengths=src_lengths, deterministic=True)
        cache = self.init_cache(prompt.shape[0] + num_tokens, memory.dtype, params=params, memory=memory)
        return _generate(lambda c, ids: self.decode(params, c, None, ids, src_lengths=src_lengths),
                         cache, prompt, num_tokens, key=key, temperature=temperature)


# --------------------------------------------------------------------------- encoder classifier


@dataclasses.dataclass(frozen=True)
class Classifier:
    """Transformer encoder for seq2vec: ids [T] (vocab_size) or features [T, input_dim] -> logits [C].

    Frames are pooled by 'mean' (over valid frames) or 'attention'
    (`seqmodels.attention.pooling`) before a dense head.
    """

    encoder: Stack
    num_classes: int
    vocab_size: int | None = None  # token input ...
    input_dim: int | None = None  # ... or real-valued frames, projected to D
    max_len: int = 2048
    positional: str = "sinusoidal"
    pool: str = "mean"  # "mean" | "attention"

    def __post_init__(self):
        if (self.vocab_size is None) == (self.input_dim is None):
            raise ValueError("Classifier: give exactly one of vocab_size (token ids) or input_dim (features)")
        if self.pool not in ("mean", "attention"):
            raise ValueError(f"Classifier: pool must be 'mean' or 'attention', got {self.pool!r}")
        if self.encoder.block.causal or self.encoder.block.cross_attention:
            raise ValueError("Classifier: encoder blocks must be non-causal without cross-attention")

    def init(self, key: Key, *, dtype=jnp.float32) -> Params:
        ki, ke, kp, kh = jax.random.split(key, 4)
        D = self.encoder.block.d_model
        if self.vocab_size is not None:
            inputs = _embed_init(ki, self.vocab_size, D, self.max_len, self.positional, dtype)
        else:
            inputs = {"proj": dense.init(ki, self.input_dim, D, dtype=dtype)}
            if self.positional == "learned":
                inputs["positions"] = positional.learned_init(kp, self.max_len, D, dtype=dtype)
        params = {"inputs": inputs, "encoder": self.encoder.init(ke, dtype=dtype),
                  "head": dense.init(kh, D, self.num_classes, dtype=dtype)}
        if self.pool == "attention":
            params["pool"] = pooling.init(kp, D)
        return params

    def apply(self, params: Params, x: Array, *, lengths: Int[Array, ""] | None = None,
              key: Key | None = None, deterministic: bool = False) -> Float[Array, "C"]:
        T = x.shape[0]
        if self.vocab_size is not None:
            h = _embed(params["inputs"], x, jnp.arange(T), self.positional, self.max_len)
        else:
            if x.ndim != 2 or x.shape[-1] != self.input_dim:
                raise ValueError(f"Classifier: expected features of shape [T, {self.input_dim}], got {x.shape}")
            h = dense.apply(params["inputs"]["proj"], x)  # [T, D]
            if self.positional == "sinusoidal":
                h = h + positional.sinusoidal(T, h.shape[-1], dtype=h.dtype)
            elif self.positional == "learned":
                h = h + positional.learned(params["inputs"]["positions"], T)
        h = self.encoder.apply(params["encoder"], _zero_padding(h, lengths), lengths=lengths, key=key,
                               deterministic=deterministic)
        if self.pool == "attention":
            pooled, _ = pooling.apply(params["pool"], h, lengths=lengths)  # [D]
        else:
            count = T if lengths is None else jnp.maximum(lengths, 1)
            pooled = h.sum(0) / count  # [D] (padded rows are zeros)
        return dense.apply(params["head"], pooled)  # [C]


__all__ = ["Block", "Stack", "LanguageModel", "EncoderDecoder", "Classifier"]
