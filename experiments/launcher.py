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
(ml_collections' `config_flags`, no second flag system).

Multi-host: the same command on every host with `--distributed` (and, where
JAX cannot detect them, `--coordinator_address=HOST:PORT --num_processes=N
--process_id=I`, or the JAX_COORDINATOR_ADDRESS / JAX_NUM_PROCESSES /
JAX_PROCESS_ID variables); the workdir must be one shared directory (NFS, a
mounted bucket). Process 0 writes the logs, metrics and results; all processes save and
restore the checkpoints together; killed, every process is started again.

    srun python -m experiments.char_lm --workdir=/shared/runs/lm --distributed      # Slurm: JAX reads SLURM_*
    gcloud compute tpus tpu-vm ssh TPU --zone=ZONE --worker=all \
        --command="cd seqmodels && python -m experiments.char_lm --workdir=/mnt/shared/lm --distributed"
    python -m experiments.char_lm --workdir=/nfs/runs/lm --distributed \
        --coordinator_address=host0:1234 --num_processes=N --process_id=I          # N GPU hosts by hand

(only the two-process localhost form, tests/training/test_multihost.py, has been run here; the others
follow JAX's documented cluster detection).

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

from seqmodels.training import (CheckpointError, ConfigError, NonFiniteLossError, Task, WorkdirError,
                                evaluate_checkpoints, parallel, train_and_evaluate, validate)
from seqmodels.training import workdir as workdir_lib

__all__ = ["run", "run_direct", "run_experiment", "default_config_path"]

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Directory for checkpoints, metrics, results.json and plots; "
                    "the run resumes from it if it holds checkpoints.")
flags.DEFINE_bool("reevaluate", False, "Do not train: evaluate the checkpoints kept in --workdir (the latest "
                  "ones and the best) with the evaluation code as it is now; writes DIR/reevaluation.json.")
flags.DEFINE_bool("distributed", False, "Multi-host data parallelism: join the run of all hosts "
                  "(jax.distributed.initialize) first; the same command on every host.")
flags.DEFINE_string("coordinator_address", None, "With --distributed: HOST:PORT of process 0 (default: "
                    "$JAX_COORDINATOR_ADDRESS, or found by JAX on Slurm, Open MPI, TPU pods).")
flags.DEFINE_integer("num_processes", None, "With --distributed: number of processes (default: $JAX_NUM_PROCESSES, "
                     "or found by JAX).")
flags.DEFINE_integer("process_id", None, "With --distributed: this process's id, 0..num_processes-1 (default: "
                     "$JAX_PROCESS_ID, or found by JAX).")
flags.DEFINE_enum("precision", None, ["float32", "bfloat16"], "Compute dtype of every model (sets "
                  "config.precision; params and optimiser state stay float32: seqmodels/training/precision.py). "
                  "Default: the config's own precision field, else float32.")
flags.DEFINE_enum("accept_config_changes", "none", workdir_lib.ACCEPT,
                  "Resuming with a config other than the run's: none (refuse, list the changes), safe (step counts "
                  "and evaluation/checkpoint/log frequencies), all (any change, recorded in DIR/config.json).")

_CLEAN_ERRORS = (CheckpointError, ConfigError, NonFiniteLossError, WorkdirError)

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
                   combine: Combine | None = None, reevaluate: bool = False,
                   accept_config_changes: str = "none") -> dict:
    """Train (or re-evaluate) one experiment: one task in `workdir`, or with `sub_runs` one task per
    sub-config in workdir/<name>/ (one after another; a resumed run resumes inside the sub-run it was
    training and skips finished ones), then `combine` writes the combined results."""
    workdir = Path(workdir)
    validate.train_config(config)

    def one(sub_config, sub_dir):
        try:
            task = make_task(sub_config, sub_dir)
        except (TypeError, ValueError) as e:  # a layer or the data refused a value the config gave it
            if isinstance(e, ConfigError):
                raise
            raise ConfigError(f"the config does not make a valid task: {e} ({type(e).__name__} while building "
                              f"the task)") from e
        if reevaluate:
            return evaluate_checkpoints(sub_config, sub_dir, task)
        return train_and_evaluate(sub_config, sub_dir, task, accept_config_changes=accept_config_changes)

    if sub_runs is None:
        return one(config, workdir)
    configs = sub_runs(config)  # every sub-run's config is checked before any data or training
    results = {}
    with workdir_lib.lock(workdir):  # the whole table; each sub-run also locks its own sub-workdir
        for name, sub_config in configs.items():
            logging.info("%s %s in %s", "re-evaluating" if reevaluate else "training", name, workdir / name)
            results[name] = one(sub_config, workdir / name)
            if not reevaluate:
                results[name]["timing"]["train_seconds"] = _train_seconds(workdir / name, results[name])
        if reevaluate or combine is None:
            return results
        return combine(config, workdir, results)


def _interrupted_message(workdir: Path) -> str:
    steps = sorted(int(p.name) for p in (workdir / "checkpoints" / "latest").glob("*") if p.name.isdigit())
    if not steps:
        return f"interrupted: no checkpoint had been saved yet in {workdir}; the same command starts the run again."
    return (f"interrupted: the latest checkpoint (step {steps[-1]}) is kept in {workdir}; run the same command "
            f"again to resume exactly where that checkpoint left off.")


def _workdir_and_config(argv: list[str]):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if not FLAGS.workdir:
        raise app.UsageError("--workdir is required")
    config = FLAGS.config  # loaded and checked by _parse_flags
    if config is None:
        raise app.UsageError("--config is required (no default config file was found)")
    workdir = Path(FLAGS.workdir)
    if workdir.exists() and not workdir.is_dir():
        sys.exit(f"error: --workdir={workdir} is a file, not a directory; give a directory (it is created if "
                 f"missing)")
    if FLAGS.precision:  # one flag for every experiment (a config need not declare the field)
        with config.unlocked():
            config.precision = FLAGS.precision
    return workdir, config


def _clean_exit(workdir: Path, body: Callable[[], None]) -> None:
    """body(), with every error a user can cause ending in one paragraph (exit status 1; 130 for Ctrl-C)."""
    try:
        body()
    except _CLEAN_ERRORS as e:
        sys.exit(f"error: {e}")
    except OSError as e:  # the workdir is a file, read-only, or its disk filled up during a save
        where = f" ({e.filename})" if e.filename else ""
        sys.exit(f"error: cannot write the run's files in {workdir}{where}: {e.strerror or e}. The last good "
                 f"checkpoint, if any, is kept; free the space or choose a writable --workdir and run again.")
    except KeyboardInterrupt:
        print(_interrupted_message(workdir), file=sys.stderr)
        sys.exit(130)  # the shell's code for a Ctrl-C


def _join_hosts(workdir: Path) -> None:
    """With --distributed, join the multi-host run; processes other than 0 then log warnings and errors only."""
    _clean_exit(workdir, lambda: parallel.initialize_distributed(
        FLAGS.distributed, coordinator_address=FLAGS.coordinator_address, num_processes=FLAGS.num_processes,
        process_id=FLAGS.process_id))
    if FLAGS.distributed and jax.process_index() != 0:
        logging.set_verbosity(logging.WARNING)


def _main(argv: list[str], make_task: MakeTask, sub_runs: SubRuns | None, combine: Combine | None) -> None:
    workdir, config = _workdir_and_config(argv)
    _join_hosts(workdir)
    start = time.perf_counter()
    _clean_exit(workdir, lambda: run_experiment(
        config, workdir, make_task, sub_runs=sub_runs, combine=combine, reevaluate=FLAGS.reevaluate,
        accept_config_changes=FLAGS.accept_config_changes))
    out = "reevaluation.json" if FLAGS.reevaluate else "results.json"
    where = workdir / "<model>" / out if (FLAGS.reevaluate and sub_runs is not None) else workdir / out
    logging.info("done in %.0f s: results in %s", time.perf_counter() - start, where)


def _define_config_flag(default_config: str | Path | None) -> None:
    if default_config is None:
        main_file = getattr(sys.modules["__main__"], "__file__", None)
        default_config = default_config_path(main_file) if main_file else None
    if default_config is not None and not Path(default_config).exists():
        default_config = None
    try:  # ml_collections reads the overrides of a default config file as soon as the flag is defined
        if "config" not in FLAGS:
            config_flags.DEFINE_config_file(
                "config", None if default_config is None else str(default_config),
                "Experiment config file, optionally with ':variant' (passed to get_config).")
    except _CONFIG_ERRORS as e:
        sys.exit(_config_error(e))


RunDirect = Callable[..., dict]  # (config, workdir) -> results


def _plain(value):
    """JSON for the numbers a run returns: numpy and JAX scalars and arrays as Python numbers and lists."""
    return value.tolist() if hasattr(value, "tolist") else str(value)


def run_direct(run_fn: RunDirect, *, default_config: str | Path | None = None, argv: list[str] | None = None
               ) -> None:
    """The shell for an experiment that is not gradient training through the loop (a Hopfield net's recall,
    an RBM's Gibbs chains, a closed-form demo): the same command line, config file and one-paragraph errors
    as `run`, the workdir locked for the run; run_fn(config, workdir) -> results, written to
    workdir/results.json with the config. Such a run starts again from the beginning when rerun."""

    def main(argv):
        workdir, config = _workdir_and_config(argv)
        _join_hosts(workdir)

        def body():
            with workdir_lib.lock(workdir):
                try:
                    results = run_fn(config, workdir)
                except (TypeError, ValueError) as e:  # a layer or the data refused a value the config gave it
                    if isinstance(e, ConfigError):
                        raise
                    raise ConfigError(f"the config does not make a valid run: {e} ({type(e).__name__})") from e
                if jax.process_index() == 0:
                    results = {**results, "config": config.to_dict()}
                    (workdir / "results.json").write_text(json.dumps(results, indent=2, default=_plain) + "\n")

        start = time.perf_counter()
        _clean_exit(workdir, body)
        logging.info("done in %.0f s: results in %s", time.perf_counter() - start, workdir / "results.json")

    _define_config_flag(default_config)
    app.run(main, argv=argv, flags_parser=_parse_flags)


def run(make_task: MakeTask, *, sub_runs: SubRuns | None = None, combine: Combine | None = None,
        default_config: str | Path | None = None, argv: list[str] | None = None) -> None:
    """Parse the flags, build the task(s) from the config, train and evaluate (the experiment's `__main__`).

    make_task(config, workdir) -> Task. A run of several models (MNIST-1D's table) also gives
    sub_runs(config) -> {name: sub-config} and combine(config, workdir, {name: results}) -> results."""
    _define_config_flag(default_config)
    app.run(functools.partial(_main, make_task=make_task, sub_runs=sub_runs, combine=combine), argv=argv,
            flags_parser=_parse_flags)


def _parse_flags(argv: list[str]) -> list[str]:
    """absl's parse, with a bad config file, variant or override as a one-paragraph message (exit status 1)
    rather than a traceback: ml_collections raises plain Python errors for them, or embeds tracebacks."""
    try:
        rest = FLAGS(argv)
        _materialize(FLAGS.config)
    except _CONFIG_ERRORS as e:
        sys.exit(_config_error(e))
    return rest


def _materialize(config):
    """The config, loaded: a file that failed to load is a placeholder that raises on first use."""
    if config is not None:
        config.to_dict()
    return config


_CONFIG_ERRORS = (flags.Error, AttributeError, KeyError, TypeError, ValueError, OSError, ImportError, SyntaxError)


def _config_error(e: Exception) -> str:
    """One paragraph for an error of the flags or the config file (ml_collections embeds tracebacks in some)."""
    message = str(e).strip("'\"")
    if "Traceback (most recent call last)" in message:  # keep what the traceback ends with
        message = message.strip().splitlines()[-1]
    elif isinstance(e, (AttributeError, KeyError)):
        message = (f"the config has no field {message!r}; an override --config.<field>=<value> must name a "
                   f"field the config file defines (see its get_config)")
    return f"error: {' '.join(message.split())}"
