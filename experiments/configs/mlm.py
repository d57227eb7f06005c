"""Config of the masked-LM experiment (experiments/mlm.py): does BERT-style pretraining help a Transformer
encoder classify generated reviews when few labels are known?

    python -m experiments.mlm --workdir=workdirs/mlm [--config=experiments/configs/mlm.py:small]

Protocol: encoder d_model 64, 2 layers, 4 heads; masked-LM pretraining on 20,000 generated
reviews (labels unused), then a mean-pooled classifier fine-tuned on 1%, 10%, 100% of the training labels
(stratified per seed; 300, 600, 1000 steps) from scratch or from the pretrained encoder; 3 seeds; test
accuracy of the step with the best accuracy on 500 validation reviews.
Seen (results/mlm/README.md, mean +- std of 3 seeds): held-out masked-word accuracy 70%; fine-tuned test
accuracy scratch / pretrained 48.9 / 50.2% (1%), 51.7 / 52.6% (10%): both memorise the few labels and stay
at chance; 74.2 / 99.7% at 100% (seeds 0, 1 only). On a 2-vCPU AMD EPYC at load 25-37: pretraining 34 min, a fine-tuning sub-run
6-21 min (at load ~8 the whole config takes about an hour). `:small` is the CI config.
"""

import ml_collections

from experiments.configs import few_label_fields, optimizer_config
from experiments.configs import sentiment as sentiment_config


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    few_label_fields(config)
    config.num_steps = 1000  # fine-tuning Adam updates where fraction_num_steps is () (e.g. for other fractions)
    config.fraction_num_steps = (300, 600, 1000)  # per label fraction: 40 / 400 labels are memorised (training
    #                                               loss ~0) by step 300 / 600; 4000 need ~1000 to leave chance
    config.batch_size = 32  # at most the number of labelled reviews
    config.eval_every = 100  # validation accuracy (data.num_valid reviews)
    config.checkpoint_every = 1500
    config.keep_checkpoints = 1
    config.log_every = 250
    config.early_stopping = dict(metric="accuracy", mode="max", patience=0)  # selects the step, never stops
    config.restore_best = True  # test the step of the best validation accuracy (the test set chooses nothing)

    config.data = sentiment_config.get_config().data  # experiments/sentiment.py's generated reviews
    config.data.num_train = 4000  # labelled training reviews (the 100% of the label fractions)
    config.data.num_test = 1000
    config.data.num_unlabelled = 20000  # pretraining reviews, generated with seed data.seed + 2
    config.data.num_valid = 500  # labelled validation reviews (seed data.seed + 3): choose the fine-tuning step
    config.data.label_fractions = (0.01, 0.1, 1.0)
    config.data.label_fraction = 1.0  # set per sub-run

    config.pretrain = ml_collections.ConfigDict()  # the "pretrain" sub-run's own training fields
    config.pretrain.num_steps = 2000
    config.pretrain.batch_size = 64
    config.pretrain.eval_every = 500
    config.pretrain.checkpoint_every = 1000
    config.pretrain.log_every = 250
    config.pretrain.early_stopping = dict(metric="loss", mode="min", patience=0)
    config.pretrain.restore_best = False  # the last encoder is saved
    config.pretrain.optimizer = dict(learning_rate=1e-3, warmup_steps=100, schedule="cosine")

    config.model = ml_collections.ConfigDict()
    config.model.d_model = 64
    config.model.num_heads = 4
    config.model.d_ff = 128
    config.model.num_layers = 2
    config.model.drop_rate = 0.1
    config.model.max_len = 128  # longer than any generated review

    config.optimizer = optimizer_config("adam", 1e-3)

    if variant == "small":  # CI smoke test
        config.seeds = (0,)
        config.data.label_fractions = (0.1,)
        config.data.num_train, config.data.num_test, config.data.num_unlabelled = 200, 64, 200
        config.num_steps = config.checkpoint_every = 10
        config.fraction_num_steps = ()
        config.log_every = config.eval_every = 5
        config.data.num_valid = 32
        config.pretrain.update(num_steps=10, batch_size=16, eval_every=10, checkpoint_every=10, log_every=5)
        config.pretrain.optimizer.warmup_steps = 2
        config.batch_size = 16
        config.model.update(d_model=16, num_heads=2, d_ff=32, num_layers=1)
    elif variant is not None:
        raise ValueError(f"unknown variant {variant!r}; valid variants: ['small']")
    return config
