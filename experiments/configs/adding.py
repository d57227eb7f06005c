"""Config of the adding problem, T=600 (experiments/adding.py; Bai, Kolter & Koltun 2018, Table 1).

One model per run; the variant picks it (default tcn):

    python -m experiments.adding --config=experiments/configs/adding.py:tcn --workdir=workdirs/adding/tcn
    python -m experiments.adding --config=experiments/configs/adding.py:lstm --workdir=workdirs/adding/lstm
    python -m experiments.adding --config=experiments/configs/adding.py:gru --workdir=workdirs/adding/gru
    python -m experiments.adding --config=experiments/configs/adding.py:rnn --workdir=workdirs/adding/rnn
    python -m experiments.adding --config=experiments/configs/adding.py:transformer \
        --workdir=workdirs/adding/transformer
    .venv/bin/python -c "from experiments import adding; adding.summarize('workdirs/adding', 'results/adding')"

Protocol (/work/shared/BENCHMARKS.md): 50,000 train / 1,000 test sequences,
batch 32, 10 epochs = 15,630 Adam steps; TCN 8 levels x 24 channels,
kernel 8, no dropout, init N(0, 0.01), Adam 2e-3; LSTM 1x130, clip 5. The
paper only says the other models have about the same size (70K params):
GRU 1x150 (69K), Elman RNN 1x260 (69K), Transformer 2 pre-norm blocks,
d=64, 4 heads, MLP 128 (67K), not in the paper (our addition).

CPU budget (2 shared cores, measured at full size with 3 other jobs running):
TCN 0.36 s/step, LSTM 0.41, GRU 0.44, RNN 0.66, Transformer 2.6. The full
protocol (15.6k steps) is ~1.6 h for the TCN alone, so `num_steps` below is
a reduced budget, stated in results.json ("steps_run" vs "protocol_steps"):
the TCN gets the most; LSTM/GRU/RNN/Transformer get enough steps to show
where they sit relative to the trivial baseline (predict 1: MSE 1/6 = 0.167).

Seen (results/adding/results.json; test MSE on 1,000 sequences, where
predicting 1 scores 0.1590; wall-clock with the CPU shared by 4-8 jobs):

    model        steps run / protocol  test MSE   published  wall-clock
    tcn          1750 / 15630          0.1591     5.8e-5     ~64 min (3 segments, resumed)
    lstm           60 / 15630          0.1629     0.164      6 min
    gru            60 / 15630          0.1730     5.3e-5     6 min
    rnn            60 / 15630          0.4031     0.177      5 min
    transformer    20 / 15630          0.1590     -          14 min

The TCN goal (MSE <= 1e-4) is NOT met: in 1750 steps (11% of the protocol)
the TCN stayed on the trivial baseline (eval 0.1604, 0.1594, 0.1594, 0.1591
at steps 500-1750), i.e. it had not yet found the two marked values; the
paper's 5.8e-5 is after 10 epochs. The 60-step recurrent runs only show
where these models are after 60 steps (at or above the baseline), not
where full training ends (the paper's GRU solves the task).

How the TCN run was made: the command above with STEPS['tcn'] = 1000, then
the same command again with 1750 (it resumes from the step-1000 checkpoint;
constant learning rate, so this equals one run of that length). It was
also stopped and resumed once at a checkpoint to change num_steps.

`:small` (and `:small_<model>`) is the CI config: T=20, a few hundred
examples, tiny models, seconds.
"""

import ml_collections

MODELS = ("tcn", "lstm", "gru", "rnn", "transformer")
PROTOCOL_STEPS = 15_630  # 10 epochs of 50,000 / 32 (ceil) Adam steps
STEPS = {"tcn": 1750, "lstm": 60, "gru": 60, "rnn": 60, "transformer": 20}  # this CPU's budget


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
    small = variant is not None and variant.startswith("small")
    name = variant[len("small_"):] if small and variant != "small" else ("tcn" if small else variant or "tcn")
    if name not in MODELS:
        valid = list(MODELS) + ["small"] + [f"small_{m}" for m in MODELS]
        raise ValueError(f"unknown variant {variant!r}; valid variants: {valid}")

    config = ml_collections.ConfigDict()
    config.seed = 0  # init and data order
    config.num_steps = STEPS[name]  # reduced budget (see the docstring); the protocol is PROTOCOL_STEPS
    config.protocol_steps = PROTOCOL_STEPS  # reported beside the steps actually run
    config.batch_size = 32
    config.eval_every = 500  # steps between test evaluations (1,000 sequences)
    config.checkpoint_every = 250  # also the granularity of stopping early and resuming
    config.log_every = 100
    if name != "tcn":  # short baseline runs: one test evaluation, at the end
        config.eval_every = 0
    config.restore_best = False  # report the last params (the best eval is on the test set)

    config.data = ml_collections.ConfigDict()
    config.data.seq_len = 600  # T
    config.data.num_train = 50_000
    config.data.num_test = 1_000
    config.data.seed = 2018  # train set; the test set uses seed + 1

    config.model = ml_collections.ConfigDict()
    config.model.name = name  # tcn | lstm | gru | rnn | transformer
    config.model.tcn = dict(levels=8, channels=24, kernel_size=8, drop_rate=0.0, conv_init="pytorch")  # 70K params
    config.model.lstm = dict(hidden_size=130)  # 69K
    config.model.gru = dict(hidden_size=150)  # 69K
    config.model.rnn = dict(hidden_size=260)  # 69K (Elman, tanh)
    config.model.transformer = dict(d_model=64, num_heads=4, d_ff=128, num_layers=2, drop_rate=0.0)  # 67K

    config.optimizer = ml_collections.ConfigDict()
    config.optimizer.name = "adam"
    config.optimizer.learning_rate = 2e-3  # the paper's TCN default
    if name in ("lstm", "gru", "rnn"):
        config.optimizer.clip_norm = 5.0  # the paper's LSTM setting
    elif name == "transformer":
        config.optimizer.learning_rate = 1e-3
        config.optimizer.clip_norm = 1.0

    if small:  # CI smoke test
        config.num_steps = 40
        config.eval_every = 20
        config.checkpoint_every = 20
        config.log_every = 10
        config.data.seq_len = 20
        config.data.num_train = 256
        config.data.num_test = 64
        config.model.tcn = dict(levels=3, channels=8, kernel_size=3, drop_rate=0.0, conv_init="pytorch")
        config.model.lstm = dict(hidden_size=16)
        config.model.gru = dict(hidden_size=16)
        config.model.rnn = dict(hidden_size=16)
        config.model.transformer = dict(d_model=16, num_heads=2, d_ff=32, num_layers=1, drop_rate=0.0)
    return config
