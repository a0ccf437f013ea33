"""Lanes (kernels.py): bit for bit what one thread computes, at any number of lanes.

Lanes write disjoint parts of their outputs, never split a GEMM's inner sum, and run each GEMM
on one BLAS thread.  The one sum they share out, a convolution's weight gradient over the batch,
is always taken as kernels.SUM_GROUPS partial sums in a fixed order, lanes or not.  So every
result equals the single-threaded one exactly: lanes off with BLAS on one thread.  (With lanes off
and BLAS on its own threads, OpenBLAS itself may sum a weight-gradient GEMM in another order, as
OPENBLAS_NUM_THREADS=1 and =2 do: the last bits of dW can differ there, and only there.)

The size limits are lowered so that small arrays already make many chunks and use the lanes.
"""
import numpy as np
import pytest

import scratchgan as sg
import scratchgan.kernels as K
import scratchgan.nn as nn
import scratchgan.nn.functional as F
from scratchgan import reference

pytestmark = pytest.mark.skipif(not K.lanes_available(), reason="lanes need OpenBLAS (NumPy's wheels ship it)")


@pytest.fixture(autouse=True)
def small_limits(monkeypatch):
    monkeypatch.setattr(K, "CHUNK_ELEMENTS", 1 << 12)
    monkeypatch.setattr(K, "MIN_CHUNK_ROWS", 8)
    monkeypatch.setattr(K, "MIN_LANE_ELEMENTS", 1 << 8)
    monkeypatch.setattr(K, "MIN_LANE_MACS", 1 << 10)
    monkeypatch.setattr(K._LANES, "convolutions", True)  # as in a process that runs convolutions
    before = sg.get_num_threads()
    yield
    sg.set_num_threads(before)


def run(threads, fn):
    """fn() with ``threads`` lanes; with more than one, a convolution first claims BLAS (as in training),
    and fn must have used more than one lane."""
    sg.set_num_threads(threads)
    if threads == 1:  # the single-threaded reference: lanes off and BLAS on one thread
        set_fn, get_fn = K._LANES.blas
        own = get_fn()
        set_fn(1)
        try:
            return fn()
        finally:
            set_fn(own)
    K.conv2d_array(np.ones((8, 2, 6, 6), np.float32), np.ones((3, 2, 3, 3), np.float32),
                   sg.conv._Geometry((3, 3), 1, 1, 1))
    assert K._LANES.blas_threads is not None
    used = []
    real = K._run_lanes

    def counting(lanes, n, work, grouped=False, claim=True):
        used.append(lanes)
        return real(lanes, n, work, grouped, claim)

    K._run_lanes = counting
    try:
        out = fn()
    finally:
        K._run_lanes = real
    assert max(used, default=1) > 1, "nothing ran in lanes"
    return out


def both(fn, threads=2):
    return run(1, fn), run(threads, fn)


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)


def conv_grads(x, w, transpose=False):
    xt, wt = sg.tensor(x, requires_grad=True), sg.tensor(w, requires_grad=True)
    y = (F.conv_transpose2d if transpose else F.conv2d)(xt, wt, stride=2, padding=1)
    (y * sg.tensor(rand(*y.shape, seed=5))).sum().backward()
    return y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy()


@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize("threads", [2, 3, 5])
def test_convolution_and_its_gradients_bit_for_bit_at_any_thread_count(transpose, threads):
    x = rand(13, 6, 8, 8)  # 13 images: lanes get unequal chunk counts
    w = rand(6, 5, 4, 4, seed=1) if transpose else rand(5, 6, 4, 4, seed=1)
    for u, v in zip(*both(lambda: conv_grads(x, w, transpose), threads)):
        assert np.array_equal(u, v)


@pytest.mark.parametrize("threads", [2, 3])
def test_winograd_convolution_bit_for_bit_at_any_thread_count(threads):
    x, w = rand(13, 16, 8, 8), rand(16, 16, 4, 4, seed=1)  # a stride-2 4×4 convolution: Winograd chunks
    geom = sg.conv._Geometry((4, 4), 2, 1, 1)
    assert K._winograd_fits(16, 16, geom, (4, 4), np)
    plain, laned = both(lambda: K.conv2d_array(x, w, geom), threads)
    assert np.array_equal(plain, laned)
    g = rand(13, 16, 4, 4, seed=2)  # and its weight gradient: partial sums in the fixed SUM_GROUPS order
    plain, laned = both(lambda: K.conv2d_weight_array(x, g, w.shape, geom), threads)
    assert np.array_equal(plain, laned)


def test_the_weight_gradient_is_the_grouped_sum_of_its_chunks():
    """dW = Σ_k Σ_(chunks i ≡ k mod SUM_GROUPS) G_iᵀ cols_i: the order lanes or no lanes follow."""
    x, w = rand(13, 6, 8, 8), rand(5, 6, 4, 4, seed=1)
    geom = sg.conv._Geometry((4, 4), 2, 1, 1)
    g = rand(13, 5, 4, 4, seed=2)
    sg.set_num_threads(1)
    cols = K.Im2col(x, geom, (4, 4))
    assert len(cols.slices) > K.SUM_GROUPS
    gh = K.nhwc(g).reshape(-1, 5)
    parts = [None] * K.SUM_GROUPS
    for i, sl in enumerate(cols.slices):
        term = gh[sl.start * 16:sl.stop * 16].T @ cols(i)
        k = i % K.SUM_GROUPS
        parts[k] = term if parts[k] is None else parts[k] + term
    want = parts[0] + parts[1] + parts[2] + parts[3]
    want = want.reshape(5, 4, 4, 6).transpose(0, 3, 1, 2)
    got = run(2, lambda: K.conv2d_weight_array(x, g, w.shape, geom))
    assert np.array_equal(got, want)
    wt = sg.tensor(w, requires_grad=True)  # and it is the weight gradient of the plain convolution
    (reference.conv2d(sg.tensor(x), wt, stride=2, padding=1) * sg.tensor(g)).sum().backward()
    np.testing.assert_allclose(got, wt.grad.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shape", [((137, 19), (19, 70)), ((70, 19), (19, 140))])  # split by rows, by columns
@pytest.mark.parametrize("threads", [2, 3])
def test_matmul_array_is_its_blocks_at_any_thread_count(shape, threads):
    a, b = rand(*shape[0]), rand(*shape[1], seed=1)
    plain, laned = both(lambda: K.matmul_array(a, b), threads)
    assert np.array_equal(plain, laned)
    blocks = K.product_blocks(*a.shape, b.shape[1])
    assert blocks == 2  # the blocks come from the shape, not from the thread count
    if a.shape[0] >= b.shape[1]:
        want = np.concatenate([a[:68] @ b, a[68:] @ b])
    else:
        want = np.concatenate([a @ b[:, :70], a @ b[:, 70:]], axis=1)
    assert np.array_equal(plain, want)
    np.testing.assert_allclose(plain, a @ b, rtol=1e-5, atol=1e-5)  # one GEMM: the same to rounding
    assert np.array_equal(K.matmul_array(a, b, split=False), a @ b)


@pytest.mark.parametrize("shape", [(128, 300), (1, 5), (70, 1)])
def test_an_outer_product_is_a_broadcast_multiply_with_gemms_bits(shape):
    m, n = shape
    a, b = rand(m, 1) * 3, rand(1, n, seed=1) * 3
    assert np.array_equal(K.matmul_array(a, b), a @ b)
    out = np.empty((m, n), np.float32)
    assert K.matmul_array(a, b, out=out) is out and np.array_equal(out, a @ b)


def test_without_convolutions_a_product_is_one_gemm(monkeypatch):
    # an MLP's process never takes the cores: BLAS's own threads multiply whole products faster
    monkeypatch.setattr(K._LANES, "convolutions", False)
    a, b = rand(137, 19), rand(19, 70, seed=1)
    assert np.array_equal(K.matmul_array(a, b), a @ b)


def test_elementwise_passes_bit_for_bit():
    x = rand(9, 4, 6, 6)

    def passes():
        t = sg.tensor(x, requires_grad=True)
        bn = nn.BatchNorm2d(4)
        with sg.no_grad():
            bn.weight.copy_(sg.tensor(rand(4, seed=2)))
            bn.bias.copy_(sg.tensor(rand(4, seed=3)))
        y = F.leaky_relu(bn(t), 0.2) + F.relu(t) + sg.tanh(t)
        (y * sg.tensor(rand(*y.shape, seed=4))).sum().backward()
        return y.detach().numpy(), t.grad.numpy(), bn.weight.grad.numpy(), bn.running_var.numpy()

    for u, v in zip(*both(passes)):
        assert np.array_equal(u, v)


def test_inplace_activations_through_lanes():
    x = rand(9, 4, 6, 6)
    outs = both(lambda: (F.leaky_relu(sg.tensor(x.copy()), 0.2, inplace=True).numpy(),
                         F.relu(sg.tensor(x.copy()), inplace=True).numpy()))
    np.testing.assert_array_equal(outs[0][0], np.maximum(x, 0.2 * x))
    np.testing.assert_array_equal(outs[1][0], outs[0][0])
    np.testing.assert_array_equal(outs[1][1], np.maximum(x, 0))


def adam_steps(shapes, threads, amsgrad=False, weight_decay=0.0):
    """Three Adam steps over parameters of these shapes with ``threads`` lanes (no convolution: as in
    an MLP process, BLAS keeps its own threads); the parameters and the optimiser state after them."""
    sg.set_num_threads(threads)
    params = [nn.Parameter(sg.tensor(rand(*s, seed=i))) for i, s in enumerate(shapes)]
    opt = sg.optim.Adam(params, 1e-2, betas=(0.5, 0.999), amsgrad=amsgrad, weight_decay=weight_decay)
    for t in range(3):
        for i, p in enumerate(params):
            p.grad = sg.tensor(rand(*p.shape, seed=100 * t + i))
        opt.step()
    return [p.detach().numpy().copy() for p in params] + [v for st in opt.state.values() for v in st.values()]


@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("amsgrad, weight_decay", [(False, 0.0), (True, 0.1)])
def test_adam_through_lanes_bit_for_bit(monkeypatch, threads, amsgrad, weight_decay):
    monkeypatch.setattr(K._LANES, "convolutions", False)
    shapes = [(37, 11), (5,), (1, 300), (), (2, 3, 4, 4), (64,)]  # 1-row and 0-d ones go whole to lane 0
    used = []
    real = K._run_lanes
    monkeypatch.setattr(K, "_run_lanes", lambda lanes, *a, **kw: (used.append((lanes, kw)), real(lanes, *a, **kw))[1])
    on = adam_steps(shapes, threads, amsgrad, weight_decay)
    # claim=False: the update never takes BLAS's threads away (an MLP process keeps them)
    assert used and all(lanes == threads and kw == {"claim": False} for lanes, kw in used)
    off = adam_steps(shapes, 1, amsgrad, weight_decay)
    assert len(used) == 3  # lanes off: the plain loop
    for a, b in zip(on, off):
        assert np.array_equal(a, b)


def test_adam_through_lanes_equals_the_reference():
    shapes = [(40, 9), (17,)]
    fast = adam_steps(shapes, 2)
    sg.set_num_threads(1)
    params = [nn.Parameter(sg.tensor(rand(*s, seed=i))) for i, s in enumerate(shapes)]
    opt = reference.Adam(params, 1e-2, betas=(0.5, 0.999))
    for t in range(3):
        for i, p in enumerate(params):
            p.grad = sg.tensor(rand(*p.shape, seed=100 * t + i))
        opt.step()
    for a, p in zip(fast, params):
        np.testing.assert_allclose(a, p.detach().numpy(), rtol=1e-6, atol=1e-7)


def test_a_dcgan_step_with_and_without_lanes():
    from scratchgan.gan.models import DCGANDiscriminator, DCGANGenerator

    def step():
        sg.manual_seed(0)
        G, D = DCGANGenerator(16, 8, 1, 28), DCGANDiscriminator(8, 1, 28)
        opt = sg.optim.Adam(list(G.parameters()) + list(D.parameters()), 2e-4, betas=(0.5, 0.999))
        z, real = sg.randn(12, 16, 1, 1), sg.rand(12, 1, 28, 28) * 2 - 1
        loss = F.binary_cross_entropy_with_logits(D(real).view(-1), sg.ones(12)) + \
            F.binary_cross_entropy_with_logits(D(G(z)).view(-1), sg.zeros(12))
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item(), [p.detach().numpy().copy() for p in list(G.parameters()) + list(D.parameters())]

    (l1, p1), (l2, p2) = both(step)
    assert l1 == l2
    for a, b in zip(p1, p2):
        assert np.array_equal(a, b)


def test_a_lane_error_reaches_the_caller_and_blas_gets_its_threads_back():
    set_fn, get_fn = K._LANES.blas
    sg.set_num_threads(1)
    own = get_fn()

    def work(i):
        if i == 3:
            raise RuntimeError("chunk 3 failed")

    sg.set_num_threads(2)
    with pytest.raises(RuntimeError, match="chunk 3 failed"):
        K._run_lanes(2, 6, work)
    assert get_fn() == 1  # claimed while lanes are on
    sg.set_num_threads(1)
    assert get_fn() == own


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "2"])
def test_set_num_threads_rejects_bad_values(bad):
    with pytest.raises(ValueError, match="set_num_threads: expected a positive int"):
        sg.set_num_threads(bad)


def test_set_num_threads_round_trip():
    sg.set_num_threads(3)
    assert sg.get_num_threads() == 3
    sg.set_num_threads(1)
    assert sg.get_num_threads() == 1


@pytest.mark.skipif(K._LANES.mallopt is None, reason="glibc's mallopt only")
def test_claiming_the_cores_keeps_freed_memory_for_good():
    sg.set_num_threads(2)
    K.conv2d_array(np.ones((8, 2, 6, 6), np.float32), np.ones((3, 2, 3, 3), np.float32),
                   sg.conv._Geometry((3, 3), 1, 1, 1))
    assert K._LANES.malloc_kept
    sg.set_num_threads(1)  # lanes off, BLAS back to its threads; the malloc setting stays (it changes no result)
    assert K._LANES.malloc_kept and K._LANES.blas_threads is None


def test_a_bad_thread_variable_is_named():
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", "import scratchgan"], capture_output=True, text=True,
                       env={**__import__("os").environ, "SCRATCHGAN_NUM_THREADS": "two"})
    assert r.returncode != 0 and "SCRATCHGAN_NUM_THREADS must be a positive integer, got 'two'" in r.stderr


FIRST_STEP_SCRIPT = """
import hashlib, numpy as np, scratchgan as sg, scratchgan.kernels as K, scratchgan.nn as nn
sg.set_num_threads(2)
sg.manual_seed(0)
G = nn.Sequential(nn.Linear(512, 1024), nn.Unflatten(1, (64, 4, 4)), nn.ConvTranspose2d(64, 8, 4, 2, 1))
z = sg.tensor(np.random.default_rng(0).standard_normal((128, 512), dtype=np.float32))
outs = [G(z).detach().numpy() for _ in range(2)]
print(K._LANES.blas_threads is not None, np.array_equal(outs[0], outs[1]))
"""


def test_a_linear_before_the_first_convolution_runs_the_same_in_the_first_step():
    # In a fresh process: the model's Linear (a product of 2^26 multiply-adds, split into blocks) must
    # run on the lanes already in the first call, as in every later one, or a run resumed in a new
    # process would differ in the last bits from an uninterrupted one: building a conv layer claims the cores.
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    env.pop("SCRATCHGAN_NUM_THREADS", None)
    r = subprocess.run([sys.executable, "-c", FIRST_STEP_SCRIPT], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True", "True"]
