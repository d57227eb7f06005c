"""PyTorch's rows of `benchmarks.rnn` and `benchmarks.conv`: the same training steps, in torch.

    VENV/bin/python benchmarks/torch_cases.py rnn --batch 32 --time 256 --input 64 --hidden 256 --dtypes float32
    VENV/bin/python benchmarks/torch_cases.py conv --batch 16 --time 4096 --channels 64 --layers 8 --kernel 3

Runs under an interpreter with torch (no jax needed; `benchmarks.common.run_json` launches it) and prints
one JSON object {"rows": [...], "torch": version, "threads": n}. One step = forward, mean-squared loss
against a fixed target, backward, plain SGD update (torch.optim.SGD, lr 1e-3), as the JAX cases.
bfloat16 is torch's own mixed precision: `torch.autocast("cpu", torch.bfloat16)` around the forward
(float32 params, bf16 matmuls, convolutions and the oneDNN LSTM/GRU). The best of --repeats timed
steps after two warm-up steps (the JAX cases report their best round too).

    rnn:  nn.LSTM and nn.GRU (one layer, batch_first) over x [B, T, D], target [B, T, H]
    conv: 8 nn.Conv1d (kernel 3, dilation 2^l, left padding (k - 1) d: causal), ReLU, over x [B, C, T]
"""

import argparse
import contextlib
import json
import time


def best_seconds(step, repeats: int) -> float:
    for _ in range(2):
        step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return min(times)


def training_step(torch, model, forward, x, target, dtype: str):
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    autocast = (torch.autocast("cpu", dtype=torch.bfloat16) if dtype == "bfloat16" else contextlib.nullcontext())

    def step():
        optimizer.zero_grad(set_to_none=True)
        with autocast:
            y = forward(x)
        torch.mean(torch.square(y.float() - target)).backward()
        optimizer.step()

    return step


def rnn_rows(torch, args) -> list[dict]:
    B, T, D, H = args.batch, args.time, args.input, args.hidden
    x, target = torch.randn(B, T, D), torch.randn(B, T, H)
    rows = []
    for name, cls in (("lstm/torch-nn.LSTM", torch.nn.LSTM), ("gru/torch-nn.GRU", torch.nn.GRU)):
        model = cls(D, H, batch_first=True)
        for dtype in args.dtypes.split(","):
            step = training_step(torch, model, lambda x, model=model: model(x)[0], x, target, dtype)
            rows.append({"case": name, "dtype": dtype, "seconds": best_seconds(step, args.repeats)})
    return rows


def conv_rows(torch, args) -> list[dict]:
    B, T, C, k = args.batch, args.time, args.channels, args.kernel
    dilations = [2 ** l for l in range(args.layers)]
    model = torch.nn.ModuleList(torch.nn.Conv1d(C, C, k, dilation=d) for d in dilations)

    def forward(x):  # [B, C, T]
        for conv, d in zip(model, dilations):
            x = torch.relu(conv(torch.nn.functional.pad(x, ((k - 1) * d, 0))))
        return x

    x, target = torch.randn(B, C, T), torch.randn(B, C, T)
    return [{"case": "torch-nn.Conv1d", "dtype": dtype,
             "seconds": best_seconds(training_step(torch, model, forward, x, target, dtype), args.repeats)}
            for dtype in args.dtypes.split(",")]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("benchmark", choices=("rnn", "conv"))
    for name, default in (("batch", 32), ("time", 256), ("input", 64), ("hidden", 256), ("channels", 64),
                          ("layers", 8), ("kernel", 3), ("repeats", 10)):
        parser.add_argument(f"--{name}", type=int, default=default)
    parser.add_argument("--dtypes", default="float32", help="comma-separated: float32, bfloat16")
    args = parser.parse_args(argv)
    import torch

    torch.manual_seed(0)
    rows = (rnn_rows if args.benchmark == "rnn" else conv_rows)(torch, args)
    print(json.dumps({"rows": rows, "torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)


if __name__ == "__main__":
    main()
