"""Polyphonic music: next-frame prediction on Bach chorales (88-key piano rolls), LSTM, GRU and TCN.

    python -m experiments.chorales --config=experiments/configs/chorales.py:tcn  --workdir=workdirs/chorales_tcn
    python -m experiments.chorales --config=experiments/configs/chorales.py:lstm --workdir=workdirs/chorales_lstm
    python -m experiments.chorales --config=experiments/configs/chorales.py:gru  --workdir=workdirs/chorales_gru
    python -m experiments.chorales summarize workdirs/chorales_{lstm,gru,tcn} --out=results/chorales

Task (Boulanger-Lewandowski et al. 2012; Bai, Kolter & Koltun 2018, Table 1):
a piece is a binary piano roll r [T, 88] (key k on at frame t when MIDI note
k + 21 sounds); the model reads x = r[:-1] and gives, at every frame t, 88
independent Bernoulli probabilities for the next frame r[t + 1] (it sees only
frames <= t). Score: Bernoulli NLL summed over the 88 keys, averaged over all
predicted frames of the split (frames of all pieces pooled, padding masked).

Data. Default: music21's bundled Bach chorales (the 371 Riemenschneider
chorales; seqmodels.data.packaged.bach_chorales) at one frame per quarter
note (the JSB frame rate), split by piece with a seeded permutation into
60/20/20 % = 223 train / 74 valid / 74 test pieces (split_seed 0). This is
NOT the standard JSB Chorales split (229/76/77 pieces of Allan & Williams'
382 chorales), so our numbers are not directly comparable to the published
ones. `--config.data_file=PATH` reads the standard file instead
(JSB_Chorales.pickle: {'train','valid','test'} lists of pieces, each a list
of frames of MIDI note numbers; or JSB_Chorales.mat with traindata /
validdata / testdata cells of [T, 88] rolls), which is how the published
table (LSTM 8.45, GRU 8.43, TCN 8.10) is reproduced.

Models (all about 270-290K parameters, as in Bai et al.):
  * tcn   seqmodels.conv.TCN: levels x hidden channels, kernel k, dilations
          1, 2, ..., dropout, weight norm; causal, so right padding never
          reaches a valid frame; a dense read-out to 88 logits.
  * lstm  one LSTM layer (seqmodels.recurrence.RNN, fused whole-batch kernel,
          `lengths` for padding), dropout on its outputs, dense read-out.
  * gru   the same with a GRU (reset after the product, the cuDNN form).
All three can drop input notes at training time (`model.input_dropout`: each
1 of the input roll becomes 0 with that probability, no rescaling).
The read-out bias starts at the logits of the training set's key
frequencies, so an untrained model already scores near the baseline below.

Training: Adam, batches of pieces bucketed by length (padded, masked loss),
the validation NLL evaluated every `eval_every` steps, early stopping on it,
and results.json reports the test NLL of the best-validation checkpoint.

Baseline (final_eval): the product of independent per-key marginals,
p_k = frequency of key k over the training frames, scored on the same
targets. results.json: metrics.test_nll / valid_nll / train_nll,
baseline_*_nll, num_params, split sizes; reference: the published numbers.
"""

import json
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from experiments import launcher
from seqmodels import recurrence
from seqmodels.cells import GRU, LSTM
from seqmodels.conv import TCN
from seqmodels.conv.tcn import CONV_INITS
from seqmodels.data import batching, packaged
from seqmodels.nn import dense, dropout
from seqmodels.training import ConfigError, Task, losses, validate

MODELS = ("lstm", "gru", "tcn")
NUM_KEYS = packaged.NUM_KEYS
PUBLISHED_JSB_TEST_NLL = {"lstm": 8.45, "gru": 8.43, "tcn": 8.10}  # Bai et al. 2018, Table 1 (standard split)
PUBLISHED_MARGINAL_BASELINE = 11.1  # independent per-key marginals on the standard JSB split
_MARGINAL_EPS = 1e-3  # key frequencies are clipped to [eps, 1 - eps] (keys never on in training)


# --------------------------------------------------------------------------- data


def load_rolls(config) -> tuple[dict[str, list[np.ndarray]], str]:
    """{'train', 'valid', 'test'} lists of [T, 88] rolls, and a sentence naming the source and split."""
    d = config.data
    if config.data_file:
        path = Path(config.data_file)
        try:
            rolls = packaged.load_jsb_chorales(path)
        except (FileNotFoundError, ValueError) as e:
            raise ConfigError(f"data_file: {e}") from None
        source = f"standard JSB Chorales piano rolls from {path.name} (the file's own train/valid/test split)"
    else:
        if d.num_pieces is not None:
            validate.positive("data.num_pieces", d.num_pieces, integer=True)
        validate.positive("data.frames_per_quarter", d.frames_per_quarter, integer=True)
        validate.non_negative("data.split_seed", d.split_seed, integer=True)
        try:
            rolls = packaged.bach_chorales(num_pieces=d.num_pieces, frames_per_quarter=d.frames_per_quarter,
                                           split_seed=d.split_seed)
        except ValueError as e:
            raise ConfigError(f"data: {e}") from None
        source = (f"music21's Bach chorales ({sum(map(len, rolls.values()))} pieces, "
                  f"{d.frames_per_quarter} frame(s) per quarter note), split by piece at random "
                  f"(split_seed {d.split_seed}) 60/20/20 %: NOT the standard JSB split (229/76/77)")
    for split, pieces in rolls.items():
        short = [i for i, r in enumerate(pieces) if len(r) < 2]
        if not pieces or short:
            raise ConfigError(f"data: split {split!r} needs pieces of >= 2 frames; it has {len(pieces)} pieces, "
                              f"of which {len(short)} are shorter")
    return rolls, source


def key_marginals(rolls: list[np.ndarray]) -> np.ndarray:
    """[88] frequency of each key over the target frames (r[1:]) of `rolls`, clipped to [eps, 1 - eps]."""
    targets = np.concatenate([r[1:] for r in rolls])
    return np.clip(targets.mean(0), _MARGINAL_EPS, 1.0 - _MARGINAL_EPS).astype(np.float64)


def marginal_nll(p: np.ndarray, rolls: list[np.ndarray]) -> float:
    """Frame-averaged NLL (summed over keys) of the targets r[1:] under independent Bernoulli(p_k) keys."""
    targets = np.concatenate([r[1:] for r in rolls]).astype(np.float64)  # [N, 88]
    return float(-(targets @ np.log(p) + (1.0 - targets) @ np.log1p(-p)).mean())


def _bucket_boundaries(lengths: np.ndarray, num_buckets: int) -> tuple[int, ...]:
    return batching.quantile_boundaries(lengths, num_buckets, multiple=16)


# --------------------------------------------------------------------------- models


def make_model(config):
    """(init_params(key, marginals) -> params, logits(params, x [B,T,88], lengths [B], key|None) -> [B,T,88])."""
    m = config.model
    validate.choice("model.name", m.name, MODELS)
    validate.positive("model.hidden_size", m.hidden_size, integer=True)
    validate.in_range("model.dropout", m.dropout, 0.0, 1.0, high_open=True)
    validate.in_range("model.input_dropout", m.input_dropout, 0.0, 1.0, high_open=True)
    if m.name == "tcn":
        validate.positive("model.num_levels", m.num_levels, integer=True)
        validate.positive("model.kernel_size", m.kernel_size, integer=True)
        conv_init = validate.choice("model.conv_init", m.get("conv_init", "normal"), CONV_INITS)
        body = TCN(NUM_KEYS, (m.hidden_size,) * m.num_levels, kernel_size=m.kernel_size, drop_rate=m.dropout,
                   conv_init=conv_init)
    else:
        cell = (LSTM if m.name == "lstm" else GRU)(NUM_KEYS, m.hidden_size)
        body = recurrence.RNN(cell)

    def init_params(key, marginals):
        k_body, k_out = jax.random.split(key)
        readout = dense.init(k_out, m.hidden_size, NUM_KEYS)
        readout["b"] = jnp.asarray(np.log(marginals / (1.0 - marginals)), jnp.float32)  # sigmoid(b) = p_k
        return {"body": body.init(k_body), "readout": readout}

    def logits(params, x, lengths, key=None):
        if key is not None and m.input_dropout > 0:  # drop input notes (training only)
            key, k_in = jax.random.split(key)
            x = dropout.apply(x, m.input_dropout, key=k_in) * (1.0 - m.input_dropout)  # keep 0/1 values
        if m.name == "tcn":
            if key is None:
                h = jax.vmap(lambda xi, n: body.apply(params["body"], xi, lengths=n))(x, lengths)
            else:
                keys = jax.random.split(key, x.shape[0])
                h = jax.vmap(lambda xi, n, k: body.apply(params["body"], xi, lengths=n, key=k))(x, lengths, keys)
        else:
            _, h = body.apply_batch(params["body"], x, lengths=lengths)  # [B, T, H]
            if key is not None and m.dropout > 0:
                h = dropout.apply(h, m.dropout, key=key)
        return dense.apply(params["readout"], h)  # [B, T, 88]

    return init_params, logits


def num_params(params) -> int:
    return int(sum(np.size(p) for p in jax.tree_util.tree_leaves(params)))


# --------------------------------------------------------------------------- task


def make_task(config) -> Task:
    d = config.data
    validate.positive("data.num_buckets", d.num_buckets, integer=True)
    validate.positive("data.eval_batch_size", d.eval_batch_size, integer=True)
    init_model, logits_fn = make_model(config)
    rolls, source = load_rolls(config)
    marginals = key_marginals(rolls["train"])
    examples = {split: packaged.next_frame_examples(pieces) for split, pieces in rolls.items()}

    train_lengths = np.asarray([len(x) for x in examples["train"]["x"]])
    boundaries = _bucket_boundaries(train_lengths, d.num_buckets)
    if len(rolls["train"]) < config.batch_size:
        raise ConfigError(f"batch_size: {config.batch_size} is more than the {len(rolls['train'])} training pieces")
    try:
        train_iterator = batching.TrainIterator(batching.ArraySource(examples["train"]), config.batch_size,
                                                seed=config.seed, seq_keys=("x", "y"),
                                                bucket_boundaries=boundaries, lengths=train_lengths)
    except ValueError as e:  # e.g. no length bucket holds a full batch
        raise ConfigError(f"batch_size / data.num_buckets: {e}") from None

    def sorted_source(split):  # eval in length order: little padding, few distinct shapes to compile
        ex = examples[split]
        order = np.argsort([len(x) for x in ex["x"]], kind="stable")
        return batching.ArraySource({k: [v[i] for i in order] for k, v in ex.items()})

    eval_sources = {split: sorted_source(split) for split in ("train", "valid", "test")}

    def batches(split):
        return batching.eval_batches(eval_sources[split], d.eval_batch_size, seq_keys=("x", "y"), pad_multiple=16)

    def loss_fn(params, batch, key, train):
        x, y, lengths = batch["x"], batch["y"], batch["lengths"]
        mask = losses.mask_from_lengths(lengths, x.shape[1])  # [B, T]
        if "valid" in batch:  # eval batches: the filler copies of the last batch count for nothing
            mask = mask & batch["valid"][:, None]
        z = logits_fn(params, x, lengths, key if train else None)
        nll = losses.bernoulli_nll(z, y, mask)
        return nll, {"nll": nll, "weight": mask.sum()}

    eval_nll = jax.jit(lambda params, batch: loss_fn(params, batch, None, False)[1])

    def split_nll(params, split):
        total = frames = 0.0
        for batch in batches(split):
            out = jax.device_get(eval_nll(params, batch))
            total += float(out["nll"]) * float(out["weight"])
            frames += float(out["weight"])
        return total / frames

    def final_eval(params):
        metrics = {f"{split}_nll": split_nll(params, split) for split in ("test", "valid", "train")}
        for split in ("test", "valid", "train"):
            metrics[f"baseline_{split}_nll"] = marginal_nll(marginals, rolls[split])
        metrics["num_params"] = num_params(params)
        for split, pieces in rolls.items():
            metrics[f"num_{split}_pieces"] = len(pieces)
            metrics[f"num_{split}_frames_predicted"] = sum(len(r) - 1 for r in pieces)
        name = config.model.name
        print(f"\n{name}: {metrics['num_params']} params; NLL per frame (summed over 88 keys)")
        print(f"  test  {metrics['test_nll']:.3f}   (independent-key baseline {metrics['baseline_test_nll']:.3f}; "
              f"published on the standard JSB split: {PUBLISHED_JSB_TEST_NLL[name]})")
        print(f"  valid {metrics['valid_nll']:.3f}   train {metrics['train_nll']:.3f}")
        print(f"  data: {source}")
        return metrics

    return Task(
        init_params=lambda key: init_model(key, marginals),
        loss_fn=loss_fn,
        train_iterator=train_iterator,
        eval_batches=lambda: batches("valid"),
        final_eval=final_eval,
        reference={
            "published_jsb_test_nll": PUBLISHED_JSB_TEST_NLL[config.model.name],
            "published_jsb_test_nll_all": dict(PUBLISHED_JSB_TEST_NLL),
            "published_marginal_baseline": PUBLISHED_MARGINAL_BASELINE,
            "source": "Bai, Kolter & Koltun 2018, Table 1 (JSB Chorales, ~300K params)",
            "data": source,
            "comparable_to_published": bool(config.data_file),
        },
    )


# --------------------------------------------------------------------------- summary of the three runs


def summarize(run_dirs, out_dir) -> dict:
    """Collect the runs into out_dir: <model>/results.json + plots, results.json (the table), summary.md,
    valid_nll.png (the three validation curves) and split.json (music21 corpus names of each split's pieces)."""
    import shutil

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    runs = {}
    fig, ax = plt.subplots(figsize=(6, 4))
    for run_dir in map(Path, run_dirs):
        results = json.loads((run_dir / "results.json").read_text())
        name = results["config"]["model"]["name"]
        runs[name] = results
        dest = out_dir / name
        dest.mkdir(exist_ok=True)
        shutil.copy(run_dir / "results.json", dest / "results.json")
        for png in (run_dir / "plots").glob("*.png"):
            if png.stem != "weight":  # frames per batch, not a result
                shutil.copy(png, dest / png.name)
        records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line]
        points = [(r["step"], r["nll"]) for r in records if r.get("split") == "eval" and "nll" in r]
        if points:
            ax.plot(*zip(*points), label=f"{name} (valid)")
    any_metrics = next(iter(runs.values()))["metrics"]
    ax.axhline(any_metrics["baseline_valid_nll"], color="gray", ls="--", label="independent keys (valid)")
    ax.set_xlabel("step")
    ax.set_ylabel("NLL per frame (nats)")
    ax.set_title("Bach chorales: validation NLL")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / "valid_nll.png", dpi=100)
    plt.close(fig)

    rows = ["| model | params | test NLL (ours) | published (standard JSB) | independent-key baseline (ours) "
            "| best step / last step | train time |", "|---|---|---|---|---|---|---|"]
    table = {}
    for name in MODELS:
        if name not in runs:
            continue
        r = runs[name]
        m = r["metrics"]
        table[name] = {"num_params": m["num_params"], "test_nll": m["test_nll"], "valid_nll": m["valid_nll"],
                       "train_nll": m["train_nll"], "baseline_test_nll": m["baseline_test_nll"],
                       "published_jsb_test_nll": r["reference"]["published_jsb_test_nll"],
                       "train_seconds": r["timing"]["train_seconds_this_run"], "steps": r["steps"]}
        rows.append(f"| {name} | {int(m['num_params']):,} | {m['test_nll']:.3f} | "
                    f"{r['reference']['published_jsb_test_nll']} | {m['baseline_test_nll']:.3f} | "
                    f"{r['steps']['params_from']} / {r['steps']['last']} | "
                    f"{r['timing']['train_seconds_this_run'] / 60:.1f} min |")
    data = next(iter(runs.values()))["reference"]["data"]
    split = {s: {"pieces": int(any_metrics[f"num_{s}_pieces"]), "frames": int(any_metrics[f"num_{s}_frames_predicted"])}
             for s in ("train", "valid", "test")}
    summary = {"models": table, "data": data, "split": split,
               "baseline_independent_keys": {s: any_metrics[f"baseline_{s}_nll"] for s in ("train", "valid", "test")},
               "published_marginal_baseline": PUBLISHED_MARGINAL_BASELINE}
    config = next(iter(runs.values()))["config"]
    if not config.get("data_file"):  # music21: list the pieces of each split (corpus names)
        d = config["data"]
        _, names = packaged.bach_chorales(num_pieces=d["num_pieces"], frames_per_quarter=d["frames_per_quarter"],
                                          split_seed=d["split_seed"], return_names=True)
        (out_dir / "split.json").write_text(json.dumps(names, indent=1) + "\n")
    (out_dir / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
    split_line = ", ".join(f"{s} {v['pieces']} pieces / {v['frames']} predicted frames" for s, v in split.items())
    (out_dir / "summary.md").write_text(
        "# Bach chorales, next-frame NLL (nats per frame, summed over 88 keys)\n\n" + "\n".join(rows)
        + f"\n\nData: {data}.\nSplit: {split_line}.\n")
    print("\n".join(rows))
    return summary


def _summarize_main(argv: list[str]) -> None:
    out = "results/chorales"
    dirs = []
    for arg in argv:
        if arg.startswith("--out="):
            out = arg.split("=", 1)[1]
        else:
            dirs.append(arg)
    if not dirs:
        sys.exit("usage: python -m experiments.chorales summarize RUN_DIR... [--out=results/chorales]")
    summarize(dirs, out)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "summarize":
        _summarize_main(sys.argv[2:])
    else:
        launcher.run(make_task)
