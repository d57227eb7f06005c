"""Reject bad configs at start-up, with the valid choices in the message.

Experiments call these on their own fields before building anything:

    validate.choice("data.scaling", d.scaling, SCALINGS)       # SCALINGS: dict or sequence of names
    cell = validate.lookup("model.lstm.kind", kind, CELLS)       # choice + registry[name]
    validate.positive("data.seq_len", d.seq_len, integer=True)
    validate.in_range("model.tcn.drop_rate", rate, 0.0, 1.0, high_open=True)

and `train_config(config)` checks the fields every experiment shares. Every
failure is a `ConfigError` (a ValueError) whose message names the field, the
value received and what was expected.
"""

import math
from typing import Any, Iterable, Mapping

from seqmodels.training import early_stopping, optimizers

__all__ = ["ConfigError", "choice", "lookup", "positive", "non_negative", "in_range", "train_config"]


class ConfigError(ValueError):
    """A config field has a value the code cannot run with."""


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def choice(field: str, value: Any, choices: Iterable[Any]) -> Any:
    """`value` if it is one of `choices` (a sequence, or a dict's keys), else ConfigError listing them."""
    choices = list(choices.keys() if isinstance(choices, Mapping) else choices)
    if value not in choices:
        raise ConfigError(f"{field}: unknown value {value!r}; valid choices: {sorted(map(str, choices))}")
    return value


def lookup(field: str, name: str, registry: Mapping[str, Any]) -> Any:
    """registry[name], or ConfigError listing the registered names."""
    return registry[choice(field, name, registry)]


def positive(field: str, value: Any, *, integer: bool = False) -> Any:
    """A number > 0 (an int if `integer`)."""
    if not _is_number(value) or (integer and not isinstance(value, int)) or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{field}: expected a positive {'integer' if integer else 'number'}, got {value!r}")
    return value


def non_negative(field: str, value: Any, *, integer: bool = False) -> Any:
    """A number >= 0 (an int if `integer`)."""
    if not _is_number(value) or (integer and not isinstance(value, int)) or not math.isfinite(value) or value < 0:
        raise ConfigError(f"{field}: expected a non-negative {'integer' if integer else 'number'}, got {value!r}")
    return value


def in_range(field: str, value: Any, low: float, high: float, *, high_open: bool = False) -> Any:
    """low <= value <= high (or < high with `high_open`)."""
    ok = _is_number(value) and low <= value and (value < high if high_open else value <= high)
    if not ok:
        raise ConfigError(f"{field}: expected a value in [{low}, {high}{')' if high_open else ']'}, got {value!r}")
    return value


TRAIN_FIELDS = ("seed", "num_steps", "batch_size", "eval_every", "checkpoint_every", "model", "optimizer")


def train_config(config: Any) -> None:
    """The fields `train_and_evaluate` reads: required ones, then the optional ones if present."""
    missing = [f for f in TRAIN_FIELDS if f not in config]
    if missing:
        raise ConfigError(f"config: missing field(s) {missing}; every experiment config needs {list(TRAIN_FIELDS)}")
    if not isinstance(config.seed, int) or isinstance(config.seed, bool) or config.seed < 0:
        raise ConfigError(f"seed: expected a non-negative integer, got {config.seed!r}")
    positive("num_steps", config.num_steps, integer=True)
    positive("batch_size", config.batch_size, integer=True)
    non_negative("eval_every", config.eval_every, integer=True)  # 0: evaluate only at the end
    positive("checkpoint_every", config.checkpoint_every, integer=True)
    for field in ("log_every", "keep_checkpoints"):
        if config.get(field) is not None:
            positive(field, config[field], integer=True)
    if config.get("num_devices"):
        positive("num_devices", config.num_devices, integer=True)
    try:
        optimizers.make_schedule(config.optimizer, num_steps=config.num_steps)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    stopping = config.get("early_stopping")
    if stopping is not None:
        try:
            early_stopping.EarlyStopping(**dict(stopping.items()))
        except (TypeError, ValueError) as e:
            raise ConfigError(f"early_stopping: {e}; fields are metric, mode ({list(early_stopping.MODES)}), "
                              f"patience, min_delta") from None
