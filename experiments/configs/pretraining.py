"""Config of the pretraining experiment (experiments/pretraining.py): does greedy autoencoder pretraining help
an MLP on 8x8 digits when few labels are known?

    python -m experiments.pretraining --workdir=workdirs/pretraining [--config=experiments/configs/pretraining.py:small]

Protocol: the MLP 64 -> 64 -> 64 -> 10 (relu) trained on 1%, 10% or 100% of the 1438 training labels
(stratified, per seed), from random init or from two greedily pretrained denoising autoencoder layers
(unsupervised, on all 1438 training images); 5 seeds; test accuracy (359 images) of the last step.
Seen (results/pretraining/README.md, mean +- std of 5 seeds): 1% labels random 62.6 +- 4.9%, pretrained
65.6 +- 7.9%; 10%: 93.3 +- 1.4% vs 93.0 +- 0.5%; 100%: 98.0 +- 0.4% vs 98.3 +- 0.3%. 2.3 min of CPU (9.4 min
wall on a loaded 2-vCPU AMD EPYC). `:small` is the CI config (seconds).
"""

import ml_collections

from experiments.configs import optimizer_config


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0  # overwritten per sub-run by each of `seeds`
    config.seeds = (0, 1, 2, 3, 4)  # one sub-run per seed x label fraction x init
    config.inits = ("random", "pretrained")
    config.num_steps = 1000  # supervised Adam updates, whatever the number of labels
    config.batch_size = 64  # at most the number of labelled images
    config.eval_every = 250
    config.checkpoint_every = 1000
    config.keep_checkpoints = 1
    config.log_every = 250
    config.restore_best = False  # report the last step (the test set chooses nothing)

    config.data = ml_collections.ConfigDict()
    config.data.label_fractions = (0.01, 0.1, 1.0)  # of each class's training images (at least one each)
    config.data.test_fraction = 0.2  # seqmodels.data.packaged.digits' split
    config.data.split_seed = 0

    config.pretrain = ml_collections.ConfigDict()
    config.pretrain.num_steps = 3000  # Adam updates per autoencoder layer
    config.pretrain.batch_size = 64
    config.pretrain.learning_rate = 3e-3
    config.pretrain.corruption = "masking"  # denoising: none | masking | gaussian
    config.pretrain.level = 0.25  # masking probability (or Gaussian std)
    config.pretrain.output = "sigmoid"  # the first layer reconstructs pixels in [0, 1] (cross-entropy)
    config.pretrain.tied = False

    config.model = ml_collections.ConfigDict()
    config.model.name = "mlp"  # the registry's MLP (experiments/models.py) on x [T=8, D=8], flattened
    config.model.mlp = dict(hidden_size=64, num_layers=2)  # the pretrained layers: (hidden_size,) * num_layers

    config.optimizer = optimizer_config("adam", 1e-3)

    if variant == "small":  # CI smoke test
        config.seeds = (0,)
        config.data.label_fractions = (0.1,)
        config.num_steps = 20
        config.eval_every = 10
        config.checkpoint_every = 20
        config.log_every = 10
        config.pretrain.num_steps = 50
        config.model.mlp = dict(hidden_size=16, num_layers=1)
    elif variant is not None:
        raise ValueError(f"unknown variant {variant!r}; valid variants: ['small']")
    return config
