"""The seed tutorial (demos/gaussian_1d.py) learns N(10, 2²), and every parameter takes part."""
import importlib.util
from pathlib import Path

import numpy as np

import scratchgan as sg

DEMO = Path(__file__).resolve().parents[1] / "demos" / "gaussian_1d.py"


def load_demo():
    spec = importlib.util.spec_from_file_location("gaussian_1d_demo", DEMO)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tutorial_learns_mean_10_std_2(tmp_path, capsys):
    demo = load_demo()
    x = demo.main(["--steps", "6000", "--out", str(tmp_path)])  # converged by ~5k steps; default 10k
    out = capsys.readouterr().out
    assert "loss_D" in out and "picture:" in out
    assert abs(x.mean() - 10.0) < 0.5, x.mean()
    assert abs(x.std() - 2.0) < 0.45, x.std()
    assert (tmp_path / "gaussian_1d.png").stat().st_size > 1000


def test_every_parameter_of_G_and_D_changes_in_a_few_steps():
    demo = load_demo()
    sg.manual_seed(0)
    G0, D0 = demo.make_models(sg.device("cpu"))
    before = {**{"G." + k: v for k, v in G0.state_dict().items()}, **{"D." + k: v for k, v in D0.state_dict().items()}}
    G, D = demo.train(steps=3, seed=0, log_every=0)  # same seed: same initial weights
    after = {**{"G." + k: v for k, v in G.state_dict().items()}, **{"D." + k: v for k, v in D.state_dict().items()}}
    assert before.keys() == after.keys() and len(before) == 8
    for k in before:
        assert not np.array_equal(before[k], after[k]), f"{k} did not change: a cut gradient path"
