"""Training-step throughput of LSTM and GRU: seqmodels against flax, equinox and PyTorch.

    python -m benchmarks.rnn            # the table
    python -m benchmarks.rnn --json     # one machine-readable line
    python -m benchmarks.rnn --dtypes=float32,bfloat16 --torch_python=VENV/bin/python   # + bf16, + torch

One training step = forward over [B, T, D], mean-squared loss against a fixed
target, backward, and a plain SGD update, jitted, in ONE run so the ratios
compare like with like. Default shapes: B=32, T=256, D=64, H=256. bfloat16:
every JAX case under config.precision's policy (params and x cast to bf16
inside the loss, float32 master params and gradients: `common.in_dtype`),
PyTorch under `torch.autocast`. The torch rows (benchmarks/torch_cases.py)
run in a subprocess under --torch_python (default: this interpreter if it
has torch, else skipped), after the JAX cases.
"""

import functools

from absl import app, flags
import equinox as eqx
import flax.linen as nn
import jax
import jax.numpy as jnp

from benchmarks import common
from seqmodels import recurrence
from seqmodels.cells import GRU, LSTM
from seqmodels.recurrence import fused

flags.DEFINE_integer("batch", 32, "B")
flags.DEFINE_integer("time", 256, "T")
flags.DEFINE_integer("input", 64, "D")
flags.DEFINE_integer("hidden", 256, "H")
flags.DEFINE_integer("repeats", 10, "timed rounds; each round times every case once (best reported)")
flags.DEFINE_list("cases", [], "subset of case names to run (default: all)")
flags.DEFINE_enum("fused_settings", "auto", ["auto", "cpu", "gpu"],
                  "the fused kernels' tanh/chunk/unroll settings: auto = those of the backend it runs on; "
                  "cpu / gpu force one backend's (seqmodels.recurrence.fused.SETTINGS_BACKEND)")
flags.DEFINE_list("dtypes", ["float32"], "compute dtypes, each case in each: float32, bfloat16")
flags.DEFINE_string("torch_python", None, "python of a venv with torch for the torch rows (default: this one, "
                    "if it has torch; else they are skipped)")
flags.DEFINE_bool("json", False, "print one JSON line instead of the table")
FLAGS = flags.FLAGS

# -- seqmodels ----------------------------------------------------------------------

def seqmodels_case(cell, **rnn_options):
    """`RNN(cell).apply_batch`: the model boundary, which picks the fused kernel by default."""
    layer = recurrence.RNN(cell, **rnn_options)

    def build(key, xs):
        params = layer.init(key)

        def loss(params, xs, target):
            return common.mse(layer.apply_batch(params, xs)[1], target)

        return params, loss

    return build


# -- flax ---------------------------------------------------------------------------

def flax_case(cell_cls):
    def build(key, xs):
        model = nn.RNN(cell_cls(features=FLAGS.hidden))
        params = model.init(key, xs)

        def loss(params, xs, target):  # the carry in the compute dtype (flax would make it param_dtype)
            carry = model.cell.initialize_carry(jax.random.key(0), xs[:, 0].shape)
            return common.mse(model.apply(params, xs, initial_carry=jax.tree.map(
                lambda c: c.astype(xs.dtype), carry)), target)

        return params, loss

    return build


# -- equinox ------------------------------------------------------------------------

def equinox_case(kind):
    def build(key, xs):
        cls = {"lstm": eqx.nn.LSTMCell, "gru": eqx.nn.GRUCell}[kind]
        cell = cls(FLAGS.input, FLAGS.hidden, key=key)
        params, static = eqx.partition(cell, eqx.is_array)

        def run(params, x):  # x: [T, D]
            cell = eqx.combine(params, static)
            h0 = jnp.zeros((FLAGS.hidden,), x.dtype)
            carry0 = (h0, h0) if kind == "lstm" else h0

            def body(carry, x_t):
                carry = cell(x_t, carry)
                return carry, carry[0] if kind == "lstm" else carry

            return jax.lax.scan(body, carry0, x)[1]

        def loss(params, xs, target):
            return common.mse(jax.vmap(functools.partial(run, params))(xs), target)

        return params, loss

    return build


def cases():
    D, H = FLAGS.input, FLAGS.hidden
    lstm = LSTM(D, H)
    out = {
        "lstm/seqmodels": seqmodels_case(lstm),  # the fused kernel, hoisted or not by backend
        "lstm/seqmodels-fused-per-step": seqmodels_case(lstm, fused=True, hoist=False),
        "lstm/seqmodels-fused-hoisted": seqmodels_case(lstm, fused=True, hoist=True),
        "lstm/seqmodels-scan": seqmodels_case(lstm, fused=False, hoist=False),
        "lstm/seqmodels-scan-hoisted": seqmodels_case(lstm, fused=False, hoist=True),
        "lstm/flax-LSTMCell": flax_case(nn.LSTMCell),
        "lstm/flax-OptimizedLSTMCell": flax_case(nn.OptimizedLSTMCell),
        "lstm/equinox-LSTMCell": equinox_case("lstm"),
        "gru/flax-GRUCell": flax_case(nn.GRUCell),
        "gru/equinox-GRUCell": equinox_case("gru"),
    }
    gru = GRU(D, H)  # reset="after", as flax's and equinox's GRUCell
    out["gru/seqmodels"] = seqmodels_case(gru)
    out["gru/seqmodels-fused-per-step"] = seqmodels_case(gru, fused=True, hoist=False)
    out["gru/seqmodels-fused-hoisted"] = seqmodels_case(gru, fused=True, hoist=True)
    out["gru/seqmodels-scan"] = seqmodels_case(gru, fused=False, hoist=False)
    out["gru/seqmodels-scan-hoisted"] = seqmodels_case(gru, fused=False, hoist=True)
    return out


def main(argv):
    del argv
    B, T, D, H = FLAGS.batch, FLAGS.time, FLAGS.input, FLAGS.hidden
    if FLAGS.fused_settings != "auto":
        fused.SETTINGS_BACKEND = FLAGS.fused_settings
    kx, kt, kp = jax.random.split(jax.random.key(0), 3)
    xs = jax.random.normal(kx, (B, T, D))
    target = jax.random.normal(kt, (B, T, H))
    fns = {}
    for name, build in cases().items():
        if FLAGS.cases and name not in FLAGS.cases:
            continue
        params, loss = build(kp, xs)
        for dtype in FLAGS.dtypes:
            fns[name, dtype] = functools.partial(common.sgd_step(common.in_dtype(loss, dtype)), params, xs, target)
    best = common.time_interleaved(fns, repeats=FLAGS.repeats)
    torch = common.torch_rows("rnn", common.torch_python(FLAGS.torch_python), dict(
        batch=B, time=T, input=D, hidden=H, repeats=FLAGS.repeats), FLAGS.dtypes)
    best.update({(r["case"], r["dtype"]): r["seconds"] for r in torch.get("rows", [])})
    rows = [{"case": name, "dtype": dtype, "ms/step": round(1e3 * s, 1), "tokens/s": int(B * T / s)}
            for (name, dtype), s in best.items()]

    for family in ("lstm", "gru"):
        for dtype in FLAGS.dtypes:
            fam = [r for r in rows if r["case"].startswith(family + "/") and r["dtype"] == dtype]
            peers = [r for r in fam if "seqmodels" not in r["case"]]
            if not peers:
                continue
            best_peer = min(peers, key=lambda r: r["ms/step"])
            for r in fam:
                r["speed vs fastest peer"] = round(best_peer["ms/step"] / r["ms/step"], 2)
    for r in rows:  # bf16 against the same case in float32
        if r["dtype"] != "float32" and (r["case"], "float32") in best:
            r["speed vs float32"] = round(best[r["case"], "float32"] / best[r["case"], r["dtype"]], 2)

    if FLAGS.json:
        common.dump_json({"benchmark": "rnn", "machine": common.machine(),
                          "fused_settings": FLAGS.fused_settings, "shape": {"B": B, "T": T, "D": D, "H": H},
                          "rows": rows, "torch": {k: v for k, v in torch.items() if k != "rows"}})
    else:
        print(f"machine: {common.machine()}")
        print(f"training step (fwd + bwd + SGD), B={B} T={T} D={D} H={H}, "
              f"fused kernels' settings: {FLAGS.fused_settings}; torch: {torch.get('status', torch.get('torch'))}")
        common.print_table(rows, ["case", "dtype", "ms/step", "tokens/s", "speed vs fastest peer", "speed vs float32"])


if __name__ == "__main__":
    app.run(main)
