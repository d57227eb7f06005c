"""Decoder-only Transformer language model (GPT-style): ids [T] -> next-token logits [T, V].

    x = TokenEmbedding(ids)                    sqrt(D) E[id_t] + p_t    (`token_embedding`)
    h = Stack(Drop(x))                         causal blocks, no cross-attention
    logits = h E^T   (tied)  or  h W + b

GPT-2 / nanoGPT options (the defaults keep the above): embed_scale=False
drops sqrt(D) (x_t = E[id_t] + p_t), embed_stddev sets E ~ N(0, s^2)
(default 1/sqrt(D); GPT-2: 0.02); weight_init="gpt2" draws every matrix
of the stack (and an untied head) from N(0, 0.02^2), the residual output
projections (attention out, MLP out) from N(0, (0.02 / sqrt(2 L))^2),
L = num_layers.

Position t predicts token t + 1 from tokens <= t. `lengths` zeroes the
logits of padded positions (causal attention already keeps them out of the
valid ones). `init_cache` + `decode` run new tokens only, on the blocks' KV
caches (token-by-token decoding equals `apply` on the whole sequence,
tested); `generate` continues a prompt greedily or by sampling
(`seqmodels.models.decoding`).
"""

import dataclasses

import jax
import jax.numpy as jnp

from seqmodels.array_types import Array, Float, Int, Key, Params
from seqmodels.attention import masks
from seqmodels.models import decoding, token_embedding
from seqmodels.models.transformer import Stack
from seqmodels.nn import dense, dropout

WEIGHT_INITS = ("default", "gpt2")


@dataclasses.dataclass(frozen=True)
class LanguageModel:
    """Decoder-only Transformer LM: ids [T] -> next-token logits [T, V] (GPT-style with pre-norm)."""

    vocab_size: int  # V
    decoder: Stack  # its block must be causal, without cross-attention
    max_len: int = 2048
    positional: str = "sinusoidal"  # "sinusoidal" | "learned" | "none" (e.g. with rotary blocks)
    tie_embeddings: bool = True  # logits = x E^T
    embed_scale: bool = True  # x_t = sqrt(D) E[id_t] + p_t; False: E[id_t] + p_t
    embed_stddev: float | None = None  # E ~ N(0, embed_stddev^2); None: 1/sqrt(D)
    weight_init: str = "default"  # "default" (the layers' own initialisers) | "gpt2" (see the docstring)

    def __post_init__(self):
        if self.weight_init not in WEIGHT_INITS:
            raise ValueError(f"LanguageModel: weight_init must be one of {WEIGHT_INITS}, got {self.weight_init!r}")
        if not self.decoder.block.causal or self.decoder.block.cross_attention:
            raise ValueError("LanguageModel: the decoder block needs causal=True and cross_attention=False")

    def init(self, key: Key, *, dtype=jnp.float32) -> Params:
        ke, kd, ko = jax.random.split(key, 3)
        D = self.decoder.block.d_model
        params = {"embed": token_embedding.init(ke, self.vocab_size, D, max_len=self.max_len,
                                                positional_kind=self.positional, stddev=self.embed_stddev,
                                                dtype=dtype),
                  "decoder": self.decoder.init(kd, dtype=dtype)}
        if not self.tie_embeddings:
            params["head"] = dense.init(ko, D, self.vocab_size, dtype=dtype)
        if self.weight_init == "gpt2":
            params = {**params, **self._gpt2_weights(jax.random.fold_in(kd, 1), params)}
        return params

    def _gpt2_weights(self, key: Key, params: Params) -> Params:
        """The stack's (and an untied head's) matrices redrawn: N(0, 0.02^2), residual outputs
        N(0, (0.02 / sqrt(2 L))^2); biases and norms as initialised (zeros, ones)."""
        parts = {k: params[k] for k in ("decoder", "head") if k in params}
        leaves, treedef = jax.tree_util.tree_flatten_with_path(parts)
        residual = 0.02 / (2 * self.decoder.num_layers) ** 0.5

        def draw(path, x, k):
            if x.ndim < 2:
                return x
            names = [getattr(p, "key", None) for p in path]
            std = residual if names[-2:] == ["out", "w"] and names[-3] in ("attn", "mlp") else 0.02
            return std * jax.random.normal(k, x.shape, x.dtype)

        keys = jax.random.split(key, len(leaves))
        return jax.tree_util.tree_unflatten(treedef, [draw(p, x, k) for (p, x), k in zip(leaves, keys)])

    def _embed(self, params, ids, positions):
        return token_embedding.apply(params, ids, positions, positional_kind=self.positional,
                                     max_len=self.max_len, scale=self.embed_scale)  # [T, D]

    def _logits(self, params, x):
        return token_embedding.logits(params["embed"], x, None if self.tie_embeddings else params["head"])

    def apply(self, params: Params, ids: Int[Array, "T"], *, lengths: Int[Array, ""] | None = None,
              key: Key | None = None, deterministic: bool = False) -> Float[Array, "T V"]:
        k_emb, k_dec = dropout.split(key, 2)
        x = self._embed(params["embed"], ids, jnp.arange(ids.shape[0]))
        x = dropout.apply(x, self.decoder.block.drop_rate, key=k_emb, deterministic=deterministic,
                          name="LanguageModel")
        x = self.decoder.apply(params["decoder"], masks.zero_padding(x, lengths), lengths=lengths, key=k_dec,
                               deterministic=deterministic)
        return masks.zero_padding(self._logits(params, x), lengths)

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
        x = self._embed(params["embed"], ids, positions)
        dec_cache, x = self.decoder.decode(params["decoder"], cache["decoder"], x)
        return {"decoder": dec_cache, "index": cache["index"] + ids.shape[0]}, self._logits(params, x)

    def generate(self, params: Params, prompt: Int[Array, "P"], num_tokens: int, *, key: Key | None = None,
                 temperature: float = 1.0) -> Int[Array, "P+L"]:
        """Prompt then `num_tokens` sampled tokens, with the KV cache.

        Greedy (argmax) when key is None, else sampled from softmax(logits /
        temperature), temperature > 0.
        """
        decoding.check_prompt(prompt, key, temperature)
        return decoding.generate(lambda c, ids: self.decode(params, c, ids),
                                 self.init_cache(prompt.shape[0] + num_tokens), prompt, num_tokens, key=key,
                                 temperature=temperature)


__all__ = ["WEIGHT_INITS", "LanguageModel"]
