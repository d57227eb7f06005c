"""Fused attention kernels for accelerators, and the rule that picks one.

Same function as `dot_product.dot_product_attention` (one example, q: [T, N, K],
k, v: [S, N', K]), computed by a fused kernel that never writes A to memory:

    cudnn   `jax.nn.dot_product_attention(implementation="cudnn")` (cuDNN flash
            attention, NVIDIA GPUs): float16/bfloat16, head dim a multiple of 8
            up to 128, the same head dim for k and v; causal, padding lengths
            and a causal sliding window (t - window < s <= t).
    pallas  the Pallas flash-attention kernel JAX ships
            (`jax.experimental.pallas.ops.gpu.attention.mha`, Triton on GPU, any
            backend with interpret=True): forward and backward are tiled and
            recompute A from the log-sum-exp (Dao et al., FlashAttention 2022).
            It knows causal and segment ids, so padding becomes
            segment_id[p] = (p < lengths): one array for queries and keys, hence
            only self-attention whose query and key lengths are the same value.
            No sliding window: that goes to cuDNN or to the XLA path.
    xla     `dot_product.attention`'s dense / blockwise paths: the reference and
            the fallback for everything else (masks, dropout, CPU).

`choose_impl` is the decision as a pure function of what is known at trace
time (backend, dtype, head dims, masks), so it is tested without a GPU;
`dot_product.attention(impl="auto")` calls it. Query rows past
`query_lengths` are zeros here as everywhere.
"""

import math

import jax
import jax.numpy as jnp
from jax.experimental.pallas.ops.gpu import attention as pallas_mha

from seqmodels.array_types import Array, Float, Int

CUDNN_DTYPES = ("float16", "bfloat16")
PALLAS_DTYPES = ("float16", "bfloat16", "float32")
CUDNN_MAX_HEAD_DIM = 128
PALLAS_MAX_HEAD_DIM = 256  # the kernel pads the head dim to a power of 2; larger ones spill registers
PALLAS_BLOCK = 128  # forward tiles; the backward's are PALLAS_BACKWARD_BLOCK (the shipped defaults)
PALLAS_BACKWARD_BLOCK = 32


def choose_impl(*, backend: str, dtype, head_dim: int, value_head_dim: int, T: int, S: int,
                causal: bool = False, lengths: bool = False, query_lengths: bool = False,
                same_lengths: bool = False, window: int | None = None, mask: bool = False,
                dropout: bool = False) -> str:
    """'cudnn', 'pallas' or 'xla': the fastest path whose constraints hold.

    The flags say what the call has: `lengths` / `query_lengths` (key / query
    padding), `same_lengths` (both are the same value, as in self-attention),
    `window` (causal sliding window), `mask` (an explicit boolean mask) and
    `dropout` on the weights. Only GPUs get a fused kernel; neither fused
    kernel takes an arbitrary mask or attention dropout, and sequences
    shorter than one Pallas tile (or head dims under Triton's 16) stay on XLA.
    """
    if backend != "gpu" or mask or dropout:
        return "xla"
    dtype = jnp.dtype(dtype).name
    if window is not None and not causal:
        return "xla"  # cuDNN's window is causal only (left of the query)
    if (dtype in CUDNN_DTYPES and head_dim == value_head_dim and head_dim % 8 == 0
            and head_dim <= CUDNN_MAX_HEAD_DIM):
        return "cudnn"
    if window is not None:
        return "xla"
    padded = lengths and not (query_lengths and same_lengths)  # keys padded, queries not: no segment ids for that
    if (dtype in PALLAS_DTYPES and head_dim == value_head_dim and 16 <= head_dim <= PALLAS_MAX_HEAD_DIM
            and min(T, S) >= PALLAS_BLOCK and not padded
            and (T == S or not (lengths or causal or T % PALLAS_BLOCK or S % PALLAS_BLOCK))):
        return "pallas"  # cross-attention: no padding to mask (segment ids are one array for both)
    return "xla"


def _zero_rows(y: Array, query_lengths) -> Array:
    """Rows t >= query_lengths set to 0 (padded queries)."""
    if query_lengths is None:
        return y
    return jnp.where((jnp.arange(y.shape[0]) < query_lengths)[:, None, None], y, 0).astype(y.dtype)


def cudnn_attention(q: Float[Array, "T N K"], k: Float[Array, "S N' K"], v: Float[Array, "S N' K"], *,
                    causal: bool = False, lengths: Int[Array, ""] | None = None,
                    query_lengths: Int[Array, ""] | None = None, window: int | None = None,
                    scale: float | None = None) -> Float[Array, "T N K"]:
    """cuDNN flash attention for one example (GPU only; `choose_impl` says when it applies).

    `window`: query t sees keys t - window < s <= t (with `causal`).
    """
    lens = lambda x: None if x is None else jnp.reshape(jnp.asarray(x, jnp.int32), (1,))  # noqa: E731 [1]
    y = jax.nn.dot_product_attention(
        q[None], k[None], v[None], scale=scale, is_causal=causal, query_seq_lengths=lens(query_lengths),
        key_value_seq_lengths=lens(lengths), local_window_size=None if window is None else (window - 1, 0),
        implementation="cudnn")[0]  # [T, N, K]
    return _zero_rows(y, query_lengths)


def pallas_attention(q: Float[Array, "T N K"], k: Float[Array, "S N' K"], v: Float[Array, "S N' K"], *,
                     causal: bool = False, lengths: Int[Array, ""] | None = None,
                     query_lengths: Int[Array, ""] | None = None, scale: float | None = None,
                     block_size: int = PALLAS_BLOCK, backward_block_size: int = PALLAS_BACKWARD_BLOCK,
                     interpret: bool = False) -> Float[Array, "T N K"]:
    """The Pallas flash-attention kernel for one example (interpret=True runs it on any backend).

    T and S are padded up to a multiple of the tiles and the padding masked by
    segment ids (segment 1 = a real position); key `lengths` need T == S and
    are then also the query lengths (padded queries return 0).
    """
    T, N, K = q.shape
    S = k.shape[0]
    if lengths is not None and T != S:
        raise ValueError(f"pallas_attention: key lengths need self-attention (T == S), got T={T}, S={S}")
    block, back = block_size, backward_block_size
    if block % back:
        raise ValueError(f"pallas_attention: backward_block_size={back} must divide block_size={block}")
    Tp, Sp = -(-T // block) * block, -(-S // block) * block
    q, k, v = (jnp.repeat(x, N // x.shape[1], axis=1) for x in (q, k, v))  # grouped-query heads -> [., N, K]
    pad = lambda x, n: jnp.pad(x, ((0, n - x.shape[0]), (0, 0), (0, 0)))[None]  # noqa: E731 [1, n, N, K]
    segments = None
    if lengths is not None or (Tp, Sp) != (T, S):
        if Tp != Sp:
            raise ValueError(f"pallas_attention: T={T} and S={S} pad to different lengths ({Tp}, {Sp}); "
                             f"pass lengths that are multiples of block_size={block}")
        valid = S if lengths is None else jnp.minimum(lengths, S)
        segments = (jnp.arange(Sp) < valid).astype(jnp.int32)[None]  # [1, Sp]: 1 real, 0 padding
    sizes = pallas_mha.BlockSizes(block_q=block, block_k=block, block_q_dkv=back, block_kv_dkv=back,
                                  block_q_dq=back, block_kv_dq=back)
    y = pallas_mha.mha(pad(q, Tp), pad(k, Sp), pad(v, Sp), segments,
                       sm_scale=1.0 / math.sqrt(K) if scale is None else float(scale), causal=causal,
                       block_sizes=sizes, interpret=interpret)[0, :T]  # [T, N, K]
    rows = lengths if query_lengths is None else query_lengths
    return _zero_rows(y, rows)


__all__ = ["choose_impl", "cudnn_attention", "pallas_attention", "CUDNN_DTYPES", "PALLAS_DTYPES"]
