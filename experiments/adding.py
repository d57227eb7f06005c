"""The adding problem, T=600 (Hochreiter & Schmidhuber 1997; Bai, Kolter & Koltun 2018, Table 1).

    python -m experiments.adding --config=experiments/configs/adding.py:<model> --workdir=workdirs/adding/<model>
    python -m experiments.summarize adding workdirs/adding/* --out=results/adding

Input [T, 2]: channel 0 ~ U[0, 1], channel 1 zeros with two 1s at two
distinct random positions; target: the sum of the two marked values. The
model reads the whole sequence and is scored by the MSE of its output at
the last step. Always predicting 1 gives MSE = Var(u1 + u2) = 1/6, the
trivial baseline. Any model of the registry (experiments/models.py) runs;
the configs size tcn, lstm, gru, rnn and transformer to ~70K parameters.
Narrative and figures: results/adding/README.md.
"""

import jax.numpy as jnp

from experiments import launcher, models, summarize as reporting, tasks
from experiments.configs.adding import PROTOCOL_STEPS
from seqmodels.data import synthetic
from seqmodels.training import Task, losses, validate

BASELINE_MSE = 1.0 / 6.0  # predict 1 always: Var(U1 + U2) = 2 / 12
PUBLISHED_MSE = {"lstm": 0.164, "gru": 5.3e-5, "rnn": 0.177, "tcn": 5.8e-5}  # Table 1, T=600
GOAL_TCN_MSE = 1e-4


def make_task(config, workdir=None) -> Task:
    d = config.data
    for field in ("seq_len", "num_train", "num_test"):
        validate.positive(f"data.{field}", d[field], integer=True)
    validate.non_negative("data.num_valid", d.get("num_valid", 0), integer=True)
    if d.seq_len < 2:
        raise validate.ConfigError(f"data.seq_len: the adding problem needs T >= 2 (two markers), got {d.seq_len}")
    model = models.build(config.model, models.Spec(input_size=2, output_size=1))

    def loss_fn(params, batch, key, train):
        y = model.apply_batch(params, batch["x"], key=key, deterministic=not train, last=1)[:, 0, 0]  # [B]
        mask = batch.get("valid")  # eval batches: the filler copies that complete the last batch count for nothing
        mse = losses.mean_squared_error(y[:, None], batch["y"][:, None], mask)
        predict_1 = losses.mean_squared_error(jnp.ones_like(y)[:, None], batch["y"][:, None], mask)
        return mse, {"mse": mse, "mse_predict_1": predict_1, **tasks.example_weight(mask)}

    train = synthetic.make_adding(d.seed, d.num_train, seq_len=d.seq_len)
    test = synthetic.make_adding(d.seed + 1, d.num_test, seq_len=d.seq_len)
    valid = synthetic.make_adding(d.seed + 2, d.num_valid, seq_len=d.seq_len) if d.get("num_valid") else None
    return tasks.array_task(
        config, model, loss_fn, train, test, valid=valid,
        reference={"paper": "Bai, Kolter & Koltun 2018, Table 1: adding T=600 test MSE",
                   "published_mse": PUBLISHED_MSE, "published_mse_this_model": PUBLISHED_MSE.get(config.model.name),
                   "trivial_baseline_mse": BASELINE_MSE, "goal_tcn_mse": GOAL_TCN_MSE,
                   "protocol_steps": config.get("protocol_steps"),
                   "model": {"name": config.model.name, **models.section(config.model, config.model.name)}},
    )


def summarize(run_dirs: dict, out_dir) -> dict:
    """Runs (label -> workdir) -> out_dir/results.json and the plot of their test MSE curves."""
    return reporting.summarize_runs(run_dirs, out_dir, task="adding_T600", metric="mse", protocol_steps=PROTOCOL_STEPS,
                                    baseline=BASELINE_MSE, reference=PUBLISHED_MSE,
                                    note="narrative and figures: results/adding/README.md")


if __name__ == "__main__":
    launcher.run(make_task)
