"""word2vec skip-gram (Mikolov et al. 2013): negative sampling, full softmax, subsampling, evaluation.

Every word w has a center (input) vector v_w and a context (output) vector
u_w, the rows of params["v"] and params["u"], both [V, D]. A corpus gives
(center c, context o) pairs, o within `window` words of c. The lecture's
full softmax, for a small vocabulary:

    p(o | c) = exp(u_o . v_c) / sum_w exp(u_w . v_c)
    loss     = -log p(o | c)
    d/dv_c   = -u_o + sum_w p(w | c) u_w          d/du_w = (p(w | c) - [w = o]) v_c

Skip-gram with negative sampling (SGNS), k noise words n_1..n_k drawn from
the unigram distribution to the 3/4 power, P_n(w) ~ count(w)^(3/4):

    loss     = -log s(u_o . v_c) - sum_i log s(-u_{n_i} . v_c)        s = sigmoid
    d/dv_c   = -(1 - s(u_o . v_c)) u_o + sum_i s(u_{n_i} . v_c) u_{n_i}
    d/du_o   = -(1 - s(u_o . v_c)) v_c     d/du_{n_i} = s(u_{n_i} . v_c) v_c

Frequent-word subsampling keeps each occurrence of w with probability
(sqrt(f_w / (t N)) + 1) t N / f_w, capped at 1 (f_w the count of w, N the
corpus size, t = `sample`; gensim's `Word2Vec.prep_vocab`). The window is
dynamic as in the reference C code and gensim: each center draws its window
b uniformly from 1..window. The learning rate decays linearly from `alpha`
to `min_alpha` over all epochs.

Speed: pairs and noise words are made in numpy (`skipgram_pairs`,
vectorised; noise words from the reference code's unigram table), and one
jitted call (`train_steps`) runs `lax.scan` over S minibatches of B pairs,
each an SGD step with the hand gradients above as sparse row updates
(`.at[rows].add`; the B pairs of a step see the same parameters). A
minibatch takes pairs strided over a chunk of the corpus (a cheap shuffle),
and the learning rate decays with the steps taken. JAX's asynchronous
dispatch lets numpy make the next epoch's pairs on the second core while
XLA trains. One pair per step is plain sequential SGD, tested against a
per-pair loop.

Evaluation: `most_similar` (cosine), `analogy` (3CosAdd: argmax over w of
cos(w, b - a + c) on unit vectors, a, b, c excluded, as gensim's
`most_similar`), `word_pair_spearman` (wordsim353) and `analogy_accuracy`
(questions-words) on the covered subset, as gensim's `evaluate_word_pairs`
/ `evaluate_word_analogies`.
"""

import collections
import functools
import math
import re
from collections.abc import Callable, Iterable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from seqmodels.array_types import Array, Float, Int, Key, Params

WORD_RE = re.compile(r"[a-z]+(?:'[a-z]+)?")  # lower-case words; digits and punctuation dropped


def tokenize(text: str) -> list[str]:
    """Lower-case words of `text` (letters, with inner apostrophes)."""
    return WORD_RE.findall(text.lower())


# -- vocabulary, subsampling, noise distribution, pairs (numpy)

def build_vocab(words: Iterable[str], *, min_count: int = 5,
                max_size: int | None = None) -> tuple[list[str], np.ndarray]:
    """Words seen at least `min_count` times, most frequent first (ties by the word), and their counts [V]."""
    counts = collections.Counter(words)
    items = sorted(((w, n) for w, n in counts.items() if n >= min_count), key=lambda wn: (-wn[1], wn[0]))
    items = items[:max_size]
    if not items:
        raise ValueError(f"no word occurs min_count={min_count} times in a corpus of {sum(counts.values())} words "
                         f"({len(counts)} distinct): lower min_count or give a larger corpus")
    return [w for w, _ in items], np.array([n for _, n in items], np.int64)


def encode(words: Sequence[str], vocab: Sequence[str]) -> np.ndarray:
    """Word ids [N] of the in-vocabulary words (out-of-vocabulary words are dropped, as gensim does)."""
    index = {w: i for i, w in enumerate(vocab)}
    return np.array([index[w] for w in words if w in index], np.int32)


def keep_probabilities(counts: np.ndarray, sample: float) -> np.ndarray:
    """P(keep an occurrence of w) = (sqrt(f_w / (t N)) + 1) t N / f_w, at most 1 (gensim's formula; N = the
    retained corpus size, t = sample). sample=0 keeps every word."""
    counts = np.asarray(counts, np.float64)
    if not sample:
        return np.ones_like(counts)
    threshold = sample * counts.sum()
    return np.minimum((np.sqrt(counts / threshold) + 1) * threshold / counts, 1.0)


def noise_distribution(counts: np.ndarray, power: float = 0.75) -> np.ndarray:
    """P_n(w) = count(w)^power / sum_w' count(w')^power [V]."""
    p = np.asarray(counts, np.float64) ** power
    return p / p.sum()


def noise_table(probs: np.ndarray, size: int = 1 << 22) -> np.ndarray:
    """The reference C code's unigram table: word w fills about size * P_n(w) of its `size` entries (the
    quantiles of P_n), so a uniform entry is a draw from P_n; a lookup is far faster than a search."""
    cdf = np.cumsum(probs)
    return np.minimum(np.searchsorted(cdf, (np.arange(size) + 0.5) / size, side="right"),
                      len(probs) - 1).astype(np.int32)


def context_windows(ids: np.ndarray, window: int, *, windows: np.ndarray | None = None,
                    segments: np.ndarray | None = None, start: int = 0,
                    stop: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The centers at positions start..stop-1 of `ids` [N] with their 2c context slots, left to right:
    (centers [P0], contexts [P0, 2c], valid [P0, 2c]). A slot is valid if inside the corpus, within windows[i]
    <= window of center i when given (the dynamic window), and in the same segment (sentence) when given."""
    ids = np.asarray(ids)
    n = len(ids)
    stop = n if stop is None else stop
    offsets = np.concatenate([np.arange(-window, 0), np.arange(1, window + 1)])  # [2c]
    pos = np.arange(start, stop)[:, None] + offsets  # [P0, 2c]
    valid = (pos >= 0) & (pos < n)
    pos = np.clip(pos, 0, n - 1)
    if windows is not None:
        valid &= np.abs(offsets) <= np.asarray(windows)[start:stop, None]
    if segments is not None:
        valid &= segments[pos] == segments[start:stop, None]
    return ids[start:stop], ids[pos], valid


def skipgram_pairs(ids: np.ndarray, window: int, **options) -> tuple[np.ndarray, np.ndarray]:
    """(center, context) word pairs [P]: the valid slots of `context_windows` (same options), center-major."""
    centers, contexts, valid = context_windows(ids, window, **options)
    return np.broadcast_to(centers[:, None], contexts.shape)[valid], contexts[valid]


# -- one pair: losses and their gradients by hand (the equations above)

def init(key: Key, vocab_size: int, dim: int, *, dtype=jnp.float32) -> Params:
    """v ~ U(-0.5/D, 0.5/D) (the reference C code and gensim), u = 0."""
    return {"v": jax.random.uniform(key, (vocab_size, dim), dtype, -0.5 / dim, 0.5 / dim),
            "u": jnp.zeros((vocab_size, dim), dtype)}


def sgns_loss(params: Params, center: Int[Array, ""], context: Int[Array, ""],
              negatives: Int[Array, "k"]) -> Float[Array, ""]:
    """-log s(u_o . v_c) - sum_i log s(-u_{n_i} . v_c) for one pair."""
    v = params["v"][center]  # [D]
    return -jax.nn.log_sigmoid(params["u"][context] @ v) - jnp.sum(jax.nn.log_sigmoid(-params["u"][negatives] @ v))


def sgns_grads(v_c: Float[Array, "D"], u: Float[Array, "M D"], weights: Float[Array, "M"] | None = None,
               num_positive: int = 1) -> tuple[Array, Array]:
    """Hand gradients of the SGNS loss for one pair: rows u = [u_o, u_{n_1}, ..., u_{n_k}] [1+k, D] ->
    (d/dv_c [D], d/du [1+k, D]). `weights` scales each term (0 drops a noise word). With num_positive=m the
    first m rows are contexts of the same center: the summed gradient of its m pairs when they share the
    noise words, each noise word weighted by the number of pairs it serves."""
    labels = (jnp.arange(u.shape[0]) < num_positive).astype(u.dtype)
    g = jax.nn.sigmoid(u @ v_c) - labels  # [M]: s(x) - 1 for a context, s(x) for noise
    if weights is not None:
        g = g * weights
    return g @ u, g[:, None] * v_c[None, :]


def softmax_loss(params: Params, center: Int[Array, ""], context: Int[Array, ""]) -> Float[Array, ""]:
    """-log p(o | c) = -u_o . v_c + log sum_w exp(u_w . v_c), the full softmax over the vocabulary."""
    scores = params["u"] @ params["v"][center]  # [V]
    return jax.nn.logsumexp(scores) - scores[context]


def softmax_grads(v_c: Float[Array, "D"], u: Float[Array, "V D"], context: Int[Array, ""]) -> tuple[Array, Array]:
    """Hand gradients of the full-softmax loss: (d/dv_c [D], d/du [V, D])."""
    g = jax.nn.softmax(u @ v_c).at[context].add(-1.0)  # [V]: p(w | c) - [w = o]
    return g @ u, g[:, None] * v_c[None, :]


# -- SGD on minibatches of pairs (vmap over pairs, scan over minibatches, one jit call)

def _sgns_step(params, batch, num_positive):
    centers, targets, weights = batch  # [B], [B, M] (contexts, then noise words), [B, M] (lr, 0 = skip)
    v, u = params["v"][centers], params["u"][targets]  # [B, D], [B, M, D]
    dv, du = jax.vmap(functools.partial(sgns_grads, num_positive=num_positive))(v, u, weights)
    return {"v": params["v"].at[centers].add(-dv, mode="promise_in_bounds"),
            "u": params["u"].at[targets.reshape(-1)].add(-du.reshape(-1, du.shape[-1]), mode="promise_in_bounds")}


def _softmax_step(params, batch, num_positive):
    del num_positive
    centers, contexts, lr = batch  # [B], [B], [B]
    v = params["v"][centers]  # [B, D]
    # softmax_grads of the B pairs as two matmuls (never a [B, V, D] array): rows p(. | c) - onehot(o)
    g = jax.nn.softmax(v @ params["u"].T).at[jnp.arange(len(centers)), contexts].add(-1.0) * lr[:, None]  # [B, V]
    return {"v": params["v"].at[centers].add(-g @ params["u"]), "u": params["u"] - g.T @ v}


@functools.partial(jax.jit, static_argnames=("objective", "num_positive"), donate_argnums=0)
def train_steps(params: Params, centers: Int[Array, "S B"], targets: Int[Array, "S B ..."],
                weights: Float[Array, "S B ..."], *, objective: str = "sgns", num_positive: int = 1) -> Params:
    """S SGD steps, one per minibatch of B rows; the rows of a minibatch see the same parameters and their
    updates add up. sgns: targets [S, B, M], the first `num_positive` of each row contexts of its center, the
    rest noise words, weights [S, B, M] the learning rate of each term (0 skips it); softmax: targets [S, B]
    contexts, weights [S, B] learning rates. The params buffers are donated (updated in place)."""
    step = functools.partial({"sgns": _sgns_step, "softmax": _softmax_step}[objective], num_positive=num_positive)
    params, _ = jax.lax.scan(lambda p, b: (step(p, b), None), params, (centers, targets, weights))
    return params


def train(ids: np.ndarray, counts: np.ndarray, *, dim: int = 100, window: int = 5, negative: int = 5,
          sample: float = 1e-3, epochs: int = 5, alpha: float = 0.025, min_alpha: float = 1e-4,
          objective: str = "sgns", noise_per: str = "pair", dynamic_window: bool = True,
          ns_exponent: float = 0.75, segments: np.ndarray | None = None, batch_size: int = 256,
          steps_per_call: int = 256, chunk_words: int = 200_000, seed: int = 0,
          log: Callable[[dict], None] | None = None) -> Params:
    """Train skip-gram on the corpus ids [N] (vocabulary counts [V]); `segments` [N] are sentence numbers that
    windows do not cross. Each epoch subsamples the corpus anew; lr decays linearly with the steps taken.
    noise_per="pair" draws k noise words for every pair (the reference code, gensim); "center" draws k for
    every center, shared by its pairs (Ji et al. 2016's HogBatch: about 2.5x fewer rows to touch per pair).
    batch_size is pairs per SGD step; with noise_per="center" a step takes batch_size // (window + 1)
    centers, about as many pairs (a dynamic window gives window + 1 contexts per center on average)."""
    if objective not in ("sgns", "softmax") or noise_per not in ("pair", "center"):
        raise ValueError(f"objective must be 'sgns' or 'softmax' and noise_per 'pair' or 'center', got "
                         f"{objective!r}, {noise_per!r}")
    per_center = objective == "sgns" and noise_per == "center"
    rows_per_step = max(1, batch_size // (window + 1)) if per_center else batch_size
    ids = np.asarray(ids, np.int32)
    segments = np.zeros(len(ids), np.int32) if segments is None else np.asarray(segments)
    rng = np.random.default_rng(seed)
    params = init(jax.random.key(seed), len(counts), dim)
    keep = keep_probabilities(counts, sample)
    table = noise_table(noise_distribution(counts, ns_exponent))
    total = epochs * len(ids)
    for epoch in range(epochs):
        kept = rng.random(len(ids)) < keep[ids]
        e_ids, e_seg = ids[kept], segments[kept]
        raw_pos = np.flatnonzero(kept)  # raw position of each kept word: the lr schedule's clock
        windows = rng.integers(1, window + 1, size=len(e_ids)) if dynamic_window else None
        for a in range(0, len(e_ids), chunk_words):
            b = min(a + chunk_words, len(e_ids))
            centers, contexts, valid = context_windows(e_ids, window, windows=windows, segments=e_seg, start=a,
                                                       stop=b)
            if per_center:
                noise = table[rng.integers(0, len(table), size=(len(centers), negative), dtype=np.uint32)]
                serves = (valid[:, :, None] & (contexts[:, :, None] != noise[:, None, :])).sum(1)  # pairs served
                used = valid.any(1)
                centers, targets = centers[used], np.concatenate([contexts, noise], 1)[used]  # [P0, 2c + k]
                weights = np.concatenate([valid, serves], 1)[used].astype(np.float32)
            else:
                centers, contexts = np.broadcast_to(centers[:, None], contexts.shape)[valid], contexts[valid]
                if objective == "sgns":
                    noise = table[rng.integers(0, len(table), size=(len(centers), negative), dtype=np.uint32)]
                    targets = np.concatenate([contexts[:, None], noise], 1)  # [P, 1+k]
                    weights = np.concatenate([np.ones((len(centers), 1), bool), noise != contexts[:, None]],
                                             1).astype(np.float32)  # a noise word equal to o is skipped (gensim)
                else:
                    targets, weights = contexts, np.ones(len(centers), np.float32)
            # minibatch j takes rows j, j + steps, j + 2 steps, ...: rows from all over the chunk (a cheap
            # shuffle), so a minibatch's rows are as distinct as the corpus allows; padding has weight 0
            c, t, w = (_strided(x, rows_per_step, steps_per_call) for x in (centers, targets, weights))
            done = epoch * len(ids) + raw_pos[a] + (raw_pos[b - 1] - raw_pos[a]) * np.arange(len(c)) / len(c)
            lr = (alpha - (alpha - min_alpha) * done / total).astype(np.float32)  # [steps]
            w *= lr.reshape(-1, *[1] * (w.ndim - 1))
            for s in range(0, len(c), steps_per_call):
                params = train_steps(params, c[s:s + steps_per_call], t[s:s + steps_per_call],
                                     w[s:s + steps_per_call], objective=objective,
                                     num_positive=2 * window if per_center else 1)
            if log is not None and len(lr):
                log({"epoch": epoch, "words": int(epoch * len(ids) + raw_pos[b - 1] + 1), "lr": float(lr[-1])})
    return jax.block_until_ready(params)


def _strided(x: np.ndarray, batch_size: int, steps_per_call: int) -> np.ndarray:
    """x [P, ...] -> [steps, B, ...], steps a multiple of steps_per_call; row i of step j is pair j + i * steps.
    Padded pairs are zeros (their lr is 0: no update)."""
    steps = -(-len(x) // (batch_size * steps_per_call)) * steps_per_call
    padded = np.zeros((batch_size * steps, *x.shape[1:]), x.dtype)
    padded[:len(x)] = x
    return np.ascontiguousarray(np.swapaxes(padded.reshape(batch_size, steps, *x.shape[1:]), 0, 1))


# -- nearest neighbours, analogies, evaluation (on the center vectors v)

def unit_rows(vectors) -> np.ndarray:
    """Rows scaled to unit length (cosine similarity = dot product)."""
    vectors = np.asarray(vectors, np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def most_similar(vectors, query: np.ndarray, topn: int = 10, exclude: Sequence[int] = ()) -> list[int]:
    """Ids of the `topn` rows of `vectors` [V, D] nearest to `query` [D] by cosine, without `exclude`."""
    scores = unit_rows(vectors) @ (np.asarray(query, np.float32) / max(np.linalg.norm(query), 1e-12))
    scores[list(exclude)] = -np.inf
    return [int(i) for i in np.argsort(-scores, kind="stable")[:topn]]


def analogy(vectors, a: int, b: int, c: int, topn: int = 1) -> list[int]:
    """3CosAdd: a is to b as c is to argmax_w cos(w, b - a + c) on unit vectors, w not in {a, b, c}."""
    e = unit_rows(vectors)
    return most_similar(e, e[b] - e[a] + e[c], topn, exclude=(a, b, c))


def word_pair_spearman(vectors, vocab: Sequence[str], pairs: Sequence[tuple[str, str, float]]) -> dict:
    """Spearman's rho between cosine similarity and human scores on the pairs whose words are both in vocab."""
    from scipy.stats import spearmanr
    index = {w: i for i, w in enumerate(vocab)}
    covered = [(index[a.lower()], index[b.lower()], s) for a, b, s in pairs if a.lower() in index and
               b.lower() in index]
    if len(covered) < 3:
        return {"spearman": math.nan, "covered": len(covered), "total": len(pairs)}
    e = unit_rows(vectors)
    cos = [float(e[i] @ e[j]) for i, j, _ in covered]
    return {"spearman": float(spearmanr(cos, [s for *_, s in covered]).statistic), "covered": len(covered),
            "total": len(pairs)}


def analogy_accuracy(vectors, vocab: Sequence[str], questions: Sequence[tuple[str, str, str, str]]) -> dict:
    """3CosAdd accuracy on the questions whose four words are in vocab (gensim's covered subset)."""
    index = {w: i for i, w in enumerate(vocab)}
    q = np.array([[index[w.lower()] for w in qw] for qw in questions if all(w.lower() in index for w in qw)],
                 np.int64).reshape(-1, 4)
    if len(q) == 0:
        return {"accuracy": math.nan, "covered": 0, "total": len(questions)}
    e = unit_rows(vectors)
    correct = 0
    for s in range(0, len(q), 1024):  # [1024, V] scores at a time
        a, b, c, d = q[s:s + 1024].T
        scores = (e[b] - e[a] + e[c]) @ e.T
        rows = np.arange(len(a))
        scores[rows, a] = scores[rows, b] = scores[rows, c] = -np.inf
        correct += int((scores.argmax(1) == d).sum())
    return {"accuracy": correct / len(q), "covered": len(q), "total": len(questions)}


def read_word_pairs(path) -> list[tuple[str, str, float]]:
    """wordsim353.tsv: 'word1<TAB>word2<TAB>score' lines ('#' comments)."""
    with open(path, encoding="utf-8") as f:
        rows = [line.split("\t") for line in f if line.strip() and not line.startswith("#")]
    return [(a, b, float(s)) for a, b, s in rows]


def read_analogies(path) -> list[tuple[str, str, str, str]]:
    """questions-words.txt: 'a b c d' lines under ': section' headers."""
    with open(path, encoding="utf-8") as f:
        return [tuple(line.split()) for line in f if line.strip() and not line.startswith(":")]


__all__ = ["tokenize", "build_vocab", "encode", "keep_probabilities", "noise_distribution", "noise_table",
           "context_windows", "skipgram_pairs", "init", "sgns_loss", "sgns_grads", "softmax_loss",
           "softmax_grads", "train_steps", "train", "unit_rows", "most_similar", "analogy", "word_pair_spearman",
           "analogy_accuracy", "read_word_pairs", "read_analogies"]
