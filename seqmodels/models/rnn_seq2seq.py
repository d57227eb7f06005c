"""RNN encoder-decoders (Cho et al. 2014, Sutskever et al. 2014) with attention (Bahdanau et al. 2015,
Luong et al. 2015): source [S] ids or [S, D] vectors, target ids [T] -> logits [T, V].

Encoder: a stack of (bidirectional) RNNs over any seqmodels cell,

    h_s = RNN(x_s)    memory [S, Dm]       final = [h->_{L-1}; h<-_0]  (the last valid step of each direction)

Decoder (one layer shown; layers stack on s), from the source summary m (`init_from`: the encoder's final
vector, or the mean of the valid memory frames) and E y_{t-1}, the embedded previous target token:

    s_0 = tanh(W_init m + b)

    attention="none" (Cho et al. 2014: the fixed context vector c = m, the bottleneck)
    attention="bahdanau" (additive, the query is the PREVIOUS state s_{t-1}):
        e_ts = v . tanh(W_q s_{t-1} + W_k h_s + b)     a_t = softmax_s(e_t)     c_t = sum_s a_ts h_s
        s_t = cell(s_{t-1}, [E y_{t-1}; c_t])
        logits_t = W_o [s_t; c_t; E y_{t-1}] + b_o     (Bahdanau's deep output, without the maxout)

    attention="luong_dot" | "luong_general" | "luong_concat" (the query is the CURRENT output s_t):
        s_t = cell(s_{t-1}, [E y_{t-1}; h~_{t-1}])      (input feeding, h~_0 = 0)
        e_ts = s_t . h_s  |  s_t W h_s  |  v . tanh(W [s_t; h_s])      a_t, c_t as above
        h~_t = tanh(W_c [c_t; s_t])                    logits_t = W_o h~_t + b_o

So the decoder input at step t is [E y_{t-1}; context], the context being c_t (none, Bahdanau) or Luong's
previous attentional vector h~_{t-1}. Bahdanau's W_k h_s + b is computed once per source (`init_cache`).
The scores reuse `seqmodels.attention.additive` (Luong's concat score is the additive form on s_t).

Teacher forcing (`apply`): position t reads tgt[t] and predicts tgt[t + 1]. Scheduled sampling (Bengio
et al. 2015): with `sampling_prob` p > 0, each input tgt[t], t >= 1, is replaced with probability p by the
model's own previous prediction (argmax, or a sample with sampling="sample"). Decoding: `init_cache` +
`decode(params, cache, ids)`, the contract of `seqmodels.models.decoding` (greedy, beam search).
`apply` runs the same step as `decode`, so the two agree.

Masks: `memory_lengths` / `src_lengths` (right padding) mask the attention and the encoder, and pick
the final and mean frames; `tgt_lengths` zero the padded logits (and alignment rows).
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from seqmodels import recurrence
from seqmodels.array_types import Array, Float, Int, Key, Params
from seqmodels.attention import additive, masks
from seqmodels.cells import GRU, LSTM, MGU, AdditiveRNN, Elman, Jordan, MinGRU, MinLSTM
from seqmodels.data.tokenizers import BOS_ID, EOS_ID
from seqmodels.models import decoding
from seqmodels.nn import dense, dropout, embedding
from seqmodels.nn.lengths import check_lengths, clamp_lengths

CELLS = {"elman": Elman, "rnn": Elman, "jordan": Jordan, "lstm": LSTM, "gru": GRU, "mgu": MGU,
         "min_gru": MinGRU, "min_lstm": MinLSTM, "additive": AdditiveRNN}
ATTENTIONS = ("none", "bahdanau", "luong_dot", "luong_general", "luong_concat")
INIT_FROM = ("final", "mean")
SOURCE = ("memory", "keys", "lengths", "context")  # the decoder cache's entries fixed by the source


def _cell(name: str, input_size: int, hidden_size: int, who: str):
    if name not in CELLS:
        raise ValueError(f"{who}: cell must be one of {sorted(CELLS)}, got {name!r}")
    return CELLS[name](input_size, hidden_size)


def _check_positive(obj, *names):
    for name in names:
        value = getattr(obj, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
            raise ValueError(f"{type(obj).__name__}: {name} must be a positive int, got {value!r}")


@dataclasses.dataclass(frozen=True)
class RNNEncoder:
    """Token ids [S] (vocab_size set) or vectors [S, input_size] -> (memory [S, Dm], final [Dm])."""

    hidden_size: int  # H per direction
    vocab_size: int | None = None  # ids in, embedded to embed_dim
    input_size: int | None = None  # or vectors in (audio frames, image regions)
    cell: str = "gru"
    num_layers: int = 1
    bidirectional: bool = False  # Dm = 2H
    embed_dim: int | None = None  # default hidden_size
    drop_rate: float = 0.0  # on the embeddings and between layers

    def __post_init__(self):
        if (self.vocab_size is None) == (self.input_size is None):
            raise ValueError(f"RNNEncoder: give exactly one of vocab_size (token ids in) and input_size (vectors "
                             f"in), got vocab_size={self.vocab_size}, input_size={self.input_size}")
        _check_positive(self, "hidden_size", "vocab_size", "input_size", "num_layers", "embed_dim")
        if not 0.0 <= self.drop_rate < 1.0:
            raise ValueError(f"RNNEncoder: drop_rate must be in [0, 1), got {self.drop_rate}")
        self.rnn  # noqa: B018 (builds the cells: an unknown cell name fails here)

    @property
    def rnn(self) -> recurrence.Stack:
        size, layers = self.embed_dim or self.hidden_size if self.vocab_size else self.input_size, []
        for _ in range(self.num_layers):
            cell = _cell(self.cell, size, self.hidden_size, "RNNEncoder")
            layers.append(recurrence.Bidirectional.of(cell) if self.bidirectional else recurrence.RNN(cell))
            size = layers[-1].output_size
        return recurrence.Stack(tuple(layers), drop_rate=self.drop_rate)

    @property
    def output_size(self) -> int:
        """Dm, the width of memory and of final."""
        return self.rnn.output_size

    def init(self, key: Key) -> Params:
        ke, kr = jax.random.split(key)
        params = {"rnn": self.rnn.init(kr)}
        if self.vocab_size:
            params["embed"] = embedding.init(ke, self.vocab_size, self.embed_dim or self.hidden_size)
        return params

    def apply(self, params: Params, src: Array, *, lengths: Int[Array, ""] | None = None, key: Key | None = None,
              deterministic: bool = False) -> tuple[Float[Array, "S Dm"], Float[Array, "Dm"]]:
        if self.vocab_size:
            decoding.check_ids(src, self.vocab_size, "RNNEncoder", "src")
            x = embedding.apply(params["embed"], src)  # [S, E]
        else:
            if src.ndim != 2 or src.shape[0] == 0 or src.shape[1] != self.input_size:
                raise ValueError(f"RNNEncoder: expected source vectors [S, {self.input_size}] with S >= 1 (one "
                                 f"example; vmap over the batch), got shape {src.shape}")
            x = src
        S = x.shape[0]
        lengths = check_lengths(lengths, S, "RNNEncoder")
        k_emb, k_rnn = dropout.split(key, 2)
        x = dropout.apply(x, self.drop_rate, key=k_emb, deterministic=deterministic, name="RNNEncoder")
        _, memory = self.rnn.apply(params["rnn"], masks.zero_padding(x, lengths), lengths=lengths, key=k_rnn,
                                   deterministic=deterministic)  # [S, Dm]
        last = S - 1 if lengths is None else jnp.maximum(clamp_lengths(lengths, S) - 1, 0)
        if not self.bidirectional:
            return memory, memory[last]
        H = self.rnn.layers[-1].forward.output_size  # forward half, then backward half
        return memory, jnp.concatenate([memory[last, :H], memory[0, H:]])


def _start_carry(cell, params: Params, s: Float[Array, "O"]):
    """The cell's zero carry with its output part (h, or Jordan's y, or minGRU's whole carry) set to s."""
    carry = cell.initial_carry(params)
    if isinstance(carry, dict):
        name = "h" if "h" in carry else "y"
        return {**carry, name: s.astype(carry[name].dtype)}
    return s.astype(carry.dtype)


@dataclasses.dataclass(frozen=True)
class AttentionDecoder:
    """Target ids [T] and encoder memory [S, Dm] -> logits [T, V]; see the module docstring."""

    vocab_size: int  # V
    hidden_size: int  # H
    memory_dim: int  # Dm
    cell: str = "gru"
    embed_dim: int | None = None  # E, default H
    attention: str = "bahdanau"
    init_from: str = "final"  # m, which starts the state: the encoder's final vector, or the memory's mean
    num_layers: int = 1
    attention_dim: int | None = None  # A, Bahdanau's / Luong concat's hidden width, default H
    drop_rate: float = 0.0  # on the embeddings and on the read-out's input

    def __post_init__(self):
        _check_positive(self, "vocab_size", "hidden_size", "memory_dim", "num_layers", "embed_dim", "attention_dim")
        if self.attention not in ATTENTIONS:
            raise ValueError(f"AttentionDecoder: attention must be one of {ATTENTIONS}, got {self.attention!r}")
        if self.init_from not in INIT_FROM:
            raise ValueError(f"AttentionDecoder: init_from must be one of {INIT_FROM}, got {self.init_from!r}")
        if not 0.0 <= self.drop_rate < 1.0:
            raise ValueError(f"AttentionDecoder: drop_rate must be in [0, 1), got {self.drop_rate}")
        if self.attention == "luong_dot" and self.cells[-1].output_size != self.memory_dim:
            raise ValueError(f"AttentionDecoder: attention='luong_dot' scores s_t . h_s, so the decoder's output "
                             f"({self.cells[-1].output_size}) must equal memory_dim ({self.memory_dim}); use "
                             f"'luong_general' or a hidden_size of {self.memory_dim}")

    @property
    def luong(self) -> bool:
        return self.attention.startswith("luong")

    @property
    def cells(self) -> tuple:
        E, H = self.embed_dim or self.hidden_size, self.hidden_size
        size = E + (H if self.luong else self.memory_dim)  # [E y; h~] or [E y; c]
        cells = []
        for _ in range(self.num_layers):
            cells.append(_cell(self.cell, size, H, "AttentionDecoder"))
            size = cells[-1].output_size
        return tuple(cells)

    def init(self, key: Key) -> Params:
        E, Dm, cells = self.embed_dim or self.hidden_size, self.memory_dim, self.cells
        O, A = cells[-1].output_size, self.attention_dim or self.hidden_size
        ke, kc, kb, ka, kw, ko = jax.random.split(key, 6)
        params = {"embed": embedding.init(ke, self.vocab_size, E),
                  "cells": [c.init(k) for c, k in zip(cells, jax.random.split(kc, len(cells)))],
                  "bridge": dense.init(kb, Dm, sum(c.output_size for c in cells)),
                  "out": dense.init(ko, O if self.luong else O + Dm + E, self.vocab_size)}
        if self.attention in ("bahdanau", "luong_concat"):
            params["attention"] = additive.bahdanau_init(ka, O, Dm, A)
        elif self.attention == "luong_general":
            params["attention"] = additive.luong_init(ka, O, Dm, score="general")
        if self.luong:
            params["combine"] = dense.init(kw, Dm + O, O, use_bias=False)  # W_c
        return params

    # -- the cache: decoder state + what it reads of the source ---------------------------------------------
    def init_cache(self, params: Params, memory: Float[Array, "S Dm"], *,
                   memory_lengths: Int[Array, ""] | None = None, final: Float[Array, "Dm"] | None = None) -> Params:
        """{'carries', 'prev' (s_{t-1} or h~_{t-1}), and the source: 'context' (none) or 'memory', 'keys'
        (W_k h_s + b, additive scores only), 'lengths'}."""
        if memory.ndim != 2 or memory.shape[0] == 0 or memory.shape[1] != self.memory_dim:
            raise ValueError(f"AttentionDecoder: expected memory [S, {self.memory_dim}] with S >= 1 (one example), "
                             f"got shape {memory.shape}")
        S = memory.shape[0]
        lengths = check_lengths(memory_lengths, S, "AttentionDecoder", arg="memory_lengths")
        if self.init_from == "final":
            if final is None or final.shape != (self.memory_dim,):
                raise ValueError(f"AttentionDecoder: init_from='final' needs the encoder's final vector "
                                 f"final=[{self.memory_dim}], got {None if final is None else final.shape}")
            m = final
        else:
            n = S if lengths is None else jnp.maximum(clamp_lengths(lengths, S), 1)
            m = masks.zero_padding(memory, lengths).sum(0) / n  # [Dm]
        cells = self.cells
        starts = jnp.split(jnp.tanh(dense.apply(params["bridge"], m)),  # s_0 of every layer
                           np.cumsum([c.output_size for c in cells])[:-1])
        cache = {"carries": [_start_carry(c, p, s) for c, p, s in zip(cells, params["cells"], starts)],
                 "prev": jnp.zeros_like(starts[-1]) if self.luong else starts[-1]}
        if self.attention == "none":
            return {**cache, "context": m}
        cache.update(memory=memory, lengths=jnp.asarray(S if lengths is None else lengths, jnp.int32))
        if self.attention in ("bahdanau", "luong_concat"):
            cache["keys"] = dense.apply(params["attention"]["key"], memory)  # [S, A], once per source
        return cache

    def _attend(self, params, cache, q):
        """(c [Dm], a [S]) for the query q [O]."""
        if self.attention in ("bahdanau", "luong_concat"):  # additive.bahdanau_scores with W_k h_s + b hoisted
            p = params["attention"]
            scores = jnp.tanh(dense.apply(p["query"], q) + cache["keys"]) @ p["v"]  # [S]
        else:
            scores = additive.luong_scores(params.get("attention", {}), q[None], cache["memory"],
                                           score=self.attention[len("luong_"):])[0]  # [S]
        context, weights = additive.attend(scores[None], cache["memory"], lengths=cache["lengths"])
        return context[0], weights[0]

    def _step(self, params, cache, token, key):
        """One target token: (cache, (logits [V], a [S])); key None = deterministic."""
        k_emb, k_out = dropout.split(key, 2)
        x = embedding.apply(params["embed"], token)  # [E]
        x = dropout.apply(x, self.drop_rate, key=k_emb, deterministic=key is None, name="AttentionDecoder")
        S = cache["memory"].shape[0] if "memory" in cache else 1
        weights = jnp.zeros((S,), x.dtype)
        if self.attention == "none":
            context = cache["context"]
        elif self.attention == "bahdanau":
            context, weights = self._attend(params, cache, cache["prev"])  # from s_{t-1}
        else:
            context = cache["prev"]  # h~_{t-1}
        h, carries = jnp.concatenate([x, context]), []
        for cell, p, carry in zip(self.cells, params["cells"], cache["carries"]):
            carry, h = cell.step(p, carry, h)
            carries.append(carry)
        if self.luong:
            context, weights = self._attend(params, cache, h)  # from s_t
            prev = read = jnp.tanh(dense.apply(params["combine"], jnp.concatenate([context, h])))  # h~_t
        else:
            prev, read = h, jnp.concatenate([h, context, x])
        read = dropout.apply(read, self.drop_rate, key=k_out, deterministic=key is None, name="AttentionDecoder")
        return {**cache, "carries": carries, "prev": prev}, (dense.apply(params["out"], read), weights)

    def decode(self, params: Params, cache: Params, ids: Int[Array, "T"]) -> tuple[Params, Float[Array, "T V"]]:
        """Logits for T new target tokens after the state in `cache` (deterministic)."""
        decoding.check_ids(ids, self.vocab_size, "AttentionDecoder.decode")
        cache, (logits, _) = jax.lax.scan(lambda c, y: self._step(params, c, y, None), cache, ids)
        return cache, logits

    def apply(self, params: Params, memory: Float[Array, "S Dm"], tgt: Int[Array, "T"], *,
              memory_lengths: Int[Array, ""] | None = None, final: Float[Array, "Dm"] | None = None,
              tgt_lengths: Int[Array, ""] | None = None, key: Key | None = None, deterministic: bool = False,
              sampling_prob: float = 0.0, sampling: str = "argmax", return_alignment: bool = False):
        """Teacher-forced logits [T, V] (position t predicts tgt[t + 1]), or (logits, alignment a [T, S])."""
        decoding.check_ids(tgt, self.vocab_size, "AttentionDecoder", "tgt")
        if return_alignment and self.attention == "none":
            raise ValueError("AttentionDecoder: return_alignment needs attention (attention='none' reads the "
                             "fixed context vector and has no alignment)")
        if sampling not in ("argmax", "sample"):
            raise ValueError(f"AttentionDecoder: sampling must be 'argmax' or 'sample', got {sampling!r}")
        T = tgt.shape[0]
        tgt_lengths = check_lengths(tgt_lengths, T, "AttentionDecoder", arg="tgt_lengths")
        scheduled = not (isinstance(sampling_prob, (int, float)) and sampling_prob == 0.0)
        use_dropout = self.drop_rate > 0.0 and not deterministic
        if (scheduled or use_dropout) and key is None:
            why = "sampling_prob > 0" if scheduled else f"dropout (drop_rate={self.drop_rate})"
            raise ValueError(f"AttentionDecoder: {why} needs a PRNG `key` (or deterministic=True and "
                             f"sampling_prob=0)")
        cache = self.init_cache(params, memory, memory_lengths=memory_lengths, final=final)
        keys = jax.random.split(key, T) if key is not None else None

        def step(carry, inputs):
            cache, prev_logits = carry
            t, y, k = inputs
            k_drop, k_coin, k_tok = dropout.split(k, 3)
            if scheduled:  # Bengio et al. 2015: feed the model's own previous prediction with probability p
                own = (jax.random.categorical(k_tok, prev_logits) if sampling == "sample"
                       else jnp.argmax(prev_logits)).astype(y.dtype)
                y = jnp.where((t > 0) & jax.random.bernoulli(k_coin, sampling_prob), own, y)
            cache, (logits, weights) = self._step(params, cache, y, k_drop if use_dropout else None)
            return (cache, logits), (logits, weights)

        zero = jnp.zeros((self.vocab_size,), memory.dtype)
        _, (logits, alignment) = jax.lax.scan(step, (cache, zero), (jnp.arange(T), tgt, keys))
        logits = masks.zero_padding(logits, tgt_lengths)
        return (logits, masks.zero_padding(alignment, tgt_lengths)) if return_alignment else logits


@dataclasses.dataclass(frozen=True)
class RNNEncoderDecoder:
    """An RNNEncoder and an AttentionDecoder reading its memory: source [S] or [S, D], target [T] -> [T, V]."""

    encoder: RNNEncoder
    decoder: AttentionDecoder

    def __post_init__(self):
        if self.encoder.output_size != self.decoder.memory_dim:
            raise ValueError(f"RNNEncoderDecoder: the encoder outputs {self.encoder.output_size} features "
                             f"(2 x hidden_size when bidirectional) but the decoder's memory_dim is "
                             f"{self.decoder.memory_dim}")

    def init(self, key: Key) -> Params:
        ke, kd = jax.random.split(key)
        return {"encoder": self.encoder.init(ke), "decoder": self.decoder.init(kd)}

    def encode(self, params: Params, src: Array, *, lengths: Int[Array, ""] | None = None, key: Key | None = None,
               deterministic: bool = False) -> tuple[Float[Array, "S Dm"], Float[Array, "Dm"]]:
        return self.encoder.apply(params["encoder"], src, lengths=lengths, key=key, deterministic=deterministic)

    def apply(self, params: Params, src: Array, tgt: Int[Array, "T"], *, src_lengths: Int[Array, ""] | None = None,
              tgt_lengths: Int[Array, ""] | None = None, key: Key | None = None, deterministic: bool = False,
              sampling_prob: float = 0.0, sampling: str = "argmax", return_alignment: bool = False):
        """Teacher-forced logits [T, V] (or (logits, alignment [T, S])); position t predicts tgt[t + 1]."""
        k_enc, k_dec = dropout.split(key, 2)
        memory, final = self.encode(params, src, lengths=src_lengths, key=k_enc, deterministic=deterministic)
        return self.decoder.apply(params["decoder"], memory, tgt, memory_lengths=src_lengths, final=final,
                                  tgt_lengths=tgt_lengths, key=k_dec, deterministic=deterministic,
                                  sampling_prob=sampling_prob, sampling=sampling, return_alignment=return_alignment)

    def init_cache(self, params: Params, src: Array, *, src_lengths: Int[Array, ""] | None = None) -> Params:
        memory, final = self.encode(params, src, lengths=src_lengths, deterministic=True)
        return self.decoder.init_cache(params["decoder"], memory, memory_lengths=src_lengths, final=final)

    def decode(self, params: Params, cache: Params, ids: Int[Array, "T"]) -> tuple[Params, Float[Array, "T V"]]:
        return self.decoder.decode(params["decoder"], cache, ids)

    def start_decoding(self, params: Params, src: Array, *, src_lengths: Int[Array, ""] | None = None) -> tuple:
        """(decode(cache, ids), cache) for `seqmodels.models.decoding`, the source's part of the cache held
        in the closure (`decoding.share`: beam search neither tiles nor reorders it)."""
        return decoding.share(lambda c, ids: self.decode(params, c, ids),
                              self.init_cache(params, src, src_lengths=src_lengths), SOURCE)

    def greedy(self, params: Params, src: Array, *, max_len: int, src_lengths: Int[Array, ""] | None = None,
               start_token: int = BOS_ID, end_token: int = EOS_ID) -> tuple[Int[Array, "L"], Int[Array, ""]]:
        """`decoding.greedy` from the encoded source: (tokens [max_len], length)."""
        decode, cache = self.start_decoding(params, src, src_lengths=src_lengths)
        return decoding.greedy(decode, cache, start_token, max_len=max_len, end_token=end_token)

    def beam_search(self, params: Params, src: Array, *, beam_width: int, max_len: int,
                    src_lengths: Int[Array, ""] | None = None, start_token: int = BOS_ID, end_token: int = EOS_ID,
                    length_penalty: float = 0.6):
        """`decoding.beam_search` from the encoded source: (tokens [K, max_len], scores [K], lengths [K])."""
        decode, cache = self.start_decoding(params, src, src_lengths=src_lengths)
        return decoding.beam_search(decode, cache, start_token, beam_width=beam_width, max_len=max_len,
                                    end_token=end_token, length_penalty=length_penalty)


__all__ = ["CELLS", "ATTENTIONS", "INIT_FROM", "SOURCE", "RNNEncoder", "AttentionDecoder", "RNNEncoderDecoder"]
