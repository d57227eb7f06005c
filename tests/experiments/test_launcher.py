"""The experiment shell, run as a user would: `python -m <experiment> --workdir=... --config...`.

A run SIGKILLed in the middle and started again with the same command ends
with bitwise the same parameters and metrics as a run that was never
interrupted; bad configs and changed models end with a clear message.
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from experiments import launcher
from seqmodels.training import checkpoint, optimizers, train_state, writers
from tests.experiments import tiny_experiment
from tests.experiments.configs import tiny_experiment as tiny_config

ROOT = Path(__file__).resolve().parents[2]
MODULE = "tests.experiments.tiny_experiment"


def _launch(workdir, *flags, kill_at=None):
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    env.pop("TINY_KILL_AT_STEP", None)
    if kill_at is not None:
        env["TINY_KILL_AT_STEP"] = str(kill_at)
    return subprocess.run([sys.executable, "-m", MODULE, f"--workdir={workdir}", *flags], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def _params(workdir):
    config = tiny_config.get_config()
    task = tiny_experiment.make_task(config)
    template = {"state": train_state.create_train_state(task.init_params(jax.random.key(0)),
                                                        optimizers.make_optimizer(config.optimizer)),
                "keys": {"train": jax.random.key(0), "eval": jax.random.key(0)}}
    restored, _ = checkpoint.load(Path(workdir) / "checkpoints", template)
    return jax.device_get(restored["state"].params)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("uninterrupted")
    result = _launch(workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir


def test_default_config_is_beside_the_experiment():
    path = launcher.default_config_path(tiny_experiment.__file__)
    assert path == Path(tiny_config.__file__)


def test_run_writes_results_and_logs_progress(uninterrupted):
    results = json.loads((uninterrupted / "results.json").read_text())
    assert set(results) >= {"metrics", "reference", "config"} and results["config"]["num_steps"] == 40
    assert results["metrics"]["loss"] < 0.5
    assert (uninterrupted / "plots" / "loss.png").exists()


def test_sigkill_then_restart_equals_uninterrupted(uninterrupted, tmp_path):
    # killed when asking for step 22's batch: the async save of step 20 may or may not be on disk
    killed = _launch(tmp_path, kill_at=22)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert not (tmp_path / "results.json").exists()
    restarted = _launch(tmp_path)
    assert restarted.returncode == 0, restarted.stderr[-3000:]
    assert "resumed from the checkpoint of step" in restarted.stderr
    jax.tree.map(lambda a, b: np.testing.assert_array_equal(a, b), _params(tmp_path), _params(uninterrupted))
    ours = json.loads((tmp_path / "results.json").read_text())
    theirs = json.loads((uninterrupted / "results.json").read_text())
    assert ours["metrics"] == theirs["metrics"]
    assert writers.read_jsonl(tmp_path / "metrics.jsonl") == writers.read_jsonl(uninterrupted / "metrics.jsonl")


def test_changed_model_is_a_clear_error(uninterrupted):
    result = _launch(uninterrupted, "--config.model.hidden=16")
    assert result.returncode == 1 and "model.hidden: 8 -> 16" in result.stderr  # the config differs
    result = _launch(uninterrupted, "--config.model.hidden=16", "--accept_config_changes=all")
    assert result.returncode == 1
    assert "does not fit the model" in result.stderr
    assert "state/params/hidden/w: checkpoint (4, 8) float32, model (4, 16) float32" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_values_are_rejected_with_choices(tmp_path):
    config = tiny_config.get_config()
    config.model.name = "transformer"
    with pytest.raises(ValueError, match=r"model.name: unknown value 'transformer'; valid choices: \['mlp'\]"):
        tiny_experiment.make_task(config)
    config = tiny_config.get_config()
    config.model.drop_rate = 1.5
    with pytest.raises(ValueError, match=r"model.drop_rate: expected a value in \[0.0, 1.0\), got 1.5"):
        tiny_experiment.make_task(config)
    # the same through the command line: a message and exit status 1, no traceback, nothing written
    result = _launch(tmp_path, "--config.optimizer.name=adamx", "--config.num_steps=5")
    assert result.returncode == 1
    assert "valid choices: ['adam', 'adamw', 'rmsprop', 'sgd']" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "checkpoints").exists()


def test_reevaluate_scores_the_kept_checkpoints_without_training(uninterrupted, tmp_path):
    before = (uninterrupted / "results.json").read_text()
    result = _launch(uninterrupted, "--reevaluate")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (uninterrupted / "results.json").read_text() == before  # nothing trained, nothing overwritten
    again = json.loads((uninterrupted / "reevaluation.json").read_text())
    results = json.loads(before)
    kept = checkpoint.kept_steps(uninterrupted / "checkpoints")
    assert kept and [int(s) for s in again["checkpoints"]] == kept
    assert again["best"]["step"] == results["steps"]["params_from"]
    for name, value in results["metrics"].items():  # the same evaluation code: the same figures
        assert again["best"]["metrics"][name] == pytest.approx(value, rel=1e-6), name
    evals = {r["step"]: r for r in writers.read_jsonl(uninterrupted / "metrics.jsonl") if r["split"] == "eval"}
    for step, metrics in again["checkpoints"].items():
        assert metrics["loss"] == pytest.approx(evals[int(step)]["loss"], rel=1e-6)
    other = _launch(uninterrupted, "--reevaluate", "--config.optimizer.learning_rate=0.5")  # not the run's config
    assert other.returncode == 1 and "Traceback" not in other.stderr
    assert "the config differs from the one the run in" in other.stderr
    assert "optimizer.learning_rate: ran 0.03, now 0.5" in other.stderr
    missing = _launch(tmp_path, "--reevaluate")
    assert missing.returncode == 1 and "holds no checkpoints to evaluate" in missing.stderr
    assert "Traceback" not in missing.stderr


def _config_variants():
    from experiments.configs import adding, chorales, copy_memory, mnist1d, santa_fe
    cases = [("delay_sum", v) for v in (None, "small", "cells", "small_cells")]
    cases += [("template", None), ("template", "small")]
    cases += [("mnist1d", v) for v in mnist1d.VARIANTS]
    cases += [("chorales", v) for v in chorales.VARIANTS]
    for name, module in (("adding", adding), ("copy_memory", copy_memory), ("santa_fe", santa_fe)):
        cases += [(name, m) for m in module.MODELS]
    return cases


@pytest.mark.parametrize("name,variant", _config_variants())
def test_every_experiment_config_takes_the_clip_norm_the_nan_message_suggests(name, variant):
    """The NaN guard tells the user to clip gradients with `optimizer.clip_norm`: the flag must parse
    (ml_collections refuses a field the config lacks) and reach the optimiser."""
    from absl import flags
    from ml_collections import config_flags

    path = str(ROOT / "experiments" / "configs" / f"{name}.py") + (f":{variant}" if variant else "")
    argv = ["prog", f"--config={path}", "--config.optimizer.clip_norm=2.5"]
    values = flags.FlagValues()
    config_flags.DEFINE_config_file("config", None, flag_values=values, sys_argv=argv)
    values(argv)
    assert values.config.optimizer.clip_norm == 2.5
    optimizers.make_optimizer(values.config.optimizer, num_steps=values.config.num_steps)  # accepted by the factory
