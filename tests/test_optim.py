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
    start = {k: v.clone() for k, v in model.state_dict().items()}  # snapshots: state_dict values are views
    opt = make(model.parameters())
    _train(model, opt, 10, seed=1)
    mid_model, mid_opt = {k: v.clone() for k, v in model.state_dict().items()}, opt.state_dict()
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


# ---- RMSprop, AdamW, AMSGrad against their formulas ----------------------------------------------
def rmsprop_reference(theta, grads, lr, alpha, eps, wd, mu, centered):
    """RMSprop as written in torch.optim.RMSprop's docs (no bias correction, eps outside the sqrt)."""
    s, gbar, b = np.zeros_like(theta), np.zeros_like(theta), np.zeros_like(theta)
    for g in grads:
        g = g + wd * theta
        s = alpha * s + (1 - alpha) * g * g
        if centered:
            gbar = alpha * gbar + (1 - alpha) * g
            d = np.sqrt(s - gbar * gbar) + eps
        else:
            d = np.sqrt(s) + eps
        if mu > 0:
            b = mu * b + g / d
            theta = theta - lr * b
        else:
            theta = theta - lr * g / d
    return theta


def _run(opt_cls, theta0, grads, **kw):
    p = nn.Parameter(sg.tensor(theta0, dtype=sg.float64))
    opt = opt_cls([p], **kw)
    for g in grads:
        p.grad = sg.tensor(g, dtype=sg.float64)
        opt.step()
    return p.detach().numpy(), opt


@given(lr=st.sampled_from([1e-3, 5e-3, 1e-2]), alpha=st.sampled_from([0.9, 0.99]), wd=st.sampled_from([0.0, 0.1]),
       mu=st.sampled_from([0.0, 0.9]), centered=st.booleans(), seed=st.integers(0, 100))
def test_rmsprop_matches_closed_form(lr, alpha, wd, mu, centered, seed):
    rng = np.random.default_rng(seed)
    theta0, grads = rng.standard_normal(6), [rng.standard_normal(6) for _ in range(6)]
    got, opt = _run(optim.RMSprop, theta0, grads, lr=lr, alpha=alpha, eps=1e-8, weight_decay=wd, momentum=mu,
                    centered=centered)
    np.testing.assert_allclose(got, rmsprop_reference(theta0, grads, lr, alpha, 1e-8, wd, mu, centered),
                               rtol=1e-10, atol=1e-12)
    state = opt.state_dict()["state"][0]
    assert set(state) == {"step", "square_avg"} | ({"momentum_buffer"} if mu else set()) | (
        {"grad_avg"} if centered else set())
    assert state["step"] == 6


def test_rmsprop_first_step_is_g_over_sqrt_one_minus_alpha():
    """s₁ = (1−α)g², so the first step is lr·g/(√(1−α)|g| + ε) = lr·sign(g)/√(1−α): 10·lr for α = 0.99."""
    got, _ = _run(optim.RMSprop, np.zeros(3), [np.array([2.0, -3.0, 1e3])], lr=1e-3)
    np.testing.assert_allclose(got, [-1e-2, 1e-2, -1e-2], rtol=1e-6)


def test_rmsprop_defaults_are_pytorchs():
    opt = optim.RMSprop([nn.Parameter(sg.zeros(2))])
    g = opt.param_groups[0]
    assert (g["lr"], g["alpha"], g["eps"], g["weight_decay"], g["momentum"], g["centered"]) == (
        0.01, 0.99, 1e-8, 0, 0, False)


@given(lr=st.sampled_from([1e-3, 1e-2]), b1=st.sampled_from([0.0, 0.5, 0.9]), b2=st.sampled_from([0.9, 0.999]),
       wd=st.sampled_from([0.0, 1e-2, 0.5]), amsgrad=st.booleans(), seed=st.integers(0, 100))
def test_adamw_and_amsgrad_match_closed_form(lr, b1, b2, wd, amsgrad, seed):
    rng = np.random.default_rng(seed)
    theta0 = rng.standard_normal(6)
    # shrinking gradients: v falls, so AMSGrad's max(v) differs from v
    grads = [rng.standard_normal(6) * 0.5 ** k for k in range(8)]
    kw = dict(lr=lr, betas=(b1, b2), weight_decay=wd, amsgrad=amsgrad)
    got, opt = _run(optim.AdamW, theta0, grads, **kw)
    want, _ = _run(reference.Adam, theta0, grads, decoupled_weight_decay=True, **kw)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    got, opt = _run(optim.Adam, theta0, grads, **kw)
    want, _ = _run(reference.Adam, theta0, grads, **kw)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    assert ("max_exp_avg_sq" in opt.state_dict()["state"][0]) == amsgrad


def test_amsgrad_differs_from_adam_when_gradients_shrink():
    grads = [np.array([1.0]), np.array([0.01]), np.array([0.01]), np.array([0.01])]
    plain, _ = _run(optim.Adam, np.zeros(1), grads, lr=0.1, betas=(0.0, 0.9))
    ams, opt = _run(optim.Adam, np.zeros(1), grads, lr=0.1, betas=(0.0, 0.9), amsgrad=True)
    assert abs(ams[0]) < abs(plain[0])  # the remembered large v keeps later steps small
    st_ = opt.state_dict()["state"][0]
    assert st_["max_exp_avg_sq"][0] > st_["exp_avg_sq"][0]


def test_adamw_decay_is_decoupled_from_the_gradient():
    """With a zero gradient Adam's step is 0/(0+eps) = 0, so AdamW only shrinks: θ(1 − lr·λ)ᵗ."""
    got, _ = _run(optim.AdamW, np.array([2.0, -4.0]), [np.zeros(2)] * 5, lr=0.1, weight_decay=0.5)
    np.testing.assert_allclose(got, np.array([2.0, -4.0]) * 0.95 ** 5, rtol=1e-12)
    assert optim.AdamW([nn.Parameter(sg.zeros(1))]).param_groups[0]["weight_decay"] == 1e-2


@pytest.mark.parametrize("make, match", [
    (lambda ps: optim.Adam(ps, lr=float("nan")), "learning rate"),
    (lambda ps: optim.Adam(ps, lr=float("inf")), "learning rate"),
    (lambda ps: optim.Adam(ps, betas=(0.9, float("nan"))), "index 1"),
    (lambda ps: optim.Adam(ps, eps=float("nan")), "epsilon"),
    (lambda ps: optim.AdamW(ps, lr=-1.0), "learning rate"),
    (lambda ps: optim.RMSprop(ps, alpha=float("nan")), "alpha"),
    (lambda ps: optim.RMSprop(ps, momentum=-0.5), "momentum"),
    (lambda ps: optim.RMSprop(ps, eps=float("inf")), "epsilon"),
    (lambda ps: optim.SGD(ps, lr=float("nan")), "learning rate"),
])
def test_non_finite_or_negative_hyper_parameters_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make([nn.Parameter(sg.zeros(2))])


def test_unsupported_options_raise_by_name():
    with pytest.raises(NotImplementedError, match="fused"):
        optim.Adam([nn.Parameter(sg.zeros(2))], fused=True)


def test_state_is_keyed_by_parameter_and_step_takes_a_closure():
    p = nn.Parameter(sg.tensor([1.0, 2.0]))
    opt = optim.RMSprop([p], lr=0.1, momentum=0.5)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert float(loss) == 5.0
    assert opt.state[p]["step"] == 1 and opt.state[p]["momentum_buffer"].shape == (2,)


@pytest.mark.parametrize("make", [lambda ps: optim.RMSprop(ps, lr=1e-2, momentum=0.9, centered=True, weight_decay=1e-3),
                                  lambda ps: optim.AdamW(ps, lr=1e-2, amsgrad=True),
                                  lambda ps: optim.RMSprop(ps, lr=1e-3)])
def test_new_optimizers_resume_exactly(make):
    test_optimizer_state_dict_resume_is_exact(make)


def test_param_groups_keep_their_own_options():
    a, b = nn.Parameter(sg.zeros(2)), nn.Parameter(sg.zeros(3))
    opt = optim.RMSprop([{"params": [a]}, {"params": [b], "lr": 0.5, "centered": True}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert opt.state_dict()["param_groups"][1]["params"] == [1]
    with pytest.raises(ValueError, match="more than one"):
        opt.add_param_group({"params": [a]})


@pytest.mark.parametrize("make", [lambda ps: optim.RMSprop(ps, lr=1e-2, momentum=0.9, centered=True, weight_decay=0.1),
                                  lambda ps: optim.AdamW(ps, lr=1e-2, amsgrad=True),
                                  lambda ps: optim.Adam(ps, lr=1e-2, weight_decay=0.1, maximize=True),
                                  lambda ps: optim.SGD(ps, lr=1e-2, momentum=0.9, nesterov=True)])
def test_optimizers_give_the_same_steps_on_every_device(make, device):
    rng = np.random.default_rng(0)
    theta0, grads = rng.standard_normal((3, 4)), [rng.standard_normal((3, 4)) for _ in range(5)]
    out = {}
    for dev in ("cpu", device):
        p = nn.Parameter(sg.tensor(theta0, dtype=sg.float64, device=dev))
        opt = make([p])
        for g in grads:
            p.grad = sg.tensor(g, dtype=sg.float64, device=dev)
            opt.step()
        assert p.device == sg.device(dev)
        out[dev] = sg.backend.to_numpy(p.array)
        sd = opt.state_dict()  # host copies, loadable back onto the device
        opt.load_state_dict(sd)
        assert all(sg.backend.device_of(v) == sg.device(dev) for s in opt.state.values() for v in s.values()
                   if hasattr(v, "shape"))
    np.testing.assert_allclose(out[device], out["cpu"], rtol=1e-12, atol=1e-14)


def test_state_dict_holds_tensor_snapshots():
    p = nn.Parameter(sg.tensor([1.0, 2.0]))
    opt = optim.Adam([p], lr=0.1, amsgrad=True)
    p.grad = sg.tensor([1.0, -1.0])
    opt.step()
    sd = opt.state_dict()
    s0 = sd["state"][0]
    assert isinstance(s0["exp_avg"], sg.Tensor) and isinstance(s0["max_exp_avg_sq"], sg.Tensor)
    assert s0["step"] == 1 and isinstance(s0["step"], int)
    before = s0["exp_avg"].numpy().copy()
    opt.step()  # further training leaves the snapshot alone
    np.testing.assert_array_equal(s0["exp_avg"].numpy(), before)
    assert sd["param_groups"][0]["params"] == [0] and sd["param_groups"][0]["amsgrad"] is True


@pytest.mark.parametrize("make", [lambda ps: optim.Adam(ps, 0.1, amsgrad=True), lambda ps: optim.AdamW(ps, 0.1),
                                  lambda ps: optim.SGD(ps, 0.1, momentum=0.9), lambda ps: optim.RMSprop(ps, 0.1)])
def test_a_scalar_parameter_steps_like_a_one_element_one(make):
    # a 0-d parameter (a learnable temperature, say): Adam's scratch array was once a NumPy scalar here
    scalar, vector = nn.Parameter(sg.tensor(1.5)), nn.Parameter(sg.tensor([1.5]))
    opts = make([scalar]), make([vector])
    for g in (0.5, -0.25, 2.0):
        scalar.grad, vector.grad = sg.tensor(g), sg.tensor([g])
        for o in opts:
            o.step()
    assert scalar.shape == () and scalar.item() == vector.item() != 1.5
