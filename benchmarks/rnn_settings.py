"""`benchmarks.rnn` with one of the fused kernels' settings (tanh, chunk, unrolls) changed.

    python -m benchmarks.rnn_settings chunk16 --json --repeats=10 \
        --cases=lstm/seqmodels,lstm/equinox-LSTMCell,gru/seqmodels,gru/flax-GRUCell,gru/equinox-GRUCell

The change applies on top of the settings the kernels would use (those of the backend, or of
`--fused_settings`; `seqmodels.recurrence.fused._settings`). It produced
results/benchmarks_gpu/rnn_settings_variants.jsonl (one H200, when the accelerator LSTM unroll was still
1 / 1) and results/benchmarks_cpu_amd/rnn_settings_variants.jsonl (a 2-vCPU AMD EPYC), one run per variant.
"""

import jax.numpy as jnp
from absl import app

from seqmodels.recurrence import fused
from seqmodels.nn.activations import rational_tanh

VARIANTS = {  # the names of both results files
    "base": {},
    "tanh": {"tanh": rational_tanh},
    "jnptanh": {"tanh": jnp.tanh},
    "chunk16": {"chunk": 16},
    "chunk32": {"chunk": 32},
    "chunk64": {"chunk": 64},
    "nochunk": {"chunk": None},
    "tanh_chunk32": {"tanh": rational_tanh, "chunk": 32},
    "lstm_1_1": {"lstm_unroll": (1, 1)},
    "lstm_bwd2": {"lstm_unroll": (1, 2)},
    "lstm_2_2": {"lstm_unroll": (2, 2)},
    "lstm_fwd2_bwd2": {"lstm_unroll": (2, 2)},
    "gru_1_1": {"gru_unroll": (1, 1)},
    "gru_1_2": {"gru_unroll": (1, 2)},
    "gru_2_2": {"gru_unroll": (2, 2)},
    "gru_4_4": {"gru_unroll": (4, 4)},
}


def apply(variant: str) -> None:
    """Make the fused kernels trace with `variant` on top of their own settings."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; expected one of {sorted(VARIANTS)}")
    own = fused._settings
    fused._settings = lambda: {**own(), **VARIANTS[variant]}


def main(argv):
    if len(argv) != 2:
        raise app.UsageError(f"one variant name expected, one of {sorted(VARIANTS)}")
    apply(argv[1])
    from benchmarks import rnn

    rnn.main(argv[:1])


if __name__ == "__main__":
    # benchmarks.rnn defines absl flags (--json, --cases, ...): imported before they are parsed, and not at
    # module level, so that tests can import apply() beside other benchmarks that define the same flags.
    from benchmarks import rnn  # noqa: F401

    app.run(main)
