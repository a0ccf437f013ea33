"""Run folders: where a training run keeps its files, and how they are written so that none is ever half-written.

A run folder (``runs/ring8``) holds ``checkpoint.npz``, ``config.json``, ``metrics.csv``, pictures and
``eval.json``.  Every file goes through ``atomic_write``: the bytes go to a temporary file beside the
target, which is flushed, fsync'ed and ``os.replace``'d over it, so a crash, a ``kill -9`` or a full disk
leaves the previous version whole, never a mixture.
"""
from __future__ import annotations

import contextlib
import csv
import json
import os
import tempfile
from pathlib import Path

__all__ = ["CHECKPOINT", "atomic_write", "write_text", "write_json", "checkpoint_path", "MetricsLog"]

CHECKPOINT = "checkpoint.npz"  # the checkpoint's name inside a run folder


# ----------------------------------------------------------------------------- atomic files


@contextlib.contextmanager
def atomic_write(path, mode: str = "w", **open_kw):
    """``with atomic_write(path) as f: f.write(...)``: ``path`` holds either its old content or all the new one.

    The temporary file is ``.<name>.<random>.tmp`` in the same folder (``os.replace`` is atomic only within
    one file system); on any exception it is removed and the old file is left untouched.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **open_kw) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    """Make a rename durable (POSIX; not possible on every platform)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


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


# ----------------------------------------------------------------------------- metrics.csv


class MetricsLog:
    """metrics.csv, one row per logged step, flushed row by row.

    On resume (``keep_through`` = the checkpoint's step) the rows past the checkpoint are dropped: the
    kept rows are rewritten into a new file, and the log then appends to it.
    """

    def __init__(self, path, fields, keep_through: int | None = None):
        self.path, self.fields = Path(path), tuple(fields)
        kept = []
        if keep_through is not None and self.path.is_file():
            with open(self.path, newline="") as f:
                kept = [r for r in csv.DictReader(f)
                        if (r.get("step") or "").isdigit() and int(r["step"]) <= keep_through]
        self.file = open(self.path, "w", newline="")
        self.writer = csv.DictWriter(self.file, fieldnames=self.fields)
        self.writer.writeheader()
        self.writer.writerows({k: r.get(k, "") for k in self.fields} for r in kept)
        self.file.flush()

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
