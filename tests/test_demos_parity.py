"""The two PyTorch-style demos (written as their PyTorch originals, imports changed) run end to end.

Each runs as ``python demos/X.py`` would (``runpy`` with ``sys.argv``), on tiny synthetic data for a few
steps; the test then checks what a user would: finite losses, a generator that moved, samples written, and
a ``torch.save``'d generator that loads back into a freshly built one and gives the same outputs.
"""
import math
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

import scratchgan as sg
from scratchgan.gan.datasets import write_idx

DEMOS = Path(__file__).resolve().parent.parent / "demos"


def run_demo(name, argv, monkeypatch):
    monkeypatch.setattr(sys, "argv", [str(DEMOS / name), *argv])
    return runpy.run_path(str(DEMOS / name), run_name="__main__")


def _fresh(ns, cls, seed):
    """The demo's class built exactly as the demo first built it (same seed, same draws)."""
    sg.manual_seed(seed)
    return ns[cls]()


def _assert_moved_and_reloads(ns, out, seed, inputs):
    start = _fresh(ns, "Generator", seed).state_dict()
    trained = ns["generator"].state_dict()
    assert list(start) == list(trained)
    moved = [k for k in trained if not np.array_equal(np.asarray(sg.tensor(start[k]).numpy()),
                                                      np.asarray(sg.tensor(trained[k]).numpy()))]
    assert any(k.endswith("weight") for k in moved), "training did not change G's weights"

    G2 = ns["Generator"]()
    G2.load_state_dict(sg.load(out / "generator.pt"))
    G2.eval()
    ns["generator"].eval()
    with sg.no_grad():
        np.testing.assert_array_equal(G2(*inputs).numpy(), ns["generator"](*inputs).numpy())


def test_cgan_demo_runs_on_tiny_fashion_like_data(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    data = tmp_path / "idx"
    data.mkdir()
    write_idx(data / "train-images-idx3-ubyte", rng.integers(0, 256, (40, 28, 28), dtype=np.uint8))
    write_idx(data / "train-labels-idx1-ubyte", (np.arange(40) % 10).astype(np.uint8))
    out = tmp_path / "run"
    ns = run_demo("cgan.py", ["--dataset", str(data), "--batch_size", "16", "--n_epochs", "2", "--max_steps", "4",
                              "--sample_interval", "3", "--out", str(out), "--seed", "5"], monkeypatch)

    assert len(ns["history"]) == 4 and all(math.isfinite(v) for row in ns["history"] for v in row)
    assert ns["batches_done"] == 4 and len(ns["dataloader"]) == 3  # 40 images in batches of 16: 16, 16, 8
    assert sorted(p.name for p in (out / "images").iterdir()) == ["0.png", "3.png"]
    bn = [m for m in ns["generator"].modules() if type(m).__name__ == "BatchNorm1d"]
    assert len(bn) == 3 and all(m.eps == 0.8 for m in bn)  # PyTorch-GAN's positional 0.8 is eps
    z, labels = sg.randn(10, 100), sg.arange(10)
    _assert_moved_and_reloads(ns, out, 5, (z, labels))


def test_wgan_demo_runs_algorithm_1_on_a_tiny_ring(tmp_path, monkeypatch):
    out = tmp_path / "run"
    ns = run_demo("wgan.py", ["--n_samples", "320", "--batch_size", "32", "--n_epochs", "1", "--hidden", "16",
                              "--lr", "1e-3", "--out", str(out), "--seed", "3"], monkeypatch)

    # 10 critic steps, a generator step on critic steps 0 and 5
    assert ns["batches_done"] == 10 and len(ns["history"]) == 2
    assert all(math.isfinite(v) for row in ns["history"] for v in row)
    c = ns["opt"].clip_value
    for name, p in ns["discriminator"].named_parameters():  # clipped after every critic step
        assert float(p.abs().max()) <= c, name
    assert any(float(p.abs().max()) == pytest.approx(c) for p in ns["discriminator"].parameters())
    assert type(ns["optimizer_D"]).__name__ == "RMSprop" and ns["optimizer_D"].state_dict()["state"][0]["step"] == 10
    assert (out / "samples.png").stat().st_size > 0
    _assert_moved_and_reloads(ns, out, 3, (sg.randn(7, 2),))
