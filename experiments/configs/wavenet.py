"""Config of experiments/wavenet.py: a mu-law WaveNet on 8 kHz melodies, test bits per sample beside baselines.

    python -m experiments.wavenet --workdir=DIR [--config=experiments/configs/wavenet.py[:small]]

Protocol: 256 mu-law levels, 8 gated blocks (dilations 1..128, receptive field 257 samples), 1,200 Adam steps on
1,000-sample cuts of 128 melodies; mean -log2 p(q_t | q_<t) over 16 whole test melodies. Seen
(results/wavenet/README.md): 4.375 bits per sample, against 6.344 for AR(32), 6.588 for the bigram and 7.466 for the
unigram. 892 s of training on a loaded 2-vCPU AMD EPYC. `:small` is the CI config (seconds).
"""

import ml_collections

from experiments.configs import optimizer_config


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0  # init, batch order and generation
    config.num_steps = 1200  # Adam updates (about 25 min on a loaded 2-vCPU machine)
    config.batch_size = 4  # segments per step
    config.eval_every = 400
    config.checkpoint_every = 400
    config.keep_checkpoints = 2
    config.log_every = 100
    config.restore_best = False  # report the last step (the test set chooses nothing)

    config.data = ml_collections.ConfigDict()
    config.data.sample_rate = 8000  # Hz (pitches C5-C6: 523-1047 Hz; harmonics above 4 kHz are left out)
    config.data.seconds = 1.0  # one melody clip
    config.data.noise = 0.003  # white noise std added to the melodies before scaling
    config.data.peak = 0.9  # the training set's largest |amplitude| after scaling
    config.data.num_train = 128  # clips, cut into segments
    config.data.num_test = 16  # whole clips
    config.data.segment = 1000  # samples per training example (999 predictions)
    config.data.seed = 0  # train clips; the test clips use seed + 1

    config.model = ml_collections.ConfigDict()
    config.model.num_classes = 256  # Q mu-law levels (mu = Q - 1)
    config.model.max_exponent = 7  # dilations 1, 2, ..., 2^max_exponent
    config.model.cycles = 1  # ... repeated this many times
    config.model.residual_channels = 32
    config.model.dilation_channels = 32
    config.model.skip_channels = 64
    config.model.ar_order = 32  # p of the AR baseline
    config.model.bigram_alpha = 0.1  # add-alpha smoothing of the bigram baseline

    config.generate = ml_collections.ConfigDict()
    config.generate.num_samples = 3  # continuations, each of a different test clip's prompt
    config.generate.prime_seconds = 0.1  # prompt length
    config.generate.seconds = 1.5  # generated length
    config.generate.temperature = 1.0  # softmax temperature of the sampling

    config.optimizer = optimizer_config("adam", 2e-3)

    if variant == "small":  # CI smoke test
        config.num_steps = 6
        config.eval_every = 6
        config.checkpoint_every = 6
        config.log_every = 3
        config.batch_size = 8  # a multiple of the test suite's 8 simulated devices
        config.data.num_train = 4
        config.data.num_test = 2
        config.data.seconds = 0.25
        config.data.segment = 250
        config.model.num_classes = 64
        config.model.max_exponent = 3
        config.model.residual_channels = 8
        config.model.dilation_channels = 8
        config.model.skip_channels = 16
        config.model.ar_order = 4
        config.generate.num_samples = 2
        config.generate.prime_seconds = 0.01
        config.generate.seconds = 0.05
    elif variant is not None:
        raise ValueError(f"unknown variant {variant!r}; valid variants: ['small']")
    return config
