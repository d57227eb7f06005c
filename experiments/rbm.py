"""RBM on binarised 8x8 digits: CD-1, CD-k and persistent CD, beside scikit-learn's BernoulliRBM (PCD-1).

    python -m experiments.rbm --workdir=DIR [--config=experiments/configs/rbm.py[:small]]

Every method makes the same plain SGD step on the surrogate mean F(v_data) - mean F(v~) (seqmodels.models.rbm)
with scikit-learn's hyper-parameters; they differ in the negative samples v~: CD-k runs k Gibbs steps from the
batch, PCD-k continues `batch_size` persistent chains. Ours shuffles the training set every epoch and drops
the last partial batch; BernoulliRBM goes through it in order, in equal slices (its `partial_fit` per slice,
which is its `fit`). Test-set metrics after every epoch: the mean-field reconstruction error and the
pseudo-log-likelihood sum_i log p(v_i | v_-i) (the expectation of BernoulliRBM.score_samples), both computed
by our code from each model's weights. A short main (no checkpoints): a full run takes a few minutes.
Writes DIR/results.json, curves.png, samples.png, filters.png.
"""

import functools
import re
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from experiments import launcher
from seqmodels.data import packaged
from seqmodels.models import rbm
from seqmodels.training import ConfigError, validate

METHOD = re.compile(r"^(cd|pcd)(\d+)$|^sklearn$")


def binarised_digits(threshold: float) -> dict[str, np.ndarray]:
    data = packaged.digits()
    return {s: (data[s]["x"].reshape(-1, 64) > threshold).astype(np.float32) for s in ("train", "test")}  # [N, 64]


@jax.jit
def evaluate(params, x) -> dict:
    return {"recon_error": jax.vmap(rbm.reconstruction_error, in_axes=(None, 0))(params, x).mean(),
            "pseudo_likelihood": jax.vmap(rbm.pseudo_likelihood, in_axes=(None, 0))(params, x).mean()}


@functools.partial(jax.jit, static_argnames=("persistent", "k", "learning_rate"))
def epoch(params, chains, batches, key, *, persistent: bool, k: int, learning_rate: float):
    """One pass of SGD over batches [S, B, V]; chains [B, H] are PCD's hidden states (ignored by CD)."""
    def step(carry, inputs):
        params, chains = carry
        v, key = inputs
        keys = jax.random.split(key, len(v))
        if persistent:
            v_model, chains = jax.vmap(lambda h, k_: rbm.pcd_negative(params, h, k_, k))(chains, keys)
        else:
            v_model = jax.vmap(lambda x, k_: rbm.cd_negative(params, x, k_, k))(v, keys)
        grads = jax.grad(rbm.contrastive_loss)(params, v, v_model)
        return (jax.tree.map(lambda p, g: p - learning_rate * g, params, grads), chains), None

    return jax.lax.scan(step, (params, chains), (batches, jax.random.split(key, len(batches))))[0]


def train_ours(config, method: str, data: dict, seed: int):
    kind, k = METHOD.match(method).groups()
    rng, key = np.random.default_rng(seed), jax.random.key(seed)
    params = rbm.init(jax.random.fold_in(key, 0), 64, config.num_hidden)
    chains = jnp.zeros((config.batch_size, config.num_hidden))  # scikit-learn's h_samples_ start
    num_batches = len(data["train"]) // config.batch_size
    history = [evaluate(params, data["test"])]
    for e in range(config.num_epochs):
        batches = data["train"][rng.permutation(len(data["train"]))[:num_batches * config.batch_size]]
        params, chains = epoch(params, chains, batches.reshape(num_batches, config.batch_size, 64),
                               jax.random.fold_in(key, e + 1), persistent=kind == "pcd", k=int(k),
                               learning_rate=config.learning_rate)
        history.append(evaluate(params, data["test"]))
    return params, history


def train_sklearn(config, data: dict, seed: int):
    from sklearn.neural_network import BernoulliRBM
    from sklearn.utils import gen_even_slices

    model = BernoulliRBM(n_components=config.num_hidden, learning_rate=config.learning_rate,
                         batch_size=config.batch_size, n_iter=config.num_epochs, random_state=seed)
    x = data["train"].astype(np.float64)
    num_batches = -(-len(x) // config.batch_size)
    slices = list(gen_even_slices(num_batches * config.batch_size, num_batches, n_samples=len(x)))  # as in fit
    params = lambda: {"W": jnp.asarray(model.components_.T, jnp.float32),
                      "b_v": jnp.asarray(model.intercept_visible_, jnp.float32),
                      "b_h": jnp.asarray(model.intercept_hidden_, jnp.float32)}
    history = []
    for _ in range(config.num_epochs):
        for s in slices:
            model.partial_fit(x[s])  # the first call draws the initial weights: no record before epoch 1
        history.append(evaluate(params(), data["test"]))
    return params(), history


@functools.partial(jax.jit, static_argnames=("num_chains", "num_steps"))
def gibbs_samples(params, key, *, num_chains: int, num_steps: int):
    """Visible samples after `num_steps` Gibbs steps from random bits: [num_chains, 64]."""
    starts = jax.random.bernoulli(key, 0.5, (num_chains, 64)).astype(jnp.float32)
    keys = jax.random.split(jax.random.fold_in(key, 1), num_chains)
    return jax.vmap(lambda v, k: rbm.gibbs_vhv(params, v, k, num_steps))(starts, keys)


def plot(workdir: Path, histories: dict, samples: dict, filters: dict) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for i, (method, runs) in enumerate(histories.items()):
        for ax, name in zip(axes, ("recon_error", "pseudo_likelihood")):
            curves = np.array([[h[name] for h in run] for run in runs])  # [seeds, epochs]
            epochs = np.arange(curves.shape[1]) + (method == "sklearn")  # sklearn's first record is after epoch 1
            ax.plot(epochs, curves.mean(0), color=f"C{i}", label=method)
            ax.fill_between(epochs, curves.min(0), curves.max(0), color=f"C{i}", alpha=0.2)
            ax.set(xlabel="epoch", ylabel=f"test {name}", title=f"test {name.replace('_', ' ')}")
            ax.grid(alpha=0.3)
    axes[1].legend()
    fig.tight_layout()
    fig.savefig(workdir / "curves.png", dpi=90)
    plt.close(fig)

    for name, images, cmap in (("samples", samples, "gray_r"), ("filters", filters, "RdBu_r")):
        fig, axes = plt.subplots(1, len(images), figsize=(3.2 * len(images), 3.5), squeeze=False)
        for ax, (method, x) in zip(axes[0], images.items()):
            side = int(np.ceil(np.sqrt(len(x))))
            grid = np.full((side * 9, side * 9), np.nan)
            for j, img in enumerate(x):
                img = img.reshape(8, 8)
                if name == "filters":
                    img = img / (np.abs(img).max() + 1e-12)
                grid[9 * (j // side):9 * (j // side) + 8, 9 * (j % side):9 * (j % side) + 8] = img
            ax.imshow(grid, cmap=cmap, vmin=-1 if name == "filters" else 0, vmax=1)
            ax.set_title(method)
            ax.axis("off")
        fig.tight_layout()
        fig.savefig(workdir / f"{name}.png", dpi=80)
        plt.close(fig)


def check_config(config) -> None:
    for method in config.methods:
        if not isinstance(method, str) or not METHOD.match(method) or method in ("cd0", "pcd0"):
            raise ConfigError(f"methods: {method!r} is not a method; expected 'cd<k>' or 'pcd<k>' with k >= 1 "
                              f"Gibbs steps, or 'sklearn' (e.g. ('cd1', 'cd10', 'pcd1', 'sklearn'))")
    for field in ("num_hidden", "batch_size", "num_epochs", "sample_chains", "sample_steps"):
        validate.positive(field, config[field], integer=True)
    validate.positive("learning_rate", config.learning_rate)
    validate.in_range("threshold", config.threshold, 0.0, 1.0, high_open=True)
    if not config.seeds:
        raise ConfigError("seeds: expected at least one seed, e.g. (0,)")


def run(config, workdir: Path) -> dict:
    check_config(config)
    data = binarised_digits(config.threshold)
    if config.batch_size > len(data["train"]):
        raise ConfigError(f"batch_size: {config.batch_size} is more than the {len(data['train'])} training images")
    histories, samples, filters, metrics = {}, {}, {}, {}
    for method in config.methods:
        runs, seconds = [], []
        for seed in config.seeds:
            start = time.perf_counter()
            params, history = (train_sklearn(config, data, seed) if method == "sklearn"
                               else train_ours(config, method, data, seed))
            seconds.append(time.perf_counter() - start)
            runs.append([{n: float(v) for n, v in h.items()} for h in history])
            if seed == config.seeds[0]:
                samples[method] = np.asarray(gibbs_samples(params, jax.random.key(seed + 1000),
                                                           num_chains=config.sample_chains,
                                                           num_steps=config.sample_steps))
                filters[method] = np.asarray(params["W"]).T[:49]  # the first 49 hidden units
        histories[method] = runs
        final = {n: np.array([run[-1][n] for run in runs]) for n in runs[0][-1]}
        metrics[method] = {**{n: float(v.mean()) for n, v in final.items()},
                           **{f"{n}_std": float(v.std()) for n, v in final.items()},
                           "train_seconds": float(np.mean(seconds))}
    plot(workdir, histories, samples, filters)
    untrained = {n: float(v) for n, v in evaluate(rbm.init(jax.random.key(0), 64, config.num_hidden),
                                                   data["test"]).items()}
    results = {"experiment": "rbm (binarised 8x8 digits, test set)",
               "metrics": metrics, "reference": {"untrained": untrained}, "history": histories}
    return results


if __name__ == "__main__":
    launcher.run_direct(run)
