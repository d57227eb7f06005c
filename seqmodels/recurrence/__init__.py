"""The one home for running a cell over time.

    layer = RNN(LSTM(64, 256))
    params = layer.init(key)
    carry, ys = layer.apply(params, x, lengths=L)                   # one sequence x [T, D], L a scalar
    carry, ys = layer.apply_batch(params, xs, lengths=lengths)      # xs [B, T, D], lengths [B]: fastest path

    scans.py   one sequence: the plain and hoisted `lax.scan`, the associative scan of a
               linear recurrence and its log-space form, each beside its reference;
               lengths, reverse, carry in/out
    fused.py   whole-batch LSTM / GRU kernels with hand-written backward passes; their
               reference is `scans.scan` under vmap
    layers.py  RNN, Bidirectional, Stack (with dropout), truncated BPTT

Dispatch is explicit: every cell declares a `scan_kind` (`seqmodels.cells.base.ScanKind`),
and `RNN.apply` / `RNN.apply_batch` match on it:

    STEP        scans.scan (plain or hoisted)                        every cell
    LINEAR      scans.scan_linear_cell (associative scan)            minGRU, minLSTM (log_space=False)
    LOG_LINEAR  scans.scan_log (associative scan on logarithms)      minGRU, minLSTM (log_space=True)
    FUSED_LSTM  fused.batch in apply_batch, scans.scan in apply      LSTM (vanilla, no peepholes/projection)
    FUSED_GRU   fused.batch in apply_batch, scans.scan in apply      GRU(reset="after")

Masking model (shared by every layer of seqmodels): `lengths` counts the
valid steps (right padding); outputs past it are zeros; the final carry is
the one after the last valid step; a reversed pass reverses only the valid part.
`lengths` follow the one rule of `seqmodels.nn.lengths` (integers in [0, T];
clamped to [0, T] under jit); params, carries and dtypes are checked as
`scans.py` says.
"""

from seqmodels.cells.base import ScanKind
from seqmodels.recurrence import fused, scans
from seqmodels.recurrence.layers import RNN, Bidirectional, Stack, truncated_bptt
from seqmodels.recurrence.scans import (
    batch_carry, check_batch, check_lengths, check_sequence, default_hoist, linear_scan, linear_scan_log,
    linear_scan_sequential, reverse_valid, scan, scan_linear_cell, scan_log)

__all__ = [
    "ScanKind", "fused", "scans",
    "RNN", "Bidirectional", "Stack", "truncated_bptt",
    "batch_carry", "check_batch", "check_lengths", "check_sequence", "default_hoist", "reverse_valid",
    "scan", "linear_scan_sequential", "linear_scan", "linear_scan_log", "scan_linear_cell", "scan_log",
]
