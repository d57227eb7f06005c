"""The ListOps experiment: the command line, the models' padding, the reversed reading, the step cost."""

import json
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from experiments import listops, models
from experiments.configs import listops as listops_config
from seqmodels.data import batching, synthetic
from seqmodels.training import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def _run(tmp_path, names):
    proc = subprocess.run([sys.executable, "-m", "experiments.listops", f"--workdir={tmp_path}",
                           "--config=experiments/configs/listops.py:small", f"--config.model.names={names}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((tmp_path / "results.json").read_text())


def test_small_config_runs_from_the_command_line(tmp_path):
    results = _run(tmp_path, "lstm")
    row = results["models"]["lstm"]
    assert 0.0 <= row["test_accuracy"] <= 1.0 and row["num_params"] > 0
    assert row["step_ms"] > 0 and row["step_memory_mib"] > 0  # XLA's memory analysis of the train step
    assert results["reference"]["lra_accuracy_percent"]["transformer"] == 36.37
    assert "| lstm |" in (tmp_path / "summary.md").read_text()


@pytest.mark.slow
def test_every_model_of_the_small_config_runs(tmp_path):
    results = _run(tmp_path, listops_config.get_config("small").model.names)
    assert set(results["models"]) == {"transformer", *listops_config.ATTENTION_KINDS, "tcn", "lstm", "lstm_4k"}
    assert results["models"]["lstm_4k"]["steps"] == 9  # a section's own num_steps
    assert results["models"]["local"]["lra"] == 15.82 and results["models"]["strided"]["lra"] == 17.07


def _model(name, variant="small"):
    config = listops_config.get_config(variant)
    sub = models.sub_config(config, name, model_fields={"embed_dim": config.model.embed_dim})
    return listops.build_model(sub.model)


@pytest.mark.parametrize("name", ["transformer", "tcn", "lstm", *(pytest.param(kind, marks=pytest.mark.slow)
                                                                  for kind in listops_config.ATTENTION_KINDS)])
def test_padding_does_not_change_the_logits(name):
    """Each model reads only the valid tokens: the same expressions padded to 40 and to 64 give one answer."""
    model, _ = _model(name)
    data = synthetic.make_listops(0, 3, min_length=5, max_length=40)
    params = model.init(jax.random.key(1))
    logits = []
    for pad in (40, 64):
        b = batching.pad_batch([{"x": x} for x in data["x"]], pad_to=pad)
        logits.append(model.apply_batch(params, jnp.asarray(b["x"]), jnp.asarray(b["lengths"]), deterministic=True))
    assert logits[0].shape == (3, listops.NUM_CLASSES)
    np.testing.assert_allclose(logits[0], logits[1], rtol=1e-4, atol=1e-5)


def test_reverse_reads_each_expression_right_to_left():
    _, reverse = _model("lstm")
    assert reverse and not _model("transformer")[1]
    split = {"x": [np.array([12, 3, 4, 15], np.int32), np.array([5], np.int32)], "y": np.array([3, 4])}
    out = listops.reverse_each(split)
    np.testing.assert_array_equal(out["x"][0], [15, 4, 3, 12])  # "] 3 2 [MAX": the operator after its arguments
    np.testing.assert_array_equal(out["x"][1], [5])
    assert synthetic.listops_evaluate(split["x"][0]) == 3


def test_bad_reverse_and_unknown_fields_are_config_errors():
    config = listops_config.get_config("small").to_dict()
    config["model"].update(names="lstm", lstm=dict(hidden_size=4, reverse="yes"))
    with pytest.raises(ConfigError, match="model.lstm.reverse: expected True or False"):
        listops.sub_runs(ml_collections.ConfigDict(config))
    with pytest.raises(ConfigError, match="unknown field"):
        listops.build_model(ml_collections.ConfigDict({"name": "t", "embed_dim": 8,
                                                       "t": {"kind": "lstm", "hidden_size": 4, "windw": 3}}))


def test_majority_accuracy():
    data = {"train": {"y": np.array([2, 2, 7])}, "test": {"y": np.array([2, 7, 7, 2])}}
    assert listops.majority_accuracy(data) == 0.5


def test_step_cost_measures_a_training_step():
    config = listops_config.get_config("small")
    sub = models.sub_config(config, "transformer", model_fields={"embed_dim": config.model.embed_dim})
    model, _ = listops.build_model(sub.model)
    data = synthetic.make_listops(0, 4, min_length=5, max_length=20)
    batch = batching.pad_batch([{"x": x, "y": y} for x, y in zip(data["x"], data["y"])], pad_to=20)

    def loss_fn(params, batch, key, train):
        logits = model.apply_batch(params, batch["x"], batch["lengths"], key=key, deterministic=not train)
        return jnp.mean(jax.nn.logsumexp(logits, -1) - jnp.take_along_axis(logits, batch["y"][:, None], 1)), {}

    cost = listops.step_cost(sub, loss_fn, model.init(jax.random.key(0)), batch)
    assert cost["step_ms"] > 0 and cost["step_memory_mib"] >= cost["step_temp_mib"] > 0
