"""Make tests/interop/fixtures/*.npz: torch modules with random weights, their inputs, outputs and input gradients.

    python -m tests.interop.make_fixtures      # from the repo root, in a venv with torch (2.13.0+cpu made these)

Each file holds the state_dict under 'sd/<key>', the inputs ('x', and 'lengths', 'context', 'h0', 'c0'
where used), the cotangent 'ct', torch's output 'y' (and 'h_n', 'c_n') and 'dx' = d sum(y * ct) / d x
('dtable' for Embedding, whose input is integer ids), and 'meta', a JSON string {kind, layer: options
for seqmodels.interop.torch.layer}. tests/interop/test_torch.py checks seqmodels against them always,
and against `reference` of fresh modules when torch is installed.
"""

import json
import pathlib

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

B, T, D, H = 2, 5, 3, 4
LENGTHS = [5, 3]
FIXTURES = pathlib.Path(__file__).parent / "fixtures"

# name: (kind, constructor, options for interop.torch.layer, input: "seq" | "ids" | "cross")
CASES = {
    "rnn_tanh": ("RNN", lambda: nn.RNN(D, H, batch_first=True), {}, "seq"),
    "rnn_relu_bi2": ("RNN", lambda: nn.RNN(D, H, 2, nonlinearity="relu", bidirectional=True, batch_first=True),
                     {"nonlinearity": "relu"}, "seq"),
    "lstm": ("LSTM", lambda: nn.LSTM(D, H, batch_first=True), {}, "seq"),
    "lstm_proj_bi2": ("LSTM", lambda: nn.LSTM(D, H, 2, proj_size=2, bidirectional=True, batch_first=True), {}, "seq"),
    "gru_bi2": ("GRU", lambda: nn.GRU(D, H, 2, bidirectional=True, batch_first=True), {}, "seq"),
    "gru_nobias": ("GRU", lambda: nn.GRU(D, H, bias=False, batch_first=True), {}, "seq"),
    "linear": ("Linear", lambda: nn.Linear(D, H), {}, "seq"),
    "conv1d_same": ("Conv1d", lambda: nn.Conv1d(D, H, 3, padding=2, dilation=2), {"padding": 2, "dilation": 2}, "seq"),
    "conv1d_same_even": ("Conv1d", lambda: nn.Conv1d(D, H, 4, padding="same", bias=False), {"padding": "same"}, "seq"),
    "conv1d_valid_groups": ("Conv1d", lambda: nn.Conv1d(4, 6, 3, stride=2, groups=2),
                            {"stride": 2, "groups": 2}, "seq4"),
    "conv1d_causal": ("Conv1d", lambda: nn.Conv1d(D, H, 3, dilation=2), {"padding": "causal", "dilation": 2}, "seq"),
    "embedding": ("Embedding", lambda: nn.Embedding(7, H), {}, "ids"),
    "layer_norm": ("LayerNorm", lambda: nn.LayerNorm(H), {}, "seq4"),
    "mha_self": ("MultiheadAttention", lambda: nn.MultiheadAttention(8, 2, batch_first=True), {"num_heads": 2}, "seq8"),
    "mha_cross_kdim": ("MultiheadAttention",
                       lambda: nn.MultiheadAttention(8, 4, kdim=3, vdim=3, bias=False, batch_first=True),
                       {"num_heads": 4}, "cross"),
    "transformer_post_relu": ("TransformerEncoderLayer",
                              lambda: nn.TransformerEncoderLayer(8, 2, 16, batch_first=True),
                              {"nhead": 2}, "seq8"),
    "transformer_pre_gelu": ("TransformerEncoderLayer",
                             lambda: nn.TransformerEncoderLayer(8, 2, 16, activation="gelu", norm_first=True,
                                                                layer_norm_eps=1e-6, batch_first=True),
                             {"nhead": 2, "activation": "gelu", "norm_first": True, "layer_norm_eps": 1e-6}, "seq8"),
}


def _randomise(module: nn.Module) -> None:
    """Every parameter ~ N(0, 0.5^2): biases and norms far from their 0/1 init, so a mix-up shows."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(0.5 * torch.randn_like(p))


def reference(name: str, seed: int = 0) -> dict:
    """Torch's side of one case: state_dict, inputs, outputs and gradients as numpy arrays."""
    kind, make, options, inputs = CASES[name]
    torch.manual_seed(seed)
    module = make().eval()
    _randomise(module)
    lengths = torch.tensor(LENGTHS)
    valid = (torch.arange(T)[None, :] < lengths[:, None]).float()[..., None]  # [B, T, 1]
    out = {}
    if inputs == "ids":
        ids = torch.randint(0, 7, (B, T))
        y = module(ids)
        ct = torch.randn_like(y)
        (y * ct).sum().backward()
        out.update(x=ids, dtable=module.weight.grad)
    else:
        width = {"seq": D, "seq4": 4, "seq8": 8, "cross": 8}[inputs]
        x = torch.randn(B, T, width, requires_grad=True)
        if kind in ("RNN", "GRU", "LSTM"):
            dirs, proj = 1 + module.bidirectional, module.proj_size if kind == "LSTM" else 0
            h0 = torch.randn(module.num_layers * dirs, B, proj or H)
            c0 = torch.randn(module.num_layers * dirs, B, H)
            packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            packed_y, state = module(packed, (h0, c0) if kind == "LSTM" else h0)
            y = nn.utils.rnn.pad_packed_sequence(packed_y, batch_first=True, total_length=T)[0]
            h_n, c_n = state if kind == "LSTM" else (state, None)
            out.update(lengths=lengths, h0=h0, h_n=h_n)
            if kind == "LSTM":
                out.update(c0=c0, c_n=c_n)
        elif kind == "Conv1d":
            xc = x.transpose(1, 2)  # [B, C, T]
            if options.get("padding") == "causal":
                xc = F.pad(xc, ((module.kernel_size[0] - 1) * module.dilation[0], 0))
            y = module(xc).transpose(1, 2)
        elif kind == "MultiheadAttention" and inputs == "cross":
            context = torch.randn(B, T + 1, 3)
            y = module(x, context, context, need_weights=False)[0]
            out.update(context=context)
        elif kind == "MultiheadAttention":
            y = module(x, x, x, key_padding_mask=valid[..., 0] == 0, need_weights=False)[0] * valid
            out.update(lengths=lengths)
        elif kind == "TransformerEncoderLayer":
            y = module(x, src_key_padding_mask=valid[..., 0] == 0) * valid  # padded rows: ours are zeros
            out.update(lengths=lengths)
        else:
            y = module(x)
        ct = torch.randn_like(y)
        (y * ct).sum().backward()
        out.update(x=x, dx=x.grad)
    out.update(y=y, ct=ct)
    arrays = {k: v.detach().numpy() for k, v in out.items() if v is not None}
    arrays |= {f"sd/{k}": v.numpy() for k, v in module.state_dict().items()}
    arrays["meta"] = np.array(json.dumps({"kind": kind, "layer": options}))
    return arrays


def main():
    FIXTURES.mkdir(exist_ok=True)
    for name in CASES:
        np.savez_compressed(FIXTURES / f"{name}.npz", **reference(name))
    total = sum(p.stat().st_size for p in FIXTURES.glob("*.npz"))
    print(f"torch {torch.__version__}: {len(CASES)} fixtures, {total / 1024:.1f} KB in {FIXTURES}")


if __name__ == "__main__":
    main()
