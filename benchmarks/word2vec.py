"""word2vec training speed: seqmodels' skip-gram with negative sampling against gensim's Word2Vec.

    python -m benchmarks.word2vec [--data_file=input.txt] [--epochs=5] [--repeats=3] [--json]

The same corpus (default: the stdlib's pydoc_data.topics; any UTF-8 text with --data_file), cut into
sentences of 1000 words, and gensim's default hyper-parameters for both: skip-gram, D=100, window 5
(dynamic), 5 noise words, sample=1e-3, min_count=5, linear decay 0.025 -> 1e-4. Cases: seqmodels
(`word2vec.train`, compiled beforehand by a short warm-up run of the same shapes), gensim with 3 workers
(its default), 2 and 1, and seqmodels with noise words shared by a center's pairs (`noise_per="center"`).
words/s = raw corpus words x epochs / training seconds (gensim: `train()` only,
its vocabulary built beforehand; gensim's own log counts "effective" words, after subsampling, instead).
Interleaved rounds, the order rotating; best and median of `--repeats` rounds.
"""

import argparse
import statistics
import time

import numpy as np

from benchmarks import common
from experiments.word2vec import load_text
from seqmodels.models import word2vec as w2v

HYPER = dict(dim=100, window=5, negative=5, sample=1e-3, alpha=0.025, min_alpha=1e-4)


def make_cases(words: list[str], epochs: int, workers: tuple[int, ...]) -> dict:
    vocab, counts = w2v.build_vocab(words, min_count=5)
    index = {w: i for i, w in enumerate(vocab)}
    kept = [(index[w], n // 1000) for n, w in enumerate(words) if w in index]
    ids, segments = (np.array(x, np.int32) for x in zip(*kept))
    w2v.train(ids[:5000], counts, segments=segments[:5000], epochs=1, **HYPER)  # compile (same V, D, B, S)
    w2v.train(ids[:5000], counts, segments=segments[:5000], epochs=1, noise_per="center", **HYPER)
    cases = {"seqmodels": lambda: w2v.train(ids, counts, segments=segments, epochs=epochs, **HYPER),
             "seqmodels noise_per=center": lambda: w2v.train(ids, counts, segments=segments, epochs=epochs,
                                                             noise_per="center", **HYPER)}
    try:
        from gensim.models import Word2Vec
    except ImportError:
        print("gensim is not installed (pip install gensim): seqmodels only")
        return cases
    sentences = [words[i:i + 1000] for i in range(0, len(words), 1000)]

    def gensim_case(n):
        model = Word2Vec(vector_size=100, window=5, negative=5, sample=1e-3, alpha=0.025, min_alpha=1e-4, sg=1,
                         hs=0, min_count=5, workers=n, epochs=epochs)
        model.build_vocab(sentences)
        return lambda: model.train(sentences, total_examples=len(sentences), epochs=epochs)

    for n in workers:
        cases[f"gensim workers={n}"] = gensim_case(n)
    return cases


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_file", default="", help="UTF-8 text; default: pydoc_data.topics")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    text, source = load_text(args.data_file)
    words = w2v.tokenize(text)
    cases = make_cases(words, args.epochs, workers=(3, 2, 1))
    names = list(cases)
    seconds = {name: [] for name in names}
    for r in range(args.repeats):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            start = time.perf_counter()
            cases[name]()
            seconds[name].append(time.perf_counter() - start)
    total = len(words) * args.epochs
    rows = [{"case": name, "best_words_per_s": round(total / min(s)), "median_words_per_s":
             round(total / statistics.median(s)), "best_seconds": round(min(s), 2)} for name, s in seconds.items()]
    print(f"{common.machine()} | corpus {source}: {len(words)} words x {args.epochs} epochs")
    common.print_table(rows, ["case", "best_words_per_s", "median_words_per_s", "best_seconds"])
    if args.json:
        common.dump_json({"benchmark": "word2vec", "machine": common.machine(), "corpus": source,
                          "words": len(words), "epochs": args.epochs, "rows": rows})


if __name__ == "__main__":
    main()
