"""Hopfield network: recall of stored 8x8 digits from corrupted copies, energy per sweep, and the capacity
of Hebbian storage for random patterns (about 0.138 N; Amit, Gutfreund & Sompolinsky 1985).

    python -m experiments.hopfield --workdir=DIR [--config=experiments/configs/hopfield.py[:small]]

Nothing is trained (W is Hebbian), so this is a short main with the launcher's command line rather than a
Task. Digits: the class-mean image of each class (train split), thresholded at its own mean, +-1. Capacity:
P random +-1 patterns in N units; a pattern counts as recalled if asynchronous recall started from it (or
from a copy with a fraction of bits flipped) ends within `max_bit_error` of it. Writes DIR/results.json,
DIR/digits_recall.png, DIR/energy_per_sweep.png, DIR/capacity.png.
"""

import functools
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from experiments import launcher
from seqmodels.data import packaged
from seqmodels.models import hopfield
from seqmodels.training import ConfigError, validate

AMIT_CAPACITY = 0.138  # P / N where the retrieval states vanish as N -> infinity


def digit_prototypes(classes) -> np.ndarray:
    """[len(classes), 64] in {-1, +1}: each class-mean image of the train split thresholded at its mean."""
    train = packaged.digits()["train"]
    means = np.stack([train["x"][train["y"] == c].reshape(-1, 64).mean(0) for c in classes])
    return np.where(means > means.mean(1, keepdims=True), 1.0, -1.0).astype(np.float32)


def corrupt(rng: np.random.Generator, x: np.ndarray, fraction: float) -> np.ndarray:
    """x with round(fraction * N) bits of each row flipped, chosen at random."""
    n = x.shape[-1]
    flips = rng.random(x.shape).argsort(-1) < round(fraction * n)
    return np.where(flips, -x, x).astype(np.float32)


@functools.partial(jax.jit, static_argnames="num_sweeps")
def recall_many(params, starts, key, num_sweeps: int):
    """Asynchronous recall of many starts [..., N] under one network: (states [..., T, N], energies [..., T])."""
    one = lambda s, k: hopfield.recall(params, s, k, num_sweeps=num_sweeps)
    flat = starts.reshape(-1, starts.shape[-1])
    states, energies = jax.vmap(one)(flat, jax.random.split(key, len(flat)))
    return states.reshape(*starts.shape[:-1], *states.shape[1:]), energies.reshape(*starts.shape[:-1], -1)


def digits_experiment(config, rng, key) -> tuple[dict, dict]:
    d = config.digits
    prototypes = digit_prototypes(d.classes)
    results, shown = {}, {}
    for k in d.num_stored:
        stored = prototypes[:k]
        params = hopfield.hebbian(stored)
        starts = corrupt(rng, np.repeat(stored[:, None], d.num_trials, 1), d.flip_fraction)  # [k, trials, 64]
        states, energies = recall_many(params, jnp.asarray(starts), jax.random.fold_in(key, k), config.num_sweeps)
        final = np.asarray(states[:, :, -1])
        overlap = (final * stored[:, None]).mean(-1)  # m = s.x / N, 1 for a perfect recall
        fixed = [np.array_equal(hopfield.sync_sweep(params, jnp.asarray(x)), x) for x in stored]  # all units stable
        results[f"{k}_stored"] = {"recall_rate": float(np.mean(overlap == 1.0)), "mean_overlap": float(overlap.mean()),
                                  "stored_fixed_points": int(sum(fixed))}
        shown[k] = {"stored": stored, "start": starts[:, 0], "final": final[:, 0], "energies": np.asarray(energies)}
    return results, shown


def capacity_experiment(config, rng, key) -> dict:
    c = config.capacity
    out = {}
    for n in c.sizes:
        loads = np.unique(np.linspace(1, max(1, round(c.max_load * n)), c.num_loads).round().astype(int))  # P values
        p_max = int(loads.max())
        patterns = rng.choice([-1.0, 1.0], size=(len(loads), c.num_trials, p_max, n)).astype(np.float32)
        mask = np.broadcast_to(np.arange(p_max) < loads[:, None, None], patterns.shape[:-1])  # [L, trials, P_max]
        patterns = patterns * mask[..., None]  # zero rows add nothing to the Hebbian sum
        params = jax.vmap(jax.vmap(hopfield.hebbian))(jnp.asarray(patterns))
        rates = {}
        for name, fraction in (("from_pattern", 0.0), ("from_corrupted", c.flip_fraction)):
            starts = corrupt(rng, patterns, fraction) * mask[..., None]
            run = jax.vmap(jax.vmap(lambda p, s, k: recall_many(p, s, k, config.num_sweeps)[0][:, -1]))
            keys = jax.random.split(jax.random.fold_in(key, n * 2 + (fraction > 0)), (len(loads), c.num_trials))
            final = np.asarray(run(params, jnp.asarray(starts), keys))  # [L, trials, P_max, N]
            bit_error = (final != patterns).mean(-1)
            ok = (bit_error <= c.max_bit_error) & mask
            rates[name] = (ok.sum((1, 2)) / mask.sum((1, 2))).tolist()
        half = [float(loads[i] / n) for i, r in enumerate(rates["from_pattern"]) if r < 0.5][:1]
        out[str(n)] = {"num_patterns": loads.tolist(), "load": (loads / n).tolist(), "recall_rate": rates,
                       "load_at_half_recall": half[0] if half else None}
    return out


def plot(workdir: Path, config, shown: dict, capacity: dict) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ks = list(shown)
    fig, axes = plt.subplots(3 * len(ks), max(ks), figsize=(1.1 * max(ks), 3.4 * len(ks)), squeeze=False)
    for row, k in enumerate(ks):
        for r, name in enumerate(("stored", "start", "final")):
            for j in range(max(ks)):
                ax = axes[3 * row + r, j]
                ax.axis("off")
                if j < k:
                    ax.imshow(shown[k][name][j].reshape(8, 8), cmap="gray_r", vmin=-1, vmax=1)
            axes[3 * row + r, 0].set_title(f"{k} stored: {name}", fontsize=8, loc="left")
    fig.tight_layout()
    fig.savefig(workdir / "digits_recall.png", dpi=80)
    plt.close(fig)

    fig, axes = plt.subplots(1, len(ks), figsize=(3.2 * len(ks), 3), squeeze=False)
    for ax, k in zip(axes[0], ks):
        e = shown[k]["energies"].reshape(-1, config.num_sweeps + 1)
        ax.plot(e.T, color="C0", alpha=0.3, lw=0.8)
        ax.set(title=f"{k} digits stored", xlabel="sweep", ylabel="energy E(s)")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(workdir / "energy_per_sweep.png", dpi=90)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for i, (n, r) in enumerate(capacity.items()):
        ax.plot(r["load"], r["recall_rate"]["from_pattern"], color=f"C{i}", marker=".", label=f"N={n}, from x_p")
        ax.plot(r["load"], r["recall_rate"]["from_corrupted"], color=f"C{i}", ls="--",
                label=f"N={n}, from {config.capacity.flip_fraction:.0%} flipped")
    ax.axvline(AMIT_CAPACITY, color="k", lw=0.8, ls=":", label="0.138")
    ax.set(xlabel="load P / N", ylabel=f"fraction recalled (<= {config.capacity.max_bit_error:.0%} bit error)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(workdir / "capacity.png", dpi=90)
    plt.close(fig)


def check_config(config) -> None:
    validate.positive("num_sweeps", config.num_sweeps, integer=True)
    d, c = config.digits, config.capacity
    if not d.classes or len(set(d.classes)) != len(d.classes) or not set(d.classes) <= set(range(10)):
        raise ConfigError(f"digits.classes: expected distinct digits 0..9, got {d.classes!r}")
    for k in d.num_stored:
        if not isinstance(k, int) or not 1 <= k <= len(d.classes):
            raise ConfigError(f"digits.num_stored: each entry must be an integer in 1..{len(d.classes)} "
                              f"(len(digits.classes)), got {d.num_stored!r}")
    validate.positive("digits.num_trials", d.num_trials, integer=True)
    validate.in_range("digits.flip_fraction", d.flip_fraction, 0.0, 1.0, high_open=True)
    for n in c.sizes:
        validate.positive("capacity.sizes[i]", n, integer=True)
    for field in ("num_loads", "num_trials"):
        validate.positive(f"capacity.{field}", c[field], integer=True)
    validate.in_range("capacity.max_load", c.max_load, 0.0, 1.0)
    validate.in_range("capacity.max_bit_error", c.max_bit_error, 0.0, 1.0, high_open=True)
    validate.in_range("capacity.flip_fraction", c.flip_fraction, 0.0, 1.0, high_open=True)


def run(config, workdir: Path) -> dict:
    check_config(config)
    rng, key = np.random.default_rng(config.seed), jax.random.key(config.seed)
    start = time.perf_counter()
    digits, shown = digits_experiment(config, rng, jax.random.fold_in(key, 0))
    capacity = capacity_experiment(config, rng, jax.random.fold_in(key, 1))
    seconds = time.perf_counter() - start
    plot(workdir, config, shown, capacity)
    results = {"experiment": "hopfield (Hebbian storage, asynchronous recall)",
               "metrics": {"digits": digits, "capacity": capacity}, "reference": {"capacity_load": AMIT_CAPACITY},
               "timing": {"seconds": seconds}}
    return results


if __name__ == "__main__":
    launcher.run_direct(run)
