"""Scratch buffers reused from call to call, for the kernels of ``conv.py`` and ``norm.py``.

A training step makes the same temporaries (column matrices, padded inputs, GEMM partials,
BatchNorm's x − μ) at the same sizes on every iteration.  Taking them from one pool keyed by
(array module, name, dtype) instead of fresh allocations saves the page faults that a new large
NumPy array costs on every use, and keeps them in cache.  The pool lives in its own module so
that both ``conv.py`` and ``norm.py`` can import it without importing each other.
"""
from __future__ import annotations

import math
import threading

from . import backend as B

__all__ = ["WORKSPACE"]


class _Workspace(threading.local):
    """Named scratch buffers, one set per thread (threads never share one), array module and dtype.

    ``get`` returns a view of the buffer of that name, grown when too small; its contents are
    whatever the last user left.  A buffer never escapes the kernel that asked for it: it is valid
    until the next ``get`` of the same name.
    """

    def __init__(self):
        self.buffers = {}

    def get(self, xp, name: str, shape, dtype):
        size = math.prod(shape)
        key = (xp.__name__, name, B.numpy.dtype(dtype).str)
        buf = self.buffers.get(key)
        if buf is None or buf.size < size:
            buf = self.buffers[key] = xp.empty(size, dtype=dtype)
        return buf[:size].reshape(shape)

    def clear(self):
        self.buffers.clear()


WORKSPACE = _Workspace()
