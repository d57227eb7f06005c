"""Config of the adding problem, T=600 (experiments/adding.py; Bai, Kolter & Koltun 2018, Table 1).

    python -m experiments.adding --config=experiments/configs/adding.py:tcn --workdir=workdirs/adding/tcn
    python -m experiments.adding --config=experiments/configs/adding.py:lstm --config.num_steps=15630 \\
        --config.eval_every=1000 --workdir=workdirs/adding/lstm     # also :gru, :rnn, :transformer
    python -m experiments.summarize adding workdirs/adding/tcn workdirs/adding/lstm ... --out=results/adding

Protocol: 50,000 train / 1,000 test sequences, batch 32, Adam 2e-3, 10 epochs = 15,630 steps, test MSE of
the last step (predicting 1 scores 0.167); TCN 8 x 24, kernel 8, with the init the paper's code runs; the
other models about the same size (70K). One model per run (default tcn); the recurrent and Transformer
variants default to a 60- or 20-step smoke run, hence the flags above. `:<model>_valid` adds a validation
set that picks the checkpoint; `:small` and `:small_<model>` are the CI configs (seconds).

Expected (test MSE at the last step, published in brackets): TCN 2.83e-4 (5.8e-5; the goal 1e-4 is met
at 2.5e-5 by `:tcn_valid`), LSTM 9.47e-5 (0.164), GRU 1.92e-4 (5.3e-5), Elman RNN 0.1636 (0.177),
Transformer 6.48e-5 (ours, not in the paper). Training on a 2-core CPU: TCN 53 min, LSTM 58 min.

Narrative and figures: results/adding/README.md.
"""

import ml_collections

from experiments.configs import model_variant, optimizer_config, select_on_validation

MODELS = ("tcn", "lstm", "gru", "rnn", "transformer")
PROTOCOL_STEPS = 15_630  # 10 epochs of 50,000 / 32 (ceil) Adam steps
STEPS = {"tcn": PROTOCOL_STEPS, "lstm": 60, "gru": 60, "rnn": 60, "transformer": 20}  # this CPU's budget


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
    name, small, select = model_variant(variant, MODELS, default="tcn")

    config = ml_collections.ConfigDict()
    config.seed = 0  # init and data order
    config.num_steps = STEPS[name]  # reduced budget (see the docstring); the protocol is PROTOCOL_STEPS
    config.protocol_steps = PROTOCOL_STEPS  # reported beside the steps actually run
    config.batch_size = 32
    config.eval_every = 500  # steps between test evaluations (1,000 sequences)
    config.checkpoint_every = 250  # also the granularity of stopping early and resuming
    config.keep_checkpoints = 3  # periodic checkpoints kept (and the best)
    config.log_every = 100
    if name != "tcn":  # short baseline runs: one test evaluation, at the end
        config.eval_every = 0
    config.restore_best = False  # report the last params (the best eval is on the test set)

    config.data = ml_collections.ConfigDict()
    config.data.seq_len = 600  # T
    config.data.num_train = 50_000
    config.data.num_test = 1_000
    config.data.num_valid = 0  # the protocol has no validation set (see the `_valid` variants)
    config.data.seed = 2018  # train set; the test set uses seed + 1, the validation set (if any) seed + 2

    config.model = ml_collections.ConfigDict()
    config.model.name = name  # tcn | lstm | gru | rnn | transformer
    config.model.tcn = dict(levels=8, channels=24, kernel_size=8, drop_rate=0.0, conv_init="pytorch",
                            readout_init="normal")  # 70K params
    # recurrent init: "default" (seqmodels' cells) | "torch" (the paper's PyTorch modules)
    config.model.lstm = dict(hidden_size=130, init="default")  # 69K
    config.model.gru = dict(hidden_size=150, init="default")  # 69K
    config.model.rnn = dict(hidden_size=260, init="default")  # 69K (Elman, tanh)
    # the lecture's ungated "LSTM idea", h = h' + tanh(W x + R h' + b) (Elman's params): run it with
    # --config.model.name=additive (results/adding/README.md, T=100)
    config.model.additive = dict(hidden_size=260, init="default")  # 69K
    config.model.transformer = dict(d_model=64, num_heads=4, d_ff=128, num_layers=2, drop_rate=0.0)  # 67K

    config.optimizer = optimizer_config("adam", 2e-3)  # the paper's TCN default; no clipping for the TCN
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
        config.model.tcn = dict(levels=3, channels=8, kernel_size=3, drop_rate=0.0, conv_init="pytorch",
                                readout_init="normal")
        config.model.lstm = dict(hidden_size=16, init="default")
        config.model.gru = dict(hidden_size=16, init="default")
        config.model.rnn = dict(hidden_size=16, init="default")
        config.model.additive = dict(hidden_size=16, init="default")
        config.model.transformer = dict(d_model=16, num_heads=2, d_ff=32, num_layers=1, drop_rate=0.0)
    if select:
        select_on_validation(config, num_valid=config.data.num_test, metric="mse",
                             eval_every=config.eval_every or 500)
    return config
