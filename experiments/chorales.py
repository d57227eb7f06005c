"""Polyphonic music: next-frame prediction on Bach chorales (88-key piano rolls), LSTM, GRU and TCN.

    python -m experiments.chorales --config=experiments/configs/chorales.py:tcn  --workdir=workdirs/chorales_tcn
    python -m experiments.chorales --config=experiments/configs/chorales.py:lstm --workdir=workdirs/chorales_lstm
    python -m experiments.chorales --config=experiments/configs/chorales.py:gru  --workdir=workdirs/chorales_gru
    python -m experiments.summarize chorales workdirs/chorales_{lstm,gru,tcn} --out=results/chorales

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

Models (config.model.name, a section of the registry experiments/models.py;
the configs size three of them to about 270-290K parameters, as in Bai et al.):
  * tcn   seqmodels.conv.TCN (weight norm, dropout); causal, so right
          padding never reaches a valid frame; a dense read-out to 88 logits.
  * lstm  one LSTM layer (fused whole-batch kernel, `lengths` for padding),
          dropout on its outputs (drop_rate), dense read-out.
  * gru   the same with a GRU (reset after the product, the cuDNN form).
Any other causal model of the registry runs the same way. Input notes can be
dropped at training time (`data.note_drop_rate`: each 1 of the input roll
becomes 0 with that probability, no rescaling). The read-out bias starts at
the logits of the training set's key frequencies, so an untrained model
already scores near the baseline below.

Training: Adam, batches of pieces bucketed by length (padded, masked loss),
the validation NLL evaluated every `eval_every` steps, early stopping on it,
and results.json reports the test NLL of the best-validation checkpoint.

Baseline (final_eval): the product of independent per-key marginals,
p_k = frequency of key k over the training frames, scored on the same
targets. results.json: metrics.test_nll / valid_nll / train_nll,
baseline_*_nll, num_params, split sizes; reference: the published numbers.
"""

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from experiments import launcher, models, summarize as reporting
from seqmodels.data import batching, packaged
from seqmodels.models import heads
from seqmodels.nn import dropout
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


# --------------------------------------------------------------------------- model


def make_model(config) -> heads.FrameHead:
    """The registry's model (config.model.name) with 88 logits per frame; x [B, T, 88], lengths [B]."""
    return models.build(config.model, models.Spec(input_size=NUM_KEYS, output_size=NUM_KEYS, causal=True))


def drop_notes(x, rate: float, key):
    """Training-time augmentation: each sounding note of the input roll is deleted with probability `rate`
    (0/1 values kept: no rescaling)."""
    return dropout.apply(x, rate, key=key) * (1.0 - rate)


# --------------------------------------------------------------------------- task


def init_params(model, key, marginals):
    """The model's init, with the read-out bias at the logits of the training set's key frequencies, so that
    an untrained model already scores the independent-key baseline."""
    params = model.init(key)
    params["readout"]["b"] = jnp.asarray(np.log(marginals / (1.0 - marginals)), jnp.float32)  # sigmoid(b) = p_k
    return params



def make_task(config, workdir=None) -> Task:
    d = config.data
    validate.positive("data.num_buckets", d.num_buckets, integer=True)
    validate.positive("data.eval_batch_size", d.eval_batch_size, integer=True)
    note_drop_rate = validate.in_range("data.note_drop_rate", d.note_drop_rate, 0.0, 1.0, high_open=True)
    model = make_model(config)
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
        if train and note_drop_rate > 0:
            key, k_in = jax.random.split(key)
            x = drop_notes(x, note_drop_rate, k_in)
        z = model.apply_batch(params, x, lengths, key=key, deterministic=not train)  # [B, T, 88]
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
        metrics["num_params"] = models.num_params(params)
        for split, pieces in rolls.items():
            metrics[f"num_{split}_pieces"] = len(pieces)
            metrics[f"num_{split}_frames_predicted"] = sum(len(r) - 1 for r in pieces)
        name = config.model.name
        print(f"\n{name}: {metrics['num_params']} params; NLL per frame (summed over 88 keys)")
        print(f"  test  {metrics['test_nll']:.3f}   (independent-key baseline {metrics['baseline_test_nll']:.3f}; "
              f"published on the standard JSB split: {PUBLISHED_JSB_TEST_NLL.get(name)})")
        print(f"  valid {metrics['valid_nll']:.3f}   train {metrics['train_nll']:.3f}")
        print(f"  data: {source}")
        return metrics

    return Task(
        init_params=lambda key: init_params(model, key, marginals),
        loss_fn=loss_fn,
        train_iterator=train_iterator,
        eval_batches=lambda: batches("valid"),
        final_eval=final_eval,
        reference={
            "published_jsb_test_nll": PUBLISHED_JSB_TEST_NLL.get(config.model.name),
            "published_jsb_test_nll_all": dict(PUBLISHED_JSB_TEST_NLL),
            "published_marginal_baseline": PUBLISHED_MARGINAL_BASELINE,
            "source": "Bai, Kolter & Koltun 2018, Table 1 (JSB Chorales, ~300K params)",
            "data": source,
            "comparable_to_published": bool(config.data_file),
        },
    )


# --------------------------------------------------------------------------- summary of the runs


def summarize(run_dirs: dict, out_dir) -> dict:
    """Runs (label -> workdir) -> out_dir: <label>/ (results.json, plots), results.json (the table), summary.md,
    valid_nll.png (the validation curves) and, for music21's chorales, split.json (each split's pieces)."""
    out_dir = Path(out_dir)
    runs, dirs = {}, {}
    for d in run_dirs.values():  # labelled by the model each run trained
        results = reporting.load_results(d)
        label = results["config"]["model"]["name"]
        if label in runs:
            raise ValueError(f"summarize: two runs of model {label!r} ({dirs[label]} and {d}); give one per model")
        runs[label], dirs[label] = results, d
        reporting.copy_run(d, out_dir / label, skip_plots=("weight",))  # weight: frames per batch, not a result
    run_dirs = dirs
    any_run = next(iter(runs.values()))
    any_metrics = any_run["metrics"]
    reporting.plot_curves({f"{label} (valid)": reporting.eval_curve(d, "nll") for label, d in run_dirs.items()},
                          out_dir / "valid_nll.png", title="Bach chorales: validation NLL",
                          ylabel="NLL per frame (nats)", xlabel="step",
                          hlines={"independent keys (valid)": any_metrics["baseline_valid_nll"]})
    table, rows = {}, []
    for label, r in runs.items():
        m = r["metrics"]
        table[label] = {"num_params": m["num_params"], "test_nll": m["test_nll"], "valid_nll": m["valid_nll"],
                        "train_nll": m["train_nll"], "baseline_test_nll": m["baseline_test_nll"],
                        "published_jsb_test_nll": r["reference"]["published_jsb_test_nll"],
                        "train_seconds": r["timing"]["train_seconds_this_run"], "steps": r["steps"]}
        rows.append([label, f"{int(m['num_params']):,}", f"{m['test_nll']:.3f}",
                     r["reference"]["published_jsb_test_nll"], f"{m['baseline_test_nll']:.3f}",
                     f"{r['steps']['params_from']} / {r['steps']['last']}",
                     f"{r['timing']['train_seconds_this_run'] / 60:.1f} min"])
    data = any_run["reference"]["data"]
    split = {s: {"pieces": int(any_metrics[f"num_{s}_pieces"]), "frames": int(any_metrics[f"num_{s}_frames_predicted"])}
             for s in ("train", "valid", "test")}
    summary = {"models": table, "data": data, "split": split,
               "baseline_independent_keys": {s: any_metrics[f"baseline_{s}_nll"] for s in ("train", "valid", "test")},
               "published_marginal_baseline": PUBLISHED_MARGINAL_BASELINE}
    config = any_run["config"]
    if not config.get("data_file"):  # music21: list the pieces of each split (corpus names)
        d = config["data"]
        _, names = packaged.bach_chorales(num_pieces=d["num_pieces"], frames_per_quarter=d["frames_per_quarter"],
                                          split_seed=d["split_seed"], return_names=True)
        (out_dir / "split.json").write_text(json.dumps(names, indent=1) + "\n")
    split_line = ", ".join(f"{s} {v['pieces']} pieces / {v['frames']} predicted frames" for s, v in split.items())
    reporting.write_summary(
        out_dir, summary, title="Bach chorales, next-frame NLL (nats per frame, summed over 88 keys)",
        table=reporting.markdown_table(["model", "params", "test NLL (ours)", "published (standard JSB)",
                                        "independent-key baseline (ours)", "best step / last step", "train time"],
                                       rows),
        footer=f"Data: {data}.\nSplit: {split_line}.")
    return summary


if __name__ == "__main__":
    launcher.run(make_task)
