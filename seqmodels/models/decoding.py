"""Autoregressive generation from a cached decoder, shared by the language model and the encoder-decoder.

Given `decode(cache, ids) -> (cache, logits [T, V])`, which runs T new tokens
on top of the cached past, `generate` feeds the prompt once and then one
token at a time, `num_tokens` times, inside one `lax.scan`:

    greedy (key None):   y_{n+1} = argmax_v logits_n[v]
    sampled:             y_{n+1} ~ softmax(logits_n / temperature)      (key split once per token)
"""

import jax
import jax.numpy as jnp

from seqmodels.array_types import Array, Int, Key, Params


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


__all__ = ["check_prompt", "generate"]
