"""Optimisers, learning-rate schedules and penalties, all from one `make_optimizer(config)`.

The result is one `optax.GradientTransformation`, a chain applied to the
gradient g of the data loss, in this order:

    g <- clip(g)                 g * min(1, clip_norm / ||g||)   (global norm over all params)
    g <- g + l1 * sign(w)        L1 penalty l1 * sum|w|, masked   (lecture 4: sparse weights)
    g <- g + l2 * w              L2 penalty l2/2 * sum w^2, masked (coupled: Adam rescales it)
    u <- optimiser(g)            adam | adamw | sgd (momentum, nesterov) | rmsprop, with lr(s)

`weight_decay` is the optimiser's own decay: decoupled for `adamw`
(w <- w - lr * wd * w after Adam's scaling, Loshchilov & Hutter 2019);
for `sgd` and `rmsprop` it is added to the gradient (PyTorch's meaning, the
same as `l2`); plain `adam` refuses it (ask for `adamw` or `l2`). Penalties
and decay use a mask: by default only weights with ndim >= 2 (matrices,
kernels, embeddings), not biases or norm scales.

Learning-rate schedule, for step s (the number of updates already made):

    lr(s) = learning_rate * w(s) * d(s)
    w(s)  = min(1, s / warmup_steps)                            linear warm-up (1 if warmup_steps = 0)
    d(s)  = 1                                                   schedule="constant"
          = a + (1 - a) * (1 + cos(pi * min(s - s_w, n) / n)) / 2   schedule="cosine", s_w = warmup_steps,
                                                                n = decay_steps - s_w, a = end_factor
          = step_factor ** #{b in step_boundaries : s >= b}      schedule="step"

Optimiser config fields (a ConfigDict or dict; every field but `name` and
`learning_rate` is optional):

    name            adam | adamw | sgd | rmsprop
    learning_rate   peak learning rate (> 0)
    schedule        constant | cosine | step                     (constant)
    warmup_steps    linear warm-up length                         (0)
    decay_steps     cosine: total schedule length incl. warm-up  (num_steps)
    end_factor      cosine: final lr / peak lr                    (0.0)
    step_boundaries step: steps where lr is multiplied by ...     (())
    step_factor     ... this factor                               (0.1)
    b1, b2, eps     adam / adamw                                  (0.9, 0.999, 1e-8)
    momentum        sgd (0.0 = none), rmsprop                     (0.0)
    nesterov        sgd                                           (False)
    rms_decay       rmsprop's moving-average decay                (0.9)
    weight_decay    see above                                     (0.0; adamw: 1e-4)
    clip_norm       clip by global norm (0 or None = off)         (None)
    l1, l2          penalty strengths                             (0.0)
    decay_mask      weights (ndim >= 2) | all                     (weights)
"""

import math
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp
import optax

from seqmodels.array_types import Params

__all__ = [
    "OPTIMIZERS", "SCHEDULES", "DECAY_MASKS", "make_optimizer", "make_schedule",
    "weights_mask", "add_l1_penalty", "regularization_loss",
]

OPTIMIZERS = ("adam", "adamw", "rmsprop", "sgd")
SCHEDULES = ("constant", "cosine", "step")
DECAY_MASKS = ("all", "weights")
_FIELDS = {
    "name": None, "learning_rate": None, "schedule": "constant", "warmup_steps": 0,
    "decay_steps": None, "end_factor": 0.0, "step_boundaries": (), "step_factor": 0.1,
    "b1": 0.9, "b2": 0.999, "eps": 1e-8, "momentum": 0.0, "nesterov": False, "rms_decay": 0.9,
    "weight_decay": None, "clip_norm": None, "l1": 0.0, "l2": 0.0, "decay_mask": "weights",
}


def weights_mask(params: Params) -> Any:
    """True for weights with ndim >= 2 (decayed / penalised), False for biases and norm scales."""
    return jax.tree.map(lambda p: jnp.ndim(p) >= 2, params)


def _all_mask(params: Params) -> Any:
    return jax.tree.map(lambda p: True, params)


def add_l1_penalty(l1: float, mask: Callable[[Params], Any] | None = None) -> optax.GradientTransformation:
    """g <- g + l1 * sign(w): the (sub)gradient of the penalty l1 * sum|w| (sign(0) = 0)."""

    def init_fn(params):
        del params
        return optax.EmptyState()

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError("add_l1_penalty needs params: call update(grads, state, params)")
        updates = jax.tree.map(lambda g, w: g + l1 * jnp.sign(w).astype(g.dtype), updates, params)
        return updates, state

    transform = optax.GradientTransformation(init_fn, update_fn)
    return optax.masked(transform, mask) if mask is not None else transform


def regularization_loss(params: Params, *, l1: float = 0.0, l2: float = 0.0,
                        mask: Callable[[Params], Any] | None = weights_mask) -> jax.Array:
    """The penalty whose gradient `make_optimizer` adds: l1 * sum|w| + l2/2 * sum w^2 over masked leaves.

    Not used in training (the optimiser adds the gradient directly); here to
    report the penalty and as the reference the optimiser is tested against.
    """
    leaves = jax.tree.leaves(params)
    keep = jax.tree.leaves(mask(params)) if mask is not None else [True] * len(leaves)
    total = jnp.zeros((), jnp.float32)
    for w, k in zip(leaves, keep):
        if k:
            w = w.astype(jnp.float32)
            total = total + l1 * jnp.sum(jnp.abs(w)) + 0.5 * l2 * jnp.sum(jnp.square(w))
    return total


def _fields(config: Mapping[str, Any]) -> dict[str, Any]:
    """Config as a dict with defaults filled in; unknown fields raise (they are usually typos)."""
    config = dict(config.items()) if hasattr(config, "items") else dict(config)
    unknown = sorted(set(config) - set(_FIELDS))
    if unknown:
        raise ValueError(f"optimizer config: unknown field(s) {unknown}; valid fields: {sorted(_FIELDS)}")
    fields = {**_FIELDS, **config}
    if fields["name"] not in OPTIMIZERS:
        raise ValueError(f"optimizer.name: unknown optimizer {fields['name']!r}; valid choices: {list(OPTIMIZERS)}")
    if fields["schedule"] not in SCHEDULES:
        raise ValueError(f"optimizer.schedule: unknown schedule {fields['schedule']!r}; "
                         f"valid choices: {list(SCHEDULES)}")
    if fields["decay_mask"] not in DECAY_MASKS:
        raise ValueError(f"optimizer.decay_mask: unknown mask {fields['decay_mask']!r}; "
                         f"valid choices: {list(DECAY_MASKS)}")
    lr = fields["learning_rate"]
    if lr is None or not isinstance(lr, (int, float)) or not lr > 0 or not math.isfinite(lr):
        raise ValueError(f"optimizer.learning_rate: expected a positive number, got {lr!r}")
    for name in ("warmup_steps", "end_factor", "step_factor", "momentum", "l1", "l2", "eps"):
        if fields[name] < 0:
            raise ValueError(f"optimizer.{name}: expected a value >= 0, got {fields[name]!r}")
    for name in ("b1", "b2", "rms_decay"):
        if not 0 <= fields[name] < 1:
            raise ValueError(f"optimizer.{name}: expected a value in [0, 1), got {fields[name]!r}")
    if fields["weight_decay"] is None:
        fields["weight_decay"] = 1e-4 if fields["name"] == "adamw" else 0.0
    if fields["weight_decay"] < 0:
        raise ValueError(f"optimizer.weight_decay: expected a value >= 0, got {fields['weight_decay']!r}")
    if fields["name"] == "adam" and fields["weight_decay"] > 0:
        raise ValueError("optimizer.weight_decay: plain adam has no weight decay; use name='adamw' "
                         "(decoupled decay) or l2 (a penalty added to the gradient)")
    if fields["clip_norm"] is not None and fields["clip_norm"] < 0:
        raise ValueError(f"optimizer.clip_norm: expected a value > 0 (or 0/None for no clipping), "
                         f"got {fields['clip_norm']!r}")
    return fields


def make_schedule(config: Mapping[str, Any], *, num_steps: int | None = None) -> Callable[[Any], jax.Array]:
    """lr(s) of the module docstring, from the optimiser config."""
    f = _fields(config)
    lr, warmup, kind = float(f["learning_rate"]), int(f["warmup_steps"]), f["schedule"]
    if kind == "cosine":
        decay_steps = f["decay_steps"] if f["decay_steps"] is not None else num_steps
        if decay_steps is None or decay_steps <= warmup:
            raise ValueError(f"optimizer.decay_steps: the cosine schedule needs decay_steps > warmup_steps "
                             f"({warmup}), got {decay_steps!r} (it defaults to num_steps)")
        n = decay_steps - warmup
    boundaries = jnp.asarray(sorted(int(b) for b in f["step_boundaries"]), jnp.int32)
    if kind == "step" and boundaries.size and int(boundaries[0]) < 0:
        raise ValueError(f"optimizer.step_boundaries: expected steps >= 0, got {tuple(f['step_boundaries'])}")

    def schedule(step):
        s = jnp.asarray(step, jnp.float32)
        warm = jnp.minimum(1.0, s / warmup) if warmup > 0 else 1.0
        if kind == "constant":
            decay = 1.0
        elif kind == "cosine":
            progress = jnp.clip(s - warmup, 0.0, n) / n
            decay = f["end_factor"] + (1.0 - f["end_factor"]) * 0.5 * (1.0 + jnp.cos(jnp.pi * progress))
        else:
            passed = jnp.sum(jnp.asarray(step) >= boundaries) if boundaries.size else 0
            decay = jnp.asarray(f["step_factor"], jnp.float32) ** passed
        return lr * warm * decay

    return schedule


def make_optimizer(config: Mapping[str, Any], *, num_steps: int | None = None,
                   mask: Callable[[Params], Any] | None = None) -> optax.GradientTransformation:
    """The optax chain of the module docstring. `mask` (params -> bool tree) overrides `decay_mask`."""
    f = _fields(config)
    if mask is None:
        mask = weights_mask if f["decay_mask"] == "weights" else _all_mask
    lr = make_schedule(config, num_steps=num_steps)
    chain = []
    if f["clip_norm"]:
        chain.append(optax.clip_by_global_norm(f["clip_norm"]))
    if f["l1"] > 0:
        chain.append(add_l1_penalty(f["l1"], mask))
    if f["l2"] > 0:
        chain.append(optax.add_decayed_weights(f["l2"], mask))
    name, wd = f["name"], f["weight_decay"]
    if name in ("sgd", "rmsprop") and wd > 0:
        chain.append(optax.add_decayed_weights(wd, mask))
    if name == "adam":
        chain.append(optax.adam(lr, b1=f["b1"], b2=f["b2"], eps=f["eps"]))
    elif name == "adamw":
        chain.append(optax.adamw(lr, b1=f["b1"], b2=f["b2"], eps=f["eps"], weight_decay=wd, mask=mask))
    elif name == "sgd":
        chain.append(optax.sgd(lr, momentum=f["momentum"] or None, nesterov=f["nesterov"]))
    else:
        chain.append(optax.rmsprop(lr, decay=f["rms_decay"], eps=f["eps"], momentum=f["momentum"] or None))
    return optax.chain(*chain)
