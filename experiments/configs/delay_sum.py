"""Config of the delay-and-sum experiment (experiments/delay_sum.py): the lecture's y(t) = x(t) + x(t-3).

    python -m experiments.delay_sum --workdir=workdirs/delay_sum
    python -m experiments.delay_sum --config=experiments/configs/delay_sum.py:cells --workdir=workdirs/delay_sum_cells

Protocol: x ~ N(0, 1), T = 64; a 4-tap TDNN, a 4-unit and a 1-unit linear RNN trained side by side,
Adam 0.1 with cosine decay, 4000 steps. `:small` is the CI config (seconds).

Expected (the lecture's goals): the TDNN learns the filter [1, 0, 0, 1] to 1e-2 (seen: max error
3.6e-11), the 4-unit RNN reaches test MSE < 1e-4 (seen: 1.7e-6), the 1-unit RNN cannot (0.94).
Training on a 2-core CPU: 16 s, plus start-up and compilation.

`:cells` adds an MGU, a Jordan network and a peephole LSTM (4 units each) from the registry:
seen 8.6e-4 / 1.1e-3 / 1.4e-3 (23 s of training). `:small_cells` is its CI config.

Narrative and figures: results/delay_sum/README.md.
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
    config.keep_checkpoints = 3  # periodic checkpoints kept (and the best)
    config.log_every = 250  # steps between progress lines

    config.data = ml_collections.ConfigDict()
    config.data.seq_len = 64  # T
    config.data.delay = 3  # y(t) = x(t) + x(t - delay)
    config.data.num_train = 2048  # training sequences
    config.data.num_test = 256  # test sequences
    config.data.seed = 1234  # data generator seed (test set uses seed + 1)

    config.model = ml_collections.ConfigDict()
    config.model.names = "tdnn,rnn4,rnn1"  # trained side by side (sections below; experiments/models.py)
    config.model.tdnn = dict(kind="fir", taps=4)  # TDNN filter: delays 0..taps-1
    config.model.rnn4 = dict(kind="elman", hidden_size=4, activation="identity")  # linear RNNs
    config.model.rnn1 = dict(kind="elman", hidden_size=1, activation="identity")

    config.optimizer = optimizer_config("adam", 0.1)  # peak learning rate, after the warm-up
    config.optimizer.schedule = "cosine"  # decays to end_factor * lr: the last digits of MSE need a small lr
    config.optimizer.warmup_steps = 100
    config.optimizer.end_factor = 1e-3

    if variant in ("cells", "small_cells"):  # every cell family of the registry on the same task, 4 units each
        config.model.names = "tdnn,rnn4,rnn1,mgu4,jordan4,lstm4"
        config.model.mgu4 = dict(kind="mgu", hidden_size=4)
        config.model.jordan4 = dict(kind="jordan", hidden_size=4)  # its 1-d output y(t) is fed back
        config.model.lstm4 = dict(kind="lstm", hidden_size=4, peepholes=True)
    if variant in ("small", "small_cells"):  # CI smoke test
        config.num_steps = 60
        config.optimizer.warmup_steps = 10
        config.eval_every = 30
        config.checkpoint_every = 30
        config.log_every = 20
        config.data.num_train = 128
        config.data.num_test = 32
        config.data.seq_len = 16
    elif variant not in (None, "cells"):
        raise ValueError(f"unknown variant {variant!r}; valid variants: ['small', 'cells', 'small_cells']")
    return config
