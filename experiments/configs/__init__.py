"""Config files of the experiments (`--config=experiments/configs/<name>.py:<variant>`), and the helpers
they share."""

import ml_collections

SELECT_SUFFIX = "_valid"


def optimizer_config(name: str, learning_rate: float, **fields) -> ml_collections.ConfigDict:
    """`config.optimizer` of an experiment (fields: seqmodels.training.optimizers). It always holds
    `clip_norm` (0.0 = off), so `--config.optimizer.clip_norm=...`, the NaN guard's advice, parses for every
    experiment: ml_collections refuses to override a field the config lacks, or one set to None."""
    return ml_collections.ConfigDict({"name": name, "learning_rate": learning_rate, "clip_norm": 0.0, **fields})


def model_variant(variant: str | None, models: tuple[str, ...], default: str, *,
                  select: bool = True) -> tuple[str, bool, bool]:
    """'<model>', 'small', 'small_<model>', each optionally + '_valid' (where `select`) -> (model, small,
    select_on_valid)."""
    rest = variant or default
    selected = select and rest.endswith(SELECT_SUFFIX)
    rest = rest[:-len(SELECT_SUFFIX)] if selected else rest
    small = rest == "small" or rest.startswith("small_")
    name = default if rest == "small" else rest[len("small_"):] if small else rest
    if name not in models:
        suffixes = ("", SELECT_SUFFIX) if select else ("",)
        valid = [v + s for v in [*models, "small", *(f"small_{m}" for m in models)] for s in suffixes]
        raise ValueError(f"unknown variant {variant!r}; valid variants: {valid}")
    return name, small, selected


def select_on_validation(config, *, num_valid: int, metric: str, eval_every: int) -> None:
    """A held-out validation set (data.num_valid sequences from their own seed; the training data are
    unchanged), evaluated beside the test set every `eval_every` steps; the reported parameters are those
    of the best validation `metric` (restore_best), so the test set is never used to choose."""
    config.data.num_valid = num_valid
    config.eval_every = eval_every
    config.restore_best = True
    config.early_stopping = dict(metric=f"valid_{metric}", mode="min", patience=0)  # never stops: selects only


def few_label_fields(config: ml_collections.ConfigDict) -> None:
    """The fields of the few-label protocol (experiments/label_fractions.py): seeds, inits, stage, init."""
    config.seed = 0  # overwritten per sub-run by each of `seeds`
    config.seeds = (0, 1, 2)  # one fine-tuning sub-run per seed x label fraction x init
    config.inits = ("scratch", "pretrained")
    config.stage = "finetune"  # the "pretrain" sub-run sets "pretrain"
    config.init = "scratch"  # set per sub-run
