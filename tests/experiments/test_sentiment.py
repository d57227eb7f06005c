"""The sentiment experiment: the command line (small config), the models against hand computations (attention
pooling as the lecture writes it, the bag of embeddings as a mean), padding, and the IMDB path under
tfds.testing.mock_data. (Padding with the GRU's last state and the Transformer's mean: tests/models/test_heads.py,
test_embedded_reads_table_rows_and_ignores_padding.)"""

import json
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
import tensorflow_datasets as tfds

from experiments import launcher, mlm, sentiment
from experiments.configs import sentiment as configs
from seqmodels.attention import pooling as attention_pooling
from seqmodels.data import synthetic, tokenizers
from seqmodels.training import ConfigError

ROOT = Path(__file__).resolve().parents[2]
V, E, B, T = 12, 4, 3, 9
IDS = jax.random.randint(jax.random.key(1), (B, T), 4, V)
LENGTHS = jnp.array([9, 5, 1])


def _model(name: str, **section):
    config = configs.get_config("small")
    config.model.embed_dim = E
    if section:
        config.model[name] = section
    return sentiment.build_model(config.model, V, name)


def test_small_config_runs_from_the_command_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "experiments.sentiment", f"--workdir={tmp_path}",
                           "--config=experiments/configs/sentiment.py:small"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["models"]) == {"bag", "gru_attention"}
    for m in results["models"].values():
        assert 0 <= m["test_accuracy"] <= 1 and 0 <= m["accuracy_contrast"] <= 1 and m["num_params"] > 0
    assert results["reference"]["bag_of_embeddings"] == results["models"]["bag"]["test_accuracy"]
    assert 0.4 < results["reference"]["bow_logistic_regression"] < 0.7  # word counts cannot solve it
    assert (tmp_path / "gru_attention" / "plots" / "attention.png").stat().st_size > 10_000
    assert (tmp_path / "bag" / "vocab.json").exists()


def test_attention_pooling_is_the_lectures():
    """u_t = tanh(W h_t + b), a_t = softmax_t(u_t . u) over the valid words, s = sum_t a_t h_t (numpy), and the
    classifier's logits are the read-out of s built from `attention_weights`."""
    model = _model("gru_attention", kind="gru", hidden_size=5, pool="attention")
    params = model.init(jax.random.key(0))
    clf, p = model.model, params["model"]

    @jax.jit
    def run(params):
        h = jax.vmap(lambda x, n: clf.backbone.apply(params["model"]["backbone"], x, lengths=n))(
            model.embed(params, IDS), LENGTHS)  # [B, T, H]
        return (model.apply_batch(params, IDS, LENGTHS, deterministic=True),
                sentiment.attention_weights(model, params, IDS, LENGTHS), h)

    logits, a, h = (np.asarray(v) for v in run(params))  # [B, 2], [B, T], [B, T, H]
    W, b, u = (np.asarray(v) for v in (p["pool"]["proj"]["w"], p["pool"]["proj"]["b"], p["pool"]["context"]))
    for i, n in enumerate(np.asarray(LENGTHS)):
        scores = np.tanh(h[i, :n] @ W + b) @ u
        expected = np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum()
        np.testing.assert_allclose(a[i, :n], expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(a[i, n:], 0)  # padding gets no weight
        s = expected @ h[i, :n]
        np.testing.assert_allclose(logits[i], s @ np.asarray(p["readout"]["w"]) + np.asarray(p["readout"]["b"]),
                                   rtol=1e-4, atol=1e-5)
    pooled, weights = jax.jit(attention_pooling.apply)(p["pool"], jnp.asarray(h[1]), lengths=LENGTHS[1])
    np.testing.assert_allclose(weights, a[1], atol=1e-6)
    np.testing.assert_allclose(pooled, a[1] @ h[1], rtol=1e-5, atol=1e-6)


def test_bag_of_embeddings_is_logistic_regression_on_the_mean_embedding():
    model = _model("bag")
    params = model.init(jax.random.key(0))
    run = jax.jit(lambda ids: model.apply_batch(params, ids, LENGTHS, deterministic=True))
    logits = run(IDS)
    table, w, b = (np.asarray(v) for v in (params["embed"]["table"], params["model"]["readout"]["w"],
                                           params["model"]["readout"]["b"]))
    for i, n in enumerate(np.asarray(LENGTHS)):
        np.testing.assert_allclose(logits[i], table[np.asarray(IDS[i, :n])].mean(0) @ w + b, rtol=1e-5, atol=1e-6)
    shuffled = IDS.at[0].set(IDS[0, ::-1]).at[1, 5:].set(0)  # word order and padding change nothing
    np.testing.assert_allclose(run(shuffled), logits, atol=1e-5)


def test_imdb_path_under_mock_data(tmp_path):
    """data.source="imdb" end to end on TFDS's mock examples (no files): vocabulary, training, the table."""
    config = configs.get_config("imdb")
    config.model.names = "bag"
    config.model.embed_dim = 4
    config.num_steps, config.eval_every, config.checkpoint_every, config.log_every = 2, 2, 2, 1
    config.batch_size = 8  # the test suite's 8 host devices split each batch
    config.data.max_length = 16
    with tfds.testing.mock_data(num_examples=16):
        data = sentiment.load_data(config)
        results = launcher.run_experiment(config, tmp_path, sentiment.make_task, sub_runs=sentiment.sub_runs,
                                          combine=sentiment.combine)
    assert len(data["train"]["x"]) == 16 and set(np.unique(data["train"]["y"])) <= {0, 1}
    assert all(1 <= len(x) <= 16 for x in data["train"]["x"]) and data["max_len"] <= 16
    assert 0 <= results["models"]["bag"]["test_accuracy"] <= 1
    assert "Maas et al. 2011" in results["reference"]["note"]
    assert json.loads((tmp_path / "results.json").read_text())["config"]["data"]["source"] == "imdb"


def test_config_errors_name_the_field(tmp_path):
    config = configs.get_config("small")
    config.data.source = "yelp"
    with pytest.raises(ConfigError, match=r"data.source"):
        sentiment.load_data(config)
    config = configs.get_config("small")
    config.model.bag = dict(kind="bag", hidden_size=3)
    with pytest.raises(ConfigError, match=r"model.bag: the bag of embeddings has no fields"):
        sentiment.sub_runs(config)
    config = configs.get_config("small")
    config.model.names = "bag,cnn"
    with pytest.raises(ConfigError, match="model.name"):
        sentiment.sub_runs(config)
    with pytest.raises(ValueError, match="unknown variant"):
        configs.get_config("yelp")


def test_mlm_kind_starts_from_the_saved_encoder_with_its_vocabulary(tmp_path):
    """kind "mlm": a clear error without the encoder file; with it, the sub-run reads the reviews with the
    vocabulary saved beside it (here built from other reviews, so its ids differ from the run's own), init
    returns the saved encoder (and a random read-out), and the classifier gives logits [B, 2]."""
    config = configs.get_config("small")
    config.model.names = "mlm"
    fields = dict(d_model=8, num_heads=2, d_ff=16, num_layers=1, drop_rate=0.0, max_len=128)
    config.model.mlm = dict(kind="mlm", encoder_file=str(tmp_path / "encoder.npz"), **fields)
    with pytest.raises(ConfigError, match="model.mlm.encoder_file: .*encoder.npz is missing"):
        sentiment.sub_runs(config)
    tok = tokenizers.WordTokenizer.build(synthetic.make_sentiment(7, 64)["text"])
    tok.save(tmp_path / "vocab.json")
    encoder = mlm.build(ml_collections.ConfigDict({"model": fields}), tok.vocab_size).init(jax.random.key(7))
    mlm.save_params(tmp_path / "encoder.npz", encoder)

    sub = sentiment.sub_runs(config)["mlm"]
    task = sentiment.make_task(sub, tmp_path / "mlm")
    assert sentiment.cached_data(sub)["tokenizer"].tokens == tok.tokens
    assert sentiment.cached_data(configs.get_config("small"))["tokenizer"].tokens != tok.tokens
    params = task.init_params(jax.random.key(0))
    for got, saved in zip(jax.tree.leaves(params["backbone"]), jax.tree.leaves(encoder)):
        np.testing.assert_array_equal(got, saved)
    assert params["readout"]["w"].shape == (8, 2)
    batch = next(iter(task.train_iterator))
    loss, metrics = task.loss_fn(params, batch, jax.random.key(1), False)
    assert np.isfinite(float(loss)) and 0 <= float(metrics["accuracy"]) <= 1
    config.data.source = "imdb"
    with pytest.raises(ConfigError, match="data.source"):
        sentiment.sub_runs(config)
