"""Santa Fe laser: the small config runs end to end, the forecast is a true closed loop, the test part stays unseen."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import santa_fe
from experiments.configs import santa_fe as santa_fe_config
from seqmodels.data import packaged
from seqmodels.training import ConfigError, train_and_evaluate


@pytest.fixture(scope="module")
def tdnn_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("santa_fe_tdnn")
    config = santa_fe_config.get_config("small")
    results = train_and_evaluate(config, workdir, santa_fe.make_task(config, workdir=workdir))
    return workdir, config, results


def test_small_config_trains_and_reports_both_normalisers(tdnn_run):
    workdir, config, _ = tdnn_run
    results = json.loads((workdir / "results.json").read_text())
    m = results["metrics"]
    S = config.model.num_seeds
    assert results["config"]["model"]["name"] == "tdnn"
    assert m["num_params_per_seed"] == 12 * 25 + 12 + 12 * 12 * 5 + 12 + 12 * 5 + 1  # Wan's 1-12-12-1, 25/5/5
    for name in ("nmse_true_var", "nmse_train_var", "val_nmse", "seed_mean_forecast_nmse_true_var"):
        assert np.isfinite(m[name]) and m[name] > 0, name
    # the two normalisers differ by var(train) / var(100 true values)
    data = packaged.santa_fe_laser()
    ratio = data["continuation"].var() / data["train"].var()
    assert m["nmse_train_var"] == pytest.approx(m["nmse_true_var"] * ratio, rel=1e-5)
    # the headline is the seed with the lowest validation NMSE, and its test numbers are that seed's
    seed = int(m["selected_seed"])
    assert m["val_nmse"] == min(m[f"seed{i}_val_nmse"] for i in range(S))
    assert m["nmse_true_var"] == m[f"seed{seed}_nmse_true_var"]
    # the protocol's baselines: mean of A ~1.0, persistence ~1.34
    assert m["baseline_mean_nmse_true_var"] == pytest.approx(1.0, abs=0.02)
    assert m["baseline_persistence_nmse_true_var"] == pytest.approx(1.34, abs=0.01)
    assert results["reference"]["wan_fir_nmse"] == 0.0273
    assert results["steps"]["params_from"] == results["steps"]["best"]  # selected by validation
    assert (workdir / "plots" / "santa_fe_tdnn.png").stat().st_size > 0
    forecasts = json.loads((workdir / "forecasts.json").read_text())
    assert np.asarray(forecasts["test"]).shape == (S, 100)
    records = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    train = [r["mse_mean_seed"] for r in records if r.get("split") == "train"]
    assert train[-1] < train[0]  # one-step MSE falls within 30 steps


def test_summarize_writes_the_table(tdnn_run, tmp_path):
    workdir, _, _ = tdnn_run
    summary = santa_fe.summarize({"tdnn": workdir}, tmp_path)
    row = summary["models"]["tdnn"]
    assert len(row["seeds_nmse_true_var"]) == 2 and np.isfinite(row["nmse_true_var"])
    assert "baseline_persistence_nmse_true_var" in summary["baselines"]
    for f in ("results.json", "summary.md", "forecasts.png", "tdnn/results.json", "tdnn/santa_fe_tdnn.png"):
        assert (tmp_path / f).exists(), f


def test_training_and_validation_never_see_the_test_points():
    config = santa_fe_config.get_config("small")
    s = santa_fe.split_series(config)
    assert s["fit"].shape == (900, 1) and s["known"].shape == (1000, 1)
    task = santa_fe.make_task(config)
    x = task.train_iterator.source.series
    assert x.shape == (900, 1)  # windows of x[:900] only
    (val,) = task.eval_batches
    raw = packaged.santa_fe_laser()["series"][:, 0]
    np.testing.assert_array_equal(val["truth"][0], raw[900:1000])  # validation = x[900:1000]
    np.testing.assert_allclose(val["prime"][0, :, 0] * s["scale"] + s["shift"], raw[900 - config.data.window:900],
                               rtol=1e-5)
    assert s["fit"].std() == pytest.approx(1.0, abs=1e-4)  # scaling statistics from the fit part only


@pytest.mark.parametrize("name", ["tdnn", "gru", pytest.param("lstm", marks=pytest.mark.slow),
                                  pytest.param("tcn", marks=pytest.mark.slow)])
def test_forecast_feeds_predictions_back(name):
    """Closed loop: the whole-sequence model run on prime + its own forecast reproduces the forecast."""
    config = santa_fe_config.get_config(f"small_{name}")
    predictor = santa_fe.make_predictor(config)
    params = predictor.init(jax.random.key(1))
    prime = jax.random.normal(jax.random.key(2), (40, 1))
    got = jax.jit(lambda p, x: santa_fe.forecast(predictor, p, x, 6))(params, prime)  # [6]
    seq = jnp.concatenate([prime, got[:-1, None]], axis=0)  # prediction k is the input of step k + 1
    want = predictor.apply_batch(params, seq[None], deterministic=True)[0, 39:, 0]  # outputs at the last prime point and after
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("overrides, message", [
    ({"model.name": "esn"}, "no section model.esn"),
    ({"data.scaling": "minmax"}, "valid choices"),
    ({"data.val_points": 50}, "data.val_points"),
    ({"data.window": 20, "data.burn_in": 5}, "receptive field"),
    ({"data.burn_in": 10}, "receptive field - 1"),
    ({"data.burn_in": 48}, "smaller than data.window"),
    ({"model.name": "tcn", "model.tcn.conv_init": "xavier"}, "model.tcn.conv_init"),
])
def test_invalid_config_is_rejected(overrides, message):
    config = santa_fe_config.get_config("small")
    for field, value in overrides.items():
        *path, key = field.split(".")
        node = config
        for part in path:
            node = node[part]
        node[key] = value
    with pytest.raises(ConfigError, match=message):
        santa_fe.make_task(config)


def test_unknown_variant_lists_the_valid_ones():
    with pytest.raises(ValueError, match="small_lstm"):
        santa_fe_config.get_config("big")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["lstm", "gru", "tcn"])
def test_small_config_runs_for_every_model(name, tmp_path):
    config = santa_fe_config.get_config(f"small_{name}")
    results = train_and_evaluate(config, tmp_path, santa_fe.make_task(config, workdir=tmp_path))
    assert results["config"]["model"]["name"] == name
    assert np.isfinite(results["metrics"]["nmse_true_var"])
    assert (tmp_path / "plots" / f"santa_fe_{name}.png").exists()


def test_rollout_loss_is_the_closed_loop_error_of_the_whole_sequence_model():
    """data.rollout_steps=K: the extra loss is the MSE of K predictions fed back, computed here by re-running
    the teacher-forced model on prime + its own predictions (no streaming code), against the clean targets."""
    config = santa_fe_config.get_config("small")
    config.data.rollout_steps = K = 5
    config.data.input_noise = 0.0
    task = santa_fe.make_task(config)
    params = task.init_params(jax.random.key(0))
    batch = next(iter(task.train_iterator))
    _, metrics = task.loss_fn(params, batch, jax.random.key(1), True)
    predictor = santa_fe.make_predictor(config)
    xs, ys = np.asarray(batch["x"]), np.asarray(batch["y"])
    W = config.data.window
    errors = []
    for s in range(config.model.num_seeds):
        p = jax.tree.map(lambda a: a[s], params["seeds"])
        for b in range(xs.shape[0]):
            seq = xs[b, :W - K]
            for _ in range(K):
                nxt = predictor.apply_batch(p, jnp.asarray(seq)[None], deterministic=True)[0, -1]
                seq = np.concatenate([seq, np.asarray(nxt)[None]], axis=0)
            errors.append(np.mean((seq[W - K:, 0] - ys[b, W - K - 1:W - 1, 0]) ** 2))
    np.testing.assert_allclose(metrics["rollout_mse_mean_seed"], np.mean(errors), rtol=1e-4)
    # the targets are the true continuation: ys[t] = x[t + 1]
    np.testing.assert_array_equal(ys[:, W - K - 1:W - 1], xs[:, W - K:W])
    # and the gradient reaches the weights through the fed-back predictions
    plain_config = santa_fe_config.get_config("small")
    plain_config.data.input_noise = 0.0
    plain = santa_fe.make_task(plain_config)
    g_roll = jax.grad(lambda q: task.loss_fn(q, batch, jax.random.key(1), True)[0])(params)
    g_plain = jax.grad(lambda q: plain.loss_fn(q, batch, jax.random.key(1), True)[0])(params)
    diff = jax.tree.map(lambda a, b: float(jnp.max(jnp.abs(a - b))), g_roll, g_plain)
    assert max(jax.tree.leaves(diff)) > 1e-4


def test_rollout_longer_than_the_window_allows_is_rejected():
    config = santa_fe_config.get_config("small")
    config.data.rollout_steps = config.data.window - 10  # leaves 10 points, less than the receptive field 33
    with pytest.raises(ConfigError, match="data.rollout_steps"):
        santa_fe.make_task(config)
