"""Tensor creation with PyTorch's signatures and dtype rules."""
import numpy as np
import pytest

import scratchgan as sg


def test_shapes_and_default_dtypes(device):
    assert sg.zeros(2, 3, device=device).shape == (2, 3)
    assert sg.ones((2, 3), device=device).dtype == np.float32
    assert sg.randn([4], device=device).dtype == np.float32
    assert sg.rand(3, device=device).device == sg.device(device)
    assert sg.full((2,), 7.0, device=device).tolist() == [7.0, 7.0]
    assert sg.arange(5).dtype == np.int64 and sg.arange(0.0, 1.0, 0.25).tolist() == [0, 0.25, 0.5, 0.75]
    assert sg.tensor([1.5, 2]).dtype == np.float32 and sg.tensor([1, 2]).dtype == np.int64
    assert sg.tensor(np.ones(2)).dtype == np.float64  # arrays keep their dtype, as torch.tensor does
    like = sg.randn(3, 2, dtype=sg.float64, device=device)
    assert sg.zeros_like(like).dtype == np.float64 and sg.ones_like(like).device == sg.device(device)


def test_tensor_copies_its_input_and_from_numpy_shares():
    a = np.zeros(3, dtype=np.float32)
    t, s = sg.tensor(a), sg.from_numpy(a)
    a[0] = 5
    assert t.tolist()[0] == 0 and s.tolist()[0] == 5


def test_manual_seed_repeats_and_rand_is_uniform():
    sg.manual_seed(42)
    a = sg.randn(1000)
    sg.manual_seed(42)
    b = sg.randn(1000)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    u = sg.rand(10000).numpy()
    assert u.min() >= 0 and u.max() < 1 and abs(u.mean() - 0.5) < 0.02
    assert abs(a.numpy().std() - 1) < 0.1


def test_item_and_repr():
    assert sg.tensor([3.5]).item() == 3.5
    with pytest.raises(ValueError, match=r"one-element.*\(2,\)"):
        sg.ones(2).item()
    assert repr(sg.tensor([1.0, 2.0], requires_grad=True)) == "tensor([1., 2.], requires_grad=True)"
    assert "grad_fn=<mul>" in repr(sg.tensor([1.0], requires_grad=True) * 2)
