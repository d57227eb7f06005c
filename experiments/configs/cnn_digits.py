"""Config of experiments/cnn_digits.py: MLP vs 2-D CNN on scikit-learn's 8x8 digits (or MNIST via TFDS).

    python -m experiments.cnn_digits --workdir=workdirs/cnn_digits
    python -m experiments.cnn_digits --workdir=workdirs/cnn_shifted --config=experiments/configs/cnn_digits.py:shifted
    python -m experiments.cnn_digits --workdir=workdirs/cnn_mnist --config=experiments/configs/cnn_digits.py:mnist

Protocol: 1438 train / 359 test images (fixed seeded split), Adam 3e-3, batch 64, 2000 steps, the last
step's test accuracy, 3 seeds per model. Seen (results/cnn_digits/README.md, mean of 3 seeds): logistic
98.0%, MLP 98.2% (7,510 parameters), CNN 98.4% (1,898); `:shifted` (test images 1 pixel down and right)
13.9%, 14.5%, 31.9%. 74 s of CPU time per run (9-11 min wall on a heavily shared 2-vCPU AMD EPYC).
`:mnist` needs MNIST prepared as ArrayRecord (seqmodels.data.real.mnist says how) and was not run here.
`:small` is the CI config (seconds).
"""

import ml_collections

from experiments.configs import optimizer_config

VARIANTS = ("digits", "shifted", "mnist", "small")


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0  # init and batch order of the first seed
    config.num_seeds = 3  # each model is trained with seeds seed, seed + 1, ...
    config.num_steps = 2000  # Adam updates per model and seed
    config.batch_size = 64
    config.eval_every = 250  # test evaluations (curves only: the last step is reported)
    config.checkpoint_every = 2000
    config.keep_checkpoints = 1
    config.log_every = 500
    config.restore_best = False  # report the last step (the test set chooses nothing)

    config.data = ml_collections.ConfigDict()
    config.data.source = "digits"  # digits (scikit-learn, 8x8, offline) | mnist (TFDS, 28x28, prepared)
    config.data.test_fraction = 0.2  # digits: held-out share of the 1797 images
    config.data.split_seed = 0  # digits: the train/test permutation
    config.data.test_shift = 0  # test images moved this many pixels down and right (0: as they are)
    config.data.num_train = 0  # mnist: the first N training images (0: all 60,000)
    config.data.num_test = 0  # mnist: the first N test images (0: all 10,000)
    config.data.data_dir = ""  # mnist: TFDS data dir ("" : $TFDS_DATA_DIR or ~/tensorflow_datasets)

    config.model = ml_collections.ConfigDict()
    config.model.names = "logistic,mlp,cnn2d"  # each trained num_seeds times, in <workdir>/<name>_seed<s>
    config.model.logistic = dict()  # softmax regression on the 64 pixels
    config.model.mlp = dict(hidden_size=100, num_layers=1)  # 64 -> 100 -> 10, ReLU
    config.model.cnn2d = dict(channels=(8, 16), kernel_size=3, padding="same", pooling="max", pool_size=2,
                              activation="relu", hidden_size=0)  # 8x8 -> 4x4 -> 2x2 x 16 -> 10

    config.optimizer = optimizer_config("adam", 3e-3)

    if variant in (None, "digits"):
        pass
    elif variant == "shifted":  # trained on the digits as they are, tested 1 pixel down and right
        config.data.test_shift = 1
    elif variant == "mnist":
        config.data.source = "mnist"
        config.num_seeds = 1
        config.num_steps = 3000
        config.batch_size = 128
        config.eval_every = 1000
        config.checkpoint_every = 1000
        config.model.mlp = dict(hidden_size=256, num_layers=1)
        config.model.cnn2d = dict(channels=(16, 32), kernel_size=3, padding="same", pooling="max", pool_size=2,
                                  activation="relu", hidden_size=64)  # 28 -> 14 -> 7, 7 x 7 x 32 -> 64 -> 10
    elif variant == "small":  # CI smoke test
        config.model.names = "mlp,cnn2d"
        config.num_seeds = 1
        config.num_steps = 20
        config.batch_size = 32
        config.eval_every = 10
        config.checkpoint_every = 20
        config.log_every = 10
    else:
        raise ValueError(f"unknown variant {variant!r}; valid variants: {list(VARIANTS)}")
    return config
