"""Parity with PyTorch (CPU) for the normalisation layers WGAN critics use (LayerNorm, InstanceNorm2d,
GroupNorm), AvgPool2d, Unflatten, the classification and L1 losses, the softmax family, F.pad,
F.one_hot, F.normalize and nn.init; and WGAN-GP penalties through LayerNorm and InstanceNorm2d
critics (penalty value and its gradient with respect to every critic parameter).

Skipped unless PyTorch is importable; run it from a venv with both:
``/work/torchvenv/bin/python -m pytest tests/test_torch_parity_layers.py -q``.
Same NumPy inputs and weights into both frameworks (torch's init copied through state_dicts).
"""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hypothesis import given, settings  # noqa: E402

import scratchgan as sg  # noqa: E402
import scratchgan.nn as snn  # noqa: E402
import scratchgan.nn.functional as SF  # noqa: E402
from scratchgan.nn import init as sinit  # noqa: E402
from tests.test_layers_extra import pool_configs  # noqa: E402

tnn, TF = torch.nn, torch.nn.functional
F32, F64 = np.float32, np.float64
TORCH_DTYPE = {F32: torch.float32, F64: torch.float64}
TOL = {F32: (1e-5, 1e-5), F64: (1e-11, 1e-12)}


def tn(t):
    if isinstance(t, torch.Tensor):
        return t.detach().cpu().numpy()
    return np.asarray(t.array if isinstance(t, sg.Tensor) else t)


def close(got, want, dtype=F32, what="", scale_atol=True):
    got, want = tn(got), tn(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != torch's {want.shape}"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != torch's {want.dtype}"
    assert np.array_equal(np.isfinite(got), np.isfinite(want)), f"{what}: non-finite pattern differs from torch"
    rtol, atol = TOL[np.dtype(dtype).type]
    scale = max(1.0, float(np.abs(want[np.isfinite(want)]).max(initial=0.0))) if scale_atol else 1.0
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol * scale, err_msg=what)


def both(arr, requires_grad=False):
    arr = np.array(arr)
    return torch.tensor(arr, requires_grad=requires_grad), sg.tensor(arr.copy(), requires_grad=requires_grad)


def check_fn(tfn, sfn, *arrays, dtype=F64, what="", seed=1):
    """tfn(*torch tensors) vs sfn(*scratchgan tensors) on the same float arrays: the value and the
    gradient of every input for a random cotangent."""
    ts, ss = zip(*(both(a.astype(dtype), requires_grad=True) for a in arrays))
    ty, sy = tfn(*ts), sfn(*ss)
    close(sy, ty, dtype, f"{what} forward")
    g = np.random.default_rng(seed).standard_normal(ty.shape).astype(dtype)
    ty.backward(torch.from_numpy(g))
    sy.backward(sg.tensor(g))
    for i, (t, s_) in enumerate(zip(ts, ss)):
        close(s_.grad, t.grad, dtype, f"{what} gradient of input {i}")


def pair(builder, dtype=F32, seed=0):
    """The same module in both frameworks, torch's (re-randomised) parameters copied into scratchgan."""
    torch.manual_seed(seed)
    tm = builder(tnn).to(TORCH_DTYPE[dtype])
    with torch.no_grad():  # non-trivial affine parameters: ones/zeros would hide a swapped weight and bias
        for p in tm.parameters():
            p.add_(torch.randn_like(p) * 0.5)
    sm = builder(snn).to(dtype)
    sm.load_state_dict(tm.state_dict())
    assert list(sm.state_dict()) == list(tm.state_dict()), "state_dict keys differ"
    return tm, sm


def run_both(tm, sm, x, dtype=F32, what="", out_grad_seed=1):
    """Forward both on x, backward a fixed random cotangent; compare output, dL/dx, every parameter grad."""
    tx, sx = both(x.astype(dtype), requires_grad=True)
    ty, sy = tm(tx), sm(sx)
    close(sy, ty, dtype, f"{what} forward")
    g = np.random.default_rng(out_grad_seed).standard_normal(ty.shape).astype(dtype)
    ty.backward(torch.from_numpy(g))
    sy.backward(sg.tensor(g))
    close(sx.grad, tx.grad, dtype, f"{what} d/dx")
    tp, sp = dict(tm.named_parameters()), dict(sm.named_parameters())
    assert list(tp) == list(sp)
    for k in tp:
        close(sp[k].grad, tp[k].grad, dtype, f"{what} d/d{k}")


# ---- normalisation layers -------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [F32, F64])
@pytest.mark.parametrize("x_shape, norm_shape, kw", [
    ((4, 10), 10, {}), ((2, 3, 6), (3, 6), {}), ((2, 5, 4, 4), (5, 4, 4), {}), ((3, 7), 7, dict(bias=False)),
    ((3, 2, 7), 7, dict(elementwise_affine=False)), ((6,), 6, dict(eps=1e-3)),
])
def test_layer_norm(dtype, x_shape, norm_shape, kw):
    tm, sm = pair(lambda nn: nn.LayerNorm(norm_shape, **kw), dtype)
    x = np.random.default_rng(0).standard_normal(x_shape) * 3 + 2
    run_both(tm, sm, x, dtype, "LayerNorm")
    assert repr(sm) == repr(tm)


@pytest.mark.parametrize("affine, track", [(False, False), (True, False), (True, True), (False, True)])
@pytest.mark.parametrize("dtype", [F32, F64])
def test_instance_norm2d_train_eval_and_running_stats(affine, track, dtype):
    tm, sm = pair(lambda nn: nn.InstanceNorm2d(3, affine=affine, track_running_stats=track), dtype)
    rng = np.random.default_rng(1)
    for step in range(3):
        run_both(tm, sm, rng.standard_normal((4, 3, 5, 6)) * (step + 1) + step, dtype, f"train step {step}")
    for k, v in tm.state_dict().items():
        close(sm.state_dict()[k], v, dtype, f"buffer {k}")
    tm.eval(), sm.eval()
    run_both(tm, sm, rng.standard_normal((2, 3, 4, 4)), dtype, "eval")
    run_both(tm, sm, rng.standard_normal((3, 4, 4)), dtype, "eval unbatched")
    assert repr(sm) == repr(tm)


@pytest.mark.parametrize("groups, channels, shape", [(1, 4, (2, 4, 3, 3)), (2, 4, (2, 4, 5)), (4, 4, (3, 4, 2, 2)),
                                                     (3, 6, (2, 6, 3, 1))])
@pytest.mark.parametrize("affine", [True, False])
def test_group_norm(groups, channels, shape, affine):
    tm, sm = pair(lambda nn: nn.GroupNorm(groups, channels, affine=affine), F64)
    run_both(tm, sm, np.random.default_rng(2).standard_normal(shape) * 2 - 1, F64, "GroupNorm")
    assert repr(sm) == repr(tm)


def test_functional_norms_with_running_stats():
    """F.instance_norm with running statistics (in place, batch-averaged unbiased variance) and F.layer_norm."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 2, 4, 5))
    trm, trv = torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64)
    srm, srv = sg.zeros(2, dtype=F64), sg.ones(2, dtype=F64)
    ty = TF.instance_norm(torch.from_numpy(x), trm, trv, momentum=0.3)
    sy = SF.instance_norm(sg.tensor(x), srm, srv, momentum=0.3)
    close(sy, ty, F64, "instance_norm")
    close(srm, trm, F64, "running_mean")
    close(srv, trv, F64, "running_var")
    close(SF.instance_norm(sg.tensor(x), srm, srv, use_input_stats=False),
          TF.instance_norm(torch.from_numpy(x), trm, trv, use_input_stats=False), F64, "use_input_stats=False")
    close(SF.layer_norm(sg.tensor(x), (4, 5)), TF.layer_norm(torch.from_numpy(x), (4, 5)), F64, "layer_norm")
    close(SF.group_norm(sg.tensor(x), 2), TF.group_norm(torch.from_numpy(x), 2), F64, "group_norm")


# ---- WGAN-GP gradient penalties through normalised critics ------------------------------------------
def _penalty(fw, critic, real, fake, alpha):
    """The penalty of Gulrajani et al. (2017) written once for both frameworks (fw = torch or scratchgan)."""
    x = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    d = critic(x)
    (gx,) = fw.autograd.grad(d, x, grad_outputs=fw.ones_like(d), create_graph=True, retain_graph=True)
    gx = gx.reshape(gx.shape[0], -1)
    return ((gx.norm(2, dim=1) - 1) ** 2).mean(), d


def _check_penalty(builder, x_shape, dtype=F64, lam=10.0):
    tm, sm = pair(builder, dtype)
    rng = np.random.default_rng(4)
    real, fake = rng.standard_normal(x_shape), rng.standard_normal(x_shape) * 0.5
    alpha = rng.uniform(size=(x_shape[0],) + (1,) * (len(x_shape) - 1))
    results = []
    for fw, m in ((torch, tm), (sg, sm)):
        mk = (lambda a: torch.tensor(a.astype(dtype))) if fw is torch else (lambda a: sg.tensor(a.astype(dtype)))
        gp, d = _penalty(fw, m, mk(real), mk(fake), mk(alpha))
        loss = d.mean() * -1 + gp * lam  # the critic's WGAN-GP loss on the interpolates
        loss.backward()
        results.append((gp, {k: p.grad for k, p in m.named_parameters()}))
    (tgp, tgrads), (sgp, sgrads) = results
    close(sgp, tgp, dtype, "penalty value")
    assert float(tn(tgp)) > 1e-3, "a penalty this small would not test much"
    assert list(sgrads) == list(tgrads)
    for k in tgrads:
        assert sgrads[k] is not None, f"no gradient reached {k}"
        close(sgrads[k], tgrads[k], dtype, f"d(loss)/d{k}")


@pytest.mark.parametrize("dtype", [F64, F32])
def test_wgan_gp_penalty_through_layer_norm_critic(dtype):
    _check_penalty(lambda nn: nn.Sequential(nn.Linear(6, 16), nn.LayerNorm(16), nn.LeakyReLU(0.2),
                                            nn.Linear(16, 8), nn.LayerNorm(8), nn.Tanh(), nn.Linear(8, 1)),
                   (5, 6), dtype)


@pytest.mark.parametrize("dtype", [F64, F32])
def test_wgan_gp_penalty_through_instance_norm_conv_critic(dtype):
    _check_penalty(lambda nn: nn.Sequential(
        nn.Conv2d(1, 4, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(4, 8, 4, 2, 1), nn.InstanceNorm2d(8, affine=True), nn.LeakyReLU(0.2),
        nn.AvgPool2d(2), nn.Flatten(), nn.Linear(8, 1)), (3, 1, 8, 8), dtype)


def test_wgan_gp_penalty_through_group_norm_critic():
    _check_penalty(lambda nn: nn.Sequential(
        nn.Conv2d(2, 4, 3, 1, 1), nn.GroupNorm(2, 4), nn.Tanh(), nn.AvgPool2d(2, 1), nn.Flatten(),
        nn.Linear(4 * 4 * 4, 1)), (2, 2, 5, 5))


# ---- average pooling and Unflatten ---------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(cfg=pool_configs(max_k=4, max_hw=9, divisors=(None, None, 2)))
def test_avg_pool2d(cfg):
    kw = dict(kernel_size=cfg["k"], stride=cfg["s"], padding=cfg["p"], ceil_mode=cfg["ceil_mode"],
              count_include_pad=cfg["count_include_pad"], divisor_override=cfg["divisor_override"])
    tm, sm = tnn.AvgPool2d(**kw), snn.AvgPool2d(**kw)
    run_both(tm, sm, np.random.default_rng(5).standard_normal(cfg["shape"]), F32, f"AvgPool2d({kw})")


def test_avg_pool2d_layer_repr_and_unflatten():
    assert repr(snn.AvgPool2d(2)) == repr(tnn.AvgPool2d(2))
    assert repr(snn.AvgPool2d((2, 3), 1, 1)) == repr(tnn.AvgPool2d((2, 3), 1, 1))
    x = np.random.default_rng(6).standard_normal((3, 24)).astype(F32)
    for dim, size in ((1, (2, 3, 4)), (-1, (4, -1)), (1, (24,))):
        tm, sm = tnn.Unflatten(dim, size), snn.Unflatten(dim, size)
        run_both(tm, sm, x, F32, f"Unflatten{dim, size}")
        assert repr(sm) == repr(tm)


# ---- losses and the softmax family ---------------------------------------------------------------------
EXTREME_LOGITS = np.array([[1e4, -1e4, 0.0, 1.0], [-1e4, -1e4, -1e4, -1e4], [1e4, 1e4, -1e4, 0.0],
                           [88.7, -88.7, 1e3, -1e3], [0.0, 0.0, 0.0, 0.0], [-30.0, 20.0, 1e-3, 5.0]])


@pytest.mark.parametrize("dtype", [F32, F64])
@pytest.mark.parametrize("fn", ["log_softmax", "softmax"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_family_at_extremes(dtype, fn, dim):
    x = EXTREME_LOGITS.astype(dtype)
    check_fn(lambda t: getattr(TF, fn)(t, dim), lambda s: getattr(SF, fn)(s, dim), x, dtype=dtype, what=fn)
    close(getattr(snn, "LogSoftmax" if fn == "log_softmax" else "Softmax")(dim)(sg.tensor(x)),
          getattr(tnn, "LogSoftmax" if fn == "log_softmax" else "Softmax")(dim)(torch.tensor(x)), dtype, "module")


CE_CASES = [
    dict(), dict(reduction="sum"), dict(reduction="none"), dict(weight=True), dict(weight=True, reduction="sum"),
    dict(ignore_index=1), dict(ignore_index=2, weight=True), dict(label_smoothing=0.1),
    dict(label_smoothing=0.2, weight=True), dict(label_smoothing=0.1, ignore_index=0, weight=True),
    dict(label_smoothing=0.3, reduction="none", ignore_index=1), dict(label_smoothing=0.1, reduction="sum"),
]


@pytest.mark.parametrize("extra", [(), (3,), (2, 3)])
@pytest.mark.parametrize("case", range(len(CE_CASES)))
def test_cross_entropy_and_nll_loss_class_indices(extra, case):
    kw = dict(CE_CASES[case])
    rng = np.random.default_rng(7 + case)
    c = 4
    x = rng.standard_normal((5, c) + extra) * 3
    t = rng.integers(0, c, (5,) + extra)
    t.reshape(-1)[0] = kw.get("ignore_index", 0)  # an ignored target (if any) is present
    w = rng.uniform(0.5, 2.0, c)
    tkw, skw = dict(kw), dict(kw)
    if kw.pop("weight", False):
        tkw["weight"], skw["weight"] = torch.from_numpy(w), sg.tensor(w)
    tx, sx = both(x, requires_grad=True)
    tt, st_ = torch.from_numpy(t), sg.tensor(t)
    ty, sy = TF.cross_entropy(tx, tt, **tkw), SF.cross_entropy(sx, st_, **skw)
    close(sy, ty, F64, "cross_entropy")
    g = rng.standard_normal(ty.shape)
    ty.backward(torch.from_numpy(g))
    sy.backward(sg.tensor(g))
    close(sx.grad, tx.grad, F64, "cross_entropy d/dx")
    tm, sm = tnn.CrossEntropyLoss(**tkw), snn.CrossEntropyLoss(**skw)
    close(sm(sg.tensor(x), st_), tm(torch.from_numpy(x), tt), F64, "CrossEntropyLoss")
    assert list(sm.state_dict()) == list(tm.state_dict())
    if not kw.get("label_smoothing"):
        tkw.pop("label_smoothing", None), skw.pop("label_smoothing", None)
        lp = TF.log_softmax(torch.from_numpy(x), 1)
        close(SF.nll_loss(sg.tensor(lp.numpy()), st_, **skw), TF.nll_loss(lp, tt, **tkw), F64, "nll_loss")
        close(snn.NLLLoss(**skw)(sg.tensor(lp.numpy()), st_), tnn.NLLLoss(**tkw)(lp, tt), F64, "NLLLoss")


@pytest.mark.parametrize("kw", [dict(), dict(weight=True), dict(label_smoothing=0.2), dict(reduction="none"),
                                dict(reduction="sum", weight=True, label_smoothing=0.1)])
def test_cross_entropy_probability_targets_and_unbatched(kw):
    rng = np.random.default_rng(20)
    x, p = rng.standard_normal((4, 3, 2)), rng.dirichlet(np.ones(3), (4, 2)).transpose(0, 2, 1).copy()
    w = rng.uniform(0.5, 2.0, 3)
    tkw, skw = dict(kw), dict(kw)
    if kw.get("weight"):
        tkw["weight"], skw["weight"] = torch.from_numpy(w), sg.tensor(w)
    tx, sx = both(x, requires_grad=True)
    tp, sp = both(p, requires_grad=True)
    ty, sy = TF.cross_entropy(tx, tp, **tkw), SF.cross_entropy(sx, sp, **skw)
    close(sy, ty, F64, "cross_entropy (probabilities)")
    ty.sum().backward()
    sy.sum().backward()
    close(sx.grad, tx.grad, F64, "d/dx")
    close(sp.grad, tp.grad, F64, "d/dtarget")
    for target in (np.array(2), p[0, :, 0].copy()):  # unbatched (C,) input, index or probability target
        close(SF.cross_entropy(sg.tensor(x[0, :, 0]), sg.tensor(target), **skw),
              TF.cross_entropy(torch.from_numpy(x[0, :, 0]), torch.from_numpy(target), **tkw), F64, "unbatched")


@pytest.mark.parametrize("dtype", [F32, F64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_at_extreme_logits(dtype, reduction):
    x = EXTREME_LOGITS.astype(dtype)
    t = np.array([1, 3, 2, 0, 1, 2])
    tx, sx = both(x, requires_grad=True)
    ty = TF.cross_entropy(tx, torch.from_numpy(t), reduction=reduction)
    sy = SF.cross_entropy(sx, sg.tensor(t), reduction=reduction)
    close(sy, ty, dtype, "cross_entropy at ±1e4")
    assert np.isfinite(tn(sy)).all()
    (ty.sum()).backward()
    (sy.sum()).backward()
    close(sx.grad, tx.grad, dtype, "gradient at ±1e4")


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_l1_loss(reduction):
    rng = np.random.default_rng(8)
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    b[0, 0] = a[0, 0]  # a tie: both give gradient 0 there
    check_fn(tnn.L1Loss(reduction=reduction), snn.L1Loss(reduction=reduction), a, b, what="L1Loss")


# ---- one_hot, pad, normalize ----------------------------------------------------------------------------
def test_one_hot():
    t = np.array([[0, 3, 1], [2, 2, 0]])
    for n in (-1, 5):
        got, want = SF.one_hot(sg.tensor(t), n), TF.one_hot(torch.from_numpy(t), n)
        assert got.dtype == np.int64 and np.array_equal(tn(got), tn(want))


@pytest.mark.parametrize("pad", [(1, 2), (0, 1, 2, 0), (1, 1, 1, 1, 1, 1), (-1, 2), (2, -1, 0, 1), (1, 0, 0, 0, 0, 0, 2, 1)])
@pytest.mark.parametrize("value", [0.0, -0.5])
def test_pad_constant(pad, value):
    x = np.random.default_rng(9).standard_normal((2, 3, 4, 5))
    check_fn(lambda t: TF.pad(t, pad, value=value), lambda s: SF.pad(s, pad, value=value), x, what=f"pad {pad}")


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape, pad", [((2, 3, 6), (2, 1)), ((2, 3, 4, 5), (1, 2, 3, 0)), ((3, 4, 5), (2, 2, 1, 1)),
                                        ((1, 2, 3, 4, 5), (1, 0, 2, 1, 1, 2))])
def test_pad_index_modes(mode, shape, pad):
    x = np.random.default_rng(11).standard_normal(shape)
    check_fn(lambda t: TF.pad(t, pad, mode=mode), lambda s: SF.pad(s, pad, mode=mode), x, what=f"pad {mode} {pad}")


@pytest.mark.parametrize("p, dim", [(2.0, 1), (1.0, 0), (3.0, -1), (math.inf, 1), (2.0, 2)])
def test_normalize(p, dim):
    x = np.random.default_rng(13).standard_normal((3, 4, 5))
    x[0, :, 0] = 0  # a zero vector: the eps floor
    check_fn(lambda t: TF.normalize(t, p, dim), lambda s: SF.normalize(s, p, dim), x, what=f"normalize p={p}")


# ---- nn.init -------------------------------------------------------------------------------------------
def test_calculate_gain_matches_torch():
    for name in ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                 "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"):
        assert sinit.calculate_gain(name) == pytest.approx(tnn.init.calculate_gain(name)), name
    for slope in (0, 0.2, 1, 0.01):
        assert sinit.calculate_gain("leaky_relu", slope) == pytest.approx(tnn.init.calculate_gain("leaky_relu", slope))


@pytest.mark.parametrize("name, kw", [("kaiming_normal_", {}), ("kaiming_normal_", dict(mode="fan_out", nonlinearity="relu")),
                                      ("kaiming_uniform_", {}), ("kaiming_uniform_", dict(a=0.2, mode="fan_out")),
                                      ("xavier_normal_", dict(gain=2.0)), ("xavier_uniform_", {}),
                                      ("trunc_normal_", dict(std=0.5, a=-0.3, b=0.6)), ("orthogonal_", dict(gain=1.5))])
def test_init_distributions_match_torch(name, kw):
    """Same distribution (RNGs differ): std, range and (for orthogonal_) the Gram matrix."""
    shape = (64, 32, 3, 3)
    sw, tw = sg.empty(*shape), torch.empty(*shape)
    getattr(sinit, name)(sw, **kw)
    getattr(tnn.init, name)(tw, **kw)
    s, t = tn(sw), tn(tw)
    assert s.dtype == t.dtype
    assert abs(s.std() - t.std()) < 0.03 * t.std(), f"{name}: std {s.std()} vs torch {t.std()}"
    assert abs(s.mean() - t.mean()) < 0.03 * t.std() + 0.1 * abs(t.mean())
    assert abs(np.abs(s).max() - np.abs(t).max()) < 0.25 * np.abs(t).max()
    if name == "orthogonal_":
        m = s.reshape(64, -1)
        np.testing.assert_allclose(m @ m.T, 1.5 ** 2 * np.eye(64), atol=1e-4)


# ---- max and adaptive pooling, padding, pixel shuffle, ELU/SiLU/GELU/PReLU (image-to-image and SR GANs) ---------
@settings(max_examples=60, deadline=None)
@given(cfg=pool_configs(max_k=4, max_hw=9))
def test_max_pool2d(cfg):
    kw = dict(kernel_size=cfg["k"], stride=cfg["s"], padding=cfg["p"], ceil_mode=cfg["ceil_mode"])
    x = np.random.default_rng(5).standard_normal(cfg["shape"])
    x[..., ::2, :] = np.round(x[..., ::2, :])  # ties: the gradient goes to the first maximum
    run_both(tnn.MaxPool2d(**kw), snn.MaxPool2d(**kw), x, F64, f"MaxPool2d({kw})")
    t_idx = tnn.MaxPool2d(**kw, return_indices=True)(torch.tensor(x))[1]
    s_idx = snn.MaxPool2d(**kw, return_indices=True)(sg.tensor(x))[1]
    np.testing.assert_array_equal(tn(s_idx), tn(t_idx))


def test_max_pool2d_nan_unbatched_and_repr():
    x = np.random.default_rng(1).standard_normal((2, 5, 6))
    x[0, 1, 2] = np.nan
    close(SF.max_pool2d(sg.tensor(x), 2), TF.max_pool2d(torch.tensor(x), 2), F64, "NaN, unbatched")
    assert repr(snn.MaxPool2d(3, 2, 1)) == repr(tnn.MaxPool2d(3, 2, 1))


@pytest.mark.parametrize("shape, out", [((2, 3, 7, 5), (3, 2)), ((1, 2, 4, 4), 1), ((2, 1, 5, 9), (None, 4)),
                                        ((3, 6, 6), (4, 4)), ((1, 1, 3, 3), 5)])
def test_adaptive_avg_pool2d(shape, out):
    x = np.random.default_rng(2).standard_normal(shape)
    run_both(tnn.AdaptiveAvgPool2d(out), snn.AdaptiveAvgPool2d(out), x, F64, f"AdaptiveAvgPool2d({out})")
    assert repr(snn.AdaptiveAvgPool2d(out)) == repr(tnn.AdaptiveAvgPool2d(out))


@pytest.mark.parametrize("build", [
    lambda nn: nn.ReflectionPad2d(2), lambda nn: nn.ReflectionPad2d((1, 0, 2, 1)), lambda nn: nn.ZeroPad2d(1),
    lambda nn: nn.ZeroPad2d((0, 2, 1, 0)), lambda nn: nn.ReplicationPad2d((2, 1, 0, 3)),
    lambda nn: nn.ConstantPad2d(1, 0.5), lambda nn: nn.PixelShuffle(2), lambda nn: nn.PixelUnshuffle(2),
    lambda nn: nn.ELU(), lambda nn: nn.ELU(0.3), lambda nn: nn.SiLU(), lambda nn: nn.GELU(approximate="tanh"),
    lambda nn: nn.PReLU(), lambda nn: nn.PReLU(4, init=0.1),
])
def test_padding_shuffle_and_activation_layers(build):
    x = np.random.default_rng(3).standard_normal((2, 4, 6, 4)) * 3
    tm, sm = pair(build, F64)
    run_both(tm, sm, x, F64, repr(tm))
    assert repr(sm) == repr(tm)


def test_pixel_shuffle_and_prelu_on_other_ranks():
    x = np.random.default_rng(4).standard_normal((3, 9, 2, 2))
    check_fn(lambda t: TF.pixel_shuffle(t, 3), lambda s: SF.pixel_shuffle(s, 3), x, what="pixel_shuffle")
    check_fn(lambda t: TF.pixel_shuffle(t[0], 3), lambda s: SF.pixel_shuffle(s[0], 3), x, what="unbatched")
    w = np.array([0.1, -0.2, 0.3])
    check_fn(lambda t, a: TF.prelu(t, a), lambda s, a: SF.prelu(s, a), x[:, :3, 0, 0], w, what="prelu (N, C)")
    check_fn(lambda t, a: TF.prelu(t, a), lambda s, a: SF.prelu(s, a), x, w[:1], what="prelu shared")


@pytest.mark.parametrize("kw", [dict(scale_factor=2), dict(scale_factor=1.5), dict(size=(7, 4)), dict(size=(2, 9)),
                                dict(scale_factor=2, align_corners=True), dict(size=(1, 1), align_corners=True),
                                dict(size=(5, 11), align_corners=True), dict(scale_factor=(0.6, 1.7)),
                                dict(scale_factor=1.7, recompute_scale_factor=True), dict(size=3)])
def test_bilinear_interpolation(kw):
    x = np.random.default_rng(8).standard_normal((2, 3, 4, 6))
    check_fn(lambda t: TF.interpolate(t, mode="bilinear", **kw), lambda s: SF.interpolate(s, mode="bilinear", **kw),
             x, what=f"bilinear {kw}")
    layer_kw = {k: v for k, v in kw.items() if k != "recompute_scale_factor"}
    assert repr(snn.Upsample(mode="bilinear", **layer_kw)) == repr(tnn.Upsample(mode="bilinear", **layer_kw))


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("kw", [dict(padding=1), dict(padding=(2, 1), stride=2), dict(padding="same")])
def test_conv2d_padding_modes(mode, kw):
    tm, sm = pair(lambda nn: nn.Conv2d(2, 3, 3, padding_mode=mode, **kw), F64)
    run_both(tm, sm, np.random.default_rng(9).standard_normal((2, 2, 6, 5)), F64, f"Conv2d({mode}, {kw})")
    assert repr(sm) == repr(tm)


EXTREME_IMAGES = {"inf": [[[[1e4, -1e4, 3.0], [np.inf, -np.inf, 0.0], [2.0, 2.0, -1.0]]]],
                  "nan": [[[[np.nan, 1.0, 2.0], [3.0, np.nan, 0.0], [0.0, 1.0, 2.0]]]]}


@pytest.mark.parametrize("image", sorted(EXTREME_IMAGES))
@pytest.mark.parametrize("fn", [
    lambda F, t: F.max_pool2d(t, 2, 1), lambda F, t: F.max_pool2d(t, 3, 2, 1, ceil_mode=True),
    lambda F, t: F.adaptive_avg_pool2d(t, (2, 2)), lambda F, t: F.interpolate(t, scale_factor=2, mode="bilinear"),
    lambda F, t: F.interpolate(t, size=(5, 4), mode="bilinear", align_corners=True), lambda F, t: F.elu(t),
    lambda F, t: F.interpolate(t, scale_factor=2, mode="bicubic"),
    lambda F, t: F.prelu(t, t.new_full((1,), 0.2)), lambda F, t: F.gelu(t, approximate="tanh"),
    lambda F, t: F.pad(t, (1, 1, 1, 1), mode="reflect"),
])
def test_image_layers_keep_inf_and_nan_where_torch_does(image, fn):
    # an inf or NaN stays in the outputs (and gradients) that read it, no further: the same pattern as torch
    x = np.array(EXTREME_IMAGES[image])
    tt, ts = torch.tensor(x, requires_grad=True), sg.tensor(x, requires_grad=True)
    yt, ys = fn(TF, tt), fn(SF, ts)
    np.testing.assert_array_equal(np.isnan(tn(ys)), np.isnan(tn(yt)))
    np.testing.assert_allclose(np.nan_to_num(tn(ys)), np.nan_to_num(tn(yt)), rtol=1e-12)
    yt.sum().backward()
    ys.sum().backward()
    np.testing.assert_allclose(np.nan_to_num(tn(ts.grad), nan=7.0), np.nan_to_num(tn(tt.grad), nan=7.0), rtol=1e-12)


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")  # kl_div's 'mean', as torch warns
@pytest.mark.parametrize("build, n_inputs", [
    (lambda nn: nn.SmoothL1Loss(), 2), (lambda nn: nn.SmoothL1Loss(beta=0.3, reduction="sum"), 2),
    (lambda nn: nn.SmoothL1Loss(beta=0.0), 2), (lambda nn: nn.HuberLoss(delta=0.5), 2),
    (lambda nn: nn.HuberLoss(reduction="none", delta=2.0), 2),
    (lambda nn: nn.CosineSimilarity(), 2), (lambda nn: nn.CosineSimilarity(dim=0, eps=1e-6), 2),
    (lambda nn: nn.PairwiseDistance(), 2), (lambda nn: nn.PairwiseDistance(keepdim=True), 2),
])
def test_smooth_l1_huber_and_distances(build, n_inputs):
    rng = np.random.default_rng(10)
    arrays = [rng.standard_normal((4, 5)) for _ in range(n_inputs)]
    tm, sm = build(tnn), build(snn)
    check_fn(lambda *t: tm(*t), lambda *s: sm(*s), *arrays, what=repr(tm))
    assert repr(sm) == repr(tm)


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")
@pytest.mark.parametrize("reduction", ["batchmean", "sum", "mean", "none"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target):
    rng = np.random.default_rng(11)
    logits = rng.standard_normal((3, 4))
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    p[0, 1] = 0.0  # a zero probability: t·log t → 0
    target = np.log(p + 1e-3) if log_target else p
    # the gradient in the input (the log-probabilities being learned); in a zero target torch's is nan, ours 0
    check_fn(lambda x: TF.kl_div(TF.log_softmax(x, 1), torch.tensor(target), reduction=reduction, log_target=log_target),
             lambda x: SF.kl_div(SF.log_softmax(x, 1), sg.tensor(target), reduction=reduction, log_target=log_target),
             logits, what=f"kl_div {reduction} {log_target}")
    assert repr(snn.KLDivLoss(reduction=reduction)) == repr(tnn.KLDivLoss(reduction=reduction)) == "KLDivLoss()"


@pytest.mark.parametrize("build, shape", [
    (lambda nn: nn.Conv2d(4, 6, 3, padding=1, groups=2), (2, 4, 5, 5)),
    (lambda nn: nn.Conv2d(4, 4, 3, stride=2, groups=4, bias=False), (2, 4, 7, 6)),  # depthwise
    (lambda nn: nn.ConvTranspose2d(4, 6, 4, 2, 1, groups=2), (2, 4, 3, 3)),
    (lambda nn: nn.ConvTranspose2d(6, 3, 3, 1, 1, groups=3), (1, 6, 4, 4)),
])
def test_grouped_convolutions(build, shape):
    tm, sm = pair(build, F64)
    run_both(tm, sm, np.random.default_rng(13).standard_normal(shape), F64, repr(tm))
    assert repr(sm) == repr(tm)


def test_unbatched_convolutions():
    rng = np.random.default_rng(14)
    x, w = rng.standard_normal((3, 6, 5)), rng.standard_normal((4, 3, 3, 3))
    check_fn(lambda x, w: TF.conv2d(x, w, stride=2, padding=1), lambda x, w: SF.conv2d(x, w, stride=2, padding=1),
             x, w, what="conv2d (C, H, W)")
    check_fn(lambda x, w: TF.conv_transpose2d(x, w, stride=2), lambda x, w: SF.conv_transpose2d(x, w, stride=2),
             x[:, :4, :4], w.transpose(1, 0, 2, 3), what="conv_transpose2d (C, H, W)")


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_affine_grid_and_grid_sample(align_corners, padding_mode, mode):
    # a random affine map per image (rotation, scale, shift, some points outside), the spatial transformer
    rng = np.random.default_rng(15)
    x = rng.standard_normal((2, 3, 5, 6))
    theta = np.array([[[0.9, -0.3, 0.1], [0.4, 1.1, -0.2]], [[1.3, 0.2, 0.5], [-0.1, 0.7, 0.3]]])
    def run(m, F, x, th):
        return F.grid_sample(x, F.affine_grid(th, (2, 3, 4, 7), align_corners=align_corners), mode=mode,
                             padding_mode=padding_mode, align_corners=align_corners)
    check_fn(lambda x, th: run(torch, TF, x, th), lambda x, th: run(sg, SF, x, th), x, theta,
             what=f"grid_sample {mode} {padding_mode} {align_corners}")


def test_grid_sample_reads_zeros_for_nan_and_far_points_and_warns_without_align_corners():
    x = np.arange(12.0).reshape(1, 1, 3, 4)
    grid = np.array([[[[np.nan, 0.0], [5.0, 5.0], [0.0, 0.0], [-1.0, -1.0]]]])
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
        got = SF.grid_sample(sg.tensor(x), sg.tensor(grid))
    with pytest.warns(UserWarning):
        want = TF.grid_sample(torch.tensor(x), torch.tensor(grid))
    np.testing.assert_allclose(np.nan_to_num(tn(got), nan=-7), np.nan_to_num(tn(want), nan=-7), rtol=1e-12)


def test_sequential_editing_keeps_torchs_names():
    results = []
    for nn in (tnn, snn):
        s = nn.Sequential(nn.Linear(1, 2), nn.ReLU(), nn.Linear(2, 3), nn.Tanh())
        steps = [list(s[2:4].state_dict()), list(s[::2].state_dict())]
        s[1] = nn.Sigmoid()
        del s[0]
        s.insert(-1, nn.ReLU())
        popped = s.pop(0)
        s.insert(3, nn.Identity())
        s.extend([nn.ReLU()])
        del s[1:3]
        steps += [type(popped).__name__, list(s.state_dict()), [type(m).__name__ for m in s], repr(s)]
        results.append(steps)
    assert results[1] == results[0]


KINKS = np.array([[-7.0, -3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, 6.0, 7.0], [-2.2, -0.1, 0.1, 0.3, 2.5, -6.0, 5.9, 6.1, -3.1, 2.9]])


@pytest.mark.parametrize("build", [
    lambda nn: nn.Hardtanh(), lambda nn: nn.Hardtanh(-2.0, 0.5), lambda nn: nn.ReLU6(), lambda nn: nn.Hardsigmoid(),
    lambda nn: nn.Hardswish(), lambda nn: nn.SELU(), lambda nn: nn.CELU(0.7), lambda nn: nn.Mish(), lambda nn: nn.Softsign(),
    lambda nn: nn.Tanhshrink(), lambda nn: nn.LogSigmoid(), lambda nn: nn.Hardshrink(), lambda nn: nn.Softshrink(0.3),
    lambda nn: nn.Threshold(0.1, 20.0), lambda nn: nn.GLU(), lambda nn: nn.GLU(0), lambda nn: nn.Softmin(1),
])
def test_more_activations_at_their_kinks(build):
    # the values and gradients at the corners (−3, 0, 3, 6, ±λ) follow torch's conventions; float32 tolerances,
    # since torch's double kernels of hardsigmoid and celu use float constants (1.0f / 6.0f)
    tm, sm = build(tnn), build(snn)
    check_fn(lambda t: tm(t), lambda s: sm(s), KINKS, what=repr(tm), dtype=F32)
    assert repr(sm) == repr(tm)


@pytest.mark.parametrize("build", [lambda nn: nn.ReLU6(inplace=True), lambda nn: nn.SELU(inplace=True),
                                   lambda nn: nn.Hardtanh(inplace=True), lambda nn: nn.Mish(inplace=True),
                                   lambda nn: nn.Threshold(0.0, -1.0, inplace=True), lambda nn: nn.CELU(inplace=True),
                                   lambda nn: nn.Hardswish(inplace=True)])
def test_in_place_activations_write_into_a_non_leaf(build):
    tm, sm = build(tnn), build(snn)
    check_fn(lambda t: tm(t * 1.0), lambda s: sm(s * 1.0), KINKS, what=repr(tm))
    assert repr(sm) == repr(tm)


def test_instance_norm1d_upsampling_bilinear2d_and_parameter_containers():
    x = np.random.default_rng(16).standard_normal((2, 3, 7))
    for build in (lambda nn: nn.InstanceNorm1d(3), lambda nn: nn.InstanceNorm1d(3, affine=True)):
        tm, sm = pair(build, F64)
        run_both(tm, sm, x, F64, repr(tm))
        run_both(tm, sm, x[0], F64, repr(tm) + " unbatched")
    img = np.random.default_rng(17).standard_normal((1, 2, 3, 4))
    run_both(tnn.UpsamplingBilinear2d(scale_factor=2), snn.UpsamplingBilinear2d(scale_factor=2), img, F64, "bilinear2d")
    tl = tnn.ParameterList([tnn.Parameter(torch.zeros(2)), tnn.Parameter(torch.ones(3))])
    sl = snn.ParameterList([sg.zeros(2), sg.ones(3)])
    assert list(sl.state_dict()) == list(tl.state_dict()) and repr(sl) == repr(tl)
    td, sd = tnn.ParameterDict({"a": tnn.Parameter(torch.zeros(1))}), snn.ParameterDict({"a": sg.zeros(1)})
    assert list(sd.state_dict()) == list(td.state_dict()) and repr(sd) == repr(td)
    with pytest.warns(UserWarning, match="upsample_bilinear. is deprecated"):
        got = SF.upsample_bilinear(sg.tensor(img), scale_factor=2)
    np.testing.assert_allclose(tn(got), tn(TF.interpolate(torch.tensor(img), scale_factor=2, mode="bilinear",
                                                          align_corners=True)), rtol=1e-12)


def test_exact_gelu_and_erf():
    x = np.concatenate([np.linspace(-6.0, 6.0, 49), [-30.0, 30.0, 1e-8]]).reshape(1, -1)
    check_fn(lambda t: TF.gelu(t), lambda s: SF.gelu(s), x, what="gelu exact")
    check_fn(lambda t: torch.erf(t) + torch.erfc(t * 0.5), lambda s: sg.erf(s) + sg.erfc(s * 0.5), x, what="erf, erfc")
    tm, sm = pair(lambda nn: nn.Sequential(nn.Linear(3, 4), nn.GELU()), F64)
    run_both(tm, sm, np.random.default_rng(19).standard_normal((5, 3)), F64, "Linear + GELU")
    assert repr(sm) == repr(tm)


@pytest.mark.parametrize("build, shape", [
    (lambda nn: nn.Conv1d(2, 4, 3), (2, 2, 11)), (lambda nn: nn.Conv1d(2, 4, 5, 2, 2, dilation=2), (2, 2, 16)),
    (lambda nn: nn.Conv1d(4, 4, 3, padding="same", groups=2, bias=False), (3, 4, 9)),
    (lambda nn: nn.Conv1d(2, 3, 7, padding=3, padding_mode="reflect"), (2, 2, 12)),
    (lambda nn: nn.ConvTranspose1d(4, 2, 4, 2, 1), (2, 4, 6)), (lambda nn: nn.ConvTranspose1d(4, 2, 16, 8, 4), (1, 4, 5)),
    (lambda nn: nn.ConvTranspose1d(2, 4, 3, 2, 1, output_padding=1, groups=2), (2, 2, 5)),
    (lambda nn: nn.AvgPool1d(4, 2, 1, count_include_pad=False), (2, 3, 13)), (lambda nn: nn.MaxPool1d(3, 2, 1), (2, 3, 10)),
    (lambda nn: nn.ReflectionPad1d(3), (2, 3, 7)), (lambda nn: nn.ReplicationPad1d((1, 2)), (2, 3, 5)),
    (lambda nn: nn.ConstantPad1d((2, 0), 0.5), (2, 3, 5)), (lambda nn: nn.ZeroPad1d(1), (2, 3, 5)),
    (lambda nn: nn.Conv1d(3, 2, 3), (3, 8)),  # unbatched (C, L)
])
def test_one_dimensional_layers(build, shape):
    tm, sm = pair(build, F64)
    run_both(tm, sm, np.random.default_rng(21).standard_normal(shape), F64, repr(tm))
    assert repr(sm) == repr(tm)


def test_a_melgan_style_block_with_weight_norm_matches_torch():
    # MelGAN's generator: ReflectionPad1d + weight-normed Conv1d, LeakyReLU, a ConvTranspose1d upsampling, and a
    # dilated residual stack; its discriminator downsamples with AvgPool1d(4, 2, 1, count_include_pad=False)
    def build(nn):
        wn = nn.utils.weight_norm
        return nn.Sequential(
            nn.ReflectionPad1d(3), wn(nn.Conv1d(4, 8, 7)), nn.LeakyReLU(0.2),
            wn(nn.ConvTranspose1d(8, 4, 8, 4, 2)), nn.LeakyReLU(0.2),
            nn.ReflectionPad1d(3), wn(nn.Conv1d(4, 4, 3, dilation=3)), nn.Tanh(),
            nn.AvgPool1d(4, 2, 1, count_include_pad=False))

    with pytest.warns(FutureWarning):
        tm, sm = pair(build, F64)
    run_both(tm, sm, np.random.default_rng(22).standard_normal((2, 4, 10)), F64, "MelGAN block")


def test_hifigan_style_discriminators_match_torch():
    # HiFi-GAN's period discriminator (a signal folded into (T/p, p) and read by (k, 1) kernels, reflect-padded
    # to a multiple of the period) and its scale discriminator (grouped Conv1d, AvgPool1d), with the feature
    # matching and least-squares losses: written once, run in both frameworks from the same weights
    def build(nn):
        wn, sn = nn.utils.weight_norm, nn.utils.spectral_norm

        class DiscriminatorP(nn.Module):
            def __init__(self, period):
                super().__init__()
                self.period = period
                self.convs = nn.ModuleList([wn(nn.Conv2d(1, 4, (5, 1), (3, 1), padding=(2, 0))),
                                            wn(nn.Conv2d(4, 8, (5, 1), (3, 1), padding=(2, 0)))])
                self.conv_post = wn(nn.Conv2d(8, 1, (3, 1), 1, padding=(1, 0)))

            def forward(self, x, F):
                b, c, t = x.shape
                if t % self.period != 0:
                    x = F.pad(x, (0, self.period - (t % self.period)), "reflect")
                    t = x.shape[-1]
                x = x.view(b, c, t // self.period, self.period)
                fmap = []
                for layer in self.convs:
                    x = F.leaky_relu(layer(x), 0.1)
                    fmap.append(x)
                return self.conv_post(x).flatten(1, -1), fmap

        class DiscriminatorS(nn.Module):
            def __init__(self):
                super().__init__()
                self.convs = nn.ModuleList([sn(nn.Conv1d(1, 8, 15, 1, padding=7)),
                                            sn(nn.Conv1d(8, 8, 41, 2, groups=4, padding=20))])
                self.pool = nn.AvgPool1d(4, 2, padding=2)

            def forward(self, x, F):
                fmap = []
                x = self.pool(x)
                for layer in self.convs:
                    x = F.leaky_relu(layer(x), 0.1)
                    fmap.append(x)
                return x.flatten(1, -1), fmap

        return nn.ModuleList([DiscriminatorP(2), DiscriminatorP(3), DiscriminatorS()])

    def losses(fw, F, discs, real, fake):
        total = 0
        for d in discs:
            dr, fr = d(real, F)
            dg, fg = d(fake, F)
            total = total + fw.mean((1 - dg) ** 2) + sum(fw.mean(fw.abs(a - b)) for a, b in zip(fr, fg))
        return total

    with pytest.warns(FutureWarning):
        tm, sm = pair(build, F64)
    rng = np.random.default_rng(24)
    real, fake = rng.standard_normal((2, 1, 64)), rng.standard_normal((2, 1, 64))
    tf = torch.tensor(fake, requires_grad=True)
    sf = sg.tensor(fake, requires_grad=True)
    lt, ls = losses(torch, TF, tm, torch.tensor(real), tf), losses(sg, SF, sm, sg.tensor(real), sf)
    close(ls, lt, F64, "HiFi-GAN losses")
    lt.backward()
    ls.backward()
    close(sf.grad, tf.grad, F64, "d/d(fake audio)")
    for (k, p), (k2, q) in zip(tm.named_parameters(), sm.named_parameters()):
        assert k == k2
        close(q.grad, p.grad, F64, f"d/d{k}")


@pytest.mark.parametrize("kw", [dict(kernel_size=2, stride=2, padding=1, dilation=2),
                                dict(kernel_size=3, stride=1, padding=1, dilation=2, ceil_mode=True),
                                dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 0), dilation=(3, 1)),
                                dict(kernel_size=3, dilation=2, return_indices=True)])
def test_dilated_max_pool2d(kw):
    x = np.random.default_rng(25).standard_normal((2, 3, 9, 8))
    x[..., ::3, :] = np.round(x[..., ::3, :])  # ties
    tm, sm = tnn.MaxPool2d(**kw), snn.MaxPool2d(**kw)
    if kw.get("return_indices"):
        (yt, it), (ys, is_) = tm(torch.tensor(x)), sm(sg.tensor(x))
        np.testing.assert_array_equal(tn(is_), tn(it))
        close(ys, yt, F64, "values")
        return
    run_both(tm, sm, x, F64, f"MaxPool2d({kw})")
    assert repr(sm) == repr(tm)


@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample_reflection_folds_far_points_as_torch(align_corners):
    # points up to four image-widths out (several folds), some exactly on an edge or a pixel
    x = np.random.default_rng(26).standard_normal((1, 2, 4, 5))
    g = np.stack(np.meshgrid(np.linspace(-4.1, 3.7, 9), np.linspace(-3.3, 4.2, 7)), axis=-1)[None]
    g[0, 0, :3] = [[-1.0, -1.0], [1.0, 1.0], [0.0, 0.5]]
    check_fn(lambda x, g: TF.grid_sample(x, g, padding_mode="reflection", align_corners=align_corners),
             lambda x, g: SF.grid_sample(x, g, padding_mode="reflection", align_corners=align_corners),
             x, g, what=f"reflection {align_corners}")



@pytest.mark.parametrize("kw", [dict(scale_factor=2), dict(scale_factor=1.5), dict(size=(7, 4)), dict(size=(2, 9)),
                                dict(scale_factor=2, align_corners=True), dict(size=(5, 11), align_corners=True),
                                dict(scale_factor=(0.6, 1.7)), dict(size=1)])
def test_bicubic_interpolation(kw):
    x = np.random.default_rng(27).standard_normal((2, 3, 4, 6))
    check_fn(lambda t: TF.interpolate(t, mode="bicubic", **kw), lambda s: SF.interpolate(s, mode="bicubic", **kw),
             x, what=f"bicubic {kw}")
    assert repr(snn.Upsample(mode="bicubic", **kw)) == repr(tnn.Upsample(mode="bicubic", **kw))
