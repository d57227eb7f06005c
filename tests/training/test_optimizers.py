"""make_optimizer: equal to optax's own optimisers, schedules, clipping, penalties, L1 sparsity."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from seqmodels.training import optimizers

PARAMS = {"w": jnp.asarray([[1.0, -2.0], [0.5, 3.0]]), "b": jnp.asarray([0.3, -0.1])}


def _loss(params):
    # a convex quadratic with a bias term (a parabola in each coordinate)
    target = jnp.asarray([[0.2, 0.1], [-0.4, 0.3]])
    return jnp.sum(jnp.square(params["w"] - target)) + jnp.sum(jnp.square(params["b"] - 1.0))


def _run(tx, steps=5, params=PARAMS):
    state = tx.init(params)
    for _ in range(steps):
        grads = jax.grad(_loss)(params)
        updates, state = tx.update(grads, state, params)
        params = optax.apply_updates(params, updates)
    return params


def _close(a, b):
    jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7), a, b)


@pytest.mark.parametrize("config, reference", [
    ({"name": "adam", "learning_rate": 0.1}, optax.adam(0.1)),
    ({"name": "adamw", "learning_rate": 0.1, "weight_decay": 0.05},
     optax.adamw(0.1, weight_decay=0.05, mask=optimizers.weights_mask)),
    ({"name": "adamw", "learning_rate": 0.1, "weight_decay": 0.05, "decay_mask": "all"},
     optax.adamw(0.1, weight_decay=0.05)),
    ({"name": "sgd", "learning_rate": 0.1}, optax.sgd(0.1)),
    ({"name": "sgd", "learning_rate": 0.1, "momentum": 0.9, "nesterov": True},
     optax.sgd(0.1, momentum=0.9, nesterov=True)),
    ({"name": "rmsprop", "learning_rate": 0.01, "rms_decay": 0.95},
     optax.rmsprop(0.01, decay=0.95)),
    ({"name": "adam", "learning_rate": 0.1, "clip_norm": 0.5},
     optax.chain(optax.clip_by_global_norm(0.5), optax.adam(0.1))),
])
def test_equals_optax(config, reference):
    _close(_run(optimizers.make_optimizer(config)), _run(reference))


@pytest.mark.parametrize("name", optimizers.OPTIMIZERS)
def test_loss_goes_down(name):
    tx = optimizers.make_optimizer({"name": name, "learning_rate": 0.05, "schedule": "cosine", "warmup_steps": 5},
                                   num_steps=100)
    assert float(_loss(_run(tx, steps=100))) < 0.1 * float(_loss(PARAMS))


def test_schedules_match_optax():
    steps = jnp.arange(0, 120)
    cosine = optimizers.make_schedule({"name": "adam", "learning_rate": 0.2, "schedule": "cosine",
                                       "warmup_steps": 10, "end_factor": 0.1}, num_steps=100)
    ref = optax.warmup_cosine_decay_schedule(0.0, 0.2, 10, 100, end_value=0.02)
    np.testing.assert_allclose(jax.vmap(cosine)(steps), jax.vmap(ref)(steps), rtol=1e-5, atol=1e-7)
    step = optimizers.make_schedule({"name": "sgd", "learning_rate": 0.2, "schedule": "step",
                                     "step_boundaries": (30, 60), "step_factor": 0.5})
    ref = optax.piecewise_constant_schedule(0.2, {30: 0.5, 60: 0.5})
    np.testing.assert_allclose(jax.vmap(step)(steps), jax.vmap(ref)(steps), rtol=1e-6)


def test_schedule_hand_values():
    warm = optimizers.make_schedule({"name": "adam", "learning_rate": 1.0, "warmup_steps": 4})
    np.testing.assert_allclose([float(warm(s)) for s in range(6)], [0, 0.25, 0.5, 0.75, 1, 1])
    cosine = optimizers.make_schedule({"name": "adam", "learning_rate": 1.0, "schedule": "cosine"}, num_steps=10)
    np.testing.assert_allclose([float(cosine(s)) for s in (0, 5, 10, 20)], [1.0, 0.5, 0.0, 0.0], atol=1e-6)


def test_clipping_bounds_the_update():
    grads = {"w": jnp.full((2, 2), 10.0), "b": jnp.full((2,), 10.0)}
    tx = optimizers.make_optimizer({"name": "sgd", "learning_rate": 1.0, "clip_norm": 1.0})
    updates, _ = tx.update(grads, tx.init(PARAMS), PARAMS)
    np.testing.assert_allclose(optax.global_norm(updates), 1.0, rtol=1e-6)


def test_penalty_gradients_equal_grad_of_regularization_loss():
    zeros = jax.tree.map(jnp.zeros_like, PARAMS)
    tx = optimizers.make_optimizer({"name": "sgd", "learning_rate": 1.0, "l1": 0.3, "l2": 0.2})
    updates, _ = tx.update(zeros, tx.init(PARAMS), PARAMS)  # with zero data gradient: -lr * penalty gradient
    expected = jax.grad(lambda p: optimizers.regularization_loss(p, l1=0.3, l2=0.2))(PARAMS)
    _close(jax.tree.map(lambda u: -u, updates), expected)
    assert float(jnp.abs(updates["b"]).max()) == 0.0  # biases are not penalised by default
    # hand value: 0.3 * (1 + 2 + 0.5 + 3) + 0.1 * (1 + 4 + 0.25 + 9)
    np.testing.assert_allclose(optimizers.regularization_loss(PARAMS, l1=0.3, l2=0.2), 0.3 * 6.5 + 0.1 * 14.25,
                               rtol=1e-6)


def test_l2_equals_sgd_weight_decay():
    a = optimizers.make_optimizer({"name": "sgd", "learning_rate": 0.1, "momentum": 0.9, "l2": 0.01})
    b = optimizers.make_optimizer({"name": "sgd", "learning_rate": 0.1, "momentum": 0.9, "weight_decay": 0.01})
    _close(_run(a), _run(b))


def test_l1_gives_sparse_weights():
    """Lecture 4: an L1 penalty drives the weights of irrelevant inputs to (nearly) zero; L2 only shrinks them."""
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(64, 20)), jnp.float32)
    w_true = np.zeros((20, 1), np.float32)
    w_true[:2] = [[2.0], [-1.5]]
    y = x @ w_true + 0.1 * jnp.asarray(rng.normal(size=(64, 1)), jnp.float32)

    def fit(config):
        tx = optimizers.make_optimizer(config)
        params = {"w": jnp.asarray(rng.normal(size=(20, 1)) * 0.1, jnp.float32)}
        loss = lambda p: jnp.mean(jnp.square(x @ p["w"] - y))  # noqa: E731

        @jax.jit
        def step(params, state):
            updates, state = tx.update(jax.grad(loss)(params), state, params)
            return optax.apply_updates(params, updates), state

        state = tx.init(params)
        for _ in range(1500):
            params, state = step(params, state)
        return np.abs(np.asarray(params["w"][:, 0]))

    l1 = fit({"name": "sgd", "learning_rate": 0.01, "l1": 0.1})
    l2 = fit({"name": "sgd", "learning_rate": 0.01, "l2": 0.1})
    plain = fit({"name": "sgd", "learning_rate": 0.01})
    tiny = 2e-3  # the subgradient step oscillates within lr * l1 = 1e-3 of zero
    assert (l1[2:] < tiny).mean() >= 0.9, l1
    assert (l2[2:] < tiny).mean() <= 0.3 and (plain[2:] < tiny).mean() <= 0.3, (l2, plain)
    assert l1[:2].min() > 1.0  # the relevant weights survive


@pytest.mark.parametrize("config, message", [
    ({"name": "adamx", "learning_rate": 0.1}, r"unknown optimizer 'adamx'; valid choices: \['adam', 'adamw'"),
    ({"name": "adam", "learning_rate": -0.1}, "learning_rate: expected a positive number, got -0.1"),
    ({"name": "adam", "learning_rate": 0.1, "schedule": "linear"}, r"valid choices: \['constant', 'cosine'"),
    ({"name": "adam", "learning_rate": 0.1, "learing_rate": 0.1}, r"unknown field\(s\) \['learing_rate'\]"),
    ({"name": "adam", "learning_rate": 0.1, "weight_decay": 0.1}, "use name='adamw'"),
    ({"name": "sgd", "learning_rate": 0.1, "momentum": -0.9}, "momentum: expected a value >= 0"),
    ({"name": "adam", "learning_rate": 0.1, "b2": 1.0}, r"b2: expected a value in \[0, 1\)"),
    ({"name": "adam", "learning_rate": 0.1, "schedule": "cosine"}, "needs decay_steps > warmup_steps"),
])
def test_invalid_configs_raise(config, message):
    with pytest.raises(ValueError, match=message):
        optimizers.make_optimizer(config)
