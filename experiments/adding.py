"""The adding problem, T=600 (Hochreiter & Schmidhuber 1997; Bai, Kolter & Koltun 2018, Table 1).

    python -m experiments.adding --config=experiments/configs/adding.py:<model> --workdir=workdirs/adding/<model>
    .venv/bin/python -c "from experiments import adding; adding.summarize('workdirs/adding', 'results/adding')"

Input [T, 2]: channel 0 ~ U[0, 1], channel 1 zeros with two 1s at two
distinct random positions; target: the sum of the two marked values. The
model reads the whole sequence and is scored by the MSE of its output at
the last step. Always predicting 1 gives MSE = Var(u1 + u2) = 1/6 = 0.167,
the trivial baseline; LSTM and Elman RNN stay there in the paper (0.164,
0.177), GRU and TCN solve it (5.3e-5, 5.8e-5).

Models (experiments/sequence_models.py): tcn, lstm, gru, rnn, transformer;
one per run (the config variant), then `summarize` gathers the runs into
results/adding/results.json (steps run vs the protocol's, test MSE,
published number, baseline) and one plot of the test MSE curves.
"""

from pathlib import Path

import jax.numpy as jnp

from experiments import launcher, sequence_models
from seqmodels.data import synthetic
from seqmodels.training import Task, losses, validate

BASELINE_MSE = 1.0 / 6.0  # predict 1 always: Var(U1 + U2) = 2 / 12
PUBLISHED_MSE = {"lstm": 0.164, "gru": 5.3e-5, "rnn": 0.177, "tcn": 5.8e-5}  # Table 1, T=600
GOAL_TCN_MSE = 1e-4

# the last runs' budget and outcome, for results.json
NOTE = (
    'Test figures re-scored (--reevaluate, reevaluation.json) after a fix: the 24 filler copies that completed '
    'the last test batch (1000 = 31 x 32 + 8) had counted; predicting 1 scores 0.1627 on this test set (0.1590 '
    'as first reported). TCN (conv_init="pytorch", the init the paper\'s code runs): the full protocol, 15630 '
    'steps, test MSE 2.83e-4 at the last step (2.96e-4 as first reported); it sat on the trivial baseline until '
    'step ~5500, then fell. Goal 1e-4 (published 5.8e-5) not reached at the last step. GRU: the full protocol, '
    '1.92e-4 at the last step, 5.3e-5 at its best evaluation (step 14000; published 5.3e-5). LSTM: the full '
    'protocol, 9.47e-5 at the last step (published 0.164): on the baseline until step ~4500, then solved it '
    '(6.4e-5 to 2.0e-4 at the evaluations of steps 10000-15000); seed 1 as well (4.3e-4 at the last step, '
    '7.3e-5 at step 12000; results/adding/lstm_seed1/). Elman RNN: the full protocol, 0.1636, on '
    'the baseline (published 0.177). Transformer: a 2000-step probe, 0.0129; the full protocol (results/adding/transformer_full/), 6.48e-5 at the last step. TCN seeds 1-7: still on the baseline at '
    'steps 1000-2000 (probes); seed 1 on to the full protocol: 9.1e-4 at the last step, 2.5e-5 at its best '
    'evaluation (step 15000). Selection on a validation set: results/adding/tcn_valid/.')


def make_task(config) -> Task:
    d = config.data
    for field in ("seq_len", "num_train", "num_test"):
        validate.positive(f"data.{field}", d[field], integer=True)
    validate.non_negative("data.num_valid", d.get("num_valid", 0), integer=True)
    if d.seq_len < 2:
        raise validate.ConfigError(f"data.seq_len: the adding problem needs T >= 2 (two markers), got {d.seq_len}")
    model = sequence_models.build(config.model, input_size=2, output_size=1, causal=False)

    def loss_fn(params, batch, key, train):
        y = model.apply(params, batch["x"], key=key, train=train, last=1)[:, 0, 0]  # [B]: the last step's output
        mask = batch.get("valid")  # eval batches: the filler copies that complete the last batch count for nothing
        mse = losses.mean_squared_error(y[:, None], batch["y"][:, None], mask)
        predict_1 = losses.mean_squared_error(jnp.ones_like(y)[:, None], batch["y"][:, None], mask)
        return mse, {"mse": mse, "mse_predict_1": predict_1, **sequence_models.example_weight(mask)}

    train = synthetic.make_adding(d.seed, d.num_train, seq_len=d.seq_len)
    test = synthetic.make_adding(d.seed + 1, d.num_test, seq_len=d.seq_len)
    valid = synthetic.make_adding(d.seed + 2, d.num_valid, seq_len=d.seq_len) if d.get("num_valid") else None
    return sequence_models.array_task(
        config, model, loss_fn, train, test, valid=valid,
        reference={"paper": "Bai, Kolter & Koltun 2018, Table 1: adding T=600 test MSE",
                   "published_mse": PUBLISHED_MSE, "published_mse_this_model": PUBLISHED_MSE.get(config.model.name),
                   "trivial_baseline_mse": BASELINE_MSE, "goal_tcn_mse": GOAL_TCN_MSE,
                   "protocol_steps": config.get("protocol_steps"), "model": sequence_models.model_section(config)},
    )


def summarize(workdir_root: str | Path = "workdirs/adding", out_dir: str | Path = "results/adding") -> dict:
    """workdir_root/<model>/results.json for every model run -> out_dir/results.json + plots."""
    from experiments.configs import adding as adding_config

    runs = {m: Path(workdir_root) / m for m in sequence_models.MODELS
            if (Path(workdir_root) / m / "results.json").exists()}
    return sequence_models.summarize_runs(runs, out_dir, task="adding_T600", metric="mse",
                                          protocol_steps=adding_config.PROTOCOL_STEPS, baseline=BASELINE_MSE,
                                          reference=PUBLISHED_MSE, note=NOTE)


if __name__ == "__main__":
    launcher.run(make_task)
