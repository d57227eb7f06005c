"""Recurrent language model (char-rnn style): ids [T] -> next-token logits [T, V], the carry in and out.

    x_t = E[id_t]                                   E: [V, D]
    (c_T, h_t) = Stack(cells)(Drop(x), c_0)          L forward layers (LSTM, GRU, any cell)
    logits_t = Drop(h_t) W + b                       W: [H, V]

Position t predicts token t + 1 from tokens <= t and from the initial carry
c_0, which summarises whatever came before the chunk. Stateful truncated
BPTT (Karpathy's char-rnn, Zaremba et al. 2014) cuts a corpus into B
parallel streams and feeds consecutive chunks of each stream as consecutive
batches; the final carry of one chunk, gradient stopped, is the initial
carry of the next (`apply_batch(..., initial_carry=)`), so the model sees
an unbounded past while gradients flow back at most one chunk.

`decode(params, carry, ids)` has the shape of the Transformer LM's
`decode` (the carry plays the KV cache), so `generate` shares
`seqmodels.models.decoding`. `lengths` zeroes padded logits; the final
carry is taken at the last valid step (the recurrence's masking model).
"""

import dataclasses

import jax

from seqmodels import recurrence
from seqmodels.array_types import Array, Float, Int, Key, Params
from seqmodels.attention import masks
from seqmodels.cells import GRU, LSTM
from seqmodels.models import decoding
from seqmodels.nn import dense, dropout, embedding

CELLS = {"lstm": LSTM, "gru": GRU}


@dataclasses.dataclass(frozen=True)
class RNNLanguageModel:
    """Embedding -> stack of forward RNNs -> dense read-out; carries [per layer] in and out."""

    vocab_size: int  # V
    rnn: recurrence.Stack  # forward layers; its input size is the embedding width D
    drop_rate: float = 0.0  # dropout on the embeddings and on the last layer's outputs

    def __post_init__(self):
        if not self.rnn.causal:
            raise ValueError("RNNLanguageModel: the recurrent stack must be causal (forward RNNs only)")
        if not 0.0 <= self.drop_rate < 1.0:
            raise ValueError(f"RNNLanguageModel: drop_rate must be in [0, 1), got {self.drop_rate}")

    @classmethod
    def of(cls, kind: str, vocab_size: int, hidden_size: int, num_layers: int = 1, *,
           embed_size: int | None = None, drop_rate: float = 0.0, **cell_options) -> "RNNLanguageModel":
        """L layers of `kind` ("lstm" | "gru") with H units; D = embed_size (default H); dropout between
        layers too."""
        if kind not in CELLS:
            raise ValueError(f"RNNLanguageModel: cell kind must be one of {sorted(CELLS)}, got {kind!r}")
        sizes = [embed_size or hidden_size] + [hidden_size] * num_layers
        layers = tuple(recurrence.RNN(CELLS[kind](sizes[k], hidden_size, **cell_options))
                       for k in range(num_layers))
        return cls(vocab_size, recurrence.Stack(layers, drop_rate=drop_rate), drop_rate=drop_rate)

    def init(self, key: Key) -> Params:
        ke, kr, ko = jax.random.split(key, 3)
        return {"embed": embedding.init(ke, self.vocab_size, self.rnn.input_size, stddev=1.0),
                "rnn": self.rnn.init(kr),
                "head": dense.init(ko, self.rnn.output_size, self.vocab_size)}

    def initial_carry(self, params: Params) -> list:
        """Zeros, one carry per layer (add a leading [B] axis for a batch of streams)."""
        return self.rnn.initial_carry(params["rnn"])

    def _run(self, run, params, ids, key, deterministic):
        k_in, k_rnn, k_out = dropout.split(key, 3)
        x = dropout.apply(embedding.apply(params["embed"], ids), self.drop_rate, key=k_in,
                          deterministic=deterministic, name="RNNLanguageModel")  # [..., T, D]
        carry, h = run(x, k_rnn)  # h: [..., T, H]
        h = dropout.apply(h, self.drop_rate, key=k_out, deterministic=deterministic, name="RNNLanguageModel")
        return carry, dense.apply(params["head"], h)  # [..., T, V]

    def apply(self, params: Params, ids: Int[Array, "T"], *, lengths: Int[Array, ""] | None = None,
              initial_carry: list | None = None, key: Key | None = None,
              deterministic: bool = False) -> tuple[list, Float[Array, "T V"]]:
        """One sequence: (final carries, logits [T, V]); initial_carry None = zeros."""
        if ids.ndim != 1:
            raise ValueError(f"RNNLanguageModel.apply: expected ids of shape [T] (one example; apply_batch "
                             f"for [B, T]), got {ids.shape}")
        run = lambda x, k: self.rnn.apply(params["rnn"], x, lengths=lengths, initial_carry=initial_carry,  # noqa
                                          key=k, deterministic=deterministic)
        carry, logits = self._run(run, params, ids, key, deterministic)
        return carry, masks.zero_padding(logits, lengths)

    def apply_batch(self, params: Params, ids: Int[Array, "B T"], *, lengths: Int[Array, "B"] | None = None,
                    initial_carry: list | None = None, key: Key | None = None,
                    deterministic: bool = False) -> tuple[list, Float[Array, "B T V"]]:
        """A batch of streams (the fused LSTM/GRU kernels): initial_carry shared or with a leading [B] axis."""
        if ids.ndim != 2:
            raise ValueError(f"RNNLanguageModel.apply_batch: expected ids of shape [B, T], got {ids.shape}")
        run = lambda x, k: self.rnn.apply_batch(params["rnn"], x, lengths=lengths,  # noqa: E731
                                                initial_carry=initial_carry, key=k, deterministic=deterministic)
        carry, logits = self._run(run, params, ids, key, deterministic)
        if lengths is not None:
            logits = jax.vmap(masks.zero_padding)(logits, lengths)
        return carry, logits

    def decode(self, params: Params, carry: list, ids: Int[Array, "T"]) -> tuple[list, Float[Array, "T V"]]:
        """Logits for T new tokens after the past summarised by `carry` (deterministic)."""
        return self.apply(params, ids, initial_carry=carry, deterministic=True)

    def generate(self, params: Params, prompt: Int[Array, "P"], num_tokens: int, *, key: Key | None = None,
                 temperature: float = 1.0, initial_carry: list | None = None) -> Int[Array, "P+L"]:
        """Prompt then `num_tokens` tokens, carrying the state: greedy when key is None, else sampled from
        softmax(logits / temperature)."""
        decoding.check_prompt(prompt, key, temperature)
        carry = self.initial_carry(params) if initial_carry is None else initial_carry
        return decoding.generate(lambda c, ids: self.decode(params, c, ids), carry, prompt, num_tokens,
                                 key=key, temperature=temperature)


__all__ = ["CELLS", "RNNLanguageModel"]
