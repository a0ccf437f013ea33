"""Ops that move values by position: flip, roll, gather and scatter, index_select, masked_select, tril and
triu, narrow and unbind, movedim, sort, argsort and topk, cumsum; and the positions themselves: nonzero,
unique, meshgrid.

Each forward sits with its backward, in Tensor ops (so double backprop works), as in ``ops.py``: the
backward of a gather is a scatter-add and the other way round (each is the other's adjoint), flip and roll
undo themselves, sort and topk are a gather of the positions they found, cumsum's is a reversed cumsum,
and the selections (index_select, masked_select, narrow, unbind) are indexing, whose backward is ops.py's.
"""
from __future__ import annotations

import warnings
from collections import namedtuple

from . import backend as B
from .ops import _needs_grad, _norm_dims, _xp, broadcast_to, getitem, permute, reshape
from .tensor import Tensor, apply_op, inplace

_np = B.numpy

__all__ = ["flip", "roll", "gather", "scatter", "scatter_", "scatter_add", "scatter_add_", "index_select",
           "masked_select", "narrow", "unbind", "movedim", "tril", "triu", "cumsum", "sort", "argsort", "topk",
           "SortResult", "nonzero", "unique", "meshgrid"]


def _as_vector(fn, x: Tensor, *args, **kwargs):
    """fn on a 0-d x seen as a 1-element vector, the results back to 0-d: torch gives a 0-d tensor one virtual
    dim (0 or -1) for the ops that work along a dim."""
    out = fn(reshape(x, (1,)), *args, **kwargs)
    if isinstance(out, tuple):
        return type(out)(*(reshape(o, ()) for o in out))
    return reshape(out, ())


def flip(x: Tensor, dims) -> Tensor:
    """The values in reverse order along ``dims`` (a copy, as torch); its own adjoint: d flip(x) = flip(dx)."""
    if x.ndim == 0:
        _norm_dims(dims, 0)
        return x.clone()
    dims = _norm_dims(dims, x.ndim)
    return apply_op(_xp(x).flip(x.array, axis=dims).copy(), (x,), lambda g, out: (flip(g, dims),), "flip", saved=())


def roll(x: Tensor, shifts, dims=None) -> Tensor:
    """x's entries moved ``shifts`` places along ``dims``, wrapping round (over the flattened x without
    dims); d roll = the gradient rolled back by -shifts."""
    if dims is None:
        return reshape(roll(reshape(x, -1), shifts, 0), x.shape)
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"roll: shifts and dims must have the same length, got {len(shifts)} and {len(dims)}")
    dims = tuple(d for dd in dims for d in _norm_dims(dd, x.ndim))  # repeats allowed: their shifts add up
    data = _xp(x).roll(x.array, shifts, axis=dims)
    back = tuple(-k for k in shifts)
    return apply_op(data, (x,), lambda g, out: (roll(g, back, dims),), "roll", saved=())


def movedim(x: Tensor, source, destination) -> Tensor:
    """x with dims ``source`` moved to ``destination``, the others keeping their order (a permute)."""
    src = _norm_dims(source, x.ndim)
    dst = _norm_dims(destination, x.ndim)
    if len(src) != len(dst) or len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise RuntimeError(f"movedim: source {source} and destination {destination} must be as many distinct dims")
    rest = iter(d for d in range(x.ndim) if d not in src)
    where = dict(zip(dst, src))
    return permute(x, tuple(where[i] if i in where else next(rest) for i in range(x.ndim)))


def _triangle(x: Tensor, diagonal: int, upper: bool, name: str) -> Tensor:
    """x with the entries on one side of a diagonal of its last two dims zeroed; d: the same mask."""
    if x.ndim < 2:
        raise RuntimeError(f"{name}: the input must have at least 2 dimensions, got shape {x.shape}")
    xp = _xp(x)
    keep = (xp.triu if upper else xp.tril)(xp.ones(x.shape[-2:], dtype=_np.bool_), diagonal)
    data = xp.where(keep, x.array, xp.zeros((), dtype=x.dtype))
    return apply_op(data, (x,), lambda g, out: (_triangle(g, diagonal, upper, name),), name, saved=())


def tril(x: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle: x[..., i, j] where j - i <= diagonal, else 0."""
    return _triangle(x, diagonal, False, "tril")


def triu(x: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle: x[..., i, j] where j - i >= diagonal, else 0."""
    return _triangle(x, diagonal, True, "triu")


def _index_array(index):
    return index.array if isinstance(index, Tensor) else index


# ---- selections: indexing under torch's names (getitem's backward adds the gradients back) --------------
def index_select(x: Tensor, dim: int, index) -> Tensor:
    """The slices of x at the positions of a 1-D integer ``index`` along dim (repeats allowed)."""
    (d,) = _norm_dims(dim, x.ndim)
    idx = _index_array(index)
    idx = B.get_array_module(idx).asarray(idx)
    if idx.ndim > 1 or idx.dtype.kind not in "iu":
        raise IndexError(f"index_select: index must be a 1-D integer tensor, got shape {tuple(idx.shape)} "
                         f"and dtype {idx.dtype}")
    return getitem(x, (slice(None),) * d + (idx.reshape(-1),))


def masked_select(x: Tensor, mask) -> Tensor:
    """The entries of x where the boolean ``mask`` is True, as a 1-D tensor (x and mask broadcast together)."""
    m = _index_array(mask)
    if m.dtype != _np.bool_:
        raise TypeError(f"masked_select: mask must be a bool tensor, got dtype {m.dtype}")
    shape = _np.broadcast_shapes(x.shape, tuple(m.shape))
    m = B.get_array_module(m).broadcast_to(m, shape)
    return getitem(broadcast_to(x, shape), m)


def narrow(x: Tensor, dim: int, start: int, length: int) -> Tensor:
    """x[..., start:start + length, ...] along dim: a view, as torch's."""
    (d,) = _norm_dims(dim, x.ndim)
    n = x.shape[d]
    start = int(start) + n if int(start) < 0 else int(start)
    if not (0 <= start <= n and 0 <= length and start + length <= n):
        raise IndexError(f"narrow: start ({start}) + length ({length}) exceeds dimension {d} of size {n}")
    return getitem(x, (slice(None),) * d + (slice(start, start + length),))


def unbind(x: Tensor, dim: int = 0) -> tuple:
    """The slices of x along dim, that dim removed: ``for row in x.unbind(0)``."""
    (d,) = _norm_dims(dim, x.ndim)
    return tuple(getitem(x, (slice(None),) * d + (i,)) for i in range(x.shape[d]))


# ---- gather and scatter: reading and writing along one dim by an index tensor ----------------------
# torch's rule: out[..., i, ...] = x[..., index[..., i, ...], ...] along ``dim``; in every other dim the
# index may be shorter than x, and only that many leading entries take part (NumPy's take_along_axis /
# put_along_axis want them equal: the views below cut x to the index's extent first).
def _block(index) -> tuple:
    """The key of the leading index.shape block of another array (the part of src a scatter writes or adds)."""
    return tuple(slice(0, n) for n in index.shape)


def _along(a, index, dim: int):
    """The view of array ``a`` cut to ``index``'s extent in every dim but ``dim``."""
    return a[tuple(slice(None) if d == dim else slice(0, n) for d, n in enumerate(index.shape))]


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
    B.scatter_add(xp, data, _grids(xp, dim, idx), g.array)
    return apply_op(data, (g,), lambda gg, out: (gather(gg, dim, idx),), "scatter_add", saved=())


def _grids(xp, dim: int, idx) -> tuple:
    """The full position of every idx entry: idx along dim, broadcastable aranges in the other dims."""
    return tuple(idx if d == dim else xp.arange(n).reshape([-1 if i == d else 1 for i in range(idx.ndim)])
                 for d, n in enumerate(idx.shape))


def scatter_add(x: Tensor, dim: int, index, src: Tensor) -> Tensor:
    """x with src added at index along dim, repeats adding up; d x = dout, d src = gather(dout)."""
    (dim,) = _norm_dims(dim, x.ndim)
    idx = _index_array(index)
    part = src if tuple(src.shape) == tuple(idx.shape) else getitem(src, _block(idx))
    return x + _scatter_add(part, dim, idx, x.shape)


def scatter_add_(x: Tensor, dim: int, index, src: Tensor) -> Tensor:
    """scatter_add in place: histograms and per-class sums, ``counts.scatter_add_(0, labels, ones)``."""
    def update(a):
        (d,) = _norm_dims(dim, x.ndim)
        idx = _index_array(index)
        xp = B.get_array_module(a)
        B.scatter_add(xp, a, _grids(xp, d, idx), src.array[_block(idx)])

    return inplace(x, "scatter_add_", update, lambda s: scatter_add(s, dim, index, src), _needs_grad(src))


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
    values = xp.asarray(value, dtype=x.dtype) if src is None else src.array[_block(idx)]
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
    region = _block(t)
    return apply_op(data, (t,), lambda g, out: (getitem(g, region),), "pad_zeros", saved=())


def cumsum(x: Tensor, dim: int) -> Tensor:
    """Running sums along dim; d cumsum: each dout adds to every x before it, a reversed running sum."""
    (dim,) = _norm_dims(dim, x.ndim)
    if x.ndim == 0:
        return _as_vector(cumsum, x, 0)
    data = _xp(x).cumsum(x.array, axis=dim)
    if data.dtype != x.dtype and x.dtype.kind in "biu":
        data = data.astype(_np.int64)  # torch: integer sums are int64 (NumPy's may be another int)
    return apply_op(data, (x,), lambda g, out: (flip(cumsum(flip(g, (dim,)), dim), (dim,)),), "cumsum", saved=())


SortResult = namedtuple("SortResult", ["values", "indices"])


def sort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> SortResult:
    """(values, indices) along dim; the values are gather(x, indices), so their gradient goes back to the
    places they came from.  Equal values keep their order (a stable sort), ascending or descending."""
    (d,) = _norm_dims(dim, x.ndim)
    if x.ndim == 0:
        return _as_vector(sort, x, 0, descending)
    xp = _xp(x)
    if descending:
        # a stable ascending sort of x reversed, read backwards: largest first, ties in their order, NaN
        # first (torch's), and right for bool and unsigned dtypes, which a sort of -x would get wrong
        n = x.shape[d]
        idx = (n - 1) - xp.flip(xp.argsort(xp.flip(x.array, axis=d), axis=d, kind="stable"), axis=d)
    else:
        idx = xp.argsort(x.array, axis=d, kind="stable")
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


# ---- positions: values, no graph (torch gives them no gradient either) ----------------------------------
def nonzero(x: Tensor, *, as_tuple: bool = False):
    """The indices of x's nonzero entries: an (n, x.ndim) int64 tensor, or with as_tuple one 1-D tensor per
    dim (what ``x[x.nonzero(as_tuple=True)]`` indexes with)."""
    xp = _xp(x)
    a = x.array.reshape(1) if x.ndim == 0 else x.array
    found = [i.astype(_np.int64) for i in xp.nonzero(a)]
    if as_tuple:
        return tuple(Tensor(i) for i in found)
    out = xp.stack(found, axis=1)
    return Tensor(out[:, :0] if x.ndim == 0 else out)


def unique(x: Tensor, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False,  # noqa: A002
           dim=None):
    """x's distinct values, ascending (always sorted, as torch on the CPU); with return_inverse the position of
    each entry of x among them, with return_counts how often each occurs."""
    xp = _xp(x)
    axis = None if dim is None else _norm_dims(dim, x.ndim)[0]
    vals, inverse, counts = xp.unique(x.array, return_inverse=True, return_counts=True, axis=axis)
    out = [Tensor(vals)]
    if return_inverse:
        out.append(Tensor(inverse.reshape(x.shape if axis is None else (x.shape[axis],)).astype(_np.int64)))
    if return_counts:
        out.append(Tensor(counts.astype(_np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def meshgrid(*tensors, indexing: str | None = None) -> tuple:
    """Coordinate grids from 1-D tensors: grid k holds tensors[k] varied along dim k ("ij") and repeated along
    the others (with "xy", NumPy's default, the first two dims swap).  Each grid is a broadcast view, so its
    gradient sums back (DiffAugment's translation and cutout index with these grids)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing is None:
        warnings.warn("torch.meshgrid: in an upcoming release, it will be required to pass the indexing argument.",
                      UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    for t in tensors:
        if t.ndim > 1:
            raise RuntimeError(f"meshgrid: expected 0-D or 1-D tensors, got shape {t.shape}")
    vectors = [reshape(t, (-1,)) for t in tensors]
    shape = tuple(v.shape[0] for v in vectors)
    grids = [broadcast_to(reshape(v, tuple(-1 if i == k else 1 for i in range(len(vectors)))), shape)
             for k, v in enumerate(vectors)]
    if indexing == "xy" and len(grids) >= 2:  # the "ij" grids with their first two dims swapped
        grids = [g.transpose(0, 1) for g in grids]
    return tuple(grids)


def _bind():
    for name in ("flip", "roll", "gather", "scatter", "scatter_", "scatter_add", "scatter_add_", "index_select",
                 "masked_select", "narrow", "unbind", "movedim", "tril", "triu", "cumsum", "sort", "argsort", "topk",
                 "nonzero", "unique"):
        setattr(Tensor, name, globals()[name])
    Tensor.moveaxis = movedim
    Tensor.swapaxes = Tensor.swapdims = lambda x, a, b: x.transpose(a, b)


_bind()
