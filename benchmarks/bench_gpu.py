"""Time DCGAN training steps on the GPU: scratchgan on CuPy against the same steps in PyTorch CUDA.

The step is bench_step.py's (and shared/bench/torch_ref.py's): float32, Adam(2e-4, betas=(0.5, 0.999)),
BCEWithLogits; one step = G forward, D update on the real batch and on ``fake.detach()``, then the G
update through D.  Here on the GPU, at batch 128 and 512, for DCGAN-28 (``dcgan``) and DCGAN-64
(``dcgan64``):

    PYTHONPATH=. python benchmarks/bench_gpu.py                      # all four cases, torch if present
    PYTHONPATH=. python benchmarks/bench_gpu.py dcgan64 --batch 512 --steps 20 --no-torch

Each step is timed between two device synchronisations (``cupy.cuda.Device().synchronize()``,
``torch.cuda.synchronize()``), after ``--warmup`` untimed steps (CuPy compiles its kernels on first
use; cuDNN picks algorithms).  Printed per case: median and fastest ms/step of each side, the ratio
scratchgan/torch, and peak GPU memory (CuPy: the memory pool's size after the run, which only grows,
freed before each case; torch: ``torch.cuda.max_memory_allocated``).  torch is imported only here and
is optional.  Without a GPU this prints one line and exits with status 1.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORKLOADS = ("dcgan", "dcgan64")
NZ = 100


def _sync_cupy():
    import cupy

    cupy.cuda.Device().synchronize()


def _no_sync():
    pass


def _time_steps(step, sync, steps, warmup):
    for _ in range(warmup):
        step()
    sync()
    times = []
    for _ in range(steps):
        sync()
        t = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t)
    return times


# ---- scratchgan on CuPy: bench_step.py's models and loop on device "cuda" ------------------------------
def scratchgan_case(kind, batch, steps, warmup, dev="cuda"):
    import scratchgan as torch
    import scratchgan.nn as nn
    from bench_step import build  # the CPU benchmark's models, so both benchmarks time the same networks

    pool = None
    if dev == "cuda":
        import cupy

        pool = cupy.get_default_memory_pool()
        pool.free_all_blocks()
    G, D, zshape, xshape = build(kind)
    G, D = G.to(dev), D.to(dev)
    B = batch
    oG = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999))
    oD = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    real = torch.rand(B, *xshape[1:], device=dev) * 2 - 1
    ones, zeros = torch.ones(B, 1, device=dev), torch.zeros(B, 1, device=dev)

    def step():
        fake = G(torch.randn(B, *zshape, device=dev))
        lD = bce(D(real).view(B, 1), ones) + bce(D(fake.detach()).view(B, 1), zeros)
        oD.zero_grad(); lD.backward(); oD.step()  # noqa: E702
        lG = bce(D(fake).view(B, 1), ones)
        oG.zero_grad(); lG.backward(); oG.step()  # noqa: E702

    times = _time_steps(step, _sync_cupy if pool else _no_sync, steps, warmup)
    peak = pool.total_bytes() if pool else 0
    del G, D, oG, oD, real
    if pool:
        pool.free_all_blocks()
    return times, peak


# ---- PyTorch CUDA: torch_ref.py's models and loop on device "cuda" ---------------------------------------
def torch_models(torch, kind):
    nn = torch.nn
    if kind == "dcgan":
        G = nn.Sequential(nn.ConvTranspose2d(NZ, 256, 7, 1, 0, bias=False), nn.BatchNorm2d(256), nn.ReLU(True),
                          nn.ConvTranspose2d(256, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(True),
                          nn.ConvTranspose2d(128, 1, 4, 2, 1, bias=False), nn.Tanh())
        D = nn.Sequential(nn.Conv2d(1, 64, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True),
                          nn.Conv2d(64, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128), nn.LeakyReLU(0.2, True),
                          nn.Conv2d(128, 1, 7, 1, 0, bias=False))
        return G, D, (1, 28, 28)
    ngf = ndf = 64
    nc = 3
    G = nn.Sequential(
        nn.ConvTranspose2d(NZ, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
        nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh())
    D = nn.Sequential(
        nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True),
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, True),
        nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, True),
        nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 8), nn.LeakyReLU(0.2, True),
        nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False))
    return G, D, (nc, 64, 64)


def torch_case(torch, kind, batch, steps, warmup, dev="cuda"):
    nn = torch.nn
    torch.manual_seed(0)
    G, D, xshape = torch_models(torch, kind)
    G, D = G.to(dev), D.to(dev)
    B = batch
    oG = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999))
    oD = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    real = torch.rand(B, *xshape, device=dev) * 2 - 1
    ones, zeros = torch.ones(B, 1, device=dev), torch.zeros(B, 1, device=dev)

    def step():
        fake = G(torch.randn(B, NZ, 1, 1, device=dev))
        lD = bce(D(real).view(B, 1), ones) + bce(D(fake.detach()).view(B, 1), zeros)
        oD.zero_grad(); lD.backward(); oD.step()  # noqa: E702
        lG = bce(D(fake).view(B, 1), ones)
        oG.zero_grad(); lG.backward(); oG.step()  # noqa: E702

    if dev != "cuda":
        return _time_steps(step, _no_sync, steps, warmup), 0
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    times = _time_steps(step, torch.cuda.synchronize, steps, warmup)
    return times, torch.cuda.max_memory_allocated()


def _load_torch(wanted, dev):
    if not wanted:
        return None, "torch: skipped (--no-torch)"
    try:
        import torch
    except ImportError:
        return None, "torch: not installed; CuPy times only"
    if dev == "cpu":
        return torch, f"torch {torch.__version__} on the CPU (check only)"
    if not torch.cuda.is_available():
        return None, f"torch {torch.__version__}: CUDA not available; CuPy times only"
    return torch, (f"torch {torch.__version__} CUDA {torch.version.cuda} cuDNN {torch.backends.cudnn.version()} "
                   f"(cudnn.benchmark={torch.backends.cudnn.benchmark}, cudnn.allow_tf32="
                   f"{torch.backends.cudnn.allow_tf32}, matmul.allow_tf32={torch.backends.cuda.matmul.allow_tf32})")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workloads", nargs="*", default=list(WORKLOADS), help=f"any of {WORKLOADS}")
    ap.add_argument("--batch", type=int, nargs="+", default=[128, 512], help="batch sizes (default 128 512)")
    ap.add_argument("--steps", type=int, default=15, help="timed steps per case")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first (kernel compilation, cuDNN)")
    ap.add_argument("--no-torch", dest="torch", action="store_false", help="time scratchgan only")
    ap.add_argument("--cpu-check", action="store_true",
                    help="run both sides' steps on the CPU, unsynchronised: checks this script without a GPU "
                         "(its times are not GPU results)")
    args = ap.parse_args(argv)
    for kind in args.workloads:
        if kind not in WORKLOADS:
            raise SystemExit(f"bench_gpu: unknown workload {kind!r}; choose from {WORKLOADS}")

    import scratchgan as sg

    dev = "cpu" if args.cpu_check else "cuda"
    if args.cpu_check:
        print("CPU CHECK: both sides run on the CPU without synchronisation; these are not GPU results")
    elif not sg.cuda.is_available():
        why = sg.backend._CUDA_STATE.get("error", "CuPy found no GPU")
        print(f"bench_gpu: no GPU for scratchgan ({why}); nothing to time")
        return 1
    else:
        import cupy

        props = cupy.cuda.runtime.getDeviceProperties(0)
        name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        print(f"device: {name}; CuPy {cupy.__version__} CUDA runtime {cupy.cuda.runtime.runtimeGetVersion()} "
              f"driver {cupy.cuda.runtime.driverGetVersion()}; cuDNN in CuPy: "
              f"{getattr(cupy.cuda, 'cudnn_enabled', 'unknown')}")
    torch, torch_line = _load_torch(args.torch, dev)
    print(torch_line)
    print(f"{args.warmup} warm-up steps, then the median (min) of {args.steps} synchronised steps")
    print(f"{'workload':9s} {'batch':>5s} {'scratchgan ms':>13s} {'(min)':>7s} {'torch ms':>9s} {'(min)':>7s} "
          f"{'ratio':>6s} {'peak MB sg':>10s} {'peak MB torch':>13s}")
    for kind in args.workloads:
        for batch in args.batch:
            try:
                sg_t, sg_peak = scratchgan_case(kind, batch, args.steps, args.warmup, dev)
            except Exception as exc:  # e.g. out of memory: report and go on with the other cases
                print(f"{kind:9s} {batch:5d} scratchgan failed: {type(exc).__name__}: {str(exc)[:200]}")
                continue
            med = statistics.median(sg_t) * 1e3
            row = f"{kind:9s} {batch:5d} {med:13.2f} {min(sg_t) * 1e3:7.2f}"
            if torch is not None:
                t_t, t_peak = torch_case(torch, kind, batch, args.steps, args.warmup, dev)
                tmed = statistics.median(t_t) * 1e3
                row += f" {tmed:9.2f} {min(t_t) * 1e3:7.2f} {med / tmed:6.2f} {sg_peak / 2**20:10.0f} " \
                       f"{t_peak / 2**20:13.0f}"
            else:
                row += f" {'-':>9s} {'-':>7s} {'-':>6s} {sg_peak / 2**20:10.0f} {'-':>13s}"
            print(row, flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, ROOT)
    sys.path.insert(0, HERE)
    sys.exit(main())
