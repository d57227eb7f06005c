"""The adding experiment's small configs run end to end through the shell."""

import json

import jax
import numpy as np
import pytest

from experiments import adding, models, summarize
from experiments.configs import adding as adding_config
from seqmodels.data import synthetic
from seqmodels.training import ConfigError, evaluate_checkpoints, train_and_evaluate
from tests.experiments import ragged_eval

SPEC = models.Spec(input_size=2, output_size=1)


def test_data_follows_the_protocol():
    data = synthetic.make_adding(0, 500, seq_len=600)
    x, y = data["x"], data["y"]
    assert x.shape == (500, 600, 2) and y.shape == (500,)
    assert np.all(x[..., 1].sum(1) == 2)  # two markers per sequence
    assert 0.0 <= x[..., 0].min() and x[..., 0].max() < 1.0
    np.testing.assert_allclose(y, (x[..., 0] * x[..., 1]).sum(1), rtol=1e-6)
    assert abs(np.mean((y - 1.0) ** 2) - adding.BASELINE_MSE) < 0.03  # predict-1 baseline ~ 1/6


def test_full_configs_have_the_papers_sizes():
    for name in adding_config.MODELS:
        config = adding_config.get_config(name)
        assert config.model.name == name and config.data.seq_len == 600 and config.batch_size == 32
        model = models.build(config.model, SPEC)
        n = models.num_params(jax.eval_shape(model.init, jax.random.key(0)))
        assert 60_000 < n < 75_000, (name, n)  # ~70K as in Table 1
    tcn = adding_config.get_config("tcn")
    assert tcn.model.tcn.to_dict() == dict(levels=8, channels=24, kernel_size=8, drop_rate=0.0,
                                              conv_init="pytorch", readout_init="normal")
    assert tcn.optimizer.learning_rate == 2e-3
    assert adding_config.get_config("lstm").optimizer.clip_norm == 5.0


def test_recurrent_torch_init_has_pytorchs_parameters():
    """nn.LSTM(2, 130) + nn.Linear(130, 1): 4 * 130 * (2 + 130 + 2) + 131 parameters (b_ih and b_hh)."""
    config = adding_config.get_config("lstm")
    default = models.build(config.model, SPEC)
    config.model.lstm.init = "torch"
    torch_like = models.build(config.model, SPEC)
    count = lambda m: models.num_params(jax.eval_shape(m.init, jax.random.key(0)))
    assert count(torch_like) == 4 * 130 * (2 + 130 + 2) + 131
    assert count(default) == 4 * 130 * (2 + 130 + 1) + 131
    params = torch_like.init(jax.random.key(0))
    assert abs(float(params["backbone"]["rnn"]["b"][260:390].mean())) < 0.02  # forget gate: no bias of 1
    xs = jax.random.normal(jax.random.key(1), (2, 9, 2))
    assert torch_like.apply_batch(params, xs, deterministic=True).shape == (2, 9, 1)
    config.model.lstm.init = "xavier"
    with pytest.raises(ConfigError, match="model.lstm.init"):
        models.build(config.model, SPEC)


@pytest.mark.parametrize("name", adding_config.MODELS)
def test_last_steps_equal_the_full_output(name):
    """apply_batch(..., last=L) (what adding scores through, L=1) = the full output's last L steps, for every
    model (the Transformer computes only those rows in its final layer); a bad `last` names the range."""
    model = models.build(adding_config.get_config(f"small_{name}").model, SPEC)
    params = model.init(jax.random.key(0))
    xs = jax.random.uniform(jax.random.key(1), (3, 11, 2))
    full = model.apply_batch(params, xs, deterministic=True)
    for last in (1, 4):
        np.testing.assert_allclose(model.apply_batch(params, xs, deterministic=True, last=last), full[:, 11 - last:],
                                   atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match=r"last"):
        model.apply_batch(params, xs, deterministic=True, last=12)


def test_tcn_init_is_the_papers_code():
    """Weight-normed convs from PyTorch's U(+-1/sqrt(fan_in)) (the code's N(0, 0.01) never takes effect
    under weight_norm), read-out N(0, 0.01)."""
    model = models.build(adding_config.get_config("tcn").model, SPEC)
    params = model.init(jax.random.key(0))
    v = np.concatenate([np.ravel(b["conv2"]["v"]) for b in params["backbone"]["blocks"]])  # fan_in 8 * 24
    bound = 1 / np.sqrt(8 * 24)
    assert np.abs(v).max() <= bound and abs(v.std() - bound / np.sqrt(3)) < 1e-3 and abs(v.mean()) < 1e-3
    assert abs(np.std(params["readout"]["w"]) - 0.01) < 5e-3


@pytest.mark.parametrize("name", ["tcn", pytest.param("gru", marks=pytest.mark.slow),
                                  pytest.param("transformer", marks=pytest.mark.slow)])
def test_small_config_trains_and_writes_results(tmp_path, name):
    config = adding_config.get_config(f"small_{name}")
    task = adding.make_task(config)
    batch = next(iter(task.eval_batches()))
    untrained, _ = task.loss_fn(task.init_params(jax.random.split(jax.random.key(config.seed), 3)[0]),
                                batch, None, False)
    train_and_evaluate(config, tmp_path, task)
    results = json.loads((tmp_path / "results.json").read_text())
    metrics = results["metrics"]
    assert np.isfinite(metrics["mse"]) and metrics["num_params"] > 0
    assert metrics["mse"] < float(untrained)  # 40 steps already help
    assert results["reference"]["published_mse"]["tcn"] == 5.8e-5
    assert results["reference"]["trivial_baseline_mse"] == pytest.approx(1 / 6)
    assert results["reference"]["protocol_steps"] == adding_config.PROTOCOL_STEPS
    assert results["config"]["model"]["name"] == name


def test_summarize_gathers_runs(tmp_path):
    for name in ("tcn", "lstm"):
        config = adding_config.get_config(f"small_{name}")
        config.num_steps, config.eval_every = 4, 2
        train_and_evaluate(config, tmp_path / "runs" / name, adding.make_task(config))
    runs = {name: tmp_path / "runs" / name for name in ("tcn", "lstm")}
    summary = adding.summarize(runs, tmp_path / "out")
    assert set(summary["models"]) == {"tcn", "lstm"}
    row = summary["models"]["lstm"]
    assert row["steps_run"] == 4 and row["protocol_steps"] == adding_config.PROTOCOL_STEPS
    assert row["published"] == 0.164 and row["trivial_baseline"] == pytest.approx(1 / 6)
    assert np.isfinite(row["test_mse"])
    assert (tmp_path / "out" / "results.json").exists() and (tmp_path / "out" / "adding_T600_test_mse.png").exists()
    assert (tmp_path / "out" / "tcn" / "results.json").exists()

    # a re-scored run (--reevaluate) is reported with the re-scored figure of its reported checkpoint
    config = adding_config.get_config("small_lstm")
    config.num_steps, config.eval_every = 4, 2
    rescored = evaluate_checkpoints(config, tmp_path / "runs" / "lstm", adding.make_task(config))
    assert rescored["checkpoints"]["4"]["mse"] == pytest.approx(row["test_mse"], rel=1e-6)  # same code, same figure
    rescored["checkpoints"]["4"]["mse"] = 0.5  # as if the evaluation code had changed since the run
    (tmp_path / "runs" / "lstm" / "reevaluation.json").write_text(json.dumps(rescored))
    again = adding.summarize(runs, tmp_path / "out")["models"]["lstm"]
    assert again["test_mse"] == 0.5 and again["test_mse_first_reported"] == row["test_mse"]
    assert (tmp_path / "out" / "lstm" / "reevaluation.json").exists()
    assert "test_mse_first_reported" not in adding.summarize(runs, tmp_path / "out")["models"]["tcn"]


def test_invalid_config_is_rejected():
    config = adding_config.get_config("small")
    config.model.name = "wavenet"
    with pytest.raises(ConfigError, match="no section model.wavenet"):
        adding.make_task(config)
    config = adding_config.get_config("small")
    config.model.tcn["channels"] = 0
    with pytest.raises(ConfigError, match="model.tcn.channels"):
        adding.make_task(config)
    with pytest.raises(ValueError, match="valid variants"):
        adding_config.get_config("small_wavenet")


def test_test_mse_is_the_mean_over_examples_with_a_ragged_last_batch():
    """The 24 filler copies completing the last test batch must not count (the loop weights batches)."""
    outputs, test, metrics = ragged_eval.outputs_and_metrics(adding, adding_config, synthetic.make_adding, SPEC)
    pred = outputs[:, -1, 0]
    assert metrics["mse"] == pytest.approx(np.mean((pred - test["y"]) ** 2), rel=1e-5)
    assert metrics["mse_predict_1"] == pytest.approx(np.mean((test["y"] - 1.0) ** 2), rel=1e-5)


def test_valid_variant_selects_on_a_held_out_set(tmp_path):
    config = adding_config.get_config("small_tcn_valid")
    assert config.data.num_valid == config.data.num_test and config.restore_best
    assert config.early_stopping.to_dict() == dict(metric="valid_mse", mode="min", patience=0)
    assert adding_config.get_config("tcn_valid").eval_every == 500
    assert adding_config.get_config("lstm_valid").eval_every == 500  # the protocol variant evaluates at the end only
    protocol = adding_config.get_config("small_tcn")
    task = adding.make_task(config)
    assert set(task.eval_batches) == {"valid", "test"}
    # the training data are the protocol's: the same first batch
    np.testing.assert_array_equal(next(task.train_iterator)["x"], next(adding.make_task(protocol).train_iterator)["x"])
    results = train_and_evaluate(config, tmp_path / "runs" / "tcn", task)
    evals = [json.loads(line) for line in (tmp_path / "runs" / "tcn" / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in evals if r["split"] == "eval"]
    assert len(evals) == 2 and all("test_mse" in r and "valid_mse" in r for r in evals)
    best = min(evals, key=lambda r: r["valid_mse"])
    assert results["steps"]["params_from"] == best["step"]  # the best-validation step (selection: test_loop.py)
    assert results["metrics"]["test_mse"] == pytest.approx(best["test_mse"], rel=1e-5)
    assert results["metrics"]["valid_mse"] != results["metrics"]["test_mse"]  # two different sets
    summary = adding.summarize({"tcn": tmp_path / "runs" / "tcn"}, tmp_path / "out")  # the test figure, not valid
    assert summary["models"]["tcn"]["test_mse"] == results["metrics"]["test_mse"]

    # a second run (another seed); the run with the lower validation MSE is the one reported
    config.seed = 1
    other = train_and_evaluate(config, tmp_path / "seed1", adding.make_task(config))
    runs = {"seed0": tmp_path / "runs" / "tcn", "seed1": tmp_path / "seed1"}
    chosen = summarize.summarize_selection(runs, tmp_path / "selected", metric="mse")
    valid = {"seed0": results["metrics"]["valid_mse"], "seed1": other["metrics"]["valid_mse"]}
    assert chosen["chosen"] == min(valid, key=valid.get)
    assert chosen["test_mse"] == {"seed0": results, "seed1": other}[chosen["chosen"]]["metrics"]["test_mse"]
    assert chosen["runs"]["seed0"]["last_step_test_mse"] == evals[-1]["test_mse"]
    assert (tmp_path / "selected" / "seed1" / "eval_curve.jsonl").exists()
    with pytest.raises(ValueError, match="not a run of a _valid variant"):
        summarize.summarize_selection({"protocol": tmp_path / "seed1"}, tmp_path / "x", metric="cross_entropy")
