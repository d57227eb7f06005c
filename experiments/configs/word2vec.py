"""Config of experiments/word2vec.py: skip-gram with negative sampling beside gensim's Word2Vec.

    python -m experiments.word2vec --workdir=workdirs/word2vec [--config.data.data_file=input.txt]

Default corpus: Python's own documentation topics (stdlib `pydoc_data.topics`, 465K characters, 64K
words; too few wordsim353 / analogy words for those scores: see the neighbours). Seen (results/word2vec/,
tiny Shakespeare, 204K words, 5 epochs, 3 seeds): wordsim353 rho 0.17 (gensim 0.07, 46 pairs), analogy
2.7% (gensim 2.8%, 656 questions); about 10 s of training and 1 min in all per run on a 2-vCPU AMD EPYC
shared with other jobs. `:small` is the CI config (seconds).
"""

import ml_collections


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0  # init, subsampling, windows, noise words (gensim gets the same seed)

    config.data = ml_collections.ConfigDict()
    config.data.data_file = ""  # a UTF-8 plain text file; "" = the stdlib's pydoc_data.topics
    config.data.sentence_length = 1000  # the word stream is cut into sentences of this many words (gensim's unit)
    config.data.min_count = 5  # words seen fewer times are dropped
    config.data.max_vocab_size = 0  # keep at most this many words (0: no limit)
    config.data.max_words = 0  # use the first max_words words of the corpus (0: all)

    config.model = ml_collections.ConfigDict()
    config.model.objective = "sgns"  # "sgns" (negative sampling) | "softmax" (full softmax, small vocabularies)
    config.model.dim = 100  # D (gensim's vector_size)
    config.model.window = 5  # c: contexts up to c words away
    config.model.dynamic_window = True  # each center draws its window from 1..c (reference C code, gensim)
    config.model.negative = 5  # k noise words per pair
    config.model.noise_per = "pair"  # "pair": k fresh noise words per pair (gensim); "center": shared by its pairs
    config.model.sample = 1e-3  # subsampling threshold t (0: off)
    config.model.epochs = 5
    config.model.alpha = 0.025  # learning rate, decayed linearly ...
    config.model.min_alpha = 1e-4  # ... to this over all epochs
    config.model.batch_size = 256  # pairs per SGD step (they see the same parameters)
    config.model.steps_per_call = 256  # SGD steps per jitted call (lax.scan)

    config.eval = ml_collections.ConfigDict()
    config.eval.words = ""  # comma-separated query words for nearest neighbours; "" = six frequent long words
    config.eval.num_neighbours = 8
    config.eval.plot_words = 60  # words in the 2-D PCA plot (frequent words after the 20 most frequent)
    config.eval.gensim = True  # also train gensim's Word2Vec (when installed) with the same hyper-parameters
    config.eval.gensim_workers = 3  # gensim's default

    if variant == "small":  # CI smoke test
        config.data.max_words = 20_000
        config.model.dim = 32
        config.model.epochs = 1
        config.model.steps_per_call = 64
        config.eval.plot_words = 20
    elif variant is not None:
        raise ValueError(f"unknown variant {variant!r}; valid variants: ['small']")
    return config
