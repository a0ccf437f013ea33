"""Run folders: where a training run keeps its files, who may write them, and how none is ever half-written.

A run folder (``runs/ring8``) holds ``checkpoint.npz``, ``config.json``, ``metrics.csv``, pictures and
``eval.json``.  Three rules keep a run's data safe:

* **Every file goes through ``atomic_write``**: the bytes go to a temporary file beside the target, which
  is flushed, fsync'ed and ``os.replace``'d over it, so a crash, a ``kill -9`` or a full disk leaves the
  previous version whole, never a mixture.  The temporary files of a write that was killed are removed
  the next time a run opens the folder (``remove_leftover_temp_files``).
* **A folder has one writer**: ``RunLock`` creates ``run.lock`` (PID, host, start time, command) and a
  second writer is refused with a message naming the first.  A lock left by a process that is no longer
  running on this host is stale: it is taken over, with a note.
* **A run is never replaced silently**: ``holds_run`` tells whether a folder holds a run's files; the
  training loop refuses to start another run there unless asked by name (``--overwrite``), and
  ``clear_run`` then removes exactly the files a run writes.
"""
from __future__ import annotations

import csv
import datetime
import errno
import json
import os
import socket
import sys
import tempfile
from pathlib import Path

from ..serialization import atomic_write

__all__ = ["CHECKPOINT", "LOCK", "RUN_FILES", "RunFolderError", "atomic_write", "write_text", "write_json",
           "checkpoint_path", "make_folder", "holds_run", "clear_run", "remove_leftover_temp_files", "fresh_folder",
           "RunLock", "MetricsLog"]

CHECKPOINT = "checkpoint.npz"  # the checkpoint's name inside a run folder
LOCK = "run.lock"
RUN_FILES = (CHECKPOINT, "metrics.csv", "config.json", "eval.json")  # a folder with any of these holds a run
PICTURES = ("samples*.png", "losses.png")


class RunFolderError(RuntimeError):
    """A run folder that cannot be used as asked: in use by another process, holding another run, not a
    writable folder, or a write into it failed.  The message says what to do."""


# ----------------------------------------------------------------------------- atomic files
# ``atomic_write`` itself lives in the engine (scratchgan/serialization.py), where scratchgan.save uses it.
def write_text(path, text: str) -> Path:
    with atomic_write(path) as f:
        f.write(text)
    return Path(path)


def write_json(path, obj) -> Path:
    """Strict JSON (NaN and infinity refused: they are not JSON), indented, one trailing newline."""
    return write_text(path, json.dumps(obj, indent=2, allow_nan=False) + "\n")


def checkpoint_path(path) -> Path:
    """A checkpoint file, or the checkpoint inside a run folder."""
    path = Path(path)
    return path / CHECKPOINT if path.is_dir() else path


# ----------------------------------------------------------------------------- the folder and its run


def make_folder(path) -> Path:
    """``path`` as a folder that exists and can be written, or a RunFolderError saying why not."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise RunFolderError(f"--out {path}: is a file, not a folder; give a folder for the run (it is created "
                             f"when missing)")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RunFolderError(f"--out {path}: cannot create the run folder ({e.strerror or e}); give a folder "
                             f"you can write to") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise RunFolderError(f"--out {path}: the folder is not writable; give a folder you can write to")
    return path


def holds_run(folder) -> bool:
    folder = Path(folder)
    return any((folder / name).exists() for name in RUN_FILES)


def clear_run(folder) -> list[Path]:
    """Remove the files a run writes (never anything else); returns them."""
    folder = Path(folder)
    gone = [folder / n for n in RUN_FILES if (folder / n).exists()]
    gone += [p for pattern in PICTURES for p in sorted(folder.glob(pattern))]
    for p in gone:
        p.unlink()
    return gone


def remove_leftover_temp_files(folder) -> list[Path]:
    """The temporary files (``.<name>.<random>.tmp``) of atomic writes that were killed before their rename.
    Only call this while holding the folder's lock: then no write of ours is under way."""
    leftovers = sorted(Path(folder).glob(".*.tmp"))
    for p in leftovers:
        p.unlink(missing_ok=True)
    return leftovers


def fresh_folder(folder) -> Path:
    """``folder`` if it holds no run, else the first of ``folder-2``, ``folder-3``, ... that holds none."""
    folder = Path(folder)
    candidate, n = folder, 1
    while holds_run(candidate) or (candidate / LOCK).exists() or (candidate.exists() and not candidate.is_dir()):
        n += 1
        candidate = folder.with_name(f"{folder.name}-{n}")
    return candidate


# ----------------------------------------------------------------------------- one writer per folder


class RunLock:
    """``run.lock`` in a run folder: while it exists, the process it names is the folder's only writer.

    ``acquire`` creates it whole or not at all (written to a temporary file, then hard-linked into place,
    which fails if a lock exists); ``release`` removes it.  A lock whose process no longer runs on this host
    (same PID and start time, as /proc tells) is stale and is taken over; a lock from another host is
    never taken over, because whether that process runs cannot be known from here.
    """

    def __init__(self, folder):
        self.path = Path(folder) / LOCK
        self.held = False

    def acquire(self) -> str | None:
        """Take the lock; returns a note when a stale lock was taken over.  RunFolderError when in use."""
        note = None
        for _ in range(3):
            if self._create():
                self.held = True
                return note
            other = _read_lock(self.path)
            if other is not None and _lock_is_live(other):
                raise RunFolderError(
                    f"{self.path.parent} is in use by process {other.get('pid')} on {other.get('host')} "
                    f"(started {other.get('started', '?')}: {other.get('command', '?')}).  Wait for it to finish, "
                    f"stop it (Ctrl-C or kill {other.get('pid')}: it saves a checkpoint), or choose another --out.  "
                    f"If that process is gone (another machine), delete {self.path}.")
            who = f"process {other.get('pid')} on {other.get('host')}" if other else "an unreadable lock file"
            note = f"note: {self.path} was left by {who}, which is no longer running; taking the folder over"
            self.path.unlink(missing_ok=True)
        raise RunFolderError(f"{self.path}: could not take the lock (other processes keep taking it); try again")

    def _create(self) -> bool:
        record = {"pid": os.getpid(), "host": socket.gethostname(), "pid_start": _process_start(os.getpid()),
                  "started": datetime.datetime.now().isoformat(timespec="seconds"),
                  "command": " ".join(["scratchgan", *sys.argv[1:]]) if sys.argv else "?"}
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{LOCK}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(record, f)
            try:
                os.link(tmp, self.path)  # atomic, and fails when the lock exists
            except (FileExistsError, FileNotFoundError):  # not found: the holder cleaned our temp file away
                return False
            except OSError as e:  # a file system without hard links: exclusive create (not atomic in content)
                if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                    raise
                try:
                    with open(self.path, "x") as f:
                        json.dump(record, f)
                except FileExistsError:
                    return False
            return True
        finally:
            Path(tmp).unlink(missing_ok=True)

    def release(self) -> None:
        if self.held:
            record = _read_lock(self.path)
            if record is not None and record.get("pid") == os.getpid():
                self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self):
        if not self.held:
            self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()
        return False


def _read_lock(path: Path) -> dict | None:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("pid"), int) else None


def _process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux /proc), to tell a reused PID apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()[19]  # field 22; the name before ")" may hold spaces


def _lock_is_live(record: dict) -> bool:
    if record.get("host") != socket.gethostname():
        return True  # another machine's process: cannot be checked from here
    pid = record["pid"]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, another user's
    started = record.get("pid_start")
    return started is None or _process_start(pid) in (None, started)


# ----------------------------------------------------------------------------- metrics.csv


class MetricsLog:
    """metrics.csv, one row per logged step, flushed row by row.

    It starts as a header and the rows kept from before: on resume (``keep_through`` = the checkpoint's
    step) the rows up to the checkpoint, read from ``history`` (the resumed run's metrics.csv; default:
    this one).  That start is written atomically, so a resume killed as it starts loses no row; the log
    then appends.
    """

    def __init__(self, path, fields, keep_through: int | None = None, history=None):
        self.path, self.fields = Path(path), tuple(fields)
        source = Path(history) if history is not None else self.path
        kept = []
        if keep_through is not None and source.is_file():
            with open(source, newline="") as f:
                kept = [r for r in csv.DictReader(f)
                        if (r.get("step") or "").isdigit() and int(r["step"]) <= keep_through]
        with atomic_write(self.path, newline="") as f:
            start = csv.DictWriter(f, fieldnames=self.fields)
            start.writeheader()
            start.writerows({k: r.get(k, "") for k in self.fields} for r in kept)
        self.file = open(self.path, "a", newline="")
        self.writer = csv.DictWriter(self.file, fieldnames=self.fields)

    def write(self, row: dict) -> None:
        self.writer.writerow(row)
        self.file.flush()

    def close(self) -> None:
        self.file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
