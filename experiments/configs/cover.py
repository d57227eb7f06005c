"""Config of the Cover's-theorem experiment (experiments/cover.py): a feature map makes circles linearly
separable; three tanh units approximate x^2, sin, |x| and sign; the perceptron rule and Novikoff's bound.

    python -m experiments.cover --workdir=workdirs/cover [--config=experiments/configs/cover.py:small]

Seen (results/cover/README.md, seed 0): logistic regression on the circles 53.3% in the input space
(chance 50%), 100% on phi(x) = [x1^2, x2^2, sqrt(2) x1 x2]; 3 tanh units fit x^2 and sin(pi x) to MSE
6e-6, |x| and sign(x) to 6e-4; the perceptron separates digits 0/1 in 17 updates. 21 s of CPU (164 s
wall on a loaded 2-vCPU AMD EPYC). `:small` is the CI config (seconds).
"""

import ml_collections


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0  # data, inits

    config.circles = ml_collections.ConfigDict()
    config.circles.num_samples = 600  # sklearn.datasets.make_circles, half train / half test
    config.circles.noise = 0.05  # std of the Gaussian noise on the points
    config.circles.factor = 0.5  # inner radius / outer radius
    config.circles.num_steps = 2000  # full-batch Adam steps of the logistic regression
    config.circles.learning_rate = 0.05

    config.fit = ml_collections.ConfigDict()
    config.fit.functions = ("square", "sin", "abs", "sign")  # x^2, sin(pi x), |x|, sign(x) on [-1, 1]
    config.fit.num_points = 50  # evenly spaced training points (Bishop, PRML fig. 5.3)
    config.fit.hidden_size = 3  # tanh units
    config.fit.num_steps = 5000  # full-batch Adam steps
    config.fit.learning_rate = 0.02
    config.fit.restarts = 5  # random inits; the one with the lowest training error is kept

    config.perceptron = ml_collections.ConfigDict()
    config.perceptron.max_epochs = 200
    config.perceptron.digits = (0, 1)  # the two digit classes (8x8 digits), label 1 = the second

    if variant == "small":  # CI smoke test
        config.circles.num_samples = 200
        config.circles.num_steps = 200
        config.fit.num_steps = 200
        config.fit.restarts = 1
        config.fit.functions = ("square", "sign")
    elif variant is not None:
        raise ValueError(f"unknown variant {variant!r}; valid variants: ['small']")
    return config
