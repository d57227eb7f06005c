"""Adversarial examples and input sensitivity of the digit classifiers of experiments/cnn_digits.py.

    python -m experiments.adversarial --workdir=workdirs/adversarial

The models (logistic, MLP, CNN) are trained exactly as in cnn_digits (its sub_runs and make_task: one
sub-workdir per model and seed); at the end of each training the test set is attacked
(seqmodels/models/adversarial.py) and the sub-run writes adversarial.json and pictures:

  FGSM        test accuracy of x' = clip(x + eps sign(d CE / d x), 0, 1) for every eps of attack.epsilons
              (pixels in [0, 1]; eps = 0.1 is a tenth of the pixel range)
  DeepFool    on the correctly classified test images: the fooling rate and the median and mean of
              rho = ||r||_2 / ||x||_2 (the paper's robustness measure, unclipped)
  saliency    |d f_y / d x| maps of a few test digits beside their FGSM and DeepFool versions
  pruning     test accuracy after zeroing the k pixels of least mean |d f_y / d x| over the TRAINING set,
              beside zeroing k random pixels, for the fractions attack.prune_fractions

`combine` averages each figure over the seeds, plots accuracy against eps and against the pruned fraction
for all models, and copies the first seed's pictures to plots/.
"""

import json
import shutil
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from experiments import cnn_digits, launcher, models, summarize as reporting
from experiments.summarize import plt
from seqmodels.models import adversarial
from seqmodels.training import Task, validate

PIXELS = (0.0, 1.0)  # the digits' value range; FGSM clips to it


def evaluate_attacks(model, params, data: dict, attack) -> dict:
    """Every figure of the module docstring for one trained model (`attack`: the config's section)."""
    logits_fn = lambda x: model.apply(params, x, deterministic=True)  # noqa: E731  (one image -> [10])
    predict = jax.jit(jax.vmap(lambda x: jnp.argmax(logits_fn(x))))
    xs, ys = jnp.asarray(data["test"]["x"]), np.asarray(data["test"]["y"])
    accuracy = lambda images: float(np.mean(np.asarray(predict(images)) == ys))  # noqa: E731
    fgsm = jax.jit(jax.vmap(lambda x, y, eps: adversarial.fgsm(logits_fn, x, y, eps, clip=PIXELS),
                            (0, 0, None)))
    epsilons = [float(e) for e in attack.epsilons]
    report = {"clean_accuracy": accuracy(xs), "epsilons": epsilons,
              "fgsm_accuracy": [accuracy(fgsm(xs, ys, eps)) for eps in epsilons]}

    correct = np.flatnonzero(np.asarray(predict(xs)) == ys)[:attack.deepfool_examples or None]
    fool = jax.jit(jax.vmap(lambda x: adversarial.deepfool(logits_fn, x, overshoot=attack.deepfool_overshoot,
                                                           max_iter=attack.deepfool_max_iter)))
    out = fool(xs[correct])
    rho = np.linalg.norm(np.asarray(out["perturbation"]).reshape(len(correct), -1), axis=1) / np.linalg.norm(
        np.asarray(xs[correct]).reshape(len(correct), -1), axis=1)
    fooled = np.asarray(out["fooled"])
    report["deepfool"] = {"examples": len(correct), "fooled": float(fooled.mean()),
                          "median_rho": float(np.median(rho[fooled])), "mean_rho": float(np.mean(rho[fooled])),
                          "mean_iterations": float(np.mean(np.asarray(out["iterations"])))}

    train_x, train_y = jnp.asarray(data["train"]["x"]), jnp.asarray(data["train"]["y"])
    sens = np.asarray(jax.jit(lambda a, b: adversarial.sensitivity(logits_fn, a, b))(train_x, train_y))
    ranking = np.random.default_rng(attack.prune_seed).permutation(sens.size).reshape(sens.shape)  # the control
    fractions = [float(f) for f in attack.prune_fractions]
    ks = [int(round(f * sens.size)) for f in fractions]
    report["pruning"] = {"fractions": fractions, "k": ks,
                         "least_sensitive": [accuracy(adversarial.prune(xs, jnp.asarray(sens), k)) for k in ks],
                         "random": [accuracy(adversarial.prune(xs, jnp.asarray(ranking, jnp.float32), k))
                                    for k in ks]}
    report["sensitivity"] = sens.tolist()

    n = attack.num_pictures  # the first n correctly classified test digits (arrays of the runs above: no recompiles)
    pick = correct[:n]
    eps = float(attack.picture_epsilon)
    x_fgsm = fgsm(xs, ys, eps)
    grads = jax.jit(jax.vmap(lambda x, y: adversarial.saliency(logits_fn, x, y)))(xs[pick], ys[pick])
    report["pictures"] = {
        "x": np.asarray(xs[pick]), "y": ys[pick], "saliency": np.abs(np.asarray(grads)),
        "fgsm": np.asarray(x_fgsm)[pick], "fgsm_epsilon": eps, "fgsm_label": np.asarray(predict(x_fgsm))[pick],
        "deepfool": np.asarray(out["x_adv"])[:n], "deepfool_label": np.asarray(out["adv_label"])[:n]}
    return report


def plot_examples(report: dict, title: str, path: Path) -> None:
    """Columns: a test digit, its saliency |d f_y / d x|, its FGSM image, its DeepFool image (with the labels)."""
    p = report["pictures"]
    fig, axes = plt.subplots(len(p["y"]), 4, figsize=(6.4, 1.6 * len(p["y"]) + 0.4), squeeze=False)
    for i, row in enumerate(axes):
        cells = [(p["x"][i], f"y = {p['y'][i]}", "gray"), (p["saliency"][i], "|d f_y / d x|", "hot"),
                 (p["fgsm"][i], f"FGSM eps {p['fgsm_epsilon']}: {p['fgsm_label'][i]}", "gray"),
                 (p["deepfool"][i], f"DeepFool: {p['deepfool_label'][i]}", "gray")]
        for ax, (image, label, cmap) in zip(row, cells):
            ax.imshow(image, cmap=cmap, vmin=None if cmap == "hot" else 0.0, vmax=None if cmap == "hot" else 1.0)
            ax.set_title(label, fontsize=7)
            ax.axis("off")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_sensitivity(maps: dict, path: Path) -> None:
    """Each model's mean |d f_y / d x| over the training digits, one panel per model."""
    fig, axes = plt.subplots(1, len(maps), figsize=(2.4 * len(maps), 2.6), squeeze=False)
    for ax, (name, image) in zip(axes[0], maps.items()):
        ax.imshow(np.asarray(image), cmap="hot")
        ax.set_title(name, fontsize=8)
        ax.axis("off")
    fig.suptitle("input sensitivity: mean |d f_y / d x| over the training set", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def make_task(config, workdir=None) -> Task:
    """cnn_digits' Task, whose final evaluation also attacks the trained model."""
    attack = config.attack
    for field in ("deepfool_max_iter", "num_pictures"):
        validate.positive(f"attack.{field}", attack[field], integer=True)
    validate.non_negative("attack.deepfool_examples", attack.deepfool_examples, integer=True)
    for f in attack.prune_fractions:
        validate.in_range("attack.prune_fractions", f, 0.0, 1.0)
    task = cnn_digits.make_task(config, workdir)
    model, data = cnn_digits.setup(config)
    base = task.final_eval

    def final_eval(params):
        report = evaluate_attacks(model, params, data, attack)
        if workdir is not None and jax.process_index() == 0:
            plot_examples(report, f"{config.model.name}: saliency and adversarial digits",
                          Path(workdir) / "plots" / "adversarial_examples.png")
            saved = {k: v for k, v in report.items() if k != "pictures"}
            (Path(workdir) / "adversarial.json").write_text(json.dumps(saved, indent=1) + "\n")
        return {**base(params), "deepfool_median_rho": report["deepfool"]["median_rho"],
                **{f"fgsm_accuracy_eps{e:g}": a for e, a in zip(report["epsilons"], report["fgsm_accuracy"])}}

    task.final_eval = final_eval
    return task


def combine(config, workdir, results: dict) -> dict:
    """The sub-runs' adversarial.json, averaged over seeds per model -> results.json, table, plots."""
    workdir = Path(workdir)
    table, first_subs = {}, {}
    for name in models.names(config.model):
        subs = [sub for sub in results if sub.rsplit("_seed", 1)[0] == name]
        first_subs[name] = subs[0]
        reports = [json.loads((workdir / sub / "adversarial.json").read_text()) for sub in subs]
        mean = lambda get: np.mean([get(r) for r in reports], axis=0).tolist()  # noqa: E731
        table[name] = {
            "clean_accuracy": mean(lambda r: r["clean_accuracy"]),
            "fgsm_accuracy": mean(lambda r: r["fgsm_accuracy"]),
            "deepfool_median_rho": mean(lambda r: r["deepfool"]["median_rho"]),
            "deepfool_mean_rho": mean(lambda r: r["deepfool"]["mean_rho"]),
            "deepfool_fooled": mean(lambda r: r["deepfool"]["fooled"]),
            "deepfool_mean_iterations": mean(lambda r: r["deepfool"]["mean_iterations"]),
            "prune_least_sensitive": mean(lambda r: r["pruning"]["least_sensitive"]),
            "prune_random": mean(lambda r: r["pruning"]["random"]),
            "num_params": int(results[subs[0]]["metrics"]["num_params"]), "seeds": len(subs),
            "train_seconds_per_seed": float(np.mean([results[s]["timing"]["train_seconds"] for s in subs])),
        }
        if jax.process_index() == 0 and (workdir / subs[0] / "plots" / "adversarial_examples.png").exists():
            (workdir / "plots").mkdir(parents=True, exist_ok=True)
            shutil.copy(workdir / subs[0] / "plots" / "adversarial_examples.png",
                        workdir / "plots" / f"{name}_examples.png")
    first = json.loads((workdir / next(iter(results)) / "adversarial.json").read_text())
    epsilons, fractions = first["epsilons"], first["pruning"]["fractions"]
    combined = {
        "metrics": {f"deepfool_median_rho_{n}": m["deepfool_median_rho"] for n, m in table.items()},
        "epsilons": epsilons, "prune_fractions": fractions, "models": table,
        "config": config.to_dict(),
        "timing": {"train_seconds": sum(r["timing"]["train_seconds"] for r in results.values())},
    }
    header = ["model", "clean", *[f"FGSM {e:g}" for e in epsilons[1:]], "DeepFool median rho", "fooled"]
    rows = [[n, f"{100 * m['clean_accuracy']:.1f}%", *[f"{100 * a:.1f}%" for a in m["fgsm_accuracy"][1:]],
             f"{m['deepfool_median_rho']:.3f}", f"{100 * m['deepfool_fooled']:.0f}%"] for n, m in table.items()]
    if jax.process_index() == 0:
        reporting.write_summary(workdir, combined, title="Adversarial digits: test accuracy under FGSM, DeepFool",
                                table=reporting.markdown_table(header, rows))
        reporting.plot_curves({n: (epsilons, [100 * a for a in m["fgsm_accuracy"]]) for n, m in table.items()},
                              workdir / "plots" / "fgsm_accuracy.png", title="FGSM on the digits' test set",
                              ylabel="test accuracy (%)", xlabel="epsilon (pixels in [0, 1])")
        curves = {}
        for n, m in table.items():
            percent = [100 * f for f in fractions]
            curves[f"{n}, least sensitive"] = (percent, [100 * a for a in m["prune_least_sensitive"]])
            curves[f"{n}, random"] = (percent, [100 * a for a in m["prune_random"]])
        plot_sensitivity({n: json.loads((workdir / sub / "adversarial.json").read_text())["sensitivity"]
                          for n, sub in first_subs.items()}, workdir / "plots" / "sensitivity.png")
        reporting.plot_curves(curves, workdir / "plots" / "pruning_accuracy.png", ylabel="test accuracy (%)",
                              title="Zeroing the least sensitive pixels (mean |d f_y / d x|) vs random pixels",
                              xlabel="pixels zeroed (%)")
    return combined


if __name__ == "__main__":
    launcher.run(make_task, sub_runs=cnn_digits.sub_runs, combine=combine)
