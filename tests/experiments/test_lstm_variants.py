"""Greff et al.'s LSTM study on chorales: the small config runs from the command line; each sub-run's model is
the LSTM variant it names (checked against Greff's equations written out in numpy); the draws; bad configs."""

import json
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import chorales, lstm_variants
from experiments.configs import lstm_variants as lstm_variants_config
from seqmodels.cells.lstm import VARIANTS
from seqmodels.training import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_small_config_runs_from_the_command_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "experiments.lstm_variants", f"--workdir={tmp_path}",
                           "--config=experiments/configs/lstm_variants.py:small"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    table = results["variants"]
    assert list(table) == ["vanilla", "NFG"] and len(results["draws"]) == 1
    for v, row in table.items():
        assert len(row["test_nll"]) == 1 and 0 < row["median"] < 20, v
        sub = json.loads((tmp_path / f"d0_{v}" / "results.json").read_text())
        assert sub["metrics"]["test_nll"] == row["test_nll"][0]
        assert sub["config"]["model"]["lstm"]["variant"] == v
    assert table["NFG"]["median_diff_vs_vanilla"] == pytest.approx(table["NFG"]["median"] - table["vanilla"]["median"])
    assert results["reference"]["findings_vs_vanilla"]["NFG"] == "worse"
    assert (tmp_path / "plots" / "variants.png").exists()


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def greff_lstm(p: dict, x: np.ndarray, variant: str) -> np.ndarray:
    """Greff et al.'s equations (their Sec. II, peepholes as in vanilla) for one sequence x [T, D] -> y [T, H],
    with the weights cut from the fused layout (gate blocks z, i, f, o; the dropped gate's block absent)."""
    gates = [g for g in "zifo" if g != {"NIG": "i", "NFG": "f", "NOG": "o", "CIFG": "f"}.get(variant)]
    H = p["R"].shape[0]
    W = {g: p["W"][:, k * H:(k + 1) * H] for k, g in enumerate(gates)}
    R = {g: p["R"][:, k * H:(k + 1) * H] for k, g in enumerate(gates)}
    b = {g: p["b"][k * H:(k + 1) * H] for k, g in enumerate(gates)}
    peep = {g: p.get(f"p_{g}", np.zeros(H)) for g in "ifo"}
    R_ifo = p.get("R_ifo")  # FGR: [3H, 3H], rows the previous i, f, o
    g_act = (lambda a: a) if variant == "NIAF" else np.tanh
    h_act = (lambda a: a) if variant == "NOAF" else np.tanh
    y, c, ifo, out = np.zeros(H), np.zeros(H), np.zeros(3 * H), []
    for x_t in x:
        pre = {g: x_t @ W[g] + y @ R[g] + b[g] for g in gates}
        if R_ifo is not None:
            for k, g in enumerate("ifo"):
                pre[g] = pre[g] + ifo @ R_ifo[:, k * H:(k + 1) * H]
        z = g_act(pre["z"])
        i = _sigmoid(pre["i"] + peep["i"] * c) if "i" in gates else np.ones(H)
        f = 1.0 - i if variant == "CIFG" else _sigmoid(pre["f"] + peep["f"] * c) if "f" in gates else np.ones(H)
        c = z * i + c * f
        o = _sigmoid(pre["o"] + peep["o"] * c) if "o" in gates else np.ones(H)
        y = h_act(c) * o
        ifo = np.concatenate([i, f, o])
        out.append(y)
    return np.stack(out)


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_sub_run_builds_its_variant_as_greff_writes_it(variant):
    config = lstm_variants_config.get_config("small")
    config.variants = variant
    sub = lstm_variants.sub_runs(config)[f"d0_{variant}"]
    assert sub.model.lstm.variant == variant and sub.model.lstm.peepholes == (variant != "NP")
    model = chorales.make_model(sub)
    params = model.init(jax.random.key(1))
    backbone = jax.tree.map(np.asarray, params["backbone"])
    for g in "ifo":  # random peepholes, so that they count in the comparison
        if f"p_{g}" in backbone:
            backbone[f"p_{g}"] = np.random.default_rng(2).normal(0, 0.5, backbone[f"p_{g}"].shape)
    params["backbone"] = jax.tree.map(jnp.asarray, backbone)
    assert ("p_i" in backbone) == (variant not in ("NP", "NIG"))
    assert ("p_o" in backbone) == (variant not in ("NP", "NOG"))
    x = (np.random.default_rng(0).random((1, 12, 88)) < 0.2).astype(np.float32)
    logits = model.apply_batch(params, jnp.asarray(x), jnp.asarray([12]), deterministic=True)[0]
    y = greff_lstm(backbone, x[0].astype(np.float64), variant)
    expected = y @ np.asarray(params["readout"]["w"]) + np.asarray(params["readout"]["b"])
    np.testing.assert_allclose(np.asarray(logits), expected, atol=2e-4)


def test_draws_are_seeded_log_uniform_and_paired_across_variants():
    config = lstm_variants_config.get_config()
    ds = lstm_variants.draws(config)
    assert len(ds) == config.num_draws and len({d["seed"] for d in ds}) == len(ds)
    for d in ds:
        assert config.search.learning_rate[0] <= d["learning_rate"] <= config.search.learning_rate[1]
        assert config.search.hidden_size[0] <= d["hidden_size"] <= config.search.hidden_size[1]
    config.num_draws = 3  # fewer draws: the same first three (a shortened study is a prefix of the full one)
    assert lstm_variants.draws(config) == ds[:3]
    config.variants = "vanilla,CIFG"
    subs = lstm_variants.sub_runs(config)
    assert list(subs) == ["d0_vanilla", "d0_CIFG", "d1_vanilla", "d1_CIFG", "d2_vanilla", "d2_CIFG"]
    for k in range(3):
        a, b = subs[f"d{k}_vanilla"], subs[f"d{k}_CIFG"]
        assert (a.seed, a.optimizer.learning_rate, a.model.lstm.hidden_size) == \
               (b.seed, b.optimizer.learning_rate, b.model.lstm.hidden_size) == \
               (ds[k]["seed"], ds[k]["learning_rate"], ds[k]["hidden_size"])


def test_invalid_configs_are_rejected():
    config = lstm_variants_config.get_config("small")
    config.variants = "vanilla,NXG"
    with pytest.raises(ConfigError, match="variants"):
        lstm_variants.sub_runs(config)
    config = lstm_variants_config.get_config("small")
    config.search.hidden_size = (32, 8)
    with pytest.raises(ConfigError, match="search.hidden_size"):
        lstm_variants.sub_runs(config)
    config = lstm_variants_config.get_config("small")
    config.num_draws = 0
    with pytest.raises(ConfigError, match="num_draws"):
        lstm_variants.sub_runs(config)
    with pytest.raises(ValueError, match="unknown variant"):
        lstm_variants_config.get_config("tiny")
