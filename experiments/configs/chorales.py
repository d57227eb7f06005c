"""Config of the Bach chorales experiment (experiments/chorales.py): next-frame NLL, LSTM / GRU / TCN.

    python -m experiments.chorales --config=experiments/configs/chorales.py:tcn  --workdir=workdirs/chorales_tcn
    python -m experiments.chorales --config=experiments/configs/chorales.py:lstm --workdir=workdirs/chorales_lstm
    python -m experiments.chorales --config=experiments/configs/chorales.py:gru  --workdir=workdirs/chorales_gru
    python -m experiments.summarize chorales workdirs/chorales_lstm workdirs/chorales_gru workdirs/chorales_tcn \\
        --out=results/chorales

Protocol: 88-key piano rolls, Bernoulli NLL per frame summed over keys; music21's 371 Bach chorales split
by piece (seed 0) into 223 / 74 / 74, NOT the standard JSB split (`--config.data_file=PATH` reads a
JSB_Chorales .pickle or .mat); early stopping on validation NLL, test NLL of the best checkpoint.
Variants: `tcn` (the default), `lstm`, `gru`; `:<model>,small` or `:small` is the CI config (seconds).

Expected (test NLL; published on the standard split in brackets, Bai et al. 2018): TCN 8.440 (8.10),
LSTM 8.644 (8.45), GRU 8.734 (8.43); independent keys 11.439 (about 11.1). Training on a 2-core CPU
shared with one or two other runs: TCN 87 s, LSTM 31 s, GRU 22 s.

Narrative and figures: results/chorales/README.md.
"""

import ml_collections

from experiments.configs import optimizer_config

VARIANTS = ("tcn", "lstm", "gru", "small")


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
    tokens = [t.strip() for t in (variant or "tcn").split(",") if t.strip()]
    unknown = [t for t in tokens if t not in VARIANTS]
    models = [t for t in tokens if t != "small"]
    if unknown or len(models) > 1:
        raise ValueError(f"unknown variant {variant!r}; valid variants: {list(VARIANTS)}, one model name "
                         f"optionally with ',small' (e.g. 'lstm,small')")
    model = models[0] if models else "tcn"
    small = "small" in tokens

    config = ml_collections.ConfigDict()
    config.seed = 0  # init, dropout and batch order
    config.num_steps = 6000  # Adam updates (upper bound: early stopping ends the run sooner)
    config.batch_size = 8  # pieces per step (bucketed by length, padded, masked)
    config.eval_every = 50  # steps between validation evaluations (~2 epochs)
    config.checkpoint_every = 500  # steps between checkpoints
    config.keep_checkpoints = 3  # periodic checkpoints kept (and the best)
    config.log_every = 50  # steps between progress lines
    config.early_stopping = ml_collections.ConfigDict()
    config.early_stopping.metric = "nll"  # validation NLL per frame
    config.early_stopping.mode = "min"
    config.early_stopping.patience = 15  # evaluations without improvement (~30 epochs)
    config.early_stopping.min_delta = 0.0
    config.restore_best = True  # results.json: the best-validation checkpoint

    config.data_file = ""  # "" = music21's chorales; else a JSB_Chorales .pickle/.pkl/.mat (standard split)
    config.data = ml_collections.ConfigDict()
    config.data.num_pieces = ml_collections.FieldReference(None, field_type=int)  # None = all 371 chorales
    config.data.frames_per_quarter = 1  # JSB frame rate
    config.data.split_seed = 0  # random 60/20/20 split by piece
    config.data.num_buckets = 4  # training length buckets (quantiles, multiples of 16)
    config.data.eval_batch_size = 32  # pieces per evaluation batch

    config.data.note_drop_rate = 0.2  # training only: each sounding input note deleted with this probability

    config.model = ml_collections.ConfigDict()
    config.model.name = model  # lstm | gru | tcn (or any section added here; experiments/models.py)
    # Bai et al.'s JSB TCN: 2 levels x 150, kernel 3, dropout 0.5 (~270K params); the init their code runs
    config.model.tcn = dict(channels=150, levels=2, kernel_size=3, drop_rate=0.5, conv_init="pytorch")
    # one recurrent layer of about the same size (~290K params), dropout 0.5 on its outputs
    config.model.lstm = dict(hidden_size=220, drop_rate=0.5)
    config.model.gru = dict(hidden_size=256, drop_rate=0.5)
    # Adam learning rate per model, picked by validation NLL
    learning_rate = {"tcn": 3e-3, "lstm": 2e-2, "gru": 1e-2}[model]

    config.optimizer = optimizer_config("adam", learning_rate)
    config.optimizer.clip_norm = 1.0  # global norm

    if small:  # CI smoke test: 12 pieces (7 train / 2 valid / 3 test), seconds
        config.num_steps = 30
        config.batch_size = 4
        config.eval_every = 10
        config.checkpoint_every = 30
        config.log_every = 10
        config.num_devices = 1  # batches of 4 pieces (the tests' 8 fake CPU devices would need multiples of 8)
        config.early_stopping.patience = 0
        config.data.num_pieces = 12
        config.data.num_buckets = 1
        config.data.eval_batch_size = 8
        config.model.tcn.channels = 32
        config.model.lstm.hidden_size = 32
        config.model.gru.hidden_size = 32
        config.optimizer.learning_rate = 3e-3
    return config
