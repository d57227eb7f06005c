"""Masked patch prediction (MAE, He et al. 2022) on MNIST-1D, then fine-tuning with few labels vs from scratch.

    python -m experiments.masked_pretraining --workdir=workdirs/masked_pretraining \
        [--config=experiments/configs/masked_pretraining.py:small]

Data: MNIST-1D (seqmodels.data.packaged.mnist1d, x [40, 1]). Sub-runs, one after another: "pretrain" (the
masked autoencoder of seqmodels.models.masked_autoencoder on ALL training inputs, labels unused; its test
loss is the masked-patch MSE on the test inputs; it saves the encoder to <workdir>/pretrain/encoder.npz and
plots masked test sequences with their reconstructions), then for every seed, label fraction (stratified
per seed: experiments/label_fractions.py) and init ("scratch" | "pretrained") a classifier: the encoder on
all patches, the mean of its states, a dense read-out, all fine-tuned; "pretrained" starts its encoder from
encoder.npz, the read-out random either way. `combine` writes the table (test accuracy of the last step,
mean +- std over seeds) and plots/accuracy.png, plots/reconstructions.png.
"""

import dataclasses
import functools
import shutil
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from experiments import label_fractions, launcher, models, summarize as reporting, tasks
from experiments.summarize import plt
from seqmodels.data import batching, packaged
from seqmodels.models import heads
from seqmodels.models.masked_autoencoder import MaskedAutoencoder
from seqmodels.models.transformer import Block, Stack
from seqmodels.training import ConfigError, Task

INITS = ("scratch", "pretrained")
NUM_CLASSES, SEQ_LEN = 10, 40


def build(config) -> MaskedAutoencoder:
    m = config.model
    try:
        encoder = Stack(Block(m.d_model, m.num_heads, m.d_ff, drop_rate=m.drop_rate), m.num_layers)
        decoder = Stack(Block(m.decoder_d_model, m.decoder_num_heads, m.decoder_d_ff), m.decoder_num_layers)
        return MaskedAutoencoder(SEQ_LEN, 1, m.patch_size, encoder, decoder, mask_ratio=m.mask_ratio,
                                 norm_pix_loss=bool(m.norm_pix_loss))
    except ValueError as e:
        raise ConfigError(f"model: {e}") from None


def sub_runs(config) -> dict[str, ml_collections.ConfigDict]:
    build(config)  # a bad model section stops the run before any data or training
    subs = label_fractions.sub_runs(config, INITS)
    if "pretrained" in config.inits:  # first: the fine-tuning sub-runs load its encoder
        subs = {"pretrain": label_fractions.pretrain_sub_run(config), **subs}
    return subs


@tasks.cached_per_data_config
def load_data(config) -> dict:
    return packaged.mnist1d(num_samples=config.data.num_samples)


def classifier(mae: MaskedAutoencoder, encoder_file: Path | None) -> heads.SequenceClassifier:
    """Encoder on all patches, mean over patches, dense read-out; with `encoder_file` the encoder starts from it."""
    backbone = mae.backbone()
    if encoder_file is not None:
        backbone = dataclasses.replace(backbone, init=lambda key: label_fractions.load_params(
            encoder_file, mae.init_encoder(key), "masked_pretraining"))
    return heads.SequenceClassifier(backbone, NUM_CLASSES, pool="mean")


def make_task(config, workdir=None) -> Task:
    data, mae = load_data(config), build(config)
    if config.stage == "pretrain":
        return pretrain_task(config, workdir, mae, data)
    keep = label_fractions.labelled_subset(data["train"]["y"], config.data.label_fraction, config.seed)
    train = {k: v[keep] for k, v in data["train"].items()}
    encoder_file = Path(workdir).parent / "pretrain" / "encoder.npz" if config.init == "pretrained" else None
    model = classifier(mae, encoder_file)
    batch = ml_collections.ConfigDict({"batch_size": min(config.batch_size, len(keep)), "seed": config.seed})
    loss_fn = functools.partial(tasks.classification_loss, model, with_lengths=False)  # fixed-size inputs
    return tasks.array_task(batch, model, loss_fn, train, data["test"],
                            reference={"chance": 1 / NUM_CLASSES, "num_labels": int(len(keep))})


def pretrain_task(config, workdir, mae: MaskedAutoencoder, data: dict) -> Task:
    """The masked autoencoder on all training inputs (no labels); eval: the masked-patch MSE on the test inputs."""
    def loss_fn(params, batch, key, train):
        per_example = mae.example_losses(params, batch["x"], key, deterministic=not train)  # [B]
        mask = batch.get("valid")  # eval batches: the filler copies that complete the last batch count for nothing
        loss = per_example.mean() if mask is None else jnp.where(mask, per_example, 0.0).sum() / mask.sum()
        return loss, tasks.example_weight(mask)

    def final_eval(params):
        if workdir is not None and jax.process_index() == 0:
            label_fractions.save_params(Path(workdir) / "encoder.npz", params["encoder"])
            plot_reconstructions(mae, params, data["test"]["x"][:6], Path(workdir) / "plots" / "reconstructions.png")
        return {"num_unlabelled": len(data["train"]["x"]), "num_params": models.num_params(params)}

    test_x = data["test"]["x"]
    return Task(init_params=mae.init, loss_fn=loss_fn,
                train_iterator=batching.TrainIterator(batching.ArraySource({"x": data["train"]["x"]}),
                                                      config.batch_size, seed=config.seed),
                eval_batches=lambda: batching.eval_batches(batching.ArraySource({"x": test_x}), config.batch_size),
                final_eval=final_eval,
                reference={"mse_predicting_zero": float(np.mean(test_x ** 2)),  # the mean of the standardised data
                           "mask_ratio": config.model.mask_ratio})


def plot_reconstructions(mae: MaskedAutoencoder, params, xs: np.ndarray, path: Path) -> None:
    """Test sequences (grey), their masked patches (shaded) and the decoder's prediction there (red)."""
    fig, axes = plt.subplots(2, len(xs) // 2, figsize=(3 * len(xs) // 2, 4.5), sharey=True)
    for i, (x, ax) in enumerate(zip(xs, np.ravel(axes))):
        filled, masked = (np.asarray(a) for a in mae.reconstruct(params, x, jax.random.key(i)))
        t = np.arange(len(x))
        ax.plot(t, x[:, 0], color="0.4", lw=1.5, label="input")
        ax.plot(t, np.where(masked, filled[:, 0], np.nan), color="tab:red", lw=1.5, label="prediction")
        for start in t[masked][::mae.patch_size]:
            ax.axvspan(start - 0.5, start + mae.patch_size - 0.5, color="tab:red", alpha=0.1, lw=0)
        ax.set_xticks([])
    np.ravel(axes)[0].legend(fontsize=7, loc="lower left")
    fig.suptitle(f"MAE on MNIST-1D test sequences: {100 * mae.mask_ratio:g}% of the patches masked (shaded)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def combine(config, workdir, results: dict) -> dict:
    workdir = Path(workdir)
    table = label_fractions.collect(config, results, accuracy=lambda r: r["metrics"]["accuracy"],
                                    num_labels=lambda r: r["reference"]["num_labels"])
    pre = results.get("pretrain")
    combined = {
        "metrics": {f"test_accuracy_{n}": m["test_accuracy_mean"] for n, m in table.items()},
        "table": table,
        "pretrain": pre and {"metrics": pre["metrics"], "reference": pre["reference"],
                             "train_seconds": pre["timing"]["train_seconds"]},
        "reference": {"chance": 1 / NUM_CLASSES,
                      "source": "He et al. 2022 (MAE): masked pretraining helps fine-tuning, most with few labels"},
        "config": config.to_dict(),
        "timing": {"train_seconds": sum(r["timing"]["train_seconds"] for r in results.values())},
    }
    if jax.process_index() == 0:
        reporting.write_summary(workdir, combined, title="MAE pretraining on MNIST-1D, then fine-tuning",
                                table=reporting.markdown_table(["labels", "init", "test accuracy (%)"],
                                                               [label_fractions.row(m) for m in table.values()]))
        label_fractions.plot(table, config, workdir / "plots" / "accuracy.png", xlabel="labelled training sequences",
                             title="Transformer on MNIST-1D: from scratch vs MAE-pretrained")
        if pre is not None:
            shutil.copy(workdir / "pretrain" / "plots" / "reconstructions.png", workdir / "plots")
    return combined


if __name__ == "__main__":
    launcher.run(make_task, sub_runs=sub_runs, combine=combine)
