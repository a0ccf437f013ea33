"""The pieces that porting real GAN scripts (tests/test_ported_scripts.py) found missing, one test each."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchgan as sg
import scratchgan.nn as nn
import scratchgan.nn.functional as F
from scratchgan.utils.data import DataLoader, TensorDataset
from tests.gradcheck import check_backward, check_double_backward

f64 = np.float64


# ---- mv, dot, square: matmul/mul compositions, so first and second order gradients come for free -----------------
@given(n=st.integers(1, 4), m=st.integers(1, 4), seed=st.integers(0, 2 ** 16))
def test_mv_dot_square_gradients(device, n, m, seed):
    rng = np.random.default_rng(seed)
    a, v, w = rng.standard_normal((n, m)), rng.standard_normal(m), rng.standard_normal(m)
    np.testing.assert_allclose(sg.mv(sg.tensor(a), sg.tensor(v)).numpy(), a @ v, rtol=1e-12)
    np.testing.assert_allclose(float(sg.tensor(v).dot(sg.tensor(w))), v @ w, rtol=1e-12)
    check_backward(lambda x, y: sg.mv(x, y), [a, v], device)
    check_backward(lambda x, y: x.dot(y), [v, w], device)
    check_backward(lambda x: x.square(), [a], device)
    check_double_backward(lambda x, y: x.mv(y).square(), [a, v], device)


def test_mv_dot_reject_wrong_shapes():
    with pytest.raises(RuntimeError, match="mv: expected a 2-D matrix and a 1-D vector"):
        sg.mv(sg.zeros(2, 3), sg.zeros(3, 1))
    with pytest.raises(RuntimeError, match="dot: expected two 1-D tensors of the same length"):
        sg.dot(sg.zeros(3), sg.zeros(4))


# ---- x.new(...), new_zeros & co. ------------------------------------------------------------------------------------
def test_new_tensors_take_dtype_and_device_from_x(device):
    x = sg.zeros(2, dtype=sg.float64, device=device)
    for t, shape, value in [(x.new(3), (3,), 0), (x.new_zeros(2, 3), (2, 3), 0), (x.new_ones((2,)), (2,), 1),
                            (x.new_full((2, 2), 7.0), (2, 2), 7), (x.new_empty(4), (4,), None),
                            (x.new_tensor([1, 2]), (2,), None), (x.new([1.0, 2.0]), (2,), None)]:
        assert t.shape == shape and t.dtype == np.float64 and t.device == x.device and not t.requires_grad
        if value is not None:
            assert (t.cpu().numpy() == value).all()
    assert x.new_zeros(2, dtype=sg.int64).dtype == np.int64


def test_resize_is_named_as_unsupported():
    with pytest.raises(NotImplementedError, match="resize_ is not supported"):
        sg.zeros(2, 3).data.resize_(4, 3)


# ---- nn.Dropout2d ---------------------------------------------------------------------------------------------------
def test_dropout2d_drops_whole_channels_and_keeps_the_mean():
    sg.manual_seed(0)
    layer = nn.Dropout2d(0.25)
    y = layer(sg.ones(400, 8, 3, 3)).numpy()
    per_channel = y.reshape(400, 8, 9)
    assert np.all(per_channel.min(-1) == per_channel.max(-1))  # one draw per (sample, channel)
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.75)}
    assert abs(y.mean() - 1.0) < 0.05
    layer.eval()
    x = sg.randn(2, 3, 4, 4)
    assert layer(x) is x
    with pytest.raises(ValueError, match="Dropout2d: expected a 3-D"):
        nn.Dropout2d()(sg.zeros(2, 3))


def test_dropout2d_gradient_is_the_mask(device):
    x = sg.ones(4, 5, 2, 2, dtype=sg.float64, device=device, requires_grad=True)
    y = nn.Dropout2d(0.5)(x)
    y.sum().backward()
    np.testing.assert_array_equal(sg.backend.to_numpy(x.grad.array), sg.backend.to_numpy(y.array))


# ---- nn.DataParallel, nn.parallel.data_parallel ----------------------------------------------------------------------
def test_data_parallel_on_one_device():
    import scratchgan.nn.parallel as parallel

    net = nn.Linear(3, 2)
    wrapped = nn.DataParallel(net, device_ids=[0])
    x = sg.randn(4, 3)
    np.testing.assert_array_equal(wrapped(x).detach().numpy(), net(x).detach().numpy())
    np.testing.assert_array_equal(parallel.data_parallel(net, x, None).detach().numpy(), net(x).detach().numpy())
    np.testing.assert_array_equal(nn.parallel.data_parallel(net, x, range(1)).detach().numpy(),
                                  net(x).detach().numpy())
    assert list(wrapped.state_dict()) == ["module.weight", "module.bias"]  # PyTorch's keys
    with pytest.raises(NotImplementedError, match="several devices"):
        nn.DataParallel(net, device_ids=[0, 1])
    with pytest.raises(NotImplementedError, match="data_parallel: several devices"):
        nn.parallel.data_parallel(net, x, range(2))


# ---- iter(DataLoader) has len() --------------------------------------------------------------------------------------
def test_loader_iterator_has_len():
    loader = DataLoader(TensorDataset(sg.arange(10)), batch_size=3)
    it = iter(loader)
    assert len(it) == len(loader) == 4
    assert iter(it) is it
    assert [b[0].shape[0] for b in it] == [3, 3, 3, 1]
    with pytest.raises(StopIteration):
        next(it)


# ---- switches old scripts set ----------------------------------------------------------------------------------------
def test_switches_scripts_set():
    import scratchgan.backends.cudnn as cudnn

    cudnn.benchmark = True
    assert sg.backends.cudnn.benchmark is True
    cudnn.benchmark = False
    sg.cuda.manual_seed_all(0)
    sg.cuda.manual_seed(0)
    sg.cuda.set_device(0)
    with pytest.raises(NotImplementedError, match="set_device"):
        sg.cuda.set_device(1)
    with sg.autograd.profiler.record_function("Gema"):
        pass
    x = sg.ones(2, requires_grad=True)
    with sg.inference_mode():
        assert not (x * 2).requires_grad
    with sg.inference_mode(False):
        assert (x * 2).requires_grad


# ---- log1p, rsqrt, sign, bmm -----------------------------------------------------------------------------------------
def test_log1p_rsqrt_sign_bmm_values_and_gradients(device):
    rng = np.random.default_rng(0)
    x = rng.uniform(0.5, 2.0, (2, 3))
    np.testing.assert_allclose(sg.log1p(sg.tensor(x)).numpy(), np.log1p(x), rtol=1e-12)
    assert float(sg.log1p(sg.tensor([1e-10], dtype=sg.float64))) == pytest.approx(1e-10, rel=1e-9)  # log(1+x) loses it
    np.testing.assert_allclose(sg.tensor(x).rsqrt().numpy(), x ** -0.5, rtol=1e-12)
    np.testing.assert_array_equal(sg.tensor([-2.0, 0.0, 3.0]).sign().numpy(), [-1, 0, 1])
    v = sg.tensor([-1.5, -0.4, 0.5, 2.6])
    for got, want in [(v.round(), [-2, -0, 0, 3]), (sg.floor(v), [-2, -1, 0, 2]), (v.ceil(), [-1, -0, 1, 3])]:
        np.testing.assert_array_equal(got.numpy(), want)  # round: half to even, as torch.round
    check_double_backward(lambda t: sg.log1p(t) + t.rsqrt() + t.sign() * t, [x], device)
    a, b = rng.standard_normal((2, 2, 3)), rng.standard_normal((2, 3, 4))
    np.testing.assert_allclose(sg.bmm(sg.tensor(a), sg.tensor(b)).numpy(), a @ b, rtol=1e-12)
    with pytest.raises(RuntimeError, match="bmm: expected two 3-D tensors"):
        sg.bmm(sg.zeros(2, 3), sg.zeros(3, 2))


# ---- names deliberately left out raise NotImplementedError naming them -----------------------------------------------
@pytest.mark.parametrize("owner,name", [("nn", "Conv3d"), ("nn", "LSTM"), ("nn", "SyncBatchNorm"),
                                        ("sg", "compile"), ("sg", "autocast"), ("sg", "einsum"),
                                        ("cuda", "amp"), ("F", "conv3d")])
def test_unsupported_names_say_so(owner, name):
    module = {"nn": nn, "sg": sg, "cuda": sg.cuda, "F": nn.functional}[owner]
    with pytest.raises(NotImplementedError, match=f"{name}.* is not implemented in scratchgan"):
        getattr(module, name)
    assert not hasattr(module, name)  # still an AttributeError too
    with pytest.raises(AttributeError, match="has no attribute 'NoSuchLayer'"):
        getattr(module, "NoSuchLayer")


# ---- torch.save(model): deliberately unsupported (PyTorch pickles the module) -------------------------------------
def test_saving_a_whole_module_or_optimizer_is_named_as_unsupported(tmp_path):
    model = nn.Linear(2, 1)
    for obj, what in [(model, "whole nn.Module"), (sg.optim.Adam(model.parameters()), "optimizer")]:
        with pytest.raises(NotImplementedError, match=f"whole objects are not supported: obj is an? {what}"):
            sg.save(obj, tmp_path / "m.pt")
        with pytest.raises(TypeError):  # still a TypeError, as for any object a save cannot hold
            sg.save(obj, tmp_path / "m.pt")
    with pytest.raises(TypeError) as info:
        sg.save(object(), tmp_path / "o.pt")
    assert not isinstance(info.value, NotImplementedError)


# ---- add/sub with alpha, and the pre-1.5 order add_(alpha, other) of old EMA code -----------------------------------
def test_add_sub_alpha_and_the_deprecated_order(device):
    x, y = sg.zeros(3, device=device), sg.ones(3, device=device)
    assert (x.add(y, alpha=2).cpu().numpy() == 2).all() and (x.sub(y, alpha=0.5).cpu().numpy() == -0.5).all()
    with pytest.warns(UserWarning, match=r"add_\(Number alpha, Tensor other\) .*deprecated|deprecated.*add_"):
        x.add_(0.5, y)
    with pytest.warns(UserWarning, match="deprecated"):
        x.sub_(0.25, y)
    np.testing.assert_allclose(x.cpu().numpy(), 0.25)
    x.add_(y, alpha=2)
    np.testing.assert_allclose(x.cpu().numpy(), 2.25)
    w = sg.ones(3, requires_grad=True)
    (w.add(w, alpha=3) * 1.0).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), 4.0)  # d(w + 3w) = 4 dw


# ---- mv/dot read their inputs at backward time, as PyTorch's saved tensors do --------------------------------------
def test_mv_dot_backward_sees_a_data_swap_like_pytorch():
    """SN-GAN's power iteration sets ``u.data = ...`` between forward and backward; PyTorch's saved u follows
    the swap (no version bump), so d(u·Wu)/dW = u_new u_newᵀ.  Matching it keeps that script's training equal
    to PyTorch's (tests/test_torch_parity_scripts.py, sngan_own_wrapper)."""
    w = nn.Parameter(sg.tensor([[1.0, 2.0], [3.0, 4.0]]))
    u = nn.Parameter(sg.tensor([1.0, 0.0]), requires_grad=False)
    y = u.dot(w.mv(u))
    u.data = sg.tensor([0.0, 1.0])
    y.backward()
    np.testing.assert_array_equal(w.grad.numpy(), [[0.0, 0.0], [0.0, 1.0]])


# ---- an empty batch goes through as in PyTorch: empty outputs, zero parameter gradients -------------------------------
@pytest.mark.parametrize("layer, shape", [
    (lambda: nn.Conv2d(2, 4, 3, 1, 1), (0, 2, 5, 5)),
    (lambda: nn.Conv2d(32, 32, 4, 2, 1), (0, 32, 8, 8)),  # the Winograd shape
    (lambda: nn.ConvTranspose2d(2, 4, 4, 2, 1), (0, 2, 5, 5)),
    (lambda: nn.Linear(3, 2), (0, 3)),
])
def test_an_empty_batch_gives_zero_weight_gradients(layer, shape):
    # the convolutions' weight gradient once summed no chunks into None and failed in the backward
    m = layer()
    x = sg.randn(*shape, requires_grad=True)
    y = m(x)
    assert y.shape[0] == 0
    y.sum().backward()
    assert x.grad.shape == shape
    for p in m.parameters():
        assert p.grad.shape == p.shape and not p.grad.numpy().any()


def test_batch_norm_on_an_empty_batch_keeps_its_running_estimates():
    # PyTorch: an empty output, zero gradients, running estimates unchanged, the batch still counted
    bn = nn.BatchNorm2d(3)
    bn.running_mean.fill_(0.5)
    x = sg.zeros(0, 3, 2, 2, requires_grad=True)
    bn(x).sum().backward()
    assert bn.running_mean.tolist() == [0.5] * 3 and bn.running_var.tolist() == [1.0] * 3
    assert bn.num_batches_tracked.item() == 1 and bn.weight.grad.tolist() == [0.0] * 3
    with pytest.raises(ValueError, match="expected more than 1 value per channel when training"):
        bn(sg.zeros(1, 3, 1, 1))


# ---- PyTorch's type promotion, not NumPy's ----------------------------------------------------------------------------
@pytest.mark.parametrize("make, dtype", [
    (lambda: sg.ones(3, dtype=sg.int64) + 2.5, sg.float32),                       # a float number: float32
    (lambda: sg.ones(3, dtype=sg.int64) * sg.ones(3), sg.float32),                # the float tensor decides
    (lambda: sg.ones(3) * sg.ones(3, dtype=sg.int64), sg.float32),
    (lambda: sg.ones(3) + sg.tensor(2.5, dtype=sg.float64), sg.float32),          # a 0-d tensor does not upcast
    (lambda: sg.ones(3, dtype=sg.int64) + sg.tensor(2.5, dtype=sg.float64), sg.float64),  # ...unless its category wins
    (lambda: sg.ones(3) + sg.ones(3, dtype=sg.float64), sg.float64),
    (lambda: sg.ones(3, dtype=sg.int64) / sg.ones(3, dtype=sg.int64), sg.float32),  # true division: float32
    (lambda: sg.ones(3, dtype=sg.int64) / 2, sg.float32),
    (lambda: sg.ones(3, dtype=sg.int64) ** 0.5, sg.float32),
    (lambda: 2.0 ** sg.ones(3, dtype=sg.int64), sg.float32),
    (lambda: sg.ones(3, dtype=sg.int64) * np.float64(0.9), sg.float32),          # NumPy numbers count as numbers
    (lambda: sg.ones(3, dtype=sg.int64) < np.float32(2.5), sg.bool),
    (lambda: sg.where(sg.ones(3, dtype=sg.bool), sg.ones(3, dtype=sg.int64), sg.zeros(3)), sg.float32),
    (lambda: sg.cat([sg.ones(2), sg.ones(2, dtype=sg.int64)]), sg.float32),
    (lambda: sg.ones(3, dtype=sg.int64).exp(), sg.float32),                       # float functions of integers
    (lambda: sg.sigmoid(sg.ones(3, dtype=sg.int64)), sg.float32),
    (lambda: sg.ones(3, dtype=sg.int64).sqrt(), sg.float32),
    (lambda: sg.ones(3, dtype=sg.int64).clamp(0.5, 2), sg.float32),
    (lambda: sg.ones(3, dtype=sg.int64).clamp(0, 2), sg.int64),
    (lambda: sg.ones(3).clamp(np.float64(0.5)), sg.float32),
    (lambda: sg.full((3,), 1), sg.int64),                                          # full's dtype from its value
    (lambda: sg.full((3,), True), sg.bool),
    (lambda: sg.full((3,), 1.0), sg.float32),
])
def test_mixed_dtypes_promote_as_in_pytorch(make, dtype):
    # NumPy would give float64 in most of these, and a ported model would drift into float64
    assert make().dtype == dtype


def test_a_promoted_operand_still_gets_its_gradient_in_its_own_dtype():
    x = sg.ones(3, requires_grad=True)
    y = x * sg.full((3,), 2.0, dtype=sg.float64)
    assert y.dtype == sg.float64
    y.sum().backward()
    assert x.grad.dtype == sg.float32 and x.grad.tolist() == [2.0] * 3


def test_a_module_registered_twice_is_one_child_and_apply_visits_it_once():
    # as torch: named_children dedupes by identity, so apply (weights_init, say) draws once per module
    m = nn.Module()
    m.a = nn.Linear(3, 4)
    m.b = m.a
    m.c = nn.Linear(4, 1)
    assert [n for n, _ in m.named_children()] == ["a", "c"]
    visits = []
    m.apply(lambda mod: visits.append(type(mod).__name__))
    assert visits == ["Linear", "Linear", "Module"]


def test_softplus_takes_torchs_beta_and_threshold():
    # softplus(x, β, t) = log(1 + e^(βx))/β, and x where βx > t; values from torch 2.13
    x = sg.tensor([-5.0, 0.0, 0.3, 9.9, 10.1], dtype=sg.float64, requires_grad=True)  # 2·10.1 > 20: x itself
    y = nn.functional.softplus(x, beta=2.0, threshold=20.0)
    expected = np.log1p(np.exp(2 * np.array([-5.0, 0.0, 0.3, 9.9, 0.0]))) / 2
    expected[-1] = 10.1
    np.testing.assert_allclose(y.detach().numpy(), expected, rtol=1e-12)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy()[:4], 1 / (1 + np.exp(-2 * np.array([-5.0, 0.0, 0.3, 9.9]))), rtol=1e-12)
    assert x.grad.numpy()[4] == 1.0
    assert repr(nn.Softplus(2.0)) == "Softplus(beta=2.0, threshold=20.0)"


def test_dropout_inplace_writes_into_its_input_with_the_same_values_and_gradient():
    outs = []
    for inplace in (False, True):
        sg.manual_seed(0)
        x = sg.randn(4, 6, requires_grad=True)
        h = x * 1
        y = nn.Dropout(0.5, inplace=inplace)(h)
        assert (y is h) == inplace
        y.sum().backward()
        outs.append((y.detach().numpy().copy(), x.grad.numpy().copy()))
    assert all(np.array_equal(a, b) for a, b in zip(*outs))
    assert repr(nn.Dropout(0.3, inplace=True)) == "Dropout(p=0.3, inplace=True)"
    z = sg.randn(2, 3, 4, 4)
    assert nn.Dropout2d(0.5, inplace=True)(z) is z


# ---- value checks and a few more torch functions: isnan/all/any, flip, nan_to_num, amax, bernoulli, normal ---------
def test_a_training_loop_can_ask_whether_the_loss_went_nan():
    loss = sg.tensor([0.5, float("nan")])
    assert bool(sg.isnan(loss).any()) and not bool(loss.isfinite().all())
    assert sg.isinf(sg.tensor([float("-inf")])).tolist() == [True]
    assert sg.allclose(sg.ones(2), sg.ones(2) + 1e-9) and sg.equal(sg.ones(2), sg.ones(2))
    assert sg.logical_and(sg.tensor([True, True]), sg.tensor([True, False])).tolist() == [True, False]
    x = sg.ones(2, 3)
    assert x.nelement() == 6 and x.is_floating_point() and not x.long().is_floating_point()


def test_flip_nan_to_num_and_amax_with_their_gradients():
    x = sg.tensor([[1.0, 5.0, 5.0], [2.0, 0.0, -1.0]], requires_grad=True)
    (sg.flip(x, [1]) * sg.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])).sum().backward()
    assert x.grad.tolist() == [[3.0, 2.0, 1.0], [0.0, 0.0, 0.0]]                # flip is its own adjoint
    x.grad = None
    sg.amax(x, 1).sum().backward()                                                # ties share: 5 and 5 get ½ each
    assert x.grad.tolist() == [[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]]
    y = sg.tensor([1.0, float("nan"), float("inf")], requires_grad=True)
    z = y.nan_to_num(posinf=9.0)
    assert z.tolist() == [1.0, 0.0, 9.0]
    z.sum().backward()
    assert y.grad.tolist() == [1.0, 0.0, 0.0]                                     # only where y was finite


def test_bernoulli_and_normal_draw_from_the_seeded_generator():
    sg.manual_seed(0)
    a = sg.bernoulli(sg.full((1000,), 0.9))
    sg.manual_seed(0)
    assert sg.equal(a, sg.bernoulli(sg.full((1000,), 0.9))) and 850 < a.sum().item() < 950
    n = sg.normal(2.0, 0.5, size=(4000,))
    assert n.shape == (4000,) and abs(n.mean().item() - 2.0) < 0.05 and abs(n.std().item() - 0.5) < 0.05
    mean = sg.zeros(3, requires_grad=True)
    sg.normal(mean, 1.0).sum().backward()                                         # d/dmean = 1, as torch
    assert mean.grad.tolist() == [1.0, 1.0, 1.0]
    assert sg.empty_like(sg.ones(2, 3, dtype=sg.float64)).dtype == sg.float64


def test_one_hot_by_scatter_topk_sort_and_cumsum_as_torch():
    # values written out from torch 2.13; their gradients are in tests/test_gradcheck.py's table
    one_hot = sg.zeros(3, 4).scatter_(1, sg.tensor([2, 0, 3]).view(3, 1), 1)   # older cGAN scripts' labels
    assert one_hot.tolist() == [[0, 0, 1, 0], [1, 0, 0, 0], [0, 0, 0, 1]]
    x = sg.tensor([[1.0, 5.0, 3.0, 5.0], [4.0, 2.0, 6.0, 0.0]])
    values, indices = sg.topk(x, 2, dim=1)                                      # top-k generator updates
    assert values.tolist() == [[5.0, 5.0], [6.0, 4.0]] and indices.tolist() == [[1, 3], [2, 0]]
    assert sg.sort(x, 1).indices.tolist() == [[0, 2, 1, 3], [3, 1, 0, 2]]
    assert sg.cumsum(sg.tensor([1, 2, 3]), 0).tolist() == [1, 3, 6]
    assert sg.gather(x, 1, sg.tensor([[3], [2]])).tolist() == [[5.0], [6.0]]
    with pytest.raises(RuntimeError, match=r"topk: k \(5\) out of range"):
        sg.topk(x, 5)


# ---- the next names ported code reaches for: selections, products, rng state, tensor introspection -----------
def test_sort_descending_is_right_for_bool_unsigned_and_nan():
    # the old descending sort sorted -x: a bool tensor came out ascending, and an unsigned 0 (−0 = 0) last;
    # torch puts NaN first when descending (written out from torch 2.13)
    assert sg.sort(sg.tensor([True, False, True]), descending=True).values.tolist() == [True, True, False]
    assert sg.sort(sg.tensor([0, 3, 2], dtype=sg.uint8), descending=True).values.tolist() == [3, 2, 0]
    s = sg.sort(sg.tensor([1.0, float("nan"), 3.0, 1.0]), descending=True)
    assert np.isnan(s.values[0].item()) and s.values[1:].tolist() == [3.0, 1.0, 1.0]
    assert s.indices.tolist() == [1, 2, 0, 3]                                     # ties keep their order
    assert sg.topk(sg.tensor([0, 7, 1], dtype=sg.uint8), 2).values.tolist() == [7, 1]


def test_prod_at_a_zero_has_the_exact_gradient_and_refuses_a_second_derivative():
    x = sg.tensor([[2.0, 0.0, 3.0], [0.0, 0.0, 5.0]], dtype=sg.float64, requires_grad=True)
    sg.prod(x, 1).sum().backward()
    assert x.grad.tolist() == [[0.0, 6.0, 0.0], [0.0, 0.0, 0.0]]                 # d/dx_i = product of the others
    assert sg.prod(sg.tensor([[1, 2], [3, 4]])).item() == 24 and sg.prod(sg.tensor([True, True])).dtype == sg.int64
    (g,) = sg.autograd.grad(sg.prod(x), x, create_graph=True)
    with pytest.raises(RuntimeError, match="prod: the second derivative at an input that holds a zero"):
        g.sum().backward()
    with pytest.raises(TypeError, match="prod: dim must be one int"):
        sg.prod(x, (0, 1))


def test_selections_move_values_and_send_gradients_back():
    x = sg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    y = sg.index_select(x, 1, sg.tensor([2, 0, 2]))
    assert y.tolist() == [[3.0, 1.0, 3.0], [6.0, 4.0, 6.0]]
    y.sum().backward()
    assert x.grad.tolist() == [[1.0, 0.0, 2.0], [1.0, 0.0, 2.0]]               # a repeated column gets both
    assert sg.masked_select(x, x > 3.5).tolist() == [4.0, 5.0, 6.0]
    assert sg.masked_select(x, sg.tensor([True, False, True])).tolist() == [1.0, 3.0, 4.0, 6.0]  # broadcast
    assert x.narrow(1, -2, 2).tolist() == [[2.0, 3.0], [5.0, 6.0]] and [r.tolist() for r in x.unbind()] == x.tolist()
    assert sg.roll(x, 1, 1).tolist() == [[3.0, 1.0, 2.0], [6.0, 4.0, 5.0]] and sg.roll(x, -1).tolist()[1] == [5.0, 6.0, 1.0]
    assert sg.tril(x).tolist() == [[1.0, 0.0, 0.0], [4.0, 5.0, 0.0]] and x.triu(1).tolist() == [[0.0, 2.0, 3.0], [0.0, 0.0, 6.0]]
    assert sg.movedim(sg.zeros(2, 3, 4), 0, -1).shape == (3, 4, 2) and sg.zeros(2, 3).swapaxes(0, 1).shape == (3, 2)
    counts = sg.zeros(4).scatter_add_(0, sg.tensor([1, 3, 1, 1]), sg.ones(4))   # a histogram of labels
    assert counts.tolist() == [0.0, 3.0, 0.0, 1.0]
    assert sg.nonzero(sg.tensor([[0, 1], [2, 0]])).tolist() == [[0, 1], [1, 0]]
    values, inverse, n = sg.unique(sg.tensor([3, 1, 3, 2]), return_inverse=True, return_counts=True)
    assert (values.tolist(), inverse.tolist(), n.tolist()) == ([1, 2, 3], [2, 0, 2, 1], [1, 1, 2])


@pytest.mark.parametrize("call, message", [
    (lambda x: sg.index_select(x, 0, sg.tensor([[0]])), r"index_select: index must be a 1-D integer tensor, got shape \(1, 1\)"),
    (lambda x: sg.index_select(x, 0, sg.tensor([0.0])), "index_select: index must be a 1-D integer tensor"),
    (lambda x: sg.masked_select(x, sg.tensor([1, 0, 1])), "masked_select: mask must be a bool tensor, got dtype int64"),
    (lambda x: sg.narrow(x, 1, 2, 2), r"narrow: start \(2\) \+ length \(2\) exceeds dimension 1 of size 3"),
    (lambda x: sg.tril(x[0]), r"tril: the input must have at least 2 dimensions, got shape \(3,\)"),
    (lambda x: sg.mm(x, x[0]), r"mm: expected two 2-D tensors, got shapes \(2, 3\) and \(3,\)"),
    (lambda x: sg.outer(x, x[0]), "outer: expected two 1-D tensors"),
    (lambda x: sg.roll(x, (1, 2), 0), "roll: shifts and dims must have the same length, got 2 and 1"),
    (lambda x: sg.movedim(x, (0, 0), (0, 1)), "movedim: source"),
])
def test_selections_and_products_name_bad_arguments(call, message):
    with pytest.raises((IndexError, TypeError, RuntimeError), match=message):
        call(sg.ones(2, 3))


def test_the_rng_state_is_a_uint8_tensor_that_survives_a_checkpoint(tmp_path):
    sg.manual_seed(5)
    assert sg.initial_seed() == 5
    state = sg.get_rng_state()
    assert state.dtype == sg.uint8 and state.ndim == 1
    first = sg.randn(4)
    sg.save({"rng": state}, tmp_path / "ckpt.pt")
    sg.set_rng_state(sg.load(tmp_path / "ckpt.pt")["rng"])
    assert sg.equal(sg.randn(4), first)
    g = sg.Generator().manual_seed(1)
    gs = g.get_state()
    a = sg.randn(3, generator=g)
    assert sg.equal(sg.randn(3, generator=g.set_state(gs)), a)
    with pytest.raises(TypeError, match="set_rng_state: expected the uint8 tensor that get_rng_state returned"):
        sg.set_rng_state(sg.zeros(3))
    with pytest.raises(ValueError, match="not a scratchgan generator state"):
        sg.set_rng_state(sg.tensor([1, 2, 3], dtype=sg.uint8))
    assert sg.seed() == sg.initial_seed()
    sg.manual_seed(0)


def test_tensor_introspection_and_the_default_dtype():
    x = sg.ones(2, 3, requires_grad=True)
    assert x.grad_fn is None and (x * 2).grad_fn.name() == "MulBackward" and x.detach().grad_fn is None
    assert x.stride() == (3, 1) and x.t().stride() == (1, 3) and x.stride(0) == 3
    assert x.is_contiguous() and not x.t().is_contiguous() and x.t().contiguous().is_contiguous()
    assert (x.element_size(), x.itemsize, x.nbytes, x.ndimension()) == (4, 4, 24, 2)
    assert sg.get_default_dtype() == sg.float32 and sg.numel(x) == 6 and sg.detach(x).requires_grad is False
    sg.set_default_dtype(sg.float32)
    with pytest.raises(NotImplementedError, match=r"set_default_dtype\(float64\) is not supported in scratchgan"):
        sg.set_default_dtype(sg.float64)
    sg.manual_seed(0)
    flips = sg.zeros(2000).bernoulli_(0.1)
    assert set(flips.unique().tolist()) == {0.0, 1.0} and 150 < flips.sum().item() < 250
    assert sg.isclose(sg.tensor([1.0, 2.0]), sg.tensor([1.0 + 1e-9, 2.1])).tolist() == [True, False]


# ---- the layers of image-to-image and super-resolution GAN scripts (CycleGAN, pix2pix, SRGAN, MUNIT) -----------
def test_max_pool_sends_the_gradient_to_the_first_maximum_and_returns_torchs_indices():
    x = sg.tensor([[[[1.0, 3.0, 3.0, 0.0], [2.0, 0.0, 1.0, 4.0], [5.0, 5.0, 0.0, 0.0]]]], requires_grad=True)
    y, idx = nn.MaxPool2d(2, return_indices=True)(x)                             # the last row is cut off
    assert y.tolist() == [[[[3.0, 4.0]]]] and idx.tolist() == [[[[1, 7]]]]      # flat h·W + w, as torch
    y.sum().backward()
    assert x.grad.tolist() == [[[[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0]]]]
    padded = nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)(x)            # padding never wins
    assert padded.tolist() == [[[[3.0, 4.0, 4.0], [5.0, 5.0, 4.0]]]]  # 2×3 windows (ceil_mode)
    assert np.isnan(F.max_pool2d(sg.tensor([[[1.0, float("nan")]]]), (1, 2)).item())  # NaN propagates
    dilated = F.max_pool2d(sg.arange(16.0).view(1, 1, 4, 4), 2, 1, dilation=2)   # reads rows/cols 0 and 2, 1 and 3
    assert dilated.tolist() == [[[[10.0, 11.0], [14.0, 15.0]]]]


def test_adaptive_average_pooling_uses_torchs_overlapping_bins():
    x = sg.arange(5.0).view(1, 1, 1, 5)
    assert nn.AdaptiveAvgPool2d((1, 3))(x).tolist() == [[[[0.5, 2.0, 3.5]]]]    # bins [0,2), [1,4), [3,5)
    assert nn.AdaptiveAvgPool2d(1)(sg.ones(2, 3, 4, 4)).shape == (2, 3, 1, 1)
    assert nn.AdaptiveAvgPool2d((None, 2))(sg.ones(3, 4, 6)).shape == (3, 4, 2)


def test_padding_pixel_shuffle_and_activation_layers():
    x = sg.arange(6.0).view(1, 1, 2, 3)
    assert nn.ReflectionPad2d((1, 1, 0, 0))(x).tolist() == [[[[1.0, 0.0, 1.0, 2.0, 1.0], [4.0, 3.0, 4.0, 5.0, 4.0]]]]
    assert nn.ZeroPad2d((1, 0, 0, 1))(x).shape == (1, 1, 3, 4) and nn.ReplicationPad2d(1)(x)[0, 0, 0, 0].item() == 0.0
    assert nn.ConstantPad2d(1, -1.0)(x)[0, 0, 0].tolist() == [-1.0] * 5
    s = sg.arange(8.0).view(1, 8, 1, 1)
    assert nn.PixelShuffle(2)(s).tolist() == [[[[0.0, 1.0], [2.0, 3.0]], [[4.0, 5.0], [6.0, 7.0]]]]
    assert sg.equal(nn.PixelUnshuffle(2)(nn.PixelShuffle(2)(s)), s)
    with pytest.raises(ValueError, match=r"pixel_shuffle: input of shape \(1, 3, 1, 1\) does not divide"):
        F.pixel_shuffle(sg.ones(1, 3, 1, 1), 2)
    p = nn.PReLU(2)
    assert list(p.state_dict()) == ["weight"] and p.weight.tolist() == [0.25, 0.25]
    assert p(sg.tensor([[-4.0, 2.0], [1.0, -8.0]])).tolist() == [[-1.0, 2.0], [1.0, -2.0]]
    with pytest.raises(ValueError, match="prelu: weight has 2 slopes but the input has 3 channels"):
        p(sg.ones(1, 3))
    h = sg.tensor([-1.0, 2.0], requires_grad=True) * 1.0
    out = nn.SiLU(inplace=True)(h)
    assert out is h
    out.sum().backward()                                                         # the graph read a clone
    assert abs(nn.ELU()(sg.tensor([-1e-8])).item() + 1e-8) < 1e-15             # expm1 keeps small x's digits
    assert repr(nn.GELU()) == "GELU(approximate='none')"


@pytest.mark.parametrize("norm", [lambda: nn.InstanceNorm2d(3), lambda: nn.LayerNorm([3, 4, 4]), lambda: nn.GroupNorm(1, 3)])
def test_an_in_place_activation_after_a_norm_layer_trains_as_out_of_place(norm):
    # CycleGAN's and pix2pix's blocks: InstanceNorm2d then LeakyReLU(0.2, inplace=True).  The norm's backward
    # read its own output, which the activation had overwritten: a version error torch does not raise
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 4))
    grads = []
    for inplace in (False, True):
        sg.manual_seed(0)
        block = nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), norm(), nn.LeakyReLU(0.2, inplace=inplace))
        xt = sg.tensor(x, requires_grad=True)
        (block(xt) ** 2).sum().backward()
        grads.append([xt.grad.numpy()] + [p.grad.numpy() for p in block.parameters()])
    for a, b in zip(*grads):
        np.testing.assert_array_equal(a, b)


def test_the_ported_ops_run_on_every_backend(device):
    # the paths the gradcheck table does not reach (no gradient, or a branch of their own) on each backend, each
    # against its CPU result: prod's gradient at a zero, nonzero, unique, masked_select with a device mask,
    # scatter_add_, a descending sort of bools, the random fills, max pooling's NaN and padding rules
    x = np.array([[2.0, 0.0, 3.0], [1.0, -1.0, 1.0]])

    def run(dev):
        t = sg.tensor(x, device=dev, requires_grad=True)
        sg.prod(t, 1).sum().backward()
        out = [t.grad, sg.nonzero(t.detach()), *sg.unique(t.detach(), return_inverse=True, return_counts=True),
               sg.masked_select(t.detach(), sg.tensor([True, False, True], device=dev)),
               sg.zeros(4, device=dev).scatter_add_(0, sg.tensor([1, 3, 1], device=dev), sg.ones(3, device=dev)),
               sg.sort(sg.tensor([False, True, True], device=dev), descending=True).indices,
               F.max_pool2d(sg.tensor([[[[1.0, float("nan")], [2.0, -1.0]]]], device=dev), 2, 1, 1),
               sg.roll(t.detach(), 1), sg.tril(t.detach()), t.detach().diagonal(), sg.cumsum(t.detach(), 1)]
        sg.manual_seed(3)
        out += [sg.zeros(5, device=dev).bernoulli_(0.5), sg.zeros(5, device=dev).random_(4)]
        return [o.to("cpu").numpy() for o in out]

    for got, want in zip(run(device), run("cpu")):
        np.testing.assert_array_equal(got, want)


def test_reductions_of_a_0d_tensor_over_its_virtual_dim_and_dim_empty_as_torch():
    # a scalar loss reduced "over dim 0" (torch: itself), and dim=() meaning every dim (values from torch 2.13)
    loss = sg.tensor(1.5, requires_grad=True)
    parts = [sg.sum(loss, 0), loss.mean(-1), sg.logsumexp(loss, 0), sg.max(loss, 0).values, sg.cumsum(loss, 0),
             loss.norm(dim=0), sg.prod(loss, 0), loss.squeeze(0), sg.flip(loss, (0,))]
    assert all(p.shape == () and p.item() == 1.5 for p in parts)
    sum(parts).backward()
    assert loss.grad.item() == pytest.approx(9.0)
    x = sg.tensor([[1.0, 2.0], [3.0, 6.0]])
    assert (x.sum(()).item(), x.mean(()).item(), x.var(()).item()) == (12.0, 3.0, pytest.approx(14.0 / 3))
    with pytest.raises(IndexError, match="dimension 1 out of range for a tensor with 0 dimensions"):
        sg.sum(loss, 1)


def test_masks_combine_with_and_or_xor_not_and_meshgrid_makes_grids():
    x = sg.tensor([-1.0, 0.5, 2.0])
    inside = (x > 0) & (x < 1)
    assert inside.tolist() == [False, True, False] and (~inside).tolist() == [True, False, True]
    assert ((x < 0) | (x > 1)).tolist() == [True, False, True] and ((x > 0) ^ (x > 1)).tolist() == [False, True, False]
    assert (sg.tensor([6, 3]) & 5).tolist() == [4, 1] and (~sg.tensor([0], dtype=sg.int64)).tolist() == [-1]
    gi, gj = sg.meshgrid(sg.arange(2), sg.arange(3), indexing="ij")
    assert gi.tolist() == [[0, 0, 0], [1, 1, 1]] and gj.tolist() == [[0, 1, 2], [0, 1, 2]]
    assert sg.meshgrid(sg.arange(2), sg.arange(3), indexing="xy")[0].shape == (3, 2)
    with pytest.warns(UserWarning, match="required to pass the indexing argument"):
        sg.meshgrid(sg.arange(2), sg.arange(3))


@pytest.mark.filterwarnings("ignore:invalid value encountered")  # NumPy's note on 0·inf inside the kept taps
def test_inf_and_nan_stay_where_torch_keeps_them_and_gradients_at_zero_follow_torch():
    # values written out from torch 2.13
    img = np.zeros((1, 1, 4, 4))
    img[0, 0, 0, 0] = np.inf
    up = F.interpolate(sg.tensor(img), scale_factor=2, mode="bilinear")[0, 0].numpy()
    assert np.isfinite(up[3:, 3:]).all() and not np.isfinite(up[0, 0])           # far pixels never read the inf
    pooled = nn.AdaptiveAvgPool2d(2)(sg.tensor(img))[0, 0].numpy()
    assert np.isinf(pooled[0, 0]) and (pooled.ravel()[1:] == 0).all()
    x = sg.tensor([[[[np.nan, 1.0], [3.0, np.nan]]]], requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    assert x.grad.tolist() == [[[[0.0, 0.0], [0.0, 1.0]]]]                       # the last NaN wins, as torch
    assert F.max_pool2d(sg.zeros(0, 1, 3, 3), 2).shape == (0, 1, 1, 1)
    z = sg.tensor([0.0, float("nan"), -1.0], requires_grad=True)
    F.elu(z, alpha=0.5).sum().backward()
    assert z.grad.tolist()[0] == 0.5 and z.grad.tolist()[1] == 1.0              # α at 0; 1 at NaN
    z.grad = None
    F.prelu(z, sg.tensor([0.2])).sum().backward()
    assert z.grad.tolist() == pytest.approx([0.2, 0.2, 0.2])                     # the slope at 0 (and NaN)



def test_smooth_l1_huber_kl_and_cosine_as_torch():
    # values written out from torch 2.13
    x, y = sg.tensor([0.0, 0.5, 3.0]), sg.tensor([0.0, 0.0, 0.0])
    assert F.smooth_l1_loss(x, y, reduction="none").tolist() == [0.0, 0.125, 2.5]
    assert F.huber_loss(x, y, reduction="none", delta=2.0).tolist() == [0.0, 0.125, 4.0]
    assert nn.SmoothL1Loss(beta=0.0)(x, y).item() == pytest.approx(3.5 / 3)            # β = 0 is L1
    logp = sg.log(sg.tensor([[0.5, 0.25, 0.25]]))
    target = sg.tensor([[0.0, 0.5, 0.5]])
    assert F.kl_div(logp, target, reduction="batchmean").item() == pytest.approx(np.log(2.0))  # 0·log 0 = 0
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        F.kl_div(logp, target)
    a, b = sg.tensor([[1.0, 0.0], [1.0, 1.0]]), sg.tensor([[2.0, 0.0], [0.0, 3.0]])
    assert F.cosine_similarity(a, b).tolist() == pytest.approx([1.0, 0.5 ** 0.5])
    assert F.pairwise_distance(a, b, eps=0.0).tolist() == pytest.approx([1.0, 5.0 ** 0.5])
    with pytest.raises(ValueError, match="smooth_l1_loss: target shape"):
        F.smooth_l1_loss(x, y[:2])


@pytest.mark.parametrize("align_corners", [False, True])
def test_an_identity_affine_grid_samples_the_image_back_and_a_shift_moves_it(device, align_corners):
    x = sg.tensor(np.arange(20.0).reshape(1, 1, 4, 5), device=device)
    identity = sg.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]], device=device, requires_grad=True)
    grid = F.affine_grid(identity, (1, 1, 4, 5), align_corners=align_corners)
    back = F.grid_sample(x, grid, align_corners=align_corners)
    np.testing.assert_allclose(back.to("cpu").detach().numpy(), x.to("cpu").numpy(), atol=1e-5)
    back.sum().backward()
    assert identity.grad is not None and identity.grad.shape == (1, 2, 3)      # the spatial transformer learns θ
    step = 2.0 / (5 - 1) if align_corners else 2.0 / 5                          # one pixel in x, normalised
    shift = sg.tensor([[[1.0, 0.0, step], [0.0, 1.0, 0.0]]], device=device)
    moved = F.grid_sample(x, F.affine_grid(shift, (1, 1, 4, 5), align_corners=align_corners),
                          align_corners=align_corners).to("cpu").numpy()
    np.testing.assert_allclose(moved[0, 0, :, :4], x.to("cpu").numpy()[0, 0, :, 1:], atol=1e-5)
    assert np.allclose(moved[0, 0, :, 4], 0.0, atol=1e-5)                        # read from outside: zeros


def test_grid_sample_errors_and_its_default_warning():
    x, grid = sg.zeros(1, 1, 3, 3), sg.zeros(1, 2, 2, 2)
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
        F.grid_sample(x, grid)
    with pytest.raises(ValueError, match="padding_mode must be 'zeros', 'border' or 'reflection', got 'mirror'"):
        F.grid_sample(x, grid, padding_mode="mirror", align_corners=False)
    # pixels 0, 1, 2 at x = −1, 0, 1: x = 2 mirrors at 1 to x = 0 (value 1), x = 3 folds twice back to −1 (value 0)
    img = sg.arange(3.0).view(1, 1, 1, 3)
    far = sg.tensor([[[[2.0, 0.0], [3.0, 0.0], [1.5, 0.0]]]])
    assert F.grid_sample(img, far, padding_mode="reflection", align_corners=True).tolist() == [[[[1.0, 0.0, 1.5]]]]
    with pytest.raises(ValueError, match=r"expected input \(N, C, H, W\) and grid \(N, Ho, Wo, 2\)"):
        F.grid_sample(x, sg.zeros(1, 2, 2, 3), align_corners=False)
    with pytest.raises(ValueError, match=r"expected theta of shape \(N, 2, 3\)"):
        F.affine_grid(sg.zeros(1, 3, 3), (1, 1, 2, 2), align_corners=False)


def test_a_sequential_is_edited_in_place_and_its_slices_keep_their_names():
    s = nn.Sequential(nn.Linear(1, 2), nn.ReLU(), nn.Linear(2, 3), nn.Tanh())
    assert list(s[2:4].state_dict()) == ["2.weight", "2.bias"]                  # torch keeps the names
    s[-1] = nn.Sigmoid()                                                         # swap the output activation
    assert isinstance(s[3], nn.Sigmoid)
    del s[1]
    assert [type(m).__name__ for m in s] == ["Linear", "Linear", "Sigmoid"] and list(s._modules) == ["0", "1", "2"]
    assert all(getattr(s, str(i)) is m for i, m in enumerate(s)) and not hasattr(s, "3")  # no stale attributes
    s.insert(1, nn.LeakyReLU(0.2))
    assert isinstance(s.pop(1), nn.LeakyReLU) and len(s) == 3
    with pytest.raises(IndexError, match="index 5 is out of range for a Sequential of 3 modules"):
        s[5] = nn.ReLU()


def test_more_activations_follow_torch_at_their_corners_and_differentiate_twice():
    # gradients at the corners written out from torch 2.13
    x = sg.tensor([-3.0, 0.0, 3.0, 6.0], dtype=sg.float64, requires_grad=True)
    for fn, want in [(F.hardswish, [0.0, 0.5, 1.0, 1.0]), (F.relu6, [0.0, 0.0, 1.0, 0.0]),
                     (F.hardsigmoid, [0.0, 1 / 6, 0.0, 0.0]), (F.hardtanh, [0.0, 1.0, 0.0, 0.0])]:
        x.grad = None
        fn(x).sum().backward()
        assert x.grad.tolist() == pytest.approx(want), fn.__name__
    assert nn.GLU(1)(sg.ones(2, 4)).shape == (2, 2)
    with pytest.raises(RuntimeError, match="glu: halving dimension must be even"):
        F.glu(sg.ones(3), 0)
    assert not isinstance(nn.SELU(), nn.ReLU6) and not isinstance(nn.Softshrink(), nn.Hardshrink)  # siblings, as torch
    assert repr(nn.Hardtanh(inplace=True)) == "Hardtanh(min_val=-1.0, max_val=1.0, inplace=True)"
    assert repr(nn.Hardsigmoid(inplace=True)) == "Hardsigmoid()"                # torch prints no arguments
    y = sg.tensor(np.linspace(-2.5, 2.5, 8), dtype=sg.float64, requires_grad=True)  # no point on the kink at 0
    for fn in (F.mish, F.selu, F.celu, F.softsign, lambda t: F.glu(t[:6]), lambda t: F.softmin(t, 0)):
        assert sg.autograd.gradcheck(fn, (y,)) and sg.autograd.gradgradcheck(fn, (y,))
    p = nn.ParameterList([sg.zeros(2)]).append(sg.ones(3))
    assert [q.shape for q in p] == [(2,), (3,)] and all(q.requires_grad for q in p)
    assert nn.InstanceNorm1d(2)(sg.randn(4, 2, 5)).shape == (4, 2, 5) and nn.InstanceNorm1d(2)(sg.randn(2, 5)).shape == (2, 5)
    assert not isinstance(nn.InstanceNorm1d(2), nn.InstanceNorm2d)


def test_p_norms_and_linalg_as_in_gradient_penalties():
    # newer WGAN-GP code: torch.linalg.vector_norm(grad.flatten(1), dim=1); values from torch 2.13
    g = sg.tensor([[3.0, -4.0], [0.0, 0.0]], requires_grad=True)
    norms = sg.linalg.vector_norm(g, dim=1)
    assert norms.tolist() == [5.0, 0.0]
    ((norms - 1) ** 2).sum().backward()
    np.testing.assert_allclose(g.grad.numpy(), [[4.8, -6.4], [0.0, 0.0]], rtol=1e-6)  # 0 at the zero row, as torch
    x = sg.tensor([[1.0, -2.0, 2.0]])
    assert x.norm(1).item() == 5.0 and sg.linalg.vector_norm(x, float("inf")).item() == 2.0
    assert sg.linalg.vector_norm(x, 0).item() == 3.0 and sg.linalg.norm(x, "fro").item() == 3.0
    assert x.norm(3).item() == pytest.approx(17 ** (1 / 3))
    with pytest.raises(NotImplementedError, match="the nuclear norm"):
        x.norm("nuc")
    with pytest.raises(NotImplementedError, match="linalg.svd is not implemented in scratchgan"):
        sg.linalg.svd(x)



def test_erf_matches_pythons_math_erf_and_gelu_is_exact():
    import math
    xs = np.concatenate([np.linspace(-7.0, 7.0, 2001), [0.0, 1e-300, 30.0, -30.0]])
    want = np.array([math.erf(v) for v in xs])
    np.testing.assert_allclose(sg.erf(sg.tensor(xs)).numpy(), want, rtol=5e-15, atol=1e-300)
    np.testing.assert_allclose(sg.erfc(sg.tensor(xs)).numpy(), [math.erfc(v) for v in xs], rtol=5e-13, atol=1e-300)
    f32 = sg.erf(sg.tensor(xs.astype(np.float32))).numpy()                       # float32: correctly rounded
    exact32 = np.array([math.erf(float(v)) for v in xs.astype(np.float32)])
    assert f32.dtype == np.float32 and (np.abs(f32 - exact32) <= np.abs(np.spacing(exact32.astype(np.float32))) / 2).all()
    special = sg.erf(sg.tensor([float("inf"), float("-inf"), float("nan")])).numpy()
    assert special[0] == 1.0 and special[1] == -1.0 and np.isnan(special[2])
    x = sg.tensor([-1.0, 0.0, 0.5], dtype=sg.float64, requires_grad=True)
    F.gelu(x).sum().backward()                                                  # values and slopes from torch 2.13
    np.testing.assert_allclose(F.gelu(x).detach().numpy(), [-0.15865525393145702, 0.0, 0.34573123063700656], rtol=1e-14)
    np.testing.assert_allclose(x.grad.numpy(), [-0.08331547058768635, 0.5, 0.8674951246561629], rtol=1e-13)


def test_make_grid_and_save_image_lay_out_images_as_torchvision(tmp_path):
    from PIL import Image

    from scratchgan.utils import make_grid, save_image

    imgs = sg.tensor(np.arange(5 * 2 * 2, dtype=np.float32).reshape(5, 1, 2, 2))
    grid = make_grid(imgs, nrow=2, padding=1, pad_value=-1.0)
    assert grid.shape == (3, 3 * 3 + 1, 2 * 3 + 1)                              # 3 rows of 2, RGB from 1 channel
    g = grid.numpy()[0]
    assert g[1:3, 1:3].tolist() == [[0.0, 1.0], [2.0, 3.0]] and g[1:3, 4:6].tolist() == [[4.0, 5.0], [6.0, 7.0]]
    assert (g[7:9, 4:6] == -1.0).all() and (g[0] == -1.0).all()                 # the empty last cell and the pad
    normed = make_grid(imgs, normalize=True).numpy()
    assert normed.min() == 0.0 and normed.max() == 1.0
    save_image(imgs, tmp_path / "grid.png", nrow=5, normalize=True)
    im = Image.open(tmp_path / "grid.png")
    assert im.mode == "RGB" and im.size == (5 * 4 + 2, 4 + 2) and not list(tmp_path.glob(".*"))  # no temp left


@pytest.mark.skipif(sg.cuda.is_available(), reason="checks the CPU-only answers")
def test_torch_cuda_calls_without_a_gpu_answer_as_torch_does():
    assert sg.cuda.memory_allocated() == 0 and sg.cuda.max_memory_allocated() == 0
    sg.cuda.empty_cache()                                                        # a no-op, as torch's
    with pytest.raises(RuntimeError, match=r"cuda.synchronize: no CUDA device is available"):
        sg.cuda.synchronize()



def test_one_dimensional_layers_are_their_two_dimensional_ops_with_a_flat_kernel(device):
    # audio GANs (MelGAN, HiFi-GAN): conv1d is conv2d on (N, C, 1, L) with a (1, k) kernel, gradients included
    rng = np.random.default_rng(23)
    x, w = rng.standard_normal((2, 3, 12)), rng.standard_normal((4, 3, 5))
    got = F.conv1d(sg.tensor(x, device=device), sg.tensor(w, device=device), stride=2, padding=2, dilation=1)
    want = F.conv2d(sg.tensor(x[:, :, None]), sg.tensor(w[:, :, None]), stride=(1, 2), padding=(0, 2))
    np.testing.assert_allclose(got.to("cpu").numpy(), want.numpy()[:, :, 0], rtol=1e-12)
    check_backward(lambda x, w: F.conv1d(x, w, stride=2, padding=2), [x, w], device)
    check_double_backward(lambda x, w: F.conv_transpose1d(x, w.transpose(0, 1), stride=3) ** 2, [x[:, :, :6], w], device)
    conv = nn.Conv1d(3, 4, 5, padding=2, padding_mode="reflect")
    assert conv.weight.shape == (4, 3, 5) and conv(sg.randn(2, 3, 10)).shape == (2, 4, 10)
    assert nn.MaxPool1d(2)(sg.tensor([[[1.0, 3.0, 2.0, 0.0]]])).tolist() == [[[3.0, 2.0]]]
    # as in torch, a 1-D layer is not its 2-D sibling: `for m in model.modules(): if isinstance(m, nn.Conv2d)`
    # initialisation loops leave a Conv1d alone
    for one, two in ((nn.Conv1d(1, 1, 1), nn.Conv2d), (nn.ConvTranspose1d(1, 1, 1), nn.ConvTranspose2d),
                     (nn.MaxPool1d(2), nn.MaxPool2d), (nn.ReflectionPad1d(1), nn.ReflectionPad2d)):
        assert not isinstance(one, two)
    with pytest.raises(ValueError, match=r"expected 2-D \(C, L\) or 3-D \(N, C, L\) input"):
        nn.Conv1d(3, 4, 5)(sg.randn(1, 3, 4, 4))



def test_cdist_gives_pairwise_distances():
    a, b = sg.tensor([[0.0, 0.0], [3.0, 4.0]]), sg.tensor([[0.0, 0.0], [6.0, 8.0], [3.0, 0.0]])
    assert sg.cdist(a, b).tolist() == [[0.0, 10.0, 3.0], [5.0, 5.0, 4.0]]
    assert sg.cdist(a, b, p=1.0).tolist() == [[0.0, 14.0, 3.0], [7.0, 7.0, 4.0]]
    with pytest.raises(RuntimeError, match="cdist: expected"):
        sg.cdist(a, sg.ones(2, 3))
