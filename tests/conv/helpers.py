"""Shared helpers for the conv tests: numpy-drawn inputs and parameters (no
PRNG compilation per shape), streaming through lax.scan, receptive spans."""

import jax
import jax.numpy as jnp
import numpy as np

from tests.helpers import adam_train  # noqa: F401  (the conv tests call helpers.adam_train)


def normal(shape, seed=0, scale=1.0):
    return jnp.asarray(scale * np.random.default_rng(seed).normal(size=shape), jnp.float32)


def randomize(params, seed=0, scale=0.5):
    """Every leaf replaced by N(0, scale^2) numbers (biases too, so nothing is zero)."""
    leaves, treedef = jax.tree.flatten(params)
    rng = np.random.default_rng(seed)
    return jax.tree.unflatten(treedef, [jnp.asarray(scale * rng.normal(size=l.shape), l.dtype)
                                        for l in leaves])


def stream(step, state, xs, extras=None):
    """All outputs of a step function run over xs (leading axis T), jitted.

    (Tests jit whole computations: one compilation is cheaper than compiling
    every eager op for every new shape a hypothesis example brings.)
    """
    if extras is None:
        return jax.jit(lambda state, xs: jax.lax.scan(step, state, xs)[1])(state, xs)
    run = lambda state, xs, extras: jax.lax.scan(lambda s, xe: step(s, *xe), state, (xs, extras))[1]
    return jax.jit(run)(state, xs, extras)


def input_span(f, x, out_index=-1):
    """Indices t of the input frames that output frame `out_index` depends on
    (non-zero rows of the Jacobian of a random projection of that frame)."""
    probe = normal(jax.eval_shape(f, x).shape[1:], seed=123)
    jac = jax.jit(jax.grad(lambda x: jnp.sum(f(x)[out_index] * probe)))(x)  # [T, ...]
    nonzero = np.abs(np.asarray(jac)).reshape(x.shape[0], -1).max(axis=1) > 0
    return np.flatnonzero(nonzero)


def half_examples():
    """Hypothesis settings for the costlier model-level properties: half the
    profile's examples (each new shape compiles), still scaled by the profile."""
    from hypothesis import settings
    return settings(max_examples=max(1, settings.default.max_examples // 2))


def random_params(spec, seed=0, scale=0.5, **init_kwargs):
    """Parameters shaped like spec.init's, every leaf N(0, scale^2), no PRNG compiled."""
    shapes = jax.eval_shape(lambda k: spec.init(k, **init_kwargs), jax.random.key(0))
    return randomize(shapes, seed, scale)
