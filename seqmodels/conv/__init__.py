"""Convolutional sequence models, one example time first (`x: [T, C]`).

    conv1d        Conv1D (causal / same / valid, stride, dilation, groups),
                  ConvTranspose1D, output-length rule, receptive field,
                  ring-buffer streaming step
    stack         ConvStack: a dilated stack of Conv1D + activation
    tdnn          FIR layer and Wan's FIR network (TDNN)
    tcn           TCN (Bai et al. 2018), weight-normalised residual blocks
    wavenet       WaveNet: gated residual blocks, skips, conditioning,
                  mu-law categorical or discretised logistic mixture output
    mulaw, logistic_mixture   the two WaveNet output distributions
    autoencoder   strided conv encoder + transposed conv decoder
    stft          STFT as a strided Conv1D (DFT kernels), its inverse as a
                  transposed conv (overlap-add)
    streaming     run / generate any causal layer with lax.scan

Every causal layer and stack has `init_state()` and
`step(params, state, x_t) -> (state, y_t)`. Every `apply` takes
`lengths` (the rule of `seqmodels.nn.lengths`: an int in [0, T], clamped
under jit), `key` and `deterministic` (the rule of `seqmodels.nn.dropout`);
only the TCN has dropout. Inputs must be floating point.
"""

from seqmodels.conv import (autoencoder, conv1d, logistic_mixture, mulaw, stack, stft, streaming, tcn,
                            tdnn, wavenet)
from seqmodels.conv.autoencoder import ConvAutoencoder
from seqmodels.conv.conv1d import (Conv1D, ConvTranspose1D, output_length, receptive_field,
                                   time_mask, transposed_output_length)
from seqmodels.conv.mulaw import mu_law_decode, mu_law_encode
from seqmodels.conv.stack import ConvStack
from seqmodels.conv.streaming import generate, run
from seqmodels.conv.tcn import TCN, weight_norm
from seqmodels.conv.tdnn import FIR, TDNN
from seqmodels.conv.wavenet import WaveNet, cycle_dilations

__all__ = [
    "autoencoder", "conv1d", "logistic_mixture", "mulaw", "stack", "streaming", "tcn", "tdnn",
    "wavenet", "stft",
    "Conv1D", "ConvTranspose1D", "ConvStack", "FIR", "TDNN", "TCN", "WaveNet", "ConvAutoencoder",
    "output_length", "transposed_output_length", "receptive_field", "time_mask",
    "cycle_dilations", "mu_law_encode", "mu_law_decode", "weight_norm", "run", "generate",
]
