"""MNIST-1D (Greydanus & Kobak, ICML 2024): eight model families, one table.

    python -m experiments.mnist1d --workdir=workdirs/mnist1d
    python -m experiments.mnist1d --workdir=workdirs/mnist1d_shuffled \
        --config=experiments/configs/mnist1d.py:shuffled
    python -m experiments.mnist1d --workdir=workdirs/mnist1d_best --config=experiments/configs/mnist1d.py:best
    python -m experiments.mnist1d --workdir=workdirs/demo --config=experiments/configs/mnist1d.py:demo

(figures, runtimes and the variants: experiments/configs/mnist1d.py and
results/mnist1d/README.md). MNIST-1D is generated locally by the `mnist1d` package
(`seqmodels.data.packaged.mnist1d`): 4000 train / 1000 test sequences of
length 40, one channel, 10 classes. `data.shuffle=True` is the paper's
variant with the 40 positions permuted (one fixed permutation:
`data.permutation="notebook"`, the paper's benchmark notebook's, or
`"package"`, mnist1d's own), which destroys the spatial prior that CNNs
and RNNs rely on.

The models (`config.model.names`, comma-separated; each has its section
`config.model.<name>` of the registry, experiments/models.py), all reading
x: [T=40, 1] and giving 10 logits:

  logistic     dense 40 -> 10 on the flattened sequence
  mlp          h = relu(W_1 x + b_1); h = h + relu(W_2 h + b_2); logits = W_3 h + b_3,
               hidden 100 (the paper's MLPBase, residual second layer)
  cnn          3 strided Conv1D layers x 25 channels (kernels 5, 3, 3, stride 2,
               1 frame of zero padding each side: 40 -> 19 -> 10 -> 5), ReLU,
               flatten, dense (the paper's ConvBase)
  gru          bidirectional GRU, hidden 6, all 40 outputs [40, 12] flattened
               into a dense layer (the paper's GRU)
  lstm         the same with an LSTM cell
  tcn          TCN (Bai et al. 2018) residual blocks, dilations 1, 2, 4, 8,
               mean over time, dense head
  transformer  pre-norm Transformer encoder on patches of `patch_size` frames
               (x reshaped to [40 / p, p], projected to d_model, learned
               positions), mean-pooled, dense head
  mixer        MLP-Mixer on the same patches

One run trains the models one after another through the shared shell
(`launcher.run` with `sub_runs`), each in its own sub-workdir
`<workdir>/<name>/` (its own checkpoints, metrics, plots and results.json), so
an interrupted run resumes inside the model it was training and skips
finished ones. At the end `combine` writes `<workdir>/results.json` with each
model's test accuracy, runtime and the published reference, and the plots
(experiments/summarize.py: ours vs. published, eval accuracy against step),
and prints the table.

The paper's baselines are PyTorch modules with PyTorch's default init:
`init="torch"` draws weights and biases from U(-1/sqrt(fan_in), 1/sqrt(fan_in))
as nn.Linear / nn.Conv1d do, and every GRU/LSTM weight and bias from
U(-1/sqrt(H), 1/sqrt(H)) as nn.GRU does (the GRU has PyTorch's reset-after
convention), with nn.GRU's / nn.LSTM's second bias vector b_hh kept as
parameters of its own (it adds to b, so Adam moves those gate biases as a
sum of two; the GRU then has the notebook's 5134 parameters); `init="default"` keeps seqmodels' initialisers (lecun-normal
input weights, orthogonal recurrent weights, zero biases).

Protocol (the paper's): Adam lr 1e-2, batch 100, 6000 steps, the test set
evaluated every 250 steps; we report the test accuracy of the LAST step
(`restore_best=False`: choosing the best of 24 test evaluations would be
selection on the test set). `data.num_validation > 0` holds out the last N
training sequences as the eval set instead (the split the `:best` models
were chosen on); the test accuracy is then computed once at the end.
"""

from pathlib import Path

import functools
import jax
import ml_collections
import numpy as np

from experiments import launcher, models, summarize as reporting, tasks
from experiments.summarize import plt
from seqmodels.data import batching, packaged
from seqmodels.training import ConfigError, Task, validate

NUM_CLASSES = 10

# Greydanus & Kobak (ICML 2024), test accuracy; the human expert's figure is the paper's too.
PUBLISHED = {
    "plain": {"logistic": 0.32, "mlp": 0.68, "cnn": 0.94, "gru": 0.91, "human": 0.96},
    "shuffled": {"logistic": 0.32, "mlp": 0.68, "cnn": 0.56, "gru": 0.57, "human": 0.30},
}
REFERENCE = {
    "source": "Greydanus & Kobak, 'Scaling down deep learning with MNIST-1D', ICML 2024 (test accuracy)",
    "protocol": "Adam lr 1e-2, batch 100, 6000 steps; CNN 3 conv x 25 channels; GRU bidirectional hidden 6; "
                "MLP hidden 100",
    "published_plain": PUBLISHED["plain"],
    "published_shuffled": PUBLISHED["shuffled"],
}
# reshuffle: a new permutation every epoch; fixed: batches cut from the stored order, the same every epoch,
# as the paper's train.py does (bix = step * batch_size % N)
BATCH_ORDERS = ("reshuffle", "fixed")


def variant_name(config) -> str:
    return "shuffled" if config.data.shuffle else "plain"


@tasks.cached_per_data_config
def load_data(config) -> dict:
    """The MNIST-1D splits the config asks for: {'train', 'eval', 'test'} (eval is test unless num_validation)."""
    d = config.data
    validate.positive("data.num_samples", d.num_samples, integer=True)
    validate.non_negative("data.num_validation", d.num_validation, integer=True)
    permutation = validate.choice("data.permutation", d.get("permutation", "package"), packaged.MNIST1D_PERMUTATIONS)
    data = packaged.mnist1d(shuffle_positions=bool(d.shuffle), permutation=permutation, num_samples=d.num_samples)
    train, test = data["train"], data["test"]
    if d.num_validation:
        n = len(train["y"]) - d.num_validation
        if n < config.batch_size:
            raise ConfigError(f"data.num_validation: {d.num_validation} leaves {n} training sequences, "
                              f"fewer than one batch of {config.batch_size}")
        valid = {k: v[n:] for k, v in train.items()}
        train = {k: v[:n] for k, v in train.items()}
        return {"train": train, "eval": valid, "test": test}
    return {"train": train, "eval": test, "test": test}


def sub_runs(config) -> dict[str, ml_collections.ConfigDict]:
    """One sub-run per model of config.model.names: the shared fields, `model` = {name, <name>: its section},
    the section's own `num_steps` / `optimizer` overrides applied. Every model is built once here, so a config
    error stops the run before any data or training."""
    subs = {}
    for name in models.names(config.model):
        sub = models.sub_config(config, name)
        models.build(sub.model, _spec(config.data.get("seq_len", 40)))
        subs[name] = sub
    return subs


def _spec(seq_len: int) -> models.Spec:
    return models.Spec(input_size=1, output_size=NUM_CLASSES, output="class", seq_len=seq_len)


def make_task(config, workdir=None) -> Task:
    """The Task of one model: `config` is a sub-run's config (`sub_runs`)."""
    data = load_data(config)
    model = models.build(config.model, _spec(data["train"]["x"].shape[1]))

    loss_fn = functools.partial(tasks.classification_loss, model, with_lengths=False)  # fixed-size inputs

    logits_fn = jax.jit(lambda params, x: model.apply_batch(params, x, deterministic=True))

    def final_eval(params):
        metrics = {"num_params": models.num_params(params)}
        if data["eval"] is not data["test"]:
            x, y = data["test"]["x"], data["test"]["y"]
            logits = np.concatenate([np.asarray(logits_fn(params, x[i:i + 500])) for i in range(0, len(y), 500)])
            metrics["test_accuracy"] = float(np.mean(logits.argmax(-1) == y))
        return metrics

    variant = variant_name(config)
    batch_order = validate.choice("data.batch_order", config.data.get("batch_order", "reshuffle"), BATCH_ORDERS)
    return Task(
        init_params=model.init,
        loss_fn=loss_fn,
        train_iterator=batching.TrainIterator(batching.ArraySource(data["train"]), config.batch_size,
                                              seed=config.seed, shuffle=batch_order == "reshuffle"),
        eval_batches=lambda: batching.eval_batches(batching.ArraySource(data["eval"]), config.batch_size),
        final_eval=final_eval,
        reference={"model": config.model.name, "published_accuracy": PUBLISHED[variant].get(config.model.name),
                   "human": PUBLISHED[variant]["human"], "source": REFERENCE["source"]},
    )


def combine(config, workdir, results: dict) -> dict:
    """The sub-runs' results -> <workdir>/results.json, the table (printed) and the plots."""
    variant = variant_name(config)
    table = {}
    for name, result in results.items():
        m = result["metrics"]
        held_out = "test_accuracy" in m  # data.num_validation: eval is the validation split
        table[name] = {
            "test_accuracy": m.get("test_accuracy", m.get("accuracy")),
            "test_loss": None if held_out else m.get("loss"),
            "eval_accuracy": m.get("accuracy"),
            "published": PUBLISHED[variant].get(name),
            "steps": result["steps"]["last"],
            "train_seconds": result["timing"]["train_seconds"],
            "num_params": int(m["num_params"]),
            "workdir": name,
        }
        print(f"{name}: test accuracy {100 * table[name]['test_accuracy']:.1f}%", flush=True)
    best = max(table, key=lambda n: table[n]["test_accuracy"])
    combined = {
        "metrics": {**{f"test_accuracy_{n}": m["test_accuracy"] for n, m in table.items()},
                    "best_model": best, "best_test_accuracy": table[best]["test_accuracy"],
                    "beats_human": table[best]["test_accuracy"] > PUBLISHED[variant]["human"]},
        "models": table,
        "reference": {**REFERENCE, "variant": variant},
        "config": config.to_dict(),
        "timing": {"train_seconds": sum(m["train_seconds"] for m in table.values())},
    }
    write_results(combined, workdir, PUBLISHED[variant], variant)
    return combined


def plot_accuracies(models: dict, published: dict, title: str, path: Path) -> Path:
    """Test accuracy per model (bars) against the published figure (red marks) and the human expert."""
    names = list(models)
    ours = [100 * models[n]["test_accuracy"] for n in names]
    fig, ax = plt.subplots(figsize=(max(5.0, 1.0 + 0.9 * len(names)), 4.2))
    bars = ax.bar(names, ours, color="tab:blue", label="ours (test)")
    for bar, acc in zip(bars, ours):
        ax.text(bar.get_x() + bar.get_width() / 2, acc + 1, f"{acc:.1f}", ha="center", fontsize=8)
    marks = [(i, 100 * published[n]) for i, n in enumerate(names) if n in published]
    if marks:
        xs, ys = zip(*marks)
        ax.scatter(xs, ys, marker="_", s=600, color="tab:red", linewidths=2.5, label="published (paper's model)",
                   zorder=3)
    ax.axhline(100 * published["human"], color="gray", ls="--", lw=1, label="human expert")
    ax.set_ylim(0, 105)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3, fontsize=8, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_results(combined: dict, workdir, published: dict, variant: str) -> None:
    """<workdir>/results.json, plots/accuracy.png, plots/accuracy_curves.png, and the table printed."""
    workdir = Path(workdir)
    table = combined["models"]
    rows = [[name, f"{100 * m['test_accuracy']:.1f}%", f"{100 * published[name]:.0f}%" if name in published else "-",
             m["steps"], f"{m['train_seconds']:.1f}"] for name, m in table.items()]
    rows.append(["human", "", f"{100 * published['human']:.0f}%", "", ""])
    if jax.process_index() == 0:
        reporting.write_summary(workdir, combined)
        plot_accuracies(table, published, f"MNIST-1D ({variant})", workdir / "plots" / "accuracy.png")
        curves = {}
        for name in table:
            steps, values = reporting.eval_curve(workdir / name, "accuracy")
            if steps:
                curves[name] = (steps, [100 * v for v in values])
        reporting.plot_curves(curves, workdir / "plots" / "accuracy_curves.png", title=f"MNIST-1D ({variant})",
                              ylabel="eval accuracy (%)", xlabel="step",
                              hlines={"human expert": 100 * published["human"]})
    print(f"\nMNIST-1D ({variant}), test accuracy after the last step\n"
          + reporting.markdown_table(["model", "ours", "published", "steps", "train s"], rows), flush=True)


if __name__ == "__main__":
    launcher.run(make_task, sub_runs=sub_runs, combine=combine)
