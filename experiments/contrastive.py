"""Contrastive self-supervision on MNIST-1D (SimCLR's NT-Xent): linear probes and clusters of the embeddings.

    python -m experiments.contrastive --workdir=workdirs/contrastive

An encoder of the registry (config.model.name; output="class" with output_size = embed_dim: the
pooled read-out is the embedding h [E]) is trained two ways, each a sub-run in its own sub-workdir:

  contrastive  no labels: two random views of each sequence (seqmodels.models.contrastive.augment:
               shift, scaling, noise, time masking), z = g(h) through an MLP projection head, NT-Xent
               over the 2B views of a batch (the eval loss is the same on test batches, fixed keys)
  supervised   the same encoder + a linear layer h -> 10 classes, cross-entropy on the labels

Each embedding h (train and test sets, no augmentation), and beside them the raw inputs x [40] and the
embeddings of the untrained encoder (its init from config.seed), is scored by scikit-learn
(standardised features): a linear probe (LogisticRegression fit on the 4000 train embeddings, accuracy
on the 1000 test ones) and k-means / a Gaussian mixture with 10 clusters fit on the train embeddings,
scored on the test ones by cluster purity (seqmodels.training.losses.cluster_purity). `combine` writes
the table, a bar chart and PCA / t-SNE maps of the test embeddings coloured by digit.
"""

import functools
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.manifold import TSNE
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import StandardScaler

from experiments import launcher, models, summarize as reporting, tasks
from experiments.summarize import plt
from seqmodels.data import batching, packaged
from seqmodels.models import contrastive
from seqmodels.nn import dense
from seqmodels.training import ConfigError, Task, losses, validate

NUM_CLASSES = 10
SEQ_LEN = 40  # mnist1d's sequences
OBJECTIVES = ("contrastive", "supervised")
REPRESENTATIONS = ("raw", "random", "contrastive", "supervised")  # table order
MAPS = ("pca", "tsne")  # 2-D maps of the embeddings
REFERENCE = {
    "source": "Chen et al., 'A Simple Framework for Contrastive Learning of Visual Representations' (SimCLR), "
              "ICML 2020; Greydanus & Kobak, 'Scaling down deep learning with MNIST-1D', ICML 2024",
    "published_logistic_on_raw": 0.32,  # MNIST-1D paper's logistic regression, test accuracy
    "published_cnn_supervised": 0.94,  # its ConvBase
    "clustering": "scikit-learn KMeans (best of cluster_n_init), GaussianMixture (full covariance, k-means "
                  "init), 10 clusters, fit on the train embeddings, purity on the test ones",
}


@tasks.cached_per_data_config
def load_data(config) -> dict:
    validate.positive("data.num_samples", config.data.num_samples, integer=True)
    return packaged.mnist1d(num_samples=config.data.num_samples)


def build_encoder(config):
    """The registry model whose pooled output h [embed_dim] is the embedding."""
    embed_dim = validate.positive("embed_dim", config.embed_dim, integer=True)
    return models.build(config.model, models.Spec(input_size=1, output_size=embed_dim, output="class",
                                                  seq_len=SEQ_LEN))


def sub_runs(config) -> dict[str, ml_collections.ConfigDict]:
    """One sub-run per objective of config.objectives; each may override num_steps / optimizer / batch_size in
    its section config.<objective>. Everything is checked before data or training."""
    build_encoder(config)
    _augment_options(config)
    validate.positive("projection.temperature", config.projection.temperature)
    _maps(config)
    _score_options(config)
    subs = {}
    for name in [n.strip() for n in config.objectives.split(",") if n.strip()]:
        validate.choice("objectives", name, OBJECTIVES)
        sub = ml_collections.ConfigDict(config.to_dict())
        with sub.ignore_type():
            sub.objective = name
            sub.update({k: v for k, v in config[name].items() if k != "optimizer"})
            sub.optimizer.update(config[name].get("optimizer") or {})
        validate.train_config(sub)
        subs[name] = sub
    if not subs:
        raise ConfigError(f"objectives: expected some of {list(OBJECTIVES)}, got {config.objectives!r}")
    return subs


def _maps(config) -> list[str]:
    return [validate.choice("maps", m.strip(), MAPS) for m in config.maps.split(",") if m.strip()]


def _augment_options(config) -> dict:
    a = dict(config.augment)
    validate.choice("augment.shift_mode", a["shift_mode"], contrastive.SHIFT_MODES)
    validate.in_range("augment.max_shift", a["max_shift"], 0, SEQ_LEN - 1)
    validate.in_range("augment.mask_fraction", a["mask_fraction"], 0.0, 1.0)
    validate.non_negative("augment.noise_std", a["noise_std"])
    if not 0 <= a["scale_low"] <= a["scale_high"]:
        raise ConfigError(f"augment.scale_low / scale_high: expected 0 <= low <= high, got {a['scale_low']}, "
                          f"{a['scale_high']}")
    return a


def embedder(encoder, batch: int = 500):
    """(params, x [N, T, 1]) -> h [N, E] (numpy), no augmentation, no dropout; chunks of `batch` rows (the last
    padded), so one compilation serves every set."""
    fn = jax.jit(lambda p, xs: encoder.apply_batch(p, xs, deterministic=True))

    def embed(params, x: np.ndarray) -> np.ndarray:
        chunks = [x[i:i + batch] for i in range(0, len(x), batch)]
        return np.concatenate([np.asarray(fn(params, np.resize(c, (batch, *c.shape[1:]))))[:len(c)]
                               for c in chunks])
    return embed


def score(train: np.ndarray, y_train: np.ndarray, test: np.ndarray, y_test: np.ndarray, seed: int,
          probe_c: float = 1.0, n_init: int = 10) -> dict:
    """Linear-probe test accuracy, and k-means (best of n_init) / GMM (k-means init) purity of the test points,
    the clusters fit on train."""
    scaler = StandardScaler().fit(train)
    train, test = scaler.transform(train), scaler.transform(test)
    probe = LogisticRegression(C=probe_c, max_iter=2000).fit(train, y_train)
    kmeans = KMeans(NUM_CLASSES, n_init=n_init, random_state=seed).fit(train)
    gmm = GaussianMixture(NUM_CLASSES, covariance_type="full", reg_covar=1e-4, random_state=seed).fit(train)
    return {"probe_accuracy": float(probe.score(test, y_test)),
            "kmeans_purity": float(losses.cluster_purity(y_test, kmeans.predict(test))),
            "gmm_purity": float(losses.cluster_purity(y_test, gmm.predict(test)))}


def _score_options(config) -> dict:
    return {"seed": config.seed, "probe_c": validate.positive("probe_c", config.probe_c),
            "n_init": validate.positive("cluster_n_init", config.cluster_n_init, integer=True)}


def make_task(config, workdir=None) -> Task:
    data = load_data(config)
    encoder = build_encoder(config)
    p = config.projection
    head = contrastive.projection_head(config.embed_dim, p.hidden_size, p.out_dim)
    options = _augment_options(config)
    embed = embedder(encoder)

    def features(params, xs, key, train):
        return encoder.apply_batch(params["encoder"], xs, key=key, deterministic=not train)  # [B, E]

    if config.objective == "contrastive":
        def init_params(key):
            k_enc, k_head = jax.random.split(key)
            return {"encoder": encoder.init(k_enc), "projection": head.init(k_head)}

        def loss_fn(params, batch, key, train):
            k_aug, k_drop = jax.random.split(key)
            v1, v2 = contrastive.two_views(k_aug, batch["x"], **options)  # [B, T, 1] each
            h = features(params, jnp.concatenate([v1, v2]), k_drop, train)  # [2B, E]
            z1, z2 = jnp.split(jax.vmap(functools.partial(head.apply, params["projection"]))(h), 2)  # [B, P]
            valid = batch.get("valid")
            return contrastive.nt_xent(z1, z2, p.temperature, valid), {
                "pair_accuracy": contrastive.pair_accuracy(z1, z2, valid), **tasks.example_weight(valid)}
    else:
        def init_params(key):
            k_enc, k_out = jax.random.split(key)
            return {"encoder": encoder.init(k_enc), "classifier": dense.init(k_out, config.embed_dim, NUM_CLASSES)}

        def loss_fn(params, batch, key, train):
            logits = dense.apply(params["classifier"], features(params, batch["x"], key, train))  # [B, 10]
            mask = batch.get("valid")
            return losses.cross_entropy(logits, batch["y"], mask), {
                "accuracy": losses.accuracy(logits, batch["y"], mask), **tasks.example_weight(mask)}

    def final_eval(params):
        h_train, h_test = (embed(params["encoder"], data[s]["x"]) for s in ("train", "test"))
        if workdir is not None and jax.process_index() == 0:
            np.savez_compressed(Path(workdir) / "embeddings.npz", train=h_train, test=h_test)
        return {"num_params": models.num_params(params),
                **score(h_train, data["train"]["y"], h_test, data["test"]["y"], **_score_options(config))}

    if config.batch_size > len(data["train"]["y"]):
        raise ConfigError(f"batch_size: {config.batch_size} is more than the {len(data['train']['y'])} training "
                          f"sequences")
    return Task(init_params=init_params, loss_fn=loss_fn,
                train_iterator=batching.TrainIterator(batching.ArraySource(data["train"]), config.batch_size,
                                                      seed=config.seed),
                eval_batches=lambda: batching.eval_batches(batching.ArraySource(data["test"]), config.batch_size),
                final_eval=final_eval, reference=REFERENCE)


def combine(config, workdir, results: dict) -> dict:
    """Raw inputs and the untrained encoder scored beside the trained ones -> results.json, table, plots."""
    workdir = Path(workdir)
    data = load_data(config)
    y_train, y_test = data["train"]["y"], data["test"]["y"]
    reps = {"raw": (data["train"]["x"][..., 0], data["test"]["x"][..., 0])}
    encoder = build_encoder(config)
    init_key = jax.random.split(jax.random.key(config.seed), 3)[0]  # the training loop's init key
    random_params = encoder.init(jax.random.split(init_key)[0])  # the sub-runs' encoder before training
    embed = embedder(encoder)
    reps["random"] = tuple(embed(random_params, data[s]["x"]) for s in ("train", "test"))
    table = {name: score(reps[name][0], y_train, reps[name][1], y_test, **_score_options(config))
             for name in ("raw", "random")}
    for name, result in results.items():
        saved = np.load(workdir / name / "embeddings.npz")
        reps[name] = (saved["train"], saved["test"])
        m = result["metrics"]
        table[name] = {k: m[k] for k in ("probe_accuracy", "kmeans_purity", "gmm_purity")}
        table[name].update(train_seconds=result["timing"]["train_seconds"], steps=result["steps"]["last"])
        if name == "supervised":
            table[name]["test_accuracy"] = m["accuracy"]
        else:
            table[name]["test_pair_accuracy"] = m["pair_accuracy"]
    table = {n: table[n] for n in REPRESENTATIONS if n in table}
    combined = {
        "metrics": {f"{k}_{n}": v for n, row in table.items() for k, v in row.items()
                    if k in ("probe_accuracy", "kmeans_purity", "gmm_purity")},
        "representations": table, "reference": REFERENCE, "config": config.to_dict(),
        "timing": {"train_seconds": sum(r.get("train_seconds", 0.0) for r in table.values())},
    }
    rows = [[n, *(f"{100 * r[k]:.1f}%" for k in ("probe_accuracy", "kmeans_purity", "gmm_purity"))]
            for n, r in table.items()]
    if jax.process_index() == 0:
        reporting.write_summary(workdir, combined, title="MNIST-1D: contrastive embeddings", table=
                                reporting.markdown_table(["representation", "linear probe", "k-means purity",
                                                          "GMM purity"], rows))
        plot_scores(table, workdir / "plots" / "scores.png")
        for method in _maps(config):
            plot_map(reps, y_test, method, workdir / "plots" / f"embeddings_{method}.png", config.seed)
    return combined


def plot_scores(table: dict, path: Path) -> None:
    keys = ("probe_accuracy", "kmeans_purity", "gmm_purity")
    fig, ax = plt.subplots(figsize=(7, 4))
    width = 0.8 / len(table)
    for i, (name, row) in enumerate(table.items()):
        xs = np.arange(len(keys)) + (i - (len(table) - 1) / 2) * width
        ax.bar(xs, [100 * row[k] for k in keys], width, label=name)
    ax.set_xticks(np.arange(len(keys)), ["linear probe (test acc.)", "k-means purity", "GMM purity"])
    ax.set_ylabel("%")
    ax.set_ylim(0, 100)
    ax.set_title("MNIST-1D test set: which representation?")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_map(reps: dict, y: np.ndarray, method: str, path: Path, seed: int) -> None:
    """2-D maps (PCA or t-SNE) of each representation's standardised test embeddings, coloured by digit."""
    fig, axes = plt.subplots(1, len(reps), figsize=(3.2 * len(reps), 3.4))
    for ax, (name, (_, test)) in zip(np.atleast_1d(axes), reps.items()):
        x = StandardScaler().fit_transform(test)
        xy = (PCA(2, random_state=seed) if method == "pca"
              else TSNE(2, init="pca", perplexity=30, random_state=seed)).fit_transform(x)
        points = ax.scatter(xy[:, 0], xy[:, 1], c=y, cmap="tab10", s=4, vmin=-0.5, vmax=9.5)
        ax.set_title(name, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(points, ax=axes, ticks=range(10), label="digit")
    fig.suptitle(f"MNIST-1D test embeddings, {'PCA' if method == 'pca' else 't-SNE'}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


if __name__ == "__main__":
    launcher.run(make_task, sub_runs=sub_runs, combine=combine)
