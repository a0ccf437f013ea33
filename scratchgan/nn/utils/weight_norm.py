"""Weight normalisation (Salimans & Kingma, 2016), PyTorch's classic hook version.

W = g · v / ‖v‖: the direction v and the length g are learned apart.  The norm is taken over every
dim but ``dim`` (one length per output unit for dim 0), or over the whole tensor for ``dim=None``.
After ``weight_norm(m)``, ``m`` holds the Parameters ``weight_g`` (shaped like W with 1 in every
reduced dim) and ``weight_v``, and a plain attribute ``weight`` that a forward pre-hook recomputes
from them before every call, so the gradient reaches g and v through W's graph:

    dL/dg = ⟨dL/dW, v⟩ / ‖v‖,   dL/dv = (g/‖v‖)(dL/dW − (⟨dL/dW, v⟩/‖v‖²) v)   (per unit).
"""
from __future__ import annotations

import warnings

from ...ops import sqrt
from ...tensor import Tensor, no_grad
from ..module import Module, Parameter
from .spectral_norm import check_no_hook, remove_hook

__all__ = ["WeightNorm", "weight_norm", "remove_weight_norm", "norm_except_dim", "weight_norm_value"]


def norm_except_dim(v: Tensor, dim: int) -> Tensor:
    """‖v‖ over every dim but ``dim`` (kept, the others as size 1); dim -1: over everything (0-d)."""
    if dim == -1:
        return sqrt((v * v).sum())
    others = tuple(d for d in range(v.ndim) if d != dim)
    return sqrt((v * v).sum(dim=others, keepdim=True)) if others else sqrt(v * v)


def weight_norm_value(g: Tensor, v: Tensor, dim: int) -> Tensor:
    """W = v · (g / ‖v‖), all Tensor ops (double backprop works)."""
    return v * (g / norm_except_dim(v, dim))


class WeightNorm:
    """The forward pre-hook that recomputes ``module.<name>`` from ``<name>_g`` and ``<name>_v``."""

    def __init__(self, name: str, dim: int):
        self.name, self.dim = name, dim

    def compute_weight(self, module: Module) -> Tensor:
        return weight_norm_value(getattr(module, self.name + "_g"), getattr(module, self.name + "_v"), self.dim)

    def remove(self, module: Module):
        with no_grad():
            weight = self.compute_weight(module)
        for suffix in ("", "_g", "_v"):
            delattr(module, self.name + suffix)
        module.register_parameter(self.name, Parameter(weight.detach()))

    def __call__(self, module: Module, inputs):
        object.__setattr__(module, self.name, self.compute_weight(module))

    @staticmethod
    def apply(module: Module, name: str, dim: int) -> "WeightNorm":
        check_no_hook(module, WeightNorm, name, "weight_norm")
        weight = module._parameters.get(name)
        if weight is None:
            raise ValueError(f"weight_norm cannot be applied: {type(module).__name__} has no parameter {name!r}")
        if dim is None:
            dim = -1
        fn = WeightNorm(name, dim)
        delattr(module, name)
        with no_grad():
            g = norm_except_dim(weight, dim)
        module.register_parameter(name + "_g", Parameter(g.detach()))
        module.register_parameter(name + "_v", Parameter(weight.detach()))
        object.__setattr__(module, name, fn.compute_weight(module))
        module.register_forward_pre_hook(fn)
        return fn


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """Reparametrise ``module.<name>`` as g·v/‖v‖ in place and return ``module`` (``torch.nn.utils.weight_norm``,
    which PyTorch deprecates for ``parametrizations.weight_norm``; both are here)."""
    warnings.warn("`torch.nn.utils.weight_norm` is deprecated in favor of "
                  "`torch.nn.utils.parametrizations.weight_norm`.", FutureWarning, stacklevel=2)
    WeightNorm.apply(module, name, dim)
    return module


def remove_weight_norm(module: Module, name: str = "weight") -> Module:
    """Undo ``weight_norm``: ``<name>`` becomes a Parameter holding g·v/‖v‖."""
    return remove_hook(module, WeightNorm, name, "weight_norm")
