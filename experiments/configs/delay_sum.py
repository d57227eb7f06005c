"""Config of the delay-and-sum experiment (experiments/delay_sum.py).

    python -m experiments.delay_sum --workdir=workdirs/delay_sum

Runs in about 1 minute on a 2-core CPU (4000 steps; 16 s of it training). Expected (the lecture's example,
y(t) = x(t) + x(t-3)): the 4-tap TDNN learns the filter [1, 0, 0, 1] to
1e-2 (seen: max error 4e-11), the 4-unit linear RNN reaches test MSE < 1e-4
(seen: 1.7e-6), and the
1-unit linear RNN stays near 0.94: one state cannot hold x(t-1), x(t-2) and
x(t-3) at once. `:small` is the CI config (seconds).
"""

import ml_collections

from experiments.configs import optimizer_config


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0  # init and data order
    config.num_steps = 4000  # Adam updates (all three models train side by side)
    config.batch_size = 32  # sequences per step
    config.eval_every = 500  # steps between test evaluations
    config.checkpoint_every = 1000  # steps between checkpoints
    config.log_every = 250  # steps between progress lines

    config.data = ml_collections.ConfigDict()
    config.data.seq_len = 64  # T
    config.data.delay = 3  # y(t) = x(t) + x(t - delay)
    config.data.num_train = 2048  # training sequences
    config.data.num_test = 256  # test sequences
    config.data.seed = 1234  # data generator seed (test set uses seed + 1)

    config.model = ml_collections.ConfigDict()
    config.model.name = "all"  # all | tdnn | rnn (see delay_sum.MODELS)
    config.model.taps = 4  # TDNN filter length (delays 0..taps-1)
    config.model.hidden_sizes = (4, 1)  # linear-RNN widths compared

    config.optimizer = optimizer_config("adam", 0.1)  # 1e-2 left the 4-unit RNN at MSE 0.12 after 3000 steps
    config.optimizer.schedule = "cosine"  # decays to end_factor * lr: the last digits of MSE need a small lr
    config.optimizer.warmup_steps = 100
    config.optimizer.end_factor = 1e-3

    if variant == "small":  # CI smoke test
        config.num_steps = 60
        config.optimizer.warmup_steps = 10
        config.eval_every = 30
        config.checkpoint_every = 30
        config.log_every = 20
        config.data.num_train = 128
        config.data.num_test = 32
        config.data.seq_len = 16
    elif variant is not None:
        raise ValueError(f"unknown variant {variant!r}; valid variants: ['small']")
    return config
