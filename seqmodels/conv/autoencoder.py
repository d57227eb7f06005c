"""1-D convolutional autoencoder: strided convolutions down, transposed
convolutions up (the lecture's sound example: compress a waveform T:1 into a
code of T / s^L frames and reconstruct it).

    encoder:  h_l = act(conv_l(h_{l-1})),   'same' padding, stride s
              code = conv_L(h_{L-1})                              (linear)
    decoder:  g_l = act(convT_l(g_{l+1})),  'same' padding, stride s
              x_hat = convT_1(g_2)[:T]                            (linear)

Lengths: the code has T_L frames, T_l = ceil(T_{l-1} / s); the decoder
returns T_L s^L >= T frames, cropped to T. Loss: mean squared error over the
valid frames.
"""

import dataclasses

import jax
import jax.numpy as jnp

from seqmodels.array_types import Array, Float, Key, Params
from seqmodels.conv import conv1d
from seqmodels.nn import activations
from seqmodels.nn.lengths import check_lengths, clamp_lengths


@dataclasses.dataclass(frozen=True)
class ConvAutoencoder:
    """`channels` are the encoder widths (the code has channels[-1] channels)."""

    in_channels: int = 1
    channels: tuple[int, ...] = (16, 32, 8)
    kernel_size: int = 8
    stride: int = 2
    activation: str = "tanh"

    def __post_init__(self):
        object.__setattr__(self, "channels", tuple(self.channels))
        if not self.channels:
            raise ValueError("ConvAutoencoder: expected at least one layer, got channels=()")
        activations.get(self.activation)
        self.encoder, self.decoder  # checks every layer

    @property
    def encoder(self) -> tuple[conv1d.Conv1D, ...]:
        widths = (self.in_channels,) + self.channels
        return tuple(conv1d.Conv1D(c_in, c_out, self.kernel_size, padding="same", stride=self.stride)
                     for c_in, c_out in zip(widths[:-1], widths[1:]))

    @property
    def decoder(self) -> tuple[conv1d.ConvTranspose1D, ...]:
        widths = ((self.in_channels,) + self.channels)[::-1]
        return tuple(conv1d.ConvTranspose1D(c_in, c_out, self.kernel_size, padding="same",
                                            stride=self.stride)
                     for c_in, c_out in zip(widths[:-1], widths[1:]))

    def code_length(self, length):
        for layer in self.encoder:
            length = layer.output_length(length)
        return length

    def init(self, key: Key, dtype=jnp.float32) -> Params:
        k_enc, k_dec = jax.random.split(key)
        return {"encoder": [layer.init(k, dtype=dtype) for layer, k in
                            zip(self.encoder, jax.random.split(k_enc, len(self.channels)))],
                "decoder": [layer.init(k, dtype=dtype) for layer, k in
                            zip(self.decoder, jax.random.split(k_dec, len(self.channels)))]}

    def _stack(self, layers, params, h, lengths):
        act = activations.get(self.activation)
        for l, (layer, p) in enumerate(zip(layers, params)):
            h = layer.apply(p, h, lengths=lengths)  # [T_l, C_l]
            lengths = None if lengths is None else layer.output_length(lengths)
            if l < len(layers) - 1:
                h = act(h)
        return h

    def encode(self, params: Params, x: Float[Array, "T C"], *, lengths=None) -> Float[Array, "T_code C_code"]:
        conv1d._check_input("ConvAutoencoder", x, self.in_channels)
        lengths = check_lengths(lengths, x.shape[0], "ConvAutoencoder")
        return self._stack(self.encoder, params["encoder"], x, lengths)

    def decode(self, params: Params, code: Float[Array, "T_code C_code"], length: int, *,
               lengths=None) -> Float[Array, "T C"]:
        """Reconstruct `length` frames (static); `lengths` (valid frames, 0..length) masks the code and output."""
        lengths = check_lengths(lengths, length, "ConvAutoencoder.decode")
        code_lengths = None if lengths is None else self.code_length(lengths)
        x_hat = self._stack(self.decoder, params["decoder"], code, code_lengths)[:length]  # [T, C]
        return x_hat if lengths is None else conv1d.time_mask(x_hat, lengths)

    def apply(self, params: Params, x: Float[Array, "T C"], *, lengths=None,
              key: Key | None = None, deterministic: bool = False) -> Float[Array, "T C"]:
        del key, deterministic  # no dropout: the same call as a layer with dropout
        return self.decode(params, self.encode(params, x, lengths=lengths), x.shape[0], lengths=lengths)

    def loss(self, params: Params, x: Float[Array, "T C"], *, lengths=None) -> Array:
        """Mean squared reconstruction error over the valid frames."""
        conv1d._check_input("ConvAutoencoder", x, self.in_channels)
        lengths = check_lengths(lengths, x.shape[0], "ConvAutoencoder")
        err = jnp.square(self.apply(params, x, lengths=lengths) - x)  # [T, C]
        if lengths is None:
            return jnp.mean(err)
        err = conv1d.time_mask(err, lengths)
        return jnp.sum(err) / (jnp.maximum(clamp_lengths(lengths, x.shape[0]), 1) * x.shape[1])
