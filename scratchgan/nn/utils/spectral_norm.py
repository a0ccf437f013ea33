"""Spectral normalisation (Miyato et al., 2018), PyTorch's classic hook version.

W_SN = W / σ(W), σ(W) the largest singular value of W viewed as a matrix (dim ``dim``
first, everything else flattened).  σ is estimated by power iteration on two vectors
kept as buffers, one iteration per training-mode forward (they converge across steps):

    v ← normalize(Wᵀ u),   u ← normalize(W v),   σ = uᵀ W v,

normalize(x) = x / max(‖x‖, eps).  u and v are updated in place outside the graph and
treated as constants: the gradient reaches ``weight_orig`` through W/σ with
dσ = uᵀ dW v, exactly PyTorch's semantics.  After ``spectral_norm(m)``, ``m`` holds
the Parameter ``weight_orig``, the buffers ``weight_u``, ``weight_v`` and a plain
attribute ``weight`` that a forward pre-hook recomputes before every call.
"""
from __future__ import annotations

from ... import backend as B
from ...ops import matmul
from ...tensor import Tensor, no_grad
from ..module import Module, Parameter

__all__ = ["SpectralNorm", "spectral_norm", "remove_spectral_norm"]


def normalize_array(xp, a, eps):
    """a / max(‖a‖, eps): F.normalize(a, dim=0, eps=eps) on a 1-D array."""
    return a / xp.maximum(xp.sqrt((a * a).sum()), eps)


def weight_to_matrix(weight, dim: int):
    """(h, w) view of a weight (a Tensor or an array): dimension ``dim`` as rows, the rest flattened."""
    if dim != 0:
        order = [dim] + [d for d in range(weight.ndim) if d != dim]
        weight = weight.permute(*order) if isinstance(weight, Tensor) else weight.transpose(order)
    return weight.reshape(weight.shape[0], -1)


def random_unit_vectors(weight: Tensor, h: int, w: int, eps: float):
    """u ~ N(0, I_h), v ~ N(0, I_w) from the seeded generator, then normalised, as PyTorch draws them."""
    xp, rng = B.get_array_module(weight.array), B.host_rng()
    return tuple(normalize_array(xp, B.to_device(rng.standard_normal(n).astype(weight.dtype), weight.device), eps)
                 for n in (h, w))


def check_no_hook(module: Module, hook_type, name: str, what: str) -> None:
    """Refuse a second reparametrisation hook of one kind on the same parameter, as PyTorch does."""
    for hook in module._forward_pre_hooks.values():
        if isinstance(hook, hook_type) and hook.name == name:
            raise RuntimeError(f"Cannot register two {what} hooks on the same parameter {name}")


def remove_hook(module: Module, hook_type, name: str, what: str) -> Module:
    """Undo a reparametrisation hook: ``<name>`` becomes a plain Parameter with its current value."""
    for key, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, hook_type) and hook.name == name:
            hook.remove(module)
            del module._forward_pre_hooks[key]
            return module
    raise ValueError(f"{what} of '{name}' not found in {module}")


class SpectralNorm:
    """The forward pre-hook that recomputes ``module.<name>`` from ``<name>_orig``, ``_u``, ``_v``."""

    def __init__(self, name: str = "weight", n_power_iterations: int = 1, dim: int = 0, eps: float = 1e-12):
        if n_power_iterations <= 0:
            raise ValueError(f"spectral_norm: expected n_power_iterations to be positive, got {n_power_iterations}")
        self.name, self.n_power_iterations, self.dim, self.eps = name, n_power_iterations, dim, eps

    def reshape_weight_to_matrix(self, weight):
        return weight_to_matrix(weight, self.dim)

    def compute_weight(self, module: Module, do_power_iteration: bool) -> Tensor:
        weight = getattr(module, self.name + "_orig")
        u, v = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        if do_power_iteration:
            xp = B.get_array_module(weight.array)
            w_mat = self.reshape_weight_to_matrix(weight.array)
            with no_grad():  # in place (copy_ bumps the versions): the buffers keep their identity
                for _ in range(self.n_power_iterations):
                    v.copy_(normalize_array(xp, w_mat.T @ u.array, self.eps))
                    u.copy_(normalize_array(xp, w_mat @ v.array, self.eps))
        # copies: the next forward's in-place update must not change what this graph saved
        u_c, v_c = Tensor(u.array.copy()), Tensor(v.array.copy())
        sigma = matmul(u_c, matmul(self.reshape_weight_to_matrix(weight), v_c))  # σ = uᵀ W v
        return weight / sigma

    def remove(self, module: Module):
        with no_grad():
            weight = self.compute_weight(module, do_power_iteration=False)
        for suffix in ("", "_u", "_v", "_orig"):
            delattr(module, self.name + suffix)
        module.register_parameter(self.name, Parameter(weight.detach()))

    def __call__(self, module: Module, inputs):
        object.__setattr__(module, self.name, self.compute_weight(module, do_power_iteration=module.training))

    @staticmethod
    def apply(module: Module, name: str, n_power_iterations: int, dim: int, eps: float) -> "SpectralNorm":
        check_no_hook(module, SpectralNorm, name, "spectral_norm")
        weight = module._parameters.get(name)
        if weight is None:
            raise ValueError(f"spectral_norm cannot be applied: {type(module).__name__} has no parameter {name!r}")
        fn = SpectralNorm(name, n_power_iterations, dim, eps)
        u, v = random_unit_vectors(weight, *fn.reshape_weight_to_matrix(weight.array).shape, eps)
        delattr(module, name)
        module.register_parameter(name + "_orig", weight)
        # ``weight`` stays readable (weight inits touch it) as a plain attribute, not a Parameter
        object.__setattr__(module, name, weight.data)
        module.register_buffer(name + "_u", Tensor(u))
        module.register_buffer(name + "_v", Tensor(v))
        module.register_forward_pre_hook(fn)
        return fn


def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12,
                  dim: int | None = None) -> Module:
    """Spectrally normalise ``module.<name>`` in place and return ``module`` (``torch.nn.utils.spectral_norm``).

    ``dim`` defaults to 0, and to 1 for the transposed convolutions, whose weight is (in, out, k...).
    """
    if dim is None:
        dim = 1 if getattr(module, "_transposed", False) else 0  # (in, out, k...) weights
    SpectralNorm.apply(module, name, n_power_iterations, dim, eps)
    return module


def remove_spectral_norm(module: Module, name: str = "weight") -> Module:
    """Undo ``spectral_norm``: ``<name>`` becomes a Parameter holding W/σ with the current u, v."""
    return remove_hook(module, SpectralNorm, name, "spectral_norm")
