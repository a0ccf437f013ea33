"""nn.Embedding (lookup, scatter-add gradient of first and second order on every device, padding_idx,
errors) and nn.BatchNorm1d ((N, C) and (N, C, L) input, positional eps, running statistics, keys)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import scratchgan as sg
import scratchgan.nn as nn
import scratchgan.nn.functional as F
from scratchgan import backend
from tests.gradcheck import check_backward, check_double_backward

f64 = np.float64
to_np = backend.to_numpy

tables = st.tuples(st.integers(1, 6), st.integers(1, 4))
index_shapes = hnp.array_shapes(min_dims=1, max_dims=3, max_side=4)


@given(table=tables, idx_shape=index_shapes, seed=st.integers(0, 2 ** 16))
def test_embedding_is_a_row_lookup_with_scatter_add_gradient(device, table, idx_shape, seed):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(table)
    idx = rng.integers(0, table[0], size=idx_shape)  # repeated indices are likely: their gradients add
    i_t = sg.tensor(idx, device=device)
    out = F.embedding(i_t, sg.tensor(w, dtype=f64, device=device))
    np.testing.assert_array_equal(to_np(out.array), w[idx])
    check_backward(lambda w_: F.embedding(i_t, w_), [w], device, seed=seed)
    check_double_backward(lambda w_: F.embedding(i_t, w_).tanh(), [w], device, seed=seed)


@given(table=tables, seed=st.integers(0, 2 ** 16), pad=st.integers(-1, 0))
def test_embedding_padding_row_gets_no_gradient(device, table, seed, pad):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(table)
    idx = sg.tensor(rng.integers(0, table[0], size=(3, 4)), device=device)
    grads = []
    for p in (pad, None):  # PyTorch's rule: the gradient without padding_idx, with the padding row zeroed
        wt = sg.tensor(w, dtype=f64, device=device, requires_grad=True)
        (F.embedding(idx, wt, padding_idx=p).tanh() ** 2).sum().backward()
        grads.append(to_np(wt.grad.array))
    want = grads[1].copy()
    want[pad] = 0
    np.testing.assert_allclose(grads[0], want, rtol=1e-12)
    check_double_backward(lambda w_: F.embedding(idx, w_, padding_idx=pad).tanh(), [w], device, seed=seed)


def test_embedding_module_init_names_and_repr():
    e = nn.Embedding(10, 10)
    assert list(e.state_dict()) == ["weight"] and e.weight.shape == (10, 10) and e.weight.dtype == np.float32
    big = nn.Embedding(1000, 100).weight.array
    assert abs(big.mean()) < 0.01 and abs(big.std() - 1) < 0.01  # N(0, 1), as PyTorch
    p = nn.Embedding(5, 3, padding_idx=-1)
    assert p.padding_idx == 4 and not p.weight.array[4].any()
    assert repr(p) == "Embedding(5, 3, padding_idx=4)"
    labels = sg.tensor(np.array([3, 1, 3]))
    np.testing.assert_array_equal(e(labels).array, e.weight.array[[3, 1, 3]])
    frozen = nn.Embedding.from_pretrained(sg.tensor(np.eye(3, dtype=np.float32)))
    assert not frozen.weight.requires_grad and frozen(sg.tensor(np.array([2]))).shape == (1, 3)


def test_embedding_errors_name_the_problem():
    e = nn.Embedding(4, 2)
    with pytest.raises(IndexError, match=r"index 4 is out of range for a table of 4 rows \(valid: 0 to 3\)"):
        e(sg.tensor(np.array([0, 4])))
    with pytest.raises(IndexError, match="index -1 is out of range"):
        e(sg.tensor(np.array([-1, 2])))
    with pytest.raises(TypeError, match=r"integer tensor.*float32"):
        e(sg.tensor([0.0, 1.0]))
    with pytest.raises(NotImplementedError, match="max_norm"):
        nn.Embedding(4, 2, max_norm=1.0)
    with pytest.raises(ValueError, match="padding_idx must be within num_embeddings"):
        nn.Embedding(4, 2, padding_idx=4)


# ---- BatchNorm1d -------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5)])
def test_batchnorm1d_normalises_per_feature_and_tracks_statistics(shape):
    rng = np.random.default_rng(0)
    bn = nn.BatchNorm1d(3, 0.8)  # positional eps, as PyTorch-GAN writes it
    assert bn.eps == 0.8 and bn.momentum == 0.1
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    x = rng.standard_normal(shape) * 2 + 1
    axes = (0,) if len(shape) == 2 else (0, 2)
    y = bn(sg.tensor(x, dtype=f64))
    cs = (1, 3) + (1,) * (len(shape) - 2)
    mean, var = x.mean(axis=axes).reshape(cs), x.var(axis=axes).reshape(cs)
    np.testing.assert_allclose(y.array, (x - mean) / np.sqrt(var + 0.8), rtol=1e-6)
    m = x.size // 3
    np.testing.assert_allclose(bn.running_mean.array, 0.1 * mean.ravel(), rtol=1e-5)
    np.testing.assert_allclose(bn.running_var.array, 0.9 + 0.1 * var.ravel() * m / (m - 1), rtol=1e-5)
    assert int(bn.num_batches_tracked.array) == 1
    bn.eval()
    y = bn(sg.tensor(x, dtype=f64))
    rm, rv = bn.running_mean.array.reshape(cs), bn.running_var.array.reshape(cs)
    np.testing.assert_allclose(y.array, (x - rm) / np.sqrt(rv + 0.8), rtol=1e-5)


@given(n=st.integers(2, 4), c=st.integers(1, 3), length=st.sampled_from([None, 1, 3]), seed=st.integers(0, 99))
def test_batchnorm1d_gradients(device, n, c, length, seed):
    rng = np.random.default_rng(seed)
    shape = (n, c) if length is None else (n, c, length)
    bn = nn.BatchNorm1d(c).double().to(device)

    def fn(x, w, b):
        bn._parameters.update(weight=w, bias=b)
        object.__setattr__(bn, "weight", w), object.__setattr__(bn, "bias", b)
        return bn(x)

    arrays = [rng.standard_normal(shape), rng.standard_normal(c), rng.standard_normal(c)]
    check_backward(fn, arrays, device, seed=seed)
    check_double_backward(lambda x, w, b: fn(x, w, b).tanh(), arrays, device, seed=seed)


def test_batchnorm1d_input_errors():
    bn = nn.BatchNorm1d(4)
    with pytest.raises(ValueError, match=r"BatchNorm1d\(4.*expected 2-D or 3-D input.*got 4-D input"):
        bn(sg.randn(2, 4, 3, 3))
    with pytest.raises(ValueError, match=r"expected input with 4 channels \(N, 4\) or \(N, 4, L\), got shape \(2, 5\)"):
        bn(sg.randn(2, 5))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(sg.randn(1, 4))
    with pytest.raises(ValueError, match=r"BatchNorm2d.*expected 4-D input \(N, C, H, W\)"):
        nn.BatchNorm2d(4)(sg.randn(2, 4))
