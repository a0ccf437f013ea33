"""The scratchgan command: recipes and options, train/sample/evaluate, resume rules, Ctrl-C in a real process."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from scratchgan.gan import cli, recipes
from scratchgan.gan.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--steps", "4", "--batch-size", "16", "--hidden", "8", "--depth", "1", "--pack", "2", "--quiet",
        "--device", "cpu", "--seed", "1"]


def config(*argv):
    return cli.config_from_args(cli.build_parser().parse_args(["train", *argv]))


def test_no_arguments_trains_the_ring8_recipe():
    cfg = config()
    assert cfg.data == "ring8" and cfg.out == "runs/ring8"
    for k, v in recipes.recipe("ring8").items():
        assert getattr(cfg, k) == v, k


def test_options_override_the_recipe():
    cfg = config("--data", "mnist", "--epochs", "2", "--lr", "1e-3", "--betas", "0.0", "0.9", "--pack", "2",
                 "--label-smoothing", "0.1", "--d-steps", "2", "--loss", "minimax", "--out", "x")
    assert (cfg.model, cfg.epochs, cfg.steps, cfg.lr, cfg.betas, cfg.pack) == ("dcgan", 2, None, 1e-3, (0.0, 0.9), 2)
    assert (cfg.label_smoothing, cfg.d_steps, cfg.loss, cfg.out) == (0.1, 2, "minimax", "x")
    assert config("--data", "fashion-mnist", "--model", "mlp", "--steps", "7").steps == 7
    assert config("--data", "fashion-mnist", "--model", "mlp", "--steps", "7").epochs is None
    assert config("--data", "/some/folder").out == "runs/folder"  # a folder of IDX files trains like MNIST
    with pytest.raises(SystemExit):
        config("--steps", "3", "--epochs", "1")


def test_train_sample_evaluate_and_resume(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", "--data", "ring8", *TINY, "--out", str(out)]) == 0
    ckpt = out / "checkpoint.npz"
    assert load_checkpoint(ckpt).step == 4

    samples = tmp_path / "s.npy"
    assert cli.main(["sample", "--checkpoint", str(ckpt), "--n", "300", "--out", str(samples), "--seed", "2"]) == 0
    x = np.load(samples)
    assert x.shape == (300, 2) and x.dtype == np.float32
    cli.main(["sample", "--checkpoint", str(ckpt), "--n", "300", "--out", str(tmp_path / "t.npy"), "--seed", "2"])
    assert np.array_equal(x, np.load(tmp_path / "t.npy"))  # a seed repeats the samples

    capsys.readouterr()
    assert cli.main(["evaluate", "--samples", str(samples), "--data", "ring8"]) == 0
    report = capsys.readouterr().out
    assert "modes:" in report and "high_quality_pct" in report and "reverse_kl" in report
    assert cli.main(["evaluate", "--checkpoint", str(ckpt), "--n", "100"]) == 0

    # resume: longer, in place; hyper-parameters cannot change
    assert cli.main(["train", "--resume", str(ckpt), "--steps", "6", "--quiet"]) == 0
    assert load_checkpoint(ckpt).step == 6
    assert cli.main(["train", "--resume", str(ckpt), "--lr", "1.0"]) == 1
    assert "--lr: cannot change when resuming" in capsys.readouterr().err
    assert cli.main(["train", "--resume", str(out), "--data", "ring8", "--steps", "7", "--quiet"]) == 0  # same value: fine
    assert load_checkpoint(ckpt).step == 7


def test_image_samples_are_nchw_in_unit_range(tmp_path):
    out = tmp_path / "img"
    assert cli.main(["train", "--data", "mnist", "--model", "mlp", "--dry-run", "--quiet", "--seed", "0",
                     "--out", str(out)]) == 0
    assert cli.main(["sample", "--checkpoint", str(out / "checkpoint.npz"), "--n", "5",
                     "--out", str(tmp_path / "img.npy"), "--seed", "0"]) == 0
    x = np.load(tmp_path / "img.npy")
    assert x.shape == (5, 1, 28, 28) and x.dtype == np.float32 and x.min() >= -1 and x.max() <= 1


def test_clear_errors(tmp_path, capsys):
    bad = tmp_path / "checkpoint.npz"
    bad.write_bytes(b"PK\x03\x04 definitely not a zip")
    assert cli.main(["sample", "--checkpoint", str(bad), "--n", "2", "--out", str(tmp_path / "x.npy")]) == 1
    err = capsys.readouterr().err
    assert str(bad) in err and "Traceback" not in err
    assert cli.main(["train", "--data", "nosuchdata", "--quiet", "--out", str(tmp_path / "never")]) == 1
    assert "nosuchdata" in capsys.readouterr().err
    assert not (tmp_path / "never").exists()  # nothing is written before the data loads


def _env():
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("COLUMNS", None)
    return env


def test_ctrl_c_in_a_real_process_saves_and_exits_cleanly(tmp_path):
    """`python -m scratchgan train`, interrupted with SIGINT mid-run: a checkpoint, exit code 130, no traceback."""
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "scratchgan", "train", "--data", "ring8", "--steps", "100000",
                             "--hidden", "8", "--depth", "1", "--batch-size", "16", "--pack", "2", "--seed", "0",
                             "--log-every", "1", "--sample-every", "100000", "--device", "cpu", "--out", str(out)],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    try:
        deadline = time.time() + 60
        while time.time() < deadline:  # wait until it is training
            if (out / "metrics.csv").is_file() and len((out / "metrics.csv").read_text().splitlines()) > 3:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == cli.EXIT_INTERRUPTED, stderr
    assert "Traceback" not in stderr
    ckpt = load_checkpoint(out / "checkpoint.npz")
    assert 3 <= ckpt.step < 100000
    assert f"--resume {out / 'checkpoint.npz'}" in stdout


# ----------------------------------------------------------------------------- the demo scripts, tiny


def _demo(name):
    import importlib.util  # noqa: PLC0415

    spec = importlib.util.spec_from_file_location(f"demo_{name}", ROOT / "demos" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_demos_run_tiny_and_write_their_pictures(tmp_path):
    from scratchgan.gan.datasets import write_idx  # noqa: PLC0415

    result = _demo("ring8").main(["--steps", "20", "--batch-size", "32", "--out", str(tmp_path / "ring")])
    assert result.n_samples == 2500 and (tmp_path / "ring" / "ring8_pack4.png").is_file()

    curves = _demo("saturation").main(["--out", str(tmp_path / "sat"), "--points", "9"])
    assert (tmp_path / "sat" / "saturation.png").is_file()
    assert abs(curves["minimax"][1][0]) < 0.11 and curves["nonsaturating"][1][0] < -0.89  # D(G(z)) = 0.1

    idx = tmp_path / "idx"
    idx.mkdir()
    rng = np.random.default_rng(0)
    write_idx(idx / "train-images-idx3-ubyte.gz", rng.integers(0, 256, size=(40, 28, 28), dtype=np.uint8))
    _demo("mlp_mnist").main(["--data", str(idx), "--epochs", "1", "--steps", "2", "--batch-size", "16",
                             "--out", str(tmp_path / "mlp")])
    assert (tmp_path / "mlp" / "epoch001.png").is_file()
    _demo("dcgan_mnist").main(["--data", str(idx), "--epochs", "1", "--steps", "2", "--batch-size", "8",
                               "--ngf", "4", "--ndf", "4", "--out", str(tmp_path / "dcgan")])
    assert (tmp_path / "dcgan" / "epoch001.png").is_file()
