"""Training: train state and steps, optimisers, losses, checkpoints, data parallelism, the loop.

    from seqmodels.training import Task, train_and_evaluate     # the shared loop (loop.py)
    from seqmodels.training import losses, optimizers           # building blocks

Modules: train_state (TrainState, make_train_step, make_eval_step), optimizers
(make_optimizer), losses (masked losses and metrics), checkpoint (the only
Orbax user), parallel (Mesh / NamedSharding data parallelism), early_stopping,
writers (JSONL, TensorBoard, progress, plots), validate (config checks), loop.
"""

from seqmodels.training import (checkpoint, early_stopping, losses, optimizers, parallel, train_state, validate,
                                workdir, writers)
from seqmodels.training.checkpoint import CheckpointError
from seqmodels.training.loop import NonFiniteLossError, Task, evaluate, evaluate_checkpoints, train_and_evaluate
from seqmodels.training.optimizers import make_optimizer
from seqmodels.training.train_state import TrainState, create_train_state, make_eval_step, make_train_step
from seqmodels.training.validate import ConfigError
from seqmodels.training.workdir import WorkdirError

__all__ = [
    "checkpoint", "early_stopping", "losses", "optimizers", "parallel", "train_state", "validate", "workdir",
    "writers", "CheckpointError", "ConfigError", "NonFiniteLossError", "Task", "WorkdirError", "TrainState",
    "create_train_state",
    "evaluate", "evaluate_checkpoints", "make_eval_step", "make_optimizer", "make_train_step", "train_and_evaluate",
]
