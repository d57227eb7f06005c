"""MLP vs 2-D CNN on handwritten digits: scikit-learn's 8x8 digits, or MNIST when prepared with TFDS.

    python -m experiments.cnn_digits --workdir=workdirs/cnn_digits
    python -m experiments.cnn_digits --workdir=workdirs/cnn_mnist --config=experiments/configs/cnn_digits.py:mnist

Images reach the registry (experiments/models.py) as sequences of their rows,
x [T=H, D=W]: `logistic` and `mlp` flatten them, `cnn2d` reads one as a grey
image (conv 3x3 -> ReLU -> 2x2 max pool, twice, then a dense read-out:
seqmodels/models/cnn2d.py). Every model of `model.names` is trained once per
seed (`num_seeds` seeds from `seed` on: init and batch order; the data split
is fixed), each in its own sub-workdir <model>_seed<s>/ through the shared
shell (launcher.run with sub_runs), and `combine` writes results.json (test
accuracy mean and std over seeds, parameter counts), the accuracy curves, and
copies the first seed's pictures to plots/: <model>_first_layer.png (the
CNN's 3x3 kernels; the MLP's hidden units' weights as H x W images) and
cnn2d_feature_maps.png (test digits and their first two blocks' maps).
`data.test_shift = s` moves every test image s pixels down and right (the
`:shifted` variant): the models are trained on centred digits only, so this
measures how far weight sharing and pooling buy robustness to translation.
"""

import functools
import shutil
from pathlib import Path

import jax
import ml_collections
import numpy as np

from experiments import launcher, models, summarize as reporting, tasks
from experiments.summarize import plt
from seqmodels.data import packaged, real
from seqmodels.models.cnn2d import CNN2D
from seqmodels.models.mlp import MLP
from seqmodels.training import ConfigError, Task, validate

NUM_CLASSES = 10
SOURCES = ("digits", "mnist")

@tasks.cached_per_data_config
def load_data(config) -> dict:
    """{'train', 'test'}: {'x': [N, H, W] float32 in [0, 1], 'y': [N] int32} of `data.source`."""
    d = config.data
    source = validate.choice("data.source", d.source, SOURCES)
    if source == "digits":
        data = packaged.digits(test_fraction=validate.in_range("data.test_fraction", d.test_fraction, 0.0, 1.0),
                               seed=d.split_seed)
    else:
        limits = {s: validate.non_negative(f"data.num_{s}", d[f"num_{s}"], integer=True) or None
                  for s in ("train", "test")}
        data = {s: real.mnist(s, limit=limits[s], data_dir=d.data_dir or None) for s in ("train", "test")}
    shift = validate.non_negative("data.test_shift", d.get("test_shift", 0), integer=True)
    if shift:
        data = {"train": data["train"], "test": {**data["test"], "x": shifted(data["test"]["x"], shift)}}
    return data


def shifted(xs: np.ndarray, pixels: int) -> np.ndarray:
    """Images [N, H, W] moved `pixels` down and right, zeros entering (a test of translation robustness)."""
    out = np.zeros_like(xs)
    out[:, pixels:, pixels:] = xs[:, :xs.shape[1] - pixels, :xs.shape[2] - pixels]
    return out


def spec(data: dict) -> models.Spec:
    _, h, w = data["train"]["x"].shape
    return models.Spec(input_size=w, output_size=NUM_CLASSES, output="class", seq_len=h)  # rows as frames


def sub_runs(config) -> dict[str, ml_collections.ConfigDict]:
    """<model>_seed<s> for every model of model.names and seed s = seed, ..., seed + num_seeds - 1: the shared
    fields with `model` = {name, <name>: its section}. Every model is built here first (config errors before
    any training)."""
    num_seeds = validate.positive("num_seeds", config.num_seeds, integer=True)
    image = (8, 8) if config.data.source == "digits" else (28, 28)
    subs = {}
    for name in models.names(config.model):
        models.build(config.model, models.Spec(image[1], NUM_CLASSES, "class", seq_len=image[0]), name)
        for seed in range(config.seed, config.seed + num_seeds):
            subs[f"{name}_seed{seed}"] = models.sub_config(config, name, seed=seed)
    return subs


def setup(config):
    """(model, data) of a sub-run's config."""
    data = load_data(config)
    return models.build(config.model, spec(data)), data


def make_task(config, workdir=None) -> Task:
    """The Task of one model and seed (`config` is a sub-run's config)."""
    model, data = setup(config)
    if config.batch_size > len(data["train"]["y"]):
        raise ConfigError(f"batch_size: {config.batch_size} is more than the {len(data['train']['y'])} training "
                          f"images")

    loss_fn = functools.partial(tasks.classification_loss, model, with_lengths=False)  # fixed-size inputs

    task = tasks.array_task(config, model, loss_fn, data["train"], data["test"], reference={"chance": 0.1})
    count = task.final_eval

    def final_eval(params):
        if workdir is not None and jax.process_index() == 0:
            plot_first_layer(model, params, Path(workdir) / "plots" / "first_layer.png")
            if isinstance(model, CNN2D):
                plot_feature_maps(model, params, data["test"]["x"][:4], Path(workdir) / "plots" / "feature_maps.png")
        return count(params)

    task.final_eval = final_eval
    return task


# --------------------------------------------------------------------------- pictures


def _image_grid(images, titles, path: Path, *, ncols: int, title: str, cmap="gray", symmetric=False):
    nrows = -(-len(images) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.2 * ncols, 1.3 * nrows + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, label in zip(axes.flat, images, titles):
        lim = float(np.abs(image).max()) or 1.0
        ax.imshow(image, cmap=cmap, vmin=-lim if symmetric else None, vmax=lim if symmetric else None)
        ax.set_title(label, fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_first_layer(model, params, path: Path) -> None:
    """The CNN's first-layer kernels [K, K], or the MLP's first 32 hidden units' weights as H x W images."""
    if isinstance(model, CNN2D):
        kernel = np.asarray(params["convs"][0]["kernel"])[:, :, 0, :]  # [K, K, C_1]
        images, kind = [kernel[..., c] for c in range(kernel.shape[-1])], "CNN first-layer 3x3 kernels"
    elif isinstance(model, MLP) and model.hidden_sizes:
        w = np.asarray(params[0]["w"])  # [H W, hidden]
        side = int(round(np.sqrt(w.shape[0])))
        images, kind = [w[:, j].reshape(side, side) for j in range(min(32, w.shape[1]))], "MLP first-layer weights"
    else:
        return
    _image_grid(images, [str(i) for i in range(len(images))], path, ncols=8, title=f"{kind} (red +, blue -)",
                cmap="bwr", symmetric=True)


def plot_feature_maps(model: CNN2D, params, xs, path: Path) -> None:
    """Rows: a test image, then its first block's maps, then the second's (first 8 channels each)."""
    images, titles = [], []
    for x in xs:
        maps = model.features(params, x)
        images.append(np.asarray(x))
        titles.append("input")
        for level, m in enumerate(maps[:2]):
            for c in range(min(8, m.shape[-1])):
                images.append(np.asarray(m[..., c]))
                titles.append(f"block {level + 1} ch {c}")
    per_row = 1 + sum(min(8, m.shape[-1]) for m in model.features(params, xs[0])[:2])
    _image_grid(images, titles, path, ncols=per_row, title="CNN feature maps after ReLU (before pooling)",
                cmap="viridis")


# --------------------------------------------------------------------------- the table


def combine(config, workdir, results: dict) -> dict:
    """Mean and std over seeds per model -> <workdir>/results.json, the table (printed), the plots."""
    workdir = Path(workdir)
    table, curves = {}, {}
    for name in models.names(config.model):
        runs = {sub: r for sub, r in results.items() if sub.rsplit("_seed", 1)[0] == name}
        accs = [r["metrics"]["accuracy"] for r in runs.values()]
        table[name] = {
            "test_accuracy_mean": float(np.mean(accs)), "test_accuracy_std": float(np.std(accs)),
            "test_accuracy_per_seed": accs, "test_loss_mean": float(np.mean([r["metrics"]["loss"]
                                                                             for r in runs.values()])),
            "num_params": int(next(iter(runs.values()))["metrics"]["num_params"]),
            "train_seconds_per_seed": float(np.mean([r["timing"]["train_seconds"] for r in runs.values()])),
            "steps": next(iter(runs.values()))["steps"]["last"],
        }
        first = workdir / next(iter(runs))
        curves[name] = reporting.eval_curve(first, "accuracy")
        for picture in ("first_layer", "feature_maps"):
            if (first / "plots" / f"{picture}.png").exists() and jax.process_index() == 0:
                (workdir / "plots").mkdir(parents=True, exist_ok=True)
                shutil.copy(first / "plots" / f"{picture}.png", workdir / "plots" / f"{name}_{picture}.png")
    combined = {
        "metrics": {f"test_accuracy_{n}": m["test_accuracy_mean"] for n, m in table.items()},
        "models": table,
        "data": {"source": config.data.source, "train": len(load_data(config)["train"]["y"]),
                 "test": len(load_data(config)["test"]["y"])},
        "config": config.to_dict(),
        "timing": {"train_seconds": sum(r["timing"]["train_seconds"] for r in results.values())},
    }
    rows = [[n, f"{100 * m['test_accuracy_mean']:.2f} +- {100 * m['test_accuracy_std']:.2f}%",
             f"{m['num_params']:,}", m["steps"], f"{m['train_seconds_per_seed']:.1f}"] for n, m in table.items()]
    text = reporting.markdown_table(["model", "test accuracy (mean +- std over seeds)", "parameters", "steps",
                                     "train s / seed"], rows)
    if jax.process_index() == 0:
        reporting.write_summary(workdir, combined, title=f"MLP vs CNN on {config.data.source}", table=text)
        reporting.plot_curves({n: (s, [100 * v for v in vs]) for n, (s, vs) in curves.items()},
                              workdir / "plots" / "accuracy_curves.png", ylabel="test accuracy (%)",
                              title=f"{config.data.source}: test accuracy (seed {config.seed})")
    return combined


if __name__ == "__main__":
    launcher.run(make_task, sub_runs=sub_runs, combine=combine)
