"""batch_norm and BatchNorm2d: the formula, finite-difference gradients (train and eval, first and
second order), running statistics, buffers and state_dict keys, layouts, errors; and the
per-channel ops it is built from."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scratchgan as sg
import scratchgan.nn as nn
from scratchgan import backend, reference
from scratchgan.nn import functional as F
from scratchgan.norm import channel_affine, channel_dot, channel_sum
from tests.gradcheck import check_backward, check_double_backward

f64 = np.float64
to_np = backend.to_numpy

shapes = st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 4), st.integers(1, 4)).filter(
    lambda s: s[0] * s[2] * s[3] > 1)


def t64(a, device="cpu", requires_grad=False):
    return sg.tensor(a, dtype=f64, device=device, requires_grad=requires_grad)


def ref_bn(x, gamma, beta, eps=1e-5):
    """Training-mode batch norm of NumPy arrays, by the formula (``scratchgan.reference.batch_norm``)."""
    y = reference.batch_norm(t64(x), None, None, t64(gamma), t64(beta), training=True, eps=eps)
    return y.numpy()


@given(shape=shapes)
def test_batch_norm_training_forward(device, shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape) * 3 + 1
    g, b = rng.standard_normal(shape[1]), rng.standard_normal(shape[1])
    rm, rv = t64(np.zeros(shape[1]), device), t64(np.ones(shape[1]), device)
    y = F.batch_norm(t64(x, device), rm, rv, t64(g, device), t64(b, device), training=True)
    np.testing.assert_allclose(to_np(y.array), ref_bn(x, g, b), rtol=1e-9, atol=1e-9)
    m = shape[0] * shape[2] * shape[3]
    np.testing.assert_allclose(to_np(rm.array), 0.1 * x.mean(axis=(0, 2, 3)), rtol=1e-9)
    np.testing.assert_allclose(to_np(rv.array), 0.9 + 0.1 * x.var(axis=(0, 2, 3)) * m / (m - 1), rtol=1e-9)


@settings(max_examples=15)
@given(shape=shapes, affine=st.booleans())
def test_batch_norm_training_gradients(device, shape, affine):
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(shape) * 2 + 0.5]
    if affine:
        arrays += [rng.standard_normal(shape[1]), rng.standard_normal(shape[1])]
    check_backward(lambda x, *wb: F.batch_norm(x, None, None, *wb, training=True), arrays, device, rtol=1e-4,
                   atol=1e-6)


@settings(max_examples=15)
@given(shape=shapes)
def test_batch_norm_eval_gradients(device, shape):
    rng = np.random.default_rng(2)
    rm, rv = rng.standard_normal(shape[1]), rng.uniform(0.5, 2, shape[1])
    arrays = [rng.standard_normal(shape), rng.standard_normal(shape[1]), rng.standard_normal(shape[1])]
    check_backward(lambda x, w, b: F.batch_norm(x, t64(rm, device), t64(rv, device), w, b, training=False),
                   arrays, device)
    # eval is the affine map x·γ/√(r_var + eps) + β − r_mean·γ/√(r_var + eps)
    y = F.batch_norm(*(t64(a, device) for a in arrays[:1]), t64(rm, device), t64(rv, device),
                     t64(arrays[1], device), t64(arrays[2], device))
    s = arrays[1] / np.sqrt(rv + 1e-5)
    want = arrays[0] * s[None, :, None, None] + (arrays[2] - rm * s)[None, :, None, None]
    np.testing.assert_allclose(to_np(y.array), want, rtol=1e-10)


@pytest.mark.parametrize("shape", [(3, 2, 2, 2), (4, 3, 1, 3)])
def test_batch_norm_double_backward(device, shape):
    """create_graph through BatchNorm (a gradient penalty on a D with BN) against finite differences."""
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(shape), rng.standard_normal(shape[1]) + 1, rng.standard_normal(shape[1])]
    check_double_backward(lambda x, w, b: F.tanh(F.batch_norm(x, None, None, w, b, training=True)), arrays, device)
    rm, rv = rng.standard_normal(shape[1]), rng.uniform(0.5, 2, shape[1])
    check_double_backward(lambda x, w, b: F.tanh(F.batch_norm(x, t64(rm, device), t64(rv, device), w, b)),
                          arrays, device)


def test_channel_ops_gradients(device):
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((2, 3, 2, 2)), rng.standard_normal((2, 3, 2, 2))
    s, t = rng.standard_normal(3), rng.standard_normal(3)
    check_backward(lambda a: channel_sum(a) ** 2, [a], device)
    check_backward(lambda a, b: channel_dot(a, b) ** 2, [a, b], device)
    check_backward(lambda a, s, t: channel_affine(a, s, t) ** 2, [a, s, t], device)
    check_double_backward(lambda a, b: channel_dot(a, b) ** 2, [a, b], device)
    check_double_backward(lambda a, s, t: channel_affine(a, s, t) ** 3, [a, s, t], device)
    c, u = rng.standard_normal((2, 3, 2, 2)), rng.standard_normal(3)
    check_backward(lambda a, s, t, c, u: channel_affine(a, s, t, c, u) ** 2, [a, s, t, c, u], device)
    check_double_backward(lambda a, c, u: channel_affine(a, None, None, c, u) ** 3, [a, c, u], device)


def test_running_statistics_after_several_steps():
    """momentum 0.1 exponential averages of the batch mean and the unbiased variance, in place."""
    rng = np.random.default_rng(5)
    bn = nn.BatchNorm2d(3)
    rm_array = bn.running_mean.array
    want_m, want_v = np.zeros(3), np.ones(3)
    for step in range(4):
        x = rng.standard_normal((5, 3, 2, 3)).astype(np.float32) * (step + 1) + step
        bn(sg.tensor(x))
        m = x.reshape(5, 3, -1).transpose(1, 0, 2).reshape(3, -1)
        want_m = 0.9 * want_m + 0.1 * m.mean(1)
        want_v = 0.9 * want_v + 0.1 * m.var(1, ddof=1)
    np.testing.assert_allclose(bn.running_mean.array, want_m, rtol=1e-5)
    np.testing.assert_allclose(bn.running_var.array, want_v, rtol=1e-5)
    assert bn.running_mean.array is rm_array  # updated in place, outside the graph
    assert int(bn.num_batches_tracked.array) == 4 and bn.num_batches_tracked.array.dtype == np.int64
    assert not bn.running_mean.requires_grad


def test_cumulative_average_with_momentum_none():
    rng = np.random.default_rng(6)
    bn = nn.BatchNorm2d(2, momentum=None)
    xs = [rng.standard_normal((4, 2, 3, 3)).astype(np.float32) for _ in range(3)]
    for x in xs:
        bn(sg.tensor(x))
    np.testing.assert_allclose(bn.running_mean.array, np.mean([x.mean((0, 2, 3)) for x in xs], 0), rtol=1e-5)


def test_eval_uses_running_statistics_and_train_does_not():
    rng = np.random.default_rng(7)
    bn = nn.BatchNorm2d(2)
    bn.running_mean.array[...] = [1.0, -2.0]
    bn.running_var.array[...] = [4.0, 0.25]
    x = rng.standard_normal((3, 2, 2, 2)).astype(np.float32)
    bn.eval()
    y = bn(sg.tensor(x)).array
    want = (x - np.array([1.0, -2.0])[None, :, None, None]) / np.sqrt(np.array([4.0, 0.25]) + 1e-5)[None, :, None, None]
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)
    assert int(bn.num_batches_tracked.array) == 0
    np.testing.assert_allclose(bn.running_mean.array, [1.0, -2.0])  # eval leaves the statistics alone
    bn.train()
    y = bn(sg.tensor(x)).array
    np.testing.assert_allclose(y, ref_bn(x.astype(f64), np.ones(2), np.zeros(2)), rtol=1e-4, atol=1e-5)


def test_batchnorm2d_module_state_and_options():
    bn = nn.BatchNorm2d(4)
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert bn.state_dict()["num_batches_tracked"].shape == () and [n for n, _ in bn.named_parameters()] == \
        ["weight", "bias"]
    np.testing.assert_array_equal(bn.weight.array, np.ones(4))
    np.testing.assert_array_equal(bn.bias.array, np.zeros(4))
    assert repr(bn) == "BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)"
    no_shift = nn.BatchNorm2d(4, bias=False)  # PyTorch 2.x's keyword
    assert list(no_shift.state_dict()) == ["weight", "running_mean", "running_var", "num_batches_tracked"]
    assert no_shift(sg.randn(2, 4, 3, 3)).shape == (2, 4, 3, 3)
    plain = nn.BatchNorm2d(4, affine=False, track_running_stats=False)
    assert plain.state_dict() == {} and list(plain.parameters()) == []
    x = sg.randn(3, 4, 2, 2)
    plain.eval()  # without running statistics even eval() normalises with the batch statistics
    np.testing.assert_allclose(plain(x).array, ref_bn(x.array.astype(f64), np.ones(4), np.zeros(4)), rtol=1e-4,
                               atol=1e-5)
    # a state_dict round trip, and the running statistics keep their Tensors' identity
    other = nn.BatchNorm2d(4)
    bn(sg.randn(5, 4, 3, 3))
    other.load_state_dict(bn.state_dict())
    for k, v in bn.state_dict().items():
        np.testing.assert_array_equal(other.state_dict()[k], v)


def test_layout_does_not_change_the_result():
    """Channels-last (what the convolutions produce) and NCHW input give the same output and gradients."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((3, 4, 5, 2))
    outs = []
    for arr in (x, np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2), x[:, :, :, ::-1][..., ::-1]):
        bn = nn.BatchNorm2d(4).double()
        t = sg.Tensor(arr, requires_grad=True)
        y = bn(t)
        (y * sg.Tensor(np.arange(y.numel(), dtype=f64).reshape(y.shape))).sum().backward()
        outs.append((y.array, t.grad.array, bn.weight.grad.array, bn.running_var.array))
    for other in outs[1:]:
        for a, b in zip(outs[0], other):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_batchnorm_errors():
    bn = nn.BatchNorm2d(3)
    with pytest.raises(ValueError) as e:
        bn(sg.randn(2, 4, 5, 5))
    assert str(e.value) == ("BatchNorm2d(3, eps=1e-05, momentum=0.1, affine=True, bias=True, "
                            "track_running_stats=True): expected input with 3 channels (N, 3, H, W), "
                            "got shape (2, 4, 5, 5)")
    with pytest.raises(ValueError, match=r"expected 4-D input \(N, C, H, W\), got 2-D input of shape \(2, 3\)"):
        bn(sg.randn(2, 3))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(sg.randn(1, 3, 1, 1))
    with pytest.raises(ValueError, match="running_mean"):
        F.batch_norm(sg.randn(2, 3, 2, 2), None, None, training=False)
