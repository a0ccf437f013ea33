"""``scratchgan.autograd``: ``grad`` (gradients as values, for gradient penalties and checks) and the
legacy ``Variable``."""
from .tensor import Tensor, enable_grad, grad, no_grad, set_grad_enabled

__all__ = ["grad", "no_grad", "enable_grad", "set_grad_enabled", "Variable"]


def Variable(data, requires_grad: bool = False, volatile: bool = False):  # noqa: N802 - PyTorch's name
    """Old PyTorch's wrapper, now the identity: returns ``data`` as a Tensor (``requires_grad=True``
    turns it into a leaf that requires grad, as ``Variable(t, requires_grad=True)`` did)."""
    t = data if isinstance(data, Tensor) else Tensor(data)
    if requires_grad and not t.requires_grad:
        t.requires_grad_(True)
    return t
