"""Config of experiments/adversarial.py: FGSM, DeepFool, saliency and pruning on the digit classifiers.

    python -m experiments.adversarial --workdir=workdirs/adversarial

The models, data and training are cnn_digits' (experiments/configs/cnn_digits.py, one seed here); the
`attack` section sets the evaluation. Seen (results/adversarial/README.md): test accuracy at FGSM eps 0.1
logistic 55.7%, MLP 37.9%, CNN 61.3% (clean 98%); DeepFool median ||r|| / ||x|| 0.124, 0.103, 0.131;
45 s of CPU time (8.4 min wall on a heavily shared 2-vCPU AMD EPYC). `:small` is the CI config.
"""

import ml_collections

from experiments.configs import cnn_digits

VARIANTS = ("small",)


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
    if variant not in (None, *VARIANTS):
        raise ValueError(f"unknown variant {variant!r}; valid variants: {list(VARIANTS)}")
    config = cnn_digits.get_config(variant)
    config.num_seeds = 1  # one trained model per kind is attacked

    config.attack = ml_collections.ConfigDict()
    config.attack.epsilons = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3)  # FGSM step, pixels in [0, 1]
    config.attack.deepfool_examples = 0  # the first N correctly classified test images (0: all)
    config.attack.deepfool_overshoot = 0.02  # the paper's
    config.attack.deepfool_max_iter = 50
    config.attack.prune_fractions = (0.0, 0.25, 0.5, 0.625, 0.75, 0.875)  # of the 64 pixels, zeroed
    config.attack.prune_seed = 0  # the random-pixel control
    config.attack.num_pictures = 5  # test digits drawn with their saliency and adversarial versions
    config.attack.picture_epsilon = 0.1  # the FGSM eps of the pictures
    if variant == "small":
        config.attack.deepfool_examples = 20
        config.attack.epsilons = (0.0, 0.1)
        config.attack.prune_fractions = (0.0, 0.5)
        config.attack.num_pictures = 2
    return config
