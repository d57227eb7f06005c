"""A workdir belongs to one run at a time, and a resumed run has the config it started with.

    with workdir.lock(path):                         # a second process on `path` fails at once, naming the first
        workdir.check_config(config, path, accept)   # resumed with another config: refused, or recorded

`lock` holds an exclusive `fcntl.flock` on workdir/lock for the life of the
run and writes the holder's pid, host and start time into it; the kernel
releases the lock when the process dies (kill -9 included), so a lock left
by a dead run is simply taken over. `check_config` stores the config in
workdir/config.json when a run starts; a later start of the same workdir
compares the new config with it, field by field. A change is refused with
the list of changed fields, unless accepted: `accept="safe"` takes changes
that cannot alter what has been computed (evaluation, checkpoint and logging
frequency, checkpoints kept, and the number of steps where the learning
rate does not depend on it), `accept="all"` takes any change; accepted changes are appended to config.json's history.
"""

import contextlib
import datetime
import fcntl
import json
import os
import socket
from pathlib import Path
from typing import Any, Iterator

import jax

ACCEPT = ("none", "safe", "all")
SAFE_FIELDS = ("num_steps", "eval_every", "checkpoint_every", "log_every", "keep_checkpoints")
CONFIG_FILE = "config.json"


class WorkdirError(Exception):
    """The workdir cannot be used as asked: another run holds it, or the config differs from its run's."""


def _describe_holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text())
        return f"process {info['pid']} on host {info['host']} (started {info['started']})"
    except (OSError, ValueError, KeyError):
        return "another process"


@contextlib.contextmanager
def lock(workdir: str | os.PathLike) -> Iterator[None]:
    """Hold workdir/lock for the `with` block; a busy workdir raises WorkdirError at once. Only process 0 of
    a multi-host run locks (the others share its workdir)."""
    if jax.process_index() != 0:
        yield
        return
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise WorkdirError(f"the workdir {workdir} is in use by {_describe_holder(path)}: one run per workdir. "
                               f"Wait for it to finish (or stop it), or choose another --workdir.") from None
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "started": datetime.datetime.now().isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the flock


def _flat(tree: Any, prefix: str = "") -> dict:
    if not isinstance(tree, dict):
        return {prefix[:-1]: json.loads(json.dumps(tree, default=str))}
    return {k: v for key, sub in tree.items() for k, v in _flat(sub, f"{prefix}{key}.").items()}


def changed_fields(before: dict, after: dict) -> dict[str, tuple[Any, Any]]:
    """{field: (before, after)} of every field (dotted path) whose value differs or that only one side has."""
    a, b = _flat(before), _flat(after)
    missing = object()
    return {k: (a.get(k, missing), b.get(k, missing)) for k in sorted(a.keys() | b.keys())
            if a.get(k, missing) != b.get(k, missing)}


def check_config(config: dict, workdir: str | os.PathLike, accept: str = "none", *, started: bool) -> None:
    """Compare `config` with the one the run in `workdir` started with (config.json) and store it.

    started: the workdir holds a run's progress (a checkpoint or results.json); a workdir without progress
    takes any config. Refused changes raise WorkdirError naming every changed field."""
    if accept not in ACCEPT:
        raise ValueError(f"accept: expected one of {ACCEPT}, got {accept!r}")
    path = Path(workdir) / CONFIG_FILE
    stored = json.loads(path.read_text()) if path.exists() else None
    if stored is None and started:  # a run from before config.json existed: its results.json has the config
        results = Path(workdir) / "results.json"
        stored = {"config": json.loads(results.read_text())["config"], "history": []} if results.exists() else None
    if started and stored is not None:
        changes = changed_fields(stored["config"], config)
        if changes:
            unsafe = [k for k in changes if not _safe(k, config)]
            if accept == "none" or (accept == "safe" and unsafe):
                shown = "; ".join(f"{k}: {_show(a)} -> {_show(b)}" for k, (a, b) in changes.items())
                hint = ("--accept_config_changes=safe takes changes of " + ", ".join(SAFE_FIELDS)
                        + " (num_steps where the learning-rate schedule does not depend on it)"
                        if not unsafe else "--accept_config_changes=all takes any change (the run's earlier "
                                           "steps were computed with the old values)")
                raise WorkdirError(f"the config differs from the one the run in {workdir} started with: {shown}. "
                                   f"Run the same command as before to resume, use another --workdir for a new "
                                   f"run, or accept the change: {hint}.")
            stored["history"].append({"accepted": accept, "changes": {k: [_plain(a), _plain(b)]
                                                                      for k, (a, b) in changes.items()}})
    history = stored["history"] if (started and stored is not None) else []
    if jax.process_index() == 0:
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps({"config": config, "history": history}, indent=1, default=str) + "\n")
        tmp.replace(path)


def _safe(field: str, config: dict) -> bool:
    """A change that cannot alter what the run computed: the frequencies, and the step count where the learning
    rate does not depend on it (a constant schedule, or decay_steps given)."""
    if field != "num_steps":
        return field in SAFE_FIELDS
    optimizer = config.get("optimizer") or {}
    return optimizer.get("schedule", "constant") in ("constant", None) or bool(optimizer.get("decay_steps"))


def _plain(value):
    return None if not isinstance(value, (int, float, str, bool, list, type(None))) else value


def _show(value) -> str:
    return "(absent)" if not isinstance(value, (int, float, str, bool, list, type(None))) else repr(value)


__all__ = ["ACCEPT", "SAFE_FIELDS", "WorkdirError", "changed_fields", "check_config", "lock"]
