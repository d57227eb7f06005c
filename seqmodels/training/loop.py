"""The training loop every experiment shares: `train_and_evaluate(config, workdir, task)`.

An experiment supplies a config (see below) and a small `Task`:

    import jax, jax.numpy as jnp
    from seqmodels.training import Task, losses, train_and_evaluate

    def make_task(config) -> Task:
        model = MODELS[config.model.name]                       # validate.lookup(...) first
        def loss_fn(params, batch, key, train):
            logits = jax.vmap(lambda x, n: model.apply(params, x, lengths=n))(batch["x"], batch["lengths"])
            mask = losses.mask_from_lengths(batch["lengths"], batch["y"].shape[1])
            loss = losses.cross_entropy(logits, batch["y"], mask)
            return loss, {"accuracy": losses.accuracy(logits, batch["y"], mask), "weight": mask.sum()}
        return Task(
            init_params=lambda key: model.init(key, **config.model),
            loss_fn=loss_fn,
            train_iterator=data.train_iterator(config),          # get_state() / set_state(state)
            eval_batches=lambda: data.eval_batches(config),      # a fresh iterable per evaluation
            final_eval=None,                                      # params -> {"test_accuracy": ...}
            reference={"accuracy": 0.94},                         # published numbers, for results.json
        )

    train_and_evaluate(config, "workdirs/run1", make_task(config))

(or, from the command line, `experiments/launcher.py` does the last line).

The Task contract:

- `init_params(key) -> params`: a nested dict of arrays.
- `loss_fn(params, batch, key, train) -> (loss, metrics)`: on one whole batch
  (dict of arrays with leading axis [B]); `key` is this step's key
  (`fold_in(root, step)`), for dropout when `train`. Metrics are scalars; an
  optional "weight" metric (e.g. the number of valid tokens) weights the
  batch when eval metrics are averaged over batches (otherwise batches count
  equally), and is not reported itself.
- `train_iterator`: an endless iterator of batches (dicts of numpy arrays,
  leading axis the global `batch_size`) with `get_state() -> dict`
  (JSON-serialisable: seed, epoch, position) and `set_state(state)`; the
  state is saved in every checkpoint. In a multi-host run (P processes)
  every host runs its own copy of the iterator, with the same state (only
  process 0's is saved): it yields either the whole global batch, the same
  on every host (each host keeps its devices' rows: what in-memory tasks
  do), or only this host's part, batch_size / P examples (rows
  [p B/P, (p+1) B/P) of the global batch for p = `jax.process_index()`).
- `eval_batches`: None, an iterable that can be iterated more than once (a
  list), or a zero-argument callable returning a fresh iterable. A batch
  whose size does not split over the devices is computed replicated
  (multi-host, every host yields the same, whole eval batches). Or a
  dict of named eval sets, {"valid": ..., "test": ...}, each one of those:
  every evaluation then covers every set and reports its metrics with the
  set's name in front ("valid_loss", "test_mse"); early stopping and the
  best checkpoint watch one of them, which the config must name (e.g.
  early_stopping.metric="valid_loss"; patience 0 keeps selection without stopping).
- `eval_fn(params, batch, key) -> metrics`: optional, the evaluation of one
  eval batch when it is not the loss (e.g. a free-running forecast scored
  by NMSE); its "loss" metric, if any, is reported as the eval loss. Default:
  `loss_fn(params, batch, key, train=False)`, its loss reported as "loss".
- `final_eval(params) -> dict`: optional, run once at the end (test set,
  generation, NMSE of a free-running forecast, ...), on host.
- `summarize(metrics) -> metrics`: optional, adds derived eval metrics after
  averaging (e.g. perplexity = exp(mean cross-entropy)).
- `reference`: published numbers to report beside ours.
- `train_carry() -> carry`: optional, for stateful training (truncated BPTT over
  consecutive chunks, e.g. an RNN language model's hidden state, leaves with a
  leading [B] axis): every train batch then holds batch["carry"], this initial
  value at a run's first step, else the carry the previous step returned as
  metrics["carry"] (gradient stopped), which the loss_fn must return and the
  loop takes out of the metrics. Evaluation never sees it. The carry is part
  of every checkpoint, so a resumed run goes on with the carry it had.

Config fields read here (`validate.train_config` checks them at start-up):

    seed                  PRNG seed of init, dropout and the run (the data seed is the task's)
    num_steps             number of updates
    batch_size            global batch size (must split over the devices)
    eval_every            evaluate every this many steps (0: only at the end)
    checkpoint_every      save a checkpoint every this many steps (and at the end)
    model                 the experiment's own section (not read here)
    optimizer             `optimizers.make_optimizer`'s section
    log_every             optional: train metrics and progress every this many steps
    keep_checkpoints      optional: periodic checkpoints kept (3)
    early_stopping        optional: metric, mode, patience, min_delta (see early_stopping.py)
    restore_best          optional: final metrics from the best checkpoint, not the last (True)
    num_devices           optional: data-parallel devices (all)
    precision             optional: float32 (default) | bfloat16 compute, float32 params (precision.py)

What the loop does, step s = 1 .. num_steps (s counts updates made):

    batch <- next(train_iterator);  state <- train_step(state, batch, key)
    every log_every:        train means -> terminal (rate, ETA), JSONL, TensorBoard
    every eval_every:       eval means -> the same; early stopping; best checkpoint if improved
    every checkpoint_every: periodic checkpoint (params, optimiser state, step, keys,
                            data position, early stopping, partial train means)
    at the end:             final metrics (from the best checkpoint) -> results.json, plots/*.png

Before any log, evaluation or save, a NaN/Inf loss or gradient since the last
check stops the run with `NonFiniteLossError` naming the first bad step; no
checkpoint is written after it. A Ctrl-C (SIGINT) is read between steps: the step reached is
saved, then KeyboardInterrupt is raised (training/interrupts.py). Started again with the same workdir, the loop
resumes from the latest checkpoint and ends with exactly the parameters and
metrics of an uninterrupted run.

Multi-host (parallel.py), every process runs this loop on the same shared
workdir: all save and restore the checkpoints together, process 0 alone
writes metrics, results and plots, and a Ctrl-C that reached any process
stops all of them at the next log step (they agree there), which is saved.
"""

import dataclasses
import json
import os
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import jax
import numpy as np
from absl import logging

from seqmodels.array_types import Array, Key, Params
from seqmodels.training import (checkpoint, early_stopping, interrupts, optimizers, parallel, precision,
                                train_state, validate, workdir as workdir_lib, writers)

__all__ = ["Task", "NonFiniteLossError", "train_and_evaluate", "evaluate", "evaluate_checkpoints"]


@dataclasses.dataclass
class Task:
    """What an experiment supplies to `train_and_evaluate` (see the module docstring)."""
    init_params: Callable[[Key], Params]
    loss_fn: train_state.LossFn
    train_iterator: Iterator[dict]
    eval_batches: (Iterable[dict] | Callable[[], Iterable[dict]]
                   | dict[str, Iterable[dict] | Callable[[], Iterable[dict]]] | None) = None
    final_eval: Callable[[Params], dict[str, float]] | None = None
    eval_fn: Callable[[Params, dict, Key], dict[str, Array]] | None = None
    summarize: Callable[[dict[str, float]], dict[str, float]] | None = None
    reference: dict[str, Any] = dataclasses.field(default_factory=dict)
    train_carry: Callable[[], Any] | None = None


class NonFiniteLossError(FloatingPointError):
    """The loss or its gradient became NaN or Inf."""


def _config_dict(config: Any) -> dict:
    return config.to_dict() if hasattr(config, "to_dict") else dict(config)


def _check_task(task: Task) -> None:
    it = task.train_iterator
    missing = [name for name in ("__next__", "get_state", "set_state") if not hasattr(it, name)]
    if missing:
        raise TypeError(f"task.train_iterator must be an iterator with get_state() and set_state(state); "
                        f"{type(it).__name__} lacks {missing}")
    sets = task.eval_batches
    if isinstance(sets, dict) and (not sets or not all(isinstance(n, str) and n for n in sets)):
        raise TypeError(f"task.eval_batches: a dict of eval sets needs at least one set and non-empty str names, "
                        f"got names {list(sets)}")


def _check_watched_metric(task: Task, stopper: early_stopping.EarlyStopping) -> None:
    """With named eval sets, the watched metric must name its set (caught before training, not at the first eval)."""
    if isinstance(task.eval_batches, dict) and not any(stopper.metric.startswith(f"{n}_") for n in task.eval_batches):
        raise validate.ConfigError(
            f"early_stopping.metric: {stopper.metric!r} names no eval set; the task evaluates the sets "
            f"{list(task.eval_batches)}, whose metrics are named '<set>_<metric>' (e.g. "
            f"'{next(iter(task.eval_batches))}_loss')")


def evaluate(eval_step: Callable, params: Params, batches: Iterable[dict], key: Key,
             mesh: jax.sharding.Mesh | None = None) -> dict[str, float]:
    """Mean of each eval metric over `batches`, weighted by the "weight" metric if there is one."""
    outputs = []
    for batch in batches:
        if mesh is not None:
            batch = parallel.shard_batch(batch, mesh, allow_replicated=True)
        outputs.append(eval_step(params, batch, key))
    if not outputs:
        raise ValueError("evaluate: the task's eval_batches yielded no batch")
    outputs = jax.device_get(outputs)
    weights = np.asarray([float(m.get("weight", 1.0)) for m in outputs], np.float64)
    total = max(weights.sum(), 1e-12)
    names = [name for name in outputs[0] if name != "weight"]
    return {name: float(np.sum(weights * np.asarray([m[name] for m in outputs], np.float64)) / total)
            for name in names}


class _TrainMeans:
    """Running sums of the train metrics since the last log line (saved with checkpoints)."""

    def __init__(self, state: dict | None = None):
        state = state or {}
        self.count = state.get("count", 0)
        self.sums = dict(state.get("sums", {}))
        self._pending = []  # device metrics not yet fetched

    def add(self, metrics: dict) -> None:
        self._pending.append(metrics)

    def _fetch(self) -> None:
        for m in jax.device_get(self._pending):  # in step order: sums equal whatever the fetch points
            for name, value in m.items():
                self.sums[name] = self.sums.get(name, 0.0) + float(value)
            self.count += 1
        self._pending = []

    def state(self) -> dict:
        self._fetch()
        return {"count": self.count, "sums": self.sums}

    def pop_means(self) -> dict[str, float]:
        self._fetch()
        means = {name: value / max(self.count, 1) for name, value in self.sums.items()}
        self.count, self.sums = 0, {}
        return means


def _eval_metrics(task: Task, eval_step: Callable, params: Params, key: Key, mesh) -> dict[str, float]:
    def one(batches):
        batches = batches() if callable(batches) else batches
        metrics = evaluate(eval_step, params, batches, key, mesh)
        return task.summarize(metrics) if task.summarize is not None else metrics

    if not isinstance(task.eval_batches, dict):
        return one(task.eval_batches)
    return {f"{name}_{metric}": value for name, batches in task.eval_batches.items()
            for metric, value in one(batches).items()}


def _final_metrics(task: Task, eval_step: Callable, params: Params, key: Key, mesh) -> dict[str, float]:
    """Eval metrics and the task's final_eval, of the params results.json reports."""
    metrics = _eval_metrics(task, eval_step, params, key, mesh) if task.eval_batches is not None else {}
    if task.final_eval is not None:
        metrics.update({k: float(v) for k, v in task.final_eval(jax.device_get(params)).items()})
    return metrics


def _initial_state(config: Any, task: Task, optimizer, mesh) -> tuple[train_state.TrainState, dict]:
    """The step-0 train state and the run's root keys (also the template a checkpoint is restored into)."""
    init_key, train_key, eval_key = jax.random.split(jax.random.key(config.seed), 3)
    params = task.init_params(init_key)
    state = parallel.replicate(train_state.create_train_state(params, optimizer), mesh)
    return state, parallel.replicate({"train": train_key, "eval": eval_key}, mesh)


def _check_same_config(config: Any, workdir: Path) -> list[str]:
    """The config must be the one the run in `workdir` reported (results.json) in every field both have: a
    missed override (the data's size or seed, say) would score another test set. Fields only one side has
    (added to or dropped from the code since the run) are allowed and returned, to be recorded."""
    path = workdir / "results.json"
    if not path.exists():
        return []  # a run that never finished: its checkpoints' shapes are still checked on restore

    def flat(tree, prefix=""):
        if not isinstance(tree, dict):
            return {prefix[:-1]: json.loads(json.dumps(tree, default=str))}
        return {k: v for key, sub in tree.items() for k, v in flat(sub, f"{prefix}{key}.").items()}

    ran, now = flat(json.loads(path.read_text())["config"]), flat(_config_dict(config))
    differ = sorted(k for k in ran.keys() & now.keys() if ran[k] != now[k])
    if differ:
        detail = ", ".join(f"{k}: ran {ran[k]!r}, now {now[k]!r}" for k in differ)
        raise validate.ConfigError(f"the config differs from the one the run in {workdir} used ({detail}); "
                                   f"pass the run's overrides again (--config.<field>=<value>)")
    return sorted(ran.keys() ^ now.keys())


def evaluate_checkpoints(config: Any, workdir: str | os.PathLike, task: Task) -> dict:
    """Evaluate the checkpoints a run kept (the periodic ones and the best) with the task's evaluation as
    it is now, without training: after a fix to the evaluation code, the corrected figures of a finished
    run. The config must match the run's (results.json) in every field both have. Returns and writes
    workdir/reevaluation.json: {"checkpoints": {step: metrics}, "best": {"step", "metrics"}, "config", ...}."""
    validate.train_config(config)
    _check_task(task)
    task = precision.apply(task, config.get("precision"))  # float32 (default) or bfloat16 compute
    workdir = Path(workdir)
    with workdir_lib.lock(workdir):
        return _evaluate_checkpoints(config, workdir, task)


def _evaluate_checkpoints(config: Any, workdir: Path, task: Task) -> dict:
    unmatched = _check_same_config(config, workdir)
    if unmatched:
        logging.warning("config fields the run did not have, or has no more (left unchecked): %s", unmatched)
    directory = workdir / "checkpoints"
    steps, best = checkpoint.kept_steps(directory), checkpoint.kept_steps(directory, best=True)
    if not steps and not best:
        raise checkpoint.CheckpointError(f"{directory} holds no checkpoints to evaluate")
    mesh = parallel.make_mesh(config.get("num_devices"))
    parallel.check_batch_size(config.batch_size, mesh)
    state, keys = _initial_state(config, task, optimizers.make_optimizer(config.optimizer,
                                                                          num_steps=config.num_steps), mesh)
    eval_step = train_state.make_eval_step(task.loss_fn, mesh=mesh, eval_fn=task.eval_fn)

    template = _saved(state, keys, task.train_carry() if task.train_carry is not None else None)

    def metrics_of(**where):
        restored, _ = checkpoint.load(directory, template, **where)
        return _final_metrics(task, eval_step, restored["state"].params, restored["keys"]["eval"], mesh)

    results = {"checkpoints": {str(s): metrics_of(step=s) for s in steps},
               "best": {"step": best[-1], "metrics": metrics_of(best=True)} if best else None,
               "config": _config_dict(config), "config_fields_not_in_both": unmatched}
    if jax.process_index() == 0:
        (workdir / "reevaluation.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    return results


def train_and_evaluate(config: Any, workdir: str | os.PathLike, task: Task, *,
                       accept_config_changes: str = "none") -> dict:
    """Train `task` as `config` says, resuming from `workdir` if it holds checkpoints; return results.json's dict.

    The workdir is locked for the run (`workdir.lock`: a second run on it fails at once). A resumed run must
    have the config it started with (workdir/config.json), unless `accept_config_changes` is "safe" (step
    counts and frequencies) or "all" (`workdir.check_config`)."""
    validate.train_config(config)
    _check_task(task)
    task = precision.apply(task, config.get("precision"))  # float32 (default) or bfloat16 compute
    workdir = Path(workdir)
    with workdir_lib.lock(workdir):
        return _train_and_evaluate(config, workdir, task, accept_config_changes)


def _saved(state, keys, carry) -> dict:
    """What a checkpoint holds: the train state, the keys, and the carried state of a stateful task."""
    return {"state": state, "keys": keys} if carry is None else {"state": state, "keys": keys, "carry": carry}


def _resume(ckpts: checkpoint.Checkpoints, task: Task, state, keys, carry, stopper: early_stopping.EarlyStopping,
            start: int) -> tuple[Any, Any, Any, early_stopping.EarlyStopping, _TrainMeans]:
    """(state, keys, early stopping, partial train means) of the checkpoint of step `start`; the data position
    restored into task.train_iterator; best checkpoints newer than it forgotten."""
    restored, extra = ckpts.restore(_saved(state, keys, carry))
    task.train_iterator.set_state(extra["data"])
    saved = early_stopping.EarlyStopping.from_dict(extra["early_stopping"])
    if saved.metric != stopper.metric:  # the run would go on watching the checkpoint's metric
        raise validate.ConfigError(
            f"early_stopping.metric: the checkpoints in {ckpts.directory} watch {saved.metric!r}, the "
            f"config {stopper.metric!r}; resume with the config the run started with, or use a new workdir")
    ckpts.delete_best_after(start)
    logging.info("resumed from the checkpoint of step %d in %s", start, ckpts.directory)
    return restored["state"], restored["keys"], restored.get("carry"), saved, _TrainMeans(extra["train_means"])


def _train_and_evaluate(config: Any, workdir: Path, task: Task, accept_config_changes: str) -> dict:
    num_steps, log_every = config.num_steps, config.get("log_every") or max(1, min(100, config.num_steps // 10))
    is_step = lambda every, s: (every and s % every == 0) or s == num_steps  # noqa: E731
    mesh = parallel.make_mesh(config.get("num_devices"))
    parallel.check_batch_size(config.batch_size, mesh)
    optimizer = optimizers.make_optimizer(config.optimizer, num_steps=num_steps)
    stopper = early_stopping.EarlyStopping(**dict((config.get("early_stopping") or {}).items()))
    _check_watched_metric(task, stopper)

    state, keys = _initial_state(config, task, optimizer, mesh)
    train_step = train_state.make_train_step(task.loss_fn, optimizer, mesh=mesh)
    eval_step = train_state.make_eval_step(task.loss_fn, mesh=mesh, eval_fn=task.eval_fn)
    ckpts = checkpoint.Checkpoints(workdir / "checkpoints", keep=config.get("keep_checkpoints") or 3)
    writer = writers.MetricWriter(workdir)
    means = _TrainMeans()
    carry = task.train_carry() if task.train_carry is not None else None

    try:
        start = ckpts.latest_step() or 0
        workdir_lib.check_config(_config_dict(config), workdir, accept_config_changes,
                                 started=bool(start) or (workdir / "results.json").exists())
        writer.truncate_after(start)  # records after the checkpoint (or all, from step 0) are written again
        if start:
            state, keys, carry, stopper, means = _resume(ckpts, task, state, keys, carry, stopper, start)
    except BaseException:
        ckpts.close()  # pending asynchronous reads and saves end here, not in tracebacks at exit
        writer.close()
        raise

    def check_finite():
        bad = int(jax.device_get(state.first_nonfinite_step))
        if bad >= 0:
            last = ckpts.latest_step()
            kept = (f"The last good checkpoint (step {last}) is kept in {ckpts.directory}" if last is not None
                    else f"No checkpoint had been saved yet (checkpoint_every={config.checkpoint_every})")
            raise NonFiniteLossError(
                f"the loss or its gradient is NaN or Inf at step {bad}: training stopped. {kept}; lower the "
                f"learning rate or clip gradients (optimizer.clip_norm) and run again.")

    def save_extra(step):
        return {"step": step, "data": task.train_iterator.get_state(),
                "early_stopping": stopper.to_dict(), "train_means": means.state()}

    def stop_now(stop, step):  # every process stops at the same step: multi-host, they agree at log steps
        if jax.process_count() == 1:
            return stop.requested()
        return is_step(log_every, step) and step > start and parallel.any_process(stop.requested())

    progress = writers.Progress(num_steps, start)
    train_start = time.perf_counter()
    try:
        step = start
        with interrupts.deferred_sigint() as stop:
            while step < num_steps and not stopper.stopped:
                if stop_now(stop, step):  # Ctrl-C: keep the step reached, then stop (interrupts.py)
                    if step > (ckpts.latest_step() or 0):
                        check_finite()
                        ckpts.save(step, _saved(state, keys, carry), extra=save_extra(step))
                    ckpts.wait()
                    raise KeyboardInterrupt
                batch = parallel.shard_batch(next(task.train_iterator), mesh, global_size=config.batch_size)
                if carry is not None:  # the step returns it replicated: split it over the devices like the batch
                    batch = {**batch, "carry": parallel.put(carry, parallel.batch_sharded(mesh))}
                state, metrics = train_step(state, batch, keys["train"])
                if carry is not None:
                    carry = metrics.pop("carry")
                means.add(metrics)
                step += 1
                if is_step(log_every, step):
                    check_finite()
                    train_means = means.pop_means()
                    writer.write(step, "train", train_means)
                    progress.log(step, train_means)
                if task.eval_batches is not None and is_step(config.eval_every, step):
                    check_finite()
                    eval_metrics = _eval_metrics(task, eval_step, state.params, keys["eval"], mesh)
                    writer.write(step, "eval", eval_metrics)
                    logging.info("step %d eval: %s", step, writers.format_metrics(eval_metrics))
                    if stopper.update(step, eval_metrics):
                        ckpts.save_best(step, _saved(state, keys, carry), extra={"metrics": eval_metrics})
                    if stopper.stopped:
                        logging.info("early stopping at step %d: no improvement of eval %s for %d evaluations "
                                     "(best %.4g at step %d)", step, stopper.metric, stopper.patience,
                                     stopper.best, stopper.best_step)
                if is_step(config.checkpoint_every, step) or stopper.stopped:
                    check_finite()
                    ckpts.save(step, _saved(state, keys, carry), extra=save_extra(step))
        check_finite()
        train_seconds = time.perf_counter() - train_start
        ckpts.wait()

        use_best = config.get("restore_best", True) and ckpts.best_step() is not None
        final_params, final_step = state.params, step
        if use_best:
            restored, _ = ckpts.restore(_saved(state, keys, carry), best=True)
            final_params, final_step = restored["state"].params, ckpts.best_step()
        metrics = _final_metrics(task, eval_step, final_params, keys["eval"], mesh)
        if metrics:
            writer.write(step, "final", metrics)
            logging.info("final metrics (params of step %d): %s", final_step, writers.format_metrics(metrics))
    finally:
        ckpts.close()
        writer.close()

    results = {
        "metrics": metrics,
        "reference": dict(task.reference),
        "config": _config_dict(config),
        "steps": {"last": step, "params_from": final_step, "best": stopper.best_step,
                  "early_stopped": stopper.stopped},
        "timing": {"train_seconds_this_run": train_seconds, "steps_this_run": step - start},
    }
    if jax.process_index() == 0:
        (workdir / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
        writers.plot_curves(workdir / "metrics.jsonl", workdir / "plots")
    return results
