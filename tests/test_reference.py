"""Fast == reference: the kernels of conv.py, norm.py and optim/adam.py against the plain versions
in ``scratchgan.reference`` (whose backward passes autograd derives from their forward), in float64
on every backend: values, gradients, and gradients of gradients; Adam over 20 steps."""
import numpy as np
import pytest

import scratchgan as sg
from scratchgan import autograd, backend, nn, optim, reference
from scratchgan.nn import functional as F

f64 = np.float64
to_np = backend.to_numpy


def t64(a, device, requires_grad=True):
    return sg.tensor(a, dtype=f64, device=device, requires_grad=requires_grad)


def values_and_grads(fn, arrays, device, seed=0):
    """fn's value, the gradients of L = ⟨fn(x), v⟩ and of S = Σ_i ⟨∂L/∂x_i, u_i⟩ (second order),
    for fixed random v and u: two implementations that agree on these agree as functions to
    second order."""
    rng = np.random.default_rng(seed)
    xs = [t64(a, device) for a in arrays]
    y = fn(*xs)
    v = t64(rng.standard_normal(y.shape), device, False)
    first = autograd.grad((y * v).sum(), xs, create_graph=True)
    s = sum((g * t64(rng.standard_normal(g.shape), device, False)).sum() for g in first)
    second = autograd.grad(s, xs, allow_unused=True)
    return ([to_np(y.array)] + [to_np(g.array) for g in first]
            + [None if g is None else to_np(g.array) for g in second])


def assert_same(fast, ref, what):
    for i, (a, b) in enumerate(zip(fast, ref)):
        if a is None or b is None:  # an unused second-order input: both must say so or be 0
            other = b if a is None else a
            assert other is None or np.allclose(other, 0, atol=1e-10), f"{what}: part {i}"
            continue
        assert a.shape == b.shape, f"{what}: part {i} has shape {a.shape}, reference {b.shape}"
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10, err_msg=f"{what}: part {i}")


# (fast, reference, x shape, weight shape for kernel k, bias size)
CONVS = {
    "conv2d": (F.conv2d, reference.conv2d, (2, 3, 7, 6), lambda k: (4, 3, k, k), 4),
    "conv_transpose2d": (F.conv_transpose2d, reference.conv_transpose2d, (2, 3, 4, 3), lambda k: (3, 2, k, k), 2),
}


@pytest.mark.parametrize("op", sorted(CONVS))
@pytest.mark.parametrize("kernel", [3, 4])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("padding", [0, 1])
def test_convolution_fast_equals_reference(device, op, kernel, stride, padding):
    fast_op, ref_op, x_shape, w_shape, c_out = CONVS[op]
    rng = np.random.default_rng(kernel * 10 + stride + padding)
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape(kernel)), rng.standard_normal(c_out)]
    fast = values_and_grads(lambda x, w, b: fast_op(x, w, b, stride, padding), arrays, device)
    ref = values_and_grads(lambda x, w, b: ref_op(x, w, b, stride, padding), arrays, device)
    assert_same(fast, ref, f"{op} k={kernel} s={stride} p={padding}")


def test_reference_convolutions_without_bias(device):
    rng = np.random.default_rng(7)
    x, w = t64(rng.standard_normal((1, 2, 5, 5)), device), t64(rng.standard_normal((3, 2, 2, 2)), device)
    np.testing.assert_allclose(to_np(reference.conv2d(x, w, None, 2, 1).array), to_np(F.conv2d(x, w, None, 2, 1).array),
                               rtol=1e-12, atol=1e-12)
    wt = t64(rng.standard_normal((2, 3, 2, 2)), device)
    np.testing.assert_allclose(to_np(reference.conv_transpose2d(x, wt, None, 2, 1).array),
                               to_np(F.conv_transpose2d(x, wt, None, 2, 1).array), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", [(4, 3, 3, 2), (5, 2)])
def test_batch_norm_training_fast_equals_reference(device, shape):
    rng = np.random.default_rng(3)
    c = shape[1]
    arrays = [rng.standard_normal(shape) * 2 + 1, rng.standard_normal(c), rng.standard_normal(c)]
    stats = {}
    for name, bn in (("fast", F.batch_norm), ("reference", reference.batch_norm)):
        rm, rv = t64(np.zeros(c), device, False), t64(np.ones(c), device, False)
        stats[name] = (rm, rv)
        stats[name + " results"] = values_and_grads(
            lambda x, w, b, bn=bn, rm=rm, rv=rv: bn(x, rm, rv, w, b, True, 0.3, 1e-5), arrays, device)
    assert_same(stats["fast results"], stats["reference results"], f"batch_norm train {shape}")
    for fast, ref in zip(stats["fast"], stats["reference"]):  # the running statistics moved the same way
        np.testing.assert_allclose(to_np(fast.array), to_np(ref.array), rtol=1e-12)


def test_batch_norm_eval_fast_equals_reference(device):
    rng = np.random.default_rng(4)
    arrays = [rng.standard_normal((3, 2, 2, 3)), rng.standard_normal(2), rng.standard_normal(2)]
    rm, rv = t64(rng.standard_normal(2), device, False), t64(rng.uniform(0.5, 2, 2), device, False)
    fast = values_and_grads(lambda x, w, b: F.batch_norm(x, rm, rv, w, b, False), arrays, device)
    ref = values_and_grads(lambda x, w, b: reference.batch_norm(x, rm, rv, w, b, False), arrays, device)
    assert_same(fast, ref, "batch_norm eval")


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_momentum_none_is_a_clear_type_error_in_both(training):
    """PyTorch's F.batch_norm takes a float momentum (None raises a TypeError); the cumulative average
    that momentum=None means is nn.BatchNorm's, which passes 1/num_batches_tracked."""
    x, rm, rv = sg.randn(4, 3), sg.zeros(3), sg.ones(3)
    for bn in (F.batch_norm, reference.batch_norm):
        with pytest.raises(TypeError, match="batch_norm: momentum must be a float, got None.*num_batches_tracked"):
            bn(x, rm, rv, None, None, training, None)
    assert np.array_equal(rm.numpy(), np.zeros(3)) and np.array_equal(rv.numpy(), np.ones(3))


@pytest.mark.parametrize("betas,weight_decay,options", [
    ((0.9, 0.999), 0.0, {}), ((0.5, 0.999), 0.1, {}), ((0.0, 0.9), 0.0, {}),
    ((0.5, 0.99), 0.1, dict(amsgrad=True, maximize=True)), ((0.9, 0.999), 0.1, dict(decoupled_weight_decay=True))])
def test_adam_fast_equals_reference_over_20_steps(device, betas, weight_decay, options):
    rng = np.random.default_rng(5)
    start = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    runs = {}
    for name, Adam in (("fast", optim.Adam), ("reference", reference.Adam)):
        params = [nn.Parameter(t64(a, device, False)) for a in start]
        runs[name] = (params, Adam(params, lr=1e-2, betas=betas, eps=1e-8, weight_decay=weight_decay, **options))
    steps = np.random.default_rng(6)
    for _ in range(20):
        grads = [steps.standard_normal(a.shape) for a in start]
        for params, opt in runs.values():
            for p, g in zip(params, grads):
                p.grad = t64(g, device, False)
            opt.step()
        for pf, pr in zip(runs["fast"][0], runs["reference"][0]):
            np.testing.assert_allclose(to_np(pf.array), to_np(pr.array), rtol=1e-12, atol=1e-14)
    fast_state, ref_state = (opt.state_dict()["state"] for _, opt in runs.values())
    for i in fast_state:
        assert fast_state[i]["step"] == ref_state[i]["step"] == 20
        assert fast_state[i].keys() == ref_state[i].keys()
        for key in fast_state[i].keys() - {"step"}:
            np.testing.assert_allclose(fast_state[i][key], ref_state[i][key], rtol=1e-12, atol=1e-14)


def test_reference_adam_first_step_is_a_sign_step():
    """m̂ = g and v̂ = g² after one step, so θ moves by lr·g/(|g| + eps)."""
    p = nn.Parameter(sg.tensor([1.0, -2.0, 3.0], dtype=f64))
    opt = reference.Adam([p], lr=0.1)
    p.grad = sg.tensor([5.0, -0.01, 1e3], dtype=f64)
    opt.step()
    np.testing.assert_allclose(p.detach().numpy(), [0.9, -1.9, 2.9], atol=1e-6)
