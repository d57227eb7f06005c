"""Config of experiments/listops.py: Long Range Arena ListOps for a Transformer per attention kind, a TCN, an LSTM.

    python -m experiments.listops --workdir=workdirs/listops                      # reduced protocol, CPU
    python -m experiments.listops --workdir=workdirs/listops_lra --config=experiments/configs/listops.py:lra

Default (reduced, for 2 CPU cores): LRA's generator with lengths 50 < T < 128 (LRA: 500-2000), 10,000 / 500 /
1,000 expressions (LRA: 96,000 / 2,000 / 2,000), 500 steps of batch 32 (LRA: 5,000), models of width 64-128:
the Transformer with dense attention and with each sparse / linear kind, a TCN, an LSTM (and the LSTM for 4,000
steps), one sub-run each. `:lra` is LRA's protocol (lengths 500-2000, 96,000 / 2,000 / 2,000, 5,000 steps of
batch 32, 4 blocks of d=512, 8 heads, MLP 1024, AdamW with weight decay 0.1, b2=0.98), for a GPU. `:small`
is the CI config (seconds). Seen (reduced, test accuracy; majority class 16.3%): Transformers with every
attention kind 33.6-36.0%, TCN 34.2%, LSTM 34.8%, LSTM 4,000 steps 38.4%; 50-190 ms per step; about 20-30
minutes in all on a quiet 2-core CPU. Details, the LRA paper's figures beside: results/listops/README.md.
"""

import ml_collections

from experiments.configs import optimizer_config

# section -> (its fields beyond the transformer's, its row of the LRA table), for the reduced protocol (T < 128)
ATTENTION_KINDS = {
    "local": (dict(attention="local", window=16), "local"),
    "strided": (dict(attention="strided", stride=8), "sparse_transformer"),
    "fixed": (dict(attention="fixed", stride=16, num_summary=2), "sparse_transformer"),
    "longformer": (dict(attention="longformer", window=16, global_tokens=1), "longformer"),
    "bigbird": (dict(attention="bigbird", block_size=8, num_global_blocks=1, num_random_blocks=2), "bigbird"),
    "performer": (dict(attention="performer", num_features=64), "performer"),
}


def attention_sections(config, transformer: dict, scale: int = 1) -> None:
    """config.model.<kind> for every attention kind: the transformer section, the kind's fields (windows,
    strides and blocks times `scale`)."""
    for name, (fields, lra_name) in ATTENTION_KINDS.items():
        sized = {k: v * scale if k in ("window", "stride", "block_size", "num_summary") else v
                 for k, v in fields.items()}
        config.model[name] = dict(kind="transformer", **transformer, **sized, lra_name=lra_name)


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0  # init and batch order
    config.num_steps = 500  # AdamW updates
    config.batch_size = 32  # expressions per step (LRA: 32)
    config.eval_every = 100  # steps between validation + test evaluations
    config.checkpoint_every = 100
    config.keep_checkpoints = 2
    config.log_every = 50
    config.restore_best = True  # report the parameters of the best validation accuracy
    config.early_stopping = dict(metric="valid_accuracy", mode="max", patience=0)  # selects, never stops

    config.data = ml_collections.ConfigDict()
    config.data.min_length = 50  # kept: min_length < T < max_length tokens (LRA: 500, 2000)
    config.data.max_length = 128  # also the padded length of every batch
    config.data.max_depth = 10  # LRA: 10
    config.data.max_args = 10  # LRA: 10
    config.data.num_train = 10_000  # LRA: 96,000
    config.data.num_valid = 500  # LRA: 2,000
    config.data.num_test = 1_000  # LRA: 2,000
    config.data.seed = 0

    config.model = ml_collections.ConfigDict()
    config.model.names = ",".join(["transformer", *ATTENTION_KINDS, "tcn", "lstm", "lstm_4k"])  # the sub-runs
    config.model.embed_dim = 64  # token embedding E [16, embed_dim] in front of every model
    config.model.transformer = dict(d_model=64, num_heads=4, d_ff=128, num_layers=2, pool="mean")  # dense
    attention_sections(config, config.model.transformer.to_dict())
    config.model.tcn = dict(channels=64, levels=6, kernel_size=3, conv_init="pytorch", pool="last",
                            reverse=True)  # receptive field 1 + 2 (3 - 1)(2^6 - 1) = 253 > 127
    config.model.lstm = dict(hidden_size=128, pool="last", reverse=True)  # reads the operator after its arguments
    config.model.lstm_4k = dict(kind="lstm", hidden_size=128, pool="last", reverse=True, num_steps=4000)  # longer

    # LRA: lr = 0.05 min(1, s / 1000) / sqrt(max(s, 1000)): peak 1.6e-3 at s = 1000, 0.45 of it at s = 5000.
    config.optimizer = optimizer_config("adamw", 1e-3, weight_decay=0.1, b2=0.98, eps=1e-9, warmup_steps=100,
                                        schedule="cosine", end_factor=0.1, clip_norm=1.0)

    if variant == "small":  # CI smoke test
        config.num_steps = 6
        config.eval_every = 3
        config.checkpoint_every = 3
        config.log_every = 3
        config.data.update(min_length=5, max_length=40, num_train=64, num_valid=16, num_test=16)
        config.model.embed_dim = 8
        config.model.transformer = dict(d_model=8, num_heads=2, d_ff=16, num_layers=1, pool="mean")
        attention_sections(config, config.model.transformer.to_dict())
        config.model.tcn = dict(channels=8, levels=3, kernel_size=3, pool="last", reverse=True)
        config.model.lstm = dict(hidden_size=8, pool="last", reverse=True)
        config.model.lstm_4k = dict(kind="lstm", hidden_size=8, pool="last", reverse=True, num_steps=9)
        config.optimizer.warmup_steps = 2
    elif variant == "lra":  # Tay et al. 2021 (lra_benchmarks/listops/configs/base_listops_config.py)
        config.num_steps = 5000
        config.eval_every = 500
        config.checkpoint_every = 500
        config.data.update(min_length=500, max_length=2000, num_train=96_000, num_valid=2_000, num_test=2_000)
        config.model.embed_dim = 512
        config.model.transformer = dict(d_model=512, num_heads=8, d_ff=1024, num_layers=4, pool="mean")
        attention_sections(config, config.model.transformer.to_dict(), scale=8)  # e.g. local window 128
        config.model.tcn = dict(channels=256, levels=9, kernel_size=3, conv_init="pytorch", pool="last",
                                reverse=True)  # receptive field 2045 > 1999
        config.model.lstm = dict(hidden_size=512, pool="last", reverse=True)
        config.model.names = ",".join(["transformer", *ATTENTION_KINDS, "tcn", "lstm"])  # all 5000 steps
        config.optimizer.update(learning_rate=1.6e-3, warmup_steps=1000, end_factor=0.45, clip_norm=0.0)
    elif variant is not None:
        raise ValueError(f"unknown variant {variant!r}; valid variants: ['small', 'lra']")
    return config
