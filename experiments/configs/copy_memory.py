"""Config of the copy-memory task, T=1000 (experiments/copy_memory.py; Bai, Kolter & Koltun 2018, Table 1).

    python -m experiments.copy_memory --config=experiments/configs/copy_memory.py:tcn \\
        --workdir=workdirs/copy_memory/tcn
    python -m experiments.copy_memory --config=experiments/configs/copy_memory.py:lstm --config.num_steps=15650 \\
        --config.eval_every=500 --workdir=workdirs/copy_memory/lstm     # also :gru, :rnn, :transformer
    python -m experiments.summarize copy_memory workdirs/copy_memory/tcn ... --out=results/copy_memory

Protocol: sequences of T+20 = 1020 steps, 10,000 train / 1,000 test, batch 32, RMSprop 5e-4, clip 1.0,
50 epochs (the paper code's default) = 15,650 steps, test cross-entropy over all 1020 steps at the last
step; the memoryless baseline scores 10 ln 8 / 1020 = 0.0204. TCN 8 x 10, kernel 8, dropout 0.05; the
other models about the same size (16K). One model per run (default tcn); the recurrent and Transformer
variants default to a 60- or 20-step smoke run, hence the flags above. `:<model>_valid` adds a validation
set that picks the checkpoint; `:small` and `:small_<model>` are the CI configs (seconds).

Expected (test CE at the last step, published in brackets): TCN 8.71e-5 (3.5e-5; the goal 1e-4 is met),
LSTM / GRU / Elman RNN on the memoryless baseline, 0.02040 / 0.02040 / 0.02041 (0.0204 / 0.0197 /
0.0202), Transformer 2.26e-6 (ours, not in the paper). Training on a 2-core CPU shared with other runs
(`train_seconds_this_run` in results/copy_memory/<model>/results.json): TCN 9,390 steps in 38 min, LSTM
13,650 steps in 42 min.

Narrative and figures: results/copy_memory/README.md.
"""

import ml_collections

from experiments.configs import model_variant, optimizer_config, select_on_validation

MODELS = ("tcn", "lstm", "gru", "rnn", "transformer")
PROTOCOL_STEPS = 15_650  # 50 epochs (the paper code's default) of 10,000 / 32 (ceil) = 313 steps
STEPS = {"tcn": PROTOCOL_STEPS, "lstm": 60, "gru": 60, "rnn": 60, "transformer": 20}  # this CPU's budget


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
    name, small, select = model_variant(variant, MODELS, default="tcn")

    config = ml_collections.ConfigDict()
    config.seed = 0  # init, dropout and data order
    config.num_steps = STEPS[name]  # reduced budget (see the docstring)
    config.protocol_steps = PROTOCOL_STEPS  # reported beside the steps actually run
    config.batch_size = 32
    config.eval_every = 250  # steps between test evaluations (1,000 sequences)
    config.checkpoint_every = 250
    config.keep_checkpoints = 3  # periodic checkpoints kept (and the best)
    config.log_every = 50
    if name != "tcn":  # short baseline runs: one test evaluation, at the end
        config.eval_every = 0
    config.restore_best = False  # report the last params (the best eval is on the test set)

    config.data = ml_collections.ConfigDict()
    config.data.seq_len = 1000  # T: the blank length; sequences are T + 20 long
    config.data.num_train = 10_000
    config.data.num_test = 1_000
    config.data.num_valid = 0  # the protocol has no validation set (see the `_valid` variants)
    config.data.seed = 2018  # train set; the test set uses seed + 1, the validation set (if any) seed + 2

    config.model = ml_collections.ConfigDict()
    config.model.name = name  # tcn | lstm | gru | rnn | transformer
    config.model.tcn = dict(levels=8, channels=10, kernel_size=8, drop_rate=0.05, conv_init="pytorch",
                            readout_init="normal")  # 12.5K params
    # recurrent init: "default" (seqmodels' cells) | "torch" (the paper's PyTorch modules)
    config.model.lstm = dict(hidden_size=60, init="default")  # 15.5K
    config.model.gru = dict(hidden_size=70, init="default")  # 15.9K
    config.model.rnn = dict(hidden_size=120, init="default")  # 15.9K (Elman, tanh)
    config.model.transformer = dict(d_model=32, num_heads=4, d_ff=64, num_layers=2, drop_rate=0.0)  # 17.5K

    config.optimizer = optimizer_config("rmsprop", 5e-4, rms_decay=0.99)  # rms_decay: PyTorch RMSprop's alpha
    config.optimizer.clip_norm = 1.0

    if small:  # CI smoke test
        config.num_steps = 40
        config.eval_every = 20
        config.checkpoint_every = 20
        config.log_every = 10
        config.data.seq_len = 20
        config.data.num_train = 256
        config.data.num_test = 64
        config.optimizer.learning_rate = 5e-3
        config.model.tcn = dict(levels=3, channels=8, kernel_size=3, drop_rate=0.05, conv_init="pytorch",
                                readout_init="normal")
        config.model.lstm = dict(hidden_size=16, init="default")
        config.model.gru = dict(hidden_size=16, init="default")
        config.model.rnn = dict(hidden_size=16, init="default")
        config.model.transformer = dict(d_model=16, num_heads=2, d_ff=32, num_layers=1, drop_rate=0.0)
    if select:
        select_on_validation(config, num_valid=config.data.num_test, metric="cross_entropy",
                             eval_every=config.eval_every or 250)
    return config
