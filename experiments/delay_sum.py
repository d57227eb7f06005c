"""Delay-and-sum, the lecture's first sequence model: learn y(t) = x(t) + x(t-3).

    python -m experiments.delay_sum --workdir=workdirs/delay_sum

Three models train side by side on the same batches (their losses are
summed; no parameter is shared and Adam scales each one separately, so this
is the same as three runs):

  * tdnn  a 4-tap FIR filter (TDNN, seqmodels.conv.FIR): y(t) = sum_k w_k x(t-k) + b.
          It should learn w = [1, 0, 0, 1].
  * rnn4  a linear Elman RNN with 4 units and a dense read-out: the state can
          be a delay line [x(t), x(t-1), x(t-2), x(t-3)], so MSE -> 0.
  * rnn1  the same with 1 unit: h(t) = a h(t-1) + w x(t) is a single-pole
          filter; it cannot hold x(t-3) apart from x(t-1) and x(t-2).

results.json holds the test MSE of each model and the learned filter.
"""

import jax
import jax.numpy as jnp
import numpy as np

from experiments import launcher
from seqmodels import recurrence
from seqmodels.cells import Elman
from seqmodels.conv import FIR
from seqmodels.data import batching, synthetic
from seqmodels.nn import dense
from seqmodels.training import Task, validate

MODELS = ("all", "tdnn", "rnn")


def linear_rnn(hidden_size: int) -> recurrence.RNN:
    return recurrence.RNN(Elman(1, hidden_size, activation="identity"))


def make_task(config) -> Task:
    validate.choice("model.name", config.model.name, MODELS)
    validate.positive("model.taps", config.model.taps, integer=True)
    for h in config.model.hidden_sizes:
        validate.positive("model.hidden_sizes", h, integer=True)
    d = config.data
    for field in ("seq_len", "num_train", "num_test"):
        validate.positive(f"data.{field}", d[field], integer=True)
    validate.non_negative("data.delay", d.delay, integer=True)

    fir = FIR(1, 1, taps=config.model.taps)
    rnns = {f"rnn{h}": linear_rnn(h) for h in config.model.hidden_sizes}
    use_tdnn = config.model.name in ("all", "tdnn")
    use_rnns = config.model.name in ("all", "rnn")

    def init_params(key):
        params = {}
        k_fir, k_rnn = jax.random.split(key)
        if use_tdnn:
            params["tdnn"] = fir.init(k_fir)
        if use_rnns:
            for (name, rnn), k in zip(rnns.items(), jax.random.split(k_rnn, len(rnns))):
                k_cell, k_out = jax.random.split(k)
                params[name] = {"rnn": rnn.init(k_cell), "readout": dense.init(k_out, rnn.output_size, 1)}
        return params

    def predict(params, xs):  # xs [B, T, 1] -> {model: [B, T, 1]}
        out = {}
        if "tdnn" in params:
            out["tdnn"] = jax.vmap(lambda x: fir.apply(params["tdnn"], x))(xs)
        for name, rnn in rnns.items():
            if name in params:
                _, hs = rnn.apply_batch(params[name]["rnn"], xs)
                out[name] = dense.apply(params[name]["readout"], hs)
        return out

    def loss_fn(params, batch, key, train):
        del key, train
        preds = predict(params, batch["x"])
        mses = {f"mse_{name}": jnp.mean(jnp.square(y - batch["y"])) for name, y in preds.items()}
        return sum(mses.values()), mses

    def final_eval(params):
        params = jax.device_get(params)
        metrics = {}
        if "tdnn" in params:
            kernel = np.asarray(params["tdnn"]["kernel"][:, 0, 0])  # [W], tap k = delay k
            target = np.zeros_like(kernel)
            target[0] = 1.0
            if d.delay < len(kernel):
                target[d.delay] += 1.0
            metrics.update({f"tdnn_filter_tap{k}": float(w) for k, w in enumerate(kernel)})
            metrics["tdnn_bias"] = float(params["tdnn"]["bias"][0])
            metrics["tdnn_filter_max_error"] = float(np.abs(kernel - target).max())
        preds = predict(params, test["x"])
        print("\nmodel   test MSE    goal (lecture)")
        goals = {"tdnn": "filter [1, 0, 0, 1] to 1e-2", "rnn4": "MSE < 1e-4", "rnn1": "cannot (MSE stays high)"}
        for name, y in preds.items():
            print(f"{name:6s}  {float(np.mean((np.asarray(y) - test['y']) ** 2)):.3g}    {goals.get(name, '')}")
        if "tdnn" in params:
            print("tdnn filter: [" + ", ".join(f"{w:.4f}" for w in kernel) + "]")
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
