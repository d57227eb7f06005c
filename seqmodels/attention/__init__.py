"""Attention: masks, dot-product (dense and blockwise), multi-head, additive,
attention pooling, positional encodings, KV cache; sparse and linear variants.

One example is `q: [T, N, K]`, `k, v: [S, N, K]`. Boolean masks are [T, S]
or broadcastable to [N, T, S], True = attend. `lengths` is the valid key
length (right padding, an int scalar per example inside `vmap`), `causal`
a static bool. Import submodules directly, e.g.
`from seqmodels.attention import masks, dot_product`.
"""
