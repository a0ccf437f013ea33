"""The 1-D layers of audio GANs (MelGAN, HiFi-GAN): ``Conv1d``, ``ConvTranspose1d``, their padding and pooling.

A signal (N, C, L) is an image (N, C, 1, L): every layer here runs its 2-D counterpart with a kernel of height 1
(``F.conv1d`` & co. in functional.py), so it inherits that op's fast kernels, its backward and its double
backward; only the shapes are 1-D (weights (O, C/g, k), state_dict keys and reprs as PyTorch's).
"""
from __future__ import annotations

from ..tensor import Tensor
from . import functional as F
from .conv_layers import Conv2d, ConvTranspose2d, MaxPool2d, _PadNd
from .functional import _one
from .module import Module

__all__ = ["Conv1d", "ConvTranspose1d", "AvgPool1d", "MaxPool1d", "ReflectionPad1d", "ReplicationPad1d",
           "ConstantPad1d", "ZeroPad1d"]


class Conv1d(Conv2d):
    """y = conv1d(x, W) + b on (N, C_in, L); weight (out, in/groups, k), bias (out,); Conv2d's hyper-parameter
    checks, init and repr on 1-tuples."""

    _dims = 1

    def forward(self, x: Tensor) -> Tensor:
        if self.padding_mode != "zeros":  # pad by mirroring (MelGAN), repeating or wrapping, then convolve
            p = self.padding[0]
            x = F.pad(x, (p, p), mode=self.padding_mode)
            return F.conv1d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups, _who=self)
        return F.conv1d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups, _who=self)


class ConvTranspose1d(ConvTranspose2d):
    """The adjoint of Conv1d on (N, C_in, L); weight (in, out/groups, k), bias (out,)."""

    _dims = 1

    def forward(self, x: Tensor, output_size=None) -> Tensor:
        return F.conv_transpose1d(x, self.weight, self.bias, self.stride, self.padding, self.output_padding,
                                  self.groups, self.dilation, output_size=output_size, _who=self)


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


class MaxPool1d(MaxPool2d):
    def forward(self, x: Tensor):
        return F.max_pool1d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                            self.return_indices, _who=self)


class _Pad1d(_PadNd):
    """Pads the last dim: an int for both sides, or (left, right)."""

    def __init__(self, padding, value: float = 0.0):
        Module.__init__(self)
        self.padding = (padding,) * 2 if isinstance(padding, int) else tuple(padding)
        if len(self.padding) != 2:
            raise ValueError(f"{type(self).__name__}: padding must be an int or 2 numbers (left, right), "
                             f"got {padding!r}")
        self.value = value

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in (2, 3):
            raise ValueError(f"{self!r}: expected 2-D (C, L) or 3-D (N, C, L) input, got shape {x.shape}")
        return F.pad(x, self.padding, self.mode, self.value if self.mode == "constant" else None)


class ReflectionPad1d(_Pad1d):
    """Mirror padding of a signal (MelGAN pads before its wide convolutions with it)."""

    mode = "reflect"

    def __init__(self, padding):
        super().__init__(padding)


class ReplicationPad1d(_Pad1d):
    mode = "replicate"

    def __init__(self, padding):
        super().__init__(padding)


class ConstantPad1d(_Pad1d):
    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ZeroPad1d(_Pad1d):
    def __init__(self, padding):
        super().__init__(padding, 0.0)
