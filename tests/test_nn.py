"""Modules: registration, state_dict round trips, PyTorch-shaped names and init, errors."""
import numpy as np
import pytest

import scratchgan as sg
import scratchgan.nn as nn


def mlp():
    return nn.Sequential(nn.Linear(4, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))


def test_parameter_names_and_shapes_are_pytorchs():
    m = mlp()
    assert [(k, tuple(v.shape)) for k, v in m.state_dict().items()] == [
        ("0.weight", (8, 4)), ("0.bias", (8,)), ("2.weight", (1, 8)), ("2.bias", (1,))]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in m.parameters())
    assert len(list(m.modules())) == 4 and len(list(m.children())) == 3


def test_linear_default_init_bounds():
    lin = nn.Linear(100, 300)
    bound = 1 / np.sqrt(100)
    w, b = lin.weight.detach().numpy(), lin.bias.detach().numpy()
    assert w.dtype == np.float32 and np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert abs(w.std() - bound / np.sqrt(3)) < 0.05 * bound  # U(−b, b) has std b/√3


def test_state_dict_round_trip_is_exact():
    a, b = mlp(), mlp()
    b.load_state_dict(a.state_dict())
    x = sg.randn(5, 4)
    np.testing.assert_array_equal(a(x).detach().numpy(), b(x).detach().numpy())
    sd = a.state_dict()
    assert all(isinstance(v, sg.Tensor) and not v.requires_grad for v in sd.values())
    sd["0.weight"].array[...] = 0  # PyTorch's semantics: a detached view, editing it edits the model
    assert np.abs(a[0].weight.detach().numpy()).sum() == 0


def test_load_state_dict_is_strict_with_clear_errors():
    m = mlp()
    sd = m.state_dict()
    del sd["2.bias"]
    with pytest.raises(RuntimeError, match='Missing key.*"2.bias"'):
        m.load_state_dict(sd)
    sd = m.state_dict()
    sd["extra.weight"] = np.zeros(3)
    with pytest.raises(RuntimeError, match='Unexpected key.*"extra.weight"'):
        m.load_state_dict(sd)
    sd = m.state_dict()
    sd["0.weight"] = np.zeros((8, 5))
    with pytest.raises(RuntimeError, match=r"0.weight.*\(8, 5\).*\(8, 4\)"):
        m.load_state_dict(sd)
    sd = m.state_dict()
    del sd["2.bias"]
    missing, unexpected = result = m.load_state_dict(sd, strict=False)
    assert missing == ["2.bias"] and unexpected == []
    assert result.missing_keys == ["2.bias"] and result.unexpected_keys == []


def test_load_keeps_parameter_identity_so_optimizers_still_work():
    m = mlp()
    params = list(m.parameters())
    m.load_state_dict(mlp().state_dict())
    assert all(p is q for p, q in zip(params, m.parameters()))


def test_linear_rejects_wrong_input_width_naming_the_shapes():
    with pytest.raises(ValueError, match=r"Linear\(in_features=784, out_features=512.*\(\*, 784\).*\(128, 100\)"):
        nn.Linear(784, 512)(sg.randn(128, 100))


def test_matmul_shape_error_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(3, 4\) and \(5, 6\)"):
        sg.randn(3, 4) @ sg.randn(5, 6)


def test_repr_reads_like_pytorch():
    text = repr(mlp())
    assert text.splitlines()[0] == "Sequential("
    assert "(0): Linear(in_features=4, out_features=8, bias=True)" in text
    assert "(1): LeakyReLU(negative_slope=0.2)" in text


def test_train_eval_and_dropout():
    m = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
    x = sg.ones(200, 4)
    m.eval()
    assert not m[1].training
    np.testing.assert_array_equal(m(x).detach().numpy(), m[0](x).detach().numpy())
    m.train()
    y = m(x).detach().numpy()
    frac_zero = (y == 0).mean()
    assert 0.4 < frac_zero < 0.6


def test_apply_and_init_like_the_dcgan_tutorial():
    m = mlp()

    def weights_init(mod):
        if type(mod).__name__.find("Linear") != -1:
            nn.init.normal_(mod.weight.data, 0.0, 0.02)
            nn.init.constant_(mod.bias.data, 0)

    m.apply(weights_init)
    assert abs(m[0].weight.detach().numpy().std() - 0.02) < 0.01
    assert np.all(m[0].bias.detach().numpy() == 0)


def test_module_to_dtype_and_zero_grad():
    m = mlp().double()
    assert all(p.dtype == np.float64 for p in m.parameters())
    m(sg.randn(2, 4, dtype=sg.float64)).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())


def test_every_parameter_of_a_gan_learns():
    """The cut-gradient-path trap: after one G step every G parameter must move."""
    G = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 2))
    D = nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
    before = {k: v.clone() for k, v in G.state_dict().items()}  # a snapshot: state_dict values are views
    opt = sg.optim.Adam(G.parameters(), lr=1e-3)
    loss = nn.BCEWithLogitsLoss()(D(G(sg.randn(8, 3))), sg.ones(8, 1))
    opt.zero_grad()
    loss.backward()
    opt.step()
    for k, v in G.state_dict().items():
        assert not np.array_equal(v.array, before[k].array), f"{k} did not change"
