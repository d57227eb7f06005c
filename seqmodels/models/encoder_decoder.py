"""Transformer encoder-decoder for sequence to sequence (Vaswani et al. 2017): src [S], tgt [T] -> logits [T, V].

    m = Encoder(Drop(TokenEmbedding_src(src)))            non-causal blocks            m: [S, D]
    h = Decoder(Drop(TokenEmbedding_tgt(tgt)), m)         causal blocks + cross-attention to m
    logits = h E_tgt^T   (tied)  or  h W + b

Teacher forcing: position t predicts tgt[t + 1] from tgt[:t + 1] and the
source. `src_lengths` masks the padded source frames (in the encoder and in
cross-attention), `tgt_lengths` the padded targets.

Decoding: `encode` once, then `init_cache` + `decode` on new target tokens
only. A cache made by `init_cache(..., params=, memory=)` also holds every
decoder layer's cross-attention keys and values of the encoder output,
projected once per source instead of at every step; `generate` does so
(greedy or sampled), and so do `greedy` (to the end token) and `beam_search`
(`seqmodels.models.decoding`, shared with the RNN encoder-decoder).
"""

import dataclasses

import jax
import jax.numpy as jnp

from seqmodels.array_types import Array, Float, Int, Key, Params
from seqmodels.attention import masks
from seqmodels.data.tokenizers import BOS_ID, EOS_ID
from seqmodels.models import decoding, token_embedding
from seqmodels.models.transformer import Stack
from seqmodels.nn import dense, dropout


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
        embed = dict(max_len=self.max_len, positional_kind=self.positional, dtype=dtype)
        params = {
            "src_embed": token_embedding.init(ks, self.src_vocab_size, D, **embed),
            "tgt_embed": token_embedding.init(kt, self.tgt_vocab_size, D, **embed),
            "encoder": self.encoder.init(ke, dtype=dtype),
            "decoder": self.decoder.init(kd, dtype=dtype),
        }
        if not self.tie_embeddings:
            params["head"] = dense.init(ko, D, self.tgt_vocab_size, dtype=dtype)
        return params

    def _embed(self, params, ids, positions):
        return token_embedding.apply(params, ids, positions, positional_kind=self.positional,
                                     max_len=self.max_len)  # [T, D]

    def _logits(self, params, x):
        return token_embedding.logits(params["tgt_embed"], x, None if self.tie_embeddings else params["head"])

    def encode(self, params: Params, src: Int[Array, "S"], *, src_lengths: Int[Array, ""] | None = None,
               key: Key | None = None, deterministic: bool = False) -> Float[Array, "S D"]:
        decoding.check_ids(src, self.src_vocab_size, "EncoderDecoder", "src")
        if src.shape[0] > self.max_len:
            raise ValueError(f"EncoderDecoder: the source has {src.shape[0]} tokens but the model holds positions "
                             f"for at most max_len={self.max_len}; shorten or split the source, or build the "
                             f"model with a larger max_len")
        k_emb, k_enc = dropout.split(key, 2)
        x = self._embed(params["src_embed"], src, jnp.arange(src.shape[0]))
        x = dropout.apply(x, self.encoder.block.drop_rate, key=k_emb, deterministic=deterministic,
                          name="EncoderDecoder")
        return self.encoder.apply(params["encoder"], masks.zero_padding(x, src_lengths), lengths=src_lengths,
                                  key=k_enc, deterministic=deterministic)

    def apply(self, params: Params, src: Int[Array, "S"], tgt: Int[Array, "T"], *,
              src_lengths: Int[Array, ""] | None = None, tgt_lengths: Int[Array, ""] | None = None,
              key: Key | None = None, deterministic: bool = False) -> Float[Array, "T V"]:
        """Teacher-forced logits: position t predicts tgt[t + 1] from tgt[:t + 1] and the source."""
        decoding.check_ids(tgt, self.tgt_vocab_size, "EncoderDecoder", "tgt")
        k_enc, k_emb, k_dec = dropout.split(key, 3)
        memory = self.encode(params, src, src_lengths=src_lengths, key=k_enc, deterministic=deterministic)
        x = self._embed(params["tgt_embed"], tgt, jnp.arange(tgt.shape[0]))
        x = dropout.apply(x, self.decoder.block.drop_rate, key=k_emb, deterministic=deterministic,
                          name="EncoderDecoder")
        x = self.decoder.apply(params["decoder"], masks.zero_padding(x, tgt_lengths), memory, lengths=tgt_lengths,
                               memory_lengths=src_lengths, key=k_dec, deterministic=deterministic)
        return masks.zero_padding(self._logits(params, x), tgt_lengths)

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
        """Logits for T new target tokens given the cache and the encoder output `memory` (deterministic).

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
        x = self._embed(params["tgt_embed"], tgt, positions)
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
        decoding.check_prompt(prompt, key, temperature)
        memory = self.encode(params, src, src_lengths=src_lengths, deterministic=True)
        cache = self.init_cache(prompt.shape[0] + num_tokens, memory.dtype, params=params, memory=memory)
        return decoding.generate(lambda c, ids: self.decode(params, c, None, ids, src_lengths=src_lengths),
                                 cache, prompt, num_tokens, key=key, temperature=temperature)

    def start_decoding(self, params: Params, src: Int[Array, "S"], *, max_len: int,
                       src_lengths: Int[Array, ""] | None = None) -> tuple:
        """(decode(cache, ids), cache) for `decoding.greedy` / `beam_search` (at most max_len tokens): the
        source's K/V projected once and held in the closure (`decoding.share`), the KV cache in the cache."""
        if max_len > self.max_len:
            raise ValueError(f"EncoderDecoder: cannot decode max_len={max_len} tokens with positions for "
                             f"max_len={self.max_len}")
        memory = self.encode(params, src, src_lengths=src_lengths, deterministic=True)
        cache = self.init_cache(max_len, memory.dtype, params=params, memory=memory)
        return decoding.share(lambda c, ids: self.decode(params, c, None, ids, src_lengths=src_lengths), cache,
                              ("memory_kv",))

    def greedy(self, params: Params, src: Int[Array, "S"], *, max_len: int, src_lengths: Int[Array, ""] | None = None,
               start_token: int = BOS_ID, end_token: int = EOS_ID) -> tuple[Int[Array, "L"], Int[Array, ""]]:
        """`decoding.greedy` from the encoded source: (tokens [max_len], length)."""
        decode, cache = self.start_decoding(params, src, max_len=max_len, src_lengths=src_lengths)
        return decoding.greedy(decode, cache, start_token, max_len=max_len, end_token=end_token)

    def beam_search(self, params: Params, src: Int[Array, "S"], *, beam_width: int, max_len: int,
                    src_lengths: Int[Array, ""] | None = None, start_token: int = BOS_ID, end_token: int = EOS_ID,
                    length_penalty: float = 0.6):
        """`decoding.beam_search` from the encoded source: (tokens [K, max_len], scores [K], lengths [K])."""
        decode, cache = self.start_decoding(params, src, max_len=max_len, src_lengths=src_lengths)
        return decoding.beam_search(decode, cache, start_token, beam_width=beam_width, max_len=max_len,
                                    end_token=end_token, length_penalty=length_penalty)


__all__ = ["EncoderDecoder"]
