"""The thread pool of scratchgan/parallel.py and the kernels that use it.

Every threaded pass splits its work into non-overlapping slices computed exactly as the whole array
would be (elementwise ops and copies, no reordered sums), so the results with the switch off
(``set_num_threads(1)``) and on must be the same bits: every comparison here is exact
(``np.array_equal``), none within a tolerance.  The thresholds are lowered so that these small
arrays take the threaded paths.
"""
import numpy as np
import pytest

import scratchgan as sg
import scratchgan.nn as nn
import scratchgan.nn.functional as F
from scratchgan import parallel


@pytest.fixture
def small_thresholds(monkeypatch):
    """Thread even tiny arrays, and cut Adam's pieces small, so the tests exercise every split."""
    monkeypatch.setattr(parallel, "MIN_PARALLEL_ELEMENTS", 0)
    monkeypatch.setattr(parallel, "PIECE_ELEMENTS", 7)
    before = sg.get_num_threads()
    yield
    sg.set_num_threads(before)


def _run(fn, threads):
    sg.set_num_threads(threads)
    sg.manual_seed(0)
    return [np.asarray(a) for a in fn()]


def _same_bits(fn):
    off, on = _run(fn, 1), _run(fn, 3)
    assert len(off) == len(on)
    for a, b in zip(off, on):
        assert a.dtype == b.dtype and a.shape == b.shape and a.strides == b.strides  # the layout too
        assert np.array_equal(a, b, equal_nan=True)


def test_switch():
    before = sg.get_num_threads()
    try:
        sg.set_num_threads(3)
        assert sg.get_num_threads() == 3
        with pytest.raises(ValueError, match="set_num_threads"):
            sg.set_num_threads(0)
    finally:
        sg.set_num_threads(before)


def test_environment_variable(monkeypatch):
    monkeypatch.setenv("SCRATCHGAN_NUM_THREADS", "1")
    assert parallel._default_threads() == 1


def test_slices_cover_once_and_errors_propagate(small_thresholds):
    sg.set_num_threads(4)
    hits = np.zeros(10, dtype=int)

    def mark(sl):
        hits[sl] += 1
        parallel.parallel_slices(lambda inner: None, 5, 100)  # nested: runs inline, no deadlock

    parallel.parallel_slices(mark, 10, 1)
    assert (hits == 1).all()

    def boom(sl):
        raise KeyError("from a worker")

    with pytest.raises(KeyError, match="from a worker"):
        parallel.parallel_slices(boom, 10, 1)


def _grads_of(out, *inputs):
    g = sg.randn(*out.shape)
    out.backward(g)
    return [out.array] + [t.grad.array for t in inputs]


@pytest.mark.parametrize("act", ["relu", "leaky_relu", "relu_", "leaky_relu_", "tanh"])
def test_activations(small_thresholds, act):
    def fn():
        x = sg.randn(6, 5, 3, 4, requires_grad=True)
        h = x * 1.0  # a non-leaf, so the in-place forms are legal
        y = {"relu": lambda: F.relu(h), "leaky_relu": lambda: F.leaky_relu(h, 0.2),
             "relu_": lambda: h.relu_(), "leaky_relu_": lambda: F.leaky_relu(h, 0.2, inplace=True),
             "tanh": lambda: sg.tanh(h)}[act]()
        return _grads_of(y, x)

    _same_bits(fn)


def test_arithmetic(small_thresholds):
    def fn():
        a, b = sg.randn(7, 3, 5, requires_grad=True), sg.randn(7, 3, 5, requires_grad=True)
        strided = a[:, :, ::2] * b[:, :, ::2]  # not dense: NumPy keeps choosing the layout
        transposed = a[0].t() * b[0].t()  # Fortran order
        return _grads_of(a * b + a - b * 2.0, a, b) + [strided.array, transposed.array]

    _same_bits(fn)


@pytest.mark.parametrize("c_out", [2, 16])  # below and above conv.FEW_CHANNELS: both col2im layouts
def test_convolutions(small_thresholds, c_out):
    def fn():
        x = sg.randn(5, 3, 9, 9, requires_grad=True)
        conv = nn.Conv2d(3, 8, 4, 2, 1)
        up = nn.ConvTranspose2d(8, c_out, 4, 2, 1)
        y = up(F.leaky_relu(conv(x), 0.2))
        return _grads_of(y, x, conv.weight, up.weight)

    _same_bits(fn)


@pytest.mark.parametrize("ndim", [2, 4])
def test_batch_norm(small_thresholds, ndim):
    def fn():
        shape = (9, 6) if ndim == 2 else (9, 6, 5, 4)
        x = sg.randn(*shape, requires_grad=True)
        bn = (nn.BatchNorm1d if ndim == 2 else nn.BatchNorm2d)(6)
        y = bn(x * 2.0 + 1.0)
        return _grads_of(y, x, bn.weight, bn.bias) + [bn.running_mean.array, bn.running_var.array]

    _same_bits(fn)


def _adam_run(foreach, **kw):
    sg.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 9), nn.LeakyReLU(0.2), nn.Linear(9, 3))
    opt = sg.optim.Adam(net.parameters(), 1e-2, foreach=foreach, **kw)
    x = sg.randn(4, 5)
    for _ in range(3):
        opt.zero_grad()
        (net(x) ** 2).sum().backward()
        opt.step()
    return [p.array for p in net.parameters()] + [v for s in opt.state.values() for k, v in sorted(s.items())
                                                   if k != "step"]


@pytest.mark.parametrize("kw", [{}, {"amsgrad": True, "weight_decay": 0.1}, {"maximize": True},
                                {"decoupled_weight_decay": True, "weight_decay": 0.1}])
def test_adam_foreach_equals_per_parameter(small_thresholds, kw):
    """The blocked, threaded foreach update gives the per-parameter loop's bits (switch on or off)."""
    per_param = _run(lambda: _adam_run(False, **kw), 1)
    for threads in (1, 3):
        foreach = _run(lambda: _adam_run(None, **kw), threads)
        for a, b in zip(per_param, foreach):
            assert np.array_equal(a, b)


def test_dcgan_step(small_thresholds):
    """A whole small DCGAN step (G and D, BatchNorm, both Adams): the same bits with threads off and on."""
    from scratchgan.models import DCGANDiscriminator, DCGANGenerator

    def fn():
        G, D = DCGANGenerator(8, 4, 1, 28), DCGANDiscriminator(4, 1, 28)
        oG, oD = sg.optim.Adam(G.parameters(), 2e-4, (0.5, 0.999)), sg.optim.Adam(D.parameters(), 2e-4, (0.5, 0.999))
        bce = nn.BCEWithLogitsLoss()
        real, z = sg.rand(3, 1, 28, 28) * 2 - 1, sg.randn(3, 8, 1, 1)
        fake = G(z)
        lD = bce(D(real).view(3, 1), sg.ones(3, 1)) + bce(D(fake.detach()).view(3, 1), sg.zeros(3, 1))
        oD.zero_grad(); lD.backward(); oD.step()  # noqa: E702
        lG = bce(D(fake).view(3, 1), sg.ones(3, 1))
        oG.zero_grad(); lG.backward(); oG.step()  # noqa: E702
        return [p.array for p in list(G.parameters()) + list(D.parameters())]

    _same_bits(fn)


def test_activations_keep_channels_last(small_thresholds):
    """Masks and slopes are made in the input's layout: a channels-last activation (as the convolutions
    hand out) keeps a channels-last gradient, which the next convolution reads without a copy."""
    sg.set_num_threads(3)
    for act in (F.relu, lambda t: F.leaky_relu(t, 0.2)):
        x = sg.Tensor(np.zeros((4, 5, 3, 2), dtype=np.float32).transpose(0, 3, 1, 2) + 1, requires_grad=True)
        h = x * 1.0
        y = act(h)
        y.backward(sg.Tensor(np.ones((4, 5, 3, 2), dtype=np.float32).transpose(0, 3, 1, 2)))
        assert y.array.transpose(0, 2, 3, 1).flags.c_contiguous
        assert x.grad.array.transpose(0, 2, 3, 1).flags.c_contiguous


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_forked_child_gets_its_own_pool(small_thresholds):
    """A DataLoader worker forked after the pool started must not hand work to threads it lacks."""
    import os

    sg.set_num_threads(2)
    parallel.parallel_slices(lambda sl: None, 4, 1)  # the parent's pool exists now
    pid = os.fork()
    if pid == 0:  # the child: a threaded pass must finish (a lost pool would hang here)
        hits = np.zeros(4, dtype=int)
        parallel.parallel_slices(lambda sl: hits.__setitem__(sl, 1), 4, 1)
        os._exit(0 if hits.all() else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
