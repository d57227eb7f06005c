"""The driver of rnn_settings_variants.jsonl: benchmarks.rnn with the fused kernels' CPU settings changed one at a time
(`PYTHONPATH=. python results/benchmarks_cpu_amd/rnn_settings_variants.py chunk16 --json --repeats=10 --cases=...`)."""
import sys

import jax.numpy as jnp
from absl import app

from seqmodels.cells import fused
from seqmodels.nn.activations import rational_tanh

base = fused._settings()
VARIANTS = {
    "base": {},
    "jnptanh": {"tanh": jnp.tanh},
    "chunk16": {"chunk": 16},
    "chunk64": {"chunk": 64},
    "nochunk": {"chunk": None},
    "lstm_1_1": {"lstm_unroll": (1, 1)},
    "lstm_2_2": {"lstm_unroll": (2, 2)},
    "gru_4_4": {"gru_unroll": (4, 4)},
    "gru_1_2": {"gru_unroll": (1, 2)},
    "gru_2_2": {"gru_unroll": (2, 2)},
}
settings = dict(base, **VARIANTS[sys.argv[1]])
fused._settings = lambda: settings
from benchmarks import rnn  # noqa: E402

sys.argv = [sys.argv[0]] + sys.argv[2:]
app.run(rnn.main)
