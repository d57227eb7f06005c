"""Run a causal layer one frame at a time: teacher-forced (`run`) or
autoregressively (`generate`), both as one `lax.scan`.

A streaming layer has `state = spec.init_state()` and
`state, y_t = spec.step(params, state, x_t)`. Bind the parameters first
(`functools.partial(spec.step, params)`) so that `step(state, x_t)` is the
scan body. Inside `generate` the output y_t of step t becomes, through
`sample(key_t, y_t) -> (sample_t, x_next)`, the input of step t + 1:

    state_t, y_t = step(state_{t-1}, x_t)
    s_t, x_{t+1} = sample(fold_in(key, t), y_t)

so generating N samples costs N steps of O(layers) work each (ring buffers),
not N passes over the receptive field.
"""

from typing import Any, Callable

import jax

from seqmodels.array_types import Key

State = Any  # a pytree: the ring buffers of every layer
Step = Callable  # (state, x_t[, extra_t]) -> (state, y_t)


def run(step: Step, state: State, xs: Any, extras: Any = None) -> tuple[State, Any]:
    """y_t = step(state, x_t) for every frame of xs (leading axis T): (final state, ys).

    `extras` (leading axis T, optional) is handed to the step as a third
    argument, e.g. WaveNet's local conditioning frame.
    """
    if extras is None:
        return jax.lax.scan(step, state, xs)
    return jax.lax.scan(lambda s, xe: step(s, *xe), state, (xs, extras))


def generate(step: Step, state: State, first_input: Any, num_steps: int, *,
             sample: Callable[[Key, Any], tuple[Any, Any]], key: Key,
             extras: Any = None) -> tuple[State, Any]:
    """Autoregressive generation: (final state, samples [num_steps, ...]).

    `first_input` is x_0 (for a primed model, the last prime frame after
    `run` consumed the ones before it); `sample(key_t, y_t)` returns the
    sample to keep and the next input frame. A deterministic closed loop
    (e.g. iterated one-step prediction) is `sample=lambda _, y: (y, y)`.
    """
    if num_steps <= 0:
        raise ValueError(f"generate: expected num_steps > 0, got {num_steps}")

    def body(carry, inputs):
        state, x_t = carry
        t, extra_t = inputs
        state, y_t = step(state, x_t) if extras is None else step(state, x_t, extra_t)
        sample_t, x_next = sample(jax.random.fold_in(key, t), y_t)
        return (state, x_next), sample_t

    ts = jax.numpy.arange(num_steps)
    (state, _), samples = jax.lax.scan(body, (state, first_input), (ts, extras))
    return state, samples
