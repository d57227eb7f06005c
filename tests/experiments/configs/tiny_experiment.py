"""Config of the tiny test experiment (tests/experiments/tiny_experiment.py).

    python -m tests.experiments.tiny_experiment --workdir=/tmp/tiny

Runs in a few seconds on 2 CPU cores; eval loss about 0.3.
"""

import ml_collections


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0  # init, dropout
    config.num_steps = 40  # updates
    config.batch_size = 16  # global batch (splits over 8 test devices)
    config.eval_every = 10  # steps between evaluations
    config.checkpoint_every = 10  # steps between checkpoints
    config.log_every = 5  # steps between progress lines
    config.model = ml_collections.ConfigDict()
    config.model.name = "mlp"  # one of tiny_experiment.MODELS
    config.model.hidden = 8  # hidden units
    config.model.drop_rate = 0.1  # dropout probability
    config.optimizer = ml_collections.ConfigDict({"name": "adam", "learning_rate": 0.03})
    if variant == "sgd":
        config.optimizer = ml_collections.ConfigDict({"name": "sgd", "learning_rate": 0.05, "momentum": 0.9})
    elif variant is not None:
        raise ValueError(f"unknown variant {variant!r}; valid variants: ['sgd']")
    return config
