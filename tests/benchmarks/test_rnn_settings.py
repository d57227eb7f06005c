import jax.numpy as jnp
import pytest

from benchmarks import rnn_settings
from seqmodels.recurrence import fused


def test_variant_changes_one_setting(monkeypatch):
    monkeypatch.setattr(fused, "_settings", fused._settings)  # restored after the test
    own = fused._settings()
    rnn_settings.apply("chunk16")
    changed = fused._settings()
    assert changed["chunk"] == 16
    assert {k: v for k, v in changed.items() if k != "chunk"} == {k: v for k, v in own.items() if k != "chunk"}


def test_jnptanh_variant(monkeypatch):
    monkeypatch.setattr(fused, "_settings", fused._settings)
    rnn_settings.apply("jnptanh")
    assert fused._settings()["tanh"] is jnp.tanh


def test_unknown_variant():
    with pytest.raises(ValueError, match="unknown variant 'chunk7'; expected one of"):
        rnn_settings.apply("chunk7")
