"""Image captioning (Show, Attend and Tell, Xu et al. 2015): a CNN reads the image into a grid of region
vectors, an RNN decoder writes the caption word by word, attending over the regions.

    g = pool(act(conv_L( ... pool(act(conv_1(x))) ...)))      [H_L, W_L, D]   (seqmodels.models.cnn2d.CNN2D)
    h_r = g[i, j] + P_r,   r = i W_L + j                        memory [R = H_L W_L, D]  (P: learned positions)
    final = tanh(W_f vec(g) + b_f)                              [D]   (the whole image in one vector)
    logits = AttentionDecoder(memory, final, caption)           (seqmodels.models.rnn_seq2seq)

With attention="none" the decoder only sees `final` (vector-to-sequence, Vinyals et al. 2015's "Show and
Tell"); with attention it also reads a context c_t = sum_r a_tr h_r per word, and a_t [R] reshaped to
[H_L, W_L] is where it looked. The learned position vectors P tell the attention's reader *where* a region
is (a convolution's features alone say little about position), which a caption with "left of" needs.

`Captioner` is the RNN encoder-decoder with this encoder in place of the RNN (same init / encode / apply /
init_cache / decode / greedy / beam_search, so seqmodels.models.decoding and the seq2seq platform work on
it). An image has no padding: src_lengths must be None (or are ignored when traced, see `_no_lengths`).
"""

import dataclasses

import jax
import jax.numpy as jnp

from seqmodels.array_types import Array, Float, Int, Key, Params
from seqmodels.models.cnn2d import CNN2D
from seqmodels.models.rnn_seq2seq import AttentionDecoder, RNNEncoderDecoder
from seqmodels.nn import dense
from seqmodels.nn.conv2d import pool


@dataclasses.dataclass(frozen=True)
class CNNEncoder:
    """Image x [H, W] or [H, W, C] -> (regions [R, D], final [D]); D = channels[-1], R = H_L W_L."""
    image_size: tuple[int, int]  # (H, W)
    channels: tuple[int, ...] = (16, 32)  # C_l of each conv block; D = the last
    kernel_size: int = 3
    pool_size: int = 2  # P x P max pooling after every block
    in_channels: int = 1
    activation: str = "relu"
    positions: bool = True  # add a learned vector per region

    def __post_init__(self):
        object.__setattr__(self, "image_size", tuple(self.image_size))
        object.__setattr__(self, "channels", tuple(self.channels))
        self.cnn  # checks the sizes (CNN2D's errors)

    @property
    def cnn(self) -> CNN2D:
        """The conv blocks (its read-out, of width D, is W_f)."""
        return CNN2D(self.image_size, self.in_channels, self.channels, num_classes=self.channels[-1],
                     kernel_size=self.kernel_size, pooling="max", pool_size=self.pool_size,
                     activation=self.activation)

    @property
    def grid_size(self) -> tuple[int, int]:
        """(H_L, W_L)."""
        return self.cnn.block_sizes[-1]

    @property
    def output_size(self) -> int:
        return self.channels[-1]

    def init(self, key: Key) -> Params:
        k_cnn, k_pos = jax.random.split(key)
        params = self.cnn.init(k_cnn)  # {'convs', 'readout' (= W_f)}
        if self.positions:
            R = self.grid_size[0] * self.grid_size[1]
            params["positions"] = 0.1 * jax.random.normal(k_pos, (R, self.output_size))
        return params

    def apply(self, params: Params, x: Float[Array, "H W *C"], *, lengths: Int[Array, ""] | None = None,
              key: Key | None = None, deterministic: bool = False) -> tuple[Float[Array, "R D"], Float[Array, "D"]]:
        del key, deterministic  # no dropout
        if lengths is not None:
            raise ValueError("CNNEncoder: reads a whole fixed-size image; lengths are not supported")
        cnn = self.cnn
        g = pool("max", cnn.features(params, x)[-1], self.pool_size)  # [H_L, W_L, D]
        final = jnp.tanh(dense.apply(params["readout"], g.reshape(-1)))  # [D]
        regions = g.reshape(-1, g.shape[-1])  # [R, D], row-major
        if self.positions:
            regions = regions + params["positions"]
        return regions, final


def _no_lengths(src_lengths):
    """Images are never padded: concrete lengths are an error, traced ones (a platform's uniform call with
    the image height) are dropped so that they never mask the regions."""
    if src_lengths is not None and not isinstance(src_lengths, jax.core.Tracer):
        raise ValueError("Captioner: an image has no padding; pass src_lengths=None")
    return None


@dataclasses.dataclass(frozen=True)
class Captioner(RNNEncoderDecoder):
    """CNNEncoder + AttentionDecoder: image [H, W] and caption ids [T] -> logits [T, V] (see the docstring)."""
    encoder: CNNEncoder
    decoder: AttentionDecoder

    def encode(self, params: Params, src: Array, *, lengths: Int[Array, ""] | None = None, key: Key | None = None,
               deterministic: bool = False) -> tuple[Float[Array, "R D"], Float[Array, "D"]]:
        return self.encoder.apply(params["encoder"], src, lengths=_no_lengths(lengths))

    def apply(self, params: Params, src: Array, tgt: Int[Array, "T"], *, src_lengths=None, **kwargs):
        """Teacher-forced logits [T, V] (or with return_alignment=True, (logits, a [T, R]))."""
        return super().apply(params, src, tgt, src_lengths=_no_lengths(src_lengths), **kwargs)

    def init_cache(self, params: Params, src: Array, *, src_lengths=None) -> Params:
        return super().init_cache(params, src, src_lengths=_no_lengths(src_lengths))


def captioner(image_size: tuple[int, int], vocab_size: int, *, channels=(16, 32), kernel_size: int = 3,
              pool_size: int = 2, positions: bool = True, hidden_size: int = 64, embed_dim: int | None = None,
              cell: str = "gru", attention: str = "bahdanau", drop_rate: float = 0.0) -> Captioner:
    """A Captioner from plain sizes (configs)."""
    encoder = CNNEncoder(image_size, channels, kernel_size, pool_size, positions=positions)
    decoder = AttentionDecoder(vocab_size, hidden_size, encoder.output_size, cell=cell, embed_dim=embed_dim,
                               attention=attention, init_from="final", drop_rate=drop_rate)
    return Captioner(encoder, decoder)


__all__ = ["CNNEncoder", "Captioner", "captioner"]
