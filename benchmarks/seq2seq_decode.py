"""Greedy decoding of a Transformer encoder-decoder: cross-attention keys/values projected once or every step.

    python -m benchmarks.seq2seq_decode                     # S=512 source, 64 new tokens, B=8
    python -m benchmarks.seq2seq_decode --src_len=64 --json

Greedy decoding of a batch (vmap): encode the source, then decode `--new_tokens` tokens one at a time
with the self-attention KV cache. Four cases, which should produce the same tokens (`same_tokens` in the
result; the test asserts it on tiny shapes):

    scan/memory_kv   `EncoderDecoder.generate`, one jitted program (a lax.scan over the new tokens);
                     every decoder layer's cross-attention keys and values of the encoder output are
                     projected once, into the cache (`init_cache(..., params=, memory=)`)
    scan/reproject   the same scan calling `decode(params, cache, memory, token)`, which projects them
                     from the encoder output in every step's body (2 S D^2 multiply-adds per layer, for
                     keys and values, per token); XLA may hoist that loop-invariant work out of the scan
    step/memory_kv   a Python loop over one jitted decode step (how beam search or interactive use
    step/reproject   calls it), with the keys and values in the cache / re-projected at every call

tokens/s counts generated target tokens. Best of `--repeats` interleaved rounds
(`benchmarks.common.time_interleaved`). There is no peer here (flax, equinox and jax.nn ship no
encoder-decoder); this measures what the cache saves.

A second table (`run_search`, in the same run) times `decoding.greedy` and `decoding.beam_search` (one
jitted lax.scan each, vmap over the batch) for an RNN encoder-decoder (bidirectional GRU encoder,
Bahdanau GRU decoder) and the Transformer above, with the decoder's cache (the RNN state; the KV cache)
against recomputation: a `decode` whose cache holds only the tokens so far and reruns the decoder over
the whole fixed-length token buffer from a fresh cache at every step (static shapes under jit, so every
step costs max_len positions; the source is still encoded once). tokens/s counts B x max_len output
positions; a beam of K runs K + 1 rows (the greedy row rides along).
"""

import argparse
import functools

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import common
from seqmodels.models import decoding
from seqmodels.models import transformer as tf
from seqmodels.models.encoder_decoder import EncoderDecoder
from seqmodels.models.rnn_seq2seq import AttentionDecoder, RNNEncoder, RNNEncoderDecoder


def make(src_len: int, d_model: int, heads: int, layers: int, vocab: int):
    D = d_model
    spec = EncoderDecoder(vocab, vocab, tf.Stack(tf.Block(D, heads, 4 * D), layers),
                          tf.Stack(tf.Block(D, heads, 4 * D, causal=True, cross_attention=True), layers),
                          max_len=max(src_len, 1024))
    return spec, spec.init(jax.random.key(0))


def reproject_generate(spec, params, src, prompt, num_tokens):
    """Greedy decoding that hands `decode` the encoder output at every step (no memory_kv in the cache)."""
    memory = spec.encode(params, src, deterministic=True)
    return decoding.generate(lambda c, ids: spec.decode(params, c, memory, ids),  # generate's own loop
                             spec.init_cache(prompt.shape[0] + num_tokens), prompt, num_tokens)


def python_loop_generate(encode, init_cache, step, src, prompt, num_tokens):
    """Greedy decoding by a Python loop over a jitted decode `step(cache, memory, ids)` (src [B, S],
    prompt [B, P]; `encode` and `init_cache(memory)` jitted too)."""
    memory = encode(src)
    cache, logits = step(init_cache(memory), memory, prompt)
    tokens = [prompt]
    for _ in range(num_tokens):
        token = jnp.argmax(logits[:, -1], -1).astype(prompt.dtype)[:, None]  # [B, 1]
        tokens.append(token)
        cache, logits = step(cache, memory, token)
    return jnp.concatenate(tokens, axis=1)


def run(*, batch=8, src_len=512, new_tokens=64, d_model=256, heads=4, layers=2, vocab=1000, repeats=5):
    spec, params = make(src_len, d_model, heads, layers, vocab)
    src = jax.random.randint(jax.random.key(1), (batch, src_len), 0, vocab)
    prompt = jnp.zeros((batch, 1), jnp.int32)  # a start token
    max_len = 1 + new_tokens
    scans = {
        "scan/memory_kv": jax.jit(jax.vmap(lambda s, p: spec.generate(params, s, p, new_tokens))),
        "scan/reproject": jax.jit(jax.vmap(functools.partial(reproject_generate, spec, params,
                                                             num_tokens=new_tokens))),
    }
    cases = {name: functools.partial(fn, src, prompt) for name, fn in scans.items()}
    encode = jax.jit(jax.vmap(lambda s: spec.encode(params, s, deterministic=True)))
    loops = {  # (init_cache(memory), decode step)
        "step/memory_kv": (lambda m: spec.init_cache(max_len, params=params, memory=m),
                           lambda c, m, ids: spec.decode(params, c, None, ids)),
        "step/reproject": (lambda m: spec.init_cache(max_len),
                           lambda c, m, ids: spec.decode(params, c, m, ids)),
    }
    for name, (init, step) in loops.items():
        cases[name] = functools.partial(python_loop_generate, encode, jax.jit(jax.vmap(init)),
                                        jax.jit(jax.vmap(step)), src, prompt, new_tokens)
    outputs = {name: np.asarray(fn()) for name, fn in cases.items()}
    same = all(np.array_equal(out, outputs["scan/memory_kv"]) for out in outputs.values())
    best = common.time_interleaved(cases, repeats=repeats)
    rows = [{"case": n, "ms": round(1e3 * t, 2), "tokens/s": round(batch * new_tokens / t, 1),
             "vs reproject": round(best[n.split("/")[0] + "/reproject"] / t, 2)} for n, t in best.items()]
    return {"machine": common.machine(), "same_tokens": same,
            "shape": dict(batch=batch, src_len=src_len, new_tokens=new_tokens, d_model=d_model, heads=heads,
                          layers=layers, vocab=vocab), "rows": rows}


def recompute(decode, fresh_cache, max_len: int):
    """(decode, cache) for `decoding.greedy` / `beam_search` without reuse: the cache is the token buffer
    [max_len] and a count; each call reruns `decode` from `fresh_cache` over the whole buffer."""
    def step(state, ids):
        buf = jax.lax.dynamic_update_slice(state["ids"], ids, (state["n"],))
        _, logits = decode(fresh_cache, buf)  # [max_len, V]: the decoder over every position again
        return {"ids": buf, "n": state["n"] + ids.shape[0]}, jax.lax.dynamic_slice_in_dim(logits, state["n"],
                                                                                          ids.shape[0])
    return step, {"ids": jnp.zeros((max_len,), jnp.int32), "n": jnp.zeros((), jnp.int32)}


def run_search(*, batch=8, src_len=64, new_tokens=32, d_model=256, heads=4, layers=2, vocab=1000, beam_width=4,
               repeats=5):
    """Greedy and beam search, RNN and Transformer, the decoder's cache against recomputation."""
    H = d_model
    rnn = RNNEncoderDecoder(RNNEncoder(H // 2, vocab_size=vocab, bidirectional=True, embed_dim=H),
                            AttentionDecoder(vocab, H, H, attention="bahdanau", embed_dim=H))
    transformer, t_params = make(src_len, d_model, heads, layers, vocab)
    r_params = rnn.init(jax.random.key(0))
    src = jax.random.randint(jax.random.key(1), (batch, src_len), 4, vocab)
    L, start, end = new_tokens, 2, 3

    def decoders(name, s):  # (decode, cache) with the cache; the fresh cache for recomputation
        return rnn.start_decoding(r_params, s) if name == "rnn" else transformer.start_decoding(t_params, s, max_len=L)

    def program(name, search, cached):
        def one(s):
            decode, cache = decoders(name, s)
            if not cached:
                decode, cache = recompute(decode, cache, L)
            if search == "greedy":
                return decoding.greedy(decode, cache, start, max_len=L, end_token=end)[0]
            return decoding.beam_search(decode, cache, start, beam_width=beam_width, max_len=L, end_token=end)[0][0]
        return jax.jit(jax.vmap(one))

    cases = {f"{name}/{search}/{'cache' if cached else 'recompute'}": functools.partial(
        program(name, search, cached), src)
        for name in ("rnn", "transformer") for search in ("greedy", f"beam{beam_width}") for cached in (True, False)}
    outputs = {name: np.asarray(fn()) for name, fn in cases.items()}
    same = all(np.array_equal(out, outputs[name.replace("recompute", "cache")]) for name, out in outputs.items())
    best = common.time_interleaved(cases, repeats=repeats)
    rows = [{"case": n, "ms": round(1e3 * t, 2), "tokens/s": round(batch * L / t, 1),
             "cache speed-up": round(best[n.replace("/cache", "/recompute")] / t, 2) if n.endswith("cache") else ""}
            for n, t in best.items()]
    return {"machine": common.machine(), "same_tokens": same,
            "shape": dict(batch=batch, src_len=src_len, new_tokens=L, d_model=d_model, heads=heads, layers=layers,
                          vocab=vocab, beam_width=beam_width), "rows": rows}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in (("batch", 8), ("src_len", 512), ("new_tokens", 64), ("d_model", 256), ("heads", 4),
                          ("layers", 2), ("vocab", 1000), ("repeats", 5)):
        parser.add_argument(f"--{name}", type=int, default=default)
    parser.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    parser.add_argument("--search_src_len", type=int, default=64, help="source length of the second table")
    parser.add_argument("--search_tokens", type=int, default=32, help="max_len of greedy / beam search")
    parser.add_argument("--beam_width", type=int, default=4)
    args = vars(parser.parse_args(argv))
    as_json = args.pop("json")
    search_args = dict(src_len=args.pop("search_src_len"), new_tokens=args.pop("search_tokens"),
                       beam_width=args.pop("beam_width"))
    result = run(**args)
    search = run_search(**{**{k: args[k] for k in ("batch", "d_model", "heads", "layers", "vocab", "repeats")},
                           **search_args})
    if as_json:
        common.dump_json(result)
        common.dump_json(search)
    else:
        print(result["machine"])
        print(f"shape {result['shape']}; same tokens in every case: {result['same_tokens']}")
        common.print_table(result["rows"], ["case", "ms", "tokens/s", "vs reproject"])
        print(f"\ngreedy and beam search: shape {search['shape']}; same tokens with the cache and recomputing: "
              f"{search['same_tokens']}")
        common.print_table(search["rows"], ["case", "ms", "tokens/s", "cache speed-up"])


if __name__ == "__main__":
    main()
