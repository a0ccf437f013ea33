"""The Tensor and the reverse-mode autograd engine.

A Tensor wraps a backend array (``.array``).  Every differentiable op (in ``ops.py``,
``conv.py``, ``norm.py``) builds its output with ``apply_op(data, parents, backward)``,
where ``backward(g, out)`` maps the gradient of the output to one gradient per parent.
The backward functions are written with Tensor ops, so gradients are graph values
themselves: with ``create_graph=True`` the backward pass is recorded and can be
differentiated again (double backprop, as WGAN-GP's gradient penalty needs).

The engine sorts the graph with an explicit stack (no recursion limit on deep
graphs) and walks it once in reverse, summing gradients that meet at a node.

This file defines no arithmetic: the operators (``+ - * / ** @``, indexing, comparisons)
and the methods (``.sum()``, ``.exp()``, ``.reshape()``, ...) are attached to the class by
``ops._bind()``, which runs when ``ops.py`` is imported (``import scratchgan`` does that).
``ops.py`` needs ``Tensor`` and ``apply_op`` from here, so binding there keeps the import one-way.
"""
from __future__ import annotations

import contextlib
import threading

from . import backend as B

__all__ = ["Tensor", "apply_op", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "grad"]

_state = threading.local()


def is_grad_enabled() -> bool:
    return getattr(_state, "enabled", True)


class set_grad_enabled(contextlib.ContextDecorator):
    """Context manager (and decorator) that switches graph recording on or off."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)

    def __enter__(self):
        self.prev = is_grad_enabled()
        _state.enabled = self.mode

    def __exit__(self, *exc):
        _state.enabled = self.prev
        return False


class no_grad(set_grad_enabled):
    """``with no_grad():`` ops record no graph (sampling, evaluation, optimiser steps)."""

    def __init__(self):
        super().__init__(False)


class enable_grad(set_grad_enabled):
    def __init__(self):
        super().__init__(True)


def _freed(g, out):
    raise RuntimeError(
        "Trying to backward through the graph a second time; its intermediate values were freed. "
        "Pass retain_graph=True to the first backward() if you need to."
    )


class Tensor:
    """An n-dimensional array with a gradient.

    ``array``: the backend array (NumPy or CuPy) that the engine computes on;
    ``grad``: a Tensor (on leaves that require grad) or None.  Non-leaf tensors
    carry ``_parents`` and ``_backward`` recorded by ``apply_op``.

    Why ``array`` and ``data`` differ: ``t.data`` is PyTorch's — a *Tensor* sharing
    ``t``'s memory but cut from the graph, so ``p.data.clamp_(-c, c)`` or
    ``p.data.mul_(b)`` writes into the parameter without autograd seeing it.  The
    engine itself never goes through ``.data``: its ops read and build raw arrays
    through ``.array``, the one attribute that holds them.
    """

    __slots__ = ("array", "grad", "requires_grad", "_parents", "_backward", "_op", "__weakref__")
    # numpy_array + tensor must call Tensor.__radd__, not broadcast the Tensor into an object array.
    __array_ufunc__ = None

    def __init__(self, data, requires_grad: bool = False):
        if isinstance(data, Tensor):
            data = data.array
        elif B._backend_of(data) is None:  # lists, scalars: torch.Tensor(...) semantics, float32
            data = B.numpy.asarray(data, dtype=B.numpy.float32)
        self.array = data
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._parents = ()
        self._backward = None
        self._op = ""
        if self.requires_grad and self.array.dtype.kind not in "fc":
            raise RuntimeError(f"only floating point tensors can require gradients, got dtype {self.array.dtype}")

    # ---- .data: PyTorch's view of the values, outside the graph ---------------------------------
    @property
    def data(self) -> "Tensor":
        """A Tensor sharing this tensor's memory, with no graph and ``requires_grad=False``."""
        return Tensor(self.array)

    @data.setter
    def data(self, value):
        """``p.data = t`` swaps in ``t``'s values (any shape), keeping ``p``'s identity and grad flag."""
        self.array = value.array if isinstance(value, Tensor) else value

    # ---- metadata -------------------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return tuple(self.array.shape)

    @property
    def dtype(self):
        return self.array.dtype

    @property
    def device(self) -> B.device:
        return B.device_of(self.array)

    @property
    def ndim(self) -> int:
        return self.array.ndim

    @property
    def is_leaf(self) -> bool:
        return self._backward is None

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[dim]

    def dim(self) -> int:
        return self.array.ndim

    def numel(self) -> int:
        return int(self.array.size)

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    # ---- conversion ---------------------------------------------------------------------------
    def item(self):
        if self.numel() != 1:
            raise ValueError(f"item(): only one-element tensors can be converted to Python scalars, got shape {self.shape}")
        return B.to_numpy(self.array).reshape(()).item()

    def numpy(self):
        """The data as a NumPy array (a view on the CPU), like ``torch.Tensor.numpy``."""
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        if self.device.type != "cpu":
            raise TypeError(f"can't convert {self.device} tensor to numpy. Use Tensor.cpu() to copy the tensor to host memory first.")
        return self.array

    def tolist(self):
        return B.to_numpy(self.array).tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self.numel() != 1:
            raise RuntimeError(f"Boolean value of Tensor with shape {self.shape} is ambiguous")
        return bool(self.item())

    def detach(self) -> "Tensor":
        """The same data, cut from the graph: gradients stop here."""
        return Tensor(self.array)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if not self.is_leaf:
            raise RuntimeError("requires_grad_() is only for leaf tensors; use detach() first")
        self.requires_grad = bool(requires_grad)
        return self

    def to(self, *args, **kwargs) -> "Tensor":
        """``t.to(device)``, ``t.to(dtype)`` or ``t.to(device, dtype)``; differentiable."""
        from .ops import to  # noqa: PLC0415  (ops imports this module)

        return to(self, *args, **kwargs)

    def cpu(self) -> "Tensor":
        return self.to("cpu")

    def cuda(self) -> "Tensor":
        return self.to("cuda")

    def __repr__(self):
        body = B.numpy.array2string(B.to_numpy(self.array), separator=", ", precision=4, prefix="tensor(")
        extra = ""
        if self.device.type != "cpu":
            extra += f", device='{self.device}'"
        if self.array.dtype != B.numpy.float32 and self.array.dtype != B.numpy.int64:
            extra += f", dtype={self.array.dtype}"
        if self._backward is not None and self.requires_grad:
            extra += f", grad_fn=<{self._op or 'Op'}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # ---- autograd ---------------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=None, create_graph=False):
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        ``gradient`` is required unless self is a scalar (it is the vector in the
        vector-Jacobian product).  ``create_graph=True`` records the backward pass.
        """
        _run_backward([self], [gradient], None, retain_graph, create_graph)


def apply_op(data, parents: tuple, backward, op: str = "") -> Tensor:
    """Wrap ``data`` as the output of an op on ``parents``.

    The node is recorded only when graph recording is on and some parent needs a
    gradient; otherwise the output is a plain constant and costs nothing later.
    ``backward(g, out)`` returns one Tensor (or None) per parent.
    """
    out = Tensor.__new__(Tensor)
    if isinstance(data, B.numpy.generic):  # NumPy reduces to scalars; keep .array an array (CuPy's 0-d)
        data = B.numpy.asarray(data)
    out.array = data
    out.grad = None
    out._op = op
    if is_grad_enabled() and any(p.requires_grad for p in parents):
        out.requires_grad = True
        out._parents = parents
        out._backward = backward
    else:
        out.requires_grad = False
        out._parents = ()
        out._backward = None
    return out


def _topological_order(roots):
    """Nodes that need a gradient, every node after all of its parents (iterative DFS)."""
    order, seen = [], set()
    stack = [(r, False) for r in roots if r.requires_grad]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for p in node._parents:
            if p.requires_grad and id(p) not in seen:
                stack.append((p, False))
    return order


def _check_grad_shape(t: Tensor, g: Tensor, what: str):
    if g.shape != t.shape:
        raise RuntimeError(f"{what}: gradient of shape {g.shape} does not match tensor of shape {t.shape}")


def _run_backward(roots, root_grads, inputs, retain_graph, create_graph):
    """The engine behind ``Tensor.backward`` and ``autograd.grad``.

    With ``inputs`` None, leaf gradients accumulate into ``.grad``; otherwise the
    gradients of ``inputs`` are returned and no ``.grad`` is touched.
    """
    from .ops import ones_like_tensor  # noqa: PLC0415

    if retain_graph is None:
        retain_graph = create_graph
    grads: dict[int, Tensor] = {}
    for r, g in zip(roots, root_grads):
        if not r.requires_grad:
            raise RuntimeError(
                f"element of shape {r.shape} does not require grad and has no grad_fn: "
                "nothing in its graph requires a gradient"
            )
        if g is None:
            if r.numel() != 1:
                raise RuntimeError(
                    f"grad can be implicitly created only for scalar outputs; got an output of shape {r.shape}: "
                    "pass gradient= (the vector of the vector-Jacobian product) with that shape"
                )
            g = ones_like_tensor(r)
        elif not isinstance(g, Tensor):
            g = Tensor(B.to_device(g, r.device).astype(r.dtype, copy=False))
        _check_grad_shape(r, g, "backward")
        grads[id(r)] = grads[id(r)] + g if id(r) in grads else g

    wanted = None if inputs is None else {id(t): i for i, t in enumerate(inputs)}
    results = [None] * (0 if inputs is None else len(inputs))
    with set_grad_enabled(create_graph):
        for node in reversed(_topological_order(roots)):
            g = grads.pop(id(node), None)
            if g is None:
                continue
            if wanted is not None and id(node) in wanted:
                results[wanted[id(node)]] = g
            if node._backward is None:  # a leaf
                if g.dtype != node.dtype:  # mixed-precision graphs: a leaf's grad has the leaf's dtype
                    g = g.to(node.dtype)
                if inputs is None:
                    node.grad = g if node.grad is None else node.grad + g
                    if not create_graph:
                        node.grad = node.grad.detach() if node.grad.requires_grad else node.grad
                continue
            parent_grads = node._backward(g, node)
            for p, pg in zip(node._parents, parent_grads):
                if pg is None or not p.requires_grad:
                    continue
                _check_grad_shape(p, pg, f"backward of {node._op or 'op'}")
                grads[id(p)] = grads[id(p)] + pg if id(p) in grads else pg
            if not retain_graph:
                node._backward, node._parents = _freed, ()
    return results


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """d(outputs)/d(inputs) as a tuple, without touching ``.grad`` (``torch.autograd.grad``)."""
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outputs)
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError(f"grad: an input of shape {t.shape} does not require grad")
    results = _run_backward(outputs, list(grad_outputs), inputs, retain_graph, create_graph)
    for t, r in zip(inputs, results):
        if r is None and not allow_unused:
            raise RuntimeError(
                f"grad: an input of shape {t.shape} was not used in the graph of the outputs; pass allow_unused=True"
            )
    return tuple(results)
