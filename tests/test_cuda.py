"""The CuPy backend on a real GPU agrees with NumPy: every op of the gradcheck table and every layer,
forward, backward and double backward, in float32; a DCGAN training step; Module.to round trips;
a checkpoint saved on the GPU loads on the CPU; ``scratchgan train --device cuda`` end to end.

Runs only where CuPy sees a GPU.  ``SCRATCHGAN_CUDA_TEST_DEVICE=strict`` runs the same comparisons
against the strict test backend instead: that checks this file's own logic on a CPU-only machine,
and is no GPU result.
"""
import copy
import os

import numpy as np
import pytest

import scratchgan as sg
from scratchgan import nn
from tests.test_gradcheck import OPS

GPU = os.environ.get("SCRATCHGAN_CUDA_TEST_DEVICE", "cuda")
EMULATED = GPU != "cuda"
if not EMULATED and not sg.cuda.is_available():
    pytest.skip("CuPy with a visible GPU is not available (scratchgan.cuda.is_available() is False: "
                f"{sg.backend._CUDA_STATE.get('error', 'CuPy found no GPU')})", allow_module_level=True)

F32 = np.float32


def host(t):
    return sg.backend.to_numpy(t.array) if isinstance(t, sg.Tensor) else None


def close(gpu, cpu, what, rtol=1e-4):
    """float32 agreement: relative to the value, with an absolute floor scaled to the array's size."""
    gpu, cpu = np.asarray(gpu, dtype=np.float64), np.asarray(cpu, dtype=np.float64)
    assert gpu.shape == cpu.shape, f"{what}: shape {gpu.shape} on {GPU}, {cpu.shape} on cpu"
    scale = float(np.abs(cpu).max()) if cpu.size else 0.0
    np.testing.assert_allclose(gpu, cpu, rtol=rtol, atol=rtol * (1.0 + scale), err_msg=what)


def _outputs(y):
    ys = y if isinstance(y, (tuple, list)) else (y,)
    return [t for t in ys if isinstance(t, sg.Tensor) and t.dtype.kind == "f"]


def first_and_second_grads(fn, arrays, dev):
    """fn's outputs, d<out, p1>/dx and d<dx, p2>/dx (the double backward) for float32 inputs on ``dev``;
    the probes p1, p2 are fixed random arrays, so both devices see the same ones."""
    xs = [sg.tensor(a.astype(F32), device=dev, requires_grad=True) for a in arrays]
    outs = _outputs(fn(*xs, dev))
    rng = np.random.default_rng(7)
    loss = sum((o * sg.tensor(rng.standard_normal(o.shape).astype(F32), device=o.device)).sum() for o in outs)
    g1 = sg.autograd.grad(loss, xs, create_graph=True, allow_unused=True)
    used = [(x, g) for x, g in zip(xs, g1) if g is not None and g.requires_grad]
    g2 = [None] * len(xs)
    if used:
        second = sum((g * sg.tensor(rng.standard_normal(g.shape).astype(F32), device=dev)).sum() for _, g in used)
        g2 = sg.autograd.grad(second, xs, allow_unused=True)
    return [host(o) for o in outs], [host(g) for g in g1], [host(g) for g in g2]


@pytest.mark.parametrize("name", sorted(OPS))
def test_every_op_matches_numpy_forward_backward_and_double_backward(name):
    fn, inputs = OPS[name]
    arrays = inputs(np.random.default_rng(abs(hash(name)) % 2 ** 32))
    sg.manual_seed(0)
    cpu = first_and_second_grads(fn, arrays, "cpu")
    sg.manual_seed(0)
    gpu = first_and_second_grads(fn, arrays, GPU)
    for kind, a, b in zip(("output", "grad", "double-backward grad"), gpu, cpu):
        assert len(a) == len(b), f"{name}: {kind}s differ in number"
        for i, (ga, ca) in enumerate(zip(a, b)):
            assert (ga is None) == (ca is None), f"{name}: {kind} {i} is None on one device only"
            if ga is not None:
                close(ga, ca, f"{name}: {kind} {i}")


def _sn_linear():
    return nn.utils.spectral_norm(nn.Linear(6, 5))


# name -> (module factory, input shape, input kind): float inputs, or int64 indices for Embedding.
LAYERS = {
    "Linear": (lambda: nn.Linear(6, 5), (4, 6), "f"),
    "Conv2d": (lambda: nn.Conv2d(3, 4, 4, 2, 1), (2, 3, 8, 8), "f"),
    "ConvTranspose2d": (lambda: nn.ConvTranspose2d(3, 4, 4, 2, 1), (2, 3, 5, 5), "f"),
    "BatchNorm1d": (lambda: nn.BatchNorm1d(5), (6, 5), "f"),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(3), (4, 3, 5, 5), "f"),
    "LayerNorm": (lambda: nn.LayerNorm(5), (3, 4, 5), "f"),
    "GroupNorm": (lambda: nn.GroupNorm(2, 4), (2, 4, 3, 3), "f"),
    "InstanceNorm2d": (lambda: nn.InstanceNorm2d(3, affine=True), (2, 3, 4, 4), "f"),
    "Embedding": (lambda: nn.Embedding(7, 4), (5,), "i"),
    "LeakyReLU": (lambda: nn.LeakyReLU(0.2), (3, 5), "f"),
    "ReLU": (lambda: nn.ReLU(), (3, 5), "f"),
    "Tanh": (lambda: nn.Tanh(), (3, 5), "f"),
    "Sigmoid": (lambda: nn.Sigmoid(), (3, 5), "f"),
    "Softplus": (lambda: nn.Softplus(), (3, 5), "f"),
    "Upsample": (lambda: nn.Upsample(scale_factor=2), (2, 3, 3, 3), "f"),
    "AvgPool2d": (lambda: nn.AvgPool2d(2), (2, 3, 4, 4), "f"),
    "Flatten": (lambda: nn.Flatten(), (2, 3, 4), "f"),
    "LogSoftmax": (lambda: nn.LogSoftmax(dim=1), (3, 5), "f"),
    "spectral_norm(Linear)": (_sn_linear, (4, 6), "f"),
}


def _layer_run(module, x_host, kind, dev):
    """Output, input grad and parameter grads of <module(x), probe>, and the buffers after the pass."""
    m = module.to(dev)
    m.train()
    if kind == "i":
        x = sg.tensor(x_host, device=dev)
    else:
        x = sg.tensor(x_host, device=dev, requires_grad=True)
    y = m(x)
    probe = np.random.default_rng(3).standard_normal(y.shape).astype(F32)
    (y * sg.tensor(probe, device=dev)).sum().backward()
    grads = {n: host(p.grad) for n, p in m.named_parameters()}
    buffers = {n: host(b) for n, b in m.named_buffers()}
    return host(y), (host(x.grad) if kind == "f" else None), grads, buffers


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_every_layer_matches_numpy(name):
    factory, shape, kind = LAYERS[name]
    sg.manual_seed(0)
    module = factory()
    rng = np.random.default_rng(1)
    x = rng.integers(0, 7, size=shape) if kind == "i" else rng.standard_normal(shape).astype(F32)
    twin = copy.deepcopy(module)
    sg.manual_seed(5)
    y_c, gx_c, gp_c, b_c = _layer_run(module, x, kind, "cpu")
    sg.manual_seed(5)
    y_g, gx_g, gp_g, b_g = _layer_run(twin, x, kind, GPU)
    close(y_g, y_c, f"{name}: output")
    if kind == "f":
        close(gx_g, gx_c, f"{name}: input grad")
    assert gp_g.keys() == gp_c.keys() and b_g.keys() == b_c.keys()
    for n in gp_c:
        close(gp_g[n], gp_c[n], f"{name}: grad of {n}")
    for n in b_c:  # running statistics, spectral_norm's u/v
        close(b_g[n], b_c[n], f"{name}: buffer {n}")


def _dcgan_losses(dev, batch_host, z_host, steps=2):
    """Two DCGAN-28 training steps of bench_step.py's loop from fixed weights, batch and noise."""
    from scratchgan.gan.models import DCGANDiscriminator, DCGANGenerator

    sg.manual_seed(0)
    G, D = DCGANGenerator(16, 8, 1, 28).to(dev), DCGANDiscriminator(8, 1, 28).to(dev)
    oG = sg.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999))
    oD = sg.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    real = sg.tensor(batch_host, device=dev)
    n = real.shape[0]
    ones, zeros = sg.ones(n, 1, device=dev), sg.zeros(n, 1, device=dev)
    losses = []
    for i in range(steps):
        fake = G(sg.tensor(z_host[i], device=dev))
        lD = bce(D(real).view(n, 1), ones) + bce(D(fake.detach()).view(n, 1), zeros)
        oD.zero_grad(); lD.backward(); oD.step()  # noqa: E702
        lG = bce(D(fake).view(n, 1), ones)
        oG.zero_grad(); lG.backward(); oG.step()  # noqa: E702
        losses += [lD.item(), lG.item()]
    return np.array(losses), {k: host(v) for k, v in G.state_dict().items()}


def test_a_dcgan_training_step_gives_the_cpu_losses():
    rng = np.random.default_rng(0)
    batch = rng.uniform(-1, 1, (16, 1, 28, 28)).astype(F32)
    z = rng.standard_normal((2, 16, 16, 1, 1)).astype(F32)
    l_cpu, sd_cpu = _dcgan_losses("cpu", batch, z)
    l_gpu, sd_gpu = _dcgan_losses(GPU, batch, z)
    np.testing.assert_allclose(l_gpu, l_cpu, rtol=1e-3, atol=1e-3)
    for k in sd_cpu:
        close(sd_gpu[k], sd_cpu[k], f"G.{k} after two steps", rtol=1e-3)


def test_module_to_the_gpu_and_back_round_trips():
    from scratchgan.gan.models import DCGANGenerator

    G = DCGANGenerator(8, 4, 1, 28)
    before = {k: host(v).copy() for k, v in G.state_dict().items()}
    G.to(GPU)
    assert all(p.device == sg.device(GPU) for p in G.parameters())
    assert all(b.device == sg.device(GPU) for b in G.buffers())
    G.to("cpu")
    assert all(p.device == sg.device("cpu") for p in G.parameters())
    after = G.state_dict()
    for k, v in before.items():
        assert after[k].dtype == v.dtype
        np.testing.assert_array_equal(host(after[k]), v, err_msg=k)


def test_a_checkpoint_saved_on_the_gpu_loads_on_the_cpu(tmp_path):
    from scratchgan.gan.models import DCGANDiscriminator

    D = DCGANDiscriminator(4, 1, 28).to(GPU)
    opt = sg.optim.Adam(D.parameters(), 1e-3)
    D(sg.randn(2, 1, 28, 28, device=GPU)).sum().backward()
    opt.step()
    path = tmp_path / "d.pt"
    sg.save({"D": D.state_dict(), "opt": opt.state_dict()}, path)
    state = sg.load(path, map_location="cpu")
    assert all(v.device == sg.device("cpu") for v in state["D"].values())
    D_cpu = DCGANDiscriminator(4, 1, 28)
    D_cpu.load_state_dict(state["D"])
    opt_cpu = sg.optim.Adam(D_cpu.parameters(), 1e-3)
    opt_cpu.load_state_dict(state["opt"])
    for (k, a), b in zip(D.state_dict().items(), D_cpu.state_dict().values()):
        np.testing.assert_array_equal(host(b), host(a), err_msg=k)
    x = np.random.default_rng(0).standard_normal((3, 1, 28, 28)).astype(F32)
    with sg.no_grad():
        D.eval(), D_cpu.eval()
        close(host(D(sg.tensor(x, device=GPU))), host(D_cpu(sg.tensor(x))), "D(x) after loading on the cpu")


@pytest.mark.skipif(EMULATED, reason="the CLI accepts only cpu/cuda/auto devices")
def test_scratchgan_train_device_cuda_runs_a_short_dcgan(tmp_path):
    from scratchgan.gan import cli
    from scratchgan.gan.checkpoint import load_checkpoint
    from scratchgan.gan.datasets import write_idx

    idx = tmp_path / "idx"
    idx.mkdir()
    write_idx(idx / "train-images-idx3-ubyte.gz",
              np.random.default_rng(0).integers(0, 256, size=(64, 28, 28), dtype=np.uint8))
    out = tmp_path / "run"
    assert cli.main(["train", "--data", "mnist", "--model", "dcgan", "--data-dir", str(idx), "--steps", "4",
                     "--batch-size", "16", "--ngf", "8", "--ndf", "8", "--device", "cuda", "--quiet",
                     "--seed", "1", "--out", str(out)]) == 0
    ckpt = load_checkpoint(out / "checkpoint.npz")
    assert ckpt.step == 4
    assert str(ckpt.config["device"]).startswith("cuda")
    # and the run's generator samples on the CPU
    assert cli.main(["sample", "--checkpoint", str(out), "--n", "8", "--out", str(tmp_path / "s.npy"),
                     "--device", "cpu", "--seed", "0"]) == 0
    samples = np.load(tmp_path / "s.npy")
    assert samples.shape[0] == 8 and np.isfinite(samples).all()


@pytest.mark.skipif(EMULATED, reason="torch.cuda's memory and timing calls need CuPy itself")
def test_the_torch_cuda_calls_of_a_training_script_work_on_cupy():
    x = sg.randn(1024, 1024, device=GPU)
    sg.cuda.synchronize()                                                        # time a step after it
    assert sg.cuda.current_device() == 0 and isinstance(sg.cuda.get_device_name(), str)
    assert sg.cuda.memory_allocated() >= x.nbytes and sg.cuda.max_memory_allocated() >= sg.cuda.memory_allocated()
    del x
    sg.cuda.empty_cache()
