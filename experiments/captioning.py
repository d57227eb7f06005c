"""Image captioning with and without attention: digit canvases described in words.

    python -m experiments.captioning --workdir=workdirs/captioning [--config.model.names=attention]

Data (seqmodels/data/captions.py): 2-3 of scikit-learn's 8x8 digits on a 3 x 3 grid canvas, some shrunk,
captioned in reading order with their relations ("small two above right of five left of one"); the test
canvases are made of held-out digit images. Model (seqmodels/models/captioner.py): a CNN gives a grid of
region vectors and a summary vector, a GRU decoder writes the caption. Every model of `model.names` (a
section each: `attention` = bahdanau | luong_* | none, sizes) is trained in <workdir>/<name>/ through the
seq2seq platform (experiments/seq2seq.py: teacher-forced loss, greedy / beam decoding, exact match and
sacrebleu BLEU); `combine` writes results.json, the table (also exact match by number of digits), a bar
chart and the loss curves. Each attention model draws plots/attention.png: where it looked for each word.
"""

import shutil
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from experiments import launcher, models, seq2seq, summarize as reporting, tasks
from experiments.summarize import plt
from seqmodels.data import captions
from seqmodels.models.captioner import captioner
from seqmodels.training import ConfigError, Task, validate

MODEL_FIELDS = ("attention", "hidden_size", "embed_dim", "cell", "channels", "kernel_size", "pool_size",
                "positions")
MAX_LEN = captions.MAX_WORDS + 2  # decoded tokens: the words and EOS

@tasks.cached_per_data_config
def load_data(config) -> dict:
    """{'train', 'test'}: seq2seq pairs (src images [N, H, W], tgt BOS words EOS), plus 'raw' (the canvases)."""
    d = config.data
    for field in ("num_train", "num_test", "cell", "min_digits", "max_digits", "small_size"):
        validate.positive(f"data.{field}", d[field], integer=True)
    validate.in_range("data.small_prob", d.small_prob, 0.0, 1.0)
    layout = dict(grid=(d.grid, d.grid), cell=d.cell, min_digits=d.min_digits, max_digits=d.max_digits,
                  small_prob=d.small_prob, small_size=d.small_size)
    try:
        raw = captions.digit_captions(d.num_train, d.num_test, seed=d.seed, split_seed=d.split_seed, **layout)
    except ValueError as e:
        raise ConfigError(f"data: {e}") from None
    return {"raw": raw, **{split: seq2seq.pairs(raw[split]["x"], [
        ids[:n] for ids, n in zip(*captions.encode(raw[split]["captions"]))]) for split in ("train", "test")}}


def build(config, name: str | None = None):
    """The Captioner of section model.<name> (default model.name), for the data's canvas size."""
    name = name or config.model.name
    cfg = models.section(config.model, name)
    unknown = sorted(set(cfg) - set(MODEL_FIELDS))
    if unknown:
        raise ConfigError(f"model.{name}: unknown field(s) {unknown}; known: {list(MODEL_FIELDS)}")
    side = config.data.grid * config.data.cell
    try:
        return captioner((side, side), len(captions.VOCAB), **cfg)
    except ValueError as e:
        raise ConfigError(f"model.{name}: {e}") from None


def sub_runs(config) -> dict:
    """<name>/ for every model of model.names (each built here first: config errors before any training)."""
    subs = {}
    for name in models.names(config.model):
        build(config, name)
        subs[name] = models.sub_config(config, name)
    return subs


def detokenize(ids) -> str:
    return " ".join(captions.VOCAB[i] for i in ids)


def baseline(data: dict) -> dict:
    """The most frequent training caption written for every test image: exact match and BLEU."""
    train = [detokenize(seq2seq.strip(t)) for t in data["train"]["tgt"]]
    refs = [detokenize(seq2seq.strip(t)) for t in data["test"]["tgt"]]
    words, counts = np.unique(train, return_counts=True)
    guess = str(words[counts.argmax()])
    return {"most_frequent_caption": guess, "exact_match": float(np.mean([r == guess for r in refs])),
            "bleu": seq2seq.bleu([guess] * len(refs), refs)}


def make_task(config, workdir=None) -> Task:
    """The Task of one model (`config` is a sub-run's config)."""
    model, data = build(config), load_data(config)
    beams = [validate.positive("eval.beam_widths", int(b), integer=True) for b in config.eval.beam_widths]
    digits_per_image = (data["raw"]["test"]["labels"] >= 0).sum(1)
    refs = [seq2seq.strip(t) for t in data["test"]["tgt"]]

    def final_eval(params):
        greedy = seq2seq.evaluate(model, params, data["test"], detokenize, max_len=MAX_LEN)  # the reported figures
        out, hyps = {"exact_match": greedy["exact_match"], "bleu": greedy["bleu"]}, greedy["hypotheses"]
        for k in np.unique(digits_per_image):  # exact match by the number of digits on the canvas
            out[f"exact_match_{k}_digits"] = float(np.mean([h == r for h, r, n in zip(hyps, refs, digits_per_image)
                                                            if n == k]))
        for beam in (b for b in beams if b > 1):
            res = seq2seq.evaluate(model, params, data["test"], detokenize, beam_width=beam, max_len=MAX_LEN)
            out.update({f"exact_match_beam{beam}": res["exact_match"], f"bleu_beam{beam}": res["bleu"]})
        if workdir is not None and jax.process_index() == 0 and model.decoder.attention != "none":
            n = config.eval.num_attention_images
            plot_attention(model, params, data["test"]["src"][:n], hyps[:n], data["raw"]["test"]["captions"][:n],
                           Path(workdir) / "plots" / "attention.png")
        return out

    return seq2seq.task(config, model, data["train"], data["test"], reference=baseline(data), final_eval=final_eval)


# --------------------------------------------------------------------------- pictures


def plot_attention(model, params, images, outputs, truths, path: Path) -> Path:
    """One row per test image: the image (its true caption above), then per generated word (and <eos>) the
    attention a_t over the
    regions, upsampled onto the image (Xu et al. 2015's Figure 3). Row t of the teacher-forced alignment on
    [BOS] + output is the attention used to emit output word t."""
    grid = model.encoder.grid_size
    rows = []
    for x, out, truth in zip(images, outputs, truths):
        tgt = jnp.asarray([captions.BOS_ID, *out, captions.EOS_ID], jnp.int32)
        _, a = model.apply(params, jnp.asarray(x), tgt, deterministic=True, return_alignment=True)  # [T, R]
        words = [captions.VOCAB[i] for i in out] + ["<eos>"]
        rows.append((np.asarray(x), np.asarray(a[:len(words)]).reshape(len(words), *grid), words, truth))
    ncols = 1 + max(len(r[2]) for r in rows)
    fig, axes = plt.subplots(len(rows), ncols, figsize=(1.25 * ncols, 1.4 * len(rows)), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for axs, (x, maps, words, truth) in zip(axes, rows):
        axs[0].imshow(x, cmap="gray")
        axs[0].set_title(truth.replace(" of ", " of\n", 1), fontsize=6)
        scale = (x.shape[0] // grid[0], x.shape[1] // grid[1])
        for ax, m, word in zip(axs[1:], maps, words):
            up = np.kron(m / max(m.max(), 1e-9), np.ones(scale))  # [H_L P, W_L P], peak 1
            ax.imshow(x, cmap="gray")
            ax.imshow(up, cmap="inferno", alpha=0.6, extent=(-0.5, up.shape[1] - 0.5, up.shape[0] - 0.5, -0.5))
            ax.set_title(word, fontsize=8)
    fig.suptitle("true caption over each image; then attention over the regions for each generated word "
                 "(bright = most weight)", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=70)
    plt.close(fig)
    return path


def plot_scores(table: dict, path: Path, reference: dict) -> Path:
    """Grouped bars: exact match (%) and BLEU of every model, the most-frequent-caption baseline dashed."""
    names = list(table)
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.5))
    for ax, (metric, label) in zip(axes, (("exact_match", "exact match (%)"), ("bleu", "BLEU"))):
        scale = 100 if metric == "exact_match" else 1
        values = [scale * table[n][metric] for n in names]
        ax.bar(names, values, color=[f"C{i}" for i in range(len(names))])
        for i, v in enumerate(values):
            ax.text(i, v, f"{v:.1f}", ha="center", va="bottom", fontsize=8)
        ax.axhline(scale * reference[metric], color="gray", ls="--", lw=1, label="most frequent caption")
        ax.set_ylabel(label)
        ax.set_ylim(0, 105)
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle("held-out digit canvases, greedy decoding", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


# --------------------------------------------------------------------------- the table


def combine(config, workdir, results: dict) -> dict:
    """Every model's scores -> <workdir>/results.json, the table (printed), the plots."""
    workdir = Path(workdir)
    reference = next(iter(results.values()))["reference"]
    table = {}
    for name, r in results.items():
        m = r["metrics"]
        table[name] = {**{k: v for k, v in m.items() if k.startswith(("exact_match", "bleu"))},
                       "attention": config.model[name].attention, "test_loss": m["loss"],
                       "num_params": int(m["num_params"]), "train_seconds": r["timing"]["train_seconds"],
                       "steps": r["steps"]["last"]}
        if (workdir / name / "plots" / "attention.png").exists() and jax.process_index() == 0:
            (workdir / "plots").mkdir(parents=True, exist_ok=True)
            shutil.copy(workdir / name / "plots" / "attention.png", workdir / "plots" / f"attention_{name}.png")
    beams = [int(b) for b in config.eval.beam_widths if int(b) > 1]
    digit_counts = sorted(int(k.split("_")[2]) for k in next(iter(table.values())) if k.endswith("_digits"))
    header = ["model", "attention", "exact match", *[f"exact, {k} digits" for k in digit_counts], "BLEU",
              *[f"exact / BLEU, beam {b}" for b in beams], "test loss", "parameters", "train s"]
    rows = [[n, t["attention"], f"{100 * t['exact_match']:.1f}%",
             *[f"{100 * t[f'exact_match_{k}_digits']:.1f}%" for k in digit_counts], f"{t['bleu']:.1f}",
             *[f"{100 * t[f'exact_match_beam{b}']:.1f}% / {t[f'bleu_beam{b}']:.1f}" for b in beams],
             f"{t['test_loss']:.3f}", f"{t['num_params']:,}", f"{t['train_seconds']:.0f}"] for n, t in table.items()]
    rows.append(["most frequent caption", "-", f"{100 * reference['exact_match']:.1f}%", *["-"] * len(digit_counts),
                 f"{reference['bleu']:.1f}", *["-"] * len(beams), "-", "-", "-"])
    data = load_data(config)
    combined = {
        "metrics": {f"{m}_{n}": t[m] for n, t in table.items() for m in ("exact_match", "bleu")},
        "models": table, "reference": reference,
        "data": {"train": len(data["train"]["tgt"]), "test": len(data["test"]["tgt"]),
                 "examples": data["raw"]["test"]["captions"][:5]},
        "config": config.to_dict(),
        "timing": {"train_seconds": sum(r["timing"]["train_seconds"] for r in results.values())},
    }
    if jax.process_index() == 0:
        text = reporting.markdown_table(header, rows)
        reporting.write_summary(workdir, combined, title="Captioning digit canvases", table=text)
        plot_scores(table, workdir / "plots" / "scores.png", reference)
        curves = {n: reporting.eval_curve(workdir / n, "loss") for n in table}
        reporting.plot_curves(curves, workdir / "plots" / "test_loss.png", ylabel="test cross-entropy (teacher forced)",
                              title="captioning: test loss per word")
    return combined


if __name__ == "__main__":
    launcher.run(make_task, sub_runs=sub_runs, combine=combine)
