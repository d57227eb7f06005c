"""Greff et al.'s LSTM study ("LSTM: A Search Space Odyssey", IEEE TNNLS 2017) on Bach chorales.

    python -m experiments.lstm_variants --workdir=workdirs/lstm_variants
    python -m experiments.lstm_variants --workdir=DIR --config.data_file=PATH/JSB_Chorales.pickle   # standard JSB

Each of Greff's eight one-change variants of the LSTM (seqmodels/cells/lstm.py: NIG, NFG, NOG, NIAF, NOAF,
NP, CIFG, FGR) and the vanilla LSTM with peepholes is trained on the chorales task of
experiments/chorales.py (its make_task, unchanged: next-frame Bernoulli NLL of 88-key piano rolls, early
stopping on the validation NLL, test NLL of the best checkpoint). The variant is a field of the model
section (config.model.lstm.variant). Hyper-parameters are drawn at random, as Greff et al. did: draw k
fixes (learning rate, hidden size, seed), and every variant is trained with draw k (a paired design, so a
variant's difference to vanilla on the same draw removes the draw's own effect). Sub-runs land in
<workdir>/<draw>_<variant>/; `combine` writes results.json (test NLL per variant and draw, medians, the
paired t-test and Wilcoxon signed-rank test against vanilla) and plots/variants.png in the form of Greff's Fig. 3
(test NLL per variant, the vanilla median as a line).
"""

from pathlib import Path

import jax
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import ml_collections  # noqa: E402
import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402

from experiments import chorales, launcher, models, summarize as reporting  # noqa: E402
from seqmodels.cells.lstm import VARIANTS  # noqa: E402
from seqmodels.training import ConfigError, validate  # noqa: E402

make_task = chorales.make_task  # one sub-run is one chorales run
# Greff et al. 2017 (Fig. 3; Welch's t-test on the top 10% of 200 trials per variant, p < 0.05), as
# the project's BENCHMARKS.md quotes it for all three data sets: NFG and NOAF hurt, CIFG and NP do not.
# The other four as we recall the paper's text for JSB Chorales (not re-checked against the PDF here).
GREFF_FINDINGS = {
    "NFG": "worse", "NOAF": "worse", "CIFG": "no significant change", "NP": "no significant change",
    "NIG": "no significant change (recalled)", "NOG": "no significant change (recalled)",
    "NIAF": "no significant change (recalled)", "FGR": "worse on JSB only (recalled)",
}
REFERENCE = {"source": "Greff, Srivastava, Koutnik, Steunebrink & Schmidhuber, LSTM: A Search Space Odyssey, "
                       "IEEE TNNLS 28(10), 2017, Fig. 3 (JSB Chorales)",
             "findings_vs_vanilla": GREFF_FINDINGS}


def variants(config) -> list[str]:
    names = [v.strip() for v in config.variants.split(",") if v.strip()]
    if not names:
        raise ConfigError(f"variants: expected a comma-separated subset of {list(VARIANTS)}, got {config.variants!r}")
    for v in names:
        validate.choice("variants", v, VARIANTS)
    return names


def draws(config) -> list[dict]:
    """config.num_draws random (learning_rate, hidden_size, seed): both log-uniform in their config ranges."""
    s = config.search
    validate.positive("num_draws", config.num_draws, integer=True)
    for field in ("learning_rate", "hidden_size"):
        low, high = getattr(s, field)
        if not 0 < low <= high:
            raise ConfigError(f"search.{field}: expected (low, high) with 0 < low <= high, got {(low, high)}")
    rng = np.random.default_rng(s.seed)
    out = []
    for _ in range(config.num_draws):
        lr = float(np.exp(rng.uniform(*np.log(s.learning_rate))))
        hidden = int(round(np.exp(rng.uniform(*np.log(s.hidden_size)))))
        out.append({"learning_rate": lr, "hidden_size": hidden, "seed": int(rng.integers(2**31))})
    return out


def run_name(draw: int, variant: str) -> str:
    return f"d{draw}_{variant}"


def sub_runs(config) -> dict[str, ml_collections.ConfigDict]:
    """One chorales run per (draw, variant), draws outermost; each model is built here, so a bad config stops
    the run before any data or training."""
    subs = {}
    for k, draw in enumerate(draws(config)):
        for v in variants(config):
            sub = models.sub_config(config, "lstm", seed=draw["seed"])
            sub.model.lstm.update(hidden_size=draw["hidden_size"], variant=v, peepholes=v != "NP")
            sub.optimizer.learning_rate = draw["learning_rate"]
            chorales.make_model(sub)
            subs[run_name(k, v)] = sub
    return subs


def combine(config, workdir, results: dict) -> dict:
    """Test NLL per variant over the draws, each variant against vanilla -> results.json, the plot, a table."""
    workdir, names, ds = Path(workdir), variants(config), draws(config)
    nll = {v: [results[run_name(k, v)]["metrics"]["test_nll"] for k in range(len(ds))] for v in names}
    table = {}
    for v in names:
        row = {"test_nll": nll[v], "median": float(np.median(nll[v])), "mean": float(np.mean(nll[v])),
               "best": float(np.min(nll[v])), "greff": GREFF_FINDINGS.get(v, "reference")}
        if "vanilla" in nll and v != "vanilla":
            diff = np.subtract(nll[v], nll["vanilla"])
            row["median_diff_vs_vanilla"] = float(np.median(diff))
            row["worse_than_vanilla_on"] = f"{int((diff > 0).sum())}/{len(diff)} draws"
            testable = len(diff) > 1 and np.any(diff)  # two-sided, paired by draw
            row["paired_t_p"] = float(stats.ttest_rel(nll[v], nll["vanilla"]).pvalue) if testable else None
            row["wilcoxon_p"] = float(stats.wilcoxon(diff).pvalue) if testable else None
        table[v] = row
    any_m = results[run_name(0, names[0])]["metrics"]
    combined = {
        "metrics": {f"median_test_nll_{v}": table[v]["median"] for v in names},
        "variants": table,
        "draws": ds,
        "baseline_test_nll": any_m["baseline_test_nll"],
        "reference": {**REFERENCE, "data": results[run_name(0, names[0])]["reference"]["data"]},
        "config": config.to_dict(),
        "timing": {"train_seconds": sum(r["timing"]["train_seconds"] for r in results.values())},
    }
    p_value = lambda x: "" if x is None else f"{x:.3f}"  # noqa: E731
    rows = [[v, f"{t['median']:.3f}", f"{t['best']:.3f}", f"{t.get('median_diff_vs_vanilla', 0.0):+.3f}",
             t.get("worse_than_vanilla_on", ""), p_value(t.get("paired_t_p")), p_value(t.get("wilcoxon_p")),
             t["greff"]] for v, t in table.items()]
    text = reporting.markdown_table(["variant", "median test NLL", "best", "median diff. to vanilla",
                                     "worse than vanilla", "paired t p", "Wilcoxon p", "Greff et al. (JSB)"], rows)
    if jax.process_index() == 0:
        reporting.write_summary(workdir, combined, title="Greff et al.'s LSTM variants on Bach chorales "
                                "(test NLL per frame, nats)", table=text)
        plot_variants(nll, ds, workdir / "plots" / "variants.png")
    return combined


def plot_variants(nll: dict, ds: list[dict], path: Path) -> Path:
    """Left, Greff's Fig. 3: test NLL per variant (a box over the draws, each draw a point coloured by its hidden
    size), the vanilla median dashed. Right: each draw's difference to vanilla trained on the same draw."""
    names = list(nll)
    fig, axes = plt.subplots(1, 2, figsize=(1.5 + 1.1 * len(names), 4.4), layout="constrained")
    jitter = np.linspace(-0.15, 0.15, len(ds))
    hidden = [d["hidden_size"] for d in ds]
    panels = [(axes[0], nll, "test NLL per frame (nats)", "per variant")]
    if "vanilla" in nll:
        diff = {v: np.subtract(nll[v], nll["vanilla"]) for v in names if v != "vanilla"}
        panels.append((axes[1], diff, "test NLL - vanilla's on the same draw", "paired with vanilla"))
    for ax, values, ylabel, title in panels:
        keys = list(values)
        ax.boxplot([values[v] for v in keys], positions=range(len(keys)), widths=0.5, showfliers=False)
        for i, v in enumerate(keys):
            points = ax.scatter(i + jitter, values[v], c=hidden, cmap="viridis", s=14, zorder=3,
                                vmin=min(hidden), vmax=max(hidden) + 1e-9)
        ax.set_xticks(range(len(keys)), keys, fontsize=8)
        ax.set_ylabel(ylabel)
        ax.set_title(f"{title} ({len(ds)} random draws)", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    if "vanilla" in nll:
        axes[0].axhline(np.median(nll["vanilla"]), color="tab:red", ls="--", lw=1, label="vanilla median")
        axes[1].axhline(0.0, color="tab:red", ls="--", lw=1, label="vanilla")
        axes[0].legend(fontsize=8)
    else:
        axes[1].set_visible(False)
    fig.colorbar(points, ax=axes, label="hidden size")
    fig.suptitle("Greff et al.'s LSTM variants on Bach chorales", fontsize=11)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


if __name__ == "__main__":
    launcher.run(make_task, sub_runs=sub_runs, combine=combine)
