"""Adam against the paper's update (``scratchgan.reference.Adam``); SGD; optimizer state round trips."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchgan as sg
from scratchgan import nn, optim, reference


@given(lr=st.sampled_from([2e-4, 1e-3, 1e-2]), b1=st.sampled_from([0.0, 0.5, 0.9]),
       b2=st.sampled_from([0.9, 0.999]), wd=st.sampled_from([0.0, 0.1]), seed=st.integers(0, 100))
def test_adam_matches_closed_form(lr, b1, b2, wd, seed):
    rng = np.random.default_rng(seed)
    theta0 = rng.standard_normal(6)
    grads = [rng.standard_normal(6) for _ in range(5)]
    params = [nn.Parameter(sg.tensor(theta0, dtype=sg.float64)) for _ in range(2)]
    fast = optim.Adam([params[0]], lr=lr, betas=(b1, b2), eps=1e-8, weight_decay=wd)
    textbook = reference.Adam([params[1]], lr=lr, betas=(b1, b2), eps=1e-8, weight_decay=wd)
    for g in grads:
        for p, opt in zip(params, (fast, textbook)):
            p.grad = sg.tensor(g, dtype=sg.float64)
            opt.step()
    np.testing.assert_allclose(params[0].detach().numpy(), params[1].detach().numpy(), rtol=1e-10, atol=1e-12)


def test_adam_first_step_moves_each_coordinate_by_lr():
    """With bias correction the first step is lr·g/(|g| + eps): a sign step of size lr."""
    p = nn.Parameter(sg.tensor([1.0, -2.0, 3.0], dtype=sg.float64))
    opt = optim.Adam([p], lr=0.1)
    p.grad = sg.tensor([5.0, -0.01, 1e3], dtype=sg.float64)
    opt.step()
    np.testing.assert_allclose(p.detach().numpy(), [0.9, -1.9, 2.9], atol=1e-6)


def test_sgd_momentum_matches_formula():
    p = nn.Parameter(sg.tensor([1.0], dtype=sg.float64))
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    theta, buf = 1.0, None
    for g in (1.0, 2.0, -1.0):
        p.grad = sg.tensor([g], dtype=sg.float64)
        opt.step()
        buf = g if buf is None else 0.9 * buf + g
        theta -= 0.1 * buf
    assert math.isclose(p.item(), theta, rel_tol=1e-12)


def _train(model, opt, steps, seed):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x = sg.tensor(rng.standard_normal((8, 3)))
        opt.zero_grad()
        (model(x) ** 2).mean().backward()
        opt.step()


@pytest.mark.parametrize("make", [lambda ps: optim.Adam(ps, lr=1e-2, betas=(0.5, 0.999), weight_decay=1e-3),
                                  lambda ps: optim.SGD(ps, lr=1e-2, momentum=0.9, nesterov=True)])
def test_optimizer_state_dict_resume_is_exact(make):
    sg.manual_seed(3)
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 1))
    start = model.state_dict()
    opt = make(model.parameters())
    _train(model, opt, 10, seed=1)
    mid_model, mid_opt = model.state_dict(), opt.state_dict()
    _train(model, opt, 10, seed=2)
    # resume from the middle in fresh objects
    model2 = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 1))
    model2.load_state_dict(mid_model)
    opt2 = make(model2.parameters())
    opt2.load_state_dict(mid_opt)
    _train(model2, opt2, 10, seed=2)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, model2.state_dict()[k])
    assert not np.array_equal(start["0.weight"], model.state_dict()["0.weight"])


def test_optimizer_rejects_bad_hyper_parameters_and_empty_lists():
    p = nn.Parameter(sg.zeros(2))
    with pytest.raises(ValueError, match="betas"):
        optim.Adam([p], betas=(1.0, 0.999))
    with pytest.raises(ValueError, match="empty"):
        optim.Adam([])
