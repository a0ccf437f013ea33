"""Checks on values, with no gradient: isnan, isinf, isfinite, all, any, logical_not/and/or, isclose,
allclose, equal, and the bitwise ops behind a mask's ``&``, ``|``, ``^`` and ``~``.

A training loop asks them ("did the loss go NaN?", ``torch.isfinite(loss).all()``); they return bool
tensors (or a Python bool: ``allclose``, ``equal``), so autograd never sees them, as in PyTorch.
"""
from __future__ import annotations

from .ops import _arr, _xp
from .tensor import Tensor

__all__ = ["isnan", "isinf", "isfinite", "all", "any", "logical_not", "logical_and", "logical_or", "isclose",
           "allclose", "equal", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not"]


def isnan(x: Tensor) -> Tensor:
    return Tensor(_xp(x).isnan(x.array))


def isinf(x: Tensor) -> Tensor:
    return Tensor(_xp(x).isinf(x.array))


def isfinite(x: Tensor) -> Tensor:
    return Tensor(_xp(x).isfinite(x.array))


def all(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001 - torch.all
    """Whether every value is nonzero (over ``dim``, or all of them)."""
    return Tensor(_xp(x).asarray(x.array.astype(bool).all(axis=dim, keepdims=keepdim)))


def any(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001 - torch.any
    """Whether some value is nonzero (over ``dim``, or all of them)."""
    return Tensor(_xp(x).asarray(x.array.astype(bool).any(axis=dim, keepdims=keepdim)))


def logical_not(x: Tensor) -> Tensor:
    return Tensor(_xp(x).logical_not(x.array))


def logical_and(x: Tensor, other) -> Tensor:
    return Tensor(_xp(x).logical_and(x.array, _arr(other)))


def logical_or(x: Tensor, other) -> Tensor:
    return Tensor(_xp(x).logical_or(x.array, _arr(other)))


def isclose(x: Tensor, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Tensor:
    """|x − other| ≤ atol + rtol·|other|, entry by entry (broadcast), as a bool tensor."""
    return Tensor(_xp(x).isclose(x.array, _arr(other), rtol=rtol, atol=atol, equal_nan=equal_nan))


def allclose(x: Tensor, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    """|x − other| ≤ atol + rtol·|other| everywhere (broadcast), as a Python bool."""
    return bool(_xp(x).allclose(x.array, _arr(other), rtol=rtol, atol=atol, equal_nan=equal_nan))


def equal(x: Tensor, other) -> bool:
    """Same shape and the same values, as a Python bool."""
    o = _arr(other)
    return tuple(x.shape) == tuple(o.shape) and bool((x.array == o).all())


# &, |, ^, ~ on bool tensors (masks: ``(x > 0) & (x < 1)``, ``~mask``) and integer ones (bitwise), as torch
def _bitwise(name: str, fn_name: str):
    def op(x: Tensor, other) -> Tensor:
        return Tensor(getattr(_xp(x), fn_name)(x.array, _arr(other)))

    op.__name__ = name
    return op


bitwise_and = _bitwise("bitwise_and", "bitwise_and")
bitwise_or = _bitwise("bitwise_or", "bitwise_or")
bitwise_xor = _bitwise("bitwise_xor", "bitwise_xor")


def bitwise_not(x: Tensor) -> Tensor:
    return Tensor(_xp(x).invert(x.array))


def _bind():
    for name in __all__:
        setattr(Tensor, name, globals()[name])
    T = Tensor
    T.__and__, T.__or__, T.__xor__, T.__invert__ = bitwise_and, bitwise_or, bitwise_xor, bitwise_not
    T.__rand__, T.__ror__, T.__rxor__ = bitwise_and, bitwise_or, bitwise_xor  # all three commute
    T.logical_xor = lambda x, other: Tensor(_xp(x).logical_xor(x.array, _arr(other)))


_bind()
