"""PyTorch's row of `benchmarks.attention`: causal scaled_dot_product_attention, forward + backward.

    VENV/bin/python benchmarks/attention_torch.py --T 2048 [--batch 8 --heads 8 --head_dim 64 --repeats 3]

Runs under an interpreter with torch (no jax needed) and prints one JSON
object in the row format of `benchmarks.attention`: the same loss
sum(attention(q, k, v) * g) over float32 [B, N, T, K] (torch's own layout),
warm-up, then the median of --repeats timed steps and the resident high-water mark.
"""

import argparse
import json
import resource
import statistics
import time


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--T", type=int, required=True)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--head_dim", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    import torch

    B, N, T, K = args.batch, args.heads, args.T, args.head_dim
    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(B, N, T, K, generator=gen, requires_grad=True) for _ in range(3))
    g = torch.randn(B, N, T, K, generator=gen)
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20

    def step():
        for x in (q, k, v):
            x.grad = None
        y = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        (y * g).sum().backward()

    step()  # warm-up
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    print(json.dumps(dict(method="torch_sdpa", T=T, B=B, N=N, K=K, status="ok", seconds=seconds,
                          tokens_per_s=B * T / seconds, peak_gib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                          / 2 ** 20, baseline_gib=baseline, xla_temp_gib=None, compile_s=0.0,
                          torch=torch.__version__, threads=torch.get_num_threads())), flush=True)


if __name__ == "__main__":
    main()
