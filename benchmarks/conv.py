"""Convolution benchmarks, in one run:

1. Training-step throughput of an 8-layer causal dilated stack (kernel 3,
   dilations 1, 2, ..., 128, 64 channels, ReLU; B=16, T=4096, float32): one
   step = forward, mean-squared loss, backward, plain SGD update, jitted.
   Cases: seqmodels `ConvStack` (vmapped single-example code), flax
   `nn.Conv(padding='CAUSAL')`, plain batched `lax.conv_general_dilated`
   (padding passed to the conv), and seqmodels' sum-of-shifted-matmuls path
   (`conv1d(impl="shifted")`: the default on accelerators, where it was 13x
   faster on an H200; 1.7x slower on the 2-core CPU). On CPU seqmodels' step
   compiles to the same optimised HLO as the plain-lax one (only source
   metadata differs); flax's adds a pad per layer and runs its backward
   input convolutions over the padded length, so differences between these
   three are small and, on a shared machine, mostly noise. `--dtypes=float32,bfloat16`
   times each case in each compute dtype (bfloat16: config.precision's policy,
   `common.in_dtype`); PyTorch's row (8 `nn.Conv1d` with left padding,
   benchmarks/torch_cases.py, under `torch.autocast` for bfloat16) runs in a
   subprocess under --torch_python (default: this interpreter if it has
   torch, else skipped).
2. Generating 16,000 samples with a WaveNet of receptive field 1,025
   (dilations 1..512, 16 residual / 16 dilation / 32 skip channels, 256
   mu-law levels): streaming with ring buffers (`WaveNet.generate`) against
   recomputing the receptive field at every step (`generate_reference`).
   The two must draw identical samples (asserted).

    python -m benchmarks.conv            # tables
    python -m benchmarks.conv --json     # one machine-readable JSON line
    python -m benchmarks.conv --quick    # smoke mode: small shapes, few samples
    python -m benchmarks.conv --dtypes=float32,bfloat16 --torch_python=VENV/bin/python   # + bf16, + torch

Compilation is excluded from every timing. On a shared machine, read the
ratios (each round times every case once; best round reported).
"""

import time

from absl import app, flags
import flax.linen as nn
import jax
import jax.numpy as jnp

from benchmarks import common
from seqmodels.conv import ConvStack, WaveNet, conv1d, cycle_dilations

flags.DEFINE_bool("json", False, "print one JSON line instead of the tables")
flags.DEFINE_bool("quick", False, "smoke mode: small shapes, few samples (seconds)")
flags.DEFINE_integer("repeats", 5, "timed rounds of the training steps (best reported)")
flags.DEFINE_list("dtypes", ["float32"], "compute dtypes of the training steps: float32, bfloat16")
flags.DEFINE_string("torch_python", None, "python of a venv with torch for the torch row (default: this one, "
                    "if it has torch; else it is skipped)")
FLAGS = flags.FLAGS

FULL = dict(batch=16, time=4096, channels=64, layers=8, kernel=3, samples=16000, max_exponent=9,
            wavenet_channels=(16, 16, 32))
QUICK = dict(batch=2, time=256, channels=16, layers=4, kernel=3, samples=200, max_exponent=5,
             wavenet_channels=(8, 8, 16))


# -- 1. training step of a causal dilated stack ------------------------------------------

def seqmodels_case(spec, key, x):
    params = spec.init(key)
    loss = lambda p, x, target: common.mse(jax.vmap(lambda x: spec.apply(p, x))(x), target)
    return params, loss


class FlaxStack(nn.Module):
    channels: int
    layers: int
    kernel: int

    @nn.compact
    def __call__(self, x):
        for l in range(self.layers):
            x = nn.relu(nn.Conv(self.channels, (self.kernel,), padding="CAUSAL", kernel_dilation=2 ** l)(x))
        return x


def flax_case(spec, key, x):
    module = FlaxStack(spec.channels[-1], len(spec.channels), spec.kernel_size)
    params = module.init(key, x[:1])
    return params, lambda p, x, target: common.mse(module.apply(p, x), target)


def lax_params(spec, key):
    return [{"kernel": 0.1 * jax.random.normal(k, (spec.kernel_size, c_in, c_out)), "bias": jnp.zeros(c_out)}
            for k, c_in, c_out in zip(jax.random.split(key, len(spec.channels)),
                                      (spec.in_channels,) + spec.channels[:-1], spec.channels)]


def lax_case(spec, key, x):
    def forward(params, x):  # [B, T, C]
        for p, d in zip(params, spec.dilations):
            pad = (spec.kernel_size - 1) * d
            x = jax.lax.conv_general_dilated(x, p["kernel"], (1,), [(pad, 0)], rhs_dilation=(d,),
                                             dimension_numbers=("NWC", "WIO", "NWC"))
            x = jax.nn.relu(x + p["bias"])
        return x

    return lax_params(spec, key), lambda p, x, target: common.mse(forward(p, x), target)


def shifted_matmul_case(spec, key, x):
    """seqmodels' `conv1d(impl="shifted")`, whatever the backend's default: y[t] = sum_w x_pad[t + w d] @ K[w]."""
    def forward(params, x):  # [B, T, C]
        for p, d in zip(params, spec.dilations):
            y = jax.vmap(lambda x: conv1d.conv1d(x, p["kernel"], padding="causal", dilation=d, impl="shifted"))(x)
            x = jax.nn.relu(y + p["bias"])
        return x

    return lax_params(spec, key), lambda p, x, target: common.mse(forward(p, x), target)


CASES = {"seqmodels": seqmodels_case, "flax": flax_case, "lax": lax_case,
         "shifted_matmuls": shifted_matmul_case}


def bench_training(cfg, repeats, dtypes=("float32",), torch_python=None):
    spec = ConvStack(cfg["channels"], (cfg["channels"],) * cfg["layers"], kernel_size=cfg["kernel"],
                     dilations=tuple(2 ** l for l in range(cfg["layers"])))
    kx, kt, kp = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(kx, (cfg["batch"], cfg["time"], cfg["channels"]))
    target = jax.random.normal(kt, x.shape)
    fns = {}
    for name, case in CASES.items():
        params, loss = case(spec, kp, x)
        for dtype in dtypes:
            step = common.sgd_step(common.in_dtype(loss, dtype)).lower(params, x, target).compile()
            fns[name, dtype] = (lambda step, params: lambda: step(params, x, target))(step, params)
    best = common.time_interleaved(fns, warmup=1, repeats=repeats)
    torch = common.torch_rows("conv", torch_python, dict(batch=cfg["batch"], time=cfg["time"],
                              channels=cfg["channels"], layers=cfg["layers"], kernel=cfg["kernel"],
                              repeats=repeats), list(dtypes))
    best.update({("torch", r["dtype"]): r["seconds"] for r in torch.get("rows", [])})
    tokens = cfg["batch"] * cfg["time"]
    rows = [{"case": name, "dtype": dtype, "ms/step": round(1e3 * s, 2), "tokens/s": round(tokens / s),
             "seqmodels speed-up": round(s / best["seqmodels", dtype], 3)} for (name, dtype), s in best.items()]
    for r in rows:  # bf16 against the same case in float32
        if r["dtype"] != "float32" and (r["case"], "float32") in best:
            r["speed vs float32"] = round(best[r["case"], "float32"] / best[r["case"], r["dtype"]], 2)
    vs_peer = {dtype: round(min(best[k, dtype] for k in ("flax", "lax")) / best["seqmodels", dtype], 3)
               for dtype in dtypes}
    return {"rows": rows, "receptive_field": spec.receptive_field, "torch": {k: v for k, v in torch.items()
                                                                             if k != "rows"},
            "seqmodels_vs_fastest_peer": vs_peer["float32"] if "float32" in vs_peer else vs_peer,
            "seqmodels_vs_fastest_peer_by_dtype": vs_peer}


# -- 2. WaveNet generation: streaming vs recomputing -------------------------------------

def bench_generation(cfg):
    res, dil, skip = cfg["wavenet_channels"]
    spec = WaveNet(num_classes=256, dilations=cycle_dilations(cfg["max_exponent"]), residual_channels=res,
                   dilation_channels=dil, skip_channels=skip)
    params = spec.init(jax.random.key(1))
    key, n = jax.random.key(2), cfg["samples"]
    timings, samples = {}, {}
    for name, fn in (("streaming", spec.generate), ("recompute", spec.generate_reference)):
        compiled = jax.jit(lambda p, k, fn=fn: fn(p, k, n)).lower(params, key).compile()
        t0 = time.perf_counter()
        samples[name] = jax.block_until_ready(compiled(params, key))
        timings[name] = time.perf_counter() - t0
    same = bool(jnp.array_equal(samples["streaming"], samples["recompute"]))
    assert same, "streaming and recomputing WaveNet generation drew different samples"
    return {"receptive_field": spec.receptive_field, "samples": n, "identical_samples": same,
            "streaming_s": round(timings["streaming"], 3), "recompute_s": round(timings["recompute"], 3),
            "streaming_samples_per_s": round(n / timings["streaming"]),
            "speedup": round(timings["recompute"] / timings["streaming"], 1)}


def run(quick: bool = False, repeats: int = 5, dtypes=("float32",), torch_python=None) -> dict:
    """Both benchmarks; returns the result dict (what --json prints)."""
    cfg = QUICK if quick else FULL
    return {"machine": common.machine(), "quick": quick, "config": cfg,
            "training": bench_training(cfg, 1 if quick else repeats, dtypes, torch_python),
            "generation": bench_generation(cfg)}


def main(argv):
    del argv
    result = run(FLAGS.quick, FLAGS.repeats, tuple(FLAGS.dtypes), common.torch_python(FLAGS.torch_python))
    if FLAGS.json:
        common.dump_json(result)
        return
    cfg, train, gen = result["config"], result["training"], result["generation"]
    print(f"# {result['machine']}")
    print(f"\n1. training step, {cfg['layers']}-layer causal dilated stack (kernel {cfg['kernel']}, "
          f"{cfg['channels']} channels, receptive field {train['receptive_field']}), "
          f"B={cfg['batch']}, T={cfg['time']}; torch: {train['torch'].get('status', train['torch'].get('torch'))}")
    common.print_table(train["rows"], ["case", "dtype", "ms/step", "tokens/s", "seqmodels speed-up",
                                       "speed vs float32"])
    print(f"seqmodels vs fastest peer (flax, lax): {train['seqmodels_vs_fastest_peer_by_dtype']}")
    print(f"\n2. WaveNet generation of {gen['samples']} samples, receptive field {gen['receptive_field']}")
    print(f"streaming {gen['streaming_s']} s ({gen['streaming_samples_per_s']} samples/s), "
          f"recompute {gen['recompute_s']} s: {gen['speedup']}x faster, "
          f"identical samples: {gen['identical_samples']}")


if __name__ == "__main__":
    app.run(main)
