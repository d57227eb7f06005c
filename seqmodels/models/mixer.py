"""MLP-Mixer for sequences (Tolstikhin et al. 2021): token-mixing and channel-mixing MLPs.

No attention: one MLP mixes along time (the same for every channel), the
other along channels (the same for every frame). On X: [T, D]:

    U = X + (W_2 act(W_1 Norm(X) + b_1) + b_2)          token mixing:   W_1: [H_t, T], W_2: [T, H_t]
    Y = U + act(Norm(U) V_1 + c_1) V_2 + c_2            channel mixing: V_1: [D, H_c], V_2: [H_c, D]

(b_1: [H_t, 1], b_2: [T, 1] broadcast over channels). The token MLP fixes
the sequence length T at init: shorter sequences are right-padded to T and
their padded frames are zeroed before every token mixing, so padded frames
never reach valid ones (`lengths`). With `causal=True` the token MLP is
restricted to be causal: H_t = T and W_1, W_2 are lower triangular, so
frame t only mixes frames <= t (a "causal Mixer", usable as an LM).
"""

import dataclasses

import jax
import jax.numpy as jnp

from seqmodels.array_types import Array, Float, Int, Key, Params
from seqmodels.attention import masks
from seqmodels.nn import activations, dense, dropout, embedding, norms


@dataclasses.dataclass(frozen=True)
class MixerBlock:
    """One Mixer block on [seq_len, d_model]."""

    seq_len: int  # T, fixed by the token MLP
    d_model: int  # D
    token_hidden: int  # H_t (must equal T when causal)
    channel_hidden: int  # H_c
    causal: bool = False
    activation: str = "gelu"
    drop_rate: float = 0.0  # dropout on each residual branch

    def __post_init__(self):
        if self.causal and self.token_hidden != self.seq_len:
            raise ValueError(f"MixerBlock: a causal token MLP needs token_hidden == seq_len, got "
                             f"token_hidden={self.token_hidden}, seq_len={self.seq_len}")
        activations.get(self.activation)

    def init(self, key: Key, *, dtype=jnp.float32) -> Params:
        k1, k2, k3, k4 = jax.random.split(key, 4)
        T, D = self.seq_len, self.d_model
        return {
            "token_norm": norms.layer_norm_init(D, dtype=dtype),
            "token_in": dense.init(k1, T, self.token_hidden, dtype=dtype),  # acts on X^T: [D, T] -> [D, H_t]
            "token_out": dense.init(k2, self.token_hidden, T, dtype=dtype),
            "channel_norm": norms.layer_norm_init(D, dtype=dtype),
            "channel_in": dense.init(k3, D, self.channel_hidden, dtype=dtype),
            "channel_out": dense.init(k4, self.channel_hidden, D, dtype=dtype),
        }

    def _token_weights(self, params, name):
        p = params[name]
        if not self.causal:
            return p
        # Stored as [from, to] (x W): causal means "to" t only reads "from" t' <= t: upper triangle.
        return {**p, "w": jnp.triu(p["w"])}

    def apply(self, params: Params, x: Float[Array, "T D"], *, lengths: Int[Array, ""] | None = None,
              key: Key | None = None, deterministic: bool = False) -> Float[Array, "T D"]:
        if x.shape != (self.seq_len, self.d_model):
            raise ValueError(f"MixerBlock: expected x of shape [{self.seq_len}, {self.d_model}] (pad to seq_len), "
                             f"got shape {x.shape}")
        act = activations.get(self.activation)
        k1, k2 = dropout.split(key, 2)
        drop = dict(deterministic=deterministic, name="MixerBlock")
        h = masks.zero_padding(norms.layer_norm(params["token_norm"], x), lengths).T  # [D, T]
        h = act(dense.apply(self._token_weights(params, "token_in"), h))  # [D, H_t]
        h = dense.apply(self._token_weights(params, "token_out"), h).T  # [T, D]
        x = masks.zero_padding(x + dropout.apply(h, self.drop_rate, key=k1, **drop), lengths)
        h = act(dense.apply(params["channel_in"], norms.layer_norm(params["channel_norm"], x)))  # [T, H_c]
        h = dense.apply(params["channel_out"], h)  # [T, D]
        return masks.zero_padding(x + dropout.apply(h, self.drop_rate, key=k2, **drop), lengths)


@dataclasses.dataclass(frozen=True)
class Mixer:
    """Stack of Mixer blocks with an input layer and an optional head.

    Inputs are token ids [T] (`vocab_size`) or features [T, input_dim].
    `num_classes` set: seq2vec logits [C] from the mean over valid frames;
    `per_frame=True`: logits [T, C] for every frame (tagging, or next-token
    prediction with causal=True); `num_classes` None: features [T, D].
    """

    block: MixerBlock
    num_layers: int
    vocab_size: int | None = None
    input_dim: int | None = None
    num_classes: int | None = None
    per_frame: bool = False

    def __post_init__(self):
        if (self.vocab_size is None) == (self.input_dim is None):
            raise ValueError("Mixer: give exactly one of vocab_size (token ids) or input_dim (features)")
        if self.num_layers <= 0:
            raise ValueError(f"Mixer: expected num_layers >= 1, got {self.num_layers}")

    def init(self, key: Key, *, dtype=jnp.float32) -> Params:
        ki, kb, kh = jax.random.split(key, 3)
        params = self.init_body(ki, kb, dtype=dtype)
        if self.num_classes is not None:
            params["head"] = dense.init(kh, self.block.d_model, self.num_classes, dtype=dtype)
        return params

    def init_body(self, k_inputs: Key, k_blocks: Key, *, dtype=jnp.float32) -> Params:
        """The parameters without the head: input layer (from k_inputs), blocks (k_blocks), final norm."""
        D = self.block.d_model
        if self.vocab_size is not None:
            inputs = embedding.init(k_inputs, self.vocab_size, D, stddev=D ** -0.5, dtype=dtype)
        else:
            inputs = dense.init(k_inputs, self.input_dim, D, dtype=dtype)
        return {
            "inputs": inputs,
            **{f"layer_{i}": self.block.init(k, dtype=dtype)
               for i, k in enumerate(jax.random.split(k_blocks, self.num_layers))},
            "final_norm": norms.layer_norm_init(D, dtype=dtype),
        }

    def apply(self, params: Params, x: Array, *, lengths: Int[Array, ""] | None = None,
              key: Key | None = None, deterministic: bool = False) -> Array:
        if self.vocab_size is not None:
            if x.ndim != 1:
                raise ValueError(f"Mixer: expected token ids of shape [T], got shape {x.shape}")
            h = embedding.apply(params["inputs"], x)  # [T, D]
        else:
            if x.ndim != 2 or x.shape[-1] != self.input_dim:
                raise ValueError(f"Mixer: expected features of shape [T, {self.input_dim}], got shape {x.shape}")
            h = dense.apply(params["inputs"], x)  # [T, D]
        h = masks.zero_padding(h, lengths)
        for i, k in enumerate(dropout.split(key, self.num_layers)):
            h = self.block.apply(params[f"layer_{i}"], h, lengths=lengths, key=k, deterministic=deterministic)
        h = masks.zero_padding(norms.layer_norm(params["final_norm"], h), lengths)  # [T, D]
        if self.num_classes is None:
            return h
        if self.per_frame:
            return masks.zero_padding(dense.apply(params["head"], h), lengths)  # [T, C]
        count = h.shape[0] if lengths is None else jnp.maximum(lengths, 1)
        return dense.apply(params["head"], h.sum(0) / count)  # [C]


__all__ = ["MixerBlock", "Mixer"]
