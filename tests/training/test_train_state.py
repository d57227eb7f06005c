"""Train and eval steps: a hand-written optax update as reference, fold_in keys, NaN flag, sharded == single."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from seqmodels.training import parallel, train_state
from tests.training import tiny_task

CONFIG = tiny_task.get_config()


def _setup(seed=0):
    task = tiny_task.make_task(CONFIG)
    params = task.init_params(jax.random.key(seed))
    optimizer = optax.adam(0.03)
    batch = next(task.train_iterator)
    return task, params, optimizer, batch


def test_state_holds_only_arrays():
    _, params, optimizer, _ = _setup()
    state = train_state.create_train_state(params, optimizer)
    assert all(isinstance(x, jax.Array) for x in jax.tree.leaves(state))
    assert int(state.step) == 0 and int(state.first_nonfinite_step) == -1


def test_train_step_equals_hand_written_update():
    task, params, optimizer, batch = _setup()
    key = jax.random.key(7)
    state = train_state.create_train_state(params, optimizer)
    step = train_state.make_train_step(task.loss_fn, optimizer, donate=False)
    new_state, metrics = step(state, batch, key)
    # reference: the same update written out, with the key of step 0
    @jax.jit
    def reference(params, batch):
        step_key = jax.random.fold_in(key, 0)
        (loss, aux), grads = jax.value_and_grad(lambda p: task.loss_fn(p, batch, step_key, True),
                                                has_aux=True)(params)
        updates, _ = optimizer.update(grads, optimizer.init(params), params)
        return optax.apply_updates(params, updates), loss, aux, grads

    expected, loss, aux, grads = reference(params, batch)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7), new_state.params, expected)
    np.testing.assert_allclose(metrics["loss"], loss, rtol=1e-6)
    np.testing.assert_allclose(metrics["mae"], aux["mae"], rtol=1e-6)
    np.testing.assert_allclose(metrics["grad_norm"], optax.global_norm(grads), rtol=1e-6)
    assert int(new_state.step) == 1


def test_step_key_is_fold_in_of_step():
    seen = []

    def loss_fn(params, batch, key, train):
        return jnp.sum(params["w"] ** 2), {"u": jax.random.uniform(key)}

    params = {"w": jnp.ones(3)}
    optimizer = optax.sgd(0.1)
    state = train_state.create_train_state(params, optimizer)
    step = train_state.make_train_step(loss_fn, optimizer)
    key = jax.random.key(3)
    for _ in range(3):
        state, metrics = step(state, {}, key)
        seen.append(float(metrics["u"]))
    expected = [float(jax.random.uniform(jax.random.fold_in(key, s))) for s in range(3)]
    assert seen == expected


def test_eval_step_is_deterministic():
    task, params, _, batch = _setup()
    eval_step = train_state.make_eval_step(task.loss_fn)
    a = eval_step(params, batch, jax.random.key(0))
    b = eval_step(params, batch, jax.random.key(1))  # dropout is off: the key does not matter
    assert float(a["loss"]) == float(b["loss"]) and set(a) == {"loss", "mae"}


def test_first_nonfinite_step_is_recorded():
    def loss_fn(params, batch, key, train):
        loss = jnp.sum(params["w"] ** 2)
        return jnp.where(batch["bad"][0], jnp.inf, loss), {}

    params = {"w": jnp.ones(3)}
    optimizer = optax.sgd(0.1)
    state = train_state.create_train_state(params, optimizer)
    step = train_state.make_train_step(loss_fn, optimizer)
    for bad in [False, False, True, False, True]:
        state, _ = step(state, {"bad": jnp.asarray([bad])}, jax.random.key(0))
    assert int(state.first_nonfinite_step) == 3  # the first bad update, 1-based


def test_sharded_step_equals_single_device_step():
    assert jax.device_count() == 8, "tests/conftest.py sets 8 host devices"
    task, params, optimizer, batch = _setup()
    key = jax.random.key(5)
    single = train_state.make_train_step(task.loss_fn, optimizer, donate=False)
    mesh = parallel.make_mesh()
    sharded = train_state.make_train_step(task.loss_fn, optimizer, mesh=mesh, donate=False)

    s1 = train_state.create_train_state(params, optimizer)
    s8 = parallel.replicate(train_state.create_train_state(params, optimizer), mesh)
    k8 = parallel.replicate(key, mesh)
    for _ in range(3):
        b = next(task.train_iterator)
        s1, m1 = single(s1, b, key)
        batch8 = parallel.shard_batch(b, mesh)
        assert batch8["x"].sharding.spec == parallel.batch_sharded(mesh).spec
        assert len(batch8["x"].addressable_shards) == 8
        s8, m8 = sharded(s8, batch8, k8)
    assert s8.params["hidden"]["w"].sharding.is_fully_replicated
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), s8.params, s1.params)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), m8, m1)


def test_shard_batch_errors():
    mesh = parallel.make_mesh()
    with pytest.raises(ValueError, match="batch_size 12 does not split over 8 devices"):
        parallel.shard_batch({"x": np.zeros((12, 2))}, mesh)
    with pytest.raises(ValueError, match="same leading batch size"):
        parallel.shard_batch({"x": np.zeros((8, 2)), "y": np.zeros((16,))}, mesh)
    replicated = parallel.shard_batch({"x": np.zeros((12, 2))}, mesh, allow_replicated=True)
    assert replicated["x"].sharding.is_fully_replicated
    with pytest.raises(ValueError, match=r"num_devices: expected 1..8"):
        parallel.make_mesh(9)
    assert parallel.make_mesh(2).size == 2
