"""Parity with PyTorch (CPU) for nn.utils, Embedding, BatchNorm1d and tensor state_dicts.

Skipped unless PyTorch is importable (CI has no torch; run it from a venv that has both:
``/work/torchvenv/bin/python -m pytest tests/test_torch_parity_nnutils.py -q``).
Both sides start from the same weights (torch's state_dict loaded into scratchgan) and see the
same NumPy inputs; values, gradients, buffers and state_dict keys are compared.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import scratchgan as sg  # noqa: E402
import scratchgan.nn as snn  # noqa: E402

tnn = torch.nn
F32 = np.float32


def tn(t):
    """A torch tensor, a scratchgan tensor or an array, as a NumPy array."""
    if isinstance(t, torch.Tensor):
        return t.detach().cpu().numpy()
    return np.asarray(t.array if isinstance(t, sg.Tensor) else t)


def close(got, want, rtol=1e-5, atol=1e-6, what=""):
    got, want = tn(got), tn(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != torch's {want.shape}"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != torch's {want.dtype}"
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=what)


def to_torch_state(sd):
    return {k: torch.from_numpy(np.array(tn(v))) for k, v in sd.items()}


# ---- spectral_norm ------------------------------------------------------------------------------
SN_LAYERS = {
    "linear": (lambda nn: nn.Linear(6, 5), (4, 6)),
    "conv": (lambda nn: nn.Conv2d(3, 4, 3, stride=2, padding=1), (2, 3, 7, 7)),
    "conv_transpose": (lambda nn: nn.ConvTranspose2d(3, 4, 4, stride=2, padding=1), (2, 3, 5, 5)),
    # HiFi-GAN's scale discriminator and MelGAN's: spectral/weight norm on 1-D convolutions
    "conv1d": (lambda nn: nn.Conv1d(3, 4, 5, stride=2, padding=2, groups=1), (2, 3, 11)),
    "conv_transpose1d": (lambda nn: nn.ConvTranspose1d(3, 4, 4, stride=2, padding=1), (2, 3, 6)),
}


@pytest.mark.parametrize("kind", SN_LAYERS)
@pytest.mark.parametrize("n_power_iterations", [1, 3])
def test_spectral_norm_matches_torch(kind, n_power_iterations):
    make, shape = SN_LAYERS[kind]
    torch.manual_seed(0)
    t = tnn.utils.spectral_norm(make(tnn), n_power_iterations=n_power_iterations)
    s = snn.utils.spectral_norm(make(snn), n_power_iterations=n_power_iterations)
    assert list(s.state_dict()) == list(t.state_dict()) == ["bias", "weight_orig", "weight_u", "weight_v"]
    s.load_state_dict(t.state_dict())
    rng = np.random.default_rng(0)
    for step in range(4):  # training mode: one update of u, v per forward, weight_orig trained by SGD
        x = rng.standard_normal(shape).astype(F32)
        yt, ys = t(torch.from_numpy(x)), s(sg.tensor(x))
        close(ys, yt, what=f"forward {step}")
        for b in ("weight_u", "weight_v", "weight"):
            close(getattr(s, b), getattr(t, b), what=f"{b} after forward {step}")
        gy = rng.standard_normal(yt.shape).astype(F32)
        (yt * torch.from_numpy(gy)).sum().backward()
        (ys * sg.tensor(gy)).sum().backward()
        close(s.weight_orig.grad, t.weight_orig.grad, rtol=1e-4, atol=1e-5, what=f"d weight_orig, step {step}")
        close(s.bias.grad, t.bias.grad, rtol=1e-4, atol=1e-5, what=f"d bias, step {step}")
        with torch.no_grad():
            for p in t.parameters():
                p -= 0.1 * p.grad
                p.grad = None
        s.load_state_dict(t.state_dict())  # the same step on both sides
        s.zero_grad()
    t.eval(), s.eval()
    u_before = tn(s.weight_u).copy()
    x = rng.standard_normal(shape).astype(F32)
    close(s(sg.tensor(x)), t(torch.from_numpy(x)), what="eval forward")
    np.testing.assert_array_equal(tn(s.weight_u), u_before)
    close(s.weight_u, t.weight_u, what="u after an eval forward")
    tnn.utils.remove_spectral_norm(t), snn.utils.remove_spectral_norm(s)
    assert list(s.state_dict()) == list(t.state_dict())
    close(s.weight, t.weight, what="weight after remove_spectral_norm")


def test_spectral_norm_state_dict_loads_into_torch():
    s = snn.utils.spectral_norm(snn.Linear(4, 3))
    s(sg.randn(2, 4))
    t = tnn.utils.spectral_norm(tnn.Linear(4, 3))
    t.load_state_dict(to_torch_state(s.state_dict()))
    t.eval(), s.eval()
    x = np.random.default_rng(1).standard_normal((2, 4)).astype(F32)
    close(s(sg.tensor(x)), t(torch.from_numpy(x)))


@pytest.mark.parametrize("kind", SN_LAYERS)
def test_parametrizations_spectral_norm_matches_torch(kind):
    make, shape = SN_LAYERS[kind]
    torch.manual_seed(0)
    t = tnn.utils.parametrizations.spectral_norm(make(tnn))
    s = snn.utils.parametrizations.spectral_norm(make(snn))
    assert list(s.state_dict()) == list(t.state_dict())
    assert [n for n, _ in s.named_parameters()] == [n for n, _ in t.named_parameters()]
    s.load_state_dict(t.state_dict())
    tp, sp = t.parametrizations.weight, s.parametrizations.weight
    rng = np.random.default_rng(0)
    for step in range(3):
        x = rng.standard_normal(shape).astype(F32)
        yt, ys = t(torch.from_numpy(x)), s(sg.tensor(x))
        close(ys, yt, rtol=1e-5, atol=1e-6, what=f"forward {step}")
        close(sp[0]._u, tp[0]._u, what=f"_u after forward {step}")
        close(sp[0]._v, tp[0]._v, what=f"_v after forward {step}")
        gy = rng.standard_normal(yt.shape).astype(F32)
        (yt * torch.from_numpy(gy)).sum().backward()
        (ys * sg.tensor(gy)).sum().backward()
        close(sp.original.grad, tp.original.grad, rtol=1e-4, atol=1e-5, what=f"d original, step {step}")
    t.eval(), s.eval()
    close(s.weight, t.weight, what="eval weight")
    tnn.utils.parametrize.remove_parametrizations(t, "weight")
    snn.utils.parametrize.remove_parametrizations(s, "weight")
    assert list(s.state_dict()) == list(t.state_dict())
    close(s.weight, t.weight, what="weight after remove_parametrizations")


# ---- Embedding ----------------------------------------------------------------------------------
@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_embedding_matches_torch(padding_idx):
    torch.manual_seed(0)
    t = tnn.Embedding(7, 4, padding_idx=padding_idx)
    s = snn.Embedding(7, 4, padding_idx=padding_idx)
    assert list(s.state_dict()) == list(t.state_dict()) and repr(s) == repr(t)
    assert s.padding_idx == t.padding_idx
    s.load_state_dict(t.state_dict())
    idx = np.random.default_rng(0).integers(0, 7, size=(5, 3))
    idx[0, :] = t.padding_idx if padding_idx is not None else 0
    yt, ys = t(torch.from_numpy(idx)), s(sg.tensor(idx))
    close(ys, yt)
    gy = np.random.default_rng(1).standard_normal(yt.shape).astype(F32)
    (yt.tanh() * torch.from_numpy(gy)).sum().backward()
    (ys.tanh() * sg.tensor(gy)).sum().backward()
    close(s.weight.grad, t.weight.grad, what="d weight (scatter-add, padding row zero)")


def test_embedding_double_backward_matches_torch():
    """WGAN-GP in a conditional critic: the gradient through the label embedding, differentiated again."""
    torch.manual_seed(0)
    t, s = tnn.Embedding(5, 3), snn.Embedding(5, 3)
    s.load_state_dict(t.state_dict())
    idx = np.array([0, 3, 3, 1])
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(F32)
    xt, xs = torch.tensor(x, requires_grad=True), sg.tensor(x, requires_grad=True)
    (gt,) = torch.autograd.grad((t(torch.from_numpy(idx)) * xt).tanh().sum(), [xt], create_graph=True)
    (gs,) = sg.autograd.grad((s(sg.tensor(idx)) * xs).tanh().sum(), [xs], create_graph=True)
    close(gs, gt)
    (gt ** 2).sum().backward()
    (gs ** 2).sum().backward()
    close(s.weight.grad, t.weight.grad, rtol=1e-4, atol=1e-5)


# ---- BatchNorm1d --------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(8, 4), (6, 4, 5)])
@pytest.mark.parametrize("args, kwargs", [((), {}), ((0.8,), {}), ((1e-5, None), {}), ((), {"affine": False}),
                                          ((), {"track_running_stats": False})])
def test_batchnorm1d_matches_torch(shape, args, kwargs):
    torch.manual_seed(0)
    t, s = tnn.BatchNorm1d(4, *args, **kwargs), snn.BatchNorm1d(4, *args, **kwargs)
    assert list(s.state_dict()) == list(t.state_dict()) and repr(s) == repr(t)
    with torch.no_grad():
        for p in t.parameters():
            p.uniform_(0.5, 1.5)
    s.load_state_dict(t.state_dict())
    rng = np.random.default_rng(0)
    for step in range(3):
        x = (rng.standard_normal(shape) * 3 + 1).astype(F32)
        xt, xs = torch.tensor(x, requires_grad=True), sg.tensor(x, requires_grad=True)
        yt, ys = t(xt), s(xs)
        close(ys, yt, rtol=1e-4, atol=1e-5, what=f"train forward {step}")
        gy = rng.standard_normal(shape).astype(F32)
        (yt * torch.from_numpy(gy)).sum().backward()
        (ys * sg.tensor(gy)).sum().backward()
        close(xs.grad, xt.grad, rtol=1e-4, atol=1e-4, what=f"d x, step {step}")
        for name, p in t.named_parameters():
            close(getattr(s, name).grad, p.grad, rtol=1e-4, atol=1e-4, what=f"d {name}, step {step}")
        for name, b in t.named_buffers():
            close(getattr(s, name), b, rtol=1e-5, atol=1e-6, what=f"{name} after step {step}")
    t.eval(), s.eval()
    x = rng.standard_normal(shape).astype(F32)
    close(s(sg.tensor(x)), t(torch.from_numpy(x)), rtol=1e-4, atol=1e-5, what="eval forward")


# ---- clip_grad_norm_, clip_grad_value_, parameters_to_vector -----------------------------------
def _mlp(nn):
    return nn.Sequential(nn.Linear(4, 8), nn.LeakyReLU(0.2), nn.Linear(8, 3))


def _grads_on_both(scale):
    torch.manual_seed(0)
    t, s = _mlp(tnn), _mlp(snn)
    s.load_state_dict(t.state_dict())
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(F32)
    (t(torch.from_numpy(x)) * scale).sum().backward()
    (s(sg.tensor(x)) * scale).sum().backward()
    return t, s


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
@pytest.mark.parametrize("max_norm, scale", [(0.5, 10.0), (1e3, 1.0)])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, scale):
    t, s = _grads_on_both(scale)
    total_t = tnn.utils.clip_grad_norm_(t.parameters(), max_norm, norm_type)
    total_s = snn.utils.clip_grad_norm_(s.parameters(), max_norm, norm_type)
    close(total_s, total_t, rtol=1e-5, what="returned total norm")
    for (name, pt), ps in zip(t.named_parameters(), s.parameters()):
        close(ps.grad, pt.grad, rtol=1e-5, atol=1e-6, what=f"clipped grad of {name}")


def test_clip_grad_value_matches_torch():
    t, s = _grads_on_both(10.0)
    tnn.utils.clip_grad_value_(t.parameters(), 0.3)
    snn.utils.clip_grad_value_(s.parameters(), 0.3)
    for pt, ps in zip(t.parameters(), s.parameters()):
        close(ps.grad, pt.grad)


def test_parameters_to_vector_matches_torch():
    t, s = _grads_on_both(1.0)
    close(snn.utils.parameters_to_vector(s.parameters()), tnn.utils.parameters_to_vector(t.parameters()))
    v = np.arange(sum(p.numel() for p in t.parameters()), dtype=F32)
    tnn.utils.vector_to_parameters(torch.from_numpy(v.copy()), t.parameters())
    snn.utils.vector_to_parameters(sg.tensor(v.copy()), s.parameters())
    for pt, ps in zip(t.parameters(), s.parameters()):
        close(ps, pt)


# ---- state_dicts of tensors --------------------------------------------------------------------
def _dcgan(nn, nz=8, ngf=4, nc=1):
    """The official DCGAN tutorial's generator and discriminator (ngf = ndf), 16x16 output."""
    G = nn.Sequential(
        nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, nc, 4, 2, 1, bias=False), nn.Tanh())
    D = nn.Sequential(
        nn.Conv2d(nc, ngf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ngf, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ngf * 2, 1, 4, 1, 0, bias=False), nn.Sigmoid())
    return nn.ModuleDict({"G": G, "D": D})


def test_dcgan_state_dict_keys_order_and_values_match_torch_both_ways():
    torch.manual_seed(0)
    t, s = _dcgan(tnn), _dcgan(snn)
    tsd, ssd = t.state_dict(), s.state_dict()
    assert list(ssd) == list(tsd)
    assert all(isinstance(v, sg.Tensor) for v in ssd.values())
    assert {k: (tuple(v.shape), tn(v).dtype) for k, v in ssd.items()} == \
        {k: (tuple(v.shape), tn(v).dtype) for k, v in tsd.items()}
    result = s.load_state_dict(tsd)  # torch tensors in, no torch import inside scratchgan
    assert result.missing_keys == [] and result.unexpected_keys == []
    for k in tsd:
        close(ssd[k], tsd[k], rtol=0, atol=0, what=k)  # the views taken before loading see the values
    z = np.random.default_rng(0).standard_normal((3, 8, 1, 1)).astype(F32)
    close(s["G"](sg.tensor(z)), t["G"](torch.from_numpy(z)), rtol=1e-4, atol=1e-5, what="G forward")
    s2, t2 = _dcgan(snn), _dcgan(tnn)  # and the other way: scratchgan tensors into torch
    s2["G"](sg.tensor(z))  # move scratchgan's running statistics first
    t2.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in s2.state_dict().items()})
    for k, v in t2.state_dict().items():
        close(s2.state_dict()[k], v, rtol=0, atol=0, what=k)


def test_load_state_dict_strict_false_and_errors_agree_with_torch():
    t, s = tnn.Linear(3, 2), snn.Linear(3, 2)
    sd = {"weight": torch.zeros(2, 3), "extra": torch.zeros(1)}
    rt, rs = t.load_state_dict(sd, strict=False), s.load_state_dict(sd, strict=False)
    assert (rs.missing_keys, rs.unexpected_keys) == (rt.missing_keys, rt.unexpected_keys) == (["bias"], ["extra"])
    assert repr(s.load_state_dict(t.state_dict())) == repr(t.load_state_dict(t.state_dict()))
    bad = {"weight": torch.zeros(2, 4), "bias": torch.zeros(2)}
    for m in (t, s):
        with pytest.raises(RuntimeError, match=r"size mismatch for weight: copying a param with shape"):
            m.load_state_dict(bad)


# ---- weight normalisation: the classic hook (weight_g, weight_v) and the parametrization (original0/1) ----------
@pytest.mark.filterwarnings("ignore::FutureWarning")  # torch deprecates the classic weight_norm, and so do we
@pytest.mark.parametrize("build, shape", [
    (lambda nn: nn.Linear(5, 3), (4, 5)), (lambda nn: nn.Conv2d(2, 3, 3, padding=1), (2, 2, 5, 5)),
    (lambda nn: nn.ConvTranspose2d(3, 2, 4, 2, 1), (2, 3, 3, 3)),
])
@pytest.mark.parametrize("dim", [0, 1, None])
@pytest.mark.parametrize("which", ["classic", "parametrization"])
def test_weight_norm_matches_torch(build, shape, dim, which):
    torch.manual_seed(0)
    tm = build(torch.nn)
    sm = build(snn)
    sm.load_state_dict({k: sg.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    apply_t = torch.nn.utils.weight_norm if which == "classic" else torch.nn.utils.parametrizations.weight_norm
    apply_s = snn.utils.weight_norm if which == "classic" else snn.utils.parametrizations.weight_norm
    apply_t(tm, dim=dim)
    apply_s(sm, dim=dim)
    assert list(sm.state_dict()) == list(tm.state_dict())
    for k, v in tm.state_dict().items():
        np.testing.assert_allclose(sm.state_dict()[k].numpy(), v.detach().numpy(), rtol=1e-6, err_msg=k)
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    yt, ys = tm(torch.tensor(x)), sm(sg.tensor(x))
    np.testing.assert_allclose(ys.detach().numpy(), yt.detach().numpy(), rtol=1e-5, atol=1e-6)
    (yt ** 2).sum().backward()
    (ys ** 2).sum().backward()
    tp, sp = dict(tm.named_parameters()), dict(sm.named_parameters())
    assert list(sp) == list(tp)
    for k in tp:
        np.testing.assert_allclose(sp[k].grad.numpy(), tp[k].grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=k)
    if which == "classic":
        torch.nn.utils.remove_weight_norm(tm)
        snn.utils.remove_weight_norm(sm)
    else:
        torch.nn.utils.parametrize.remove_parametrizations(tm, "weight")
        snn.utils.parametrize.remove_parametrizations(sm, "weight")
    assert list(sm.state_dict()) == list(tm.state_dict())
    np.testing.assert_allclose(sm.weight.detach().numpy(), tm.weight.detach().numpy(), rtol=1e-6)
