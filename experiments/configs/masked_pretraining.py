"""Config of the masked-pretraining experiment (experiments/masked_pretraining.py): does MAE-style masked patch
prediction on unlabelled MNIST-1D help a Transformer encoder classify it when few labels are known?

    python -m experiments.masked_pretraining --workdir=workdirs/masked_pretraining \
        [--config=experiments/configs/masked_pretraining.py:small]

Protocol: MNIST-1D x [40, 1] as 10 patches of 4 frames; encoder d_model 32, 2 layers, 4 heads (the MNIST-1D
table's Transformer size), decoder d_model 16, 1 layer; 75% of the patches masked; pretraining on the 4000
training inputs (labels unused). Then encoder + mean pool + dense head fine-tuned on 1%, 10%, 100% of the
labels (stratified per seed) from scratch or from the pretrained encoder, 3 seeds; test accuracy of the
last step. Seen (results/masked_pretraining/README.md, mean +- std of 3 seeds), scratch / pretrained: 25.6 /
24.9% (1%), 53.3 / 56.4% (10%), 87.9 / 86.3% (100%): no gain beyond the seed spread. 48 min wall on a
loaded 2-vCPU AMD EPYC (load 20-36). `:small` is the CI config (seconds of CPU).
"""

import ml_collections

from experiments.configs import few_label_fields, optimizer_config


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    few_label_fields(config)
    config.num_steps = 2000  # fine-tuning Adam updates where fraction_num_steps is ()
    config.fraction_num_steps = (300, 1000, 2000)  # per label fraction (40, 400, 4000 labels)
    config.batch_size = 100  # at most the number of labelled sequences
    config.eval_every = 500  # test evaluations (curves only: the last step is reported)
    config.checkpoint_every = 2000
    config.keep_checkpoints = 1
    config.log_every = 500
    config.restore_best = False  # report the last step (the test set chooses nothing)

    config.data = ml_collections.ConfigDict()
    config.data.num_samples = 5000  # mnist1d's default: 4000 train / 1000 test
    config.data.label_fractions = (0.01, 0.1, 1.0)  # of each class's training sequences (at least one each)
    config.data.label_fraction = 1.0  # set per sub-run

    config.pretrain = ml_collections.ConfigDict()  # the "pretrain" sub-run's own training fields
    config.pretrain.num_steps = 3000
    config.pretrain.batch_size = 256
    config.pretrain.eval_every = 500  # masked-patch MSE on the test inputs
    config.pretrain.checkpoint_every = 3000
    config.pretrain.log_every = 500
    config.pretrain.optimizer = dict(learning_rate=1e-3, warmup_steps=200, schedule="cosine")

    config.model = ml_collections.ConfigDict()  # seqmodels.models.masked_autoencoder.MaskedAutoencoder
    config.model.patch_size = 4  # frames per patch: 40 / 4 = 10 patches
    config.model.d_model = 32  # encoder
    config.model.num_heads = 4
    config.model.d_ff = 64
    config.model.num_layers = 2
    config.model.drop_rate = 0.0
    config.model.decoder_d_model = 16  # the light decoder (pretraining only)
    config.model.decoder_num_heads = 2
    config.model.decoder_d_ff = 32
    config.model.decoder_num_layers = 1
    config.model.mask_ratio = 0.75  # the paper's: K = int(10 * 0.25) = 2 visible patches
    config.model.norm_pix_loss = False  # targets: the raw samples (MNIST-1D is already standardised)

    config.optimizer = optimizer_config("adam", 3e-3, warmup_steps=100, schedule="cosine")  # fine-tuning

    if variant == "small":  # CI smoke test
        config.seeds = (0,)
        config.data.label_fractions = (0.1,)
        config.data.num_samples = 500  # 400 train / 100 test
        config.fraction_num_steps = ()
        config.num_steps = config.checkpoint_every = 10
        config.eval_every = config.log_every = 5
        config.batch_size = 16  # splits over the 8 simulated devices of the tests
        config.pretrain.update(num_steps=10, batch_size=32, eval_every=10, checkpoint_every=10, log_every=5)
        config.pretrain.optimizer.warmup_steps = 2
        config.optimizer.warmup_steps = 2
        config.model.update(d_model=16, num_heads=2, d_ff=32, num_layers=1, decoder_d_model=8, decoder_d_ff=16)
    elif variant is not None:
        raise ValueError(f"unknown variant {variant!r}; valid variants: ['small']")
    return config
