"""In-place ops and autograd's safety rules (version counter, leaf rule, rebase), and the gradients
of the new differentiable Tensor methods (first and second order, on every backend)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import scratchgan as sg
import scratchgan.nn as nn
import scratchgan.nn.functional as F
from tests.gradcheck import check_backward, check_double_backward

f64 = np.float64
MODIFIED = "modified by an inplace operation"
LEAF = "a leaf Variable that requires grad is being used in an in-place operation"


def leaf(values, dtype=np.float32):
    return sg.tensor(np.asarray(values, dtype=dtype), requires_grad=True)


def g(t):
    return t.grad.numpy()


# ---- the version counter ----------------------------------------------------------------------------
def test_version_counter_counts_in_place_writes_and_is_shared_by_detach_not_by_data():
    x = sg.zeros(3)
    assert x._version == 0
    x.add_(1)
    x.mul_(2)
    x[0] = 5
    assert x._version == 3
    d = x.detach()
    d.zero_()
    assert x._version == 4 and d._version == 4  # detach(): the same counter
    x.data.fill_(7)  # .data: its own counter, invisible to autograd
    assert x._version == 4
    np.testing.assert_array_equal(x.numpy(), [7, 7, 7])


def test_view_shares_the_counter_and_memory():
    x = sg.zeros(2, 3)
    v = x[0]
    v.fill_(1)  # no graph: a plain write through the view
    assert x._version == 1
    np.testing.assert_array_equal(x.numpy()[0], [1, 1, 1])


# ---- the leaf rule -------------------------------------------------------------------------------
@pytest.mark.parametrize("write", [
    lambda w: w.add_(1), lambda w: w.mul_(2), lambda w: w.zero_(), lambda w: w.normal_(),
    lambda w: w.clamp_(-1, 1), lambda w: w.__setitem__(0, 0.0), lambda w: w.__iadd__(1),
])
def test_in_place_on_a_leaf_that_requires_grad_raises(write):
    w = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=LEAF):
        write(w)
    with sg.no_grad():  # how optimisers, clipping and EMA write
        write(w)
    assert w._version == 1 and w.is_leaf and w.requires_grad


def test_hand_written_sgd_changes_the_parameter_in_place():
    p = leaf([1.0, -2.0])
    (p * p).sum().backward()
    before = p
    with sg.no_grad():
        p -= 0.1 * p.grad
    assert p is before and p._version == 1
    np.testing.assert_allclose(p.detach().numpy(), [0.8, -1.6], rtol=1e-6)
    x = sg.ones(2)
    alias = x
    x += 1
    assert alias is x and x.numpy().tolist() == [2.0, 2.0]


def test_data_writes_change_the_parameter_and_bypass_the_counter():
    lin = nn.Linear(4, 3)
    w = lin.weight
    v0 = w._version  # 1 after the in-place init of reset_parameters, as in PyTorch
    lin.weight.data.normal_(0, 0.02)
    lin.bias.data.zero_()
    assert lin.weight is w and w._version == v0
    assert abs(float(w.detach().numpy().std()) - 0.02) < 0.02 and not lin.bias.detach().numpy().any()
    w.data.clamp_(-0.01, 0.01)
    assert float(abs(w.detach().numpy()).max()) <= 0.01
    w.data = sg.ones(3, 4)
    assert lin.weight is w and w.detach().numpy().sum() == 12


def test_grad_data_zero_and_ema_idiom():
    p = leaf([1.0, 2.0])
    (p * 3).sum().backward()
    p.grad.data.zero_()
    np.testing.assert_array_equal(g(p), [0, 0])
    ema = sg.zeros(2)
    ema.data.mul_(0.9).add_(p.data, alpha=0.1)
    np.testing.assert_allclose(ema.numpy(), [0.1, 0.2], rtol=1e-6)
    ema.lerp_(p.detach(), 0.5)
    np.testing.assert_allclose(ema.numpy(), [0.55, 1.1], rtol=1e-6)


# ---- modified saved tensors: an error at backward, never a wrong gradient ------------------------
@pytest.mark.parametrize("op, name", [(lambda x: x.exp(), "exp"), (lambda x: x.sigmoid(), "sigmoid"),
                                      (lambda x: x.tanh(), "tanh"), (lambda x: x.sqrt(), "sqrt")])
def test_writing_over_a_saved_output_raises_at_backward(op, name):
    x = leaf([0.5, 1.0])
    y = op(x)
    y.add_(1)
    with pytest.raises(RuntimeError, match=rf"{MODIFIED}.*{name}.*version 1; expected version 0"):
        y.sum().backward()


def test_writing_over_a_saved_input_raises_and_through_detach_too():
    a = leaf([1.0, 2.0])
    w = leaf([3.0, 4.0])
    h = a * 1
    z = h * w  # saves h for w's gradient
    h.mul_(2)
    with pytest.raises(RuntimeError, match=rf"{MODIFIED}.*mul"):
        z.sum().backward()
    y = a.sigmoid()
    y.detach().zero_()
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.sum().backward()


def test_no_error_where_the_backward_does_not_read_the_value():
    a = leaf([1.0, 2.0])
    h = a * 1
    y = h + 1  # add saves nothing
    h.add_(1)
    y.sum().backward()
    np.testing.assert_array_equal(g(a), [1, 1])
    x = sg.tensor([1.0, -1.0])
    r = F.relu(leaf([1.0, -2.0]) * x)
    x.add_(1)  # x fed a multiplication whose gradient for the leaf reads x: PyTorch errors too
    with pytest.raises(RuntimeError, match=MODIFIED):
        r.sum().backward()


def test_optimizer_style_write_after_forward_is_detected():
    w = leaf([1.0, 2.0])
    x = sg.tensor([3.0, 4.0], requires_grad=True)
    loss = (x * w).sum()
    with sg.no_grad():
        w.sub_(0.1)  # the weights a step changed; x's gradient would read the new ones
    with pytest.raises(RuntimeError, match=MODIFIED):
        loss.backward()


def test_a_view_read_after_its_base_was_written_follows_the_base():
    a = leaf([1.0, 2.0, 3.0])
    h = a * 1
    v = h[:2]
    z = v.sum()  # consumed before the write: the old values, gradient 1
    h.mul_(2)  # v's values change with h's memory; its next consumer reads h's new node
    (z + v.sum()).backward()
    np.testing.assert_array_equal(g(a), [3, 3, 0])


def test_in_place_through_views_rebases_the_base():
    a = leaf([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    w = leaf([2.0, 3.0, 4.0])
    h = a * 1
    z = h + 0
    h[0] += w  # getitem view, in-place add, then setitem
    h[1].mul_(w)
    h.view(6).relu_()
    ((h * h).sum() + z.sum()).backward()  # values and gradients as PyTorch gives them
    np.testing.assert_array_equal(h.detach().numpy(), [[3, 5, 7], [8, 15, 24]])
    np.testing.assert_array_equal(g(a), [[7, 11, 15], [33, 91, 193]])
    np.testing.assert_array_equal(g(w), [70, 160, 302])
    w2 = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="view of a leaf"):
        w2[:1].zero_()


def test_in_place_on_an_expanded_tensor_raises_pytorchs_error():
    x = sg.ones(3, 1).expand(3, 4)
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        x.add_(1)


# ---- rebase: earlier consumers keep the old value's node ---------------------------------------------
def test_consumer_recorded_before_the_write_sees_the_old_node():
    a = leaf([1.0, 2.0, 3.0])
    w = leaf([4.0, 5.0, 6.0])
    x = a * 1
    z = x + w
    x.mul_(2)
    z.sum().backward()  # dz/da = 1, not 2
    np.testing.assert_array_equal(g(a), [1, 1, 1])
    np.testing.assert_array_equal(g(w), [1, 1, 1])


def test_chain_of_writes_with_consumers_in_between():
    a = leaf([1.0, 2.0], np.float64)
    b = leaf([3.0, -1.0], np.float64)
    x = a * 1
    u1 = x * 1.0  # sees a
    x.mul_(2)
    u2 = x + 0.0  # sees 2a
    x.add_(b)
    x.mul_(3)  # x = 3(2a + b)
    total = (u1 * 1.0 + u2 * 10.0 + x * 100.0).sum()
    total.backward()
    np.testing.assert_allclose(g(a), [1 + 20 + 600] * 2)
    np.testing.assert_allclose(g(b), [300, 300])


def test_in_place_with_an_operand_that_requires_grad_keeps_the_old_value():
    a = leaf([1.0, 2.0])
    w = leaf([3.0, 5.0])
    h = a * 1
    h.mul_(w)
    h.sum().backward()
    np.testing.assert_array_equal(g(a), [3, 5])
    np.testing.assert_array_equal(g(w), [1, 2])
    x = sg.zeros(2)  # a constant that becomes a graph node
    z = x * 1 + 0
    x.add_(w)
    (z.sum() + x.sum()).backward()
    np.testing.assert_array_equal(g(w), [2, 3])


def test_fill_zero_copy_give_zero_gradient_to_the_overwritten_values():
    a = leaf([1.0, 2.0])
    s = leaf([7.0, 8.0])
    h = a * 2
    h.zero_()
    assert h.requires_grad and not h.is_leaf
    (h * 3).sum().backward()
    np.testing.assert_array_equal(g(a), [0, 0])
    a.grad = None
    h = a * 2
    h.copy_(s)
    (h * 3).sum().backward()
    np.testing.assert_array_equal(g(a), [0, 0])
    np.testing.assert_array_equal(g(s), [3, 3])


# ---- setitem ---------------------------------------------------------------------------------------
def test_setitem_int_slice_mask_and_tensor_index():
    a = leaf(np.arange(6.0).reshape(2, 3))
    v = leaf([10.0, 20.0])
    h = a * 1
    h[:, 0] = 0
    h[0, 1] = -1.0
    h[1, 1:] = v
    h.sum().backward()
    np.testing.assert_array_equal(g(a), [[0, 0, 1], [0, 0, 0]])
    np.testing.assert_array_equal(g(v), [1, 1])
    x = sg.tensor([1.0, -2.0, 3.0])
    x[x < 0] = 0
    x[sg.tensor([0, 2])] = sg.tensor([5.0, 6.0])
    np.testing.assert_array_equal(x.numpy(), [5, 0, 6])


def test_setitem_broadcast_value_gets_the_summed_gradient():
    a = leaf(np.ones((3, 4)))
    c = leaf(2.0)
    h = a * 1
    h[1:] = c
    (h * h).sum().backward()
    np.testing.assert_array_equal(g(a), [[2] * 4, [0] * 4, [0] * 4])
    np.testing.assert_allclose(g(c), 2 * 2.0 * 8)


# ---- in-place activations ---------------------------------------------------------------------------
@pytest.mark.parametrize("make, slope", [
    (lambda h: F.relu(h, inplace=True), 0.0), (lambda h: h.relu_(), 0.0), (lambda h: nn.ReLU(inplace=True)(h), 0.0),
    (lambda h: F.leaky_relu(h, 0.2, inplace=True), 0.2), (lambda h: nn.LeakyReLU(0.2, inplace=True)(h), 0.2),
])
def test_in_place_activations_return_the_input_with_the_right_gradient(make, slope):
    x = np.array([[-1.5, 0.5, 2.0], [3.0, -0.25, -4.0]], dtype=np.float32)
    a1, a2 = leaf(x), leaf(x)
    w = sg.tensor(np.arange(6.0, dtype=np.float32).reshape(2, 3))
    h = a1 * 1
    out = make(h)
    assert out is h
    want = F.leaky_relu(a2 * 1, slope) if slope else F.relu(a2 * 1)
    np.testing.assert_allclose(out.detach().numpy(), want.detach().numpy())
    (out * w).sum().backward()
    (want * w).sum().backward()
    np.testing.assert_allclose(g(a1), g(a2))


# ---- comparisons, formatting, conversions -----------------------------------------------------------
def test_comparisons_argmax_and_conversions():
    x = sg.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 7.0]])
    assert (x == 7).dtype == np.bool_ and (x == 7).numpy().tolist() == [[False, False, False], [True, False, True]]
    assert (x != x).numpy().sum() == 0 and x.eq(x).numpy().all()
    assert (x > 1).float().sum().item() == 4.0 and (x <= 1).long().dtype == np.int64
    assert x.argmax().item() == 3 and x.argmax(1).numpy().tolist() == [1, 0]
    assert x.argmin(dim=0, keepdim=True).shape == (1, 3)
    assert (x == None) is False  # noqa: E711 - identity fallback, as PyTorch
    assert len({x, x.detach(), x}) == 2 and x in [x]
    assert f"{x.sum():.2f}" == "22.00" and str(x) == f"{x}"
    with pytest.raises(TypeError):
        f"{x:.2f}"
    assert x.int().dtype == np.int32 and x.bool().dtype == np.bool_ and x.double().dtype == np.float64


def test_legacy_constructors():
    assert sg.FloatTensor(2, 3).shape == (2, 3) and sg.FloatTensor(2, 3).dtype == np.float32
    assert sg.LongTensor(np.array([1, 2])).dtype == np.int64
    assert sg.FloatTensor(np.zeros((2, 1), np.float64)).fill_(1.0).numpy().sum() == 2
    assert sg.Tensor(2, 3).shape == (2, 3)
    x = sg.randn(2)
    assert x.type() == "torch.FloatTensor" and x.type(sg.LongTensor).dtype == np.int64
    assert x.type("torch.DoubleTensor").dtype == np.float64
    assert isinstance(x, sg.FloatTensor) and not isinstance(x, sg.LongTensor)
    v = sg.autograd.Variable(x, requires_grad=True)
    assert v.requires_grad and v.is_leaf and not x.requires_grad
    sg.backends.cudnn.benchmark = True
    assert sg.eye(2, 3).numpy().tolist() == [[1, 0, 0], [0, 1, 0]] and sg.is_tensor(x) and not sg.is_tensor(1)
    assert sg.randn_like(x).shape == (2,) and sg.rand_like(x.double()).dtype == np.float64


# ---- gradients of the new ops (first and second order, every backend) -------------------------------
def arrays(shape, lo=-3.0, hi=3.0):
    return hnp.arrays(f64, shape, elements=st.floats(lo, hi, allow_nan=False, allow_infinity=False, width=64))


small = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)


def both_orders(fn, arrays_, device):
    check_backward(fn, arrays_, device)
    check_double_backward(fn, arrays_, device)


@given(data=st.data(), shape=small)
def test_repeat_and_t_gradients(device, data, shape):
    a = data.draw(arrays(shape))
    reps = data.draw(st.lists(st.integers(1, 3), min_size=len(shape), max_size=len(shape) + 1))
    both_orders(lambda x: (x.repeat(*reps) ** 2), [a], device)
    m = data.draw(arrays(shape[:2]))
    both_orders(lambda x: x.t() * x.t(), [m], device)


@given(data=st.data(), shape=small, r=st.integers(1, 3))
def test_repeat_interleave_gradients(device, data, shape, r):
    a = data.draw(arrays(shape))
    dim = data.draw(st.sampled_from([None] + list(range(len(shape)))))
    both_orders(lambda x: x.repeat_interleave(r, dim=dim) ** 2, [a], device)
    counts = data.draw(hnp.arrays(np.int64, (shape[0],), elements=st.integers(0, 3)))
    both_orders(lambda x: sg.repeat_interleave(x, sg.tensor(counts, device=device), dim=0) ** 2, [a], device)


@given(data=st.data(), shape=small)
def test_chunk_and_split_gradients(device, data, shape):
    a = data.draw(arrays(shape))
    dim = data.draw(st.integers(0, len(shape) - 1))
    k = data.draw(st.integers(1, 4))

    def weigh(pieces):
        return sg.cat([p * float(i + 1) for i, p in enumerate(pieces)], dim) ** 2

    both_orders(lambda x: weigh(x.chunk(k, dim)), [a], device)
    both_orders(lambda x: weigh(x.split(k, dim)), [a], device)


@given(data=st.data(), shape=small)
def test_lerp_gradients(device, data, shape):
    a, b, w = (data.draw(arrays(shape)) for _ in range(3))
    both_orders(lambda x, y, t: sg.lerp(x, y, t) * x, [a, b, w], device)
    both_orders(lambda x, y: x.lerp(y, 0.3) ** 2, [a, b], device)


@given(data=st.data(), shape=small)
def test_setitem_gradients(device, data, shape):
    a = data.draw(arrays(shape))
    v = data.draw(arrays(shape[1:]))

    def put(x, y):
        h = x * x
        h[0] = y * y
        h[(slice(None),) * (len(shape) - 1) + (slice(0, 1),)] = 0.5
        return h * x

    both_orders(put, [a, v], device)

    mask = data.draw(hnp.arrays(np.bool_, shape))

    def put_mask(x):  # a fixed mask: one computed from x would flip under the finite differences
        h = x * 1
        h[sg.tensor(mask, device=device)] = 0
        return h * x

    both_orders(put_mask, [a], device)

    def through_view(x, y):  # x[0] += y: an in-place add on a view, then the setitem
        h = x * x
        h[0] += y
        h.reshape(-1).mul_(2.0)
        return h * x

    both_orders(through_view, [a, v], device)


@given(data=st.data(), shape=small)
def test_in_place_arithmetic_gradients(device, data, shape):
    a = data.draw(arrays(shape))
    b = data.draw(arrays(shape, 0.5, 2.0))

    def chain(x, y):
        h = x * 1
        h.mul_(y)
        h.add_(x, alpha=2.0)
        h.sub_(y)
        h.div_(y)
        h.lerp_(x, 0.25)
        return h * x

    both_orders(chain, [a, b], device)
    c = data.draw(hnp.arrays(f64, shape, elements=st.floats(-3, 3, width=64).filter(lambda v: abs(abs(v) - 1) > 1e-2)))

    def clamped(x):  # inputs kept away from the kinks at ±1
        h = x * x
        h.clamp_(-1.0, 1.0)
        h.pow_(3)
        h.add_(1.0)
        h.sqrt_()
        return h * x

    both_orders(clamped, [c], device)


@given(data=st.data(), shape=small)
def test_masked_fill_gradients(device, data, shape):
    a = data.draw(arrays(shape))
    mask = sg.tensor(data.draw(hnp.arrays(np.bool_, shape[-1:])), device=device)  # broadcasts over x
    both_orders(lambda x: x.masked_fill(mask, 2.0) * x, [a], device)


def test_in_place_on_a_writable_broadcast_view_raises_too(device):
    """CuPy's broadcast views are writable (its flags have no ``writeable``): the zero stride tells."""
    x = sg.ones(3, 1, device=device).expand(3, 4)
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        x.add_(1)
    writable = np.lib.stride_tricks.as_strided(np.ones(1, np.float32), (3, 4), (0, 0))  # what CuPy hands back
    assert writable.flags.writeable
    t = sg.Tensor(writable)
    assert t.array is writable or np.shares_memory(t.array, writable)
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        t.mul_(2)
    np.testing.assert_array_equal(writable, 1)  # nothing was written
