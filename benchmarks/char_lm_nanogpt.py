"""nanoGPT's README CPU run against experiments.char_lm's `nanogpt_cpu` config, one after the other on one CPU.

    python -m benchmarks.char_lm_nanogpt --text=input.txt --nanogpt=DIR --torch_python=VENV/bin/python \
        [--workdir=DIR] [--steps=2000] [--json]

DIR is a checkout of karpathy/nanoGPT (train.py, model.py, configurator.py, config/, data/shakespeare_char/);
VENV a virtual environment with torch, numpy and requests (prepare.py imports it; nothing is downloaded).
Both get the same text: it is copied into a scratch copy of nanoGPT as data/shakespeare_char/input.txt,
where prepare.py reads it instead of downloading (its 90/10 split by position, train.bin and val.bin),
then nanoGPT trains with its README's CPU command. Ours: `python -m experiments.char_lm
--config.data_file=TEXT` (the default config is the same run). Each side is timed end to end as a
subprocess (imports, compilation, evaluations every 250 steps, checkpoints: everything the user waits for);
the val loss is each program's own figure at step 2000: nanoGPT's estimate_loss (eval_iters=20 random
batches of 12 x 64), ours the same estimate (20 batches of random windows, drawn once) and the whole
validation split. Timings on a shared machine are noisy: run it when the CPU is quiet. `--steps=S` (a
quick check that both sides run, not the comparison) shortens both runs alike: S iterations, the schedule
decayed at S, evaluations every min(250, S), warm-up min(100, S // 2).
"""

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NANOGPT_CPU = ["config/train_shakespeare_char.py", "--device=cpu", "--compile=False", "--eval_iters=20",
               "--log_interval=1", "--block_size=64", "--batch_size=12", "--n_layer=4", "--n_head=4",
               "--n_embd=128", "--max_iters=2000", "--lr_decay_iters=2000", "--dropout=0.0"]  # its README
NANOGPT_FILES = ("train.py", "model.py", "configurator.py", "config/train_shakespeare_char.py",
                 "data/shakespeare_char/prepare.py")


def timed(command: list[str], cwd: Path, log: Path) -> float:
    start = time.perf_counter()
    with open(log, "w") as f:
        subprocess.run(command, cwd=cwd, stdout=f, stderr=subprocess.STDOUT, check=True)
    return time.perf_counter() - start


def shortened(steps: int) -> dict:
    """Both sides' overrides for a run of `steps` (none for nanoGPT's 2000)."""
    if steps == 2000:
        return {}
    return {"max_iters": steps, "lr_decay_iters": steps, "eval_interval": min(250, steps),
            "warmup_iters": min(100, steps // 2)}


def run_nanogpt(text: Path, nanogpt: Path, python: str, scratch: Path, steps: int) -> dict:
    root = scratch / "nanoGPT"
    for name in NANOGPT_FILES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(nanogpt / name, root / name)
    shutil.copy(text, root / "data/shakespeare_char/input.txt")  # prepare.py then downloads nothing
    subprocess.run([python, "data/shakespeare_char/prepare.py"], cwd=root, check=True, capture_output=True)
    overrides = [f"--{k}={v}" for k, v in shortened(steps).items()]
    seconds = timed([python, "train.py", *NANOGPT_CPU, *overrides], root, scratch / "nanogpt.log")
    log = (scratch / "nanogpt.log").read_text()
    step, train, val = re.findall(r"step (\d+): train loss ([\d.]+), val loss ([\d.]+)", log)[-1]
    params = re.search(r"number of parameters: ([\d.]+)M", log).group(1)
    return {"name": "nanoGPT", "wall_seconds": seconds, "step": int(step), "valid_loss_est20": float(val),
            "train_loss_est20": float(train), "params_millions": float(params)}


def run_ours(text: Path, scratch: Path, steps: int) -> dict:
    workdir = scratch / "seqmodels"
    fields = {"max_iters": "num_steps", "lr_decay_iters": "optimizer.decay_steps", "eval_interval": "eval_every",
              "warmup_iters": "optimizer.warmup_steps"}
    overrides = [f"--config.{fields[k]}={v}" for k, v in shortened(steps).items()]
    command = [sys.executable, "-m", "experiments.char_lm", f"--workdir={workdir}", f"--config.data_file={text}",
               *overrides]
    seconds = timed(command, Path(__file__).resolve().parents[1], scratch / "seqmodels.log")
    results = json.loads((workdir / "results.json").read_text())
    m = results["metrics"]
    return {"name": "seqmodels", "wall_seconds": seconds, "step": results["steps"]["last"],
            "valid_loss_est20": m["valid_loss"], "train_loss_est20": m["train_loss"],
            "full_valid_loss": m["full_valid_loss"], "params_millions": m["num_params"] / 1e6,
            "train_seconds": results["timing"]["train_seconds_this_run"], "workdir": str(workdir)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--text", required=True, type=Path, help="the corpus, a UTF-8 text file")
    parser.add_argument("--nanogpt", required=True, type=Path, help="a checkout of karpathy/nanoGPT")
    parser.add_argument("--torch_python", required=True, help="python of a venv with torch, numpy, requests")
    parser.add_argument("--workdir", type=Path, default=None, help="scratch directory (default: a new temp dir)")
    parser.add_argument("--steps", type=int, default=2000, help="iterations (2000: the README's run)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    scratch = args.workdir or Path(tempfile.mkdtemp(prefix="char_lm_nanogpt_"))
    scratch.mkdir(parents=True, exist_ok=True)
    rows = [run_nanogpt(args.text.resolve(), args.nanogpt.resolve(), args.torch_python, scratch, args.steps),
            run_ours(args.text.resolve(), scratch, args.steps)]
    for row in rows:
        if args.json:
            print(json.dumps(row))
        else:
            full = f", whole validation split {row['full_valid_loss']:.4f}" if "full_valid_loss" in row else ""
            print(f"{row['name']:10s} {row['params_millions']:.2f}M params, step {row['step']}: val loss "
                  f"{row['valid_loss_est20']:.4f} (20-batch estimate){full}; wall {row['wall_seconds']:.1f} s")
    print(f"logs and workdirs in {scratch}")


if __name__ == "__main__":
    main()
