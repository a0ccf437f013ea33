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

In-place ops and the version counter (PyTorch's rules; see ``inplace`` below)
---------------------------------------------------------------------------
Memory can change under the graph: ``h.relu_()``, ``x[:, 0] = 0``, ``p -= lr * p.grad``.
Two things must then stay right.

1. A value a backward pass reads must still be the value the forward pass saw.  Every
   tensor carries a version counter (``_version``) that each in-place write bumps; tensors
   that share memory through ``detach()`` or a view (reshape, slicing, transpose, ...)
   share the counter.  An op names the tensors its backward reads
   (``apply_op(..., saved=(a, b))``; ``OUTPUT`` for its own result) and records their
   versions; ``backward()`` compares, and a changed one raises PyTorch's "modified by an
   inplace operation" error instead of a silently wrong gradient.  ``.data`` gets a fresh
   counter: that is exactly why ``p.data.mul_(2)`` is invisible to autograd (and unsafe
   inside a graph), and why optimiser-style code may use it.

2. The graph must see the new value.  Here graph edges point at Tensor objects
   (``_parents``), so the object ``x`` cannot simply become the in-place op's node:
   consumers recorded *before* ``x.mul_(2)`` (``z = x + w``) would then send their
   gradient through the multiplication (dz/dx_old must be 1, not 2).  So an in-place op in
   a graph *rebases* ``x``: x's old node moves into a fresh snapshot Tensor (same memory,
   same counter), the op is applied to the snapshot, and ``x`` takes the new node.  Every
   recorded node carries a sequence number (``_seq``) and ``x`` keeps the list of its
   snapshots with the sequence number at which each was cut; at backward a parent edge
   from a node recorded at sequence k goes to the first snapshot cut after k (or to ``x``
   itself).  A backward that needs x's *old* value (``x.mul_(w)`` with w requiring grad)
   gets a copy in its snapshot, as PyTorch clones the original self.

An in-place op on a leaf that requires grad is refused while recording (its old value
would be lost to the very gradient it is a leaf for); under ``no_grad`` it is how
optimisers, clipping and EMA write.

Views.  An in-place op through a view (``x[0] += 1``, ``h.view(n, -1).relu_()``) rebases the
view's base as well, as PyTorch's CopySlices does: the base's new node is "the old base with
the view's region replaced".  A view whose memory was written through its base since its
node was made is stale; the next op that reads it first gives it a fresh node from the
base's current one (``_refresh_view``), as PyTorch regenerates a view's grad_fn.
"""
from __future__ import annotations

import contextlib
import itertools
import threading

from . import backend as B

__all__ = ["Tensor", "apply_op", "OUTPUT", "inplace", "no_grad", "enable_grad", "set_grad_enabled",
           "is_grad_enabled", "grad"]

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


class inference_mode(set_grad_enabled):
    """``torch.inference_mode()``: here the same as ``no_grad`` (PyTorch also marks the outputs as inference
    tensors, a speed-up this engine does not need)."""

    def __init__(self, mode: bool = True):
        super().__init__(not mode)


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

    __slots__ = ("array", "grad", "requires_grad", "_parents", "_backward", "_op", "_vc", "_base", "_vchain",
                 "_vver", "_saved", "_seq", "_snaps", "_hooks", "__weakref__")  # _hooks: set only by register_hook
    # numpy_array + tensor must call Tensor.__radd__, not broadcast the Tensor into an object array.
    __array_ufunc__ = None

    def __init__(self, data, *sizes, requires_grad: bool = False):
        if isinstance(data, Tensor):
            data = data.array
        elif type(data) is int and all(type(n) is int for n in sizes):  # legacy torch.Tensor(2, 3): a shape
            data = B.numpy.zeros((data,) + sizes, dtype=B.numpy.float32)
        elif sizes:
            raise TypeError(f"Tensor(): expected one data argument or integer sizes, got {(data,) + sizes!r}")
        elif B._backend_of(data) is None:  # lists, scalars: torch.Tensor(...) semantics, float32
            data = B.numpy.asarray(data, dtype=B.numpy.float32)
        self.array = data
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._parents = ()
        self._backward = None
        self._op = ""
        self._vc = [0]  # the version counter: a one-element list, so that aliases can share it
        self._base = None  # the tensor whose memory this view shares (a graph view), else None
        self._vchain = ()  # a view's ops from its base: (("reshape", shape), ("getitem", key), ...)
        self._saved = ()  # ((tensor, version), ...) that this node's backward reads
        self._seq = 0  # when this node was recorded (routes edges to pre-in-place snapshots)
        self._snaps = None  # [(seq, snapshot), ...]: this tensor's nodes before its in-place rebases
        if self.requires_grad and self.array.dtype.kind not in "fc":
            raise RuntimeError(f"only floating point tensors can require gradients, got dtype {self.array.dtype}")

    # ---- .data: PyTorch's view of the values, outside the graph ---------------------------------
    @property
    def data(self) -> "Tensor":
        """A Tensor sharing this tensor's memory, with no graph and ``requires_grad=False``.

        Unlike ``detach()`` it has its *own* version counter: writes through it are invisible
        to autograd.  That is what makes ``p.data.clamp_(-c, c)`` legal on a leaf, and what
        makes ``.data`` unsafe on a value some backward still needs (PyTorch's lesson: prefer
        ``detach()`` under ``no_grad()``, whose writes the version check sees)."""
        return Tensor(self.array)

    @data.setter
    def data(self, value):
        """``p.data = t`` swaps in ``t``'s values (any shape), keeping ``p``'s identity and grad flag."""
        self.array = value.array if isinstance(value, Tensor) else value

    @property
    def _version(self) -> int:
        """How many in-place writes this memory has seen (shared with ``detach()`` and views)."""
        return self._vc[0]

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

    ndimension = dim

    def stride(self, dim=None):
        """Steps between neighbours in elements (NumPy's strides are in bytes), as torch's."""
        steps = tuple(st // self.array.itemsize for st in self.array.strides)
        return steps if dim is None else steps[dim]

    def is_contiguous(self) -> bool:
        return bool(self.array.flags.c_contiguous)

    def element_size(self) -> int:
        return int(self.array.itemsize)

    @property
    def itemsize(self) -> int:
        return int(self.array.itemsize)

    @property
    def nbytes(self) -> int:
        return int(self.array.nbytes)

    @property
    def grad_fn(self):
        """None for a leaf; for a computed tensor, the op that made it (``x.grad_fn is None`` checks work,
        and ``name()`` says which op, as torch's ``MulBackward0`` does)."""
        return None if self._backward is None else _GradFn(self._op)

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

    def __array__(self, dtype=None, copy=None):
        """``numpy.asarray(t)`` as PyTorch allows it: CPU tensors that need no gradient."""
        a = self.numpy()
        if dtype is not None and a.dtype != dtype:
            return a.astype(dtype)
        return a.copy() if copy else a

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

    # ---- gradient hooks ------------------------------------------------------------------------
    def register_hook(self, hook) -> "RemovableHandle":
        """``hook(grad)`` runs when this tensor's gradient has been computed, before it is used (passed on,
        or added to a leaf's ``.grad``); a hook that returns a tensor replaces the gradient.  As torch."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        return RemovableHandle(self._hook_table(), hook)

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in ``.grad`` during backward() (a leaf keeps its own anyway);
        it is taken after the hooks, as in torch."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self._backward is not None:
            self._hook_table()[_RETAIN] = None

    @property
    def retains_grad(self) -> bool:
        return _RETAIN in (getattr(self, "_hooks", None) or {})

    def _hook_table(self) -> dict:
        hooks = getattr(self, "_hooks", None)
        if hooks is None:
            hooks = self._hooks = {}
        return hooks

    def detach(self) -> "Tensor":
        """The same data, cut from the graph: gradients stop here.  Shares the version counter,
        so an in-place write through it is still seen by the ops that saved this tensor."""
        t = Tensor(self.array)
        t._vc = self._vc
        return t

    def detach_(self) -> "Tensor":
        if self._base is not None:
            raise RuntimeError("detach_(): can't detach a view in place; use detach()")
        self._parents, self._backward, self._saved, self.requires_grad = (), None, (), False
        return self

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

    def __format__(self, spec: str) -> str:
        """``f"{loss:.4f}"`` formats a 0-d tensor's value; other tensors take only ``f"{x}"`` (as PyTorch)."""
        if self.ndim == 0:
            return format(self.item(), spec)
        return object.__format__(self, spec)

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


class _GradFn:
    def __init__(self, op: str):
        # ops.py's "leaky_relu" -> "LeakyReluBackward"; a Function's class name stays as written
        self._name = "".join(part[:1].upper() + part[1:] for part in (op or "op").split("_")) + "Backward"

    def name(self) -> str:
        return self._name

    def __repr__(self):
        return f"<{self._name}>"


class _Output:
    """``OUTPUT`` in ``apply_op(..., saved=...)``: the op's backward reads its own result."""

    def __repr__(self):
        return "OUTPUT"


OUTPUT = _Output()
_next_seq = itertools.count(1).__next__


def apply_op(data, parents: tuple, backward, op: str = "", saved=None, view_of: "Tensor | None" = None,
             view: tuple = ()) -> Tensor:
    """Wrap ``data`` as the output of an op on ``parents``.

    The node is recorded only when graph recording is on and some parent needs a
    gradient; otherwise the output is a plain constant and costs nothing later.
    ``backward(g, out)`` returns one Tensor (or None) per parent.

    ``saved``: the tensors whose *values* the backward reads (``OUTPUT`` for ``out``);
    their versions are checked at backward.  None means "not declared": every parent and
    the output are treated as read (safe, but stricter than needed).  ``view_of``: the
    output shares that tensor's memory (a view), so it shares its version counter too;
    ``view`` = (kind, argument) says how the view reads it (``ops.apply_view``).
    """
    out = Tensor.__new__(Tensor)
    if isinstance(data, B.numpy.generic):  # NumPy reduces to scalars; keep .array an array (CuPy's 0-d)
        data = B.numpy.asarray(data)
    out.array = data
    out.grad = None
    out._op = op
    out._snaps = None
    if view_of is None:
        out._vc = [0]
        out._base = None
        out._vchain = ()
    else:
        out._vc = view_of._vc
        out._base = view_of if view_of._base is None else view_of._base
        out._vchain = view_of._vchain + (view,)
        out._vver = out._vc[0]
    if not is_grad_enabled():
        parents = ()
    else:
        for p in parents:
            if p._base is not None and p._vver != p._vc[0]:
                _refresh_view(p)
    if any(p.requires_grad for p in parents):
        out.requires_grad = True
        out._parents = parents
        out._backward = backward
        out._seq = _next_seq()
        if saved is None:
            saved = parents + (OUTPUT,)
        out._saved = tuple((out, out._vc[0]) if t is OUTPUT else (t, t._vc[0]) for t in saved if t is not None)
    else:
        out.requires_grad = False
        out._parents = ()
        out._backward = None
        out._saved = ()
        out._seq = 0
    return out


# ---- in-place ops --------------------------------------------------------------------------------
def _check_inplace(x: Tensor, name: str):
    """PyTorch's leaf rules for writing into x while recording a graph."""
    if not is_grad_enabled():
        return
    if x.requires_grad and x._backward is None:
        raise RuntimeError(
            f"{name}: a leaf Variable that requires grad is being used in an in-place operation. "
            "(Write parameters under `with scratchgan.no_grad():`, or use the out-of-place op.)"
        )
    if x._base is not None and x._base.requires_grad and x._base._backward is None:
        raise RuntimeError(f"{name}: a view of a leaf Variable that requires grad is being used in an "
                           "in-place operation.")


def _bump(x: Tensor):
    x._vc[0] += 1


def _snapshot(x: Tensor, keeps_old: bool) -> Tensor:
    """A fresh Tensor holding x's current node (and memory, or a copy of it when ``keeps_old``)."""
    s = Tensor.__new__(Tensor)
    s.array, s.grad, s._op, s.requires_grad = x.array, None, x._op, x.requires_grad
    s._parents, s._backward, s._saved, s._seq = x._parents, x._backward, x._saved, x._seq
    s._vc, s._base, s._vchain, s._snaps = x._vc, None, (), None
    if keeps_old:
        s.array, s._vc = x.array.copy(), [0]
    return s


def _take_node(x: Tensor, r: Tensor, s: Tensor):
    """x becomes r's node; s (x's old node) stays reachable for the consumers recorded before now."""
    x._parents, x._backward, x._op, x.requires_grad, x._seq = r._parents, r._backward, r._op, r.requires_grad, r._seq
    x._saved = tuple((x, x._vc[0]) if t is r else (t, v) for t, v in r._saved)
    if x._snaps is None:
        x._snaps = []
    x._snaps.append((_next_seq(), s))


def inplace(x: Tensor, name: str, update, graph_op, needs_grad: bool = False, keeps_old: bool = False) -> Tensor:
    """Run the in-place op ``name`` on x and return x.

    ``update(array)`` writes the result into x's array (the path without a graph);
    ``graph_op(src)`` is the same op out of place on a Tensor ``src`` holding x's old value
    and node (its result may already live in x's memory).  ``needs_grad``: some other
    argument requires grad.  ``keeps_old``: graph_op's backward reads x's old value, so the
    snapshot gets a copy of it.
    """
    _check_inplace(x, name)
    if B.is_self_overlapping(x.array):  # an expand()/broadcast_to() view
        raise RuntimeError(f"{name}: unsupported operation: more than one element of the written-to tensor "
                           "refers to a single memory location. Please clone() the tensor before performing "
                           "the operation.")
    base = x._base
    if not (is_grad_enabled() and (x.requires_grad or needs_grad or (base is not None and base.requires_grad))):
        update(x.array)
        _bump(x)
        return x
    if base is not None and x._vver != x._vc[0]:
        _refresh_view(x)
    s = _snapshot(x, keeps_old)  # the rebase: s takes x's old node, x will take the op's
    r = graph_op(s)
    if r.array is not x.array:
        x.array[...] = r.array
    _bump(x)
    if base is None:
        _take_node(x, r, s)
        return x
    # Through a view (PyTorch's CopySlices): the base becomes "the old base with the view's region
    # replaced by r", and x becomes that view of the new base.  Both keep their old nodes for the
    # consumers recorded before.
    from .ops import apply_view, copy_slices  # noqa: PLC0415  (ops imports this module)

    base_snapshot = _snapshot(base, False)
    _take_node(base, copy_slices(base_snapshot, r, x._vchain), base_snapshot)
    _take_node(x, apply_view(base, x._vchain), s)
    x._vver = x._vc[0]
    return x


def _refresh_view(v: Tensor):
    """A view whose memory was written through its base (or another view of it) since its node was
    made: from now on it reads the base's current node, as PyTorch regenerates a view's grad_fn.
    Consumers recorded before keep the old node (a snapshot)."""
    from .ops import apply_view  # noqa: PLC0415

    s = _snapshot(v, False)
    v._vver = v._vc[0]
    _take_node(v, apply_view(v._base, v._vchain), s)


def _route(p: Tensor, seq: int) -> Tensor:
    """The node that p was when a consumer recorded at ``seq`` read it (see the module docstring)."""
    for cut, snapshot in p._snaps:
        if seq < cut:
            return snapshot
    return p


def _check_saved(node: Tensor):
    for t, version in node._saved:
        if t._vc[0] != version:
            dtype = getattr(t.array.dtype, "name", t.array.dtype)
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an inplace operation: "
                f"[{dtype} tensor of shape {t.shape}], which {node._op or 'an op'} saved for its backward, is at "
                f"version {t._vc[0]}; expected version {version} instead. Hint: use the out-of-place op "
                "(y = x + 1, not x += 1), or .clone() the tensor before writing into it."
            )


_RETAIN = "retain_grad"  # the hook-table entry that retain_grad() sets


class RemovableHandle:
    """What ``register_hook`` (and a Module's ``register_forward_hook``...) returns: ``handle.remove()``
    takes the hook off again."""

    _next = 0

    def __init__(self, table: dict, hook):
        RemovableHandle._next += 1
        self.table, self.id = table, RemovableHandle._next
        table[self.id] = hook

    def remove(self) -> None:
        self.table.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _run_hooks(node: Tensor, hooks: dict, g: Tensor, backward: bool) -> Tensor:
    """The registered hooks in order (each may replace g), then, in backward(), retain_grad's copy."""
    for key, hook in list(hooks.items()):
        if key == _RETAIN:
            continue
        new = hook(g)
        if new is not None:
            _check_grad_shape(node, new, "hook")
            g = new
    if _RETAIN in hooks and backward:
        kept = Tensor(g.array.copy())
        node.grad = kept if node.grad is None else node.grad + kept
    return g


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
            if p._snaps is not None:
                p = _route(p, node._seq)
            if p.requires_grad and id(p) not in seen:
                stack.append((p, False))
    return order


def _check_grad_shape(t: Tensor, g: Tensor, what: str):
    if g.shape != t.shape:
        raise RuntimeError(f"{what}: gradient of shape {g.shape} does not match tensor of shape {t.shape}")


def _own_grad(g: Tensor, handed_out: set) -> Tensor:
    """``g`` as a leaf's first ``.grad``, in memory of its own, as PyTorch guarantees: user code writes
    into ``.grad`` (``p.grad.mul_(s)``, clipping, ``p.grad.data.zero_()``), but the backward pass may give
    the same array to two leaves (d(a + b) hands g to both) or a read-only broadcast view.  Copy then."""
    arr = g.array
    if getattr(arr, "base", None) is not None or B.is_self_overlapping(arr) or id(arr) in handed_out:
        g = Tensor(arr.copy())
    handed_out.add(id(g.array))
    return g


def _run_backward(roots, root_grads, inputs, retain_graph, create_graph):
    """The engine behind ``Tensor.backward`` and ``autograd.grad``.

    With ``inputs`` None, leaf gradients accumulate into ``.grad``; otherwise the
    gradients of ``inputs`` are returned and no ``.grad`` is touched.
    """
    from .ops import ones_like_tensor  # noqa: PLC0415

    if retain_graph is None:
        retain_graph = create_graph
    grads: dict[int, Tensor] = {}
    for r in roots:
        if r._base is not None and r._vver != r._vc[0]:
            _refresh_view(r)
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
    handed_out: set[int] = set()  # ids of the arrays this pass stored as some leaf's .grad
    with set_grad_enabled(create_graph):
        for node in reversed(_topological_order(roots)):
            g = grads.pop(id(node), None)
            if g is None:
                continue
            hooks = getattr(node, "_hooks", None)
            if hooks:
                g = _run_hooks(node, hooks, g, inputs is None)
            if wanted is not None and id(node) in wanted:
                results[wanted[id(node)]] = g
            if node._backward is None:  # a leaf
                if g.dtype != node.dtype:  # mixed-precision graphs: a leaf's grad has the leaf's dtype
                    g = g.to(node.dtype)
                if inputs is None:
                    if node.grad is None:
                        node.grad = g if create_graph else _own_grad(g, handed_out)
                    else:
                        node.grad = node.grad + g
                    if not create_graph:
                        node.grad = node.grad.detach() if node.grad.requires_grad else node.grad
                continue
            if node._saved:
                _check_saved(node)
            parent_grads = node._backward(g, node)
            for p, pg in zip(node._parents, parent_grads):
                if p._snaps is not None:
                    p = _route(p, node._seq)
                if pg is None or not p.requires_grad:
                    continue
                _check_grad_shape(p, pg, f"backward of {node._op or 'op'}")
                grads[id(p)] = grads[id(p)] + pg if id(p) in grads else pg
            if not retain_graph:
                node._backward, node._parents, node._saved = _freed, (), ()
    return results


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, only_inputs=True,
         allow_unused=False):
    """d(outputs)/d(inputs) as a tuple, without touching ``.grad`` (``torch.autograd.grad``).
    ``only_inputs`` is PyTorch's deprecated no-op flag, accepted for old code."""
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
