"""Data parallelism with `jax.sharding`: params replicated, the batch split over devices.

One mesh axis, "data", over the chosen devices (all local devices by
default; all devices of all hosts after `initialize_distributed`). A global
batch [B, ...] is cut along B into equal pieces, one per device; the params
and optimiser state are copied to every device; `jax.jit` of the ordinary
single-device step then computes the per-device gradients and their mean
(XLA inserts the all-reduce), so the sharded step equals the single-device
step up to the order of floating-point sums.

Multi-host: `initialize_distributed(True)` calls `jax.distributed.initialize()`
(coordinator, process count and id come from the environment: Slurm, TPU pods,
or the JAX_COORDINATOR_ADDRESS / JAX_NUM_PROCESSES / JAX_PROCESS_ID
variables). Each host then feeds its own slice of the global batch (B / number
of hosts examples) and `shard_batch` assembles the global array.
"""

from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

__all__ = ["DATA_AXIS", "initialize_distributed", "make_mesh", "replicated", "batch_sharded",
           "replicate", "shard_batch", "check_batch_size"]

DATA_AXIS = "data"


def initialize_distributed(enabled: bool, **kwargs) -> None:
    """Multi-host set-up behind a flag; call once, before any other JAX call."""
    if enabled:
        jax.distributed.initialize(**kwargs)


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


def replicate(tree: Any, mesh: Mesh) -> Any:
    """Copy a pytree of arrays to every device of `mesh`."""
    return jax.device_put(tree, replicated(mesh))


def check_batch_size(batch_size: int, mesh: Mesh) -> None:
    """The global batch must split evenly over the mesh."""
    if batch_size % mesh.size:
        raise ValueError(f"batch_size {batch_size} does not split over {mesh.size} devices; "
                         f"use a multiple of {mesh.size} (or set num_devices)")


def shard_batch(batch: Any, mesh: Mesh, *, allow_replicated: bool = False) -> Any:
    """This host's batch (numpy or jax arrays, leading axis B_local) -> global arrays split over devices.

    With `allow_replicated` (single host only), a batch whose size does not
    split over the devices is replicated instead (each device computes the
    whole batch: correct, just not parallel); used for ragged eval batches.
    """
    leaves = jax.tree.leaves(batch)
    if not leaves:
        return batch
    sizes = {np.shape(x)[0] if np.ndim(x) else None for x in leaves}
    if len(sizes) != 1 or None in sizes:
        raise ValueError(f"shard_batch: every array needs the same leading batch size, got shapes "
                         f"{[np.shape(x) for x in leaves]}")
    (local_size,) = sizes
    local_devices = mesh.size // jax.process_count()
    if local_size % local_devices:
        if allow_replicated and jax.process_count() == 1:
            return jax.device_put(batch, replicated(mesh))
        check_batch_size(local_size * jax.process_count(), mesh)
    sharding = batch_sharded(mesh)
    return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, np.asarray(x)), batch)
