"""The driver of rnn_settings_variants.jsonl: benchmarks.rnn with the fused kernels' accelerator settings changed one
at a time (`PYTHONPATH=. python3 results/benchmarks_gpu/rnn_settings_variants.py chunk32 --json --repeats=20 --cases=...`)."""
import sys

from absl import app

from seqmodels.cells import fused
from seqmodels.nn.activations import rational_tanh

VARIANTS = {
    "base": {},
    "tanh": {"tanh": rational_tanh},
    "chunk32": {"chunk": 32},
    "chunk64": {"chunk": 64},
    "lstm_bwd2": {"lstm_unroll": (1, 2)},
    "lstm_fwd2_bwd2": {"lstm_unroll": (2, 2)},
    "tanh_chunk32": {"tanh": rational_tanh, "chunk": 32},
    "gru_1_1": {"gru_unroll": (1, 1)},
}
fused._ACCELERATOR.update(VARIANTS[sys.argv[1]])
print("variant", sys.argv[1], fused._ACCELERATOR, file=sys.stderr)
from benchmarks import rnn  # noqa: E402

sys.argv = [sys.argv[0]] + sys.argv[2:]
app.run(rnn.main)
