"""Config of the Santa Fe laser experiment (experiments/santa_fe.py); variants: tdnn (default), lstm, gru, tcn, small.

    python -m experiments.santa_fe --config=experiments/configs/santa_fe.py:tdnn --workdir=workdirs/santa_fe_tdnn
    python -m experiments.santa_fe --config=experiments/configs/santa_fe.py:tdnn --config.data.input_noise=0.05 \
        --workdir=workdirs/santa_fe_tdnn_noise0.05
    python -m experiments.santa_fe --config=experiments/configs/santa_fe.py:lstm --workdir=workdirs/santa_fe_lstm
    python -m experiments.santa_fe --config=experiments/configs/santa_fe.py:gru  --workdir=workdirs/santa_fe_gru
    python -m experiments.santa_fe --config=experiments/configs/santa_fe.py:tcn  --workdir=workdirs/santa_fe_tcn
    python -m experiments.santa_fe --config=experiments/configs/santa_fe.py:tdnn --config.data.rollout_steps=50 \
        --config.data.input_noise=0.05 --workdir=workdirs/santa_fe_tdnn_noise0.05_rollout50   # also K=20, noise 0
    python -m experiments.santa_fe summarize workdirs/santa_fe_{tdnn,tdnn_noise0.05,lstm,gru,tcn} \
        workdirs/santa_fe_tdnn{,_noise0.05}_rollout{20,50} --out=results/santa_fe

Seen (8 seeds per run; fit on x[:900], (step, seed) picked by the iterated
forecast of x[900:1000]; test x[1000:1100] used only for these numbers).
NMSE with the variance of the 100 true values / of the training set; Wan's
FIR network 0.0273 (true-value variance). Training times are on the shared
2-core CPU under heavy load from other jobs (the tdnn_noise run had the CPU
nearly to itself: the same work took 4 min instead of 18.5):

    run              test NMSE        all 8 seeds (true var)     mean of the     train time
                     true / train     min / median / max          8 forecasts
    tdnn  (Wan)      0.327 / 0.458    0.174 / 0.551 / 2.02        0.234           18.5 min (3000 steps)
    tdnn, noise .05  0.048 / 0.067    0.034 / 0.082 / 0.315       0.042            4.0 min (3000 steps)
    lstm (32)        2.42  / 3.40     1.05  / 1.76  / 5.30        0.855            8.1 min (1500 steps)
    gru  (32)        0.766 / 1.07     0.766 / 1.25  / 7.06        0.532            6.6 min (1500 steps)
    tcn  (4x16, k2)  0.660 / 0.926    0.530 / 1.02  / 4.9e25      7.7e23 (seed 5   4.0 min (1500 steps)
                                                                  diverges)
    mean of A        1.007 / 1.412;   persistence 1.337 / 1.875

Wan's 0.0273 is not beaten. Every model follows the first ~55 test points
(the growing oscillation); the NMSE is decided by the collapse at t = 1057,
which the validation segment x[900:1000] does not contain: the validation
NMSE of the selected seeds is 0.001-0.05, so it cannot tell collapse-robust
models from the others (the LSTM picked with validation NMSE 0.001 leaves the
attractor at t ~ 1035). Gaussian input noise (std 0.05 of the standardised
series) during training was the one change tried on top of Wan's setup
(one run, one noise level, decided after the plain runs' test forecasts had
been seen to blow up after the collapse: read its row with that in mind);
it made the TDNN's closed loop far more stable (median seed 0.55 -> 0.08).
No other setting was tried. "All 8 seeds" are at the selected step.
The TCN row uses tcn_conv_init="pytorch" (the init Bai et al.'s code really
runs, see seqmodels/conv/tcn.py; chosen for that reason, before this run);
with the earlier N(0, 0.01) init (`--config.model.tcn_conv_init=normal`) the
same run gave 1.42 / 1.99 (seeds 0.805 / 1.41 / 1.66; 16.2 min, loaded CPU).

Closed-loop (rollout) training, 2026-12-04: `data.rollout_steps=K` adds the
MSE of K predictions fed back (after warming up on the first window - K
points of each training window) to the one-step loss. Planned before any
run, committed with the code: Wan's TDNN, K in {20, 50} x input noise in
{0, 0.05}, weight 1, all else as :tdnn; pick (run, step, seed) by validation
NMSE; report every run. Each ~5 min (two at a time, beside two other jobs):

    run                     test NMSE (true / train var)  seeds min / median / max  mean of 8   val NMSE
    rollout K=20            0.333 / 0.467                 0.047 / 0.142 / 0.383     0.061       0.00245
    rollout K=50            0.122 / 0.171                 0.098 / 0.122 / 0.216     0.109       0.00248
    noise .05 + K=20        0.100 / 0.140  (selected)     0.050 / 0.105 / 0.417     0.074       0.00150
    noise .05 + K=50        0.120 / 0.169                 0.082 / 0.118 / 0.142     0.098       0.00309

Not better than noise alone (0.048): the seeds agree more, but the forecasts
collapse one oscillation early, before the peak at t = 1057 (plots in
results/santa_fe/<run>/). Wan's 0.0273 stays unbeaten.

`:small` is the CI config (seconds): 2 seeds, 30 steps; `small_<model>` the
same for another model.
"""

import ml_collections

from experiments.configs import optimizer_config

MODELS = ("tdnn", "lstm", "gru", "tcn")


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0  # init of every seed copy, data order, input noise
    config.num_steps = 3000  # Adam updates
    config.batch_size = 32  # windows per step
    config.eval_every = 100  # steps between validation forecasts (the selection points)
    config.checkpoint_every = 1000
    config.log_every = 250

    config.data = ml_collections.ConfigDict()
    config.data.val_points = 100  # held out at the end of x[:1000]: fit on x[:900], validate on x[900:1000]
    config.data.window = 128  # training window; also the warm-up length before every forecast
    config.data.burn_in = 32  # first outputs of a window not in the loss (>= receptive field - 1 for convs)
    config.data.scaling = "standardize"  # standardize | max, statistics of the fit part only
    config.data.input_noise = 0.0  # std of Gaussian noise on training inputs (scaled units)
    config.data.rollout_steps = 0  # K > 0: also train on closed-loop forecasts of the last K points of each window
    config.data.rollout_weight = 1.0  # weight of that closed-loop MSE beside the one-step MSE

    config.model = ml_collections.ConfigDict()
    config.model.name = "tdnn"  # tdnn | lstm | gru | tcn
    config.model.num_seeds = 8  # independent copies trained side by side; selection by validation
    config.model.tdnn_sizes = (1, 12, 12, 1)  # Wan's FIR network
    config.model.tdnn_taps = (25, 5, 5)
    config.model.hidden_size = 32  # lstm / gru
    config.model.tcn_channels = (16, 16, 16, 16)  # 4 levels, dilations 1, 2, 4, 8
    config.model.tcn_kernel_size = 2  # receptive field 1 + 2 * 1 * 15 = 31
    config.model.tcn_conv_init = "pytorch"  # the init Bai et al.'s code really runs (seqmodels/conv/tcn.py)

    config.optimizer = optimizer_config("adam", 3e-3)
    config.optimizer.schedule = "cosine"
    config.optimizer.warmup_steps = 100
    config.optimizer.end_factor = 0.01

    config.early_stopping = ml_collections.ConfigDict()
    config.early_stopping.metric = "val_nmse_best"  # the best seed's validation NMSE: picks (step, seed)
    config.early_stopping.mode = "min"
    config.early_stopping.patience = 0  # never stop early; the best checkpoint is kept
    config.restore_best = True

    parts = [] if variant is None else variant.split("_")
    if parts and parts[0] == "small":
        small, parts = True, parts[1:]
    else:
        small = False
    if len(parts) > 1 or (parts and parts[0] not in MODELS):
        raise ValueError(f"unknown variant {variant!r}; valid variants: {list(MODELS)}, 'small', "
                         f"{[f'small_{m}' for m in MODELS]}")
    if parts:
        config.model.name = parts[0]
    if config.model.name != "tdnn":
        # time budget on the shared 2-core CPU: an LSTM step with 8 seeds costs ~2.5x a TDNN step,
        # so the recurrent and TCN runs take half as many updates as the TDNN
        config.num_steps = 1500
    if small:  # CI smoke test
        config.num_steps = 30
        config.eval_every = 15
        config.checkpoint_every = 15
        config.log_every = 10
        config.batch_size = 8
        config.model.num_seeds = 2
        config.model.hidden_size = 8
        config.model.tcn_channels = (4, 4)
        config.data.window = 48
        config.optimizer.warmup_steps = 5
    return config
