"""Config of the Hopfield experiment (experiments/hopfield.py): recall of digits and random patterns, capacity.

    python -m experiments.hopfield --workdir=workdirs/hopfield [--config=experiments/configs/hopfield.py:small]

Seen (results/hopfield/README.md): random patterns stay within 1% bit error for 98% of them at P/N = 0.1
and 86-94% at P/N = 0.14; half of them fail from P/N = 0.22 / 0.20 / 0.18 for N = 64 / 100 / 200 (the
N -> infinity limit is 0.138). Correlated digit prototypes: 2 recalled, from 4 on one spurious blob.
86 s of CPU (383 s wall on a loaded 2-vCPU AMD EPYC). `:small` is the CI config (seconds).
"""

import ml_collections


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0  # unit orders, corruptions and random patterns
    config.num_sweeps = 10  # asynchronous sweeps per recall (each unit once per sweep)

    config.digits = ml_collections.ConfigDict()
    config.digits.classes = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)  # one prototype per class: the class-mean image
    config.digits.num_stored = (2, 3, 4, 5, 10)  # store the first k classes; recall is measured for each k
    config.digits.flip_fraction = 0.1  # pixels flipped in the corrupted inputs
    config.digits.num_trials = 20  # corrupted copies per stored digit

    config.capacity = ml_collections.ConfigDict()
    config.capacity.sizes = (64, 100, 200)  # N
    config.capacity.max_load = 0.3  # P / N from 1 / N up to this
    config.capacity.num_loads = 30  # load values per N
    config.capacity.num_trials = 10  # independent pattern sets per (N, P)
    config.capacity.max_bit_error = 0.01  # a pattern is recalled if it ends within 1% bit error
    config.capacity.flip_fraction = 0.1  # second criterion: started from a 10% corrupted copy

    if variant == "small":  # CI smoke test
        config.num_sweeps = 3
        config.digits.num_stored = (2, 3)
        config.digits.num_trials = 2
        config.capacity.sizes = (32,)
        config.capacity.num_loads = 3
        config.capacity.num_trials = 2
    elif variant is not None:
        raise ValueError(f"unknown variant {variant!r}; valid variants: ['small']")
    return config
