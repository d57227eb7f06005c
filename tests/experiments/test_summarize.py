"""The reporting module (experiments/summarize.py): selection on validation, curves, the command."""

import json
import subprocess
import sys
from pathlib import Path

from experiments import summarize

ROOT = Path(__file__).resolve().parents[2]


def _fake_valid_run(run_dir, params_from, evals):
    """A finished `_valid` run as the loop writes it: results.json (the params_from step's metrics) and the
    eval records of metrics.jsonl; evals: {step: (valid_mse, test_mse)}."""
    run_dir.mkdir(parents=True)
    valid, test = evals[params_from]
    (run_dir / "results.json").write_text(json.dumps({
        "metrics": {"valid_mse": valid, "test_mse": test}, "timing": {"train_seconds_this_run": 1.0},
        "steps": {"last": max(evals), "params_from": params_from}}))
    (run_dir / "metrics.jsonl").write_text("".join(
        json.dumps({"step": s, "split": "eval", "valid_mse": v, "test_mse": t}) + "\n" for s, (v, t) in evals.items()))


def test_summarize_selection_reports_the_validation_choice_not_the_test_best_or_the_last(tmp_path):
    _fake_valid_run(tmp_path / "a", 20, {10: (0.2, 0.3), 20: (0.1, 0.25), 30: (0.15, 0.05)})
    _fake_valid_run(tmp_path / "b", 30, {10: (0.3, 0.3), 20: (0.2, 0.2), 30: (0.12, 0.01)})
    runs = {"seed0": tmp_path / "a", "seed1": tmp_path / "b"}
    summary = summarize.summarize_selection(runs, tmp_path / "out", metric="mse")
    assert summary["chosen"] == "seed0" and summary["test_mse"] == 0.25  # not seed1's 0.01, not seed0's 0.05
    assert summary["runs"]["seed0"]["params_from_step"] == 20 and summary["runs"]["seed0"]["last_step_test_mse"] == 0.05
    # re-scored (--reevaluate): the chosen step is the best checkpoint, not one of the periodic ones kept
    (tmp_path / "a" / "reevaluation.json").write_text(json.dumps({
        "checkpoints": {"30": {"valid_mse": 0.15, "test_mse": 0.06}},
        "best": {"step": 20, "metrics": {"valid_mse": 0.1, "test_mse": 0.24}}}))
    summary = summarize.summarize_selection(runs, tmp_path / "out", metric="mse")
    assert summary["test_mse"] == 0.24 and summary["runs"]["seed0"]["rescored_by"] == "reevaluation.json"
    assert (tmp_path / "out" / "seed0" / "reevaluation.json").exists()


def test_plot_test_curves_reads_workdirs_and_eval_curve_files(tmp_path):
    _fake_valid_run(tmp_path / "a", 20, {10: (0.2, 0.3), 20: (0.1, 0.25)})
    _fake_valid_run(tmp_path / "b", 20, {10: (0.3, 0.2), 20: (0.2, 0.1)})
    summarize.summarize_selection({"s": tmp_path / "b"}, tmp_path / "sel", metric="mse")  # writes eval_curve.jsonl
    curves = {"from a workdir": summarize.eval_curve(tmp_path / "a", "mse"),
              "from eval_curve.jsonl": summarize.eval_curve(tmp_path / "sel" / "s" / "eval_curve.jsonl", "mse")}
    assert curves == {"from a workdir": ([10, 20], [0.3, 0.25]), "from eval_curve.jsonl": ([10, 20], [0.2, 0.1])}
    summarize.plot_curves(curves, tmp_path / "curves.png", title="adding", ylabel="test mse", log=True,
                          reference={"from a workdir": 0.01}, hlines={"baseline": 1 / 6})
    assert (tmp_path / "curves.png").stat().st_size > 0


def test_summarize_command_gathers_runs_and_refuses_what_it_cannot(tmp_path):
    _fake_valid_run(tmp_path / "a", 20, {10: (0.2, 0.3), 20: (0.1, 0.25)})
    _fake_valid_run(tmp_path / "b", 20, {10: (0.3, 0.2), 20: (0.05, 0.1)})
    run = lambda *args: subprocess.run([sys.executable, "-m", "experiments.summarize", *map(str, args)],  # noqa: E731
                                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    done = run("adding", tmp_path / "a", tmp_path / "b", f"--out={tmp_path / 'sel'}", "--select=mse")
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((tmp_path / "sel" / "results.json").read_text())["chosen"] == "b"
    unknown = run("nope", tmp_path / "a", f"--out={tmp_path / 'x'}")
    assert unknown.returncode == 1 and "no summary to gather for 'nope'" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    no_out = run("adding", tmp_path / "a", "--select=mse")
    assert no_out.returncode == 1 and "--select needs --out" in no_out.stderr
    not_valid = run("adding", tmp_path / "a", f"--out={tmp_path / 'y'}", "--select=cross_entropy")
    assert not_valid.returncode == 1 and "not a run of a _valid variant" in not_valid.stderr
