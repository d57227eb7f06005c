"""Config of experiments/captioning.py: captioning digit canvases, a CNN + GRU decoder with and without attention.

    python -m experiments.captioning --workdir=workdirs/captioning
    python -m experiments.captioning --workdir=workdirs/captioning_small --config=experiments/configs/captioning.py:small

Protocol: 3 x 3 grid canvases (36 x 36 pixels) of 2-3 digits (30% shrunk to 6 x 6), 10,000 training and
1,000 test canvases (test canvases from held-out digit images), Adam 3e-3, batch 64, the last step; greedy
and beam-3 decoding, exact match and sacrebleu BLEU. Seen (results/captioning/README.md, greedy): attention
82.5% exact match / BLEU 92.5, no attention 28.3% / 59.4 (3-digit canvases: 79.4% vs 9.2%); the most
frequent caption 0% / 11.6. 28 min wall for both models on a heavily shared 2-vCPU AMD EPYC.
`:small` is the CI config (seconds of CPU).
"""

import ml_collections

from experiments.configs import optimizer_config


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0  # init and batch order
    config.num_steps = 1500  # Adam updates per model
    config.batch_size = 64  # images per step
    config.eval_every = 250  # teacher-forced test loss (curves); decoding scores at the end
    config.checkpoint_every = 500
    config.keep_checkpoints = 1
    config.log_every = 250
    config.restore_best = False  # report the last step (the test set chooses nothing)
    config.sampling_prob = 0.0  # scheduled sampling (experiments/seq2seq.py); 0 = teacher forcing

    config.data = ml_collections.ConfigDict()
    config.data.num_train = 10_000  # canvases
    config.data.num_test = 1_000
    config.data.grid = 3  # grid x grid cells
    config.data.cell = 12  # pixels per cell side (a digit is 8 x 8, placed at a random offset in its cell)
    config.data.min_digits = 2  # digits per canvas
    config.data.max_digits = 3
    config.data.small_prob = 0.3  # chance that a digit is shrunk ("small")
    config.data.small_size = 6  # side of a shrunk digit
    config.data.seed = 0  # train canvases; the test canvases use seed + 1
    config.data.split_seed = 0  # scikit-learn digits' train/test split (packaged.digits)
    config.data.test_fraction = 0.2  # digits held out for the test canvases
    config.data.bucket_boundaries = ()  # captions are short: one padded length

    encoder = dict(channels=(16, 32), kernel_size=3, pool_size=2, positions=True)  # 36 -> 18 -> 9: 81 regions
    decoder = dict(cell="gru", hidden_size=64, embed_dim=32)
    config.model = ml_collections.ConfigDict()
    config.model.names = "attention,none"  # each trained in <workdir>/<name>
    config.model.attention = dict(attention="bahdanau", **encoder, **decoder)  # Show, Attend and Tell
    config.model.none = dict(attention="none", **encoder, **decoder)  # Show and Tell: one vector

    config.eval = ml_collections.ConfigDict()
    config.eval.beam_widths = (1, 3)  # 1 = greedy (the reported figures), others beam search
    config.eval.num_attention_images = 4  # test images in plots/attention.png

    config.optimizer = optimizer_config("adam", 3e-3, clip_norm=1.0)

    if variant == "small":  # CI smoke test
        config.num_steps = 20
        config.batch_size = 16
        config.eval_every = 10
        config.checkpoint_every = 20
        config.log_every = 10
        config.data.num_train = 64
        config.data.num_test = 24
        small = dict(channels=(4, 8), hidden_size=16, embed_dim=8)
        config.model.attention.update(small)
        config.model.none.update(small)
        config.eval.beam_widths = (1, 2)
        config.eval.num_attention_images = 2
    elif variant is not None:
        raise ValueError(f"unknown variant {variant!r}; valid variants: ['small']")
    return config
