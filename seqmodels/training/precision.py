"""Mixed precision: float32 master params and optimiser state, bfloat16 compute (`config.precision`).

    policy = precision.get_policy("bfloat16")         # config.precision: "float32" (default) | "bfloat16"
    task = precision.apply(task, policy)              # what train_and_evaluate does: every model family gets it

With c(.) the cast of every floating leaf to the compute dtype (integers, booleans and PRNG keys untouched)
and f(.) the cast back to float32 (jmp's policy, Micikevicius et al. 2018, without loss scaling: bfloat16
has float32's exponent range, so small gradients do not underflow):

    w                       float32 master params; the optimiser state is built from w: float32 too
    L(w) = f( loss_fn(c(w), c(batch)) )                the model sees bfloat16 params and inputs
    dL/dw = f( dL/dc(w) )                              the gradient of a cast is the cast back: float32
    w <- w + opt(dL/dw)                                the update in float32

Float32 islands inside a bfloat16 model, each in its one home: the softmax (attention/dot_product.py),
layer and RMS norm statistics (nn/norms.py), log-sum-exp and every reduction of a loss (training/losses.py).
A cell's carry takes its params' dtype (`initial_carry`), so a scan's carry stays bfloat16 from step to
step; a task's carried state (batch["carry"]) is cast like any floating input and returned in float32 with
the metrics. `final_eval` runs on the float32 master params, as given.
"""

import dataclasses
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from seqmodels.training.validate import ConfigError

__all__ = ["POLICIES", "Policy", "get_policy", "cast_floating", "wrap_loss", "wrap_eval", "apply"]


class Policy(NamedTuple):
    param_dtype: Any  # master params and optimiser state
    compute_dtype: Any  # what the model computes in
    output_dtype: Any  # loss and metrics returned


POLICIES = {
    "float32": Policy(jnp.float32, jnp.float32, jnp.float32),
    "bfloat16": Policy(jnp.float32, jnp.bfloat16, jnp.float32),
}


def get_policy(name: str | None) -> Policy:
    """The policy of `config.precision` (None: float32)."""
    name = "float32" if name is None else name
    if name not in POLICIES:
        raise ConfigError(f"precision: expected one of {list(POLICIES)} (bfloat16: float32 params and optimiser "
                          f"state, bfloat16 compute), got {name!r}")
    return POLICIES[name]


def cast_floating(tree: Any, dtype) -> Any:
    """Every floating leaf of `tree` cast to `dtype`; other leaves (token ids, lengths, masks, keys) as given."""

    def cast(x):
        return x.astype(dtype) if hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.floating) else x

    return jax.tree.map(cast, tree)


def wrap_loss(loss_fn: Callable, policy: Policy) -> Callable:
    """loss_fn(params, batch, key, train) computed in the policy's compute dtype, (loss, metrics) in float32."""

    def mixed(params, batch, key, train):
        out = loss_fn(cast_floating(params, policy.compute_dtype), cast_floating(batch, policy.compute_dtype),
                      key, train)
        return cast_floating(out, policy.output_dtype)

    return mixed


def wrap_eval(eval_fn: Callable, policy: Policy) -> Callable:
    """eval_fn(params, batch, key) computed in the compute dtype, its metrics in float32."""

    def mixed(params, batch, key):
        out = eval_fn(cast_floating(params, policy.compute_dtype), cast_floating(batch, policy.compute_dtype), key)
        return cast_floating(out, policy.output_dtype)

    return mixed


def apply(task, precision: str | None):
    """The Task with its loss_fn and eval_fn under the policy named `precision` (the same task for float32)."""
    policy = get_policy(precision)
    if policy == POLICIES["float32"]:
        return task
    eval_fn = None if task.eval_fn is None else wrap_eval(task.eval_fn, policy)
    return dataclasses.replace(task, loss_fn=wrap_loss(task.loss_fn, policy), eval_fn=eval_fn)
