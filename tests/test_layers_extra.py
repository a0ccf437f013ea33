"""LayerNorm, InstanceNorm2d, GroupNorm, avg_pool2d, the softmax family, cross_entropy/nll_loss/l1_loss,
pad, normalize, one_hot, Unflatten and the extra nn.init functions: values against NumPy references,
first- and second-order finite-difference gradients on every backend, WGAN-GP penalties through
normalised critics, and error messages."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scratchgan as sg
import scratchgan.nn as nn
from scratchgan import backend
from scratchgan.nn import functional as F
from scratchgan.nn import init
from scratchgan.norm import standardize
from tests.gradcheck import check_backward, check_double_backward

f64 = np.float64
to_np = backend.to_numpy
small = st.integers(1, 3)


def t64(a, device="cpu", requires_grad=False):
    return sg.tensor(a, dtype=f64, device=device, requires_grad=requires_grad)


def ref_standardize(x, axes, eps=1e-5):
    mu = x.mean(axis=axes, keepdims=True)
    return (x - mu) / np.sqrt(x.var(axis=axes, keepdims=True) + eps)


# ---- normalisation -------------------------------------------------------------------------------
@given(shape=st.tuples(small, small, st.integers(2, 4)), k=st.integers(1, 2), affine=st.booleans())
def test_layer_norm_values_and_gradients(device, shape, k, affine):
    rng = np.random.default_rng(0)
    norm_shape = shape[-k:]
    arrays = [rng.standard_normal(shape) * 2 + 1]
    if affine:
        arrays += [rng.standard_normal(norm_shape), rng.standard_normal(norm_shape)]
    y = F.layer_norm(*[t64(a, device) for a in arrays[:1]], norm_shape, *[t64(a, device) for a in arrays[1:]])
    want = ref_standardize(arrays[0], tuple(range(len(shape) - k, len(shape))))
    if affine:
        want = want * arrays[1] + arrays[2]
    np.testing.assert_allclose(to_np(y.array), want, rtol=1e-9, atol=1e-12)
    fn = lambda x, *wb: F.tanh(F.layer_norm(x, norm_shape, *wb))  # noqa: E731
    check_backward(fn, arrays, device)
    check_double_backward(fn, arrays, device)


@settings(max_examples=10)
@given(shape=st.tuples(small, small, st.integers(1, 3), st.integers(2, 3)), affine=st.booleans())
def test_instance_norm_values_and_gradients(device, shape, affine):
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(shape) * 3 - 1]
    if affine:
        arrays += [rng.standard_normal(shape[1]), rng.standard_normal(shape[1])]
    y = F.instance_norm(t64(arrays[0], device), weight=t64(arrays[1], device) if affine else None,
                        bias=t64(arrays[2], device) if affine else None)
    want = ref_standardize(arrays[0], (2, 3))
    if affine:
        want = want * arrays[1][:, None, None] + arrays[2][:, None, None]
    np.testing.assert_allclose(to_np(y.array), want, rtol=1e-9, atol=1e-12)
    fn = lambda x, *wb: F.tanh(F.instance_norm(x, None, None, *wb))  # noqa: E731
    check_backward(fn, arrays, device)
    check_double_backward(fn, arrays, device)


@settings(max_examples=10)
@given(n=small, groups=small, per_group=small, hw=st.integers(1, 3))
def test_group_norm_values_and_gradients(device, n, groups, per_group, hw):
    rng = np.random.default_rng(2)
    c = groups * per_group
    shape = (n, c, hw, 2)
    arrays = [rng.standard_normal(shape), rng.standard_normal(c), rng.standard_normal(c)]
    y = F.group_norm(*[t64(a, device) for a in arrays[:1]], groups, *[t64(a, device) for a in arrays[1:]])
    want = ref_standardize(arrays[0].reshape(n, groups, -1), (2,)).reshape(shape)
    want = want * arrays[1][:, None, None] + arrays[2][:, None, None]
    np.testing.assert_allclose(to_np(y.array), want, rtol=1e-9, atol=1e-12)
    fn = lambda x, w, b: F.tanh(F.group_norm(x, groups, w, b))  # noqa: E731
    check_backward(fn, arrays, device)
    check_double_backward(fn, arrays, device)


def test_standardize_third_order(device):
    """standardize's backward is itself differentiable: the second derivative of x ↦ ∂⟨x̂³, v⟩/∂x."""
    x = np.random.default_rng(3).standard_normal((2, 5))
    check_backward(lambda x: standardize(x, (1,)) ** 3, [x], device)
    check_double_backward(lambda x: sg.autograd.grad((standardize(x, (1,)) ** 3).sum(), x, create_graph=True)[0],
                          [x], device)


def test_instance_norm_running_statistics_and_eval():
    rng = np.random.default_rng(4)
    m = nn.InstanceNorm2d(3, affine=True, track_running_stats=True)
    want_m, want_v = np.zeros(3), np.ones(3)
    for _ in range(3):
        x = rng.standard_normal((4, 3, 2, 5)).astype(np.float32) * 2 + 1
        m(sg.tensor(x))
        want_m = 0.9 * want_m + 0.1 * x.mean(axis=(2, 3)).mean(0)
        want_v = 0.9 * want_v + 0.1 * x.var(axis=(2, 3), ddof=1).mean(0)
    np.testing.assert_allclose(m.running_mean.array, want_m, rtol=1e-5)
    np.testing.assert_allclose(m.running_var.array, want_v, rtol=1e-5)
    assert int(m.num_batches_tracked.array) == 0  # PyTorch's InstanceNorm does not count batches
    m.eval()
    x = rng.standard_normal((2, 3, 2, 2)).astype(np.float32)
    y = m(sg.tensor(x)).array
    want = (x - want_m[:, None, None]) / np.sqrt(want_v[:, None, None] + 1e-5)
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-5)
    assert list(m.state_dict()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]


def test_norm_layers_keys_defaults_unbatched_and_repr():
    assert list(nn.LayerNorm(4).state_dict()) == ["weight", "bias"]
    assert list(nn.LayerNorm((2, 3), bias=False).state_dict()) == ["weight"]
    assert list(nn.LayerNorm(4, elementwise_affine=False).state_dict()) == []
    assert nn.LayerNorm([2, 3]).weight.shape == (2, 3)
    assert list(nn.InstanceNorm2d(3).state_dict()) == []
    assert list(nn.GroupNorm(2, 4).state_dict()) == ["weight", "bias"]
    assert repr(nn.LayerNorm(4)) == "LayerNorm((4,), eps=1e-05, elementwise_affine=True, bias=True)"
    assert repr(nn.GroupNorm(2, 4)) == "GroupNorm(2, 4, eps=1e-05, affine=True, bias=True)"
    assert repr(nn.InstanceNorm2d(3)) == \
        "InstanceNorm2d(3, eps=1e-05, momentum=0.1, affine=False, bias=False, track_running_stats=False)"
    assert list(nn.InstanceNorm2d(3, affine=True, bias=False).state_dict()) == ["weight"]
    x = np.random.default_rng(5).standard_normal((3, 4, 5)).astype(np.float32)
    inorm = nn.InstanceNorm2d(3)
    np.testing.assert_allclose(inorm(sg.tensor(x)).array, inorm(sg.tensor(x[None])).array[0], rtol=1e-6)
    ln = nn.LayerNorm(5)
    assert ln(sg.tensor(x)).dtype == np.float32


def test_norm_layer_errors_name_the_layer_and_shapes():
    x = sg.randn(2, 3, 4)
    with pytest.raises(ValueError, match=r"LayerNorm\(\(5,\).*\(\*, 5\).*\(2, 3, 4\)"):
        nn.LayerNorm(5)(x)
    with pytest.raises(ValueError, match=r"layer_norm.*\[3, 5\].*\(2, 3, 4\)"):
        F.layer_norm(x, (3, 5))
    with pytest.raises(ValueError, match=r"InstanceNorm2d.*4-D.*\(3, 4\)"):
        nn.InstanceNorm2d(3)(sg.randn(3, 4))
    with pytest.raises(ValueError, match=r"InstanceNorm2d.*num_features \(4\).*\(2, 3, 4, 4\)"):
        nn.InstanceNorm2d(4, affine=True)(sg.randn(2, 3, 4, 4))
    with pytest.warns(UserWarning, match="num_features"):
        nn.InstanceNorm2d(4)(sg.randn(2, 3, 4, 4))
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        F.instance_norm(sg.randn(2, 3, 1, 1))
    with pytest.raises(ValueError, match=r"num_channels \(5\).*num_groups \(2\)"):
        nn.GroupNorm(2, 5)
    with pytest.raises(ValueError, match=r"GroupNorm.*\(N, 4, \*\).*\(2, 3, 4\)"):
        nn.GroupNorm(2, 4)(x)
    with pytest.raises(ValueError, match=r"group_norm.*\(1, shape \(3, 1, 2\)\).*divisible by num_groups \(2\)"):
        F.group_norm(sg.randn(3, 2, 2)[:, :1], 2)


# ---- WGAN-GP penalties through normalised critics (the penalty's own gradient, by finite differences) ----
def _penalty(critic, x):
    """WGAN-GP's (‖∂D/∂x‖ − 1)² averaged over the batch; grad mode on even inside the checker's no_grad."""
    x = x.detach().requires_grad_()
    with sg.enable_grad():
        return _penalty_graph(critic, x)


def _penalty_graph(critic, x):
    out = critic(x).sum()
    (gx,) = sg.autograd.grad(out, x, create_graph=True)
    return ((gx * gx).reshape(x.shape[0], -1).sum(dim=1).sqrt() - 1.0).pow(2).mean()


def test_gradient_penalty_through_layer_norm_critic_matches_finite_differences(device):
    rng = np.random.default_rng(6)
    x = t64(rng.standard_normal((3, 4)), device)
    arrays = [rng.standard_normal((5, 4)), rng.standard_normal(5), rng.standard_normal(5) + 1, rng.standard_normal(5),
              rng.standard_normal((1, 5))]

    def penalty(w1, b1, gamma, beta, w2):
        critic = lambda x: F.linear(F.tanh(F.layer_norm(F.linear(x, w1, b1), (5,), gamma, beta)), w2)  # noqa: E731
        return _penalty(critic, x)

    check_backward(penalty, arrays, device, atol=1e-5)


def test_gradient_penalty_through_instance_and_group_norm_conv_critic(device):
    rng = np.random.default_rng(7)
    x = t64(rng.standard_normal((2, 1, 6, 6)), device)
    arrays = [rng.standard_normal((4, 1, 3, 3)) * 0.5, rng.standard_normal(4), rng.standard_normal(4) + 1,
              rng.standard_normal(4), rng.standard_normal((1, 4, 2, 2)) * 0.5]

    def penalty(w1, b1, gamma, beta, w2, norm):
        def critic(x):
            h = F.conv2d(x, w1, b1, stride=2, padding=1)
            h = norm(h, gamma, beta)
            return F.conv2d(F.avg_pool2d(F.tanh(h), 2, 1), w2)
        return _penalty(critic, x)

    check_backward(lambda *a: penalty(*a, lambda h, g, b: F.instance_norm(h, None, None, g, b)), arrays, device,
                   atol=1e-5)
    check_backward(lambda *a: penalty(*a, lambda h, g, b: F.group_norm(h, 2, g, b)), arrays, device, atol=1e-5)


# ---- average pooling -------------------------------------------------------------------------------
def ref_avg_pool(x, k, s, p, ceil_mode, count_include_pad, divisor_override=None):
    n, c, h, w = x.shape
    def out_size(n_in, k, s, p):
        span = n_in + 2 * p - k
        o = (-(-span // s) if ceil_mode else span // s) + 1
        if ceil_mode and (o - 1) * s >= n_in + p:
            o -= 1
        return o
    ho, wo = out_size(h, k[0], s[0], p[0]), out_size(w, k[1], s[1], p[1])
    y = np.zeros((n, c, ho, wo))
    for i in range(ho):
        for j in range(wo):
            h0, w0 = i * s[0] - p[0], j * s[1] - p[1]
            h1, w1 = min(h0 + k[0], h + p[0]), min(w0 + k[1], w + p[1])
            size = (h1 - h0) * (w1 - w0)
            a0, b0, a1, b1 = max(h0, 0), max(w0, 0), min(h1, h), min(w1, w)
            if not count_include_pad:
                size = (a1 - a0) * (b1 - b0)
            y[:, :, i, j] = x[:, :, a0:a1, b0:b1].sum(axis=(2, 3)) / (divisor_override or size)
    return y


@st.composite
def pool_configs(draw, max_k=3, max_hw=7, divisors=(None,)):
    """avg_pool2d settings whose output is non-empty (padding at most half the kernel, as PyTorch requires)."""
    k = (draw(st.integers(1, max_k)), draw(st.integers(1, max_k)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    p = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    h, w = draw(st.integers(max(1, k[0] - 2 * p[0]), max_hw)), draw(st.integers(max(1, k[1] - 2 * p[1]), max_hw))
    return dict(shape=(draw(small), draw(small), h, w), k=k, s=s, p=p, ceil_mode=draw(st.booleans()),
                count_include_pad=draw(st.booleans()), divisor_override=draw(st.sampled_from(divisors)))


@given(cfg=pool_configs())
def test_avg_pool2d_matches_loop_reference_and_gradients(device, cfg):
    rng = np.random.default_rng(8)
    x = rng.standard_normal(cfg["shape"])
    kw = dict(stride=cfg["s"], padding=cfg["p"], ceil_mode=cfg["ceil_mode"], count_include_pad=cfg["count_include_pad"])
    y = F.avg_pool2d(t64(x, device), cfg["k"], **kw)
    want = ref_avg_pool(x, cfg["k"], cfg["s"], cfg["p"], cfg["ceil_mode"], cfg["count_include_pad"])
    np.testing.assert_allclose(to_np(y.array), want, rtol=1e-10, atol=1e-12)
    check_backward(lambda x: F.avg_pool2d(x, cfg["k"], **kw), [x], device)
    check_double_backward(lambda x: F.avg_pool2d(x, cfg["k"], **kw) ** 2, [x], device)


@pytest.mark.parametrize("shape, k", [((2, 3, 8, 8), 2), ((1, 2, 7, 9), 3), ((2, 1, 4, 6), (2, 3))])
def test_avg_pool2d_non_overlapping_and_layer(device, shape, k):
    x = np.random.default_rng(9).standard_normal(shape)
    kk = (k, k) if isinstance(k, int) else k
    y = nn.AvgPool2d(k)(t64(x, device))
    np.testing.assert_allclose(to_np(y.array), ref_avg_pool(x, kk, kk, (0, 0), False, True), rtol=1e-12)
    check_double_backward(lambda x: nn.AvgPool2d(k)(x) ** 2, [x], device)
    yd = F.avg_pool2d(t64(x, device), k, divisor_override=3)
    np.testing.assert_allclose(to_np(yd.array), ref_avg_pool(x, kk, kk, (0, 0), False, True, 3), rtol=1e-12)
    y3 = F.avg_pool2d(t64(x[0], device), k)  # unbatched (C, H, W)
    np.testing.assert_allclose(to_np(y3.array), to_np(y.array)[0], rtol=1e-12)


def test_avg_pool2d_on_a_channels_last_conv_output_and_errors():
    conv = nn.Conv2d(2, 3, 3, padding=1)
    h = conv(sg.randn(2, 2, 6, 6))
    np.testing.assert_allclose(nn.AvgPool2d(2)(h).array, ref_avg_pool(np.asarray(h.array, f64), (2, 2), (2, 2),
                                                                     (0, 0), False, True), rtol=1e-5)
    assert repr(nn.AvgPool2d(2)) == "AvgPool2d(kernel_size=2, stride=2, padding=0)"
    with pytest.raises(ValueError, match=r"AvgPool2d\(kernel_size=3.*\(2, 2\) is too small"):
        nn.AvgPool2d(3)(sg.randn(1, 1, 2, 2))
    with pytest.raises(ValueError, match=r"avg_pool2d.*4-D.*\(4, 4\)"):
        F.avg_pool2d(sg.randn(4, 4), 2)
    with pytest.raises(ValueError, match="at most half"):
        F.avg_pool2d(sg.randn(1, 1, 4, 4), 2, padding=2)
    with pytest.raises(ValueError, match="not zero"):
        F.avg_pool2d(sg.randn(1, 1, 4, 4), 2, divisor_override=0)


# ---- softmax family and classification losses ------------------------------------------------------------
def ref_log_softmax(x, axis):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


@given(shape=st.tuples(small, st.integers(1, 4), small), dim=st.integers(-3, 2))
def test_softmax_and_log_softmax_values_and_gradients(device, shape, dim):
    x = np.random.default_rng(10).standard_normal(shape) * 3
    ls = F.log_softmax(t64(x, device), dim)
    np.testing.assert_allclose(to_np(ls.array), ref_log_softmax(x, dim), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(to_np(F.softmax(t64(x, device), dim).array), np.exp(ref_log_softmax(x, dim)),
                               rtol=1e-12, atol=1e-14)
    check_backward(lambda x: F.log_softmax(x, dim), [x], device)
    check_backward(lambda x: F.softmax(x, dim), [x], device)
    check_double_backward(lambda x: F.log_softmax(x, dim), [x], device)
    check_double_backward(lambda x: F.softmax(x, dim), [x], device)


def test_softmax_family_at_extreme_logits_and_layers():
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [88.7, -88.7, 1e3]], dtype=np.float32)
    xt = sg.tensor(x, requires_grad=True)
    ls = F.log_softmax(xt, 1)
    assert np.isfinite(ls.array).all()
    np.testing.assert_allclose(ls.array, ref_log_softmax(x.astype(f64), 1).astype(np.float32), rtol=1e-6)
    ls.sum().backward()
    assert np.isfinite(xt.grad.array).all()
    np.testing.assert_allclose(nn.Softmax(dim=1)(sg.tensor(x)).array.sum(1), 1, rtol=1e-6)
    np.testing.assert_allclose(nn.LogSoftmax(1)(sg.tensor(x)).array, ls.array)
    np.testing.assert_allclose(sg.tensor(x).softmax(-1).array, F.softmax(sg.tensor(x), 1).array)
    np.testing.assert_allclose(sg.log_softmax(sg.tensor(x), 1).array, ls.array)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        F.softmax(sg.tensor(x))
    assert F.log_softmax(sg.tensor(x), 1, dtype=f64).dtype == f64


def ref_cross_entropy(x, t, weight=None, ignore_index=-100, reduction="mean", eps=0.0):
    """x (N, C, *), t (N, *): PyTorch's formula with a Python loop."""
    c = x.shape[1]
    lp = ref_log_softmax(x, 1)
    lp = np.moveaxis(lp, 1, -1).reshape(-1, c)
    t = t.reshape(-1)
    w = np.ones(c) if weight is None else weight
    keep = t != ignore_index
    nll = np.array([-w[ti] * lp[i, ti] if k else 0.0 for i, (ti, k) in enumerate(zip(t, keep))])
    smooth = np.where(keep, -(lp * w).sum(1), 0.0)
    wsum = sum(w[ti] for ti, k in zip(t, keep) if k)
    if reduction == "mean":
        return (1 - eps) * nll.sum() / wsum + eps / c * smooth.sum() / wsum
    if reduction == "sum":
        return (1 - eps) * nll.sum() + eps / c * smooth.sum()
    return (1 - eps) * nll + eps / c * smooth


@settings(max_examples=15)
@given(n=small, c=st.integers(2, 4), extra=st.sampled_from([(), (2,), (2, 3)]),
       reduction=st.sampled_from(["mean", "sum", "none"]), weighted=st.booleans(), ignore=st.booleans(),
       eps=st.sampled_from([0.0, 0.1]))
def test_cross_entropy_matches_reference_and_gradients(device, n, c, extra, reduction, weighted, ignore, eps):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((n, c) + extra) * 2
    t = rng.integers(0, c, (n,) + extra)
    if ignore:
        t.reshape(-1)[0] = -100
        if reduction == "mean" and (t == -100).all():
            t.reshape(-1)[0] = 0
    w = rng.uniform(0.5, 2, c) if weighted else None
    wt = None if w is None else t64(w, device)
    tt = sg.tensor(t, device=device)
    y = F.cross_entropy(t64(x, device), tt, wt, reduction=reduction, label_smoothing=eps)
    want = ref_cross_entropy(x, t, w, -100, reduction, eps)
    np.testing.assert_allclose(to_np(y.array).reshape(-1), np.reshape(want, -1), rtol=1e-10, atol=1e-12)
    fn = lambda x: F.cross_entropy(x, tt, wt, reduction=reduction, label_smoothing=eps)  # noqa: E731
    check_backward(fn, [x], device)
    check_double_backward(fn, [x], device)


def test_nll_loss_probability_targets_unbatched_and_modules(device):
    rng = np.random.default_rng(12)
    x, t = rng.standard_normal((4, 3)), np.array([0, 2, 1, 2])
    lp = F.log_softmax(t64(x, device), 1)
    np.testing.assert_allclose(to_np(F.nll_loss(lp, sg.tensor(t, device=device)).array),
                               ref_cross_entropy(x, t), rtol=1e-12)
    p = rng.dirichlet(np.ones(3), 4)
    w = rng.uniform(0.5, 2, 3)
    want = -(ref_log_softmax(x, 1) * p * w).sum(1).mean()
    got = F.cross_entropy(t64(x, device), t64(p, device), t64(w, device))
    np.testing.assert_allclose(to_np(got.array), want, rtol=1e-12)
    check_double_backward(lambda x, p: F.cross_entropy(x, p, label_smoothing=0.2), [x, p], device)
    one = F.cross_entropy(t64(x[0], device), sg.tensor(np.array(2), device=device), reduction="none")
    assert one.shape == () and np.isclose(float(one.item()), -ref_log_softmax(x[0], 0)[2])
    ce = nn.CrossEntropyLoss(weight=t64(w, device), ignore_index=1, label_smoothing=0.1)
    np.testing.assert_allclose(to_np(ce(t64(x, device), sg.tensor(t, device=device)).array),
                               ref_cross_entropy(x, t, w, 1, "mean", 0.1), rtol=1e-12)
    assert list(ce.state_dict()) == ["weight"] and list(nn.CrossEntropyLoss().state_dict()) == []
    np.testing.assert_allclose(to_np(nn.NLLLoss(reduction="sum")(lp, sg.tensor(t, device=device)).array),
                               ref_cross_entropy(x, t, reduction="sum"), rtol=1e-12)


def test_cross_entropy_at_extreme_logits_float32():
    x = np.array([[1e4, -1e4, 0], [-1e4, 1e4, 0], [0, 0, 1e4], [-1e4, -1e4, -1e4]], dtype=np.float32)
    t = np.array([0, 0, 2, 1])
    xt = sg.tensor(x, requires_grad=True)
    loss = F.cross_entropy(xt, sg.tensor(t), reduction="none")
    np.testing.assert_allclose(loss.array, [0, 2e4, 0, math.log(3)], rtol=1e-6)
    loss.sum().backward()
    assert np.isfinite(xt.grad.array).all()
    np.testing.assert_allclose(xt.grad.array[1], [-1, 1, 0], atol=1e-6)  # softmax − onehot


def test_classification_loss_errors():
    x = sg.randn(4, 3)
    with pytest.raises(IndexError, match="target 3 is out of bounds for 3 classes"):
        F.cross_entropy(x, sg.tensor([0, 1, 2, 3]))
    with pytest.raises(ValueError, match=r"expected target of shape \(4,\).*got \(4, 1\)"):
        F.cross_entropy(x, sg.tensor(np.zeros((4, 1), dtype=np.int64)))
    with pytest.raises(ValueError, match=r"weight must have one entry per class, shape \(3,\)"):
        F.cross_entropy(x, sg.tensor([0, 1, 2, 0]), weight=sg.ones(4))
    with pytest.raises(ValueError, match="class-probability target must have the input's shape"):
        F.cross_entropy(x, sg.rand(4, 2))
    with pytest.raises(NotImplementedError, match="size_average"):
        nn.CrossEntropyLoss(size_average=True)
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(x, sg.tensor([0, 1, 2, 0]), label_smoothing=1.5)


@given(shape=st.tuples(small, st.integers(1, 4)), reduction=st.sampled_from(["mean", "sum", "none"]))
def test_l1_loss(device, shape, reduction):
    rng = np.random.default_rng(13)
    a, b = rng.standard_normal(shape), rng.standard_normal(shape)
    got = nn.L1Loss(reduction=reduction)(t64(a, device), t64(b, device))
    want = {"mean": np.abs(a - b).mean(), "sum": np.abs(a - b).sum(), "none": np.abs(a - b)}[reduction]
    np.testing.assert_allclose(to_np(got.array), want, rtol=1e-12)
    check_backward(lambda a, b: F.l1_loss(a, b, reduction=reduction), [a, b], device)
    with pytest.raises(ValueError, match="l1_loss: target shape"):
        F.l1_loss(t64(a), t64(b[:1, :1] if b.size > 1 else np.zeros((2, 2))))


# ---- one_hot, pad, normalize, unflatten -------------------------------------------------------------
def test_one_hot(device):
    t = sg.tensor(np.array([[0, 2], [1, 3]]), device=device)
    y = F.one_hot(t)
    assert y.dtype == np.int64 and y.shape == (2, 2, 4)
    np.testing.assert_array_equal(to_np(y.array), np.eye(4, dtype=np.int64)[[[0, 2], [1, 3]]])
    assert F.one_hot(t, num_classes=6).shape == (2, 2, 6)
    with pytest.raises(RuntimeError, match="smaller than num_classes"):
        F.one_hot(t, 3)
    with pytest.raises(RuntimeError, match="non-negative"):
        F.one_hot(sg.tensor([-1, 0]))
    with pytest.raises(RuntimeError, match="integer type"):
        F.one_hot(sg.tensor([0.0, 1.0]))
    empty = sg.tensor(np.zeros(0, dtype=np.int64), device=device)
    assert F.one_hot(empty, 3).shape == (0, 3)
    with pytest.raises(RuntimeError, match="empty tensor"):
        F.one_hot(empty)


@given(shape=st.tuples(small, st.integers(1, 4), st.integers(2, 4)),
       pad=st.lists(st.integers(-1, 2), min_size=2, max_size=6).filter(lambda p: len(p) % 2 == 0),
       value=st.sampled_from([0.0, 1.5]))
def test_pad_constant_any_dims_and_negative(device, shape, pad, value):
    x = np.random.default_rng(14).standard_normal(shape)
    pairs = [(0, 0)] * len(shape)
    for i in range(len(pad) // 2):
        pairs[-1 - i] = (pad[2 * i], pad[2 * i + 1])
    if any(n + lo + hi < 0 for n, (lo, hi) in zip(shape, pairs)):
        return
    want = np.pad(x, [(max(lo, 0), max(hi, 0)) for lo, hi in pairs], constant_values=value)
    want = want[tuple(slice(max(-lo, 0), want.shape[d] - max(-hi, 0)) for d, (lo, hi) in enumerate(pairs))]
    y = F.pad(t64(x, device), tuple(pad), value=value)
    np.testing.assert_allclose(to_np(y.array), want)
    check_backward(lambda x: F.pad(x, tuple(pad), value=value), [x], device)
    check_double_backward(lambda x: F.pad(x, tuple(pad), value=value) ** 2, [x], device)


@pytest.mark.parametrize("mode, np_mode", [("reflect", "reflect"), ("replicate", "edge"), ("circular", "wrap")])
@pytest.mark.parametrize("pad", [(1, 2), (2, 1, 0, 1), (1, 1, 2, 0)])
def test_pad_index_modes(device, mode, np_mode, pad):
    x = np.random.default_rng(15).standard_normal((2, 3, 4, 5))
    y = F.pad(t64(x, device), pad, mode=mode)
    widths = [(0, 0)] * 4
    for i in range(len(pad) // 2):
        widths[-1 - i] = (pad[2 * i], pad[2 * i + 1])
    np.testing.assert_allclose(to_np(y.array), np.pad(x, widths, mode=np_mode))
    check_backward(lambda x: F.pad(x, pad, mode=mode), [x], device)
    check_double_backward(lambda x: F.pad(x, pad, mode=mode) ** 2, [x], device)


def test_pad_errors():
    x = sg.randn(1, 2, 3, 3)
    with pytest.raises(ValueError, match="padding length must be even"):
        F.pad(x, (1, 2, 3))
    with pytest.raises(ValueError, match="less than the corresponding input dimension.*reflect"):
        F.pad(x, (3, 0), mode="reflect")
    with pytest.raises(NotImplementedError, match="'bogus'"):
        F.pad(x, (1, 1), mode="bogus")
    with pytest.raises(NotImplementedError, match="last 1-3 dims"):
        F.pad(sg.randn(3), (1, 1), mode="replicate")


@given(shape=st.tuples(small, st.integers(1, 4), small), p=st.sampled_from([1.0, 2.0, 3.0, math.inf]),
       dim=st.integers(-3, 2))
def test_normalize(device, shape, p, dim):
    x = np.random.default_rng(16).standard_normal(shape)
    n = np.linalg.norm(np.moveaxis(x, dim, -1), ord=p, axis=-1)
    want = x / np.maximum(np.expand_dims(n, dim), 1e-12)
    np.testing.assert_allclose(to_np(F.normalize(t64(x, device), p, dim).array), want, rtol=1e-12)
    check_backward(lambda x: F.normalize(x, p, dim), [x], device)
    if p != math.inf:
        check_double_backward(lambda x: F.normalize(x, p, dim), [x], device)


def test_normalize_zero_vector_stays_zero_with_finite_gradient():
    x = sg.zeros(2, 3, requires_grad=True)
    y = F.normalize(x)
    assert not np.any(y.array)
    y.sum().backward()
    assert np.isfinite(x.grad.array).all()


def test_unflatten_layer_and_method(device):
    x = t64(np.arange(24.0).reshape(2, 12), device, requires_grad=True)
    y = nn.Unflatten(1, (3, 2, 2))(x)
    assert y.shape == (2, 3, 2, 2)
    assert x.unflatten(1, (-1, 4)).shape == (2, 3, 4)
    assert nn.Unflatten(-1, (2, -1))(x).shape == (2, 2, 6)
    y.sum().backward()
    assert x.grad.shape == (2, 12)
    assert repr(nn.Unflatten(1, (3, 4))) == "Unflatten(dim=1, unflattened_size=(3, 4))"
    with pytest.raises(ValueError, match=r"Unflatten\(dim=1, unflattened_size=\(5, 2\)\).*size 12.*\(2, 12\)"):
        nn.Unflatten(1, (5, 2))(x)


# ---- nn.init ----------------------------------------------------------------------------------------
def test_calculate_gain_for_every_pytorch_nonlinearity():
    for name in ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                 "conv_transpose3d", "sigmoid"):
        assert init.calculate_gain(name) == 1
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01 ** 2)))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("leaky_relu", 0) == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", True)
    with pytest.raises(ValueError, match="unsupported nonlinearity 'gelu'"):
        init.calculate_gain("gelu")


def test_kaiming_xavier_orthogonal_trunc_normal_statistics():
    w = sg.empty(256, 128, 3, 3)
    fan_in, fan_out = 128 * 9, 256 * 9
    init.kaiming_normal_(w)
    assert abs(w.array.std() - math.sqrt(2 / (1 + 0.01 ** 2)) / math.sqrt(fan_in)) < 0.01 / math.sqrt(fan_in)
    init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert abs(w.array.std() - math.sqrt(2 / fan_out)) < 0.01 / math.sqrt(fan_out)
    init.kaiming_uniform_(w)  # defaults a=0, fan_in, leaky_relu: bound √2·√(3/fan_in) (slope 0)
    assert abs(np.abs(w.array).max() - math.sqrt(6 / fan_in)) < 1e-3 * math.sqrt(6 / fan_in)
    init.xavier_normal_(w, gain=2.0)
    assert abs(w.array.std() - 2 * math.sqrt(2 / (fan_in + fan_out))) < 0.02 * math.sqrt(2 / (fan_in + fan_out))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_normal_(w, mode="fan_avg")
    q = sg.empty(6, 2, 2, 2)
    init.orthogonal_(q, gain=3.0)
    m = q.array.reshape(6, 8)
    np.testing.assert_allclose(m @ m.T, 9 * np.eye(6), atol=1e-5)
    with pytest.raises(ValueError, match="2 or more dimensions"):
        init.orthogonal_(sg.empty(5))
    t = sg.empty(20000)
    init.trunc_normal_(t, mean=1.0, std=2.0, a=-1.0, b=2.0)
    assert t.array.min() >= -1.0 and t.array.max() <= 2.0 and t.dtype == np.float32
    init.trunc_normal_(t, std=0.02)  # the ViT/DiT default: bounds ±2 are ±100 std, nothing is cut
    assert abs(t.array.std() - 0.02) < 0.001
    p = nn.Linear(3, 4).weight
    init.orthogonal_(p)
    init.trunc_normal_(p.data)
    assert p.requires_grad and p.is_leaf


# ---- version counter: what each new op's backward reads -----------------------------------------------
def test_saved_tensors_of_the_new_ops():
    """softmax/log_softmax read their output, the norms read their input: writing into those after the
    forward raises at backward; pooling and constant padding are linear and read nothing."""
    x = sg.randn(1, 2, 2, 4, requires_grad=True)
    for fn in (lambda h: F.softmax(h, 1), lambda h: F.log_softmax(h, -1)):
        y = fn(x * 1.0)
        y.mul_(2.0)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()
    for fn in (lambda h: F.layer_norm(h, 4), lambda h: F.instance_norm(h), lambda h: F.group_norm(h, 1)):
        h = x * 1.0
        y = fn(h)
        h.add_(1.0)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()
    for fn in (lambda h: F.avg_pool2d(h, (1, 2)), lambda h: F.pad(h, (1, 1, 0, 2))):
        x.grad = None
        h = x * 1.0
        y = fn(h)
        h.mul_(3.0)
        y.sum().backward()
        assert x.grad is not None and np.isfinite(x.grad.array).all()


def test_init_is_an_inplace_write_seen_by_the_version_counter():
    w = nn.Linear(3, 2).weight
    x = sg.randn(4, 3, requires_grad=True)
    y = (x @ w.T).sum()  # matmul saves w for dL/dx
    init.kaiming_normal_(w)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()
