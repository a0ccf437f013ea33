"""nn.utils: spectral_norm (σ against the SVD, train/eval, buffers, gradients of first and second
order through spectrally normalised layers, double backprop as WGAN-GP needs it, removal, errors)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchgan as sg
import scratchgan.nn as nn
from scratchgan import autograd, backend
from tests.gradcheck import check_backward, check_double_backward

f64 = np.float64
to_np = backend.to_numpy


def sn_matrix(m, dim=0):
    w = to_np(m.weight_orig.array)
    if dim:
        w = np.moveaxis(w, dim, 0)
    return w.reshape(w.shape[0], -1)


# ---- spectral_norm ----------------------------------------------------------------------------
def test_spectral_norm_registers_pytorchs_names_and_keeps_weight_readable():
    m = nn.utils.spectral_norm(nn.Linear(5, 3))
    assert list(m.state_dict()) == ["bias", "weight_orig", "weight_u", "weight_v"]
    assert [n for n, _ in m.named_parameters()] == ["bias", "weight_orig"]
    assert isinstance(m.weight_orig, nn.Parameter) and not isinstance(m.weight, nn.Parameter)
    assert m.weight_u.shape == (3,) and m.weight_v.shape == (5,)
    for b in (m.weight_u, m.weight_v):  # drawn N(0, I) and normalised
        assert b.dtype == np.float32 and abs(np.linalg.norm(b.array) - 1) < 1e-6
    np.testing.assert_array_equal(m.weight.array, m.weight_orig.array)  # raw until the first forward


@pytest.mark.parametrize("make, dim, shape", [
    (lambda: nn.Conv2d(3, 6, 3), 0, (6, 27)),
    (lambda: nn.ConvTranspose2d(3, 6, 3), 1, (6, 27)),  # weight (in, out, kh, kw): rows are out
])
def test_spectral_norm_dim_default_follows_pytorch(make, dim, shape):
    m = nn.utils.spectral_norm(make())
    assert (m.weight_u.shape[0], m.weight_v.shape[0]) == shape
    assert [h.dim for h in m._forward_pre_hooks.values()] == [dim]


@given(rows=st.integers(1, 6), cols=st.integers(1, 6), seed=st.integers(0, 2 ** 16))
def test_sigma_converges_to_the_largest_singular_value(device, rows, cols, seed):
    sg.manual_seed(seed)
    m = nn.utils.spectral_norm(nn.Linear(cols, rows), n_power_iterations=200).double().to(device)
    m(sg.zeros(1, cols, dtype=f64, device=device))
    s = np.linalg.svd(sn_matrix(m), compute_uv=False)
    w_sn = to_np(m.weight.array)
    if s.size > 1 and (s[1] / s[0]) ** (2 * 200) > 1e-8:
        return  # σ's error after n power iterations shrinks like (s₁/s₀)^(2n): too slow here to test to 1e-6
    np.testing.assert_allclose(np.linalg.svd(w_sn, compute_uv=False)[0], 1.0, rtol=1e-6)
    u, v = to_np(m.weight_u.array), to_np(m.weight_v.array)
    np.testing.assert_allclose(u @ sn_matrix(m) @ v, s[0], rtol=1e-6)


def test_one_power_iteration_per_training_forward_and_none_in_eval():
    m = nn.utils.spectral_norm(nn.Linear(4, 3))
    x = sg.randn(2, 4)
    u0, v0 = m.weight_u.array.copy(), m.weight_v.array.copy()
    buf_u = m.weight_u
    m(x)
    w = m.weight_orig.array.astype(f64)
    v1 = w.T @ u0 / np.linalg.norm(w.T @ u0)
    u1 = w @ v1 / np.linalg.norm(w @ v1)
    np.testing.assert_allclose(m.weight_v.array, v1, rtol=1e-5)
    np.testing.assert_allclose(m.weight_u.array, u1, rtol=1e-5)
    assert m.weight_u is buf_u  # updated in place
    np.testing.assert_allclose(m.weight.array, w / (u1 @ w @ v1), rtol=1e-5)
    m.eval()
    u_before = m.weight_u.array.copy()
    y = m(x)
    np.testing.assert_array_equal(m.weight_u.array, u_before)
    np.testing.assert_allclose(y.array, x.array @ m.weight.array.T + m.bias.array, rtol=1e-5, atol=1e-6)


def test_a_later_forward_does_not_change_an_earlier_graph():
    """u, v are updated in place; the graph of the first forward keeps its own copies."""
    m = nn.utils.spectral_norm(nn.Linear(4, 3))
    x = sg.randn(2, 4)
    loss = m(x).sum()
    (g_ref,) = autograd.grad(loss, [m.weight_orig], retain_graph=True)
    for _ in range(3):
        m(x)
    (g,) = autograd.grad(loss, [m.weight_orig])
    np.testing.assert_array_equal(g.array, g_ref.array)


def _sn_eval(make, n_in, device):
    """A spectrally normalised float64 layer in eval mode (u, v fixed), and fn(x, w) calling it with
    ``weight_orig`` = w: a differentiable function of both for the gradient checks."""
    m = nn.utils.spectral_norm(make()).double()
    for _ in range(3):
        m(sg.randn(2, *n_in, dtype=f64))
    m.eval().to(device)

    def fn(x, w):
        m._parameters["weight_orig"] = w
        object.__setattr__(m, "weight_orig", w)
        return m(x)

    return m, fn


SN_LAYERS = [
    (lambda: nn.Linear(4, 3), (4,)),
    (lambda: nn.Conv2d(2, 3, 3, padding=1), (2, 4, 4)),
    (lambda: nn.ConvTranspose2d(2, 3, 3, stride=2), (2, 3, 3)),
]


@pytest.mark.parametrize("make, n_in", SN_LAYERS)
@given(seed=st.integers(0, 2 ** 16))
def test_spectral_norm_layer_gradients(device, make, n_in, seed):
    sg.manual_seed(seed)
    m, fn = _sn_eval(make, n_in, device)
    x = np.random.default_rng(seed).standard_normal((2,) + n_in)
    check_backward(fn, [x, to_np(m.weight_orig.array).copy()], device, seed=seed)


@pytest.mark.parametrize("make, n_in", SN_LAYERS)
@given(seed=st.integers(0, 2 ** 16))
def test_spectral_norm_layer_double_backward(device, make, n_in, seed):
    sg.manual_seed(seed)
    m, fn = _sn_eval(make, n_in, device)
    x = np.random.default_rng(seed).standard_normal((2,) + n_in)

    def smooth(x, w):  # tanh: a curved function of the layer output, so second derivatives are non-trivial
        return fn(x, w).tanh()

    check_double_backward(smooth, [x, to_np(m.weight_orig.array).copy()], device, seed=seed)


def test_gradient_penalty_through_a_spectrally_normalised_critic_trains():
    """WGAN-GP / R1 on an SN critic: ‖∂D/∂x‖ differentiated again, into weight_orig."""
    D = nn.Sequential(nn.utils.spectral_norm(nn.Linear(3, 8)), nn.Tanh(), nn.utils.spectral_norm(nn.Linear(8, 1)))
    x = sg.randn(5, 3, requires_grad=True)
    (gx,) = autograd.grad(D(x).sum(), [x], create_graph=True)
    penalty = ((gx.norm(dim=1) - 1.0) ** 2).mean()
    penalty.backward()
    for m in (D[0], D[2]):  # (the last bias does not move ∂D/∂x, so it gets no gradient)
        assert m.weight_orig.grad is not None and np.isfinite(m.weight_orig.grad.array).all()
    assert float(np.abs(D[0].weight_orig.grad.array).sum()) > 0


def test_remove_spectral_norm_restores_a_plain_parameter():
    m = nn.utils.spectral_norm(nn.Linear(4, 3))
    m(sg.randn(2, 4))
    m.eval()
    x = sg.randn(2, 4)
    y = m(x).array
    nn.utils.remove_spectral_norm(m)
    assert list(m.state_dict()) == ["bias", "weight"] and isinstance(m.weight, nn.Parameter)
    assert not m._forward_pre_hooks
    np.testing.assert_allclose(m(x).array, y, rtol=1e-6)
    with pytest.raises(ValueError, match="spectral_norm of 'weight' not found"):
        nn.utils.remove_spectral_norm(m)


def test_spectral_norm_errors():
    m = nn.utils.spectral_norm(nn.Linear(4, 3))
    with pytest.raises(RuntimeError, match="two spectral_norm hooks"):
        nn.utils.spectral_norm(m)
    with pytest.raises(ValueError, match="no parameter 'kernel'"):
        nn.utils.spectral_norm(nn.Linear(2, 2), name="kernel")
    with pytest.raises(ValueError, match="n_power_iterations"):
        nn.utils.spectral_norm(nn.Linear(2, 2), n_power_iterations=0)


def test_spectral_norm_state_dict_round_trip_and_optimizer_step():
    a = nn.utils.spectral_norm(nn.Linear(4, 3))
    a(sg.randn(2, 4))
    b = nn.utils.spectral_norm(nn.Linear(4, 3))
    b.load_state_dict(a.state_dict())
    a.eval(), b.eval()
    x = sg.randn(2, 4)
    np.testing.assert_array_equal(a(x).array, b(x).array)
    opt = sg.optim.SGD(a.parameters(), lr=0.1)
    a.train()
    a(x).sum().backward()
    before = a.weight_orig.array.copy()
    opt.step()
    assert not np.array_equal(before, a.weight_orig.array)


# ---- gradient clipping, parameters <-> vector ----------------------------------------------------
def _with_grads(grads):
    params = [nn.Parameter(np.zeros_like(g)) for g in grads]
    for p, g in zip(params, grads):
        p.grad = sg.tensor(g)
    return params


@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, float("inf")])
@given(seed=st.integers(0, 2 ** 16), max_norm=st.floats(0.01, 100))
def test_clip_grad_norm_returns_the_total_norm_and_scales_down_only(norm_type, seed, max_norm):
    rng = np.random.default_rng(seed)
    grads = [rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal(5).astype(np.float32)]
    params = _with_grads(grads)
    flat = np.concatenate([g.ravel() for g in grads]).astype(f64)
    want = np.linalg.norm(flat, ord=norm_type)
    total = nn.utils.clip_grad_norm_(iter(params), max_norm, norm_type)  # a generator, as model.parameters()
    assert isinstance(total, sg.Tensor) and total.shape == () and total.dtype == np.float32
    np.testing.assert_allclose(float(total), want, rtol=1e-5)
    coef = min(1.0, max_norm / (want + 1e-6))
    for p, g in zip(params, grads):
        np.testing.assert_allclose(p.grad.array, g * coef, rtol=1e-5, atol=1e-7)
    assert np.linalg.norm(np.concatenate([p.grad.array.ravel() for p in params]), ord=norm_type) <= max_norm * 1.0001 \
        or coef == 1.0


def test_clip_grad_norm_shared_and_read_only_gradients_are_scaled_once():
    a, b = nn.Parameter(np.ones(3, dtype=np.float32)), nn.Parameter(np.ones(3, dtype=np.float32))
    (a + b).sum().backward()  # both leaves may receive the same upstream gradient array (a read-only view)
    grad_a = a.grad
    total = nn.utils.clip_grad_norm_([a, b], 1.0)
    np.testing.assert_allclose(float(total), np.sqrt(6), rtol=1e-6)
    np.testing.assert_allclose(a.grad.array, np.full(3, 1 / np.sqrt(6)), rtol=1e-5)
    np.testing.assert_allclose(b.grad.array, np.full(3, 1 / np.sqrt(6)), rtol=1e-5)
    assert a.grad is grad_a  # the grad Tensor keeps its identity


def test_clip_grad_norm_edge_cases():
    p = nn.Parameter(np.ones(2, dtype=np.float32))
    assert float(nn.utils.clip_grad_norm_([p], 1.0)) == 0.0 and p.grad is None  # no gradients at all
    p.grad = sg.tensor([np.inf, 1.0])
    with pytest.raises(RuntimeError, match="non-finite.*error_if_nonfinite=False"):
        nn.utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    with np.errstate(invalid="ignore"):  # the gradients become nan, as in PyTorch
        assert float(nn.utils.clip_grad_norm_(p, 1.0)) == np.inf


def test_clip_grad_value_clamps_in_range():
    params = _with_grads([np.array([-3.0, 0.5, 2.0], dtype=np.float32)])
    assert nn.utils.clip_grad_value_(params, 1.0) is None
    np.testing.assert_array_equal(params[0].grad.array, [-1.0, 0.5, 1.0])


def test_parameters_to_vector_and_back():
    m = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    vec = nn.utils.parameters_to_vector(m.parameters())
    assert vec.shape == (11,)
    np.testing.assert_array_equal(vec.array, np.concatenate([p.array.ravel() for p in m.parameters()]))
    (vec * sg.arange(11.0)).sum().backward()  # differentiable, like torch's
    np.testing.assert_array_equal(m[0].weight.grad.array, np.arange(6.0).reshape(2, 3))
    new = sg.arange(11.0)
    nn.utils.vector_to_parameters(new, m.parameters())
    np.testing.assert_array_equal(m[1].bias.array, [10.0])
    new.array[10] = -1  # parameters now view the vector, as torch's .data assignment does
    np.testing.assert_array_equal(m[1].bias.array, [-1.0])
    with pytest.raises(TypeError, match="expected a Tensor"):
        nn.utils.vector_to_parameters(np.zeros(11), m.parameters())
    with pytest.raises(ValueError, match="10 elements, the parameters need 11"):
        nn.utils.vector_to_parameters(sg.zeros(10), m.parameters())


# ---- parametrizations.spectral_norm --------------------------------------------------------------
def test_parametrized_spectral_norm_layout_and_schedule():
    P = nn.utils.parametrizations
    m = P.spectral_norm(nn.Linear(6, 4))
    assert type(m).__name__ == "ParametrizedLinear" and isinstance(m, nn.Linear)
    assert list(m.state_dict()) == ["bias", "parametrizations.weight.original", "parametrizations.weight.0._u",
                                    "parametrizations.weight.0._v"]
    assert [n for n, _ in m.named_parameters()] == ["bias", "parametrizations.weight.original"]
    sn = m.parametrizations.weight[0]
    w = m.parametrizations.weight.original.array.astype(f64)
    u0 = sn._u.array.copy()
    m.eval()
    np.testing.assert_allclose(m.weight.array, w / (u0 @ w @ sn._v.array), rtol=1e-5)  # eval: no iteration
    np.testing.assert_array_equal(sn._u.array, u0)
    m.train()
    v0 = sn._v.array.astype(f64)
    for _ in range(2):  # training mode: every read of m.weight iterates once, u first, then v
        _ = m.weight
        u1 = w @ v0 / np.linalg.norm(w @ v0)
        v0 = w.T @ u1 / np.linalg.norm(w.T @ u1)
        np.testing.assert_allclose(sn._u.array, u1, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(sn._v.array, v0, rtol=1e-5, atol=1e-6)
    x = sg.randn(3, 6)
    m(x).sum().backward()
    assert m.parametrizations.weight.original.grad.shape == (4, 6)
    nn.utils.parametrize.remove_parametrizations(m, "weight")
    assert type(m) is nn.Linear and list(m.state_dict()) == ["bias", "weight"]


@given(rows=st.integers(2, 6), cols=st.integers(2, 6), seed=st.integers(0, 2 ** 16))
def test_parametrized_spectral_norm_sigma_after_many_reads(rows, cols, seed):
    sg.manual_seed(seed)
    m = nn.utils.parametrizations.spectral_norm(nn.Linear(cols, rows), n_power_iterations=200).double()
    w_sn = m.weight.array
    s = np.linalg.svd(m.parametrizations.weight.original.array, compute_uv=False)
    if s[0] - s[1] < 1e-2 * s[0]:
        return  # nearly repeated top singular value: slow convergence
    np.testing.assert_allclose(np.linalg.svd(w_sn, compute_uv=False)[0], 1.0, rtol=1e-6)


def test_parametrized_spectral_norm_gradient_penalty_and_errors():
    D = nn.Sequential(nn.utils.parametrizations.spectral_norm(nn.Conv2d(1, 2, 3)), nn.Tanh())
    x = sg.randn(2, 1, 5, 5, requires_grad=True)
    (gx,) = autograd.grad(D(x).sum(), [x], create_graph=True)
    (gx ** 2).sum().backward()
    assert np.abs(D[0].parametrizations.weight.original.grad.array).sum() > 0
    with pytest.raises(ValueError, match="no parameter 'kernel'"):
        nn.utils.parametrizations.spectral_norm(nn.Linear(2, 2), name="kernel")
    with pytest.raises(ValueError, match="does not have a parametrization on weight"):
        nn.utils.parametrize.remove_parametrizations(nn.Linear(2, 2), "weight")


def test_spectral_norm_vectors_come_from_the_seeded_generator():
    draws = []
    for _ in range(2):
        sg.manual_seed(7)
        m = nn.utils.spectral_norm(nn.Linear(4, 3))  # the init draws first, then u ~ N(0, I_3), v ~ N(0, I_4)
        draws.append((m.weight_u.array.copy(), m.weight_v.array.copy()))
    np.testing.assert_array_equal(draws[0][0], draws[1][0])
    np.testing.assert_array_equal(draws[0][1], draws[1][1])
    sg.manual_seed(7)
    nn.Linear(4, 3)
    rng = backend.host_rng()
    u, v = rng.standard_normal(3), rng.standard_normal(4)
    np.testing.assert_allclose(draws[0][0], u / np.linalg.norm(u), rtol=1e-6)
    np.testing.assert_allclose(draws[0][1], v / np.linalg.norm(v), rtol=1e-6)


# ---- weight normalisation ------------------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore::FutureWarning")  # the second, refused weight_norm call warns first, as torch's
def test_weight_norm_splits_length_and_direction_and_both_learn():
    lin = nn.Linear(3, 2)
    w = lin.weight.detach().numpy().copy()
    with pytest.warns(FutureWarning, match="parametrizations.weight_norm"):
        nn.utils.weight_norm(lin)
    assert list(lin.state_dict()) == ["bias", "weight_g", "weight_v"] and lin.weight_g.shape == (2, 1)
    np.testing.assert_allclose(lin.weight_g.detach().numpy()[:, 0], np.linalg.norm(w, axis=1), rtol=1e-6)
    lin(sg.ones(4, 3)).sum().backward()
    assert lin.weight_g.grad is not None and lin.weight_v.grad is not None
    with pytest.raises(RuntimeError, match="Cannot register two weight_norm hooks"):
        nn.utils.weight_norm(lin)
    nn.utils.remove_weight_norm(lin)
    assert list(lin.state_dict()) == ["bias", "weight"]  # re-registered last, as torch
    np.testing.assert_allclose(lin.weight.detach().numpy(), w, rtol=1e-6)
    conv = nn.utils.parametrizations.weight_norm(nn.Conv2d(2, 3, 3), dim=None)
    assert list(conv.state_dict()) == ["bias", "parametrizations.weight.original0", "parametrizations.weight.original1"]
    assert conv.parametrizations.weight.original0.shape == ()
    with pytest.raises(ValueError, match="Cannot leave unparametrized"):
        nn.utils.parametrize.remove_parametrizations(conv, "weight", leave_parametrized=False)
