"""Every experiment's small (CI) config, run from the command line, its metrics gathered into one JSON file.

    python -m benchmarks.small_configs --out=/tmp/after.json [--jobs=2]
    python -m benchmarks.small_configs --compare /tmp/before.json /tmp/after.json

The check that a refactor changes no number: run it on the commit before and
the commit after (it only uses the command line and the files a run writes,
results.json and metrics.jsonl, so it runs on both), then `--compare`: every
eval and final metric of every run side by side, the largest relative
difference printed, exit status 1 if any differs by more than --rtol.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# (experiment, config variant, extra flags): every model family of every experiment, at its small size
RUNS = [
    ("delay_sum", "small", ()),
    *[("adding", f"small_{m}", ()) for m in ("tcn", "lstm", "gru", "rnn", "transformer")],
    ("adding", "small_lstm", ("--config.model.lstm.init=torch",)),
    *[("copy_memory", f"small_{m}", ()) for m in ("tcn", "lstm", "gru", "rnn", "transformer")],
    *[("chorales", f"{m},small", ()) for m in ("tcn", "lstm", "gru")],
    *[("santa_fe", v, ()) for v in ("small", "small_lstm", "small_gru", "small_tcn")],
    ("mnist1d", "small", ("--config.model.names=logistic,mlp,cnn,gru,lstm,tcn,transformer,mixer",)),
    # the same runs without global-norm clipping, whose float32 sum over the parameter leaves depends on their
    # order (a refactor that renames parameters changes the last bits of the clipped updates, nothing else)
    *[(e, f"small_{m}", ("--config.optimizer.clip_norm=0",)) for e in ("adding", "copy_memory")
      for m in ("tcn", "lstm", "gru", "rnn", "transformer")],
    *[("chorales", f"{m},small", ("--config.optimizer.clip_norm=0",)) for m in ("tcn", "lstm", "gru")],
]


def run_name(experiment: str, variant: str, flags) -> str:
    return "-".join([experiment, variant.replace(",", "_"), *[f.split("=")[-1] for f in flags]])


def _numbers(record: dict) -> dict:
    return {k: v for k, v in record.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
            and "second" not in k and "time" not in k}


def collect(workdir: Path) -> dict:
    """{metric key: value} of one run: every eval record of every metrics.jsonl, and results.json's metrics."""
    out = {}
    for path in sorted(workdir.rglob("metrics.jsonl")):
        sub = path.parent.relative_to(workdir).as_posix()
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            rec = json.loads(line)
            if rec.get("split") in ("eval", "train"):
                for k, v in _numbers(rec).items():
                    if k != "step":
                        out[f"{sub}/{rec['split']}@{rec['step']}/{k}"] = v
    for path in sorted(workdir.rglob("results.json")):
        sub = path.parent.relative_to(workdir).as_posix()
        metrics = json.loads(path.read_text()).get("metrics", {})
        for k, v in _numbers(metrics).items():
            out[f"{sub}/final/{k}"] = v
    return out


def one(run, root: Path) -> tuple[str, dict]:
    experiment, variant, flags = run
    name = run_name(*run)
    workdir = root / name
    cmd = [sys.executable, "-m", f"experiments.{experiment}", f"--config=experiments/configs/{experiment}.py:{variant}",
           f"--workdir={workdir}", *flags]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "JAX_PLATFORMS": "cpu"})
    if proc.returncode:
        return name, {"error": proc.stderr[-2000:]}
    return name, collect(workdir)


def compare(before: dict, after: dict, rtol: float) -> int:
    worst, bad, missing = 0.0, 0, 0
    for name in sorted(set(before) | set(after)):
        a, b = before.get(name, {}), after.get(name, {})
        if "error" in a or "error" in b or not a or not b:
            print(f"{name}: {'missing' if not a or not b else 'error'} (before {len(a)} values, after {len(b)})")
            missing += 1
            continue
        keys = sorted(set(a) & set(b))
        only = sorted(set(a) ^ set(b))
        diffs = {k: abs(a[k] - b[k]) / max(abs(a[k]), 1e-12) if not (math.isnan(a[k]) and math.isnan(b[k])) else 0.0
                 for k in keys}
        run_worst = max(diffs.values(), default=0.0)
        worst = max(worst, run_worst)
        bad += sum(d > rtol for d in diffs.values())
        # the logged gradient norm sums the parameter leaves in the tree's order: renamed parameters move its
        # last bits without changing any update (unless global-norm clipping uses it)
        metrics = [d for k, d in diffs.items() if not k.endswith("/grad_norm")]
        print(f"{name}: {len(keys)} values, {sum(d > 0 for d in diffs.values())} differ; max relative difference "
              f"{run_worst:.3g}, {max(metrics, default=0.0):.3g} without grad_norm"
              + (f"; {len(only)} only on one side: {only[:4]}" if only else ""))
    print(f"\nall runs: max relative difference {worst:.3g}; {bad} values over rtol={rtol:g}; {missing} runs missing")
    return int(bad > 0 or missing > 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", help="JSON file of every run's metrics")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"))
    parser.add_argument("--rtol", type=float, default=0.0)
    parser.add_argument("--only", default="", help="comma-separated run names to run again; merged into --out")
    args = parser.parse_args()
    if args.compare:
        before, after = (json.loads(Path(p).read_text()) for p in args.compare)
        sys.exit(compare(before, after, args.rtol))
    if not args.out:
        parser.error("--out or --compare is required")
    runs = [r for r in RUNS if not args.only or run_name(*r) in args.only.split(",")]
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(args.jobs) as pool:
        results = dict(pool.map(lambda r: one(r, Path(tmp)), runs))
    for name, values in results.items():
        print(f"{name}: {'ERROR ' + values['error'][-300:] if 'error' in values else f'{len(values)} values'}")
    if args.only and Path(args.out).exists():
        results = {**json.loads(Path(args.out).read_text()), **results}
    Path(args.out).write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
