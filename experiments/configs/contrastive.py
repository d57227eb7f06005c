"""Config of the contrastive experiment (experiments/contrastive.py): SimCLR's NT-Xent on MNIST-1D, probes, clusters.

    python -m experiments.contrastive --workdir=workdirs/contrastive [--config.model.name=tcn]

Seen (seed 0; results/contrastive/README.md), linear probe / k-means purity / GMM purity on the test set:
raw inputs 32.8 / 24.1 / 17.3%, random encoder 45.4 / 28.5 / 26.7%, contrastive 69.4 / 25.0 / 28.2%,
supervised 87.5 / 70.4 / 61.6%. Training 403 s + 50 s on a 2-vCPU AMD EPYC under heavy load (the whole
run with scikit-learn and t-SNE: 56 min there; not timed on a quiet machine). `:small` is the CI config.
"""

import ml_collections

from experiments.configs import optimizer_config


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0  # init, batch order, augmentations, clustering
    config.objectives = "contrastive,supervised"  # sub-runs, one after another
    config.num_steps = 3000  # Adam updates (each objective's section may override)
    config.batch_size = 256  # sequences per step: 2 x 256 views, 510 negatives per anchor
    config.eval_every = 500
    config.checkpoint_every = 1000
    config.keep_checkpoints = 1
    config.log_every = 250
    config.restore_best = False  # the last step's encoder (the test set chooses nothing)

    config.data = ml_collections.ConfigDict()
    config.data.num_samples = 5000  # mnist1d's default: 4000 train / 1000 test

    config.embed_dim = 64  # E: the encoder's pooled read-out, the embedding h that probes and clusters read
    config.model = ml_collections.ConfigDict()
    config.model.name = "cnn"  # any section below (experiments/models.py), output_size = embed_dim
    config.model.cnn = dict(channels=64, kernel_sizes=(5, 3, 3), stride=2, padding="valid", pad=1,
                            activation="relu", pool="flatten")  # the MNIST-1D paper's ConvBase, wider: 40->19->10->5
    config.model.tcn = dict(channels=32, levels=4, kernel_size=3, conv_init="pytorch", pool="mean")
    config.model.transformer = dict(patch_size=4, d_model=32, num_heads=4, d_ff=64, num_layers=2,
                                    positional="learned", pool="mean")

    config.projection = ml_collections.ConfigDict()
    config.projection.hidden_size = 128  # g(h) = W_2 relu(W_1 h + b_1) + b_2
    config.projection.out_dim = 32  # z, where NT-Xent compares views
    config.projection.temperature = 0.1  # tau

    config.augment = ml_collections.ConfigDict()  # seqmodels.models.contrastive.augment
    config.augment.max_shift = 8  # frames, each way
    config.augment.shift_mode = "zeros"  # circular | zeros
    config.augment.scale_low = 0.6  # amplitude a ~ U(low, high)
    config.augment.scale_high = 1.4
    config.augment.noise_std = 0.1  # the data's own noise is of this order
    config.augment.mask_fraction = 0.15  # one span of round(0.15 * 40) = 6 frames set to zero

    config.contrastive = dict()  # this objective's own num_steps / batch_size / optimizer (none: the shared ones)
    config.supervised = dict(batch_size=100)  # cross-entropy on labels, no augmentation

    config.probe_c = 1.0  # LogisticRegression's inverse L2 strength, on standardised features
    config.cluster_n_init = 10  # k-means runs (the best kept); the GMM starts from one k-means
    config.maps = "pca,tsne"  # 2-D maps of the test embeddings (plots/embeddings_<map>.png)

    config.optimizer = optimizer_config("adam", 1e-3)

    if variant == "small":  # CI smoke test
        config.num_steps = 10
        config.batch_size = 40  # splits over the 8 simulated devices of the tests
        config.supervised = dict(batch_size=40)
        config.eval_every = 10
        config.checkpoint_every = 10
        config.log_every = 5
        config.model.cnn.channels = 8
        config.data.num_samples = 500
        config.maps = "pca"
        config.cluster_n_init = 1
    elif variant is not None:
        raise ValueError(f"unknown variant {variant!r}; valid variants: ['small']")
    return config
