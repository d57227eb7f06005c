"""The delay-sum experiment's small config runs end to end through the shell."""

import json

import jax
import numpy as np

from experiments import delay_sum
from experiments.configs import delay_sum as delay_sum_config
from seqmodels.training import train_and_evaluate


def test_delay_sum_small_config_trains_and_writes_results(tmp_path):
    config = delay_sum_config.get_config("small")
    task = delay_sum.make_task(config)
    batch = next(iter(task.eval_batches()))
    untrained, _ = task.loss_fn(task.init_params(jax.random.split(jax.random.key(config.seed), 3)[0]),
                                batch, None, False)
    train_and_evaluate(config, tmp_path, task)
    results = json.loads((tmp_path / "results.json").read_text())
    metrics = results["metrics"]
    for name in ("mse_tdnn", "mse_rnn4", "mse_rnn1", "tdnn_filter_max_error"):
        assert np.isfinite(metrics[name]), name
    assert metrics["loss"] < float(untrained)  # 60 steps already help
    assert results["reference"]["goal_mse_rnn4"] == 1e-4
    assert results["config"]["model"]["names"] == "tdnn,rnn4,rnn1"


def test_cells_variant_runs_every_cell_family_side_by_side(tmp_path):
    """MGU, Jordan and a peephole LSTM from the registry, beside the lecture's three models."""
    config = delay_sum_config.get_config("small_cells")
    task = delay_sum.make_task(config)
    params = task.init_params(jax.random.key(0))
    assert set(params) == {"tdnn", "rnn4", "rnn1", "mgu4", "jordan4", "lstm4"}
    assert {"p_i", "p_f", "p_o"} <= set(params["lstm4"]["backbone"])  # the peepholes are parameters
    assert params["jordan4"]["backbone"]["R"].shape == (4, 4)  # Jordan: the fed-back output is 4-wide
    train_and_evaluate(config, tmp_path, task)
    metrics = json.loads((tmp_path / "results.json").read_text())["metrics"]
    for name in ("mgu4", "jordan4", "lstm4"):
        assert np.isfinite(metrics[f"mse_{name}"]), name
