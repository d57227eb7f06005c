"""The model registry (experiments/models.py): every kind builds for both heads, one config layout, clear errors."""

import jax
import ml_collections
import numpy as np
import pytest

from experiments import models
from seqmodels.training import ConfigError

T, D = 16, 2
SECTIONS = {
    "elman": dict(hidden_size=4), "jordan": dict(hidden_size=4), "lstm": dict(hidden_size=4, peepholes=True),
    "gru": dict(hidden_size=4, reset="before"), "mgu": dict(hidden_size=4), "min_gru": dict(hidden_size=4),
    "min_lstm": dict(hidden_size=4), "tcn": dict(channels=4, levels=2, kernel_size=2),
    "tdnn": dict(hidden=(3,), taps=(3, 2)), "fir": dict(taps=3),
    "transformer": dict(d_model=8, num_heads=2, d_ff=16, num_layers=1),
    "mixer": dict(d_model=8, token_hidden=8, channel_hidden=8, num_layers=1),
    "cnn": dict(channels=4, kernel_sizes=(3, 3), padding="causal"), "mlp": dict(hidden_size=8, num_layers=1),
    "logistic": dict(),
}
FRAMES = models.Spec(input_size=D, output_size=3, output="frames", seq_len=T)
CLASS = models.Spec(input_size=D, output_size=3, output="class", seq_len=T)


def model_config(name, **fields):
    return ml_collections.ConfigDict({"name": name, name: {**SECTIONS.get(name, {}), **fields}})


@pytest.mark.parametrize("name", sorted(SECTIONS))
def test_every_kind_builds_and_runs(name):
    """One section builds a sequence classifier ([B, 3]) and, except the whole-sequence MLPs, a per-frame model
    ([B, T, 3]; a TDNN or FIR filter's own last layer gives the outputs)."""
    xs = jax.random.normal(jax.random.key(1), (2, T, D))
    for spec, shape in ((CLASS, (2, 3)), (FRAMES, (2, T, 3))):
        if spec is FRAMES and name in ("mlp", "logistic"):
            with pytest.raises(ConfigError, match="whole fixed-length sequence"):
                models.build(model_config(name), spec)
            continue
        model = models.build(model_config(name), spec)
        ys = model.apply_batch(model.init(jax.random.key(0)), xs, deterministic=True)
        assert ys.shape == shape and np.all(np.isfinite(ys)), (name, spec.output, ys.shape)


@pytest.mark.parametrize("name, fields, needle", [
    ("gru", dict(bidirectional=True), "bidirectional=True"),
    ("mixer", {}, "token-mixing"),
    ("cnn", dict(padding="same"), "padding='same' looks ahead"),
    ("mlp", {}, "whole sequence"),
])
def test_a_causal_task_refuses_models_that_look_ahead(name, fields, needle):
    spec = models.Spec(input_size=D, output_size=3, causal=True, seq_len=T)
    with pytest.raises(ConfigError, match=needle):
        models.build(model_config(name, **fields), spec)


def test_stacks_take_residual_connections_and_dropout_between_layers():
    config = model_config("lstm", num_layers=3, residual=True, layer_drop_rate=0.5)
    model = models.build(config, FRAMES)
    body = model.backbone
    params = model.init(jax.random.key(0))
    xs = jax.random.normal(jax.random.key(1), (2, T, D))
    evaluation = model.apply_batch(params, xs, deterministic=True)
    trained = model.apply_batch(params, xs, key=jax.random.key(2), deterministic=False)
    assert body.output_size == 4 and not np.allclose(evaluation, trained)  # the layers' dropout ran


@pytest.mark.parametrize("fields, needle", [
    (dict(hidden_size=4, peephole=True), r"unknown field\(s\) \['peephole'\]"),
    (dict(hidden_size=0), "hidden_size"),
    (dict(hidden_size=4, init="xavier"), "model.lstm.init"),
])
def test_bad_sections_name_the_field(fields, needle):
    config = ml_collections.ConfigDict({"name": "lstm", "lstm": fields})
    with pytest.raises(ConfigError, match=needle):
        models.build(config, FRAMES)


def test_patches_and_strides_cannot_give_per_frame_outputs():
    with pytest.raises(ConfigError, match="one output per patch"):
        models.build(model_config("transformer", patch_size=4), FRAMES)
    with pytest.raises(ConfigError, match="change the number of frames"):
        models.build(model_config("cnn", stride=2), FRAMES)
    with pytest.raises(ConfigError, match="does not divide"):
        models.build(model_config("transformer", patch_size=3), CLASS)
    patched = models.build(model_config("transformer", patch_size=4, positional="learned"), CLASS)
    params = patched.init(jax.random.key(0))
    assert patched.apply_batch(params, np.ones((2, T, D), np.float32), deterministic=True).shape == (2, 3)


def test_multi_model_names_and_kinds():
    config = ml_collections.ConfigDict({"names": "a,b", "a": dict(kind="gru", hidden_size=3),
                                        "b": dict(kind="tcn", channels=2, levels=1, kernel_size=2)})
    assert models.names(config) == ["a", "b"]
    assert models.build(config, FRAMES, "a").backbone.output_size == 3
    with pytest.raises(ConfigError, match="twice"):
        models.names(ml_collections.ConfigDict({"names": "a,a", "a": dict(kind="gru", hidden_size=3)}))
    with pytest.raises(ConfigError, match="no section model.c"):
        models.names(ml_collections.ConfigDict({"names": "a,c", "a": dict(kind="gru", hidden_size=3)}))
