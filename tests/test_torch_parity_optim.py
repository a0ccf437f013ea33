"""Optimizers and learning-rate schedulers against PyTorch (CPU), from the same NumPy inputs.

Skipped unless PyTorch is importable (CI has no torch):
``PYTHONPATH=. /work/torchvenv/bin/python -m pytest tests/test_torch_parity_optim.py -q``.

Each trajectory trains the same tiny regression (W₁, b₁, W₂ of a tanh MLP) for 20 steps in both
frameworks; every parameter, and every state buffer, must agree.
"""
import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import scratchgan as sg  # noqa: E402
import scratchgan.optim as soptim  # noqa: E402

toptim = torch.optim
F32, F64 = np.float32, np.float64
TORCH_DTYPE = {F32: torch.float32, F64: torch.float64}


def tn(t):
    if isinstance(t, torch.Tensor):
        return t.detach().cpu().numpy()
    return np.asarray(t.array if isinstance(t, sg.Tensor) else t)


def make_params(dtype, seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((4, 8)) * 0.5, rng.standard_normal(8) * 0.1, rng.standard_normal((8, 1)) * 0.5]
    arrays = [a.astype(dtype) for a in arrays]
    tps = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    sps = [sg.tensor(a.copy(), requires_grad=True) for a in arrays]
    return tps, sps


def batches(n, dtype, seed=1):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((16, 4)).astype(dtype), rng.standard_normal((16, 1)).astype(dtype)) for _ in range(n)]


def train(fw, params, opt, data):
    for x, y in data:
        opt.zero_grad()
        x, y = fw.from_numpy(x.copy()), fw.from_numpy(y.copy())
        w1, b1, w2 = params
        loss = ((fw.tanh(x @ w1 + b1) @ w2 - y) ** 2).mean()
        loss.backward()
        opt.step()


OPTIMIZERS = {
    "rmsprop": lambda o, ps: o.RMSprop(ps, lr=1e-3),
    "rmsprop-defaults": lambda o, ps: o.RMSprop(ps),
    "rmsprop-momentum": lambda o, ps: o.RMSprop(ps, lr=1e-3, momentum=0.9),
    "rmsprop-centered": lambda o, ps: o.RMSprop(ps, lr=1e-3, centered=True),
    "rmsprop-centered-momentum": lambda o, ps: o.RMSprop(ps, lr=1e-3, momentum=0.5, centered=True, alpha=0.9),
    "rmsprop-wd": lambda o, ps: o.RMSprop(ps, lr=5e-5, weight_decay=1e-2),
    "adamw": lambda o, ps: o.AdamW(ps, lr=1e-2),
    "adamw-wd": lambda o, ps: o.AdamW(ps, lr=1e-2, betas=(0.5, 0.999), weight_decay=0.1),
    "adamw-amsgrad": lambda o, ps: o.AdamW(ps, lr=1e-2, amsgrad=True),
    "adam-amsgrad": lambda o, ps: o.Adam(ps, lr=1e-2, betas=(0.5, 0.999), amsgrad=True),
    "adam-amsgrad-wd": lambda o, ps: o.Adam(ps, lr=1e-2, weight_decay=1e-2, amsgrad=True),
    "adam-maximize": lambda o, ps: o.Adam(ps, lr=1e-2, maximize=True),
    "sgd-maximize": lambda o, ps: o.SGD(ps, lr=1e-2, momentum=0.9, maximize=True),
}


def assert_close_states(topt, sopt, rtol, atol):
    ts, ss = topt.state_dict(), sopt.state_dict()
    assert sorted(ts["state"]) == sorted(ss["state"])
    for i in ts["state"]:
        assert set(ts["state"][i]) == set(ss["state"][i]), f"state keys of parameter {i}"
        for k, v in ts["state"][i].items():
            if k == "step":
                assert int(ss["state"][i][k]) == int(v)
            else:
                np.testing.assert_allclose(ss["state"][i][k], tn(v), rtol=rtol, atol=atol, err_msg=f"state {i} {k}")
    for tg, sgp in zip(ts["param_groups"], ss["param_groups"]):
        common = set(tg) & set(sgp)
        assert {k: tg[k] for k in common} == {k: sgp[k] for k in common}
        assert {"lr", "params"} <= common


@pytest.mark.parametrize("dtype, rtol, atol", [(F32, 1e-4, 1e-5), (F64, 1e-10, 1e-12)])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_20_step_trajectory_matches_torch(name, dtype, rtol, atol):
    tps, sps = make_params(dtype)
    topt, sopt = OPTIMIZERS[name](toptim, tps), OPTIMIZERS[name](soptim, sps)
    data = batches(20, dtype)
    train(torch, tps, topt, data)
    train(sg, sps, sopt, data)
    for i, (t, s) in enumerate(zip(tps, sps)):
        np.testing.assert_allclose(tn(s), tn(t), rtol=rtol, atol=atol, err_msg=f"{name} param {i}")
        assert tn(s).dtype == dtype
    assert_close_states(topt, sopt, rtol * 10, atol * 10)


@pytest.mark.parametrize("name", ["rmsprop-centered-momentum", "adamw-amsgrad", "rmsprop-wd"])
def test_state_dict_round_trip_and_cross_loading(name):
    """10 steps; save; resume for 10 more in a fresh optimizer — from scratchgan's own state_dict, and from
    torch's.  All three runs end where torch's uninterrupted run does; scratchgan's resume is bit-exact."""
    data = batches(20, F64, seed=2)
    tps, sps = make_params(F64, seed=3)
    topt, sopt = OPTIMIZERS[name](toptim, tps), OPTIMIZERS[name](soptim, sps)
    train(torch, tps, topt, data[:10])
    train(sg, sps, sopt, data[:10])
    saved_s, saved_t = copy.deepcopy(sopt.state_dict()), copy.deepcopy(topt.state_dict())
    mid = [tn(p).copy() for p in sps]
    train(torch, tps, topt, data[10:])
    train(sg, sps, sopt, data[10:])

    for saved in (saved_s, saved_t):
        _, resumed = make_params(F64, seed=3)
        for p, m in zip(resumed, mid):
            p.array[...] = m
        opt = OPTIMIZERS[name](soptim, resumed)
        opt.load_state_dict(saved)
        train(sg, resumed, opt, data[10:])
        for i, (r, s, t) in enumerate(zip(resumed, sps, tps)):
            if saved is saved_s:
                np.testing.assert_array_equal(tn(r), tn(s), err_msg=f"resumed != uninterrupted, param {i}")
            np.testing.assert_allclose(tn(r), tn(t), rtol=1e-10, atol=1e-12)

    # and scratchgan's state resumes in torch
    tps2, _ = make_params(F64, seed=3)
    with torch.no_grad():
        for p, m in zip(tps2, mid):
            p.copy_(torch.from_numpy(m))
    topt2 = OPTIMIZERS[name](toptim, tps2)
    topt2.load_state_dict({"state": {i: {k: torch.as_tensor(np.asarray(v, dtype=F64) if k != "step" else float(v))
                                         for k, v in s.items()} for i, s in saved_s["state"].items()},
                           "param_groups": saved_s["param_groups"]})
    train(torch, tps2, topt2, data[10:])
    for t2, t in zip(tps2, tps):
        np.testing.assert_allclose(tn(t2), tn(t), rtol=1e-10, atol=1e-12)


# ---- learning-rate schedulers ----------------------------------------------------------------------
SCHEDULERS = {
    "StepLR": lambda L, o: L.StepLR(o, step_size=7, gamma=0.3),
    "StepLR-default": lambda L, o: L.StepLR(o, 5),
    "MultiStepLR": lambda L, o: L.MultiStepLR(o, milestones=[4, 9, 9, 20]),
    "LambdaLR": lambda L, o: L.LambdaLR(o, lambda e: 0.95 ** e + 0.01 * (e % 3)),
    "ExponentialLR": lambda L, o: L.ExponentialLR(o, gamma=0.9),
    "LinearLR": lambda L, o: L.LinearLR(o),
    "LinearLR-decay": lambda L, o: L.LinearLR(o, start_factor=1.0, end_factor=0.05, total_iters=20),
    "CosineAnnealingLR": lambda L, o: L.CosineAnnealingLR(o, T_max=12, eta_min=1e-4),
}


def _sched_pair(name, lrs=(0.1, 0.03)):
    tps, sps = make_params(F64)
    topt = toptim.SGD([{"params": [p], "lr": lr} for p, lr in zip(tps, lrs)], lr=lrs[0])
    sopt = soptim.SGD([{"params": [p], "lr": lr} for p, lr in zip(sps, lrs)], lr=lrs[0])
    return topt, sopt, SCHEDULERS[name](toptim.lr_scheduler, topt), SCHEDULERS[name](soptim.lr_scheduler, sopt)


def _advance(opt, sched, n):
    seq = []
    for _ in range(n):
        opt.step()
        sched.step()
        seq.append(sched.get_last_lr())
    return seq


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_scheduler_lr_sequence_matches_torch_for_30_steps(name):
    topt, sopt, tsched, ssched = _sched_pair(name)
    assert ssched.get_last_lr() == tsched.get_last_lr()
    tseq, sseq = _advance(topt, tsched, 30), _advance(sopt, ssched, 30)
    np.testing.assert_allclose(sseq, tseq, rtol=1e-15, atol=0)  # same formulas, same float order
    assert ssched.last_epoch == tsched.last_epoch == 30
    assert [g["lr"] for g in sopt.param_groups] == [g["lr"] for g in topt.param_groups]
    assert [g["initial_lr"] for g in sopt.param_groups] == [g["initial_lr"] for g in topt.param_groups]


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_scheduler_state_dicts_cross_both_ways(name):
    topt, sopt, tsched, ssched = _sched_pair(name)
    _advance(topt, tsched, 11)
    _advance(sopt, ssched, 11)
    tsd, ssd = tsched.state_dict(), ssched.state_dict()
    assert set(ssd) == set(tsd)
    for k in tsd:
        if k != "lr_lambdas":
            assert ssd[k] == tsd[k], k
    topt_sd = copy.deepcopy(topt.state_dict())
    want = _advance(topt, tsched, 19)

    # torch's scheduler + optimizer state into fresh scratchgan objects, and scratchgan's into torch's
    topt2, sopt2, tsched2, ssched2 = _sched_pair(name)
    sopt2.load_state_dict(topt_sd)  # lr and initial_lr live in the optimizer's param_groups
    ssched2.load_state_dict(tsd)
    tsched2.load_state_dict(ssd)
    topt2.load_state_dict(sopt.state_dict())
    np.testing.assert_allclose(_advance(sopt2, ssched2, 19), want, rtol=1e-15, atol=0)
    np.testing.assert_allclose(_advance(topt2, tsched2, 19), want, rtol=1e-15, atol=0)
