"""Shared timing helpers for the benchmarks: median wall time of a jitted step."""

import json
import os
import platform
import statistics
import subprocess
import sys
import time

import jax
import jax.numpy as jnp

from seqmodels.training import precision


def machine() -> str:
    """A one-line description of where the numbers came from."""
    dev = jax.devices()[0]
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{dev.platform}:{getattr(dev, 'device_kind', '')} | {os.cpu_count()} cores {cpu} | jax {jax.__version__}"


def time_fn(fn, *args, warmup: int = 2, repeats: int = 10) -> float:
    """Median seconds per call of `fn(*args)` (results blocked on), after warm-up calls."""
    for _ in range(warmup):
        jax.block_until_ready(fn(*args))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def time_interleaved(fns: dict, *, warmup: int = 2, repeats: int = 10) -> dict:
    """Best-of-`repeats` seconds per call for each zero-argument fn, timed in rounds.

    Each round times every case once, so a burst of load from elsewhere on a
    shared machine hits all cases alike; the minimum is the least-disturbed run.
    The order rotates from round to round: the case timed first in a round was
    measured a few percent slower than the same compiled step timed later (the
    conv benchmark's identical-HLO seqmodels/lax pair showed it), so no case
    keeps that place.
    """
    for fn in fns.values():
        for _ in range(warmup):
            jax.block_until_ready(fn())
    names = list(fns)
    times = {name: [] for name in names}
    for r in range(repeats):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            t0 = time.perf_counter()
            jax.block_until_ready(fns[name]())
            times[name].append(time.perf_counter() - t0)
    return {name: min(ts) for name, ts in times.items()}


def print_table(rows: list[dict], columns: list[str]) -> None:
    widths = [max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(str(r.get(c, "")).ljust(w) for c, w in zip(columns, widths)))


def dump_json(obj) -> None:
    print(json.dumps(obj, sort_keys=True))


def sgd_step(loss_fn, learning_rate: float = 1e-3):
    """A jitted training step (params, x, target) -> (params - lr * grad, loss): the step every case times."""

    @jax.jit
    def step(params, x, target):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, target)
        return jax.tree.map(lambda p, g: p - learning_rate * g, params, grads), loss

    return step


def mse(y, target):
    return jnp.mean(jnp.square(y - target))


def in_dtype(loss_fn, dtype: str):
    """loss_fn(params, x, target) with params and x cast to `dtype` inside (float32 master params, float32
    gradients: the policy of seqmodels.training.precision, config.precision); itself for float32."""
    if dtype == "float32":
        return loss_fn
    return lambda params, x, target: loss_fn(precision.cast_floating(params, dtype), x.astype(dtype), target)


def torch_rows(benchmark: str, python: str | None, args: dict, dtypes: list[str], timeout: float = 1800) -> dict:
    """benchmarks/torch_cases.py's rows for `benchmark` (rnn | conv) under `python`; {"status": ...} if none."""
    if python is None:
        return {"status": "skipped: no torch here (pass --torch_python=VENV/bin/python)"}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cmd = [python, os.path.join(root, "benchmarks", "torch_cases.py"), benchmark, "--dtypes", ",".join(dtypes),
           *(f"--{k}={v}" for k, v in args.items())]
    return run_json(cmd, timeout=timeout, cwd=root)


def torch_python(path: str | None) -> str | None:
    """The interpreter that runs torch rows: `path` (a --torch_python flag), else this one if it imports
    torch, else None (torch rows skipped). torch stays out of the project's venv: see the `bench` extra."""
    if path:
        return path
    try:
        import torch  # noqa: F401
    except ImportError:
        return None
    return sys.executable


def run_json(cmd: list[str], *, timeout: float, cwd: str | None = None) -> dict:
    """Run `cmd` (a benchmark case, possibly under another interpreter) and return the last line of its
    stdout that is a JSON object; {"status": reason} if it failed, timed out or printed none."""
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired:
        return {"status": f"timed out after {timeout} s"}
    except OSError as e:
        return {"status": f"failed to start {cmd[0]}: {e}"}
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
    return {"status": f"failed (exit {done.returncode}): {tail[0][:200]}"}
