"""conv2d, conv_transpose2d, conv2d_weight and nearest upsampling: against loop-over-positions
references, the adjoint identity, finite differences (first and second order), on every backend;
the layers' shapes, initialisation, repr and error messages."""
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import scratchgan as sg
import scratchgan.nn as nn
from scratchgan import backend
from scratchgan.nn import functional as F
from scratchgan.conv import conv2d_weight, upsample_nearest
from tests.gradcheck import check_backward, check_double_backward

f64 = np.float64
to_np = backend.to_numpy


# ---- references written as loops over positions ---------------------------------------------------
def ref_conv2d(x, w, b, stride, padding, dilation):
    """y[n, o, p, q] = b[o] + Σ_{c,i,j} w[o, c, i, j] · x_pad[n, c, p·s + i·d, q·s + j·d]."""
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.zeros((n, c, h + 2 * ph, wd + 2 * pw))
    xp[:, :, ph:ph + h, pw:pw + wd] = x
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((n, o, ho, wo))
    for p in range(ho):
        for q in range(wo):
            for i in range(kh):
                for j in range(kw):
                    patch = xp[:, :, p * sh + i * dh, q * sw + j * dw]  # (n, c)
                    y[:, :, p, q] += patch @ w[:, :, i, j].T
    if b is not None:
        y += b[None, :, None, None]
    return y


def ref_conv_transpose2d(x, w, b, stride, padding, output_padding, dilation):
    """Scatter: input pixel (h, w) adds w[c, :, i, j]·x to output pixel (h·s + i·d − p, w·s + j·d − p)."""
    (sh, sw), (ph, pw), (oph, opw), (dh, dw) = stride, padding, output_padding, dilation
    n, c, h, wd = x.shape
    _, o, kh, kw = w.shape
    hout = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1
    wout = (wd - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1
    y = np.zeros((n, o, hout, wout))
    for a in range(h):
        for bb in range(wd):
            for i in range(kh):
                for j in range(kw):
                    r, s = a * sh + i * dh - ph, bb * sw + j * dw - pw
                    if 0 <= r < hout and 0 <= s < wout:
                        y[:, :, r, s] += x[:, :, a, bb] @ w[:, :, i, j]
    if b is not None:
        y += b[None, :, None, None]
    return y


# ---- generated configurations -----------------------------------------------------------------------
@st.composite
def conv_configs(draw, transposed=False, max_side=7):
    """A valid (x shape, w shape, stride, padding, dilation[, output_padding]) with small odd and even sizes."""
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    p = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    # channel counts on both sides of FEW_CHANNELS (the two col2im layouts)
    n, c, o = draw(st.integers(1, 3)), draw(st.sampled_from([1, 2, 3, 8, 9])), draw(st.sampled_from([1, 2, 3, 8, 9]))
    h, w = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    span = (d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1)
    if transposed:
        op = tuple(draw(st.integers(0, max(si, di) - 1)) for si, di in zip(s, d))
        out = [(hw - 1) * si - 2 * pi + sp + opi for hw, si, pi, sp, opi in zip((h, w), s, p, span, op)]
        assume(min(out) >= 1)
        return dict(x=(n, c, h, w), w=(c, o) + k, stride=s, padding=p, dilation=d, output_padding=op)
    assume(h + 2 * p[0] >= span[0] and w + 2 * p[1] >= span[1])
    return dict(x=(n, c, h, w), w=(o, c) + k, stride=s, padding=p, dilation=d)


def layout(a, kind):
    """The same values in another memory layout: NCHW, channels-last, or a strided (non-contiguous) view."""
    if kind == "channels_last":
        return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    if kind == "strided":
        big = np.zeros(a.shape[:3] + (2 * a.shape[3],))
        big[..., ::2] = a
        return big[..., ::2]
    return np.ascontiguousarray(a)


def t64(a, device="cpu", requires_grad=False):
    return sg.tensor(a, dtype=f64, device=device, requires_grad=requires_grad)


# ---- forward against the loop references ----------------------------------------------------------------
@settings(max_examples=40)
@given(cfg=conv_configs(), bias=st.booleans(), kind=st.sampled_from(["nchw", "channels_last", "strided"]))
def test_conv2d_matches_loop_reference(device, cfg, bias, kind):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(cfg["x"]), rng.standard_normal(cfg["w"])
    b = rng.standard_normal(cfg["w"][0]) if bias else None
    want = ref_conv2d(x, w, b, cfg["stride"], cfg["padding"], cfg["dilation"])
    if device == "cpu":
        xt = sg.Tensor(layout(x, kind))
    else:
        xt = t64(x, device)
    got = F.conv2d(xt, t64(w, device), None if b is None else t64(b, device),
                   cfg["stride"], cfg["padding"], cfg["dilation"])
    assert got.shape == want.shape
    np.testing.assert_allclose(to_np(got.array), want, rtol=1e-10, atol=1e-10)


@settings(max_examples=40)
@given(cfg=conv_configs(transposed=True), bias=st.booleans())
def test_conv_transpose2d_matches_loop_reference(device, cfg, bias):
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal(cfg["x"]), rng.standard_normal(cfg["w"])
    b = rng.standard_normal(cfg["w"][1]) if bias else None
    want = ref_conv_transpose2d(x, w, b, cfg["stride"], cfg["padding"], cfg["output_padding"], cfg["dilation"])
    got = F.conv_transpose2d(t64(x, device), t64(w, device), None if b is None else t64(b, device),
                             cfg["stride"], cfg["padding"], cfg["output_padding"], 1, cfg["dilation"])
    assert got.shape == want.shape
    np.testing.assert_allclose(to_np(got.array), want, rtol=1e-10, atol=1e-10)


@settings(max_examples=40)
@given(cfg=conv_configs())
def test_adjoint_identity(cfg):
    """⟨conv2d(x, W), y⟩ = ⟨x, conv_transpose2d(y, W)⟩: the transposed convolution is the adjoint."""
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal(cfg["x"]), rng.standard_normal(cfg["w"])
    s, p, d = cfg["stride"], cfg["padding"], cfg["dilation"]
    y_shape = F.conv2d(t64(x), t64(w), None, s, p, d).shape
    y = rng.standard_normal(y_shape)
    k = cfg["w"][2:]
    op = tuple((hw + 2 * pi - di * (ki - 1) - 1) % si for hw, pi, di, ki, si in zip(cfg["x"][2:], p, d, k, s))
    lhs = float((to_np(F.conv2d(t64(x), t64(w), None, s, p, d).array) * y).sum())
    xt = F.conv_transpose2d(t64(y), t64(w), None, s, p, op, 1, d)
    assert xt.shape == x.shape
    rhs = float((x * to_np(xt.array)).sum())
    assert math.isclose(lhs, rhs, rel_tol=1e-10, abs_tol=1e-10)


# ---- gradients: finite differences ------------------------------------------------------------------------
@settings(max_examples=25)
@given(cfg=conv_configs(max_side=6), bias=st.booleans())
def test_conv2d_gradients(device, cfg, bias):
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(cfg["x"]), rng.standard_normal(cfg["w"])]
    if bias:
        arrays.append(rng.standard_normal(cfg["w"][0]))
    check_backward(lambda *t: F.conv2d(*t, stride=cfg["stride"], padding=cfg["padding"],
                                       dilation=cfg["dilation"]), arrays, device)


@settings(max_examples=25)
@given(cfg=conv_configs(transposed=True, max_side=5), bias=st.booleans())
def test_conv_transpose2d_gradients(device, cfg, bias):
    rng = np.random.default_rng(4)
    arrays = [rng.standard_normal(cfg["x"]), rng.standard_normal(cfg["w"])]
    if bias:
        arrays.append(rng.standard_normal(cfg["w"][1]))
    check_backward(lambda *t: F.conv_transpose2d(*t, stride=cfg["stride"], padding=cfg["padding"],
                                                 output_padding=cfg["output_padding"], dilation=cfg["dilation"]),
                   arrays, device)


@settings(max_examples=15)
@given(cfg=conv_configs(max_side=5))
def test_conv2d_weight_op_gradients(device, cfg):
    """The weight-gradient op is differentiable in both the input and the output gradient."""
    rng = np.random.default_rng(5)
    s, p, d = cfg["stride"], cfg["padding"], cfg["dilation"]
    g_shape = F.conv2d(t64(np.zeros(cfg["x"])), t64(np.zeros(cfg["w"])), None, s, p, d).shape
    arrays = [rng.standard_normal(cfg["x"]), rng.standard_normal(g_shape)]
    check_backward(lambda x, g: conv2d_weight(x, cfg["w"], g, s, p, d), arrays, device)


@pytest.mark.parametrize("cfg", [
    dict(x=(2, 2, 5, 5), w=(3, 2, 3, 3), stride=1, padding=1, dilation=1),
    dict(x=(2, 3, 6, 7), w=(2, 3, 4, 4), stride=2, padding=1, dilation=1),
    dict(x=(1, 2, 7, 6), w=(2, 2, 2, 3), stride=(2, 3), padding=(0, 2), dilation=(2, 1)),
])
def test_conv2d_double_backward(device, cfg):
    """d/dθ of ⟨∂L/∂(x, W), u⟩ against finite differences of the analytic gradient (WGAN-GP's need)."""
    rng = np.random.default_rng(6)
    arrays = [rng.standard_normal(cfg["x"]), rng.standard_normal(cfg["w"]), rng.standard_normal(cfg["w"][0])]
    # a nonlinearity after the convolution makes the second derivative depend on x
    check_double_backward(lambda x, w, b: F.tanh(F.conv2d(x, w, b, cfg["stride"], cfg["padding"],
                                                          cfg["dilation"])), arrays, device)


@pytest.mark.parametrize("cfg", [
    dict(x=(2, 3, 3, 3), w=(3, 2, 4, 4), stride=2, padding=1, output_padding=0, dilation=1),
    dict(x=(1, 2, 3, 4), w=(2, 2, 3, 2), stride=(2, 1), padding=(1, 0), output_padding=(1, 0), dilation=(1, 2)),
    dict(x=(1, 1, 3, 3), w=(1, 2, 2, 2), stride=1, padding=0, output_padding=1, dilation=2),  # op ≥ stride
])
def test_conv_transpose2d_double_backward(device, cfg):
    rng = np.random.default_rng(7)
    arrays = [rng.standard_normal(cfg["x"]), rng.standard_normal(cfg["w"])]
    check_double_backward(lambda x, w: F.tanh(F.conv_transpose2d(
        x, w, None, cfg["stride"], cfg["padding"], cfg["output_padding"], 1, cfg["dilation"])), arrays, device)


def test_gradient_penalty_through_a_conv_discriminator():
    """WGAN-GP: the penalty on ‖∂D/∂x‖ reaches D's weights through the double backward."""
    rng = np.random.default_rng(8)
    sg.manual_seed(0)
    # a smooth activation: through LeakyReLU the penalty would not depend on the first bias at all
    d = nn.Sequential(nn.Conv2d(1, 3, 4, 2, 1), nn.Tanh(), nn.Conv2d(3, 1, 4, 1, 0)).double()
    x = t64(rng.standard_normal((2, 1, 8, 8)), requires_grad=True)
    out = d(x).sum()
    (gx,) = sg.autograd.grad(out, x, create_graph=True)
    penalty = ((gx * gx).sum(dim=(1, 2, 3)).sqrt() - 1.0).pow(2).mean()
    penalty.backward()
    for name, p in d.named_parameters():
        if name == "2.bias":  # the output offset does not change ∂D/∂x
            assert p.grad is None or not np.any(p.grad.numpy())
        else:
            assert p.grad is not None and np.abs(p.grad.numpy()).sum() > 0, name


def test_input_gradient_skipped_when_not_needed(monkeypatch):
    """A real batch (requires_grad=False) never pays for dL/dx: no transposed convolution runs."""
    import scratchgan.kernels as K

    calls = []
    monkeypatch.setattr(K, "conv_transpose2d_array",
                        lambda *a, **k: calls.append(1) or (_ for _ in ()).throw(AssertionError("dL/dx computed")))
    layer = nn.Conv2d(1, 2, 3)
    layer(sg.randn(2, 1, 5, 5)).sum().backward()
    assert layer.weight.grad is not None and not calls


# ---- nearest upsampling -----------------------------------------------------------------------------------------
@given(n=st.integers(1, 2), c=st.integers(1, 3), h=st.integers(1, 4), w=st.integers(1, 4),
       fh=st.integers(1, 3), fw=st.integers(1, 3))
def test_upsample_nearest(device, n, c, h, w, fh, fw):
    x = np.random.default_rng(9).standard_normal((n, c, h, w))
    got = F.interpolate(t64(x, device), scale_factor=(fh, fw))
    np.testing.assert_array_equal(to_np(got.array), x.repeat(fh, 2).repeat(fw, 3))
    check_backward(lambda t: upsample_nearest(t, (fh, fw)) ** 2, [x], device)   # the engine's op, by factors
    check_double_backward(lambda t: upsample_nearest(t, (fh, fw)) ** 3, [x], device)


@pytest.mark.parametrize("size", [(5, 7), (3, 2), (8, 8)])
def test_interpolate_nearest_to_a_size(device, size):
    x = np.random.default_rng(10).standard_normal((1, 2, 4, 4))
    rows = np.minimum((np.arange(size[0]) * (4 / size[0])).astype(int), 3)
    cols = np.minimum((np.arange(size[1]) * (4 / size[1])).astype(int), 3)
    got = F.interpolate(t64(x, device), size=size)
    np.testing.assert_array_equal(to_np(got.array), x[:, :, rows][:, :, :, cols])
    check_backward(lambda t: F.interpolate(t, size=size) ** 2, [x], device)


def test_upsample_layer_then_conv_keeps_sizes():
    block = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(4, 2, 3, 1, 1, bias=False))
    assert block(sg.randn(3, 4, 7, 7)).shape == (3, 2, 14, 14)
    assert repr(nn.Upsample(scale_factor=2)) == "Upsample(scale_factor=2.0, mode='nearest')"
    with pytest.raises(NotImplementedError, match="mode 'trilinear' is not implemented"):
        nn.Upsample(scale_factor=2, mode="trilinear")


def test_bilinear_upsampling_interpolates_and_keeps_corners_with_align_corners():
    # written out from torch 2.13: a 2×2 ramp doubled, half-pixel centres (default) and aligned corners
    x = sg.tensor([[[[0.0, 1.0], [2.0, 3.0]]]])
    up = nn.Upsample(scale_factor=2, mode="bilinear")(x)
    assert up[0, 0, 0].tolist() == [0.0, 0.25, 0.75, 1.0] and up[0, 0, :, 0].tolist() == [0.0, 0.5, 1.5, 2.0]
    corners = F.interpolate(x, size=(3, 3), mode="bilinear", align_corners=True)
    assert corners[0, 0].tolist() == [[0.0, 0.5, 1.0], [1.0, 1.5, 2.0], [2.0, 2.5, 3.0]]


# ---- layers ------------------------------------------------------------------------------------------------------
def test_conv_layer_shapes_init_and_repr():
    sg.manual_seed(0)
    conv = nn.Conv2d(16, 32, 4, 2, 1)
    assert conv.weight.shape == (32, 16, 4, 4) and conv.bias.shape == (32,)
    bound = 1 / math.sqrt(16 * 16)  # kaiming_uniform(a=√5) → 1/√fan_in, fan_in = in·kh·kw
    assert np.abs(conv.weight.array).max() <= bound and np.abs(conv.weight.array).max() > 0.9 * bound
    assert np.abs(conv.bias.array).max() <= bound
    convt = nn.ConvTranspose2d(16, 8, 4, 2, 1)
    assert convt.weight.shape == (16, 8, 4, 4) and convt.bias.shape == (8,)
    bound_t = 1 / math.sqrt(8 * 16)  # PyTorch's fan_in for (in, out, kh, kw) is out·kh·kw
    assert bound_t * 0.9 < np.abs(convt.weight.array).max() <= bound_t
    assert list(conv.state_dict()) == ["weight", "bias"]
    assert list(nn.Conv2d(1, 2, 3, bias=False).state_dict()) == ["weight"]
    assert repr(conv) == "Conv2d(16, 32, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1))"
    assert repr(nn.Conv2d(3, 64, 4, 2, 1, bias=False)) == \
        "Conv2d(3, 64, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1), bias=False)"
    assert repr(nn.ConvTranspose2d(100, 256, 7, 1, 0, bias=False)) == \
        "ConvTranspose2d(100, 256, kernel_size=(7, 7), stride=(1, 1), bias=False)"
    assert repr(nn.ConvTranspose2d(4, 2, (3, 5), (2, 1), (1, 2), output_padding=(1, 0), dilation=(1, 2))) == \
        ("ConvTranspose2d(4, 2, kernel_size=(3, 5), stride=(2, 1), padding=(1, 2), dilation=(1, 2), "
         "output_padding=(1, 0))")
    assert nn.Conv2d(2, 3, 3, padding="same")(sg.randn(1, 2, 5, 6)).shape == (1, 3, 5, 6)
    assert nn.Conv2d(2, 3, 3, padding="valid")(sg.randn(1, 2, 5, 6)).shape == (1, 3, 3, 4)
    assert repr(nn.Conv2d(2, 3, 3, padding="same")) == "Conv2d(2, 3, kernel_size=(3, 3), stride=(1, 1), padding=same)"
    assert F.conv2d(sg.randn(1, 2, 5, 6), sg.randn(3, 2, 5, 3), padding="same").shape == (1, 3, 5, 6)


@settings(max_examples=15)
@given(cfg=conv_configs(max_side=6), transposed=st.booleans())
def test_batch_chunking_gives_the_same_result(cfg, transposed):
    """Tiny chunks (one image each): the chunked GEMMs, the reused workspace and the im2col shared by
    conv_transpose2d's two gradients agree with one-chunk results, forward and backward."""
    import scratchgan.kernels as C

    rng = np.random.default_rng(12)
    n = 3
    x_shape = (n,) + cfg["x"][1:]
    w_shape = (cfg["w"][1], cfg["w"][0]) + cfg["w"][2:] if transposed else cfg["w"]
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    op = F.conv_transpose2d if transposed else F.conv2d
    kw = dict(stride=cfg["stride"], padding=cfg["padding"], dilation=cfg["dilation"])
    if transposed:
        out = [(hw - 1) * s - 2 * p + d * (k - 1) + 1
               for hw, s, p, d, k in zip(x_shape[2:], cfg["stride"], cfg["padding"], cfg["dilation"], w_shape[2:])]
        assume(min(out) >= 1)
    results = []
    for chunk, min_rows in ((C.CHUNK_ELEMENTS, C.MIN_CHUNK_ROWS), (1, 1)):
        old = C.CHUNK_ELEMENTS, C.MIN_CHUNK_ROWS
        C.CHUNK_ELEMENTS, C.MIN_CHUNK_ROWS = chunk, min_rows
        try:
            xt, wt = t64(x, requires_grad=True), t64(w, requires_grad=True)
            y = op(xt, wt, **kw)
            (y * t64(np.arange(y.numel()).reshape(y.shape) % 7)).sum().backward()
            results.append((y.array.copy(), xt.grad.array, wt.grad.array))
        finally:
            C.CHUNK_ELEMENTS, C.MIN_CHUNK_ROWS = old
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("c_out", [2, 9])
def test_conv_transpose2d_from_1x1_input(device, c_out):
    """The generator's first layer: a 1×1 input, where the kernel offsets tile the output."""
    rng = np.random.default_rng(11)
    x, w = rng.standard_normal((3, 4, 1, 1)), rng.standard_normal((4, c_out, 3, 2))
    got = F.conv_transpose2d(t64(x, device), t64(w, device))
    np.testing.assert_allclose(to_np(got.array), ref_conv_transpose2d(x, w, None, (1, 1), (0, 0), (0, 0), (1, 1)),
                               rtol=1e-12)
    check_backward(lambda x, w: F.conv_transpose2d(x, w), [x, w], device)


def test_conv_layers_output_sizes():
    x = sg.randn(2, 3, 28, 28)
    assert nn.Conv2d(3, 8, 4, 2, 1)(x).shape == (2, 8, 14, 14)
    assert nn.Conv2d(3, 8, 3, 1, 0, dilation=2)(x).shape == (2, 8, 24, 24)
    z = sg.randn(2, 5, 7, 7)
    assert nn.ConvTranspose2d(5, 4, 4, 2, 1)(z).shape == (2, 4, 14, 14)
    assert nn.ConvTranspose2d(5, 4, 3, 2, 1, output_padding=1)(z).shape == (2, 4, 14, 14)
    assert nn.ConvTranspose2d(5, 4, 3, 2, 1)(z, output_size=(14, 14)).shape == (2, 4, 14, 14)
    assert nn.ConvTranspose2d(5, 4, 7)(sg.randn(2, 5, 1, 1)).shape == (2, 4, 7, 7)


def test_channel_mismatch_error_names_the_layer_and_shapes():
    conv = nn.Conv2d(3, 64, 4, 2, 1)
    with pytest.raises(ValueError) as e:
        conv(sg.randn(8, 1, 28, 28))
    assert str(e.value) == ("Conv2d(3, 64, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1)): "
                            "expected input with 3 channels (N, 3, H, W), got shape (8, 1, 28, 28)")
    convt = nn.ConvTranspose2d(100, 256, 7, 1, 0, bias=False)
    with pytest.raises(ValueError,
                       match=r"ConvTranspose2d\(100, 256.*expected input with 100 channels.*\(4, 10, 1, 1\)"):
        convt(sg.randn(4, 10, 1, 1))


def test_kernel_larger_than_padded_input_error():
    conv = nn.Conv2d(1, 2, 7, 1, 0)
    with pytest.raises(ValueError) as e:
        conv(sg.randn(2, 1, 5, 5))
    msg = str(e.value)
    assert msg.startswith("Conv2d(1, 2, kernel_size=(7, 7), stride=(1, 1))")
    assert "kernel size (7, 7)" in msg and "padded input size (5, 5)" in msg and "(2, 1, 5, 5)" in msg
    with pytest.raises(ValueError, match=r"conv2d: kernel size \(5, 5\) \(dilated\)"):
        F.conv2d(sg.randn(1, 1, 4, 4), sg.randn(1, 1, 3, 3), dilation=2)


def test_output_padding_must_be_smaller_than_stride_or_dilation():
    with pytest.raises(ValueError) as e:
        nn.ConvTranspose2d(4, 2, 4, 2, 1, output_padding=2)
    assert str(e.value).startswith("ConvTranspose2d(4, 2, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1), "
                                   "output_padding=(2, 2)): output_padding (2, 2) must be smaller than either "
                                   "stride (2, 2) or dilation (1, 1)")
    with pytest.raises(ValueError, match="output_padding"):
        F.conv_transpose2d(sg.randn(1, 1, 3, 3), sg.randn(1, 1, 3, 3), stride=1, output_padding=1)
    # smaller than the dilation is allowed (PyTorch's rule)
    assert nn.ConvTranspose2d(1, 1, 2, 1, 0, output_padding=1, dilation=2)(sg.randn(1, 1, 3, 3)).shape == (1, 1, 6, 6)


def test_non_4d_input_and_other_errors():
    conv = nn.Conv2d(3, 4, 3)
    with pytest.raises(ValueError,
                       match=r"Conv2d\(3, 4.*expected 4-D input \(N, C, H, W\), got 2-D input of shape \(8, 8\)"):
        conv(sg.randn(8, 8))
    assert conv(sg.randn(3, 8, 8)).shape == (4, 6, 6)                          # one unbatched image, as torch
    assert nn.ConvTranspose2d(3, 4, 3)(sg.randn(3, 2, 2)).shape == (4, 4, 4)
    with pytest.raises(ValueError, match=r"ConvTranspose2d.*expected 4-D input"):
        nn.ConvTranspose2d(3, 4, 3)(sg.randn(2, 3))
    with pytest.raises(ValueError, match="out_channels must be divisible by groups, got 3 and 2"):
        nn.Conv2d(4, 3, 3, groups=2)
    with pytest.raises(ValueError, match=r"with groups=2, expected input with 4 channels.*got input \(1, 6, 5, 5\)"):
        F.conv2d(sg.randn(1, 6, 5, 5), sg.randn(4, 2, 3, 3), groups=2)
    with pytest.raises(ValueError, match="stride"):
        nn.Conv2d(1, 1, 3, stride=0)
    with pytest.raises(ValueError, match="empty output"):
        F.conv_transpose2d(sg.randn(1, 1, 1, 1), sg.randn(1, 1, 2, 2), padding=1)


def test_layer_gradients_reach_weight_and_bias():
    sg.manual_seed(1)
    conv, convt = nn.Conv2d(2, 3, 3, 2, 1), nn.ConvTranspose2d(3, 2, 4, 2, 1)
    x = sg.randn(2, 2, 8, 8, requires_grad=True)
    y = convt(F.relu(conv(x)))
    assert y.shape == x.shape
    (y * y).mean().backward()
    for p in [x, conv.weight, conv.bias, convt.weight, convt.bias]:
        assert p.grad is not None and p.grad.shape == p.shape and np.abs(p.grad.numpy()).sum() > 0


def test_float32_stays_float32_and_layout_is_channels_last():
    conv = nn.Conv2d(3, 4, 3, 1, 1)
    y = conv(sg.randn(2, 3, 6, 6))
    assert y.dtype == np.float32
    # the GEMM's NHWC result is handed out as an NCHW view: no transpose copy
    assert y.array.transpose(0, 2, 3, 1).flags.c_contiguous
    assert F.relu(y).array.transpose(0, 2, 3, 1).flags.c_contiguous


# ---- Winograd F(2×2, 2×2) for stride-2 4×4 convolutions (kernels.py) ----------------------------
def _winograd_ops(geom, shape):
    """The two Winograd paths as functions of (x, other) with the array `other` they take: the forward
    (other = W, 17 output channels) and the weight gradient (other = grad_output)."""
    import scratchgan.kernels as K

    ho, wo = geom.conv_out(*shape[2:])
    return {"forward": ((17, shape[1], 4, 4), lambda x, w: K.conv2d_array(x, w, geom)),
            "weight gradient": ((shape[0], 17, ho, wo),
                                lambda x, g: K.conv2d_weight_array(x, g, (17, shape[1], 4, 4), geom))}


@pytest.mark.parametrize("op", ["forward", "weight gradient"])
@pytest.mark.parametrize("shape, padding", [((3, 16, 8, 8), 1), ((2, 16, 10, 6), 0), ((2, 32, 10, 10), 2),
                                            ((5, 16, 4, 4), 1), ((2, 16, 9, 9), 1)])
def test_winograd_equals_the_im2col_gemm(op, shape, padding, monkeypatch):
    import scratchgan.kernels as K

    rng = np.random.default_rng(3)
    geom = sg.conv._Geometry((4, 4), 2, padding, 1)
    assert K._winograd_fits(shape[1], 17, geom, geom.conv_out(*shape[2:]), np)
    other_shape, fn = _winograd_ops(geom, shape)[op]
    for dtype, tol in ((np.float64, 1e-12), (np.float32, 3e-6)):
        x, other = rng.standard_normal(shape).astype(dtype), rng.standard_normal(other_shape).astype(dtype)
        got = fn(x, other)
        monkeypatch.setattr(K, "WINOGRAD", False)
        want = fn(x, other)
        monkeypatch.setattr(K, "WINOGRAD", True)
        assert got.shape == want.shape and got.dtype == dtype
        np.testing.assert_allclose(got, want, rtol=0, atol=tol * np.abs(want).max())
    # in many chunks (one image each; dW's partial sums in SUM_GROUPS groups): the same to rounding
    x, other = rng.standard_normal(shape), rng.standard_normal(other_shape)
    one = fn(x, other)
    monkeypatch.setattr(K, "CHUNK_ELEMENTS", 1)
    monkeypatch.setattr(K, "MIN_CHUNK_ROWS", 2)
    assert len(K._winograd_chunks(shape[0], 2, 2, 64, np)) == shape[0]
    np.testing.assert_allclose(fn(x, other), one, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", ["odd output", "few input channels", "few output channels", "stride 1",
                                  "3x3 kernel", "dilated"])
def test_winograd_only_where_it_applies(case):
    import scratchgan.kernels as K

    c, o, h, k, s, d = 16, 16, 8, 4, 2, 1
    if case == "odd output":
        h = 14  # 7×7 output: 2×2 tiles would compute 8×8
    c = 8 if case == "few input channels" else c
    o = 3 if case == "few output channels" else o
    s = 1 if case == "stride 1" else s
    k = 3 if case == "3x3 kernel" else k
    d = 2 if case == "dilated" else d
    geom = sg.conv._Geometry((k, k), s, 1, d)
    assert not K._winograd_fits(c, o, geom, geom.conv_out(h, h), np)
    assert K._winograd_fits(16, 16, sg.conv._Geometry((4, 4), 2, 1, 1), (4, 4), np)


def test_gradients_through_the_winograd_paths():
    # a stride-2 4×4 convolution wide enough for Winograd: forward and weight gradient against
    # central finite differences (float64), and the input gradient (the im2col transposed GEMM) with them
    import scratchgan.kernels as K

    rng = np.random.default_rng(6)
    x, w = rng.standard_normal((2, 16, 4, 4)), rng.standard_normal((16, 16, 4, 4)) * 0.1
    assert K._winograd_fits(16, 16, sg.conv._Geometry((4, 4), 2, 1, 1), (2, 2), np)
    check_backward(lambda a, b: F.conv2d(a, b, stride=2, padding=1), [x, w])


def test_a_short_grad_output_keeps_the_im2col_weight_gradient():
    # conv2d_weight accepts a grad_output smaller than the natural output (PyTorch's rule): no tiles then
    x, g = np.random.default_rng(7).standard_normal((2, 16, 8, 8)), np.ones((2, 16, 3, 4))
    dw = conv2d_weight(t64(x), (16, 16, 4, 4), t64(g), stride=2, padding=1)
    xp_ = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    want = np.einsum("nopq,ncpqij->ocij", g,
                     np.lib.stride_tricks.sliding_window_view(xp_, (4, 4), axis=(2, 3))[:, :, ::2, ::2][:, :, :3, :4])
    np.testing.assert_allclose(dw.array, want, rtol=1e-12, atol=1e-12)


def test_conv2d_padding_modes_pad_then_convolve_and_transposed_refuses_them():
    x = sg.randn(1, 1, 4, 4)
    conv = nn.Conv2d(1, 1, 3, padding=1, padding_mode="reflect", bias=False)
    want = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), conv.weight)
    np.testing.assert_array_equal(conv(x).detach().numpy(), want.detach().numpy())
    assert repr(conv) == "Conv2d(1, 1, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False, padding_mode=reflect)"
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv2d(1, 1, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match='Only "zeros" padding mode is supported for ConvTranspose2d'):
        nn.ConvTranspose2d(1, 1, 3, padding_mode="reflect")



@pytest.mark.parametrize("groups", [2, 4])
def test_a_grouped_convolution_is_its_groups_side_by_side(device, groups):
    # group i sees only its channels: the same as convolving each group alone and stacking the outputs
    rng = np.random.default_rng(12)
    x, w, b = rng.standard_normal((2, 4, 6, 5)), rng.standard_normal((8, 4 // groups, 3, 3)), rng.standard_normal(8)
    got = F.conv2d(t64(x, device), t64(w, device), t64(b, device), padding=1, groups=groups)
    k, o = 4 // groups, 8 // groups
    want = np.concatenate([to_np(F.conv2d(t64(x[:, i * k:(i + 1) * k], device), t64(w[i * o:(i + 1) * o], device),
                                          t64(b[i * o:(i + 1) * o], device), padding=1).array) for i in range(groups)], 1)
    np.testing.assert_allclose(to_np(got.array), want, rtol=1e-12)
    check_backward(lambda x, w: F.conv2d(x, w, padding=1, stride=2, groups=groups), [x, w], device)
    check_double_backward(lambda x, w: F.conv2d(x, w, groups=groups) ** 2, [x, w], device)
    wt = rng.standard_normal((4, 3, 3, 3))  # transposed, 2 groups: (C_in, C_out / 2, kh, kw), 6 outputs
    check_backward(lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1, groups=2), [x, wt], device)
    conv = nn.Conv2d(4, 8, 3, groups=groups)
    assert conv.weight.shape == (8, 4 // groups, 3, 3) and "groups=" in repr(conv)
    assert conv(sg.randn(1, 4, 5, 5)).shape == (1, 8, 3, 3)                     # the layer passes its groups on
    assert nn.ConvTranspose2d(4, 6, 3, groups=2).weight.shape == (4, 3, 3, 3)
