"""The MNIST-1D experiment: the small config trains several models end to end and writes one table."""

import json
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import launcher, mnist1d, models
from experiments.configs import mnist1d as mnist1d_config
from seqmodels.training import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def run_experiment(config, workdir):
    return launcher.run_experiment(config, workdir, mnist1d.make_task, sub_runs=mnist1d.sub_runs,
                                   combine=mnist1d.combine)


def build(config, name):
    """The model `name` of a (full) config, as its sub-run builds it."""
    return models.build(mnist1d.sub_runs(config)[name].model, mnist1d._spec(40))


@pytest.fixture(scope="module")
def small_data():
    return mnist1d.load_data(mnist1d_config.get_config("small"))


def test_small_config_trains_every_model_and_writes_combined_results(tmp_path, small_data, monkeypatch):
    config = mnist1d_config.get_config("small")
    monkeypatch.setattr(mnist1d, "load_data", lambda config: small_data)  # generate once per test module
    results = run_experiment(config, tmp_path)
    names = models.names(config.model)
    assert list(results["models"]) == names
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["metrics"] == results["metrics"]
    for name in names:
        m = results["models"][name]
        assert 0.0 <= m["test_accuracy"] <= 1.0 and np.isfinite(m["test_loss"]), name
        assert m["steps"] == config.num_steps and m["num_params"] > 0 and m["train_seconds"] > 0
        sub = json.loads((tmp_path / name / "results.json").read_text())
        assert sub["config"]["model"]["name"] == name
        assert sub["metrics"]["accuracy"] == m["test_accuracy"]
        train = [r for r in map(json.loads, (tmp_path / name / "metrics.jsonl").read_text().splitlines())
                 if r["split"] == "train"]
        assert train[-1]["loss"] < train[0]["loss"], name  # 20 steps already help
    assert results["metrics"]["test_accuracy_gru"] > 0.2  # chance is 0.1
    assert results["reference"]["published_plain"]["cnn"] == 0.94
    assert results["reference"]["published_shuffled"]["gru"] == 0.57
    assert results["models"]["gru"]["published"] == 0.91 and results["models"]["logistic"]["published"] == 0.32
    assert (tmp_path / "plots" / "accuracy.png").stat().st_size > 0

    # Started again on the same workdir: every model is found finished, same numbers.
    again = run_experiment(config, tmp_path)
    assert again["metrics"] == results["metrics"]

    # --reevaluate: every model's kept checkpoints re-scored in its sub-workdir, nothing trained
    rescored = launcher.run_experiment(config, tmp_path, mnist1d.make_task, sub_runs=mnist1d.sub_runs,
                                       combine=mnist1d.combine, reevaluate=True)
    assert set(rescored) == set(names)
    for name in names:
        again = json.loads((tmp_path / name / "reevaluation.json").read_text())
        assert again["checkpoints"][str(config.num_steps)]["accuracy"] == results["models"][name]["test_accuracy"]


def test_every_model_builds_and_gives_logits_shapes(small_data):
    """All eight families (the small config trains three) trace to [B, 10] logits and a scalar loss."""
    config = mnist1d_config.get_config()
    batch = {"x": small_data["train"]["x"][:4], "y": small_data["train"]["y"][:4]}
    subs = mnist1d.sub_runs(config)
    for name in models.names(config.model):
        task = mnist1d.make_task(subs[name])
        params = jax.eval_shape(task.init_params, jax.random.key(0))
        loss, metrics = jax.eval_shape(lambda p: task.loss_fn(p, batch, jax.random.key(1), True), params)
        assert loss.shape == () and metrics["accuracy"].shape == (), name


@pytest.mark.slow
def test_every_model_gives_finite_logits(small_data):
    config = mnist1d_config.get_config()
    batch = {"x": small_data["train"]["x"][:4], "y": small_data["train"]["y"][:4]}
    for name in models.names(config.model):
        model = build(config, name)
        logits = model.apply_batch(model.init(jax.random.key(0)), batch["x"], deterministic=True)
        assert logits.shape == (4, 10) and np.all(np.isfinite(logits)), name


def test_published_cnn_shapes():
    """The paper's CNN: 40 -> 20 -> 10 -> 5 frames x 25 channels, flattened into 125 features."""
    params = jax.eval_shape(build(mnist1d_config.get_config(), "cnn").init, jax.random.key(0))
    assert params["readout"]["w"].shape == (125, 10)
    gru = build(mnist1d_config.get_config(), "gru").init
    assert jax.eval_shape(gru, jax.random.key(0))["readout"]["w"].shape == (40 * 12, 10)  # bidirectional 6, flattened


def test_torch_init_has_pytorchs_parameters_and_folds_the_second_bias():
    """Parameter counts printed by the paper's notebook for its PyTorch models (nn.GRU keeps b_ih and b_hh):
    ConvBase 5210, GRUBase 5134, MLPBase 15210, LinearBase 410."""
    config = mnist1d_config.get_config("shuffled")
    count = lambda p: sum(x.size for x in jax.tree.leaves(p))
    for name, published in (("cnn", 5210), ("gru", 5134), ("mlp", 15210), ("logistic", 410)):
        init = build(config, name).init
        assert count(jax.eval_shape(init, jax.random.key(0))) == published, name
    model = build(config, "gru")
    apply = lambda p, xs: model.apply_batch(p, xs, deterministic=True)  # noqa: E731
    params = model.init(jax.random.key(0))
    body = params["backbone"]
    b_hh = body["b_hh"]["layers"][0]["forward"]["b_hh"]
    assert b_hh.shape == (12,) and float(jnp.abs(b_hh).max()) <= 6 ** -0.5 and float(jnp.abs(b_hh).min()) > 0
    # the extra biases act as additions to b (r and z gates only): folding them in by hand gives the same logits
    folded = jax.tree.map(lambda x: x, body["rnn"])
    for d in ("forward", "backward"):
        cell = folded["layers"][0][d]
        cell["b"] = cell["b"].at[:12].add(body["b_hh"]["layers"][0][d]["b_hh"])
    xs = jax.random.normal(jax.random.key(1), (3, 40, 1))
    no_extra = dict(params, backbone={"rnn": folded, "b_hh": jax.tree.map(jnp.zeros_like, body["b_hh"])})
    want = apply(no_extra, xs)
    np.testing.assert_allclose(apply(params, xs), want, rtol=1e-6, atol=1e-6)
    assert not np.allclose(apply(dict(params, backbone=dict(body, b_hh=no_extra["backbone"]["b_hh"])), xs), want,
                           atol=1e-4)


def test_variants_and_overrides():
    shuffled = mnist1d_config.get_config("shuffled")
    assert shuffled.data.shuffle and models.names(shuffled.model) == mnist1d_config.ALL_MODELS.split(",")
    plain = mnist1d_config.get_config()
    assert (plain.optimizer.learning_rate, plain.batch_size, plain.num_steps) == (1e-2, 100, 6000)
    demo = mnist1d_config.get_config("demo")
    assert {"mlp", "cnn", "gru", "tcn", "transformer"} <= set(models.names(demo.model))
    config = mnist1d_config.get_config()
    config.model.tcn.num_steps = 123
    config.model.tcn.optimizer = {"learning_rate": 2e-3}
    subs = mnist1d.sub_runs(config)
    assert subs["tcn"].num_steps == 123 and subs["tcn"].optimizer.learning_rate == 2e-3
    assert subs["tcn"].optimizer.name == "adam" and subs["cnn"].num_steps == 6000
    with pytest.raises(ValueError, match="valid variants"):
        mnist1d_config.get_config("nope")


@pytest.mark.parametrize("field, value, match", [
    ("names", "cnn,resnet", "no section model.resnet"),
    ("names", "cnn,cnn", "twice"),
    ("names", "", "at least one"),
    ("cnn.padding", "full", "valid choices"),
    ("transformer.patch_size", 3, "does not divide"),
    ("gru.hidden_size", 0, "positive integer"),
])
def test_invalid_config_rejected_before_training(tmp_path, field, value, match):
    config = mnist1d_config.get_config("small")
    config.model.names = "cnn,gru,transformer"
    section, _, key = field.rpartition(".")
    (config.model[section] if section else config.model)[key] = value
    with pytest.raises(ConfigError, match=match):
        run_experiment(config, tmp_path)
    assert not (tmp_path / "cnn").exists()  # nothing trained


def test_command_line_rejects_unknown_model_cleanly(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.mnist1d", f"--workdir={tmp_path}",
         "--config=experiments/configs/mnist1d.py:small", "--config.model.names=cnn,rnn9"],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "error: model.name(s): 'rnn9' has no section model.rnn9" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_validation_split_holds_out_the_end_of_train(small_data):
    config = mnist1d_config.get_config("small")
    config.data.num_validation = 100
    data = mnist1d.load_data(config)
    assert len(data["train"]["y"]) == 300 and len(data["eval"]["y"]) == 100 and len(data["test"]["y"]) == 100
    np.testing.assert_array_equal(data["eval"]["x"], small_data["train"]["x"][300:])
    np.testing.assert_array_equal(data["test"]["x"], small_data["test"]["x"])


def test_unknown_batch_order_rejected_before_training(tmp_path):
    config = mnist1d_config.get_config("small")
    config.data.batch_order = "random"
    with pytest.raises(ConfigError, match="data.batch_order"):
        run_experiment(config, tmp_path)
    assert not any((tmp_path / name).exists() for name in ("cnn", "mlp", "gru", "logistic"))


def test_shuffled_uses_the_notebook_permutation_and_rejects_unknown_ones():
    config = mnist1d_config.get_config("shuffled")
    assert config.data.shuffle and config.data.permutation == "notebook"
    config.data.num_samples = 200
    config.data.permutation = "random"
    with pytest.raises(ConfigError, match="data.permutation"):
        mnist1d.load_data(config)
