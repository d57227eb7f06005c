"""Config of experiments/sound_autoencoder.py: a one-layer conv autoencoder (kernel N, stride H) on melody audio.

    python -m experiments.sound_autoencoder --workdir=DIR [--config=experiments/configs/sound_autoencoder.py[:small]]

Protocol: 64 kernels of 256 taps, stride 64, ReLU code with an L1 penalty, 2,500 Adam steps on 4,000-sample cuts of
128 melodies (16 kHz); reconstruction SNR over 32 whole test melodies. Seen (results/sound_autoencoder/README.md):
27.3 dB, beside 132.9 dB for the DFT kernels (the STFT and its inverse: exact) and 0.0 dB at initialisation;
the kernels are windowed sinusoids on the melody's partials. 572 s of training on a loaded 2-vCPU AMD EPYC.
`:small` is the CI config (seconds).
"""

import ml_collections

from experiments.configs import optimizer_config


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0  # init and batch order
    config.num_steps = 2500  # Adam updates
    config.batch_size = 16  # segments per step
    config.eval_every = 500
    config.checkpoint_every = 1000
    config.keep_checkpoints = 2
    config.log_every = 250
    config.restore_best = False  # report the last step (the test set chooses nothing)

    config.data = ml_collections.ConfigDict()
    config.data.sample_rate = 16000  # Hz
    config.data.seconds = 1.0  # one melody clip
    config.data.noise = 0.01  # white noise std added to the melodies (seqmodels/data/melodies.py)
    config.data.num_train = 128  # clips, cut into segments
    config.data.num_test = 32  # whole clips
    config.data.segment = 4000  # samples per training example
    config.data.seed = 0  # train clips; the test clips use seed + 1

    config.model = ml_collections.ConfigDict()
    config.model.n_fft = 256  # N: kernel size (a DFT size), 16 ms
    config.model.hop = 64  # H: stride, N / H = 4 frames over every sample
    config.model.channels = 64  # C kernels: C / H = 1 code value per sample
    config.model.activation = "relu"  # on the code (seqmodels.nn.activations name; "linear" for none)
    config.model.code_l1 = 0.1  # weight of the mean |code| in the loss (0: plain reconstruction)
    config.model.init_scale = 0.01  # kernels: LeCun normal times this (small: the learned part shows in the plot)
    config.model.window = "hann"  # of the DFT reference (seqmodels/conv/stft.py)

    config.optimizer = optimizer_config("adam", 1e-3)

    if variant == "small":  # CI smoke test
        config.num_steps = 10
        config.eval_every = 10
        config.checkpoint_every = 10
        config.log_every = 5
        config.batch_size = 8  # a multiple of the test suite's 8 simulated devices
        config.data.num_train = 4
        config.data.num_test = 4
        config.data.seconds = 0.25
        config.data.segment = 1000
    elif variant is not None:
        raise ValueError(f"unknown variant {variant!r}; valid variants: ['small']")
    return config
