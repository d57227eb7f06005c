"""Config of the character language models (experiments/char_lm.py): LSTM, GRU and a GPT-style Transformer.

    python -m experiments.char_lm --workdir=DIR [--config=experiments/configs/char_lm.py[:small]] \
        [--config.model.name=transformer|lstm|gru] [--config.data_file=input.txt]

The default is nanoGPT's README CPU run of train_shakespeare_char.py (`nanogpt_cpu`, the same): 4 layers,
4 heads, n_embd 128, context 64, batch 12, 2000 iterations, dropout 0, AdamW (lr 1e-3, betas 0.9/0.99,
weight decay 0.1 on matrices), 100 warm-up steps then cosine decay to 1e-4 at step 2000, gradient clip 1.0,
eval_iters 20 every 250 steps. The token embedding is nanoGPT's (`embedding="gpt2"`: E ~ N(0, 0.02^2),
not scaled by sqrt(D), plus learned positions N(0, 0.02^2)): it closes the gap to nanoGPT (with
`embedding="vaswani"`, sqrt(D) E and E ~ N(0, 1/D), the step-2000 loss was 1.911 / 1.906). The LSTM and GRU
sections have about the Transformer's 0.81M parameters and train the same steps and characters (12 streams
x 64, stateful truncated BPTT).
Seen on tiny Shakespeare (results/char_lm/README.md), val loss at step 2000, nats (20-batch estimate / whole
split): Transformer 1.824 / 1.820, LSTM 1.822 / 1.811, GRU 1.714 / 1.717; nanoGPT's README: 1.88 in about
3 minutes on a CPU; nanoGPT measured on this machine: 1.8857. Runtime: the Transformer 154 s end to end on a
quiet 2-vCPU AMD EPYC (nanoGPT's README command: 95 s, one after the other; benchmarks/char_lm_nanogpt.py).
`:small` is the CI config (seconds of training).
"""

import ml_collections

from experiments.configs import optimizer_config

VARIANTS = ("nanogpt_cpu", "small")


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 1337  # init, dropout and batch order (nanoGPT's seed, though its RNG differs)
    config.num_steps = 2000  # AdamW updates (nanoGPT's max_iters)
    config.batch_size = 12  # windows (Transformer) or parallel streams (RNNs) per step
    config.eval_every = 250  # nanoGPT's eval_interval
    config.checkpoint_every = 1000
    config.keep_checkpoints = 1
    config.log_every = 50
    config.restore_best = False  # report the last step, as nanoGPT's README does
    config.early_stopping = dict(metric="valid_loss", mode="min", patience=0)  # watches, never stops

    config.data_file = ""  # a plain UTF-8 text file (e.g. tiny Shakespeare's input.txt); "" = data.source
    config.data = ml_collections.ConfigDict()
    config.data.source = "pydoc_topics"  # pydoc_topics (Python's stdlib, offline) | tiny_shakespeare (TFDS)
    config.data.context = 64  # T: the Transformer's block_size, the RNNs' truncated-BPTT chunk
    config.data.valid_fraction = 0.1  # the last 10% of the text by position
    config.data.eval_iters = 20  # random batches per estimate (nanoGPT's estimate_loss)
    config.data.seed = 0  # the estimate's fixed random windows
    config.data.sample_chars = 500  # characters per temperature written to DIR/samples.txt
    config.data.temperatures = (0.5, 0.8, 1.0)

    config.model = ml_collections.ConfigDict()
    config.model.name = "transformer"  # transformer | lstm | gru
    config.model.transformer = dict(num_layers=4, num_heads=4, d_model=128, drop_rate=0.0,  # d_ff = 4 d_model
                                    embedding="gpt2",  # gpt2: E ~ N(0, 0.02^2) | vaswani: sqrt(D) E, E ~ N(0, 1/D)
                                    weight_init="default")  # default (Glorot) | gpt2: N(0, 0.02^2), see LanguageModel
    config.model.lstm = dict(num_layers=2, hidden_size=220, drop_rate=0.0)  # 0.81M parameters (V = 69)
    config.model.gru = dict(num_layers=2, hidden_size=252, drop_rate=0.0)  # 0.80M parameters

    config.optimizer = optimizer_config("adamw", 1e-3, b2=0.99, weight_decay=0.1, clip_norm=1.0,
                                        schedule="cosine", warmup_steps=100, decay_steps=2000, end_factor=0.1)

    if variant == "small":  # CI smoke test
        config.num_steps = 20
        config.eval_every = 10
        config.checkpoint_every = 10
        config.log_every = 10
        config.batch_size = 8  # splits over the 8 devices the tests simulate
        config.data.context = 16
        config.data.eval_iters = 2
        config.data.sample_chars = 40
        config.model.transformer.update(num_layers=1, num_heads=2, d_model=16)
        config.model.lstm = dict(num_layers=1, hidden_size=16, drop_rate=0.0)
        config.model.gru = dict(num_layers=1, hidden_size=16, drop_rate=0.0)
        config.optimizer.warmup_steps = 2
        config.optimizer.decay_steps = 20
    elif variant not in (None, "nanogpt_cpu"):
        raise ValueError(f"unknown variant {variant!r}; valid variants: {list(VARIANTS)}")
    return config
