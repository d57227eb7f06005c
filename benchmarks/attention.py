"""Causal self-attention, forward + backward: speed and peak memory against peer implementations.

    python -m benchmarks.attention                      # T = 1K .. 16K, B=8, N=8 heads, K=64
    python -m benchmarks.attention --lengths 1024,2048  # chosen lengths
    python -m benchmarks.attention --quick              # a short trial run (B=2, T = 512, 1024)
    python -m benchmarks.attention --json               # one JSON object per case on stdout
    python -m benchmarks.attention --lengths 2048 --methods seqmodels_blockwise,torch_sdpa \
        --torch_python=/path/to/venv/bin/python --rounds 3   # against PyTorch, best of 3 interleaved rounds
    python -m benchmarks.attention --model --lengths 1024,2048   # a Transformer classifier's training step
                                                                 # with each attention kind (MODEL_KINDS)

Each (method, T) case runs in its own subprocess, so its peak memory
(VmHWM of /proc/self/status, the resident high-water mark) is its own. A
case jits value_and_grad of sum(attention(q, k, v) * g) over a batch
[B, T, N, K] (vmap for the seqmodels functions, which take one example),
compiles it, runs it once to warm up, then times `--repeats` runs and keeps
the median. tokens/s = B T / median step time.

Methods:
    seqmodels_blockwise  seqmodels.attention.dot_product.blockwise_attention (online softmax, linear memory)
    seqmodels_auto       seqmodels.attention.dot_product.attention(impl="auto"): on a GPU the fused kernel
                         flash.choose_impl picks (cuDNN for float16/bfloat16, else Pallas), blockwise on CPU
    seqmodels_pallas     the same with impl="pallas" (the Pallas flash-attention kernel; GPU only)
    seqmodels_local      seqmodels.attention.sparse.local_attention, window 256
    seqmodels_bigbird    seqmodels.attention.sparse.bigbird_attention, blocks of 64, 2 global + 3 random
    seqmodels_performer  seqmodels.attention.linear.performer_attention, 256 random features
    jax_nn               jax.nn.dot_product_attention(is_causal=True) (XLA implementation on CPU)
    flax                 flax.linen.dot_product_attention with a causal mask: the attention part of
                         flax.linen.MultiHeadDotProductAttention (projections left out)
    einsum               plain einsum -> masked softmax -> einsum
    torch_sdpa           torch.nn.functional.scaled_dot_product_attention(is_causal=True) on [B, N, T, K]
                         (benchmarks/attention_torch.py under --torch_python, default this interpreter if it
                         has torch; skipped otherwise)

--rounds R runs the whole sweep R times, cases interleaved, and keeps each
case's fastest round: on a shared machine a burst of load then hits every
method alike, and ratios of one run are comparable.

Dense peers materialise [B, N, T, T] scores several times over; a case
whose estimate T*T*B*N*4 bytes * DENSE_FACTOR exceeds --max_gib is not run
and is reported as "skipped (est. X GiB)". Approximate methods (local,
BigBird, Performer) compute a different function: their rows time a
different model, not the same numbers faster.

--model times something else: one training step (loss, gradients, Adam
update) of a Transformer classifier from `experiments.models` (`--layers`
blocks of d_model = heads x head_dim, d_ff = 2 d_model, bidirectional, as in
a ListOps model) with each attention kind of the registry's `attention`
field, parameters MODEL_ATTENTION; "dense" and "blockwise" are attention=dense
with attn_impl dense / blockwise. The XLA column is then the compiled step's
temporaries (`compiled.memory_analysis().temp_size_in_bytes`).

Figures depend on the machine and on what else runs on it; compare rows of
one run only.
"""

import argparse
import json
import os
import statistics
import sys
import time

from benchmarks import common

DENSE_FACTOR = 4  # XLA keeps ~4 [B, N, T, T] float32 buffers alive for a dense forward + backward
METHODS = ("seqmodels_blockwise", "seqmodels_auto", "seqmodels_pallas", "seqmodels_local", "seqmodels_bigbird",
           "seqmodels_performer", "jax_nn", "flax", "einsum", "torch_sdpa")
DENSE_METHODS = ("jax_nn", "flax", "einsum")
DEFAULT_LENGTHS = (1024, 2048, 4096, 8192, 16384)
MODEL_KINDS = ("dense", "blockwise", "local", "strided", "fixed", "longformer", "bigbird", "performer")
MODEL_ATTENTION = dict(window=128, stride=64, num_summary=8, global_tokens=1, num_global_blocks=2,
                       num_random_blocks=3, block_size=64, num_features=256)  # the sparse kinds' blocks: 64
MODEL_INPUT, MODEL_CLASSES = 16, 10  # frames [T, 16] (ListOps' vocabulary, one-hot), 10 classes


def dense_estimate_gib(T: int, B: int, N: int) -> float:
    return T * T * B * N * 4 * DENSE_FACTOR / 2 ** 30


def peak_rss_gib() -> float:
    """Resident high-water mark of this process (VmHWM), falling back to getrusage."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024 / 2 ** 30
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 2 ** 30


# --------------------------------------------------------------------------- one case (in a subprocess)


def _attention_fn(method: str, T: int, K: int, block_size: int):
    """(batched attention function on [B, T, N, K], or None, reason)."""
    import jax
    import jax.numpy as jnp

    if method in ("seqmodels_blockwise", "seqmodels_auto", "seqmodels_pallas"):
        from seqmodels.attention import dot_product
        if method == "seqmodels_blockwise":
            return jax.vmap(lambda q, k, v: dot_product.attention(  # pads T to a multiple of the block
                q, k, v, causal=True, impl="blockwise", block_size=block_size)), None
        if method == "seqmodels_pallas" and jax.default_backend() != "gpu":
            return None, "skipped: the Pallas kernel needs a GPU"
        impl = method.split("_")[1]
        return jax.vmap(lambda q, k, v: dot_product.attention(q, k, v, causal=True, impl=impl)), None
    if method in ("seqmodels_local", "seqmodels_bigbird"):
        try:
            from seqmodels.attention import sparse
            fn = sparse.local_attention if method == "seqmodels_local" else sparse.bigbird_attention
        except (ImportError, AttributeError) as e:
            return None, f"skipped: not available ({e})"
        if method == "seqmodels_local":
            return jax.vmap(lambda q, k, v: fn(q, k, v, window=256, causal=True, block_size=min(256, T))), None
        key = jax.random.key(1)
        return jax.vmap(lambda q, k, v: fn(q, k, v, block_size=64, num_global_blocks=2, num_random_blocks=3,
                                           causal=True, key=key)), None
    if method == "seqmodels_performer":
        try:
            from seqmodels.attention import linear
            features = linear.init_features(jax.random.key(1), K, 256)
            fn = linear.performer_attention
        except (ImportError, AttributeError) as e:
            return None, f"skipped: not available ({e})"
        return jax.vmap(lambda q, k, v: fn(q, k, v, features, causal=True)), None
    if method == "jax_nn":
        return (lambda q, k, v: jax.nn.dot_product_attention(q, k, v, is_causal=True)), None
    if method == "flax":
        import flax.linen as nn
        mask = nn.make_causal_mask(jnp.ones((1, T)))  # [1, 1, T, T]
        return (lambda q, k, v: nn.dot_product_attention(q, k, v, mask=mask)), None
    if method == "einsum":
        def einsum_attention(q, k, v):
            s = jnp.einsum("btnk,bsnk->bnts", q, k) / jnp.sqrt(K).astype(q.dtype)  # [B, N, T, S]
            s = jnp.where(jnp.tril(jnp.ones((T, T), bool)), s, jnp.finfo(s.dtype).min)
            return jnp.einsum("bnts,bsnk->btnk", jax.nn.softmax(s, axis=-1), v)  # [B, T, N, K]
        return einsum_attention, None
    raise ValueError(f"unknown method {method!r}; expected one of {METHODS}")


def run_case(method: str, T: int, B: int, N: int, K: int, repeats: int, block_size: int,
             dtype: str = "float32") -> dict:
    import jax
    import jax.numpy as jnp

    row = dict(method=method, T=T, B=B, N=N, K=K, dtype=dtype)
    fn, reason = _attention_fn(method, T, K, block_size)
    if fn is None:
        return {**row, "status": reason}
    kq, kk, kv, kg = jax.random.split(jax.random.key(0), 4)
    q, k, v, g = (jax.random.normal(kk_, (B, T, N, K), dtype) for kk_ in (kq, kk, kv, kg))

    step = jax.jit(jax.value_and_grad(lambda q, k, v: jnp.sum(fn(q, k, v) * g), argnums=(0, 1, 2)))
    baseline = peak_rss_gib()
    start = time.perf_counter()
    compiled = step.lower(q, k, v).compile()
    compile_s = time.perf_counter() - start
    try:
        temp_gib = compiled.memory_analysis().temp_size_in_bytes / 2 ** 30
    except Exception:  # noqa: BLE001 (not every backend reports it)
        temp_gib = None
    jax.block_until_ready(compiled(q, k, v))  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(compiled(q, k, v))
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    return {**row, "status": "ok", "seconds": seconds, "tokens_per_s": B * T / seconds,
            "peak_gib": peak_rss_gib(), "baseline_gib": baseline, "xla_temp_gib": temp_gib,
            "compile_s": compile_s}


def run_model_case(kind: str, T: int, B: int, N: int, K: int, repeats: int, layers: int) -> dict:
    """One training step of a Transformer classifier with attention `kind` (see --model)."""
    import jax
    import jax.numpy as jnp
    import ml_collections
    import optax

    from experiments import models
    from seqmodels.training import losses

    D = N * K
    row = dict(method=kind, T=T, B=B, N=N, K=K, layers=layers)
    dense = kind in ("dense", "blockwise")
    fields = dict(attention="dense", attn_impl=kind) if dense else dict(attention=kind, **MODEL_ATTENTION)
    config = ml_collections.ConfigDict(dict(name="transformer", transformer=dict(
        d_model=D, num_heads=N, d_ff=2 * D, num_layers=layers, **fields)))
    model = models.build(config, models.Spec(MODEL_INPUT, MODEL_CLASSES, output="class", seq_len=T))
    params = model.init(jax.random.key(0))
    optimizer = optax.adam(1e-3)
    kx, ky = jax.random.split(jax.random.key(1))
    xs = jax.nn.one_hot(jax.random.randint(kx, (B, T), 0, MODEL_INPUT), MODEL_INPUT)  # [B, T, 16]
    labels = jax.random.randint(ky, (B,), 0, MODEL_CLASSES)  # [B]
    lengths = jnp.full((B,), T, jnp.int32)

    def step(params, opt_state, xs, labels, lengths):
        loss, grads = jax.value_and_grad(lambda p: losses.cross_entropy(
            model.apply_batch(p, xs, lengths, deterministic=True), labels))(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    args = (params, optimizer.init(params), xs, labels, lengths)
    baseline = peak_rss_gib()
    start = time.perf_counter()
    compiled = jax.jit(step).lower(*args).compile()
    compile_s = time.perf_counter() - start
    try:
        temp_gib = compiled.memory_analysis().temp_size_in_bytes / 2 ** 30
    except Exception:  # noqa: BLE001 (not every backend reports it)
        temp_gib = None
    jax.block_until_ready(compiled(*args))  # warm-up
    times, cpu_times = [], []
    for _ in range(repeats):  # CPU seconds too: on a shared machine they wait less for other jobs than wall time
        start, cpu_start = time.perf_counter(), time.process_time()
        jax.block_until_ready(compiled(*args))
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
    seconds = statistics.median(times)
    return {**row, "status": "ok", "seconds": seconds, "cpu_s": statistics.median(cpu_times),
            "tokens_per_s": B * T / seconds, "peak_gib": peak_rss_gib(), "baseline_gib": baseline,
            "xla_temp_gib": temp_gib, "compile_s": compile_s}


# --------------------------------------------------------------------------- driver


def _subprocess_case(args, method: str, T: int) -> dict:
    row = dict(method=method, T=T, B=args.batch, N=args.heads, K=args.head_dim)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if method == "torch_sdpa":
        if args.torch_python is None:
            return {**row, "status": "skipped: no torch (pass --torch_python=VENV/bin/python)"}
        cmd = [args.torch_python, os.path.join(root, "benchmarks", "attention_torch.py"), "--T", str(T),
               "--batch", str(args.batch), "--heads", str(args.heads), "--head_dim", str(args.head_dim),
               "--repeats", str(args.repeats)]
        return {**row, **common.run_json(cmd, timeout=args.timeout, cwd=root)}
    cmd = [sys.executable, "-m", "benchmarks.attention", "--_case", f"{method}:{T}", "--batch", str(args.batch),
           "--heads", str(args.heads), "--head_dim", str(args.head_dim), "--repeats", str(args.repeats),
           "--block_size", str(args.block_size), "--layers", str(args.layers), "--dtype", args.dtype]
    cmd += ["--model"] if args.model else []
    return {**row, **common.run_json(cmd, timeout=args.timeout, cwd=root)}


def _format(row: dict) -> str:
    if row["status"] != "ok":
        return f"{row['method']:<21} {row['T']:>6}  {row['status']}"
    temp = "" if row.get("xla_temp_gib") is None else f"{row['xla_temp_gib']:8.2f}"
    return (f"{row['method']:<21} {row['T']:>6} {row['tokens_per_s']:>12,.0f} {row['seconds']:>9.3f} "
            f"{row['peak_gib']:>9.2f} {temp:>8} {row['compile_s']:>9.1f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lengths", default=None, help="comma-separated T values (default 1024..16384)")
    parser.add_argument("--methods", default=None,
                        help=f"comma-separated, from {METHODS} (--model: {MODEL_KINDS}); default all")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--head_dim", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16"),
                        help="q, k, v dtype of the JAX cases (cuDNN needs 16-bit; torch_sdpa stays float32)")
    parser.add_argument("--block_size", type=int, default=None,
                        help="seqmodels blockwise tile size (default: dot_product.DEFAULT_BLOCK_SIZE)")
    parser.add_argument("--max_gib", type=float, default=12.0,
                        help="skip dense peers whose estimated memory exceeds this")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per case")
    parser.add_argument("--quick", action="store_true", help="B=2, T=512,1024, one repeat: a trial run")
    parser.add_argument("--json", action="store_true", help="print one JSON object per case")
    parser.add_argument("--model", action="store_true",
                        help=f"time a Transformer classifier's training step per attention kind {MODEL_KINDS}")
    parser.add_argument("--layers", type=int, default=2, help="--model: Transformer blocks")
    parser.add_argument("--torch_python", default=None,
                        help="python of a venv with torch for the torch_sdpa row (default: this one, if it has torch)")
    parser.add_argument("--rounds", type=int, default=1, help="sweeps, cases interleaved; the fastest kept")
    parser.add_argument("--_case", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.block_size is None:
        from seqmodels.attention.dot_product import DEFAULT_BLOCK_SIZE
        args.block_size = DEFAULT_BLOCK_SIZE

    if args._case:  # child process: one case, one JSON line
        method, T = args._case.split(":")
        if args.model:
            row = run_model_case(method, int(T), args.batch, args.heads, args.head_dim, args.repeats, args.layers)
        else:
            row = run_case(method, int(T), args.batch, args.heads, args.head_dim, args.repeats, args.block_size,
                           args.dtype)
        print(json.dumps(row), flush=True)
        return

    if args.quick:
        args.batch, args.repeats = 2, 1
        lengths = (512, 1024)
    else:
        lengths = DEFAULT_LENGTHS
    if args.lengths:
        lengths = tuple(int(t) for t in args.lengths.split(","))
    known = MODEL_KINDS if args.model else METHODS
    methods = tuple(m for m in (args.methods or ",".join(known)).split(",") if m)
    for m in methods:
        if m not in known:
            parser.error(f"unknown method {m!r}; expected one of {known}")

    if not args.json:
        what = (f"Transformer classifier training step, {args.layers} layers" if args.model
                else "causal self-attention fwd+bwd")
        print(f"{what}, B={args.batch}, N={args.heads}, K={args.head_dim}, "
              f"{args.dtype}, {os.cpu_count()} CPUs; peak = process VmHWM")
        print(f"{'method':<21} {'T':>6} {'tokens/s':>12} {'step s':>9} {'peak GiB':>9} {'XLA tmp':>8} "
              f"{'compile s':>9}")
    args.torch_python = common.torch_python(args.torch_python)
    best = {}
    for r in range(args.rounds):
        order = methods[r % len(methods):] + methods[:r % len(methods)]  # no method always runs first
        for T in lengths:
            for method in order:
                if method in DENSE_METHODS and dense_estimate_gib(T, args.batch, args.heads) > args.max_gib:
                    row = dict(method=method, T=T, B=args.batch, N=args.heads, K=args.head_dim,
                               status=f"skipped (est. {dense_estimate_gib(T, args.batch, args.heads):.0f} GiB "
                                      f"> --max_gib {args.max_gib:g})")
                else:
                    row = _subprocess_case(args, method, T)
                if args.rounds > 1:
                    row["round"] = r
                    print(f"round {r}: " + json.dumps(row), file=sys.stderr, flush=True)
                kept = best.get((method, T))
                if kept is None or (row["status"] == "ok" and (kept["status"] != "ok"
                                                              or row["seconds"] < kept["seconds"])):
                    best[(method, T)] = row
                if args.rounds == 1:
                    print(json.dumps(row) if args.json else _format(row), flush=True)
    if args.rounds > 1:
        for T in lengths:
            for method in methods:
                row = best[(method, T)]
                print(json.dumps(row) if args.json else _format(row), flush=True)


if __name__ == "__main__":
    main()
