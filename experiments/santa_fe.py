"""Santa Fe 1991 data set A (far-infrared laser): predict 100 points by iterating one-step predictions.

    python -m experiments.santa_fe --config=experiments/configs/santa_fe.py:tdnn --workdir=workdirs/santa_fe_tdnn
    python -m experiments.santa_fe --config=experiments/configs/santa_fe.py:lstm --workdir=workdirs/santa_fe_lstm
    python -m experiments.santa_fe --config=experiments/configs/santa_fe.py:gru  --workdir=workdirs/santa_fe_gru
    python -m experiments.santa_fe --config=experiments/configs/santa_fe.py:tcn  --workdir=workdirs/santa_fe_tcn
    python -m experiments.summarize santa_fe workdirs/santa_fe_{tdnn,tdnn_noise0.05,lstm,gru,tcn} \
        --out=results/santa_fe

(narrative and figures: results/santa_fe/README.md, with the TDNN run with
training input noise, `--config.data.input_noise=0.05`.)

Protocol (BENCHMARKS.md): the competition gives x[:1000] (A.dat); the task is
to predict x[1000:1100] (A.cont) by iterating one-step predictions, scored by
NMSE = mean squared error / variance, with the variance of the 100 true
values and with the variance of the training set (both reported). Published:
Wan's FIR network 0.0273 (the winner), Sauer 0.077; mean of A ~1.0,
persistence ~1.34.

What we do, and what the test segment x[1000:1100] is used for:

  * split x[:1000] into fit = x[:1000 - V] and validation = x[1000 - V:1000]
    (V = data.val_points, 100 by default). The weights are fitted on `fit`
    only (one-step-ahead MSE on windows of it, teacher forced).
  * validation score = NMSE of the 100-point iterated forecast of the
    validation segment, started after warming up on the `data.window`
    points before it. Early stopping / the best checkpoint and the choice
    of seed use this score only.
  * test = the same iterated forecast of x[1000:1100] from the last
    `data.window` points of x[:1000]. x[1000:1100] is read only here, once,
    after training, for the reported numbers and the plot: never for
    training, early stopping or selection.
  * scaling: (x - mean) / std (or x / max) with statistics of `fit` only.

Models (one per run, config.model.name, a section of the registry
experiments/models.py that streams: a FrameHead predicting x(t + 1) from
x(<= t); `model.num_seeds` independently initialised copies train
side by side on the same batches: their losses are summed, no parameter is
shared, Adam scales each copy separately, no global-norm clipping, so this is
the same as num_seeds separate runs):

  * tdnn  Wan's FIR network (seqmodels.conv.TDNN): 1-12-12-1 units, taps
          25/5/5, tanh hidden units, linear output.
  * lstm, gru  seqmodels.recurrence.RNN over the cell + dense read-out. The
          forecast warms the carry up on the window before the forecast
          start, then feeds each prediction back as the next input.
  * tcn   seqmodels.conv.TCN + dense read-out; the forecast uses the TCN's
          streaming step (ring buffers).

Every forecast is `seqmodels.models.heads.forecast`: warm-up, then closed
loop, over the head's one-step `step`.

Selection: after every evaluation the loop keeps the checkpoint with the
lowest validation NMSE of the BEST seed (`val_nmse_best`), i.e. the
(step, seed) pair with the lowest validation NMSE over the whole run; the
headline test numbers are that seed's. results.json also lists every seed's
validation and test NMSE at that step, their median, and the NMSE of the
mean of all seeds' forecasts (a fixed rule, no selection).

A limit of this validation, seen in the runs (results/santa_fe/README.md): x[900:1000]
holds no intensity collapse, x[1000:1100] does (at t = 1057). A model can
follow the growing oscillation of x[900:1000] almost perfectly (validation
NMSE < 0.01) and still fail at the collapse, so the validation score picks
good continuers of the oscillation, not good predictors of the collapse.
We keep it anyway: choosing a held-out window because it looks like the
test segment would be using the test segment.
"""

import json
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from experiments import launcher, models, summarize as reporting
from experiments.summarize import plt
from seqmodels.data import batching, packaged
from seqmodels.models import heads
from seqmodels.training import Task, validate

SCALINGS = ("standardize", "max")
TRAIN_POINTS = 1000  # A.dat
HORIZON = 100  # A.cont: the points to predict
WAN_NMSE = 0.0273
SAUER_NMSE = 0.077


# --------------------------------------------------------------------------- one-step predictors


def make_predictor(config) -> heads.FrameHead:
    """The registry's model of config.model.name as a one-step predictor x(t) -> x(t + 1) of the scaled series:
    a FrameHead, teacher forced by apply_batch, closed loop by `heads.forecast` (its streaming step)."""
    model = models.build(config.model, models.Spec(input_size=1, output_size=1))
    if not isinstance(model, heads.FrameHead) or model.backbone.step is None:
        raise validate.ConfigError(f"model.name: {config.model.name!r} cannot forecast one step at a time "
                                   f"(no streaming step); use a causal conv or a one-layer RNN")
    return model


def receptive_field(config) -> int | None:
    """The inputs one output sees (None: unbounded, a recurrent carry)."""
    m = models.section(config.model, config.model.name)
    kind = m.get("kind", config.model.name)
    if kind == "tdnn":
        return 1 + sum(t - 1 for t in m["taps"])
    if kind == "tcn":
        return 1 + 2 * (m["kernel_size"] - 1) * (2 ** m["levels"] - 1)
    return None


def forecast(predictor: heads.FrameHead, params, prime, horizon: int):
    """Warm up on `prime` [P, 1] (true values), then feed each prediction back: [horizon] predictions."""
    return heads.forecast(predictor, params, prime, horizon)[:, 0]


# --------------------------------------------------------------------------- data and scaling


def split_series(config) -> dict[str, Any]:
    """The scaled series and where its parts are (fit | validation | test), statistics from `fit` only."""
    d = config.data
    data = packaged.santa_fe_laser()
    raw = data["series"][:TRAIN_POINTS + HORIZON, 0].astype(np.float64)  # the test part is sliced off below
    fit_end = TRAIN_POINTS - d.val_points
    fit = raw[:fit_end]
    if d.scaling == "standardize":
        shift, scale = float(fit.mean()), float(fit.std())
    else:
        shift, scale = 0.0, float(np.abs(fit).max())
    scaled = ((raw - shift) / scale).astype(np.float32)[:, None]  # [1100, 1]
    return {"fit": scaled[:fit_end], "known": scaled[:TRAIN_POINTS], "test_truth": raw[TRAIN_POINTS:],
            "raw_known": raw[:TRAIN_POINTS], "fit_end": fit_end, "shift": shift, "scale": scale}


def nmse(prediction, truth, variance) -> float:
    return float(np.mean((np.asarray(prediction, np.float64) - truth) ** 2) / variance)


def baselines(raw_known: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Mean of A and persistence (x(1000 + k) = x(999)), both normalisers."""
    out = {}
    for name, pred in (("mean", np.full(HORIZON, raw_known.mean())), ("persistence", np.full(HORIZON, raw_known[-1]))):
        out[f"baseline_{name}_nmse_true_var"] = nmse(pred, truth, truth.var())
        out[f"baseline_{name}_nmse_train_var"] = nmse(pred, truth, raw_known.var())
    return out


# --------------------------------------------------------------------------- the task


def check_config(config) -> None:
    """The data and model fields, each against the others (window, burn-in, roll-out, receptive field)."""
    d, m = config.data, config.model
    validate.choice("data.scaling", d.scaling, SCALINGS)
    validate.in_range("data.val_points", d.val_points, HORIZON, TRAIN_POINTS // 2)
    validate.positive("data.window", d.window, integer=True)
    validate.non_negative("data.burn_in", d.burn_in, integer=True)
    validate.non_negative("data.input_noise", d.input_noise)
    validate.non_negative("data.rollout_steps", d.rollout_steps, integer=True)
    validate.non_negative("data.rollout_weight", d.rollout_weight)
    validate.positive("model.num_seeds", m.num_seeds, integer=True)
    if d.burn_in >= d.window:
        raise validate.ConfigError(f"data.burn_in ({d.burn_in}) must be smaller than data.window ({d.window})")
    if not isinstance(d.val_points, int):
        raise validate.ConfigError(f"data.val_points: expected an integer, got {d.val_points!r}")
    rf = receptive_field(config)
    if rf is not None and d.window < rf:
        raise validate.ConfigError(f"data.window ({d.window}) must cover the receptive field ({rf}) of model "
                                   f"{m.name!r}: the forecast warms up on the last window points")
    if rf is not None and d.burn_in < rf - 1:
        raise validate.ConfigError(f"data.burn_in ({d.burn_in}) must be >= receptive field - 1 ({rf - 1}) for "
                                   f"{m.name!r}, so that no training output sees the zero padding")
    if d.rollout_steps and d.window - d.rollout_steps < max(rf or 1, 2):
        raise validate.ConfigError(
            f"data.rollout_steps ({d.rollout_steps}) leaves data.window - rollout_steps = "
            f"{d.window - d.rollout_steps} points to warm up on; need at least {max(rf or 1, 2)} "
            f"(the receptive field of {m.name!r}, and 2)")


def score_forecasts(val_pred: np.ndarray, test_pred: np.ndarray, val_truth: np.ndarray, s: dict) -> dict:
    """Every seed's validation and test NMSE ([S, 100] forecasts in raw units), the seed chosen by validation,
    the median seed, the mean-of-seeds forecast and the baselines."""
    val_nmse = [nmse(p, val_truth, val_truth.var()) for p in val_pred]
    best = int(np.argmin(val_nmse))
    out = {"selected_seed": best, "val_nmse": val_nmse[best]}
    checked = packaged.santa_fe_nmse(test_pred[best])  # the library's scorer, both normalisers
    out.update(nmse_true_var=checked["nmse_true_var"], nmse_train_var=checked["nmse_train_var"])
    per_seed = [packaged.santa_fe_nmse(p) for p in test_pred]
    for i, (v, t) in enumerate(zip(val_nmse, per_seed)):
        out[f"seed{i}_val_nmse"] = v
        out[f"seed{i}_nmse_true_var"] = t["nmse_true_var"]
        out[f"seed{i}_nmse_train_var"] = t["nmse_train_var"]
    out["median_seed_nmse_true_var"] = float(np.median([t["nmse_true_var"] for t in per_seed]))
    out["median_seed_nmse_train_var"] = float(np.median([t["nmse_train_var"] for t in per_seed]))
    ens = packaged.santa_fe_nmse(test_pred.mean(0))
    out["seed_mean_forecast_nmse_true_var"] = ens["nmse_true_var"]
    out["seed_mean_forecast_nmse_train_var"] = ens["nmse_train_var"]
    out.update(baselines(s["raw_known"], s["test_truth"]))
    return out


def make_task(config, workdir: str | Path | None = None) -> Task:
    """The Santa Fe task of `config`; with `workdir`, final_eval also writes the forecast plot and forecasts.json."""
    d, m = config.data, config.model
    predictor = make_predictor(config)  # an unknown model is named first
    check_config(config)
    s = split_series(config)
    fit_end, W, S = s["fit_end"], d.window, m.num_seeds
    val_truth = s["raw_known"][fit_end:fit_end + HORIZON]
    val_batch = {"prime": s["known"][None, fit_end - W:fit_end], "truth": val_truth.astype(np.float32)[None]}
    test_prime = s["known"][TRAIN_POINTS - W:]  # [W, 1]: the last W known points
    train_source = batching.WindowSource(s["fit"], W, stride=1, next_step=True)

    K, rollout_weight, input_noise = d.rollout_steps, d.rollout_weight, d.input_noise  # read once, here

    def per_seed_loss(p, xs, ys):  # -> (one-step loss, closed-loop loss) of one seed
        pred = predictor.apply_batch(p, xs, deterministic=True)  # [B, W, 1] (no dropout)
        one_step = jnp.mean(jnp.square(pred - ys)[:, d.burn_in:])
        if not K:
            return one_step, jnp.zeros(())
        # closed loop: warm up on the first W - K inputs, then feed K predictions back; the truth is the
        # clean next-step target (ys[t] = x[t + 1]), so input noise perturbs only what the model is fed
        rolled = jax.vmap(lambda prime: forecast(predictor, p, prime, K))(xs[:, :W - K])  # [B, K]
        return one_step, jnp.mean(jnp.square(rolled - ys[:, W - K - 1:W - 1, 0]))

    def val_forecasts(params, prime):  # -> [S, HORIZON] in raw units
        ys = jax.vmap(lambda p: forecast(predictor, p, prime, HORIZON))(params["seeds"])
        return ys * s["scale"] + s["shift"]

    def eval_fn(params, batch, key):  # the validation batch: iterated forecast of the held-out segment
        truth = batch["truth"][0]
        preds = val_forecasts(params, batch["prime"][0])
        per_seed = jnp.mean(jnp.square(preds - truth), axis=1) / jnp.var(truth)  # [S]
        metrics = {f"val_nmse_seed{i}": per_seed[i] for i in range(S)}
        return {**metrics, "val_nmse_best": jnp.min(per_seed), "val_nmse_median": jnp.median(per_seed),
                "loss": jnp.median(per_seed)}

    def loss_fn(params, batch, key, train):
        xs = batch["x"]
        if train and input_noise > 0:
            xs = xs + input_noise * jax.random.normal(key, xs.shape, xs.dtype)
        losses, rolled = jax.vmap(per_seed_loss, (0, None, None))(params["seeds"], xs, batch["y"])  # [S], [S]
        metrics = {"mse_mean_seed": jnp.mean(losses), "mse_best_seed": jnp.min(losses)}
        if K:
            metrics["rollout_mse_mean_seed"] = jnp.mean(rolled)
        return jnp.sum(losses + rollout_weight * rolled), metrics

    def init_params(key):
        return {"seeds": jax.vmap(predictor.init)(jax.random.split(key, S))}

    def final_eval(params):
        val_pred = np.asarray(val_forecasts(params, jnp.asarray(val_batch["prime"][0])), np.float64)
        test_pred = np.asarray(val_forecasts(params, jnp.asarray(test_prime)), np.float64)  # [S, 100]
        out = {**score_forecasts(val_pred, test_pred, val_truth, s),
               "num_params_per_seed": sum(x.size for x in jax.tree.leaves(params)) // S}
        best, per_seed = out["selected_seed"], [out[f"seed{i}_nmse_true_var"] for i in range(S)]
        print(f"\nSanta Fe A, {m.name}: {S} seeds, selected seed {best} by validation NMSE {out['val_nmse']:.4f}")
        print(f"test NMSE (var of the 100 true values) {out['nmse_true_var']:.4f}, (var of training set) "
              f"{out['nmse_train_var']:.4f}; Wan 0.0273; all seeds: " + ", ".join(f"{v:.3f}" for v in per_seed))
        if workdir is not None:
            plots = Path(workdir) / "plots"
            plots.mkdir(parents=True, exist_ok=True)
            (Path(workdir) / "forecasts.json").write_text(json.dumps(
                {"selected_seed": best, "test": test_pred.tolist(), "validation": val_pred.tolist(),
                 "val_start": fit_end, "test_start": TRAIN_POINTS}) + "\n")
            plot_forecast(plots / f"santa_fe_{m.name}.png", run_label(config), s["raw_known"], s["test_truth"],
                          val_truth, fit_end, val_pred, test_pred, best, out)
        return out

    return Task(
        init_params=init_params,
        loss_fn=loss_fn,
        train_iterator=batching.TrainIterator(train_source, config.batch_size, seed=config.seed),
        eval_batches=[val_batch],
        eval_fn=eval_fn,
        final_eval=final_eval,
        reference={"wan_fir_nmse": WAN_NMSE, "sauer_nmse": SAUER_NMSE, "mean_of_A_nmse": 1.0,
                   "persistence_nmse": 1.34,
                   "protocol": f"fit on x[:{fit_end}], select (step, seed) by the iterated {HORIZON}-step forecast "
                               f"of x[{fit_end}:{TRAIN_POINTS}], test on x[{TRAIN_POINTS}:{TRAIN_POINTS + HORIZON}] "
                               "(never used for training or selection)"},
    )


def plot_forecast(path, name, known, truth, val_truth, val_start, val_pred, test_pred, best, metrics) -> None:
    """Validation and test forecasts against the truth: every seed faint, the selected one bold."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8), sharey=True)
    for ax, start, true, preds, title in (
            (axes[0], val_start, val_truth, val_pred, f"validation (selection): NMSE {metrics['val_nmse']:.3f}"),
            (axes[1], TRAIN_POINTS, truth, test_pred,
             f"test x[1000:1100]: NMSE {metrics['nmse_true_var']:.4f} (Wan 0.0273)")):
        ctx = np.arange(start - 50, start)
        ax.plot(ctx, known[start - 50:start], color="gray", lw=1, label="known (warm-up)")
        t = np.arange(start, start + HORIZON)
        ax.plot(t, true, color="black", lw=1.5, label="truth")
        for i, p in enumerate(preds):
            if i != best:
                ax.plot(t, p, color="tab:blue", lw=0.7, alpha=0.3)
        ax.plot(t, preds[best], color="tab:red", lw=1.3, label=f"selected seed {best}")
        ax.set_title(f"{name}: {title}", fontsize=10)
        ax.set_xlabel("t")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("intensity")
    axes[1].legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# --------------------------------------------------------------------------- summary of the runs


def run_label(config: dict) -> str:
    """The model's name, with '_noise<std>' for input noise and '_rollout<K>' for closed-loop training."""
    noise = config["data"].get("input_noise", 0.0)
    rollout = config["data"].get("rollout_steps", 0)
    return config["model"]["name"] + (f"_noise{noise:g}" if noise else "") + (f"_rollout{rollout}" if rollout else "")


def summarize(run_dirs: dict, out_dir) -> dict:
    """Runs (label -> workdir) -> out_dir: <run label>/ (results.json, forecasts.json, plots), results.json,
    summary.md and forecasts.png (every run's selected forecast against the truth)."""
    out_dir = Path(out_dir)
    runs, forecasts = {}, {}
    for run_dir in run_dirs.values():
        results = reporting.load_results(run_dir)
        name = run_label(results["config"])
        runs[name] = results
        # one validation curve per seed stays in the workdir
        reporting.copy_run(run_dir, out_dir / name, skip_plots=("val_nmse_seed",), extra_files=("forecasts.json",))
        if (Path(run_dir) / "forecasts.json").exists():
            forecasts[name] = json.loads((Path(run_dir) / "forecasts.json").read_text())
    if not runs:
        raise ValueError("summarize: no run directories given")
    plot_forecasts(forecasts, runs, out_dir / "forecasts.png")
    rows, table = [], {}
    for name, r in runs.items():
        mt = r["metrics"]
        S = r["config"]["model"]["num_seeds"]
        seeds = [mt[f"seed{i}_nmse_true_var"] for i in range(S)]
        table[name] = {
            "nmse_true_var": mt["nmse_true_var"], "nmse_train_var": mt["nmse_train_var"],
            "selected_seed": int(mt["selected_seed"]), "val_nmse": mt["val_nmse"],
            "seeds_nmse_true_var": seeds, "seeds_nmse_train_var": [mt[f"seed{i}_nmse_train_var"] for i in range(S)],
            "seeds_val_nmse": [mt[f"seed{i}_val_nmse"] for i in range(S)],
            "seed_mean_forecast_nmse_true_var": mt["seed_mean_forecast_nmse_true_var"],
            "num_params_per_seed": int(mt["num_params_per_seed"]),
            "train_seconds": r["timing"]["train_seconds_this_run"], "steps": r["steps"],
            "beats_wan": mt["nmse_true_var"] < WAN_NMSE}
        rows.append([name, f"{mt['nmse_true_var']:.4f}", f"{mt['nmse_train_var']:.4f}", WAN_NMSE,
                     f"{min(seeds):.3g} / {np.median(seeds):.3g} / {max(seeds):.3g} ({S} seeds)",
                     f"{int(mt['selected_seed'])} ({mt['val_nmse']:.3g})",
                     f"{mt['seed_mean_forecast_nmse_true_var']:.3g}", f"{int(mt['num_params_per_seed']):,}",
                     f"{r['steps']['params_from']} / {r['steps']['last']}",
                     f"{r['timing']['train_seconds_this_run'] / 60:.1f} min"])
    any_m = next(iter(runs.values()))["metrics"]
    for b in ("mean", "persistence"):
        rows.append([f"baseline: {b}", f"{any_m[f'baseline_{b}_nmse_true_var']:.4f}",
                     f"{any_m[f'baseline_{b}_nmse_train_var']:.4f}", "", "", "", "", "", "", ""])
    protocol = next(iter(runs.values()))["reference"]["protocol"]
    summary = {"models": table, "baselines": {k: v for k, v in any_m.items() if k.startswith("baseline_")},
               "reference": {"wan_fir_nmse": WAN_NMSE, "sauer_nmse": SAUER_NMSE}, "protocol": protocol}
    reporting.write_summary(
        out_dir, summary, title="Santa Fe A: 100-step iterated forecast of x[1000:1100]",
        table=reporting.markdown_table(
            ["model", "NMSE (var of 100 true values)", "NMSE (var of training set)", "Wan",
             "seeds: test NMSE (true var), min / median / max", "selected seed (val NMSE)", "mean-of-seeds forecast",
             "params/seed", "best step / last", "train time"], rows),
        footer=f"Protocol: {protocol}. Headline = the (step, seed) with the lowest validation NMSE.")
    return summary


def plot_forecasts(forecasts: dict, runs: dict, path: Path) -> None:
    data = packaged.santa_fe_laser()
    truth = data["continuation"][:, 0].astype(np.float64)
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.plot(np.arange(950, 1000), data["train"][950:, 0], color="gray", lw=1, label="known")
    ax.plot(np.arange(1000, 1100), truth, color="black", lw=2, label="truth")
    colors = [c for i, c in enumerate(plt.get_cmap("tab20").colors) if i not in (14, 15)]  # no greys
    for k, (name, f) in enumerate(forecasts.items()):
        ax.plot(np.arange(1000, 1100), f["test"][f["selected_seed"]], lw=1.2, color=colors[2 * k % len(colors)],
                label=f"{name} (NMSE {runs[name]['metrics']['nmse_true_var']:.3f})")
    ax.set_title("Santa Fe A: iterated 100-step forecast, seed selected by validation")
    ax.set_xlabel("t")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    launcher.run(make_task)
