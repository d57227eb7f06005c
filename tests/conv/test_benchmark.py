"""The conv benchmark's --quick smoke mode runs end to end (no timings checked)."""

import pytest

from benchmarks import conv as conv_benchmark


@pytest.mark.slow  # about 15 s of compilation; run with `-m ''` / make test-all
def test_quick_benchmark_runs():
    result = conv_benchmark.run(quick=True)
    assert {row["case"] for row in result["training"]["rows"]} == set(conv_benchmark.CASES)
    assert result["generation"]["identical_samples"]
    assert result["generation"]["receptive_field"] == 65
