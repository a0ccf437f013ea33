"""Time one GAN training step in scratchgan, side by side with PyTorch's reference.

The workloads and the loop are exactly those of ``shared/bench/torch_ref.py``: batch 128,
float32, Adam(2e-4, betas=(0.5, 0.999)), BCEWithLogits; one step = G forward, D update on
the real batch and on ``fake.detach()``, then the G update through D.

    python benchmarks/bench_step.py dcgan mlp dcgan64 --steps 20 \\
        --torch-python /work/torchvenv/bin/python [--rounds 2]
    python benchmarks/bench_step.py dcgan --torch-ms dcgan=163      # a torch time measured elsewhere
    python benchmarks/bench_step.py dcgan dcgan64 --ab-threads 1,2   # lanes off vs on, steps interleaved
    python benchmarks/bench_step.py mlp dcgan --ab-kernels SkylakeX,Haswell   # OpenBLAS kernel sets, interleaved

For each workload it prints scratchgan's median ms/step, torch's, their ratio, the peak memory
of each process (ru_maxrss) and of scratchgan's step alone (tracemalloc: NumPy reports its
buffers to it), the step's convolution/matmul GFLOPs (counted analytically from the layer
shapes, as direct convolutions: the Winograd paths do fewer, so their rate is an equivalent one),
the GFLOP/s that achieves, and, as "% GEMM", that rate's share of NumPy's float32 matmul
GFLOP/s on a large square matrix on this machine (the BLAS limit the engine runs against: 100% would
be a step that is all GEMM at full speed).  Each side runs in its own fresh
process; with ``--rounds R`` they alternate R times and the best median of each is kept (on a
shared machine the least-disturbed round is the most faithful).

BLAS: this prints which OpenBLAS kernel runs (after ``import scratchgan``, which picks the Haswell
kernels on AMD Zen 4: see scratchgan/kernels.py).  Settings such as OPENBLAS_CORETYPE are read from
the environment; compare them by running this script under ``env -u OPENBLAS_CORETYPE -u
OPENBLAS_L2_SIZE ...`` and without, or kernel sets in one process with ``--ab-kernels``.

Allocator: a step frees and re-allocates the same activation-sized arrays every iteration; by
default glibc hands large freed blocks back to the OS, and every new array then page-faults on
first touch.  ``--malloc-tuning`` sets MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_ for both
processes so freed memory is reused (the same as ``mallopt`` at start-up).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# shared/ sits beside the repository (or the worktree): ../shared/bench/torch_ref.py
TORCH_REF = os.environ.get("SCRATCHGAN_TORCH_REF", os.path.join(os.path.dirname(ROOT), "shared", "bench", "torch_ref.py"))
WORKLOADS = ("mlp", "dcgan", "dcgan64")
BATCH, NZ = 128, 100


# ---- the scratchgan side (runs in a child process) ---------------------------------------------------------
def build(kind):
    import scratchgan as sg
    from scratchgan.gan.models import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator

    sg.manual_seed(0)
    if kind == "mlp":
        return MLPGenerator(NZ, (256, 512, 1024), 784), MLPDiscriminator(784, (512, 256)), (NZ,), (BATCH, 784)
    if kind == "dcgan":
        return (DCGANGenerator(NZ, 64, 1, 28), DCGANDiscriminator(64, 1, 28), (NZ, 1, 1), (BATCH, 1, 28, 28))
    if kind == "dcgan64":
        return (DCGANGenerator(NZ, 64, 3, 64), DCGANDiscriminator(64, 3, 64), (NZ, 1, 1), (BATCH, 3, 64, 64))
    raise SystemExit(f"unknown workload {kind!r}; choose from {WORKLOADS}")


def make_step(kind):
    """torch_ref.py's loop, line for line, in scratchgan."""
    import scratchgan as torch
    import scratchgan.nn as nn

    G, D, zshape, xshape = build(kind)
    oG = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999))
    oD = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    real = torch.rand(*xshape) * 2 - 1
    ones, zeros = torch.ones(BATCH, 1), torch.zeros(BATCH, 1)
    B = BATCH

    def step():
        fake = G(torch.randn(B, *zshape))
        lD = bce(D(real).view(B, 1), ones) + bce(D(fake.detach()).view(B, 1), zeros)
        oD.zero_grad(); lD.backward(); oD.step()  # noqa: E702
        lG = bce(D(fake).view(B, 1), ones)
        oG.zero_grad(); lG.backward(); oG.step()  # noqa: E702

    return step, G, D, zshape


def step_flops(G, D, zshape) -> float:
    """Multiply-add FLOPs (×2) of the convolutions and matmuls in one step, from the layer shapes.

    Per layer with forward cost f: G runs forward once, its weight gradient once and its input
    gradient once (except the first layer: z needs none).  D runs forward three times (real,
    fake.detach(), fake), its weight gradients three times (lG.backward() fills D's grads too,
    as in torch), and its input gradients on all three passes except the first layer's on the
    real and detached passes (their inputs need no gradient).
    """
    import scratchgan as sg
    import scratchgan.nn as nn

    def layer_flops(net, x):
        costs = []
        for m in net.main:
            y = m(x)
            if isinstance(m, nn.Linear):
                costs.append(2.0 * x.shape[0] * m.in_features * m.out_features)
            elif isinstance(m, nn.Conv2d):
                n, o, ho, wo = y.shape
                costs.append(2.0 * n * ho * wo * o * m.in_channels * m.kernel_size[0] * m.kernel_size[1])
            elif isinstance(m, nn.ConvTranspose2d):
                n, c, h, w = x.shape
                costs.append(2.0 * n * h * w * c * m.out_channels * m.kernel_size[0] * m.kernel_size[1])
            x = y
        return costs, x

    with sg.no_grad():
        g_costs, fake = layer_flops(G, sg.randn(BATCH, *zshape))
        d_costs, _ = layer_flops(D, fake.reshape(BATCH, -1) if isinstance(D.main[0], nn.Linear) else fake)
    g_total = sum(g_costs) * 3 - g_costs[0]
    d_total = sum(d_costs) * (3 + 3 + 3) - 2 * d_costs[0]
    return g_total + d_total


def blas_gflops(n=2048, reps=5) -> float:
    import numpy as np

    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    b = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(reps))
    return 2.0 * n ** 3 / best / 1e9


def _timed(fn) -> float:
    """fn's duration in wall time, or in process CPU time under --cpu-time (read when called: the
    driver sets BENCH_CPU_TIME after this module is imported)."""
    clock = time.process_time if os.environ.get("BENCH_CPU_TIME") == "1" else time.perf_counter
    t = clock()
    fn()
    return clock() - t


def child(kind, steps):
    import resource
    import tracemalloc

    step, G, D, zshape = make_step(kind)
    times = []
    for i in range(steps + 2):
        dt = _timed(step)
        if i >= 2:  # like torch_ref.py: two warm-up steps
            times.append(dt)
    tracemalloc.start()
    step()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    out = dict(times=times, maxrss_kb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, step_peak_bytes=peak,
               flops=step_flops(G, D, zshape))
    print("RESULT " + json.dumps(out))


# ---- the driver --------------------------------------------------------------------------------------------
# Runs torch_ref.py unchanged; statistics.median is wrapped only to also see the fastest step.
TORCH_WRAPPER = (
    "import os, resource, runpy, statistics, sys, time; sys.argv = [sys.argv[1]] + sys.argv[2:]; seen = []; "
    "time.perf_counter = time.process_time if os.environ.get('BENCH_CPU_TIME') == '1' else time.perf_counter; "
    "median = statistics.median; statistics.median = lambda xs: (seen.append(min(xs)), median(xs))[1]; "
    "runpy.run_path(sys.argv[0], run_name='__main__'); "
    "print('MIN_MS', seen[-1] * 1e3 if seen else -1); "
    "print('MAXRSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
)


def child_ab(kind, steps, settings, apply=None, label="set_num_threads"):
    """Interleaved A/B of settings in one process (``scratchgan.set_num_threads``, or ``apply``): blocks of
    two timed steps per setting, in turn (after one untimed step that lets the switch settle), so that a
    machine whose speed drifts slows every setting alike.  Prints each setting's median and quartiles."""
    import scratchgan

    apply = apply or scratchgan.set_num_threads
    step, *_ = make_step(kind)
    step()
    times = {n: [] for n in settings}
    for _ in range(max(1, steps // 2)):
        for n in settings:
            apply(n)
            step()
            for _ in range(2):
                times[n].append(_timed(step) * 1e3)
    base = statistics.median(times[settings[0]])
    for n in settings:
        q = statistics.quantiles(times[n], n=4)
        med = statistics.median(times[n])
        print(f"{kind:9s} {label}({n}): median {med:8.1f} ms (quartiles {q[0]:.1f}-{q[2]:.1f}, "
              f"{len(times[n])} steps)  {med / base:5.3f}x of {label}({settings[0]})")


def run_scratchgan(kind, steps):
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", kind, "--steps", str(steps)],
                          capture_output=True, text=True, cwd=ROOT)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"scratchgan {kind} run failed:\n{proc.stdout}\n{proc.stderr}")


def run_torch(python, kind, steps):
    proc = subprocess.run([python, "-c", TORCH_WRAPPER, TORCH_REF, kind, str(steps)], capture_output=True, text=True)
    m = re.search(r"median ([0-9.]+) ms/step", proc.stdout)
    if not m:
        raise RuntimeError(f"torch_ref.py {kind} failed:\n{proc.stdout}\n{proc.stderr}")
    rss = re.search(r"MAXRSS_KB (\d+)", proc.stdout)
    fastest = re.search(r"MIN_MS ([0-9.]+)", proc.stdout)
    head = proc.stdout.splitlines()[0]
    return dict(median_ms=float(m.group(1)), min_ms=float(fastest.group(1)) if fastest else None,
                maxrss_kb=int(rss.group(1)) if rss else None, line=head)


def _openblas_self_report() -> str | None:
    """OpenBLAS's own get_config/get_corename, from the library the engine found (scratchgan.kernels)."""
    import ctypes

    from scratchgan.kernels import openblas_library

    found = openblas_library()
    if found is None:
        return None
    lib, prefix, suffix = found
    config, core = getattr(lib, f"{prefix}_get_config{suffix}", None), getattr(lib, f"{prefix}_get_corename{suffix}", None)
    if config is None or core is None:
        return None
    config.restype = core.restype = ctypes.c_char_p
    return f"{config().decode()} kernel={core().decode()}"


def blas_info() -> str:
    try:
        import threadpoolctl
    except ImportError:
        own = _openblas_self_report()
        return own or "threadpoolctl not installed (pip install threadpoolctl to see the BLAS kernel)"
    infos = [f"{i.get('internal_api')} {i.get('version')} kernel={i.get('architecture')} threads={i.get('num_threads')}"
             for i in threadpoolctl.threadpool_info() if i.get("user_api") == "blas"]
    return "; ".join(infos) or "no BLAS found by threadpoolctl"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workloads", nargs="*", default=["dcgan"], help=f"any of {WORKLOADS}")
    ap.add_argument("--steps", type=int, default=20, help="timed steps per run (after 2 warm-up steps)")
    ap.add_argument("--torch-python", help="a python with torch: runs torch_ref.py side by side")
    ap.add_argument("--torch-ms", action="append", default=[], help="WORKLOAD=MS, a torch time measured elsewhere")
    ap.add_argument("--rounds", type=int, default=1, help="alternate scratchgan/torch runs this many times")
    ap.add_argument("--malloc-tuning", action="store_true",
                    help="run both sides with glibc's MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_ raised, so freed "
                         "activation buffers are reused instead of returned to the OS and page-faulted back in")
    ap.add_argument("--threads", type=int, help="BLAS/OpenMP threads for both sides (default: the libraries' own)")
    ap.add_argument("--cpu-time", action="store_true",
                    help="time steps in process CPU time instead of wall time (with --threads 1: a measure of the "
                         "work done that a busy shared machine disturbs far less than wall time)")
    ap.add_argument("--ab-threads", metavar="N,M",
                    help="no torch: compare scratchgan.set_num_threads settings (e.g. 1,2) in one process, "
                         "steps interleaved (see child_ab)")
    ap.add_argument("--ab-kernels", metavar="A,B",
                    help="no torch: compare OpenBLAS kernel sets (e.g. Haswell,SkylakeX) in one process, steps "
                         "interleaved (scratchgan.kernels.set_blas_kernel; see child_ab)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child(args.child, args.steps)
    if args.ab_threads:
        import scratchgan.kernels as K

        settings = [int(v) for v in args.ab_threads.split(",")]
        print(f"lanes available: {K.lanes_available()}; load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        for kind in args.workloads:
            child_ab(kind, args.steps, settings)
        return None
    if args.ab_kernels:
        import scratchgan.kernels as K

        if K.blas_kernel() is None:
            raise SystemExit("--ab-kernels needs an OpenBLAS built for many CPUs (DYNAMIC_ARCH), as NumPy's wheels ship")
        cores = args.ab_kernels.split(",")
        print(f"OpenBLAS kernel at start: {K.blas_kernel()}; load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        for kind in args.workloads:
            child_ab(kind, args.steps, cores, apply=K.set_blas_kernel, label="set_blas_kernel")
        return None

    given = dict(item.split("=", 1) for item in args.torch_ms)
    if args.threads:  # inherited by both child processes
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "SCRATCHGAN_NUM_THREADS"):
            os.environ[var] = str(args.threads)
    if args.cpu_time:
        os.environ["BENCH_CPU_TIME"] = "1"
    if args.malloc_tuning:  # inherited by both child processes (scratchgan and torch alike)
        os.environ.update(MALLOC_MMAP_THRESHOLD_=str(1 << 30), MALLOC_TRIM_THRESHOLD_=str((1 << 31) - 1))
    import numpy as np  # after the environment is set: OpenBLAS reads it when it loads

    env = {k: os.environ.get(k, "(unset)") for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
                                                      "SCRATCHGAN_NUM_THREADS", "MALLOC_MMAP_THRESHOLD_",
                                                      "MALLOC_TRIM_THRESHOLD_")}
    import scratchgan.kernels as K

    print(f"numpy {np.__version__}; BLAS: {blas_info()}; scratchgan lanes: {K.get_num_threads()} "
          f"({'OpenBLAS found' if K.lanes_available() else 'off: OpenBLAS not found'})")
    print("env: " + ", ".join(f"{k}={v}" for k, v in env.items()))
    print(f"clock: {'process CPU time' if args.cpu_time else 'wall time'}; load average "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())} on {os.cpu_count()} CPUs")
    peak = blas_gflops()
    print(f"numpy.matmul float32 2048x2048: {peak:.0f} GFLOP/s")
    print(f"{'workload':9s} {'scratchgan ms':>13s} {'(min)':>7s} {'torch ms':>9s} {'(min)':>7s} {'ratio':>6s} "
          f"{'GFLOP/step':>10s} {'GFLOP/s':>8s} {'% GEMM':>6s} {'step peak MB':>12s} {'RSS MB sg/torch':>16s}")
    for kind in args.workloads:
        best_sg, best_t = None, None
        for _ in range(max(1, args.rounds)):
            r = run_scratchgan(kind, args.steps)
            med = statistics.median(r["times"]) * 1e3
            if best_sg is None or med < best_sg[0]:
                best_sg = (med, r)
            if args.torch_python:
                t = run_torch(args.torch_python, kind, args.steps)
                if best_t is None or t["median_ms"] < best_t["median_ms"]:
                    best_t = t
        med, r = best_sg
        torch_ms = best_t["median_ms"] if best_t else (float(given[kind]) if kind in given else None)
        gflop = r["flops"] / 1e9
        rate = gflop / (med / 1e3)
        ratio = f"{med / torch_ms:6.2f}" if torch_ms else "     -"
        tms = f"{torch_ms:9.1f}" if torch_ms else "        -"
        tmin = f"{best_t['min_ms']:7.1f}" if best_t and best_t.get("min_ms") else "      -"
        trss = f"{best_t['maxrss_kb'] / 1024:.0f}" if best_t and best_t.get("maxrss_kb") else "-"
        print(f"{kind:9s} {med:13.1f} {min(r['times']) * 1e3:7.1f} {tms} {tmin} {ratio} {gflop:10.2f} {rate:8.1f} "
              f"{100 * rate / peak:5.0f}% {r['step_peak_bytes'] / 2**20:12.0f} "
              f"{r['maxrss_kb'] / 1024:8.0f}/{trss:>7s}")
        if best_t:
            print(f"          torch: {best_t['line']}")


if __name__ == "__main__":
    sys.path.insert(0, ROOT)
    main()
