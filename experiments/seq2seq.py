"""Shared pieces of the sequence-to-sequence experiments (translation, captioning, transcription).

    model = seq2seq.build(config.model, tgt_vocab, src_vocab=V_src)        # or input_size=D for vectors
    train, test = seq2seq.pairs(src_ids, tgt_ids), ...                      # lists of examples
    task = seq2seq.task(config, model, train, test, reference={...}, final_eval=...)
    scores = seq2seq.evaluate(model, params, test, detokenize, beam_width=4, max_len=80)
    seq2seq.plot_alignment(alignment, src_words, out_words, path)

A seq2seq model here is anything with the interface of
`seqmodels.models.rnn_seq2seq.RNNEncoderDecoder` (one example; vmap outside):

    init(key) -> params
    apply(params, src, tgt, *, src_lengths, tgt_lengths, key, deterministic[, sampling_prob])
        -> logits [T, V]: teacher forcing, position t predicts tgt[t + 1]
    init_cache(params, src, *, src_lengths) -> cache        (the source encoded once)
    decode(params, cache, ids [T]) -> (cache, logits [T, V])

`build` gives such a model for config.model.name's section: kind "rnn" (an
RNNEncoderDecoder: cell, hidden_size, embed_dim, num_layers, bidirectional,
attention none | bahdanau | luong_dot | luong_general | luong_concat) or
"transformer" (seqmodels' EncoderDecoder behind the same interface: d_model,
num_heads, num_layers, d_ff, drop_rate). Captioning and transcription bring
their own models with that interface.

Data: a dict {"src": sources, "tgt": targets}, one entry per example: a
source is token ids [S] or vectors [S, D] (variable S), or a fixed-shape
array (an image); a target is ids [T] that start with BOS and end with EOS
(seqmodels.data.tokenizers: PAD 0, UNK 1, BOS 2, EOS 3). Batches pad both to
one length (or to the bucket bound of `data.bucket_boundaries`): "tgt",
"lengths" (target lengths), "src", "src_lengths".

The loss is the teacher-forced cross-entropy over the valid target positions;
`config.sampling_prob` > 0 trains with scheduled sampling (Bengio et al.
2015): each decoder input token is the model's own previous prediction with
that probability. Evaluation decodes (greedy, or beam search with GNMT's
length penalty) and scores exact match and corpus BLEU with sacrebleu.
"""

import dataclasses
import functools
from pathlib import Path
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import sacrebleu

from experiments import models
from experiments.summarize import plt
from seqmodels.data import batching
from seqmodels.data.tokenizers import BOS_ID, EOS_ID
from seqmodels.models import decoding, rnn_seq2seq, transformer as transformer_lib
from seqmodels.models.encoder_decoder import EncoderDecoder
from seqmodels.training import ConfigError, Task, losses, validate

KINDS = ("rnn", "transformer")
ATTENTIONS = ("none", "bahdanau", "luong_dot", "luong_general", "luong_concat")


@dataclasses.dataclass(frozen=True)
class TransformerSeq2Seq:
    """seqmodels' Transformer EncoderDecoder behind the seq2seq interface: the cache holds the encoded source's
    cross-attention keys and values, the self-attention cache and the source length."""
    inner: EncoderDecoder

    def init(self, key):
        return self.inner.init(key)

    def apply(self, params, src, tgt, *, src_lengths=None, tgt_lengths=None, key=None, deterministic=False,
              sampling_prob=0.0):
        if sampling_prob:
            raise ConfigError("sampling_prob: scheduled sampling needs a recurrent decoder (the Transformer "
                              "decodes every position in parallel); use 0 with model kind 'transformer'")
        return self.inner.apply(params, src, tgt, src_lengths=src_lengths, tgt_lengths=tgt_lengths, key=key,
                                deterministic=deterministic)

    def init_cache(self, params, src, *, src_lengths=None):
        memory = self.inner.encode(params, src, src_lengths=src_lengths, deterministic=True)
        cache = self.inner.init_cache(self.inner.max_len, memory.dtype, params=params, memory=memory)
        return {"decoder": cache, "src_lengths": jnp.asarray(src.shape[0] if src_lengths is None else src_lengths)}

    def decode(self, params, cache, ids):
        inner, logits = self.inner.decode(params, cache["decoder"], None, ids, src_lengths=cache["src_lengths"])
        return {**cache, "decoder": inner}, logits


def build(model_config, tgt_vocab: int, *, src_vocab: int | None = None, input_size: int | None = None,
          max_len: int = 256, name: str | None = None):
    """The seq2seq model of section model.<name> (default model.name): kind 'rnn' or 'transformer'. The source
    is token ids when `src_vocab` is given, vectors of `input_size` otherwise; `max_len` bounds the
    Transformer's positions (source and target)."""
    if (src_vocab is None) == (input_size is None):
        raise ValueError("seq2seq.build: give exactly one of src_vocab (token sources) and input_size (vectors)")
    name = name or model_config.name
    if name not in model_config:
        raise ConfigError(f"model.name: {name!r} has no section model.{name}")
    cfg = models.section(model_config, name)
    prefix = f"model.{name}"
    kind = validate.choice(f"{prefix}.kind", cfg.pop("kind", name), KINDS)
    known = {"rnn": ("cell", "hidden_size", "embed_dim", "num_layers", "bidirectional", "attention"),
             "transformer": ("d_model", "num_heads", "num_layers", "d_ff", "drop_rate")}[kind]
    if cfg.pop("sampling_prob", 0.0) and kind == "transformer":  # a training field, read by `task`
        raise ConfigError(f"{prefix}.sampling_prob: scheduled sampling needs a recurrent decoder (the "
                          f"Transformer decodes every position in parallel); use 0 with kind 'transformer'")
    unknown = sorted(set(cfg) - set(known))
    if unknown:
        raise ConfigError(f"{prefix}: unknown field(s) {unknown} for kind {kind!r}; known: {list(known)}")
    size = lambda field, default: validate.positive(f"{prefix}.{field}", cfg.get(field, default), integer=True)
    if kind == "transformer":
        if src_vocab is None:
            raise ConfigError(f"{prefix}: kind 'transformer' reads token ids; this task's sources are vectors")
        d, heads, layers = size("d_model", 128), size("num_heads", 4), size("num_layers", 2)
        drop = validate.in_range(f"{prefix}.drop_rate", cfg.get("drop_rate", 0.0), 0, 1, high_open=True)
        block = dict(d_model=d, num_heads=heads, d_ff=size("d_ff", 4 * d), drop_rate=drop)
        return TransformerSeq2Seq(EncoderDecoder(
            src_vocab, tgt_vocab, transformer_lib.Stack(transformer_lib.Block(**block), layers),
            transformer_lib.Stack(transformer_lib.Block(**block, causal=True, cross_attention=True), layers),
            max_len=max_len))
    hidden, embed = size("hidden_size", 128), size("embed_dim", 64)
    cell = cfg.get("cell", "gru")
    attention = validate.choice(f"{prefix}.attention", cfg.get("attention", "bahdanau"), ATTENTIONS)
    layers = size("num_layers", 1)
    encoder = rnn_seq2seq.RNNEncoder(
        hidden_size=hidden, cell=cell, num_layers=layers, bidirectional=bool(cfg.get("bidirectional", True)),
        **({"vocab_size": src_vocab, "embed_dim": embed} if src_vocab is not None else {"input_size": input_size}))
    decoder = rnn_seq2seq.AttentionDecoder(vocab_size=tgt_vocab, hidden_size=hidden, memory_dim=encoder.output_size,
                                           cell=cell, embed_dim=embed, attention=attention)
    return rnn_seq2seq.RNNEncoderDecoder(encoder, decoder)


# --------------------------------------------------------------------------- data and the Task


def pairs(src: Sequence, tgt: Sequence) -> dict:
    """{"src": [...], "tgt": [...]} from per-example sources and BOS ... EOS targets (checked)."""
    if len(src) != len(tgt) or not len(tgt):
        raise ValueError(f"seq2seq.pairs: expected as many sources as targets (at least one), got {len(src)} "
                         f"and {len(tgt)}")
    tgt = [np.asarray(t, np.int32) for t in tgt]
    for i, t in enumerate(tgt):
        if t.ndim != 1 or len(t) < 2 or t[0] != BOS_ID or t[-1] != EOS_ID:
            raise ValueError(f"seq2seq.pairs: target {i} must be ids [T] with T >= 2, starting with BOS={BOS_ID} "
                             f"and ending with EOS={EOS_ID}; got {t[:8]}... of shape {t.shape}")
    return {"src": list(src) if _variable(src) else np.asarray(src), "tgt": tgt}


def _variable(src) -> bool:
    """Sources of several lengths (ids [S_i], vectors [S_i, D]) are padded and get src_lengths."""
    return len({np.shape(s) for s in src}) > 1 or np.asarray(src[0]).dtype.kind in "iu"


def _seq_keys(data: dict) -> tuple[str, ...]:
    return ("tgt", "src") if isinstance(data["src"], list) else ("tgt",)


def max_length(*datasets: dict) -> int:
    """The longest source or target of the data sets (the padded length of a fixed-shape batch)."""
    return max(len(x) for data in datasets for key in _seq_keys(data) for x in data[key])


def eval_batches(data: dict, batch_size: int, pad_to: int):
    """Fixed-shape batches (one jit) of every example once; fillers marked valid=False."""
    return batching.eval_batches(batching.ArraySource(data), batch_size, seq_keys=_seq_keys(data), pad_to=pad_to)


def loss_fn(model, sampling_prob: float = 0.0):
    """The Task's loss: teacher-forced cross-entropy over valid target positions (and token accuracy)."""

    def loss(params, batch, key, train):
        tgt, tgt_lengths, src_lengths = batch["tgt"], batch["lengths"], batch.get("src_lengths")
        extra = {"sampling_prob": sampling_prob} if train and sampling_prob else {}

        def one(src, tgt, src_len, tgt_len, k):
            return model.apply(params, src, tgt, src_lengths=src_len, tgt_lengths=tgt_len, key=k,
                               deterministic=not train, **extra)

        keys = jax.random.split(key, tgt.shape[0])
        logits = jax.vmap(one, in_axes=(0, 0, None if src_lengths is None else 0, 0, 0))(
            batch["src"], tgt, src_lengths, tgt_lengths, keys)  # [B, T, V]
        mask = losses.mask_from_lengths(tgt_lengths - 1, tgt.shape[1] - 1)  # [B, T - 1]: predicts tgt[1:]
        valid = batch.get("valid")
        if valid is not None:
            mask = mask & valid[:, None]
        metrics = {"token_accuracy": losses.accuracy(logits[:, :-1], tgt[:, 1:], mask)}
        if valid is not None:
            metrics["weight"] = mask.sum()
        return losses.cross_entropy(logits[:, :-1], tgt[:, 1:], mask), metrics

    return loss


def scheduled_sampling(config) -> float:
    """The run's scheduled-sampling probability: the model section's `sampling_prob`, else config.sampling_prob."""
    section = config.model.get(config.model.get("name") or "", None) or {}
    value = section.get("sampling_prob", config.get("sampling_prob", 0.0))
    return validate.in_range("sampling_prob", value, 0, 1)


def task(config, model, train: dict, test: dict, *, reference: dict, final_eval: Callable | None = None) -> Task:
    """The Task of a seq2seq data set: shuffled training batches (bucketed by length when
    config.data.bucket_boundaries is set), the test set's teacher-forced loss at each evaluation,
    `final_eval(params)` (decoding, BLEU, plots) at the end; config.sampling_prob for scheduled sampling."""
    num_train = len(train["tgt"])
    if config.batch_size > num_train:
        raise ConfigError(f"batch_size: {config.batch_size} is more than the {num_train} training examples")
    sampling_prob = scheduled_sampling(config)
    pad_to = max_length(train, test)
    bounds = config.data.get("bucket_boundaries") or None
    if bounds is not None:
        bounds = tuple(int(b) for b in bounds)
        if bounds[-1] < pad_to:
            raise ConfigError(f"data.bucket_boundaries: the last bound {bounds[-1]} is below the longest example "
                              f"({pad_to} tokens); end the list with a bound >= {pad_to}")
    iterator = batching.TrainIterator(batching.ArraySource(train), config.batch_size, seed=config.seed,
                                      seq_keys=_seq_keys(train), bucket_boundaries=bounds,
                                      pad_to=None if bounds else pad_to)

    def evaluation(params):
        out = {"num_params": models.num_params(params)}
        return {**out, **(final_eval(params) if final_eval is not None else {})}

    return Task(init_params=model.init, loss_fn=loss_fn(model, sampling_prob), train_iterator=iterator,
                eval_batches=lambda: eval_batches(test, config.batch_size, pad_to), final_eval=evaluation,
                reference=reference)


# --------------------------------------------------------------------------- decoding and scores


@functools.lru_cache(maxsize=None)
def _decoder(model, beam_width: int, max_len: int, length_penalty: float, bos: int, eos: int, fixed: bool):
    """jit(vmap(source -> best tokens [max_len])) for one model and decoding setting (compiled once); `fixed`:
    fixed-shape sources, src_lengths None."""

    def one(params, src, src_len):
        cache = model.init_cache(params, src, src_lengths=src_len)
        decode = functools.partial(model.decode, params)
        if beam_width == 1:
            tokens, _ = decoding.greedy(decode, cache, bos, max_len=max_len, end_token=eos)
            return tokens
        tokens, _, _ = decoding.beam_search(decode, cache, bos, beam_width=beam_width, max_len=max_len,
                                            end_token=eos, length_penalty=length_penalty)
        return tokens[0]

    return jax.jit(jax.vmap(one, in_axes=(None, 0, None if fixed else 0)))


def strip(ids, eos: int = EOS_ID) -> list[int]:
    """The tokens before the first EOS (BOS and padding left out)."""
    out = []
    for i in np.asarray(ids).tolist():
        if i == eos:
            break
        if i != BOS_ID:
            out.append(i)
    return out


def decode_all(model, params, data: dict, *, beam_width: int = 1, max_len: int, batch_size: int = 100,
               length_penalty: float = 0.6, bos: int = BOS_ID, eos: int = EOS_ID) -> list[list[int]]:
    """The output tokens (up to EOS) for every source of `data`: greedy (beam_width 1) or beam search."""
    validate.positive("beam_width", beam_width, integer=True)
    fixed = not isinstance(data["src"], list)
    fn = _decoder(model, beam_width, max_len, float(length_penalty), bos, eos, fixed)
    out = []
    for batch in eval_batches(data, batch_size, max_length(data)):
        tokens = np.asarray(fn(params, batch["src"], batch.get("src_lengths")))
        out += [strip(t, eos) for t, v in zip(tokens, batch["valid"]) if v]
    return out


def bleu(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus BLEU (sacrebleu, its default 13a tokenisation) of detokenised strings, 0..100."""
    return float(sacrebleu.corpus_bleu(list(hypotheses), [list(references)]).score)


def scores(hypotheses: list[list[int]], references: list[list[int]], detokenize: Callable,
           lengths: Sequence[int] | None = None, edges: Sequence[int] | None = None) -> dict:
    """Exact match and BLEU; with source `lengths` and bucket `edges` also BLEU per length bucket
    [edges[i], edges[i + 1]) (the Figure 2 curve of Bahdanau et al. 2015)."""
    hyp = [detokenize(h) for h in hypotheses]
    ref = [detokenize(r) for r in references]
    out = {"exact_match": float(np.mean([h == r for h, r in zip(hypotheses, references)])), "bleu": bleu(hyp, ref)}
    if lengths is not None and edges is not None:
        lengths = np.asarray(lengths)
        out["bleu_by_length"] = {}
        for lo, hi in zip(edges[:-1], edges[1:]):
            idx = np.flatnonzero((lengths >= lo) & (lengths < hi))
            if len(idx):
                out["bleu_by_length"][f"{lo}-{hi - 1}"] = bleu([hyp[i] for i in idx], [ref[i] for i in idx])
    return out


def evaluate(model, params, data: dict, detokenize: Callable, *, beam_width: int = 1, max_len: int,
             edges: Sequence[int] | None = None, **decode_options) -> dict:
    """Decode `data`'s sources and score them against its targets (`scores`); also returns the hypotheses."""
    hypotheses = decode_all(model, params, data, beam_width=beam_width, max_len=max_len, **decode_options)
    references = [strip(t) for t in data["tgt"]]
    lengths = [len(s) for s in data["src"]] if isinstance(data["src"], list) else None
    return {**scores(hypotheses, references, detokenize, lengths, edges), "hypotheses": hypotheses}


# --------------------------------------------------------------------------- plots


def plot_alignment(alignment, src_words: Sequence[str], out_words: Sequence[str], path, *, title: str = "") -> Path:
    """An attention map (rows: output words, columns: source words; white = weight 1), as Bahdanau's Fig. 3."""
    alignment = np.asarray(alignment)[:len(out_words), :len(src_words)]
    fig, ax = plt.subplots(figsize=(0.6 + 0.22 * len(src_words), 0.9 + 0.22 * len(out_words)))
    ax.imshow(alignment, cmap="gray", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(src_words)), src_words, rotation=90, fontsize=7)
    ax.set_yticks(range(len(out_words)), out_words, fontsize=7)
    ax.xaxis.tick_top()
    ax.set_title(title, fontsize=9, pad=6)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return Path(path)


__all__ = ["KINDS", "ATTENTIONS", "TransformerSeq2Seq", "build", "pairs", "max_length", "eval_batches", "loss_fn",
           "scheduled_sampling", "task", "decode_all", "strip", "bleu", "scores", "evaluate", "plot_alignment"]
