"""``torch.linalg``, the part GAN code calls: vector norms (gradient penalties, ``vector_norm(grad, dim=1)``) and
the Frobenius matrix norm.  Decompositions (svd, eigh, inv, solve) are not here: no GAN training step needs them.
"""
from __future__ import annotations

from ._unsupported import module_getattr
from .math_ops import vector_norm
from .tensor import Tensor

__all__ = ["vector_norm", "matrix_norm", "norm"]


def matrix_norm(x: Tensor, ord="fro", dim=(-2, -1), keepdim: bool = False, *, dtype=None) -> Tensor:  # noqa: A002
    """The Frobenius norm over the two dims ``dim``; the spectral and nuclear norms need an SVD."""
    if ord != "fro":
        raise NotImplementedError(f"linalg.matrix_norm: ord={ord!r} is not implemented in scratchgan (only 'fro'; "
                                  "the others need an SVD)")
    return vector_norm(x, 2, tuple(dim), keepdim, dtype=dtype)


def norm(x: Tensor, ord=None, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:  # noqa: A002
    """``torch.linalg.norm``: a vector norm over one dim (or of a 1-D x), the Frobenius norm over two (or of a
    2-D x); ord None is the 2-norm of x flattened when dim is None, as torch."""
    if ord is None:
        return vector_norm(x, 2, dim, keepdim, dtype=dtype)
    two_dims = (dim is None and x.ndim == 2) or (isinstance(dim, (tuple, list)) and len(dim) == 2)
    if two_dims:
        return matrix_norm(x, ord, (-2, -1) if dim is None else dim, keepdim, dtype=dtype)
    return vector_norm(x, ord, dim, keepdim, dtype=dtype)


__getattr__ = module_getattr(__name__, {name: "decompositions are not part of scratchgan (no GAN training step needs "
                                              "them)" for name in ("svd", "svdvals", "eig", "eigh", "eigvals", "inv",
                                                                   "pinv", "solve", "qr", "cholesky", "det", "slogdet",
                                                                   "lstsq", "matrix_rank", "matrix_exp")})
