"""The engine: graph building, accumulation, deep graphs, grad modes, double backprop, errors."""
import sys

import numpy as np
import pytest

import scratchgan as sg
from scratchgan import autograd


def test_deep_graph_has_no_recursion_limit():
    x = sg.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(sys.getrecursionlimit() * 3):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0001 ** (sys.getrecursionlimit() * 3)], rtol=1e-3)


def test_shared_subexpression_gradients_add_up():
    x = sg.tensor([2.0, 3.0], requires_grad=True)
    y = x * x          # used twice below: the engine must sum both paths before going on
    z = (y + y * x).sum()
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), [2 * 2 + 3 * 4, 2 * 3 + 3 * 9])  # d(x² + x³)/dx = 2x + 3x²


def test_leaf_gradients_accumulate_across_backward_calls():
    x = sg.tensor([1.0, -2.0], requires_grad=True)
    (x * 3.0).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3 + 2, 3 - 4])


def test_gradients_of_shared_leaf_are_not_aliased():
    a = sg.tensor([1.0], requires_grad=True)
    b = sg.tensor([1.0], requires_grad=True)
    (a + b).sum().backward()  # both receive the same gradient tensor
    (a * 5.0).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [6.0])
    np.testing.assert_allclose(b.grad.numpy(), [1.0])


def test_no_grad_and_detach_cut_the_graph():
    x = sg.tensor([1.0], requires_grad=True)
    with sg.no_grad():
        y = x * 2
    assert not y.requires_grad and y.is_leaf
    z = (x * 2).detach()
    assert not z.requires_grad
    w = (x * 3 + z).sum()
    w.backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0])


def test_no_grad_is_a_decorator_too():
    @sg.no_grad()
    def f(t):
        return t * 2

    assert not f(sg.tensor([1.0], requires_grad=True)).requires_grad


def test_backward_on_non_scalar_needs_a_gradient():
    x = sg.randn(3, 2, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match=r"scalar outputs.*\(3, 2\)"):
        y.backward()
    y.backward(sg.ones(3, 2))
    np.testing.assert_allclose(x.grad.numpy(), np.full((3, 2), 2.0))


def test_backward_gradient_of_wrong_shape_is_rejected():
    y = sg.randn(3, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"\(2,\).*\(3,\)"):
        y.backward(sg.ones(2))


def test_backward_twice_without_retain_graph_raises():
    x = sg.tensor([1.0], requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()
    z = (x.exp() * 2).sum()
    z.backward(retain_graph=True)
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * 2 * np.exp([1.0]), rtol=1e-6)  # three passes of d(2eˣ) = 2eˣ


def test_backward_on_constant_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        sg.ones(1).sum().backward()


def test_autograd_grad_leaves_dot_grad_alone_and_supports_double_backprop():
    x = sg.tensor([0.5, -1.5], dtype=sg.float64, requires_grad=True)
    y = (x ** 3).sum()
    (g,) = autograd.grad(y, x, create_graph=True)
    assert x.grad is None
    np.testing.assert_allclose(g.detach().numpy(), 3 * x.detach().numpy() ** 2)
    (gg,) = autograd.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), 6 * x.detach().numpy())


def test_gradient_penalty_style_double_backprop():
    """WGAN-GP's ‖∇ₓD(x)‖: the penalty's gradient reaches D's weights."""
    sg.manual_seed(1)
    D = sg.nn.Sequential(sg.nn.Linear(3, 8), sg.nn.Tanh(), sg.nn.Linear(8, 1)).double()
    x = sg.randn(5, 3, dtype=sg.float64, requires_grad=True)
    (gx,) = autograd.grad(D(x).sum(), x, create_graph=True)
    penalty = ((gx.norm(dim=1) - 1.0) ** 2).mean()
    penalty.backward()
    for name, p in D.named_parameters():
        if name == "2.bias":  # ∇ₓD does not depend on the last bias: torch leaves its grad None too
            assert p.grad is None
            continue
        assert p.grad is not None and np.abs(p.grad.numpy()).sum() > 0, name


def test_grad_of_unused_input():
    x, y = sg.randn(2, requires_grad=True), sg.randn(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="not used"):
        autograd.grad((x * 2).sum(), [x, y])
    gx, gy = autograd.grad((x * 2).sum(), [x, y], allow_unused=True)
    assert gy is None and np.allclose(gx.numpy(), 2)


def test_only_float_tensors_require_grad():
    with pytest.raises(RuntimeError, match="floating point"):
        sg.tensor([1, 2], requires_grad=True)


def test_in_place_init_on_leaf_requires_no_grad():
    w = sg.nn.Parameter(sg.zeros(3))
    with pytest.raises(RuntimeError, match="in-place"):
        w.fill_(1.0)
    with sg.no_grad():
        w.fill_(1.0)
    assert w.detach().numpy().tolist() == [1, 1, 1]


def test_numpy_of_a_tensor_that_requires_grad_raises_like_torch():
    with pytest.raises(RuntimeError, match="detach"):
        sg.ones(2, requires_grad=True).numpy()


def test_numpy_array_on_the_left_defers_to_tensor():
    t = sg.ones(2, requires_grad=True)
    out = np.array([1.0, 2.0], dtype=np.float32) * t
    assert isinstance(out, sg.Tensor) and out.requires_grad


def test_float32_stays_float32():
    x = sg.randn(4, 3)
    for y in (x * 2.0, x + 1, x / 3.0, x ** 2, 2.0 - x, x.exp(), x.mean(), sg.tanh(x), x.sum(dim=0)):
        assert y.dtype == np.float32, y


def test_leaf_gradient_has_the_leafs_dtype_in_mixed_precision():
    w = sg.nn.Parameter(sg.ones(3, 2))
    x = sg.randn(4, 3, dtype=sg.float64)
    (x @ w).sum().backward()
    assert w.grad.dtype == np.float32


def test_leaf_grads_are_their_own_writable_memory(device):
    """d(a + b) hands one gradient array to both leaves, and sum's backward is a read-only broadcast
    view: each leaf's .grad must still be its own, so writing into one (clipping, p.grad.mul_) leaves
    the other alone (PyTorch's guarantee)."""
    a = sg.ones(3, device=device, requires_grad=True)
    b = sg.ones(3, device=device, requires_grad=True)
    (a + b).sum().backward()
    a.grad.mul_(2.0)
    b.grad.zero_()
    np.testing.assert_array_equal(sg.backend.to_numpy(a.grad.array), [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(sg.backend.to_numpy(b.grad.array), [0.0, 0.0, 0.0])


# ---- register_hook and retain_grad, as torch ------------------------------------------------------------------------
def test_a_hook_sees_and_may_replace_the_gradient_in_registration_order():
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    seen = []
    h1 = y.register_hook(lambda g: seen.append(g.tolist()))           # returns None: the gradient stays
    y.register_hook(lambda g: g * 10)                                  # replaces it upstream
    (y * y).sum().backward(retain_graph=True)
    assert seen == [[6.0, 12.0]]                                       # d(y²)/dy = 2y
    assert x.grad.tolist() == [180.0, 360.0]                           # 3 · 10 · 2y
    h1.remove()
    x.grad = None
    x.register_hook(lambda g: g + 1)                                   # on a leaf: before .grad
    (y * y).sum().backward()
    assert seen == [[6.0, 12.0]] and x.grad.tolist() == [181.0, 361.0]
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        sg.ones(2).register_hook(lambda g: g)


def test_retain_grad_keeps_a_non_leaf_gradient_after_the_hooks_and_accumulates():
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.retain_grad()
    y.register_hook(lambda g: g * 2)
    assert y.retains_grad and not x.retains_grad
    (y.sum()).backward(retain_graph=True)
    assert y.grad.tolist() == [2.0, 2.0]
    (y.sum()).backward()
    assert y.grad.tolist() == [4.0, 4.0] and x.grad.tolist() == [12.0, 12.0]
    z = x * 2
    (gx,) = autograd.grad(z.sum(), x)                                  # autograd.grad leaves .grad alone
    assert gx.tolist() == [2.0, 2.0] and z.grad is None


# ---- autograd.Function: a hand-written op, as in torch ---------------------------------------------------------
def _make_functions(Function):
    """Custom ops written once for any framework's ``autograd.Function`` (the parity test runs them in torch)."""
    class ScaledCube(Function):  # a non-tensor argument, a saved input, a ctx attribute
        @staticmethod
        def forward(ctx, x, k):
            ctx.save_for_backward(x)
            ctx.k = k
            return x * x * x * k

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x * x * ctx.k, None

    class Exp(Function):  # saves its own output: double backward goes through it
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y

    class MulAndSquare(Function):  # two tensor inputs, two outputs, torch 2's setup_context form
        @staticmethod
        def forward(a, b):
            return a * b, a * a

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(*inputs)

        @staticmethod
        def backward(ctx, g_prod, g_square):
            a, b = ctx.saved_tensors
            return g_prod * b + g_square * 2 * a, g_prod * a

    return ScaledCube, Exp, MulAndSquare


def test_a_custom_function_passes_gradcheck_and_gradgradcheck():
    cube, exp, mul_square = _make_functions(autograd.Function)
    rng = np.random.default_rng(0)
    x, y = (sg.tensor(rng.standard_normal((3, 2)), dtype=sg.float64, requires_grad=True) for _ in range(2))
    for fn, inputs in [(lambda x: cube.apply(x, 2.0), [x]), (exp.apply, [x]), (mul_square.apply, [x, y])]:
        assert autograd.gradcheck(fn, inputs) and autograd.gradgradcheck(fn, inputs)
    out = cube.apply(x, 1.0)
    assert out.grad_fn.name() == "ScaledCubeBackward" and out.requires_grad
    with sg.no_grad():
        assert not cube.apply(x, 1.0).requires_grad


def test_a_custom_function_with_the_wrong_number_of_gradients_says_so():
    class Bad(autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g  # one gradient for two arguments

    x = sg.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Bad.backward returned 1 gradients, expected 2"):
        Bad.apply(x, 3.0).sum().backward()
