"""Regularising a wide MLP on a few hundred digits: none, early stopping, L1, L2 and dropout, several seeds.

    python -m experiments.regularization --workdir=workdirs/regularization \
        [--config=experiments/configs/regularization.py:small]

A wide MLP (experiments/models.py, kind "mlp") learns `data.num_train` of
scikit-learn's 8x8 digits (x [T=8, D=8]) until it fits them; a validation
set (`data.num_valid` other training images) and the test set (359 images)
are evaluated beside the training set every `eval_every` steps, so the
curves show the gap. The methods are the config's model sections
(`config.model.names`), each trained with every seed of `config.seeds`
(sub-runs <workdir>/<method>_seed<s>, as experiments/mnist1d.py):

    none            the plain network
    early_stopping  the same, stopped after `patience` evaluations without a lower validation loss; the
                    reported parameters are those of the best validation loss (restore_best)
    l1, l2          the optimiser's penalties: g <- g + l1 sign(w), g <- g + l2 w (weights only, not biases)
    dropout         drop_rate on the hidden activations (seqmodels.nn.dropout)

Every other method reports its last step. `combine` writes <workdir>/results.json
(test accuracy mean +- std over seeds per method) and the plots: train vs
validation loss (plots/curves.png), the test accuracies
(plots/accuracy.png) and the trained hidden weights' histograms
(plots/weights.png). The task is experiments/depth.py's `make_task`.
"""

from pathlib import Path

import jax
import ml_collections
import numpy as np

from experiments import depth, launcher, models, summarize as reporting
from experiments.summarize import plt
from seqmodels.training import validate


def sub_runs(config) -> dict[str, ml_collections.ConfigDict]:
    """One sub-run per (method, seed): `<method>_seed<s>`. Every run watches the validation loss (the task names
    its eval sets); the methods of `config.stop_early` stop with `config.patience` and restore the best."""
    seeds = [validate.non_negative("seeds", s, integer=True) for s in config.seeds]
    stop_early = [n.strip() for n in config.stop_early.split(",") if n.strip()]
    subs = {}
    for name in models.names(config.model):
        early = name in stop_early
        for seed in seeds:
            subs[f"{name}_seed{seed}"] = depth.sub_config(
                config, name, seed=seed, restore_best=early,
                early_stopping=dict(metric="valid_loss", mode="min", patience=config.patience if early else 0))
    return subs


def combine(config, workdir, results: dict) -> dict:
    workdir = Path(workdir)
    table = {}
    for name in models.names(config.model):
        runs = {s: results[f"{name}_seed{s}"] for s in config.seeds}
        acc = np.asarray([r["metrics"]["test_accuracy"] for r in runs.values()])
        table[name] = {
            "test_accuracy_mean": float(acc.mean()),
            "test_accuracy_std": float(acc.std(ddof=1)) if len(acc) > 1 else 0.0,
            "test_accuracy_per_seed": acc.tolist(),
            "train_accuracy_mean": float(np.mean([r["metrics"]["train_accuracy"] for r in runs.values()])),
            "valid_accuracy_mean": float(np.mean([r["metrics"]["valid_accuracy"] for r in runs.values()])),
            "fraction_weights_below_1e-3": float(np.mean([r["metrics"]["fraction_weights_below_1e-3"]
                                                          for r in runs.values()])),
            "params_from_step": [r["steps"]["params_from"] for r in runs.values()],
            "train_seconds": float(sum(r["timing"]["train_seconds"] for r in runs.values())),
        }
    combined = {"metrics": {f"test_accuracy_{n}": m["test_accuracy_mean"] for n, m in table.items()},
                "methods": table, "seeds": list(config.seeds), "config": config.to_dict(),
                "reference": {"chance": 1 / depth.NUM_CLASSES},
                "timing": {"train_seconds": sum(m["train_seconds"] for m in table.values())}}
    rows = [[n, f"{100 * m['test_accuracy_mean']:.1f} +- {100 * m['test_accuracy_std']:.1f}%",
             f"{100 * m['train_accuracy_mean']:.1f}%", f"{100 * m['fraction_weights_below_1e-3']:.1f}%",
             "/".join(str(s) for s in m["params_from_step"])] for n, m in table.items()]
    if jax.process_index() == 0:
        reporting.write_summary(workdir, combined, title="Regularising a wide MLP on digits",
                                table=reporting.markdown_table(["method", "test accuracy (mean +- std)",
                                                                "train accuracy", "|w| < 1e-3", "params of step"],
                                                               rows))
        write_plots(config, workdir, table)
    return combined


def write_plots(config, workdir: Path, table: dict) -> None:
    names, seed = list(table), config.seeds[0]
    curves = {}
    for name in names:
        for split, style in (("train", "--"), ("valid", "-")):
            steps, values = reporting.eval_curve(workdir / f"{name}_seed{seed}", f"{split}_loss")  # eval records
            curves[f"{name} {split}"] = (steps, values, style)
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for i, name in enumerate(names):
        for split in ("train", "valid"):
            steps, values, style = curves[f"{name} {split}"]
            ax.plot(steps, values, style, color=f"C{i}", label=f"{name} ({split})")
    ax.set_yscale("log")
    ax.set(xlabel="step", ylabel="cross-entropy (whole set, no dropout)",
           title=f"train (dashed) vs validation (solid), seed {seed}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    (workdir / "plots").mkdir(parents=True, exist_ok=True)
    fig.savefig(workdir / "plots" / "curves.png", dpi=90)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 3.8))
    means = [100 * table[n]["test_accuracy_mean"] for n in names]
    ax.bar(names, means, yerr=[100 * table[n]["test_accuracy_std"] for n in names], capsize=4, color="tab:blue")
    for i, n in enumerate(names):
        ax.scatter([i] * len(config.seeds), [100 * a for a in table[n]["test_accuracy_per_seed"]], color="k", s=8,
                   zorder=3)
    ax.set_ylim(min(means) - 8, 100)
    ax.set(ylabel="test accuracy (%)", title=f"mean +- std over seeds {list(config.seeds)}")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(workdir / "plots" / "accuracy.png", dpi=90)
    plt.close(fig)

    fig, axes = plt.subplots(1, len(names), figsize=(2.6 * len(names), 2.8), sharex=True, squeeze=False)
    for ax, name in zip(axes[0], names):
        path = workdir / f"{name}_seed{seed}" / "weights.npy"
        if path.exists():
            ax.hist(np.load(path), bins=np.linspace(-0.25, 0.25, 81), color="tab:blue", log=True)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("hidden weight")
    axes[0][0].set_ylabel("count (log)")
    fig.suptitle(f"trained hidden-layer weights, seed {seed}", fontsize=10)
    fig.tight_layout()
    fig.savefig(workdir / "plots" / "weights.png", dpi=90)
    plt.close(fig)


if __name__ == "__main__":
    launcher.run(depth.make_task, sub_runs=sub_runs, combine=combine)
