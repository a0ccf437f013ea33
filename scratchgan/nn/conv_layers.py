"""Conv2d, ConvTranspose2d, Upsample, the pooling, padding and pixel-shuffle layers, with PyTorch's signatures,
names, shapes and init."""
from __future__ import annotations

from .. import backend as B
from .. import conv as C
from .. import kernels as K
from ..pooling import adaptive_avg_pool2d, max_pool2d
from ..tensor import Tensor
from . import functional as F
from .init import default_layer_init_
from .module import Module, new_parameter

__all__ = ["Conv2d", "ConvTranspose2d", "Upsample", "UpsamplingNearest2d", "AvgPool2d", "MaxPool2d",
           "AdaptiveAvgPool2d", "ZeroPad2d", "ConstantPad2d", "ReflectionPad2d", "ReplicationPad2d", "PixelShuffle",
           "PixelUnshuffle", "UpsamplingBilinear2d"]


class _ConvNd(Module):
    """What Conv2d and ConvTranspose2d (and the 1-D layers, ``_dims = 1``) share: hyper-parameters,
    weight/bias, init and repr."""

    _transposed = False
    _dims = 2  # spatial dims: the hyper-parameters are tuples of this length, as torch's

    def _tuple(self, v, name: str) -> tuple:
        if self._dims == 2:
            return C._pair(v, name, type(self).__name__)
        return (F._one(v, name, type(self).__name__),)

    def _as_2d(self, t: tuple, fill: int) -> tuple:
        """A 1-D layer's hyper-parameter as its 2-D op's: a height of 1 (kernel, stride, dilation) or 0 (padding)."""
        return t if self._dims == 2 else (fill,) + t

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, output_padding,
                 groups, bias, padding_mode, device, dtype):
        super().__init__()
        name = type(self).__name__
        if in_channels <= 0 or out_channels <= 0:
            raise ValueError(f"{name}: in_channels and out_channels must be positive, got "
                             f"{in_channels} and {out_channels}")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = self._tuple(kernel_size, "kernel_size")
        self.stride = self._tuple(stride, "stride")
        self.padding = self._tuple(padding, "padding")
        self.dilation = self._tuple(dilation, "dilation")
        self.output_padding = self._tuple(output_padding, "output_padding")
        self.groups, self.padding_mode = groups, padding_mode
        if min(self.kernel_size) < 1:
            raise ValueError(f"{name}: kernel_size must be positive, got {self.kernel_size}")
        # a Geometry validates stride/padding/dilation with the layer's name in the message
        self._geom = C._Geometry(self._as_2d(self.kernel_size, 1), self._as_2d(self.stride, 1),
                                 self._as_2d(self.padding, 0), self._as_2d(self.dilation, 1), name)
        C._check_groups(groups, name)
        if in_channels % groups:
            raise ValueError(f"{name}: in_channels must be divisible by groups, got {in_channels} and {groups}")
        if out_channels % groups:
            raise ValueError(f"{name}: out_channels must be divisible by groups, got {out_channels} and {groups}")
        # grouped: each group's filters see only their in_channels/groups inputs
        shape = ((in_channels, out_channels // groups) if self._transposed
                 else (out_channels, in_channels // groups)) + self.kernel_size
        self.weight = new_parameter(*shape)
        self.register_parameter("bias", new_parameter(out_channels) if bias else None)
        self.reset_parameters()
        # a model with convolutions takes the cores before its first product runs (kernels.take_cores says why)
        K.take_cores(B.get_array_module(self.weight.array))
        if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
            raise ValueError(f"{name}: padding_mode must be one of 'zeros', 'reflect', 'replicate', 'circular', "
                             f"got {padding_mode!r}")
        if self._transposed and padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {name}')
        if device is not None or dtype is not None:
            self.to(*(a for a in (device, dtype) if a is not None))

    def reset_parameters(self):
        """kaiming_uniform(a=√5) on the weight, U(±1/√fan_in) on the bias (PyTorch's defaults;
        for the transposed weight (in, out, kh, kw) fan_in counts out·kh·kw, as PyTorch does)."""
        default_layer_init_(self.weight, self.bias)

    def extra_repr(self) -> str:
        zeros, ones = (0,) * self._dims, (1,) * self._dims
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != zeros:
            s += f", padding={self.padding}"
        if self.dilation != ones:
            s += f", dilation={self.dilation}"
        if self.output_padding != zeros:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    """What Conv2d and Conv1d share: torch's constructor (``padding`` may also be "valid" (0) or "same"
    (stride 1, symmetric padding only)), the repr of a named padding, and a forward through ``_conv``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None):
        name = padding if isinstance(padding, str) else None
        if name is not None:  # "valid" / "same": resolved to numbers here, shown by name as PyTorch does
            padding = self._string_padding(padding, kernel_size, stride, dilation)
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, 0, groups, bias,
                         padding_mode, device, dtype)
        self._padding_name = name

    def _string_padding(self, padding, kernel_size, stride, dilation):
        if self._dims == 2:
            return C.string_padding(padding, kernel_size, stride, dilation, type(self).__name__)
        one = lambda v: (1,) + self._tuple(v, "size")  # noqa: E731 - a height of 1 for the 2-D rule
        return C.string_padding(padding, one(kernel_size), one(stride), one(dilation), type(self).__name__)[1:]

    def extra_repr(self) -> str:
        s = super().extra_repr()
        if getattr(self, "_padding_name", None) is not None:
            numeric = f", padding={self.padding}" if self.padding != (0,) * self._dims else ""
            head, _, tail = s.partition(f"stride={self.stride}")
            s = head + f"stride={self.stride}, padding={self._padding_name}" + tail.replace(numeric, "", 1)
        return s

    def forward(self, x: Tensor) -> Tensor:
        # the layer itself is the name in error messages (formatted only when one is raised)
        padding = self.padding
        if self.padding_mode != "zeros":  # pad by mirroring (CycleGAN, MelGAN), repeating or wrapping, then convolve
            x = F.pad(x, tuple(p for p in reversed(self.padding) for _ in (0, 1)), mode=self.padding_mode)
            padding = 0
        return type(self)._conv(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups, _who=self)


class Conv2d(_Conv):
    """y = conv2d(x, W) + b on (N, C_in, H, W); weight (out, in/groups, kh, kw), bias (out,)."""

    _conv = C._conv2d


class _ConvTranspose(_ConvNd):
    """What ConvTranspose2d and ConvTranspose1d share: torch's constructor and a forward through ``_conv``.

    Output size (H − 1)·stride − 2·padding + dilation·(k − 1) + output_padding + 1;
    ``forward(x, output_size=(H, W))`` picks output_padding from a wanted size, as in PyTorch.
    """

    _transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                 groups: int = 1, bias: bool = True, dilation=1, padding_mode: str = "zeros", device=None,
                 dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, output_padding,
                         groups, bias, padding_mode, device, dtype)
        C._check_output_padding(self._as_2d(self.output_padding, 0), self._geom, self)

    def forward(self, x: Tensor, output_size=None) -> Tensor:
        return type(self)._conv(x, self.weight, self.bias, self.stride, self.padding, self.output_padding,
                                self.groups, self.dilation, output_size=output_size, _who=self)


class ConvTranspose2d(_ConvTranspose):
    """The adjoint of Conv2d on (N, C_in, H, W); weight (in, out/groups, kh, kw), bias (out,)."""

    _conv = C._conv_transpose2d


class Upsample(Module):
    """Nearest, bilinear or bicubic upsampling of (N, C, H, W), PyTorch's ``nn.Upsample(size, scale_factor, mode)``.

    ``Upsample(scale_factor=2)`` followed by a 3×3 Conv2d is the resize-convolution generator block:
    unlike a stride-2 transposed convolution, every output pixel sees the same number of kernel taps,
    so it has no checkerboard artifacts (Odena et al., 2016).
    """

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        if mode not in ("nearest", "bilinear", "bicubic"):
            raise NotImplementedError(f"Upsample: mode {mode!r} is not implemented (nearest, bilinear, bicubic)")
        if (size is None) == (scale_factor is None):
            raise ValueError("Upsample: give exactly one of size and scale_factor")
        self.size, self.mode, self.align_corners = size, mode, align_corners
        self.recompute_scale_factor = recompute_scale_factor
        self.scale_factor = float(scale_factor) if isinstance(scale_factor, (int, float)) else scale_factor

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4:
            raise ValueError(f"{self!r}: expected 4-D input (N, C, H, W), got shape {x.shape}")
        return C.interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners,
                             self.recompute_scale_factor)

    def extra_repr(self) -> str:
        info = f"size={self.size!r}" if self.size is not None else f"scale_factor={self.scale_factor!r}"
        return info + f", mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, "nearest")


class UpsamplingBilinear2d(Upsample):
    """Bilinear with aligned corners (torch's old default for this layer)."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, "bilinear", align_corners=True)


class AvgPool2d(Module):
    """The mean of each kernel_size window of (N, C, H, W) or (C, H, W); stride defaults to
    kernel_size (non-overlapping windows, which DCGAN-style critics use to downsample)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None and stride != [] else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, x: Tensor) -> Tensor:
        return C._avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad,
                             self.divisor_override, _who=self)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


# ---- padding, pixel shuffle, max and adaptive pooling: the layers of image-to-image and super-resolution GANs ----
class _PadNd(Module):
    """Pads the last ``_dims`` dims by ``padding``: an int for every side, or (left, right[, top, bottom])."""

    mode = "constant"
    _dims = 2
    _SIDES = {1: "2 numbers (left, right)", 2: "4 numbers (left, right, top, bottom)"}
    _INPUTS = {1: "2-D (C, L) or 3-D (N, C, L)", 2: "3-D (C, H, W) or 4-D (N, C, H, W)"}

    def __init__(self, padding, value: float = 0.0):
        super().__init__()
        n = 2 * self._dims
        self.padding = (padding,) * n if isinstance(padding, int) else tuple(padding)
        if len(self.padding) != n:
            raise ValueError(f"{type(self).__name__}: padding must be an int or {self._SIDES[self._dims]}, "
                             f"got {padding!r}")
        self.value = value

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in (self._dims + 1, self._dims + 2):
            raise ValueError(f"{self!r}: expected {self._INPUTS[self._dims]} input, got shape {x.shape}")
        return F.pad(x, self.padding, self.mode, self.value if self.mode == "constant" else None)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad2d(_PadNd):
    def __init__(self, padding):
        super().__init__(padding, 0.0)


class ConstantPad2d(_PadNd):
    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ReflectionPad2d(_PadNd):
    """Mirror padding (the edge pixel is not repeated): CycleGAN's and pix2pix's generators pad with it so the
    border of the image looks like the image, not like a black frame."""

    mode = "reflect"

    def __init__(self, padding):
        super().__init__(padding)


class ReplicationPad2d(_PadNd):
    mode = "replicate"

    def __init__(self, padding):
        super().__init__(padding)


class PixelShuffle(Module):
    def __init__(self, upscale_factor: int):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, x: Tensor) -> Tensor:
        return F.pixel_shuffle(x, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    def __init__(self, downscale_factor: int):
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, x: Tensor) -> Tensor:
        return F.pixel_unshuffle(x, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"


class _MaxPoolNd(Module):
    """What MaxPool2d and MaxPool1d share: torch's constructor and repr, a forward through ``_pool``."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices: bool = False,
                 ceil_mode: bool = False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None and stride != [] else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, x: Tensor):
        return type(self)._pool(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                                self.return_indices, _who=self)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool2d(_MaxPoolNd):
    _pool = max_pool2d


class AdaptiveAvgPool2d(Module):
    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Tensor) -> Tensor:
        return adaptive_avg_pool2d(x, self.output_size, _who=self)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
