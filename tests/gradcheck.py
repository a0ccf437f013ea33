"""Gradient checks in the style of Chainer's ``check_backward``.

The analytic vector-Jacobian product is compared with a central finite difference
of the function along a random direction d, in float64:

    ⟨∂L/∂x, d⟩  ≈  (L(x + εd) − L(x − εd)) / 2ε,    L(x) = ⟨f(x), v⟩, v random.

One direction per input catches a wrong gradient with probability 1 at the cost
of two forward passes.  ``check_double_backward`` does the same for the gradient
itself (the map x ↦ ⟨∂L/∂x, u⟩), through ``autograd.grad(create_graph=True)``.
"""
from __future__ import annotations

import numpy as np

import scratchgan as sg
from scratchgan import autograd, backend

EPS = 1e-6
TOL = {np.dtype(np.float64): dict(rtol=1e-4, atol=1e-6), np.dtype(np.float32): dict(rtol=1e-2, atol=1e-3)}


def _tensors(arrays, device, requires_grad=True):
    return [sg.tensor(a, dtype=a.dtype, device=device, requires_grad=requires_grad and a.dtype.kind == "f")
            for a in arrays]


def _inner(y: sg.Tensor, v) -> float:
    return float((backend.to_numpy(y.array).astype(np.float64) * v).sum())


def _perturbed(fn, arrays, i, d, device):
    values = []
    for sign in (1.0, -1.0):
        moved = [a + sign * EPS * d if j == i else a for j, a in enumerate(arrays)]
        with sg.no_grad():
            values.append(fn(*_tensors(moved, device, requires_grad=False)))
    return values


def check_backward(fn, arrays, device="cpu", seed=0, rtol=None, atol=None):
    """Check every float input's gradient of ``fn(*tensors)`` (float64 arrays in)."""
    rng = np.random.default_rng(seed)
    arrays = [np.asarray(a) for a in arrays]
    xs = _tensors(arrays, device)
    y = fn(*xs)
    assert y.dtype == np.float64, f"gradient checks run in float64, got {y.dtype}"
    v = rng.standard_normal(y.shape)
    (y * sg.tensor(v, dtype=np.float64, device=device)).sum().backward()
    tol = dict(TOL[np.dtype(np.float64)])
    tol.update({k: val for k, val in (("rtol", rtol), ("atol", atol)) if val is not None})
    for i, (a, x) in enumerate(zip(arrays, xs)):
        if not x.requires_grad:
            continue
        d = rng.standard_normal(a.shape)
        plus, minus = _perturbed(fn, arrays, i, d, device)
        numeric = (_inner(plus, v) - _inner(minus, v)) / (2 * EPS)
        analytic = 0.0 if x.grad is None else float((backend.to_numpy(x.grad.array) * d).sum())
        assert x.grad is None or x.grad.shape == x.shape, f"input {i}: grad shape {x.grad.shape} != {x.shape}"
        np.testing.assert_allclose(analytic, numeric, err_msg=f"gradient of input {i} (shape {a.shape})", **tol)


def check_double_backward(fn, arrays, device="cpu", seed=0, rtol=1e-3, atol=1e-5):
    """Check the gradient of ⟨∂⟨f(x), v⟩/∂x, u⟩ with respect to every input."""
    rng = np.random.default_rng(seed)
    arrays = [np.asarray(a) for a in arrays]
    probe_v = None
    probe_u = None

    def first_grads(*xs):
        nonlocal probe_v, probe_u
        y = fn(*xs)
        if probe_v is None:
            probe_v = rng.standard_normal(y.shape)
            probe_u = [rng.standard_normal(x.shape) for x in xs]
        L = (y * sg.tensor(probe_v, dtype=np.float64, device=device)).sum()
        with sg.enable_grad():
            gs = autograd.grad(L, list(xs), create_graph=True, allow_unused=True)
        return sum((g * sg.tensor(u, dtype=np.float64, device=device)).sum()
                   for g, u in zip(gs, probe_u) if g is not None)

    xs = _tensors(arrays, device)
    s = first_grads(*xs)
    s.backward()
    for i, (a, x) in enumerate(zip(arrays, xs)):
        d = rng.standard_normal(a.shape)
        vals = []
        for sign in (1.0, -1.0):
            moved = [b + sign * EPS * d if j == i else b for j, b in enumerate(arrays)]
            vals.append(float(first_grads(*_tensors(moved, device)).item()))
        numeric = (vals[0] - vals[1]) / (2 * EPS)
        analytic = 0.0 if x.grad is None else float((backend.to_numpy(x.grad.array) * d).sum())
        np.testing.assert_allclose(analytic, numeric, rtol=rtol, atol=atol,
                                   err_msg=f"second-order gradient of input {i} (shape {a.shape})")
