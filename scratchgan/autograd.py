"""``scratchgan.autograd``: ``grad`` (gradients as values, for gradient penalties and checks) and the
legacy ``Variable``."""
from .tensor import Tensor, enable_grad, grad, no_grad, set_grad_enabled

__all__ = ["grad", "no_grad", "enable_grad", "set_grad_enabled", "Variable"]


def Variable(data, requires_grad: bool = False, volatile: bool = False):  # noqa: N802 - PyTorch's name
    """Old PyTorch's wrapper, as PyTorch keeps it: a new leaf sharing ``data``'s memory (and version
    counter), requiring grad if asked (``Variable(t, requires_grad=True)``)."""
    t = (data if isinstance(data, Tensor) else Tensor(data)).detach()
    return t.requires_grad_(requires_grad) if requires_grad else t
