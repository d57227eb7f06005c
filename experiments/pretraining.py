"""Greedy layer-wise autoencoder pretraining (Bengio et al., 2007) against random init, with few labels.

    python -m experiments.pretraining --workdir=workdirs/pretraining

scikit-learn's 8x8 digits reach the registry's `mlp` as x [T=8, D=8] (flattened to 64). For every seed,
label fraction (1%, 10%, 100% of the training labels, stratified) and init, one sub-run fine-tunes the
whole MLP on the labelled images: "random" starts from the registry's init, "pretrained" puts the
encoders of denoising autoencoders trained greedily on ALL training images (no labels:
`seqmodels.models.autoencoder.pretrain_greedy`) in its hidden layers; the read-out starts random either
way. The codes use the MLP's activation (relu). `combine` writes the table of test accuracy (mean +- std
over seeds), the plot, and the first layer's pretrained filters.
"""

import functools
import dataclasses
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from experiments import label_fractions, launcher, models, summarize as reporting, tasks
from experiments.summarize import plt
from seqmodels.data import packaged
from seqmodels.models import autoencoder
from seqmodels.training import ConfigError, Task, validate

NUM_CLASSES = 10
SPEC = models.Spec(input_size=8, output_size=NUM_CLASSES, output="class", seq_len=8)
INITS = ("random", "pretrained")


def _hidden(config) -> tuple[tuple[int, ...], str]:
    """The MLP's hidden sizes and activation, which the pretrained layers must match."""
    mlp = dict(config.model.mlp)
    if mlp.get("residual"):
        raise ConfigError("model.mlp.residual: pretrained layers are plain relu(W h + b) layers; use residual=False")
    return (mlp["hidden_size"],) * mlp.get("num_layers", 1), mlp.get("activation", "relu")


def sub_runs(config) -> dict[str, ml_collections.ConfigDict]:
    validate.choice("pretrain.corruption", config.pretrain.corruption, autoencoder.CORRUPTIONS)
    validate.choice("pretrain.output", config.pretrain.output, autoencoder.OUTPUTS)
    models.build(config.model, SPEC)
    _hidden(config)
    return label_fractions.sub_runs(config, INITS)


_DATA, _PRETRAINED = {}, {}  # shared by the sub-runs of one process


def load(config) -> dict:
    key = (config.data.test_fraction, config.data.split_seed)
    if key not in _DATA:
        _DATA[key] = packaged.digits(test_fraction=config.data.test_fraction, seed=config.data.split_seed)
    return _DATA[key]


def pretrained_layers(config, seed: int) -> tuple[list, list]:
    """(encoder layers, loss curves) of greedy pretraining on all training images, once per seed and config."""
    sizes, activation = _hidden(config)
    data = (config.data.test_fraction, config.data.split_seed)  # all training images: no label fraction
    key = json.dumps([config.pretrain.to_dict(), sizes, activation, seed, data], sort_keys=True, default=str)
    if key not in _PRETRAINED:
        p = config.pretrain
        x = load(config)["train"]["x"].reshape(-1, 64)
        layers, curves = autoencoder.pretrain_greedy(
            jax.random.key(seed), x, sizes, activation=activation, output=p.output, tied=p.tied,
            corruption=p.corruption, level=p.level, num_steps=p.num_steps, batch_size=p.batch_size,
            learning_rate=p.learning_rate)
        _PRETRAINED[key] = jax.tree.map(np.array, layers), curves  # numpy copies: the training loop donates params
    return _PRETRAINED[key]


def make_task(config, workdir=None) -> Task:
    data = load(config)
    keep = label_fractions.labelled_subset(data["train"]["y"], config.data.label_fraction, config.seed)
    train = {k: v[keep] for k, v in data["train"].items()}
    batch = ml_collections.ConfigDict({"batch_size": min(config.batch_size, len(keep)), "seed": config.seed})
    model = models.build(config.model, SPEC)

    layers = pretrained_layers(config, config.seed)[0] if config.init == "pretrained" else []

    def init_params(key):  # the registry's init, its hidden layers replaced by the pretrained ones
        params = model.init(key)
        shapes = [jax.tree.map(np.shape, p) for p in params[:len(layers)]]
        if shapes != [jax.tree.map(np.shape, p) for p in layers]:
            raise ConfigError(f"model.mlp: its first layers {shapes} do not match the pretrained ones")
        return [*jax.tree.map(jnp.asarray, layers), *params[len(layers):]]

    loss_fn = functools.partial(tasks.classification_loss, model, with_lengths=False)  # fixed-size inputs

    task = tasks.array_task(batch, model, loss_fn, train, data["test"],
                            reference={"chance": 1 / NUM_CLASSES, "num_labels": int(len(keep))})
    return dataclasses.replace(task, init_params=init_params)


def combine(config, workdir, results: dict) -> dict:
    workdir = Path(workdir)
    table = label_fractions.collect(config, results, accuracy=lambda r: r["metrics"]["accuracy"],
                                    num_labels=lambda r: r["reference"]["num_labels"])
    runs = {name: {"test_accuracy": r["metrics"]["accuracy"], "train_seconds": r["timing"]["train_seconds"]}
            for name, r in results.items()}
    curves = {}
    if "pretrained" in config.inits:
        for s in config.seeds:
            curves[f"seed{s}"] = [float(np.mean(c[-100:])) for c in pretrained_layers(config, s)[1]]
    combined = {
        "metrics": {f"test_accuracy_{n}": m["test_accuracy_mean"] for n, m in table.items()},
        "table": table, "runs": runs,
        "pretrain_final_loss_per_layer": curves,
        "reference": {"chance": 1 / NUM_CLASSES,
                      "source": "Bengio et al. 2007 / Erhan et al. 2010: pretraining helps most with few labels"},
        "config": config.to_dict(),
        "timing": {"train_seconds": sum(r["train_seconds"] for r in runs.values())},
    }
    if jax.process_index() == 0:
        reporting.write_summary(workdir, combined, title="Autoencoder pretraining on 8x8 digits",
                                table=reporting.markdown_table(["labels", "init", "test accuracy (%)"],
                                                               [label_fractions.row(m) for m in table.values()]))
        label_fractions.plot(table, config, workdir / "plots" / "accuracy.png", xlabel="labelled training images",
                             title="MLP on 8x8 digits: random init vs greedy AE pretraining")
        if "pretrained" in config.inits:
            plot_filters(pretrained_layers(config, config.seeds[0])[0][0]["w"], workdir / "plots" / "filters.png")
    return combined


def plot_filters(w, path: Path, num: int = 32) -> None:
    """The first pretrained layer's weights, one 8x8 image per hidden unit."""
    w = np.asarray(w)[:, :num]
    cols = 8
    fig, axes = plt.subplots(-(-w.shape[1] // cols), cols, figsize=(cols, -(-w.shape[1] // cols)))
    for i, ax in enumerate(np.ravel(axes)):
        if i < w.shape[1]:
            m = np.abs(w[:, i]).max()
            ax.imshow(w[:, i].reshape(8, 8), cmap="RdBu_r", vmin=-m, vmax=m)  # white = 0
        ax.axis("off")
    fig.suptitle("first-layer filters after denoising-autoencoder pretraining")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


if __name__ == "__main__":
    launcher.run(make_task, sub_runs=sub_runs, combine=combine)
