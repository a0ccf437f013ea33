"""Differentiable ops: each forward with its backward right beside it.

Conventions: ``x.array`` is the backend array, ``xp`` its module (NumPy or CuPy);
``g`` is dL/d(out) as a Tensor, ``out`` the op's output.  Backward functions use
Tensor ops only, so they are differentiable themselves (double backprop).  They
skip parents that need no gradient: a real image batch never pays for dL/dx.
Binary ops broadcast like NumPy; their backward sums the gradient back to each
input's shape (``sum_to``), whose own backward is ``broadcast_to``.
"""
from __future__ import annotations

import builtins
import math
import warnings
from collections import namedtuple

from . import backend as B
from .kernels import lane_map, matmul_array
from .tensor import OUTPUT, Tensor, apply_op, inplace, is_grad_enabled

_np = B.numpy  # host NumPy only for dtype objects and host-side scalars, never for tensor data


def _xp(*tensors):
    return B.get_array_module(*(t.array for t in tensors))


def _const(value, like: Tensor) -> Tensor:
    """A Python number or array as a constant Tensor on ``like``'s device, keeping float dtypes."""
    if isinstance(value, Tensor):
        return value
    xp = _xp(like)
    kind = like.dtype.kind
    if isinstance(value, (bool, int, float)) and (kind == "f" or (kind in "iu" and isinstance(value, int))):
        dtype = like.dtype
    elif isinstance(value, float):
        dtype = _np.float32
    else:
        dtype = None
    return Tensor(xp.asarray(value, dtype=dtype))


# PyTorch's type promotion, not NumPy's: categories bool < integer < float, the highest one wins, and
# within it tensors with dimensions decide before 0-d tensors, which decide before Python numbers (those
# give the category's default, float32 or int64).  NumPy instead makes int64 with float32 float64, and
# lets a 0-d float64 array turn a float32 batch into float64: ported code would drift into float64.
_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}
_DEFAULT_OF_CATEGORY = {0: _np.dtype(bool), 1: _np.dtype(_np.int64), 2: _np.dtype(_np.float32),
                        3: _np.dtype(_np.complex64)}


def _promoted(operands):
    """The result dtype of (dtype, rank) operands; rank 2: a tensor with dimensions, 1: a 0-d tensor,
    0: a Python or NumPy number."""
    top = builtins.max(_CATEGORY[d.kind] for d, _ in operands)
    for rank in (2, 1):
        same = [d for d, r in operands if r == rank and _CATEGORY[d.kind] == top]
        if same:
            result = same[0]
            for d in same[1:]:
                result = _np.promote_types(result, d)
            return result
    return _DEFAULT_OF_CATEGORY[top]


def _cast(t: Tensor, dtype) -> Tensor:
    if t.dtype == dtype:
        return t
    return to(t, dtype) if t.requires_grad else Tensor(t.array.astype(dtype))


def _pair(a, b):
    """Both operands as Tensors of one dtype (PyTorch's promotion), on one device."""
    rank_a = (2 if a.ndim else 1) if isinstance(a, Tensor) else 0
    rank_b = (2 if b.ndim else 1) if isinstance(b, Tensor) else 0
    if not isinstance(a, Tensor):
        a = _const(a, b)
    if not isinstance(b, Tensor):
        b = _const(b, a)
    B.get_array_module(a.array, b.array)  # raises on arrays from two devices
    if a.dtype != b.dtype:
        dtype = _promoted(((a.dtype, rank_a), (b.dtype, rank_b)))
        a, b = _cast(a, dtype), _cast(b, dtype)
    return a, b


def _cross(a: Tensor, b: Tensor) -> tuple:
    """What a bilinear op's backward reads: b for a's gradient, a for b's (d(ab) = b da + a db)."""
    return (b if a.requires_grad else None, a if b.requires_grad else None)


# A view's backward reads nothing.  (That its values follow its base's memory is handled where it
# is consumed: apply_op refreshes a view whose base was written since, see tensor.py.)
_VIEW = ()


def _norm_dims(dim, ndim):
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    out = []
    for d in dims:
        if not -builtins.max(ndim, 1) <= d < builtins.max(ndim, 1):  # a 0-d tensor has dims 0 and -1, as in torch
            raise IndexError(f"dimension {d} out of range for a tensor with {ndim} dimensions")
        out.append(d % builtins.max(ndim, 1))
    return tuple(out)


def _reduce_dims(dim, ndim):
    """The NumPy axes of a reduction over ``dim``, by torch's rules: ``dim=()`` means every dim, as None does;
    a 0-d tensor reduced over its one virtual dim (0 or -1) reduces over no axes, which leaves its value."""
    dims = _norm_dims(dim, ndim)
    if ndim == 0 and dims is not None:
        return ()
    return None if dims == () else dims


# ---- broadcasting and its adjoint ----------------------------------------------------------
def broadcast_to(x: Tensor, shape) -> Tensor:
    shape = tuple(shape)
    if x.shape == shape:
        return x
    xp = _xp(x)

    def backward(g, out):  # broadcasting copies values, so their gradients add up
        return (sum_to(g, x.shape),)

    return apply_op(xp.broadcast_to(x.array, shape), (x,), backward, "broadcast_to", saved=_VIEW, view_of=x,
                    view=("broadcast_to", shape))


def sum_to(x: Tensor, shape) -> Tensor:
    """Sum ``x`` down to ``shape`` (undo broadcasting): leading axes and size-1 axes are summed."""
    shape = tuple(shape)
    if x.shape == shape:
        return x
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape) if s == 1 and x.shape[i + lead] != 1)
    data = x.array.sum(axis=axes, keepdims=True)
    if lead:
        data = data.reshape(shape)

    def backward(g, out):
        return (broadcast_to(g, x.shape),)

    return apply_op(data, (x,), backward, "sum_to", saved=())


# ---- arithmetic -----------------------------------------------------------------------------
def add(a, b) -> Tensor:
    a, b = _pair(a, b)

    def backward(g, out):  # d(a+b) = da + db
        return (sum_to(g, a.shape) if a.requires_grad else None, sum_to(g, b.shape) if b.requires_grad else None)

    return apply_op(a.array + b.array, (a, b), backward, "add", saved=())


def sub(a, b) -> Tensor:
    a, b = _pair(a, b)

    def backward(g, out):  # d(a-b) = da - db
        return (sum_to(g, a.shape) if a.requires_grad else None, sum_to(-g, b.shape) if b.requires_grad else None)

    return apply_op(a.array - b.array, (a, b), backward, "sub", saved=())


def mul(a, b) -> Tensor:
    a, b = _pair(a, b)

    def backward(g, out):  # d(ab) = b da + a db
        return (sum_to(g * b, a.shape) if a.requires_grad else None, sum_to(g * a, b.shape) if b.requires_grad else None)

    return apply_op(a.array * b.array, (a, b), backward, "mul", saved=_cross(a, b))


def div(a, b) -> Tensor:
    a, b = _pair(a, b)
    a, b = _floating(a), _floating(b)  # true division of integers gives floats: PyTorch's default, float32

    def backward(g, out):  # d(a/b) = da/b - a db/b^2
        ga = sum_to(g / b, a.shape) if a.requires_grad else None
        gb = sum_to(-g * a / (b * b), b.shape) if b.requires_grad else None
        return ga, gb

    return apply_op(a.array / b.array, (a, b), backward, "div", saved=(b, a if b.requires_grad else None))


def neg(x: Tensor) -> Tensor:
    return apply_op(-x.array, (x,), lambda g, out: (-g,), "neg", saved=())


def pow(x, p) -> Tensor:  # noqa: A001 - torch.pow
    """x ** p for a scalar or Tensor exponent (and a scalar base with Tensor exponent)."""
    if not isinstance(x, Tensor):  # c ** t:  d/dt = c^t log c
        base, p_t = _pair(x, p)

        def backward_base(g, out):
            return (None, g * out * math.log(float(x)))

        return apply_op(base.array ** p_t.array, (base, p_t), backward_base, "pow", saved=(OUTPUT,))
    if isinstance(p, Tensor):
        x, p = _pair(x, p)

        def backward(g, out):  # d x^p = p x^(p-1) dx + x^p log(x) dp
            gx = sum_to(g * p * x ** (p - 1), x.shape) if x.requires_grad else None
            gp = sum_to(g * out * log(x), p.shape) if p.requires_grad else None
            return gx, gp

        return apply_op(x.array ** p.array, (x, p), backward, "pow", saved=(x, p, OUTPUT if p.requires_grad else None))
    p = float(p) if not isinstance(p, int) else p
    if isinstance(p, float):  # an integer tensor to a float power: float32, as torch
        x = _floating(x)

    def backward_scalar(g, out):  # d x^p = p x^(p-1) dx
        if p == 2:
            return (g * x * 2.0,)
        return (g * (x ** (p - 1)) * float(p),)

    data = x.array * x.array if p == 2 else x.array ** p  # a Python scalar keeps float32 float32
    return apply_op(data, (x,), backward_scalar, "pow", saved=(x,))


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """a @ b with NumPy's rules: 1-D operands are promoted, batch dims broadcast."""
    a, b = _pair(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both operands need at least one dimension, got shapes {a.shape} and {b.shape}")
    if a.ndim == 1 or b.ndim == 1:  # a vector is a (1, k) row on the left, a (k, 1) column on the right
        out = matmul(unsqueeze(a, 0) if a.ndim == 1 else a, unsqueeze(b, 1) if b.ndim == 1 else b)
        if b.ndim == 1:
            out = squeeze(out, -1)
        return squeeze(out, -1 if b.ndim == 1 else -2) if a.ndim == 1 else out
    if a.shape[-1] != b.shape[-2]:
        raise ValueError(
            f"matmul: shapes {a.shape} and {b.shape} cannot be multiplied: "
            f"{a.shape[-1]} (last dim of the first) != {b.shape[-2]} (second-to-last dim of the second)"
        )

    def backward(g, out):  # dA = G B^T, dB = A^T G, summed over broadcast batch dims
        ga = sum_to(matmul(g, b.mT), a.shape) if a.requires_grad else None
        gb = sum_to(matmul(a.mT, g), b.shape) if b.requires_grad else None
        return ga, gb

    # 2-D products go through kernels.matmul_array, which spreads large ones over the cores
    return apply_op(matmul_array(a.array, b.array), (a, b), backward, "matmul", saved=_cross(a, b))


def mv(mat: Tensor, vec: Tensor) -> Tensor:
    """Matrix (n, m) times vector (m,) -> (n,), as ``torch.mv``.

    Its own node (not matmul's, which reshapes the vector into a view): the backward reads ``mat`` and
    ``vec`` themselves, so after ``vec.data = t`` it reads t, as PyTorch's saved tensors do.  The
    SN-GAN power iteration (``v.data = normalize(W^T u)`` between forward and backward) depends on it."""
    if mat.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"mv: expected a 2-D matrix and a 1-D vector, got shapes {mat.shape} and {vec.shape}")
    if mat.shape[1] != vec.shape[0]:
        raise RuntimeError(f"mv: size mismatch, got matrix {mat.shape} and vector {vec.shape}")

    def backward(g, out):  # d(Av) = dA v + A dv: dA = g vᵀ (outer product), dv = Aᵀ g
        ga = unsqueeze(g, 1) * unsqueeze(vec, 0) if mat.requires_grad else None
        gv = matmul(g, mat) if vec.requires_grad else None
        return ga, gv

    return apply_op(mat.array @ vec.array, (mat, vec), backward, "mv", saved=_cross(mat, vec))


def bmm(a: Tensor, b: Tensor) -> Tensor:
    """Batched (b, n, m) @ (b, m, p) -> (b, n, p), without broadcasting, as ``torch.bmm``."""
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0]:
        raise RuntimeError(f"bmm: expected two 3-D tensors with the same batch size, "
                           f"got shapes {a.shape} and {b.shape}")
    return matmul(a, b)


def dot(a: Tensor, b: Tensor) -> Tensor:
    """Inner product of two 1-D tensors of the same length (a 0-dim tensor), as ``torch.dot``; like ``mv``
    its backward reads a and b themselves (see there)."""
    if a.ndim != 1 or b.ndim != 1 or a.shape != b.shape:
        raise RuntimeError(f"dot: expected two 1-D tensors of the same length, got shapes {a.shape} and {b.shape}")

    def backward(g, out):  # d(a·b) = b·da + a·db
        return (g * b if a.requires_grad else None, g * a if b.requires_grad else None)

    return apply_op(_xp(a, b).dot(a.array, b.array), (a, b), backward, "dot", saved=_cross(a, b))


def square(x: Tensor) -> Tensor:
    return mul(x, x)  # d(x²) = 2x dx, through mul's backward


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x Wᵀ + b, W of shape (out_features, in_features) as in PyTorch.

    One op rather than matmul∘transpose∘add so that dL/dW comes out contiguous
    in W's own layout, ready for the optimiser, whatever x's leading dims:
        dL/dx = G W,   dL/dW = Gᵀ X,   dL/db = Σ_rows G   (X, G: x, g flattened to rows)
    """
    if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input of shape {x.shape} does not match weight of shape {weight.shape} "
                         f"(expected input of shape (*, {weight.shape[1]}))")
    data = matmul_array(x.array, weight.array.T)
    if bias is not None:
        data += bias.array
    parents = (x, weight) if bias is None else (x, weight, bias)

    def backward(g, out):
        rows = reshape(g, (-1, weight.shape[0]))
        gx = matmul(g, weight) if x.requires_grad else None
        gw = matmul(transpose(rows, 0, 1), reshape(x, (-1, weight.shape[1]))) if weight.requires_grad else None
        if bias is None:
            return gx, gw
        return gx, gw, (sum(rows, dim=0) if bias.requires_grad else None)

    return apply_op(data, parents, backward, "linear", saved=_cross(x, weight))


# ---- elementwise functions -----------------------------------------------------------------
def _floating(x: Tensor) -> Tensor:
    """x, or x as float32 if it holds integers or bools: PyTorch's exp, log, sqrt, sigmoid... of an integer
    tensor are float32 (NumPy's would be float64)."""
    return _cast(x, _np.dtype(_np.float32)) if x.dtype.kind in "biu" else x


def exp(x: Tensor) -> Tensor:
    x = _floating(x)
    return apply_op(_xp(x).exp(x.array), (x,), lambda g, out: (g * out,), "exp", saved=(OUTPUT,))  # d e^x = e^x dx


def log(x: Tensor) -> Tensor:
    x = _floating(x)
    return apply_op(_xp(x).log(x.array), (x,), lambda g, out: (g / x,), "log", saved=(x,))  # d log x = dx / x


def sqrt(x: Tensor) -> Tensor:
    # d √x = dx / (2√x)
    x = _floating(x)
    return apply_op(_xp(x).sqrt(x.array), (x,), lambda g, out: (g / (out * 2.0),), "sqrt", saved=(OUTPUT,))


def log1p(x: Tensor) -> Tensor:
    # d log(1 + x) = dx / (1 + x); log1p keeps the digits of small x that log(1 + x) rounds away
    x = _floating(x)
    return apply_op(_xp(x).log1p(x.array), (x,), lambda g, out: (g / (x + 1.0),), "log1p", saved=(x,))


def rsqrt(x: Tensor) -> Tensor:
    # d x^(-1/2) = -x^(-3/2) / 2 dx = -out³ / 2 dx
    x = _floating(x)
    return apply_op(1.0 / _xp(x).sqrt(x.array), (x,), lambda g, out: (g * out * out * out * -0.5,), "rsqrt",
                    saved=(OUTPUT,))


def _step_function(name: str):
    """sign, round, floor, ceil: piecewise constant, so the gradient is zero (PyTorch's convention at the jumps)."""

    def op(x: Tensor) -> Tensor:
        return apply_op(getattr(_xp(x), name)(x.array), (x,), lambda g, out: (g * 0.0,), name, saved=())

    op.__name__ = op.__qualname__ = name
    return op


sign, round, floor, ceil = (_step_function(n) for n in ("sign", "round", "floor", "ceil"))  # noqa: A001


def abs(x: Tensor) -> Tensor:  # noqa: A001 - torch.abs
    xp = _xp(x)
    # d|x| = sign(x) dx
    return apply_op(xp.abs(x.array), (x,), lambda g, out: (g * Tensor(xp.sign(x.array)),), "abs", saved=(x,))


def clamp(x: Tensor, min=None, max=None) -> Tensor:  # noqa: A002 - torch's names
    """Clip to [min, max]; the gradient passes only where x was inside (torch's convention)."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    if x.dtype.kind in "biu" and builtins.any(isinstance(v, (float, _np.floating)) for v in (min, max)):
        x = _floating(x)  # integers clamped to float bounds: float32, as torch
    xp = _xp(x)
    inside = None
    if x.requires_grad and is_grad_enabled():  # the mask now, so that clamp_ need not keep the old x
        inside = xp.ones(x.shape, dtype=bool)
        if min is not None:
            inside &= x.array >= min
        if max is not None:
            inside &= x.array <= max
    data = xp.clip(x.array, min, max).astype(x.dtype, copy=False)  # a NumPy float64 bound must not upcast

    def backward(g, out):
        return (g * Tensor(inside.astype(x.dtype)),)

    return apply_op(data, (x,), backward, "clamp", saved=())


def nan_to_num(x: Tensor, nan: float = 0.0, posinf=None, neginf=None) -> Tensor:
    """NaN → ``nan``, ±inf → ``posinf``/``neginf`` (default: the dtype's largest and smallest finite values);
    the gradient passes where x was finite, as torch."""
    xp = _xp(x)
    data = xp.nan_to_num(x.array, nan=nan, posinf=posinf, neginf=neginf)
    return apply_op(data, (x,), lambda g, out: (g * Tensor(xp.isfinite(x.array).astype(g.dtype)),), "nan_to_num",
                    saved=(x,))


def _relu_array(xp, a, out=None):
    out = xp.empty_like(a) if out is None else out
    return lane_map(lambda o, a_: xp.maximum(a_, 0, out=o), out, a)


def relu(x: Tensor, *, _out=None) -> Tensor:
    """max(x, 0); ``_out``: the array to write into (relu_ passes x's own)."""
    xp = _xp(x)
    # d relu(x) = [relu(x) > 0] dx: read from the output (as PyTorch), so that relu_ needs no copy of x
    return apply_op(_relu_array(xp, x.array, _out), (x,), lambda g, out: (_slope_mul(g, out.array > 0, 0.0),),
                    "relu", saved=(OUTPUT,))


def _leaky_relu_array(xp, a, s, out=None, positive=None):
    """leaky(a) = max(a, s·a) for s <= 1 (min for s > 1), into ``out``; also [a > 0] into ``positive``.
    Two passes and no xp.where (10x slower on a random sign pattern)."""
    pick = xp.maximum if s <= 1 else xp.minimum
    s = xp.asarray(s, dtype=a.dtype)

    def part(o, a_, p_):
        if p_ is not None:  # before the write: with out = a it would read the result
            xp.greater(a_, 0, out=p_)
        pick(a_, a_ * s, out=o)

    return lane_map(part, xp.empty_like(a) if out is None else out, a, positive)


def _slope_mul(g: Tensor, positive, s: float) -> Tensor:
    """g · (1 where ``positive`` else s), the backward of relu (s = 0) and leaky_relu.  Linear in g with a
    constant diagonal, so it is its own derivative: d(g·slope) = slope·dg."""
    xp = _xp(g)

    def part(o, g_, p_):
        slope = p_.astype(o.dtype)
        if s:
            slope *= 1 - s
            slope += s
        xp.multiply(g_, slope, out=o)

    data = lane_map(part, xp.empty_like(g.array), g.array, positive)
    return apply_op(data, (g,), lambda gg, out: (_slope_mul(gg, positive, s),), "slope_mul", saved=())


def leaky_relu(x: Tensor, negative_slope: float = 0.01, *, _out=None) -> Tensor:
    """max(x, s·x); ``_out``: the array to write into (leaky_relu_ passes x's own)."""
    xp = _xp(x)
    s = negative_slope
    positive = xp.empty_like(x.array, dtype=bool)  # [x > 0], taken before an in-place write: the backward reads no x
    data = _leaky_relu_array(xp, x.array, s, _out, positive)
    # d leaky(x) = (1 if x > 0 else slope) dx
    return apply_op(data, (x,), lambda g, out: (_slope_mul(g, positive, s),), "leaky_relu", saved=())


def tanh(x: Tensor) -> Tensor:
    # d tanh(x) = (1 - tanh(x)^2) dx, from the output: no second transcendental
    x = _floating(x)
    xp = _xp(x)
    data = lane_map(lambda o, a_: xp.tanh(a_, out=o), xp.empty_like(x.array), x.array)
    return apply_op(data, (x,), lambda g, out: (g * (1.0 - out * out),), "tanh", saved=(OUTPUT,))


def _sigmoid_array(xp, a):
    # σ(a) = 1/(1+e^-a) for a ≥ 0 and e^a/(1+e^a) for a < 0: e^-|a| never overflows.
    e = xp.exp(-xp.abs(a))
    return xp.where(a >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid(x: Tensor) -> Tensor:
    # d σ(x) = σ(x)(1 - σ(x)) dx
    x = _floating(x)
    return apply_op(_sigmoid_array(_xp(x), x.array), (x,), lambda g, out: (g * out * (1.0 - out),), "sigmoid",
                    saved=(OUTPUT,))


def _log1p_exp_neg_abs(xp, a):
    return xp.log1p(xp.exp(-xp.abs(a)))


def softplus(x: Tensor) -> Tensor:
    """log(1 + e^x) = max(x, 0) + log1p(e^-|x|): finite for every finite x."""
    x = _floating(x)
    xp = _xp(x)
    data = xp.maximum(x.array, 0) + _log1p_exp_neg_abs(xp, x.array)
    return apply_op(data, (x,), lambda g, out: (g * sigmoid(x),), "softplus", saved=(x,))  # d softplus = σ(x) dx


def logsigmoid(x: Tensor) -> Tensor:
    """log σ(x) = min(x, 0) - log1p(e^-|x|): no log(0) even when σ(x) underflows."""
    x = _floating(x)
    xp = _xp(x)
    data = xp.minimum(x.array, 0) - _log1p_exp_neg_abs(xp, x.array)
    return apply_op(data, (x,), lambda g, out: (g * sigmoid(-x),), "logsigmoid", saved=(x,))  # d log σ = σ(-x) dx


def where(condition, a, b) -> Tensor:
    """Pick from a where condition holds, else b; the gradient is routed the same way."""
    cond = condition.array if isinstance(condition, Tensor) else condition
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError("where: at least one of a and b must be a Tensor")
    a, b = _pair(a, b)
    xp = _xp(a, b)

    def backward(g, out):
        zero = _const(0.0, g)
        ga = sum_to(where(cond, g, zero), a.shape) if a.requires_grad else None
        gb = sum_to(where(cond, zero, g), b.shape) if b.requires_grad else None
        return ga, gb

    saved = (condition,) if isinstance(condition, Tensor) else ()
    return apply_op(xp.where(cond, a.array, b.array), (a, b), backward, "where", saved=saved)


# ---- reductions -----------------------------------------------------------------------------
def _expand_back(g: Tensor, x: Tensor, dims, keepdim) -> Tensor:
    """Broadcast a reduced gradient back over the reduced dims of x."""
    if dims is None:
        return broadcast_to(reshape(g, (1,) * x.ndim), x.shape)
    if not keepdim:
        shape = list(x.shape)
        for d in dims:
            shape[d] = 1
        g = reshape(g, shape)
    return broadcast_to(g, x.shape)


def sum(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001 - torch.sum
    dims = _reduce_dims(dim, x.ndim)
    data = x.array.sum(axis=dims, keepdims=keepdim)
    # d sum(x) / dx_i = 1: the gradient is copied to every summed element
    return apply_op(data, (x,), lambda g, out: (_expand_back(g, x, dims, keepdim),), "sum", saved=())


def mean(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    dims = _reduce_dims(dim, x.ndim)
    n = x.numel() if dims is None else math.prod(x.shape[d] for d in dims)
    data = x.array.mean(axis=dims, keepdims=keepdim)
    # d mean = dx / n; an empty reduction (n = 0, a nan mean, as torch) has no entries to receive it
    scale = 1.0 / n if n else math.nan
    return apply_op(data, (x,), lambda g, out: (_expand_back(g, x, dims, keepdim) * scale,), "mean", saved=())


MaxResult = namedtuple("MaxResult", ["values", "indices"])


def _extreme(x: Tensor, dim, keepdim, largest: bool):
    xp = _xp(x)
    name = "max" if largest else "min"
    if dim is None:
        data = x.array.max() if largest else x.array.min()

        def backward(g, out):  # ties share the gradient equally (torch's amax convention)
            hit = (x.array == out.array).astype(x.dtype)
            return (broadcast_to(g, x.shape) * Tensor(hit / hit.sum()),)

        return apply_op(data, (x,), backward, name, saved=(x, OUTPUT))
    (d,) = _norm_dims(dim, x.ndim)
    if x.ndim == 0:  # torch: a 0-d tensor's max over dim 0 is itself, at index 0
        return MaxResult(apply_op(x.array.copy(), (x,), lambda g, out: (g,), name, saved=()),
                         Tensor(xp.zeros((), dtype=_np.int64)))
    idx = x.array.argmax(axis=d) if largest else x.array.argmin(axis=d)
    idx_k = xp.expand_dims(idx, d)
    data = xp.take_along_axis(x.array, idx_k, axis=d)
    if not keepdim:
        data = data.squeeze(d)

    def backward(g, out):  # the gradient goes to the selected index only
        shape = [1] * x.ndim
        shape[d] = x.shape[d]
        onehot = (xp.arange(x.shape[d]).reshape(shape) == idx_k).astype(x.dtype)
        return (_expand_back(g, x, (d,), keepdim) * Tensor(onehot),)

    values = apply_op(data, (x,), backward, name, saved=())
    return MaxResult(values, Tensor(idx_k if keepdim else xp.asarray(idx)))  # 1-D argmax gives a NumPy scalar


def _amax(x: Tensor, dim, keepdim: bool, largest: bool) -> Tensor:
    dims = _reduce_dims(dim, x.ndim)  # () is every dim, as None
    red = x.array.max(axis=dims, keepdims=True) if largest else x.array.min(axis=dims, keepdims=True)
    data = red if keepdim else (red.reshape(()) if dims is None else red.squeeze(axis=dims))

    def backward(g, out):  # ties share the gradient equally, as torch's amax/amin
        hit = x.array == red
        return (_expand_back(g, x, dims, keepdim) * Tensor((hit / hit.sum(axis=dims, keepdims=True)).astype(x.dtype)),)

    return apply_op(data, (x,), backward, "amax" if largest else "amin", saved=(x,))


def amax(x: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    """The largest values over ``dim`` (all dims by default), without indices."""
    return _amax(x, dim, keepdim, True)


def amin(x: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    return _amax(x, dim, keepdim, False)


def max(x: Tensor, dim=None, keepdim: bool = False):  # noqa: A001 - torch.max
    """Without ``dim``: the largest value.  With ``dim``: ``(values, indices)`` like torch.
    With a Tensor second argument: the elementwise ``maximum``, as ``torch.max(a, b)``."""
    if isinstance(dim, Tensor):
        return maximum(x, dim)
    return _extreme(x, dim, keepdim, True)


def min(x: Tensor, dim=None, keepdim: bool = False):  # noqa: A001 - torch.min
    if isinstance(dim, Tensor):
        return minimum(x, dim)
    return _extreme(x, dim, keepdim, False)


def maximum(a, b) -> Tensor:
    """Elementwise larger value; the gradient goes to the larger input (to a on ties)."""
    a, b = _pair(a, b)
    return where(a.array >= b.array, a, b)


def minimum(a, b) -> Tensor:
    a, b = _pair(a, b)
    return where(a.array <= b.array, a, b)


def logsumexp(x: Tensor, dim, keepdim: bool = False) -> Tensor:
    """log Σ e^x = m + log Σ e^(x-m), m = max x: no overflow."""
    xp = _xp(x)
    dims = _reduce_dims(dim, x.ndim)
    m = x.array.max(axis=dims, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0)
    data = m + xp.log(xp.exp(x.array - m).sum(axis=dims, keepdims=True))
    if not keepdim:
        data = data.squeeze(dims)

    def backward(g, out):  # d lse / dx = softmax(x) = e^(x - lse)
        return (_expand_back(g, x, dims, keepdim) * exp(x - _expand_back(out, x, dims, keepdim)),)

    return apply_op(data, (x,), backward, "logsumexp", saved=(x, OUTPUT))


def var(x: Tensor, dim=None, unbiased: bool = True, keepdim: bool = False, correction=None) -> Tensor:
    """Variance; ``unbiased`` (default, like torch) divides by n - 1."""
    dims = _reduce_dims(dim, x.ndim)
    n = x.numel() if dims is None else math.prod(x.shape[d] for d in dims)
    c = (1 if unbiased else 0) if correction is None else correction
    centred = x - mean(x, dim=dims, keepdim=True)
    # n − c ≤ 0 (the unbiased variance of one sample) is undefined: nan, as in torch
    return sum(centred * centred, dim=dims, keepdim=keepdim) * (1.0 / (n - c) if n > c else math.nan)


def std(x: Tensor, dim=None, unbiased: bool = True, keepdim: bool = False, correction=None) -> Tensor:
    v = var(x, dim=dim, unbiased=unbiased, keepdim=keepdim, correction=correction)

    def backward(g, out):  # d√v = dv / (2√v); 0 where the spread is 0 (torch's choice; no inf·0 = nan)
        flat = Tensor((out.array == 0).astype(out.dtype))
        return (g * (1.0 - flat) / ((out + flat) * 2.0),)

    return apply_op(_xp(v).sqrt(v.array), (v,), backward, "std", saved=(OUTPUT,))


def norm(x: Tensor, p=2, dim=None, keepdim: bool = False) -> Tensor:
    """The 2-norm √Σx²; at x = 0 the gradient is 0 (the subgradient torch picks)."""
    if p not in (2, 2.0, "fro"):
        raise NotImplementedError(f"norm: only p=2 is implemented, got p={p!r}")
    xp = _xp(x)
    dims = _reduce_dims(dim, x.ndim)
    data = xp.sqrt((x.array * x.array).sum(axis=dims, keepdims=keepdim))

    def backward(g, out):  # d‖x‖ = x/‖x‖ · dx
        n = _expand_back(out, x, dims, keepdim)
        safe = n + Tensor((n.array == 0).astype(x.dtype))
        return (_expand_back(g, x, dims, keepdim) * x / safe,)

    return apply_op(data, (x,), backward, "norm", saved=(x, OUTPUT))


# ---- shape ops: the gradient is the inverse rearrangement -----------------------------------
def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def reshape(x: Tensor, *shape) -> Tensor:
    shape = _shape_arg(shape)
    try:
        data = x.array.reshape(shape)
    except ValueError:
        raise ValueError(f"reshape: cannot view a tensor of shape {x.shape} ({x.numel()} elements) as {shape}") from None
    if data.shape == x.array.shape:
        return x
    def backward(g, out):
        return (reshape(g, x.shape),)

    if not _xp(x).may_share_memory(data, x.array):  # NumPy had to copy (x was not contiguous)
        return apply_op(data, (x,), backward, "reshape", saved=())
    return apply_op(data, (x,), backward, "reshape", saved=_VIEW, view_of=x, view=("reshape", shape))


def permute(x: Tensor, *dims) -> Tensor:
    dims = _norm_dims(_shape_arg(dims), x.ndim)
    if len(dims) != x.ndim or sorted(dims) != list(range(x.ndim)):
        raise ValueError(f"permute: {dims} is not a permutation of the {x.ndim} dims of shape {x.shape}")
    inverse = tuple(sorted(range(x.ndim), key=dims.__getitem__))
    return apply_op(x.array.transpose(dims), (x,), lambda g, out: (permute(g, inverse),), "permute", saved=_VIEW,
                    view_of=x, view=("permute", dims))


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    dims = list(range(x.ndim))
    d0, d1 = _norm_dims((dim0, dim1), x.ndim)
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return permute(x, dims)


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    if x.ndim == 0:
        return reshape(x, (1,))
    s, e = _norm_dims((start_dim, end_dim), x.ndim)
    return reshape(x, x.shape[:s] + (math.prod(x.shape[s:e + 1]),) + x.shape[e + 1:])


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    d = dim if dim >= 0 else dim + x.ndim + 1
    return reshape(x, x.shape[:d] + (1,) + x.shape[d:])


def squeeze(x: Tensor, dim=None) -> Tensor:
    if dim is None:
        return reshape(x, tuple(s for s in x.shape if s != 1))
    (d,) = _norm_dims(dim, x.ndim)
    if x.ndim == 0 or x.shape[d] != 1:
        return x
    return reshape(x, x.shape[:d] + x.shape[d + 1:])


def expand(x: Tensor, *shape) -> Tensor:
    shape = _shape_arg(shape)
    lead = len(shape) - x.ndim
    full = tuple(x.shape[i - lead] if s == -1 else s for i, s in enumerate(shape))
    return broadcast_to(x, full)


def _plain_key(key):
    """An index key with Tensors replaced by their arrays; also: does it need scatter-add (advanced
    indexing, which copies), and the index Tensors (a backward reads them)."""
    parts = key if isinstance(key, tuple) else (key,)
    tensors = tuple(p for p in parts if isinstance(p, Tensor))
    if tensors:
        parts = tuple(p.array if isinstance(p, Tensor) else p for p in parts)
    advanced = builtins.any(not isinstance(p, (int, slice, type(None), type(Ellipsis))) for p in parts)
    return (parts if isinstance(key, tuple) else parts[0]), advanced, tensors


def getitem(x: Tensor, key) -> Tensor:
    key, advanced, index_tensors = _plain_key(key)

    def backward(g, out):
        return (index_add_zeros(g, key, x.shape, advanced),)

    if advanced:  # a copy, gathered by the index arrays
        return apply_op(x.array[key], (x,), backward, "getitem", saved=index_tensors)
    parts = key if isinstance(key, tuple) else (key,)
    if not builtins.any(k is Ellipsis for k in parts):
        key = parts + (Ellipsis,)  # a[0, ...] is a 0-d view where a[0] would be a NumPy scalar (a copy)
    return apply_op(x.array[key], (x,), backward, "getitem", saved=_VIEW, view_of=x, view=("getitem", key))


def apply_view(base: Tensor, chain) -> Tensor:
    """The view ``chain`` (a view's ops from its base, see ``apply_op``) applied to ``base``, as graph ops."""
    ops = {"reshape": reshape, "permute": permute, "getitem": getitem, "broadcast_to": broadcast_to}
    for kind, arg in chain:
        base = ops[kind](base, arg)
    return base


def _view_array(a, chain):
    xp = B.get_array_module(a)
    for kind, arg in chain:
        if kind == "reshape":
            a = a.reshape(arg)
        elif kind == "permute":
            a = a.transpose(arg)
        elif kind == "getitem":
            a = a[arg]
        else:
            a = xp.broadcast_to(a, arg)
    return a


def copy_slices(base: Tensor, region: Tensor, chain) -> Tensor:
    """The node of a base after an in-place write through its view ``chain``: the values are base's
    own memory (already written); the gradient splits into the view's region (to ``region``, the
    written values) and the rest (to the old base)."""
    def backward(g, out):
        gb = gr = None
        if base.requires_grad:
            outside = _xp(g).ones(base.shape, dtype=g.dtype)
            _view_array(outside, chain)[...] = 0
            gb = g * Tensor(outside)
        if region.requires_grad:
            gr = apply_view(g, chain)
            if gr.shape != region.shape:
                gr = sum_to(gr, region.shape)
        return gb, gr

    return apply_op(base.array, (base, region), backward, "copy_slices", saved=())


def index_add_zeros(g: Tensor, key, shape, advanced: bool) -> Tensor:
    """zeros(shape) with g added at ``key``: the adjoint of indexing (repeated indices add up)."""
    xp = _xp(g)
    data = xp.zeros(shape, dtype=g.dtype)
    if advanced:
        B.scatter_add(xp, data, key, g.array)
    else:
        data[key] = g.array
    return apply_op(data, (g,), lambda gg, out: (getitem(gg, key),), "index_add", saved=())


def embedding(indices, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Rows of ``weight`` (num_embeddings, dim) picked by integer ``indices``: out[..., :] = weight[i].

    The gradient is the adjoint of the gather, a scatter-add of g's rows into a zero table
    (an index used twice gets both rows' gradients); the ``padding_idx`` row gets none.
    """
    idx = indices.array if isinstance(indices, Tensor) else indices
    if not hasattr(idx, "dtype"):
        idx = _xp(weight).asarray(idx)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be an integer tensor (int64, as .long() gives), got dtype {idx.dtype}")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape {weight.shape}")
    n = weight.shape[0]
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= n):
        bad = int(idx.min()) if int(idx.min()) < 0 else int(idx.max())
        raise IndexError(f"embedding: index {bad} is out of range for a table of {n} rows (valid: 0 to {n - 1})")
    xp = B.get_array_module(idx, weight.array)

    def backward(g, out):  # dW[r] = Σ_{positions p with indices[p] = r} g[p]
        if padding_idx is not None:
            g = g * Tensor((idx != padding_idx)[..., None].astype(g.dtype))
        return (index_add_zeros(g, idx, weight.shape, True),)

    # the backward scatters by the indices: a later write into an index tensor would misroute it
    return apply_op(xp.take(weight.array, idx, axis=0), (weight,), backward, "embedding",
                    saved=(indices,) if isinstance(indices, Tensor) else ())


def cat(tensors, dim: int = 0) -> Tensor:
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    (d,) = _norm_dims(dim, tensors[0].ndim)
    for t in tensors[1:]:
        if t.ndim != tensors[0].ndim or t.shape[:d] + t.shape[d + 1:] != tensors[0].shape[:d] + tensors[0].shape[d + 1:]:
            raise ValueError(f"cat: shapes {[t.shape for t in tensors]} differ outside dim {d}")
    if len({t.dtype for t in tensors}) > 1:  # PyTorch's promotion: int64 with float32 gives float32
        dtype = _promoted([(t.dtype, 2) for t in tensors])
        tensors = [_cast(t, dtype) for t in tensors]
    xp = _xp(*tensors)
    bounds = [0]
    for t in tensors:
        bounds.append(bounds[-1] + t.shape[d])

    def backward(g, out):  # each input gets back its own slice
        lead = (slice(None),) * d
        return tuple(getitem(g, lead + (slice(lo, hi),)) if t.requires_grad else None
                     for t, lo, hi in zip(tensors, bounds[:-1], bounds[1:]))

    return apply_op(xp.concatenate([t.array for t in tensors], axis=d), tuple(tensors), backward, "cat", saved=())


def stack(tensors, dim: int = 0) -> Tensor:
    tensors = list(tensors)
    if builtins.any(t.shape != tensors[0].shape for t in tensors):
        raise ValueError(f"stack: expects tensors of equal shape, got {[t.shape for t in tensors]}")
    d = dim if dim >= 0 else dim + tensors[0].ndim + 1
    return cat([unsqueeze(t, d) for t in tensors], d)


# ---- devices and dtypes -------------------------------------------------------------------
def resolve_dtype(dtype):
    """None -> float32 (the default); accepts NumPy dtypes, strings and Python types."""
    if dtype is None:
        return _np.dtype(_np.float32)
    if dtype is float:
        return _np.dtype(_np.float32)
    if dtype is int:
        return _np.dtype(_np.int64)
    return _np.dtype(dtype)


def to(x: Tensor, *args, **kwargs) -> Tensor:
    """Move to a device and/or cast; the gradient flows back to the source device and dtype."""
    dev, dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
    kwargs.pop("non_blocking", None)
    if kwargs:
        raise TypeError(f"to(): unexpected arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            dev, dtype = a.device, a.dtype
        elif isinstance(a, (str, B.device)):
            dev = a
        else:
            dtype = a
    data = x.array
    if dev is not None:
        data = B.to_device(data, dev)
    if dtype is not None:
        data = data.astype(resolve_dtype(dtype), copy=False)
    if data is x.array:
        return x
    src_dev, src_dtype = x.device, x.dtype
    return apply_op(data, (x,), lambda g, out: (to(g, src_dev, src_dtype),), "to", saved=())


def ones_like_tensor(t: Tensor) -> Tensor:
    return Tensor(_xp(t).ones(t.shape, dtype=t.dtype))


def clone(x: Tensor) -> Tensor:
    # order="K": keep the memory layout (channels-last stays so)
    return apply_op(x.array.copy(order="K"), (x,), lambda g, out: (g,), "clone", saved=())


def contiguous(x: Tensor) -> Tensor:
    """x itself if its memory is C-contiguous, else a C-contiguous copy (not a view of x)."""
    if x.array.flags.c_contiguous:
        return x
    return apply_op(_xp(x).ascontiguousarray(x.array), (x,), lambda g, out: (g,), "contiguous", saved=())


def t(x: Tensor) -> Tensor:
    """The transpose of a matrix; vectors and scalars as they are (``torch.t``)."""
    if x.ndim > 2:
        raise ValueError(f"t() expects a tensor with <= 2 dimensions, but got shape {x.shape}; use transpose()")
    return x if x.ndim < 2 else transpose(x, 0, 1)


# ---- repetition and splitting ---------------------------------------------------------------------
def repeat(x: Tensor, *sizes) -> Tensor:
    """Tile x: ``x.repeat(2, 3)`` stacks 2 × 3 copies (NumPy's ``tile``; extra sizes add leading dims)."""
    sizes = _shape_arg(sizes)
    if len(sizes) < x.ndim:
        raise ValueError(f"repeat: number of repeat dims ({len(sizes)}) can not be smaller than number of "
                         f"tensor dims ({x.ndim})")
    shape = (1,) * (len(sizes) - x.ndim) + x.shape
    data = _xp(x).tile(x.array.reshape(shape), sizes)

    def backward(g, out):  # each copy's gradient adds up: view g as (r0, s0, r1, s1, ...), sum the r axes
        split = reshape(g, tuple(v for r, s in zip(sizes, shape) for v in (r, s)))
        return (reshape(sum(split, dim=tuple(range(0, 2 * len(sizes), 2))), x.shape),)

    return apply_op(data, (x,), backward, "repeat", saved=())


def repeat_interleave(x: Tensor, repeats, dim=None) -> Tensor:
    """Repeat each element ``repeats`` times along ``dim`` (flattened when None): [a, b] → [a, a, b, b].
    ``repeats`` is an int or a 1-D tensor of counts, one per element.  A gather, so its gradient
    is the scatter-add of indexing."""
    if dim is None:
        x, dim = flatten(x), 0
    (d,) = _norm_dims(dim, x.ndim)
    xp = _xp(x)
    n = x.shape[d]
    counts = repeats.array if isinstance(repeats, Tensor) else repeats
    if not isinstance(counts, int) and tuple(counts.shape) not in ((), (1,), (n,)):
        raise ValueError(f"repeat_interleave: repeats must have shape ({n},) or be a single number, "
                         f"got shape {tuple(counts.shape)}")
    if isinstance(counts, int):
        index = xp.repeat(xp.arange(n), counts)
    else:  # per-element counts: the index is built on the host (CuPy's repeat takes no array of counts)
        index = B.to_device(_np.repeat(_np.arange(n), B.to_numpy(counts).reshape(-1)), x.device)
    return getitem(x, (slice(None),) * d + (index,))


def _split_sizes(n: int, split_size_or_sections, who: str) -> list:
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size <= 0:
            raise ValueError(f"{who}: split size must be positive, got {size}")
        return [builtins.min(size, n - i) for i in range(0, n, size)] or [0]
    sizes = list(split_size_or_sections)
    if builtins.sum(sizes) != n:
        raise ValueError(f"{who}: split sizes {sizes} do not sum to the dimension size {n}")
    return sizes


def split(x: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Pieces of ``split_size`` (the last may be smaller) or of the listed sizes, as views of x."""
    (d,) = _norm_dims(dim, x.ndim)
    out, start = [], 0
    for size in _split_sizes(x.shape[d], split_size_or_sections, "split"):
        out.append(getitem(x, (slice(None),) * d + (slice(start, start + size),)))
        start += size
    return tuple(out)


def chunk(x: Tensor, chunks: int, dim: int = 0) -> tuple:
    """At most ``chunks`` pieces of ⌈n / chunks⌉ (PyTorch's rule: possibly fewer pieces)."""
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    (d,) = _norm_dims(dim, x.ndim)
    return split(x, builtins.max(1, -(-x.shape[d] // chunks)), d)


def lerp(x: Tensor, end, weight) -> Tensor:
    """x + weight·(end − x): d/dx = 1 − w, d/dend = w, d/dw = end − x (built from the ops above)."""
    return x + weight * (end - x)


def masked_fill(x: Tensor, mask, value) -> Tensor:
    """value where mask is True, x elsewhere (mask broadcasts to x)."""
    m = mask.array if isinstance(mask, Tensor) else mask
    if isinstance(value, Tensor) and value.ndim != 0:
        raise ValueError(f"masked_fill only supports a 0-dimensional value tensor, got shape {value.shape}")
    return where(_xp(x).broadcast_to(m, x.shape), _const(value, x) if not isinstance(value, Tensor) else value, x)


# ---- comparisons, argmax, dtype conversions: values, no graph -------------------------------------------
def _comparison(fn):
    def compare(a, b):
        if isinstance(b, Tensor):
            b = b.array
        elif not isinstance(b, (bool, int, float, _np.generic)) and B._backend_of(b) is None:
            return NotImplemented  # x == None, x == "text": Python's identity fallback
        return Tensor(fn(a.array, b))

    return compare


eq = _comparison(lambda a, b: a == b)
ne = _comparison(lambda a, b: a != b)
lt = _comparison(lambda a, b: a < b)
le = _comparison(lambda a, b: a <= b)
gt = _comparison(lambda a, b: a > b)
ge = _comparison(lambda a, b: a >= b)


def _arg_extreme(x: Tensor, dim, keepdim: bool, largest: bool) -> Tensor:
    xp = _xp(x)
    if dim is None:
        idx = x.array.argmax() if largest else x.array.argmin()
        idx = xp.asarray(idx, dtype=xp.int64)
        return Tensor(idx.reshape((1,) * x.ndim) if keepdim else idx)
    (d,) = _norm_dims(dim, x.ndim)
    idx = xp.asarray(x.array.argmax(axis=d) if largest else x.array.argmin(axis=d)).astype(xp.int64)
    return Tensor(xp.expand_dims(idx, d) if keepdim else idx)


def argmax(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Index of the largest value (of the flattened tensor when ``dim`` is None), int64."""
    return _arg_extreme(x, dim, keepdim, True)


def argmin(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    return _arg_extreme(x, dim, keepdim, False)


_LEGACY_TYPES = {"float32": "torch.FloatTensor", "float64": "torch.DoubleTensor", "float16": "torch.HalfTensor",
                 "int64": "torch.LongTensor", "int32": "torch.IntTensor", "uint8": "torch.ByteTensor",
                 "bool": "torch.BoolTensor"}


def type_(x: Tensor, dtype=None):
    """``x.type()``: the legacy type name; ``x.type(dtype)``: a cast (dtype, its name, or FloatTensor & co.)."""
    if dtype is None:
        name = _LEGACY_TYPES.get(x.dtype.name, f"torch.{x.dtype.name}")
        return name.replace("torch.", "torch.cuda.") if x.device.type == "cuda" else name
    if dtype is Tensor:  # x.type(torch.Tensor): torch.Tensor is the default (float32) tensor type
        return to(x, dtype=_np.float32)
    legacy = getattr(dtype, "dtype", None)  # FloatTensor and friends carry their dtype (and device)
    device = getattr(dtype, "device_type", None)
    if isinstance(dtype, str) and dtype.startswith("torch."):
        inverse = {v.split(".")[-1]: k for k, v in _LEGACY_TYPES.items()}
        name = dtype.split(".")[-1]
        legacy = inverse.get(name, name)
        device = "cuda" if dtype.startswith("torch.cuda.") else "cpu"
    return to(x, device=device, dtype=legacy if legacy is not None else dtype)


# ---- in-place ops: x.op_(...) writes the result into x (rules and rebase: tensor.py) ------------------
def _needs_grad(*values) -> bool:
    return builtins.any(isinstance(v, Tensor) and v.requires_grad for v in values)


def _arr(v):
    return v.array if isinstance(v, Tensor) else v


def _scaled_other(name: str, other, alpha):
    """``other * alpha`` for add/sub(other, alpha=...); also the pre-1.5 order ``x.add_(alpha, other)`` that old
    GAN code writes (``p_ema.data.mul_(d).add_(1 - d, p.data)``): accepted with PyTorch's deprecation warning."""
    if isinstance(alpha, Tensor) and not isinstance(other, Tensor):
        warnings.warn(f"This overload of {name} is deprecated: {name}(Number alpha, Tensor other); use "
                      f"{name}(Tensor other, *, Number alpha)", UserWarning, stacklevel=3)
        other, alpha = alpha, other
    return other if alpha == 1 else other * alpha


def _add_method(x: Tensor, other, *args, alpha=1) -> Tensor:
    return add(x, _scaled_other("add", other, *args) if args else _scaled_other("add", other, alpha))


def _sub_method(x: Tensor, other, *args, alpha=1) -> Tensor:
    return sub(x, _scaled_other("sub", other, *args) if args else _scaled_other("sub", other, alpha))


def add_(x: Tensor, other, *args, alpha=1) -> Tensor:
    if args or isinstance(alpha, Tensor):
        other, alpha = _scaled_other("add_", other, args[0] if args else alpha), 1

    def update(a):
        a += _arr(other) if alpha == 1 else _arr(other) * alpha

    return inplace(x, "add_", update, lambda s: add(s, other if alpha == 1 else other * alpha), _needs_grad(other))


def sub_(x: Tensor, other, *args, alpha=1) -> Tensor:
    if args or isinstance(alpha, Tensor):
        other, alpha = _scaled_other("sub_", other, args[0] if args else alpha), 1

    def update(a):
        a -= _arr(other) if alpha == 1 else _arr(other) * alpha

    return inplace(x, "sub_", update, lambda s: sub(s, other if alpha == 1 else other * alpha), _needs_grad(other))


def mul_(x: Tensor, other) -> Tensor:
    def update(a):
        a *= _arr(other)

    # other's gradient reads x's old value: the snapshot keeps a copy
    return inplace(x, "mul_", update, lambda s: mul(s, other), _needs_grad(other), keeps_old=_needs_grad(other))


def div_(x: Tensor, other) -> Tensor:
    def update(a):
        a /= _arr(other)

    return inplace(x, "div_", update, lambda s: div(s, other), _needs_grad(other), keeps_old=_needs_grad(other))


def pow_(x: Tensor, p) -> Tensor:
    def update(a):
        a **= _arr(p)

    return inplace(x, "pow_", update, lambda s: pow(s, p), _needs_grad(p), keeps_old=True)


def _unary_(name, fn):
    """x.fn_() for an op whose backward reads its output (or nothing), never x's old value."""
    def op_(x: Tensor) -> Tensor:
        def update(a):
            a[...] = fn(Tensor(a)).array

        return inplace(x, name, update, fn)

    op_.__name__ = name
    return op_


neg_ = _unary_("neg_", neg)
exp_ = _unary_("exp_", exp)
sqrt_ = _unary_("sqrt_", sqrt)
tanh_ = _unary_("tanh_", tanh)
sigmoid_ = _unary_("sigmoid_", sigmoid)


def abs_(x: Tensor) -> Tensor:
    return inplace(x, "abs_", lambda a: _xp(x).abs(a, out=a), abs, keeps_old=True)


def clamp_(x: Tensor, min=None, max=None) -> Tensor:  # noqa: A002
    if min is None and max is None:
        raise ValueError("clamp_: at least one of min and max must be given")
    return inplace(x, "clamp_", lambda a: _xp(x).clip(a, min, max, out=a), lambda s: clamp(s, min, max))


def relu_(x: Tensor) -> Tensor:
    """max(x, 0) in x's own memory (its backward reads the output, so no copy of x is kept)."""
    return inplace(x, "relu_", lambda a: _relu_array(_xp(x), a, out=a), lambda s: relu(s, _out=s.array))


def leaky_relu_(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    return inplace(x, "leaky_relu_", lambda a: _leaky_relu_array(_xp(x), a, negative_slope, out=a),
                   lambda s: leaky_relu(s, negative_slope, _out=s.array))


def lerp_(x: Tensor, end, weight) -> Tensor:
    """x ← x + weight·(end − x) (the EMA update ``p_ema.lerp_(p, 1 − β)``)."""
    def update(a):
        a += (_arr(end) - a) * _arr(weight)

    return inplace(x, "lerp_", update, lambda s: lerp(s, end, weight), _needs_grad(end, weight))


def _overwrite(s: Tensor, data, name: str, value: Tensor | None = None) -> Tensor:
    """x's new node after an op that replaces its values (fill_, copy_, normal_, ...): its gradient to
    the old x is zero; a Tensor ``value`` that was broadcast in gets the summed gradient."""
    if value is None:
        return apply_op(data, (s,), lambda g, out: (g * 0.0,), name, saved=())

    def backward(g, out):
        gv = to(sum_to(g, value.shape), value.device, value.dtype) if value.requires_grad else None
        return g * 0.0, gv

    return apply_op(data, (s, value), backward, name, saved=())


def fill_(x: Tensor, value) -> Tensor:
    def update(a):
        a[...] = _arr(value)

    def graph_op(s):
        data = _xp(x).empty_like(x.array)
        data[...] = _arr(value)
        return _overwrite(s, data, "fill_", value if isinstance(value, Tensor) else None)

    return inplace(x, "fill_", update, graph_op, _needs_grad(value))


def zero_(x: Tensor) -> Tensor:
    return fill_(x, 0)


def copy_(x: Tensor, src, non_blocking: bool = False) -> Tensor:
    """x's values ← src's (broadcast to x's shape, cast to x's dtype, moved to x's device)."""
    src_arr = src.array if isinstance(src, Tensor) else src
    if B._backend_of(src_arr) is None:
        src_arr = _np.asarray(src_arr)
    if B.device_of(src_arr) != x.device:
        src_arr = B.to_device(B.to_numpy(src_arr), x.device)
    try:
        _np.broadcast_shapes(tuple(src_arr.shape), x.shape)
    except ValueError:
        raise ValueError(f"copy_: source of shape {tuple(src_arr.shape)} cannot be broadcast to the destination "
                         f"shape {x.shape}") from None

    def update(a):
        a[...] = src_arr

    def graph_op(s):
        data = _xp(x).empty_like(x.array)
        data[...] = src_arr
        return _overwrite(s, data, "copy_", src if isinstance(src, Tensor) else None)

    return inplace(x, "copy_", update, graph_op, _needs_grad(src))


def resize_(x: Tensor, *sizes) -> Tensor:
    raise NotImplementedError(
        f"resize_ is not supported (x has shape {x.shape}): build a tensor of the new size instead, e.g. "
        "torch.empty(size) or real_batch.clone(); PyTorch itself no longer resizes the tensor behind `.data`")


def _random_(name: str, draw):
    def op_(x: Tensor, *args, generator=None, **kwargs) -> Tensor:
        values = B.to_device(draw(generator or B.host_rng(), x.shape, *args, **kwargs).astype(x.dtype), x.device)

        def update(a):
            a[...] = values

        return inplace(x, name, update, lambda s: _overwrite(s, values, name))

    op_.__name__ = name
    return op_


normal_ = _random_("normal_", lambda rng, shape, mean=0.0, std=1.0: rng.normal(mean, std, size=shape))
uniform_ = _random_("uniform_", lambda rng, shape, a=0.0, b=1.0: rng.uniform(a, b, size=shape))


def _integers(rng, shape, lo=None, hi=None):
    """torch's random_: random_(to) draws from [0, to), random_(from, to) from [from, to), and random_() from
    [0, 2^24], the integers float32 holds exactly."""
    if lo is None:
        lo, hi = 0, 2 ** 24 + 1
    elif hi is None:
        lo, hi = 0, lo
    return rng.integers(lo, hi, size=shape)


random_ = _random_("random_", _integers)
# 1 with probability p (a number, or a tensor of them broadcast to x): noisy or flipped labels
bernoulli_ = _random_("bernoulli_", lambda rng, shape, p=0.5: rng.random(size=shape) < (
    B.to_numpy(p.array) if isinstance(p, Tensor) else p))


def masked_fill_(x: Tensor, mask, value) -> Tensor:
    m = mask.array if isinstance(mask, Tensor) else mask

    def update(a):
        a[_xp(x).broadcast_to(m, a.shape)] = _arr(value)

    return inplace(x, "masked_fill_", update, lambda s: masked_fill(s, mask, value), _needs_grad(value))


def setitem(x: Tensor, key, value) -> None:
    """``x[key] = value``: an in-place write of the region; differentiable in x (the rest of it) and in
    value (summed over the positions it was broadcast to)."""
    plain, advanced, index_tensors = _plain_key(key)
    v = value.array if isinstance(value, Tensor) else value

    def update(a):
        a[plain] = v

    def graph_op(s):
        s.array[plain] = v  # s shares x's memory: the write is the forward pass

        def backward(g, out):  # d out = dx outside the region, dvalue inside it
            xp = _xp(g)
            outside = xp.ones(s.shape, dtype=g.dtype)
            outside[plain] = 0
            gs = g * Tensor(outside) if s.requires_grad else None
            gv = None
            if isinstance(value, Tensor) and value.requires_grad:
                gv = to(sum_to(getitem(g, key), value.shape), value.device, value.dtype)
            return gs, gv

        parents = (s, value) if isinstance(value, Tensor) else (s,)
        return apply_op(s.array, parents, backward, "setitem", saved=index_tensors)

    inplace(x, "__setitem__", update, graph_op, _needs_grad(value))


# ---- Tensor methods and operators --------------------------------------------------------------
def _bind():
    T = Tensor
    T.__add__ = add
    T.__radd__ = lambda a, b: add(b, a)
    T.__sub__ = sub
    T.__rsub__ = lambda a, b: sub(b, a)
    T.__mul__ = mul
    T.__rmul__ = lambda a, b: mul(b, a)
    T.__truediv__ = div
    T.__rtruediv__ = lambda a, b: div(b, a)
    T.__neg__ = neg
    T.__pow__ = pow
    T.__rpow__ = lambda a, b: pow(b, a)
    T.__matmul__ = matmul
    T.__rmatmul__ = lambda a, b: matmul(b, a)
    T.__getitem__ = getitem

    T.__setitem__ = setitem
    T.__iadd__ = add_
    T.__isub__ = sub_
    T.__imul__ = mul_
    T.__itruediv__ = div_
    T.__ipow__ = pow_
    T.__eq__, T.__ne__, T.__lt__, T.__le__, T.__gt__, T.__ge__ = eq, ne, lt, le, gt, ge
    T.__hash__ = object.__hash__  # tensors are graph nodes: hash by identity, like torch

    for name, fn in dict(
        add=_add_method, sub=_sub_method, mul=mul, div=div, neg=neg, pow=pow, matmul=matmul, exp=exp, log=log, sqrt=sqrt,
        abs=abs, clamp=clamp, relu=relu, tanh=tanh, sigmoid=sigmoid, softplus=softplus, sum=sum, mean=mean,
        max=max, min=min, maximum=maximum, minimum=minimum, logsumexp=logsumexp, var=var, std=std, norm=norm, reshape=reshape, view=reshape,
        permute=permute, transpose=transpose, flatten=flatten, unsqueeze=unsqueeze, squeeze=squeeze,
        expand=expand, broadcast_to=broadcast_to,
        clone=clone, contiguous=contiguous, t=t, repeat=repeat, repeat_interleave=repeat_interleave, split=split,
        chunk=chunk, lerp=lerp, masked_fill=masked_fill, eq=eq, ne=ne, lt=lt, le=le, gt=gt, ge=ge,
        argmax=argmax, argmin=argmin, type=type_, mv=mv, dot=dot, square=square, resize_=resize_, bmm=bmm,
        log1p=log1p, rsqrt=rsqrt, sign=sign, round=round, floor=floor, ceil=ceil,
        add_=add_, sub_=sub_, mul_=mul_, div_=div_, pow_=pow_, neg_=neg_, exp_=exp_, sqrt_=sqrt_, tanh_=tanh_,
        sigmoid_=sigmoid_, abs_=abs_, clamp_=clamp_, relu_=relu_, lerp_=lerp_, fill_=fill_, zero_=zero_,
        copy_=copy_, normal_=normal_, uniform_=uniform_, bernoulli_=bernoulli_, random_=random_, masked_fill_=masked_fill_,
        nan_to_num=nan_to_num, amax=amax, amin=amin,
    ).items():
        setattr(T, name, fn)
    T.clamp_min = lambda x, min: clamp(x, min=min)  # noqa: A006
    T.clamp_max = lambda x, max: clamp(x, max=max)  # noqa: A006
    T.clamp_min_ = lambda x, min: clamp_(x, min=min)  # noqa: A006
    T.clamp_max_ = lambda x, max: clamp_(x, max=max)  # noqa: A006
    T.clip_ = clamp_
    T.greater, T.greater_equal, T.less, T.less_equal, T.not_equal = gt, ge, lt, le, ne
    T.clip = clamp
    T.T = property(lambda x: permute(x, tuple(reversed(range(x.ndim)))))
    T.mT = property(lambda x: transpose(x, -2, -1))
    T.view_as = T.reshape_as = lambda x, other: reshape(x, other.shape)
    T.expand_as = lambda x, other: broadcast_to(x, other.shape)
    T.float = lambda x: to(x, _np.float32)
    T.double = lambda x: to(x, _np.float64)
    T.half = lambda x: to(x, _np.float16)
    T.long = lambda x: to(x, _np.int64)
    T.int = lambda x: to(x, _np.int32)
    T.bool = lambda x: to(x, _np.bool_)
    T.type_as = lambda x, other: to(x, other.dtype)
    T.clone = clone
    T.where = lambda x, condition, other: where(condition, x, other)
    T.byte = lambda x: to(x, _np.uint8)
    T.get_device = lambda x: -1 if x.device.type == "cpu" else (x.device.index or 0)
    T.nelement = lambda x: x.numel()
    T.is_floating_point = lambda x: x.dtype.kind == "f"


_bind()


# =============================================================================================
# ---- softmax family, one_hot, pad, normalize, unflatten (torch.nn.functional) ----------------
# =============================================================================================
def _softmax_dim(x: Tensor, dim, who: str) -> int:
    """PyTorch's implicit dim for a legacy ``softmax(x)`` call: 0 for 0-, 1- and 3-D input, else 1."""
    if dim is None:
        warnings.warn(f"Implicit dimension choice for {who} has been deprecated. "
                      "Change the call to include dim=X as an argument.", stacklevel=3)
        dim = 0 if x.ndim in (0, 1, 3) else 1
    return _norm_dims(dim, x.ndim)[0]


def _with_dtype(x: Tensor, dtype) -> Tensor:
    return x if dtype is None else to(x, dtype)


def log_softmax(x: Tensor, dim=None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """log softmax(x) = x − logsumexp(x) along ``dim``, with the max subtracted first: finite for
    logits of any size (±1e4 included)."""
    x = _with_dtype(x, dtype)
    d = _softmax_dim(x, dim, "log_softmax")
    xp = _xp(x)
    m = x.array.max(axis=d, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0)
    shifted = x.array - m
    data = shifted - xp.log(xp.exp(shifted).sum(axis=d, keepdims=True))

    def backward(g, out):  # d log softmax = dx − softmax(x)·Σ dx:  gx = g − e^out·Σg
        return (g - exp(out) * sum(g, dim=d, keepdim=True),)

    return apply_op(data, (x,), backward, "log_softmax", saved=(OUTPUT,))


def softmax(x: Tensor, dim=None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """softmax(x) = e^(x − max) / Σ e^(x − max) along ``dim``."""
    x = _with_dtype(x, dtype)
    d = _softmax_dim(x, dim, "softmax")
    xp = _xp(x)
    m = x.array.max(axis=d, keepdims=True)
    e = xp.exp(x.array - xp.where(xp.isfinite(m), m, 0))
    data = e / e.sum(axis=d, keepdims=True)

    def backward(g, out):  # d softmax = s·(dx − Σ s·dx):  gx = s·(g − Σ g·s)
        return (out * (g - sum(g * out, dim=d, keepdim=True)),)

    return apply_op(data, (x,), backward, "softmax", saved=(OUTPUT,))


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """(*,) class indices -> (*, num_classes) int64 with a 1 at each index; num_classes=-1 takes
    max + 1.  Not differentiable (integer output), as in PyTorch."""
    if tensor.dtype.kind not in "iu":
        raise RuntimeError(f"one_hot is only applicable to index tensor of integer type, got dtype {tensor.dtype}")
    xp = _xp(tensor)
    idx = tensor.array
    if idx.size and int(idx.min()) < 0:
        raise RuntimeError("one_hot: class values must be non-negative.")
    if num_classes == -1:
        if not idx.size:
            raise RuntimeError("one_hot: can not infer total number of classes from empty tensor.")
        num_classes = int(idx.max()) + 1
    elif idx.size and int(idx.max()) >= num_classes:
        raise RuntimeError(f"one_hot: class values must be smaller than num_classes ({num_classes}), "
                           f"got {int(idx.max())}.")
    return Tensor((idx[..., None] == xp.arange(num_classes)).astype(_np.int64))


def _pad_pairs(x: Tensor, pad, who="pad"):
    """F.pad's flat (left_last, right_last, left_second_last, ...) as one (before, after) per dim."""
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"{who}: padding length must be even and at most twice the input's {x.ndim} dims, "
                         f"got pad={pad} for input of shape {x.shape}")
    pairs = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        pairs[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    return pairs


def _pad_constant(x: Tensor, pairs, value) -> Tensor:
    """Constant padding; negative amounts crop, as in PyTorch.  Output region ``dst`` = input
    region ``src``: forward fills then copies, the gradient is g[dst] put back at src."""
    shape = tuple(n + lo + hi for n, (lo, hi) in zip(x.shape, pairs))
    if builtins.min(shape, default=1) < 0:
        raise ValueError(f"pad: padding {pairs} gives a negative output size {shape} for input {x.shape}")
    src = tuple(slice(builtins.max(-lo, 0), n - builtins.max(-hi, 0)) for n, (lo, hi) in zip(x.shape, pairs))
    dst = tuple(slice(builtins.max(lo, 0), builtins.max(lo, 0) + (s.stop - s.start)) for s, (lo, _) in zip(src, pairs))
    xp = _xp(x)
    data = xp.full(shape, value, dtype=x.dtype)
    data[dst] = x.array[src]

    def backward(g, out):  # d out[dst] = dx[src]; the padding is constant
        inner = getitem(g, dst)
        return (inner if inner.shape == x.shape else index_add_zeros(inner, src, x.shape, False),)

    return apply_op(data, (x,), backward, "pad", saved=())


def _pad_index(xp, n: int, lo: int, hi: int, mode: str):
    """Source index of each output position along one dim for the index-based padding modes."""
    i = xp.arange(-lo, n + hi)
    if mode == "replicate":
        return xp.clip(i, 0, n - 1)
    if mode == "circular":
        return i % n
    return (n - 1) - xp.abs((n - 1) - xp.abs(i))  # reflect: mirror about the first and last element


def pad(input: Tensor, pad, mode: str = "constant", value=None) -> Tensor:  # noqa: A002 - torch's names
    """``F.pad``: ``pad`` = (left, right) for the last dim, then the second-to-last, ...

    constant: any number of dims, negative amounts crop.  reflect / replicate / circular: gathers
    along each padded dim (so the gradient of a repeated pixel adds up, through indexing); only the
    last 1-3 dims, as in PyTorch, and reflect needs pad < size."""
    x = input
    pairs = _pad_pairs(x, pad)
    if mode == "constant":
        return _pad_constant(x, pairs, 0.0 if value is None else value)
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"pad: mode {mode!r} is not implemented (constant, reflect, replicate, circular)")
    if value:
        raise ValueError(f"pad: padding mode {mode!r} doesn't take in value argument")
    padded = len(pad) // 2
    if padded > 3 or x.ndim < padded + 1:
        raise NotImplementedError(f"pad: mode {mode!r} pads only the last 1-3 dims of a batched or unbatched "
                                  f"input; got pad={tuple(pad)} for input of shape {x.shape}")
    xp = _xp(x)
    out = x
    for d, (lo, hi) in enumerate(pairs):
        if lo == hi == 0:
            continue
        n = x.shape[d]
        if builtins.min(lo, hi) < 0:
            raise NotImplementedError(f"pad: negative padding is only implemented for mode 'constant', got {pad}")
        if mode == "reflect" and builtins.max(lo, hi) >= n:
            raise ValueError(f"pad: padding size should be less than the corresponding input dimension for "
                             f"mode 'reflect', but got padding ({lo}, {hi}) at dim {d} of input {x.shape}")
        if mode == "circular" and builtins.max(lo, hi) > n:
            raise ValueError(f"pad: padding value causes wrapping around more than once for mode 'circular' "
                             f"(padding ({lo}, {hi}) at dim {d} of input {x.shape})")
        out = getitem(out, (slice(None),) * d + (_pad_index(xp, n, lo, hi, mode),))
    return out


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out=None) -> Tensor:  # noqa: A002
    """x / max(‖x‖_p, eps) along ``dim`` (``F.normalize``); the eps floor keeps a zero vector zero."""
    if out is not None:
        raise NotImplementedError("normalize: out= is not implemented")
    x = input
    if p in (2, 2.0):
        n = norm(x, 2, dim=dim, keepdim=True)
    elif p == math.inf:
        n = max(abs(x), dim=dim, keepdim=True).values
    elif p in (1, 1.0):
        n = sum(abs(x), dim=dim, keepdim=True)
    else:
        n = sum(abs(x) ** float(p), dim=dim, keepdim=True) ** (1.0 / float(p))
    return x / expand(clamp(n, min=eps), x.shape)


def unflatten(x: Tensor, dim: int, sizes) -> Tensor:
    """Split dim ``dim`` into ``sizes`` (one entry may be -1), the inverse of flatten."""
    (d,) = _norm_dims(dim, x.ndim)
    sizes = tuple(int(s) for s in sizes)
    known = math.prod(s for s in sizes if s != -1)
    if sizes.count(-1) > 1 or (-1 in sizes and (known == 0 or x.shape[d] % known)) or \
            (-1 not in sizes and known != x.shape[d]):
        raise ValueError(f"unflatten: sizes {sizes} don't multiply up to the size of dim {d} ({x.shape[d]}) "
                         f"of input of shape {x.shape}")
    if -1 in sizes:
        sizes = tuple(x.shape[d] // known if s == -1 else s for s in sizes)
    return reshape(x, x.shape[:d] + sizes + x.shape[d + 1:])


def _bind_functional_methods():
    T = Tensor
    T.unflatten = unflatten
    T.softmax = lambda x, dim, dtype=None: softmax(x, dim, dtype=dtype)
    T.log_softmax = lambda x, dim, dtype=None: log_softmax(x, dim, dtype=dtype)


_bind_functional_methods()
