"""``scratchgan.autograd.grad``: gradients as values, for gradient penalties and checks."""
from .tensor import enable_grad, grad, no_grad, set_grad_enabled

__all__ = ["grad", "no_grad", "enable_grad", "set_grad_enabled"]
