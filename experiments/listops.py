"""Long Range Arena ListOps (Tay et al. 2021): the value 0..9 of a long nested expression, for every model.

    python -m experiments.listops --workdir=workdirs/listops [--config.model.names=transformer,lstm]
    python -m experiments.listops --workdir=workdirs/listops_lra --config=experiments/configs/listops.py:lra

Data: seqmodels.data.synthetic.make_listops (LRA's generator draw for draw), e.g.
`[MAX 2 9 [MIN 4 7 ] 0 ]` = 9 with MIN, MAX, MED, SM (sum mod 10), depth <= data.max_depth, 2..max_args
arguments, data.min_length < T < data.max_length tokens; train / valid / test drawn together and disjoint.
Models: token ids -> embeddings E [16, model.embed_dim] (heads.Embedded) -> any registry model (experiments/
models.py) with a 10-class head; a section's `reverse=True` reads each expression right to left (the operator
after its arguments, as a stack machine evaluates it). Every section is one sub-run (<workdir>/<name>); the
reported parameters are those of the best validation loss. Each sub-run also measures its compiled training
step: milliseconds per step (median of a few steps after training) and XLA's memory analysis (arguments +
outputs + temporaries). The combined table, the LRA paper's figure beside each model, goes to
<workdir>/results.json and summary.md; narrative: results/listops/README.md.
"""

import functools
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from experiments import launcher, models, summarize as reporting, tasks
from seqmodels.data import batching, synthetic
from seqmodels.models import heads
from seqmodels.training import ConfigError, Task, optimizers, train_state, validate

NUM_CLASSES = 10
# Tay et al. 2021, Table 1, ListOps test accuracy (%), by the attention of a 4-layer Transformer.
LRA_REFERENCE = {"transformer": 36.37, "local": 15.82, "sparse_transformer": 17.07, "longformer": 35.63,
                 "linformer": 35.70, "reformer": 37.27, "sinkhorn": 33.67, "synthesizer": 36.99, "bigbird": 36.05,
                 "linear_transformer": 16.13, "performer": 18.01}
TIMED_STEPS = 5
OWN_FIELDS = ("reverse", "lra_name")  # a section's fields read here, not by the registry


# --------------------------------------------------------------------------- data


@tasks.cached_per_data_config
def load_data(config) -> dict:
    """{'train' | 'valid' | 'test': {'x': [N] int32 id arrays, 'y': [N]}}: one draw of distinct expressions."""
    d = config.data
    sizes = {s: validate.positive(f"data.num_{s}", d[f"num_{s}"], integer=True) for s in ("train", "valid", "test")}
    try:
        data = synthetic.make_listops(d.seed, sum(sizes.values()), min_length=d.min_length, max_length=d.max_length,
                                      max_depth=d.max_depth, max_args=d.max_args)
    except ValueError as e:
        raise ConfigError(f"data: {e}") from None
    out, start = {}, 0
    for split, n in sizes.items():
        out[split] = {"x": data["x"][start:start + n], "y": data["y"][start:start + n]}
        start += n
    return out


def reverse_each(split: dict) -> dict:
    return {"x": [x[::-1].copy() for x in split["x"]], "y": split["y"]}


def majority_accuracy(data: dict) -> float:
    """Test accuracy of always answering the most frequent training class."""
    guess = np.bincount(data["train"]["y"], minlength=NUM_CLASSES).argmax()
    return float(np.mean(data["test"]["y"] == guess))


# --------------------------------------------------------------------------- model and cost


def build_model(model_config, name: str | None = None):
    """(Embedded registry classifier, reverse) of section `name`. A section's own fields: `reverse` (read right
    to left), `lra_name` (its row of LRA_REFERENCE, default the section's name)."""
    name = name or model_config.name
    dim = validate.positive("model.embed_dim", model_config.embed_dim, integer=True)
    section = {k: v for k, v in models.section(model_config, name).items() if k not in OWN_FIELDS}
    reverse = model_config[name].get("reverse", False)
    if not isinstance(reverse, bool):
        raise ConfigError(f"model.{name}.reverse: expected True or False, got {reverse!r}")
    registry = ml_collections.ConfigDict({"name": name, name: section})
    inner = models.build(registry, models.Spec(input_size=dim, output_size=NUM_CLASSES, output="class"))
    return heads.Embedded(inner, len(synthetic.LISTOPS_VOCAB), dim), reverse


def step_cost(config, loss_fn, params, batch) -> dict:
    """ms per compiled training step (median of TIMED_STEPS) and XLA's memory analysis of that step (MiB)."""
    optimizer = optimizers.make_optimizer(config.optimizer, num_steps=config.num_steps)
    state = train_state.create_train_state(params, optimizer)
    step = train_state.make_train_step(loss_fn, optimizer, donate=False)
    batch = {k: jnp.asarray(v) for k, v in batch.items() if k != "valid"}
    key = jax.random.key(0)
    compiled = step.lower(state, batch, key).compile()
    jax.block_until_ready(compiled(state, batch, key))  # warm-up
    times = []
    for _ in range(TIMED_STEPS):
        start = time.perf_counter()
        jax.block_until_ready(compiled(state, batch, key))
        times.append(time.perf_counter() - start)
    cost = {"step_ms": 1000 * statistics.median(times)}
    mem = compiled.memory_analysis()
    if mem is not None:  # not every backend reports it
        parts = (mem.argument_size_in_bytes, mem.output_size_in_bytes, mem.temp_size_in_bytes)
        cost.update(step_memory_mib=sum(parts) / 2**20, step_temp_mib=mem.temp_size_in_bytes / 2**20)
    return cost


# --------------------------------------------------------------------------- task


def sub_runs(config) -> dict[str, ml_collections.ConfigDict]:
    """One sub-run per section of config.model.names (each built here, so a bad section stops the run before
    any data or training)."""
    subs = {}
    for name in models.names(config.model):
        sub = models.sub_config(config, name, model_fields={"embed_dim": config.model.embed_dim})
        build_model(sub.model)
        subs[name] = sub
    return subs


def make_task(config, workdir=None) -> Task:
    """The Task of one model (`config` is a sub-run's config)."""
    model, reverse = build_model(config.model)
    data = {s: reverse_each(v) if reverse else v for s, v in load_data(config).items()}
    L = config.data.max_length  # every batch padded to it: one compiled shape, as LRA
    validate.positive("data.max_length", L, integer=True)

    loss_fn = functools.partial(tasks.classification_loss, model)

    def batches(split):
        return lambda: batching.eval_batches(batching.ArraySource(data[split]), config.batch_size, pad_to=L)

    def final_eval(params):
        first = batching.pad_batch([{"x": x, "y": y} for x, y in zip(data["train"]["x"][:config.batch_size],
                                                                     data["train"]["y"][:config.batch_size])],
                                   pad_to=L)
        return {"num_params": models.num_params(params), **step_cost(config, loss_fn, params, first)}

    return Task(
        init_params=model.init,
        loss_fn=loss_fn,
        train_iterator=batching.TrainIterator(batching.ArraySource(data["train"]), config.batch_size,
                                              seed=config.seed, pad_to=L),
        eval_batches={"valid": batches("valid"), "test": batches("test")},
        final_eval=final_eval,
        reference={"lra_accuracy_percent": LRA_REFERENCE, "majority": majority_accuracy(load_data(config))},
    )


def combine(config, workdir, results: dict) -> dict:
    """The sub-runs -> <workdir>/results.json and summary.md: test accuracy, the LRA figure beside, cost."""
    table = {}
    for name, r in results.items():
        m = r["metrics"]
        table[name] = dict(test_accuracy=m["test_accuracy"], valid_accuracy=m["valid_accuracy"],
                           step_ms=m["step_ms"], step_memory_mib=m.get("step_memory_mib"),
                           num_params=int(m["num_params"]), steps=r["steps"]["last"],
                           params_from=r["steps"]["params_from"], train_seconds=r["timing"]["train_seconds"],
                           lra=LRA_REFERENCE.get(config.model[name].get("lra_name", name)))
    majority = next(iter(results.values()))["reference"]["majority"]
    combined = {"metrics": {f"test_accuracy_{n}": t["test_accuracy"] for n, t in table.items()},
                "models": table, "reference": {"lra_accuracy_percent": LRA_REFERENCE, "majority": majority},
                "config": config.to_dict(),
                "timing": {"train_seconds": sum(t["train_seconds"] for t in table.values())}}
    fmt = lambda v, f: "-" if v is None else format(v, f)  # noqa: E731
    rows = [[n, f"{100 * t['test_accuracy']:.2f}", fmt(t["lra"], ".2f"), f"{t['step_ms']:.0f}",
             fmt(t["step_memory_mib"], ".0f"), t["num_params"], t["steps"], f"{t['train_seconds']:.0f}"]
            for n, t in table.items()]
    if jax.process_index() == 0:
        curves = {n: reporting.eval_curve(Path(workdir) / n, "valid_accuracy") for n in table}
        reporting.plot_curves({n: (steps, [100 * v for v in values]) for n, (steps, values) in curves.items()},
                              Path(workdir) / "plots" / "valid_accuracy.png", ylabel="validation accuracy (%)",
                              title="ListOps: validation accuracy by model",
                              hlines={"majority class": 100 * majority,
                                      "LRA paper, Transformer": LRA_REFERENCE["transformer"]})
        reporting.write_summary(workdir, combined, title="ListOps", footer=f"Majority class: {100 * majority:.1f}%",
                                table=reporting.markdown_table(["model", "test acc %", "LRA paper %", "ms / step",
                                                                "step MiB", "params", "steps", "train s"], rows))
    return combined


if __name__ == "__main__":
    launcher.run(make_task, sub_runs=sub_runs, combine=combine)
