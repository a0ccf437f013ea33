"""2-D convolution, transposed convolution, nearest-neighbour upsampling and average pooling (NCHW,
groups=1).

Three ops, each the adjoint of the others in one argument.  For a convolution
y = conv2d(x, W) (W of shape (out, in, kh, kw)):

    dL/dx = conv_transpose2d(g, W)          the transposed convolution is the adjoint in x
    dL/dW = conv2d_weight(x, W.shape, g)    the correlation of the input with g

and for y = conv_transpose2d(x, W) (W of shape (in, out, kh, kw)) the same three ops, swapped:

    dL/dx = conv2d(g, W)
    dL/dW = conv2d_weight(g, W.shape, x)

conv2d_weight is bilinear in its two tensor arguments, and its backward is again
conv2d / conv_transpose2d.  Every backward is built from these public ops, so the
gradient of a gradient (WGAN-GP) is another application of the same three ops.

Kernels.  The work is three GEMMs on an internal channels-last (NHWC) layout:

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
values, so a chunk's columns stay in cache between their copy and their GEMM; the chunk
buffers (columns, padded input) come from the per-thread pool of ``workspace.py``, reused from
call to call instead of fresh allocations.  No column matrix outlives its op: a backward pass
recomputes im2col (a copy) rather than keeping a batch-sized matrix alive from the forward.
"""
from __future__ import annotations

from . import backend as B
from .norm import channel_sum
from .ops import getitem, squeeze, unsqueeze
from .tensor import Tensor, apply_op
from .workspace import WORKSPACE

__all__ = ["conv2d", "conv_transpose2d", "conv2d_weight", "interpolate", "upsample_nearest", "avg_pool2d",
           "conv2d_output_size", "conv_transpose2d_output_size"]

# Rows of a column matrix per chunk: about 2-4 MiB of float32 for the DCGAN shapes (K = 1024..2048),
# small enough to stay in L2/L3 between the im2col copy and the GEMM, big enough for an efficient GEMM.
CHUNK_ELEMENTS = 1 << 20
MIN_CHUNK_ROWS = 512
DEVICE_CHUNK_ELEMENTS = 1 << 26  # 256 MiB of float32 column matrix per chunk on a GPU


# ---- geometry -----------------------------------------------------------------------------------
def _pair(v, name: str, who: str = "conv") -> tuple:
    if isinstance(v, int):
        return (v, v)
    try:
        a, b = v
        return (int(a), int(b))
    except (TypeError, ValueError):
        raise ValueError(f"{who}: {name} must be an int or a pair of ints, got {v!r}") from None


class _Geometry:
    """Kernel size, stride, padding and dilation of a 2-D convolution, and its size rules."""

    __slots__ = ("kh", "kw", "sh", "sw", "ph", "pw", "dh", "dw")

    def __init__(self, kernel, stride, padding, dilation, who="conv2d"):
        (self.kh, self.kw) = kernel
        (self.sh, self.sw) = _pair(stride, "stride", who)
        (self.ph, self.pw) = _pair(padding, "padding", who)
        (self.dh, self.dw) = _pair(dilation, "dilation", who)
        if min(self.sh, self.sw) < 1 or min(self.dh, self.dw) < 1 or min(self.ph, self.pw) < 0:
            raise ValueError(f"{who}: stride and dilation must be >= 1 and padding >= 0, got stride="
                             f"{(self.sh, self.sw)}, padding={(self.ph, self.pw)}, dilation={(self.dh, self.dw)}")

    @property
    def span(self) -> tuple:
        """The dilated kernel extent d·(k − 1) + 1 in each direction."""
        return self.dh * (self.kh - 1) + 1, self.dw * (self.kw - 1) + 1

    def conv_out(self, h: int, w: int) -> tuple:
        """PyTorch's conv2d output size: ⌊(H + 2p − d(k − 1) − 1)/s⌋ + 1."""
        eh, ew = self.span
        return (h + 2 * self.ph - eh) // self.sh + 1, (w + 2 * self.pw - ew) // self.sw + 1

    def transpose_out(self, h: int, w: int, output_padding=(0, 0)) -> tuple:
        """PyTorch's conv_transpose2d output size: (H − 1)s − 2p + d(k − 1) + output_padding + 1."""
        eh, ew = self.span
        return ((h - 1) * self.sh - 2 * self.ph + eh + output_padding[0],
                (w - 1) * self.sw - 2 * self.pw + ew + output_padding[1])

    def __repr__(self):
        return (f"kernel_size={(self.kh, self.kw)}, stride={(self.sh, self.sw)}, "
                f"padding={(self.ph, self.pw)}, dilation={(self.dh, self.dw)}")


def conv2d_output_size(h, w, kernel_size, stride=1, padding=0, dilation=1) -> tuple:
    return _Geometry(_pair(kernel_size, "kernel_size"), stride, padding, dilation).conv_out(h, w)


def conv_transpose2d_output_size(h, w, kernel_size, stride=1, padding=0, output_padding=0, dilation=1) -> tuple:
    g = _Geometry(_pair(kernel_size, "kernel_size"), stride, padding, dilation)
    return g.transpose_out(h, w, _pair(output_padding, "output_padding"))


def string_padding(padding: str, kernel_size, stride=1, dilation=1, who="conv2d") -> tuple:
    """PyTorch's padding="valid" (none) or "same" (output size = input size; stride 1, and here only
    when the padding is symmetric, i.e. dilation·(k − 1) is even)."""
    if padding == "valid":
        return (0, 0)
    if padding != "same":
        raise ValueError(f"{who}: padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
    if _pair(stride, "stride", who) != (1, 1):
        raise ValueError(f"{who}: padding='same' is not supported for strided convolutions")
    k, d = _pair(kernel_size, "kernel_size", who), _pair(dilation, "dilation", who)
    total = [di * (ki - 1) for ki, di in zip(k, d)]
    if any(t % 2 for t in total):
        raise NotImplementedError(f"{who}: padding='same' with kernel_size={k}, dilation={d} needs asymmetric "
                                  "padding, which is not implemented")
    return (total[0] // 2, total[1] // 2)


def _check_4d(x: Tensor, who: str, what: str = "input"):
    if x.ndim != 4:
        raise ValueError(f"{who}: expected 4-D {what} (N, C, H, W), got {x.ndim}-D {what} of shape {x.shape}")


def _check_groups(groups, who):
    if groups != 1:
        raise NotImplementedError(f"{who}: groups={groups} is not implemented (only groups=1)")


def _check_conv_input(x: Tensor, weight_shape, geom: _Geometry, who: str):
    """A 4-D input with the weight's in-channels, whose padded size holds the dilated kernel."""
    _check_4d(x, who)
    c_in = weight_shape[1]
    if x.shape[1] != c_in:
        raise ValueError(f"{who}: expected input with {c_in} channels (N, {c_in}, H, W), got shape {x.shape}")
    eh, ew = geom.span
    hp, wp = x.shape[2] + 2 * geom.ph, x.shape[3] + 2 * geom.pw
    if eh > hp or ew > wp:
        raise ValueError(f"{who}: kernel size {(eh, ew)} (dilated) is larger than the padded input size "
                         f"{(hp, wp)} of input shape {x.shape} with padding {(geom.ph, geom.pw)}")


def _check_output_padding(op, geom: _Geometry, who: str):
    """PyTorch's rule: each output_padding must be smaller than its stride or its dilation."""
    for o, s, d in ((op[0], geom.sh, geom.dh), (op[1], geom.sw, geom.dw)):
        if o < 0 or (o >= s and o >= d):
            raise ValueError(f"{who}: output_padding {op} must be smaller than either stride "
                             f"{(geom.sh, geom.sw)} or dilation {(geom.dh, geom.dw)}")


def _check_transpose_input(x: Tensor, weight_shape, geom: _Geometry, out_hw, who: str):
    _check_4d(x, who)
    c_in = weight_shape[0]
    if x.shape[1] != c_in:
        raise ValueError(f"{who}: expected input with {c_in} channels (N, {c_in}, H, W), got shape {x.shape}")
    if out_hw[0] < 1 or out_hw[1] < 1:
        raise ValueError(f"{who}: input shape {x.shape} gives an empty output of size {tuple(out_hw)}")


# ---- raw-array kernels (NHWC inside, NCHW-shaped views outside) -------------------------------------
def _nhwc(a):
    """The (N, H, W, C) view of an NCHW-shaped array; a copy only if its memory is not channels-last."""
    t = a.transpose(0, 2, 3, 1)
    if t.flags.c_contiguous:
        return t
    return B.get_array_module(a).ascontiguousarray(t)


def _nchw(a):
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


class _Im2col:
    """The column matrices of one input, batch chunk by batch chunk, each made when asked for.

    A chunk is padded and unfolded into workspace buffers, read by the GEMM that asked for it and
    overwritten by the next chunk, so no full-batch column matrix (or padded copy) ever exists.

    ``fold_weight_grad(g)`` lets a second GEMM ride along: conv_transpose2d's backward needs both
    dx = conv2d(g, W) and dW = conv2d_weight(g, W.shape, x), two products with the same im2col of
    g.  With the fold, each chunk made for conv2d also adds its share of dW while it is in cache,
    and conv2d_weight then just hands over the finished sum (one im2col instead of two).
    """

    def __init__(self, x_nchw, geom: _Geometry, out_hw):
        self.geom, (self.ho, self.wo) = geom, tuple(out_hw)
        self.xh = _nhwc(x_nchw)
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
        self._fold = None  # [g array, its (M, O) rows, dW so far, chunks done]

    def fold_weight_grad(self, g):
        """Accumulate dW = G[M, O]ᵀ @ cols[M, K] for grad_output g as the chunks are made."""
        self._fold = [g, _nhwc(g).reshape(-1, g.shape[1]), None, 0]

    def folded_weight_grad(self, g):
        """The (O, K) dW for g if every chunk has added its share, else None."""
        f = self._fold
        if f is None or f[0] is not g or f[3] != len(self.slices):
            return None
        return f[2]

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
            f[2] = _add_weight_grad(xp, f[2], f[1][sl.start * rows:sl.stop * rows].T, cols2)
            f[3] += 1
        return cols2


def _add_weight_grad(xp, dw, g_rows_t, cols):
    """dW + G_chunkᵀ @ cols_chunk (the first chunk allocates dW, later ones add through a workspace)."""
    if dw is None:
        return xp.matmul(g_rows_t, cols)
    part = WORKSPACE.get(xp, "dw", dw.shape, dw.dtype)
    dw += xp.matmul(g_rows_t, cols, out=part)
    return dw


def _conv2d_forward_array(x, w, geom: _Geometry, cols: _Im2col | None = None):
    """y = conv2d(x, w): Y[M, O] = cols(x)[M, K] @ W[O, K]ᵀ, chunk by chunk; returns an NCHW view."""
    xp = B.get_array_module(x, w)
    n = x.shape[0]
    o = w.shape[0]
    ho, wo = geom.conv_out(x.shape[2], x.shape[3]) if cols is None else (cols.ho, cols.wo)
    cols = cols or _Im2col(x, geom, (ho, wo))
    wt = _weight_rows(w).T  # (K, O), a transposed view: BLAS reads it as is
    y = xp.empty((n, ho, wo, o), dtype=xp.result_type(x.dtype, w.dtype))
    y2 = y.reshape(n * ho * wo, o)
    rows = ho * wo
    for i, sl in enumerate(cols.slices):
        xp.matmul(cols(i), wt, out=y2[sl.start * rows:sl.stop * rows])
    return _nchw(y)


def _conv2d_weight_array(x, g, weight_shape, geom: _Geometry, cols: _Im2col | None = None):
    """dW = conv2d_weight(x, g): dW[O, K] = G[M, O]ᵀ @ cols(x)[M, K], summed over batch chunks."""
    xp = B.get_array_module(x, g)
    n, o, ho, wo = g.shape
    dw = cols.folded_weight_grad(g) if cols is not None else None
    if dw is None:
        cols = cols or _Im2col(x, geom, (ho, wo))
        gh = _nhwc(g).reshape(n * ho * wo, o)
        rows = ho * wo
        for i, sl in enumerate(cols.slices):
            dw = _add_weight_grad(xp, dw, gh[sl.start * rows:sl.stop * rows].T, cols(i))
    c = weight_shape[1]
    return xp.ascontiguousarray(dw.reshape(o, geom.kh, geom.kw, c).transpose(0, 3, 1, 2))


def _col2im_plan(geom: _Geometry, h_in, w_in, hout, wout):
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


def _conv_transpose2d_forward_array(x, w, geom: _Geometry, out_hw):
    """y = conv_transpose2d(x, w): cols[M, K] = X[M, C_in] @ W[C_in, K], then col2im; NCHW view."""
    xp = B.get_array_module(x, w)
    n, c_in, h, wd = x.shape
    c_out = w.shape[1]
    xh = _nhwc(x).reshape(n * h * wd, c_in)
    wr = _weight_rows(w)  # (C_in, kh·kw·C_out)
    hout, wout = out_hw
    dtype = xp.result_type(x.dtype, w.dtype)
    g = geom
    if (h, wd) == (1, 1) and (g.ph, g.pw) == (0, 0) and (hout, wout) == (g.kh, g.kw) and (g.dh, g.dw) == (1, 1):
        # a 1×1 input (the generator's first layer): the offsets tile the output, cols *is* y
        y = xp.empty((n, hout, wout, c_out), dtype=dtype)
        xp.matmul(xh, wr, out=y.reshape(n, -1))
        return _nchw(y)
    few = c_out < FEW_CHANNELS
    y = xp.empty((n, c_out, hout, wout) if few else (n, hout, wout, c_out), dtype=dtype)
    plan = _col2im_plan(geom, h, wd, hout, wout)
    rows = h * wd
    for sl in _chunks(n, rows, wr.shape[1], xp):
        cols = WORKSPACE.get(xp, "cols", ((sl.stop - sl.start) * rows, wr.shape[1]), dtype)
        xp.matmul(xh[sl.start * rows:sl.stop * rows], wr, out=cols)
        _col2im(y[sl], cols.reshape(sl.stop - sl.start, h, wd, g.kh, g.kw, c_out), plan, g.sh, g.sw, few)
    return y if few else _nchw(y)


# ---- the differentiable ops ---------------------------------------------------------------------
def _crop(t: Tensor, hw) -> Tensor:
    """The top-left (H, W) corner of an NCHW tensor (a transposed convolution whose output_padding
    reaches past the stride leaves input rows that the adjoint convolution would extend)."""
    if t.shape[2:] == tuple(hw):
        return t
    return getitem(t, (slice(None), slice(None), slice(0, hw[0]), slice(0, hw[1])))


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    """2-D cross-correlation, PyTorch's ``F.conv2d``: x (N, C, H, W), weight (O, C, kh, kw), bias (O,).

    Output (N, O, Ho, Wo) with Ho = ⌊(H + 2·padding − dilation·(kh − 1) − 1)/stride⌋ + 1.
    The plain version (im2col by indexing, one matmul, autograd for the backward) is
    ``scratchgan.reference.conv2d``; the tests check that both agree, values and gradients.
    """
    return _conv2d(x, weight, bias, stride, padding, dilation, groups)


def _conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
            groups: int = 1, *, _cols: _Im2col | None = None, _who="conv2d") -> Tensor:
    """``conv2d`` with two private keywords: ``_who`` names the layer in errors (``Conv2d(...)``);
    ``_cols``, an im2col of the input that ``conv_transpose2d``'s backward shares between its two GEMMs."""
    _check_groups(groups, _who)
    _check_4d(weight, _who, "weight")
    if isinstance(padding, str):
        padding = string_padding(padding, weight.shape[2:], stride, dilation, _who)
    geom = _Geometry(weight.shape[2:], stride, padding, dilation, _who)
    _check_conv_input(x, weight.shape, geom, _who)
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"{_who}: bias must have shape ({weight.shape[0]},), got {bias.shape}")
    data = _conv2d_forward_array(x.array, weight.array, geom, _cols)
    if bias is not None:
        data += bias.array.reshape(1, -1, 1, 1)

    def backward(g, out):
        # dx: the transposed convolution of g with the same W, sized back to x
        gx = conv_transpose2d(g, weight, None, stride, padding, groups=1, dilation=dilation,
                              output_size=x.shape[2:]) if x.requires_grad else None
        # dW: the correlation of x with g;  db: Σ g over (N, H, W)
        gw = conv2d_weight(x, weight.shape, g, stride, padding, dilation) if weight.requires_grad else None
        gb = channel_sum(g) if bias is not None and bias.requires_grad else None
        return (gx, gw) if bias is None else (gx, gw, gb)

    parents = (x, weight) if bias is None else (x, weight, bias)
    # dx reads W, dW reads x
    return apply_op(data, parents, backward, "conv2d", saved=(weight if x.requires_grad else None,
                                                               x if weight.requires_grad else None))


def conv_transpose2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
                     output_padding=0, groups: int = 1, dilation=1, *, output_size=None) -> Tensor:
    """2-D transposed convolution, PyTorch's ``F.conv_transpose2d``: x (N, C_in, H, W),
    weight (C_in, C_out, kh, kw), bias (C_out,).  It is the adjoint (the input gradient) of
    ``conv2d`` with the same weight.

    Output (N, C_out, Hout, Wout), Hout = (H − 1)·stride − 2·padding + dilation·(kh − 1)
    + output_padding + 1.  ``output_size`` (H, W) may be given instead of ``output_padding``,
    as ``nn.ConvTranspose2d.forward(x, output_size)`` allows.
    The plain version (one matmul, then col2im by a scatter-add) is ``scratchgan.reference.conv_transpose2d``.
    """
    return _conv_transpose2d(x, weight, bias, stride, padding, output_padding, groups, dilation,
                             output_size=output_size)


def _conv_transpose2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
                      output_padding=0, groups: int = 1, dilation=1, *, output_size=None,
                      _who="conv_transpose2d") -> Tensor:
    """``conv_transpose2d`` with ``_who``, the layer to name in errors (``ConvTranspose2d(...)``)."""
    _check_groups(groups, _who)
    _check_4d(weight, _who, "weight")
    geom = _Geometry(weight.shape[2:], stride, padding, dilation, _who)
    _check_4d(x, _who)
    if output_size is not None:
        output_size = tuple(output_size)[-2:]
        base = geom.transpose_out(x.shape[2], x.shape[3])
        op = (output_size[0] - base[0], output_size[1] - base[1])
    else:
        op = _pair(output_padding, "output_padding", _who)
    _check_output_padding(op, geom, _who)
    out_hw = geom.transpose_out(x.shape[2], x.shape[3], op)
    _check_transpose_input(x, weight.shape, geom, out_hw, _who)
    if bias is not None and bias.shape != (weight.shape[1],):
        raise ValueError(f"{_who}: bias must have shape ({weight.shape[1]},), got {bias.shape}")
    data = _conv_transpose2d_forward_array(x.array, weight.array, geom, out_hw)
    if bias is not None:
        data += bias.array.reshape(1, -1, 1, 1)

    def backward(g, out):
        hw = x.shape[2:]
        natural = geom.conv_out(out_hw[0], out_hw[1])
        # one im2col of g serves both GEMMs below (when no crop is needed)
        cols = _Im2col(g.array, geom, hw) if natural == tuple(hw) else None
        if cols is not None and x.requires_grad and weight.requires_grad:
            cols.fold_weight_grad(x.array)  # dW rides along the chunks that conv2d(g, W) makes
        # dx: the convolution of g with the same W
        gx = _crop(_conv2d(g, weight, None, stride, padding, dilation, _cols=cols), hw) if x.requires_grad else None
        # dW: the correlation of g (the "input" here) with x (the "output gradient")
        gw = _conv2d_weight(g, weight.shape, x, stride, padding, dilation, _cols=cols) if weight.requires_grad else None
        gb = channel_sum(g) if bias is not None and bias.requires_grad else None
        return (gx, gw) if bias is None else (gx, gw, gb)

    parents = (x, weight) if bias is None else (x, weight, bias)
    # dx reads W, dW reads x
    return apply_op(data, parents, backward, "conv_transpose2d", saved=(weight if x.requires_grad else None,
                                                                         x if weight.requires_grad else None))


def conv2d_weight(x: Tensor, weight_size, grad_output: Tensor, stride=1, padding=0, dilation=1,
                  groups: int = 1) -> Tensor:
    """The gradient of conv2d with respect to its weight (``torch.nn.grad.conv2d_weight``):

        dW[o, c, i, j] = Σ_{n,p,q} g[n, o, p, q] · x_pad[n, c, p·s + i·d, q·s + j·d]

    A differentiable op in both x and grad_output, so create_graph reaches every parent.
    grad_output may be smaller than the natural output (its rows are the ones that count).
    """
    return _conv2d_weight(x, weight_size, grad_output, stride, padding, dilation, groups)


def _conv2d_weight(x: Tensor, weight_size, grad_output: Tensor, stride=1, padding=0, dilation=1,
                   groups: int = 1, *, _cols: _Im2col | None = None) -> Tensor:
    """``conv2d_weight`` with ``_cols``, an im2col of x already made by ``conv_transpose2d``'s backward."""
    _check_groups(groups, "conv2d_weight")
    weight_size = tuple(weight_size)
    geom = _Geometry(weight_size[2:], stride, padding, dilation, "conv2d_weight")
    g = grad_output
    data = _conv2d_weight_array(x.array, g.array, weight_size, geom, _cols)

    def backward(gw, out):
        # <gw, dW(x, g)> = <conv2d(x, gw), g> = <x, conv_transpose2d(g, gw)>: bilinear, so each
        # argument's gradient is the other argument pushed through the op with weight gw.
        gx = conv_transpose2d(g, gw, None, stride, padding, dilation=dilation,
                              output_size=x.shape[2:]) if x.requires_grad else None
        gg = _crop(conv2d(x, gw, None, stride, padding, dilation), g.shape[2:]) if g.requires_grad else None
        return gx, gg

    # bilinear: dx reads g, dg reads x
    return apply_op(data, (x, g), backward, "conv2d_weight", saved=(g if x.requires_grad else None,
                                                                     x if g.requires_grad else None))


# ---- nearest-neighbour upsampling -----------------------------------------------------------------
def _upsample_array(x, fh: int, fw: int):
    xp = B.get_array_module(x)
    xh = _nhwc(x)
    n, h, w, c = xh.shape
    out = xp.empty((n, h, fh, w, fw, c), dtype=x.dtype)
    out[...] = xh[:, :, None, :, None, :]
    return _nchw(out.reshape(n, h * fh, w * fw, c))


def _sum_pool_array(g, fh: int, fw: int):
    gh = _nhwc(g)
    n, hs, ws, c = gh.shape
    return _nchw(gh.reshape(n, hs // fh, fh, ws // fw, fw, c).sum(axis=(2, 4)))


def upsample_nearest(x: Tensor, scale_factor=2) -> Tensor:
    """Repeat every pixel fh × fw times (integer factors): y[n, c, h·fh + a, w·fw + b] = x[n, c, h, w]."""
    _check_4d(x, "upsample_nearest")
    fh, fw = _pair(scale_factor, "scale_factor", "upsample_nearest")
    if fh < 1 or fw < 1:
        raise ValueError(f"upsample_nearest: scale factors must be positive integers, got {(fh, fw)}")
    return _upsample_nearest_op(x, fh, fw)


def _upsample_nearest_op(x, fh, fw):
    def backward(g, out):  # each input pixel feeds fh·fw outputs: its gradient is their sum
        return (_sum_pool_op(g, fh, fw),)

    return apply_op(_upsample_array(x.array, fh, fw), (x,), backward, "upsample_nearest", saved=())


def _sum_pool_op(g, fh, fw):
    def backward(gg, out):  # the adjoint of the block sum is the repetition
        return (_upsample_nearest_op(gg, fh, fw),)

    return apply_op(_sum_pool_array(g.array, fh, fw), (g,), backward, "sum_pool", saved=())


def interpolate(x: Tensor, size=None, scale_factor=None, mode: str = "nearest", align_corners=None) -> Tensor:
    """``F.interpolate`` for mode='nearest' on (N, C, H, W): source index ⌊dst·in/out⌋ (PyTorch's
    legacy 'nearest').  Integer factors take a fast repeat path; other sizes gather by index."""
    if mode != "nearest":
        raise NotImplementedError(f"interpolate: mode {mode!r} is not implemented (only 'nearest')")
    if align_corners is not None:
        raise ValueError("interpolate: align_corners only applies to linear modes, not 'nearest'")
    _check_4d(x, "interpolate")
    h, w = x.shape[2:]
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: give exactly one of size and scale_factor")
    if size is not None:
        oh, ow = _pair(size, "size", "interpolate")
        scale_h, scale_w = h / oh, w / ow
    else:
        sf = scale_factor if isinstance(scale_factor, (tuple, list)) else (scale_factor, scale_factor)
        oh, ow = int(h * float(sf[0])), int(w * float(sf[1]))
        scale_h, scale_w = 1.0 / float(sf[0]), 1.0 / float(sf[1])
        if float(sf[0]).is_integer() and float(sf[1]).is_integer():
            return _upsample_nearest_op(x, int(sf[0]), int(sf[1]))
    if oh < 1 or ow < 1:
        raise ValueError(f"interpolate: output size {(oh, ow)} must be positive")
    if oh % h == 0 and ow % w == 0 and size is not None:
        return _upsample_nearest_op(x, oh // h, ow // w)
    xp = B.get_array_module(x.array)
    rows = xp.minimum((xp.arange(oh) * scale_h).astype(xp.int64), h - 1)
    cols = xp.minimum((xp.arange(ow) * scale_w).astype(xp.int64), w - 1)
    return getitem(x, (slice(None), slice(None), rows[:, None], cols[None, :]))


# ---- average pooling ---------------------------------------------------------------------------
class _PoolGeometry:
    """Windows of ``F.avg_pool2d``: kernel (kh, kw), stride, padding and the output size.

    Output rows Ho = ⌊(H + 2p − k)/s⌋ + 1 (⌈·⌉ with ceil_mode, dropping a last window that would
    start in the right padding).  Window o covers padded rows [o·s, o·s + k), i.e. input rows
    [o·s − p, o·s − p + k).  ``rows`` = (o − 1)·s + k is the padded extent that the windows reach.
    """

    def __init__(self, x_hw, kernel_size, stride, padding, ceil_mode, who):
        self.kh, self.kw = _pair(kernel_size, "kernel_size", who)
        self.sh, self.sw = _pair(kernel_size if stride is None or stride == [] else stride, "stride", who)
        self.ph, self.pw = _pair(padding, "padding", who)
        self.h, self.w = x_hw
        if min(self.kh, self.kw, self.sh, self.sw) < 1 or min(self.ph, self.pw) < 0:
            raise ValueError(f"{who}: kernel_size and stride must be positive and padding >= 0, got "
                             f"kernel_size={(self.kh, self.kw)}, stride={(self.sh, self.sw)}, "
                             f"padding={(self.ph, self.pw)}")
        if 2 * self.ph > self.kh or 2 * self.pw > self.kw:
            raise ValueError(f"{who}: pad should be at most half of effective kernel size, got "
                             f"kernel_size={(self.kh, self.kw)}, padding={(self.ph, self.pw)}")
        self.ho = self._out(self.h, self.kh, self.sh, self.ph, ceil_mode)
        self.wo = self._out(self.w, self.kw, self.sw, self.pw, ceil_mode)
        if self.ho < 1 or self.wo < 1:
            raise ValueError(f"{who}: input of spatial size {tuple(x_hw)} is too small for kernel_size="
                             f"{(self.kh, self.kw)} with padding={(self.ph, self.pw)} (output size "
                             f"{(self.ho, self.wo)})")
        self.rows = (self.ho - 1) * self.sh + self.kh
        self.cols = (self.wo - 1) * self.sw + self.kw

    @staticmethod
    def _out(n, k, s, p, ceil_mode):
        span = n + 2 * p - k
        if span < 0:
            return 0
        o = (-(-span // s) if ceil_mode else span // s) + 1
        if ceil_mode and (o - 1) * s >= n + p:  # the last window must start inside the input or left pad
            o -= 1
        return o

    def divisor(self, xp, count_include_pad: bool, dtype):
        """(Ho, Wo) window sizes: within the padded input (count_include_pad) or within the input."""
        def counts(o, s, k, p, n):
            start = xp.arange(o) * s - p
            stop = xp.minimum(start + k, n + p)
            if not count_include_pad:
                start, stop = xp.maximum(start, 0), xp.minimum(stop, n)
            return (stop - start).astype(dtype)

        return (counts(self.ho, self.sh, self.kh, self.ph, self.h)[:, None]
                * counts(self.wo, self.sw, self.kw, self.pw, self.w)[None, :])


def _zeros_in_layout(like, shape):
    """Zeros of an (N, C, H, W) ``shape`` in ``like``'s memory order: channels-last if it is (as the
    convolutions' outputs are), else C order, so the slice adds below read and write matching orders."""
    xp = B.get_array_module(like)
    if not like.flags.c_contiguous and like.transpose(0, 2, 3, 1).flags.c_contiguous:
        n, c, h, w = shape
        return xp.zeros((n, h, w, c), dtype=like.dtype).transpose(0, 3, 1, 2)
    return xp.zeros(shape, dtype=like.dtype)


def _strided_sum(a, axis: int, k: int, s: int, o: int):
    """t[..., q, ...] = Σ_{i<k} a[..., q·s + i, ...] along ``axis``, for q < o: k vectorised slice adds."""
    def view(i):
        key = [slice(None)] * 4
        key[axis] = slice(i, i + (o - 1) * s + 1, s)
        return a[tuple(key)]
    out = view(0).copy(order="K")  # "K": keeps a channels-last layout
    for i in range(1, k):
        out += view(i)
    return out


def _strided_sum_adjoint(g, axis: int, k: int, s: int, size: int):
    """The adjoint of _strided_sum: each g[q] is added back to the k positions q·s + i (size positions)."""
    shape = list(g.shape)
    shape[axis] = size
    out = _zeros_in_layout(g, shape)
    o = g.shape[axis]
    for i in range(k):
        key = [slice(None)] * 4
        key[axis] = slice(i, i + (o - 1) * s + 1, s)
        out[tuple(key)] += g
    return out


def _window_sum_array(x, pg: _PoolGeometry):
    """s[n, c, i, j] = Σ over window (i, j) of the zero-padded x.  Separable: a strided sum down the
    rows, then one along the columns (kh + kw slice adds, no loop over pixels)."""
    if pg.ph == pg.pw == 0 and pg.rows <= pg.h and pg.cols <= pg.w:
        src = x  # every window lies inside x: no padded copy
    else:
        src = _zeros_in_layout(x, x.shape[:2] + (pg.rows, pg.cols))
        h, w = min(pg.h, pg.rows - pg.ph), min(pg.w, pg.cols - pg.pw)  # the rows/columns windows reach
        src[:, :, pg.ph:pg.ph + h, pg.pw:pg.pw + w] = x[:, :, :h, :w]
    return _strided_sum(_strided_sum(src, 2, pg.kh, pg.sh, pg.ho), 3, pg.kw, pg.sw, pg.wo)


def _window_sum_adjoint_array(g, pg: _PoolGeometry):
    """The adjoint of the window sum: every input pixel gets the sum of g over the windows that
    cover it.  The two strided sums' adjoints in reverse order, then the padding is cut off."""
    rows, cols = max(pg.rows, pg.ph + pg.h), max(pg.cols, pg.pw + pg.w)
    t = _strided_sum_adjoint(g, 3, pg.kw, pg.sw, cols)
    full = _strided_sum_adjoint(t, 2, pg.kh, pg.sh, rows)
    return full[:, :, pg.ph:pg.ph + pg.h, pg.pw:pg.pw + pg.w]


def _window_sum(x: Tensor, pg: _PoolGeometry) -> Tensor:
    # d(window sum) = the adjoint: each pixel collects g from every window that contains it
    return apply_op(_window_sum_array(x.array, pg), (x,), lambda g, out: (_window_sum_adjoint(g, pg),),
                    "window_sum", saved=())


def _window_sum_adjoint(g: Tensor, pg: _PoolGeometry) -> Tensor:
    # linear, so its own adjoint is the window sum again (double backprop)
    return apply_op(_window_sum_adjoint_array(g.array, pg), (g,), lambda gg, out: (_window_sum(gg, pg),),
                    "window_sum_adjoint", saved=())


def avg_pool2d(x: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override=None) -> Tensor:
    """PyTorch's ``F.avg_pool2d`` on (N, C, H, W) or (C, H, W): the mean of each window,

        y[n, c, i, j] = Σ_window x_pad / divisor(i, j),

    divisor = the window's size inside the padded input (count_include_pad) or inside the input,
    or ``divisor_override``.  Linear in x: dx = window_sum_adjoint(g / divisor)."""
    return _avg_pool2d(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


def _avg_pool2d(x: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                count_include_pad: bool = True, divisor_override=None, *, _who="avg_pool2d") -> Tensor:
    """``avg_pool2d`` with ``_who``, the layer to name in errors (``AvgPool2d(...)``)."""
    if x.ndim == 3:
        return squeeze(_avg_pool2d(unsqueeze(x, 0), kernel_size, stride, padding, ceil_mode, count_include_pad,
                                  divisor_override, _who=_who), 0)
    if x.ndim != 4:
        raise ValueError(f"{_who}: expected 3-D (C, H, W) or 4-D (N, C, H, W) input, got {x.ndim}-D input "
                         f"of shape {x.shape}")
    pg = _PoolGeometry(x.shape[2:], kernel_size, stride, padding, ceil_mode, _who)
    xp = B.get_array_module(x.array)
    if divisor_override is not None:
        if int(divisor_override) == 0:
            raise ValueError(f"{_who}: divisor must be not zero")
        scale = Tensor(xp.asarray(1.0 / divisor_override, dtype=x.dtype))
    else:
        scale = Tensor(1.0 / pg.divisor(xp, count_include_pad, x.dtype))
    return _window_sum(x, pg) * scale
