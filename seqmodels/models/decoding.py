"""Autoregressive generation from a cached decoder, shared by the language model and the encoder-decoder.

Given `decode(cache, ids) -> (cache, logits [T, V])`, which runs T new tokens
on top of the cached past, `generate` feeds the prompt once and then one
token at a time, `num_tokens` times, inside one `lax.scan`:

    greedy (key None):   y_{n+1} = argmax_v logits_n[v]
    sampled:             y_{n+1} ~ softmax(logits_n / temperature)      (key split once per token)

For sequence to sequence, `greedy` and `beam_search` start from a start
token and stop at an end token, each in one `lax.scan` of `max_len` steps
with a finished mask (finished rows keep emitting `end_token`, the padding);
jit them, and vmap over a batch of sources. Hypotheses are scored as in GNMT
(Wu et al. 2016), the log-probability over a length penalty:

    s(Y) = log p(Y | X) / lp(Y),     lp(Y) = ((5 + |Y|) / 6)^alpha     (|Y| counts the end token)

`beam_search` keeps K rows, alive or finished, in one pool: every step it
expands each alive row by every token and each finished row by the end
token only (log-probability 0, its length fixed), and keeps the K
candidates with the best s. The cache is tiled over the rows and gathered
by parent row. Beam search is not monotone in K: a beam can drop the greedy
prefix midway (K prefixes score higher then) and end below it. So the
greedy path rides along as one extra row, and it joins the final K when it
scores higher than the beam's best: the result is never worse than greedy,
and K = 1 is exactly greedy. `score` rescores given sequences (teacher
forced) by the same s. `share` keeps what a source fixes (its memory, its
projected keys and values) out of the tiled cache, in the closure.
"""

import jax
import jax.numpy as jnp
import numpy as np

from seqmodels.array_types import Array, Float, Int, Key, Params


def check_prompt(prompt: Array, key: Key | None, temperature: float) -> None:
    """A prompt [P] with P >= 1 (one example) and, when sampling, temperature > 0 (unless traced)."""
    if prompt.ndim != 1 or prompt.shape[0] == 0:
        raise ValueError(f"generate: expected a prompt of shape [P] with P >= 1 (one example; vmap over the "
                         f"batch), got shape {prompt.shape}")
    if key is not None and isinstance(temperature, (int, float)) and not temperature > 0:  # traced: unchecked
        raise ValueError(f"generate: expected temperature > 0 for sampling, got {temperature}")


def generate(decode, cache: Params, prompt: Int[Array, "P"], num_tokens: int, *, key: Key | None = None,
             temperature: float = 1.0) -> Int[Array, "P+L"]:
    """decode(cache, ids) -> (cache, logits [T, V]) on the prompt, then token by token `num_tokens` times:
    argmax when key is None, else a sample of softmax(logits / temperature). Returns prompt + new tokens."""
    cache, logits = decode(cache, prompt)

    def step(carry, k):
        cache, logits_t = carry  # logits_t: [V], the prediction for the next token
        if k is None:
            token = jnp.argmax(logits_t, -1).astype(prompt.dtype)
        else:
            token = jax.random.categorical(k, logits_t / temperature).astype(prompt.dtype)
        cache, logits = decode(cache, token[None])
        return (cache, logits[0]), token

    if key is None:
        _, tokens = jax.lax.scan(lambda c, _: step(c, None), (cache, logits[-1]), None, length=num_tokens)
    else:
        _, tokens = jax.lax.scan(step, (cache, logits[-1]), jax.random.split(key, num_tokens))
    return jnp.concatenate([prompt, tokens])




def check_ids(ids: Array, vocab_size: int, name: str, arg: str = "ids") -> None:
    """Token ids: a 1-D integer array [T] with T >= 1 and, where concrete (not traced), 0 <= id < vocab_size."""
    if ids.ndim != 1 or ids.shape[0] == 0:
        raise ValueError(f"{name}: expected {arg} of shape [T] with T >= 1 (one example, token ids; vmap over "
                         f"the batch), got shape {ids.shape}" + (" (an empty sequence)" if ids.shape == (0,) else ""))
    if not jnp.issubdtype(ids.dtype, jnp.integer):
        raise ValueError(f"{name}: expected integer token ids in {arg}, got dtype {ids.dtype}")
    if not isinstance(ids, jax.core.Tracer):
        values = np.asarray(ids)
        bad = (values < 0) | (values >= vocab_size)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"{name}: {arg}[{i}] = {int(values[i])} is outside the vocabulary of {vocab_size} "
                             f"tokens (expected 0 <= id < {vocab_size}); map unknown words to the UNK id")


def length_penalty_of(length: Array, alpha: float) -> Array:
    """GNMT's lp = ((5 + length) / 6)^alpha (1 for alpha = 0)."""
    return ((5.0 + length) / 6.0) ** alpha


def _check_decoding(name: str, max_len: int, beam_width: int = 1) -> None:
    for arg, value in (("max_len", max_len), ("beam_width", beam_width)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name}: {arg} must be a positive int (a static number of "
                             f"{'steps' if arg == 'max_len' else 'hypotheses'}), got {value!r}")


def _first_end(tokens: Int[Array, "... L"], end_token: int) -> Int[Array, "..."]:
    """The length up to and including the first end token (L where there is none)."""
    L = tokens.shape[-1]
    is_end = tokens == end_token
    return jnp.where(is_end.any(-1), jnp.argmax(is_end, -1) + 1, L).astype(jnp.int32)


def greedy(decode, cache: Params, start_token: int, *, max_len: int,
           end_token: int) -> tuple[Int[Array, "L"], Int[Array, ""]]:
    """argmax decoding from `start_token`: (tokens [max_len], length up to and including the first end token,
    max_len if none). Tokens after the end token are `end_token`. One `lax.scan`; jit it, vmap for a batch."""
    _check_decoding("greedy", max_len)

    def step(carry, _):
        cache, token, done = carry
        cache, logits = decode(cache, token[None])
        token = jnp.where(done, end_token, jnp.argmax(logits[0], -1)).astype(jnp.int32)
        return (cache, token, done | (token == end_token)), token

    start = (cache, jnp.asarray(start_token, jnp.int32), jnp.zeros((), bool))
    _, tokens = jax.lax.scan(step, start, None, length=max_len)
    return tokens, _first_end(tokens, end_token)


def score(decode, cache: Params, start_token: int, tokens: Int[Array, "L"], length: Int[Array, ""], *,
          length_penalty: float = 0.6) -> Float[Array, ""]:
    """s(Y) = sum_{i < length} log p(y_i | y_<i) / lp(length), teacher forced in one `decode` call."""
    ids = jnp.concatenate([jnp.asarray([start_token], tokens.dtype), tokens[:-1]])
    _, logits = decode(cache, ids)
    logp = jnp.take_along_axis(jax.nn.log_softmax(logits.astype(jnp.float32)), tokens[:, None], -1)[:, 0]  # [L]
    logp = jnp.where(jnp.arange(tokens.shape[0]) < length, logp, 0.0).sum()
    return logp / length_penalty_of(length, length_penalty)


def share(decode, cache: Params, names) -> tuple:
    """(decode, cache) with the cache entries `names` held in the closure instead: what is constant per source
    (the encoder's memory, its projected keys and values) is then neither tiled over beam rows nor gathered
    by parent row at every step (4x faster beam search for the Transformer on CPU, benchmarks/README.md)."""
    fixed = {n: cache[n] for n in names if n in cache}

    def shared_decode(c, ids):
        c, logits = decode({**c, **fixed}, ids)
        return {k: v for k, v in c.items() if k not in fixed}, logits
    return shared_decode, {k: v for k, v in cache.items() if k not in fixed}


def beam_search(decode, cache: Params, start_token: int, *, beam_width: int, max_len: int, end_token: int,
                length_penalty: float = 0.6) -> tuple[Int[Array, "K L"], Float[Array, "K"], Int[Array, "K"]]:
    """Beam search (see the module docstring): (tokens [K, max_len], scores s [K], lengths [K]), best first.

    Rows the beam could not fill (K larger than the number of sequences) score -inf. One `lax.scan`;
    jit it, vmap for a batch.
    """
    _check_decoding("beam_search", max_len, beam_width)
    K = beam_width
    R = K + 1  # row K: the greedy path
    rows = jax.tree.map(lambda x: jnp.broadcast_to(x, (R,) + x.shape), cache)
    neg = jnp.float32(-jnp.inf)
    start = {"cache": rows,
             "tokens": jnp.full((R, max_len), end_token, jnp.int32),
             "logp": jnp.full((R,), neg).at[0].set(0.0).at[K].set(0.0),  # one live hypothesis + greedy
             "done": jnp.zeros((R,), bool),
             "length": jnp.zeros((R,), jnp.int32),
             "last": jnp.full((R,), start_token, jnp.int32)}

    def step(state, t):
        cache, logits = jax.vmap(decode)(state["cache"], state["last"][:, None])
        logp_v = jax.nn.log_softmax(logits[:, 0].astype(jnp.float32))  # [R, V]
        V = logp_v.shape[-1]
        only_end = jnp.where(jnp.arange(V) == end_token, 0.0, neg)  # a finished row's one continuation
        logp_v = jnp.where(state["done"][:, None], only_end, logp_v)  # [R, V]
        cand = state["logp"][:, None] + logp_v  # [R, V]
        cand_len = jnp.where(state["done"], state["length"], t + 1)  # [R]
        # the beam: the K best candidates of its K rows by s
        s = cand[:K] / length_penalty_of(cand_len[:K], length_penalty)[:, None]  # [K, V]
        _, flat = jax.lax.top_k(s.reshape(-1), K)  # [K]
        parent, token = flat // V, (flat % V).astype(jnp.int32)
        logp = cand[:K].reshape(-1)[flat]  # [K]
        token = jnp.where(state["done"][parent], end_token, token)  # (a -inf pick from a finished row)
        # the greedy row: its own argmax (end once finished)
        g_token = jnp.argmax(logp_v[K]).astype(jnp.int32)
        parent = jnp.concatenate([parent, jnp.array([K])])  # [R]
        token = jnp.concatenate([token, g_token[None]])
        new = {"cache": jax.tree.map(lambda x: x[parent], cache),
               "tokens": state["tokens"][parent].at[:, t].set(token),
               "logp": jnp.concatenate([logp, cand[K, g_token][None]]),
               "done": state["done"][parent] | (token == end_token),
               "length": cand_len[parent],
               "last": token}
        return new, None

    state, _ = jax.lax.scan(step, start, jnp.arange(max_len))
    scores = state["logp"] / length_penalty_of(state["length"], length_penalty)  # [R]
    # the greedy hypothesis competes only if the beam does not hold it already
    dup = ((state["tokens"][:K] == state["tokens"][K]).all(-1) & (scores[:K] > neg)).any()
    scores = scores.at[K].set(jnp.where(dup, neg, scores[K]))
    best, order = jax.lax.top_k(scores, K)
    return state["tokens"][order], best, state["length"][order]


__all__ = ["check_prompt", "check_ids", "generate", "greedy", "beam_search", "score", "share",
           "length_penalty_of"]
