"""2-D convolution, transposed convolution, nearest, bilinear and bicubic upsampling, and average pooling (NCHW;
grouped convolutions are a loop of these over the groups).

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

Each op below is its forward on arrays, then ``apply_op`` with the backward closure beside it.
How the forwards are computed fast (im2col/col2im GEMMs on a channels-last layout, batch
chunks, reused scratch buffers) is ``kernels.py``; the plain versions of conv2d and
conv_transpose2d, as compositions of Tensor ops that autograd differentiates, are
``reference.py``, and the tests check that both agree.
"""
from __future__ import annotations

from . import backend as B
from . import kernels as K
from .norm import channel_sum
from .ops import cat, getitem, squeeze, unsqueeze, where
from .tensor import Tensor, apply_op

_np = B.numpy  # host NumPy, for the few tap positions and weights of bilinear and bicubic resizing

__all__ = ["conv2d", "conv_transpose2d", "conv2d_weight", "interpolate", "upsample_nearest", "avg_pool2d",
           "conv2d_output_size", "conv_transpose2d_output_size"]


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
    if not isinstance(groups, int) or groups < 1:
        raise ValueError(f"{who}: groups must be a positive integer, got {groups!r}")


def _grouped(op, x: Tensor, weight: Tensor, bias, groups: int, who, **kw) -> Tensor:
    """A grouped convolution: the channels split into ``groups`` independent convolutions (group i's input
    channels with group i's slice of the weight's first dim, (O/g, C/g, kh, kw) for conv2d and (C/g, O/g, kh, kw)
    for conv_transpose2d), their outputs concatenated.  A loop over groups (one GEMM each, not a loop over
    pixels); slicing and ``cat`` carry the gradients back, so double backprop works as for groups=1."""
    _check_4d(x, who)
    _check_4d(weight, who, "weight")
    c_in = weight.shape[0] if op is _conv_transpose2d else weight.shape[1] * groups
    if x.shape[1] != c_in or weight.shape[0] % groups:
        raise ValueError(f"{who}: with groups={groups}, expected input with {c_in} channels and a weight whose "
                         f"first dim divides by {groups}; got input {x.shape} and weight {weight.shape}")
    x_step, w_step = x.shape[1] // groups, weight.shape[0] // groups
    out = []
    for i in range(groups):
        w_i = weight[i * w_step:(i + 1) * w_step]
        n_out = w_i.shape[1] if op is _conv_transpose2d else w_i.shape[0]
        b_i = None if bias is None else bias[i * n_out:(i + 1) * n_out]
        out.append(op(x[:, i * x_step:(i + 1) * x_step], w_i, b_i, **kw))
    return cat(out, dim=1)


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
            groups: int = 1, *, _cols: K.Im2col | None = None, _who="conv2d") -> Tensor:
    """``conv2d`` with two private keywords: ``_who`` names the layer in errors (``Conv2d(...)``);
    ``_cols``, an im2col of the input that ``conv_transpose2d``'s backward shares between its two GEMMs."""
    _check_groups(groups, _who)
    if x.ndim == 3:  # one unbatched (C, H, W) image, as torch accepts
        return squeeze(_conv2d(unsqueeze(x, 0), weight, bias, stride, padding, dilation, groups, _who=_who), 0)
    if groups > 1:
        return _grouped(_conv2d, x, weight, bias, groups, _who, stride=stride, padding=padding, dilation=dilation,
                        _who=_who)
    _check_4d(weight, _who, "weight")
    if isinstance(padding, str):
        padding = string_padding(padding, weight.shape[2:], stride, dilation, _who)
    geom = _Geometry(weight.shape[2:], stride, padding, dilation, _who)
    _check_conv_input(x, weight.shape, geom, _who)
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"{_who}: bias must have shape ({weight.shape[0]},), got {bias.shape}")
    data = K.conv2d_array(x.array, weight.array, geom, _cols)
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
    if x.ndim == 3:  # one unbatched (C, H, W) image, as torch accepts
        return squeeze(_conv_transpose2d(unsqueeze(x, 0), weight, bias, stride, padding, output_padding, groups,
                                         dilation, output_size=output_size, _who=_who), 0)
    if groups > 1:
        return _grouped(_conv_transpose2d, x, weight, bias, groups, _who, stride=stride, padding=padding,
                        output_padding=output_padding, dilation=dilation, output_size=output_size, _who=_who)
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
    data = K.conv_transpose2d_array(x.array, weight.array, geom, out_hw)
    if bias is not None:
        data += bias.array.reshape(1, -1, 1, 1)

    def backward(g, out):
        hw = x.shape[2:]
        natural = geom.conv_out(out_hw[0], out_hw[1])
        # one im2col of g serves both GEMMs below (when no crop is needed)
        cols = K.Im2col(g.array, geom, hw) if natural == tuple(hw) else None
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
                   groups: int = 1, *, _cols: K.Im2col | None = None) -> Tensor:
    """``conv2d_weight`` with ``_cols``, an im2col of x already made by ``conv_transpose2d``'s backward."""
    if groups != 1:
        raise NotImplementedError(f"conv2d_weight: groups={groups} is not implemented (only groups=1; a grouped "
                                  "conv2d's weight gradient comes from its groups' own conv2d_weight)")
    weight_size = tuple(weight_size)
    geom = _Geometry(weight_size[2:], stride, padding, dilation, "conv2d_weight")
    g = grad_output
    data = K.conv2d_weight_array(x.array, g.array, weight_size, geom, _cols)

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
    xh = K.nhwc(x)
    n, h, w, c = xh.shape
    out = xp.empty((n, h, fh, w, fw, c), dtype=x.dtype)
    out[...] = xh[:, :, None, :, None, :]
    return K.nchw(out.reshape(n, h * fh, w * fw, c))


def _sum_pool_array(g, fh: int, fw: int):
    gh = K.nhwc(g)
    n, hs, ws, c = gh.shape
    return K.nchw(gh.reshape(n, hs // fh, fh, ws // fw, fw, c).sum(axis=(2, 4)))


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


def interpolate(x: Tensor, size=None, scale_factor=None, mode: str = "nearest", align_corners=None,
                recompute_scale_factor=None, antialias: bool = False) -> Tensor:
    """``F.interpolate`` on (N, C, H, W), mode 'nearest' (source index ⌊dst·in/out⌋, PyTorch's legacy
    'nearest'; integer factors take a fast repeat path, other sizes gather by index), 'bilinear' or 'bicubic'
    (``interpolate_bilinear``/``_bicubic``: two or four taps per output pixel along each axis)."""
    if mode not in ("nearest", "bilinear", "bicubic"):
        raise NotImplementedError(f"interpolate: mode {mode!r} is not implemented (nearest, bilinear, bicubic)")
    if align_corners is not None and mode == "nearest":
        raise ValueError("interpolate: align_corners only applies to linear modes, not 'nearest'")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not implemented")
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
        if mode == "nearest" and float(sf[0]).is_integer() and float(sf[1]).is_integer():
            return _upsample_nearest_op(x, int(sf[0]), int(sf[1]))
    if oh < 1 or ow < 1:
        raise ValueError(f"interpolate: output size {(oh, ow)} must be positive")
    if mode in ("bilinear", "bicubic"):
        resize = interpolate_bilinear if mode == "bilinear" else interpolate_bicubic
        given = scale_factor is not None and not recompute_scale_factor  # torch then uses 1/scale_factor
        return resize(x, (oh, ow), (scale_h, scale_w) if given else (None, None), bool(align_corners))
    if oh % h == 0 and ow % w == 0 and size is not None:
        return _upsample_nearest_op(x, oh // h, ow // w)
    xp = B.get_array_module(x.array)
    rows = xp.minimum((xp.arange(oh) * scale_h).astype(xp.int64), h - 1)
    cols = xp.minimum((xp.arange(ow) * scale_w).astype(xp.int64), w - 1)
    return getitem(x, (slice(None), slice(None), rows[:, None], cols[None, :]))


def _taps(x: Tensor, axis: int, index, weight, valid=None) -> Tensor:
    """y[..., o, ...] = Σ_k weight[o, k] · x[..., index[o, k], ...] along ``axis`` (2 or 3 of NCHW): each output
    position mixes K input positions (bilinear: 2, adaptive pooling: a bin).  ``valid[o, k]`` False drops a tap
    (its index is any position in range).  Only the taps are read, as torch reads them, so an inf or NaN
    stays where it is (a matrix over every pixel would spread it as 0·inf); indexing, a product and a sum,
    so the gradient goes back through getitem's scatter-add, and again for double backprop."""
    xp = B.get_array_module(x.array)
    index = B.to_device(index, x.device)
    key = (slice(None), slice(None), index) if axis == 2 else (Ellipsis, index)
    picked = getitem(x, key)  # (N, C, out, K, W) along H, (N, C, H, out, K) along W
    shape = (1, 1, *weight.shape, 1) if axis == 2 else (1, 1, 1, *weight.shape)
    if valid is not None:
        picked = where(Tensor(B.to_device(valid.reshape(shape), x.device)), picked, Tensor(xp.zeros((), x.dtype)))
    w = Tensor(B.to_device(weight.reshape(shape).astype(x.dtype), x.device))
    return (picked * w).sum(dim=axis + 1)


def _source_positions(n_in: int, n_out: int, scale: float | None, align_corners: bool):
    """torch's source position of each output pixel: o·(n_in − 1)/(n_out − 1) with align_corners, else
    (o + ½)·scale − ½ (scale = n_in/n_out, or 1/scale_factor when given).  Host NumPy: a handful of
    positions per size, not tensor data."""
    o = _np.arange(n_out, dtype=_np.float64)
    if align_corners:
        return o * ((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0)
    return (o + 0.5) * (n_in / n_out if scale is None else scale) - 0.5


def _linear_taps(n_in: int, n_out: int, scale: float | None, align_corners: bool):
    """The (n_out, 2) taps of linear interpolation: the source position clamped at 0; output o mixes inputs
    ⌊src⌋ and ⌊src⌋ + 1 (the last one repeated at the edge), weights 1 − λ and λ."""
    src = _np.maximum(_source_positions(n_in, n_out, scale, align_corners), 0.0)
    i0 = _np.minimum(_np.floor(src).astype(_np.int64), n_in - 1)
    lam = src - i0
    return _np.stack([i0, _np.minimum(i0 + 1, n_in - 1)], axis=1), _np.stack([1.0 - lam, lam], axis=1)


def _cubic_taps(n_in: int, n_out: int, scale: float | None, align_corners: bool):
    """The (n_out, 4) taps of cubic convolution (Keys' kernel with a = −0.75, as torch): the source position
    not clamped; output o mixes inputs ⌊src⌋ − 1 … ⌊src⌋ + 2 (indices clamped to the image, so the edge pixel
    repeats) with the kernel's weights at distances 1 + t, t, 1 − t, 2 − t (t = src − ⌊src⌋)."""
    a = -0.75
    src = _source_positions(n_in, n_out, scale, align_corners)
    i0 = _np.floor(src).astype(_np.int64)
    t = src - i0

    def near(d):  # |d| <= 1: (a + 2)|d|³ − (a + 3)|d|² + 1
        return ((a + 2) * d - (a + 3)) * d * d + 1

    def far(d):  # 1 < |d| < 2: a|d|³ − 5a|d|² + 8a|d| − 4a
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a

    index = _np.clip(i0[:, None] + _np.arange(-1, 3), 0, n_in - 1)
    return index, _np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], axis=1)


def _resize(x: Tensor, out_hw, taps, scales, align_corners: bool) -> Tensor:
    """(N, C, H, W) to ``out_hw``: ``taps`` along H, then along W."""
    (h, w), (oh, ow) = x.shape[2:], out_hw
    y = _taps(x, 2, *taps(h, oh, scales[0], align_corners))
    return _taps(y, 3, *taps(w, ow, scales[1], align_corners))


def interpolate_bilinear(x: Tensor, out_hw, scales=(None, None), align_corners: bool = False) -> Tensor:
    """(N, C, H, W) resized to ``out_hw`` by bilinear interpolation, as torch's ``mode="bilinear"``: linear
    along H, then along W (two taps each), the same weights torch applies pixel by pixel."""
    return _resize(x, out_hw, _linear_taps, scales, align_corners)


def interpolate_bicubic(x: Tensor, out_hw, scales=(None, None), align_corners: bool = False) -> Tensor:
    """(N, C, H, W) resized by cubic convolution, torch's ``mode="bicubic"``: four taps along H, then along W."""
    return _resize(x, out_hw, _cubic_taps, scales, align_corners)


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
