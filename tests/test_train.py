"""The training loop: outputs, bit-for-bit resume, Ctrl-C, the NaN guard, every parameter learning."""
import csv
import dataclasses
import os
import signal

import numpy as np
import pytest

import scratchgan as sg
from scratchgan.gan.checkpoint import load_checkpoint
from scratchgan.gan.train import NonFiniteLossError, TrainConfig, build_models, train


def tiny(tmp_path, name="run", **kw):
    """A ring8 run that takes a fraction of a second per few steps."""
    fields = dict(data="ring8", steps=12, batch_size=32, pack=2, hidden=16, depth=2, toy_size=512, seed=3,
                  checkpoint_every=0, sample_every=10_000, log_every=1, eval_samples=200, quiet=True,
                  device="cpu", out=str(tmp_path / name))
    fields.update(kw)
    return TrainConfig(**fields)


def tiny_images(tmp_path, name="img", **kw):
    """A DCGAN dry run (random 28×28 images) with 4-channel nets: BatchNorm, packing, epochs."""
    fields = dict(data="mnist", model="dcgan", dry_run=True, steps=5, batch_size=8, pack=2, ngf=4, ndf=4,
                  nz=8, seed=5, checkpoint_every=0, sample_every=10_000, log_every=1, quiet=True, device="cpu",
                  out=str(tmp_path / name))
    fields.update(kw)
    return TrainConfig(**fields)


def states(path):
    ckpt = load_checkpoint(path)
    return ckpt, {**{f"G.{k}": v for k, v in ckpt.models["G"].items()},
                  **{f"D.{k}": v for k, v in ckpt.models["D"].items()}}


def assert_same_checkpoints(a, b):
    ca, sa = states(a)
    cb, sb = states(b)
    assert ca.step == cb.step
    assert sa.keys() == sb.keys()
    for k in sa:
        assert np.array_equal(sa[k], sb[k]), f"{k} differs"
    for name in ("optG", "optD"):
        oa, ob = ca.optimizers[name], cb.optimizers[name]
        assert oa["param_groups"] == ob["param_groups"]
        for i in oa["state"]:
            for k, v in oa["state"][i].items():
                assert np.array_equal(v, ob["state"][i][k]), f"{name} state {i}/{k} differs"
    assert ca.rng == cb.rng


class StopAt:
    """A callback that simulates Ctrl-C (KeyboardInterrupt) once the loop reaches `step`."""

    def __init__(self, step):
        self.step = step

    def __call__(self, state):
        if state.step == self.step:
            raise KeyboardInterrupt


def test_run_writes_every_output(tmp_path):
    cfg = tiny(tmp_path, steps=6, sample_every=3, checkpoint_every=2)
    result = train(cfg)
    out = tmp_path / "run"
    assert result.step == 6 and not result.interrupted and result.checkpoint == out / "checkpoint.npz"
    for name in ("metrics.csv", "losses.png", "samples.png", "samples_step000003.png", "checkpoint.npz",
                 "config.json", "eval.json"):
        assert (out / name).is_file(), name
    with open(out / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["step", "epoch", "loss_D", "loss_G", "D_x", "D_G_z", "grad_norm_D", "grad_norm_G", "seconds"]
    assert all(float(r["grad_norm_D"]) > 0 and float(r["grad_norm_G"]) > 0 for r in rows)
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4, 5, 6]
    assert all(0 < float(r["D_x"]) < 1 and np.isfinite(float(r["loss_G"])) for r in rows)
    ckpt = load_checkpoint(out / "checkpoint.npz")
    assert ckpt.step == 6 and ckpt.config["pack"] == 2 and ckpt.config["seed"] == 3 and ckpt.meta["completed"]
    assert result.evaluation.n_samples == 200 and result.evaluation.n_modes == 8
    assert not [p for p in os.listdir(out) if p.endswith(".tmp")]


def test_random_seed_is_chosen_printed_and_repeatable(tmp_path, capsys):
    result = train(tiny(tmp_path, "a", seed=None, steps=3, quiet=False))
    printed = capsys.readouterr().out
    assert f"--seed {result.seed}" in printed
    assert load_checkpoint(result.checkpoint).config["seed"] == result.seed
    again = train(tiny(tmp_path, "b", seed=result.seed, steps=3))
    assert_same_checkpoints(result.checkpoint, again.checkpoint)


@pytest.mark.parametrize("make", [
    lambda p, **kw: tiny(p, d_steps=2, label_smoothing=0.1, lr_decay=0.5, **kw),
    lambda p, **kw: tiny_images(p, **kw),
], ids=["ring8", "dcgan"])
def test_resume_equals_uninterrupted_bit_for_bit(tmp_path, make):
    full = train(make(tmp_path / "full"))
    stopped = train(make(tmp_path / "part"), callbacks=[StopAt(3)])
    assert stopped.interrupted and load_checkpoint(stopped.checkpoint).step == 3
    resumed = train(dataclasses.replace(make(tmp_path / "part"), resume=str(stopped.checkpoint)))
    assert resumed.step == full.step
    assert_same_checkpoints(full.checkpoint, resumed.checkpoint)
    with open(resumed.out / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == list(range(1, full.step + 1))  # no duplicated or missing rows


def test_resume_can_extend_a_finished_run(tmp_path):
    full = train(tiny(tmp_path, "full", steps=10))
    short = train(tiny(tmp_path, "short", steps=6, checkpoint_every=4))
    longer = train(dataclasses.replace(tiny(tmp_path, "short", steps=10), resume=str(short.out)))
    assert_same_checkpoints(full.checkpoint, longer.checkpoint)


def test_keyboard_interrupt_saves_a_checkpoint_and_returns(tmp_path):
    result = train(tiny(tmp_path, steps=50), callbacks=[StopAt(7)])
    assert result.interrupted and result.step == 7
    ckpt = load_checkpoint(result.checkpoint)
    assert ckpt.step == 7 and not ckpt.meta["completed"]


def test_sigint_stops_after_the_current_step(tmp_path):
    def press_ctrl_c(state):
        if state.step == 4:
            os.kill(os.getpid(), signal.SIGINT)

    before = signal.getsignal(signal.SIGINT)
    result = train(tiny(tmp_path, steps=50), callbacks=[press_ctrl_c])
    assert result.interrupted and result.step == 4 and load_checkpoint(result.checkpoint).step == 4
    assert signal.getsignal(signal.SIGINT) is before  # the handler is put back


def test_non_finite_loss_stops_with_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
    def poison(state):
        if state.step == 6:  # a NaN weight in G: the next step's losses are NaN
            p = next(state.G.parameters())
            p.array[...] = np.nan

    cfg = tiny(tmp_path, steps=20, checkpoint_every=5)
    with pytest.raises(NonFiniteLossError) as err:
        train(cfg, callbacks=[poison])
    msg = str(err.value)
    assert "step 7" in msg and "checkpoint" in msg and str(tmp_path / "run" / "checkpoint.npz") in msg
    assert err.value.step == 7
    ckpt = load_checkpoint(tmp_path / "run" / "checkpoint.npz")  # the step-5 checkpoint, still whole
    assert ckpt.step == 5
    assert all(np.isfinite(v).all() for v in ckpt.models["G"].values())
    resumed = train(dataclasses.replace(cfg, resume=str(ckpt.path), steps=8))
    assert resumed.step == 8


@pytest.mark.parametrize("how", ["overflow", "planted"])
def test_non_finite_optimizer_state_stops_like_a_nan_loss(tmp_path, how):
    """Divergence with finite losses: Adam's v = E[g²] overflows first (the weights' updates m/√v then
    vanish, so the weights stay finite).  An overflow is caught in the step it happens; an infinity
    planted without one (no NumPy flag is raised) at the latest before the next checkpoint."""
    def poison(state):
        if state.step == 6:
            p = next(state.D.parameters())
            if how == "overflow":  # the next step's gradients square past float32's range
                p.array[...] = 1e25
            else:
                state.optD.state[p]["exp_avg_sq"][0] = np.inf

    cfg = tiny(tmp_path, steps=20, checkpoint_every=5)
    with pytest.raises(NonFiniteLossError) as err:
        train(cfg, callbacks=[poison])
    step = 7 if how == "overflow" else 10
    assert err.value.step == step and f"after step {step}" in str(err.value)
    assert "exp_avg_sq of " in str(err.value)  # Adam moments overflow; the weights are still finite
    assert ("NumPy reported overflow" in str(err.value)) == (how == "overflow")
    ckpt = load_checkpoint(tmp_path / "run" / "checkpoint.npz")
    assert ckpt.step == 5 and all(np.isfinite(v).all() for s in ckpt.optimizers["optD"]["state"].values()
                                  for v in s.values() if hasattr(v, "shape"))


def test_every_parameter_gets_a_gradient_and_changes(tmp_path):
    for cfg in (tiny(tmp_path, "toy"), tiny_images(tmp_path, "img")):
        sg.manual_seed(0)
        G, D, _ = build_models(cfg)
        before = {**{f"G.{k}": v for k, v in G.state_dict().items()},
                  **{f"D.{k}": v for k, v in D.state_dict().items()}}
        result = train(dataclasses.replace(cfg, steps=3))
        _, after = states(result.checkpoint)
        for k, v in before.items():
            if k.endswith("num_batches_tracked"):
                continue
            assert not np.array_equal(v, after[k]), f"{cfg.data}: {k} did not change"


def test_steps_from_epochs_and_pictures_per_epoch(tmp_path):
    result = train(tiny_images(tmp_path, steps=None, epochs=2, sample_every=None))  # 32 fake images, batch 8
    assert result.total_steps == 8 and result.step == 8
    assert (result.out / "samples_epoch001.png").is_file() and (result.out / "samples_epoch002.png").is_file()


def test_bad_configs_are_refused(tmp_path):
    for bad in (dict(batch_size=30, pack=4), dict(loss="lsgan"), dict(label_smoothing=1.0), dict(steps=0)):
        with pytest.raises(ValueError):
            train(tiny(tmp_path, **bad))
