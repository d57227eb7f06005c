"""Config of the RBM experiment (experiments/rbm.py): CD-1, CD-10 and PCD beside scikit-learn's BernoulliRBM.

    python -m experiments.rbm --workdir=workdirs/rbm [--config=experiments/configs/rbm.py[:small]]

Binarised 8x8 digits, scikit-learn's digits-example hyper-parameters (100 hidden units, learning rate 0.06,
batch 10, 20 epochs). Seen (results/rbm/README.md, test pseudo-log-likelihood in nats per image, mean of
5 seeds): CD-1 -15.62, CD-10 -15.45, our PCD-1 -16.07, BernoulliRBM -16.26 (untrained -44.3); 2 min for
the whole table on a 2-vCPU AMD EPYC. `:small` is the CI config (seconds).
"""

import ml_collections


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seeds = (0, 1, 2, 3, 4)  # one run per seed and method (init, batch order, Gibbs noise)
    config.methods = ("cd1", "cd10", "pcd1", "sklearn")  # cd<k> | pcd<k> | sklearn (BernoulliRBM: PCD-1)
    config.num_hidden = 100  # BernoulliRBM.n_components
    config.learning_rate = 0.06  # plain SGD on the mean gradient of a batch (BernoulliRBM's update)
    config.batch_size = 10
    config.num_epochs = 20  # BernoulliRBM.n_iter
    config.threshold = 0.5  # pixel (0..1) > threshold -> 1
    config.sample_chains = 100  # Gibbs chains for the sample grid, started from random bits
    config.sample_steps = 1000  # Gibbs steps of each chain

    if variant == "small":  # CI smoke test
        config.seeds = (0,)
        config.methods = ("cd1", "pcd1", "sklearn")
        config.num_hidden = 16
        config.num_epochs = 2
        config.sample_chains = 4
        config.sample_steps = 10
    elif variant is not None:
        raise ValueError(f"unknown variant {variant!r}; valid variants: ['small']")
    return config
