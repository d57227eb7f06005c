"""Configs of the sentiment experiment (experiments/sentiment.py): word order and long range, with attention pooling.

    python -m experiments.sentiment --workdir=workdirs/sentiment
    python -m experiments.sentiment --workdir=workdirs/sentiment_imdb --config=experiments/configs/sentiment.py:imdb

Variants:
  (none)  generated reviews (seqmodels.data.synthetic.make_sentiment: negation, "X , but Y", distractor
          sentences after the deciding clause), 8000 train / 2000 test; bag of embeddings, GRU and LSTM (last
          state), GRU and LSTM with attention pooling, Transformer, 1500 steps each; and "mlm", the masked-LM
          pretrained encoder of experiments/mlm.py fine-tuned for 600 steps: run
          `python -m experiments.mlm --workdir=workdirs/mlm` first (model.mlm.encoder_file reads its encoder),
          or leave it out with --config.model.names=bag,gru,lstm,gru_attention,lstm_attention,transformer.
  imdb    TFDS imdb_reviews (25k / 25k; prepared by the user, see seqmodels/data/real.py), the same models
          larger, the first 400 words, 20k-word vocabulary, about 5 epochs (4000 steps of 32).
  small   CI (seconds): 256 generated reviews, bag and GRU with attention, 20 steps.

Seen (results/sentiment/README.md, seed 0, test accuracy of the last step): bag of embeddings 51.3%
(it cannot see order; logistic regression on word counts 53.2%), GRU, LSTM, GRU and LSTM with attention
pooling 100%, Transformer 96.2%; ~22 min for all six on a 2-vCPU AMD EPYC under heavy load (the Transformer
12 of them); in a later run the MLM-pretrained encoder 99.75% after 600 steps (36 min at load ~35).
IMDB (not run here, no data): published bag of words + logistic regression ~88%, LSTM 86-89%
(Maas et al. 2011; Dai & Le 2015); measured step times on this CPU under load give ~47 min (GRU) to
~100 min (LSTM + attention) per model for 4000 steps, the Transformer ~7 h (use a GPU).
"""

import ml_collections

from experiments.configs import optimizer_config

ALL_MODELS = "bag,gru,lstm,gru_attention,lstm_attention,transformer,mlm"


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0  # init and batch order (config.seeds: one sub-run per seed)
    config.seeds = (0,)  # several: <workdir>/<model>_seed<s>, the table gives mean and spread
    config.num_steps = 1500  # Adam updates per model
    config.batch_size = 64
    config.eval_every = 250
    config.checkpoint_every = 750
    config.keep_checkpoints = 1
    config.log_every = 250
    config.restore_best = False  # report the last step (the test set chooses nothing)

    config.data = ml_collections.ConfigDict()
    config.data.source = "generated"  # generated | imdb
    config.data.num_train = 8000  # generated reviews (imdb: all 25k)
    config.data.num_test = 2000
    config.data.seed = 0  # generated train set; the test set uses seed + 1
    config.data.contrast_rate = 0.6  # "A , but B" reviews (B decides)
    config.data.negation_rate = 0.5  # clauses flipped by "not" / "never" / "not ... at all"
    config.data.max_before = 2  # neutral sentences before the deciding part
    config.data.max_after = 4  # and after it (the deciding phrase up to ~45 words before the end)
    config.data.max_size = 20000  # vocabulary: at most this many ids (4 reserved), most frequent words first
    config.data.min_count = 1  # words seen fewer times are <unk>
    config.data.max_length = 0  # > 0: keep the first max_length words of a review (imdb)
    config.data.vocab_file = ""  # a saved tokenizer (Tokenizer.save) to use instead of building one, e.g. a
    #                              pretrained encoder's vocabulary
    config.data.data_dir = ""  # TFDS data_dir for imdb ("" = $TFDS_DATA_DIR or ~/tensorflow_datasets)

    config.model = ml_collections.ConfigDict()
    config.model.names = ALL_MODELS  # trained one after another, each in <workdir>/<name>
    config.model.embed_dim = 32  # word embeddings E [V, embed_dim] in front of every model
    config.model.bag = dict(kind="bag")  # mean of the word embeddings -> logistic regression
    config.model.gru = dict(hidden_size=64, pool="last")  # the final state
    config.model.lstm = dict(hidden_size=64, pool="last")
    config.model.gru_attention = dict(kind="gru", hidden_size=64, pool="attention")  # the lecture's pooling
    config.model.lstm_attention = dict(kind="lstm", hidden_size=64, pool="attention")
    config.model.transformer = dict(d_model=32, num_heads=4, d_ff=64, num_layers=2, pool="mean",
                                    optimizer=dict(learning_rate=1e-3))  # at 3e-3 it stayed at chance
    # experiments/mlm.py's pretrained encoder fine-tuned; first: python -m experiments.mlm --workdir=workdirs/mlm
    # (its pretrain sub-run writes encoder.npz and vocab.json). The fields are that run's config.model fields.
    config.model.mlm = dict(kind="mlm", encoder_file="workdirs/mlm/pretrain/encoder.npz", d_model=64, num_heads=4,
                            d_ff=128, num_layers=2, drop_rate=0.1, max_len=128, optimizer=dict(learning_rate=1e-3),
                            num_steps=600)  # fine-tuning from a pretrained encoder: fewer steps

    config.optimizer = optimizer_config("adam", 3e-3)

    if variant is None:
        pass
    elif variant == "imdb":
        config.data.source = "imdb"
        config.model.names = ALL_MODELS.removesuffix(",mlm")  # the masked LM was pretrained on generated reviews
        config.data.max_length = 400
        config.data.min_count = 2
        config.num_steps = 4000  # ~5 epochs of 25k reviews
        config.batch_size = 32
        config.eval_every = 1000
        config.checkpoint_every = 1000
        config.log_every = 200
        config.model.embed_dim = 128
        for name in ("gru", "lstm", "gru_attention", "lstm_attention"):
            config.model[name].hidden_size = 128
        config.model.transformer = dict(d_model=128, num_heads=4, d_ff=256, num_layers=2, pool="mean",
                                        optimizer=dict(learning_rate=1e-3))
        config.optimizer = optimizer_config("adam", 1e-3, clip_norm=1.0)
    elif variant == "small":  # CI smoke test
        config.model.names = "bag,gru_attention"
        config.num_steps = 20
        config.eval_every = 10
        config.checkpoint_every = 10
        config.log_every = 10
        config.batch_size = 32
        config.data.num_train = 256
        config.data.num_test = 64
        config.model.embed_dim = 8
        config.model.gru_attention.hidden_size = 8
    else:
        raise ValueError(f"unknown variant {variant!r}; valid variants: ['imdb', 'small']")
    return config
