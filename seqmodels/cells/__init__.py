"""Recurrent cells: each is the body of a `lax.scan` (see `base.py` for the contract)."""

from seqmodels.cells.base import Cell
from seqmodels.cells.lstm import LSTM

__all__ = ["Cell", "LSTM"]
