"""Parity with PyTorch (CPU) for conv2d, conv_transpose2d, BatchNorm2d and the DCGAN networks.

Skipped unless PyTorch is importable; run it from a venv with both:
``/work/torchvenv/bin/python -m pytest tests/test_torch_parity_conv.py -q``.
float32 throughout, forward and every gradient to ~1e-4.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hypothesis import assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import scratchgan as sg  # noqa: E402
import scratchgan.nn as snn  # noqa: E402
from scratchgan.nn import functional as SF  # noqa: E402
from scratchgan.gan.models import DCGANDiscriminator, DCGANGenerator, weights_init  # noqa: E402

TF = torch.nn.functional
RTOL, ATOL = 1e-4, 1e-4


def close(got, want, what):
    got = np.asarray(got.array if isinstance(got, sg.Tensor) else got)
    want = want.detach().numpy() if isinstance(want, torch.Tensor) else want
    assert got.shape == want.shape, f"{what}: shape {got.shape} != torch's {want.shape}"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != torch's {want.dtype}"
    scale = max(1.0, float(np.abs(want).max(initial=0)))
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL * scale, err_msg=what)


@st.composite
def configs(draw, transposed):
    k = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    p = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    n, c, o = draw(st.integers(1, 4)), draw(st.integers(1, 12)), draw(st.integers(1, 12))
    h, w = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    span = (d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1)
    bias = draw(st.booleans())
    if transposed:
        op = tuple(draw(st.integers(0, max(si, di) - 1)) for si, di in zip(s, d))
        assume(min((hw - 1) * si - 2 * pi + sp + opi for hw, si, pi, sp, opi in zip((h, w), s, p, span, op)) >= 1)
        return dict(x=(n, c, h, w), w=(c, o) + k, b=o if bias else None, stride=s, padding=p, dilation=d,
                    output_padding=op)
    assume(h + 2 * p[0] >= span[0] and w + 2 * p[1] >= span[1])
    return dict(x=(n, c, h, w), w=(o, c) + k, b=o if bias else None, stride=s, padding=p, dilation=d)


def _inputs(cfg, seed):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(cfg["x"]).astype(np.float32), rng.standard_normal(cfg["w"]).astype(np.float32)]
    if cfg["b"] is not None:
        arrays.append(rng.standard_normal(cfg["b"]).astype(np.float32))
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    ss = [sg.tensor(a.copy(), requires_grad=True) for a in arrays]
    return rng, ts, ss


def _check(ty, sy, ts, ss, rng, what):
    close(sy, ty, f"{what} forward")
    gy = rng.standard_normal(ty.shape).astype(np.float32)
    ty.backward(torch.tensor(gy))
    sy.backward(sg.tensor(gy))
    for i, (t, s) in enumerate(zip(ts, ss)):
        close(s.grad, t.grad, f"{what} gradient of input {i}")


@settings(max_examples=40, deadline=None)
@given(cfg=configs(transposed=False))
def test_conv2d_matches_torch(cfg):
    rng, ts, ss = _inputs(cfg, 0)
    kw = dict(stride=cfg["stride"], padding=cfg["padding"], dilation=cfg["dilation"])
    tb = ts[2] if len(ts) > 2 else None
    sb = ss[2] if len(ss) > 2 else None
    _check(TF.conv2d(ts[0], ts[1], tb, **kw), SF.conv2d(ss[0], ss[1], sb, **kw), ts, ss, rng, "conv2d")


@settings(max_examples=40, deadline=None)
@given(cfg=configs(transposed=True))
def test_conv_transpose2d_matches_torch(cfg):
    rng, ts, ss = _inputs(cfg, 1)
    kw = dict(stride=cfg["stride"], padding=cfg["padding"], output_padding=cfg["output_padding"],
              dilation=cfg["dilation"])
    tb = ts[2] if len(ts) > 2 else None
    sb = ss[2] if len(ss) > 2 else None
    _check(TF.conv_transpose2d(ts[0], ts[1], tb, **kw), SF.conv_transpose2d(ss[0], ss[1], sb, **kw), ts, ss, rng,
           "conv_transpose2d")


@pytest.mark.parametrize("shape", [(128, 128, 7, 7), (8, 3, 5, 5), (2, 4, 1, 3)])
def test_conv_layers_at_dcgan_sizes_match_torch(shape):
    """The real layer sizes (large K, chunked GEMMs) agree too, for module-level calls."""
    torch.manual_seed(0)
    c = shape[1]
    tconv, tconvt = torch.nn.Conv2d(c, 16, 4, 2, 1), torch.nn.ConvTranspose2d(c, 16, 4, 2, 1)
    sconv, sconvt = snn.Conv2d(c, 16, 4, 2, 1), snn.ConvTranspose2d(c, 16, 4, 2, 1)
    for t, s in ((tconv, sconv), (tconvt, sconvt)):
        s.load_state_dict(t.state_dict())
        x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
        tx, sx = torch.tensor(x, requires_grad=True), sg.tensor(x, requires_grad=True)
        if min(shape[2:]) + 2 < 4 and t is tconv:
            continue
        rng = np.random.default_rng(3)
        _check(t(tx), s(sx), [tx, t.weight, t.bias], [sx, s.weight, s.bias], rng, type(s).__name__)


@pytest.mark.parametrize("momentum", [0.1, None])
def test_batchnorm2d_matches_torch(momentum):
    """Training steps (outputs, all gradients, running statistics, num_batches_tracked), then eval."""
    rng = np.random.default_rng(4)
    tbn, sbn = torch.nn.BatchNorm2d(5, momentum=momentum), snn.BatchNorm2d(5, momentum=momentum)
    with torch.no_grad():
        tbn.weight.copy_(torch.tensor(rng.standard_normal(5).astype(np.float32)))
        tbn.bias.copy_(torch.tensor(rng.standard_normal(5).astype(np.float32)))
    sbn.load_state_dict(tbn.state_dict())
    for step in range(3):
        x = (rng.standard_normal((6, 5, 4, 3)) * (step + 1) + step).astype(np.float32)
        tx, sx = torch.tensor(x, requires_grad=True), sg.tensor(x, requires_grad=True)
        tbn.weight.grad = tbn.bias.grad = None
        sbn.weight.grad = sbn.bias.grad = None
        _check(tbn(tx), sbn(sx), [tx, tbn.weight, tbn.bias], [sx, sbn.weight, sbn.bias], rng, f"BN step {step}")
        for k, v in tbn.state_dict().items():
            close(sbn.state_dict()[k], v.numpy(), f"BN {k} after step {step}")
    tbn.eval()
    sbn.eval()
    x = rng.standard_normal((3, 5, 2, 2)).astype(np.float32)
    tx, sx = torch.tensor(x, requires_grad=True), sg.tensor(x, requires_grad=True)
    tbn.weight.grad = tbn.bias.grad = None
    sbn.weight.grad = sbn.bias.grad = None
    _check(tbn(tx), sbn(sx), [tx, tbn.weight, tbn.bias], [sx, sbn.weight, sbn.bias], rng, "BN eval")


# ---- DCGAN networks: scratchgan state_dicts load into torch nn.Sequential, same outputs --------------------
def torch_dcgan(image_size, nz, ngf, ndf, nc):
    nn = torch.nn
    if image_size == 28:
        g = nn.Sequential(nn.ConvTranspose2d(nz, ngf * 4, 7, 1, 0, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
                          nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2),
                          nn.ReLU(True), nn.ConvTranspose2d(ngf * 2, nc, 4, 2, 1, bias=False), nn.Tanh())
        d = nn.Sequential(nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True),
                          nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2),
                          nn.LeakyReLU(0.2, True), nn.Conv2d(ndf * 2, 1, 7, 1, 0, bias=False))
        return g, d
    g = nn.Sequential(
        nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
        nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh())
    d = nn.Sequential(
        nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True),
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, True),
        nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, True),
        nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 8), nn.LeakyReLU(0.2, True),
        nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False))
    return g, d


class _Holder(torch.nn.Module):
    """A torch module with ``self.main``, like the tutorial's Generator: keys read main.N.*"""

    def __init__(self, main):
        super().__init__()
        self.main = main


@pytest.mark.parametrize("image_size,nc", [(28, 1), (64, 3)])
def test_dcgan_state_dicts_load_into_torch(image_size, nc):
    sg.manual_seed(0)
    nz, ngf, ndf, n = 16, 8, 8, 4
    sgen = DCGANGenerator(nz, ngf, nc, image_size).apply(weights_init)
    sdis = DCGANDiscriminator(ndf, nc, image_size).apply(weights_init)
    tg, td = torch_dcgan(image_size, nz, ngf, ndf, nc)
    for smod, tmain in ((sgen, tg), (sdis, td)):
        holder = _Holder(tmain)
        sd = {k: torch.from_numpy(v.numpy()) for k, v in smod.state_dict().items()}
        assert list(sd) == list(holder.state_dict())  # key for key, prefix main.
        holder.load_state_dict(sd, strict=True)
        # and without the prefix into the bare nn.Sequential
        tmain.load_state_dict({k[len("main."):]: v for k, v in sd.items()}, strict=True)
    z = np.random.default_rng(5).standard_normal((n, nz, 1, 1)).astype(np.float32)
    for mode in ("train", "eval"):
        for m in (sgen, sdis, tg, td):
            getattr(m, mode)()
        tz, sz = torch.tensor(z), sg.tensor(z)
        tfake, sfake = tg(tz), sgen(sz)
        close(sfake, tfake, f"G output ({mode})")
        close(sdis(sfake), td(tfake).view(-1), f"D logits ({mode})")
    # a backward pass through both gives the same parameter gradients
    for m in (sgen, sdis, tg, td):
        m.train()
    tz, sz = torch.tensor(z), sg.tensor(z)
    td(tg(tz)).sum().backward()
    sdis(sgen(sz)).sum().backward()
    for (name, sp), tp in zip(list(sgen.named_parameters()) + list(sdis.named_parameters()),
                              list(tg.parameters()) + list(td.parameters())):
        close(sp.grad, tp.grad, f"gradient of {name}")
    # running statistics after the train-mode passes match too
    for k, v in tg.state_dict().items():
        close(sgen.state_dict()["main." + k], v.numpy(), f"G buffer {k}")
