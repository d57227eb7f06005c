"""Multi-host data parallelism, run for real on one machine: two processes joined by JAX's multi-controller
runtime (gloo collectives on CPU, two host devices each: one 4-device mesh) train the tiny experiment as two
hosts would, through the launcher's command line. They are killed (kill -9, both) after a checkpoint, started
again, and must end with the metrics of one process over four devices, up to the order of float sums.

    python -m tests.experiments.tiny_experiment --workdir=DIR --distributed \
        --coordinator_address=localhost:PORT --num_processes=2 --process_id=0   # and the same with 1
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from seqmodels.training import ConfigError, parallel, writers

ROOT = Path(__file__).resolve().parents[2]
TINY = "tests.experiments.tiny_experiment"
TIMEOUT = 420  # seconds for one run of the pair; a hung collective ends in a kill, not a stuck suite


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _start(workdir, devices: int, *flags, env=None) -> subprocess.Popen:
    cache = Path(workdir).parent / "jax_cache"  # the restarted pair reuses the compiled steps of the killed one
    full_env = {**os.environ, "JAX_PLATFORMS": "cpu", "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
                "JAX_COMPILATION_CACHE_DIR": str(cache), "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
                **(env or {})}
    for name in ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID", "TINY_KILL_AT_STEP"):
        if name not in (env or {}):
            full_env.pop(name, None)
    log = Path(workdir).with_name(f"{Path(workdir).name}.{time.monotonic_ns()}.log")  # a file: a pipe could fill up
    with log.open("w") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", TINY, f"--workdir={workdir}", *flags], cwd=ROOT, env=full_env,
                                stdout=subprocess.DEVNULL, stderr=stderr,  # SIGINT at its default, as from a shell
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    proc.log = log
    return proc


def _start_pair(workdir, env=None, second_env=None) -> list[subprocess.Popen]:
    """Process 0 told by flags, process 1 by the environment variables (both ways a user may choose)."""
    address = f"localhost:{_free_port()}"
    first = _start(workdir, 2, "--distributed", f"--coordinator_address={address}", "--num_processes=2",
                   "--process_id=0", env=env)
    told = {"JAX_COORDINATOR_ADDRESS": address, "JAX_NUM_PROCESSES": "2", "JAX_PROCESS_ID": "1"}
    second = _start(workdir, 2, "--distributed", env={**(env or {}), **(second_env or {}), **told})
    return [first, second]


def _finish(procs: list[subprocess.Popen], grace: float = 30.0) -> list[tuple[int, str]]:
    """(status, stderr) of each; once one has died of a signal the others get `grace` seconds, then SIGKILL (as a
    user kills every process of a run); past TIMEOUT all are killed."""
    deadline = time.monotonic() + TIMEOUT
    try:
        while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
            if any((p.poll() or 0) < 0 for p in procs):
                deadline = min(deadline, time.monotonic() + grace)
            time.sleep(0.2)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
    return [(p.wait(), p.log.read_text()) for p in procs]


def _assert_records_close(got: list[dict], want: list[dict]) -> None:
    assert [(r["step"], r["split"]) for r in got] == [(r["step"], r["split"]) for r in want]
    for g, w in zip(got, want):
        assert g.keys() == w.keys()
        np.testing.assert_allclose([g[k] for k in g if k not in ("step", "split")],
                                   [w[k] for k in w if k not in ("step", "split")], rtol=1e-5, atol=1e-6)


def test_the_process_count_and_id_come_from_flags_or_the_environment(monkeypatch):
    parallel.initialize_distributed(False, num_processes=2)  # not distributed: nothing happens
    monkeypatch.setenv("JAX_NUM_PROCESSES", "two")
    with pytest.raises(ConfigError, match=r"num_processes \(or JAX_NUM_PROCESSES\): expected an integer, got 'two'"):
        parallel.initialize_distributed(True, coordinator_address="localhost:1", process_id=0)


def test_two_processes_equal_one_and_resume_after_every_process_is_killed(tmp_path):
    pair_dir, single_dir = tmp_path / "pair", tmp_path / "single"
    single = _start(single_dir, 4)  # the reference: one process, the same four devices, beside the pair
    # both processes kill themselves (kill -9) when asking for the batch of step 27: after the checkpoint of step
    # 10 or 20 (saves are asynchronous), before the end
    killed = _finish(_start_pair(pair_dir, env={"TINY_KILL_AT_STEP": "27"}))
    assert [status for status, _ in killed] == [-signal.SIGKILL] * 2, killed[0][1][-3000:] + killed[1][1][-3000:]
    kept = [int(p.name) for p in (pair_dir / "checkpoints" / "latest").iterdir() if p.name.isdigit()]
    assert kept and max(kept) in (10, 20), kept
    assert not (pair_dir / "results.json").exists()

    resumed = _finish(_start_pair(pair_dir))
    for status, stderr in resumed:
        assert status == 0, stderr[-3000:]
    logged = [stderr for _, stderr in resumed]  # process 0 logs; the other, warnings and errors only
    assert f"resumed from the checkpoint of step {max(kept)}" in logged[0], logged[0][-3000:]
    assert "resumed from" not in logged[1] and "final metrics" not in logged[1], logged[1][-3000:]
    single_status, single_stderr = _finish([single])[0]
    assert single_status == 0, single_stderr[-3000:]

    pair_records = writers.read_jsonl(pair_dir / "metrics.jsonl")
    single_records = writers.read_jsonl(single_dir / "metrics.jsonl")
    _assert_records_close(pair_records, single_records)  # also: one record per line, written by process 0 alone
    assert [r for r in single_records if r["split"] == "final"]  # the final metrics were compared too
    pair_results, single_results = (json.loads((d / "results.json").read_text()) for d in (pair_dir, single_dir))
    assert pair_results["steps"]["last"] == single_results["steps"]["last"] == 40
    assert pair_results["metrics"].keys() == single_results["metrics"].keys()
    np.testing.assert_allclose(list(pair_results["metrics"].values()), list(single_results["metrics"].values()),
                               rtol=1e-5, atol=1e-6)
    gap = max(abs(g[k] - w[k]) for g, w in zip(pair_records, single_records) for k in g if k not in ("step", "split"))
    print(f"killed after the checkpoint of step {max(kept)}, resumed; {len(pair_records)} records and final metrics "
          f"{pair_results['metrics']} of the pair equal the single process's (largest difference {gap:.2g})")


@pytest.mark.slow
def test_ctrl_c_that_reaches_one_process_stops_both_at_the_same_saved_step(tmp_path):
    """A Ctrl-C to process 1 alone (at step 17): both agree at the next log step (20), save it, and end with
    status 130; started again, the pair resumes there and finishes."""
    workdir = tmp_path / "pair"
    interrupted = _finish(_start_pair(workdir, second_env={"TINY_KILL_AT_STEP": "17", "TINY_KILL_SIGNAL": "INT"}))
    for status, stderr in interrupted:
        assert status == 130, stderr[-3000:]
        assert "interrupted: the latest checkpoint (step 20)" in stderr, stderr[-3000:]
    resumed = _finish(_start_pair(workdir))
    assert [status for status, _ in resumed] == [0, 0], resumed[0][1][-3000:] + resumed[1][1][-3000:]
    assert "resumed from the checkpoint of step 20" in resumed[0][1]
    assert json.loads((workdir / "results.json").read_text())["steps"]["last"] == 40
