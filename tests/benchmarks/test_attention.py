"""benchmarks.attention's dense-family cases compute the same causal attention, at any length."""

import argparse
import sys

import jax
import numpy as np
import pytest

from benchmarks import attention, common


@pytest.mark.parametrize("T", [20, 24])  # 20: not a multiple of the tile (the blockwise case pads)
def test_dense_family_cases_agree(T):
    B, N, K = 2, 2, 4
    q, k, v = (jax.random.normal(key, (B, T, N, K)) for key in jax.random.split(jax.random.key(0), 3))
    outputs = {}
    for method in ("seqmodels_blockwise", "seqmodels_auto", "jax_nn", "flax", "einsum"):
        fn, reason = attention._attention_fn(method, T, K, block_size=8)
        assert reason is None, (method, reason)
        outputs[method] = np.asarray(jax.jit(fn)(q, k, v))
    for method, y in outputs.items():
        np.testing.assert_allclose(y, outputs["jax_nn"], atol=1e-5, err_msg=method)


def test_model_mode_times_a_training_step():
    """--model: one Transformer classifier training step with a sparse kind compiles, runs and is measured."""
    row = attention.run_model_case("bigbird", 128, B=1, N=2, K=8, repeats=1, layers=1)
    assert row["status"] == "ok", row
    assert row["seconds"] > 0 and row["cpu_s"] >= 0 and row["xla_temp_gib"] > 0


def test_torch_row_is_skipped_without_torch_and_parsed_with_it():
    args = argparse.Namespace(batch=1, heads=1, head_dim=4, repeats=1, timeout=60, torch_python=None)
    assert attention._subprocess_case(args, "torch_sdpa", 8)["status"].startswith("skipped: no torch")
    # the JSON line a case prints is what comes back, whatever else it prints before it
    code = "import json; print('log'); print(json.dumps({'status': 'ok', 'seconds': 1.5}))"
    row = common.run_json([sys.executable, "-c", code], timeout=60)
    assert row == {"status": "ok", "seconds": 1.5}
    assert common.run_json([sys.executable, "-c", "raise SystemExit(3)"], timeout=60)["status"].startswith(
        "failed (exit 3)")
