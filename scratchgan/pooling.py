"""Max pooling and adaptive average pooling (``F.max_pool2d``, ``F.adaptive_avg_pool2d``), for the critics
and encoders of ported image-to-image GAN code (average pooling, which DCGAN critics use, is in conv.py).

Both are compositions of ops that already have their backward, so double backprop comes with them:

- max pooling finds each window's largest entry on the arrays, then *reads* it with ``gather``: the output
  is x at those fixed positions, so dL/dx is a scatter-add of dL/dy to them (a max's gradient goes to the
  entry that won, ties to the first, as torch), and the second derivative is a gather again;
- adaptive average pooling is linear and separable: the mean of each bin along H, then along W, each output
  reading only its bin's pixels (``conv._taps``, which bilinear resizing uses too), so its backward is
  indexing's.
"""
from __future__ import annotations

from . import backend as B
from .conv import _pair, _PoolGeometry, _taps
from .index_ops import gather
from .ops import reshape, squeeze, unsqueeze
from .tensor import Tensor

__all__ = ["max_pool2d", "adaptive_avg_pool2d"]

_np = B.numpy


def _batched(x: Tensor, who: str):
    """(x as 4-D, whether a batch dim was added); 3-D (C, H, W) inputs are one image, as torch's."""
    if x.ndim not in (3, 4):
        raise ValueError(f"{who}: expected 3-D (C, H, W) or 4-D (N, C, H, W) input, got {x.ndim}-D input "
                         f"of shape {x.shape}")
    return (unsqueeze(x, 0), True) if x.ndim == 3 else (x, False)


def _argmax_positions(a, pg: _PoolGeometry, kernel: tuple, dilation: tuple):
    """For each window, the flat index (row · W + col) into the input of its largest entry: a running max over
    the kh·kw offsets (one vectorised pass each).  A later entry wins if strictly larger (ties go to the first)
    or if it is NaN (the last NaN, as torch's CPU kernel); padding never wins (it is not a position of x)."""
    xp = B.get_array_module(a)
    n, c, h, w = a.shape
    best = xp.full((n, c, pg.ho, pg.wo), -xp.inf, dtype=a.dtype)
    where = xp.full((n, c, pg.ho, pg.wo), -1, dtype=_np.int64)
    rows0 = xp.arange(pg.ho) * pg.sh - pg.ph  # input row of each window's first row
    cols0 = xp.arange(pg.wo) * pg.sw - pg.pw
    for i in range(kernel[0]):
        r = rows0 + i * dilation[0]
        r_ok = (r >= 0) & (r < h)
        rc = xp.clip(r, 0, h - 1)
        for j in range(kernel[1]):
            col = cols0 + j * dilation[1]
            ok = r_ok[:, None] & ((col >= 0) & (col < w))[None, :]
            cc = xp.clip(col, 0, w - 1)
            v = a[:, :, rc[:, None], cc[None, :]]  # (N, C, Ho, Wo): entry (i, j) of every window
            wins = ok & ((where < 0) | (v > best) | xp.isnan(v))
            best = xp.where(wins, v, best)
            where = xp.where(wins, rc[:, None] * w + cc[None, :], where)
    return where


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,  # noqa: A002
               return_indices: bool = False, *, _who="max_pool2d"):
    """The largest entry of each window of (N, C, H, W) or (C, H, W); stride defaults to kernel_size, padding
    counts as -inf, a dilated window reads every dilation-th entry.  With ``return_indices``, also each
    maximum's flat position h·W + w in its input plane."""
    x, added = _batched(input, _who)
    k, d = _pair(kernel_size, "kernel_size", _who), _pair(dilation, "dilation", _who)
    if min(d) < 1:
        raise ValueError(f"{_who}: dilation must be positive, got {dilation}")
    span = tuple(di * (ki - 1) + 1 for ki, di in zip(k, d))  # the window's extent: its geometry is a span's
    pg = _PoolGeometry(x.shape[2:], span, k if stride is None or stride == [] else stride, padding, ceil_mode, _who)
    n, c, h, w = x.shape
    where = _argmax_positions(x.array, pg, k, d)
    out = reshape(gather(reshape(x, (n, c, h * w)), 2, where.reshape(n, c, pg.ho * pg.wo)), (n, c, pg.ho, pg.wo))
    if added:
        out, where = squeeze(out, 0), where[0]
    return (out, Tensor(where)) if return_indices else out


def _bins(n_in: int, n_out: int):
    """torch's adaptive bins as taps: bin i covers [⌊i·n/m⌋, ⌈(i+1)·n/m⌉); (index, weight 1/len, valid), each
    (n_out, widest bin).  Host NumPy: a handful of positions, not tensor data."""
    lo = (_np.arange(n_out) * n_in) // n_out
    hi = -((-(_np.arange(n_out) + 1) * n_in) // n_out)  # ⌈(i+1)·n/m⌉ in integers
    k = _np.arange((hi - lo).max())
    index = _np.minimum(lo[:, None] + k, n_in - 1)
    valid = lo[:, None] + k < hi[:, None]
    return index, _np.broadcast_to(1.0 / (hi - lo)[:, None], index.shape), valid


def adaptive_avg_pool2d(input: Tensor, output_size, *, _who="adaptive_avg_pool2d") -> Tensor:  # noqa: A002
    """The mean over torch's adaptive bins, to ``output_size`` (an int, a pair, None keeps that size), along H
    and then along W."""
    x, added = _batched(input, _who)
    oh, ow = output_size if isinstance(output_size, (tuple, list)) else (output_size, output_size)
    h, w = x.shape[2:]
    oh, ow = h if oh is None else int(oh), w if ow is None else int(ow)
    if oh < 1 or ow < 1:
        raise ValueError(f"{_who}: output_size must be positive, got {output_size}")
    out = x if oh == h else _taps(x, 2, *_bins(h, oh))
    out = out if ow == w else _taps(out, 3, *_bins(w, ow))
    return squeeze(out, 0) if added else out
