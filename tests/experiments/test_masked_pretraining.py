"""MAE pretraining experiment: the small config end to end from the command line (pretrain, then fine-tune from
the saved encoder), config errors, and the shared few-label helpers (experiments/label_fractions.py)."""

import json
import subprocess
import sys
from pathlib import Path

import jax
import ml_collections
import numpy as np
import pytest

from experiments import label_fractions, masked_pretraining
from experiments.configs import masked_pretraining as config_lib
from seqmodels.training import ConfigError

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # ~40 s of CPU (three compiled training loops); test_pretrained_init_* covers the loading in-process
def test_small_config_runs_from_the_command_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "experiments.masked_pretraining", f"--workdir={tmp_path}",
                          "--config=experiments/configs/masked_pretraining.py:small"],
                         cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["table"]) == {"10%_scratch", "10%_pretrained"}
    for row in results["table"].values():
        assert row["num_labels"] == 39 and 0 <= row["test_accuracy_mean"] <= 1  # round(10% of each class)
    assert 0 < results["pretrain"]["metrics"]["loss"] < 10 * results["pretrain"]["reference"]["mse_predicting_zero"]
    for png in ("accuracy.png", "reconstructions.png"):
        assert (tmp_path / "plots" / png).stat().st_size > 0
    # the pretrained sub-run's encoder is the saved one, its read-out drawn from the key; scratch is random
    saved = np.load(tmp_path / "pretrain" / "encoder.npz")
    subs = masked_pretraining.sub_runs(config_lib.get_config("small"))
    params = masked_pretraining.make_task(subs["labels10pct_pretrained_seed0"], tmp_path / "x").init_params(
        jax.random.key(3))
    np.testing.assert_array_equal(params["backbone"]["proj"]["w"], saved["['proj']['w']"])
    scratch = masked_pretraining.make_task(subs["labels10pct_scratch_seed0"], tmp_path / "y").init_params(
        jax.random.key(3))
    assert not np.allclose(scratch["backbone"]["proj"]["w"], saved["['proj']['w']"])


def test_pretrained_init_starts_from_the_saved_encoder(tmp_path):
    subs = masked_pretraining.sub_runs(config_lib.get_config("small"))
    assert list(subs)[0] == "pretrain" and subs["pretrain"].num_steps == 10 and subs["pretrain"].stage == "pretrain"
    mae = masked_pretraining.build(subs["pretrain"])
    encoder = mae.init_encoder(jax.random.key(7))
    (tmp_path / "pretrain").mkdir()
    label_fractions.save_params(tmp_path / "pretrain" / "encoder.npz", encoder)
    task = masked_pretraining.make_task(subs["labels10pct_pretrained_seed0"], tmp_path / "labels10pct_pretrained_seed0")
    p1, p2 = task.init_params(jax.random.key(1)), task.init_params(jax.random.key(2))
    for a, b in zip(jax.tree.leaves(p1["backbone"]), jax.tree.leaves(encoder)):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(p1["readout"]["w"], p2["readout"]["w"])  # the read-out is drawn from the key


def test_bad_config_values_are_config_errors():
    for field, value, match in [("inits", ("random",), "inits"), ("fraction_num_steps", (10, 20), "fraction_num"),
                                ("model.mask_ratio", 0.95, "mask_ratio"), ("model.patch_size", 3, "patch_size")]:
        config = config_lib.get_config("small")
        with config.ignore_type():
            section, _, name = field.rpartition(".")
            (config[section] if section else config)[name] = value
        with pytest.raises(ConfigError, match=match):
            masked_pretraining.sub_runs(config)
    config = config_lib.get_config("small")
    config.inits = ("pretrained",)
    sub = masked_pretraining.sub_runs(config)["labels10pct_pretrained_seed0"]
    with pytest.raises(ConfigError, match="encoder.npz is missing"):
        masked_pretraining.make_task(sub, Path("/nonexistent/run/labels")).init_params(jax.random.key(0))


def test_sub_runs_seed_by_seed_with_their_steps_and_collect_by_hand():
    config = ml_collections.ConfigDict(dict(
        seed=0, seeds=(3, 4), inits=("a", "b"), num_steps=7, fraction_num_steps=(5, 9), batch_size=2,
        eval_every=0, checkpoint_every=5, model=dict(), optimizer=dict(name="adam", learning_rate=1e-3),
        data=dict(label_fractions=(0.1, 1.0))))
    subs = label_fractions.sub_runs(config, ("a", "b"))
    assert list(subs)[:4] == ["labels10pct_a_seed3", "labels10pct_b_seed3", "labels100pct_a_seed3",
                              "labels100pct_b_seed3"]
    assert subs["labels100pct_b_seed4"].num_steps == 9 and subs["labels10pct_a_seed4"].seed == 4
    assert subs["labels10pct_a_seed4"].data.label_fraction == 0.1
    results = {name: {"acc": 0.1 * i, "n": 10} for i, name in enumerate(subs)}  # seed 3: i, seed 4: i + 4
    table = label_fractions.collect(config, results, accuracy=lambda r: r["acc"], num_labels=lambda r: r["n"])
    entry = table["100%_b"]  # runs 3 and 7: accuracies 0.3 and 0.7
    assert entry["test_accuracy_mean"] == pytest.approx(0.5) and entry["test_accuracy_std"] == pytest.approx(0.2)
    assert label_fractions.row(entry) == ["100% (10)", "b", "50.0 +- 20.0"]
