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
kernel 8, no dropout, Adam 2e-3; LSTM 1x130, clip 5. The paper only says
the other models have about the same size (70K params): GRU 1x150 (69K),
Elman RNN 1x260 (69K), Transformer 2 pre-norm blocks, d=64, 4 heads, MLP
128 (67K), not in the paper (our addition).

TCN init: conv_init="pytorch", the init the paper's code really runs. Its
`conv.weight.data.normal_(0, 0.01)` is overwritten by weight_norm's
pre-hook (locuslab/TCN issue #1), so its convolutions start from PyTorch's
U(+-1/sqrt(fan_in)); the read-out and the 1x1 downsample do get N(0, 0.01).
With N(0, 0.01) everywhere our TCN had not left the trivial baseline after
1750 steps (test MSE 0.1591).

Seen (results/adding/results.json; test MSE on 1,000 sequences, where
predicting 1 scores 0.1627). The final figures are re-scored
(`--reevaluate`, <model>/reevaluation.json): the runs had averaged the test
batches equally, so the 24 filler copies completing the last batch (1000 =
31 x 32 + 8) counted (predicting 1 then scored 0.1590); the mean is now over
the 1,000 sequences. Curve figures below (metrics.jsonl of the first runs)
are as first computed, within a few % of the true means:

    model        steps run / protocol  test MSE   published  wall-clock
    tcn          15630 / 15630         2.83e-4    5.8e-5     53 min (2-core CPU, shared with one other run)
    lstm         15630 / 15630         9.47e-5    0.164      58 min (next to 2-4 other jobs; 2000-step probe: 0.1634)
    lstm, init=torch  6000 / 15630     0.1646     0.164      17.6 min (probe: PyTorch's parameterisation stays on
                                                             the baseline at every evaluation; results/adding/lstm_torch_probe)
    lstm, init=torch 15630 / 15630     0.1628     0.164      117 min (AMD VM, beside two other runs; on the baseline
                                                             at all 16 evaluations; results/adding/lstm_torch)
    gru          15630 / 15630         1.92e-4    5.3e-5     39 min (best eval 5.3e-5, step 14000)
    gru, init=torch 15630 / 15630      4.77e-5    5.3e-5     85 min (2-vCPU AMD EPYC, partly beside the CI run;
                                                             best eval 4.2e-5, step 13000; results/adding/gru_torch)
    rnn          15630 / 15630         0.1636     0.177      57 min (next to 2-4 other jobs; probe: 0.1673)
    rnn, init=torch 15630 / 15630      0.1635     0.177      70 min (2-vCPU AMD EPYC, partly beside the CI run;
                                                             on the baseline throughout; results/adding/rnn_torch)
    transformer   2000 / 15630         0.0129     -          18 min
    transformer   15630 / 15630        6.48e-5    -          141 min (2-vCPU AMD EPYC, last=1, partly beside
                                                             the CI run; best eval 6.0e-5, step 14000;
                                                             results/adding/transformer_full)

The TCN goal (MSE <= 1e-4) is NOT met at the protocol's last step: the TCN
sat on the trivial baseline until step ~5500, then fell to 3.6e-3 (step
6000), 3.5e-4 (10000) and 1.5e-4 (steps 14000 and 15500, its best), 2.83e-4
at the last step; the paper's 5.8e-5 is 5x lower. Other seeds do not leave the baseline
sooner: seeds 1, 2 and 3 (`--config.seed=S --config.num_steps=2000
--config.eval_every=500`, init and data order) were all still on it at step
2000 (test MSE 0.159-0.176 at steps 500-2000), and so were seeds 4-7 at step
1000 (1000-step probes; re-scored: 0.162-0.177 at their last steps;
results/adding/tcn_seed_probes/). The paper's own
code does the same: locuslab/TCN issue #30 reports its adding TCN stuck at
0.167 with the default seed and converging with others. Seed 1, resumed to
the full protocol (the same command with num_steps=15630; 24 min alone for
the 13630 resumed steps), left the baseline at step ~5500 too, then reached
9.8e-5 at step 8000 and 2.5e-5 / 3.2e-5 at steps 15000 / 15500 (12 of its 17
evaluations from step 8000 on are under 1e-4), but 9.1e-4 at the last step
(it also spiked to 5.5e-4 at step 13000): with a constant learning rate the
test MSE jumps 10x between evaluations, and the protocol's last-step figure
is partly luck (results/adding/tcn_seed1_full/).

`:tcn_valid` (any `:<model>_valid`): the same training (same data, same
trajectory) plus a validation set of 1,000 sequences from their own seed,
evaluated with the test set every 500 steps; the reported parameters are
the best-validation checkpoint's (restore_best), so the test set chooses
nothing. Seeds 0 and 1 (the two seeds run to the full protocol),
`--config=...:tcn_valid --config.seed=S --workdir=workdirs/adding/tcn_valid_seedS`,
both at once on the 2 cores: 64 min each. They retraced the protocol runs
above bit for bit (their kept checkpoints, re-scored, give the same test
MSEs to every digit). Validation picks step 14000
for seed 0 (valid 1.03e-4, test 1.51e-4) and step 15000 for seed 1 (valid
2.35e-5, test 2.50e-5); picking the seed by validation too gives seed 1:
test MSE 2.50e-5, under the goal and the published 5.8e-5
(`sequence_models.summarize_selection`, results/adding/tcn_valid/). This is
not the paper's protocol (its figure is the last step's), and the rule was
set after seed 1's earlier full run had been seen; the validation set was
new, and its choice agrees with the test set's own best on both seeds.
On one H200 (2026-12-04, jax 0.11.2, JAX_DEFAULT_MATMUL_PRECISION=highest,
four processes at once, 134-153 s of training per full run), seeds 0-3 of `:tcn` and of
`:tcn_valid`: plain runs left the baseline by steps 6500 / 5000 / 3500 / 3000
and ended at 1.52e-4 / 2.63e-4 / 3.15e-4 / 1.73e-4 (best evaluations 9.6e-5 /
7.4e-5 / 5.7e-5 / 7.5e-5; results/adding/tcn_gpu_seeds/); validation picks
9.4e-5 / 4.5e-5 / 6.2e-5 / 7.8e-5 (all <= 1e-4, mean 7.0e-5; seed 1 chosen,
4.5e-5; results/adding/tcn_valid_gpu/), last steps 9.4e-5 / 1.2e-4 / 7.0e-5 /
1.8e-3 (GPU runs are not bit-reproducible, so these do not retrace the plain
ones).
The GRU ran the full protocol (2000 steps, then the same command with
num_steps=15630, resumed; with `--config.eval_every=500`): 2.0e-2, 2.3e-3,
1.1e-3, 5.2e-4 at steps 500-2000, 5.3e-5 at step 14000 (the paper: 5.3e-5),
1.92e-4 at the last step (the test MSE moves by 2-4x between evaluations late
in training). LSTM and Elman RNN, full protocol (`--config.num_steps=15630
--config.eval_every=1000`, 2026-12-04, side by side): the Elman RNN stays on
the baseline (0.1627-0.2253 at every evaluation, 0.1636 at the last step;
the paper: 0.177), as in the paper. The LSTM does NOT stay there, unlike the
paper's 0.164: on the baseline until step 4000 (0.162), then 1.8e-3 (5000),
3.6e-4 (6000), 2.2e-4 (7000), 4.3e-4 / 3.6e-4 (8000 / 9000), 9.1e-5,
6.4e-5, 1.1e-4, 8.5e-5, 2.0e-4, 1.7e-4 (10000-15000), 9.47e-5 at the last
step. Seed 1 (`--config.seed=1`, 42 min) too: 0.116 at step 4000, 6.0e-4
(5000), 7.3e-5 at its best (12000), 4.3e-4 at the last step
(results/adding/lstm_seed1/): two of two seeds leave the baseline. The Transformer (ours, not in the paper) is a 2000-step probe
(`--config.num_steps=2000 --config.eval_every=500`): 0.160 / 0.162 at steps
500 / 1000 (as first computed), then 0.0212 / 0.0129 at 1500 / 2000
(re-scored): it leaves the baseline in the first 2000 steps, unlike the TCN. At the quiet machine's 0.11 s/step
(TCN alone), the full protocol takes 29 min for the TCN.

Planned 2026-12-04 16:34 UTC, before the runs: GRU and Elman RNN with the
paper's PyTorch parameterisation (`--config.model.gru.init=torch`,
`--config.model.rnn.init=torch`), seed 0, the full protocol
(`--config.num_steps=15630 --config.eval_every=1000`), both at once; reported
at the last step with the whole curve, nothing selected. The paper: GRU
5.3e-5, RNN 0.177. (Both at once ran 2.3 steps/s each on that evening's
2-vCPU AMD EPYC, 1 h 55 min: past the session, so the RNN run was stopped at
step ~150 and the GRU runs alone.) Result: the GRU with init=torch left the
baseline by step 2000 (0.162, 6.8e-3, 1.3e-3, 4.1e-4 at steps 1000-4000),
then moved between 4.2e-5 and 5.7e-4, and ended at 4.77e-5 (the paper's
5.3e-5); results/adding/gru_torch/. The RNN with init=torch, run alone the
next session (same command, 70 min): on the baseline at every evaluation
(0.163-0.186, 0.226 once at step 11000), 0.1635 at the last step (the
paper's 0.177), after a burst at steps ~1050-1300 (training loss up to 1.35,
gradient norm 250 before clipping); results/adding/rnn_torch/.

Planned 2026-12-04 21:30 UTC, before the run: the Transformer (ours, not in
the paper; the probe's model and optimiser: 2 pre-norm blocks, d=64, Adam
1e-3, clip 1) with the full protocol, seed 0,
`--config=experiments/configs/adding.py:transformer --config.num_steps=15630
--config.eval_every=1000 --workdir=workdirs/adding/transformer_full`;
reported at the last step with the whole curve, nothing selected. Its final
layer computes only the last position's row (`model.apply(..., last=1)`:
the same function, loss equal and gradients within 2e-6 of the full pass;
445 against 839 ms per training step on the 2-vCPU AMD EPYC), so the run
takes about 2 h here instead of 3.7. Result (8454 s of training, partly
beside a CI run): test MSE 0.165 at step 1000, 0.0269 (2000), 6.7e-3
(3000), 6.3e-4 (6000), 2.8e-4 (8000), 1.7e-4 (12000), 1.0e-4 (13000),
6.0e-5 (14000), 1.2e-4 (15000), 6.48e-5 at the last step.

Planned 2026-12-05 06:50 UTC, before the run: the LSTM with the paper's
PyTorch parameterisation (`--config.model.lstm.init=torch`; its 6000-step
probe stayed on the baseline where both default-init seeds had left it by
step 5000) with the full protocol, seed 0,
`--config=experiments/configs/adding.py:lstm --config.model.lstm.init=torch
--config.num_steps=15630 --config.eval_every=1000
--workdir=workdirs/adding/lstm_torch`, beside the copy-memory LSTM's
init=torch run; reported at the last step with the whole curve, nothing
selected (the paper: 0.164). The question: does the init alone explain the
paper's LSTM row, over the whole protocol and not only 6000 steps? Result
(7034 s of training beside other runs; 69,811 parameters): test MSE 0.1624,
0.1643, 0.1626, 0.1628, 0.1630, 0.1646 at steps 1000-6000 (the probe's
curve again), then 0.1626-0.1647, 0.1628 at the last step (predicting 1:
0.1627): on the baseline throughout, as the paper's LSTM (0.164); the
default init left it by step 5000 in two of two seeds. results/adding/lstm_torch/.

`:small` (and `:small_<model>`) is the CI config: T=20, a few hundred
examples, tiny models, seconds.
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
    config.model.tcn = dict(levels=8, channels=24, kernel_size=8, drop_rate=0.0, conv_init="pytorch")  # 70K params
    # recurrent init: "default" (seqmodels' cells) | "torch" (the paper's PyTorch modules; experiments/sequence_models.py)
    config.model.lstm = dict(hidden_size=130, init="default")  # 69K
    config.model.gru = dict(hidden_size=150, init="default")  # 69K
    config.model.rnn = dict(hidden_size=260, init="default")  # 69K (Elman, tanh)
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
        config.model.tcn = dict(levels=3, channels=8, kernel_size=3, drop_rate=0.0, conv_init="pytorch")
        config.model.lstm = dict(hidden_size=16, init="default")
        config.model.gru = dict(hidden_size=16, init="default")
        config.model.rnn = dict(hidden_size=16, init="default")
        config.model.transformer = dict(d_model=16, num_heads=2, d_ff=32, num_layers=1, drop_rate=0.0)
    if select:
        select_on_validation(config, num_valid=config.data.num_test, metric="mse",
                             eval_every=config.eval_every or 500)
    return config
