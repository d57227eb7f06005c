"""Train state and the pure, jitted train and eval steps.

The state is a `flax.struct` dataclass of arrays only (so Orbax saves it and
`jax.tree` maps it as is); the optimiser itself stays outside, in the step:

    state = create_train_state(params, optimizer)
    train_step = make_train_step(loss_fn, optimizer)        # jitted
    state, metrics = train_step(state, batch, key)          # one update
    eval_step = make_eval_step(loss_fn)
    metrics = eval_step(state.params, batch, key)

`loss_fn(params, batch, key, train) -> (loss, metrics)` is the task's loss on a
whole batch (the model vmaps over the batch inside it); `key` is the run's
root PRNG key and the step derives a fresh key for step s as
`fold_in(key, s)`, so dropout masks depend only on (seed, step): a resumed run
draws the same masks as an uninterrupted one.

One update with g = grad of the loss at w, and optax's transform `opt`:

    u, opt_state = opt.update(g, opt_state, w);   w <- w + u;   step <- step + 1

`first_nonfinite_step` records the first update (1-based: the value `step`
has after it) whose loss or gradient norm was NaN or Inf, or -1. The step
does not stop by itself (that would need a device-to-host sync every step);
the loop reads this field when it logs or saves and stops with a message
naming the step, so non-finite parameters are never checkpointed.

With a `jax.sharding.Mesh`, the step is compiled with the state replicated
and the batch split over the mesh's "data" axis (see `parallel.py`); XLA
inserts the gradient all-reduce. The same function without a mesh is the
single-device reference it is tested against.
"""

from typing import Any, Callable

import flax
import jax
import jax.numpy as jnp
import optax

from seqmodels.array_types import Key, Params
from seqmodels.training import parallel

__all__ = ["TrainState", "LossFn", "create_train_state", "make_train_step", "make_eval_step"]

Batch = Any  # a dict of arrays with a leading batch axis [B, ...]
Metrics = dict[str, jax.Array]
LossFn = Callable[[Params, Batch, Key, bool], tuple[jax.Array, Metrics]]


@flax.struct.dataclass
class TrainState:
    step: jax.Array  # shape=(), int32: number of updates made
    params: Params  # the model's nested dict of arrays
    opt_state: optax.OptState  # optax's state for `params`
    first_nonfinite_step: jax.Array  # shape=(), int32: first update with NaN/Inf loss or gradient, or -1


def create_train_state(params: Params, optimizer: optax.GradientTransformation) -> TrainState:
    """Step 0, the optimiser state for `params`, no non-finite step yet."""
    return TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=optimizer.init(params),
                      first_nonfinite_step=jnp.full((), -1, jnp.int32))


def make_train_step(loss_fn: LossFn, optimizer: optax.GradientTransformation, *,
                    mesh: jax.sharding.Mesh | None = None, donate: bool = True
                    ) -> Callable[[TrainState, Batch, Key], tuple[TrainState, Metrics]]:
    """jit(train_step); with `mesh`, state replicated and batch sharded over its data axis.

    Metrics are the task's metrics plus `loss` and `grad_norm` (global norm
    of the data-loss gradient, before clipping and penalties). With `donate`
    the input state's buffers are reused for the output (half the memory):
    do not touch the old state after the call (donate=False to keep it).
    """

    def train_step(state: TrainState, batch: Batch, key: Key) -> tuple[TrainState, Metrics]:
        step_key = jax.random.fold_in(key, state.step)

        def objective(params):
            return loss_fn(params, batch, step_key, True)

        (loss, metrics), grads = jax.value_and_grad(objective, has_aux=True)(state.params)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        grad_norm = optax.global_norm(grads)
        step = state.step + 1
        finite = jnp.isfinite(loss) & jnp.isfinite(grad_norm)
        first_bad = jnp.where((state.first_nonfinite_step < 0) & ~finite, step, state.first_nonfinite_step)
        new_state = TrainState(step=step, params=params, opt_state=opt_state, first_nonfinite_step=first_bad)
        return new_state, {**metrics, "loss": loss, "grad_norm": grad_norm}

    donate_argnums = (0,) if donate else ()
    if mesh is None:
        return jax.jit(train_step, donate_argnums=donate_argnums)
    replicated, sharded = parallel.replicated(mesh), parallel.batch_sharded(mesh)
    return jax.jit(train_step, in_shardings=(replicated, sharded, replicated),
                   out_shardings=(replicated, replicated), donate_argnums=donate_argnums)


def make_eval_step(loss_fn: LossFn, *, mesh: jax.sharding.Mesh | None = None,
                   eval_fn: Callable[[Params, Batch, Key], Metrics] | None = None
                   ) -> Callable[[Params, Batch, Key], Metrics]:
    """jit(eval_step): the task's metrics plus `loss`, with train=False; or `eval_fn`'s metrics where the
    task evaluates otherwise than by its loss.

    With `mesh`, the batch may be sharded over the data axis or replicated
    (the shardings of the arguments decide); the metrics come back replicated.
    """

    def eval_step(params: Params, batch: Batch, key: Key) -> Metrics:
        if eval_fn is not None:
            return eval_fn(params, batch, key)
        loss, metrics = loss_fn(params, batch, key, False)
        return {**metrics, "loss": loss}

    if mesh is None:
        return jax.jit(eval_step)
    return jax.jit(eval_step, out_shardings=parallel.replicated(mesh))
