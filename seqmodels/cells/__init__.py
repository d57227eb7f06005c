"""Recurrent cells: each is the body of a `lax.scan` (see `base.py` for the contract)."""

from seqmodels.cells.additive import AdditiveRNN
from seqmodels.cells.base import Cell, ScanKind
from seqmodels.cells.gru import GRU
from seqmodels.cells.lstm import LSTM
from seqmodels.cells.mgu import MGU
from seqmodels.cells.min_rnn import MinGRU, MinLSTM
from seqmodels.cells.rnn import Elman, Jordan
from seqmodels.cells import torch_params

__all__ = ["Cell", "ScanKind", "AdditiveRNN", "Elman", "GRU", "Jordan", "LSTM", "MGU", "MinGRU", "MinLSTM",
           "torch_params"]
