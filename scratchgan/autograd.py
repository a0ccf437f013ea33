"""``scratchgan.autograd``: gradients as values (``grad``) and the checks that prove them right.

``gradcheck(fn, inputs)`` compares the gradients that the engine computes (the backward
closures beside each op) with finite differences of ``fn`` itself; ``gradgradcheck`` does
the same one level up, for the gradients of gradients that double backprop (WGAN-GP's
penalty) differentiates.  Both have PyTorch's signature and results: True when the
gradients agree; otherwise a ``GradcheckError`` that shows the analytic and the numeric
value, or False with ``raise_exception=False``.

How the check works (Chainer's ``check_backward``; PyTorch's ``fast_mode=True``).  Rather
than build the whole Jacobian J of ``fn`` one column at a time (2 forward passes per input
*element*), draw a random vector v over the outputs and a random direction d over each
input, and compare one number per input:

    analytic   ⟨vᵀJ, d⟩ = ⟨∂L/∂x, d⟩                   one backward pass of L(x) = ⟨fn(x), v⟩
    numeric    (L(x + εd) − L(x − εd)) / 2ε            two forward passes (central difference)

and pass when |analytic − numeric| ≤ atol + rtol·|numeric|.  A wrong gradient w ≠ vᵀJ
passes only if ⟨w − vᵀJ, d⟩ ≈ 0, which a random d makes an event of probability zero (up to
the tolerance).  The central difference is exact for quadratics and has error O(ε²) in
general, so in float64 with ε = 1e-6 it agrees with a right gradient to about 1e-9 relative;
in float32 it is noise (inputs should be float64; a warning says so otherwise).
"""
from __future__ import annotations

import contextlib
import warnings
from types import SimpleNamespace

from . import backend as B
from .tensor import Tensor, enable_grad, grad, no_grad, set_grad_enabled

__all__ = ["grad", "no_grad", "enable_grad", "set_grad_enabled", "gradcheck", "gradgradcheck", "GradcheckError",
           "Variable", "Function", "FunctionCtx"]

_np = B.numpy  # host NumPy: the probe vectors and the scalar products are bookkeeping on the host


class GradcheckError(RuntimeError):
    """Analytic and numeric gradients disagree (``torch.autograd.gradcheck.GradcheckError``)."""


def _as_tuple(x) -> tuple:
    return (x,) if isinstance(x, Tensor) else tuple(x)


def _float_outputs(fn, inputs) -> tuple:
    outs = _as_tuple(fn(*inputs))
    for o in outs:
        if not isinstance(o, Tensor):
            raise TypeError(f"gradcheck: fn must return a Tensor or a tuple of Tensors, got {type(o).__name__}")
    return tuple(o for o in outs if o.dtype.kind == "f")


def _dot(t: Tensor, probe) -> float:
    """⟨t, probe⟩ in float64 on the host."""
    return float((B.to_numpy(t.array).astype(_np.float64) * probe).sum())


def _moved(x: Tensor, d, step: float) -> Tensor:
    """A fresh leaf x + step·d on x's device, requiring grad as x does."""
    moved = x.array.copy()
    moved += B.to_device(_np.asarray(step * d, dtype=x.dtype), x.device)  # in place: a 0-d array stays one
    return Tensor(moved, requires_grad=x.requires_grad)


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, *, seed: int = 0) -> bool:
    """Check the gradients of ``fn(*inputs)`` with respect to every input that requires grad.

    ``inputs``: a Tensor or a tuple of them (other values pass through to ``fn`` unchanged);
    ``fn`` returns a Tensor or a tuple of Tensors.  ``seed`` fixes the random probes.  See the
    module docstring for the method.
    """
    inputs = _as_tuple(inputs)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    for i in checked:
        if inputs[i].dtype != _np.float64:
            warnings.warn(f"gradcheck: input {i} requires grad and is {inputs[i].dtype}, not float64; "
                          "finite differences in single precision will likely disagree", stacklevel=2)
    rng = _np.random.default_rng(seed)
    outs = _float_outputs(fn, inputs)
    probes = [rng.standard_normal(o.shape) for o in outs]

    def L(xs) -> float:  # L(x) = Σ_k ⟨fn(x)_k, v_k⟩
        return sum(_dot(o, v) for o, v in zip(_float_outputs(fn, xs), probes))

    # analytic: ∂L/∂x by one backward pass, with v as the output gradient
    live = [(o, v) for o, v in zip(outs, probes) if o.requires_grad]
    grads = [None] * len(checked)
    if live:
        grads = grad([o for o, _ in live], [inputs[i] for i in checked],
                     [Tensor(B.to_device(v.astype(o.dtype), o.device)) for o, v in live], allow_unused=True)
    for i, g in zip(checked, grads):
        x = inputs[i]
        if g is not None and g.shape != x.shape:
            return _fail(f"gradient of input {i} has shape {g.shape}, the input {x.shape}", raise_exception)
        d = rng.standard_normal(x.shape)
        analytic = 0.0 if g is None else _dot(g, d)
        # numeric: the central difference of L along d
        plus = L(tuple(_moved(x, d, eps) if j == i else y for j, y in enumerate(inputs)))
        minus = L(tuple(_moved(x, d, -eps) if j == i else y for j, y in enumerate(inputs)))
        numeric = (plus - minus) / (2 * eps)
        if not abs(analytic - numeric) <= atol + rtol * abs(numeric):
            return _fail(f"Jacobian mismatch with respect to input {i} (shape {x.shape}), "
                         f"as ⟨vᵀJ, d⟩ for random v and d:\n"
                         f"numerical:  {numeric!r}\nanalytical: {analytic!r}\n"
                         f"difference {abs(analytic - numeric):.3g} > atol + rtol·|numerical| = "
                         f"{atol + rtol * abs(numeric):.3g}", raise_exception)
    return True


def _fail(message: str, raise_exception: bool) -> bool:
    if raise_exception:
        raise GradcheckError(message)
    return False


def gradgradcheck(fn, inputs, grad_outputs=None, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
                  raise_exception: bool = True, *, seed: int = 0) -> bool:
    """Check the second derivatives of ``fn`` (``torch.autograd.gradgradcheck``).

    The first-order map (x, u) ↦ ∂⟨fn(x), u⟩/∂x is built with ``grad(..., create_graph=True)``
    and handed to ``gradcheck``: its gradients are the backward of the backward.  ``grad_outputs``
    (u, one per float output) default to random tensors that require grad, so the check also
    covers the backward's dependence on u; given ones are checked where they require grad.
    """
    inputs = _as_tuple(inputs)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if grad_outputs is None:
        rng = _np.random.default_rng(seed + 1)
        grad_outputs = tuple(Tensor(B.to_device(rng.standard_normal(o.shape).astype(o.dtype), o.device),
                                    requires_grad=True) for o in _float_outputs(fn, inputs))
    grad_outputs = _as_tuple(grad_outputs)
    n = len(inputs)

    def first_order(*args):
        xs, us = args[:n], args[n:]
        outs = _float_outputs(fn, xs)
        if len(outs) != len(us):
            raise ValueError(f"gradgradcheck: {len(us)} grad_outputs for {len(outs)} float outputs")
        live = [(o, u) for o, u in zip(outs, us) if o.requires_grad]
        targets = [xs[i] for i in checked]
        with enable_grad():
            gs = (grad([o for o, _ in live], targets, [u for _, u in live], create_graph=True, allow_unused=True)
                  if live else [None] * len(targets))
        # an unused input's gradient is zero, a constant
        return tuple(Tensor(B.get_array_module(x.array).zeros_like(x.array)) if g is None else g
                     for x, g in zip(targets, gs))

    return gradcheck(first_order, inputs + grad_outputs, eps, atol, rtol, raise_exception, seed=seed)


class _record_function(contextlib.ContextDecorator):
    """``torch.autograd.profiler.record_function(name)``: a labelled region for PyTorch's profiler; accepted
    and ignored (scratchgan has no profiler; time a region with ``time.perf_counter``)."""

    def __init__(self, name: str, args=None):
        self.name = name

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


profiler = SimpleNamespace(record_function=_record_function)


def Variable(data, requires_grad: bool = False, volatile: bool = False):  # noqa: N802 - PyTorch's name
    """Old PyTorch's wrapper, as PyTorch keeps it: a new leaf sharing ``data``'s memory (and version
    counter), requiring grad if asked (``Variable(t, requires_grad=True)``)."""
    t = (data if isinstance(data, Tensor) else Tensor(data)).detach()
    return t.requires_grad_(requires_grad) if requires_grad else t


# ---- custom ops: torch.autograd.Function ------------------------------------------------------------------
class FunctionCtx:
    """The ``ctx`` that a Function's forward fills and its backward reads: ``save_for_backward``,
    ``saved_tensors``, ``needs_input_grad``, and any attribute you set (``ctx.scale = s``)."""

    def __init__(self):
        self.needs_input_grad = ()
        self._to_save = ()
        self._saved = None
        self._non_differentiable = set()

    def save_for_backward(self, *tensors) -> None:
        self._to_save = tensors

    @property
    def saved_tensors(self) -> tuple:
        return self._saved if self._saved is not None else self._to_save

    def mark_non_differentiable(self, *outputs) -> None:
        self._non_differentiable |= {id(o) for o in outputs}

    def set_materialize_grads(self, value: bool) -> None:
        """Accepted: a gradient this engine hands to backward is always a tensor (zeros for an unused output)."""


class Function:
    """A differentiable op written by hand, as ``torch.autograd.Function``::

        class Square(Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x * x

            @staticmethod
            def backward(ctx, g):          # one gradient per output in, one per forward argument out
                (x,) = ctx.saved_tensors
                return g * 2 * x

        y = Square.apply(x)

    ``forward`` runs without recording (its inside is one op to autograd, as in torch); ``apply`` wraps its
    outputs as one node whose backward calls yours, which ``apply_op`` records like any op of ``ops.py``.
    ``backward`` runs recorded when ``create_graph=True``, so if it is written with Tensor ops on the saved
    tensors, double backprop works (saving forward's own output works too: it is swapped for the node).
    Several outputs: one node each, and your backward is called with zeros for the outputs that node does
    not stand for; a backward is linear in its gradients (it is a vector-Jacobian product), so the parts
    add up to one call's result.  torch 2's ``setup_context`` form (a forward without ctx) works as well."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("a Function subclass must define forward(ctx, *args)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("a Function subclass must define backward(ctx, *grad_outputs)")

    @classmethod
    def apply(cls, *args, **kwargs):
        from .tensor import apply_op  # noqa: PLC0415

        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        own_setup = hasattr(cls, "setup_context")  # torch 2's form: forward(*args), then setup_context(ctx, ...)
        with no_grad():
            raw = cls.forward(*args, **kwargs) if own_setup else cls.forward(ctx, *args, **kwargs)
            if own_setup:
                cls.setup_context(ctx, args, raw)
        single = isinstance(raw, Tensor)
        raws = (raw,) if single else tuple(raw)
        where = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        parents = tuple(args[i] for i in where)

        def node_backward(k):
            def backward(g, out):
                grads = [g if j == k else Tensor(B.get_array_module(r.array).zeros_like(r.array))
                         for j, r in enumerate(raws)]
                result = cls.backward(ctx, *grads)
                result = (result,) if isinstance(result, Tensor) or result is None else tuple(result)
                if len(result) != len(args):
                    raise RuntimeError(f"{cls.__name__}.backward returned {len(result)} gradients, expected "
                                       f"{len(args)} (one per argument of forward, None for a non-tensor)")
                return tuple(result[i] for i in where)
            return backward

        outs = []
        for k, r in enumerate(raws):
            if not isinstance(r, Tensor) or id(r) in ctx._non_differentiable:
                outs.append(r)
                continue
            outs.append(apply_op(r.array, parents, node_backward(k), cls.__name__, saved=None))
        # the saved tensors as backward will read them: forward's own outputs become the recorded nodes
        swap = {id(r): o for r, o in zip(raws, outs) if isinstance(r, Tensor)}
        ctx._saved = tuple(swap.get(id(t), t) if t is not None else None for t in ctx._to_save)
        return outs[0] if single else tuple(outs)
