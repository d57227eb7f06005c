"""Config of the depth experiment (experiments/depth.py): 20-layer sigmoid / tanh / ReLU MLPs on 8x8 digits,
plain and residual, naive N(0, 0.01^2) and Glorot init, with per-layer gradient norms logged every step.

    python -m experiments.depth --workdir=workdirs/depth [--config.model.names=tanh_plain_glorot,...]

Protocol: 1438 train / 359 test digits, SGD with momentum 0.9, lr 0.02, batch 64, 1500 steps (67 epochs),
test accuracy of the last step. Seen (results/depth/README.md): plain sigmoid (both inits) and every
plain naive net stay at 8.9% (||dL/dW_1|| 1.8e-13 or 0), tanh plain Glorot 93.9%, ReLU plain Glorot 59.1%,
every residual net 95.0-98.6%; 1,123 s of training for the 12 models on a 2-vCPU AMD EPYC shared with ~25
processes. `:small` is the CI config (seconds).
"""

import ml_collections

from experiments.configs import optimizer_config

ACTIVATIONS = ("sigmoid", "tanh", "relu")
ARCHS = ("plain", "residual")
INITS = ("naive", "glorot")


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0  # init and batch order
    config.num_steps = 1500  # SGD updates per model
    config.batch_size = 64
    config.eval_every = 100  # test evaluations (359 images)
    config.checkpoint_every = 1500
    config.keep_checkpoints = 1
    config.log_every = 25  # train means, the per-layer gradient norms among them
    config.restore_best = False  # report the last step (the test set chooses nothing)
    config.grad_norms = True  # log ||dL/dW_l|| for every layer (grad_norm_01 .. grad_norm_L)

    config.data = ml_collections.ConfigDict()
    config.data.test_fraction = 0.2  # of the 1797 images
    config.data.seed = 0  # the split
    config.data.num_train = 0  # 0: all 1438
    config.data.num_valid = 0

    config.model = ml_collections.ConfigDict()
    names = [f"{act}_{arch}_{init}" for act in ACTIVATIONS for arch in ARCHS for init in INITS]
    config.model.names = ",".join(names)  # trained one after another, each in <workdir>/<name>
    for act in ACTIVATIONS:
        for arch in ARCHS:
            for init in INITS:
                config.model[f"{act}_{arch}_{init}"] = dict(kind="mlp", hidden_size=64, num_layers=20,
                                                            activation=act, residual=arch == "residual",
                                                            init=init)

    # ReLU residual + Glorot: h + relu(W h) about doubles the variance per layer; without clipping the loss was
    # Inf at step 3 (results/depth/README.md)
    config.model.relu_residual_glorot.optimizer = dict(clip_norm=1.0)
    config.optimizer = optimizer_config("sgd", 0.02, momentum=0.9)  # plain SGD: Adam would rescale small gradients

    if variant == "small":  # CI (seconds)
        config.model.names = "sigmoid_plain_naive,relu_residual_glorot"
        for name in names:
            config.model[name].num_layers = 4
            config.model[name].hidden_size = 16
        config.num_steps = 20
        config.eval_every = 10
        config.checkpoint_every = 20
        config.log_every = 5
        config.data.num_train = 256
    elif variant is not None:
        raise ValueError(f"unknown variant {variant!r}; valid variants: ['small']")
    return config
