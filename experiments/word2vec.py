"""word2vec skip-gram (seqmodels/models/word2vec.py) beside gensim's Word2Vec on the same corpus.

    python -m experiments.word2vec --workdir=DIR [--config=experiments/configs/word2vec.py[:small]] \
        [--config.data.data_file=input.txt] [--config.model.objective=softmax]

Not trained through the generic loop (seqmodels.training): word2vec is plain SGD with sparse row updates
on millions of (center, context) pairs, and the loop's per-step Task (optimizer state, metrics, eval,
checkpoints) would cost more than the step itself; `word2vec.train` runs thousands of steps per jitted
call instead. This main keeps the command line of every experiment (launcher's flags) and writes
DIR/results.json (ours and, when installed, gensim's: wordsim353 Spearman and analogy accuracy on the
covered subset, words/s, nearest neighbours) and DIR/pca.png (a 2-D PCA projection of frequent words).
"""

import time
from pathlib import Path

import numpy as np
from absl import logging

from experiments import launcher, tasks
from seqmodels.models import word2vec as w2v
from seqmodels.training import ConfigError, validate

EVAL_FILES = ("wordsim353.tsv", "questions-words.txt")  # gensim's test data


def load_text(data_file: str) -> tuple[str, str]:
    """(text, description): the UTF-8 file `data_file`, or Python's documentation topics when it is ""."""
    if not data_file:
        from pydoc_data import topics
        return "\n".join(topics.topics.values()), "pydoc_data.topics (Python's documentation topics)"
    return tasks.read_text_file(data_file, "data.data_file"), data_file


def corpus(config) -> dict:
    """Words, vocabulary and ids of the configured corpus, with sentence numbers that windows do not cross."""
    d = config.data
    for field in ("sentence_length", "min_count"):
        validate.positive(f"data.{field}", d[field], integer=True)
    for field in ("max_vocab_size", "max_words"):
        validate.non_negative(f"data.{field}", d[field], integer=True)
    text, source = load_text(d.data_file)
    words = w2v.tokenize(text)
    if d.max_words:
        words = words[:d.max_words]
    if d.max_vocab_size > len(words):
        raise ConfigError(f"data.max_vocab_size={d.max_vocab_size} is larger than the corpus ({len(words)} words "
                          f"in {source}): give a smaller vocabulary or a larger corpus")
    try:
        vocab, counts = w2v.build_vocab(words, min_count=d.min_count, max_size=d.max_vocab_size or None)
    except ValueError as e:
        raise ConfigError(f"data.min_count: {e}") from None
    index = {w: i for i, w in enumerate(vocab)}
    kept = [(index[w], n // d.sentence_length) for n, w in enumerate(words) if w in index]
    ids, segments = (np.array(x, np.int32) for x in zip(*kept))
    sentences = [words[i:i + d.sentence_length] for i in range(0, len(words), d.sentence_length)]
    return {"source": source, "characters": len(text), "words": words, "sentences": sentences, "vocab": vocab,
            "counts": counts, "ids": ids, "segments": segments}


def evaluate(vectors, vocab, eval_data, query_words, num_neighbours) -> dict:
    pairs, questions = eval_data
    vectors = np.asarray(vectors, np.float32)
    index = {w: i for i, w in enumerate(vocab)}
    neighbours = {q: [vocab[i] for i in w2v.most_similar(vectors, vectors[index[q]], num_neighbours + 1)
                      if i != index[q]][:num_neighbours] for q in query_words if q in index}
    out = {"neighbours": neighbours}
    if pairs is not None:
        out["wordsim353"] = w2v.word_pair_spearman(vectors, vocab, pairs)
        out["analogy"] = w2v.analogy_accuracy(vectors, vocab, questions)
    return out


def eval_data():
    """wordsim353 pairs and analogy questions from gensim's test data (None, None without gensim)."""
    try:
        from gensim.test.utils import datapath
    except ImportError:
        return None, None
    return w2v.read_word_pairs(datapath(EVAL_FILES[0])), w2v.read_analogies(datapath(EVAL_FILES[1]))


def train_gensim(config, data) -> tuple[np.ndarray, list[str], float] | None:
    """gensim's skip-gram with negative sampling, the same hyper-parameters; None if gensim is missing."""
    try:
        from gensim.models import Word2Vec
    except ImportError:
        return None
    m = config.model
    model = Word2Vec(vector_size=m.dim, window=m.window, negative=m.negative, sample=m.sample, alpha=m.alpha,
                     min_alpha=m.min_alpha, sg=1, hs=0, min_count=config.data.min_count,
                     max_final_vocab=config.data.max_vocab_size or None, shrink_windows=m.dynamic_window,
                     workers=config.eval.gensim_workers, seed=config.seed, epochs=m.epochs)
    model.build_vocab(data["sentences"])
    start = time.perf_counter()
    model.train(data["sentences"], total_examples=len(data["sentences"]), epochs=m.epochs)
    return model.wv.vectors, list(model.wv.index_to_key), time.perf_counter() - start


def plot_pca(path, runs: dict, words: list[str]) -> None:
    """One panel per run: the words' vectors projected on their first two principal components."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(runs), figsize=(7 * len(runs), 6.5), squeeze=False)
    for ax, (name, (vectors, vocab)) in zip(axes[0], runs.items()):
        index = {w: i for i, w in enumerate(vocab)}
        shown = [w for w in words if w in index]
        x = w2v.unit_rows(np.asarray(vectors)[[index[w] for w in shown]])
        x = x - x.mean(0)
        xy = x @ np.linalg.svd(x, full_matrices=False)[2][:2].T  # [n, 2]
        ax.scatter(xy[:, 0], xy[:, 1], s=8)
        for w, (px, py) in zip(shown, xy):
            ax.annotate(w, (px, py), fontsize=8)
        ax.set_title(f"{name}: PCA of {len(shown)} unit word vectors")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def run(config, workdir) -> dict:
    workdir = Path(workdir)
    m = config.model
    validate.choice("model.objective", m.objective, ("sgns", "softmax"))
    validate.choice("model.noise_per", m.noise_per, ("pair", "center"))
    for field in ("dim", "window", "negative", "epochs", "batch_size", "steps_per_call"):
        validate.positive(f"model.{field}", m[field], integer=True)
    validate.in_range("model.sample", m.sample, 0.0, 1.0, high_open=True)
    validate.positive("model.alpha", m.alpha)
    validate.non_negative("model.min_alpha", m.min_alpha)
    data = corpus(config)
    vocab = data["vocab"]
    query = [w.strip() for w in config.eval.words.split(",") if w.strip()] or [w for w in vocab if len(w) >= 5][:6]
    logging.info("corpus %s: %d words, vocabulary %d", data["source"], len(data["words"]), len(vocab))

    options = dict(dim=m.dim, window=m.window, negative=m.negative, sample=m.sample, alpha=m.alpha,
                   min_alpha=m.min_alpha, objective=m.objective, noise_per=m.noise_per,
                   dynamic_window=m.dynamic_window, batch_size=m.batch_size, steps_per_call=m.steps_per_call,
                   seed=config.seed)
    start = time.perf_counter()  # compile train_steps on a few words (same shapes), timed apart
    w2v.train(data["ids"][:1000], data["counts"], segments=data["segments"][:1000], epochs=1, **options)
    compile_seconds = time.perf_counter() - start
    start = time.perf_counter()
    params = w2v.train(data["ids"], data["counts"], segments=data["segments"], epochs=m.epochs, **options)
    seconds = time.perf_counter() - start
    evals = eval_data()
    plot_words = vocab[20:20 + config.eval.plot_words]
    runs = {f"seqmodels ({m.objective})": (params["v"], vocab)}
    results = {"experiment": "word2vec skip-gram beside gensim's Word2Vec",
               "corpus": {"source": data["source"], "characters": data["characters"], "words": len(data["words"]),
                          "vocabulary": len(vocab), "words_in_vocabulary": len(data["ids"])},
               "seqmodels": {"objective": m.objective, "noise_per": m.noise_per, "train_seconds": seconds,
                             "compile_seconds": compile_seconds,
                             "words_per_second": len(data["words"]) * m.epochs / seconds,
                             **evaluate(params["v"], vocab, evals, query, config.eval.num_neighbours)}}
    gensim_run = train_gensim(config, data) if config.eval.gensim else None
    if gensim_run is not None:
        vectors, g_vocab, g_seconds = gensim_run
        runs[f"gensim (sgns, {config.eval.gensim_workers} workers)"] = (vectors, g_vocab)
        results["gensim"] = {"objective": "sgns", "workers": config.eval.gensim_workers, "train_seconds": g_seconds,
                             "words_per_second": len(data["words"]) * m.epochs / g_seconds,
                             **evaluate(vectors, g_vocab, evals, query, config.eval.num_neighbours)}
    if evals[0] is None:
        results["note"] = "gensim is not installed: no wordsim353 / analogy files and no gensim run"
    plot_pca(workdir / "pca.png", runs, plot_words)
    for name in ("seqmodels", "gensim"):
        if name in results:
            r = results[name]
            logging.info("%s: %.0f words/s, wordsim353 %s, analogy %s", name, r["words_per_second"],
                         r.get("wordsim353"), r.get("analogy"))
    return results


if __name__ == "__main__":
    launcher.run_direct(run)
