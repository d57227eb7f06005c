"""Sentiment of a review: a bag of embeddings against GRU/LSTM (last state or attention pooling), a Transformer
from scratch and a masked-LM-pretrained Transformer encoder fine-tuned.

    python -m experiments.sentiment --workdir=workdirs/sentiment [--config.model.names=bag,gru_attention]
    python -m experiments.sentiment --workdir=workdirs/sentiment_imdb --config=experiments/configs/sentiment.py:imdb

Data (`data.source`): "generated" reviews (seqmodels.data.synthetic.make_sentiment) whose label needs word
order and long range: negation flips a clause, in "A , but B" the clause B decides, and the words of a
review with A and B swapped are the same with the other label; neutral sentences may follow the deciding
clause. Or "imdb": TFDS imdb_reviews (Maas et al. 2011), prepared by the user (seqmodels/data/real.py).

Models: word ids -> embeddings E [V, model.embed_dim] (heads.Embedded) -> a registry model (experiments/
models.py) with a class head: `pool="last"` (final state), "attention" (the lecture's attention pooling:
u_t = tanh(W h_t + b), a_t = softmax_t(u_t . u), s = sum_t a_t h_t; seqmodels/attention/pooling.py), "mean".
The section kind "bag" is the bag of embeddings: mean of E[w] over the review's words -> logistic regression,
the baseline that cannot see order. Padding: `lengths` masks every pooling. Each model trains in its own
sub-workdir (<workdir>/<name>, or <name>_seed<s> with several config.seeds); the combined table, with the
bag's accuracy beside every model, goes to <workdir>/results.json; attention models draw
<sub-workdir>/plots/attention.png. Narrative and figures: results/sentiment/README.md.

A pretrained encoder plugs in as one more entry of MODEL_KINDS: a builder (model_config, name, vocab_size)
-> an object with init(key) / apply_batch(params, ids [B, T], lengths, *, key, deterministic) -> logits, whose
init returns the pretrained parameters; `--config.data.vocab_file` gives it its own vocabulary. The kind
"mlm" is one: experiments/mlm.py's classifier (its encoder, mean over the valid words, a random dense
read-out), the encoder restored from model.<name>.encoder_file (the encoder.npz of an experiments.mlm run's
"pretrain" sub-run, whose section fields must be that run's model fields), reading the reviews with the
vocabulary saved beside it (vocab.json); all of it fine-tuned.
"""

from pathlib import Path

import functools
import jax
import jax.numpy as jnp
import matplotlib
import ml_collections
import numpy as np

from experiments import launcher, models, summarize as reporting, tasks
from seqmodels.attention import masks, pooling as attention_pooling
from seqmodels.data import batching, synthetic, tokenizers
from seqmodels.models import heads
from seqmodels.training import ConfigError, Task, validate

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the non-interactive backend)

SOURCES = ("generated", "imdb")
FAR = 20  # a deciding clause this many words or more before the end counts as far
REFERENCE = {
    "imdb": "IMDB (Maas et al. 2011), 25k/25k: bag of words + logistic regression ~88%, LSTM ~86-89% "
            "(e.g. Dai & Le 2015: LSTM from scratch 86.5%), pretrained Transformer encoders > 93%",
    "generated": "a bag of words cannot separate a review from the one with its two clauses swapped (50% on "
                 "contrast reviews); scikit-learn's logistic regression on word counts is measured beside",
}


# --------------------------------------------------------------------------- data


def load_data(config) -> dict:
    """{'tokenizer', 'train': {'x': [N] int32 id arrays, 'y': [N]}, 'test': {..., 'text', and for generated
    reviews 'contrast', 'distance'}, 'max_len': the longest review in ids}."""
    d = config.data
    source = validate.choice("data.source", d.source, SOURCES)
    max_length = validate.non_negative("data.max_length", d.max_length, integer=True) or None
    if source == "generated":
        for field in ("num_train", "num_test"):
            validate.positive(f"data.{field}", d[field], integer=True)
        options = dict(contrast_rate=d.contrast_rate, negation_rate=d.negation_rate, max_before=d.max_before,
                       max_after=d.max_after)
        train, test = (synthetic.make_sentiment(d.seed + i, n, **options)
                       for i, n in enumerate((d.num_train, d.num_test)))
    else:
        train, test = (imdb_split(split, d.data_dir or None) for split in ("train", "test"))
    if d.vocab_file:
        tok = tokenizers.load_tokenizer(d.vocab_file)
    else:
        tok = tokenizers.WordTokenizer.build(train["text"], max_size=d.max_size,
                                             min_count=validate.positive("data.min_count", d.min_count, integer=True))
    for split in (train, test):
        split["x"] = [tok.encode(t)[:max_length] for t in split["text"]]
    max_len = max(max(len(x) for x in split["x"]) for split in (train, test))
    return {"tokenizer": tok, "train": train, "test": test, "max_len": max(max_len, 1)}


def imdb_split(split: str, data_dir: str | None) -> dict:
    """{'text': [N] str, 'y': [N] int32} of TFDS imdb_reviews (a clear error, saying how to get it, if missing)."""
    from seqmodels.data import real  # TFDS: imported only when asked for (about a second)

    source = real.data_source("imdb_reviews", split, data_dir=data_dir)
    examples = [source[i] for i in range(len(source))]
    return {"text": np.asarray([tokenizers.as_text(ex["text"]) for ex in examples], object),
            "y": np.asarray([ex["label"] for ex in examples], np.int32)}


cached_data = tasks.cached_per_data_config(load_data)  # one data set per data config, shared by the sub-runs


# --------------------------------------------------------------------------- models


def bag_of_embeddings(dim: int, num_classes: int = 2) -> heads.SequenceClassifier:
    """The mean of the embeddings over the valid words, then a dense read-out: logistic regression on the mean."""
    def apply(params, x, *, lengths=None, key=None, deterministic=False):
        return masks.zero_padding(x, lengths)  # the mean pool divides the sum by `lengths`

    return heads.SequenceClassifier(heads.Backbone(lambda key: {}, apply, dim), num_classes, pool="mean")


def _bag(model_config, name: str, vocab_size: int):
    extra = sorted(set(models.section(model_config, name)) - {"kind"})
    if extra:
        raise ConfigError(f"model.{name}: the bag of embeddings has no fields (its size is model.embed_dim), "
                          f"got {extra}")
    return heads.Embedded(bag_of_embeddings(model_config.embed_dim), vocab_size, model_config.embed_dim)


def _registry(model_config, name: str, vocab_size: int):
    dim = model_config.embed_dim
    inner = models.build(model_config, models.Spec(input_size=dim, output_size=2, output="class"), name)
    return heads.Embedded(inner, vocab_size, dim)


def _mlm(model_config, name: str, vocab_size: int):
    from experiments import mlm  # it imports this module (the same generated reviews)

    fields = models.section(model_config, name)
    encoder_file = fields.pop("encoder_file", "")
    if not encoder_file:
        raise ConfigError(f"model.{name}.encoder_file: expected the encoder.npz of an experiments.mlm run, got ''")
    fields.pop("kind", None)
    return mlm.classifier(mlm.build(ml_collections.ConfigDict({"model": fields}), vocab_size), encoder_file)


def encoder_vocab(model_config, name: str) -> Path | None:
    """The vocabulary a pretrained model (kind "mlm") reads: vocab.json beside its encoder file; else None."""
    fields = models.section(model_config, name)
    if fields.get("kind", name) != "mlm":
        return None
    encoder = Path(fields.get("encoder_file", ""))
    for path in (encoder, encoder.parent / "vocab.json"):
        if not path.is_file():
            raise ConfigError(f"model.{name}.encoder_file: {path} is missing; run the masked-LM experiment first "
                              f"(python -m experiments.mlm --workdir=workdirs/mlm writes workdirs/mlm/pretrain/"
                              f"encoder.npz and vocab.json), or leave {name} out of model.names")
    return encoder.parent / "vocab.json"


MODEL_KINDS = {"bag": _bag, "mlm": _mlm}  # any other kind: the registry's (experiments/models.py)


def build_model(model_config, vocab_size: int, name: str | None = None):
    name = name or model_config.name
    validate.positive("model.embed_dim", model_config.embed_dim, integer=True)
    kind = models.section(model_config, name).get("kind", name)
    return MODEL_KINDS.get(kind, _registry)(model_config, name, vocab_size)


def attention_weights(model: heads.Embedded, params, ids, lengths):
    """a [B, T] of an attention-pooling classifier: the weights its pooling gives each word."""
    clf = model.model
    h = heads.batch_features(clf.backbone, params["model"]["backbone"], model.embed(params, ids), lengths, None,
                             True)  # [B, T, H]
    return jax.vmap(lambda h, n: attention_pooling.apply(params["model"]["pool"], h, lengths=n)[1])(h, lengths)


# --------------------------------------------------------------------------- task


def sub_runs(config) -> dict[str, ml_collections.ConfigDict]:
    """One sub-run per model of config.model.names and seed of config.seeds, a section's own `optimizer` /
    `num_steps` applied (each model built once here, so a config error stops the run before any data or
    training)."""
    seeds = [int(s) for s in config.seeds] or [config.seed]
    subs = {}
    for name in models.names(config.model):
        for seed in seeds:
            sub = models.sub_config(config, name, model_fields={"embed_dim": config.model.embed_dim}, seed=seed,
                                    seeds=(seed,))
            build_model(sub.model, vocab_size=8)
            vocab = encoder_vocab(sub.model, name)
            if vocab is not None:  # a pretrained encoder reads the ids it was trained on
                validate.choice(f"data.source (model {name}, pretrained on generated reviews)", sub.data.source,
                                ("generated",))
                sub.data.vocab_file = str(vocab)
            subs[name if len(seeds) == 1 else f"{name}_seed{seed}"] = sub
    return subs


def make_task(config, workdir=None) -> Task:
    """The Task of one model (`config` is a sub-run's config)."""
    data = cached_data(config)
    tok, L = data["tokenizer"], data["max_len"]
    model = build_model(config.model, tok.vocab_size)
    if workdir is not None:
        Path(workdir).mkdir(parents=True, exist_ok=True)
        tok.save(Path(workdir) / "vocab.json")

    loss_fn = functools.partial(tasks.classification_loss, model)

    def source(split):
        return batching.ArraySource({"x": data[split]["x"], "y": data[split]["y"]})

    def final_eval(params):
        probs = predict(model, params, data["test"]["x"], L, config.batch_size)
        right = (probs > 0.5) == data["test"]["y"]
        metrics = {"num_params": models.num_params(params), "test_accuracy": float(right.mean())}
        if "contrast" in data["test"]:
            c, far = data["test"]["contrast"], data["test"]["distance"] >= FAR
            metrics.update(accuracy_contrast=float(right[c].mean()), accuracy_single=float(right[~c].mean()),
                           accuracy_far=float(right[far].mean()))
        if workdir is not None and getattr(getattr(model, "model", model), "pool", None) == "attention":
            plot_attention(model, params, data, tok, probs, Path(workdir) / "plots" / "attention.png",
                           title=f"{config.model.name}: attention pooling weights a_t over the words")
        return metrics

    return Task(
        init_params=model.init,
        loss_fn=loss_fn,
        train_iterator=batching.TrainIterator(source("train"), config.batch_size, seed=config.seed, pad_to=L),
        eval_batches=lambda: batching.eval_batches(source("test"), config.batch_size, pad_to=L),
        final_eval=final_eval,
        reference={"source": config.data.source, "note": REFERENCE[config.data.source]},
    )


def predict(model, params, xs, pad_to: int, batch_size: int) -> np.ndarray:
    """P(positive) [N] of every review."""
    fn = jax.jit(lambda p, x, n: jax.nn.softmax(model.apply_batch(p, x, n, deterministic=True))[:, 1])
    out = [np.asarray(fn(params, b["x"], b["lengths"]))[b["valid"]]
           for b in batching.eval_batches(batching.ArraySource({"x": xs}), batch_size, pad_to=pad_to)]
    return np.concatenate(out)


# --------------------------------------------------------------------------- report


def plot_attention(model, params, data, tok, probs, path: Path, *, title: str, num: int = 6) -> Path:
    """Attention weights over the words of `num` test reviews (the generated ones: deciding clause far from
    the end, contrast and single alternating); the darker, the more weight."""
    test = data["test"]
    if "contrast" in test:
        far = np.flatnonzero(test["distance"] >= 8)
        picks = [i for i in far if test["contrast"][i]][: num // 2] + [i for i in far if not test["contrast"][i]][
            : num - num // 2]
    else:
        picks = list(range(min(num, len(test["y"]))))
    ids = [test["x"][i][:80] for i in picks]
    batch = batching.pad_batch([{"x": x} for x in ids])
    weights = np.asarray(attention_weights(model, params, jnp.asarray(batch["x"]), jnp.asarray(batch["lengths"])))
    fig, axes = plt.subplots(len(picks), 1, figsize=(15, 1.25 * len(picks) + 0.6), squeeze=False)
    for ax, i, x, a in zip(axes[:, 0], picks, ids, weights):
        ax.imshow(a[None, :len(x)], cmap="Reds", aspect="auto", vmin=0)
        ax.set_xticks(range(len(x)))
        ax.set_xticklabels([tok.tokens[t] for t in x], rotation=70, fontsize=7)
        ax.set_yticks([])
        label = "positive" if test["y"][i] else "negative"
        ax.set_title(f"test review {i}: {label}, P(positive) = {probs[i]:.2f}", fontsize=8, loc="left")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def bag_of_words_reference(config) -> dict:
    """scikit-learn's logistic regression on word counts (and on word + bigram counts) of the same reviews."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    data = cached_data(config)
    out = {}
    for name, ngrams in (("bow_logistic_regression", (1, 1)), ("bigram_logistic_regression", (1, 2))):
        counts = CountVectorizer(token_pattern=r"\w+|[^\w\s]", ngram_range=ngrams).fit(data["train"]["text"])
        clf = LogisticRegression(max_iter=2000).fit(counts.transform(data["train"]["text"]), data["train"]["y"])
        out[name] = float(clf.score(counts.transform(data["test"]["text"]), data["test"]["y"]))
    return out


def combine(config, workdir, results: dict) -> dict:
    """The sub-runs -> <workdir>/results.json (mean and spread over seeds) and the table, the bag beside."""
    runs = {}
    for sub, result in results.items():
        name = sub.rsplit("_seed", 1)[0] if len(config.seeds) > 1 else sub
        runs.setdefault(name, []).append(result)
    keys = ("test_accuracy", "accuracy_contrast", "accuracy_single", "accuracy_far")
    table = {}
    for name, rs in runs.items():
        row = {k: float(np.mean([r["metrics"][k] for r in rs])) for k in keys if k in rs[0]["metrics"]}
        row.update(test_accuracy_std=float(np.std([r["metrics"]["test_accuracy"] for r in rs])), seeds=len(rs),
                   num_params=int(rs[0]["metrics"]["num_params"]), steps=rs[0]["steps"]["last"],
                   train_seconds=float(np.mean([r["timing"]["train_seconds"] for r in rs])))
        table[name] = row
    bag = next((m["test_accuracy"] for n, m in table.items() if config.model[n].get("kind", n) == "bag"), None)
    reference = {"note": REFERENCE[config.data.source], "bag_of_embeddings": bag}
    if config.data.source == "generated":
        reference.update(bag_of_words_reference(config))
    combined = {"metrics": {f"test_accuracy_{n}": m["test_accuracy"] for n, m in table.items()},
                "models": table, "reference": reference, "config": config.to_dict(),
                "timing": {"train_seconds": sum(m["train_seconds"] * m["seeds"] for m in table.values())}}
    pct = lambda v: "-" if v is None else f"{100 * v:.1f}%"  # noqa: E731
    rows = [[n, pct(m["test_accuracy"]) + (f" ± {100 * m['test_accuracy_std']:.1f}" if m["seeds"] > 1 else ""),
             pct(bag), pct(m.get("accuracy_contrast")), pct(m.get("accuracy_single")), pct(m.get("accuracy_far")),
             m["num_params"], f"{m['train_seconds']:.0f}"] for n, m in table.items()]
    if jax.process_index() == 0:
        reporting.write_summary(workdir, combined, title=f"Sentiment ({config.data.source})", table=reporting.
                                markdown_table(["model", "test acc", "bag of embeddings", "contrast", "single",
                                                f"far (>= {FAR} words)", "params", "train s"], rows))
    return combined


if __name__ == "__main__":
    launcher.run(make_task, sub_runs=sub_runs, combine=combine)
