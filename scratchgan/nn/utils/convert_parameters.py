"""Parameters <-> one flat vector (``torch.nn.utils.parameters_to_vector`` / ``vector_to_parameters``)."""
from __future__ import annotations

from ...ops import cat, reshape
from ...tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def _check_device(p: Tensor, dev):
    if dev is not None and p.device != dev:
        raise TypeError(f"Found two parameters on different devices, this is currently not supported "
                        f"({dev} and {p.device})")
    return p.device


def parameters_to_vector(parameters) -> Tensor:
    """All parameters flattened and concatenated, in order (differentiable, like torch's)."""
    dev, flat = None, []
    for p in parameters:
        dev = _check_device(p, dev)
        flat.append(reshape(p, -1))
    if not flat:
        raise ValueError("parameters_to_vector: expected a non-empty iterable of parameters")
    return cat(flat)


def vector_to_parameters(vec: Tensor, parameters) -> None:
    """Point each parameter's data at its slice of ``vec`` (``param.data = vec[a:b].view_as(param)``)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected a Tensor, but got: {type(vec).__name__}")
    if vec.ndim != 1:
        raise ValueError(f"vector_to_parameters: vec must be 1-D, got shape {vec.shape}")
    dev, pointer, params = None, 0, list(parameters)
    total = sum(p.numel() for p in params)
    if total > vec.numel():
        raise ValueError(f"vector_to_parameters: vec has {vec.numel()} elements, the parameters need {total}")
    for p in params:
        dev = _check_device(p, dev)
        n = p.numel()
        p.data = Tensor(vec.array[pointer:pointer + n].reshape(p.shape))  # a view of vec, as in torch
        pointer += n
