"""Shared timing helpers for the benchmarks: median wall time of a jitted step."""

import json
import os
import platform
import statistics
import time

import jax
import jax.numpy as jnp


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
