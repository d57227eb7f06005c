"""Config of the translation experiment (experiments/translation.py): English -> French quantities and dates,
BLEU against source length (Bahdanau et al. 2015, Figure 2).

    python -m experiments.translation --workdir=/tmp/translation

Five models, one after another (config.model.names): GRU encoder-decoders without attention (the context
vector), with Bahdanau (additive) and Luong (general) attention, Bahdanau with scheduled sampling, and a
Transformer; test BLEU (sacrebleu) and exact match, greedy and beam 4, BLEU per source-length bucket.

Seen (results/translation/README.md; beam-4 BLEU on 3-10 / 31-40-word sources): no attention 93.7 / 29.9
(1500 steps), Bahdanau 99.3 / 97.5, Luong 99.4 / 89.6, Transformer 98.2 / 84.3, Bahdanau with scheduled
sampling 99.5 / 93.3 (these four stopped at step 500 for time). 26-47 min of wall time per model on a
2-vCPU AMD EPYC under load average ~30 (five in parallel); a quiet machine is several times faster.
`:small` is the CI config (one model: a minute on a quiet machine, mostly XLA compilation).
"""

import ml_collections

from experiments.configs import optimizer_config


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0  # init and batch order
    config.num_steps = 1500  # Adam updates per model
    config.batch_size = 32  # sentence pairs per step
    config.eval_every = 500  # steps between test-loss evaluations (teacher forced)
    config.checkpoint_every = 500
    config.keep_checkpoints = 1
    config.log_every = 100
    config.restore_best = False  # report the last step (the test set chooses nothing)
    config.sampling_prob = 0.0  # scheduled sampling: P(decoder input = own previous prediction); per model too

    config.data = ml_collections.ConfigDict()
    config.data.source = "generated"  # generated (offline) | ted_hrlr_translate (TFDS, prepared beforehand)
    config.data.num_train = 20000  # sentence pairs
    config.data.num_test = 600
    config.data.min_len = 3  # source tokens (generated), drawn uniformly in [min_len, max_len]
    config.data.max_len = 40  # also the filter on TED sentences
    config.data.seed = 0  # train set; the test set uses seed + 1
    config.data.bucket_boundaries = (24, 40, 56)  # train batches padded to the bucket's bound
    config.data.length_edges = (3, 11, 21, 31, 41)  # source-length buckets of the BLEU table
    config.data.pair = "pt_to_en"  # ted_hrlr_translate only
    config.data.vocab_size = 8000  # ted_hrlr_translate only: words per language (WordTokenizer)
    config.data.data_dir = ""  # ted_hrlr_translate only: the TFDS data_dir ("" = $TFDS_DATA_DIR)

    config.eval = ml_collections.ConfigDict()
    config.eval.beam_width = 4
    config.eval.length_penalty = 0.6  # GNMT's alpha
    config.eval.max_len = 64  # output tokens (the longest test target: 49 with EOS)
    config.eval.num_alignments = 3  # alignment maps drawn per attention model

    rnn = dict(kind="rnn", cell="gru", hidden_size=128, embed_dim=64, num_layers=1, bidirectional=True)
    config.model = ml_collections.ConfigDict()
    config.model.names = "rnn_none,rnn_bahdanau,rnn_luong,rnn_bahdanau_ss,transformer"
    config.model.rnn_none = dict(rnn, attention="none")  # Cho et al. / Sutskever et al.: context vector only
    config.model.rnn_bahdanau = dict(rnn, attention="bahdanau")
    config.model.rnn_luong = dict(rnn, attention="luong_general")
    config.model.rnn_bahdanau_ss = dict(rnn, attention="bahdanau", sampling_prob=0.25)
    config.model.transformer = dict(kind="transformer", d_model=128, num_heads=4, num_layers=2, d_ff=256,
                                    drop_rate=0.0)

    config.optimizer = optimizer_config("adam", 2e-3, schedule="cosine", warmup_steps=100, clip_norm=1.0)

    if variant == "small":  # CI smoke test
        config.num_steps = 20
        config.eval_every = 10
        config.checkpoint_every = 20
        config.log_every = 10
        config.batch_size = 16
        config.optimizer.warmup_steps = 5
        config.data.num_train = 64
        config.data.num_test = 24
        config.data.max_len = 12
        config.data.bucket_boundaries = (12, 24)
        config.data.length_edges = (3, 8, 13)
        config.eval.beam_width = 2
        config.eval.max_len = 24
        config.eval.num_alignments = 1
        config.model.names = "rnn_none,rnn_luong,transformer"
        for name in ("rnn_none", "rnn_bahdanau", "rnn_luong", "rnn_bahdanau_ss"):
            config.model[name].update(hidden_size=16, embed_dim=8)
        config.model.transformer.update(d_model=16, num_heads=2, num_layers=1, d_ff=32)
    elif variant is not None:
        raise ValueError(f"unknown variant {variant!r}; valid variants: ['small']")
    return config
