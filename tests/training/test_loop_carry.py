"""The loop's carried state (Task.train_carry): each train step gets the carry the previous one returned, the
first step (and a resumed run's first step) the initial one; evaluation and the metrics never see it."""

import json

import jax.numpy as jnp

from seqmodels.training import train_and_evaluate
from tests.training import tiny_task


def carrying_task(config):
    """The tiny task whose loss_fn also counts its steps in a carry [B] and reports the count it was given."""
    task = tiny_task.make_task(config)
    plain = task.loss_fn

    def loss_fn(params, batch, key, train):
        loss, metrics = plain(params, {k: v for k, v in batch.items() if k != "carry"}, key, train)
        if not train:
            assert "carry" not in batch
            return loss, metrics
        return loss, {**metrics, "carry_in": batch["carry"].mean(), "carry": batch["carry"] + 1.0}

    task.loss_fn, task.train_carry = loss_fn, lambda: jnp.zeros(config.batch_size)
    return task


def train_rows(workdir):
    rows = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r for r in rows if r["split"] == "train"}


def test_carry_is_passed_from_step_to_step_and_kept_across_a_resume(tmp_path):
    config = tiny_task.get_config()
    config.log_every, config.num_steps = 1, 12
    config.checkpoint_every = 6
    results = train_and_evaluate(config, tmp_path / "run", carrying_task(config))
    rows = train_rows(tmp_path / "run")
    assert [rows[s]["carry_in"] for s in range(1, 13)] == list(range(12))  # step s saw s - 1 earlier steps
    assert "carry" not in rows[1] and "carry" not in results["metrics"]

    config.num_steps = 6  # stop at the checkpoint of step 6, then resume to 12: the carry goes on from 6
    train_and_evaluate(config, tmp_path / "resumed", carrying_task(config))
    config.num_steps = 12
    train_and_evaluate(config, tmp_path / "resumed", carrying_task(config), accept_config_changes="safe")
    assert train_rows(tmp_path / "resumed") == rows  # every train record, as the uninterrupted run's
