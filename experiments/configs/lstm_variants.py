"""Config of Greff et al.'s LSTM study on Bach chorales (experiments/lstm_variants.py).

    python -m experiments.lstm_variants --workdir=workdirs/lstm_variants
    python -m experiments.lstm_variants --workdir=workdirs/lstm_variants_jsb --config.data_file=PATH/JSB_Chorales.pickle
    python -m experiments.lstm_variants --workdir=/tmp/lv --config=experiments/configs/lstm_variants.py:small

Protocol: the chorales experiment's (experiments/configs/chorales.py:lstm: music21's 371 chorales split
223 / 74 / 74 by piece, Bernoulli NLL per frame summed over 88 keys, Adam, early stopping on the validation
NLL, test NLL of the best checkpoint), one LSTM layer with each of Greff's variants (vanilla = peepholes on,
as theirs; NP = vanilla without peepholes). `num_draws` random hyper-parameter draws (seeded by
`search.seed`), each trained once per variant with the same learning rate, hidden size and seed (a paired
design). Greff et al. drew 200 trials per variant (learning rate, hidden size, momentum, input noise; SGD
with momentum, trained to convergence with early stopping); here: Adam learning rate log-uniform in
`search.learning_rate` ([3e-3, 5e-2]), hidden size log-uniform in `search.hidden_size` ([16, 96]), and a short
fixed budget (`num_steps`), so the comparison is of variants at equal, small training time.

Variants: (none) the full study: 9 variants x 5 draws = 45 runs of <= 600 Adam steps, 65 min on a 2-vCPU
AMD EPYC shared with 7 other jobs (most of it XLA compiling each new model); `small`: CI (2 variants x 1 draw
on 12 pieces, seconds). The draws are a prefix: --config.num_draws=8 trains the same first five and three more.

Seen (median test NLL over the 5 draws; median paired difference to vanilla; worse on how many draws):
vanilla 8.911; NFG +0.217 (5/5), FGR +0.145 (5/5), NOG +0.066 (5/5), NIG +0.033 (4/5), NOAF +0.031 (5/5),
CIFG +0.005 (3/5), NIAF +0.001 (3/5), NP -0.006 (2/5). Independent keys: 11.439.

Narrative and figures: results/lstm_variants/README.md.
"""

import ml_collections

from experiments.configs import chorales
from seqmodels.cells.lstm import VARIANTS as LSTM_VARIANTS


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
    if variant not in (None, "small"):
        raise ValueError(f"unknown variant {variant!r}; valid variants: ['small'] (or none: the full study)")
    config = chorales.get_config("lstm,small" if variant == "small" else "lstm")  # data, protocol, optimizer
    config.variants = ",".join(LSTM_VARIANTS)  # Greff's eight and vanilla, each trained on every draw
    config.num_draws = 5  # random hyper-parameter draws (each run once per variant), as many as 2 cores allow
    config.search = ml_collections.ConfigDict()
    config.search.seed = 0  # draws the hyper-parameters and each draw's training seed
    config.search.learning_rate = (3e-3, 5e-2)  # Adam, log-uniform
    config.search.hidden_size = (16, 96)  # log-uniform, rounded

    # A run's time is mostly XLA compiling (a new model each run), one compile per batch shape: one length
    # bucket and whole-split eval batches keep that to five compiles; the steps themselves are cheap.
    config.data.num_buckets = 1
    config.data.eval_batch_size = 256  # every split in one batch
    config.num_steps = 600  # Adam updates per run (early stopping may end it sooner)
    config.eval_every = 25
    config.checkpoint_every = 600
    config.keep_checkpoints = 1
    config.log_every = 100
    config.early_stopping.patience = 8  # evaluations without improvement (200 steps)
    # The drawn hidden_size and variant replace these; vanilla has peepholes (Greff's), NP drops them.
    config.model.lstm = dict(hidden_size=32, drop_rate=0.25, peepholes=True, variant="vanilla")
    if variant == "small":
        config.variants = "vanilla,NFG"
        config.num_draws = 1
        config.num_steps = 20
        config.checkpoint_every = 20
        config.data.eval_batch_size = 8
        config.eval_every = 10
        config.search.hidden_size = (8, 16)
    return config
