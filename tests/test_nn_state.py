"""Module state: state_dict values are detached Tensors sharing memory (PyTorch's semantics),
load_state_dict's inputs (Tensors, arrays, torch-like tensors), its named-tuple result, strict=False,
errors; ModuleDict, ModuleList, forward hooks, traversal helpers, deepcopy."""
import copy

import numpy as np
import pytest

import scratchgan as sg
import scratchgan.nn as nn


def net():
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))


KEYS = ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked",
        "3.weight", "3.bias"]


def test_state_dict_is_detached_views_of_the_module():
    m = net()
    sd = m.state_dict()
    assert list(sd) == KEYS
    assert all(type(v) is sg.Tensor and not v.requires_grad and v.is_leaf for v in sd.values())
    assert np.shares_memory(sd["0.weight"].array, m[0].weight.array)
    opt = sg.optim.SGD(m.parameters(), lr=0.5)
    m(sg.randn(5, 3)).sum().backward()
    opt.step()  # in-place updates and running statistics show through the views
    np.testing.assert_array_equal(sd["0.weight"].array, m[0].weight.array)
    assert int(sd["1.num_batches_tracked"]) == 1 and sd["1.running_mean"].array.any()
    kept = m.state_dict(keep_vars=True)
    assert kept["0.weight"] is m[0].weight
    assert list(m.state_dict(prefix="G.")) == ["G." + k for k in KEYS]


def test_clone_or_deepcopy_snapshots_a_state_dict():
    m = net()
    snap = {k: v.clone() for k, v in m.state_dict().items()}
    deep = copy.deepcopy(m.state_dict())
    with sg.no_grad():
        m[0].weight.array[...] = 7.0
    assert not (snap["0.weight"].array == 7).any() and not (deep["0.weight"].array == 7).any()


@pytest.mark.parametrize("convert", [lambda v: v, lambda v: np.array(v.array), lambda v: v.array.tolist()],
                         ids=["tensor", "ndarray", "list"])
def test_load_state_dict_reads_tensors_arrays_and_lists_in_place(convert):
    a, b = net(), net()
    a(sg.randn(5, 3))  # move a's running statistics
    params = list(b.parameters())
    views = b.state_dict()
    result = b.load_state_dict({k: convert(v) for k, v in a.state_dict().items()})
    assert result == ([], []) and repr(result) == "<All keys matched successfully>"
    assert all(p is q for p, q in zip(params, b.parameters()))  # identity kept: optimizers still work
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(b.state_dict()[k].array, v.array)
        np.testing.assert_array_equal(views[k].array, v.array)  # copied into the tensors' own memory
    assert b[1].num_batches_tracked.dtype == np.int64 and b[0].weight.dtype == np.float32


class TorchLike:
    """Duck type of a PyTorch CPU tensor: read through .detach().cpu().numpy(), never imported."""

    def __init__(self, a):
        self.a = a

    def detach(self):
        return self

    def cpu(self):
        return self

    def numpy(self):
        return self.a


def test_load_state_dict_accepts_torch_like_tensors_and_float64():
    a, b = net(), net()
    b.load_state_dict({k: TorchLike(np.asarray(v.array, dtype=np.float64) if v.dtype.kind == "f" else v.array)
                       for k, v in a.state_dict().items()})
    np.testing.assert_array_equal(b[3].weight.array, a[3].weight.array)
    assert b[3].weight.dtype == np.float32  # cast to the module's dtype, as copy_ does


def test_load_state_dict_strict_false_returns_named_keys():
    m = net()
    sd = m.state_dict()
    del sd["3.bias"]
    sd["extra.weight"] = np.zeros(3)
    with pytest.raises(RuntimeError, match=r'Missing key\(s\) in state_dict: "3.bias"'):
        m.load_state_dict(sd)
    with pytest.raises(RuntimeError, match=r'Unexpected key\(s\) in state_dict: "extra.weight"'):
        m.load_state_dict(sd)
    result = m.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["3.bias"] and result.unexpected_keys == ["extra.weight"]
    missing, unexpected = result
    assert missing == ["3.bias"] and "missing_keys=['3.bias']" in repr(result)


def test_shape_mismatch_is_an_error_naming_the_key_even_when_not_strict():
    m = net()
    sd = m.state_dict()
    sd["0.weight"] = np.zeros((4, 5), dtype=np.float32)
    for strict in (True, False):
        with pytest.raises(RuntimeError, match=r"Error\(s\) in loading state_dict for Sequential:\n\tsize mismatch "
                                               r"for 0.weight: copying a param with shape \(4, 5\) from checkpoint, "
                                               r"the shape in current model is \(4, 3\)"):
            m.load_state_dict(sd, strict=strict)
    assert m[0].weight.shape == (4, 3)
    with pytest.raises(TypeError, match="cannot read the value of '0.bias'"):
        m.load_state_dict(dict(m.state_dict(), **{"0.bias": object()}))


def test_assign_makes_the_module_hold_the_given_memory():
    m = nn.Linear(2, 2)
    w = sg.zeros(2, 2)
    m.load_state_dict({"weight": w, "bias": sg.zeros(2)}, assign=True)
    w.array[0, 0] = 5
    assert float(m.weight.array[0, 0]) == 5 and isinstance(m.weight, nn.Parameter)


def test_tied_modules_appear_under_every_name_in_the_state_dict():
    lin = nn.Linear(2, 2)
    m = nn.Sequential(lin, nn.ReLU(), lin)
    assert list(m.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]  # as torch
    assert len(list(m.parameters())) == 2
    m.load_state_dict({k: np.ones_like(v.array) for k, v in m.state_dict().items()})
    assert (lin.weight.array == 1).all()


def test_non_persistent_buffers_stay_out():
    m = nn.Module()
    m.register_buffer("kept", sg.zeros(2))
    m.register_buffer("scratch", sg.zeros(2), persistent=False)
    assert list(m.state_dict()) == ["kept"] and [n for n, _ in m.named_buffers()] == ["kept", "scratch"]


def test_module_dict_and_module_list():
    d = nn.ModuleDict({"enc": nn.Linear(2, 3), "dec": nn.Linear(3, 2)})
    assert list(d) == ["enc", "dec"] and "enc" in d and len(d) == 2
    assert list(d.state_dict()) == ["enc.weight", "enc.bias", "dec.weight", "dec.bias"]
    d["head"] = nn.Linear(2, 1)
    assert list(d.keys())[-1] == "head" and len(list(d.parameters())) == 6
    assert isinstance(d.pop("enc"), nn.Linear) and list(d) == ["dec", "head"]
    del d["head"]
    assert list(d.state_dict()) == ["dec.weight", "dec.bias"]
    layers = nn.ModuleList([nn.Linear(1, 1), nn.ReLU()])
    layers.extend([nn.Linear(1, 2)])
    layers.insert(0, nn.Tanh())
    assert [type(m).__name__ for m in layers] == ["Tanh", "Linear", "ReLU", "Linear"]
    assert list(layers.state_dict()) == ["1.weight", "1.bias", "3.weight", "3.bias"]
    del layers[0]
    assert list(layers.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert isinstance(layers[1:], nn.ModuleList) and len(layers[1:]) == 2
    with pytest.raises(TypeError, match="not a Module"):
        nn.ModuleDict({"x": 3})


def test_traversal_helpers_and_modes():
    m = nn.Sequential(nn.Linear(3, 4), nn.Sequential(nn.BatchNorm1d(4), nn.ReLU()))
    assert [n for n, _ in m.named_modules()] == ["", "0", "1", "1.0", "1.1"]
    assert [n for n, _ in m.named_modules(prefix="G")][:2] == ["G", "G.0"]
    assert m.get_submodule("1.0") is m[1][0] and m.get_parameter("1.0.bias") is m[1][0].bias
    assert m.get_buffer("1.0.running_var") is m[1][0].running_var
    with pytest.raises(AttributeError, match="no submodule '2'"):
        m.get_submodule("2")
    assert [n for n, _ in m.named_buffers(recurse=False)] == []
    assert [n for n, _ in m.named_parameters(prefix="G")][0] == "G.0.weight"
    seen = []
    m.apply(lambda mod: seen.append(type(mod).__name__))
    assert seen == ["Linear", "BatchNorm1d", "ReLU", "Sequential", "Sequential"]
    assert not m.eval()[1][0].training and m.train()[1][0].training
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())
    with pytest.raises(NotImplementedError, match="float16"):
        m.half()


def test_forward_hooks_run_and_can_be_removed():
    m = nn.Linear(2, 2)
    calls = []
    pre = m.register_forward_pre_hook(lambda mod, args: (args[0] * 0.0,))
    post = m.register_forward_hook(lambda mod, args, out: calls.append(out.shape))
    y = m(sg.ones(3, 2))
    np.testing.assert_allclose(y.array, np.broadcast_to(m.bias.array, (3, 2)), rtol=1e-6)
    assert calls == [(3, 2)]
    pre.remove(), post.remove()
    assert not np.allclose(m(sg.ones(3, 2)).array, np.broadcast_to(m.bias.array, (3, 2))) and calls == [(3, 2)]


def test_deepcopy_of_a_module_is_independent_as_an_ema_copy_needs():
    G = nn.Sequential(nn.utils.spectral_norm(nn.Linear(2, 3)), nn.BatchNorm1d(3))
    G(sg.randn(4, 2))
    ema = copy.deepcopy(G)
    assert list(ema.state_dict()) == list(G.state_dict())
    with sg.no_grad():
        G[0].weight_orig.array[...] = 0
    assert ema[0].weight_orig.array.any()
    ema(sg.randn(4, 2))  # its spectral-norm hook works on its own copies
    assert not np.shares_memory(ema[0].weight_u.array, G[0].weight_u.array)


def test_to_keeps_identity_and_moves_gradients():
    m = nn.Linear(2, 2)
    m(sg.ones(1, 2)).sum().backward()
    w, g = m.weight, m.weight.grad
    m.to("cpu")
    assert m.weight is w and m.weight.grad is g  # nothing to move: nothing changes
    m.double()
    assert m.weight is w and m.weight.dtype == np.float64 and m.weight.grad.dtype == np.float64
    np.testing.assert_array_equal(m.weight.grad.array, g.array)


def test_state_dict_round_trip_on_every_device(device):
    a, b = net().to(device), net().to(device)
    a(sg.randn(5, 3, device=device))
    sd = a.state_dict()
    assert all(v.device == sg.device(device) for v in sd.values())
    host = {k: sg.backend.to_numpy(v.array) for k, v in sd.items()}  # host arrays load onto the device
    b.load_state_dict(host)
    for k, v in b.state_dict().items():
        assert v.device == sg.device(device)
        np.testing.assert_array_equal(sg.backend.to_numpy(v.array), host[k])
    clip = nn.utils.clip_grad_norm_
    b(sg.randn(5, 3, device=device)).sum().backward()
    total = clip(b.parameters(), 0.1)
    assert total.device == sg.device(device) and float(total) > 0.1
    assert float(clip(b.parameters(), 1e9)) == pytest.approx(0.1, rel=1e-4)
    v = nn.utils.parameters_to_vector(b.parameters())
    assert v.device == sg.device(device) and v.shape == (sum(p.numel() for p in b.parameters()),)
