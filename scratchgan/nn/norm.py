"""BatchNorm1d and BatchNorm2d with PyTorch's signatures, parameters, buffers and state_dict keys."""
from __future__ import annotations

from .. import backend as B
from ..norm import batch_norm
from ..tensor import Tensor
from .module import Module, Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d"]

_np = B.numpy


class _BatchNorm(Module):
    """Per-channel normalisation of (N, C, *) input (Ioffe & Szegedy, 2015).

    Training: normalise with the batch statistics and update ``running_mean``/``running_var``
    (exponential average with ``momentum``; momentum=None gives the cumulative average over
    ``num_batches_tracked`` batches).  Evaluation (``.eval()``): normalise with the running
    statistics.  state_dict keys: weight, bias, running_mean, running_var, num_batches_tracked.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None, *, bias: bool = True):
        super().__init__()
        self.num_features, self.eps, self.momentum = int(num_features), eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:  # bias=False (keyword, as in PyTorch 2.x): a learned scale without a shift
            self.weight = Parameter(_np.ones(num_features, dtype=_np.float32))
            self.register_parameter("bias", Parameter(_np.zeros(num_features, dtype=_np.float32)) if bias else None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(_np.zeros(num_features, dtype=_np.float32)))
            self.register_buffer("running_var", Tensor(_np.ones(num_features, dtype=_np.float32)))
            self.register_buffer("num_batches_tracked", Tensor(_np.array(0, dtype=_np.int64)))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None
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

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """BatchNorm over (N, C) or (N, C, L) input: statistics per feature C over N (and L).

    As in PyTorch the second positional argument is ``eps``: PyTorch-GAN's ``nn.BatchNorm1d(n, 0.8)``
    sets eps = 0.8 (a large eps that damps the normalisation), not the momentum.
    """

    _ndims, _dims = (2, 3), "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """BatchNorm over (N, C, H, W) input: statistics per channel C over N, H and W."""

    _ndims, _dims = (4,), "(N, C, H, W)"
