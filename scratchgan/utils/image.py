"""``make_grid`` and ``save_image`` with torchvision's signatures and results, because every GAN script ends its
loop with ``save_image(gen_imgs.data[:25], "images/%d.png" % batches_done, nrow=5, normalize=True)``:
``from torchvision.utils import save_image`` becomes ``from scratchgan.utils import save_image``.

The grid is laid out as torchvision lays it out (``padding`` pixels of ``pad_value`` before every image and
after the last row and column; one-channel images repeated into RGB), in a few array reshapes rather than a
loop over the images.  The file is written by Pillow (which matplotlib depends on), atomically.
"""
from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

from .. import backend as B
from ..ops import stack
from ..tensor import Tensor

__all__ = ["make_grid", "save_image"]

_np = B.numpy


def make_grid(tensor, nrow: int = 8, padding: int = 2, normalize: bool = False, value_range=None,
              scale_each: bool = False, pad_value: float = 0.0) -> Tensor:
    """(B, C, H, W) images (or a list of (C, H, W)) tiled ``nrow`` to a row: a (C', H', W') tensor, C' = 3
    for one-channel input.  ``normalize`` maps ``value_range`` (default: the batch's min and max, or each
    image's with ``scale_each``) to [0, 1] after clipping to it.  No gradient (a picture, not a graph)."""
    t = stack(list(tensor), 0) if isinstance(tensor, (list, tuple)) else tensor
    xp = B.get_array_module(t.array)
    a = t.array.astype(_np.float32) if t.dtype.kind != "f" else t.array
    if a.ndim == 2:
        a = a[None]
    if a.ndim == 3:
        a = a[None] if a.shape[0] != 1 else xp.concatenate([a, a, a], 0)[None]
    if a.ndim != 4:
        raise ValueError(f"make_grid: expected (B, C, H, W) images, a list of (C, H, W) or one image, got shape "
                         f"{tuple(t.shape)}")
    if a.shape[1] == 1:
        a = xp.concatenate([a, a, a], 1)
    if normalize:
        if value_range is not None and not (isinstance(value_range, tuple) and len(value_range) == 2):
            raise TypeError("make_grid: value_range has to be a tuple (min, max) if specified")
        axes = (1, 2, 3) if scale_each else None
        low = xp.asarray(value_range[0], a.dtype) if value_range else a.min(axis=axes, keepdims=True)
        high = xp.asarray(value_range[1], a.dtype) if value_range else a.max(axis=axes, keepdims=True)
        a = (xp.clip(a, low, high) - low) / xp.maximum(high - low, 1e-5)
    if a.shape[0] == 1:
        return Tensor(a[0].copy())
    n, c, h, w = a.shape
    cols = min(nrow, n)
    rows = int(math.ceil(n / cols))
    # every image with `padding` before it (top, left), the grid's empty cells as pad_value, then the cells
    # side by side: (rows·cols, C, h+p, w+p) -> (C, rows·(h+p), cols·(w+p)), plus the last row's/column's pad
    cells = xp.full((rows * cols, c, h + padding, w + padding), pad_value, dtype=a.dtype)
    cells[:n, :, padding:, padding:] = a
    grid = cells.reshape(rows, cols, c, h + padding, w + padding).transpose(2, 0, 3, 1, 4)
    grid = grid.reshape(c, rows * (h + padding), cols * (w + padding))
    out = xp.full((c, grid.shape[1] + padding, grid.shape[2] + padding), pad_value, dtype=a.dtype)
    out[:, :grid.shape[1], :grid.shape[2]] = grid
    return Tensor(out)


def save_image(tensor, fp, format=None, **kwargs) -> None:  # noqa: A002 - torchvision's names
    """``make_grid(tensor, **kwargs)`` as an 8-bit image file (PNG unless ``format`` or the name says otherwise),
    values in [0, 1] scaled to 0…255 as torchvision rounds them; written to a temporary file, then renamed."""
    from PIL import Image  # noqa: PLC0415 - Pillow comes with matplotlib; loaded only to write a picture

    grid = make_grid(tensor, **kwargs)
    pixels = _np.clip(B.to_numpy(grid.array) * 255 + 0.5, 0, 255).astype(_np.uint8).transpose(1, 2, 0)
    path = Path(fp)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name, suffix=path.suffix or ".png")
    os.close(fd)
    try:
        Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels).save(tmp, format=format)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
