"""Sampling an image at arbitrary points: ``F.affine_grid`` and ``F.grid_sample``, the spatial transformer's two
halves (and the geometric augmentations of ADA-style GAN training).

Both are compositions of ops that have their backward already, so their gradients, in the image, in the grid
and in the affine matrix, and their second derivatives, come from autograd:

- ``affine_grid``: the output pixels' normalised (x, y, 1) times θᵀ, one matmul;
- ``grid_sample`` (bilinear): each output point reads its four neighbours with ``gather`` and mixes them with
  the weights (1 − fx)(1 − fy), fx(1 − fy), ... where fx, fy are the fractional parts of its position.  The
  weights are Tensor ops of the grid, so dL/dgrid is the image's slope between the neighbours, as torch's;
  the corner indices are constants (piecewise, as the floor is).

Coordinates are torch's: x = −1 is the left edge of the first pixel (its centre with ``align_corners=True``),
x = +1 the right edge of the last.
"""
from __future__ import annotations

import warnings

from . import backend as B
from .index_ops import gather
from .ops import floor, matmul, reshape, where
from .tensor import Tensor, apply_op

__all__ = ["affine_grid", "grid_sample"]

_np = B.numpy

_DEFAULT_WARNING = ("Default grid_sample and affine_grid behavior has changed to align_corners=False since 1.3.0. "
                    "Please specify align_corners=True if the old behavior is desired. See the documentation of "
                    "grid_sample for details.")


def _align(align_corners):
    if align_corners is None:
        warnings.warn(_DEFAULT_WARNING, UserWarning, stacklevel=3)
        return False
    return bool(align_corners)


def _positions(n: int, align_corners: bool):
    """The normalised coordinates of n pixel centres: −1 … 1 on the centres, or on the outer edges.  Computed
    as torch does, to the last bit (its linspace fills each half from its own end): a sample point that lands
    exactly on a pixel (identity maps do) must land there here too, or its one-sided gradient would differ."""
    if n == 1:
        return _np.zeros(1)
    i = _np.arange(n)
    step = 2.0 / (n - 1)
    line = _np.where(i < n / 2, -1.0 + step * i, 1.0 - step * (n - 1 - i))
    return line if align_corners else line * ((n - 1) / n)


def affine_grid(theta: Tensor, size, align_corners=None) -> Tensor:
    """The (N, H, W, 2) sampling grid of the affine maps θ (N, 2, 3): grid[n, i, j] = θ[n] · (x_j, y_i, 1)."""
    align_corners = _align(align_corners)
    if theta.ndim != 3 or tuple(theta.shape[1:]) != (2, 3):
        raise ValueError(f"affine_grid: expected theta of shape (N, 2, 3), got {theta.shape}")
    n, _, h, w = size
    if theta.shape[0] != n:
        raise ValueError(f"affine_grid: theta's batch {theta.shape[0]} differs from size's {n}")
    xs, ys = _positions(w, align_corners), _positions(h, align_corners)
    base = _np.stack([_np.tile(xs, h), _np.repeat(ys, w), _np.ones(h * w)], axis=1)  # (H·W, 3), x varying fastest
    base = Tensor(B.to_device(base.astype(theta.dtype), theta.device))
    return reshape(matmul(base, theta.transpose(1, 2)), (n, h, w, 2))


def grid_sample(input: Tensor, grid: Tensor, mode: str = "bilinear", padding_mode: str = "zeros",  # noqa: A002
                align_corners=None) -> Tensor:
    """input (N, C, H, W) read at grid (N, Ho, Wo, 2) = normalised (x, y) points: (N, C, Ho, Wo).  Points
    outside read zeros ("zeros"), the nearest edge pixel ("border") or the image mirrored at its edges
    ("reflection")."""
    align_corners = _align(align_corners)
    if mode not in ("bilinear", "nearest"):
        raise NotImplementedError(f"grid_sample: mode {mode!r} is not implemented (bilinear, nearest)")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"grid_sample: padding_mode must be 'zeros', 'border' or 'reflection', got {padding_mode!r}")
    if input.ndim != 4 or grid.ndim != 4 or grid.shape[-1] != 2 or grid.shape[0] != input.shape[0]:
        raise ValueError(f"grid_sample: expected input (N, C, H, W) and grid (N, Ho, Wo, 2), got {input.shape} "
                         f"and {grid.shape}")
    n, c, h, w = input.shape
    _, ho, wo, _ = grid.shape
    ix, iy = _pixel(grid[..., 0], w, align_corners, padding_mode), _pixel(grid[..., 1], h, align_corners, padding_mode)
    flat = reshape(input, (n, c, h * w))
    if mode == "nearest":  # round half to even, as torch's nearbyint
        xp = B.get_array_module(ix.array)
        out = _read(flat, xp.rint(ix.array), xp.rint(iy.array), h, w, c)
        # piecewise constant in the grid: torch hands the grid a zero gradient (not none), and so does this node
        zero = Tensor(xp.zeros(grid.shape, dtype=grid.dtype))
        out = apply_op(out.array, (out, grid), lambda g, o: (g, zero), "grid_sample_nearest", saved=())
        return reshape(out, (n, c, ho, wo))
    x0, y0 = floor(ix).detach(), floor(iy).detach()
    fx, fy = ix - x0, iy - y0  # the fractional parts, Tensor ops of the grid
    out = None
    for dx, wx in ((0, 1.0 - fx), (1, fx)):
        for dy, wy in ((0, 1.0 - fy), (1, fy)):
            term = _read(flat, x0.array + dx, y0.array + dy, h, w, c) * reshape(wx * wy, (n, 1, ho * wo))
            out = term if out is None else out + term
    return reshape(out, (n, c, ho, wo))


def _pixel(coord: Tensor, size: int, align_corners: bool, padding_mode: str) -> Tensor:
    """Normalised coordinates → pixel positions (0 … size − 1 at the centres); "border" clamps into the image
    ("reflection" mirrors first), and, as torch, a point on or past the edge has no gradient in that coordinate
    (only 0 < pos < size − 1 passes it: torch's clip is exclusive where ``clamp``'s is not)."""
    # torch's order of operations, to the bit (see _positions)
    pos = (coord + 1.0) / 2.0 * (size - 1) if align_corners else ((coord + 1.0) * size - 1.0) / 2.0
    if padding_mode == "zeros":
        return pos
    if padding_mode == "reflection":
        pos = _reflect(pos, 0.0 if align_corners else -0.5, size - 1.0 if align_corners else size - 0.5)
    xp = B.get_array_module(pos.array)
    strictly_inside = Tensor((pos.array > 0) & (pos.array < size - 1))
    return where(strictly_inside, pos, Tensor(xp.clip(pos.array, 0, size - 1)))


def _reflect(pos: Tensor, low: float, high: float) -> Tensor:
    """pos mirrored back into [low, high] as often as it takes (torch's reflect_coordinates): the distance t
    from low, folded by the span; an even number of folds keeps the direction, an odd one reverses it (and the
    gradient's sign).  The fold count and the side are constants, as the floor in them is."""
    span = high - low
    if span <= 0:  # a one-pixel image with aligned corners: every point reads it
        return pos * 0.0 + low
    xp = B.get_array_module(pos.array)
    side = Tensor(xp.where(pos.array - low < 0, -1.0, 1.0).astype(pos.dtype))  # |pos − low|, slope +1 at low
    t = (pos - low) * side
    folds = xp.floor(t.array / span)
    extra = t - Tensor((folds * span).astype(pos.dtype))
    return where(Tensor(folds % 2 == 0), extra + low, (extra * -1.0) + (span + low))


def _read(flat: Tensor, x, y, h: int, w: int, c: int) -> Tensor:
    """flat (N, C, H·W) at integer pixel positions x, y (N, Ho, Wo arrays): (N, C, Ho·Wo), zero outside."""
    xp = B.get_array_module(x)
    n = x.shape[0]
    inside = (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)  # False for a NaN position too
    index = xp.where(inside, y * w + x, 0).astype(_np.int64).reshape(n, 1, -1)  # any pixel where not inside
    values = gather(flat, 2, xp.broadcast_to(index, (n, c, index.shape[2])))
    return where(Tensor(inside.reshape(n, 1, -1)), values, Tensor(xp.zeros((), dtype=flat.dtype)))
