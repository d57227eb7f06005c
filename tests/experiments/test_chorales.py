"""The Bach chorales experiment: the small config trains end to end, a standard JSB file is read by path
(.pickle and .mat layouts, written here), padding and the future never reach a prediction, bad configs fail."""

import json
import pickle

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import chorales
from experiments.configs import chorales as chorales_config
from seqmodels.data import packaged
from seqmodels.training import ConfigError, train_and_evaluate


def test_small_config_trains_and_writes_results(tmp_path):
    config = chorales_config.get_config("small")  # a TCN on 12 music21 chorales
    train_and_evaluate(config, tmp_path, chorales.make_task(config))
    results = json.loads((tmp_path / "results.json").read_text())
    m = results["metrics"]
    for name in ("test_nll", "valid_nll", "train_nll", "baseline_test_nll", "baseline_valid_nll", "loss", "nll"):
        assert np.isfinite(m[name]) and m[name] > 0, name
    assert m["nll"] == pytest.approx(m["valid_nll"], rel=1e-5)  # the loop's eval set is the validation split
    train = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    train = [r["nll"] for r in train if r["split"] == "train"]
    assert len(train) == 3 and train[-1] < train[0]  # steps 1-10 vs 21-30
    assert m["train_nll"] < m["baseline_train_nll"]  # beats independent keys where it trained
    assert m["num_train_pieces"] + m["num_valid_pieces"] + m["num_test_pieces"] == 12
    assert m["num_params"] > 0
    ref = results["reference"]
    assert ref["published_jsb_test_nll"] == 8.10 and ref["published_jsb_test_nll_all"]["lstm"] == 8.45
    assert ref["comparable_to_published"] is False and "NOT the standard JSB split" in ref["data"]
    assert (tmp_path / "plots" / "nll.png").exists()
    summary = chorales.summarize({"tcn": tmp_path}, tmp_path / "summary")  # the results/chorales/ table
    assert summary["models"]["tcn"]["test_nll"] == m["test_nll"]
    assert summary["split"]["test"]["pieces"] == m["num_test_pieces"]
    for name in ("results.json", "summary.md", "valid_nll.png", "tcn/results.json", "tcn/nll.png"):
        assert (tmp_path / "summary" / name).exists(), name


def _synthetic_pieces(rng, num_pieces):
    """Pieces as the standard pickle stores them: lists of frames, each a list of MIDI note numbers (21..108)."""
    pieces = []
    for _ in range(num_pieces):
        length = int(rng.integers(5, 30))
        pieces.append([sorted(set(int(n) for n in rng.integers(48, 80, size=rng.integers(0, 5))))
                       for _ in range(length)])
    return pieces


def _small_file_config(path, model):
    config = chorales_config.get_config(f"{model},small")
    config.data_file = str(path)
    return config


def test_data_file_pickle_layout(tmp_path):
    rng = np.random.default_rng(0)
    data = {"train": _synthetic_pieces(rng, 9), "valid": _synthetic_pieces(rng, 3), "test": _synthetic_pieces(rng, 4)}
    data["train"][0][0] = [21, 108]  # the two ends of the keyboard
    path = tmp_path / "JSB_Chorales.pickle"
    path.write_bytes(pickle.dumps(data, protocol=2))
    task = chorales.make_task(_small_file_config(path, "tcn"))
    m = task.final_eval(task.init_params(jax.random.key(0)))
    assert (m["num_train_pieces"], m["num_valid_pieces"], m["num_test_pieces"]) == (9, 3, 4)
    assert m["num_test_frames_predicted"] == sum(len(p) - 1 for p in data["test"])
    assert np.isfinite(m["test_nll"])
    assert task.reference["comparable_to_published"] is True and "JSB_Chorales.pickle" in task.reference["data"]
    # The baseline is the independent-key NLL of the test targets under the training key frequencies.
    train = np.concatenate([packaged.piano_roll(p)[1:] for p in data["train"]])
    p = np.clip(train.mean(0), 1e-3, 1 - 1e-3)
    test = np.concatenate([packaged.piano_roll(q)[1:] for q in data["test"]])
    expected = -np.mean(np.sum(test * np.log(p) + (1 - test) * np.log(1 - p), axis=1))
    assert m["baseline_test_nll"] == pytest.approx(expected, rel=1e-6)


def test_data_file_mat_layout(tmp_path):
    from scipy.io import savemat

    rng = np.random.default_rng(1)

    def cells(num_pieces):
        out = np.empty((1, num_pieces), dtype=object)  # MATLAB 1 x N cell of [T, 88] rolls
        for i, piece in enumerate(_synthetic_pieces(rng, num_pieces)):
            out[0, i] = packaged.piano_roll(piece).astype(np.float64)
        return out

    path = tmp_path / "JSB_Chorales.mat"
    savemat(path, {"traindata": cells(8), "validdata": cells(2), "testdata": cells(3)})
    config = _small_file_config(path, "gru")
    task = chorales.make_task(config)
    m = task.final_eval(task.init_params(jax.random.key(0)))
    assert (m["num_train_pieces"], m["num_valid_pieces"], m["num_test_pieces"]) == (8, 2, 3)
    # The read-out bias starts at the key frequencies: an untrained model is near the independent-key baseline.
    assert m["train_nll"] == pytest.approx(m["baseline_train_nll"], rel=0.1)


@pytest.mark.parametrize("model", [pytest.param(m, marks=pytest.mark.slow) if m != "tcn" else m
                                   for m in chorales.MODELS])  # the RNNs' lengths masking is tested in tests/
def test_predictions_see_neither_padding_nor_the_future(model):
    config = chorales_config.get_config(f"{model},small")
    config.model[model].drop_rate = 0.0
    net = chorales.make_model(config)
    params = chorales.init_params(net, jax.random.key(0), np.full(88, 0.05))
    logits = lambda p, x, n: net.apply_batch(p, x, n, deterministic=True)  # noqa: E731
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.random((2, 24, 88)) < 0.1, jnp.float32)
    full = logits(params, x, jnp.asarray([24, 24]))
    # Piece 0 cut at 10 frames, the rest filled with notes: its first 10 logits must not change.
    padded = logits(params, x, jnp.asarray([10, 24]))
    np.testing.assert_allclose(padded[0, :10], full[0, :10], atol=1e-5)
    np.testing.assert_allclose(padded[1], full[1], atol=1e-5)
    alone = logits(params, x[:1, :10], jnp.asarray([10]))
    np.testing.assert_allclose(alone[0], full[0, :10], atol=1e-5)
    # Changing frame 15 changes nothing before it (causal) and something from it on.
    changed = logits(params, x.at[:, 15].set(1.0 - x[:, 15]), jnp.asarray([24, 24]))
    np.testing.assert_allclose(changed[:, :15], full[:, :15], atol=1e-5)
    assert float(jnp.abs(changed[:, 15:] - full[:, 15:]).max()) > 1e-6


def test_invalid_configs_are_rejected(tmp_path):
    config = chorales_config.get_config("small")
    config.model.name = "transformer"
    with pytest.raises(ConfigError, match="no section model.transformer"):
        chorales.make_task(config)
    config = chorales_config.get_config("small")
    config.data_file = str(tmp_path / "missing.pickle")
    with pytest.raises(ConfigError, match="not found"):
        chorales.make_task(config)
    config = chorales_config.get_config("small")
    config.model.tcn.drop_rate = 1.0
    with pytest.raises(ConfigError, match="model.tcn.drop_rate"):
        chorales.make_task(config)
    config = chorales_config.get_config("small")
    config.data.note_drop_rate = -0.1
    with pytest.raises(ConfigError, match="data.note_drop_rate"):
        chorales.make_task(config)
    config = chorales_config.get_config("small")
    config.model.tcn.conv_init = "xavier"
    with pytest.raises(ConfigError, match="model.tcn.conv_init"):
        chorales.make_task(config)
    with pytest.raises(ValueError, match="valid variants"):
        chorales_config.get_config("lstm,gru")
    assert chorales_config.get_config("lstm").model.name == "lstm"
    assert chorales_config.get_config().model.name == "tcn"
