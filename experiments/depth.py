"""Deep MLPs on 8x8 digits: vanishing gradients, and what init, activation and residual connections change.

    python -m experiments.depth --workdir=workdirs/depth [--config=experiments/configs/depth.py:small]

scikit-learn's 8x8 digits (`seqmodels.data.packaged.digits`: 1438 train / 359
test images), each read as x [T=8 rows, D=8 pixels] by a registry MLP
(experiments/models.py, kind "mlp") of `num_layers` hidden layers:

    h_l = act(W_l h_{l-1} + b_l)            plain
    h_l = h_{l-1} + act(W_l h_{l-1} + b_l)  residual (l >= 2)

for act in {sigmoid, tanh, relu} x {plain, residual} x init {naive: N(0, 0.01^2),
glorot: U(+-sqrt(6 / (fan_in + fan_out)))}: one sub-run per model
(`launcher.run` with `sub_runs`, as experiments/mnist1d.py). Every training
step also logs the norm of each layer's weight gradient, ||dL/dW_l|| for
l = 1 .. L (the read-out is L), as train metrics `grad_norm_01` ..: the
gradient that step applies, computed once more on the same batch, key and
params (a second backward pass, cheap at this size). `combine` writes
<workdir>/results.json and the plots: per activation the gradient norms
against depth at a few steps of training (plots/grad_norms_<act>.png) and
the test accuracy curves (plots/curves_<act>.png).

`make_task` and `sub_config` are shared with experiments/regularization.py.
"""

from pathlib import Path

import jax
import ml_collections
import numpy as np

from experiments import launcher, models, summarize as reporting
from experiments.summarize import plt
from seqmodels.data import batching, packaged
from seqmodels.models import mlp
from seqmodels.training import ConfigError, Task, losses, validate, writers

NUM_CLASSES = 10
SPEC = models.Spec(input_size=8, output_size=NUM_CLASSES, output="class", seq_len=8)  # x [T=8 rows, D=8 pixels]


def load_digits(d) -> dict:
    """{'train', 'test'} and, with d.num_valid, 'valid' (the last num_valid of the shuffled training images);
    d.num_train > 0 keeps only the first num_train training images."""
    validate.non_negative("data.num_train", d.get("num_train", 0), integer=True)
    validate.non_negative("data.num_valid", d.get("num_valid", 0), integer=True)
    data = packaged.digits(test_fraction=d.test_fraction, seed=d.seed)
    train, n_valid = data["train"], d.get("num_valid", 0)
    n_train = d.get("num_train", 0) or len(train["y"]) - n_valid
    if n_train + n_valid > len(train["y"]):
        raise ConfigError(f"data.num_train + data.num_valid: {n_train} + {n_valid} is more than the "
                          f"{len(train['y'])} training images")
    out = {"train": {k: v[:n_train] for k, v in train.items()}, "test": data["test"]}
    if n_valid:
        out["valid"] = {k: v[len(train["y"]) - n_valid:] for k, v in train.items()}
    return out


def sub_config(config, name: str, **fields) -> ml_collections.ConfigDict:
    """A sub-run's config: the shared fields, `model` = {name, <name>: its section} with the section's own
    `optimizer` / `num_steps` applied, then `fields` (seed, early_stopping, ...); checked, and its model built."""
    sub = models.sub_config(config, name, **fields)
    section = config.model[name].to_dict()
    if section.get("kind", name) != "mlp":
        raise ConfigError(f"model.{name}.kind: this experiment trains MLPs (kind='mlp'), got {section.get('kind')!r}")
    models.build(sub.model, SPEC)
    return sub


def sub_runs(config) -> dict[str, ml_collections.ConfigDict]:
    return {name: sub_config(config, name) for name in models.names(config.model)}


def make_task(config, workdir=None) -> Task:
    """The Task of one MLP on digits. `config.grad_norms`: log ||dL/dW_l|| per layer every step;
    `config.save_weights`: the trained hidden weights -> workdir/weights.npy. With
    data.num_valid, every evaluation covers the sets train, valid and test (metrics train_loss, valid_loss,
    test_accuracy, ...); otherwise the test set alone."""
    data = load_digits(config.data)
    model = models.build(config.model, SPEC)

    def data_loss(params, batch, key, train):
        logits = model.apply_batch(params, batch["x"], key=key, deterministic=not train)  # [B, 10]
        mask = batch.get("valid")  # eval batches: filler copies that complete the last batch count for nothing
        return losses.cross_entropy(logits, batch["y"], mask), (logits, mask)

    def loss_fn(params, batch, key, train):
        loss, (logits, mask) = data_loss(params, batch, key, train)
        metrics = {"accuracy": losses.accuracy(logits, batch["y"], mask)}
        if mask is not None:
            metrics["weight"] = mask.sum()
        if train and config.get("grad_norms"):  # the same gradient the step applies, on constant params
            grads = jax.grad(lambda p: data_loss(p, batch, key, True)[0])(jax.lax.stop_gradient(params))
            norms = mlp.layer_norms(grads)
            metrics.update({f"grad_norm_{l + 1:02d}": norms[l] for l in range(len(grads))})
        return loss, metrics

    def batches(split):
        return lambda: batching.eval_batches(batching.ArraySource(data[split]), config.batch_size)

    if config.batch_size > len(data["train"]["y"]):
        raise ConfigError(f"batch_size: {config.batch_size} is more than the {len(data['train']['y'])} "
                          f"training images")
    def final_eval(params):
        """The parameter count; with config.save_weights, the hidden layers' weights -> workdir/weights.npy."""
        weights = np.concatenate([np.ravel(p["w"]) for p in params[:-1] or params])
        if config.get("save_weights") and workdir is not None:
            np.save(Path(workdir) / "weights.npy", weights)
        return {"num_params": models.num_params(params),
                "fraction_weights_below_1e-3": float(np.mean(np.abs(weights) < 1e-3))}

    sets = {s: batches(s) for s in ("train", "valid", "test")} if "valid" in data else batches("test")
    return Task(init_params=model.init, loss_fn=loss_fn,
                train_iterator=batching.TrainIterator(batching.ArraySource(data["train"]), config.batch_size,
                                                      seed=config.seed),
                eval_batches=sets, final_eval=final_eval,
                reference={"model": config.model.name, "chance": 1 / NUM_CLASSES})


# -- the combined report ----------------------------------------------------------------------------------------

def grad_norm_curves(run_dir: Path) -> tuple[list[int], np.ndarray]:
    """(steps, norms [len(steps), L]) of the train records' grad_norm_<l> in run_dir/metrics.jsonl."""
    records = [r for r in writers.read_jsonl(run_dir / "metrics.jsonl") if r["split"] == "train"]
    names = sorted(k for k in records[0] if k.startswith("grad_norm_"))
    return [r["step"] for r in records], np.asarray([[r[n] for n in names] for r in records])


def plot_grad_norms(runs: dict[str, tuple[list, np.ndarray]], path: Path, title: str) -> None:
    """One panel per model: ||dL/dW_l|| against the layer l, one line per moment of training."""
    fig, axes = plt.subplots(1, len(runs), figsize=(3.3 * len(runs), 3.4), sharey=True, squeeze=False)
    for ax, (name, (steps, norms)) in zip(axes[0], runs.items()):
        picks = sorted({0, len(steps) // 10, len(steps) // 2, len(steps) - 1})
        for j, i in enumerate(picks):
            ax.plot(np.arange(1, norms.shape[1] + 1), np.maximum(norms[i], 1e-30), marker=".",
                    color=plt.cm.viridis(j / max(len(picks) - 1, 1)), label=f"step {steps[i]}")
        ax.set_yscale("log")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("layer l (L = read-out)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("||dL/dW_l|| (train batch)")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def combine(config, workdir, results: dict) -> dict:
    workdir = Path(workdir)
    table, norms = {}, {}
    for name, result in results.items():
        steps, g = grad_norm_curves(workdir / name)
        norms[name] = (steps, g)
        section = config.model[name]
        table[name] = {
            "activation": section.get("activation", "relu"), "residual": bool(section.get("residual", False)),
            "init": section.get("init", "default"), "num_layers": section.num_layers,
            "test_accuracy": result["metrics"]["accuracy"], "test_loss": result["metrics"]["loss"],
            # ||dL/dW_1|| / ||dL/dW_{L-1}||: first against last hidden layer, in the first logged window
            "grad_ratio_first_last_hidden_at_start": float(g[0, 0] / max(g[0, -2], 1e-38)),
            "grad_norms_first_window": g[0].tolist(), "grad_norms_last_window": g[-1].tolist(),
            "train_seconds": result["timing"]["train_seconds"], "steps": result["steps"]["last"],
        }
    combined = {"metrics": {f"test_accuracy_{n}": m["test_accuracy"] for n, m in table.items()}, "models": table,
                "reference": {"chance": 1 / NUM_CLASSES, "source": "Glorot & Bengio (2010), Fig. 7: back-propagated "
                              "gradients shrink towards the input layers under the standard init"},
                "config": config.to_dict(),
                "timing": {"train_seconds": sum(m["train_seconds"] for m in table.values())}}
    rows = [[n, f"{100 * m['test_accuracy']:.1f}%", f"{m['grad_ratio_first_last_hidden_at_start']:.2g}",
             f"{m['train_seconds']:.0f}"] for n, m in table.items()]
    if jax.process_index() == 0:
        reporting.write_summary(workdir, combined, title="Deep MLPs on 8x8 digits",
                                table=reporting.markdown_table(
                                    ["model", "test accuracy", "||dL/dW_1|| / ||dL/dW_L-1|| at start", "train s"],
                                    rows))
        for act in dict.fromkeys(m["activation"] for m in table.values()):
            names = [n for n, m in table.items() if m["activation"] == act]
            plot_grad_norms({n: norms[n] for n in names}, workdir / "plots" / f"grad_norms_{act}.png",
                            f"{act}: per-layer gradient norms during training")
            reporting.plot_curves({n: reporting.eval_curve(workdir / n, "accuracy") for n in names},
                                  workdir / "plots" / f"curves_{act}.png", title=f"{act} MLPs on digits",
                                  ylabel="test accuracy", hlines={"chance": 1 / NUM_CLASSES})
    return combined


if __name__ == "__main__":
    launcher.run(make_task, sub_runs=sub_runs, combine=combine)
