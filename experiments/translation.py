"""Translation: BLEU against source length, with and without attention (Bahdanau et al. 2015, Figure 2).

    python -m experiments.translation --workdir=/tmp/translation [--config.model.names=rnn_none,rnn_bahdanau]
    python -m experiments.translation --workdir=/tmp/ted --config.data.source=ted_hrlr_translate \
        --config.data.pair=pt_to_en --config.data.data_dir=DIR        (TED talks, prepared beforehand)

Offline default (seqmodels/data/translation.py): English sentences of
quantities and dates in words, 3..60 tokens, to French (numbers rebuilt
from their arithmetic, adjectives moved and agreed, dates reordered). The
models train on every length, and the test set holds the same number of
sentences of every length: the question Figure 2 asks is whether one fixed
vector can carry a long sentence, not whether a model extrapolates to lengths
it never saw (which would also test positional generalisation). Test
sentences that occur in the training set are dropped.

Models (experiments/seq2seq.py, one sub-run each): GRU encoder-decoders
reading the source through the final context vector only (attention none),
Bahdanau's additive attention, Luong's general attention; Bahdanau again with
scheduled sampling (the teacher forcing vs free running switch); a
Transformer. Each is scored on the test set with greedy and beam-search
decoding: corpus BLEU (sacrebleu) and exact match, BLEU per source-length
bucket; alignment maps of a few test sentences are drawn for the attention
models. `combine` writes the table, the BLEU-by-length curve and results.json.
"""

from pathlib import Path

import jax
import numpy as np

from experiments import launcher, models, seq2seq, summarize as reporting, tasks
from seqmodels.data import translation
from seqmodels.data.tokenizers import WordTokenizer
from seqmodels.training import ConfigError, validate

REFERENCE = {
    "source": "Bahdanau, Cho & Bengio, 'Neural machine translation by jointly learning to align and translate', "
              "ICLR 2015, Figure 2 (BLEU against sentence length, WMT'14 En->Fr)",
    "finding": "RNNencdec's BLEU falls as sentences get longer; RNNsearch (attention) keeps its BLEU up to 50+ "
               "words",
}
SOURCES = ("generated", "ted_hrlr_translate")

def _encode(pairs, src_tok, tgt_tok, max_len=None) -> dict:
    src = [src_tok.encode(s) for s, _ in pairs]
    tgt = [tgt_tok.encode(t, add_bos=True, add_eos=True) for _, t in pairs]
    keep = [i for i in range(len(src)) if len(src[i]) and (max_len is None or len(src[i]) <= max_len)]
    return seq2seq.pairs([src[i] for i in keep], [tgt[i] for i in keep])


@tasks.cached_per_data_config
def load_data(config) -> dict:
    """{'train', 'test' (seq2seq data), 'src_tok', 'tgt_tok'} of config.data."""
    d = config.data
    source = validate.choice("data.source", d.source, SOURCES)
    for field in ("num_train", "num_test", "min_len", "max_len"):
        validate.positive(f"data.{field}", d[field], integer=True)
    if source == "generated":
        train = translation.generate(d.seed, d.num_train, min_len=d.min_len, max_len=d.max_len)
        seen = set(train)
        test = [p for p in translation.generate(d.seed + 1, d.num_test, min_len=d.min_len, max_len=d.max_len)
                if p not in seen]
        src_tok, tgt_tok = translation.vocabularies()
    else:
        kwargs = dict(pair=d.pair, data_dir=d.data_dir or None)
        train = translation.ted_hrlr_translate("train", **kwargs)[:d.num_train]
        test = translation.ted_hrlr_translate("test", **kwargs)[:d.num_test]
        src_tok = WordTokenizer.build([s for s, _ in train], max_size=d.vocab_size)
        tgt_tok = WordTokenizer.build([t for _, t in train], max_size=d.vocab_size)
    return {"train": _encode(train, src_tok, tgt_tok, d.max_len), "test": _encode(test, src_tok, tgt_tok, d.max_len),
            "src_tok": src_tok, "tgt_tok": tgt_tok}


def _build(config, data):
    max_len = max(seq2seq.max_length(data["train"], data["test"]), config.eval.max_len) + 1
    return seq2seq.build(config.model, data["tgt_tok"].vocab_size, src_vocab=data["src_tok"].vocab_size,
                         max_len=max_len)


def sub_runs(config) -> dict:
    """One sub-run per model of config.model.names, each built once here (a config error stops the run early)."""
    data, subs = load_data(config), {}
    for name in models.names(config.model):
        subs[name] = models.sub_config(config, name)
        _build(subs[name], data)
        seq2seq.scheduled_sampling(subs[name])
    return subs


def draw_alignments(model, params, data: dict, hypotheses, path_stem: Path, count: int, title: str) -> list[str]:
    """Alignment maps of the model's own translations of the first `count` test sentences of 10..20 words."""
    src_tok, tgt_tok, test = data["src_tok"], data["tgt_tok"], data["test"]
    picked = [i for i, s in enumerate(test["src"]) if 10 <= len(s) <= 20][:count]
    paths = []
    for i in picked:
        out = np.asarray([seq2seq.BOS_ID] + hypotheses[i] + [seq2seq.EOS_ID], np.int32)
        _, alignment = model.apply(params, test["src"][i], out, deterministic=True, return_alignment=True)
        words = [tgt_tok.tokens[t] for t in out[1:]]  # row t emits out[t + 1]
        paths.append(str(seq2seq.plot_alignment(alignment, [src_tok.tokens[t] for t in test["src"][i]], words,
                                                f"{path_stem}_{len(paths)}.png", title=title)))
    return paths


def make_task(config, workdir=None):
    """The Task of one model (`config` is a sub-run's config)."""
    data = load_data(config)
    model = _build(config, data)
    name, e = config.model.name, config.eval
    validate.positive("eval.max_len", e.max_len, integer=True)
    edges = tuple(config.data.length_edges)
    if list(edges) != sorted(set(edges)) or len(edges) < 2:
        raise ConfigError(f"data.length_edges: expected increasing bucket edges (at least 2), got {edges}")

    def final_eval(params):
        metrics, detok = {}, data["tgt_tok"].decode
        for how, width in (("greedy", 1), ("beam", e.beam_width)):
            r = seq2seq.evaluate(model, params, data["test"], detok, beam_width=width, max_len=e.max_len,
                                 edges=edges, length_penalty=e.length_penalty)
            metrics.update({f"{how}_bleu": r["bleu"], f"{how}_exact_match": r["exact_match"]})
            metrics.update({f"{how}_bleu_len_{k}": v for k, v in r["bleu_by_length"].items()})
            hypotheses = r["hypotheses"]
        if workdir is not None and jax.process_index() == 0:
            src = [data["src_tok"].decode(s) for s in data["test"]["src"][:20]]
            lines = [f"{s}\n  -> {detok(h)}\n" for s, h in zip(src, hypotheses)]
            (Path(workdir) / "translations.txt").write_text("".join(lines))
            if getattr(getattr(model, "decoder", None), "attention", "none") != "none":
                draw_alignments(model, params, data, hypotheses, Path(workdir) / "plots" / "alignment",
                                e.num_alignments, f"{name} (beam {e.beam_width})")
        return metrics

    reference = {**REFERENCE, "model": name, "test_sentences": len(data["test"]["tgt"])}
    return seq2seq.task(config, model, data["train"], data["test"], reference=reference, final_eval=final_eval)


def combine(config, workdir, results: dict) -> dict:
    """The sub-runs' results -> <workdir>/results.json, summary.md, plots/bleu_by_length.png (the Figure 2
    curve, beam search) and the tables printed."""
    workdir = Path(workdir)
    buckets = [f"{lo}-{hi - 1}" for lo, hi in zip(config.data.length_edges[:-1], config.data.length_edges[1:])]
    table = {}
    for name, result in results.items():
        m = result["metrics"]
        table[name] = {**{k: m[k] for k in ("greedy_bleu", "greedy_exact_match", "beam_bleu", "beam_exact_match")},
                       "beam_bleu_by_length": {b: m.get(f"beam_bleu_len_{b}") for b in buckets},
                       "greedy_bleu_by_length": {b: m.get(f"greedy_bleu_len_{b}") for b in buckets},
                       "sampling_prob": seq2seq.scheduled_sampling(models.sub_config(config, name)),
                       "num_params": int(m["num_params"]), "steps": result["steps"]["last"],
                       "train_seconds": result["timing"]["train_seconds"]}
    combined = {"metrics": {f"{k}_{n}": t[k] for n, t in table.items() for k in ("beam_bleu", "beam_exact_match")},
                "models": table, "reference": REFERENCE, "config": config.to_dict(),
                "timing": {"train_seconds": sum(t["train_seconds"] for t in table.values())}}
    rows = [[n, f"{t['greedy_bleu']:.1f}", f"{100 * t['greedy_exact_match']:.1f}%", f"{t['beam_bleu']:.1f}",
             f"{100 * t['beam_exact_match']:.1f}%", t["num_params"], f"{t['train_seconds']:.0f}"]
            for n, t in table.items()]
    main = reporting.markdown_table(["model", "greedy BLEU", "greedy exact", f"beam {config.eval.beam_width} BLEU",
                                     "beam exact", "params", "train s"], rows)
    by_length = reporting.markdown_table(
        ["model"] + buckets,
        [[n] + [("-" if v is None else f"{v:.1f}") for v in t["beam_bleu_by_length"].values()]
         for n, t in table.items()])
    if jax.process_index() == 0:
        reporting.write_summary(workdir, combined, title="Translation (test set)", table=main,
                                footer="BLEU (beam) by source length\n\n" + by_length)
        edges = config.data.length_edges
        centres = [(lo + hi - 1) / 2 for lo, hi in zip(edges[:-1], edges[1:])]
        curves = {n: ([c for c, b in zip(centres, buckets) if t["beam_bleu_by_length"][b] is not None],
                      [v for v in t["beam_bleu_by_length"].values() if v is not None]) for n, t in table.items()}
        reporting.plot_curves(curves, workdir / "plots" / "bleu_by_length.png", xlabel="source length (words)",
                              ylabel=f"test BLEU (beam {config.eval.beam_width})",
                              title="BLEU against source length (cf. Bahdanau et al. 2015, Fig. 2)")
    print("\nBLEU (beam) by source length\n" + by_length, flush=True)
    return combined


if __name__ == "__main__":
    launcher.run(make_task, sub_runs=sub_runs, combine=combine)
