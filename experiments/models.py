"""The model registry: every experiment builds its models here, from `config.model`.

    model = models.build(config.model, models.Spec(input_size=2, output_size=1, output="frames"))
    params = model.init(key)
    ys = model.apply_batch(params, xs, lengths, key=key, deterministic=not train)   # [B, T, D] -> [B, T, O]

One config layout everywhere: `config.model.name` picks a section
`config.model.<name>`, whose fields size the model (a multi-model run lists
several in `config.model.names`). A section's `kind` says what it builds
(default: the section's name), so one run can hold two models of one kind
(`rnn4 = dict(kind="elman", hidden_size=4)`). Kinds:

  elman (or rnn), jordan, lstm, gru, mgu, min_gru, min_lstm, additive (h = h' + tanh(W x + R h' + b))
        recurrent: hidden_size, num_layers (1), bidirectional (False),
        drop_rate (on the outputs), init ("default" | "torch": PyTorch's
        nn.RNN/GRU/LSTM parameterisation), and any option of the cell
        (lstm: peepholes, variant, proj_size, forget_bias; gru: reset;
        elman: activation; jordan: out_size, ...: seqmodels/cells/)
  tcn   channels, levels, kernel_size, drop_rate, conv_init
  tdnn  hidden (sizes between input and output), taps, activation
  fir   taps (one linear filter)
  transformer   d_model, num_heads, d_ff, num_layers, drop_rate, positional, attention (dense | local |
        strided | fixed | longformer | bigbird | performer) with its parameters window, stride,
        num_summary, global_tokens, num_global_blocks, num_random_blocks, num_window_blocks,
        num_features, attention_seed; block_size (sparse blocks, or dense blockwise tiles), attn_impl
        (auto | dense | blockwise): seqmodels/attention/multi_head.py's AttentionKind
  mixer         d_model, token_hidden, channel_hidden, num_layers, drop_rate
  cnn   channels, kernel_sizes, stride, padding, pad, activation, drop_rate, init
  cnn2d channels (one per conv block), kernel_size, padding, pooling, pool_size, activation,
        hidden_size, drop_rate: reads x [T, D] as one grey image [H=T, W=D] (seqmodels/models/cnn2d.py)
  mlp, logistic hidden_size, num_layers, residual, activation (relu), drop_rate, init (default |
        torch | glorot | naive: seqmodels/models/mlp.py), on the flattened sequence

The head comes from the experiment's `Spec`: output="class" gives a
`seqmodels.models.heads.SequenceClassifier` (a section's `pool`: mean | last
| flatten | attention), output="frames" a `FrameHead` (one output per frame;
streaming `step` where the backbone streams). `patch_size` (transformer,
mixer) reads x [T, D] as T / p patches of p frames. Every read-out's
initialiser is the section's `readout_init` (default | torch | normal: N(0, 0.01)),
"torch" wherever `init` is "torch".
"""

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp
import ml_collections

from seqmodels import recurrence
from seqmodels.attention.multi_head import KINDS, AttentionKind
from seqmodels.cells import GRU, LSTM, MGU, AdditiveRNN, Elman, Jordan, MinGRU, MinLSTM
from seqmodels.conv import FIR, TCN, TDNN, Conv1D
from seqmodels.conv.tcn import CONV_INITS
from seqmodels.models import heads, mixer as mixer_lib, transformer as transformer_lib
from seqmodels.models.cnn2d import CNN2D, POOLINGS
from seqmodels.models.mlp import INITS as MLP_INITS, MLP
from seqmodels.nn import activations, dropout, initializers
from seqmodels.training import validate
from seqmodels.training.validate import ConfigError

CELLS = {"elman": Elman, "rnn": Elman, "jordan": Jordan, "lstm": LSTM, "gru": GRU, "mgu": MGU,
         "min_gru": MinGRU, "min_lstm": MinLSTM, "additive": AdditiveRNN}  # additive: the "LSTM idea" cell
INITS = ("default", "torch")
READOUT_INITS = heads.READOUT_INITS
_RECURRENT_FIELDS = ("hidden_size", "num_layers", "bidirectional", "drop_rate", "layer_drop_rate", "residual", "init",
                     "pool", "readout_init", "kind")


@dataclasses.dataclass(frozen=True)
class Spec:
    """What the experiment needs: input width, output width, one output per sequence ("class") or per frame
    ("frames"), causal attention (a model that must not see the future), the fixed sequence length (for
    flatten read-outs and the Mixer's token MLP)."""
    input_size: int
    output_size: int
    output: str = "frames"
    causal: bool = False
    seq_len: int | None = None

    def __post_init__(self):
        if self.output not in ("frames", "class"):
            raise ValueError(f"Spec.output: expected 'frames' or 'class', got {self.output!r}")


def num_params(params) -> int:
    return int(sum(x.size for x in jax.tree.leaves(params)))


def names(model_config) -> list[str]:
    """config.model.names ("cnn,gru" or a sequence) -> the sections, in order, checked; or [config.model.name]."""
    raw = model_config.get("names") or model_config.get("name")
    listed = [n.strip() for n in raw.split(",")] if isinstance(raw, str) else list(raw or ())
    listed = [n for n in listed if n]
    sections = [k for k, v in model_config.items() if isinstance(v, (dict, ml_collections.ConfigDict))]
    if not listed:
        raise ConfigError(f"model.names: expected at least one of the sections {sections}, got {raw!r}")
    for name in listed:
        if name not in sections:
            raise ConfigError(f"model.name(s): {name!r} has no section model.{name}; sections: {sections}")
    if len(set(listed)) != len(listed):
        raise ConfigError(f"model.names: {listed} names a model twice")
    return listed


def section(model_config, name: str) -> dict:
    """The fields of model.<name> as a plain dict (the section's own `optimizer`/`num_steps` left out)."""
    return {k: v for k, v in dict(model_config[name]).items() if k not in ("optimizer", "num_steps")}


def sub_config(config, name: str, *, model_fields: dict | None = None, **fields) -> ml_collections.ConfigDict:
    """The config of one sub-run of a multi-model experiment: the shared fields, `model` = {name, <name>: its
    section, **model_fields}, the section's own `optimizer` / `num_steps` applied, then `fields` (seed, ...);
    checked as a training config."""
    sub = ml_collections.ConfigDict(config.to_dict())
    section = config.model[name].to_dict()
    with sub.ignore_type():
        sub.model = ml_collections.ConfigDict({"name": name, **(model_fields or {}), name: section})
        sub.optimizer.update(section.get("optimizer") or {})
        if section.get("num_steps"):
            sub.num_steps = section["num_steps"]
        for field, value in fields.items():
            sub[field] = value
    validate.train_config(sub)
    return sub


def build(model_config, spec: Spec, name: str | None = None):
    """The model of section `name` (default: model_config.name), with the head `spec` asks for."""
    name = name or model_config.name
    if name not in model_config:
        raise ConfigError(f"model.name: {name!r} has no section model.{name}")
    cfg = section(model_config, name)
    kind = validate.choice(f"model.{name}.kind", cfg.get("kind", name), BUILDERS)
    _check_causal(f"model.{name}", kind, cfg, spec)
    patch = validate.positive(f"model.{name}.patch_size", cfg.get("patch_size", 1), integer=True)
    if spec.seq_len is not None and spec.seq_len % patch:
        raise ConfigError(f"model.{name}.patch_size: {patch} does not divide the sequence length {spec.seq_len}")
    if patch > 1 and spec.output == "frames":
        raise ConfigError(f"model.{name}.patch_size: {patch} patches give one output per patch, but this experiment "
                          f"needs one per frame (patch_size=1)")
    model = BUILDERS[kind](_Fields(f"model.{name}", cfg, kind), spec)
    return model if patch == 1 else Patched(model, patch, f"model.{name}.patch_size")


def _check_causal(prefix: str, kind: str, cfg: dict, spec: Spec) -> None:
    """A task whose output at t may only see x[<= t] (next-step prediction, copy memory) refuses models that look
    ahead: bidirectional RNNs, the Mixer's token MLP, non-causal convolutions, whole-sequence MLPs."""
    if not spec.causal:
        return
    ahead = {"mixer": "its token-mixing MLP reads every frame", "mlp": "it reads the whole sequence",
             "logistic": "it reads the whole sequence"}.get(kind)
    if kind in CELLS and cfg.get("bidirectional"):
        ahead = "bidirectional=True reads the sequence backwards too"
    if kind == "cnn" and cfg.get("padding", "same") != "causal":
        ahead = f"padding={cfg.get('padding', 'same')!r} looks ahead (use padding='causal')"
    if ahead:
        raise ConfigError(f"{prefix}: this task needs a causal model (the output at t may see x[<= t] only), and "
                          f"{kind}: {ahead}")


class _Fields:
    """A section's fields, read with a default and checked; every field must be read (typos are errors)."""

    def __init__(self, prefix: str, cfg: dict, kind: str):
        self.prefix, self.cfg, self.kind, self.read = prefix, dict(cfg), kind, {"kind", "patch_size"}

    def get(self, field: str, default: Any = None) -> Any:
        self.read.add(field)
        return self.cfg.get(field, default)

    def positive(self, field: str, default: Any = None) -> int:
        return validate.positive(f"{self.prefix}.{field}", self.get(field, default), integer=True)

    def rate(self, field: str = "drop_rate") -> float:
        return validate.in_range(f"{self.prefix}.{field}", self.get(field, 0.0), 0.0, 1.0, high_open=True)

    def choice(self, field: str, default: Any, choices) -> Any:
        return validate.choice(f"{self.prefix}.{field}", self.get(field, default), choices)

    def rest(self) -> dict:
        return {k: v for k, v in self.cfg.items() if k not in self.read}

    def done(self) -> None:
        unknown = sorted(self.rest())
        if unknown:
            raise ConfigError(f"{self.prefix}: unknown field(s) {unknown}; read: {sorted(self.read - {'kind'})}")


def _readout_kind(f: _Fields, init: str = "default") -> str:
    return f.choice("readout_init", "torch" if init == "torch" else "default", READOUT_INITS)


def _head(f: _Fields, spec: Spec, backbone: heads.Backbone, readout: str, *, per_frame_identity: bool = False):
    if spec.output == "class":
        pool = f.choice("pool", "mean", heads.POOLS)
        f.done()
        return heads.SequenceClassifier(backbone, spec.output_size, pool=pool, seq_len=spec.seq_len,
                                        readout_init=readout)
    f.done()
    return heads.FrameHead(backbone, None if per_frame_identity else spec.output_size, readout_init=readout)


def _recurrent(f: _Fields, spec: Spec):
    cell_cls = CELLS[f.kind]
    hidden = f.positive("hidden_size")
    num_layers = f.positive("num_layers", 1)
    bidirectional = bool(f.get("bidirectional", False))
    drop_rate = f.rate()
    layer_drop_rate = f.rate("layer_drop_rate")  # between stacked layers
    residual = bool(f.get("residual", False))  # between stacked layers of equal width
    init = f.choice("init", "default", INITS)
    options = {k: v for k, v in f.rest().items() if k not in ("pool", "readout_init")}  # the cell's own options
    known = {fl.name for fl in dataclasses.fields(cell_cls)} - {"input_size", "hidden_size"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigError(f"{f.prefix}: unknown field(s) {unknown}; {cell_cls.__name__} options: {sorted(known)}, "
                          f"recurrent fields: {list(_RECURRENT_FIELDS)}")
    f.read.update(options)
    layers, size = [], spec.input_size
    for _ in range(num_layers):
        try:
            cell = cell_cls(size, hidden, **options)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"{f.prefix}: {e}") from None
        layer = recurrence.Bidirectional.of(cell) if bidirectional else recurrence.RNN(cell)
        layers.append(layer)
        size = layer.output_size
    body = (layers[0] if num_layers == 1 and not bidirectional
            else recurrence.Stack(tuple(layers), residual=residual, drop_rate=layer_drop_rate))
    backbone = heads.recurrent(body, drop_rate=drop_rate, init=init, hidden_size=hidden)
    return _head(f, spec, backbone, _readout_kind(f, init))


def _tcn(f: _Fields, spec: Spec):
    channels, levels = f.positive("channels"), f.positive("levels")
    net = TCN(spec.input_size, (channels,) * levels, kernel_size=f.positive("kernel_size"), drop_rate=f.rate(),
              conv_init=f.choice("conv_init", "normal", CONV_INITS))
    return _head(f, spec, heads.convolutional(net, channels), _readout_kind(f))


def _tdnn(f: _Fields, spec: Spec):
    hidden = tuple(f.get("hidden", ()))
    taps = tuple(f.get("taps", ()))
    for v in hidden + taps:
        validate.positive(f"{f.prefix}.hidden / taps", v, integer=True)
    if len(taps) != len(hidden) + 1:
        raise ConfigError(f"{f.prefix}: one tap count per layer: {len(hidden) + 1} layers (hidden={hidden}) "
                          f"need {len(hidden) + 1} taps, got taps={taps}")
    net = TDNN((spec.input_size, *hidden, spec.output_size), taps, activation=f.get("activation", "tanh"),
               output_activation="identity")
    return _head(f, spec, heads.convolutional(net, spec.output_size), "default", per_frame_identity=True)


def _fir(f: _Fields, spec: Spec):
    net = FIR(spec.input_size, spec.output_size, taps=f.positive("taps"))
    return _head(f, spec, heads.convolutional(net, spec.output_size), "default", per_frame_identity=True)


_ATTENTION_FIELDS = ("window", "stride", "num_summary", "global_tokens", "num_global_blocks", "num_random_blocks",
                     "num_window_blocks", "num_features")


def _attention_kind(f: _Fields) -> AttentionKind:
    """config `attention` (a kind's name) and the parameters given (others keep AttentionKind's defaults)."""
    name = f.choice("attention", "dense", KINDS)
    given = {k: f.get(k) for k in _ATTENTION_FIELDS if f.get(k) is not None}
    try:
        return AttentionKind(name, block_size=f.get("block_size"), seed=f.get("attention_seed", 0), **given)
    except ValueError as e:
        raise ConfigError(f"{f.prefix}.attention={name!r}: {e}") from None


def _transformer(f: _Fields, spec: Spec):
    d_model, num_heads = f.positive("d_model"), f.positive("num_heads")
    d_ff, num_layers = f.positive("d_ff"), f.positive("num_layers")
    if d_model % num_heads:
        raise ConfigError(f"{f.prefix}.d_model: {d_model} is not divisible by num_heads={num_heads}")
    kind = _attention_kind(f)
    tile = {} if kind.name != "dense" or f.get("block_size") is None else {"block_size": f.positive("block_size")}
    block = transformer_lib.Block(d_model, num_heads, d_ff, causal=spec.causal, drop_rate=f.rate(), attn_kind=kind,
                                  attn_impl=f.choice("attn_impl", "auto", ("auto", "dense", "blockwise")), **tile)
    positional_kind = f.choice("positional", "sinusoidal", ("sinusoidal", "learned"))
    patch = f.get("patch_size", 1)
    max_len = None if spec.seq_len is None else spec.seq_len // patch
    backbone = heads.transformer(transformer_lib.Stack(block, num_layers), spec.input_size * patch,
                                 positional_kind=positional_kind, max_len=max_len)
    return _head(f, spec, backbone, _readout_kind(f))


def _mixer(f: _Fields, spec: Spec):
    d_model, token_hidden = f.positive("d_model"), f.positive("token_hidden")
    channel_hidden, num_layers = f.positive("channel_hidden"), f.positive("num_layers")
    patch = f.get("patch_size", 1)
    if spec.seq_len is None:
        raise ConfigError(f"{f.prefix}: the Mixer's token MLP needs a fixed sequence length")
    block = mixer_lib.MixerBlock(seq_len=spec.seq_len // patch, d_model=d_model, token_hidden=token_hidden,
                                 channel_hidden=channel_hidden, drop_rate=f.rate())
    body = mixer_lib.Mixer(block, num_layers, input_dim=spec.input_size * patch)
    return _head(f, spec, heads.mixer(body), _readout_kind(f))


def _cnn(f: _Fields, spec: Spec):
    channels, stride = f.positive("channels"), f.positive("stride", 1)
    padding = f.choice("padding", "same", ("same", "valid", "causal"))
    pad = validate.non_negative(f"{f.prefix}.pad", f.get("pad", 0), integer=True)
    act = activations.get(f.choice("activation", "relu", ("relu", "gelu", "tanh")))
    init = f.choice("init", "default", INITS)
    drop_rate = f.rate()
    kernel_sizes = tuple(f.get("kernel_sizes", ()))
    if not kernel_sizes:
        raise ConfigError(f"{f.prefix}.kernel_sizes: expected at least one layer, got ()")
    convs, in_ch, length = [], spec.input_size, spec.seq_len
    for w in kernel_sizes:
        validate.positive(f"{f.prefix}.kernel_sizes", w, integer=True)
        conv = Conv1D(in_ch, channels, w, padding=padding, stride=stride)
        convs.append(conv)
        in_ch = channels
        if length is not None:
            length = int(conv.output_length(length + 2 * pad))
            if length < 1:
                raise ConfigError(f"{f.prefix}: kernel_sizes {kernel_sizes} with stride {stride} leave no frame of "
                                  f"a length-{spec.seq_len} input")

    def init_fn(*keys):
        if init == "torch":  # nn.Conv1d's default: U(+-1/sqrt(fan_in)), fan_in = W C_in
            us = [initializers.uniform((c.kernel_size * c.in_channels) ** -0.5) for c in convs]
            return {"convs": [c.init(k, w_init=u, b_init=u) for c, k, u in zip(convs, keys, us)]}
        return {"convs": [c.init(k) for c, k in zip(convs, keys)]}

    def apply(params, x, *, lengths=None, key=None, deterministic=False):
        if lengths is not None:
            raise ValueError("cnn: reads a fixed-length input; lengths are not supported")
        keys = dropout.split(None if deterministic else key, len(convs))
        for conv, p, k in zip(convs, params["convs"], keys):
            if pad:  # explicit zero padding, as PyTorch's Conv1d(padding=p) with padding="valid"
                x = jnp.pad(x, ((pad, pad), (0, 0)))
            x = dropout.apply(act(conv.apply(p, x)), drop_rate, key=k, deterministic=deterministic, name=f.prefix)
        return x  # [T', C]

    if spec.output == "frames" and (stride > 1 or padding == "valid" or pad):
        raise ConfigError(f"{f.prefix}: stride {stride}, padding {padding!r}, pad {pad} change the number of frames, "
                          f"but this experiment needs one output per input frame")
    backbone = heads.Backbone(init_fn, apply, channels, num_keys=len(convs))
    if spec.output == "class" and f.get("pool", "mean") == "flatten":
        spec = dataclasses.replace(spec, seq_len=length)  # the read-out reads the T' frames the convs leave
    return _head(f, spec, backbone, _readout_kind(f, init))


def _mlp(f: _Fields, spec: Spec, *, logistic: bool = False):
    if spec.output != "class" or spec.seq_len is None:
        raise ConfigError(f"{f.prefix}: an MLP reads a whole fixed-length sequence and gives one output")
    hidden = () if logistic else (f.positive("hidden_size"),) * f.positive("num_layers")
    model = MLP(spec.seq_len * spec.input_size, hidden, spec.output_size, residual=bool(f.get("residual", False)),
                init_kind=f.choice("init", "default", MLP_INITS), drop_rate=f.rate(),
                activation=f.choice("activation", "relu", activations.NAMES))
    f.done()
    return model


def _cnn2d(f: _Fields, spec: Spec):
    """Images reach the registry as sequences of rows, x [T=H, D=W]; the 2-D CNN reads one as a grey image."""
    if spec.output != "class" or spec.seq_len is None:
        raise ConfigError(f"{f.prefix}: a 2-D CNN reads a whole image x [H=T, W=D] (fixed seq_len) and gives one "
                          f"output")
    channels = tuple(f.get("channels", (8, 16)))
    for c in channels:
        validate.positive(f"{f.prefix}.channels", c, integer=True)
    options = dict(kernel_size=f.positive("kernel_size", 3),
                   padding=f.choice("padding", "same", ("same", "valid")).upper(),
                   pooling=f.choice("pooling", "max", POOLINGS), pool_size=f.positive("pool_size", 2),
                   activation=f.choice("activation", "relu", activations.NAMES),
                   hidden_size=validate.non_negative(f"{f.prefix}.hidden_size", f.get("hidden_size", 0), integer=True),
                   drop_rate=f.rate())
    try:
        model = CNN2D((spec.seq_len, spec.input_size), 1, channels, spec.output_size, **options)
    except ValueError as e:  # the blocks leave no pixel of the image
        raise ConfigError(f"{f.prefix}: {e}") from None
    f.done()
    return model


BUILDERS: dict[str, Callable] = {
    **{kind: _recurrent for kind in CELLS},
    "tcn": _tcn, "tdnn": _tdnn, "fir": _fir, "transformer": _transformer, "mixer": _mixer, "cnn": _cnn,
    "cnn2d": _cnn2d,
    "mlp": _mlp, "logistic": lambda f, spec: _mlp(f, spec, logistic=True),
}


@dataclasses.dataclass(frozen=True)
class Patched:
    """A model that reads x [T, D] as T / p patches of p frames, [T / p, p D] (ViT's patches, MNIST-1D's)."""
    model: Any
    patch_size: int
    field: str = "patch_size"

    def _patches(self, x):
        T, D = x.shape
        if T % self.patch_size:
            raise ConfigError(f"{self.field}: {self.patch_size} does not divide the sequence length {T}")
        return x.reshape(T // self.patch_size, self.patch_size * D)  # [T / p, p D]

    def init(self, key):
        return self.model.init(key)

    def apply(self, params, x, *, lengths=None, key=None, deterministic=False):
        if lengths is not None:
            raise ValueError(f"{self.field}: patches of a fixed-length input; lengths are not supported")
        return self.model.apply(params, self._patches(x), key=key, deterministic=deterministic)

    def apply_batch(self, params, xs, lengths=None, *, key=None, deterministic=False):
        if lengths is not None:
            raise ValueError(f"{self.field}: patches of a fixed-length input; lengths are not supported")
        return self.model.apply_batch(params, jax.vmap(self._patches)(xs), key=key, deterministic=deterministic)
