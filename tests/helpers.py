"""Helpers shared by tests across the package."""

import jax
import optax


def adam_train(loss_fn, params, *, learning_rate, steps):
    """`steps` Adam updates of `loss_fn(params)` in one jitted lax.scan: (final params, losses [steps]).

    losses[i] is the loss before update i, so losses[0] is the untrained loss.
    """
    opt = optax.adam(learning_rate)

    def body(carry, _):
        params, state = carry
        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, state = opt.update(grads, state)
        return (optax.apply_updates(params, updates), state), loss

    (params, _), losses = jax.jit(lambda p: jax.lax.scan(body, (p, opt.init(p)), None, length=steps))(params)
    return params, losses
