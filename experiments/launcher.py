"""The command-line shell every experiment shares.

    python -m experiments.<name> --workdir=DIR \
        [--config=experiments/configs/<name>.py[:variant]] [--config.<field>=<value> ...] [--distributed]

An experiment is two short files. `experiments/configs/<name>.py` holds
`get_config(variant=None) -> ml_collections.ConfigDict` with the fields of
`seqmodels.training.loop` (seed, num_steps, batch_size, eval_every,
checkpoint_every, optimizer, ...) and `model` (experiments/models.py: a
`name` and one section per model); `experiments/<name>.py` builds the task
and hands it to `run` (experiments/template.py is a whole one):

    def make_task(config, workdir=None) -> Task:
        model = models.build(config.model, models.Spec(input_size=1, output_size=1))
        def loss_fn(params, batch, key, train):
            ys = model.apply_batch(params, batch["x"], key=key, deterministic=not train)
            return losses.mean_squared_error(ys, batch["y"]), {}
        return Task(init_params=model.init, loss_fn=loss_fn, train_iterator=..., eval_batches=...)

    if __name__ == "__main__":
        launcher.run(make_task)

A run of several models, each trained in its own sub-workdir (MNIST-1D's
table), also passes `sub_runs` and `combine` (see `run`).

Without `--config`, `run` uses experiments/configs/<name>.py beside the
experiment module. `--config.optimizer.learning_rate=1e-3` overrides one field
(ml_collections' `config_flags`, no second flag system). `--distributed` calls
`jax.distributed.initialize()` first, for multi-host runs.

Started again with the same command and workdir, a run resumes from its latest
checkpoint. With `--reevaluate` nothing trains: the checkpoints the run kept
are evaluated with the evaluation code as it is now (DIR/reevaluation.json),
e.g. after a fix to how a test metric is averaged; the config must be the
run's (its overrides passed again); a multi-model run re-evaluates each
model's sub-workdir. Config errors, checkpoint errors and a NaN loss end the
program with a one-paragraph message (exit status 1), not a traceback.
"""

import functools
import json
import sys
import time
from pathlib import Path
from typing import Callable

import jax
from absl import app, flags, logging
from ml_collections import config_flags

from seqmodels.training import (CheckpointError, ConfigError, NonFiniteLossError, Task, evaluate_checkpoints,
                                parallel, train_and_evaluate, validate)

__all__ = ["run", "run_experiment", "default_config_path"]

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Directory for checkpoints, metrics, results.json and plots; "
                    "the run resumes from it if it holds checkpoints.")
flags.DEFINE_bool("reevaluate", False, "Do not train: evaluate the checkpoints kept in --workdir (the latest "
                  "ones and the best) with the evaluation code as it is now; writes DIR/reevaluation.json.")
flags.DEFINE_bool("distributed", False, "Call jax.distributed.initialize() first (multi-host data parallelism).")

_CLEAN_ERRORS = (CheckpointError, ConfigError, NonFiniteLossError)

MakeTask = Callable[..., Task]  # (config, workdir) -> Task
SubRuns = Callable[..., dict]  # config -> {name: the sub-run's config}
Combine = Callable[..., dict]  # (config, workdir, {name: results}) -> combined results


def default_config_path(experiment_file: str | Path) -> Path:
    """experiments/<name>.py -> experiments/configs/<name>.py."""
    experiment_file = Path(experiment_file)
    return experiment_file.parent / "configs" / experiment_file.name


def _train_seconds(sub_dir: Path, results: dict) -> float:
    """Training seconds of a sub-run summed over the invocations that trained it (sub_dir/train_seconds.json)."""
    path = sub_dir / "train_seconds.json"
    before = json.loads(path.read_text())["train_seconds"] if path.exists() else 0.0
    total = before + results["timing"]["train_seconds_this_run"]
    if jax.process_index() == 0 and results["timing"].get("steps_this_run"):
        path.write_text(json.dumps({"train_seconds": total}) + "\n")
    return total


def run_experiment(config, workdir: str | Path, make_task: MakeTask, *, sub_runs: SubRuns | None = None,
                   combine: Combine | None = None, reevaluate: bool = False) -> dict:
    """Train (or re-evaluate) one experiment: one task in `workdir`, or with `sub_runs` one task per
    sub-config in workdir/<name>/ (one after another; a resumed run resumes inside the sub-run it was
    training and skips finished ones), then `combine` writes the combined results."""
    workdir = Path(workdir)
    validate.train_config(config)
    if sub_runs is None:
        task = make_task(config, workdir)
        return (evaluate_checkpoints if reevaluate else train_and_evaluate)(config, workdir, task)
    configs = sub_runs(config)  # every sub-run's config is checked before any data or training
    results = {}
    for name, sub_config in configs.items():
        sub_dir = workdir / name
        logging.info("%s %s in %s", "re-evaluating" if reevaluate else "training", name, sub_dir)
        task = make_task(sub_config, sub_dir)
        if reevaluate:
            results[name] = evaluate_checkpoints(sub_config, sub_dir, task)
            continue
        result = train_and_evaluate(sub_config, sub_dir, task)
        result["timing"]["train_seconds"] = _train_seconds(sub_dir, result)
        results[name] = result
    if reevaluate or combine is None:
        return results
    return combine(config, workdir, results)


def _main(argv: list[str], make_task: MakeTask, sub_runs: SubRuns | None, combine: Combine | None) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if not FLAGS.workdir:
        raise app.UsageError("--workdir is required")
    if FLAGS.config is None:
        raise app.UsageError("--config is required (no default config file was found)")
    parallel.initialize_distributed(FLAGS.distributed)
    start = time.perf_counter()
    try:
        run_experiment(FLAGS.config, FLAGS.workdir, make_task, sub_runs=sub_runs, combine=combine,
                       reevaluate=FLAGS.reevaluate)
    except _CLEAN_ERRORS as e:
        sys.exit(f"error: {e}")
    out = "reevaluation.json" if FLAGS.reevaluate else "results.json"
    logging.info("done in %.0f s: results in %s", time.perf_counter() - start, Path(FLAGS.workdir) / out)


def run(make_task: MakeTask, *, sub_runs: SubRuns | None = None, combine: Combine | None = None,
        default_config: str | Path | None = None, argv: list[str] | None = None) -> None:
    """Parse the flags, build the task(s) from the config, train and evaluate (the experiment's `__main__`).

    make_task(config, workdir) -> Task. A run of several models (MNIST-1D's table) also gives
    sub_runs(config) -> {name: sub-config} and combine(config, workdir, {name: results}) -> results."""
    if default_config is None:
        main_file = getattr(sys.modules["__main__"], "__file__", None)
        default_config = default_config_path(main_file) if main_file else None
    if default_config is not None and not Path(default_config).exists():
        default_config = None
    if "config" not in FLAGS:
        config_flags.DEFINE_config_file(
            "config", None if default_config is None else str(default_config),
            "Experiment config file, optionally with ':variant' (passed to get_config).")
    app.run(functools.partial(_main, make_task=make_task, sub_runs=sub_runs, combine=combine), argv=argv)
