"""seqmodels.interop.torch against PyTorch: outputs, input gradients, final carries and exact round trips.

Always against the committed fixtures (tests/interop/fixtures, made by make_fixtures.py with torch
2.13.0+cpu); when torch is importable, also against fresh torch modules with other random weights.
"""

import json
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from seqmodels.cells import GRU, LSTM
from seqmodels.cells import torch_params
from seqmodels.interop import torch as tt
from seqmodels.nn import dense, embedding, norms
from seqmodels.recurrence import RNN

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
NAMES = sorted(p.stem for p in FIXTURES.glob("*.npz"))
TOL = dict(rtol=1e-5, atol=1e-5)


def seqmodels_side(kind, options, sd, data):
    """(outputs, d sum(y * ct) / d input, final carries as torch's h_n/c_n) computed by seqmodels from sd."""
    params = tt.from_torch(kind, sd)
    x, ct = jnp.asarray(data["x"]), jnp.asarray(data["ct"])
    lengths = jnp.asarray(data["lengths"]) if "lengths" in data else None
    layer = None if kind in ("Linear", "Embedding", "LayerNorm") else tt.layer(kind, sd, **options)
    none = lambda y: (y, {})
    if kind == "Embedding":  # gradient w.r.t. the table: the input is integer ids
        x, f = params["table"], lambda table: none(embedding.apply({"table": table}, jnp.asarray(data["x"])))
    elif kind in tt.RECURRENT:
        carry0 = tt.carry_from_torch(layer, data["h0"], data.get("c0"))
        f = lambda x: layer.apply_batch(params, x, lengths=lengths, initial_carry=carry0)[::-1]  # (ys, carry)
    elif kind == "Linear":
        f = lambda x: none(dense.apply(params, x))
    elif kind == "LayerNorm":
        f = lambda x: none(norms.layer_norm(params, x, eps=1e-5))
    elif "context" in data:  # cross-attention
        run = lambda xb, cb: layer.apply(params, xb, cb, deterministic=True)
        f = lambda x: none(jax.vmap(run)(x, data["context"]))
    else:  # Conv1d, self-attention, TransformerEncoderLayer: one example at a time
        run = lambda xb, lb: layer.apply(params, xb, lengths=lb, deterministic=True)
        f = lambda x: none(jax.vmap(run, (0, None if lengths is None else 0))(x, lengths))

    @jax.jit
    def forward_backward(x):
        y, vjp, carry = jax.vjp(f, x, has_aux=True)
        return y, vjp(ct)[0], carry

    y, grad, carry = forward_backward(x)
    state = tt.carry_to_torch(carry) if carry else ()
    return y, grad, dict(zip(("h_n", "c_n"), state if kind == "LSTM" else (state,))) if carry else {}


def _params(cell, **values):
    """Numpy params of `cell`'s layout (no jax init to compile), each leaf filled with values.get(name, 0)."""
    shapes = jax.eval_shape(RNN(cell).init, jax.random.key(0))
    return {k: np.full(v.shape, values.get(k, 0.0), np.float32) for k, v in shapes.items()}


def check(data):
    """seqmodels agrees with torch's outputs, gradients and carries in `data` (a fixture's arrays)."""
    meta = json.loads(str(data["meta"]))
    kind, sd = meta["kind"], {k[3:]: v for k, v in data.items() if k.startswith("sd/")}
    y, grad, extras = seqmodels_side(kind, meta["layer"], sd, data)
    np.testing.assert_allclose(y, data["y"], **TOL)
    np.testing.assert_allclose(grad, data["dtable" if kind == "Embedding" else "dx"], **TOL)
    for name, value in extras.items():
        np.testing.assert_allclose(value, data[name], **TOL)
    # exact round trips: folded biases only where torch has one bias per output
    bias = any(k.startswith("bias_ih") for k in sd) or kind not in tt.RECURRENT
    if kind in tt.RECURRENT:
        params, extra = tt.from_torch(kind, sd, split_bias=True)
        back = tt.to_torch(kind, params, hidden_biases=extra, bias=bias)
    else:
        back = tt.to_torch(kind, tt.from_torch(kind, sd))
    assert sorted(back) == sorted(sd)
    for k in sd:
        np.testing.assert_array_equal(back[k], sd[k], err_msg=k)
    return sd, back


def load(name):
    with np.load(FIXTURES / f"{name}.npz") as f:
        return dict(f)


def test_fixtures_cover_every_kind():
    kinds = {json.loads(str(load(n)["meta"]))["kind"] for n in NAMES}
    assert kinds == set(tt.KINDS)
    assert sum((FIXTURES / f"{n}.npz").stat().st_size for n in NAMES) < 300_000


@pytest.mark.parametrize("name", NAMES)
def test_fixture(name):
    check(load(name))


@pytest.mark.parametrize("name", NAMES)
def test_against_torch(name):
    torch = pytest.importorskip("torch")
    from tests.interop import make_fixtures
    data = make_fixtures.reference(name, seed=1)  # other weights and inputs than the fixture's
    sd, back = check(data)
    module = make_fixtures.CASES[name][1]()
    module.load_state_dict({k: torch.tensor(v) for k, v in back.items()}, strict=True)
    kind = make_fixtures.CASES[name][0]  # torch tensors straight from the module convert the same
    jax.tree.map(np.testing.assert_array_equal, tt.from_torch(kind, module.state_dict()), tt.from_torch(kind, sd))


def test_folded_biases_are_the_same_function():
    data = load("lstm_proj_bi2")
    sd = {k[3:]: v for k, v in data.items() if k.startswith("sd/")}
    params = tt.from_torch("LSTM", sd)
    split, extra = tt.from_torch("LSTM", sd, split_bias=True)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=0, atol=1e-6), params,
                 torch_params.add_hidden_biases(split, extra))
    back = tt.to_torch("LSTM", params)  # b_ih = b_ih + b_hh, b_hh = 0
    np.testing.assert_allclose(back["bias_ih_l1_reverse"] + back["bias_hh_l1_reverse"],
                               sd["bias_ih_l1_reverse"] + sd["bias_hh_l1_reverse"], atol=1e-6)
    assert not back["bias_hh_l0"].any()


# -- errors: one paragraph naming the key and the shape ---------------------------------------

def _sd(name):
    return {k[3:]: v for k, v in load(name).items() if k.startswith("sd/")}


def test_missing_key_is_named_with_its_shape():
    sd = _sd("lstm_proj_bi2")
    del sd["weight_hh_l1_reverse"]
    with pytest.raises(ValueError, match=r"missing key 'weight_hh_l1_reverse' \(expected shape \[16, 2\]\)"):
        tt.from_torch("LSTM", sd)


def test_misshaped_and_extra_keys_are_named():
    sd = _sd("mha_self")
    sd["out_proj.bias"] = sd["out_proj.bias"][:5]
    with pytest.raises(ValueError, match=r"'out_proj.bias' has shape \[5\], expected \[8\]"):
        tt.from_torch("MultiheadAttention", sd)
    sd = _sd("linear") | {"extra.weight": np.zeros(3)}
    with pytest.raises(ValueError, match=r"keys \['extra.weight'\] have no counterpart"):
        tt.from_torch("Linear", sd)
    with pytest.raises(ValueError, match="unknown kind 'Conv2d'"):
        tt.from_torch("Conv2d", sd)
    with pytest.raises(ValueError, match="add_bias_kv"):
        tt.from_torch("MultiheadAttention", _sd("mha_self") | {"bias_k": np.zeros((1, 1, 8))})


@pytest.mark.parametrize("kind, name, options, match", [
    ("Conv1d", "conv1d_same", {"padding": 1, "dilation": 2}, "padding=1 with stride 1 has no counterpart"),
    ("Conv1d", "conv1d_same", {"padding": 2, "dilation": 2, "stride": 2}, "padding=2 with stride 2"),
    ("Conv1d", "conv1d_same", {"padding_mode": "reflect"}, "padding_mode='reflect'"),
    ("MultiheadAttention", "mha_self", {"num_heads": 2, "add_zero_attn": True}, "add_zero_attn"),
    ("MultiheadAttention", "mha_self", {}, "pass num_heads"),
    ("TransformerEncoderLayer", "transformer_post_relu", {"nhead": 2, "activation": "silu"}, "activation"),
    ("LSTM", "lstm", {"hidden_size": 4}, r"options \['hidden_size'\] are read from the state_dict"),
    ("Linear", "linear", {}, "no layer object"),
])
def test_layer_refuses_options_without_counterpart(kind, name, options, match):
    with pytest.raises(ValueError, match=match):
        tt.layer(kind, _sd(name), **options)


def test_layer_maps_the_options():
    assert tt.layer("Conv1d", _sd("conv1d_same"), padding=2, dilation=2).padding == "same"
    block = tt.layer("TransformerEncoderLayer", _sd("transformer_pre_gelu"), nhead=2, norm_first=True,
                     activation="gelu", dropout=0.0)
    assert (block.norm, block.activation, block.norm_eps, block.d_ff) == ("pre", tt.gelu_exact, 1e-5, 16)
    stack = tt.layer("GRU", _sd("gru_bi2"), dropout=0.2, batch_first=True)
    assert (stack.drop_rate, stack.output_size, len(stack.layers)) == (0.2, 8, 2)


def test_cells_without_torch_counterpart_are_refused():
    with pytest.raises(ValueError, match=r"reset='after' only"):
        tt.to_torch("GRU", _params(GRU(3, 4, reset="before")))
    with pytest.raises(ValueError, match="no peepholes"):
        tt.to_torch("LSTM", _params(LSTM(3, 4, peepholes=True)))
    with pytest.raises(ValueError, match="nonzero bias"):
        tt.to_torch("LSTM", _params(LSTM(3, 4), b=1.0), bias=False)
