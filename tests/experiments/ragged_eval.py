"""Shared by the adding and copy-memory tests: the loop's test metrics on a test set whose size is not a
multiple of the batch size, beside the model's outputs on the whole set (to compute the true means)."""

import jax
import numpy as np

from experiments import models
from seqmodels.training import evaluate, train_state


def outputs_and_metrics(experiment, config_module, make_data, spec, *, n=40):
    """n test sequences in batches of 32 (n=40: the last batch has 8 real ones and 24 filler copies) ->
    (model outputs [n, T, O] of all n, the test set, the loop's eval metrics)."""
    config = config_module.get_config("small")
    config.data.num_test = n
    task = experiment.make_task(config)
    model = models.build(config.model, spec)
    params = task.init_params(jax.random.key(1))
    test = make_data(config.data.seed + 1, n, seq_len=config.data.seq_len)
    metrics = evaluate(train_state.make_eval_step(task.loss_fn), params, task.eval_batches(), None)
    return np.asarray(model.apply_batch(params, test["x"], deterministic=True)), test, metrics
