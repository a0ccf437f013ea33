"""scratchgan.gan.runs: atomic files, the run folder's lock, and metrics.csv that a kill cannot empty."""
import csv
import errno
import json
import os
import socket
import subprocess
import sys

import pytest

from scratchgan.gan import runs
from scratchgan.gan.runs import RunFolderError, RunLock


def test_atomic_write_keeps_the_old_file_when_the_write_fails(tmp_path):
    path = runs.write_text(tmp_path / "config.json", "old\n")
    with pytest.raises(OSError) as err:
        with runs.atomic_write(path) as f:
            f.write("half of the new")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert path.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["config.json"]  # the temp file is gone
    assert err.value.filename == str(path)  # a failed write() is told which file it was


def test_write_json_is_strict(tmp_path):
    with pytest.raises(ValueError):
        runs.write_json(tmp_path / "c.json", {"lr": float("nan")})
    assert not (tmp_path / "c.json").exists()
    assert json.loads(runs.write_json(tmp_path / "c.json", {"lr": 2e-4}).read_text()) == {"lr": 2e-4}


def test_lock_refuses_a_second_writer_and_names_the_first(tmp_path):
    first = RunLock(tmp_path)
    assert first.acquire() is None
    record = json.loads((tmp_path / runs.LOCK).read_text())
    assert record["pid"] == os.getpid() and record["host"] == socket.gethostname()
    with pytest.raises(RunFolderError, match=f"in use by process {os.getpid()} on {socket.gethostname()}"):
        RunLock(tmp_path).acquire()
    first.release()
    assert not (tmp_path / runs.LOCK).exists()
    with RunLock(tmp_path):  # free again
        assert (tmp_path / runs.LOCK).exists()
    assert not (tmp_path / runs.LOCK).exists()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_stale_lock_of_a_dead_process_is_taken_over_with_a_note(tmp_path):
    pid = _dead_pid()
    (tmp_path / runs.LOCK).write_text(json.dumps({"pid": pid, "host": socket.gethostname()}))
    lock = RunLock(tmp_path)
    note = lock.acquire()
    assert f"process {pid}" in note and "no longer running" in note
    assert json.loads((tmp_path / runs.LOCK).read_text())["pid"] == os.getpid()
    lock.release()


def test_a_reused_pid_is_stale_and_another_hosts_lock_is_respected(tmp_path):
    # our own PID, but with another start time: the process that wrote the lock is gone
    (tmp_path / runs.LOCK).write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                                  "pid_start": "1"}))
    if runs._process_start(os.getpid()) is not None:  # Linux /proc
        lock = RunLock(tmp_path)
        assert "no longer running" in lock.acquire()
        lock.release()
    (tmp_path / runs.LOCK).write_text(json.dumps({"pid": 1, "host": "elsewhere.example"}))
    with pytest.raises(RunFolderError, match="elsewhere.example") as err:
        RunLock(tmp_path).acquire()
    assert f"delete {tmp_path / runs.LOCK}" in str(err.value)


def test_leftover_temp_files_and_fresh_folders(tmp_path):
    run = tmp_path / "ring8"
    run.mkdir()
    (run / ".checkpoint.npz.k3j2.tmp").write_bytes(b"half")
    (run / ".metrics.csv.x.tmp").write_text("step")
    (run / "notes.txt").write_text("mine")
    assert [p.name for p in runs.remove_leftover_temp_files(run)] == [".checkpoint.npz.k3j2.tmp", ".metrics.csv.x.tmp"]
    assert os.listdir(run) == ["notes.txt"]
    assert not runs.holds_run(run) and runs.fresh_folder(run) == run
    (run / "metrics.csv").write_text("step\n")
    assert runs.holds_run(run) and runs.fresh_folder(run) == tmp_path / "ring8-2"
    (tmp_path / "ring8-2").mkdir()
    (tmp_path / "ring8-2" / runs.LOCK).write_text("{}")
    assert runs.fresh_folder(run) == tmp_path / "ring8-3"
    (run / "samples_step000010.png").write_bytes(b"png")
    assert {p.name for p in runs.clear_run(run)} == {"metrics.csv", "samples_step000010.png"}
    assert os.listdir(run) == ["notes.txt"]  # only a run's own files are removed


def test_out_that_is_a_file_or_cannot_be_made(tmp_path, monkeypatch):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(RunFolderError, match="is a file, not a folder"):
        runs.make_folder(f)
    with pytest.raises(RunFolderError, match="cannot create the run folder"):
        runs.make_folder(f / "below")

    def denied(self, *a, **k):
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(runs.Path, "mkdir", denied)
    with pytest.raises(RunFolderError, match="Permission denied.*give a folder you can write to"):
        runs.make_folder(tmp_path / "new")


def _rows(path):
    with open(path, newline="") as f:
        return [int(r["step"]) for r in csv.DictReader(f)]


def test_a_kill_during_the_metrics_rewrite_loses_no_rows(tmp_path, monkeypatch):
    path = tmp_path / "metrics.csv"
    with runs.MetricsLog(path, ("step", "loss")) as log:
        for step in range(1, 9):
            log.write({"step": step, "loss": 0.5})
    before = path.read_bytes()

    class KilledMidWrite(csv.DictWriter):
        def writerows(self, rows):
            self.writerow(next(iter(rows)))
            raise KeyboardInterrupt  # stands for the kill: the process dies with the rewrite half done

    monkeypatch.setattr(runs.csv, "DictWriter", KilledMidWrite)
    with pytest.raises(KeyboardInterrupt):
        runs.MetricsLog(path, ("step", "loss"), keep_through=5)
    assert path.read_bytes() == before
    monkeypatch.undo()
    with runs.MetricsLog(path, ("step", "loss"), keep_through=5) as log:  # the resume, again
        log.write({"step": 6, "loss": 0.25})
    assert _rows(path) == [1, 2, 3, 4, 5, 6]
    assert sorted(os.listdir(tmp_path)) == ["metrics.csv"]
