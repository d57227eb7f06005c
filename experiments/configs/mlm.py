"""Config of the masked-LM experiment (experiments/mlm.py): does BERT-style pretraining help a Transformer
encoder classify generated reviews when few labels are known?

    python -m experiments.mlm --workdir=workdirs/mlm [--config=experiments/configs/mlm.py:small]

Protocol: encoder d_model 64, 2 layers, 4 heads; masked-LM pretraining on 20,000 generated
reviews (labels unused), then a mean-pooled classifier fine-tuned on 1%, 10%, 100% of the training labels
(stratified per seed) from scratch or from the pretrained encoder; 3 seeds; test accuracy of the last step.
Seen (results/mlm/README.md, mean +- std of 3 seeds): held-out masked-word accuracy 70%; fine-tuned test
accuracy scratch / pretrained 48.5 / 50.1% (1%), 51.5 / 52.7% (10%), 52.0 / 54.6% (100%): 300 fine-tuning
steps are too few for this task (at 1500 steps, seed 0, 100%: scratch 86.8%, pretrained 99.7%).
32 min wall on a loaded 2-vCPU AMD EPYC. `:small` is the CI config.
"""

import ml_collections

from experiments.configs import optimizer_config
from experiments.configs import sentiment as sentiment_config


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0  # overwritten per sub-run by each of `seeds`
    config.seeds = (0, 1, 2)  # one fine-tuning sub-run per seed x label fraction x init
    config.inits = ("scratch", "pretrained")
    config.stage = "finetune"  # the "pretrain" sub-run sets "pretrain"
    config.init = "scratch"  # set per sub-run
    config.num_steps = 300  # fine-tuning Adam updates, whatever the number of labels
    config.batch_size = 32  # at most the number of labelled reviews
    config.eval_every = 0  # only at the end
    config.checkpoint_every = 300
    config.keep_checkpoints = 1
    config.log_every = 100
    config.restore_best = False  # report the last step (the test set chooses nothing)

    config.data = sentiment_config.get_config().data  # experiments/sentiment.py's generated reviews
    config.data.num_train = 4000  # labelled training reviews (the 100% of the label fractions)
    config.data.num_test = 1000
    config.data.num_unlabelled = 20000  # pretraining reviews, generated with seed data.seed + 2
    config.data.label_fractions = (0.01, 0.1, 1.0)
    config.data.label_fraction = 1.0  # set per sub-run

    config.pretrain = ml_collections.ConfigDict()  # the "pretrain" sub-run's own training fields
    config.pretrain.num_steps = 2000
    config.pretrain.batch_size = 64
    config.pretrain.eval_every = 500
    config.pretrain.checkpoint_every = 1000
    config.pretrain.log_every = 250
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
        config.log_every = 5
        config.pretrain.update(num_steps=10, batch_size=16, eval_every=10, checkpoint_every=10, log_every=5)
        config.pretrain.optimizer.warmup_steps = 2
        config.batch_size = 16
        config.model.update(d_model=16, num_heads=2, d_ff=32, num_layers=1)
    elif variant is not None:
        raise ValueError(f"unknown variant {variant!r}; valid variants: ['small']")
    return config
