"""Threads for the large array passes that BLAS does not run: im2col/col2im copies, BatchNorm's
normalisation, activations and Adam's update.

Why threads help.  NumPy's GEMM already uses every core, but a plain ufunc or copy runs on one.
NumPy releases the GIL inside ufunc loops and copies, so Python threads that each work on their
own slice of an array run on separate cores.  Only large arrays pay: handing a slice to a thread
costs some tens of microseconds of Python, so an op is split only when it moves at least
MIN_PARALLEL_ELEMENTS values.

Why the result does not depend on the thread count.  Every helper here splits the work into slices
that do not overlap and computes each slice exactly as the whole array would be computed
(elementwise ops, copies): with one thread the same slices run one after another in the calling
thread (or the array is done in one piece), giving the same bits.  Nothing here reorders a sum.

The switch, as ``torch.set_num_threads``: ``scratchgan.set_num_threads(n)`` or the environment
variable ``SCRATCHGAN_NUM_THREADS=n``; n = 1 turns the pool off.  It governs only these passes:
NumPy's BLAS keeps its own threads (``OPENBLAS_NUM_THREADS``).  Only NumPy arrays are split (a GPU
runs its own kernels in parallel).
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from . import backend as B

__all__ = ["set_num_threads", "get_num_threads", "parallel_slices"]

# Below this many values an op runs in one piece: a slice handed to a thread costs ~20-50 µs,
# about what copying 2^18 float32 values (1 MiB) takes.
MIN_PARALLEL_ELEMENTS = 1 << 18


def _default_threads() -> int:
    env = os.environ.get("SCRATCHGAN_NUM_THREADS")
    if env:
        return max(1, int(env))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


_threads = [_default_threads()]
_pool: list = [None, 0]  # [executor, its worker count]
_lock = threading.Lock()
_inside = threading.local()  # set in pool workers: a nested call runs inline instead of waiting on itself


def set_num_threads(n: int) -> None:
    """How many threads the large elementwise passes use (1: none besides the caller)."""
    n = int(n)
    if n < 1:
        raise ValueError(f"set_num_threads: expected a positive number of threads, got {n}")
    _threads[0] = n


def get_num_threads() -> int:
    return _threads[0]


def _executor(workers: int) -> ThreadPoolExecutor:
    with _lock:
        if _pool[0] is None or _pool[1] != workers:
            if _pool[0] is not None:
                _pool[0].shutdown(wait=True)
            _pool[0] = ThreadPoolExecutor(workers, thread_name_prefix="scratchgan", initializer=_mark_worker)
            _pool[1] = workers
        return _pool[0]


def _mark_worker():
    _inside.active = True


def _forget_pool():
    """In a forked child (a DataLoader worker) the parent's pool threads do not exist: start afresh."""
    global _lock
    _lock = threading.Lock()
    _pool[0], _pool[1] = None, 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def parallel_slices(fn, n: int, size: int, xp=None) -> None:
    """Run fn(slice) over slices that together cover range(n), each of the ``n`` items holding
    ``size`` array values; the slices run on the pool's threads when the work is large enough.

    ``fn`` must write only to the positions of its own slice.  With one thread (or small work, a
    non-NumPy array module, or a call from inside a pool thread) it is called once, fn(slice(0, n)).
    """
    threads = min(_threads[0], n)
    if (threads <= 1 or n * size < MIN_PARALLEL_ELEMENTS or (xp is not None and xp is not B.numpy)
            or getattr(_inside, "active", False)):
        fn(slice(0, n))
        return
    bounds = [n * t // threads for t in range(threads + 1)]
    parts = [slice(a, b) for a, b in zip(bounds, bounds[1:])]
    futures = [_executor(threads - 1).submit(fn, sl) for sl in parts[1:]]
    try:
        fn(parts[0])  # the caller works too
    finally:
        for f in futures:
            f.result()  # waits, and re-raises a worker's exception here


def parallel_map(fn, *arrays, xp=None) -> None:
    """fn(*views) on matching axis-0 slices of ``arrays`` (all with the same first axis; the batch
    axis comes first in memory for both NCHW and channels-last arrays), in parallel when large."""
    a = arrays[0]
    if a.ndim == 0:
        fn(*arrays)
        return
    n = a.shape[0]
    parallel_slices(lambda sl: fn(*(v[sl] for v in arrays)), n, a.size // max(1, n), xp)


def parallel_ufunc(ufunc, a, b, xp=None):
    """ufunc(a, b), split over threads when a and b are large and have the same shape and memory layout
    (else NumPy's plain call, which also broadcasts).  The output takes that layout, as NumPy's
    would: a result laid out differently would make later sums add in another order."""
    xp = xp or B.get_array_module(a, b)
    if (xp is not B.numpy or getattr(b, "shape", None) != a.shape or a.ndim == 0 or _threads[0] <= 1
            or a.size < MIN_PARALLEL_ELEMENTS or b.strides != a.strides):
        return ufunc(a, b)
    out = xp.empty_like(a, dtype=xp.result_type(a, b))  # empty_like keeps a's (channels-last) layout
    if out.strides != a.strides:  # a is not dense (a broadcast or a strided view): leave the layout to NumPy
        return ufunc(a, b)
    parallel_map(lambda o, x, y: ufunc(x, y, out=o), out, a, b, xp=xp)
    return out


# Values per piece in parallel_pieces: a piece of each array (1 MiB of float32) stays in cache while a
# chain of passes runs over it (Adam, one thread: 11.8 ms vs 14.2 ms per-parameter on DCGAN-64's
# 6.3M parameters; 2^16 and 2^14 were slower, from the Python cost per piece).
PIECE_ELEMENTS = 1 << 18


def parallel_pieces(fn, sizes, xp=None) -> None:
    """fn(i, sl) for every item i of ``sizes`` cut into flat slices sl of at most PIECE_ELEMENTS
    values, all pieces of all items spread evenly over the threads (PyTorch's "foreach": one
    launch for many tensors, so small parameters run in parallel too)."""
    pieces = [(i, slice(a, min(a + PIECE_ELEMENTS, n))) for i, n in enumerate(sizes)
              for a in range(0, n, PIECE_ELEMENTS)]

    def run(part):
        for i, sl in pieces[part]:
            fn(i, sl)

    parallel_slices(run, len(pieces), sum(sizes) // max(1, len(pieces)), xp)
