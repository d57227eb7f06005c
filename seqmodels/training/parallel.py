"""Data parallelism with `jax.sharding`: params replicated, the batch split over devices.

One mesh axis, "data", over the chosen devices (all local devices by
default; all devices of all hosts after `initialize_distributed`). A global
batch [B, ...] is cut along B into equal pieces, one per device; the params
and optimiser state are copied to every device; `jax.jit` of the ordinary
single-device step then computes the per-device gradients and their mean
(XLA inserts the all-reduce), so the sharded step equals the single-device
step up to the order of floating-point sums.

Multi-host (JAX's multi-controller runtime: the same program runs on every
host, one process per host): `initialize_distributed(True, ...)` connects the
processes (coordinator address, process count and id as arguments, or from
JAX_COORDINATOR_ADDRESS / JAX_NUM_PROCESSES / JAX_PROCESS_ID, or detected by
JAX on Slurm, Open MPI and TPU pods). Each process then builds every global
array from what it holds itself (`jax.make_array_from_process_local_data`):
`replicate` from its own copy of the params (the same on every host: same
seed), `shard_batch` from either the whole global batch (every host yields
the same batch and keeps the rows of its own devices) or only its part, the
B / P rows of its devices. `any_process` lets all processes agree on a
host-side decision (a Ctrl-C that reached one of them).
"""

import os
from typing import Any

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from seqmodels.training.validate import ConfigError

__all__ = ["DATA_AXIS", "ENV", "initialize_distributed", "make_mesh", "replicated", "batch_sharded",
           "replicate", "put", "shard_batch", "check_batch_size", "any_process"]

DATA_AXIS = "data"
# initialize_distributed's arguments -> the environment variables that give them when they are None
ENV = {"coordinator_address": "JAX_COORDINATOR_ADDRESS", "num_processes": "JAX_NUM_PROCESSES",
       "process_id": "JAX_PROCESS_ID"}


def initialize_distributed(enabled: bool, *, coordinator_address: str | None = None,
                           num_processes: int | None = None, process_id: int | None = None) -> None:
    """Join the multi-host run (call once, on every host, before any other JAX call); nothing if not enabled.

    Arguments left None come from the variables in `ENV` (this JAX reads only the address itself), then from
    JAX's cluster detection (Slurm, Open MPI, TPU pods). CPU hosts talk through gloo (JAX's default)."""
    if not enabled:
        return
    given = {"coordinator_address": coordinator_address, "num_processes": num_processes, "process_id": process_id}
    for name, value in given.items():
        if value is None and os.environ.get(ENV[name]):
            given[name] = os.environ[ENV[name]]
    for name in ("num_processes", "process_id"):
        if given[name] is not None:
            try:
                given[name] = int(given[name])
            except ValueError:
                raise ConfigError(f"{name} (or {ENV[name]}): expected an integer, got {given[name]!r}") from None
    try:
        jax.distributed.initialize(**given)
    except (ValueError, RuntimeError) as e:
        raise ConfigError(
            f"--distributed: jax.distributed.initialize failed: {' '.join(str(e).split()).rstrip('.')}. On every host give "
            f"--coordinator_address=HOST:PORT (process 0's host), --num_processes=N and --process_id=0..N-1 "
            f"(or set {', '.join(ENV.values())}); on Slurm, Open MPI or a TPU pod JAX finds them itself") from None


def make_mesh(num_devices: int | None = None) -> Mesh:
    """A 1-D mesh ("data",) over the first `num_devices` devices (None or 0: all devices)."""
    devices = jax.devices()
    if num_devices:
        if not 0 < num_devices <= len(devices):
            raise ValueError(f"num_devices: expected 1..{len(devices)} (the devices available), got {num_devices}")
        if jax.process_count() > 1 and num_devices != len(devices):
            raise ValueError("num_devices: a multi-host run uses all devices of all hosts; leave num_devices unset")
        devices = devices[:num_devices]
    return Mesh(np.asarray(devices), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
    """Every device holds the whole array (params, optimiser state, keys, metrics)."""
    return NamedSharding(mesh, PartitionSpec())


def batch_sharded(mesh: Mesh) -> NamedSharding:
    """The leading (batch) axis is split over the data axis; other axes whole."""
    return NamedSharding(mesh, PartitionSpec(DATA_AXIS))


def _is_key(x: Any) -> bool:
    return hasattr(x, "dtype") and jax.numpy.issubdtype(x.dtype, jax.dtypes.prng_key)


def _put(x: Any, sharding: NamedSharding, part: bool = False) -> jax.Array:
    """One array onto `sharding`: from this host's whole copy of it (or, with `part`, its part along axis 0)."""
    if sharding.is_fully_addressable or (isinstance(x, jax.Array) and not x.is_fully_addressable):
        return jax.device_put(x, sharding)  # one host; or an array that is global already (resharded)
    if _is_key(x):  # typed PRNG keys travel as their uint32 key data
        return jax.random.wrap_key_data(_put(jax.random.key_data(x), sharding, part), impl=jax.random.key_impl(x))
    x = np.asarray(x)
    return jax.make_array_from_process_local_data(sharding, x, None if part else x.shape)


def put(tree: Any, sharding: NamedSharding) -> Any:
    """A pytree onto `sharding`, each host giving its whole copy (the same on every host)."""
    return jax.tree.map(lambda x: _put(x, sharding), tree)


def replicate(tree: Any, mesh: Mesh) -> Any:
    """Copy a pytree of arrays to every device of `mesh` (on every host, from that host's own copy)."""
    return put(tree, replicated(mesh))


def check_batch_size(batch_size: int, mesh: Mesh) -> None:
    """The global batch must split evenly over the mesh."""
    if batch_size % mesh.size:
        raise ValueError(f"batch_size {batch_size} does not split over {mesh.size} devices; "
                         f"use a multiple of {mesh.size} (or set num_devices)")


def shard_batch(batch: Any, mesh: Mesh, *, global_size: int | None = None, allow_replicated: bool = False) -> Any:
    """This host's batch (numpy or jax arrays, leading axis B_local) -> global arrays split over devices.

    Multi-host, B_local = `global_size` (or `global_size` None) means every host holds the whole global
    batch (each keeps its devices' rows); B_local = global_size / P, this host's part. With
    `allow_replicated`, a whole batch whose size does not split over the devices is replicated instead
    (each device computes the whole batch: correct, just not parallel); used for ragged eval batches.
    """
    leaves = jax.tree.leaves(batch)
    if not leaves:
        return batch
    sizes = {np.shape(x)[0] if np.ndim(x) else None for x in leaves}
    if len(sizes) != 1 or None in sizes:
        raise ValueError(f"shard_batch: every array needs the same leading batch size, got shapes "
                         f"{[np.shape(x) for x in leaves]}")
    (local_size,) = sizes
    hosts = jax.process_count()
    part = hosts > 1 and global_size is not None and local_size != global_size
    if part and local_size * hosts != global_size:
        raise ValueError(f"shard_batch: a host's batch holds {local_size} examples; expected the whole global "
                         f"batch ({global_size}) or this host's part ({global_size} / {hosts} hosts)")
    size = local_size * hosts if part else local_size
    if size % mesh.size:
        if allow_replicated and not part:
            return replicate(batch, mesh)
        check_batch_size(size, mesh)
    sharding = batch_sharded(mesh)
    return jax.tree.map(lambda x: _put(x, sharding, part), batch)


def any_process(flag: bool) -> bool:
    """True on every process if `flag` is true on any (a collective: every process must call it)."""
    if jax.process_count() == 1:
        return bool(flag)
    return bool(np.any(multihost_utils.process_allgather(np.asarray(flag))))
