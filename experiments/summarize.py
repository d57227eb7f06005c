"""Reporting: runs -> results/<name>/ (results.json, a markdown table, plots), and the one `summarize` command.

    python -m experiments.summarize <experiment> RUN_DIR... [--out=results/<experiment>] [--select=METRIC]

The experiments whose runs are gathered afterwards (adding, copy_memory,
chorales, santa_fe; MNIST-1D and delay_sum write their table at the end of
their run) each have `summarize(run_dirs, out_dir)` built from the pieces
here: `copy_run` (a run's results.json, reevaluation.json,
metrics.jsonl and plots into out_dir/<label>/), `reported_metrics` (a run's
figures, as re-scored where `--reevaluate` re-scored it), `eval_curve`,
`plot_curves` and `markdown_table`. `--select=METRIC` gathers runs of a
`_valid` variant and reports the run chosen by its validation METRIC
(`summarize_selection`); the test set chooses nothing.
"""

import argparse
import importlib
import json
import shutil
import sys
from pathlib import Path
from typing import Any, Iterable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the non-interactive backend)

from seqmodels.training import writers  # noqa: E402

RUN_FILES = ("results.json", "reevaluation.json", "metrics.jsonl")


def load_results(run_dir: str | Path) -> dict:
    path = Path(run_dir) / "results.json"
    if not path.exists():
        raise FileNotFoundError(f"summarize: {run_dir} has no results.json (not a finished run's workdir)")
    return json.loads(path.read_text())


def copy_run(run_dir: str | Path, dest: str | Path, *, skip_plots: Iterable[str] = (),
             extra_files: Iterable[str] = ()) -> Path:
    """A run's results.json, its reevaluation.json and metrics.jsonl where it has them, `extra_files`, and its
    plots (minus those whose name starts with one of `skip_plots`) into dest/."""
    run_dir, dest = Path(run_dir), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for name in (*RUN_FILES, *extra_files):
        if (run_dir / name).exists():
            shutil.copy(run_dir / name, dest / name)
    for png in (run_dir / "plots").glob("*.png"):
        if not any(png.name.startswith(s) for s in skip_plots):
            shutil.copy(png, dest / png.name)
    return dest


def reported_metrics(run_dir: str | Path, results: dict) -> tuple[dict, dict | None]:
    """(metrics of the reported checkpoint, the first-reported metrics or None): where the run was re-scored
    (`--reevaluate`: run_dir/reevaluation.json holds that checkpoint, periodic or best), the re-scored ones."""
    path = Path(run_dir) / "reevaluation.json"
    if not path.exists():
        return results["metrics"], None
    again = json.loads(path.read_text())
    step = results["steps"]["params_from"]
    rescored = again["checkpoints"].get(str(step))
    if rescored is None and again.get("best") and again["best"]["step"] == step:
        rescored = again["best"]["metrics"]
    if rescored is None:
        return results["metrics"], None
    return {**results["metrics"], **rescored}, results["metrics"]


def eval_curve(source: str | Path, metric: str) -> tuple[list, list]:
    """(steps, values) of an eval metric: `source` is a run's workdir (its metrics.jsonl) or a .jsonl file of
    its evaluations. A `test_<metric>` (named eval sets) is taken before a plain `<metric>`."""
    path = Path(source) if str(source).endswith(".jsonl") else Path(source) / "metrics.jsonl"
    steps, values = [], []
    for rec in writers.read_jsonl(path):
        value = rec.get(f"test_{metric}", rec.get(metric))
        if rec.get("split") == "eval" and value is not None:
            steps.append(rec["step"])
            values.append(value)
    return steps, values


def plot_curves(curves: dict[str, tuple[list, list]], path: str | Path, *, title: str, ylabel: str,
                xlabel: str = "training step", log: bool = False, reference: dict[str, float] | None = None,
                hlines: dict[str, float] | None = None) -> Path:
    """One line per label; `reference` (label -> published figure) dotted in the line's colour, `hlines`
    (label -> value) dashed grey."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, (label, (steps, values)) in enumerate(curves.items()):
        ax.plot(steps, values, color=f"C{i}", marker="." if len(steps) < 40 else None, label=label)
        if reference and reference.get(label) is not None:
            ax.axhline(reference[label], color=f"C{i}", ls=":", lw=1)
    for j, (label, value) in enumerate((hlines or {}).items()):
        ax.axhline(value, color="k" if j == 0 else "gray", ls="--", lw=1, label=label)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_summary(out_dir: str | Path, summary: dict, *, title: str | None = None, table: str | None = None,
                  footer: str = "") -> None:
    """out_dir/results.json, and out_dir/summary.md with the table (when given)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    if table is not None:
        (out_dir / "summary.md").write_text(f"# {title}\n\n{table}\n" + (f"\n{footer}\n" if footer else ""))
        print(table)


# --------------------------------------------------------------------------- one model per run, one test metric


def summarize_runs(run_dirs: dict[str, str | Path], out_dir: str | Path, *, task: str, metric: str,
                   protocol_steps: int, baseline: float, reference: dict[str, Any],
                   note: str = "") -> dict:
    """Gather one task's per-model runs (label -> workdir) into out_dir/results.json and one plot of the test
    curves: each entry has the steps it ran against the protocol's, its test metric, the published number,
    the trivial baseline and the ratio to it, and its training time; the per-run files stay under
    out_dir/<label>/. A re-scored run (`--reevaluate`) is reported as re-scored, the first figure kept beside."""
    out_dir = Path(out_dir)
    table, published = {}, {}
    for label, run_dir in run_dirs.items():
        results = load_results(run_dir)
        copy_run(run_dir, out_dir / label)
        published[label] = reference.get(results["config"]["model"]["name"])
        metrics, first_reported = reported_metrics(run_dir, results)
        pick = lambda m: m.get(f"test_{metric}", m.get(metric))  # noqa: E731  (named eval sets or not)
        value = pick(metrics)
        model = results["config"]["model"]
        table[label] = {
            "steps_run": results["steps"]["last"], "protocol_steps": protocol_steps,
            "params_from_step": results["steps"]["params_from"],
            f"test_{metric}": value, "published": published[label],
            "trivial_baseline": baseline, "ratio_to_baseline": value / baseline,
            "num_params": results["metrics"].get("num_params"),
            # a resumed run's results.json times only its last segment
            "train_seconds_last_segment": results["timing"]["train_seconds_this_run"],
            "steps_in_last_segment": results["timing"]["steps_this_run"],
            "final_metrics": metrics,
            **({} if first_reported is None else {f"test_{metric}_first_reported": pick(first_reported),
                                                  "rescored_by": "reevaluation.json"}),
            "model": model.get(model["name"], {}),
            "optimizer": results["config"]["optimizer"],
        }
    summary = {"task": task, "metric": f"test {metric}", "trivial_baseline": baseline,
               "reference": reference, "note": note, "models": table}
    write_summary(out_dir, summary)
    curves = {label: eval_curve(run_dir, metric) for label, run_dir in run_dirs.items()}
    plot_curves(curves, out_dir / f"{task}_test_{metric}.png", title=f"{task}: test {metric} (dotted: published)",
                ylabel=f"test {metric}", log=True, reference=published,
                hlines={f"trivial baseline {baseline:.3g}": baseline})
    return summary


def summarize_selection(run_dirs: dict[str, str | Path], out_dir: str | Path, *, metric: str) -> dict:
    """Runs of a `_valid` variant (e.g. one per seed) -> out_dir/results.json: the run with the lowest
    validation `metric` at its chosen checkpoint is the one reported, so neither the checkpoint nor the
    run is chosen on the test set. Each run's row also has its last evaluation (the protocol's figure);
    a re-scored run (reevaluation.json) is reported with its re-scored figures."""
    out_dir = Path(out_dir)
    rows = {}
    for name, run_dir in run_dirs.items():
        results = load_results(run_dir)
        if f"valid_{metric}" not in results["metrics"]:
            raise ValueError(f"summarize_selection: {run_dir} has no valid_{metric}: not a run of a _valid variant")
        evals = [r for r in writers.read_jsonl(Path(run_dir) / "metrics.jsonl") if r.get("split") == "eval"]
        dest = copy_run(run_dir, out_dir / name)
        (dest / "eval_curve.jsonl").write_text("".join(json.dumps(r) + "\n" for r in evals))
        metrics, first_reported = reported_metrics(run_dir, results)
        rows[name] = {"params_from_step": results["steps"]["params_from"], "steps_run": results["steps"]["last"],
                      f"valid_{metric}": metrics[f"valid_{metric}"], f"test_{metric}": metrics[f"test_{metric}"],
                      **({} if first_reported is None else {"rescored_by": "reevaluation.json"}),
                      "last_step": evals[-1]["step"], f"last_step_test_{metric}": evals[-1][f"test_{metric}"],
                      "train_seconds_last_segment": results["timing"]["train_seconds_this_run"]}
    chosen = min(rows, key=lambda n: rows[n][f"valid_{metric}"])
    summary = {"selection": f"checkpoint and run by the lowest validation {metric}; the test set chooses nothing",
               "chosen": chosen, f"test_{metric}": rows[chosen][f"test_{metric}"], "runs": rows}
    write_summary(out_dir, summary)
    return summary


# --------------------------------------------------------------------------- the command


EXPERIMENTS = ("adding", "copy_memory", "chorales", "santa_fe")  # those whose runs are gathered afterwards


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m experiments.summarize", description=__doc__.split("\n\n")[0])
    parser.add_argument("experiment", help=f"one of {', '.join(EXPERIMENTS)} (mnist1d and delay_sum write their "
                                           f"table at the end of their run)")
    parser.add_argument("run_dirs", nargs="+", help="workdirs of finished runs (each with results.json)")
    parser.add_argument("--out", help="output folder (default results/<experiment>; required with --select)")
    parser.add_argument("--select", metavar="METRIC",
                        help="runs of a _valid variant: report the one with the lowest validation METRIC")
    args = parser.parse_args(argv)
    if args.experiment not in EXPERIMENTS:
        sys.exit(f"error: no summary to gather for {args.experiment!r}: the experiments with one are "
                 f"{', '.join(EXPERIMENTS)}; mnist1d and delay_sum write theirs at the end of the run")
    if args.select and not args.out:
        sys.exit("error: --select needs --out (a folder of its own, e.g. results/adding/tcn_valid), so that the "
                 "experiment's main summary is not overwritten")
    out = Path(args.out or f"results/{args.experiment}")
    runs = {Path(d).name: Path(d) for d in args.run_dirs}
    try:
        if args.select:
            summarize_selection(runs, out, metric=args.select)
        else:
            importlib.import_module(f"experiments.{args.experiment}").summarize(runs, out)
    except (FileNotFoundError, ValueError, KeyError) as e:
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    main()
