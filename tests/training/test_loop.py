"""train_and_evaluate on a tiny task: outputs, determinism, resume, NaN stop, early stopping, bad configs."""

import json
import math

import jax
import numpy as np
import pytest

from seqmodels.training import (CheckpointError, ConfigError, NonFiniteLossError, WorkdirError, checkpoint,
                                optimizers, train_and_evaluate, train_state, writers)
from tests.training import tiny_task


def _run(workdir, **overrides):
    config = tiny_task.get_config()
    nan_at_step = overrides.pop("nan_at_step", None)
    crash_at_step = overrides.pop("crash_at_step", None)
    for name, value in overrides.items():
        setattr(config, name, value)
    task = tiny_task.make_task(config, nan_at_step=nan_at_step, crash_at_step=crash_at_step)
    return train_and_evaluate(config, workdir, task)


def _final_params(workdir):
    config = tiny_task.get_config()
    params = tiny_task.make_task(config).init_params(jax.random.key(0))
    optimizer = optimizers.make_optimizer(config.optimizer)
    template = {"state": train_state.create_train_state(params, optimizer),
                "keys": {"train": jax.random.key(0), "eval": jax.random.key(0)}}
    restored, _ = checkpoint.load(workdir / "checkpoints", template)
    return jax.device_get(restored["state"].params)


def _same_tree(a, b):
    jax.tree.map(lambda x, y: np.testing.assert_array_equal(x, y), a, b)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("run")
    return workdir, _run(workdir)


def test_trains_and_writes_outputs(finished):
    workdir, results = finished
    records = writers.read_jsonl(workdir / "metrics.jsonl")
    train = [r for r in records if r["split"] == "train"]
    evals = [r for r in records if r["split"] == "eval"]
    assert [r["step"] for r in train] == list(range(5, 41, 5)) and [r["step"] for r in evals] == [10, 20, 30, 40]
    assert train[-1]["loss"] < 0.25 * train[0]["loss"]  # the loss goes down
    saved = json.loads((workdir / "results.json").read_text())
    assert set(saved) >= {"metrics", "reference", "config"}
    assert saved["metrics"] == results["metrics"] and saved["reference"] == {"loss": 0.0}
    assert saved["config"]["optimizer"]["name"] == "adam"
    best = min(evals, key=lambda r: r["loss"])
    assert saved["steps"]["params_from"] == best["step"]
    assert saved["metrics"]["loss"] == pytest.approx(best["loss"], rel=1e-6)  # final metrics = best params
    assert saved["metrics"]["rmse"] == pytest.approx(math.sqrt(best["loss"]), rel=1e-6)  # task.summarize
    assert 0 < saved["metrics"]["test_mse"] < 1.0  # task.final_eval
    assert {p.name for p in (workdir / "plots").iterdir()} == {"loss.png", "mae.png", "grad_norm.png", "rmse.png"}
    assert list((workdir / "tensorboard").glob("events.out.tfevents.*"))
    assert sorted(int(p.name) for p in (workdir / "checkpoints" / "latest").iterdir()) == [20, 30, 40]


def test_same_seed_same_results_and_resume_equals_uninterrupted(finished, tmp_path):
    workdir, results = finished
    again = _run(tmp_path / "again")
    assert again["metrics"] == results["metrics"]
    assert writers.read_jsonl(tmp_path / "again" / "metrics.jsonl") == writers.read_jsonl(workdir / "metrics.jsonl")
    _same_tree(_final_params(tmp_path / "again"), _final_params(workdir))
    # a crash at step 26 (last checkpoint: 20), then the same run again in the same workdir
    with pytest.raises(RuntimeError, match="simulated crash at step 26"):
        _run(tmp_path / "resumed", crash_at_step=26)
    resumed = _run(tmp_path / "resumed")
    assert resumed["metrics"] == results["metrics"] and resumed["steps"]["last"] == 40
    assert writers.read_jsonl(tmp_path / "resumed" / "metrics.jsonl") == writers.read_jsonl(workdir / "metrics.jsonl")
    _same_tree(_final_params(tmp_path / "resumed"), _final_params(workdir))


def test_nan_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
    with pytest.raises(NonFiniteLossError, match=r"NaN or Inf at step 23: training stopped.*checkpoint \(step 20\)"):
        _run(tmp_path, nan_at_step=23)
    assert sorted(int(p.name) for p in (tmp_path / "checkpoints" / "latest").iterdir()) == [10, 20]
    params = _final_params(tmp_path)
    assert all(np.isfinite(x).all() for x in jax.tree.leaves(params))
    assert not (tmp_path / "results.json").exists()


def test_nan_before_the_first_checkpoint_says_none_was_saved(tmp_path):
    with pytest.raises(NonFiniteLossError, match=r"NaN or Inf at step 3: .*No checkpoint had been saved yet"):
        _run(tmp_path, nan_at_step=3)
    assert not list((tmp_path / "checkpoints" / "latest").iterdir())


def test_early_stopping_keeps_and_reports_the_best(tmp_path):
    # "max" on a loss that goes down: no eval after the first improves, so patience 2 stops at step 30
    results = _run(tmp_path, early_stopping={"metric": "loss", "mode": "max", "patience": 2})
    assert results["steps"] == {"last": 30, "params_from": 10, "best": 10, "early_stopped": True}
    first_eval = [r for r in writers.read_jsonl(tmp_path / "metrics.jsonl") if r["split"] == "eval"][0]
    assert results["metrics"]["loss"] == pytest.approx(first_eval["loss"], rel=1e-6)


def test_changed_model_is_rejected_on_resume(finished):
    workdir, _ = finished
    config = tiny_task.get_config()
    config.model.hidden = 16
    with pytest.raises(WorkdirError, match=r"model.hidden: 8 -> 16"):  # the config the run started with differs
        train_and_evaluate(config, workdir, tiny_task.make_task(config))
    with pytest.raises(CheckpointError, match=r"state/params/hidden/w: checkpoint \(4, 8\) float32, "
                                              r"model \(4, 16\) float32"):  # accepted: the checkpoint refuses it
        train_and_evaluate(config, workdir, tiny_task.make_task(config), accept_config_changes="all")


@pytest.mark.parametrize("field, value, message", [
    ("num_steps", -5, "num_steps: expected a positive integer, got -5"),
    ("batch_size", 0, "batch_size: expected a positive integer, got 0"),
    ("eval_every", -1, "eval_every: expected a non-negative integer, got -1"),
    ("optimizer", {"name": "adamx", "learning_rate": 0.1}, r"valid choices: \['adam', 'adamw', 'rmsprop', 'sgd'\]"),
    ("early_stopping", {"metric": "loss", "mode": "lowest"}, r"expected one of \['min', 'max'\]"),
])
def test_bad_config_is_rejected_at_start(tmp_path, field, value, message):
    config = tiny_task.get_config()
    setattr(config, field, value)
    with pytest.raises(ConfigError, match=message):
        train_and_evaluate(config, tmp_path, tiny_task.make_task(tiny_task.get_config()))
    assert not (tmp_path / "checkpoints").exists()


def test_batch_must_split_over_devices(tmp_path):
    config = tiny_task.get_config()
    config.batch_size = 12
    with pytest.raises(ValueError, match="batch_size 12 does not split over 8 devices"):
        train_and_evaluate(config, tmp_path, tiny_task.make_task(config))


def test_missing_config_field(tmp_path):
    config = tiny_task.get_config()
    del config.checkpoint_every
    with pytest.raises(ConfigError, match=r"missing field\(s\) \['checkpoint_every'\]"):
        train_and_evaluate(config, tmp_path, tiny_task.make_task(tiny_task.get_config()))


def test_eval_mean_is_weighted():
    batches = [{"v": np.asarray([1.0]), "w": np.asarray([1.0])}, {"v": np.asarray([4.0]), "w": np.asarray([3.0])}]
    step = lambda params, batch, key: {"loss": batch["v"][0], "weight": batch["w"][0]}  # noqa: E731
    from seqmodels.training import evaluate
    assert evaluate(step, None, batches, None) == {"loss": (1.0 + 12.0) / 4.0}
    assert math.isclose(evaluate(lambda p, b, k: {"loss": b["v"][0]}, None, batches, None)["loss"], 2.5)


def _named_sets_task(config):
    import dataclasses
    sets = {"valid": [tiny_task.make_data(64, seed=2)], "test": lambda: [tiny_task.make_data(64, seed=4)]}
    return dataclasses.replace(tiny_task.make_task(config), eval_batches=sets)


def test_named_eval_sets_are_all_evaluated_and_the_watched_one_selects(tmp_path):
    config = tiny_task.get_config()
    # "max" on a validation loss that goes down: the step-10 checkpoint stays the best, patience 2 stops at 30
    config.early_stopping = {"metric": "valid_loss", "mode": "max", "patience": 2}
    results = train_and_evaluate(config, tmp_path, _named_sets_task(config))
    assert results["steps"] == {"last": 30, "params_from": 10, "best": 10, "early_stopped": True}
    evals = [r for r in writers.read_jsonl(tmp_path / "metrics.jsonl") if r["split"] == "eval"]
    assert [r["step"] for r in evals] == [10, 20, 30]
    for record in evals:  # every evaluation covers both sets, each summarised on its own
        assert {"valid_loss", "valid_mae", "valid_rmse", "test_loss", "test_mae", "test_rmse"} <= set(record)
        assert record["valid_loss"] != record["test_loss"]
        assert record["test_rmse"] == pytest.approx(math.sqrt(record["test_loss"]), rel=1e-6)
    # the final metrics are the best-validation checkpoint's, on both sets
    assert results["metrics"]["valid_loss"] == pytest.approx(evals[0]["valid_loss"], rel=1e-6)
    assert results["metrics"]["test_loss"] == pytest.approx(evals[0]["test_loss"], rel=1e-6)
    assert evals[2]["test_loss"] < evals[0]["test_loss"]  # so the selection mattered


def test_named_eval_sets_need_a_watched_metric_that_names_a_set(tmp_path):
    config = tiny_task.get_config()  # early stopping watches "loss" by default: no such metric with named sets
    with pytest.raises(ConfigError, match=r"early_stopping.metric: 'loss' names no eval set; the task evaluates "
                                          r"the sets \['valid', 'test'\].*'valid_loss'"):
        train_and_evaluate(config, tmp_path, _named_sets_task(config))
    assert not (tmp_path / "checkpoints").exists()


def test_resuming_with_another_watched_metric_is_a_clear_error(tmp_path):
    config = tiny_task.get_config()
    config.num_steps = 20
    train_and_evaluate(config, tmp_path, tiny_task.make_task(config))  # watches "loss"
    config.num_steps = 40
    config.early_stopping = {"metric": "valid_loss", "mode": "min"}
    with pytest.raises(ConfigError, match=r"the checkpoints in .* watch 'loss', the config 'valid_loss'"):
        train_and_evaluate(config, tmp_path, _named_sets_task(config), accept_config_changes="all")
