"""A tiny experiment built on experiments/launcher.py, for the shell's tests.

    python -m tests.experiments.tiny_experiment --workdir=DIR [--config.field=value]

With the environment variable TINY_KILL_AT_STEP=N the process SIGKILLs itself
when it asks for the batch of step N (after N - 1 updates), to test resuming;
with TINY_KILL_SIGNAL=INT it sends itself SIGINT instead (a Ctrl-C at that moment).
"""

import os
import signal

from experiments import launcher
from seqmodels.training import validate
from tests.training import tiny_task

MODELS = {"mlp": tiny_task.make_task}


class KillingIterator:
    """Passes batches through; kills this process when asked for the batch of step `kill_at`."""

    def __init__(self, inner, kill_at: int, signum: int = signal.SIGKILL):
        self.inner, self.kill_at, self.signum = inner, kill_at, signum  # inner: tiny_task.StepIterator

    def __iter__(self):
        return self

    def __next__(self):
        if self.inner.count + 1 == self.kill_at:
            os.kill(os.getpid(), self.signum)
        return next(self.inner)

    def get_state(self):
        return self.inner.get_state()

    def set_state(self, state):
        self.inner.set_state(state)


def make_task(config, workdir=None):
    make = validate.lookup("model.name", config.model.name, MODELS)
    validate.positive("model.hidden", config.model.hidden, integer=True)
    validate.in_range("model.drop_rate", config.model.drop_rate, 0.0, 1.0, high_open=True)
    task = make(config)
    kill_at = os.environ.get("TINY_KILL_AT_STEP")
    if kill_at:
        signum = signal.Signals["SIG" + os.environ.get("TINY_KILL_SIGNAL", "KILL")]
        task.train_iterator = KillingIterator(task.train_iterator, int(kill_at), signum)
    return task


if __name__ == "__main__":
    launcher.run(make_task)
