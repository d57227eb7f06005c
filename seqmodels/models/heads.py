"""Heads over any sequence backbone: sequence classifier, per-frame regressor or classifier, next-step predictor.

    body = heads.recurrent(recurrence.RNN(LSTM(2, 64)))   # or heads.convolutional(TCN(...)), heads.transformer(...)
    model = heads.FrameHead(body, output_size=1)          # y_t = W h_t + b        (heads.SequenceClassifier: pooled)
    params = model.init(key)                              # {"backbone": ..., "readout": ...}
    ys = model.apply(params, x)                           # one example: x [T, D] -> [T, O]
    ys = model.apply_batch(params, xs, lengths, key=key, deterministic=False)   # [B, T, D] -> [B, T, O]

A `Backbone` maps one sequence x [T, D] to features h [T, H]. `batch_features`
is the one place where a batch gets its dropout keys: a backbone with a
whole-batch path (`apply_batch`, e.g. the fused RNN kernels) runs once with
the batch's key; any other is vmapped over the examples with one key each,
`jax.random.split(key, B)`, and none when `deterministic`.

Initialisation splits the key once over the parts, in order: the backbone's
`num_keys` keys, then the read-out's (`split_parts`: no split when there is
one part), so a backbone built from several parts (projection, stack,
positions) draws each from its own key.
"""

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp

from seqmodels import recurrence
from seqmodels.array_types import Array, Float, Int, Key, Params
from seqmodels.attention import masks, pooling as attention_pooling, positional
from seqmodels.attention.multi_head import check_last
from seqmodels.cells import torch_params
from seqmodels.conv import streaming
from seqmodels.models import token_embedding
from seqmodels.nn import dense, dropout, embedding, initializers
from seqmodels.nn.lengths import check_lengths

POOLS = ("mean", "last", "flatten", "attention")
READOUT_INITS = ("default", "torch", "normal")


def split_parts(key: Key, num_parts: int) -> list[Key]:
    """One key per part: the key itself for one part, else `jax.random.split(key, num_parts)`."""
    return [key] if num_parts == 1 else list(jax.random.split(key, num_parts))


def readout_init(key: Key, fan_in: int, fan_out: int, kind: str = "default") -> Params:
    """A dense read-out: seqmodels' default (Glorot-uniform, zero bias: nn.dense), "torch": nn.Linear's
    U(+-1/sqrt(fan_in)) for weights and bias, or "normal": weights N(0, 0.01), zero bias (Bai et al.'s TCN)."""
    if kind == "normal":
        return dense.init(key, fan_in, fan_out, w_init=initializers.normal(0.01))
    if kind == "torch":
        u = initializers.uniform(fan_in ** -0.5)
        return dense.init(key, fan_in, fan_out, w_init=u, b_init=u)
    if kind != "default":
        raise ValueError(f"readout init: expected one of {READOUT_INITS}, got {kind!r}")
    return dense.init(key, fan_in, fan_out)


@dataclasses.dataclass(frozen=True)
class Backbone:
    """x [T, D] -> h [T, output_size], as pure functions.

    init(*keys) -> params, with `num_keys` keys; apply(params, x, *, lengths, key, deterministic) -> h;
    apply_batch (optional): the same on [B, T, D] with the batch's key; init_state / step (optional):
    streaming, one frame at a time; `last`: apply takes `last=L` and computes only the last L rows.
    """
    init: Callable[..., Params]
    apply: Callable[..., Array]
    output_size: int
    num_keys: int = 1
    apply_batch: Callable[..., Array] | None = None
    init_state: Callable[[Params], Params] | None = None
    step: Callable[[Params, Params, Array], tuple[Params, Array]] | None = None
    last: bool = False


def batch_features(backbone: Backbone, params: Params, xs: Float[Array, "B T D"], lengths: Int[Array, "B"] | None,
                   key: Key | None, deterministic: bool, **options) -> Float[Array, "B T H"]:
    """The backbone on a batch: its whole-batch path with the batch's key, or vmapped with one key per example.
    `lengths` [B] is checked here, at the model boundary (seqmodels.nn.lengths: integers in [0, T])."""
    check_lengths(lengths, xs.shape[1], "model", batch=xs.shape[0])
    if backbone.apply_batch is not None:
        return backbone.apply_batch(params, xs, lengths=lengths, key=key, deterministic=deterministic, **options)
    keys = None if deterministic or key is None else jax.random.split(key, xs.shape[0])

    def one(x, n, k):
        return backbone.apply(params, x, lengths=n, key=k, deterministic=deterministic, **options)

    return jax.vmap(one, (0, None if lengths is None else 0, None if keys is None else 0))(xs, lengths, keys)


# --------------------------------------------------------------------------- backbones


def recurrent(layer, *, drop_rate: float = 0.0, init: str = "default", hidden_size: int | None = None) -> Backbone:
    """A recurrence layer (RNN, Bidirectional or Stack) as a backbone; its outputs [T, H] are the features.

    drop_rate: dropout on the outputs (a batch draws one mask for the whole [B, T, H]).
    init="torch": PyTorch's nn.RNN/GRU/LSTM parameterisation (seqmodels.cells.torch_params: every weight and
    bias U(+-1/sqrt(hidden_size)), and the second bias vector b_hh as parameters of its own).
    """
    if init not in ("default", "torch"):
        raise ValueError(f"recurrent backbone: init must be 'default' or 'torch', got {init!r}")
    if init == "torch" and not hidden_size:
        raise ValueError("recurrent backbone: init='torch' needs hidden_size (the H of U(+-1/sqrt(H)))")

    def init_fn(key):
        params = layer.init(key)
        if init == "default":
            return params
        params, b_hh = torch_params.init(params, hidden_size, key)
        return {"rnn": params, "b_hh": b_hh}

    def rnn_params(params):
        return params if init == "default" else torch_params.add_hidden_biases(params["rnn"], params["b_hh"])

    def stack_dropout(key, deterministic):  # a Stack's dropout between its layers (its own fold_in(key, layer))
        return {"key": key, "deterministic": deterministic} if isinstance(layer, recurrence.Stack) else {}

    def apply(params, x, *, lengths=None, key=None, deterministic=False):
        _, h = layer.apply(rnn_params(params), x, lengths=lengths, **stack_dropout(key, deterministic))  # [T, H]
        return dropout.apply(h, drop_rate, key=key, deterministic=deterministic, name="recurrent backbone")

    def apply_batch(params, xs, *, lengths=None, key=None, deterministic=False):
        _, hs = layer.apply_batch(rnn_params(params), xs, lengths=lengths, **stack_dropout(key, deterministic))
        return dropout.apply(hs, drop_rate, key=key, deterministic=deterministic, name="recurrent backbone")  # [B, T, H]

    if not isinstance(layer, recurrence.RNN):  # Bidirectional / Stack: no single-cell streaming step
        return Backbone(init_fn, apply, layer.output_size, apply_batch=apply_batch)
    cell = layer.cell

    def step(params, carry, x_t):
        return cell.step(rnn_params(params), carry, x_t)

    return Backbone(init_fn, apply, layer.output_size, apply_batch=apply_batch,
                    init_state=lambda params: cell.initial_carry(rnn_params(params)), step=step)


def convolutional(net, output_size: int) -> Backbone:
    """A causal convolutional net (TCN, TDNN, FIR, causal ConvStack, WaveNet...) as a backbone, streaming one
    frame at a time through its ring buffers (`init_state` / `step`)."""

    def apply(params, x, *, lengths=None, key=None, deterministic=False):
        return net.apply(params, x, lengths=lengths, key=key, deterministic=deterministic)

    return Backbone(net.init, apply, output_size, init_state=lambda params: net.init_state(), step=net.step)


def transformer(stack, input_size: int | None = None, *, vocab_size: int | None = None,
                positional_kind: str = "sinusoidal", max_len: int | None = None) -> Backbone:
    """A transformer Stack over real-valued frames [T, input_size] (a dense projection to D, plus positions)
    or token ids [T] (`vocab_size`: seqmodels.models.token_embedding, sqrt(D) E[id] plus positions).
    positional_kind: sinusoidal | learned (needs max_len) | none (e.g. rotary attention).

    Keys, in order: input layer, stack, learned positions (frames; token embeddings draw their own)."""
    D = stack.block.d_model
    if (input_size is None) == (vocab_size is None):
        raise ValueError("transformer backbone: give exactly one of input_size (features) or vocab_size (token ids)")
    if positional_kind not in token_embedding.POSITIONALS:
        raise ValueError(f"transformer backbone: positional_kind must be one of {token_embedding.POSITIONALS}, "
                         f"got {positional_kind!r}")
    learned = positional_kind == "learned"
    if learned and not max_len:
        raise ValueError("transformer backbone: learned positions need max_len")
    tokens = vocab_size is not None

    def init(k_in, k_stack, k_pos=None):
        if tokens:
            inputs = {"embed": token_embedding.init(k_in, vocab_size, D, max_len=max_len or 0,
                                                    positional_kind=positional_kind)}
        else:
            inputs = {"proj": dense.init(k_in, input_size, D)}
            if learned:
                inputs["positions"] = positional.learned_init(k_pos, max_len, D)
        return {**inputs, "stack": stack.init(k_stack)}

    def embed(params, x):  # [T] ids or [T, input_size] frames -> [T, D]
        T = x.shape[0]
        if tokens:
            return token_embedding.apply(params["embed"], x, jnp.arange(T), positional_kind=positional_kind,
                                         max_len=max_len or T)
        if x.ndim != 2 or x.shape[-1] != input_size:
            raise ValueError(f"transformer backbone: expected frames of shape [T, {input_size}], got {x.shape}")
        h = dense.apply(params["proj"], x)  # [T, D]
        if learned:
            return h + positional.learned(params["positions"], T)
        if positional_kind == "sinusoidal":
            return h + positional.sinusoidal(T, D, dtype=h.dtype)
        return h

    def apply(params, x, *, lengths=None, key=None, deterministic=False, last=None):
        h = masks.zero_padding(embed(params, x), lengths)
        return stack.apply(params["stack"], h, lengths=lengths, key=key, deterministic=deterministic, last=last)

    return Backbone(init, apply, D, num_keys=3 if learned and not tokens else 2, last=True)


def mixer(model) -> Backbone:
    """An MLP-Mixer (seqmodels.models.mixer.Mixer with num_classes=None) as a backbone. Keys: input layer, blocks."""
    if model.num_classes is not None:
        raise ValueError("mixer backbone: build the Mixer with num_classes=None (the head adds the read-out)")

    def init(k_in, k_blocks):
        return model.init_body(k_in, k_blocks)

    def apply(params, x, *, lengths=None, key=None, deterministic=False):
        return model.apply(params, x, lengths=lengths, key=key, deterministic=deterministic)

    return Backbone(init, apply, model.block.d_model, num_keys=2)


# --------------------------------------------------------------------------- heads


def _pool(kind: str, h: Float[Array, "T H"], lengths, pool_params) -> Float[Array, "P"]:
    T = h.shape[0]
    if kind == "flatten":
        return h.reshape(-1)
    if kind == "last":  # the last valid frame (of a bidirectional layer: the backward half's first output)
        return h[-1] if lengths is None else h[jnp.maximum(lengths, 1) - 1]
    if kind == "attention":
        return attention_pooling.apply(pool_params, h, lengths=lengths)[0]
    count = T if lengths is None else jnp.maximum(lengths, 1)
    return h.sum(0) / count  # mean over valid frames (padded rows are zeros)


@dataclasses.dataclass(frozen=True)
class SequenceClassifier:
    """x [T, D] -> logits [C]: backbone, pool over time (mean | last | flatten | attention), dense read-out.

    pool="flatten" needs `seq_len` (the read-out reads every frame)."""
    backbone: Backbone
    num_classes: int
    pool: str = "mean"
    seq_len: int | None = None
    readout_init: str = "default"

    def __post_init__(self):
        if self.pool not in POOLS:
            raise ValueError(f"SequenceClassifier: pool must be one of {POOLS}, got {self.pool!r}")
        if self.pool == "flatten" and not self.seq_len:
            raise ValueError("SequenceClassifier: pool='flatten' needs seq_len")

    @property
    def pooled_size(self) -> int:
        H = self.backbone.output_size
        return H * self.seq_len if self.pool == "flatten" else H

    def init(self, key: Key) -> Params:
        keys = split_parts(key, self.backbone.num_keys + 1)
        params = {"backbone": self.backbone.init(*keys[:-1]),
                  "readout": readout_init(keys[-1], self.pooled_size, self.num_classes, self.readout_init)}
        if self.pool == "attention":
            params["pool"] = attention_pooling.init(jax.random.fold_in(keys[-1], 1), self.backbone.output_size)
        return params

    def _logits(self, params, h, lengths):  # one example: h [T, H] -> [C]
        return dense.apply(params["readout"], _pool(self.pool, h, lengths, params.get("pool")))

    def apply(self, params: Params, x: Float[Array, "T D"], *, lengths: Int[Array, ""] | None = None,
              key: Key | None = None, deterministic: bool = False) -> Float[Array, "C"]:
        h = self.backbone.apply(params["backbone"], x, lengths=lengths, key=key, deterministic=deterministic)
        return self._logits(params, h, lengths)

    def apply_batch(self, params: Params, xs: Float[Array, "B T D"], lengths: Int[Array, "B"] | None = None, *,
                    key: Key | None = None, deterministic: bool = False) -> Float[Array, "B C"]:
        hs = batch_features(self.backbone, params["backbone"], xs, lengths, key, deterministic)  # [B, T, H]
        return jax.vmap(lambda h, n: self._logits(params, h, n), (0, None if lengths is None else 0))(hs, lengths)


@dataclasses.dataclass(frozen=True)
class FrameHead:
    """x [T, D] -> y [T, O]: a dense read-out on every frame (regression, tagging, next-step prediction);
    output_size None: the backbone's features are the output (e.g. a TDNN whose last layer has the outputs).

    `last=L` returns only the last L frames (a backbone with `last` computes only those); `init_state` /
    `step` stream one frame at a time where the backbone streams (causal convs, RNN cells)."""
    backbone: Backbone
    output_size: int | None
    readout_init: str = "default"

    def init(self, key: Key) -> Params:
        keys = split_parts(key, self.backbone.num_keys + (self.output_size is not None))
        params = {"backbone": self.backbone.init(*keys[:self.backbone.num_keys])}
        if self.output_size is not None:
            params["readout"] = readout_init(keys[-1], self.backbone.output_size, self.output_size,
                                             self.readout_init)
        return params

    def _readout(self, params, h):
        return h if self.output_size is None else dense.apply(params["readout"], h)

    def _outputs(self, params, xs, lengths, key, deterministic, last, batched):
        options = {"last": last} if last is not None and self.backbone.last else {}
        if batched:
            h = batch_features(self.backbone, params["backbone"], xs, lengths, key, deterministic, **options)
        else:
            h = self.backbone.apply(params["backbone"], xs, lengths=lengths, key=key, deterministic=deterministic,
                                    **options)
        y = self._readout(params, h)
        if last is not None and not options:  # every frame computed, the last `last` kept
            check_last(last, y.shape[-2], name="FrameHead.apply")
            y = y[..., y.shape[-2] - last:, :]
        return y

    def apply(self, params: Params, x: Float[Array, "T D"], *, lengths: Int[Array, ""] | None = None,
              key: Key | None = None, deterministic: bool = False, last: int | None = None) -> Float[Array, "T O"]:
        return self._outputs(params, x, lengths, key, deterministic, last, False)

    def apply_batch(self, params: Params, xs: Float[Array, "B T D"], lengths: Int[Array, "B"] | None = None, *,
                    key: Key | None = None, deterministic: bool = False,
                    last: int | None = None) -> Float[Array, "B T O"]:
        return self._outputs(params, xs, lengths, key, deterministic, last, True)

    def init_state(self, params: Params) -> Params:
        if self.backbone.step is None:
            raise ValueError("FrameHead.init_state: this backbone does not stream (no step)")
        return self.backbone.init_state(params["backbone"])

    def step(self, params: Params, state: Params, x_t: Float[Array, "D"]) -> tuple[Params, Float[Array, "O"]]:
        state, h = self.backbone.step(params["backbone"], state, x_t)
        return state, self._readout(params, h)


@dataclasses.dataclass(frozen=True)
class Embedded:
    """Token ids [T] -> any model of real-valued frames [T, dim]: x_t = E[id_t], then the model.

    E: [vocab_size, dim] ~ N(0, 1) (seqmodels.nn.embedding). `model` has init(key) / apply(params, x, *,
    lengths, key, deterministic) / apply_batch(params, xs, lengths, *, key, deterministic) (a registry model,
    a SequenceClassifier, a FrameHead); padded ids are read as embeddings and the model's `lengths` masks
    them. Params {'embed': {'table'}, 'model'}; keys: the table's, then the model's.
    """
    model: object
    vocab_size: int
    dim: int

    def __post_init__(self):
        if self.vocab_size < 1 or self.dim < 1:
            raise ValueError(f"Embedded: vocab_size and dim must be positive, got {self.vocab_size}, {self.dim}")

    def init(self, key: Key) -> Params:
        k_embed, k_model = jax.random.split(key)
        return {"embed": embedding.init(k_embed, self.vocab_size, self.dim), "model": self.model.init(k_model)}

    def embed(self, params: Params, ids: Int[Array, "*B T"]) -> Float[Array, "*B T D"]:
        return embedding.apply(params["embed"], ids)

    def apply(self, params: Params, ids: Int[Array, "T"], **options) -> Array:
        if ids.ndim != 1:
            raise ValueError(f"Embedded.apply: expected token ids of shape [T] (one example), got {ids.shape}")
        return self.model.apply(params["model"], self.embed(params, ids), **options)

    def apply_batch(self, params: Params, ids: Int[Array, "B T"], lengths: Int[Array, "B"] | None = None,
                    **options) -> Array:
        if ids.ndim != 2:
            raise ValueError(f"Embedded.apply_batch: expected token ids of shape [B, T], got {ids.shape}")
        return self.model.apply_batch(params["model"], self.embed(params, ids), lengths, **options)


def forecast(model: FrameHead, params: Params, prime: Float[Array, "P D"], horizon: int) -> Float[Array, "N D"]:
    """Next-step prediction, closed loop: warm up on `prime` (true values), then feed each prediction back
    as the next input, `horizon` times. The model maps x_t to a prediction of x_{t+1} (O == D)."""
    step = lambda state, x_t: model.step(params, state, x_t)  # noqa: E731
    state, _ = streaming.run(step, model.init_state(params), prime[:-1])
    _, ys = streaming.generate(step, state, prime[-1], horizon, sample=lambda _, y: (y, y), key=jax.random.key(0))
    return ys


__all__ = ["Backbone", "Embedded", "FrameHead", "SequenceClassifier", "batch_features", "convolutional", "forecast",
           "mixer", "readout_init", "recurrent", "split_parts", "transformer"]
