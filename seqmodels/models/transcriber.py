"""A music transcription system: raw audio -> note tokens (the deck's; issue 22).

    front-end   y = Conv1D(x)                  W-tap filters (W = 256-512 at 16 kHz), stride s    y: [S/s, F]
                f = log(1 + maxpool_p(relu(y))) max over p frames, non-overlapping              f: [S/(s p), F]
    encoder     m, h = RNNEncoder(f)           (bidirectional) RNN over the pooled frames        m: [T_f, Dm]
    decoder     logits = AttentionDecoder(m, notes)   an RNN fed the previous note, attending to m

x is one example's waveform [S] (or [S, 1]). The filters are learned from
raw samples, so each can tune to a band: long filters (W / sample_rate = 16-32
ms) resolve neighbouring notes (the main lobe of a W-tap filter is about
2 sample_rate / W Hz wide: 62 Hz at W = 512). ReLU half-wave rectifies the
band signal and the max over p frames keeps its envelope at a frame rate a
recurrent encoder can afford (s p = 256 samples: 16 ms frames, 62 per second).
The rest is seqmodels.models.rnn_seq2seq's RNNEncoderDecoder (any cell,
bidirectional, attention none / Bahdanau / Luong) with its interface:
teacher-forced `apply`, and `init_cache` / `decode` for
seqmodels.models.decoding's greedy and beam search.
"""

import dataclasses

import jax
import jax.numpy as jnp

from seqmodels.array_types import Array, Float, Int, Key, Params
from seqmodels.conv.conv1d import Conv1D
from seqmodels.models.rnn_seq2seq import RNNEncoderDecoder
from seqmodels.nn.conv2d import max_pool


@dataclasses.dataclass(frozen=True)
class FrontEnd:
    """Conv1D (1 -> F channels, W taps, stride s, 'same' padding) -> ReLU -> max-pool over p frames -> log1p."""

    num_filters: int = 48  # F
    kernel_size: int = 512  # W taps
    stride: int = 16  # s samples between filter outputs
    pool: int = 16  # p filter outputs per frame

    def __post_init__(self):
        for name in ("num_filters", "kernel_size", "stride", "pool"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"FrontEnd: {name} must be a positive int, got {value!r}")

    @property
    def conv(self) -> Conv1D:
        return Conv1D(1, self.num_filters, self.kernel_size, padding="same", stride=self.stride)

    @property
    def hop(self) -> int:
        """Samples per output frame, s p."""
        return self.stride * self.pool

    def num_frames(self, num_samples):
        """floor(ceil(S / s) / p) frames of S samples (an int, or an int array for lengths)."""
        return self.conv.output_length(num_samples) // self.pool

    def init(self, key: Key) -> Params:
        return self.conv.init(key)

    def apply(self, params: Params, x: Float[Array, "S"] | Float[Array, "S 1"], *,
              lengths=None) -> Float[Array, "T F"]:
        """Frames [T, F] of one waveform; `lengths` valid samples zero the rest before the filters."""
        x = x[:, None] if x.ndim == 1 else x
        if x.ndim != 2 or x.shape[1] != 1 or self.num_frames(x.shape[0]) < 1:
            raise ValueError(f"FrontEnd: expected one waveform [S] or [S, 1] with S >= {self.hop} samples (one "
                             f"frame of s p = {self.stride} x {self.pool}), got shape {x.shape}")
        y = jax.nn.relu(self.conv.apply(params, x, lengths=lengths))  # [S/s, F]
        return jnp.log1p(max_pool(y[:, None, :], (self.pool, 1))[:, 0, :])  # [T, F]


@dataclasses.dataclass(frozen=True)
class Transcriber:
    """Waveform [S] -> note logits [T, V]: the FrontEnd's frames read by an RNN encoder-decoder (the interface
    of RNNEncoderDecoder, so experiments/seq2seq.py trains and decodes it: the source is the waveform)."""

    front_end: FrontEnd
    seq2seq: RNNEncoderDecoder  # its encoder reads vectors of front_end.num_filters

    def __post_init__(self):
        if self.seq2seq.encoder.input_size != self.front_end.num_filters:
            raise ValueError(f"Transcriber: the encoder reads vectors of {self.seq2seq.encoder.input_size}, the "
                             f"front-end gives {self.front_end.num_filters} filters per frame; make them equal")

    def init(self, key: Key) -> Params:
        k_front, k_rest = jax.random.split(key)
        return {"front_end": self.front_end.init(k_front), "seq2seq": self.seq2seq.init(k_rest)}

    def features(self, params: Params, audio: Float[Array, "S"], src_lengths=None):
        """(frames [T, F], their valid count or None) of a waveform with `src_lengths` valid samples."""
        frames = self.front_end.apply(params["front_end"], audio, lengths=src_lengths)
        return frames, None if src_lengths is None else jnp.maximum(self.front_end.num_frames(src_lengths), 1)

    def apply(self, params: Params, src: Float[Array, "S"], tgt: Int[Array, "L"], *, src_lengths=None,
              tgt_lengths=None, key: Key | None = None, deterministic: bool = False, sampling_prob: float = 0.0,
              return_alignment: bool = False):
        """Teacher forcing: logits [L, V], position t predicting tgt[t + 1] (and the alignment [L, T])."""
        frames, lengths = self.features(params, src, src_lengths)
        return self.seq2seq.apply(params["seq2seq"], frames, tgt, src_lengths=lengths, tgt_lengths=tgt_lengths,
                                  key=key, deterministic=deterministic, sampling_prob=sampling_prob,
                                  return_alignment=return_alignment)

    def init_cache(self, params: Params, src: Float[Array, "S"], *, src_lengths=None) -> Params:
        frames, lengths = self.features(params, src, src_lengths)
        return self.seq2seq.init_cache(params["seq2seq"], frames, src_lengths=lengths)

    def decode(self, params: Params, cache: Params, ids: Int[Array, "L"]) -> tuple[Params, Float[Array, "L V"]]:
        return self.seq2seq.decode(params["seq2seq"], cache, ids)
