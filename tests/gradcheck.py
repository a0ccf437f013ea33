"""The tests' gradient checks: thin wrappers over ``scratchgan.autograd.gradcheck``/``gradgradcheck``.

The method (a random-direction central difference in float64, Chainer's ``check_backward``) is
explained in ``scratchgan/autograd.py``.  These wrappers take NumPy arrays instead of Tensors,
place them on the test's device (float arrays require grad) and use the tolerances of ``TOL``.
"""
from __future__ import annotations

import numpy as np

import scratchgan as sg
from scratchgan.autograd import gradcheck, gradgradcheck

EPS = 1e-6
TOL = {np.dtype(np.float64): dict(rtol=1e-4, atol=1e-6), np.dtype(np.float32): dict(rtol=1e-2, atol=1e-3)}


def _tensors(arrays, device, requires_grad=True):
    return [sg.tensor(a, dtype=a.dtype, device=device, requires_grad=requires_grad and a.dtype.kind == "f")
            for a in arrays]


def _float64_output(fn):
    def checked(*xs):
        y = fn(*xs)
        assert y.dtype == np.float64, f"gradient checks run in float64, got {y.dtype}"
        return y
    return checked


def check_backward(fn, arrays, device="cpu", seed=0, rtol=None, atol=None):
    """Check every float input's gradient of ``fn(*tensors)`` (float64 arrays in)."""
    tol = dict(TOL[np.dtype(np.float64)])
    tol.update({k: v for k, v in (("rtol", rtol), ("atol", atol)) if v is not None})
    xs = _tensors([np.asarray(a) for a in arrays], device)
    gradcheck(_float64_output(fn), xs, eps=EPS, seed=seed, **tol)


def check_double_backward(fn, arrays, device="cpu", seed=0, rtol=1e-3, atol=1e-5):
    """Check the gradient of ⟨∂⟨f(x), v⟩/∂x, u⟩ with respect to every input (and v)."""
    xs = _tensors([np.asarray(a) for a in arrays], device)
    gradgradcheck(_float64_output(fn), xs, eps=EPS, rtol=rtol, atol=atol, seed=seed)
