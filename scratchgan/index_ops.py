"""Ops that move values by position: flip, gather and scatter, sort, argsort and topk, cumsum.

Each forward sits with its backward, in Tensor ops (so double backprop works), as in ``ops.py``: the
backward of a gather is a scatter-add and the other way round (each is the other's adjoint), flip is its
own, sort and topk are a gather of the positions they found, and cumsum's is a reversed cumsum.
"""
from __future__ import annotations

from collections import namedtuple

from . import backend as B
from .ops import _needs_grad, _norm_dims, _xp, getitem
from .tensor import Tensor, apply_op, inplace

_np = B.numpy

__all__ = ["flip", "gather", "scatter", "scatter_", "cumsum", "sort", "argsort", "topk", "SortResult"]


def flip(x: Tensor, dims) -> Tensor:
    """The values in reverse order along ``dims`` (a copy, as torch); its own adjoint: d flip(x) = flip(dx)."""
    dims = _norm_dims(dims, x.ndim)
    return apply_op(_xp(x).flip(x.array, axis=dims).copy(), (x,), lambda g, out: (flip(g, dims),), "flip", saved=())


# ---- gather and scatter: reading and writing along one dim by an index tensor ----------------------
# torch's rule: out[..., i, ...] = x[..., index[..., i, ...], ...] along ``dim``; in every other dim the
# index may be shorter than x, and only that many leading entries take part (NumPy's take_along_axis /
# put_along_axis want them equal: the views below cut x to the index's extent first).
def _along(a, index, dim: int):
    """The view of array ``a`` cut to ``index``'s extent in every dim but ``dim``."""
    return a[tuple(slice(None) if d == dim else slice(0, n) for d, n in enumerate(index.shape))]


def _index_array(index):
    return index.array if isinstance(index, Tensor) else index


def gather(x: Tensor, dim: int, index) -> Tensor:
    """out = x[index] along dim; d gather = scatter-add of dout back into x's shape (gather's adjoint)."""
    (dim,) = _norm_dims(dim, x.ndim)
    idx = _index_array(index)
    data = _xp(x).take_along_axis(_along(x.array, idx, dim), idx, axis=dim)
    return apply_op(data, (x,), lambda g, out: (_scatter_add(g, dim, idx, x.shape),), "gather", saved=())


def _scatter_add(g: Tensor, dim: int, idx, shape) -> Tensor:
    """zeros(shape) with g added at idx along dim (repeats add up); its adjoint is gather."""
    xp = _xp(g)
    data = xp.zeros(shape, dtype=g.dtype)
    # the position of every idx entry in the other dims, as broadcastable aranges
    grids = [idx if d == dim else xp.arange(n).reshape([-1 if i == d else 1 for i in range(idx.ndim)])
             for d, n in enumerate(idx.shape)]
    xp.add.at(data, tuple(grids), g.array)
    return apply_op(data, (g,), lambda gg, out: (gather(gg, dim, idx),), "scatter_add", saved=())


def _scatter_args(x: Tensor, dim: int, index, src, value):
    """(dim, index array, src Tensor or None, written values) checked: src a tensor, or value a number."""
    if src is not None and not isinstance(src, Tensor):
        src, value = None, src  # scatter(dim, index, 1.0): a number in src's place, as torch accepts
    if (src is None) == (value is None):
        raise TypeError("scatter: give exactly one of src (a tensor) and value (a number)")
    (dim,) = _norm_dims(dim, x.ndim)
    idx = _index_array(index)
    xp = _xp(x)
    # of src, the leading index.shape block is what is written
    values = xp.asarray(value, dtype=x.dtype) if src is None else src.array[tuple(slice(0, n) for n in idx.shape)]
    return dim, idx, src, values


def _write(a, dim: int, idx, values) -> None:
    """a[idx] = values along dim, in place."""
    B.get_array_module(a).put_along_axis(_along(a, idx, dim), idx, values, axis=dim)


def scatter(x: Tensor, dim: int, index, src=None, *, value=None) -> Tensor:
    """x with x[index] = src (or value) along dim; d x = dout outside the written places, d src = gather(dout)."""
    dim, idx, src, values = _scatter_args(x, dim, index, src, value)
    xp = _xp(x)
    data = x.array.copy()
    _write(data, dim, idx, values)

    def backward(g, out):
        keep = xp.ones(x.shape, dtype=g.dtype)
        _write(keep, dim, idx, xp.zeros((), dtype=g.dtype))
        gx = g * Tensor(keep) if x.requires_grad else None
        gsrc = None
        if src is not None and src.requires_grad:
            part = gather(g, dim, idx)  # the values written, read back; zero-padded to src's shape
            pad = [(0, src.shape[d] - idx.shape[d]) for d in range(src.ndim)]
            gsrc = part if all(p == (0, 0) for p in pad) else _pad_zeros(part, pad)
        return (gx, gsrc) if src is not None else (gx,)

    parents = (x, src) if src is not None else (x,)
    return apply_op(data, parents, backward, "scatter", saved=())


def _pad_zeros(t: Tensor, pad) -> Tensor:
    """t with zeros after it in each dim (pad: [(0, n), ...]); the backward cuts them off again."""
    xp = _xp(t)
    data = xp.pad(t.array, pad)
    region = tuple(slice(0, n) for n in t.shape)
    return apply_op(data, (t,), lambda g, out: (getitem(g, region),), "pad_zeros", saved=())


def cumsum(x: Tensor, dim: int) -> Tensor:
    """Running sums along dim; d cumsum: each dout adds to every x before it, a reversed running sum."""
    (dim,) = _norm_dims(dim, x.ndim)
    data = _xp(x).cumsum(x.array, axis=dim)
    if data.dtype != x.dtype and x.dtype.kind in "biu":
        data = data.astype(_np.int64)  # torch: integer sums are int64 (NumPy's may be another int)
    return apply_op(data, (x,), lambda g, out: (flip(cumsum(flip(g, (dim,)), dim), (dim,)),), "cumsum", saved=())


SortResult = namedtuple("SortResult", ["values", "indices"])


def sort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> SortResult:
    """(values, indices) along dim; the values are gather(x, indices), so their gradient goes back to the
    places they came from.  Equal values keep their order (a stable sort), ascending or descending."""
    (d,) = _norm_dims(dim, x.ndim)
    xp = _xp(x)
    key = -x.array if descending and x.dtype.kind != "b" else x.array
    idx = xp.argsort(key, axis=d, kind="stable")
    return SortResult(gather(x, d, idx), Tensor(idx.astype(_np.int64)))


def argsort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    return sort(x, dim, descending).indices


def topk(x: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> SortResult:  # noqa: A002
    """The k largest (or smallest) values along dim, largest first, with their indices (torch.topk)."""
    (d,) = _norm_dims(dim, x.ndim)
    if not 0 <= k <= x.shape[d]:
        raise RuntimeError(f"topk: k ({k}) out of range for dimension {d} of size {x.shape[d]}")
    _, idx = sort(x, d, descending=largest)
    idx = idx.array[tuple(slice(0, k) if i == d else slice(None) for i in range(x.ndim))]
    return SortResult(gather(x, d, idx), Tensor(idx))


def scatter_(x: Tensor, dim: int, index, src=None, *, value=None) -> Tensor:
    """x[index] = src (or value) along dim, in place: one-hot labels, ``zeros(n, 10).scatter_(1, y[:, None], 1)``."""
    def update(a):
        d, idx, _, values = _scatter_args(x, dim, index, src, value)
        _write(a, d, idx, values)

    return inplace(x, "scatter_", update, lambda s: scatter(s, dim, index, src, value=value), _needs_grad(src))


def _bind():
    for name in ("flip", "gather", "scatter", "scatter_", "cumsum", "sort", "argsort", "topk"):
        setattr(Tensor, name, globals()[name])


_bind()
