"""The copy-memory experiment's small configs run end to end through the shell."""

import json
import math

import jax
import numpy as np
import pytest

from experiments import copy_memory, models
from experiments.configs import copy_memory as copy_config
from seqmodels.data import synthetic
from seqmodels.training import ConfigError, train_and_evaluate
from tests.experiments import ragged_eval

SPEC = models.Spec(input_size=1, output_size=10, causal=True)


def test_data_follows_the_protocol():
    T = 1000
    data = synthetic.make_copy_memory(0, 50, seq_len=T)
    x, y = data["x"][..., 0], data["y"]
    assert x.shape == (50, T + 20) and y.shape == (50, T + 20)
    digits = x[:, :10]
    assert digits.min() >= 1 and digits.max() <= 8
    assert np.all(x[:, 10:T + 9] == 0) and np.all(x[:, T + 9:] == 9)  # T-1 blanks, 11 nines
    assert np.all(y[:, :T + 10] == 0) and np.array_equal(y[:, T + 10:], digits.astype(np.int32))
    assert copy_memory.baseline_ce(T) == pytest.approx(10 * math.log(8) / 1020)
    assert round(copy_memory.baseline_ce(T), 4) == 0.0204


def test_full_configs_have_the_papers_sizes():
    for name in copy_config.MODELS:
        config = copy_config.get_config(name)
        assert config.model.name == name and config.data.seq_len == 1000
        assert config.optimizer.name == "rmsprop" and config.optimizer.learning_rate == 5e-4
        model = models.build(config.model, SPEC)
        n = models.num_params(jax.eval_shape(model.init, jax.random.key(0)))
        assert 12_000 < n < 18_000, (name, n)  # ~16K as in Table 1
    tcn = copy_config.get_config("tcn")
    assert tcn.model.tcn.to_dict() == dict(levels=8, channels=10, kernel_size=8, drop_rate=0.05,
                                              conv_init="pytorch", readout_init="normal")
    assert tcn.optimizer.clip_norm == 1.0


def test_transformer_is_causal():
    """Changing a later input must not change earlier outputs (the copy task would be trivial otherwise)."""
    config = copy_config.get_config("small_transformer")
    model = models.build(config.model, SPEC)
    params = model.init(jax.random.key(0))
    x = np.random.default_rng(0).normal(size=(1, 12, 1)).astype(np.float32)
    x2 = x.copy()
    x2[0, 8] += 1.0
    y, y2 = (model.apply_batch(params, v, deterministic=True) for v in (x, x2))
    np.testing.assert_allclose(y[0, :8], y2[0, :8], atol=1e-6)
    assert np.abs(y[0, 8:] - y2[0, 8:]).max() > 1e-4


@pytest.mark.parametrize("name", ["tcn", pytest.param("lstm", marks=pytest.mark.slow)])
def test_small_config_trains_and_writes_results(tmp_path, name):
    config = copy_config.get_config(f"small_{name}")
    task = copy_memory.make_task(config)
    batch = next(iter(task.eval_batches()))
    untrained, _ = task.loss_fn(task.init_params(jax.random.split(jax.random.key(config.seed), 3)[0]),
                                batch, None, False)
    train_and_evaluate(config, tmp_path / name, task)
    results = json.loads((tmp_path / name / "results.json").read_text())
    metrics = results["metrics"]
    for field in ("cross_entropy", "recall_cross_entropy", "recall_accuracy"):
        assert np.isfinite(metrics[field]), field
    assert metrics["cross_entropy"] < float(untrained)  # 40 steps already help
    assert 0.0 <= metrics["recall_accuracy"] <= 1.0
    assert results["reference"]["published_ce"]["tcn"] == 3.5e-5
    assert results["reference"]["memoryless_baseline_ce"] == pytest.approx(10 * math.log(8) / 40)
    assert results["config"]["model"]["name"] == name

    summary = copy_memory.summarize({name: tmp_path / name}, tmp_path / "out")
    row = summary["models"][name]
    assert row["steps_run"] == config.num_steps and row["protocol_steps"] == copy_config.PROTOCOL_STEPS
    assert row["trivial_baseline"] == pytest.approx(copy_memory.baseline_ce(20))


def test_invalid_config_is_rejected():
    config = copy_config.get_config("small")
    config.model.name = "mlp"
    with pytest.raises(ConfigError, match="no section model.mlp"):
        copy_memory.make_task(config)
    config = copy_config.get_config("small")
    config.model.tcn["drop_rate"] = 1.5
    with pytest.raises(ConfigError, match="model.tcn.drop_rate"):
        copy_memory.make_task(config)
    with pytest.raises(ValueError, match="valid variants"):
        copy_config.get_config("gpt")


def test_test_metrics_are_means_over_examples_with_a_ragged_last_batch():
    """The 24 filler copies completing the last test batch must not count (the loop weights batches)."""
    outputs, test, metrics = ragged_eval.outputs_and_metrics(copy_memory, copy_config, synthetic.make_copy_memory,
                                                             SPEC)
    logp = np.asarray(jax.nn.log_softmax(outputs))  # [40, T+20, 10]
    nll = -np.take_along_axis(logp, test["y"][..., None].astype(np.int64), -1)[..., 0]
    recalled = np.argmax(logp[:, -10:], -1) == test["y"][:, -10:]
    assert metrics["cross_entropy"] == pytest.approx(nll.mean(), rel=1e-5)
    assert metrics["recall_cross_entropy"] == pytest.approx(nll[:, -10:].mean(), rel=1e-5)
    assert metrics["recall_accuracy"] == pytest.approx(recalled.mean(), rel=1e-6)


def test_valid_variant_evaluates_a_held_out_set_of_its_own_and_watches_it():
    config = copy_config.get_config("tcn_valid")
    assert config.data.num_valid == 1000 and config.restore_best and config.eval_every == 250
    assert config.early_stopping.metric == "valid_cross_entropy"
    task = copy_memory.make_task(copy_config.get_config("small_valid"))
    valid, test = next(iter(task.eval_batches["valid"]())), next(iter(task.eval_batches["test"]()))
    assert not np.array_equal(valid["x"], test["x"])  # its own seed
