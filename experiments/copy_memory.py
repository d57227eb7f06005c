"""Copy memory, T=1000 (Hochreiter & Schmidhuber 1997; Bai, Kolter & Koltun 2018, Table 1).

    python -m experiments.copy_memory --config=experiments/configs/copy_memory.py:<model> \
        --workdir=workdirs/copy_memory/<model>
    python -m experiments.summarize copy_memory workdirs/copy_memory/* --out=results/copy_memory

Input (one float channel, length T+20): 10 digits uniform in 1..8, T-1
zeros, then 11 nines (the first marks "recall now"). Target: T+10 zeros,
then the 10 digits. Loss: cross-entropy over 10 classes averaged over all
T+20 steps (the paper's number). A memoryless model predicts the zeros
perfectly and guesses the digits uniformly: CE = 10 ln 8 / (T+20) = 0.0204,
where the paper's LSTM/GRU/RNN sit (0.0204, 0.0197, 0.0202); the TCN
reaches 3.5e-5. Also reported: the CE and accuracy on the 10 recalled
digits alone (chance: ln 8 = 2.08, 1/8).

Any model of the registry (experiments/models.py; attention is causal
here) runs; the configs size tcn, lstm, gru, rnn and transformer.
Narrative and figures: results/copy_memory/README.md.
"""

import math

import jax.numpy as jnp

from experiments import launcher, models, summarize as reporting, tasks
from experiments.configs.copy_memory import PROTOCOL_STEPS
from seqmodels.data import synthetic
from seqmodels.training import Task, losses, validate

NUM_DIGITS = synthetic.COPY_NUM_DIGITS
PUBLISHED_CE = {"lstm": 0.0204, "gru": 0.0197, "rnn": 0.0202, "tcn": 3.5e-5}  # Table 1, T=1000
GOAL_TCN_CE = 1e-4


def baseline_ce(seq_len: int) -> float:
    """Memoryless: zeros right, each of the 10 digits a uniform guess over 1..8."""
    return NUM_DIGITS * math.log(8) / (seq_len + 2 * NUM_DIGITS)

def make_task(config, workdir=None) -> Task:
    d = config.data
    for field in ("seq_len", "num_train", "num_test"):
        validate.positive(f"data.{field}", d[field], integer=True)
    validate.non_negative("data.num_valid", d.get("num_valid", 0), integer=True)
    model = models.build(config.model, models.Spec(input_size=1, output_size=NUM_DIGITS, causal=True))

    def loss_fn(params, batch, key, train):
        logits = model.apply_batch(params, batch["x"], key=key, deterministic=not train)  # [B, T+20, 10]
        valid = batch.get("valid")  # eval batches: the filler copies that complete the last batch count for nothing
        mask, recall_mask = ((None, None) if valid is None else
                             (jnp.broadcast_to(valid[:, None], batch["y"].shape), valid[:, None].repeat(NUM_DIGITS, 1)))
        ce = losses.cross_entropy(logits, batch["y"], mask)  # over all T+20 steps
        recall_logits, recall = logits[:, -NUM_DIGITS:], batch["y"][:, -NUM_DIGITS:]
        return ce, {"cross_entropy": ce,
                    "recall_cross_entropy": losses.cross_entropy(recall_logits, recall, recall_mask),
                    "recall_accuracy": losses.accuracy(recall_logits, recall, recall_mask),
                    **tasks.example_weight(valid)}

    train = synthetic.make_copy_memory(d.seed, d.num_train, seq_len=d.seq_len)
    test = synthetic.make_copy_memory(d.seed + 1, d.num_test, seq_len=d.seq_len)
    valid = synthetic.make_copy_memory(d.seed + 2, d.num_valid, seq_len=d.seq_len) if d.get("num_valid") else None
    return tasks.array_task(
        config, model, loss_fn, train, test, valid=valid,
        reference={"paper": "Bai, Kolter & Koltun 2018, Table 1: copy memory T=1000 test CE (all T+20 steps)",
                   "published_ce": PUBLISHED_CE, "published_ce_this_model": PUBLISHED_CE.get(config.model.name),
                   "memoryless_baseline_ce": baseline_ce(d.seq_len), "chance_recall_ce": math.log(8),
                   "goal_tcn_ce": GOAL_TCN_CE, "protocol_steps": config.get("protocol_steps"),
                   "model": {"name": config.model.name, **models.section(config.model, config.model.name)}},
    )


def summarize(run_dirs: dict, out_dir) -> dict:
    """Runs (label -> workdir, all of one T) -> out_dir/results.json and the plot of their test CE curves."""
    seq_lens = {reporting.load_results(d)["config"]["data"]["seq_len"] for d in run_dirs.values()}
    if len(seq_lens) != 1:
        raise ValueError(f"summarize: the runs have different T: {sorted(seq_lens)}")
    return reporting.summarize_runs(run_dirs, out_dir, task="copy_memory_T1000", metric="cross_entropy",
                                    protocol_steps=PROTOCOL_STEPS, baseline=baseline_ce(seq_lens.pop()),
                                    reference=PUBLISHED_CE, note="narrative and figures: results/copy_memory/README.md")


if __name__ == "__main__":
    launcher.run(make_task)
