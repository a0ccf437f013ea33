"""Every op's analytic gradient against central finite differences (float64), on
generated shapes (broadcasting included) and values, on every backend."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import scratchgan as sg
from scratchgan.nn import functional as F
from tests.gradcheck import check_backward, check_double_backward

f64 = np.float64


def arrays(shape, lo=-3.0, hi=3.0, away_from=None):
    """float64 arrays in [lo, hi]; ``away_from``: keep 1e-2 from that kink (relu at 0, ...)."""
    elems = st.floats(lo, hi, allow_nan=False, allow_infinity=False, width=64)
    if away_from is not None:
        elems = elems.filter(lambda v: abs(v - away_from) > 1e-2)
    return hnp.arrays(f64, shape, elements=elems)


shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
two_broadcastable = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=4)


# ---- binary ops, broadcasting --------------------------------------------------------------
BINARY = {
    "add": (lambda a, b: a + b, None),
    "sub": (lambda a, b: a - b, None),
    "mul": (lambda a, b: a * b, None),
    "div": (lambda a, b: a / b, "positive"),
    "pow": (lambda a, b: a ** b, "positive"),
    "where": (lambda a, b: sg.where(a > b, a, b), None),
}


@pytest.mark.parametrize("name", list(BINARY))
@given(data=st.data(), shapes=two_broadcastable)
def test_binary_op_gradients_with_broadcasting(device, name, data, shapes):
    fn, domain = BINARY[name]
    sa, sb = shapes.input_shapes
    a = data.draw(arrays(sa))
    b = data.draw(arrays(sb, 0.5, 2.0) if domain == "positive" else arrays(sb))
    if domain == "positive":
        a = np.abs(a) + 0.5
    if name == "where":  # keep a and b apart so the comparison is not at a tie
        b = b + 10.0 * (np.abs(a.max(initial=0)) + 1) * (np.sign(b) + (b == 0))
    check_backward(fn, [a, b], device)


@given(data=st.data(), shape=shapes, c=st.floats(-2, 2).filter(lambda v: abs(v) > 0.1))
def test_scalar_operands(device, data, shape, c):
    a = data.draw(arrays(shape, 0.5, 2.0))
    check_backward(lambda x: (c - x) * c / (x + abs(c)) + abs(c) ** (x * 0.1) + x ** 3 - 1 / x, [a], device)


# ---- matmul ------------------------------------------------------------------------------
@given(data=st.data(), n=st.integers(1, 4), k=st.integers(1, 4), m=st.integers(1, 4),
       batch=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=3))
def test_matmul_batched_and_broadcast(device, data, n, k, m, batch):
    ba, bb = batch.input_shapes
    a = data.draw(arrays(ba + (n, k)))
    b = data.draw(arrays(bb + (k, m)))
    check_backward(lambda x, y: x @ y, [a, b], device)
    np.testing.assert_allclose((sg.tensor(a) @ sg.tensor(b)).numpy(), a @ b, rtol=1e-12)


@pytest.mark.parametrize("sa,sb", [((3,), (3,)), ((3,), (3, 2)), ((2, 3), (3,)), ((4, 2, 3), (3,))])
def test_matmul_vector_cases(device, sa, sb):
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    out = sg.tensor(a, device=device, dtype=f64) @ sg.tensor(b, device=device, dtype=f64)
    np.testing.assert_allclose(sg.backend.to_numpy(out.array), a @ b)
    check_backward(lambda x, y: x @ y, [a, b], device)


# ---- unary functions ---------------------------------------------------------------------
UNARY = {
    "neg": (lambda x: -x, (-3, 3, None)),
    "exp": (sg.exp, (-3, 3, None)),
    "log": (sg.log, (0.1, 5, None)),
    "sqrt": (sg.sqrt, (0.1, 5, None)),
    "abs": (sg.abs, (-3, 3, 0.0)),
    "pow2": (lambda x: x ** 2, (-3, 3, None)),
    "pow_frac": (lambda x: x ** 1.5, (0.1, 3, None)),
    "clamp": (lambda x: sg.clamp(x, -1.0, 1.5), (-3, 3, None)),
    "relu": (F.relu, (-3, 3, 0.0)),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), (-3, 3, 0.0)),
    "tanh": (F.tanh, (-4, 4, None)),
    "sigmoid": (F.sigmoid, (-8, 8, None)),
    "softplus": (F.softplus, (-8, 8, None)),
    "logsigmoid": (F.logsigmoid, (-8, 8, None)),
}


@pytest.mark.parametrize("name", list(UNARY))
@given(data=st.data(), shape=shapes)
def test_unary_op_gradients(device, name, data, shape):
    fn, (lo, hi, kink) = UNARY[name]
    x = data.draw(arrays(shape, lo, hi, away_from=kink))
    if name == "clamp":  # keep away from both clamp bounds
        x = np.where(np.abs(x + 1.0) < 1e-2, x - 0.05, np.where(np.abs(x - 1.5) < 1e-2, x + 0.05, x))
    check_backward(fn, [x], device)


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "tanh", "sigmoid", "softplus", "logsigmoid", "pow_frac"])
def test_unary_double_backward(device, name):
    fn, (lo, hi, _) = UNARY[name]
    x = np.random.default_rng(2).uniform(lo, hi, size=(3, 2))
    check_double_backward(fn, [x], device)


# ---- reductions --------------------------------------------------------------------------
@st.composite
def array_and_dim(draw, min_dims=1):
    shape = draw(hnp.array_shapes(min_dims=min_dims, max_dims=3, min_side=1, max_side=4))
    dim = draw(st.none() | st.integers(-len(shape), len(shape) - 1))
    keepdim = draw(st.booleans())
    return shape, dim, keepdim


REDUCTIONS = {
    "sum": lambda x, d, k: x.sum(dim=d, keepdim=k),
    "mean": lambda x, d, k: x.mean(dim=d, keepdim=k),
    "max": lambda x, d, k: x.max() if d is None else x.max(dim=d, keepdim=k).values,
    "min": lambda x, d, k: x.min() if d is None else x.min(dim=d, keepdim=k).values,
    "logsumexp": lambda x, d, k: x.logsumexp(dim=d, keepdim=k),
    "var": lambda x, d, k: x.var(dim=d, keepdim=k),
    "std": lambda x, d, k: x.std(dim=d, keepdim=k),
    "norm": lambda x, d, k: x.norm(dim=d, keepdim=k),
}


@pytest.mark.parametrize("name", list(REDUCTIONS))
@given(data=st.data(), spec=array_and_dim())
def test_reduction_gradients(device, name, data, spec):
    shape, dim, keepdim = spec
    if name in ("var", "std") and (np.prod(shape) if dim is None else shape[dim]) < 2:
        return  # the unbiased variance of one element is undefined (torch gives nan too)
    # distinct values (max/min have no ties) and a spread (std is not at 0)
    n = int(np.prod(shape))
    perm = data.draw(st.permutations(range(n)))
    x = (np.array(perm, dtype=f64).reshape(shape) - n / 2) * 0.37 + 0.05
    check_backward(lambda t: REDUCTIONS[name](t, dim, keepdim), [x], device)


def test_reductions_match_numpy(device):
    x = np.random.default_rng(3).standard_normal((3, 4, 5))
    t = sg.tensor(x, dtype=f64, device=device)
    to_np = sg.backend.to_numpy
    np.testing.assert_allclose(to_np(t.sum(dim=1).array), x.sum(1))
    np.testing.assert_allclose(to_np(t.mean(dim=(0, 2), keepdim=True).array), x.mean((0, 2), keepdims=True))
    values, indices = t.max(dim=2)
    np.testing.assert_allclose(to_np(values.array), x.max(2))
    np.testing.assert_array_equal(to_np(indices.array), x.argmax(2))
    np.testing.assert_allclose(to_np(t.std().array), x.std(ddof=1))
    np.testing.assert_allclose(to_np(t.logsumexp(dim=1).array), np.log(np.exp(x).sum(1)))
    np.testing.assert_allclose(to_np(t.norm().array), np.linalg.norm(x.ravel()))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy warns of the empty mean
def test_an_empty_mean_is_nan_and_its_backward_gives_an_empty_gradient():
    # as torch: e.g. a loss over a boolean selection that happens to select nothing (a class absent
    # from a batch); the backward once raised ZeroDivisionError from 1/n
    x = sg.randn(4, 3, requires_grad=True)
    losses = [lambda t: t.mean(), lambda t: F.mse_loss(t, sg.zeros(0, 3)), lambda t: t.var(), lambda t: t.std(),
              lambda t: F.binary_cross_entropy_with_logits(t, sg.ones(0, 3))]
    for f in losses:
        loss = f(x[sg.zeros(4, dtype=sg.bool)])
        assert np.isnan(loss.item())
        x.grad = None
        loss.backward()
        assert x.grad.shape == (4, 3) and np.all(x.grad.numpy() == 0)
    wide = sg.randn(3, 0, requires_grad=True)
    m = wide.mean(dim=1)
    assert m.shape == (3,) and np.all(np.isnan(m.detach().numpy()))
    m.sum().backward()
    assert wide.grad.shape == (3, 0)


def test_logsumexp_is_stable():
    t = sg.tensor([[1000.0, 1000.0], [-1000.0, -1e4]])
    out = t.logsumexp(dim=1).numpy()
    np.testing.assert_allclose(out, [1000 + np.log(2), -1000.0], rtol=1e-6)


def test_norm_gradient_at_zero_is_zero():
    x = sg.zeros(3, requires_grad=True)
    x.norm().backward()
    assert np.all(x.grad.numpy() == 0)


# ---- shape ops ---------------------------------------------------------------------------
@given(data=st.data(), shape=hnp.array_shapes(min_dims=1, max_dims=4, max_side=3))
def test_shape_op_gradients(device, data, shape):
    x = data.draw(arrays(shape))
    perm = data.draw(st.permutations(range(len(shape))))
    check_backward(lambda t: t.permute(*perm) * 2.0, [x], device)
    check_backward(lambda t: t.reshape(-1) * 3.0, [x], device)
    check_backward(lambda t: t.flatten(1 if len(shape) > 1 else 0).exp(), [x], device)
    check_backward(lambda t: t.unsqueeze(0).transpose(0, -1).squeeze() ** 2, [x], device)
    check_backward(lambda t: t.expand(2, *shape) * sg.tensor(np.arange(2.0).reshape((2,) + (1,) * len(shape)),
                                                             dtype=f64, device=device), [x], device)


@given(data=st.data(), shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=2, max_side=4))
def test_indexing_gradients(device, data, shape):
    x = data.draw(arrays(shape))
    check_backward(lambda t: t[1:] * 2.0, [x], device)
    check_backward(lambda t: t[..., ::2].exp(), [x], device)
    idx = np.array(data.draw(st.lists(st.integers(0, shape[0] - 1), min_size=1, max_size=6)))
    # repeated indices: their gradients must add up
    check_backward(lambda t: t[sg.tensor(idx, device=device)] ** 2, [x], device)


@given(data=st.data(), shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=3), n=st.integers(1, 3))
def test_cat_and_stack_gradients(device, data, shape, n):
    xs = [data.draw(arrays(shape)) for _ in range(n)]
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    check_backward(lambda *ts: sg.cat(ts, dim) ** 2, xs, device)
    check_backward(lambda *ts: sg.stack(ts, dim).tanh(), xs, device)
    np.testing.assert_allclose(sg.cat([sg.tensor(a) for a in xs], dim).numpy(), np.concatenate(xs, dim))


def test_linear_gradients(device):
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((5, 3)), rng.standard_normal((2, 3)), rng.standard_normal(2)
    check_backward(F.linear, [x, w, b], device)
    check_backward(F.linear, [rng.standard_normal((2, 4, 3)), w, b], device)  # leading dims flatten into rows
    check_backward(F.linear, [rng.standard_normal(3), w], device)
    check_double_backward(lambda x, w, b: F.linear(x, w, b).tanh(), [x, w, b], device)


def test_double_backward_of_products_and_quotients(device):
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((3, 1)), rng.uniform(0.5, 2, (1, 4))
    check_double_backward(lambda x, y: (x * y) / (y + x * x + 3.0), [a, b], device)
    check_double_backward(lambda x, y: (x @ y).sum(dim=0) ** 2, [a, b], device)
