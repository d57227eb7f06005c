"""A tiny regression task and an in-test data iterator with the train-iterator contract.

y = tanh(x A) b + noise, x: [D_IN]; the model is a one-hidden-layer MLP with
dropout (so the step's PRNG key matters). Shared by tests/training and
tests/experiments.
"""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from seqmodels.nn import dense, dropout
from seqmodels.training import Task, losses

D_IN, HIDDEN = 4, 8


class ArrayIterator:
    """Endless batches of a dataset, reshuffled each epoch; state = seed, epoch, position."""

    def __init__(self, data: dict, batch_size: int, seed: int):
        self.data, self.batch_size, self.seed = data, batch_size, seed
        self.size = len(next(iter(data.values())))
        self.epoch, self.position = 0, 0

    def __iter__(self):
        return self

    def __next__(self) -> dict:
        if self.position + self.batch_size > self.size:
            self.epoch, self.position = self.epoch + 1, 0
        order = np.random.default_rng([self.seed, self.epoch]).permutation(self.size)
        idx = order[self.position:self.position + self.batch_size]
        self.position += self.batch_size
        return {k: v[idx] for k, v in self.data.items()}

    def get_state(self) -> dict:
        return {"seed": self.seed, "epoch": self.epoch, "position": self.position}

    def set_state(self, state: dict) -> None:
        self.seed, self.epoch, self.position = state["seed"], state["epoch"], state["position"]


def make_data(n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    a = np.random.default_rng(123).normal(size=(D_IN, 3))
    x = rng.normal(size=(n, D_IN)).astype(np.float32)
    y = (np.tanh(x @ a) @ np.ones((3, 1)) + 0.05 * rng.normal(size=(n, 1))).astype(np.float32)
    return {"x": x, "y": y}


def get_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0
    config.num_steps = 40
    config.batch_size = 16
    config.eval_every = 10
    config.checkpoint_every = 10
    config.log_every = 5
    config.model = ml_collections.ConfigDict({"hidden": HIDDEN, "drop_rate": 0.1})
    config.optimizer = ml_collections.ConfigDict({"name": "adam", "learning_rate": 0.03})
    return config


def make_task(config, *, nan_at_step: int | None = None, crash_at_step: int | None = None) -> Task:
    """The task; with `nan_at_step`, the loss becomes NaN from that (1-based) step on;
    with `crash_at_step`, asking for that step's batch raises RuntimeError (a simulated crash)."""

    def init_params(key):
        k1, k2 = jax.random.split(key)
        return {"hidden": dense.init(k1, D_IN, config.model.hidden), "out": dense.init(k2, config.model.hidden, 1)}

    def loss_fn(params, batch, key, train):
        h = jnp.tanh(dense.apply(params["hidden"], batch["x"]))  # [B, H]
        h = dropout.apply(h, config.model.drop_rate, key=key, deterministic=not train)
        pred = dense.apply(params["out"], h)  # [B, 1]
        loss = losses.mean_squared_error(pred, batch["y"])
        if nan_at_step is not None and train:
            step = jnp.asarray(batch["step"][0])
            loss = jnp.where(step >= nan_at_step, jnp.nan, loss)
        return loss, {"mae": jnp.mean(jnp.abs(pred - batch["y"]))}

    data = make_data(256, seed=1)
    iterator = StepIterator(ArrayIterator(data, config.batch_size, seed=config.seed), crash_at_step,
                            tag=nan_at_step is not None)
    test = make_data(64, seed=3)

    def final_eval(params):  # on host, with numpy params
        loss, _ = loss_fn(params, test, None, False)
        return {"test_mse": float(loss)}

    return Task(init_params=init_params, loss_fn=loss_fn, train_iterator=iterator,
                eval_batches=[make_data(64, seed=2)], final_eval=final_eval,
                summarize=lambda m: {**m, "rmse": float(np.sqrt(m["loss"]))}, reference={"loss": 0.0})


class StepIterator:
    """Counts steps; can add the 1-based step number to each batch, or crash at a step."""

    def __init__(self, inner: ArrayIterator, crash_at: int | None = None, tag: bool = False):
        self.inner, self.count, self.crash_at, self.tag = inner, 0, crash_at, tag

    def __iter__(self):
        return self

    def __next__(self):
        self.count += 1
        if self.count == self.crash_at:
            raise RuntimeError(f"simulated crash at step {self.count}")
        batch = next(self.inner)
        if self.tag:
            batch = {**batch, "step": np.full((len(batch["x"]),), self.count, np.int32)}
        return batch

    def get_state(self):
        return {**self.inner.get_state(), "count": self.count}

    def set_state(self, state):
        self.count = state["count"]
        self.inner.set_state(state)
