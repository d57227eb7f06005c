"""BERT-style masked-LM pretraining of a Transformer encoder, then fine-tuning on few labels vs from scratch.

    python -m experiments.mlm --workdir=workdirs/mlm [--config=experiments/configs/mlm.py:small]

Data: the generated reviews of experiments/sentiment.py (its `cached_data`: word order and long range
decide the label). Pretraining reads `data.num_unlabelled` more generated reviews (their labels unused,
their own seed) with the masking rule of seqmodels.models.mlm (15% of the words: 80% <mask>, 10% a
random word, 10% kept); <mask> is one id appended to the word vocabulary.

Sub-runs, one after another: "pretrain" (the masked LM; its final encoder is saved to
<workdir>/pretrain/encoder.npz, its vocabulary to <workdir>/pretrain/vocab.json: experiments/sentiment.py's
"mlm" model loads both), then for every label fraction (1%, 10%, 100% of the training labels,
stratified per seed), init ("scratch" | "pretrained") and seed, a classifier (fine-tuned for
`fraction_num_steps` steps, one count per label fraction, or num_steps): the encoder, the mean of its
states over the valid words, a dense read-out; "pretrained" starts its encoder from encoder.npz, the
read-out random either way, and all of it is fine-tuned. Model selection: `data.num_valid` more labelled
reviews (seed data.seed + 3) are evaluated every `eval_every` steps; the test accuracy is that of the
step with the best validation accuracy (`early_stopping`: watches, never stops). `combine` writes the
table (test accuracy, mean +- std over seeds, the chosen steps) and plots/accuracy.png.
"""

from pathlib import Path

import jax
import ml_collections
import numpy as np

from experiments import label_fractions, launcher, models, sentiment, summarize as reporting, tasks
from experiments.label_fractions import labelled_subset, load_params, save_params
from seqmodels.data import batching, synthetic, tokenizers
from seqmodels.models import heads
from seqmodels.models.mlm import MaskedLM
from seqmodels.models.transformer import Block, Stack
from seqmodels.training import Task, losses, validate

INITS = ("scratch", "pretrained")


def sub_runs(config) -> dict[str, ml_collections.ConfigDict]:
    validate.choice("data.source", config.data.source, ("generated",))  # the unlabelled reviews are generated
    validate.positive("data.num_unlabelled", config.data.num_unlabelled, integer=True)
    validate.positive("data.num_valid", config.data.num_valid, integer=True)
    build(config, vocab_size=8)  # a bad model section stops the run before any data or training
    subs = label_fractions.sub_runs(config, INITS)
    if "pretrained" in config.inits:  # first: the fine-tuning sub-runs load its encoder
        subs = {"pretrain": label_fractions.pretrain_sub_run(config), **subs}
    return subs


def build(config, vocab_size: int) -> MaskedLM:
    """The masked LM over the word vocabulary plus <mask> (the last id)."""
    m = config.model
    block = Block(d_model=m.d_model, num_heads=m.num_heads, d_ff=m.d_ff, drop_rate=m.drop_rate)
    return MaskedLM(vocab_size + 1, Stack(block, m.num_layers), mask_id=vocab_size,
                    special_ids=(tokenizers.PAD_ID, tokenizers.BOS_ID, tokenizers.EOS_ID), max_len=m.max_len)


def classifier(mlm: MaskedLM, encoder_file: str | Path | None = None) -> heads.SequenceClassifier:
    """The encoder's states, their mean over the valid words, a dense read-out to 2 classes; with `encoder_file`
    (a pretrain sub-run's encoder.npz) init starts the encoder from it, the read-out random either way."""
    def apply(params, ids, *, lengths=None, key=None, deterministic=False):
        return mlm.encode(params, ids, lengths, key=key, deterministic=deterministic)

    def init(key):
        return mlm.init(key) if encoder_file is None else load_params(Path(encoder_file), mlm.init(key), "mlm")

    return heads.SequenceClassifier(heads.Backbone(init, apply, mlm.encoder.block.d_model), 2, pool="mean")


def generated(config, tok, seed_offset: int, num: int) -> dict:
    """{'x': [num] id arrays, 'y': [num]} of `num` more generated reviews with seed data.seed + seed_offset
    (d.seed, d.seed + 1: the labelled train and test reviews; + 2: unlabelled; + 3: validation)."""
    d = config.data
    reviews = synthetic.make_sentiment(d.seed + seed_offset, num, contrast_rate=d.contrast_rate,
                                       negation_rate=d.negation_rate, max_before=d.max_before, max_after=d.max_after)
    return {"x": [tok.encode(t) for t in reviews["text"]], "y": reviews["y"]}


def labelled(config) -> dict:
    """experiments/sentiment.py's reviews and tokenizer, the same for every sub-run (its data fields only)."""
    own = ("label_fraction", "label_fractions", "num_unlabelled", "num_valid")
    d = {k: v for k, v in config.data.items() if k not in own}
    return sentiment.cached_data(ml_collections.ConfigDict({"data": d}))


def make_task(config, workdir=None) -> Task:
    data = labelled(config)
    tok, L = data["tokenizer"], data["max_len"]
    mlm = build(config, tok.vocab_size)
    if config.get("stage") == "pretrain":
        return pretrain_task(config, workdir, mlm, tok)
    valid = generated(config, tok, 3, config.data.num_valid)
    L = max(L, max(len(x) for x in valid["x"]))
    keep = labelled_subset(data["train"]["y"], config.data.label_fraction, config.seed)
    train = batching.ArraySource({"x": [data["train"]["x"][i] for i in keep], "y": data["train"]["y"][keep]})
    encoder_file = Path(workdir).parent / "pretrain" / "encoder.npz" if config.init == "pretrained" else None
    model = classifier(mlm, encoder_file)

    def loss_fn(params, batch, key, train):
        logits = model.apply_batch(params, batch["x"], batch["lengths"], key=key, deterministic=not train)  # [B, 2]
        mask = batch.get("valid")  # eval batches: filler copies that complete the last batch count for nothing
        return losses.cross_entropy(logits, batch["y"], mask), {"accuracy": losses.accuracy(logits, batch["y"], mask),
                                                               **tasks.example_weight(mask)}

    def final_eval(params):
        right = (sentiment.predict(model, params, data["test"]["x"], L, config.batch_size) > 0.5) == data["test"]["y"]
        contrast = right[data["test"]["contrast"]]  # "A , but B" reviews: B decides
        return {"test_accuracy": float(right.mean()), "accuracy_contrast": float(contrast.mean()),
                "num_labels": len(keep), "num_params": models.num_params(params)}

    return Task(init_params=model.init, loss_fn=loss_fn,
                train_iterator=batching.TrainIterator(train, min(config.batch_size, len(keep)), seed=config.seed,
                                                      pad_to=L),
                eval_batches=lambda: batching.eval_batches(batching.ArraySource(valid), config.batch_size, pad_to=L),
                final_eval=final_eval, reference={"chance": 0.5})  # the validation set selects, final_eval tests


def pretrain_task(config, workdir, mlm: MaskedLM, tok) -> Task:
    xs = generated(config, tok, 2, config.data.num_unlabelled)["x"]  # their labels unused
    num_valid = min(len(xs) // 5, 512)
    train, valid = batching.ArraySource({"x": xs[num_valid:]}), batching.ArraySource({"x": xs[:num_valid]})
    L = max(len(x) for x in xs)

    def loss_fn(params, batch, key, train):
        return mlm.loss(params, batch["x"], batch["lengths"], key, deterministic=not train)

    def final_eval(params):
        if workdir is not None:
            save_params(Path(workdir) / "encoder.npz", params)
            tok.save(Path(workdir) / "vocab.json")  # the ids the encoder was trained on
        return {"num_unlabelled": len(xs), "num_params": models.num_params(params)}

    return Task(init_params=mlm.init, loss_fn=loss_fn,
                train_iterator=batching.TrainIterator(train, config.batch_size, seed=config.seed, pad_to=L),
                eval_batches=lambda: batching.eval_batches(valid, config.batch_size, pad_to=L),
                final_eval=final_eval, reference={"chance_masked_word": 1 / tok.vocab_size})


def combine(config, workdir, results: dict) -> dict:
    workdir = Path(workdir)

    def extra(runs):
        rs = [r["metrics"] for r in runs]
        return {"accuracy_contrast_mean": float(np.mean([r["accuracy_contrast"] for r in rs])),
                "selected_step_per_seed": [r["steps"]["params_from"] for r in runs]}

    table = label_fractions.collect(config, results, accuracy=lambda r: r["metrics"]["test_accuracy"],
                                    num_labels=lambda r: r["metrics"]["num_labels"], extra=extra)
    rows = [[*label_fractions.row(m), f"{100 * m['accuracy_contrast_mean']:.1f}",
             ", ".join(map(str, m["selected_step_per_seed"]))] for m in table.values()]
    pre = results.get("pretrain")
    combined = {
        "metrics": {f"test_accuracy_{n}": m["test_accuracy_mean"] for n, m in table.items()},
        "table": table,
        "pretrain": pre and {"metrics": pre["metrics"], "train_seconds": pre["timing"]["train_seconds"]},
        "reference": {"chance": 0.5, "source": "Devlin et al. 2019 (BERT): pretraining helps most with few labels"},
        "config": config.to_dict(),
        "timing": {"train_seconds": sum(r["timing"]["train_seconds"] for r in results.values())},
    }
    if jax.process_index() == 0:
        reporting.write_summary(workdir, combined, title="Masked-LM pretraining, then sentiment fine-tuning",
                                table=reporting.markdown_table(
                                    ["labels", "init", "test accuracy (%)", "contrast reviews (%)",
                                     "step chosen on validation"], rows))
        label_fractions.plot(table, config, workdir / "plots" / "accuracy.png",
                             x=lambda m: 100 * m["label_fraction"],
                             xlabel="labelled training reviews (% of the training set)",
                             title="Transformer encoder: from scratch vs masked-LM pretrained")
    return combined


if __name__ == "__main__":
    launcher.run(make_task, sub_runs=sub_runs, combine=combine)
