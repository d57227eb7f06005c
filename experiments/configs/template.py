"""Config of the template experiment (experiments/template.py): which of 4 frequencies is a noisy sinusoid?

    python -m experiments.template --workdir=workdirs/template [--config.model.name=lstm|gru|tcn|transformer]

Seen (results/template/README.md, 1000 steps, the last step's test accuracy; chance 25%): GRU 99.2%,
LSTM 98.8%, TCN 100%, Transformer 96.7%; 11-83 s of training per model on a 2-vCPU AMD EPYC.
`:small` is the CI config (seconds).
"""

import ml_collections

from experiments.configs import optimizer_config


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0  # init and batch order
    config.num_steps = 1000  # Adam updates
    config.batch_size = 32  # sequences per step
    config.eval_every = 250  # steps between test evaluations
    config.checkpoint_every = 500
    config.keep_checkpoints = 3  # periodic checkpoints kept (and the best)
    config.log_every = 100
    config.restore_best = False  # report the last step (the test set chooses nothing)

    config.data = ml_collections.ConfigDict()
    config.data.seq_len = 64  # T
    config.data.num_classes = 4  # frequencies 1..K periods per sequence
    config.data.noise = 1.0  # std of the additive white noise (the signal's is 0.71)
    config.data.num_train = 2048
    config.data.num_test = 512
    config.data.seed = 0  # train set; the test set uses seed + 1

    config.model = ml_collections.ConfigDict()
    config.model.name = "gru"  # any section below (experiments/models.py)
    config.model.gru = dict(hidden_size=32, pool="last")
    config.model.lstm = dict(hidden_size=32, pool="last")
    config.model.tcn = dict(channels=16, levels=4, kernel_size=3, conv_init="pytorch", pool="mean")
    config.model.transformer = dict(d_model=32, num_heads=4, d_ff=64, num_layers=2, pool="mean")

    config.optimizer = optimizer_config("adam", 3e-3)

    if variant == "small":  # CI smoke test
        config.num_steps = 30
        config.eval_every = 15
        config.checkpoint_every = 15
        config.log_every = 10
        config.data.num_train = 128
        config.data.num_test = 64
    elif variant is not None:
        raise ValueError(f"unknown variant {variant!r}; valid variants: ['small']")
    return config
