"""Where metrics go: the terminal, JSONL, TensorBoard event files, and PNG plots.

    writer = MetricWriter(workdir)              # workdir/metrics.jsonl, workdir/tensorboard/
    writer.write(step, "train", {"loss": 0.3})  # one JSONL line + one scalar per metric
    writer.close()
    progress = Progress(num_steps, start_step)  # absl logging with rate and ETA
    progress.log(step, {"loss": 0.3})
    plot_curves(workdir / "metrics.jsonl", workdir / "plots")   # one PNG per metric

A JSONL line is flat: {"step": 100, "split": "train", "loss": 0.3, ...}.
Resuming a run first cuts the JSONL back to the checkpoint's step
(`truncate_after`), so the file of a resumed run equals that of an
uninterrupted one. TensorBoard events are written with tensorboardX (no
TensorFlow needed); a resumed run starts a new event file, and TensorBoard
shows the recomputed steps on top of the old ones. In a multi-host run only
process 0 writes.
"""

import json
import math
import os
import time
from pathlib import Path
from typing import Iterable

import jax
from absl import logging

__all__ = ["MetricWriter", "Progress", "read_jsonl", "plot_curves", "format_metrics"]


def format_metrics(metrics: dict[str, float]) -> str:
    return ", ".join(f"{name} {value:.4g}" for name, value in sorted(metrics.items()))


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """All records of a metrics.jsonl (an empty list if the file does not exist). A last line cut short (a
    process killed while writing it) is left out; a bad line anywhere else is an error naming it."""
    path = Path(path)
    if not path.exists():
        return []
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    records = []
    for i, line in enumerate(lines):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as e:
            if i == len(lines) - 1:
                logging.warning("%s: its last line is cut short (a run killed while writing it): left out", path)
                break
            raise ValueError(f"{path}: line {i + 1} is not a JSON record ({e}): the file is damaged") from None
    return records


class MetricWriter:
    """Append metrics to workdir/metrics.jsonl and to TensorBoard events in workdir/tensorboard/."""

    def __init__(self, workdir: str | os.PathLike, *, tensorboard: bool = True):
        self.workdir = Path(workdir)
        self.path = self.workdir / "metrics.jsonl"
        self.active = jax.process_index() == 0
        self._tb = None
        if self.active and tensorboard:
            try:
                from tensorboardX import SummaryWriter
            except ImportError:
                logging.warning("tensorboardX is not installed: no TensorBoard events (pip install tensorboardX)")
            else:
                self._tb = SummaryWriter(str(self.workdir / "tensorboard"))

    def truncate_after(self, step: int) -> None:
        """Drop records beyond `step` (written after the checkpoint a run resumes from) and final ones."""
        if not self.active:
            return
        kept = [r for r in read_jsonl(self.path) if r["step"] <= step and r["split"] != "final"]
        tmp = self.path.with_suffix(".jsonl.tmp")
        with tmp.open("w") as f:
            f.writelines(json.dumps(r) + "\n" for r in kept)
        tmp.replace(self.path)

    def write(self, step: int, split: str, metrics: dict[str, float]) -> None:
        if not self.active:
            return
        record = {"step": int(step), "split": split, **{k: float(v) for k, v in metrics.items()}}
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")
        if self._tb is not None:
            for name, value in metrics.items():
                self._tb.add_scalar(f"{split}/{name}", float(value), int(step))
            self._tb.flush()

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None


class Progress:
    """absl log lines 'step s/n (p%): metrics | r steps/s, ETA h:mm:ss'."""

    def __init__(self, num_steps: int, start_step: int = 0):
        self.num_steps = num_steps
        self._step, self._time = start_step, time.perf_counter()

    def log(self, step: int, metrics: dict[str, float], *, split: str = "train") -> float:
        """Log one line; return the rate in steps per second since the previous call."""
        now = time.perf_counter()
        rate = (step - self._step) / max(now - self._time, 1e-9)
        self._step, self._time = step, now
        eta = (self.num_steps - step) / rate if rate > 0 else math.inf
        eta_text = time.strftime("%H:%M:%S", time.gmtime(eta)) if math.isfinite(eta) else "?"
        logging.info("step %d/%d (%.0f%%) %s: %s | %.1f steps/s, ETA %s", step, self.num_steps,
                     100.0 * step / self.num_steps, split, format_metrics(metrics), rate, eta_text)
        return rate


def plot_curves(jsonl_path: str | os.PathLike, out_dir: str | os.PathLike,
                splits: Iterable[str] = ("train", "eval")) -> list[Path]:
    """One PNG per metric (train and eval curves on the same axes), named <metric>.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = [r for r in read_jsonl(jsonl_path) if r["split"] in splits]
    names = sorted({k for r in records for k in r if k not in ("step", "split")})
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        for split in splits:
            points = [(r["step"], r[name]) for r in records if r["split"] == split and name in r]
            if points:
                steps, values = zip(*points)
                ax.plot(steps, values, marker="o" if len(points) < 30 else None, label=split)
        values = [r[name] for r in records if name in r]
        if min(values) > 0 and max(values) > 20 * min(values):
            ax.set_yscale("log")  # losses spanning decades
        ax.set_xlabel("step")
        ax.set_ylabel(name)
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        path = out_dir / f"{name.replace('/', '_')}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths
