"""``torch.nn.utils.parametrizations``: spectral and weight normalisation as parametrizations.

``weight_norm``: W = g·v/‖v‖ (see weight_norm.py) with PyTorch's newer keys
``parametrizations.weight.original0`` (g) and ``original1`` (v).

``spectral_norm``:
The same W/σ(W) as the classic ``spectral_norm`` (see spectral_norm.py), with PyTorch's
newer layout and schedule: keys ``parametrizations.weight.original``,
``parametrizations.weight.0._u`` and ``._v``; 15 power iterations at registration; in
training mode one iteration (u first, then v) *each time* ``module.weight`` is read; and a
1-D weight is simply normalised.
"""
from __future__ import annotations

from ... import backend as B
from ...ops import matmul, normalize
from ...tensor import Tensor, no_grad
from ..module import Module
from .parametrize import register_parametrization
from .spectral_norm import normalize_array, random_unit_vectors, weight_to_matrix
from .weight_norm import norm_except_dim, weight_norm_value

__all__ = ["spectral_norm", "weight_norm"]


class _SpectralNorm(Module):
    def __init__(self, weight: Tensor, n_power_iterations: int = 1, dim: int = 0, eps: float = 1e-12):
        super().__init__()
        ndim = weight.ndim
        if not -ndim <= dim < ndim:
            raise IndexError(f"spectral_norm: dim {dim} out of range for a weight with {ndim} dimensions")
        if n_power_iterations <= 0:
            raise ValueError(f"spectral_norm: expected n_power_iterations to be positive, got {n_power_iterations}")
        self.dim, self.eps = dim % ndim, eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            w_mat = weight_to_matrix(weight.array, self.dim)
            u, v = random_unit_vectors(weight, *w_mat.shape, eps)
            self.register_buffer("_u", Tensor(u))
            self.register_buffer("_v", Tensor(v))
            self._power_method(w_mat, 15)

    def _power_method(self, w_mat, n_power_iterations: int):
        xp = B.get_array_module(w_mat)
        with no_grad():
            for _ in range(n_power_iterations):
                self._u.copy_(normalize_array(xp, w_mat @ self._v.array, self.eps))
                self._v.copy_(normalize_array(xp, w_mat.T @ self._u.array, self.eps))

    def forward(self, weight: Tensor) -> Tensor:
        if weight.ndim == 1:
            return normalize(weight, dim=0, eps=self.eps)
        if self.training:
            self._power_method(weight_to_matrix(weight.array, self.dim), self.n_power_iterations)
        u, v = Tensor(self._u.array.copy()), Tensor(self._v.array.copy())  # constants of this graph
        return weight / matmul(u, matmul(weight_to_matrix(weight, self.dim), v))  # W / (uᵀ W v)

    def right_inverse(self, value):
        return value


def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12,
                  dim: int | None = None) -> Module:
    weight = module._parameters.get(name)
    if weight is None:
        raise ValueError(f"spectral_norm: {type(module).__name__} has no parameter {name!r}")
    if dim is None:
        dim = 1 if getattr(module, "_transposed", False) else 0  # (in, out, k...) weights
    register_parametrization(module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module


class _WeightNorm(Module):
    def __init__(self, dim: int | None = 0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g: Tensor, weight_v: Tensor) -> Tensor:
        return weight_norm_value(weight_g, weight_v, self.dim)

    def right_inverse(self, weight: Tensor):
        return norm_except_dim(weight, self.dim), weight


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    if module._parameters.get(name) is None:
        raise ValueError(f"weight_norm: {type(module).__name__} has no parameter {name!r}")
    register_parametrization(module, name, _WeightNorm(dim), unsafe=True)
    return module
