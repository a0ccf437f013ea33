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
from collections import namedtuple

from . import backend as B
from .tensor import Tensor, apply_op

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


def _pair(a, b):
    if not isinstance(a, Tensor):
        a = _const(a, b)
    if not isinstance(b, Tensor):
        b = _const(b, a)
    B.get_array_module(a.array, b.array)  # raises on arrays from two devices
    return a, b


def _norm_dims(dim, ndim):
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    out = []
    for d in dims:
        if not -ndim <= d < builtins.max(ndim, 1):
            raise IndexError(f"dimension {d} out of range for a tensor with {ndim} dimensions")
        out.append(d % builtins.max(ndim, 1))
    return tuple(out)


# ---- broadcasting and its adjoint ----------------------------------------------------------
def broadcast_to(x: Tensor, shape) -> Tensor:
    shape = tuple(shape)
    if x.shape == shape:
        return x
    xp = _xp(x)

    def backward(g, out):  # broadcasting copies values, so their gradients add up
        return (sum_to(g, x.shape),)

    return apply_op(xp.broadcast_to(x.array, shape), (x,), backward, "broadcast_to")


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

    return apply_op(data, (x,), backward, "sum_to")


# ---- arithmetic -----------------------------------------------------------------------------
def add(a, b) -> Tensor:
    a, b = _pair(a, b)

    def backward(g, out):  # d(a+b) = da + db
        return (sum_to(g, a.shape) if a.requires_grad else None, sum_to(g, b.shape) if b.requires_grad else None)

    return apply_op(a.array + b.array, (a, b), backward, "add")


def sub(a, b) -> Tensor:
    a, b = _pair(a, b)

    def backward(g, out):  # d(a-b) = da - db
        return (sum_to(g, a.shape) if a.requires_grad else None, sum_to(-g, b.shape) if b.requires_grad else None)

    return apply_op(a.array - b.array, (a, b), backward, "sub")


def mul(a, b) -> Tensor:
    a, b = _pair(a, b)

    def backward(g, out):  # d(ab) = b da + a db
        return (sum_to(g * b, a.shape) if a.requires_grad else None, sum_to(g * a, b.shape) if b.requires_grad else None)

    return apply_op(a.array * b.array, (a, b), backward, "mul")


def div(a, b) -> Tensor:
    a, b = _pair(a, b)

    def backward(g, out):  # d(a/b) = da/b - a db/b^2
        ga = sum_to(g / b, a.shape) if a.requires_grad else None
        gb = sum_to(-g * a / (b * b), b.shape) if b.requires_grad else None
        return ga, gb

    return apply_op(a.array / b.array, (a, b), backward, "div")


def neg(x: Tensor) -> Tensor:
    return apply_op(-x.array, (x,), lambda g, out: (-g,), "neg")


def pow(x, p) -> Tensor:  # noqa: A001 - torch.pow
    """x ** p for a scalar or Tensor exponent (and a scalar base with Tensor exponent)."""
    if not isinstance(x, Tensor):  # c ** t:  d/dt = c^t log c
        p_t = p
        base = _const(x, p_t)

        def backward_base(g, out):
            return (None, g * out * math.log(float(x)))

        return apply_op(base.array ** p_t.array, (base, p_t), backward_base, "pow")
    if isinstance(p, Tensor):
        x, p = _pair(x, p)

        def backward(g, out):  # d x^p = p x^(p-1) dx + x^p log(x) dp
            gx = sum_to(g * p * x ** (p - 1), x.shape) if x.requires_grad else None
            gp = sum_to(g * out * log(x), p.shape) if p.requires_grad else None
            return gx, gp

        return apply_op(x.array ** p.array, (x, p), backward, "pow")
    p = float(p) if not isinstance(p, int) else p

    def backward_scalar(g, out):  # d x^p = p x^(p-1) dx
        if p == 2:
            return (g * x * 2.0,)
        return (g * (x ** (p - 1)) * float(p),)

    data = x.array * x.array if p == 2 else x.array ** p  # a Python scalar keeps float32 float32
    return apply_op(data, (x,), backward_scalar, "pow")


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

    return apply_op(a.array @ b.array, (a, b), backward, "matmul")


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x Wᵀ + b, W of shape (out_features, in_features) as in PyTorch.

    One op rather than matmul∘transpose∘add so that dL/dW comes out contiguous
    in W's own layout, ready for the optimiser, whatever x's leading dims:
        dL/dx = G W,   dL/dW = Gᵀ X,   dL/db = Σ_rows G   (X, G: x, g flattened to rows)
    """
    if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input of shape {x.shape} does not match weight of shape {weight.shape} "
                         f"(expected input of shape (*, {weight.shape[1]}))")
    data = x.array @ weight.array.T
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

    return apply_op(data, parents, backward, "linear")


# ---- elementwise functions -----------------------------------------------------------------
def exp(x: Tensor) -> Tensor:
    return apply_op(_xp(x).exp(x.array), (x,), lambda g, out: (g * out,), "exp")  # d e^x = e^x dx


def log(x: Tensor) -> Tensor:
    return apply_op(_xp(x).log(x.array), (x,), lambda g, out: (g / x,), "log")  # d log x = dx / x


def sqrt(x: Tensor) -> Tensor:
    return apply_op(_xp(x).sqrt(x.array), (x,), lambda g, out: (g / (out * 2.0),), "sqrt")  # d √x = dx / (2√x)


def abs(x: Tensor) -> Tensor:  # noqa: A001 - torch.abs
    xp = _xp(x)
    return apply_op(xp.abs(x.array), (x,), lambda g, out: (g * Tensor(xp.sign(x.array)),), "abs")  # d|x| = sign(x) dx


def clamp(x: Tensor, min=None, max=None) -> Tensor:  # noqa: A002 - torch's names
    """Clip to [min, max]; the gradient passes only where x was inside (torch's convention)."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    xp = _xp(x)
    data = xp.clip(x.array, min, max)

    def backward(g, out):
        inside = xp.ones(x.shape, dtype=bool)
        if min is not None:
            inside &= x.array >= min
        if max is not None:
            inside &= x.array <= max
        return (g * Tensor(inside.astype(x.dtype)),)

    return apply_op(data, (x,), backward, "clamp")


def relu(x: Tensor) -> Tensor:
    xp = _xp(x)
    # d relu(x) = [x > 0] dx
    return apply_op(xp.maximum(x.array, 0), (x,), lambda g, out: (g * Tensor((x.array > 0).astype(x.dtype)),), "relu")


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    xp = _xp(x)
    s = negative_slope
    positive = x.array > 0
    # leaky(x) = max(x, s·x) for s <= 1 (min for s > 1): two in-place passes, no xp.where (10x slower)
    data = xp.asarray(x.array * xp.asarray(s, dtype=x.dtype))  # asarray: 0-d input gives a scalar
    (xp.maximum if s <= 1 else xp.minimum)(x.array, data, out=data)

    def backward(g, out):  # d leaky(x) = (1 if x > 0 else slope) dx
        slope = positive.astype(x.dtype)
        slope *= 1 - s
        slope += s
        return (g * Tensor(slope),)

    return apply_op(data, (x,), backward, "leaky_relu")


def tanh(x: Tensor) -> Tensor:
    # d tanh(x) = (1 - tanh(x)^2) dx, from the output: no second transcendental
    return apply_op(_xp(x).tanh(x.array), (x,), lambda g, out: (g * (1.0 - out * out),), "tanh")


def _sigmoid_array(xp, a):
    # σ(a) = 1/(1+e^-a) for a ≥ 0 and e^a/(1+e^a) for a < 0: e^-|a| never overflows.
    e = xp.exp(-xp.abs(a))
    return xp.where(a >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid(x: Tensor) -> Tensor:
    # d σ(x) = σ(x)(1 - σ(x)) dx
    return apply_op(_sigmoid_array(_xp(x), x.array), (x,), lambda g, out: (g * out * (1.0 - out),), "sigmoid")


def _log1p_exp_neg_abs(xp, a):
    return xp.log1p(xp.exp(-xp.abs(a)))


def softplus(x: Tensor) -> Tensor:
    """log(1 + e^x) = max(x, 0) + log1p(e^-|x|): finite for every finite x."""
    xp = _xp(x)
    data = xp.maximum(x.array, 0) + _log1p_exp_neg_abs(xp, x.array)
    return apply_op(data, (x,), lambda g, out: (g * sigmoid(x),), "softplus")  # d softplus = σ(x) dx


def logsigmoid(x: Tensor) -> Tensor:
    """log σ(x) = min(x, 0) - log1p(e^-|x|): no log(0) even when σ(x) underflows."""
    xp = _xp(x)
    data = xp.minimum(x.array, 0) - _log1p_exp_neg_abs(xp, x.array)
    return apply_op(data, (x,), lambda g, out: (g * sigmoid(-x),), "logsigmoid")  # d log σ = σ(-x) dx


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

    return apply_op(xp.where(cond, a.array, b.array), (a, b), backward, "where")


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
    dims = _norm_dims(dim, x.ndim)
    data = x.array.sum(axis=dims, keepdims=keepdim)
    # d sum(x) / dx_i = 1: the gradient is copied to every summed element
    return apply_op(data, (x,), lambda g, out: (_expand_back(g, x, dims, keepdim),), "sum")


def mean(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    dims = _norm_dims(dim, x.ndim)
    n = x.numel() if dims is None else math.prod(x.shape[d] for d in dims)
    data = x.array.mean(axis=dims, keepdims=keepdim)
    return apply_op(data, (x,), lambda g, out: (_expand_back(g, x, dims, keepdim) * (1.0 / n),), "mean")


MaxResult = namedtuple("MaxResult", ["values", "indices"])


def _extreme(x: Tensor, dim, keepdim, largest: bool):
    xp = _xp(x)
    name = "max" if largest else "min"
    if dim is None:
        data = x.array.max() if largest else x.array.min()

        def backward(g, out):  # ties share the gradient equally (torch's amax convention)
            hit = (x.array == out.array).astype(x.dtype)
            return (broadcast_to(g, x.shape) * Tensor(hit / hit.sum()),)

        return apply_op(data, (x,), backward, name)
    (d,) = _norm_dims(dim, x.ndim)
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

    values = apply_op(data, (x,), backward, name)
    return MaxResult(values, Tensor(idx_k if keepdim else xp.asarray(idx)))  # 1-D argmax gives a NumPy scalar


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
    dims = _norm_dims(dim, x.ndim)
    m = x.array.max(axis=dims, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0)
    data = m + xp.log(xp.exp(x.array - m).sum(axis=dims, keepdims=True))
    if not keepdim:
        data = data.squeeze(dims)

    def backward(g, out):  # d lse / dx = softmax(x) = e^(x - lse)
        return (_expand_back(g, x, dims, keepdim) * exp(x - _expand_back(out, x, dims, keepdim)),)

    return apply_op(data, (x,), backward, "logsumexp")


def var(x: Tensor, dim=None, unbiased: bool = True, keepdim: bool = False, correction=None) -> Tensor:
    """Variance; ``unbiased`` (default, like torch) divides by n - 1."""
    dims = _norm_dims(dim, x.ndim)
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

    return apply_op(_xp(v).sqrt(v.array), (v,), backward, "std")


def norm(x: Tensor, p=2, dim=None, keepdim: bool = False) -> Tensor:
    """The 2-norm √Σx²; at x = 0 the gradient is 0 (the subgradient torch picks)."""
    if p not in (2, 2.0, "fro"):
        raise NotImplementedError(f"norm: only p=2 is implemented, got p={p!r}")
    xp = _xp(x)
    dims = _norm_dims(dim, x.ndim)
    data = xp.sqrt((x.array * x.array).sum(axis=dims, keepdims=keepdim))

    def backward(g, out):  # d‖x‖ = x/‖x‖ · dx
        n = _expand_back(out, x, dims, keepdim)
        safe = n + Tensor((n.array == 0).astype(x.dtype))
        return (_expand_back(g, x, dims, keepdim) * x / safe,)

    return apply_op(data, (x,), backward, "norm")


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
    return apply_op(data, (x,), lambda g, out: (reshape(g, x.shape),), "reshape")


def permute(x: Tensor, *dims) -> Tensor:
    dims = _norm_dims(_shape_arg(dims), x.ndim)
    if len(dims) != x.ndim or sorted(dims) != list(range(x.ndim)):
        raise ValueError(f"permute: {dims} is not a permutation of the {x.ndim} dims of shape {x.shape}")
    inverse = tuple(sorted(range(x.ndim), key=dims.__getitem__))
    return apply_op(x.array.transpose(dims), (x,), lambda g, out: (permute(g, inverse),), "permute")


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
    if x.shape[d] != 1:
        return x
    return reshape(x, x.shape[:d] + x.shape[d + 1:])


def expand(x: Tensor, *shape) -> Tensor:
    shape = _shape_arg(shape)
    lead = len(shape) - x.ndim
    full = tuple(x.shape[i - lead] if s == -1 else s for i, s in enumerate(shape))
    return broadcast_to(x, full)


def _plain_key(key):
    """An index key with Tensors replaced by their arrays; also: does it need scatter-add?"""
    parts = key if isinstance(key, tuple) else (key,)
    parts = tuple(p.array if isinstance(p, Tensor) else p for p in parts)
    advanced = builtins.any(not isinstance(p, (int, slice, type(None), type(Ellipsis))) for p in parts)
    return (parts if isinstance(key, tuple) else parts[0]), advanced


def getitem(x: Tensor, key) -> Tensor:
    key, advanced = _plain_key(key)
    return apply_op(x.array[key], (x,), lambda g, out: (index_add_zeros(g, key, x.shape, advanced),), "getitem")


def index_add_zeros(g: Tensor, key, shape, advanced: bool) -> Tensor:
    """zeros(shape) with g added at ``key``: the adjoint of indexing (repeated indices add up)."""
    xp = _xp(g)
    data = xp.zeros(shape, dtype=g.dtype)
    if advanced:
        B.scatter_add(xp, data, key, g.array)
    else:
        data[key] = g.array
    return apply_op(data, (g,), lambda gg, out: (getitem(gg, key),), "index_add")


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

    return apply_op(xp.take(weight.array, idx, axis=0), (weight,), backward, "embedding")


def cat(tensors, dim: int = 0) -> Tensor:
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    (d,) = _norm_dims(dim, tensors[0].ndim)
    for t in tensors[1:]:
        if t.ndim != tensors[0].ndim or t.shape[:d] + t.shape[d + 1:] != tensors[0].shape[:d] + tensors[0].shape[d + 1:]:
            raise ValueError(f"cat: shapes {[t.shape for t in tensors]} differ outside dim {d}")
    xp = _xp(*tensors)
    bounds = [0]
    for t in tensors:
        bounds.append(bounds[-1] + t.shape[d])

    def backward(g, out):  # each input gets back its own slice
        lead = (slice(None),) * d
        return tuple(getitem(g, lead + (slice(lo, hi),)) if t.requires_grad else None
                     for t, lo, hi in zip(tensors, bounds[:-1], bounds[1:]))

    return apply_op(xp.concatenate([t.array for t in tensors], axis=d), tuple(tensors), backward, "cat")


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
    return apply_op(data, (x,), lambda g, out: (to(g, src_dev, src_dtype),), "to")


def ones_like_tensor(t: Tensor) -> Tensor:
    return Tensor(_xp(t).ones(t.shape, dtype=t.dtype))


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

    def compare(fn):
        def op(a, b):
            b = b.array if isinstance(b, Tensor) else b
            return Tensor(fn(a.array, b))
        return op

    T.__lt__ = compare(lambda a, b: a < b)
    T.__le__ = compare(lambda a, b: a <= b)
    T.__gt__ = compare(lambda a, b: a > b)
    T.__ge__ = compare(lambda a, b: a >= b)
    T.eq = compare(lambda a, b: a == b)
    T.ne = compare(lambda a, b: a != b)
    T.__hash__ = object.__hash__  # tensors are graph nodes: hash by identity, like torch

    for name, fn in dict(
        add=add, sub=sub, mul=mul, div=div, neg=neg, pow=pow, matmul=matmul, exp=exp, log=log, sqrt=sqrt,
        abs=abs, clamp=clamp, relu=relu, tanh=tanh, sigmoid=sigmoid, softplus=softplus, sum=sum, mean=mean,
        max=max, min=min, maximum=maximum, minimum=minimum, logsumexp=logsumexp, var=var, std=std, norm=norm, reshape=reshape, view=reshape,
        permute=permute, transpose=transpose, flatten=flatten, unsqueeze=unsqueeze, squeeze=squeeze,
        expand=expand, broadcast_to=broadcast_to,
    ).items():
        setattr(T, name, fn)
    T.clip = clamp
    T.T = property(lambda x: permute(x, tuple(reversed(range(x.ndim)))))
    T.mT = property(lambda x: transpose(x, -2, -1))
    T.view_as = lambda x, other: reshape(x, other.shape)
    T.expand_as = lambda x, other: broadcast_to(x, other.shape)
    T.float = lambda x: to(x, _np.float32)
    T.double = lambda x: to(x, _np.float64)
    T.long = lambda x: to(x, _np.int64)
    T.type_as = lambda x, other: to(x, other.dtype)
    T.clone = lambda x: apply_op(x.array.copy(), (x,), lambda g, out: (g,), "clone")


_bind()


# =============================================================================================
# ---- softmax family, one_hot, pad, normalize, unflatten (torch.nn.functional) ----------------
# =============================================================================================
def _softmax_dim(x: Tensor, dim, who: str) -> int:
    """PyTorch's implicit dim for a legacy ``softmax(x)`` call: 0 for 0-, 1- and 3-D input, else 1."""
    if dim is None:
        import warnings  # noqa: PLC0415

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

    return apply_op(data, (x,), backward, "log_softmax")


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

    return apply_op(data, (x,), backward, "softmax")


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
        num_classes = int(idx.max()) + 1 if idx.size else 0
        if not idx.size:
            raise RuntimeError("one_hot: can not infer total number of classes from empty tensor.")
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

    return apply_op(data, (x,), backward, "pad")


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
