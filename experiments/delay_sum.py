"""Delay-and-sum, the lecture's first sequence model: learn y(t) = x(t) + x(t-3).

    python -m experiments.delay_sum --workdir=workdirs/delay_sum
    python -m experiments.delay_sum --config=experiments/configs/delay_sum.py:cells --workdir=workdirs/delay_sum_cells

The models of `config.model.names` (sections of experiments/models.py's
registry) train side by side on the same batches: their losses are summed,
no parameter is shared and Adam scales each one separately, so this is the
same as one run per model. The default three:

  * tdnn  a 4-tap FIR filter: y(t) = sum_k w_k x(t-k) + b; it should learn w = [1, 0, 0, 1].
  * rnn4  a linear Elman RNN with 4 units and a dense read-out: the state can
          be a delay line [x(t), x(t-1), x(t-2), x(t-3)], so MSE -> 0.
  * rnn1  the same with 1 unit: h(t) = a h(t-1) + w x(t) is a single-pole
          filter; it cannot hold x(t-3) apart from x(t-1) and x(t-2).

`:cells` adds an MGU, a Jordan network and a peephole LSTM of 4 units.
results.json holds the test MSE of each model and the learned filter;
narrative and figures: results/delay_sum/README.md.
"""

import jax
import jax.numpy as jnp
import numpy as np

from experiments import launcher, models
from seqmodels.data import batching, synthetic
from seqmodels.models import heads
from seqmodels.training import Task, validate

FILTERS = ("fir",)  # linear filters: their keys come from the first half of the root key, their taps are reported
GOALS = {"tdnn": "filter [1, 0, 0, 1] to 1e-2", "rnn4": "MSE < 1e-4", "rnn1": "cannot (MSE stays high)"}


def make_task(config, workdir=None) -> Task:
    d = config.data
    for field in ("seq_len", "num_train", "num_test"):
        validate.positive(f"data.{field}", d[field], integer=True)
    validate.non_negative("data.delay", d.delay, integer=True)
    spec = models.Spec(input_size=1, output_size=1)
    nets = {name: models.build(config.model, spec, name) for name in models.names(config.model)}
    filters = [n for n in nets if models.section(config.model, n).get("kind", n) in FILTERS]
    others = [n for n in nets if n not in filters]

    def init_params(key):
        k_filters, k_others = jax.random.split(key)
        keys = {**dict(zip(filters, heads.split_parts(k_filters, len(filters)))),
                **dict(zip(others, jax.random.split(k_others, len(others)) if others else []))}
        return {name: nets[name].init(keys[name]) for name in nets}

    def predict(params, xs):  # xs [B, T, 1] -> {model: [B, T, 1]}
        return {name: net.apply_batch(params[name], xs, deterministic=True) for name, net in nets.items()}

    def loss_fn(params, batch, key, train):
        del key, train  # no dropout
        mses = {f"mse_{name}": jnp.mean(jnp.square(y - batch["y"])) for name, y in predict(params, batch["x"]).items()}
        return sum(mses.values()), mses

    def final_eval(params):
        params = jax.device_get(params)
        metrics = {}
        for name in filters:
            kernel = np.asarray(params[name]["backbone"]["kernel"][:, 0, 0])  # [W], tap k = delay k
            target = np.zeros_like(kernel)
            target[0] = 1.0
            if d.delay < len(kernel):
                target[d.delay] += 1.0
            metrics.update({f"{name}_filter_tap{k}": float(w) for k, w in enumerate(kernel)})
            metrics[f"{name}_bias"] = float(params[name]["backbone"]["bias"][0])
            metrics[f"{name}_filter_max_error"] = float(np.abs(kernel - target).max())
            print(f"{name} filter: [" + ", ".join(f"{w:.4f}" for w in kernel) + "]")
        print("\nmodel    test MSE    goal (lecture)")
        for name, y in predict(params, test["x"]).items():
            print(f"{name:8s} {float(np.mean((np.asarray(y) - test['y']) ** 2)):.3g}    {GOALS.get(name, '')}")
        return metrics

    train = synthetic.make_delay_sum(d.seed, d.num_train, seq_len=d.seq_len, delay=d.delay)
    test = synthetic.make_delay_sum(d.seed + 1, d.num_test, seq_len=d.seq_len, delay=d.delay)
    return Task(
        init_params=init_params,
        loss_fn=loss_fn,
        train_iterator=batching.TrainIterator(batching.ArraySource(train), config.batch_size, seed=config.seed),
        eval_batches=lambda: batching.eval_batches(batching.ArraySource(test), config.batch_size),
        final_eval=final_eval,
        reference={"lecture": "4-tap TDNN learns [1, 0, 0, 1]; 4-unit linear RNN MSE < 1e-4; 1-unit RNN cannot",
                   "goal_tdnn_filter_max_error": 1e-2, "goal_mse_rnn4": 1e-4},
    )


if __name__ == "__main__":
    launcher.run(make_task)
