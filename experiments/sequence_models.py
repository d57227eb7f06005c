"""The five models of the adding and copy-memory experiments (Bai, Kolter & Koltun 2018).

    model = build(config.model, input_size=2, output_size=1, causal=False)
    params = model.init(key)
    ys = model.apply(params, xs, key=key, train=True)     # xs [B, T, D] -> ys [B, T, O]
    y_end = model.apply(params, xs, last=1)               # [B, 1, O]: only the last step (adding)

Every model maps a whole batch of sequences to one output vector per time
step; the experiment picks the steps it scores (the last one for adding,
all of them for copy memory). `last=L` returns only the last L steps: the
Transformer then computes just those rows in its final layer (a T-fold
cheaper last layer; the same numbers); the other models compute every step
and slice. The pieces are the library's:

  * tcn          seqmodels.conv.TCN (dilation 2^i, weight norm, ReLU, dropout,
                 1x1 residual where widths differ, init N(0, 0.01)) + a dense
                 read-out with weights N(0, 0.01), as in the paper's code;
  * lstm, gru    seqmodels.recurrence.RNN(...).apply_batch (fused whole-batch
                 kernels) + dense read-out;
  * rnn          the same with an Elman (tanh) cell;
  * transformer  dense input projection + sinusoidal positions +
                 seqmodels.models.transformer.Stack (pre-norm blocks) + dense
                 read-out; causal when the task needs it (copy memory).

`model` config fields: name, plus per-model sections `tcn` (levels,
channels, kernel_size, drop_rate, conv_init: "pytorch" is the init the
paper's code really runs, see seqmodels/conv/tcn.py), `lstm` / `gru` / `rnn` (hidden_size; init:
"default" = seqmodels' cells (orthogonal recurrent weights, LSTM forget bias 1), "torch" = the
paper's PyTorch modules: `seqmodels.cells.torch_params` (every weight and both bias vectors U(+-1/sqrt(H)),
nn.Linear's read-out init)) and
`transformer` (d_model, num_heads, d_ff, num_layers, drop_rate).
`summarize_runs` gathers the per-model results.json files of one task into
one table (results/<task>/results.json).
"""

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any, Callable

import jax

from seqmodels import recurrence
from seqmodels.attention import positional
from seqmodels.attention.multi_head import check_last
from seqmodels.cells import GRU, LSTM, Elman, torch_params
from seqmodels.conv import TCN
from seqmodels.data import batching
from seqmodels.conv.tcn import CONV_INITS
from seqmodels.models import transformer
from seqmodels.nn import dense, initializers
from seqmodels.training import Task, validate

MODELS = ("tcn", "lstm", "gru", "rnn", "transformer")


@dataclasses.dataclass(frozen=True)
class SequenceModel:
    """init(key) -> params; apply(params, xs [B, T, D], *, key, train, last=None) -> ys [B, T, O]
    ([B, last, O] with `last`)."""
    name: str
    init: Callable
    apply: Callable


def num_params(params) -> int:
    return int(sum(x.size for x in jax.tree.leaves(params)))


def _tcn(cfg, input_size, output_size):
    validate.positive("model.tcn.levels", cfg.levels, integer=True)
    validate.positive("model.tcn.channels", cfg.channels, integer=True)
    validate.positive("model.tcn.kernel_size", cfg.kernel_size, integer=True)
    validate.in_range("model.tcn.drop_rate", cfg.drop_rate, 0.0, 1.0, high_open=True)
    conv_init = validate.choice("model.tcn.conv_init", cfg.get("conv_init", "normal"), CONV_INITS)
    tcn = TCN(input_size, (cfg.channels,) * cfg.levels, kernel_size=cfg.kernel_size, drop_rate=cfg.drop_rate,
              conv_init=conv_init)

    def init(key):
        k_tcn, k_out = jax.random.split(key)
        return {"tcn": tcn.init(k_tcn),
                "readout": dense.init(k_out, cfg.channels, output_size, w_init=initializers.normal(0.01))}

    def apply(params, xs, *, key=None, train=False):
        keys = jax.random.split(key, xs.shape[0]) if (train and key is not None) else None
        if keys is None:
            hs = jax.vmap(lambda x: tcn.apply(params["tcn"], x))(xs)  # [B, T, C]
        else:
            hs = jax.vmap(lambda x, k: tcn.apply(params["tcn"], x, key=k))(xs, keys)
        return dense.apply(params["readout"], hs)

    return init, apply


_CELLS = {"lstm": LSTM, "gru": GRU, "rnn": Elman}


def _recurrent(name, cfg, input_size, output_size):
    validate.positive(f"model.{name}.hidden_size", cfg.hidden_size, integer=True)
    init_kind = validate.choice(f"model.{name}.init", cfg.get("init", "default"), ("default", "torch"))
    rnn = recurrence.RNN(_CELLS[name](input_size, cfg.hidden_size))

    def init(key):
        k_rnn, k_out = jax.random.split(key)
        if init_kind == "default":
            return {"rnn": rnn.init(k_rnn), "readout": dense.init(k_out, cfg.hidden_size, output_size)}
        u = initializers.uniform(cfg.hidden_size ** -0.5)  # nn.Linear(H, O): U(+-1/sqrt(fan_in)), fan_in = H
        params, extra = torch_params.init(rnn.init(k_rnn), cfg.hidden_size, k_rnn)
        return {"rnn": params, "rnn_b_hh": extra,
                "readout": dense.init(k_out, cfg.hidden_size, output_size, w_init=u, b_init=u)}

    def apply(params, xs, *, key=None, train=False):
        del key, train
        rnn_params = params["rnn"]
        if "rnn_b_hh" in params:
            rnn_params = torch_params.add_hidden_biases(rnn_params, params["rnn_b_hh"])
        _, hs = rnn.apply_batch(rnn_params, xs)  # [B, T, H]
        return dense.apply(params["readout"], hs)

    return init, apply


def _transformer(cfg, input_size, output_size, causal):
    for field in ("d_model", "num_heads", "d_ff", "num_layers"):
        validate.positive(f"model.transformer.{field}", cfg[field], integer=True)
    validate.in_range("model.transformer.drop_rate", cfg.drop_rate, 0.0, 1.0, high_open=True)
    if cfg.d_model % cfg.num_heads:
        raise validate.ConfigError(f"model.transformer.d_model: {cfg.d_model} is not divisible by "
                                   f"num_heads={cfg.num_heads}")
    stack = transformer.Stack(transformer.Block(cfg.d_model, cfg.num_heads, cfg.d_ff, causal=causal,
                                                drop_rate=cfg.drop_rate), cfg.num_layers)

    def init(key):
        k_in, k_stack, k_out = jax.random.split(key, 3)
        return {"proj": dense.init(k_in, input_size, cfg.d_model), "stack": stack.init(k_stack),
                "readout": dense.init(k_out, cfg.d_model, output_size)}

    def one(params, x, key, train, last):  # x [T, D]
        h = dense.apply(params["proj"], x) + positional.sinusoidal(x.shape[0], cfg.d_model)  # [T, d_model]
        h = stack.apply(params["stack"], h, key=key, deterministic=not train, last=last)  # [T or last, d_model]
        return dense.apply(params["readout"], h)

    def apply(params, xs, *, key=None, train=False, last=None):
        if train and key is not None and cfg.drop_rate > 0:
            return jax.vmap(lambda x, k: one(params, x, k, True, last))(xs, jax.random.split(key, xs.shape[0]))
        return jax.vmap(lambda x: one(params, x, None, False, last))(xs)

    return init, apply


def _sliced(apply):
    """`apply` with `last=`: every step computed, then the last `last` of them kept."""
    def sliced(params, xs, *, key=None, train=False, last=None):
        ys = apply(params, xs, key=key, train=train)  # [B, T, O]
        if last is None:
            return ys
        check_last(last, ys.shape[1], name="SequenceModel.apply")
        return ys[:, ys.shape[1] - last:]

    return sliced


def build(model_config: Any, *, input_size: int, output_size: int, causal: bool) -> SequenceModel:
    """The model `model_config.name` names, sized by its own section of `model_config`."""
    name = validate.choice("model.name", model_config.name, MODELS)
    cfg = model_config[name]
    if name == "tcn":
        init, apply = _tcn(cfg, input_size, output_size)
    elif name == "transformer":
        init, apply = _transformer(cfg, input_size, output_size, causal)
    else:
        init, apply = _recurrent(name, cfg, input_size, output_size)
    return SequenceModel(name, init, apply if name == "transformer" else _sliced(apply))


def example_weight(valid) -> dict:
    """{"weight": number of real examples} of an eval batch (its `valid` mask), so that the loop's mean over
    batches is the mean over examples even when filler copies complete the last batch; {} for train batches."""
    return {} if valid is None else {"weight": valid.sum()}


def array_task(config: Any, model: SequenceModel, loss_fn: Callable, train: dict, test: dict,
               reference: dict, valid: dict | None = None) -> Task:
    """The Task of an in-memory data set (arrays): shuffled train batches of config.batch_size, the
    whole test set for evaluation, the parameter count as a final metric. With a `valid` set, every
    evaluation covers both sets and names the metrics valid_<m> / test_<m> (the config's early
    stopping then watches a valid_ metric, which picks the reported checkpoint)."""
    def batches(data):
        return lambda: batching.eval_batches(batching.ArraySource(data), config.batch_size)

    return Task(
        init_params=model.init,
        loss_fn=loss_fn,
        train_iterator=batching.TrainIterator(batching.ArraySource(train), config.batch_size, seed=config.seed),
        eval_batches=batches(test) if valid is None else {"valid": batches(valid), "test": batches(test)},
        final_eval=lambda params: {"num_params": num_params(params)},
        reference=reference,
    )


def model_section(config: Any) -> dict:
    """The sizes of the model that runs (the other models' sections are left out of reports)."""
    return {"name": config.model.name, **dict(config.model[config.model.name].items())}


def _copy_run_files(run_dir: Path, dest: Path) -> None:
    """A run's results.json, and its reevaluation.json where it was re-scored and its metrics.jsonl (the
    curves a later summary plots) where it has them, into dest/."""
    for name in ("results.json", "reevaluation.json", "metrics.jsonl"):
        if name == "results.json" or (run_dir / name).exists():
            shutil.copy(run_dir / name, dest / name)


def _reported_metrics(run_dir: Path, results: dict) -> tuple[dict, dict | None]:
    """(metrics of the reported checkpoint, the first-reported metrics or None): where the run was re-scored
    (`--reevaluate`: run_dir/reevaluation.json holds that checkpoint, periodic or best), the re-scored ones."""
    path = run_dir / "reevaluation.json"
    if not path.exists():
        return results["metrics"], None
    again = json.loads(path.read_text())
    step = results["steps"]["params_from"]
    rescored = again["checkpoints"].get(str(step))
    if rescored is None and again.get("best") and again["best"]["step"] == step:
        rescored = again["best"]["metrics"]
    if rescored is None:
        return results["metrics"], None
    return {**results["metrics"], **rescored}, results["metrics"]


def summarize_runs(run_dirs: dict[str, str | Path], out_dir: str | Path, *, task: str, metric: str,
                   protocol_steps: int, baseline: float, reference: dict[str, Any], note: str = "") -> dict:
    """Gather one task's per-model runs (model -> workdir) into out_dir/results.json.

    Each model's entry has the steps it ran against the protocol's, its test
    metric, the published number, the trivial baseline and the ratio to it,
    and its training time; the per-model results.json files stay under
    out_dir/<model>/ with their curves. Where a run was re-scored
    (`--reevaluate`: <run>/reevaluation.json), the figures are those of the
    reported checkpoint as re-scored, and the first-reported value is kept
    beside them.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table = {}
    for model, run_dir in run_dirs.items():
        run_dir = Path(run_dir)
        results = json.loads((run_dir / "results.json").read_text())
        dest = out_dir / model
        dest.mkdir(exist_ok=True)
        _copy_run_files(run_dir, dest)
        for png in (run_dir / "plots").glob("*.png"):
            shutil.copy(png, dest / png.name)
        metrics, first_reported = _reported_metrics(run_dir, results)
        pick = lambda m: m.get(f"test_{metric}", m.get(metric))  # noqa: E731  (named eval sets or not)
        value = pick(metrics)
        table[model] = {
            "steps_run": results["steps"]["last"], "protocol_steps": protocol_steps,
            "params_from_step": results["steps"]["params_from"],
            f"test_{metric}": value, "published": reference.get(model),
            "trivial_baseline": baseline, "ratio_to_baseline": value / baseline,
            "num_params": results["metrics"].get("num_params"),
            # a resumed run's results.json times only its last segment (see the config docstring for totals)
            "train_seconds_last_segment": results["timing"]["train_seconds_this_run"],
            "steps_in_last_segment": results["timing"]["steps_this_run"],
            "final_metrics": metrics,
            **({} if first_reported is None else {f"test_{metric}_first_reported": pick(first_reported),
                                                  "rescored_by": "reevaluation.json"}),
            "model": results["config"]["model"].get(model, {}),
            "optimizer": results["config"]["optimizer"],
        }
    summary = {"task": task, "metric": f"test {metric}", "trivial_baseline": baseline,
               "reference": reference, "note": note, "models": table}
    (out_dir / "results.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    plot_test_curves(run_dirs, out_dir / f"{task}_test_{metric}.png", metric=metric, baseline=baseline,
                     reference=reference, task=task)
    return summary


def summarize_selection(run_dirs: dict[str, str | Path], out_dir: str | Path, *, metric: str) -> dict:
    """Runs of a `_valid` variant (e.g. one per seed) -> out_dir/results.json: the run with the lowest
    validation `metric` at its chosen checkpoint is the one reported, so neither the checkpoint nor the
    run is chosen on the test set. Each run's row also has its last evaluation (the protocol's figure);
    a re-scored run (reevaluation.json) is reported with its re-scored figures.

        python -c "from experiments import sequence_models as s; s.summarize_selection(
            {'seed0': 'workdirs/adding/tcn_valid_seed0', 'seed1': 'workdirs/adding/tcn_valid_seed1'},
            'results/adding/tcn_valid', metric='mse')"
    """
    out_dir = Path(out_dir)
    rows = {}
    for name, run_dir in run_dirs.items():
        run_dir = Path(run_dir)
        results = json.loads((run_dir / "results.json").read_text())
        if f"valid_{metric}" not in results["metrics"]:
            raise ValueError(f"summarize_selection: {run_dir} has no valid_{metric}: not a run of a _valid variant")
        evals = [r for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines())
                 if r.get("split") == "eval"]
        dest = out_dir / name
        dest.mkdir(parents=True, exist_ok=True)
        _copy_run_files(run_dir, dest)
        (dest / "eval_curve.jsonl").write_text("".join(json.dumps(r) + "\n" for r in evals))
        metrics, first_reported = _reported_metrics(run_dir, results)
        rows[name] = {"params_from_step": results["steps"]["params_from"], "steps_run": results["steps"]["last"],
                      f"valid_{metric}": metrics[f"valid_{metric}"], f"test_{metric}": metrics[f"test_{metric}"],
                      **({} if first_reported is None else {"rescored_by": "reevaluation.json"}),
                      "last_step": evals[-1]["step"], f"last_step_test_{metric}": evals[-1][f"test_{metric}"],
                      "train_seconds_last_segment": results["timing"]["train_seconds_this_run"]}
    chosen = min(rows, key=lambda n: rows[n][f"valid_{metric}"])
    summary = {"selection": f"checkpoint and run by the lowest validation {metric}; the test set chooses nothing",
               "chosen": chosen, f"test_{metric}": rows[chosen][f"test_{metric}"], "runs": rows}
    (out_dir / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def plot_test_curves(run_dirs: dict[str, str | Path], path: str | Path, *, metric: str, baseline: float,
                     reference: dict[str, Any], task: str) -> dict[str, tuple[list, list]]:
    """Test-metric curves of all models on one log plot, with the baseline and published numbers.

    run_dirs: label -> a run's workdir (its metrics.jsonl is read) or a .jsonl file of its evaluations
    (e.g. `summarize_selection`'s eval_curve.jsonl); reference: label -> published figure. Returns the
    plotted curves, label -> (steps, values).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    curves = {}
    for i, (model, run_dir) in enumerate(run_dirs.items()):
        steps, values = [], []
        curve = Path(run_dir) if str(run_dir).endswith(".jsonl") else Path(run_dir) / "metrics.jsonl"
        for line in curve.read_text().splitlines():
            rec = json.loads(line)
            value = rec.get(f"test_{metric}", rec.get(metric))
            if rec.get("split") == "eval" and value is not None:
                steps.append(rec["step"])
                values.append(value)
        curves[model] = (steps, values)
        color = f"C{i}"
        ax.plot(steps, values, color=color, marker=".", label=model)
        if reference.get(model) is not None:
            ax.axhline(reference[model], color=color, ls=":", lw=1)
    ax.axhline(baseline, color="k", ls="--", lw=1, label=f"trivial baseline {baseline:.3g}")
    ax.set_yscale("log")
    ax.set_xlabel("training step (batch 32)")
    ax.set_ylabel(f"test {metric}")
    ax.set_title(f"{task}: test {metric} (dotted: published)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return curves
