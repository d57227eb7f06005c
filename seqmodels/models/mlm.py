"""Masked language model (BERT, Devlin et al. 2019): a Transformer encoder that fills in corrupted tokens.

Corruption (`mask_tokens`, one example ids [T] with `length` valid tokens): each valid, non-special
position is chosen with probability 15% (a Bernoulli draw per position, as HuggingFace's collator;
BERT's own script draws exactly round(15% of T)); a chosen token becomes

    the mask id    with probability 0.8
    a random id    with probability 0.1   (uniform over the non-special ids)
    itself         with probability 0.1

The model, on the corrupted ids (bidirectional: every token sees every valid token):

    x = TokenEmbedding(ids)                    sqrt(D) E[id_t] + p_t    (`token_embedding`)
    h = Stack(Drop(x))                         non-causal blocks         (`encode`: h [T, D], for fine-tuning)
    logits = h E^T                             tied to the embedding

    loss = mean over chosen positions t of  -log softmax(logits_t)[original id_t]

Padding: `lengths` masks padded keys and zeroes padded rows, so padding never changes a valid position.
"""

import dataclasses
from collections.abc import Sequence

import jax
import jax.numpy as jnp

from seqmodels.array_types import Array, Bool, Float, Int, Key, Params
from seqmodels.attention import masks
from seqmodels.models import token_embedding
from seqmodels.models.transformer import Stack
from seqmodels.nn import dropout
from seqmodels.training import losses

MASK_RATE = 0.15
SPLIT = (0.8, 0.1, 0.1)  # mask id, random id, kept


def mask_tokens(key: Key, ids: Int[Array, "T"], length: Int[Array, ""] | None, *, mask_id: int,
                vocab_size: int, special_ids: Sequence[int], mask_rate: float = MASK_RATE,
                split: tuple[float, float, float] = SPLIT
                ) -> tuple[Int[Array, "T"], Int[Array, "T"], Bool[Array, "T"]]:
    """(corrupted ids, target ids = ids, chosen [T] bool: the positions the loss reads) of one example.

    Never chosen: padding (t >= length), the `special_ids` and `mask_id`."""
    if ids.ndim != 1:
        raise ValueError(f"mask_tokens: expected ids of shape [T] (one example; vmap over the batch), got {ids.shape}")
    if not 0 <= mask_rate <= 1 or len(split) != 3 or abs(sum(split) - 1) > 1e-6 or min(split) < 0:
        raise ValueError(f"mask_tokens: expected mask_rate in [0, 1] and split = three probabilities summing to 1 "
                         f"(mask, random, kept), got {mask_rate}, {split}")
    special = jnp.zeros(vocab_size, bool).at[jnp.asarray([*special_ids, mask_id], jnp.int32)].set(True)  # [V]
    valid = masks.length_mask(length, ids.shape[0], name="mask_tokens") & ~special[ids]  # [T]
    k_choose, k_how, k_random = jax.random.split(key, 3)
    chosen = valid & jax.random.bernoulli(k_choose, mask_rate, ids.shape)
    how = jax.random.choice(k_how, 3, ids.shape, p=jnp.asarray(split))  # 0 mask, 1 random, 2 kept
    random_ids = jax.random.categorical(k_random, jnp.where(special, -jnp.inf, 0.0), shape=ids.shape)
    corrupted = jnp.where(how == 0, mask_id, jnp.where(how == 1, random_ids, ids))
    return jnp.where(chosen, corrupted, ids).astype(ids.dtype), ids, chosen


@dataclasses.dataclass(frozen=True)
class MaskedLM:
    """Transformer encoder + tied output layer: ids [T] -> logits over the vocabulary [T, V]."""

    vocab_size: int  # V, the mask id included
    encoder: Stack  # its block must be non-causal, without cross-attention
    mask_id: int
    special_ids: tuple[int, ...] = (0,)  # never chosen (padding, bos, eos, ...)
    max_len: int = 512
    positional: str = "sinusoidal"  # "sinusoidal" | "learned" | "none"

    def __post_init__(self):
        if self.encoder.block.causal or self.encoder.block.cross_attention:
            raise ValueError("MaskedLM: the encoder block needs causal=False and cross_attention=False")
        if not 0 <= self.mask_id < self.vocab_size:
            raise ValueError(f"MaskedLM: mask_id must be an id in [0, {self.vocab_size}), got {self.mask_id}")

    def init(self, key: Key, *, dtype=jnp.float32) -> Params:
        ke, kd = jax.random.split(key)
        return {"embed": token_embedding.init(ke, self.vocab_size, self.encoder.block.d_model,
                                              max_len=self.max_len, positional_kind=self.positional, dtype=dtype),
                "encoder": self.encoder.init(kd, dtype=dtype)}

    def encode(self, params: Params, ids: Int[Array, "T"], lengths: Int[Array, ""] | None = None, *,
               key: Key | None = None, deterministic: bool = True) -> Float[Array, "T D"]:
        """The encoder's states h [T, D] (padded rows zero), e.g. for a classifier to pool."""
        k_emb, k_enc = dropout.split(key, 2)
        x = token_embedding.apply(params["embed"], ids, jnp.arange(ids.shape[0]), positional_kind=self.positional,
                                  max_len=self.max_len)  # [T, D]
        x = dropout.apply(x, self.encoder.block.drop_rate, key=k_emb, deterministic=deterministic, name="MaskedLM")
        return self.encoder.apply(params["encoder"], masks.zero_padding(x, lengths), lengths=lengths, key=k_enc,
                                  deterministic=deterministic)

    def apply(self, params: Params, ids: Int[Array, "T"], *, lengths: Int[Array, ""] | None = None,
              key: Key | None = None, deterministic: bool = False) -> Float[Array, "T V"]:
        h = self.encode(params, ids, lengths, key=key, deterministic=deterministic)
        return masks.zero_padding(token_embedding.logits(params["embed"], h), lengths)  # [T, V]

    def corrupt(self, key: Key, ids: Int[Array, "B T"], lengths: Int[Array, "B"]):
        """`mask_tokens` on every example of a batch, one key each: (corrupted, targets, chosen), each [B, T]."""
        keys = jax.random.split(key, ids.shape[0])
        return jax.vmap(lambda k, x, n: mask_tokens(k, x, n, mask_id=self.mask_id, vocab_size=self.vocab_size,
                                                    special_ids=self.special_ids))(keys, ids, lengths)

    def loss(self, params: Params, ids: Int[Array, "B T"], lengths: Int[Array, "B"], key: Key, *,
             deterministic: bool = False) -> tuple[Float[Array, ""], dict]:
        """Masked-LM cross-entropy (nats) over the chosen positions of a batch, and {accuracy, weight}: the
        key splits into the corruption's key and the dropout keys (one per example)."""
        k_mask, k_drop = jax.random.split(key)
        corrupted, targets, chosen = self.corrupt(k_mask, ids, lengths)
        drop_keys = jax.random.split(k_drop, ids.shape[0])
        logits = jax.vmap(lambda x, n, k: self.apply(params, x, lengths=n, key=k, deterministic=deterministic))(
            corrupted, lengths, drop_keys)  # [B, T, V]
        return losses.cross_entropy(logits, targets, chosen), {
            "accuracy": losses.accuracy(logits, targets, chosen), "weight": chosen.sum()}


__all__ = ["MASK_RATE", "SPLIT", "mask_tokens", "MaskedLM"]
