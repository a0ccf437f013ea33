"""The remedies' math: WGAN, hinge, the WGAN-GP and R1 penalties, the EMA — each against its closed form
or a finite-difference estimate, in float64."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import scratchgan as sg
from scratchgan import nn
from scratchgan.gan import objectives
from scratchgan.gan.ema import EMA, ema_decay

scores = hnp.arrays(np.float64, st.integers(1, 6), elements=st.floats(-5, 5))


def grads_of(fn, *arrays, device="cpu"):
    xs = [sg.tensor(a, dtype=sg.float64, device=device, requires_grad=True) for a in arrays]
    loss = fn(*xs)
    loss.backward()
    return loss.item(), [sg.backend.to_numpy(x.grad.array) for x in xs]


@given(r=scores, f=scores)
def test_wgan_losses_and_their_gradients(r, f):
    value, (gr, gf) = grads_of(objectives.wgan_critic_loss, r, f)
    assert np.isclose(value, f.mean() - r.mean())
    np.testing.assert_allclose(gr, -np.ones_like(r) / len(r))  # a constant push: no saturation
    np.testing.assert_allclose(gf, np.ones_like(f) / len(f))
    value, (gf,) = grads_of(objectives.wgan_generator_loss, f)
    assert np.isclose(value, -f.mean())
    np.testing.assert_allclose(gf, -np.ones_like(f) / len(f))


@given(r=scores, f=scores)
def test_hinge_losses_and_their_gradients(r, f):
    r = r[np.abs(np.abs(r) - 1) > 1e-6]  # away from the kinks at ±1
    f = f[np.abs(np.abs(f) - 1) > 1e-6]
    if not len(r) or not len(f):
        return
    value, (gr, gf) = grads_of(objectives.hinge_discriminator_loss, r, f)
    assert np.isclose(value, np.maximum(0, 1 - r).mean() + np.maximum(0, 1 + f).mean())
    np.testing.assert_allclose(gr, -(r < 1).astype(float) / len(r))  # only real samples inside the margin are pushed
    np.testing.assert_allclose(gf, (f > -1).astype(float) / len(f))
    value, (gf,) = grads_of(objectives.hinge_generator_loss, f)
    assert np.isclose(value, -f.mean())


def test_objectives_by_name_and_their_defaults():
    assert objectives.objective("nonsaturating") is objectives.OBJECTIVES["ns"]
    assert objectives.OBJECTIVES["wgan"].defaults == dict(optimizer="rmsprop", lr=5e-5, d_steps=5, clip=0.01)
    assert objectives.OBJECTIVES["wgan-gp"].defaults == dict(optimizer="adam", lr=1e-4, betas=(0.0, 0.9), d_steps=5,
                                                         gp=10.0)
    with pytest.raises(ValueError, match="unknown loss 'lsgan'"):
        objectives.objective("lsgan")
    with pytest.raises(ValueError, match="label smoothing"):
        objectives.objective("hinge").d_loss(sg.zeros(2), sg.zeros(2), 0.9)


def critic(width=5, dim=3, seed=0):
    """A smooth float64 critic (tanh), so finite differences are accurate."""
    sg.manual_seed(seed)
    D = nn.Sequential(nn.Linear(dim, width), nn.Tanh(), nn.Linear(width, 1)).double()
    return D, (lambda x: D(x).reshape(-1))


def input_grad_norms_fd(f, x, h=1e-6):
    """‖∇x f(x)_i‖ for every example i, by central differences (f is per-example)."""
    x = np.asarray(x, dtype=np.float64)
    g = np.zeros_like(x)
    flat = x.reshape(len(x), -1)
    for j in range(flat.shape[1]):
        e = np.zeros_like(flat)
        e[:, j] = h
        with sg.no_grad():
            up = f(sg.tensor((flat + e).reshape(x.shape), dtype=sg.float64)).numpy()
            down = f(sg.tensor((flat - e).reshape(x.shape), dtype=sg.float64)).numpy()
        g.reshape(len(x), -1)[:, j] = (up - down) / (2 * h)
    return np.sqrt((g.reshape(len(x), -1) ** 2).sum(1))


@given(x=hnp.arrays(np.float64, (4, 3), elements=st.floats(-2, 2)))
def test_gradient_penalty_against_finite_differences(x):
    D, f = critic()
    real = sg.tensor(x, dtype=sg.float64)
    # fake = real: every interpolate is x itself, whatever ε
    gp = objectives.gradient_penalty(f, real, real).item()
    norms = input_grad_norms_fd(f, x)
    assert np.isclose(gp, ((norms - 1) ** 2).mean(), rtol=1e-6, atol=1e-9)


def test_gradient_penalty_interpolates_with_one_weight_per_example():
    D, f = critic()
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    sg.manual_seed(7)
    gp = objectives.gradient_penalty(f, sg.tensor(x, dtype=sg.float64), sg.tensor(y, dtype=sg.float64)).item()
    sg.manual_seed(7)
    eps = sg.rand(6, 1, dtype=sg.float64).numpy()
    x_hat = eps * x + (1 - eps) * y
    assert np.isclose(gp, ((input_grad_norms_fd(f, x_hat) - 1) ** 2).mean(), rtol=1e-6)
    # packed (2 samples per critic input): one ε per pack, the norm over the whole pack
    Dp, fp = critic(dim=6)
    packed = lambda t: fp(t.reshape(3, 6))  # noqa: E731
    sg.manual_seed(7)
    gp = objectives.gradient_penalty(packed, sg.tensor(x, dtype=sg.float64), sg.tensor(y, dtype=sg.float64),
                                 pack=2).item()
    sg.manual_seed(7)
    eps = np.repeat(sg.rand(3, 1, dtype=sg.float64).numpy(), 2, axis=0)
    x_hat = (eps * x + (1 - eps) * y).reshape(3, 6)
    assert np.isclose(gp, ((input_grad_norms_fd(fp, x_hat) - 1) ** 2).mean(), rtol=1e-6)


@given(x=hnp.arrays(np.float64, (4, 3), elements=st.floats(-2, 2)))
def test_r1_penalty_against_finite_differences(x):
    D, f = critic()
    r1 = objectives.r1_penalty(f, sg.tensor(x, dtype=sg.float64)).item()
    assert np.isclose(r1, (input_grad_norms_fd(f, x) ** 2).mean(), rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("penalty", ["gp", "r1"])
def test_penalties_train_the_critic_weights_correctly(penalty):
    """Double backprop: d(penalty)/d(weight) against a finite difference on every weight tensor."""
    D, f = critic()
    x = np.random.default_rng(2).standard_normal((4, 3))
    real = sg.tensor(x, dtype=sg.float64)

    def value():
        return objectives.gradient_penalty(f, real, real) if penalty == "gp" else objectives.r1_penalty(f, real)

    value().backward()
    for name, p in D.named_parameters():
        d = np.random.default_rng(3).standard_normal(p.shape)
        # the last bias moves D(x) but not its slope: no gradient from either penalty
        analytic = 0.0 if p.grad is None else float((p.grad.detach().numpy() * d).sum())
        base = p.array.copy()
        p.array[...] = base + 1e-6 * d
        up = value().item()
        p.array[...] = base - 1e-6 * d
        down = value().item()
        p.array[...] = base
        assert np.isclose(analytic, (up - down) / 2e-6, rtol=1e-4, atol=1e-8), name


def test_gradient_penalty_is_finite_for_a_zero_critic(device):
    D = nn.Linear(3, 1).to(device)
    D.weight.array[...] = 0
    x = sg.randn(4, 3, device=device)
    for p in D.parameters():
        p.requires_grad = True
    gp = objectives.gradient_penalty(lambda t: D(t).reshape(-1), x, x)
    gp.backward()
    assert np.isclose(gp.item(), 1.0) and np.isfinite(sg.backend.to_numpy(D.weight.grad.array)).all()


# ----------------------------------------------------------------------------- EMA


def test_ema_decay_warms_up():
    assert ema_decay(0.999, 0) == pytest.approx(0.1)
    assert ema_decay(0.999, 90) == pytest.approx(0.91)
    assert ema_decay(0.999, 10 ** 6) == 0.999
    assert ema_decay(0.999, 0, warmup=False) == 0.999


@pytest.mark.parametrize("warmup", [True, False])
def test_ema_follows_its_formula(warmup):
    net = nn.Linear(3, 2)
    ema = EMA(net, beta=0.9, warmup=warmup)
    expected = [p.detach().numpy().copy() for p in net.parameters()]
    rng = np.random.default_rng(0)
    for t in range(25):
        for p in net.parameters():
            p.array[...] = rng.standard_normal(p.shape)
        ema.update(net)
        b = min(0.9, (1 + t) / (10 + t)) if warmup else 0.9
        expected = [b * e + (1 - b) * p.detach().numpy() for e, p in zip(expected, net.parameters())]
    for e, p in zip(expected, ema.model.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), e, rtol=1e-5, atol=1e-6)
    assert ema.num_updates == 25 and not any(p.requires_grad for p in ema.model.parameters())


def test_ema_batchnorm_statistics_are_the_averaged_weights_own():
    """Recomputed statistics = the exact mean over the batches of what the averaged weights produce."""
    net = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3)) if hasattr(nn, "BatchNorm1d") else None
    if net is None:
        pytest.skip("nn.BatchNorm1d not available yet")
    ema = EMA(net, beta=0.5)
    ema.model[0].weight.array[...] *= 3.0  # weights of its own, unlike the live module's
    batches = [np.random.default_rng(i).standard_normal((16, 4)).astype(np.float32) for i in range(3)]
    ema.recompute_batch_stats(batches)
    h = [ema.model[0](sg.tensor(b)).numpy() for b in batches]
    np.testing.assert_allclose(ema.model[1].running_mean.numpy(), np.mean([a.mean(0) for a in h], 0), rtol=1e-5)
    np.testing.assert_allclose(ema.model[1].running_var.numpy(), np.mean([a.var(0, ddof=1) for a in h], 0),
                               rtol=1e-4)
    assert ema.model[1].momentum == 0.1 and not ema.model.training


def test_ema_batch_stats_accept_device_arrays_and_tensors(device):
    """Noise batches already on the model's device (a CuPy array, a Tensor) work as host ones do."""
    net = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3)).to(device)
    ema = EMA(net, beta=0.5)
    host = [np.random.default_rng(i).standard_normal((8, 4)) for i in range(2)]  # float64: cast to float32
    ema.recompute_batch_stats(host)
    expected = ema.model[1].running_mean.cpu().numpy().copy()
    ema.recompute_batch_stats([sg.tensor(b, device=device) for b in host])
    np.testing.assert_allclose(ema.model[1].running_mean.cpu().numpy(), expected, rtol=1e-6)
    ema.recompute_batch_stats([sg.tensor(b, device=device).array for b in host])
    np.testing.assert_allclose(ema.model[1].running_mean.cpu().numpy(), expected, rtol=1e-6)
