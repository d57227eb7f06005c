"""Few-label experiments: fine-tune at several label fractions, from scratch or pretrained, several seeds.

Shared by experiments/pretraining.py (autoencoders), mlm.py (masked LM) and masked_pretraining.py (MAE):

    subs = label_fractions.sub_runs(config, inits=("scratch", "pretrained"))   # one sub-run per seed x fraction x init
    keep = label_fractions.labelled_subset(y_train, config.data.label_fraction, config.seed)   # in make_task
    table = label_fractions.collect(config, results, accuracy=lambda r: r["metrics"]["accuracy"], ...)
    label_fractions.plot(table, config, workdir / "plots" / "accuracy.png")

The config holds `seeds`, `inits`, `data.label_fractions` (and optionally `fraction_num_steps`, one step count
per fraction); each sub-run gets `seed`, `init`, `data.label_fraction` (and `num_steps`). An experiment whose
pretraining is a sub-run of its own (the encoder saved to <workdir>/pretrain/encoder.npz, loaded by the
"pretrained" sub-runs) adds `pretrain_sub_run(config)` and uses `save_params` / `load_params`.
"""

from pathlib import Path
from typing import Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from experiments.summarize import plt
from seqmodels.training import ConfigError, validate


def run_name(fraction: float, init: str, seed: int) -> str:
    return f"labels{100 * fraction:g}pct_{init}_seed{seed}"


def labelled_subset(y: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Indices of round(fraction * n_c) examples of each class c (at least one), drawn with `seed`."""
    rng = np.random.default_rng(seed)
    picks = [rng.permutation(np.flatnonzero(y == c))[:max(1, round(fraction * np.sum(y == c)))]
             for c in np.unique(y)]
    return np.sort(np.concatenate(picks))


def sub_runs(config, inits: tuple[str, ...]) -> dict[str, ml_collections.ConfigDict]:
    """{run_name: sub-config}, seed by seed (a run cut short leaves whole seeds), then fraction, then init; each
    a copy of `config` with seed, init, data.label_fraction (and num_steps from fraction_num_steps) set."""
    if not config.seeds or not config.inits:
        raise ConfigError(f"seeds, inits: expected at least one value each, got {config.seeds!r}, {config.inits!r}")
    for init in config.inits:
        validate.choice("inits", init, inits)
    for f in config.data.label_fractions:
        validate.in_range("data.label_fractions", validate.positive("data.label_fractions", f), 0.0, 1.0)
    steps = tuple(config.get("fraction_num_steps") or ()) or (config.num_steps,) * len(config.data.label_fractions)
    if len(steps) != len(config.data.label_fractions):
        raise ConfigError(f"fraction_num_steps: expected one step count per label fraction "
                          f"{tuple(config.data.label_fractions)} (or () for num_steps), got {steps}")
    subs = {}
    for seed in config.seeds:
        for fraction, num_steps in zip(config.data.label_fractions, steps):
            for init in config.inits:
                sub = ml_collections.ConfigDict(config.to_dict())
                sub.seed, sub.init, sub.data.label_fraction = int(seed), init, float(fraction)
                sub.num_steps = validate.positive("fraction_num_steps", num_steps, integer=True)
                validate.train_config(sub)
                subs[run_name(fraction, init, seed)] = sub
    return subs


def pretrain_sub_run(config) -> ml_collections.ConfigDict:
    """The "pretrain" sub-run's config: stage "pretrain", config.pretrain's fields over the shared ones (its
    `optimizer` dict over config.optimizer)."""
    pre = ml_collections.ConfigDict(config.to_dict())
    pre.stage = "pretrain"
    pre.update({k: v for k, v in config.pretrain.items() if k != "optimizer"})
    pre.optimizer.update(config.pretrain.optimizer)
    validate.train_config(pre)
    return pre


def collect(config, results: dict, *, accuracy: Callable[[dict], float], num_labels: Callable[[dict], int],
            extra: Callable[[list], dict] | None = None) -> dict:
    """{"<f>%_<init>": label_fraction, init, num_labels, test_accuracy_mean / _std / _per_seed, **extra(runs)}
    over config.seeds, from the sub-runs' results (`accuracy(result)`, `num_labels(result)`)."""
    table = {}
    for fraction in config.data.label_fractions:
        for init in config.inits:
            runs = [results[run_name(fraction, init, s)] for s in config.seeds]
            accs = [float(accuracy(r)) for r in runs]
            table[f"{100 * fraction:g}%_{init}"] = {
                "label_fraction": fraction, "init": init, "num_labels": int(num_labels(runs[0])),
                "test_accuracy_mean": float(np.mean(accs)), "test_accuracy_std": float(np.std(accs)),
                "test_accuracy_per_seed": accs, **(extra(runs) if extra else {})}
    return table


def row(entry: dict) -> list[str]:
    """The first cells of a table row: labels (count), init, test accuracy (%) mean +- std."""
    return [f"{100 * entry['label_fraction']:g}% ({entry['num_labels']})", entry["init"],
            f"{100 * entry['test_accuracy_mean']:.1f} +- {100 * entry['test_accuracy_std']:.1f}"]


def plot(table: dict, config, path: Path, *, x=lambda m: m["num_labels"], xlabel="labelled training examples",
         title="random init vs pretrained") -> None:
    """Test accuracy (mean +- std over seeds) against the labels used, one curve per init."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for init in config.inits:
        rows = [m for m in table.values() if m["init"] == init]
        ax.errorbar([x(m) for m in rows], [100 * m["test_accuracy_mean"] for m in rows],
                    yerr=[100 * m["test_accuracy_std"] for m in rows], marker="o", capsize=3, label=init)
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"test accuracy (%), mean +- std of {len(config.seeds)} seeds")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def save_params(path: Path, params) -> None:
    flat = jax.tree_util.tree_flatten_with_path(params)[0]
    np.savez(path, **{jax.tree_util.keystr(k): np.asarray(v) for k, v in flat})


def load_params(path: Path, template, experiment: str):
    """The arrays of `path` (save_params) in the structure of `template`, shapes checked."""
    if not path.exists():
        raise ConfigError(f"{path} is missing: fine-tuning starts from the encoder of experiments.{experiment}'s "
                          f"'pretrain' sub-run (run the whole experiment, or inits=('scratch',))")
    saved = np.load(path)

    def one(k, v):
        if saved[jax.tree_util.keystr(k)].shape != v.shape:
            raise ConfigError(f"{path}: {jax.tree_util.keystr(k)} has shape {saved[jax.tree_util.keystr(k)].shape}, "
                              f"the model's {v.shape}; the config's model section must be the pretrained one's")
        return jnp.asarray(saved[jax.tree_util.keystr(k)])

    return jax.tree_util.tree_map_with_path(one, template)
