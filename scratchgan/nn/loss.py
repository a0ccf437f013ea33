"""Loss modules (``nn.BCELoss``, ``nn.BCEWithLogitsLoss``, ``nn.MSELoss``, ``nn.L1Loss``,
``nn.NLLLoss``, ``nn.CrossEntropyLoss``, ``nn.SmoothL1Loss``, ``nn.HuberLoss``, ``nn.KLDivLoss``)."""
from __future__ import annotations

from . import functional as F
from ..tensor import Tensor
from .module import Module


class _Loss(Module):
    def __init__(self, weight=None, reduction: str = "mean"):
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"{type(self).__name__}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        self.reduction = reduction
        # a buffer, as in PyTorch's _WeightedLoss: it moves with .to() and appears in the state_dict
        self.register_buffer("weight", weight if weight is None or isinstance(weight, Tensor) else Tensor(weight))



class BCELoss(_Loss):
    """BCE on probabilities (after a Sigmoid).  Prefer BCEWithLogitsLoss."""

    def forward(self, input, target):  # noqa: A002
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid and BCE in one stable step: max(x,0) − x·y + log1p(e^−|x|)."""

    def __init__(self, weight=None, reduction: str = "mean", pos_weight=None):
        super().__init__(weight, reduction)
        self.pos_weight = pos_weight

    def forward(self, input, target):  # noqa: A002
        return F.binary_cross_entropy_with_logits(input, target, weight=self.weight, reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


class MSELoss(_Loss):
    def __init__(self, reduction: str = "mean"):
        super().__init__(None, reduction)

    def forward(self, input, target):  # noqa: A002
        return F.mse_loss(input, target, reduction=self.reduction)


def _no_legacy(self, size_average, reduce):
    if size_average is not None or reduce is not None:
        raise NotImplementedError(f"{type(self).__name__}: the deprecated size_average/reduce arguments are not "
                                  "supported; use reduction='mean' | 'sum' | 'none'")


class L1Loss(_Loss):
    """mean |x − y| (or sum / none)."""

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean"):
        _no_legacy(self, size_average, reduce)
        super().__init__(None, reduction)

    def forward(self, input, target):  # noqa: A002
        return F.l1_loss(input, target, reduction=self.reduction)


class NLLLoss(_Loss):
    """−w[t]·x[t] on log-probabilities (after LogSoftmax); class-index targets."""

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean"):
        _no_legacy(self, size_average, reduce)
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):  # noqa: A002
        return F.nll_loss(input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction)


class CrossEntropyLoss(_Loss):
    """LogSoftmax and NLLLoss in one stable step, on raw logits (N, C, *): class-index targets
    (int64) or class probabilities; ``weight`` per class, ``ignore_index``, ``label_smoothing``."""

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean", label_smoothing: float = 0.0):
        _no_legacy(self, size_average, reduce)
        super().__init__(weight, reduction)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input, target):  # noqa: A002
        return F.cross_entropy(input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction,
                               label_smoothing=self.label_smoothing)


class SmoothL1Loss(_Loss):
    def __init__(self, size_average=None, reduce=None, reduction: str = "mean", beta: float = 1.0):
        _no_legacy(self, size_average, reduce)
        super().__init__(None, reduction)
        self.beta = beta

    def forward(self, input, target):  # noqa: A002
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(None, reduction)
        self.delta = delta

    def forward(self, input, target):  # noqa: A002
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class KLDivLoss(Module):
    """KL(target ‖ exp(input)) with log-probability inputs; reduction also "batchmean" (see ``F.kl_div``)."""

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean", log_target: bool = False):
        super().__init__()
        _no_legacy(self, size_average, reduce)
        if reduction not in ("mean", "sum", "none", "batchmean"):
            raise ValueError(f"KLDivLoss: reduction must be 'mean', 'sum', 'none' or 'batchmean', got {reduction!r}")
        self.reduction, self.log_target = reduction, log_target

    def forward(self, input, target):  # noqa: A002
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)
