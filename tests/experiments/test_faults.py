"""Faults a user meets, run as the user would (a subprocess per case): each ends with one `error:` paragraph and
exit status 1 (130 for Ctrl-C), no traceback; nothing a run had is lost; a workdir is never scrambled.

    python -m pytest -q tests/experiments/test_faults.py      # the fault script (`make faults`)
"""

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from seqmodels.training import writers
from seqmodels.training.workdir import lock

ROOT = Path(__file__).resolve().parents[2]
TINY = "tests.experiments.tiny_experiment"


def launch(module, workdir, *flags, env=None, timeout=300):
    full_env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    full_env.pop("TINY_KILL_AT_STEP", None)
    full_env.update(env or {})
    # SIGINT at its default, as a shell starts a command: an ignored SIGINT, inherited from a parent that
    # ignores it, would make the self-sent Ctrl-C of TINY_KILL_SIGNAL=INT a no-op (the run then just ends)
    return subprocess.run([sys.executable, "-m", module, f"--workdir={workdir}", *flags], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=timeout,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def clean_error(proc, *needles, status=1):
    """One error paragraph naming `needles`, the exit status, no traceback."""
    assert proc.returncode == status, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith(("error:", "interrupted:"))]
    assert len(errors) == 1, proc.stderr[-3000:]  # printed once
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


# --------------------------------------------------------------------------- flags and config files


@pytest.mark.parametrize("flag, needle", [
    ("--config.nonexistent=1", "has no field 'nonexistent'"),
    ("--config=experiments/configs/nope.py", "nope.py"),
    ("--config=experiments/configs/delay_sum.py:huge", "unknown variant 'huge'"),
    ("--config.num_steps=abc", "config.num_steps"),
    ("--config.optimizer.name=adamx", "optimizer.name"),
    ("--config.batch_size=100000", "cannot fill one batch of 100000"),
])
def test_bad_flags_and_configs(tmp_path, flag, needle):
    small = [] if flag.startswith("--config=") else ["--config=experiments/configs/delay_sum.py:small"]
    clean_error(launch("experiments.delay_sum", tmp_path / "w", *small, flag), needle)
    assert not (tmp_path / "w" / "checkpoints").exists()


def test_every_loop_field_is_in_every_config():
    """keep_checkpoints (documented in training/loop.py) can be overridden in every experiment."""
    from experiments.configs import adding, chorales, copy_memory, delay_sum, mnist1d, santa_fe, template
    for module in (adding, chorales, copy_memory, delay_sum, mnist1d, santa_fe, template):
        assert "keep_checkpoints" in module.get_config(), module.__name__


@pytest.mark.parametrize("name, content, needle", [
    ("empty.pickle", b"", "cannot be read as a pickle"),
    ("text.pickle", b"hello, not a pickle\n", "cannot be read as a pickle"),
    ("int.pickle", pickle.dumps(5), "expected a dict of the splits"),
    ("empty.mat", b"", "cannot be read as a MATLAB .mat file"),
    ("dir.pickle", None, "is a directory"),
])
def test_bad_data_files(tmp_path, name, content, needle):
    path = tmp_path / name
    path.mkdir() if content is None else path.write_bytes(content)
    proc = launch("experiments.chorales", tmp_path / "w", "--config=experiments/configs/chorales.py:small",
                  f"--config.data_file={path}")
    clean_error(proc, "data_file", needle)


def test_workdir_that_is_a_file(tmp_path):
    (tmp_path / "w").write_text("not a directory")
    clean_error(launch(TINY, tmp_path / "w"), "is a file, not a directory")


@pytest.fixture
def small_disk(tmp_path):
    """A 20 MB file system of its own (tmpfs), where this machine lets the test mount one (root), else skipped."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", str(mount_point)],
                      capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=True)


def test_read_only_workdir(tmp_path):
    if os.geteuid() == 0:  # root writes into 0o555 directories: a read-only file system then
        pytest.skip("root writes into read-only directories (test_read_only_file_system covers root)")
    (tmp_path / "w").mkdir(mode=0o555)
    clean_error(launch(TINY, tmp_path / "w"), "cannot write")


def test_read_only_file_system(small_disk):
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    clean_error(launch(TINY, small_disk / "w"), "cannot write", "Read-only file system")


def test_disk_full_is_one_line_and_the_run_resumes_once_space_is_freed(small_disk, uninterrupted):
    """The disk fills up somewhere in the run (a save, the metrics, TensorBoard): one line, exit status 1;
    with the space freed, the same command ends with the metrics of an uninterrupted run."""
    free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * (free - 48 * 1024))  # 48 KB left: less than the run writes
    clean_error(launch(TINY, small_disk / "w"), "cannot write", "No space left on device")
    filler.unlink()
    done = launch(TINY, small_disk / "w")
    assert done.returncode == 0, done.stderr[-3000:]
    assert writers.read_jsonl(small_disk / "w" / "metrics.jsonl") == uninterrupted


def test_garbled_checkpoint_is_one_line(tmp_path):
    """Resuming from a checkpoint whose array data are garbage: one line naming it, no leftover tracebacks of
    TensorStore's reads (they used to follow as dozens of `Event loop is closed`)."""
    assert launch(TINY, tmp_path, "--config.num_steps=20").returncode == 0
    for manifest in (tmp_path / "checkpoints").glob("*/*/state/manifest.ocdbt"):
        manifest.write_bytes(b"garbage")
    proc = launch(TINY, tmp_path, "--config.num_steps=40", "--accept_config_changes=safe")
    clean_error(proc, "unreadable")
    assert "Event loop is closed" not in proc.stderr


# --------------------------------------------------------------------------- one run per workdir, its own config


def test_second_run_on_a_busy_workdir_is_refused_at_once(tmp_path):
    """While a run holds the workdir (here this test process, through the same lock), another is refused naming
    it; a lock file left by a dead process holds no lock and is taken over."""
    workdir = tmp_path / "w"
    with lock(workdir):
        busy = launch(TINY, workdir)
        clean_error(busy, "is in use by process", str(os.getpid()), "one run per workdir")
    assert not (workdir / "checkpoints").exists()  # refused before touching anything
    (workdir / "lock").write_text(json.dumps({"pid": 999999, "host": "gone", "started": "yesterday"}))
    done = launch(TINY, workdir)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads((workdir / "lock").read_text())["pid"] != 999999  # taken over


def test_resume_with_another_config_is_refused_unless_accepted(tmp_path):
    workdir = tmp_path / "w"
    assert launch(TINY, workdir).returncode == 0
    results = json.loads((workdir / "results.json").read_text())
    changed = launch(TINY, workdir, "--config.optimizer.learning_rate=0.01", "--config.batch_size=32")
    clean_error(changed, "optimizer.learning_rate: 0.03 -> 0.01", "batch_size: 16 -> 32", "--accept_config_changes")
    assert json.loads((workdir / "results.json").read_text()) == results  # nothing trained, nothing rewritten
    unsafe_as_safe = launch(TINY, workdir, "--config.optimizer.learning_rate=0.01", "--accept_config_changes=safe")
    clean_error(unsafe_as_safe, "--accept_config_changes=all")
    more = launch(TINY, workdir, "--config.num_steps=50", "--config.eval_every=5", "--accept_config_changes=safe")
    assert more.returncode == 0, more.stderr[-3000:]
    assert json.loads((workdir / "results.json").read_text())["steps"]["last"] == 50
    stored = json.loads((workdir / "config.json").read_text())
    assert stored["config"]["num_steps"] == 50
    assert stored["history"][-1]["changes"]["num_steps"] == [40, 50] and stored["history"][-1]["accepted"] == "safe"
    forced = launch(TINY, workdir, "--config.num_steps=50", "--config.eval_every=5",
                    "--config.optimizer.learning_rate=0.01", "--accept_config_changes=all")
    assert forced.returncode == 0, forced.stderr[-3000:]


# --------------------------------------------------------------------------- metrics.jsonl as an uninterrupted run's


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("uninterrupted")
    assert launch(TINY, workdir).returncode == 0
    return writers.read_jsonl(workdir / "metrics.jsonl")


def test_killed_before_the_first_checkpoint_leaves_no_stale_records(tmp_path, uninterrupted):
    killed = launch(TINY, tmp_path, env={"TINY_KILL_AT_STEP": "8"})  # before the checkpoint of step 10
    assert killed.returncode == -signal.SIGKILL
    assert writers.read_jsonl(tmp_path / "metrics.jsonl")  # the step-5 records were written
    assert launch(TINY, tmp_path).returncode == 0
    assert writers.read_jsonl(tmp_path / "metrics.jsonl") == uninterrupted


def test_a_record_cut_short_by_a_kill_is_dropped_on_resume(tmp_path, uninterrupted):
    killed = launch(TINY, tmp_path, env={"TINY_KILL_AT_STEP": "27"})
    assert killed.returncode == -signal.SIGKILL
    with (tmp_path / "metrics.jsonl").open("a") as f:
        f.write('{"step": 26, "split": "tra')  # as a kill in the middle of a write leaves it
    resumed = launch(TINY, tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    records = writers.read_jsonl(tmp_path / "metrics.jsonl")
    assert records == uninterrupted
    assert len({(r["step"], r["split"]) for r in records}) == len(records)  # one record per (step, split)


def test_ctrl_c_saves_the_step_reached_and_the_run_resumes_exactly(tmp_path, uninterrupted):
    """A Ctrl-C between checkpoints (step 17; checkpoints every 10): the step reached is saved, one line, 130."""
    interrupted = launch(TINY, tmp_path, env={"TINY_KILL_AT_STEP": "17", "TINY_KILL_SIGNAL": "INT"})
    line = clean_error(interrupted, "interrupted: the latest checkpoint (step 17)", "run the same command again",
                       status=130)
    assert "KeyboardInterrupt" not in interrupted.stderr, line
    assert launch(TINY, tmp_path).returncode == 0
    assert writers.read_jsonl(tmp_path / "metrics.jsonl") == uninterrupted


@pytest.mark.parametrize("attempt", range(3))
def test_ctrl_c_from_outside_at_any_moment_is_one_line(tmp_path, attempt):
    """The user's Ctrl-C lands wherever the process is (XLA, a save, logging): always one line, status 130."""
    proc = subprocess.Popen([sys.executable, "-m", "experiments.delay_sum", f"--workdir={tmp_path}",
                             "--config.num_steps=1000000", "--config.checkpoint_every=500",
                             "--config.optimizer.learning_rate=0.01"],
                            # one device: 8 virtual CPU devices on 2 loaded cores can miss XLA's 40 s collective
                            # rendezvous and abort (closing note), which is not what this test is about
                            cwd=ROOT, env={**os.environ, "JAX_PLATFORMS": "cpu",
                                           "XLA_FLAGS": "--xla_force_host_platform_device_count=1"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    for _ in range(1200):  # until the first checkpoint is on disk
        if any(p.name.isdigit() for p in (tmp_path / "checkpoints" / "latest").glob("*")):  # finalised, not tmp
            break
        time.sleep(0.1)
    time.sleep(0.37 * attempt)  # a different moment each time
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    done = subprocess.CompletedProcess(proc.args, proc.returncode, "", err)
    line = clean_error(done, "interrupted: the latest checkpoint (step", "run the same command again", status=130)
    assert "KeyboardInterrupt" not in err, line
