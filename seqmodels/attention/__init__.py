"""Attention: masks, dot-product (dense and blockwise), multi-head, additive,
attention pooling, positional encodings, KV cache; sparse and linear variants.

One example is `q: [T, N, K]`, `k, v: [S, N, K]`. Boolean masks are [T, S]
or broadcastable to [N, T, S], True = attend. `lengths` is the valid key
length (right padding, an int scalar per example inside `vmap`; checked by
the one rule of `seqmodels.nn.lengths`: an int in [0, S], clamped under
jit), `causal` a static bool.

    masks        causal_mask, length_mask, padding_mask, combine, zero_padding (shared by every variant)
    dot_product  dot_product_attention (dense reference), blockwise_attention (online
                 softmax, linear memory, custom backward), attention (picks one)
    flash        fused GPU kernels (cuDNN, Pallas flash attention) and the rule that picks one
    multi_head   MultiHeadAttention: projections, grouped-query heads, rotary, KV cache
    kv_cache     the cache itself: init, update, mask
    positional   sinusoidal, learned, rotary
    additive     Bahdanau (additive) and Luong (dot / general) attention for RNN decoders
    pooling      attention pooling of a sequence to one vector, with its weights
    sparse       local, strided, Longformer, BigBird
    linear       Performer (FAVOR+)

Import submodules directly, e.g. `from seqmodels.attention import dot_product`.
"""
