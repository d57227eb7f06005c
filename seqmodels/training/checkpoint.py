"""Checkpoints: the one module that talks to Orbax (orbax-checkpoint 0.12).

Orbax's API has changed often; everything else in seqmodels goes through
this file, so the next change touches it alone.

On disk, a run's checkpoint directory holds two Orbax managers:

    DIR/latest/<step>/state     periodic saves (the last `keep` kept): resume from here
    DIR/latest/<step>/meta      JSON: the caller's `extra` (data position, ...) and leaf shapes
    DIR/best/<step>/...         the best by a validation metric (one kept)

A checkpoint holds any pytree of arrays (the loop saves the train state and
the root PRNG key; typed PRNG keys are stored as their raw key data) plus a
JSON-serialisable `extra` dict. Saves are asynchronous (the arrays are copied
off the device at once and written by a background thread); `wait()` blocks
until everything is on disk, `close()` waits and releases the managers. A
save is atomic: a process killed mid-save leaves a temporary directory that
is ignored and cleaned up, and the previous checkpoint stays the latest.

Multi-host, every process calls save, wait and restore at the same steps
(Orbax meets them at barriers; process 0 writes the JSON and finalises), on
one directory that all hosts see (NFS, a mounted bucket); each process writes the shards
of its own devices (a replicated array once) and restores into the
template's global shardings.

Errors are this module's own `CheckpointError` with a message meant for a
person: a missing or empty directory, an unreadable (corrupt) checkpoint,
and a checkpoint whose arrays do not fit the model (the message lists each
mismatching parameter with both shapes).

    ckpts = Checkpoints(workdir / "checkpoints", keep=3)
    ckpts.save(step, state, extra={"data": it.get_state()})
    state, extra = ckpts.restore(template)          # latest; best=True for the best
    ckpts.close()
    state, extra = load(workdir / "checkpoints", template, best=True)   # read-only
"""

import contextlib
import errno
import logging
import os
import sys
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
from absl import logging as absl_logging

__all__ = ["CheckpointError", "Checkpoints", "load", "kept_steps"]

_LATEST, _BEST = "latest", "best"


def _one_line(record: logging.LogRecord) -> None:
    """A logged exception's traceback cut to its type, in the message's one line."""
    if record.exc_info and record.exc_info[1] is not None:
        record.msg, record.args = f"{record.getMessage()} ({type(record.exc_info[1]).__name__})", ()
        record.exc_info, record.exc_text = None, None


class _QuietOrbax(logging.Filter):
    """Orbax logs a dozen INFO lines per save through absl; keep only its warnings and errors, each on one line.

    A failed save (a full disk, a read-only workdir) makes each of Orbax's background threads, and the
    asyncio loops they run, log their own traceback before the error reaches the training loop, which
    reports it in one paragraph: those tracebacks are cut to one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "asyncio":
            _one_line(record)
            return True
        if f"{os.sep}orbax{os.sep}" not in record.pathname:
            return True
        if record.levelno < logging.WARNING:
            return False
        _one_line(record)
        return True


absl_logging.get_absl_logger().addFilter(_QuietOrbax())
logging.getLogger("asyncio").addFilter(_QuietOrbax())


def _closed_loop(value) -> bool:
    return isinstance(value, RuntimeError) and str(value) == "Event loop is closed"


def _drop_closed_loop_errors():
    """After a failed save, TensorStore's writes that were still under way finish on threads whose Orbax event
    loop is already closed, and each prints a `RuntimeError: Event loop is closed` traceback as an unraisable
    exception (the save's own error is reported once, by the training loop). Those, and only those, are
    dropped."""
    previous = sys.unraisablehook
    if getattr(previous, "drops_closed_loop_errors", False):
        return

    def hook(unraisable):
        if not _closed_loop(unraisable.exc_value):
            previous(unraisable)

    hook.drops_closed_loop_errors = True
    sys.unraisablehook = hook


_drop_closed_loop_errors()


class CheckpointError(Exception):
    """A checkpoint is missing, unreadable, or does not fit the model."""


def _is_key(x: Any) -> bool:
    return hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jax.dtypes.prng_key)


def _path_str(path) -> str:
    return jax.tree_util.keystr(path, simple=True, separator="/")


def _stored_shape(x: Any) -> tuple[tuple[int, ...], str]:
    """Shape and dtype of a leaf as stored (a PRNG key as its uint32 key data)."""
    if _is_key(x):
        data = jax.eval_shape(jax.random.key_data, jax.ShapeDtypeStruct(x.shape, x.dtype))
        return tuple(data.shape), "uint32"
    return tuple(np.shape(x)), str(np.dtype(x.dtype))


def _shapes(tree: Any) -> dict[str, list]:
    """{"params/w": [[3, 4], "float32"], ...} for every leaf of a pytree."""
    flat, _ = jax.tree_util.tree_flatten_with_path(tree)
    return {_path_str(path): [list(shape), dtype] for path, (shape, dtype) in
            ((path, _stored_shape(x)) for path, x in flat)}


def _to_storable(tree: Any) -> Any:
    return jax.tree.map(lambda x: jax.random.key_data(x) if _is_key(x) else x, tree)


def _abstract(x: Any) -> jax.ShapeDtypeStruct:
    """The restore target of one leaf: stored shape and dtype, and where the restored array goes."""
    sharding = getattr(x, "sharding", None)
    if sharding is None:
        sharding = jax.sharding.SingleDeviceSharding(jax.devices()[0])
    shape, dtype = _stored_shape(x)
    return jax.ShapeDtypeStruct(shape, np.dtype(dtype), sharding=sharding)


def _from_storable(restored: Any, template: Any) -> Any:
    def back(stored, like):
        if _is_key(like):
            return jax.random.wrap_key_data(stored, impl=jax.random.key_impl(like))
        return stored
    return jax.tree.map(back, restored, template)


def _check_fits(saved: dict[str, list], template: Any, where: str) -> None:
    """Raise CheckpointError naming every leaf whose path, shape or dtype differs."""
    wanted = _shapes(template)
    missing = sorted(set(wanted) - set(saved))
    unexpected = sorted(set(saved) - set(wanted))
    differ = [f"  {p}: checkpoint {tuple(saved[p][0])} {saved[p][1]}, model {tuple(wanted[p][0])} {wanted[p][1]}"
              for p in sorted(set(saved) & set(wanted)) if saved[p] != wanted[p]]
    if not (missing or unexpected or differ):
        return
    lines = [f"the checkpoint in {where} does not fit the model (was the config changed?):"]
    if differ:
        lines += ["shape or dtype mismatch:"] + differ
    if missing:
        lines += [f"in the model but not in the checkpoint: {missing}"]
    if unexpected:
        lines += [f"in the checkpoint but not in the model: {unexpected}"]
    raise CheckpointError("\n".join(lines))


def _manager(directory: Path, *, keep: int | None, async_save: bool, read_only: bool = False
             ) -> ocp.CheckpointManager:
    # read_only: neither create nor clean up anything (Orbax's own read_only flag only adds warnings).
    # Multi-host, the processes meet at barriers named by step: the latest/ and best/ managers of one run save
    # the same step at once, so each names its barriers by its directory.
    options = ocp.CheckpointManagerOptions(
        max_to_keep=keep, create=not read_only, cleanup_tmp_directories=not read_only,
        enable_async_checkpointing=async_save,
        multiprocessing_options=ocp.options.MultiprocessingOptions(barrier_sync_key_prefix=directory.name))
    return ocp.CheckpointManager(directory, options=options, item_names=("state", "meta"))


def _unreadable(where: str, error: Exception) -> CheckpointError:
    detail = f"{type(error).__name__}: {error}"
    if len(detail) > 400:  # tensorstore appends its whole JSON spec
        detail = detail[:400] + " ..."
    return CheckpointError(f"the checkpoint in {where} is unreadable (corrupt or incomplete): {detail}\n"
                           f"(delete {where} to fall back to an earlier checkpoint of the same run)")


def _restore(manager: ocp.CheckpointManager, step: int, template: Any) -> tuple[Any, dict]:
    where = f"{manager.directory}/{step}"
    try:
        meta = manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore())).meta
    except Exception as e:  # Orbax raises many types; name the directory instead
        raise _unreadable(where, e) from None
    if not isinstance(meta, dict) or "shapes" not in meta:
        raise CheckpointError(f"the checkpoint in {where} is unreadable: its meta item has no 'shapes'")
    _check_fits(meta["shapes"], template, where)
    target = jax.tree.map(_abstract, template)
    try:
        restored = manager.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore(target))).state
    except Exception as e:
        raise _unreadable(where, e) from None
    return _from_storable(restored, template), meta.get("extra", {})


class Checkpoints:
    """Periodic checkpoints (keep the last `keep`) and the best one, of one run."""

    def __init__(self, directory: str | os.PathLike, *, keep: int = 3, async_save: bool = True):
        if keep < 1:
            raise ValueError(f"keep: expected at least 1 checkpoint to keep, got {keep}")
        self.directory = Path(directory).absolute()
        self._latest = _manager(self.directory / _LATEST, keep=keep, async_save=async_save)
        self._best = _manager(self.directory / _BEST, keep=1, async_save=async_save)

    def latest_step(self) -> int | None:
        return self._latest.latest_step()

    def best_step(self) -> int | None:
        return self._best.latest_step()

    def all_steps(self) -> list[int]:
        return list(self._latest.all_steps())

    def _save(self, manager: ocp.CheckpointManager, step: int, state: Any, extra: dict | None) -> None:
        if step in manager.all_steps():
            return  # already saved (a resumed run recomputes identical values)
        meta = {"shapes": _shapes(state), "extra": extra or {}}
        with _writing(manager.directory):
            manager.save(step, force=True, args=ocp.args.Composite(
                state=ocp.args.StandardSave(_to_storable(state)), meta=ocp.args.JsonSave(meta)))

    def save(self, step: int, state: Any, *, extra: dict | None = None) -> None:
        """Periodic save (asynchronous); the oldest beyond `keep` is deleted once this one is written."""
        self._save(self._latest, step, state, extra)

    def save_best(self, step: int, state: Any, *, extra: dict | None = None) -> None:
        """Save as the new best (replacing the previous best)."""
        self._save(self._best, step, state, extra)

    def restore(self, template: Any, *, step: int | None = None, best: bool = False) -> tuple[Any, dict]:
        """(state, extra) of `step` (default: the latest, or the best), shaped and placed like `template`."""
        manager = self._best if best else self._latest
        manager.wait_until_finished()
        step = manager.latest_step() if step is None else step
        if step is None or step not in manager.all_steps():
            raise CheckpointError(f"no {'best ' if best else ''}checkpoint"
                                  f"{'' if step is None else f' for step {step}'} in {manager.directory}; "
                                  f"steps there: {list(manager.all_steps())}")
        return _restore(manager, step, template)

    def delete_best_after(self, step: int) -> None:
        """Forget best checkpoints newer than `step` (left by a run killed before its next periodic save)."""
        self._best.wait_until_finished()
        for s in list(self._best.all_steps()):
            if s > step:
                self._best.delete(s)

    def wait(self) -> None:
        """Block until every pending asynchronous save is on disk."""
        with _writing(self.directory):
            self._latest.wait_until_finished()
            self._best.wait_until_finished()

    def close(self) -> None:
        with _writing(self.directory):
            self._latest.close()
            self._best.close()


_WRITE_FAULTS = {"RESOURCE_EXHAUSTED": errno.ENOSPC, "No space left": errno.ENOSPC,
                 "PERMISSION_DENIED": errno.EACCES, "Read-only file system": errno.EROFS}


@contextlib.contextmanager
def _writing(directory):
    """Orbax reports a full disk or a read-only directory as TensorStore's ValueError (RESOURCE_EXHAUSTED, ...):
    raised here as the OSError it is, so the caller sees one kind of error for every failed write."""
    try:
        yield
    except OSError:
        raise
    except Exception as e:
        code = next((c for needle, c in _WRITE_FAULTS.items() if needle in str(e)), None)
        if code is None:
            raise
        raise OSError(code, os.strerror(code), str(directory)) from None


def kept_steps(directory: str | os.PathLike, *, best: bool = False) -> list[int]:
    """Read-only: the steps of a run's periodic (or best) checkpoints on disk, oldest first; [] if none."""
    sub = Path(directory).absolute() / (_BEST if best else _LATEST)
    if not sub.is_dir():
        return []
    try:
        manager = _manager(sub, keep=None, async_save=False, read_only=True)
    except Exception as e:
        raise CheckpointError(f"cannot read checkpoints in {sub}: {type(e).__name__}: {e}") from None
    try:
        return sorted(manager.all_steps())
    finally:
        manager.close()


def load(directory: str | os.PathLike, template: Any, *, best: bool = False, step: int | None = None
         ) -> tuple[Any, dict]:
    """Read-only restore from a run's checkpoint directory (e.g. for evaluation in a notebook).

    `template` is a pytree like the saved one (arrays, or jax.ShapeDtypeStruct
    from `jax.eval_shape`); the result has its structure, shapes and placement.
    """
    directory = Path(directory).absolute()
    sub = directory / (_BEST if best else _LATEST)
    if not directory.is_dir():
        raise CheckpointError(f"checkpoint directory {directory} does not exist")
    if not sub.is_dir():
        raise CheckpointError(f"{directory} holds no {'best' if best else 'periodic'} checkpoints "
                              f"(expected a subdirectory {sub.name}/ written by seqmodels.training.checkpoint)")
    try:
        manager = _manager(sub, keep=None, async_save=False, read_only=True)
    except Exception as e:
        raise CheckpointError(f"cannot read checkpoints in {sub}: {type(e).__name__}: {e}") from None
    try:
        step = manager.latest_step() if step is None else step
        if step is None or step not in manager.all_steps():
            raise CheckpointError(f"no checkpoint{'' if step is None else f' for step {step}'} in {sub}; "
                                  f"steps there: {list(manager.all_steps())}")
        return _restore(manager, step, template)
    finally:
        manager.close()
