"""PyTorch state_dicts in and out: torch modules' weights as seqmodels params, and back.

    from seqmodels.interop import torch as tt
    sd = module.state_dict()                         # torch tensors or numpy arrays (torch is not needed)
    layer = tt.layer("LSTM", sd, dropout=0.1)        # the matching seqmodels layer; sizes read from sd
    params = tt.from_torch("LSTM", sd)
    carry, ys = layer.apply_batch(params, xs, lengths=lengths)     # xs [B, T, D] (batch_first)
    sd = tt.to_torch("LSTM", params)                 # numpy; module.load_state_dict({k: torch.tensor(v) ...})

The kind is the torch class name. Torch's weight is [out, in] (y = x W^T), ours [in, out] (y = x W):

    kind          torch keys (suffix _l{k}, _l{k}_reverse)      seqmodels params
    RNN           weight_ih [H, D], weight_hh [H, H],           RNN(Elman): W, R, b = b_ih + b_hh
                  bias_ih, bias_hh
    GRU           gates (r, z, n), the same keys with 3H rows    RNN(GRU(reset="after")): gates (r, u, h):
                                                                W, R, b = b_ih + [b_hr, b_hz, 0], b_hn
    LSTM          gates (i, f, g, o), 4H rows; weight_hr [P, H]  RNN(LSTM): gates (z, i, f, o), z = g:
                  with proj_size P (then weight_hh [4H, P])     W, R, b = b_ih + b_hh, W_proj = weight_hr^T
      layers      bidirectional: _reverse keys                  Bidirectional {'forward', 'backward'};
                  num_layers > 1: _l1, _l2, ...                 Stack {'layers': [...]} (dropout between)
    Linear        weight [O, I], bias                           nn.dense {'w': [I, O], 'b'}
    Conv1d        weight [C_out, C_in / G, W], bias             conv1d.Conv1D {'kernel': [W, C_in / G, C_out],
                                                                'bias'} (see `layer` for the padding)
    Embedding     weight [V, D]                                 nn.embedding {'table'} (padding_idx's zero
                                                                gradient and max_norm: none here)
    LayerNorm     weight, bias [D] (last axis only)             nn.norms.layer_norm {'scale', 'bias'}
                                                                (pass eps=1e-5, torch's default)
    MultiheadAttention  in_proj_weight [3E, E] (or q/k/v_proj_  MultiHeadAttention {'query', 'key', 'value',
                  weight with kdim = vdim), in_proj_bias,       'out'}, each an nn.dense
                  out_proj.weight, out_proj.bias
    TransformerEncoderLayer  self_attn.*, linear1, linear2,     transformer.Block {'attn', 'mlp': {'in',
                  norm1, norm2                                  'out'}, 'attn_norm', 'mlp_norm'}

Biases that torch omits (bias=False) are omitted here too, except in the recurrent cells, which always
hold `b` (zeros; `to_torch(..., bias=False)` drops them again). The two recurrent biases fold into one,
so `to_torch(kind, from_torch(kind, sd))` gives b_hh = 0 (the same function); for an exact round trip,
or to train with torch's two bias vectors, `from_torch(kind, sd, split_bias=True)` returns (params with
b = b_ih, extra = {'b_hh'} trees) in the layout of `seqmodels.cells.torch_params`, whose
`add_hidden_biases(params, extra)` folds them, and `to_torch(kind, params, hidden_biases=extra)` undoes it.

Carries: torch's h_n [L * dirs, B, P or H] (and c_n [L * dirs, B, H]), layer-major, forward before
reverse, are `carry_to_torch` of the carries `apply_batch` returns; `carry_from_torch` builds the
per-example `initial_carry` from torch's h_0 (and c_0).
"""

import jax
import jax.numpy as jnp
import numpy as np

from seqmodels.attention.multi_head import MultiHeadAttention
from seqmodels.cells import GRU, LSTM, Elman, torch_params
from seqmodels.conv.conv1d import Conv1D
from seqmodels.models.transformer import Block
from seqmodels.recurrence import RNN, Bidirectional, Stack

RECURRENT = {"RNN": 1, "GRU": 3, "LSTM": 4}  # gate blocks per cell
KINDS = (*RECURRENT, "Linear", "Conv1d", "Embedding", "LayerNorm", "MultiheadAttention", "TransformerEncoderLayer")
_LSTM_FROM_TORCH, _LSTM_TO_TORCH = (2, 0, 1, 3), (1, 2, 0, 3)  # our (z, i, f, o) <- torch (i, f, g, o), and back


def gelu_exact(x):
    """torch's "gelu" (the erf form; seqmodels' "gelu" is jax.nn.gelu's tanh approximation)."""
    return jax.nn.gelu(x, approximate=False)


# -- reading a state_dict -----------------------------------------------------------

class _Keys:
    """A state_dict as numpy arrays, read by name with shape checks; remembers which keys were used."""

    def __init__(self, kind: str, state_dict):
        if kind not in KINDS:
            raise ValueError(f"torch interop: unknown kind {kind!r}; expected one of {list(KINDS)} (torch class names)")
        self.kind, self.used = kind, set()
        self.sd = {k: np.asarray(v.detach() if hasattr(v, "detach") else v) for k, v in state_dict.items()}

    def _fail(self, message: str):
        raise ValueError(f"from_torch({self.kind!r}): {message}; the state_dict has keys {sorted(self.sd)}.")

    def has(self, key: str) -> bool:
        return key in self.sd

    def shape(self, key: str, expected: str) -> tuple:
        """The shape of a key whose sizes are read, not checked (`expected` says what they mean)."""
        if key not in self.sd:
            self._fail(f"missing key {key!r} (expected shape {expected})")
        return self.sd[key].shape

    def get(self, key: str, shape, optional: bool = False):
        """The array under `key`, of `shape` (None entries: any size); None if optional and absent."""
        if key not in self.sd:
            if optional:
                return None
            self._fail(f"missing key {key!r} (expected shape {list(shape)})")
        value = self.sd[key]
        if len(value.shape) != len(shape) or any(e is not None and e != s for e, s in zip(shape, value.shape)):
            self._fail(f"key {key!r} has shape {list(value.shape)}, expected {list(shape)}")
        self.used.add(key)
        return value

    def finish(self):
        extra = sorted(set(self.sd) - self.used)
        if extra:
            self._fail(f"keys {extra} have no counterpart in seqmodels (or belong to another kind)")


def _blocks(order, H: int) -> np.ndarray:
    """Row indices taking blocks of H rows in `order`."""
    return np.concatenate([np.arange(H) + k * H for k in order])


# -- recurrent layers ---------------------------------------------------------------

def _cell_from_torch(kind: str, keys: _Keys, suffix: str, D: int, H: int, P: int | None):
    """(cell params, b_hh in the layout of torch_params.hidden_biases) of one torch layer/direction."""
    G = RECURRENT[kind] * H
    order = _blocks(_LSTM_FROM_TORCH, H) if kind == "LSTM" else np.arange(G)
    w_ih = keys.get("weight_ih" + suffix, (G, D))
    w_hh = keys.get("weight_hh" + suffix, (G, P or H))
    zeros = np.zeros((G,), w_ih.dtype)
    b_ih = keys.get("bias_ih" + suffix, (G,), optional=True)
    b_hh = keys.get("bias_hh" + suffix, (G,), optional=not keys.has("bias_ih" + suffix))
    b_ih, b_hh = (zeros, zeros) if b_ih is None else (b_ih, b_hh)
    params = {"W": w_ih[order].T, "R": w_hh[order].T, "b": b_ih[order]}
    if kind == "GRU":
        params["b_hn"], b_hh = b_hh[2 * H:], b_hh[:2 * H]
    else:
        b_hh = b_hh[order]
    if P:
        params["W_proj"] = keys.get("weight_hr" + suffix, (P, H)).T
    return params, b_hh


def _recurrent_from_torch(kind: str, keys: _Keys, split_bias: bool):
    G, D = keys.shape("weight_ih_l0", f"[{RECURRENT[kind]} H, D]")
    H = G // RECURRENT[kind]
    P = keys.shape("weight_hr_l0", "[P, H]")[0] if kind == "LSTM" and keys.has("weight_hr_l0") else None
    suffixes = ("", "_reverse") if keys.has("weight_ih_l0_reverse") else ("",)
    num_layers = 1
    while keys.has(f"weight_ih_l{num_layers}"):
        num_layers += 1
    params, extra = [], []
    for k in range(num_layers):
        d_in = D if k == 0 else len(suffixes) * (P or H)
        cells, b_hh = zip(*[_cell_from_torch(kind, keys, f"_l{k}{s}", d_in, H, P) for s in suffixes])
        params.append(_directions(cells))
        extra.append(_directions([{"b_hh": b} for b in b_hh]))
    nest = lambda layers: layers[0] if num_layers == 1 else {"layers": layers}
    if not split_bias:
        return torch_params.add_hidden_biases(nest(params), nest(extra))
    return nest(params), nest(extra)


def _directions(cells):
    return cells[0] if len(cells) == 1 else {"forward": cells[0], "backward": cells[1]}


def _cells(tree):
    """(layer index, torch suffix, cell params) of an RNN / Bidirectional / Stack params tree."""
    layers = tree["layers"] if "layers" in tree else [tree]
    for k, layer in enumerate(layers):
        directions = (("", layer["forward"]), ("_reverse", layer["backward"])) if "forward" in layer else (("", layer),)
        for s, cell in directions:
            yield k, s, cell


def _recurrent_to_torch(kind: str, params, hidden_biases, bias: bool) -> dict:
    extras = {(k, s): c["b_hh"] for k, s, c in _cells(hidden_biases)} if hidden_biases is not None else {}
    sd = {}
    for k, s, cell in _cells(params):
        suffix = f"_l{k}{s}"
        n = RECURRENT[kind]
        expected = {"W", "R", "b"} | {"GRU": {"b_hn"}, "LSTM": {"W_proj"} & set(cell)}.get(kind, set())
        H = cell["W"].shape[1] // n
        P = cell["W_proj"].shape[1] if "W_proj" in cell else H
        if set(cell) != expected or cell["W"].shape[1] != n * H or cell["R"].shape != (P, n * H):
            hint = {"GRU": " (reset='after' only: torch has no R_h)", "LSTM": " (variant='vanilla', no peepholes)"}
            raise ValueError(f"to_torch({kind!r}): cell {suffix[1:]} has keys {sorted(cell)}, W {cell['W'].shape}, R "
                             f"{cell['R'].shape}; expected keys {sorted(expected)} with W [D, {n} H] and R "
                             f"[H or P, {n} H]{hint.get(kind, '')}.")
        order = _blocks(_LSTM_TO_TORCH, H) if kind == "LSTM" else np.arange(n * H)
        b_hh = np.asarray(extras.get((k, s), np.zeros(n * H if kind != "GRU" else 2 * H, cell["b"].dtype)))
        if kind == "GRU":
            b_hh = np.concatenate([b_hh, cell["b_hn"]])
        sd["weight_ih" + suffix] = np.asarray(cell["W"]).T[order]
        sd["weight_hh" + suffix] = np.asarray(cell["R"]).T[order]
        if bias:
            sd["bias_ih" + suffix] = np.asarray(cell["b"])[order]
            sd["bias_hh" + suffix] = b_hh[order]
        elif np.any(np.asarray(cell["b"])) or np.any(b_hh):
            raise ValueError(f"to_torch({kind!r}, bias=False): cell {suffix[1:]} has a nonzero bias that torch "
                             f"would lose; use bias=True.")
        if "W_proj" in cell:
            sd["weight_hr" + suffix] = np.asarray(cell["W_proj"]).T
    return sd


def carry_to_torch(carry):
    """The carries of `apply_batch` -> torch's h_n [L * dirs, B, P or H] (and c_n [L * dirs, B, H] for LSTM)."""
    cells = [c for _, _, c in _cells({"layers": carry} if isinstance(carry, list) else carry)]
    h = np.stack([np.asarray(c["h"]) for c in cells])
    return (h, np.stack([np.asarray(c["c"]) for c in cells])) if "c" in cells[0] else h


def carry_from_torch(layer, h_0, c_0=None):
    """torch's h_0 (and c_0) [L * dirs, B, .] -> `initial_carry` for `layer.apply_batch` (per example)."""
    layers = layer.layers if isinstance(layer, Stack) else (layer,)
    n = sum(2 if isinstance(l, Bidirectional) else 1 for l in layers)
    if len(h_0) != n or (c_0 is not None and len(c_0) != n):
        raise ValueError(f"carry_from_torch: expected h_0 (and c_0) of shape [{n}, B, .] (layers x directions), "
                         f"got {np.shape(h_0)}" + ("" if c_0 is None else f" and {np.shape(c_0)}"))
    index = iter(range(n))

    def cell():
        i = next(index)
        return {"h": jnp.asarray(h_0[i])} | ({} if c_0 is None else {"c": jnp.asarray(c_0[i])})

    one = lambda l: {"forward": cell(), "backward": cell()} if isinstance(l, Bidirectional) else cell()
    return [one(l) for l in layers] if isinstance(layer, Stack) else one(layer)


# -- feed-forward layers ------------------------------------------------------------

def _linear_from_torch(keys: _Keys, prefix: str = ""):
    O, I = keys.shape(prefix + "weight", "[O, I]")
    params = {"w": keys.get(prefix + "weight", (O, I)).T}
    b = keys.get(prefix + "bias", (O,), optional=True)
    return params if b is None else params | {"b": b}


def _linear_to_torch(params, prefix: str = "") -> dict:
    sd = {prefix + "weight": np.asarray(params["w"]).T}
    return sd | ({prefix + "bias": np.asarray(params["b"])} if "b" in params else {})


def _layer_norm_from_torch(keys: _Keys, prefix: str = ""):
    """{'scale', 'bias'}; either absent where torch has none (elementwise_affine=False or bias=False).
    Inside a TransformerEncoderLayer (a prefix) the weight is required."""
    if not prefix and not keys.has("weight") and not keys.has("bias"):
        return {}  # elementwise_affine=False
    D = keys.shape(prefix + "weight", "[D]") if prefix or keys.has("weight") else keys.shape("bias", "[D]")
    if len(D) != 1:
        keys._fail(f"LayerNorm over {len(D)} axes (normalized_shape {list(D)}); seqmodels normalises the last axis")
    scale, bias = keys.get(prefix + "weight", D, optional=True), keys.get(prefix + "bias", D, optional=True)
    return {k: v for k, v in (("scale", scale), ("bias", bias)) if v is not None}


def _layer_norm_to_torch(params, prefix: str = "") -> dict:
    names = {"scale": "weight", "bias": "bias"}
    return {prefix + names[k]: np.asarray(v) for k, v in params.items()}


def _mha_from_torch(keys: _Keys, prefix: str = ""):
    E = keys.shape(prefix + "out_proj.weight", "[E, E]")[0]
    for name in ("bias_k", "bias_v"):
        if keys.has(prefix + name):
            keys._fail(f"{prefix + name!r} (add_bias_kv=True) has no counterpart in MultiHeadAttention")
    if keys.has(prefix + "in_proj_weight"):
        w_q, w_k, w_v = np.split(keys.get(prefix + "in_proj_weight", (3 * E, E)), 3)
    else:
        w_q = keys.get(prefix + "q_proj_weight", (E, E))
        w_k = keys.get(prefix + "k_proj_weight", (E, None))
        w_v = keys.get(prefix + "v_proj_weight", (E, w_k.shape[1]))  # one context feeds keys and values
    b = keys.get(prefix + "in_proj_bias", (3 * E,), optional=True)
    b_q, b_k, b_v = (None,) * 3 if b is None else np.split(b, 3)
    dense = lambda w, b: {"w": w.T} | ({} if b is None else {"b": b})
    return {"query": dense(w_q, b_q), "key": dense(w_k, b_k), "value": dense(w_v, b_v),
            "out": _linear_from_torch(keys, prefix + "out_proj.")}


def _mha_to_torch(params, prefix: str = "") -> dict:
    w = {k: np.asarray(params[k]["w"]).T for k in ("query", "key", "value")}  # each [E, in]
    E = w["query"].shape[0]
    if any(v.shape[0] != E for v in w.values()) or params["out"]["w"].shape != (E, E):
        raise ValueError(f"to_torch('MultiheadAttention'): query/key/value/out w have shapes "
                         f"{[params[k]['w'].shape for k in ('query', 'key', 'value', 'out')]}; torch needs "
                         f"[., E] for all three and out [E, E] (no grouped-query heads, out_dim = E).")
    if all(v.shape[1] == E for v in w.values()):
        sd = {prefix + "in_proj_weight": np.concatenate([w["query"], w["key"], w["value"]])}
    else:
        sd = {prefix + f"{n}_proj_weight": w[k] for n, k in (("q", "query"), ("k", "key"), ("v", "value"))}
    if "b" in params["query"]:
        sd[prefix + "in_proj_bias"] = np.concatenate([np.asarray(params[k]["b"]) for k in ("query", "key", "value")])
    return sd | _linear_to_torch(params["out"], prefix + "out_proj.")


_BLOCK_PARTS = (("attn", "self_attn.", _mha_from_torch, _mha_to_torch),
                ("attn_norm", "norm1.", _layer_norm_from_torch, _layer_norm_to_torch),
                ("mlp_norm", "norm2.", _layer_norm_from_torch, _layer_norm_to_torch))


def _block_from_torch(keys: _Keys):
    params = {name: read(keys, prefix) for name, prefix, read, _ in _BLOCK_PARTS}
    return params | {"mlp": {"in": _linear_from_torch(keys, "linear1."), "out": _linear_from_torch(keys, "linear2.")}}


def _block_to_torch(params) -> dict:
    sd = {}
    for name, prefix, _, write in _BLOCK_PARTS:
        sd |= write(params[name], prefix)
    return sd | _linear_to_torch(params["mlp"]["in"], "linear1.") | _linear_to_torch(params["mlp"]["out"], "linear2.")


def _conv1d_from_torch(keys: _Keys):
    C_out, C_g, W = keys.shape("weight", "[C_out, C_in / G, W]")
    params = {"kernel": keys.get("weight", (C_out, C_g, W)).transpose(2, 1, 0)}  # [W, C_in / G, C_out]
    b = keys.get("bias", (C_out,), optional=True)
    return params if b is None else params | {"bias": b}


def _conv1d_to_torch(params) -> dict:
    sd = {"weight": np.asarray(params["kernel"]).transpose(2, 1, 0)}
    return sd | ({"bias": np.asarray(params["bias"])} if "bias" in params else {})


_FROM = {"Linear": _linear_from_torch, "Conv1d": _conv1d_from_torch, "LayerNorm": _layer_norm_from_torch,
         "Embedding": lambda keys: {"table": keys.get("weight", keys.shape("weight", "[V, D]"))},
         "MultiheadAttention": _mha_from_torch, "TransformerEncoderLayer": _block_from_torch}
_TO = {"Linear": _linear_to_torch, "Conv1d": _conv1d_to_torch, "LayerNorm": _layer_norm_to_torch,
       "Embedding": lambda params: {"weight": np.asarray(params["table"])},
       "MultiheadAttention": _mha_to_torch, "TransformerEncoderLayer": _block_to_torch}


# -- the interface ------------------------------------------------------------------

def from_torch(kind: str, state_dict, *, split_bias: bool = False):
    """seqmodels params (jax arrays) from a torch `state_dict` of a module of class `kind` (module docstring).

    split_bias (recurrent kinds): return (params with b = b_ih, {'b_hh'} trees) instead of folding b_hh in.
    """
    keys = _Keys(kind, state_dict)
    if kind in RECURRENT:
        out = _recurrent_from_torch(kind, keys, split_bias)
    elif split_bias:
        raise ValueError(f"from_torch({kind!r}): split_bias applies to {list(RECURRENT)} only")
    else:
        out = _FROM[kind](keys)
    keys.finish()
    return jax.tree.map(jnp.asarray, out)


def to_torch(kind: str, params, *, hidden_biases=None, bias: bool = True) -> dict:
    """A torch state_dict (numpy arrays) of a module of class `kind` from seqmodels params.

    Recurrent kinds: `hidden_biases` ({'b_hh'} trees, from split_bias=True) become bias_hh (zeros when None);
    bias=False leaves out the bias keys (of a torch module made with bias=False).
    """
    if kind not in KINDS:
        raise ValueError(f"to_torch: unknown kind {kind!r}; expected one of {list(KINDS)} (torch class names)")
    if kind in RECURRENT:
        return _recurrent_to_torch(kind, params, hidden_biases, bias)
    return _TO[kind](params)


_OPTIONS = {  # the torch constructor options that `layer` maps (sizes and biases come from the state_dict)
    "RNN": ("nonlinearity", "dropout"), "GRU": ("dropout",), "LSTM": ("dropout",),
    "Conv1d": ("stride", "padding", "dilation", "groups", "padding_mode"),
    "MultiheadAttention": ("num_heads", "dropout", "add_bias_kv", "add_zero_attn"),
    "TransformerEncoderLayer": ("nhead", "dropout", "activation", "layer_norm_eps", "norm_first"),
}


def layer(kind: str, state_dict, **options):
    """The seqmodels layer computing what torch's `kind(..., **options)` with this state_dict computes.

    Sizes (and bidirectional, num_layers, proj_size, bias, kdim/vdim, dim_feedforward) are read from the
    state_dict; `options` are the torch constructor's others, with torch's defaults (batch_first is
    accepted and ignored: `apply_batch` takes [B, T, D], `apply` one example [T, D]). Options without a
    counterpart raise a ValueError. Conv1d's padding: 0 -> 'valid'; 'same' or p = d (W - 1) / 2 with
    stride 1 -> 'same' (both put an odd extra zero on the right); "causal" (not a torch value: torch
    users pad (W - 1) d zeros on the left) -> 'causal'. Linear, Embedding and LayerNorm have no layer
    object: call nn.dense.apply, nn.embedding.apply, nn.norms.layer_norm(params, x, eps=1e-5).
    TransformerEncoderLayer's dropout becomes drop_rate and attn_drop_rate; torch also drops inside the
    feed-forward block, which Block does not (the same in eval mode, not in training).
    """
    if kind not in _OPTIONS:
        raise ValueError(f"layer: kind {kind!r} has no layer object; expected one of {list(_OPTIONS)}")
    options.pop("batch_first", None)
    unknown = sorted(set(options) - set(_OPTIONS[kind]))
    if unknown:
        raise ValueError(f"layer({kind!r}): options {unknown} are read from the state_dict or have no counterpart; "
                         f"the options taken are {list(_OPTIONS[kind])} (and batch_first).")
    return _LAYERS[kind](kind, _Keys(kind, state_dict), options.get)


def _recurrent_layer(kind, keys, get):
    nonlinearity = get("nonlinearity", "tanh")
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"layer('RNN'): nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    make = {"RNN": lambda p: Elman(*p["W"].shape, activation=nonlinearity),
            "GRU": lambda p: GRU(p["W"].shape[0], p["W"].shape[1] // 3),
            "LSTM": lambda p: LSTM(p["W"].shape[0], p["W"].shape[1] // 4,
                                   proj_size=p["W_proj"].shape[1] if "W_proj" in p else None)}[kind]
    rnns = [RNN(make(p), reverse=s == "_reverse") for _, s, p in _cells(_recurrent_from_torch(kind, keys, False))]
    if keys.has("weight_ih_l0_reverse"):
        rnns = [Bidirectional(f, b) for f, b in zip(rnns[::2], rnns[1::2])]
    return rnns[0] if len(rnns) == 1 else Stack(tuple(rnns), drop_rate=get("dropout", 0.0))


def _conv1d_layer(kind, keys, get):
    C_out, C_g, W = keys.shape("weight", "[C_out, C_in / G, W]")
    one = lambda name, default: (lambda v: v[0] if isinstance(v, (tuple, list)) and len(v) == 1 else v)(
        get(name, default))  # torch also takes (2,) for 2
    stride, dilation, groups, padding = one("stride", 1), one("dilation", 1), one("groups", 1), one("padding", 0)
    if get("padding_mode", "zeros") != "zeros":
        raise ValueError(f"layer('Conv1d'): padding_mode={get('padding_mode')!r} has no counterpart (zeros only)")
    half = dilation * (W - 1) / 2
    ours = {0: "valid", "valid": "valid", "same": "same", "causal": "causal"}.get(padding)
    ours = "same" if ours is None and padding == half else ours
    if ours is None or (ours == "same" and stride != 1):
        raise ValueError(f"layer('Conv1d'): padding={padding!r} with stride {stride} has no counterpart; "
                         f"seqmodels has 'valid' (0), 'same' (stride 1: 'same' or {half:g}) and 'causal'. "
                         f"Pad x yourself (jnp.pad(x, ((p, p), (0, 0)))) and use padding=0.")
    return Conv1D(C_g * groups, C_out, W, padding=ours, stride=stride, dilation=dilation, groups=groups,
                  use_bias=keys.has("bias"))


def _attention_layer(kind, keys, get):
    if get("add_bias_kv") or get("add_zero_attn"):
        raise ValueError("layer('MultiheadAttention'): add_bias_kv and add_zero_attn have no counterpart")
    if get("num_heads") is None:
        raise ValueError("layer('MultiheadAttention'): pass num_heads (torch's second argument)")
    E = keys.shape("out_proj.weight", "[E, E]")[0]
    return MultiHeadAttention(get("num_heads"), E // get("num_heads"), drop_rate=get("dropout", 0.0),
                              use_bias=keys.has("in_proj_bias"))


def _transformer_layer(kind, keys, get):
    activation = {"relu": "relu", "gelu": gelu_exact}.get(get("activation", "relu"))
    if activation is None or get("nhead") is None:
        raise ValueError(f"layer('TransformerEncoderLayer'): pass nhead, and activation 'relu' or 'gelu' (torch "
                         f"callables have no counterpart), got nhead={get('nhead')}, activation={get('activation')!r}")
    F, E = keys.shape("linear1.weight", "[F, E]")
    return Block(E, get("nhead"), F, norm="pre" if get("norm_first", False) else "post", activation=activation,
                 drop_rate=get("dropout", 0.1), attn_drop_rate=get("dropout", 0.1),
                 norm_eps=get("layer_norm_eps", 1e-5))


_LAYERS = {**dict.fromkeys(RECURRENT, _recurrent_layer), "Conv1d": _conv1d_layer,
           "MultiheadAttention": _attention_layer, "TransformerEncoderLayer": _transformer_layer}


__all__ = ["KINDS", "from_torch", "to_torch", "layer", "carry_to_torch", "carry_from_torch", "gelu_exact"]
