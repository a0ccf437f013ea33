"""Learning-rate schedulers: the chainable step() against each schedule's closed form; state round trips."""
import math
import warnings

import numpy as np
import pytest

import scratchgan as sg
from scratchgan import nn, optim
from scratchgan.optim import lr_scheduler as L


def _opt(lr=0.1, groups=1):
    ps = [nn.Parameter(sg.zeros(2)) for _ in range(groups)]
    return optim.SGD([{"params": [p], "lr": lr * (i + 1)} for i, p in enumerate(ps)], lr=lr)


def lrs_over(sched, opt, n=30):
    out = [sched.get_last_lr()]
    for _ in range(n):
        opt.step()
        sched.step()
        out.append(sched.get_last_lr())
    return np.array(out)


CLOSED = {
    "step": (lambda o: L.StepLR(o, step_size=4, gamma=0.5), lambda b, t: b * 0.5 ** (t // 4)),
    "multistep": (lambda o: L.MultiStepLR(o, milestones=[3, 10, 10, 25], gamma=0.3),
                  lambda b, t: b * 0.3 ** sum(m <= t for m in [3, 10, 10, 25])),
    "exponential": (lambda o: L.ExponentialLR(o, gamma=0.9), lambda b, t: b * 0.9 ** t),
    "linear": (lambda o: L.LinearLR(o, start_factor=0.25, end_factor=1.0, total_iters=8),
               lambda b, t: b * (0.25 + 0.75 * min(t, 8) / 8)),
    "linear-decay": (lambda o: L.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=12),
                     lambda b, t: b * (1.0 - 0.9 * min(t, 12) / 12)),
    "cosine": (lambda o: L.CosineAnnealingLR(o, T_max=10, eta_min=1e-3),
               lambda b, t: 1e-3 + (b - 1e-3) * (1 + math.cos(math.pi * t / 10)) / 2),
    "lambda": (lambda o: L.LambdaLR(o, lambda t: 1 / (1 + t)), lambda b, t: b / (1 + t)),
}


@pytest.mark.parametrize("name", list(CLOSED))
def test_chainable_steps_follow_the_closed_form(name):
    make, closed = CLOSED[name]
    opt = _opt(groups=2)
    sched = make(opt)
    got = lrs_over(sched, opt)
    want = np.array([[closed(b, t) for b in (0.1, 0.2)] for t in range(31)])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    assert sched.last_epoch == 30
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.2] == sched.base_lrs
    assert [g["lr"] for g in opt.param_groups] == sched.get_last_lr()


@pytest.mark.parametrize("name", [n for n in CLOSED if n != "lambda"])
def test_step_with_epoch_uses_the_closed_form(name):
    make, closed = CLOSED[name]
    opt = _opt()
    sched = make(opt)
    opt.step()
    with pytest.warns(UserWarning, match="epoch parameter"):
        sched.step(17)
    assert sched.get_last_lr()[0] == pytest.approx(closed(0.1, 17), rel=1e-12)


def test_schedulers_chain_on_one_optimizer():
    """Warm-up then decay, both stepping every iteration: the lrs multiply (PyTorch's chainable semantics)."""
    opt = _opt()
    warm, decay = L.LinearLR(opt, start_factor=0.5, total_iters=4), L.ExponentialLR(opt, gamma=0.9)
    seq = []
    for _ in range(8):
        opt.step()
        warm.step()
        decay.step()
        seq.append(opt.param_groups[0]["lr"])
    want = [0.1 * (0.5 + 0.5 * min(t, 4) / 4) * 0.9 ** t for t in range(1, 9)]
    np.testing.assert_allclose(seq, want, rtol=1e-12)


def test_state_dict_round_trip_resumes_the_schedule():
    opt = _opt()
    sched = L.StepLR(opt, step_size=3, gamma=0.5)
    lrs_over(sched, opt, 7)
    saved, saved_opt = sched.state_dict(), opt.state_dict()
    assert "optimizer" not in saved and saved["last_epoch"] == 7 and saved["step_size"] == 3
    rest = lrs_over(sched, opt, 10)[1:]

    opt2 = _opt()
    opt2.load_state_dict(saved_opt)
    sched2 = L.StepLR(opt2, step_size=3, gamma=0.5)
    sched2.load_state_dict(saved)
    np.testing.assert_array_equal(lrs_over(sched2, opt2, 10)[1:], rest)


def test_lambda_lr_state_dict_skips_functions_but_keeps_callable_objects():
    class Warmup:
        def __init__(self, n):
            self.n = n

        def __call__(self, t):
            return min(1.0, (t + 1) / self.n)

    opt = _opt(groups=2)
    sched = L.LambdaLR(opt, [lambda t: 0.5 ** t, Warmup(4)])
    sd = sched.state_dict()
    assert sd["lr_lambdas"] == [None, {"n": 4}]
    other = Warmup(100)
    sched2 = L.LambdaLR(_opt(groups=2), [lambda t: 1.0, other])
    sched2.load_state_dict(sd)
    assert other.n == 4 and sched2.last_epoch == 0
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas"):
        L.LambdaLR(opt, [lambda t: 1.0])


def test_resuming_with_last_epoch_needs_initial_lr():
    with pytest.raises(KeyError, match="initial_lr"):
        L.StepLR(_opt(), step_size=2, last_epoch=5)
    opt = _opt()
    opt.param_groups[0]["initial_lr"] = 0.1
    sched = L.CosineAnnealingLR(opt, T_max=10, last_epoch=4)
    # PyTorch 2.x: the constructor's step keeps the groups' lr (a resumed optimizer already holds it)
    assert sched.last_epoch == 5 and sched.get_last_lr() == [0.1]


def test_scheduler_before_optimizer_warns_and_bad_arguments_raise():
    opt = _opt()
    sched = L.ExponentialLR(opt, gamma=0.5)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()
    opt2 = _opt()
    sched2 = L.ExponentialLR(opt2, gamma=0.5)
    opt2.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched2.step()
    with pytest.raises(ValueError, match="start_factor"):
        L.LinearLR(_opt(), start_factor=0.0)
    with pytest.raises(TypeError, match="not an Optimizer"):
        L.StepLR(object(), step_size=1)
    assert L._LRScheduler is L.LRScheduler


def test_scheduled_lr_reaches_the_optimizer_update():
    p = nn.Parameter(sg.tensor([0.0], dtype=sg.float64))
    opt = optim.SGD([p], lr=1.0)
    sched = L.StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(3):
        p.grad = sg.tensor([-1.0], dtype=sg.float64)
        opt.step()
        sched.step()
    assert p.item() == 1.0 + 0.5 + 0.25
