"""The functional surface, ``import scratchgan.nn.functional as F`` as ``torch.nn.functional``.

The ops themselves live with their backward passes in the engine: ``scratchgan/ops.py`` (pointwise,
reductions, softmax, pad), ``conv.py`` (convolutions, pooling), ``norm.py`` (batch, layer,
instance and group norm) and ``losses.py``; this module gathers them under PyTorch's names and adds the few that are compositions.
"""
from __future__ import annotations

import math
import warnings

from .. import backend as B
from .._unsupported import NOT_A_GAN_LAYER as _NOT_A_GAN_LAYER
from .._unsupported import module_getattr as _module_getattr
from .. import losses as L
from ..losses import _check_same_shape, bce, bce_with_logits
from ..losses import reduce as reduce_loss  # ``reduce`` is also the name of torch's legacy loss argument
from .. import ops
from ..ops import embedding as _embedding
from ..ops import (leaky_relu_, linear, log_softmax, logsigmoid, normalize, one_hot, pad, relu_, sigmoid, softmax,
                  tanh)
from ..tensor import Tensor
from .. import conv as C
from ..conv import avg_pool2d, conv2d, conv_transpose2d, interpolate
from ..math_ops import erf, expm1
from ..norm import batch_norm, group_norm, instance_norm, layer_norm
from ..pooling import adaptive_avg_pool2d, max_pool2d
from ..sampling import affine_grid, grid_sample

__all__ = [
    "linear", "relu", "relu_", "leaky_relu", "leaky_relu_", "tanh", "sigmoid", "softplus", "logsigmoid", "dropout",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "mse_loss",
    "conv2d", "conv_transpose2d", "batch_norm", "interpolate",
    "layer_norm", "instance_norm", "group_norm", "avg_pool2d", "l1_loss", "nll_loss", "cross_entropy",
    "softmax", "log_softmax", "one_hot", "pad", "normalize", "embedding",
    "elu", "silu", "gelu", "prelu", "pixel_shuffle", "pixel_unshuffle", "max_pool2d", "adaptive_avg_pool2d",
    "smooth_l1_loss", "huber_loss", "kl_div", "cosine_similarity", "pairwise_distance", "affine_grid", "grid_sample",
    "hardtanh", "relu6", "selu", "celu", "mish", "softsign", "hardswish", "hardsigmoid", "softmin", "threshold", "glu",
    "tanhshrink", "hardshrink", "softshrink", "dropout2d", "upsample", "upsample_bilinear", "upsample_nearest",
    "conv1d", "conv_transpose1d", "avg_pool1d", "max_pool1d",
]


def relu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002 - PyTorch's names
    """max(x, 0); ``inplace=True`` writes into ``input`` and returns it (autograd's rules: tensor.py)."""
    return relu_(input) if inplace else ops.relu(input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:  # noqa: A002
    """max(x, s·x); ``inplace=True`` writes into ``input`` and returns it."""
    return leaky_relu_(input, negative_slope) if inplace else ops.leaky_relu(input, negative_slope)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:  # noqa: A002
    """(1/β)·log(1 + e^(βx)), and x itself where βx > threshold, as torch (there the two agree to e^-threshold)."""
    bx = input * beta if beta != 1 else input
    soft = ops.softplus(bx)
    if beta != 1:
        soft = soft / beta
    return ops.where(bx > threshold, input, soft)


def _maybe_inplace(fn, input: Tensor, inplace: bool) -> Tensor:
    """fn(input), or with ``inplace`` its result written into input (autograd's in-place rules); the graph
    then reads a clone of input, which the write leaves alone."""
    return input.copy_(fn(input.clone())) if inplace else fn(input)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:  # noqa: A002
    """x for x > 0, α(eˣ − 1) for x ≤ 0 (there the gradient is αeˣ, α at 0, as torch).  expm1 reads x only
    where x ≤ 0 and 0 elsewhere: no overflow for large x, no NaN from the branch a NaN does not take (whose
    gradient would be 0·NaN), and the digits of small negative x."""
    def f(x):
        negative = x <= 0
        return ops.where(negative, expm1(ops.where(negative, x, 0.0)) * alpha, x)

    return _maybe_inplace(f, input, inplace)


def silu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """x·σ(x) (swish)."""
    return _maybe_inplace(lambda x: x * ops.sigmoid(x), input, inplace)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:  # noqa: A002
    """x·Φ(x) = ½x(1 + erf(x/√2)) (Φ the standard normal CDF; ``math_ops.erf`` computes erf), or with
    approximate="tanh" torch's ½x(1 + tanh(√(2/π)(x + 0.044715x³))), within 5e-4 and a few passes cheaper."""
    x = input
    if approximate == "none":
        return x * 0.5 * (erf(x * (1.0 / math.sqrt(2.0))) + 1.0)
    if approximate != "tanh":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return x * 0.5 * (ops.tanh((x + x * x * x * 0.044715) * math.sqrt(2.0 / math.pi)) + 1.0)


def prelu(input: Tensor, weight: Tensor) -> Tensor:  # noqa: A002
    """x for x ≥ 0, a·x below, a learned: one slope, or one per channel (dim 1)."""
    if weight.numel() != 1:
        c = input.shape[1] if input.ndim >= 2 else input.shape[0]
        if weight.numel() != c:
            raise ValueError(f"prelu: weight has {weight.numel()} slopes but the input has {c} channels "
                             f"(shape {input.shape})")
        if input.ndim >= 2:
            weight = weight.reshape((1, c) + (1,) * (input.ndim - 2))
    return ops.where(input > 0, input, input * weight)  # at 0 the gradient is the slope, as torch


def _shuffle_check(x: Tensor, who: str, channels_divisor: int, spatial_divisor: int):
    if x.ndim < 3:
        raise ValueError(f"{who}: expected an input of at least 3 dims (*, C, H, W), got shape {x.shape}")
    c, h, w = x.shape[-3:]
    if c % channels_divisor or h % spatial_divisor or w % spatial_divisor:
        raise ValueError(f"{who}: input of shape {x.shape} does not divide: channels by {channels_divisor}, "
                         f"height and width by {spatial_divisor}")


# ---- more activations: compositions, each with torch's gradient at its kinks (written beside it) ------------
def _inside(x: Tensor, lo, hi) -> Tensor:
    """x where lo < x < hi, else x clipped to the edge as a constant: the gradient passes strictly inside only
    (torch's hardtanh family is exclusive at its corners, where ``clamp`` is inclusive)."""
    xp = B.get_array_module(x.array)
    inside = Tensor((x.array > lo) & (x.array < hi))
    return ops.where(inside, x, Tensor(xp.clip(x.array, lo, hi)))


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:  # noqa: A002
    return _maybe_inplace(lambda x: _inside(x, min_val, max_val), input, inplace)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    return hardtanh(input, 0.0, 6.0, inplace)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """relu6(x + 3)/6; the gradient 1/6 strictly inside (−3, 3)."""
    return _maybe_inplace(lambda x: _inside(x, -3.0, 3.0) * (1.0 / 6.0) + 0.5, input, inplace)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """x·relu6(x + 3)/6; torch's gradient: 0 up to −3, x/3 + ½ strictly between, 1 from 3 on."""
    return _maybe_inplace(lambda x: ops.where(x <= -3.0, x * 0.0, ops.where(x < 3.0, x * (x + 3.0) * (1.0 / 6.0), x)),
                          input, inplace)


_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def selu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """scale·elu(x, α) with the self-normalising constants of Klambauer et al. (2017)."""
    return _maybe_inplace(lambda x: elu(x, _SELU_ALPHA) * _SELU_SCALE, input, inplace)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:  # noqa: A002
    """x for x > 0, α(e^(x/α) − 1) for x ≤ 0."""
    def f(x):
        negative = x <= 0
        return ops.where(negative, expm1(ops.where(negative, x, 0.0) * (1.0 / alpha)) * alpha, x)

    return _maybe_inplace(f, input, inplace)


def mish(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """x·tanh(softplus(x))."""
    return _maybe_inplace(lambda x: x * ops.tanh(ops.softplus(x)), input, inplace)


def softsign(input: Tensor) -> Tensor:  # noqa: A002
    return input / (input.abs() + 1.0)


def tanhshrink(input: Tensor) -> Tensor:  # noqa: A002
    return input - ops.tanh(input)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:  # noqa: A002
    return ops.where(input.abs() > lambd, input, input * 0.0)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:  # noqa: A002
    return ops.where(input > lambd, input - lambd, ops.where(input < -lambd, input + lambd, input * 0.0))


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:  # noqa: A002
    """x where x > threshold, else value."""
    return _maybe_inplace(lambda x: ops.where(x > threshold, x, value), input, inplace)


def softmin(input: Tensor, dim=None, _stacklevel: int = 3, dtype=None) -> Tensor:  # noqa: A002
    return softmax(-input, dim, _stacklevel, dtype)


def glu(input: Tensor, dim: int = -1) -> Tensor:  # noqa: A002
    """a·σ(b), a and b the two halves of ``input`` along dim (the gated linear unit of FastGAN's generator)."""
    if input.shape[dim] % 2:
        raise RuntimeError(f"glu: halving dimension must be even, but dimension {dim} is size {input.shape[dim]}")
    a, b = ops.chunk(input, 2, dim)
    return a * ops.sigmoid(b)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:  # noqa: A002
    """Zeroes whole channels: one keep/drop draw per (sample, channel) of an (N, C, H, W) or (C, H, W) input,
    the kept channels scaled by 1/(1−p), so that E[mask] = 1 keeps the expected activation."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout2d: probability has to be between 0 and 1, got {p}")
    if input.ndim not in (3, 4):
        raise ValueError(f"Dropout2d: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape {input.shape}")
    if not training or p == 0.0:
        return input
    # one draw per channel, broadcast over H and W
    mask = dropout(Tensor(B.get_array_module(input.array).ones(input.shape[:-2] + (1, 1), dtype=input.dtype)), p, True)
    return input.mul_(mask) if inplace else input * mask


def upsample(input: Tensor, size=None, scale_factor=None, mode: str = "nearest", align_corners=None) -> Tensor:  # noqa: A002
    """Deprecated in torch for ``interpolate`` (with a warning), and here too."""
    warnings.warn("`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Tensor, size=None, scale_factor=None) -> Tensor:  # noqa: A002
    """torch's deprecated form of ``interpolate(mode="nearest")`` (the engine's op by integer factors is
    ``scratchgan.conv.upsample_nearest``)."""
    warnings.warn("`nn.functional.upsample_nearest` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size=None, scale_factor=None) -> Tensor:  # noqa: A002
    warnings.warn("`nn.functional.upsample_bilinear` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# ---- 1-D convolution and pooling: a signal (N, C, L) is an image (N, C, 1, L) with a kernel of height 1 -------
def _one(v, name: str, who) -> int:
    """An int or a 1-tuple, as torch's 1-D layers take them."""
    if isinstance(v, (tuple, list)):
        if len(v) != 1:
            raise ValueError(f"{who}: {name} must be an int or a 1-tuple, got {v!r}")
        v = v[0]
    return int(v)


def _as_image(x: Tensor, who) -> tuple:
    """(N, C, 1, L) from (N, C, L) or unbatched (C, L), and how to undo it."""
    if x.ndim not in (2, 3):
        raise ValueError(f"{who}: expected 2-D (C, L) or 3-D (N, C, L) input, got {x.ndim}-D input of shape {x.shape}")
    return ops.unsqueeze(x, -2), (lambda y: ops.squeeze(y, -2))


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,  # noqa: A002
           groups: int = 1, *, _who="conv1d") -> Tensor:
    """``F.conv1d``: x (N, C, L), weight (O, C/groups, k): conv2d on (N, C, 1, L) with a (1, k) kernel."""
    if weight.ndim != 3:
        raise ValueError(f"{_who}: expected a 3-D weight (O, C/groups, k), got shape {weight.shape}")
    k, s, d = weight.shape[2], _one(stride, "stride", _who), _one(dilation, "dilation", _who)
    p = C.string_padding(padding, (1, k), (1, s), (1, d), _who)[1] if isinstance(padding, str) else \
        _one(padding, "padding", _who)
    x, back = _as_image(input, _who)
    return back(C._conv2d(x, ops.unsqueeze(weight, 2), bias, (1, s), (0, p), (1, d), groups, _who=_who))


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,  # noqa: A002
                     output_padding=0, groups: int = 1, dilation=1, *, output_size=None,
                     _who="conv_transpose1d") -> Tensor:
    """``F.conv_transpose1d``: x (N, C, L), weight (C, O/groups, k): conv_transpose2d with a (1, k) kernel."""
    if weight.ndim != 3:
        raise ValueError(f"{_who}: expected a 3-D weight (C, O/groups, k), got shape {weight.shape}")
    x, back = _as_image(input, _who)
    size = None if output_size is None else (1, tuple(output_size)[-1])
    return back(C._conv_transpose2d(x, ops.unsqueeze(weight, 2), bias, (1, _one(stride, "stride", _who)),
                                    (0, _one(padding, "padding", _who)),
                                    (0, _one(output_padding, "output_padding", _who)), groups,
                                    (1, _one(dilation, "dilation", _who)), output_size=size, _who=_who))


def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,  # noqa: A002
               count_include_pad: bool = True, *, _who="avg_pool1d") -> Tensor:
    k = _one(kernel_size, "kernel_size", _who)
    s = k if stride is None or stride == [] else _one(stride, "stride", _who)
    x, back = _as_image(input, _who)
    return back(C._avg_pool2d(x, (1, k), (1, s), (0, _one(padding, "padding", _who)), ceil_mode, count_include_pad,
                              _who=_who))


def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,  # noqa: A002
               return_indices: bool = False, *, _who="max_pool1d"):
    k = _one(kernel_size, "kernel_size", _who)
    s = k if stride is None or stride == [] else _one(stride, "stride", _who)
    x, back = _as_image(input, _who)
    out = max_pool2d(x, (1, k), (1, s), (0, _one(padding, "padding", _who)), (1, _one(dilation, "dilation", _who)),
                     ceil_mode, return_indices, _who=_who)
    if return_indices:  # positions in the (1, L) plane are positions along L
        return back(out[0]), Tensor(out[1].array[..., 0, :])
    return back(out)


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:  # noqa: A002
    """(*, C·r², H, W) -> (*, C, H·r, W·r): each group of r² channels becomes an r×r block of pixels.  A
    reshape and a permute, so its backward is their inverse (sub-pixel convolution upsampling, SRGAN)."""
    r = int(upscale_factor)
    _shuffle_check(input, "pixel_shuffle", r * r, 1)
    *lead, c, h, w = input.shape
    k = len(lead)
    x = input.reshape(*lead, c // (r * r), r, r, h, w)
    x = x.permute(*range(k), k, k + 3, k + 1, k + 4, k + 2)  # (*, C, H, r, W, r)
    return x.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:  # noqa: A002
    """The inverse of pixel_shuffle: (*, C, H·r, W·r) -> (*, C·r², H, W)."""
    r = int(downscale_factor)
    _shuffle_check(input, "pixel_unshuffle", 1, r)
    *lead, c, h, w = input.shape
    k = len(lead)
    x = input.reshape(*lead, c, h // r, r, w // r, r)
    x = x.permute(*range(k), k, k + 2, k + 4, k + 1, k + 3)  # (*, C, r, r, H, W)
    return x.reshape(*lead, c * r * r, h // r, w // r)


def dropout(x: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1−p) (inverted dropout),
    so evaluation needs no rescaling.  The mask is drawn from the seeded host generator.
    ``inplace=True`` writes the result into x (autograd's in-place rules, as ``x.mul_``)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability has to be between 0 and 1, got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        mask = Tensor(B.get_array_module(x.array).zeros((), dtype=x.dtype))
    else:
        keep = B.host_rng().random(x.shape) >= p
        mask = Tensor(B.to_device((keep / (1.0 - p)).astype(x.dtype), x.device))
    return x.mul_(mask) if inplace else x * mask


def binary_cross_entropy(input: Tensor, target, weight=None, reduction: str = "mean") -> Tensor:  # noqa: A002
    return bce(input, target, weight=weight, reduction=reduction)


def binary_cross_entropy_with_logits(input: Tensor, target, weight=None, reduction: str = "mean",  # noqa: A002
                                     pos_weight=None) -> Tensor:
    if pos_weight is not None:
        raise NotImplementedError("binary_cross_entropy_with_logits: pos_weight is not implemented")
    return bce_with_logits(input, target, weight=weight, reduction=reduction)


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:  # noqa: A002
    _check_same_shape("mse_loss", input, target)
    d = input - target
    return reduce_loss(d * d, reduction)


def embedding(input, weight: Tensor, padding_idx: int | None = None, max_norm=None, norm_type: float = 2.0,  # noqa: A002
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """``weight[input]``: look up rows of an embedding table; ``padding_idx``'s row gets no gradient."""
    if max_norm is not None:
        raise NotImplementedError("embedding: max_norm (renormalising rows in place) is not implemented")
    if scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding: scale_grad_by_freq and sparse gradients are not implemented")
    if padding_idx is not None and padding_idx < 0:
        padding_idx += weight.shape[0]
    return _embedding(input, weight, padding_idx)


# ---- classification and L1 losses: PyTorch's full signatures ----------------------------------------
def _no_legacy(who, size_average, reduce):
    if size_average is not None or reduce is not None:
        raise NotImplementedError(f"{who}: the deprecated size_average/reduce arguments are not supported; "
                                  "use reduction='mean' | 'sum' | 'none'")


def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean") -> Tensor:  # noqa: A002
    _no_legacy("l1_loss", size_average, reduce)
    return L.l1_loss(input, target, reduction)


def nll_loss(input: Tensor, target: Tensor, weight=None, size_average=None, ignore_index: int = -100,  # noqa: A002
             reduce=None, reduction: str = "mean") -> Tensor:
    _no_legacy("nll_loss", size_average, reduce)
    return L.nll_loss(input, target, weight, ignore_index, reduction)


def cross_entropy(input: Tensor, target: Tensor, weight=None, size_average=None, ignore_index: int = -100,  # noqa: A002
                  reduce=None, reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    _no_legacy("cross_entropy", size_average, reduce)
    return L.cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing)


# ---- more losses and distances, as compositions of Tensor ops (their gradients come from the ops) ----------
def smooth_l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",  # noqa: A002
                   beta: float = 1.0) -> Tensor:
    """½d²/β where d = |x − y| < β, else d − ½β: quadratic near 0, linear far out (β = 0 is L1)."""
    _no_legacy("smooth_l1_loss", size_average, reduce)
    _check_same_shape("smooth_l1_loss", input, target)
    d = (input - target).abs()
    if beta == 0:
        return reduce_loss(d, reduction)
    return reduce_loss(ops.where(d < beta, d * d * (0.5 / beta), d - 0.5 * beta), reduction)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0) -> Tensor:  # noqa: A002
    """½d² where d = |x − y| < δ, else δ(d − ½δ): smooth_l1_loss times δ (with β = δ)."""
    _check_same_shape("huber_loss", input, target)
    d = (input - target).abs()
    return reduce_loss(ops.where(d < delta, d * d * 0.5, (d - 0.5 * delta) * delta), reduction)


def kl_div(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",  # noqa: A002
           log_target: bool = False) -> Tensor:
    """KL(target ‖ exp(input)) pointwise, ``input`` being log-probabilities: t·(log t − x), 0 where t = 0
    (t·log t → 0); with ``log_target``, eᵗ·(t − x).  reduction "batchmean" divides the sum by the batch size
    (the true KL divergence per sample); "mean" divides by every element, as torch (which warns about it)."""
    _no_legacy("kl_div", size_average, reduce)
    if log_target:
        pointwise = ops.exp(target) * (target - input)
    else:
        positive = target > 0  # log of 1 where t = 0, so the unused branch has no -inf (nor a NaN gradient)
        pointwise = ops.where(positive, target * (ops.log(ops.where(positive, target, 1.0)) - input), 0.0)
    if reduction == "batchmean":
        return pointwise.sum() / (input.shape[0] if input.ndim else 1)
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size."
                      "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                      "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                      UserWarning, stacklevel=2)
    return reduce_loss(pointwise, reduction)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """⟨x1, x2⟩ / (‖x1‖·‖x2‖) along dim (the two broadcast), each norm at least eps, as torch."""
    n1 = ops.clamp(x1.norm(dim=dim, keepdim=True), min=eps)
    n2 = ops.clamp(x2.norm(dim=dim, keepdim=True), min=eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim=dim)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """‖x1 − x2 + eps‖ along the last dim (the eps keeps the gradient finite where x1 = x2); p = 2 only."""
    if p != 2:
        raise NotImplementedError(f"pairwise_distance: only p=2 is implemented, got p={p!r}")
    return (x1 - x2 + eps).norm(dim=-1, keepdim=keepdim)


# The functional forms of the layers nn leaves out (nn/__init__.py) say so by name, as the layers do.
__getattr__ = _module_getattr(__name__, {
    "conv3d": _NOT_A_GAN_LAYER,
})
