"""The command-line shell every experiment shares.

    python -m experiments.<name> --workdir=DIR \
        [--config=experiments/configs/<name>.py[:variant]] [--config.<field>=<value> ...] [--distributed]

An experiment is two short files. `experiments/configs/<name>.py` holds
`get_config(variant=None) -> ml_collections.ConfigDict` with the fields of
`seqmodels.training.loop` (seed, num_steps, batch_size, eval_every,
checkpoint_every, model, optimizer, ...); `experiments/<name>.py` builds the
task and hands it to `run`:

    \"\"\"Delay-and-sum: ... (what it shows, the command, the expected result).\"\"\"

    from experiments import launcher
    from seqmodels.training import Task, losses, validate

    MODELS = {"tdnn": ..., "lstm": ...}

    def make_task(config) -> Task:
        model = validate.lookup("model.name", config.model.name, MODELS)
        validate.positive("model.hidden_size", config.model.hidden_size, integer=True)
        def loss_fn(params, batch, key, train):
            ...
            return losses.mean_squared_error(y, batch["y"]), {}
        return Task(init_params=..., loss_fn=loss_fn, train_iterator=..., eval_batches=...,
                    reference={"mse": 0.02})

    if __name__ == "__main__":
        launcher.run(make_task)

Without `--config`, `run` uses experiments/configs/<name>.py beside the
experiment module. `--config.optimizer.learning_rate=1e-3` overrides one field
(ml_collections' `config_flags`, no second flag system). `--distributed` calls
`jax.distributed.initialize()` first, for multi-host runs.

Started again with the same command and workdir, a run resumes from its latest
checkpoint. With `--reevaluate` nothing trains: the checkpoints the run kept
are evaluated with the evaluation code as it is now (DIR/reevaluation.json),
e.g. after a fix to how a test metric is averaged; the config must be the
run's (its overrides passed again). Config errors, checkpoint errors and a
NaN loss end the program with a one-paragraph message (exit status 1), not a
traceback.
"""

import functools
import sys
from pathlib import Path
from typing import Callable

from absl import app, flags, logging
from ml_collections import config_flags

from seqmodels.training import (CheckpointError, ConfigError, NonFiniteLossError, Task, evaluate_checkpoints,
                                parallel, train_and_evaluate, validate)

__all__ = ["run", "default_config_path"]

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Directory for checkpoints, metrics, results.json and plots; "
                    "the run resumes from it if it holds checkpoints.")
flags.DEFINE_bool("reevaluate", False, "Do not train: evaluate the checkpoints kept in --workdir (the latest "
                  "ones and the best) with the evaluation code as it is now; writes DIR/reevaluation.json.")
flags.DEFINE_bool("distributed", False, "Call jax.distributed.initialize() first (multi-host data parallelism).")

_CLEAN_ERRORS = (CheckpointError, ConfigError, NonFiniteLossError)


def default_config_path(experiment_file: str | Path) -> Path:
    """experiments/<name>.py -> experiments/configs/<name>.py."""
    experiment_file = Path(experiment_file)
    return experiment_file.parent / "configs" / experiment_file.name


def _main(argv: list[str], make_task: Callable[..., Task]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if not FLAGS.workdir:
        raise app.UsageError("--workdir is required")
    if FLAGS.config is None:
        raise app.UsageError("--config is required (no default config file was found)")
    parallel.initialize_distributed(FLAGS.distributed)
    config = FLAGS.config
    try:
        validate.train_config(config)
        task = make_task(config)
        if FLAGS.reevaluate:
            evaluate_checkpoints(config, FLAGS.workdir, task)
        else:
            train_and_evaluate(config, FLAGS.workdir, task)
    except _CLEAN_ERRORS as e:
        logging.error("%s: %s", type(e).__name__, e)
        sys.exit(f"error: {e}")
    out = "reevaluation.json" if FLAGS.reevaluate else "results.json"
    logging.info("done: results in %s", Path(FLAGS.workdir) / out)


def run(make_task: Callable[..., Task], *, default_config: str | Path | None = None,
        argv: list[str] | None = None) -> None:
    """Parse the flags, build the task from the config, train and evaluate (the experiment's `__main__`)."""
    if default_config is None:
        main_file = getattr(sys.modules["__main__"], "__file__", None)
        default_config = default_config_path(main_file) if main_file else None
    if default_config is not None and not Path(default_config).exists():
        default_config = None
    if "config" not in FLAGS:
        config_flags.DEFINE_config_file(
            "config", None if default_config is None else str(default_config),
            "Experiment config file, optionally with ':variant' (passed to get_config).")
    app.run(functools.partial(_main, make_task=make_task), argv=argv)
