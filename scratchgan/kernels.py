"""The fast machinery behind ``conv.py`` (and the scratch buffers of ``norm.py``): how the
convolutions are computed, as opposed to what they are (that is ``conv.py``, and, in plain
Tensor ops, ``reference.py``).  Everything here works on raw backend arrays, outside autograd.

GEMMs on a channels-last layout.  The three convolution ops are three GEMMs on an internal
NHWC layout:

    conv2d            Y[M, O]  = cols(x)[M, K] @ W[O, K]ᵀ      M = N·Ho·Wo, K = kh·kw·C
    conv2d_weight     dW[O, K] = G[M, O]ᵀ @ cols(x)[M, K]
    conv_transpose2d  cols[M, K] = X[M, C_in] @ W[C_in, K], then col2im(cols)

``im2col`` is a strided view (N, Ho, Wo, kh, kw, C) over the padded NHWC input, copied
once into a contiguous (M, K) matrix; in NHWC each (kw, C) run of a patch row is
contiguous, so the copy moves long runs.  ``col2im`` is its adjoint: one strided slice
write or add per kernel offset, each clipped to the output (no padded buffer, no
``add.at``; the first offset that covers a whole output phase is written, not added,
so the output needs no zero fill).  The results are NCHW-shaped views of NHWC buffers:
the GEMM output needs no transpose, the next convolution reads it as NHWC for free, and
NumPy's elementwise ops (BatchNorm, ReLU) keep that layout.

Memory and cache.  The batch is processed in chunks of about CHUNK_ELEMENTS column-matrix
values, so a chunk's columns stay in cache between their copy and their GEMM.  No column
matrix outlives its op: a backward pass recomputes im2col (a copy) rather than keeping a
batch-sized matrix alive from the forward.

Scratch buffers.  A training step makes the same temporaries (column matrices, padded inputs,
GEMM partials, BatchNorm's x − μ) at the same sizes on every iteration.  Taking them from one
pool, ``WORKSPACE``, keyed by (array module, name, dtype) instead of fresh allocations saves the
page faults that a new large NumPy array costs on every use, and keeps them in cache.  The pool
lives here, below both ``conv.py`` and ``norm.py``, so neither imports the other for it.

``geom`` arguments are ``conv._Geometry`` objects (kernel kh, kw; stride sh, sw; padding ph, pw;
dilation dh, dw; ``conv_out``).
"""
from __future__ import annotations

import math
import threading

from . import backend as B

__all__ = ["WORKSPACE", "Im2col", "nhwc", "nchw", "conv2d_array", "conv2d_weight_array", "conv_transpose2d_array"]


# ---- the scratch-buffer pool ------------------------------------------------------------------------
class _Workspace(threading.local):
    """Named scratch buffers, one set per thread (threads never share one), array module and dtype.

    ``get`` returns a view of the buffer of that name, grown when too small; its contents are
    whatever the last user left.  A buffer never escapes the kernel that asked for it: it is valid
    until the next ``get`` of the same name.
    """

    def __init__(self):
        self.buffers = {}

    def get(self, xp, name: str, shape, dtype):
        size = math.prod(shape)
        key = (xp.__name__, name, B.numpy.dtype(dtype).str)
        buf = self.buffers.get(key)
        if buf is None or buf.size < size:
            buf = self.buffers[key] = xp.empty(size, dtype=dtype)
        return buf[:size].reshape(shape)

    def clear(self):
        self.buffers.clear()


WORKSPACE = _Workspace()


# ---- convolution kernels (NHWC inside, NCHW-shaped views outside) ---------------------------
# Rows of a column matrix per chunk: about 2-4 MiB of float32 for the DCGAN shapes (K = 1024..2048),
# small enough to stay in L2/L3 between the im2col copy and the GEMM, big enough for an efficient GEMM.
CHUNK_ELEMENTS = 1 << 20
MIN_CHUNK_ROWS = 512
DEVICE_CHUNK_ELEMENTS = 1 << 26  # 256 MiB of float32 column matrix per chunk on a GPU


def nhwc(a):
    """The (N, H, W, C) view of an NCHW-shaped array; a copy only if its memory is not channels-last."""
    t = a.transpose(0, 2, 3, 1)
    if t.flags.c_contiguous:
        return t
    return B.get_array_module(a).ascontiguousarray(t)


def nchw(a):
    """The NCHW-shaped view of an (N, H, W, C) buffer (no copy)."""
    return a.transpose(0, 3, 1, 2)


def _weight_rows(w):
    """W (A, B, kh, kw) as the contiguous (A, kh·kw·B) matrix whose columns are ordered like a patch
    (a workspace copy: valid until the next call)."""
    a, b, kh, kw = w.shape
    rows = WORKSPACE.get(B.get_array_module(w), "weight_rows", (a, kh, kw, b), w.dtype)
    rows[...] = w.transpose(0, 2, 3, 1)
    return rows.reshape(a, -1)


def _chunks(n: int, rows_per_image: int, k: int, xp=None):
    """Batch slices whose column matrices hold about CHUNK_ELEMENTS elements (but at least
    MIN_CHUNK_ROWS rows: a GEMM with few rows runs far below the BLAS peak, worst with threads).
    On a GPU (any module but NumPy) there is no cache to fit: chunks only bound the memory."""
    budget = CHUNK_ELEMENTS if xp is None or xp is B.numpy else DEVICE_CHUNK_ELEMENTS
    step = max(1, budget // max(1, rows_per_image * k), -(-MIN_CHUNK_ROWS // max(1, rows_per_image)))
    return [slice(i, min(n, i + step)) for i in range(0, n, step)]


def _pad_into(out, part, ph, pw):
    """out[:, ph:ph + h, pw:pw + w] = part and zeros around it (only the border is zeroed)."""
    hp, wp = out.shape[1:3]
    h, w = min(part.shape[1], hp - ph), min(part.shape[2], wp - pw)  # the rows/columns windows reach
    out[:, :ph] = 0
    out[:, ph + h:] = 0
    out[:, ph:ph + h, :pw] = 0
    out[:, ph:ph + h, pw + w:] = 0
    out[:, ph:ph + h, pw:pw + w] = part[:, :h, :w]
    return out


class _Fold:
    """dW = Gᵀ @ cols accumulated over the chunks of an ``Im2col`` (see ``Im2col.fold_weight_grad``)."""

    __slots__ = ("g", "g_rows", "dw", "chunks_done")

    def __init__(self, g):
        self.g = g  # the grad_output array dW is for
        self.g_rows = nhwc(g).reshape(-1, g.shape[1])  # G as the (M, O) matrix
        self.dw = None  # the (O, K) sum so far
        self.chunks_done = 0


class Im2col:
    """The column matrices of one input, batch chunk by batch chunk, each made when asked for.

    A chunk is padded and unfolded into workspace buffers, read by the GEMM that asked for it and
    overwritten by the next chunk, so no full-batch column matrix (or padded copy) ever exists.

    ``fold_weight_grad(g)`` lets a second GEMM ride along: conv_transpose2d's backward needs both
    dx = conv2d(g, W) and dW = conv2d_weight(g, W.shape, x), two products with the same im2col of
    g.  With the fold, each chunk made for conv2d also adds its share of dW while it is in cache,
    and conv2d_weight then just hands over the finished sum (one im2col instead of two).
    """

    def __init__(self, x_nchw, geom, out_hw):
        self.geom, (self.ho, self.wo) = geom, tuple(out_hw)
        self.xh = nhwc(x_nchw)
        n, h, w, c = self.xh.shape
        g = geom
        # the padded extent that the windows actually reach
        self.hp = (self.ho - 1) * g.sh + g.dh * (g.kh - 1) + 1
        self.wp = (self.wo - 1) * g.sw + g.dw * (g.kw - 1) + 1
        self.c, self.k = c, g.kh * g.kw * c
        # a window that covers the whole unpadded image: the column matrix is the image itself
        self.is_view = (self.ho == self.wo == 1 and g.ph == g.pw == 0 and (g.dh, g.dw) == (1, 1)
                        and (self.hp, self.wp) == (h, w))
        self.slices = ([slice(0, n)] if self.is_view
                       else _chunks(n, self.ho * self.wo, self.k, B.get_array_module(self.xh)))
        self._fold: _Fold | None = None

    def fold_weight_grad(self, g):
        """Accumulate dW = G[M, O]ᵀ @ cols[M, K] for grad_output g as the chunks are made."""
        self._fold = _Fold(g)

    def folded_weight_grad(self, g):
        """The (O, K) dW for g if every chunk has added its share, else None."""
        f = self._fold
        if f is None or f.g is not g or f.chunks_done != len(self.slices):
            return None
        return f.dw

    def __call__(self, i: int):
        """The (rows, K) column matrix of batch chunk i."""
        xh, g, sl = self.xh, self.geom, self.slices[i]
        xp = B.get_array_module(xh)
        if self.is_view:
            cols2 = xh.reshape(xh.shape[0], self.k)
        else:
            n = sl.stop - sl.start
            part = xh[sl]
            shape6 = (n, self.ho, self.wo, g.kh, g.kw, self.c)
            pad = None
            if g.ph or g.pw:
                pad = WORKSPACE.get(xp, "pad", (n, self.hp, self.wp, self.c), xh.dtype)
            cols = WORKSPACE.get(xp, "cols", shape6, xh.dtype)

            src = part if pad is None else _pad_into(pad, part, g.ph, g.pw)
            sN, sH, sW, sC = src.strides
            # the one copy; with dilation 1 a window row is one contiguous run of kw·C values
            cols[...] = xp.lib.stride_tricks.as_strided(src, shape6, (sN, g.sh * sH, g.sw * sW, g.dh * sH,
                                                                      g.dw * sW, sC))
            cols2 = cols.reshape(-1, self.k)
        f = self._fold
        if f is not None:
            rows = self.ho * self.wo
            f.dw = _add_weight_grad(xp, f.dw, f.g_rows[sl.start * rows:sl.stop * rows].T, cols2)
            f.chunks_done += 1
        return cols2


def _add_weight_grad(xp, dw, g_rows_t, cols):
    """dW + G_chunkᵀ @ cols_chunk (the first chunk allocates dW, later ones add through a workspace)."""
    if dw is None:
        return xp.matmul(g_rows_t, cols)
    part = WORKSPACE.get(xp, "dw", dw.shape, dw.dtype)
    dw += xp.matmul(g_rows_t, cols, out=part)
    return dw


def conv2d_array(x, w, geom, cols: Im2col | None = None):
    """y = conv2d(x, w): Y[M, O] = cols(x)[M, K] @ W[O, K]ᵀ, chunk by chunk; returns an NCHW view."""
    xp = B.get_array_module(x, w)
    n = x.shape[0]
    o = w.shape[0]
    ho, wo = geom.conv_out(x.shape[2], x.shape[3]) if cols is None else (cols.ho, cols.wo)
    cols = cols or Im2col(x, geom, (ho, wo))
    wt = _weight_rows(w).T  # (K, O), a transposed view: BLAS reads it as is
    y = xp.empty((n, ho, wo, o), dtype=xp.result_type(x.dtype, w.dtype))
    y2 = y.reshape(n * ho * wo, o)
    rows = ho * wo
    for i, sl in enumerate(cols.slices):
        xp.matmul(cols(i), wt, out=y2[sl.start * rows:sl.stop * rows])
    return nchw(y)


def conv2d_weight_array(x, g, weight_shape, geom, cols: Im2col | None = None):
    """dW = conv2d_weight(x, g): dW[O, K] = G[M, O]ᵀ @ cols(x)[M, K], summed over batch chunks."""
    xp = B.get_array_module(x, g)
    n, o, ho, wo = g.shape
    dw = cols.folded_weight_grad(g) if cols is not None else None
    if dw is None:
        cols = cols or Im2col(x, geom, (ho, wo))
        gh = nhwc(g).reshape(n * ho * wo, o)
        rows = ho * wo
        for i, sl in enumerate(cols.slices):
            dw = _add_weight_grad(xp, dw, gh[sl.start * rows:sl.stop * rows].T, cols(i))
    c = weight_shape[1]
    return xp.ascontiguousarray(dw.reshape(o, geom.kh, geom.kw, c).transpose(0, 3, 1, 2))


def _col2im_plan(geom, h_in, w_in, hout, wout):
    """Where each kernel offset (i, j) of a transposed convolution writes, and in which order.

    Offset i sends input row a to output row a·s + i·d − p; the rows [a0, a1) that land inside
    the output form the strided output slice starting at r0 (likewise for columns).  Every output
    position of one phase (r mod s, c mod s) receives a sum over that phase's offsets.  The first
    offset that covers its whole phase lattice is *written* (no zero fill, no read); the rest add.
    Phases that no offset covers fully are zero-filled first.  Returns (zero_phases, steps) with
    steps (assign, i, j, input slices, output slices).
    """
    g = geom

    def span(k, s, d, p, size_in, size_out):
        off = k * d - p  # the output index of input position 0
        lo = max(0, -(off // s))
        hi = min(size_in, (size_out - 1 - off) // s + 1)
        return lo, hi, lo * s + off

    rows = [span(i, g.sh, g.dh, g.ph, h_in, hout) for i in range(g.kh)]
    cols = [span(j, g.sw, g.dw, g.pw, w_in, wout) for j in range(g.kw)]
    written, steps = set(), []
    for i, (a0, a1, r0) in enumerate(rows):
        for j, (b0, b1, c0) in enumerate(cols):
            if a1 <= a0 or b1 <= b0:
                continue
            phase = (r0 % g.sh, c0 % g.sw)
            full = (r0 < g.sh and r0 + (a1 - a0) * g.sh >= hout and c0 < g.sw and c0 + (b1 - b0) * g.sw >= wout)
            assign = full and phase not in written
            if assign:
                written.add(phase)
            out_rows = slice(r0, r0 + (a1 - a0 - 1) * g.sh + 1, g.sh)
            out_cols = slice(c0, c0 + (b1 - b0 - 1) * g.sw + 1, g.sw)
            steps.append((assign, i, j, (slice(a0, a1), slice(b0, b1)), (out_rows, out_cols)))
    zero = [(ph, pw) for ph in range(min(g.sh, hout)) for pw in range(min(g.sw, wout)) if (ph, pw) not in written]
    # assignments first, so that an add never meets an unwritten position
    steps.sort(key=lambda st: not st[0])
    return zero, steps


def _col2im(out, cols, plan, sh, sw, channels_first=False):
    """out[N, Ho, Wo, C] = Σ over kernel offsets (i, j) of cols[N, h, w, i, j, C] placed by ``plan``
    (the adjoint of the im2col view): strided slice writes and adds, no add.at, no padded buffer.
    With ``channels_first`` out is (N, C, Ho, Wo) and cols is read as (N, C, i, j, h, w): for a few
    channels the inner loops then run along image rows instead of over C values."""
    zero, steps = plan
    if channels_first:
        cols = cols.transpose(0, 5, 3, 4, 1, 2)
    for ph, pw in zero:
        if channels_first:
            out[:, :, ph::sh, pw::sw] = 0
        else:
            out[:, ph::sh, pw::sw] = 0
    for assign, i, j, (ai, bi), (ro, co) in steps:
        if channels_first:
            dst, src = (slice(None), slice(None), ro, co), cols[:, :, i, j, ai, bi]
        else:
            dst, src = (slice(None), ro, co), cols[:, ai, bi, i, j]
        if assign:
            out[dst] = src
        else:
            out[dst] += src


# Below this many output channels col2im writes NCHW (its strided adds would otherwise move C values at a time).
FEW_CHANNELS = 8


def conv_transpose2d_array(x, w, geom, out_hw):
    """y = conv_transpose2d(x, w): cols[M, K] = X[M, C_in] @ W[C_in, K], then col2im; NCHW view."""
    xp = B.get_array_module(x, w)
    n, c_in, h, wd = x.shape
    c_out = w.shape[1]
    xh = nhwc(x).reshape(n * h * wd, c_in)
    wr = _weight_rows(w)  # (C_in, kh·kw·C_out)
    hout, wout = out_hw
    dtype = xp.result_type(x.dtype, w.dtype)
    g = geom
    if (h, wd) == (1, 1) and (g.ph, g.pw) == (0, 0) and (hout, wout) == (g.kh, g.kw) and (g.dh, g.dw) == (1, 1):
        # a 1×1 input (the generator's first layer): the offsets tile the output, cols *is* y
        y = xp.empty((n, hout, wout, c_out), dtype=dtype)
        xp.matmul(xh, wr, out=y.reshape(n, -1))
        return nchw(y)
    few = c_out < FEW_CHANNELS
    y = xp.empty((n, c_out, hout, wout) if few else (n, hout, wout, c_out), dtype=dtype)
    plan = _col2im_plan(geom, h, wd, hout, wout)
    rows = h * wd
    for sl in _chunks(n, rows, wr.shape[1], xp):
        cols = WORKSPACE.get(xp, "cols", ((sl.stop - sl.start) * rows, wr.shape[1]), dtype)
        xp.matmul(xh[sl.start * rows:sl.stop * rows], wr, out=cols)
        _col2im(y[sl], cols.reshape(sl.stop - sl.start, h, wd, g.kh, g.kw, c_out), plan, g.sh, g.sw, few)
    return y if few else nchw(y)
