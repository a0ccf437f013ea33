"""A run's data is never lost, and every mistake gets one clear line: the `scratchgan` command end to end on
tiny runs (issue 9).  Each bad input exits non-zero without a traceback; run folders are owned and never
clobbered; SIGTERM saves like Ctrl-C; divergence stops with one message."""
import errno
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from scratchgan.gan import checkpoint as C
from scratchgan.gan import cli, runs
from scratchgan.gan.checkpoint import load_checkpoint
from scratchgan.gan.train import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--batch-size", "16", "--hidden", "8", "--depth", "1", "--pack", "2", "--quiet", "--device", "cpu",
        "--log-every", "1", "--sample-every", "1000", "--checkpoint-every", "2"]


def train(out, *more, steps=4, seed=1):
    return cli.main(["train", "--data", "ring8", *TINY, "--steps", str(steps), "--seed", str(seed),
                     "--out", str(out), *more])


def files(folder):
    """Every file of a folder with its bytes."""
    return {p.name: p.read_bytes() for p in sorted(Path(folder).iterdir()) if p.is_file()}


def fails_cleanly(capsys, code, *argv):
    """Runs the command; it must exit with `code` and one message, no traceback.  Returns stderr."""
    try:
        rc = cli.main(list(argv))
    except SystemExit as e:  # argparse: exit 2 with a usage line
        rc = e.code
    err = capsys.readouterr().err
    assert rc == code, err
    assert "Traceback" not in err and err.strip()
    return err


# ----------------------------------------------------------------------------- run folders are owned


def test_resuming_another_run_into_a_run_folder_is_refused_and_leaves_it_byte_for_byte(tmp_path, capsys):
    assert train(tmp_path / "ring8", steps=6) == 0
    assert train(tmp_path / "other", seed=2) == 0
    before = files(tmp_path / "ring8")
    err = fails_cleanly(capsys, 1, "train", "--resume", str(tmp_path / "other"), "--steps", "6",
                        "--out", str(tmp_path / "ring8"))
    assert "already holds a run at step 6" in err and "--overwrite" in err and "--resume" in err
    assert files(tmp_path / "ring8") == before
    # the resumed run may go to a fresh folder: it takes its history along
    assert cli.main(["train", "--resume", str(tmp_path / "other"), "--steps", "6", "--quiet",
                     "--out", str(tmp_path / "branch")]) == 0
    rows = (tmp_path / "branch" / "metrics.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2", "3", "4", "5", "6"]


def test_a_new_run_into_a_run_folder_is_refused_unless_overwrite(tmp_path, capsys):
    assert train(tmp_path / "run", "--sample-every", "4", steps=6) == 0
    before = files(tmp_path / "run")
    assert "samples_step000004.png" in before
    err = fails_cleanly(capsys, 1, "train", "--data", "ring8", *TINY, "--steps", "2", "--out", str(tmp_path / "run"))
    assert "already holds a run at step 6" in err
    assert files(tmp_path / "run") == before
    assert train(tmp_path / "run", "--overwrite", steps=2) == 0
    assert "deleted a run at step 6" in capsys.readouterr().out
    after = files(tmp_path / "run")
    assert "samples_step000004.png" not in after  # no old pictures mixed with the new
    assert load_checkpoint(tmp_path / "run" / "checkpoint.npz").step == 2


def test_the_default_folder_moves_on_to_a_fresh_one_and_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = ["train", "--data", "ring8", *TINY, "--steps", "2", "--seed", "0"]
    assert cli.main(argv) == 0
    first = files(tmp_path / "runs" / "ring8")
    capsys.readouterr()
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "runs/ring8 holds a run at step 2; this run goes to runs/ring8-2" in out
    assert files(tmp_path / "runs" / "ring8") == first
    assert load_checkpoint(tmp_path / "runs" / "ring8-2" / "checkpoint.npz").step == 2


def test_leftover_temp_files_of_killed_writes_are_removed_on_the_next_start(tmp_path, capsys):
    assert train(tmp_path / "run") == 0
    (tmp_path / "run" / ".checkpoint.npz.a1b2c3.tmp").write_bytes(b"PK half a checkpoint")
    (tmp_path / "run" / ".metrics.csv.d4e5.tmp").write_text("step,epo")
    assert cli.main(["train", "--resume", str(tmp_path / "run"), "--steps", "6", "--quiet"]) == 0
    assert "removed 2 temporary file(s)" in capsys.readouterr().out
    assert not list((tmp_path / "run").glob(".*.tmp")) and not (tmp_path / "run" / runs.LOCK).exists()


def test_a_stale_lock_is_taken_over_with_a_note(tmp_path, capsys):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / runs.LOCK).write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname()}))
    assert train(tmp_path / "run") == 0
    assert f"left by process {dead.pid}" in capsys.readouterr().out
    assert not (tmp_path / "run" / runs.LOCK).exists()


def _env():
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("COLUMNS", None)
    return env


def _start_long_run(out, cwd):
    proc = subprocess.Popen([sys.executable, "-m", "scratchgan", "train", "--data", "ring8", "--steps", "100000",
                             "--hidden", "8", "--depth", "1", "--batch-size", "16", "--pack", "2", "--seed", "0",
                             "--log-every", "1", "--sample-every", "100000", "--checkpoint-every", "5",
                             "--device", "cpu", "--out", str(out)],
                            cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    deadline = time.time() + 60
    while time.time() < deadline:  # wait until it is training
        if (out / "metrics.csv").is_file() and len((out / "metrics.csv").read_text().splitlines()) > 3:
            return proc
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("the run did not start")


def test_a_second_writer_is_refused_and_sigterm_saves_like_ctrl_c(tmp_path, capsys):
    out = tmp_path / "run"
    proc = _start_long_run(out, tmp_path)
    try:
        err = fails_cleanly(capsys, 1, "train", "--data", "ring8", *TINY, "--steps", "2", "--out", str(out))
        assert f"in use by process {proc.pid}" in err and "kill" in err
        err = fails_cleanly(capsys, 1, "train", "--resume", str(out), "--steps", "200000", "--quiet")
        assert f"in use by process {proc.pid}" in err
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert "Traceback" not in stderr and "SIGTERM: stopping after this step" in stderr
    ckpt = load_checkpoint(out / "checkpoint.npz")  # the first writer finished with a loadable checkpoint
    assert ckpt.step >= 3 and not ckpt.meta["completed"]
    assert f"--resume {out / 'checkpoint.npz'}" in stdout
    assert not (out / runs.LOCK).exists()
    rows = (out / "metrics.csv").read_text().splitlines()
    assert rows[-1].split(",")[0] == str(ckpt.step)
    assert cli.main(["train", "--resume", str(out), "--steps", str(ckpt.step + 2), "--quiet"]) == 0  # resumable
    assert load_checkpoint(out / "checkpoint.npz").step == ckpt.step + 2


# ----------------------------------------------------------------------------- divergence


def test_a_diverging_run_stops_with_one_message_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    out = tmp_path / "run"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rc = cli.main(["train", "--data", "ring8", "--hidden", "64", "--depth", "3", "--batch-size", "32",
                       "--lr", "1e3", "--steps", "300", "--seed", "0", "--checkpoint-every", "2", "--quiet",
                       "--device", "cpu", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 1
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]  # no raw NumPy warnings
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "training stopped: non-finite values in opt" in err and "NumPy reported overflow" in err
    step = int(err.split(" after step ")[1].split()[0])
    assert 2 < step < 300 and "--lr" in err
    kept = load_checkpoint(out / "checkpoint.npz")
    assert f"the last good checkpoint {out / 'checkpoint.npz'} is kept (step {kept.step})" in err
    assert kept.step < step
    for name in ("optG", "optD"):
        assert all(np.isfinite(v).all() for s in kept.optimizers[name]["state"].values()
                   for v in s.values() if hasattr(v, "shape"))
    assert not (out / runs.LOCK).exists()


# ----------------------------------------------------------------------------- clear errors


def test_a_samples_file_or_random_bytes_as_a_checkpoint(tmp_path, capsys):
    samples = tmp_path / "samples.npy"
    np.save(samples, np.zeros((10, 2), np.float32))
    for argv in (["sample", "--checkpoint", str(samples), "--out", str(tmp_path / "x.npy")],
                 ["evaluate", "--checkpoint", str(samples)],
                 ["train", "--resume", str(samples)]):
        err = fails_cleanly(capsys, 1, *argv)
        assert str(samples) in err and "is a .npy array" in err and "checkpoint.npz" in err
    noise = tmp_path / "noise.npz"
    noise.write_bytes(np.random.default_rng(0).bytes(3000))
    err = fails_cleanly(capsys, 1, "sample", "--checkpoint", str(noise), "--out", str(tmp_path / "x.npy"))
    assert str(noise) in err and "not a scratchgan checkpoint" in err and "allow_pickle" not in err


def test_out_that_is_a_file_or_unwritable(tmp_path, capsys, monkeypatch):
    f = tmp_path / "afile"
    f.write_text("x")
    err = fails_cleanly(capsys, 1, "train", "--data", "ring8", *TINY, "--out", str(f))
    assert f"--out {f}: is a file, not a folder" in err

    def denied(self, *a, **k):
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(runs.Path, "mkdir", denied)
    err = fails_cleanly(capsys, 1, "train", "--data", "ring8", *TINY, "--out", str(tmp_path / "ro" / "run"))
    assert f"--out {tmp_path / 'ro' / 'run'}: cannot create the run folder (Permission denied)" in err


def test_a_full_disk_names_the_file_the_step_and_the_checkpoint_kept(tmp_path, capsys, monkeypatch):
    real_savez, calls = np.savez, []

    def full_on_the_second_checkpoint(f, **arrays):
        calls.append(1)
        if len(calls) == 2:
            f.write(b"PK\x03\x04 the first bytes")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_savez(f, **arrays)

    monkeypatch.setattr(C.np, "savez", full_on_the_second_checkpoint)
    out = tmp_path / "run"
    err = fails_cleanly(capsys, 1, "train", "--data", "ring8", *TINY, "--steps", "6", "--out", str(out))
    ckpt = out / "checkpoint.npz"
    assert f"cannot write {ckpt} at step 4: No space left on device" in err
    assert f"the last good checkpoint {ckpt} is kept (step 2)" in err
    assert f"free some space, then scratchgan train --resume {ckpt}" in err
    monkeypatch.undo()
    assert load_checkpoint(ckpt).step == 2 and not list(out.glob(".*.tmp")) and not (out / runs.LOCK).exists()
    assert cli.main(["train", "--resume", str(out), "--quiet"]) == 0  # and it goes on from there


@pytest.mark.parametrize("flag, value", [("--seed", "-1"), ("--lr", "nan"), ("--lr", "inf"), ("--lr-d", "inf"),
                                         ("--label-smoothing", "nan"), ("--lr-decay", "inf")])
def test_bad_numbers_name_their_flag(tmp_path, capsys, flag, value):
    err = fails_cleanly(capsys, 2, "train", "--data", "ring8", flag, value, "--out", str(tmp_path / "never"))
    assert f"argument {flag}" in err and value in err
    assert not (tmp_path / "never").exists()


def test_non_finite_betas_and_configs_are_refused(tmp_path, capsys):
    err = fails_cleanly(capsys, 2, "train", "--betas", "0.5", "nan", "--out", str(tmp_path / "never"))
    assert "argument --betas" in err and "finite" in err
    for bad in (dict(lr=math.nan), dict(lr=math.inf), dict(betas=(0.5, math.nan)), dict(betas=(1.0, 0.9)),
                dict(lr_d=math.inf), dict(seed=-1)):
        with pytest.raises(ValueError, match="TrainConfig"):
            TrainConfig(**bad).validate()


def test_config_json_is_always_valid_json(tmp_path):
    assert train(tmp_path / "run") == 0

    def refuse(name):
        raise ValueError(f"{name} is not JSON")

    cfg = json.loads((tmp_path / "run" / "config.json").read_text(), parse_constant=refuse)
    assert cfg["lr"] == 2e-4 and cfg["seed"] == 1
    json.loads((tmp_path / "run" / "eval.json").read_text(), parse_constant=refuse)


def test_a_wrong_data_dir_is_an_error(tmp_path, capsys):
    err = fails_cleanly(capsys, 1, "train", "--data", "fashion-mnist", "--data-dir", "/nonexistent/dir",
                        "--dry-run", "--out", str(tmp_path / "never"))
    assert "--data-dir" in err and "/nonexistent/dir" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    err = fails_cleanly(capsys, 1, "train", "--data", "fashion-mnist", "--data-dir", str(empty), "--quiet",
                        "--out", str(tmp_path / "never"))
    assert f"--data-dir {empty}: no fashion-mnist train images there" in err
    err = fails_cleanly(capsys, 1, "train", "--data", "ring8", "--data-dir", str(empty),
                        "--out", str(tmp_path / "never"))
    assert "--data-dir" in err and "toy distribution" in err
    assert not (tmp_path / "never").exists()


def test_evaluate_warns_about_nan_samples_and_another_datasets_samples(tmp_path, capsys):
    rng = np.random.default_rng(0)
    angles = rng.integers(0, 8, 500) * (2 * np.pi / 8)
    ring = np.stack([np.cos(angles), np.sin(angles)], 1).astype(np.float32)
    np.save(tmp_path / "ring.npy", ring)
    assert cli.main(["evaluate", "--samples", str(tmp_path / "ring.npy"), "--data", "ring8"]) == 0
    assert "warning" not in capsys.readouterr().err  # the right data: no warning

    nan = ring.copy()
    nan[:50] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    assert cli.main(["evaluate", "--samples", str(tmp_path / "nan.npy"), "--data", "ring8"]) == 0
    assert "warning: 50 of 500 samples are NaN or infinite" in capsys.readouterr().err
    np.save(tmp_path / "allnan.npy", np.full((20, 2), np.nan, np.float32))
    assert cli.main(["evaluate", "--samples", str(tmp_path / "allnan.npy"), "--data", "ring8"]) == 0
    assert "warning: 20 of 20 samples are NaN" in capsys.readouterr().err

    assert cli.main(["evaluate", "--samples", str(tmp_path / "ring.npy"), "--data", "grid25"]) == 0
    err = capsys.readouterr().err
    assert "hardly touch grid25" in err and "another dataset" in err
    np.save(tmp_path / "far.npy", rng.normal(0, 1, (300, 1)).astype(np.float32))
    assert cli.main(["evaluate", "--samples", str(tmp_path / "far.npy"), "--data", "gauss1d"]) == 0
    assert "hardly touch gauss1d" in capsys.readouterr().err

    assert train(tmp_path / "run") == 0
    err = fails_cleanly(capsys, 1, "evaluate", "--samples", str(tmp_path / "run" / "checkpoint.npz"), "--data", "ring8")
    assert "is a .npz archive" in err and "--checkpoint" in err


def test_a_failed_write_outside_the_loop_names_the_file_without_errno(tmp_path, capsys):
    assert train(tmp_path / "run") == 0
    (tmp_path / "afile").write_text("in the way")
    err = fails_cleanly(capsys, 1, "sample", "--checkpoint", str(tmp_path / "run"), "--n", "3",
                        "--out", str(tmp_path / "afile" / "x.npy"))
    assert "[Errno" not in err and f"{tmp_path / 'afile'}: File exists" in err
