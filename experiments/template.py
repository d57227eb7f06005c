"""Template: which of K frequencies is a noisy sinusoid? (copy this file to start an experiment).

    python -m experiments.template --workdir=workdirs/template [--config.model.name=lstm]

x(t) = sin(2 pi f t / T + phase) + noise, f one of `data.num_classes`
frequencies; the label is f's index. Any model of the registry
(experiments/models.py) reads the sequence and a SequenceClassifier pools
it into class logits. The whole experiment is the data, the loss and the
Task; the shell gives checkpoints, resuming, metrics, plots, clean errors.
"""

import numpy as np

from experiments import launcher, models, tasks
from seqmodels.training import Task, losses, validate


def make_sinusoids(seed: int, n: int, seq_len: int, num_classes: int, noise: float) -> dict:
    rng = np.random.default_rng(seed)
    y = rng.integers(num_classes, size=n)
    t = np.arange(seq_len)
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1))
    x = np.sin(2 * np.pi * (y[:, None] + 1) * t / seq_len + phase) + noise * rng.standard_normal((n, seq_len))
    return {"x": x[..., None].astype(np.float32), "y": y.astype(np.int32)}  # x [N, T, 1], y [N]


def make_task(config, workdir=None) -> Task:
    d = config.data
    for field in ("seq_len", "num_classes", "num_train", "num_test"):
        validate.positive(f"data.{field}", d[field], integer=True)
    model = models.build(config.model, models.Spec(input_size=1, output_size=d.num_classes, output="class",
                                                   seq_len=d.seq_len))

    def loss_fn(params, batch, key, train):
        logits = model.apply_batch(params, batch["x"], key=key, deterministic=not train)  # [B, K]
        mask = batch.get("valid")  # eval batches: filler copies that complete the last batch count for nothing
        return losses.cross_entropy(logits, batch["y"], mask), {
            "accuracy": losses.accuracy(logits, batch["y"], mask), **tasks.example_weight(mask)}

    train, test = (make_sinusoids(d.seed + i, n, d.seq_len, d.num_classes, d.noise)
                   for i, n in enumerate((d.num_train, d.num_test)))
    return tasks.array_task(config, model, loss_fn, train, test, reference={"chance": 1 / d.num_classes})


if __name__ == "__main__":
    launcher.run(make_task)
