"""Cover's theorem, universal approximation and the perceptron: the feed-forward lecture's opening slides.

    python -m experiments.cover --workdir=workdirs/cover

1. Cover (1965): points that no line separates become linearly separable after a nonlinear map to more
   dimensions. Two concentric circles (sklearn.datasets.make_circles): logistic regression (the registry's
   `logistic`) on x = (x1, x2) stays near chance; on phi(x) = [x1^2, x2^2, sqrt(2) x1 x2] it separates them,
   since the circle x1^2 + x2^2 = r^2 is a plane there. phi is the feature map of the polynomial kernel
   k(x, z) = (x . z)^2 = phi(x) . phi(z).
2. Universal approximation (Bishop, PRML fig. 5.3): 1 input -> 3 tanh units -> 1 linear output, fitted by
   least squares to 50 points of x^2, sin(pi x), |x| and sign(x) on [-1, 1].
3. The perceptron rule (seqmodels.models.perceptron) on two digit classes, and on the noiseless circles
   mapped by phi, where its number of updates is checked against Novikoff's bound (R / gamma)^2.

Not gradient training of one model, so a short main() with the platform's command line (--workdir,
--config[:small], --config.<field>=...) writes DIR/results.json and DIR/plots/*.png.
"""

import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from sklearn.datasets import make_circles
from sklearn.linear_model import LogisticRegression

from experiments import launcher, models
from experiments.summarize import plt
from seqmodels.data import packaged
from seqmodels.models import perceptron
from seqmodels.models.mlp import MLP
from seqmodels.training import ConfigError, losses, validate

TARGETS = {"square": np.square, "sin": lambda x: np.sin(np.pi * x), "abs": np.abs, "sign": np.sign}


def phi(x: np.ndarray) -> np.ndarray:
    """[x1^2, x2^2, sqrt(2) x1 x2]: x [..., 2] -> [..., 3], the feature map of the kernel (x . z)^2."""
    x1, x2 = x[..., 0], x[..., 1]
    return np.stack([x1 ** 2, x2 ** 2, np.sqrt(2) * x1 * x2], axis=-1)


def poly_kernel(x: np.ndarray, z: np.ndarray) -> np.ndarray:
    """(x . z)^2, computed in the input space (no phi)."""
    return np.sum(x * z, axis=-1) ** 2


def adam_full_batch(loss, params, num_steps: int, learning_rate: float):
    """(params, final loss) after full-batch Adam steps on loss(params)."""
    opt = optax.adam(learning_rate)

    def step(state, _):
        params, opt_state = state
        value, grads = jax.value_and_grad(loss)(params)
        updates, opt_state = opt.update(grads, opt_state)
        return (optax.apply_updates(params, updates), opt_state), value

    (params, _), _ = jax.jit(lambda s: jax.lax.scan(step, s, None, length=num_steps))((params, opt.init(params)))
    return params, float(loss(params))


def logistic_regression(features: dict, config, key) -> dict:
    """The registry's `logistic` on x [N, T=1, D]: test accuracy, and scikit-learn's on the same split."""
    train, test = features["train"], features["test"]
    model = models.build(ml_collections.ConfigDict({"name": "logistic", "logistic": {}}),
                         models.Spec(input_size=train["x"].shape[-1], output_size=2, output="class", seq_len=1))
    x = jnp.asarray(train["x"][:, None])  # [N, 1, D]
    params, _ = adam_full_batch(lambda p: losses.cross_entropy(model.apply_batch(p, x), train["y"]),
                                model.init(key), config.num_steps, config.learning_rate)

    def acc(d):
        return float(losses.accuracy(model.apply_batch(params, jnp.asarray(d["x"][:, None])), d["y"]))

    sk = LogisticRegression().fit(train["x"], train["y"])
    return {"params": params, "model": model, "train_accuracy": acc(train), "test_accuracy": acc(test),
            "sklearn_test_accuracy": float(sk.score(test["x"], test["y"]))}


def circles(config, seed: int) -> dict:
    c = config.circles
    validate.positive("circles.num_samples", c.num_samples, integer=True)
    x, y = make_circles(c.num_samples, noise=c.noise, factor=c.factor, random_state=seed)
    x, y = x.astype(np.float32), y.astype(np.int32)
    n = c.num_samples // 2
    data = {"train": {"x": x[:n], "y": y[:n]}, "test": {"x": x[n:], "y": y[n:]}}
    out = {}
    for i, (name, f) in enumerate([("input", lambda v: v), ("phi", phi)]):
        feats = {s: {"x": f(d["x"]).astype(np.float32), "y": d["y"]} for s, d in data.items()}
        out[name] = logistic_regression(feats, c, jax.random.key(seed + i))
    out["data"] = data
    return out


def tanh_fit(name: str, config, key) -> dict:
    """1 -> hidden tanh units -> 1 linear output (seqmodels.models.mlp.MLP), the best of `restarts` fits."""
    f = config.fit
    x = np.linspace(-1, 1, f.num_points, dtype=np.float32)[:, None]  # [N, 1]
    y = TARGETS[name](x).astype(np.float32)
    net = MLP(1, (f.hidden_size,), 1, activation="tanh")
    forward = jax.vmap(lambda p, v: net.apply(p, v[None]), in_axes=(None, 0))  # x [N, 1] -> [N, 1]
    loss = lambda p: jnp.mean((forward(p, x) - y) ** 2)  # noqa: E731
    fits = [adam_full_batch(loss, net.init(k), f.num_steps, f.learning_rate) for k in jax.random.split(key, f.restarts)]
    params, mse = min(fits, key=lambda t: t[1])
    grid = np.linspace(-1, 1, 401, dtype=np.float32)[:, None]
    hidden = np.tanh(grid @ np.asarray(params[0]["w"]) + np.asarray(params[0]["b"]))  # [401, H]
    return {"mse": mse, "x": x[:, 0], "y": y[:, 0], "grid": grid[:, 0], "fit": np.asarray(forward(params, grid))[:, 0],
            "units": hidden * np.asarray(params[1]["w"])[:, 0]}  # each unit's contribution to the output


def perceptrons(config, seed: int) -> dict:
    d0, d1 = config.perceptron.digits
    digits = packaged.digits()
    out = {}
    for split in ("train", "test"):
        keep = np.isin(digits[split]["y"], (d0, d1))
        out[split] = (digits[split]["x"][keep].reshape(keep.sum(), -1), (digits[split]["y"][keep] == d1).astype(int))
    r = perceptron.train(*out["train"], max_epochs=config.perceptron.max_epochs, seed=seed)
    wrong = {s: int(np.sum(perceptron.predict(r["w"], r["b"], x) != y)) for s, (x, y) in out.items()}
    result = {"digits": {"classes": [d0, d1], "converged": r["converged"], "updates": r["updates"],
                         "epochs": len(r["errors_per_epoch"]), "errors_per_epoch": r["errors_per_epoch"],
                         "train_errors": wrong["train"], "test_accuracy": 1 - wrong["test"] / len(out["test"][1])}}
    # noiseless circles: in phi-space the plane x1^2 + x2^2 = (1 + factor^2) / 2 separates them with a margin
    c = config.circles
    x, y = make_circles(c.num_samples, noise=0.0, factor=c.factor, random_state=seed)
    feats = phi(x)
    u = np.array([-1.0, -1.0, 0.0, (1 + c.factor ** 2) / 2])  # positive on the inner circle (label 1)
    r = perceptron.train(feats, y, max_epochs=config.perceptron.max_epochs, seed=seed)
    result["circles_phi"] = {"converged": r["converged"], "updates": r["updates"],
                             "novikoff_bound": perceptron.novikoff_bound(feats, y, u)}
    return result


def plot_circles(res: dict, path: Path) -> None:
    data = res["data"]["test"]
    g = np.linspace(-1.4, 1.4, 200, dtype=np.float32)
    grid = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)  # [G, 2]
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.3))
    for ax, (name, f) in zip(axes, [("input", lambda v: v), ("phi", phi)]):
        m = res[name]
        logits = m["model"].apply_batch(m["params"], jnp.asarray(f(grid)[:, None]))
        p1 = np.asarray(jax.nn.softmax(logits)[:, 1]).reshape(len(g), len(g))
        ax.contourf(g, g, p1, levels=[0, 0.5, 1], colors=["#f4c7c3", "#c6dbef"], alpha=0.8)
        ax.contour(g, g, p1, levels=[0.5], colors="k")
        ax.scatter(*data["x"].T, c=data["y"], cmap="coolwarm", s=8)
        ax.set_title(f"logistic regression on {'x' if name == 'input' else 'phi(x)'}: "
                     f"test {100 * m['test_accuracy']:.1f}%", fontsize=10)
        ax.set_aspect("equal")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_fits(fits: dict, path: Path) -> None:
    fig, axes = plt.subplots(1, len(fits), figsize=(3.2 * len(fits), 3.2), squeeze=False)
    for ax, (name, r) in zip(axes[0], fits.items()):
        ax.plot(r["x"], r["y"], "o", ms=3, color="tab:blue", label="data")
        ax.plot(r["grid"], r["fit"], color="tab:red", label="3 tanh units")
        ax.plot(r["grid"], r["units"], "--", lw=0.8, color="gray")
        ax.set_title(f"{name}: mse {r['mse']:.2g}", fontsize=10)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def run(config, workdir: Path) -> dict:
    unknown = sorted(set(config.fit.functions) - set(TARGETS))
    if unknown:
        raise ConfigError(f"fit.functions: unknown {unknown}; expected names from {sorted(TARGETS)}")
    validate.positive("fit.restarts", config.fit.restarts, integer=True)
    start = time.perf_counter()
    key = jax.random.key(config.seed)
    res = circles(config, config.seed)
    fits = {n: tanh_fit(n, config, jax.random.fold_in(key, i)) for i, n in enumerate(config.fit.functions)}
    percs = perceptrons(config, config.seed)
    metrics = {"circles_input_test_accuracy": res["input"]["test_accuracy"],
               "circles_phi_test_accuracy": res["phi"]["test_accuracy"],
               **{f"fit_mse_{n}": r["mse"] for n, r in fits.items()},
               "perceptron_digits_train_errors": percs["digits"]["train_errors"],
               "perceptron_digits_test_accuracy": percs["digits"]["test_accuracy"],
               "perceptron_circles_phi_updates": percs["circles_phi"]["updates"],
               "novikoff_bound_circles_phi": percs["circles_phi"]["novikoff_bound"]}
    results = {"metrics": metrics,
               "circles": {n: {k: v for k, v in res[n].items() if k not in ("params", "model")}
                           for n in ("input", "phi")},
               "perceptron": percs, "reference": {"chance": 0.5, "sklearn": "LogisticRegression() on the same "
                                                  "features and split: circles.<space>.sklearn_test_accuracy"},
               "timing": {"seconds": time.perf_counter() - start}}
    (workdir / "plots").mkdir(parents=True, exist_ok=True)
    plot_circles(res, workdir / "plots" / "circles.png")
    plot_fits(fits, workdir / "plots" / "tanh_fits.png")
    print(json.dumps(metrics, indent=1, default=float))
    return results


if __name__ == "__main__":
    launcher.run_direct(run)
