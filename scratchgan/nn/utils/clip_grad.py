"""Gradient clipping (``torch.nn.utils.clip_grad_norm_`` / ``clip_grad_value_``).

The total norm is the p-norm of all gradients seen as one vector, computed as PyTorch
does: the norm of the per-tensor norms.  Clipping scales every gradient by
min(1, max_norm / (total + 1e-6)).

Why the gradients get new arrays instead of being scaled in their memory: the engine
hands a leaf the upstream gradient array as it is, so two leaves of ``a + b`` may
hold the *same* gradient, and ``x.sum()`` leaves a read-only broadcast view.  Each
distinct ``.grad`` Tensor is updated once, keeping its identity, and its version is bumped
as an in-place write's would be (a graph that saved it, under create_graph, notices).
"""
from __future__ import annotations

import math

from ... import backend as B
from ...tensor import Tensor, _bump

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_"]


def _as_list(tensors):
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _vector_norm(xp, a, p: float):
    """‖a‖_p of a flattened array as a 0-d array in a's dtype (inf: max |a|; 0: count of non-zeros)."""
    if a.size == 0:
        return xp.zeros((), dtype=a.dtype)
    if p == 2:
        return xp.sqrt((a * a).sum())
    if p == math.inf:
        return xp.abs(a).max()
    if p == -math.inf:
        return xp.abs(a).min()
    if p == 0:
        return (a != 0).sum().astype(a.dtype)
    return (xp.abs(a) ** p).sum() ** (1.0 / p)


def _unique_grads(parameters):
    grads, seen = [], set()
    for p in _as_list(parameters):
        if p.grad is not None and id(p.grad) not in seen:
            seen.add(id(p.grad))
            grads.append(p.grad)
    return grads


def get_total_norm(tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """The ``norm_type``-norm of ``tensors`` taken together as one vector (a 0-d Tensor)."""
    tensors = _as_list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return Tensor(B.numpy.asarray(0.0, dtype=B.numpy.float32))
    dev = tensors[0].device
    norms = []
    for t in tensors:
        n = _vector_norm(B.get_array_module(t.array), t.array, norm_type)
        norms.append(B.to_device(n, dev))
    xp = B.get_array_module(norms[0])
    total = _vector_norm(xp, xp.stack(norms), norm_type)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it cannot be "
            "clipped. To disable this error and scale the gradients by the non-finite norm anyway, set "
            "`error_if_nonfinite=False`")
    return Tensor(total)


def clip_grads_with_norm_(parameters, max_norm: float, total_norm: Tensor, foreach=None) -> None:
    """Scale the gradients by min(1, max_norm / (total_norm + 1e-6))."""
    total = total_norm.array if isinstance(total_norm, Tensor) else total_norm
    xp = B.get_array_module(total)
    coef = xp.minimum(float(max_norm) / (total + 1e-6), 1.0)
    for g in _unique_grads(parameters):
        g.array = g.array * B.to_device(coef, g.device).astype(g.dtype, copy=False)
        _bump(g)


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                    foreach=None) -> Tensor:
    """Rescale gradients so that their total ``norm_type``-norm is at most ``max_norm``; returns the
    total norm *before* clipping (a 0-d Tensor), as PyTorch does."""
    parameters = _as_list(parameters)  # a generator is read once, for both steps
    total = get_total_norm([p.grad for p in parameters if p.grad is not None], norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total)
    return total


def clip_grad_value_(parameters, clip_value: float, foreach=None) -> None:
    """Clamp every gradient element to [-clip_value, clip_value]."""
    clip_value = float(clip_value)
    for g in _unique_grads(parameters):
        g.array = B.get_array_module(g.array).clip(g.array, -clip_value, clip_value)
        _bump(g)
