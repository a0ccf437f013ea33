"""The 1-D layers of audio GANs (MelGAN, HiFi-GAN): ``Conv1d``, ``ConvTranspose1d``, their padding and pooling.

A signal (N, C, L) is an image (N, C, 1, L): every layer here runs its 2-D counterpart with a kernel of height 1
(``F.conv1d`` & co. in functional.py), so it inherits that op's fast kernels, its backward and its double
backward; only the shapes are 1-D (weights (O, C/g, k), state_dict keys and reprs as PyTorch's).
"""
from __future__ import annotations

from ..tensor import Tensor
from . import functional as F
from .conv_layers import ConstantPad2d, _Conv, _ConvTranspose, _MaxPoolNd, _PadNd
from .functional import _one
from .module import Module

__all__ = ["Conv1d", "ConvTranspose1d", "AvgPool1d", "MaxPool1d", "ReflectionPad1d", "ReplicationPad1d",
           "ConstantPad1d", "ZeroPad1d"]


class Conv1d(_Conv):
    """y = conv1d(x, W) + b on (N, C_in, L); weight (out, in/groups, k), bias (out,); Conv2d's constructor,
    checks, init and repr on 1-tuples (a Conv1d is not a Conv2d, as in torch: they share ``_Conv``)."""

    _dims = 1
    _conv = F.conv1d


class ConvTranspose1d(_ConvTranspose):
    """The adjoint of Conv1d on (N, C_in, L); weight (in, out/groups, k), bias (out,)."""

    _dims = 1
    _conv = F.conv_transpose1d


class AvgPool1d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False, count_include_pad: bool = True):
        super().__init__()
        k = _one(kernel_size, "kernel_size", "AvgPool1d")
        self.kernel_size = (k,)
        self.stride = (k if stride is None or stride == [] else _one(stride, "stride", "AvgPool1d"),)
        self.padding = (_one(padding, "padding", "AvgPool1d"),)
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad,
                          _who=self)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool1d(_MaxPoolNd):
    _pool = F.max_pool1d


class ReflectionPad1d(_PadNd):
    """Mirror padding of a signal (MelGAN pads before its wide convolutions with it)."""

    mode, _dims = "reflect", 1

    def __init__(self, padding):
        super().__init__(padding)


class ReplicationPad1d(_PadNd):
    mode, _dims = "replicate", 1

    def __init__(self, padding):
        super().__init__(padding)


class ConstantPad1d(_PadNd):
    _dims = 1
    extra_repr = ConstantPad2d.extra_repr


class ZeroPad1d(_PadNd):
    _dims = 1

    def __init__(self, padding):
        super().__init__(padding, 0.0)
