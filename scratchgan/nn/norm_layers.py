"""BatchNorm1d, BatchNorm2d, LayerNorm, InstanceNorm2d and GroupNorm with PyTorch's signatures, parameters,
buffers and state_dict keys."""
from __future__ import annotations

import warnings

from .. import backend as B
from ..norm import batch_norm, group_norm, instance_norm, layer_norm
from ..ops import squeeze, unsqueeze
from ..tensor import Tensor
from .module import Module, Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm", "InstanceNorm2d", "GroupNorm"]

_np = B.numpy


def _ones_zeros(module: Module, shape, affine: bool, bias: bool = True):
    """weight = 1 and bias = 0 of ``shape`` (PyTorch's reset_parameters), or both None."""
    module.register_parameter("weight", Parameter(_np.ones(shape, dtype=_np.float32)) if affine else None)
    module.register_parameter("bias", Parameter(_np.zeros(shape, dtype=_np.float32)) if affine and bias else None)


def _running_stats(module: Module, num_features: int, track: bool):
    """The buffers running_mean = 0, running_var = 1, num_batches_tracked = 0 (int64), or None."""
    if track:
        module.register_buffer("running_mean", Tensor(_np.zeros(num_features, dtype=_np.float32)))
        module.register_buffer("running_var", Tensor(_np.ones(num_features, dtype=_np.float32)))
        module.register_buffer("num_batches_tracked", Tensor(_np.array(0, dtype=_np.int64)))
    else:
        module.running_mean = module.running_var = module.num_batches_tracked = None


class _NormBase(Module):
    """What BatchNorm and InstanceNorm share (PyTorch's ``_NormBase``): per-channel weight and bias
    (``affine``; ``bias=False``, keyword as in PyTorch 2.x, gives a scale without a shift) and the
    running statistics buffers (``track_running_stats``).  Each subclass brings PyTorch's defaults."""

    def __init__(self, num_features: int, eps: float, momentum: float | None, affine: bool,
                 track_running_stats: bool, device=None, dtype=None, *, bias: bool = True):
        super().__init__()
        self.num_features, self.eps, self.momentum = int(num_features), eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        _ones_zeros(self, (self.num_features,), affine, bias)
        _running_stats(self, self.num_features, track_running_stats)
        if device is not None or dtype is not None:
            self.to(*(a for a in (device, dtype) if a is not None))

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean.array[...] = 0
            self.running_var.array[...] = 1
            self.num_batches_tracked.array[...] = 0

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            self.weight.array[...] = 1
            if self.bias is not None:
                self.bias.array[...] = 0

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    """Per-channel normalisation of (N, C, *) input (Ioffe & Szegedy, 2015).

    Training: normalise with the batch statistics and update ``running_mean``/``running_var``
    (exponential average with ``momentum``; momentum=None gives the cumulative average over
    ``num_batches_tracked`` batches).  Evaluation (``.eval()``): normalise with the running
    statistics.  state_dict keys: weight, bias, running_mean, running_var, num_batches_tracked.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None, *, bias: bool = True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)

    _dims = "(N, C, *)"

    def _check_input(self, x: Tensor):
        if x.ndim not in self._ndims:
            want = " or ".join(f"{n}-D" for n in self._ndims)
            raise ValueError(f"{self!r}: expected {want} input {self._dims}, got {x.ndim}-D input of shape {x.shape}")
        if x.shape[1] != self.num_features:
            raise ValueError(f"{self!r}: expected input with {self.num_features} channels "
                             f"{self._dims.replace('C', str(self.num_features))}, got shape {x.shape}")

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.array += 1  # in place: the buffer keeps its identity
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked.array)
        # without running statistics (track_running_stats=False) even .eval() uses batch statistics
        use_batch_stats = self.training or self.running_mean is None
        return batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, use_batch_stats,
                          factor, self.eps)


class BatchNorm1d(_BatchNorm):
    """BatchNorm over (N, C) or (N, C, L) input: statistics per feature C over N (and L).

    As in PyTorch the second positional argument is ``eps``: PyTorch-GAN's ``nn.BatchNorm1d(n, 0.8)``
    sets eps = 0.8 (a large eps that damps the normalisation), not the momentum.
    """

    _ndims, _dims = (2, 3), "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """BatchNorm over (N, C, H, W) input: statistics per channel C over N, H and W."""

    _ndims, _dims = (4,), "(N, C, H, W)"


class LayerNorm(Module):
    """Standardise each sample over its last dims (Ba et al., 2016): y = x̂·weight + bias with the
    mean and biased variance over ``normalized_shape``; weight and bias are elementwise, of that shape.

    No batch statistics, so a WGAN-GP critic may use it (the penalty is per sample).
    state_dict keys: weight, bias (none with elementwise_affine=False)."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps, self.elementwise_affine = tuple(int(s) for s in shape), eps, elementwise_affine
        _ones_zeros(self, self.normalized_shape, elementwise_affine, bias)
        if device is not None or dtype is not None:
            self.to(*(a for a in (device, dtype) if a is not None))

    def reset_parameters(self):
        if self.weight is not None:
            self.weight.array[...] = 1
        if self.bias is not None:
            self.bias.array[...] = 0

    def forward(self, x: Tensor) -> Tensor:
        k = len(self.normalized_shape)
        if x.ndim < k or x.shape[x.ndim - k:] != self.normalized_shape:
            raise ValueError(f"{self!r}: expected input of shape (*, {', '.join(map(str, self.normalized_shape))}), "
                             f"got {x.shape}")
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class _InstanceNorm(_NormBase):
    """Standardise each (sample, channel) over its own spatial values (Ulyanov et al., 2016); batched or one
    unbatched input.  PyTorch's defaults: no affine parameters, no running statistics (so .eval() changes
    nothing).  With track_running_stats=True, training updates running_mean/running_var and .eval() uses
    them.  state_dict keys as BatchNorm2d's when enabled.  InstanceNorm2d and InstanceNorm1d differ only in
    ``_dims`` (and are not each other's subclass, as in torch)."""

    _dims = 2
    _INPUTS = {1: "2-D (C, L) or 3-D (N, C, L)", 2: "3-D (C, H, W) or 4-D (N, C, H, W)"}

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = False,
                 track_running_stats: bool = False, device=None, dtype=None, *, bias: bool = True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in (self._dims + 1, self._dims + 2):
            raise ValueError(f"{self!r}: expected {self._INPUTS[self._dims]} input, got {x.ndim}-D input "
                             f"of shape {x.shape}")
        if x.ndim == self._dims + 1:
            return squeeze(self.forward(unsqueeze(x, 0)), 0)
        if x.shape[1] != self.num_features:
            msg = (f"{self!r}: expected input's size at dim=1 to match num_features ({self.num_features}), "
                   f"but got input of shape {x.shape}")
            if self.affine or self.track_running_stats:
                raise ValueError(msg)
            warnings.warn(msg + "; num_features is not used because affine=False", stacklevel=2)
        # PyTorch's _InstanceNorm: input statistics unless evaluating with running statistics;
        # num_batches_tracked is kept for the state_dict but not advanced
        use_input_stats = self.training or not self.track_running_stats
        return instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias, use_input_stats,
                             0.0 if self.momentum is None else self.momentum, self.eps)


class InstanceNorm2d(_InstanceNorm):
    """Each (sample, channel) image standardised over its H·W values; (N, C, H, W) or unbatched (C, H, W)."""


class InstanceNorm1d(_InstanceNorm):
    """Each (sample, channel) signal standardised over its L values; (N, C, L) or unbatched (C, L)."""

    _dims = 1


class GroupNorm(Module):
    """Standardise each sample over groups of C/G channels (Wu & He, 2018), then a per-channel
    y = x̂·weight[c] + bias[c].  GroupNorm(1, C) is a LayerNorm over (C, H, W) with per-channel affine
    parameters.  state_dict keys: weight, bias."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True, device=None,
                 dtype=None, *, bias: bool = True):
        super().__init__()
        if num_groups < 1 or num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = int(num_groups), int(num_channels), eps, affine
        _ones_zeros(self, (self.num_channels,), affine, bias)
        if device is not None or dtype is not None:
            self.to(*(a for a in (device, dtype) if a is not None))

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"{self!r}: expected input of shape (N, {self.num_channels}, *), got {x.shape}")
        return group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, bias={self.bias is not None}"
