"""Character language models: LSTM, GRU and a GPT-style Transformer predict the next character.

    python -m experiments.char_lm --workdir=DIR [--config.model.name=transformer|lstm|gru] \
        [--config.data_file=input.txt]

Data: a text (default: Python's stdlib `pydoc_data.topics`, 79 help topics joined, 465,126 characters on
Python 3.11.7; or any UTF-8 file; or TFDS tiny_shakespeare) as characters (`CharTokenizer` over the whole
text); the first 90% train, the last 10% validation, by position (nanoGPT's split).

Training, 12 x 64 characters a step for every model:
- Transformer: random windows of `context` characters (nanoGPT's get_batch).
- RNNs, stateful truncated BPTT: the train split is cut into B streams (B = batch_size); step k feeds
  chunk k of every stream, so consecutive batches are consecutive text, and the final carry of one
  chunk (gradient stopped) is the initial carry of the next (the loop's `Task.train_carry`). The
  carry restarts at zero at the start of every pass over the streams; checkpoints keep it, so a resumed
  run goes on with it.

Evaluation: every eval_every steps, nanoGPT's estimate (the mean loss of eval_iters batches of random
windows, drawn once: valid_loss, train_loss), every window from an empty context (zero carry). At the
end (final_eval): the whole validation split in non-overlapping windows of `context` (full_valid_loss),
for RNNs also in one pass carrying the state (stateful_valid_loss); bits per character = nats / ln 2;
samples at each temperature in DIR/samples.txt (KV-cache decoding for the Transformer, restarted from
the last context/2 characters whenever the context is full; the carried state for RNNs).
"""

import functools
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from experiments import launcher, models, tasks
from seqmodels.data import real
from seqmodels.data.tokenizers import CharTokenizer
from seqmodels.models import transformer
from seqmodels.models.language_model import WEIGHT_INITS, LanguageModel
from seqmodels.models.rnn_language_model import RNNLanguageModel
from seqmodels.training import ConfigError, Task, losses, validate

MODELS = ("transformer", "lstm", "gru")
EMBEDDINGS = {"vaswani": dict(embed_scale=True, embed_stddev=None),  # sqrt(D) E, E ~ N(0, 1/D)
              "gpt2": dict(embed_scale=False, embed_stddev=0.02)}  # E, E ~ N(0, 0.02^2) (nanoGPT)
SOURCES = ("pydoc_topics", "tiny_shakespeare")
NANOGPT = {"nanogpt_readme_cpu_valid_loss": 1.88, "nanogpt_readme_gpu_valid_loss": 1.4697}  # tiny Shakespeare


def load_text(config) -> str:
    """The corpus: config.data_file if set, else data.source."""
    if config.data_file:
        return tasks.read_text_file(config.data_file, "data_file")
    if validate.choice("data.source", config.data.source, SOURCES) == "tiny_shakespeare":
        return "".join(real.tiny_shakespeare_text(split) for split in ("train", "validation", "test"))  # in order
    from pydoc_data import topics
    return "\n\n".join(topics.topics[name] for name in sorted(topics.topics))


def split_ids(config, text: str) -> tuple[CharTokenizer, np.ndarray, np.ndarray]:
    tokenizer = CharTokenizer.build([text])
    ids = tokenizer.encode(text)
    n = int(len(ids) * (1 - validate.in_range("data.valid_fraction", config.data.valid_fraction, 0, 1,
                                              high_open=True)))
    train, valid = ids[:n], ids[n:]
    T, B = config.data.context, config.batch_size
    need_train = T + 1 if config.model.name == "transformer" else B * (T + 1)  # RNNs: B streams of T + 1
    for name, part, need in (("train split", train, need_train), ("validation split", valid, T + 1)):
        if len(part) < need:
            raise ConfigError(f"data.context: a context of {T} characters is longer than the data: the {name} "
                              f"has {len(part)} characters, at least {need} are needed (batch_size {B}); use a "
                              f"shorter data.context or a longer text")
    return tokenizer, train, valid


def windows(ids: np.ndarray, starts: np.ndarray, T: int) -> dict:
    """x = ids[s : s + T], y = ids[s + 1 : s + T + 1] for each start s: int32 [B, T] each."""
    w = ids[starts[:, None] + np.arange(T + 1)]  # [B, T + 1]
    return {"x": w[:, :-1], "y": w[:, 1:]}


class WindowIterator:
    """nanoGPT's get_batch: B random windows a step; the step's windows depend only on (seed, step)."""

    def __init__(self, ids, batch_size: int, context: int, seed: int):
        self.ids, self.B, self.T, self.seed, self.step = ids, batch_size, context, seed, 0

    def __iter__(self):
        return self

    def __next__(self) -> dict:
        rng = np.random.default_rng([self.seed, self.step])
        self.step += 1
        return windows(self.ids, rng.integers(0, len(self.ids) - self.T, self.B), self.T)

    def get_state(self) -> dict:
        return {"seed": self.seed, "step": self.step}

    def set_state(self, state: dict) -> None:
        self.seed, self.step = state["seed"], state["step"]


class StreamIterator:
    """Stateful truncated BPTT: ids cut into B streams of L = N // B; step k gives chunk k mod n of every
    stream (n = (L - 1) // T chunks a pass) and reset [B] = True at chunk 0 (the carry restarts)."""

    def __init__(self, ids, batch_size: int, context: int):
        L = len(ids) // batch_size
        self.starts = np.arange(batch_size) * L  # [B]
        self.ids, self.T, self.n, self.step = ids, context, (L - 1) // context, 0

    def __iter__(self):
        return self

    def __next__(self) -> dict:
        k = self.step % self.n
        self.step += 1
        return {**windows(self.ids, self.starts + k * self.T, self.T), "reset": np.full(len(self.starts), k == 0)}

    def get_state(self) -> dict:
        return {"step": self.step}

    def set_state(self, state: dict) -> None:
        self.step = state["step"]


def build_model(config, vocab_size: int):
    name = validate.choice("model.name", config.model.name, MODELS)
    m = dict(config.model[name])
    if name == "transformer":
        d = validate.positive("model.transformer.d_model", m["d_model"], integer=True)
        block = transformer.Block(d, m["num_heads"], 4 * d, causal=True, drop_rate=m["drop_rate"], norm_eps=1e-5)
        embedding = EMBEDDINGS[validate.choice("model.transformer.embedding", m["embedding"], tuple(EMBEDDINGS))]
        return LanguageModel(vocab_size, transformer.Stack(block, m["num_layers"]), max_len=config.data.context,
                             positional="learned", **embedding,
                             weight_init=validate.choice("model.transformer.weight_init", m["weight_init"],
                                                         WEIGHT_INITS))
    return RNNLanguageModel.of(name, vocab_size, m["hidden_size"], m["num_layers"], drop_rate=m["drop_rate"])


def sample(model, params, prompt: np.ndarray, num_chars: int, key, temperature: float, context: int) -> np.ndarray:
    """`num_chars` sampled after `prompt`: RNNs in one pass carrying the state; the Transformer with its KV
    cache, restarted from the last context/2 characters whenever the context is full."""
    generate = _jit_generate(model)
    if isinstance(model, RNNLanguageModel):
        return np.asarray(generate(params, jnp.asarray(prompt), num_chars, key=key, temperature=temperature))
    out, keep = list(prompt[-context:]), context // 2
    while len(out) < len(prompt) + num_chars:
        key, k = jax.random.split(key)
        window = out[-keep:] if len(out) >= context else out
        ids = generate(params, jnp.asarray(window), context - len(window), key=k, temperature=temperature)
        out += list(np.asarray(ids[len(window):]))
    return np.asarray(out[:len(prompt) + num_chars])


@functools.cache
def _jit_generate(model):  # the model is hashable: one compilation per prompt shape, for every call
    return jax.jit(model.generate, static_argnums=2)


def make_task(config, workdir=None) -> Task:
    d = config.data
    for field in ("context", "eval_iters", "sample_chars"):
        validate.positive(f"data.{field}", d[field], integer=True)
    tokenizer, train, valid = split_ids(config, load_text(config))
    model, T, B = build_model(config, tokenizer.vocab_size), d.context, config.batch_size
    rnn = isinstance(model, RNNLanguageModel)

    def logits_of(params, batch, key, train):
        if not rnn:
            keys = jax.random.split(key, batch["x"].shape[0])
            return None, jax.vmap(lambda x, k: model.apply(params, x, key=k, deterministic=not train))(batch["x"], keys)
        carry = batch.get("carry")  # train batches only: the previous chunk's final carry
        if carry is not None:
            carry = jax.tree.map(lambda c: jnp.where(batch["reset"][:, None], 0.0, c), carry)
        return model.apply_batch(params, batch["x"], initial_carry=carry, key=key, deterministic=not train)

    def loss_fn(params, batch, key, train):
        carry, logits = logits_of(params, batch, key, train)
        loss = losses.cross_entropy(logits, batch["y"])
        return loss, ({"carry": jax.lax.stop_gradient(carry)} if train and "carry" in batch else {})

    @jax.jit
    def summed_ce(params, x, y):
        _, logits = logits_of(params, {"x": x}, jax.random.key(0), False)
        return losses.cross_entropy(logits, y) * y.size

    def full_valid(params) -> dict:
        n = (len(valid) - 1) // T  # non-overlapping windows; the last < T characters are not scored
        x, y = valid[:n * T].reshape(n, T), valid[1:n * T + 1].reshape(n, T)
        total = sum(float(summed_ce(params, x[i:i + 256], y[i:i + 256])) for i in range(0, n, 256))
        metrics = {"full_valid_loss": total / (n * T)}
        if rnn:  # the whole split in one pass, the state carried from the first character to the last
            _, logits = jax.jit(lambda p, x: model.apply_batch(p, x, deterministic=True))(params, valid[None, :-1])
            metrics["stateful_valid_loss"] = float(losses.cross_entropy(logits, valid[None, 1:]))
        return {**metrics, **{k.replace("loss", "bpc"): float(losses.bits_per_character(v))
                              for k, v in metrics.items()}}

    def final_eval(params) -> dict:
        metrics = {"num_params": models.num_params(params), "num_chars": len(train) + len(valid),
                   "vocab_size": tokenizer.vocab_size, **full_valid(params)}
        if workdir is not None and jax.process_index() == 0:
            prompt = tokenizer.encode("\n" if "\n" in tokenizer.tokens else tokenizer.decode(valid[:1]))
            texts = [f"--- temperature {t} ---\n" + tokenizer.decode(sample(
                model, params, prompt, d.sample_chars, jax.random.key(i), t, T)) for i, t in enumerate(d.temperatures)]
            (Path(workdir) / "samples.txt").write_text("\n\n".join(texts) + "\n", encoding="utf-8")
        return metrics

    def estimate_batches(ids, seed):  # nanoGPT's estimate_loss, its random windows drawn once
        rng = np.random.default_rng([d.seed, seed])
        return [windows(ids, rng.integers(0, len(ids) - T, B), T) for _ in range(d.eval_iters)]

    carry0 = model.initial_carry(model.init(jax.random.key(0))) if rnn else None
    return Task(
        init_params=model.init, loss_fn=loss_fn,
        train_iterator=StreamIterator(train, B, T) if rnn else WindowIterator(train, B, T, config.seed),
        eval_batches={"valid": estimate_batches(valid, 1), "train": estimate_batches(train, 2)},
        summarize=lambda m: {**m, "bpc": float(losses.bits_per_character(m["loss"]))},
        final_eval=final_eval,
        reference=NANOGPT,
        train_carry=(lambda: jax.tree.map(lambda c: jnp.zeros((B, *c.shape), c.dtype), carry0)) if rnn else None,
    )


def summarize(run_dirs: dict, out_dir) -> dict:
    """Finished runs (label -> workdir, e.g. transformer, lstm, gru) -> out_dir: results.json, summary.md (the
    table), valid_loss.png, and each run's results, metrics, plots and samples.txt in out_dir/<label>/."""
    from experiments import summarize as report
    rows, curves, runs = [], {}, {}
    for label, run in run_dirs.items():
        results = report.load_results(run)
        m, seconds = results["metrics"], results["timing"]["train_seconds_this_run"]
        report.copy_run(run, Path(out_dir) / label, skip_plots=("train_bpc", "valid_bpc"),
                        extra_files=("samples.txt",))
        curves[label] = report.eval_curve(run, "valid_loss")
        runs[label] = {k: results[k] for k in ("metrics", "steps", "timing", "config")}
        stateful = f"{m['stateful_valid_loss']:.4f}" if "stateful_valid_loss" in m else ""
        rows.append([label, f"{m['num_params']:,.0f}", f"{m['valid_loss']:.4f}", f"{m['full_valid_loss']:.4f}",
                     f"{m['full_valid_bpc']:.3f}", stateful, f"{seconds:.0f} s"])
    report.plot_curves(curves, Path(out_dir) / "valid_loss.png", title="character LMs: validation loss",
                       ylabel="nats per character (20-batch estimate)", hlines={"nanoGPT README (CPU): 1.88": 1.88})
    table = report.markdown_table(["model", "parameters", "val loss (20 batches)", "val loss (whole split)",
                                   "val BPC (whole split)", "val loss (stateful)", "training"], rows)
    report.write_summary(out_dir, {"runs": runs, "reference": NANOGPT}, title="Character language models",
                         table=table)
    return runs


if __name__ == "__main__":
    launcher.run(make_task)
