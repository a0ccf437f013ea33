"""Devices and the backend switch."""
import numpy as np
import pytest

import scratchgan as sg
from scratchgan import backend
from tests.strict_backend import ForeignArrayError, StrictArray


def test_device_idiom():
    assert sg.device("cpu") == "cpu" and str(sg.device("cpu")) == "cpu"
    assert repr(sg.device("cpu")) == "device(type='cpu')"
    assert sg.device("cuda:0").type == "cuda" and sg.device("cuda:0").index == 0
    with pytest.raises(ValueError, match="unknown device type 'tpu'"):
        sg.device("tpu")


@pytest.mark.skipif(sg.cuda.is_available(), reason="a GPU is present")
def test_cuda_without_cupy_or_gpu_says_how_to_install():
    assert sg.cuda.is_available() is False
    with pytest.raises(RuntimeError, match=r'pip install -e "\.\[gpu\]"'):
        sg.randn(2, device="cuda")
    with pytest.raises(RuntimeError, match="not available"):
        sg.ones(2).to("cuda")
    with pytest.raises(RuntimeError, match="not available"):
        sg.nn.Linear(2, 2).to(sg.device("cuda"))


def test_tensor_to_device_round_trip_and_gradient(device):
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    y = x.to(device)
    assert y.device == sg.device(device)
    (y * y).sum().backward()
    assert x.grad.device == sg.device("cpu")
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])


def test_module_to_device_keeps_parameters(device):
    m = sg.nn.Linear(3, 2)
    params = list(m.parameters())
    m.to(device)
    assert all(p is q and p.device == sg.device(device) for p, q in zip(params, m.parameters()))
    out = m(sg.randn(4, 3, device=device))
    assert out.device == sg.device(device)


def test_same_seed_same_numbers_on_every_device(device):
    sg.manual_seed(7)
    a = sg.randn(3, 4).numpy()
    sg.manual_seed(7)
    b = backend.to_numpy(sg.randn(3, 4, device=device).array)
    np.testing.assert_array_equal(a, b)


def test_mixing_devices_is_a_clear_error():
    a = sg.ones(2)
    b = sg.ones(2, device="strict")
    with pytest.raises(TypeError, match="different devices"):
        a + b


def test_strict_backend_catches_direct_numpy_calls():
    """The check behind the 'strict' device: a raw numpy call on its arrays fails."""
    s = sg.ones(3, device="strict").array
    assert isinstance(s, StrictArray)
    with pytest.raises(ForeignArrayError):
        np.asarray(s)
    with pytest.raises(ForeignArrayError):
        s + np.ones(3)
    with pytest.raises(ForeignArrayError):
        np.concatenate([s, s])


def test_get_array_module():
    assert backend.get_array_module(np.ones(2), 3.0) is np
    assert backend.get_array_module() is np
