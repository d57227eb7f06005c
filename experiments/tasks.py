"""Task builders the experiments share (seqmodels.training.Task from data in memory)."""

import functools
import json
from pathlib import Path
from typing import Any, Callable

from experiments import models
from seqmodels.data import batching
from seqmodels.training import ConfigError, Task, losses


def example_weight(valid) -> dict:
    """{"weight": number of real examples} of an eval batch (its `valid` mask), so that the loop's mean over
    batches is the mean over examples even when filler copies complete the last batch; {} for train batches."""
    return {} if valid is None else {"weight": valid.sum()}


def classification_loss(model, params, batch, key, train: bool, *, with_lengths: bool = True) -> tuple:
    """The loss_fn of a classifier: (cross-entropy, {"accuracy", "weight"}) of `model.apply_batch(batch["x"],
    batch["lengths"])` (without lengths for fixed-size inputs: `with_lengths=False`) against batch["y"]; an eval
    batch's `valid` mask makes the filler copies that complete the last batch count for nothing."""
    lengths = batch.get("lengths") if with_lengths else None
    logits = model.apply_batch(params, batch["x"], lengths, key=key, deterministic=not train)  # [B, C]
    mask = batch.get("valid")
    return losses.cross_entropy(logits, batch["y"], mask), {
        "accuracy": losses.accuracy(logits, batch["y"], mask), **example_weight(mask)}


def cached_per_data_config(load: Callable) -> Callable:
    """Decorator: `load(config)` runs once per process for each `config.data` (its fields as JSON), so the
    sub-runs of a table (one model each, the same data config) share one data set."""
    memo = {}

    @functools.wraps(load)
    def cached(config):
        key = json.dumps(config.data.to_dict(), sort_keys=True)
        if key not in memo:
            memo[key] = load(config)
        return memo[key]

    return cached


def array_task(config: Any, model, loss_fn: Callable, train: dict, test: dict, reference: dict,
               valid: dict | None = None, **task_fields) -> Task:
    """The Task of an in-memory data set (arrays): shuffled train batches of config.batch_size, the
    whole test set for evaluation, the parameter count as a final metric. With a `valid` set, every
    evaluation covers both sets and names the metrics valid_<m> / test_<m> (the config's early
    stopping then watches a valid_ metric, which picks the reported checkpoint)."""
    num_train = len(next(iter(train.values())))
    if config.batch_size > num_train:
        raise ConfigError(f"batch_size: {config.batch_size} is more than the {num_train} training examples")

    def batches(data):
        return lambda: batching.eval_batches(batching.ArraySource(data), config.batch_size)

    return Task(
        init_params=model.init,
        loss_fn=loss_fn,
        train_iterator=batching.TrainIterator(batching.ArraySource(train), config.batch_size, seed=config.seed),
        eval_batches=batches(test) if valid is None else {"valid": batches(valid), "test": batches(test)},
        final_eval=lambda params: {"num_params": models.num_params(params)},
        reference=reference,
        **task_fields,
    )


def read_text_file(path: str, field: str) -> str:
    """The text of a user's plain UTF-8 file (e.g. tiny Shakespeare's input.txt); a missing, non-UTF-8 or empty
    file is a ConfigError naming the config `field` that gave it."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"{field}: {path!r} is not a file; give a plain UTF-8 text file "
                          f"(--config.{field}=input.txt)")
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{field}: {path!r} is not UTF-8 text (byte {e.start}: {e.reason}); convert it, e.g. "
                          f"`iconv -f latin1 -t utf-8`") from None
    if not text.strip():
        raise ConfigError(f"{field}: {path!r} is empty; give a plain text file with words in it")
    return text
