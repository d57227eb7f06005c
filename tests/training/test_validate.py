"""Config checks: messages name the field, the value and the valid choices."""

import ml_collections
import pytest

from seqmodels.training import validate
from seqmodels.training.validate import ConfigError


def test_choice_and_lookup():
    registry = {"lstm": 1, "gru": 2}
    assert validate.lookup("model.name", "gru", registry) == 2
    with pytest.raises(ConfigError, match=r"model.name: unknown value 'lstmx'; valid choices: \['gru', 'lstm'\]"):
        validate.lookup("model.name", "lstmx", registry)
    with pytest.raises(ConfigError, match=r"data.name: unknown value 'mnist'; valid choices: \['adding', 'copy'\]"):
        validate.choice("data.name", "mnist", ("copy", "adding"))
    assert issubclass(ConfigError, ValueError)


@pytest.mark.parametrize("check, value, ok", [
    (validate.positive, 3, True), (validate.positive, 0, False), (validate.positive, -1.5, False),
    (validate.positive, float("nan"), False), (validate.positive, True, False), (validate.positive, "3", False),
    (validate.non_negative, 0, True), (validate.non_negative, -1, False),
])
def test_numbers(check, value, ok):
    if ok:
        assert check("f", value) == value
    else:
        with pytest.raises(ConfigError, match=r"f: expected a (positive|non-negative) number, got"):
            check("f", value)


def test_integer_and_range():
    with pytest.raises(ConfigError, match="model.hidden: expected a positive integer, got 2.5"):
        validate.positive("model.hidden", 2.5, integer=True)
    assert validate.in_range("p", 0.0, 0.0, 1.0, high_open=True) == 0.0
    with pytest.raises(ConfigError, match=r"p: expected a value in \[0.0, 1.0\), got 1.0"):
        validate.in_range("p", 1.0, 0.0, 1.0, high_open=True)


def test_train_config():
    config = ml_collections.ConfigDict({"seed": 0, "num_steps": 10, "batch_size": 8, "eval_every": 0,
                                        "checkpoint_every": 5, "model": {},
                                        "optimizer": {"name": "sgd", "learning_rate": 0.1}})
    validate.train_config(config)
    config.seed = -1
    with pytest.raises(ConfigError, match="seed: expected a non-negative integer, got -1"):
        validate.train_config(config)
    config.seed = 0
    config.optimizer.learning_rate = -0.1
    with pytest.raises(ConfigError, match="learning_rate: expected a positive number, got -0.1"):
        validate.train_config(config)
