"""The functional surface, shaped like ``torch.nn.functional``.

The ops themselves live with their backward passes in ``ops.py`` (pointwise,
reductions), ``conv.py`` (convolutions) and ``norm.py`` (batch norm); this module
gathers them under PyTorch's names and adds the few that are compositions.
"""
from __future__ import annotations

from . import backend as B
from .losses import _check_same_shape, bce, bce_with_logits, reduce
from . import ops
from .ops import leaky_relu_, linear, logsigmoid, relu_, sigmoid, softplus, tanh
from .tensor import Tensor
from .conv import conv2d, conv_transpose2d, interpolate, upsample_nearest
from .norm import batch_norm

__all__ = [
    "linear", "relu", "relu_", "leaky_relu", "leaky_relu_", "tanh", "sigmoid", "softplus", "logsigmoid", "dropout",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "mse_loss",
    "conv2d", "conv_transpose2d", "batch_norm", "interpolate", "upsample_nearest",
]


def relu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002 - PyTorch's names
    """max(x, 0); ``inplace=True`` writes into ``input`` and returns it (autograd's rules: tensor.py)."""
    return relu_(input) if inplace else ops.relu(input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:  # noqa: A002
    """max(x, s·x); ``inplace=True`` writes into ``input`` and returns it."""
    return leaky_relu_(input, negative_slope) if inplace else ops.leaky_relu(input, negative_slope)


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1−p) (inverted dropout),
    so evaluation needs no rescaling.  The mask is drawn from the seeded host generator."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability has to be between 0 and 1, got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    keep = B.host_rng().random(x.shape) >= p
    mask = B.to_device((keep / (1.0 - p)).astype(x.dtype), x.device)
    return x * Tensor(mask)


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
    return reduce(d * d, reduction)
