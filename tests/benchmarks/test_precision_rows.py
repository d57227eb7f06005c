"""The bf16 column and the PyTorch rows of benchmarks/rnn.py and benchmarks/conv.py."""

import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from benchmarks import common
from benchmarks import conv as conv_benchmark


def test_in_dtype_casts_params_and_inputs_and_keeps_float32_gradients():
    seen = {}

    def loss(params, x, target):
        seen.update(w=params["w"].dtype, x=x.dtype)
        return common.mse(x @ params["w"], target)

    params, x, target = {"w": jnp.full((3, 2), 0.5)}, jnp.ones((4, 3)), jnp.zeros((4, 2))
    assert common.in_dtype(loss, "float32") is loss
    grads = jax.grad(common.in_dtype(loss, "bfloat16"))(params, x, target)
    assert seen == {"w": jnp.bfloat16, "x": jnp.bfloat16} and grads["w"].dtype == jnp.float32
    np.testing.assert_allclose(grads["w"], jax.grad(loss)(params, x, target)["w"], rtol=1e-2)


def test_torch_rows_skipped_without_torch_and_a_failure_is_a_status():
    assert common.torch_rows("rnn", None, {}, ["float32"])["status"].startswith("skipped: no torch")
    try:  # this interpreter, if it lacks torch: the case fails, and says so in one line
        import torch  # noqa: F401
    except ImportError:
        status = common.torch_rows("conv", sys.executable, {"batch": 1}, ["float32"], timeout=60)["status"]
        assert status.startswith("failed (exit 1)") and "torch" in status


@pytest.mark.slow  # about 30 s of compilation
def test_quick_conv_benchmark_has_a_bf16_column():
    result = conv_benchmark.run(quick=True, dtypes=("float32", "bfloat16"))
    rows = result["training"]["rows"]
    assert {(r["case"], r["dtype"]) for r in rows} == {(c, d) for c in conv_benchmark.CASES
                                                       for d in ("float32", "bfloat16")}
    assert all(r["speed vs float32"] > 0 for r in rows if r["dtype"] == "bfloat16")
    assert result["training"]["torch"]["status"].startswith("skipped")  # no --torch_python given
