"""Copy memory, T=1000 (Hochreiter & Schmidhuber 1997; Bai, Kolter & Koltun 2018, Table 1).

    python -m experiments.copy_memory --config=experiments/configs/copy_memory.py:<model> \
        --workdir=workdirs/copy_memory/<model>
    .venv/bin/python -c "from experiments import copy_memory; \
        copy_memory.summarize('workdirs/copy_memory', 'results/copy_memory')"

Input (one float channel, length T+20): 10 digits uniform in 1..8, T-1
zeros, then 11 nines (the first marks "recall now"). Target: T+10 zeros,
then the 10 digits. Loss: cross-entropy over 10 classes averaged over all
T+20 steps (the paper's number). A memoryless model predicts the zeros
perfectly and guesses the digits uniformly: CE = 10 ln 8 / (T+20) = 0.0204,
where the paper's LSTM/GRU/RNN sit (0.0204, 0.0197, 0.0202); the TCN
reaches 3.5e-5. Also reported: the CE and accuracy on the 10 recalled
digits alone (chance: ln 8 = 2.08, 1/8).

Models (experiments/sequence_models.py): tcn, lstm, gru, rnn, transformer
(causal); one per run, then `summarize` gathers them into
results/copy_memory/results.json and one plot of the test CE curves.
"""

import json
import math
from pathlib import Path

import jax.numpy as jnp

from experiments import launcher, sequence_models
from seqmodels.data import synthetic
from seqmodels.training import Task, losses, validate

NUM_DIGITS = synthetic.COPY_NUM_DIGITS
PUBLISHED_CE = {"lstm": 0.0204, "gru": 0.0197, "rnn": 0.0202, "tcn": 3.5e-5}  # Table 1, T=1000
GOAL_TCN_CE = 1e-4


def baseline_ce(seq_len: int) -> float:
    """Memoryless: zeros right, each of the 10 digits a uniform guess over 1..8."""
    return NUM_DIGITS * math.log(8) / (seq_len + 2 * NUM_DIGITS)

# the last runs' budget and outcome, for results.json
NOTE = (
    'Test figures re-scored (--reevaluate, reevaluation.json) after a fix: the 24 filler copies that completed '
    'the last test batch had counted. TCN (conv_init="pytorch", the init the paper\'s code runs): the full '
    'protocol (50 epochs, the paper code\'s default), 15650 steps: test CE 8.71e-5 at the last step (8.74e-5 as '
    'first reported; goal 1e-4 met; published 3.5e-5), recall accuracy 100%, best evaluation 4.8e-5 (step '
    '15250). LSTM/GRU/RNN: the full protocol, all on the memoryless baseline (recall at chance), as in the paper; '
    'Transformer: a 2000-step probe (0.0181), then the full protocol (results/copy_memory/transformer_full/): '
    'test CE 2.26e-6 at the last step, every digit recalled from step 3000 on.')


def make_task(config) -> Task:
    d = config.data
    for field in ("seq_len", "num_train", "num_test"):
        validate.positive(f"data.{field}", d[field], integer=True)
    validate.non_negative("data.num_valid", d.get("num_valid", 0), integer=True)
    model = sequence_models.build(config.model, input_size=1, output_size=NUM_DIGITS, causal=True)

    def loss_fn(params, batch, key, train):
        logits = model.apply(params, batch["x"], key=key, train=train)  # [B, T+20, 10]
        valid = batch.get("valid")  # eval batches: the filler copies that complete the last batch count for nothing
        mask, recall_mask = ((None, None) if valid is None else
                             (jnp.broadcast_to(valid[:, None], batch["y"].shape), valid[:, None].repeat(NUM_DIGITS, 1)))
        ce = losses.cross_entropy(logits, batch["y"], mask)  # over all T+20 steps
        recall_logits, recall = logits[:, -NUM_DIGITS:], batch["y"][:, -NUM_DIGITS:]
        return ce, {"cross_entropy": ce,
                    "recall_cross_entropy": losses.cross_entropy(recall_logits, recall, recall_mask),
                    "recall_accuracy": losses.accuracy(recall_logits, recall, recall_mask),
                    **sequence_models.example_weight(valid)}

    train = synthetic.make_copy_memory(d.seed, d.num_train, seq_len=d.seq_len)
    test = synthetic.make_copy_memory(d.seed + 1, d.num_test, seq_len=d.seq_len)
    valid = synthetic.make_copy_memory(d.seed + 2, d.num_valid, seq_len=d.seq_len) if d.get("num_valid") else None
    return sequence_models.array_task(
        config, model, loss_fn, train, test, valid=valid,
        reference={"paper": "Bai, Kolter & Koltun 2018, Table 1: copy memory T=1000 test CE (all T+20 steps)",
                   "published_ce": PUBLISHED_CE, "published_ce_this_model": PUBLISHED_CE.get(config.model.name),
                   "memoryless_baseline_ce": baseline_ce(d.seq_len), "chance_recall_ce": math.log(8),
                   "goal_tcn_ce": GOAL_TCN_CE, "protocol_steps": config.get("protocol_steps"),
                   "model": sequence_models.model_section(config)},
    )


def summarize(workdir_root: str | Path = "workdirs/copy_memory",
              out_dir: str | Path = "results/copy_memory") -> dict:
    """workdir_root/<model>/results.json for every model run -> out_dir/results.json + plots."""
    from experiments.configs import copy_memory as copy_config

    runs = {m: Path(workdir_root) / m for m in sequence_models.MODELS
            if (Path(workdir_root) / m / "results.json").exists()}
    seq_lens = {json.loads((run / "results.json").read_text())["config"]["data"]["seq_len"] for run in runs.values()}
    if len(seq_lens) > 1:
        raise ValueError(f"summarize: the runs in {workdir_root} have different T: {sorted(seq_lens)}")
    seq_len = seq_lens.pop() if seq_lens else copy_config.get_config().data.seq_len
    return sequence_models.summarize_runs(runs, out_dir, task="copy_memory_T1000", metric="cross_entropy",
                                          protocol_steps=copy_config.PROTOCOL_STEPS,
                                          baseline=baseline_ce(seq_len), reference=PUBLISHED_CE, note=NOTE)


if __name__ == "__main__":
    launcher.run(make_task)
