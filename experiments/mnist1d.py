"""MNIST-1D (Greydanus & Kobak, ICML 2024): eight model families, one table.

    python -m experiments.mnist1d --workdir=workdirs/mnist1d
    python -m experiments.mnist1d --workdir=workdirs/mnist1d_shuffled \
        --config=experiments/configs/mnist1d.py:shuffled
    python -m experiments.mnist1d --workdir=workdirs/mnist1d_best --config=experiments/configs/mnist1d.py:best
    python -m experiments.mnist1d --workdir=workdirs/demo --config=experiments/configs/mnist1d.py:demo

(figures, runtimes and the variants: experiments/configs/mnist1d.py and
results/mnist1d/README.md). MNIST-1D is generated locally by the `mnist1d` package
(`seqmodels.data.packaged.mnist1d`): 4000 train / 1000 test sequences of
length 40, one channel, 10 classes. `data.shuffle=True` is the paper's
variant with the 40 positions permuted (one fixed permutation:
`data.permutation="notebook"`, the paper's benchmark notebook's, or
`"package"`, mnist1d's own), which destroys the spatial prior that CNNs
and RNNs rely on.

The models (`config.model.names`, comma-separated; each has its section
`config.model.<name>`), all reading x: [T=40, 1]:

  logistic     dense 40 -> 10 on the flattened sequence
  mlp          h = relu(W_1 x + b_1); h = h + relu(W_2 h + b_2); logits = W_3 h + b_3,
               hidden 100 (the paper's MLPBase, residual second layer)
  cnn          3 strided Conv1D layers x 25 channels (kernels 5, 3, 3, stride 2,
               1 frame of zero padding each side: 40 -> 19 -> 10 -> 5), ReLU,
               flatten, dense (the paper's ConvBase)
  gru          bidirectional GRU, hidden 6, all 40 outputs [40, 12] flattened
               into a dense layer (the paper's GRU)
  lstm         the same with an LSTM cell
  tcn          TCN (Bai et al. 2018) residual blocks, dilations 1, 2, 4, 8,
               mean over time, dense head
  transformer  pre-norm Transformer encoder on patches of `patch_size` frames
               (x reshaped to [40 / p, p], projected to d_model, learned
               positions), mean-pooled, dense head
  mixer        MLP-Mixer on the same patches

One run trains the models one after another, each with the shared loop
(`seqmodels.training.train_and_evaluate`) in its own sub-workdir
`<workdir>/<name>/` (its own checkpoints, metrics, plots and results.json), so
an interrupted run resumes inside the model it was training and skips
finished ones. At the end the run writes `<workdir>/results.json` with each
model's test accuracy, runtime and the published reference, and
`<workdir>/plots/accuracy.png` (ours vs. published per model) and
`accuracy_curves.png` (eval accuracy against step), and prints the table.

The paper's baselines are PyTorch modules with PyTorch's default init:
`init="torch"` draws weights and biases from U(-1/sqrt(fan_in), 1/sqrt(fan_in))
as nn.Linear / nn.Conv1d do, and every GRU/LSTM weight and bias from
U(-1/sqrt(H), 1/sqrt(H)) as nn.GRU does (the GRU has PyTorch's reset-after
convention), with nn.GRU's / nn.LSTM's second bias vector b_hh kept as
parameters of its own (it adds to b, so Adam moves those gate biases as a
sum of two; the GRU then has the notebook's 5134 parameters); `init="default"` keeps seqmodels' initialisers (lecun-normal
input weights, orthogonal recurrent weights, zero biases).

Protocol (the paper's): Adam lr 1e-2, batch 100, 6000 steps, the test set
evaluated every 250 steps; we report the test accuracy of the LAST step
(`restore_best=False`: choosing the best of 24 test evaluations would be
selection on the test set). `data.num_validation > 0` holds out the last N
training sequences as the eval set instead (the split the `:best` models
were chosen on); the test accuracy is then computed once at the end.
"""

import json
import time
from pathlib import Path
from typing import Any, Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from absl import app, flags, logging
from ml_collections import config_flags

from experiments import launcher  # defines --workdir and --distributed
from seqmodels import recurrence
from seqmodels.cells import GRU, LSTM, torch_params
from seqmodels.conv import TCN, Conv1D
from seqmodels.data import batching, packaged
from seqmodels.models import mixer as mixer_lib
from seqmodels.models import transformer as transformer_lib
from seqmodels.nn import activations, dense, dropout, initializers
from seqmodels.training import (CheckpointError, ConfigError, NonFiniteLossError, Task, losses, parallel,
                                train_and_evaluate, validate)

NUM_CLASSES = 10

# Greydanus & Kobak (ICML 2024), test accuracy; the human expert's figure is the paper's too.
PUBLISHED = {
    "plain": {"logistic": 0.32, "mlp": 0.68, "cnn": 0.94, "gru": 0.91, "human": 0.96},
    "shuffled": {"logistic": 0.32, "mlp": 0.68, "cnn": 0.56, "gru": 0.57, "human": 0.30},
}
REFERENCE = {
    "source": "Greydanus & Kobak, 'Scaling down deep learning with MNIST-1D', ICML 2024 (test accuracy)",
    "protocol": "Adam lr 1e-2, batch 100, 6000 steps; CNN 3 conv x 25 channels; GRU bidirectional hidden 6; "
                "MLP hidden 100",
    "published_plain": PUBLISHED["plain"],
    "published_shuffled": PUBLISHED["shuffled"],
}


# --------------------------------------------------------------------------- models

Model = tuple[Callable, Callable]  # init(key) -> params;  apply(params, xs [B, T, 1], key | None) -> logits [B, C]


INITS = ("torch", "default")
# reshuffle: a new permutation every epoch; fixed: batches cut from the stored order, the same every epoch,
# as the paper's train.py does (bix = step * batch_size % N)
BATCH_ORDERS = ("reshuffle", "fixed")


def _dense_init(key, fan_in: int, fan_out: int, init: str):
    """init="torch": PyTorch's nn.Linear default, weights and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    if init == "torch":
        u = initializers.uniform(fan_in ** -0.5)
        return dense.init(key, fan_in, fan_out, w_init=u, b_init=u)
    return dense.init(key, fan_in, fan_out)


def _patches(xs, patch_size: int, name: str):
    B, T, C = xs.shape
    if T % patch_size:
        raise ConfigError(f"model.{name}.patch_size: {patch_size} does not divide the sequence length {T}")
    return xs.reshape(B, T // patch_size, patch_size * C)


def logistic(cfg, seq_len: int) -> Model:
    validate.choice("model.logistic.init", cfg.init, INITS)

    def init(key):
        return _dense_init(key, seq_len, NUM_CLASSES, cfg.init)

    def apply(params, xs, key):
        return dense.apply(params, xs.reshape(xs.shape[0], -1))

    return init, apply


def mlp(cfg, seq_len: int) -> Model:
    validate.positive("model.mlp.hidden_size", cfg.hidden_size, integer=True)
    validate.positive("model.mlp.num_layers", cfg.num_layers, integer=True)
    validate.choice("model.mlp.init", cfg.init, INITS)
    sizes = [seq_len] + [cfg.hidden_size] * cfg.num_layers + [NUM_CLASSES]

    def init(key):
        return [_dense_init(k, a, b, cfg.init)
                for k, a, b in zip(jax.random.split(key, len(sizes) - 1), sizes, sizes[1:])]

    def apply(params, xs, key):
        h = jax.nn.relu(dense.apply(params[0], xs.reshape(xs.shape[0], -1)))
        for p in params[1:-1]:  # the paper's MLPBase: h = h + relu(W h + b) after the first layer
            h = h + jax.nn.relu(dense.apply(p, h)) if cfg.residual else jax.nn.relu(dense.apply(p, h))
        return dense.apply(params[-1], h)

    return init, apply


def cnn(cfg, seq_len: int) -> Model:
    validate.positive("model.cnn.channels", cfg.channels, integer=True)
    validate.positive("model.cnn.stride", cfg.stride, integer=True)
    validate.choice("model.cnn.padding", cfg.padding, ("same", "valid", "causal"))
    validate.choice("model.cnn.readout", cfg.readout, ("flatten", "mean"))
    validate.choice("model.cnn.init", cfg.init, INITS)
    validate.non_negative("model.cnn.pad", cfg.pad, integer=True)
    validate.in_range("model.cnn.drop_rate", cfg.drop_rate, 0.0, 1.0, high_open=True)
    act = activations.get(validate.choice("model.cnn.activation", cfg.activation, ("relu", "gelu", "tanh")))
    if not cfg.kernel_sizes:
        raise ConfigError("model.cnn.kernel_sizes: expected at least one layer, got ()")
    for w in cfg.kernel_sizes:
        validate.positive("model.cnn.kernel_sizes", w, integer=True)
    layers, in_ch, length = [], 1, seq_len
    for w in cfg.kernel_sizes:
        conv = Conv1D(in_ch, cfg.channels, w, padding=cfg.padding, stride=cfg.stride)
        layers.append(conv)
        in_ch, length = cfg.channels, int(conv.output_length(length + 2 * cfg.pad))
        if length < 1:
            raise ConfigError(f"model.cnn: kernel_sizes {tuple(cfg.kernel_sizes)} with stride {cfg.stride} "
                              f"leave no frame of a length-{seq_len} input")
    head_in = length * cfg.channels if cfg.readout == "flatten" else cfg.channels

    def init(key):
        keys = jax.random.split(key, len(layers) + 1)
        convs = []
        for conv, k in zip(layers, keys):
            if cfg.init == "torch":  # nn.Conv1d's default: U(+-1/sqrt(fan_in)), fan_in = W C_in
                u = initializers.uniform((conv.kernel_size * conv.in_channels) ** -0.5)
                convs.append(conv.init(k, w_init=u, b_init=u))
            else:
                convs.append(conv.init(k))
        return {"convs": convs, "head": _dense_init(keys[-1], head_in, NUM_CLASSES, cfg.init)}

    def one(params, x, key):  # [T, 1] -> [C]; dropout after every layer when training (key given)
        keys = [None] * len(layers) if key is None else list(jax.random.split(key, len(layers)))
        for conv, p, k in zip(layers, params["convs"], keys):
            if cfg.pad:  # explicit zero padding, as PyTorch's Conv1d(padding=p) with padding="valid"
                x = jnp.pad(x, ((cfg.pad, cfg.pad), (0, 0)))
            x = dropout.apply(act(conv.apply(p, x)), cfg.drop_rate, key=k, deterministic=k is None)
        return x.reshape(-1) if cfg.readout == "flatten" else x.mean(0)

    def apply(params, xs, key):
        if key is None:
            return dense.apply(params["head"], jax.vmap(lambda x: one(params, x, None))(xs))
        keys = jax.random.split(key, xs.shape[0])
        return dense.apply(params["head"], jax.vmap(lambda x, k: one(params, x, k))(xs, keys))

    return init, apply


def _recurrent(cell_cls, name: str):
    def build(cfg, seq_len: int) -> Model:
        validate.positive(f"model.{name}.hidden_size", cfg.hidden_size, integer=True)
        validate.positive(f"model.{name}.num_layers", cfg.num_layers, integer=True)
        validate.choice(f"model.{name}.readout", cfg.readout, ("flatten", "last", "mean"))
        validate.choice(f"model.{name}.init", cfg.init, INITS)
        layers, in_size = [], 1
        for _ in range(cfg.num_layers):
            cell = cell_cls(in_size, cfg.hidden_size)
            layer = recurrence.Bidirectional.of(cell) if cfg.bidirectional else recurrence.RNN(cell)
            layers.append(layer)
            in_size = layer.output_size
        stack = recurrence.Stack(tuple(layers))
        head_in = seq_len * in_size if cfg.readout == "flatten" else in_size

        def init(key):
            k_rnn, k_head = jax.random.split(key)
            rnn = stack.init(k_rnn)
            params = {"head": _dense_init(k_head, head_in, NUM_CLASSES, cfg.init)}
            if cfg.init == "torch":  # nn.GRU / nn.LSTM: every weight and bias U(-1/sqrt(H), 1/sqrt(H)), and
                # PyTorch's second bias vector (b_hh) as its own parameters: trained by Adam on their own, so
                # the r/z (GRU) or all four (LSTM) gate biases move as the two vectors' sum, as in nn.GRU
                rnn, params["rnn_b_hh"] = torch_params.init(rnn, cfg.hidden_size, k_rnn)
            params["rnn"] = rnn
            return params

        def apply(params, xs, key):
            rnn = params["rnn"]
            if "rnn_b_hh" in params:
                rnn = torch_params.add_hidden_biases(rnn, params["rnn_b_hh"])
            _, hs = stack.apply_batch(rnn, xs)  # [B, T, H or 2H]
            if cfg.readout == "flatten":
                h = hs.reshape(hs.shape[0], -1)
            elif cfg.readout == "last":  # forward direction's last step (backward: its first output)
                h = hs[:, -1]
            else:
                h = hs.mean(1)
            return dense.apply(params["head"], h)

        return init, apply

    return build


def tcn(cfg, seq_len: int) -> Model:
    validate.positive("model.tcn.channels", cfg.channels, integer=True)
    validate.positive("model.tcn.num_levels", cfg.num_levels, integer=True)
    validate.positive("model.tcn.kernel_size", cfg.kernel_size, integer=True)
    validate.in_range("model.tcn.drop_rate", cfg.drop_rate, 0.0, 1.0, high_open=True)
    validate.choice("model.tcn.readout", cfg.readout, ("last", "mean", "flatten"))
    net = TCN(1, (cfg.channels,) * cfg.num_levels, kernel_size=cfg.kernel_size, drop_rate=cfg.drop_rate)
    head_in = seq_len * cfg.channels if cfg.readout == "flatten" else cfg.channels

    def init(key):
        k_net, k_head = jax.random.split(key)
        return {"tcn": net.init(k_net), "head": dense.init(k_head, head_in, NUM_CLASSES)}

    def apply(params, xs, key):
        keys = None if key is None else jax.random.split(key, xs.shape[0])
        hs = jax.vmap(lambda x, k: net.apply(params["tcn"], x, key=k), (0, 0 if key is not None else None))(
            xs, keys)  # [B, T, C]
        h = {"last": lambda: hs[:, -1], "mean": lambda: hs.mean(1),
             "flatten": lambda: hs.reshape(hs.shape[0], -1)}[cfg.readout]()
        return dense.apply(params["head"], h)

    return init, apply


def transformer(cfg, seq_len: int) -> Model:
    for field in ("patch_size", "d_model", "num_heads", "d_ff", "num_layers"):
        validate.positive(f"model.transformer.{field}", cfg[field], integer=True)
    validate.in_range("model.transformer.drop_rate", cfg.drop_rate, 0.0, 1.0, high_open=True)
    validate.choice("model.transformer.pool", cfg.pool, ("mean", "attention"))
    if seq_len % cfg.patch_size:
        raise ConfigError(f"model.transformer.patch_size: {cfg.patch_size} does not divide the length {seq_len}")
    if cfg.d_model % cfg.num_heads:
        raise ConfigError(f"model.transformer: d_model={cfg.d_model} is not divisible by num_heads={cfg.num_heads}")
    block = transformer_lib.Block(d_model=cfg.d_model, num_heads=cfg.num_heads, d_ff=cfg.d_ff,
                                  drop_rate=cfg.drop_rate)
    model = transformer_lib.Classifier(transformer_lib.Stack(block, cfg.num_layers), NUM_CLASSES,
                                       input_dim=cfg.patch_size, max_len=seq_len // cfg.patch_size,
                                       positional="learned", pool=cfg.pool)

    return model.init, _patch_apply(model, cfg.patch_size, "transformer")


def _patch_apply(model, patch_size: int, name: str):
    """apply(params, xs [B, T, 1], key) of a patch model (Transformer, Mixer): patches, then one example at a
    time under vmap, dropout only when a key is given."""

    def apply(params, xs, key):
        patches = _patches(xs, patch_size, name)
        if key is None:
            return jax.vmap(lambda x: model.apply(params, x, deterministic=True))(patches)
        keys = jax.random.split(key, xs.shape[0])
        return jax.vmap(lambda x, k: model.apply(params, x, key=k))(patches, keys)

    return apply


def mixer(cfg, seq_len: int) -> Model:
    for field in ("patch_size", "d_model", "token_hidden", "channel_hidden", "num_layers"):
        validate.positive(f"model.mixer.{field}", cfg[field], integer=True)
    validate.in_range("model.mixer.drop_rate", cfg.drop_rate, 0.0, 1.0, high_open=True)
    if seq_len % cfg.patch_size:
        raise ConfigError(f"model.mixer.patch_size: {cfg.patch_size} does not divide the length {seq_len}")
    block = mixer_lib.MixerBlock(seq_len=seq_len // cfg.patch_size, d_model=cfg.d_model,
                                 token_hidden=cfg.token_hidden, channel_hidden=cfg.channel_hidden,
                                 drop_rate=cfg.drop_rate)
    model = mixer_lib.Mixer(block, cfg.num_layers, input_dim=cfg.patch_size, num_classes=NUM_CLASSES)

    return model.init, _patch_apply(model, cfg.patch_size, "mixer")


MODELS: dict[str, Callable[[Any, int], Model]] = {
    "logistic": logistic, "mlp": mlp, "cnn": cnn, "gru": _recurrent(GRU, "gru"), "lstm": _recurrent(LSTM, "lstm"),
    "tcn": tcn, "transformer": transformer, "mixer": mixer,
}


# --------------------------------------------------------------------------- data and task


def model_names(config) -> list[str]:
    """config.model.names ("cnn,gru" or a sequence) -> validated list, in order, no repeats."""
    names = config.model.names
    names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
    names = [n for n in names if n]
    if not names:
        raise ConfigError(f"model.names: expected at least one of {sorted(MODELS)}, got {config.model.names!r}")
    for name in names:
        validate.choice("model.names", name, MODELS)
        if name not in config.model:
            raise ConfigError(f"model.names: {name!r} has no config section model.{name}")
    if len(set(names)) != len(names):
        raise ConfigError(f"model.names: {names} names a model twice")
    return names


def load_data(config) -> dict:
    """The MNIST-1D splits the config asks for: {'train', 'eval', 'test'} (eval is test unless num_validation)."""
    d = config.data
    validate.positive("data.num_samples", d.num_samples, integer=True)
    validate.non_negative("data.num_validation", d.num_validation, integer=True)
    permutation = validate.choice("data.permutation", d.get("permutation", "package"), packaged.MNIST1D_PERMUTATIONS)
    data = packaged.mnist1d(shuffle_positions=bool(d.shuffle), permutation=permutation, num_samples=d.num_samples)
    train, test = data["train"], data["test"]
    if d.num_validation:
        n = len(train["y"]) - d.num_validation
        if n < config.batch_size:
            raise ConfigError(f"data.num_validation: {d.num_validation} leaves {n} training sequences, "
                              f"fewer than one batch of {config.batch_size}")
        valid = {k: v[n:] for k, v in train.items()}
        train = {k: v[:n] for k, v in train.items()}
        return {"train": train, "eval": valid, "test": test}
    return {"train": train, "eval": test, "test": test}


def make_task(config, data: dict | None = None) -> Task:
    """The Task of one model: `config` is a sub-run's config (`model_config(config, name)`), whose
    `model` section is that model's with its `name`; data: `load_data(config)`, generated here if None."""
    name = validate.choice("model.name", config.model.name, MODELS)
    data = load_data(config) if data is None else data
    seq_len = data["train"]["x"].shape[1]
    init_fn, apply_fn = MODELS[name](config.model, seq_len)

    def loss_fn(params, batch, key, train):
        logits = apply_fn(params, batch["x"], key if train else None)  # [B, C]
        mask = batch.get("valid")
        loss = losses.cross_entropy(logits, batch["y"], mask)
        metrics = {"accuracy": losses.accuracy(logits, batch["y"], mask)}
        if mask is not None:
            metrics["weight"] = mask.sum()
        return loss, metrics

    eval_fn = jax.jit(lambda params, x: apply_fn(params, x, None))

    def final_eval(params):
        if data["eval"] is data["test"]:
            return {}
        x, y = data["test"]["x"], data["test"]["y"]
        logits = np.concatenate([np.asarray(eval_fn(params, x[i:i + 500])) for i in range(0, len(y), 500)])
        return {"test_accuracy": float(np.mean(logits.argmax(-1) == y))}

    variant = "shuffled" if config.data.shuffle else "plain"
    batch_order = validate.choice("data.batch_order", config.data.get("batch_order", "reshuffle"), BATCH_ORDERS)
    return Task(
        init_params=init_fn,
        loss_fn=loss_fn,
        train_iterator=batching.TrainIterator(batching.ArraySource(data["train"]), config.batch_size,
                                              seed=config.seed, shuffle=batch_order == "reshuffle"),
        eval_batches=lambda: batching.eval_batches(batching.ArraySource(data["eval"]), config.batch_size),
        final_eval=final_eval,
        reference={"model": name, "published_accuracy": PUBLISHED[variant].get(name),
                   "human": PUBLISHED[variant]["human"], "source": REFERENCE["source"]},
    )


def model_config(config, name: str) -> ml_collections.ConfigDict:
    """The sub-run's config: the shared fields, `model` = model.<name> (+ name), optimizer overrides applied."""
    sub = ml_collections.ConfigDict(config.to_dict())
    section = ml_collections.ConfigDict(config.model[name].to_dict())
    optimizer_overrides = section.to_dict().pop("optimizer", None) or {}
    with sub.ignore_type():
        sub.model = ml_collections.ConfigDict({"name": name, **{k: v for k, v in section.items()
                                                               if k != "optimizer"}})
        sub.optimizer.update(optimizer_overrides)
        steps = section.get("num_steps")
        if steps:
            sub.num_steps = steps
    validate.train_config(sub)
    return sub


# --------------------------------------------------------------------------- the run


def _accuracy(result: dict) -> float:
    m = result["metrics"]
    return m.get("test_accuracy", m.get("accuracy"))


def plot_accuracies(models: dict, variant: str, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(models)
    ours = [100 * models[n]["test_accuracy"] for n in names]
    fig, ax = plt.subplots(figsize=(max(5.0, 1.0 + 0.9 * len(names)), 4.2))
    bars = ax.bar(names, ours, color="tab:blue", label="ours (test)")
    for bar, acc in zip(bars, ours):
        ax.text(bar.get_x() + bar.get_width() / 2, acc + 1, f"{acc:.1f}", ha="center", fontsize=8)
    published = [(i, 100 * PUBLISHED[variant][n]) for i, n in enumerate(names) if n in PUBLISHED[variant]]
    if published:
        xs, ys = zip(*published)
        ax.scatter(xs, ys, marker="_", s=600, color="tab:red", linewidths=2.5, label="published (paper's model)",
                   zorder=3)
    ax.axhline(100 * PUBLISHED[variant]["human"], color="gray", ls="--", lw=1, label="human expert")
    ax.set_ylim(0, 105)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"MNIST-1D ({variant})")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3, fontsize=8, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_curves(workdir: Path, names: list[str], variant: str, path: Path) -> Path:
    """Eval accuracy against step, one line per model (from each sub-run's metrics.jsonl)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from seqmodels.training import writers

    fig, ax = plt.subplots(figsize=(6, 4))
    for name in names:
        points = [(r["step"], 100 * r["accuracy"]) for r in writers.read_jsonl(workdir / name / "metrics.jsonl")
                  if r["split"] == "eval" and "accuracy" in r]
        if points:
            steps, accs = zip(*points)
            ax.plot(steps, accs, marker="o" if len(points) < 3 else None, label=name)
    ax.axhline(100 * PUBLISHED[variant]["human"], color="gray", ls="--", lw=1, label="human expert")
    ax.set_xlabel("step")
    ax.set_ylabel("eval accuracy (%)")
    ax.set_title(f"MNIST-1D ({variant})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def format_table(models: dict, variant: str) -> str:
    lines = [f"MNIST-1D ({variant}), test accuracy after the last step",
             f"{'model':12s} {'ours':>7s} {'published':>10s} {'steps':>6s} {'train s':>8s}"]
    for name, m in models.items():
        ref = PUBLISHED[variant].get(name)
        ref_text = f"{100 * ref:.0f}%" if ref is not None else "-"
        lines.append(f"{name:12s} {100 * m['test_accuracy']:6.1f}% {ref_text:>10s} {m['steps']:6d} "
                     f"{m['train_seconds']:8.1f}")
    lines.append(f"{'human':12s} {'':>7s} {100 * PUBLISHED[variant]['human']:9.0f}%")
    return "\n".join(lines)


def run_experiment(config, workdir: str | Path) -> dict:
    """Train every model of config.model.names in <workdir>/<name>, then write the combined results."""
    workdir = Path(workdir)
    validate.train_config(config)
    names = model_names(config)
    sub_configs = {name: model_config(config, name) for name in names}  # validates every section first
    for name in names:
        MODELS[name](config.model[name], 40)  # config errors before any data or training
    start = time.perf_counter()
    data = load_data(config)
    variant = "shuffled" if config.data.shuffle else "plain"
    models = {}
    for name in names:
        sub_dir = workdir / name
        timing_file = sub_dir / "mnist1d_train_seconds.json"  # summed over the invocations that trained
        done_before = json.loads(timing_file.read_text())["train_seconds"] if timing_file.exists() else 0.0
        logging.info("training %s in %s", name, sub_dir)
        task = make_task(sub_configs[name], data)
        num_params = sum(int(np.prod(p.shape)) for p in jax.tree_util.tree_leaves(
            jax.eval_shape(task.init_params, jax.random.key(0))))
        result = train_and_evaluate(sub_configs[name], sub_dir, task)
        seconds = done_before + result["timing"]["train_seconds_this_run"]
        if jax.process_index() == 0:
            timing_file.write_text(json.dumps({"train_seconds": seconds}) + "\n")
        models[name] = {
            "test_accuracy": _accuracy(result),
            "test_loss": result["metrics"].get("loss") if data["eval"] is data["test"] else None,
            "eval_accuracy": result["metrics"].get("accuracy"),
            "published": PUBLISHED[variant].get(name),
            "steps": result["steps"]["last"],
            "train_seconds": seconds,
            "num_params": num_params,
            "workdir": name,
        }
        print(f"{name}: test accuracy {100 * models[name]['test_accuracy']:.1f}%", flush=True)
    best = max(models, key=lambda n: models[n]["test_accuracy"])
    results = {
        "metrics": {**{f"test_accuracy_{n}": m["test_accuracy"] for n, m in models.items()},
                    "best_model": best, "best_test_accuracy": models[best]["test_accuracy"],
                    "beats_human": models[best]["test_accuracy"] > PUBLISHED[variant]["human"]},
        "models": models,
        "reference": {**REFERENCE, "variant": variant},
        "config": config.to_dict(),
        "timing": {"wall_seconds_this_run": time.perf_counter() - start,
                   "train_seconds": sum(m["train_seconds"] for m in models.values())},
    }
    if jax.process_index() == 0:
        (workdir / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
        plot_accuracies(models, variant, workdir / "plots" / "accuracy.png")
        plot_curves(workdir, names, variant, workdir / "plots" / "accuracy_curves.png")
    print("\n" + format_table(models, variant), flush=True)
    return results


# --------------------------------------------------------------------------- command line

_CLEAN_ERRORS = (CheckpointError, ConfigError, NonFiniteLossError)


def main(argv: list[str]) -> None:
    """launcher.run's checks and clean errors, with several models per run (launcher.run takes one Task)."""
    FLAGS = flags.FLAGS
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if not FLAGS.workdir:
        raise app.UsageError("--workdir is required")
    parallel.initialize_distributed(FLAGS.distributed)
    try:
        run_experiment(FLAGS.config, FLAGS.workdir)
    except _CLEAN_ERRORS as e:
        logging.error("%s: %s", type(e).__name__, e)
        raise SystemExit(f"error: {e}")
    logging.info("done: results in %s", Path(FLAGS.workdir) / "results.json")


if __name__ == "__main__":
    config_flags.DEFINE_config_file("config", str(launcher.default_config_path(__file__)),
                                    "Experiment config file, optionally with ':variant' (passed to get_config).")
    app.run(main)
