"""Linear and the pointwise layers (PyTorch's signatures, names and initialisation)."""
from __future__ import annotations

from . import functional as F
from ..ops import flatten, unflatten
from ..tensor import Tensor
from .init import default_layer_init_, normal_
from .module import Module, Parameter, new_parameter



class Linear(Module):
    """y = x Wᵀ + b; weight (out_features, in_features), bias (out_features)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = new_parameter(out_features, in_features)
        self.register_parameter("bias", new_parameter(out_features) if bias else None)
        default_layer_init_(self.weight, self.bias)
        if device is not None or dtype is not None:
            self.to(*(a for a in (device, dtype) if a is not None))

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"{self!r}: expected input of shape (*, {self.in_features}), got {x.shape}")
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class ReLU(Module):
    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        return F.relu(x, inplace=self.inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope, self.inplace)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class Tanh(Module):
    def forward(self, x):
        return F.tanh(x)


class Sigmoid(Module):
    def forward(self, x):
        return F.sigmoid(x)


class Softplus(Module):
    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class ELU(Module):
    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, x):
        return F.elu(x, self.alpha, self.inplace)

    def extra_repr(self):
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class SiLU(Module):
    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        return F.silu(x, self.inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class GELU(Module):
    """x·Φ(x), exact (with ``math_ops.erf``) or ``approximate='tanh'`` (see ``F.gelu``)."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class PReLU(Module):
    """Leaky ReLU with a learned slope: one (``num_parameters=1``) or one per channel, starting at ``init``."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters, self.init = num_parameters, init
        self.weight = new_parameter(num_parameters)
        self.reset_parameters()
        if device is not None or dtype is not None:
            self.to(*(a for a in (device, dtype) if a is not None))

    def reset_parameters(self):
        self.weight.data.fill_(self.init)

    def forward(self, x):
        return F.prelu(x, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class Identity(Module):
    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


class Flatten(Module):
    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: probability has to be between 0 and 1, got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, x):
        return F.dropout(x, self.p, self.training, self.inplace)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout2d(Module):
    """Zeroes whole channels: one keep/drop draw per (sample, channel) of an (N, C, H, W) or (C, H, W) input,
    the kept channels scaled by 1/(1−p); the identity in eval mode (PyTorch-GAN's DCGAN critic uses it)."""

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout2d: probability has to be between 0 and 1, got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, x):
        return F.dropout2d(x, self.p, self.training, self.inplace)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Embedding(Module):
    """A lookup table: row i of ``weight`` (num_embeddings, embedding_dim) is the vector of index i.

    weight ~ N(0, 1) as in PyTorch; the ``padding_idx`` row starts at zero and gets no gradient.
    cGANs embed class labels with it (``nn.Embedding(n_classes, n_classes)``).
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None, max_norm=None,
                 norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False, _weight=None,
                 _freeze: bool = False, device=None, dtype=None):
        super().__init__()
        if max_norm is not None:
            raise NotImplementedError("Embedding: max_norm (renormalising looked-up rows in place) is not implemented")
        if scale_grad_by_freq or sparse:
            raise NotImplementedError("Embedding: scale_grad_by_freq and sparse gradients are not implemented")
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        if padding_idx is not None:
            if not -self.num_embeddings <= padding_idx < self.num_embeddings:
                raise ValueError(f"Embedding: padding_idx must be within num_embeddings ({self.num_embeddings}), "
                                 f"got {padding_idx}")
            padding_idx %= self.num_embeddings
        self.padding_idx, self.max_norm, self.norm_type = padding_idx, None, norm_type
        self.scale_grad_by_freq, self.sparse = False, False
        if _weight is None:
            self.weight = new_parameter(self.num_embeddings, self.embedding_dim)
            self.weight.requires_grad = not _freeze
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (self.num_embeddings, self.embedding_dim):
                raise ValueError(f"Embedding: _weight of shape {tuple(_weight.shape)} does not match "
                                 f"({self.num_embeddings}, {self.embedding_dim})")
            self.weight = Parameter(_weight, requires_grad=not _freeze)
        if device is not None or dtype is not None:
            self.to(*(a for a in (device, dtype) if a is not None))

    def reset_parameters(self):
        normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.array[self.padding_idx] = 0

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, padding_idx: int | None = None, max_norm=None,
                        norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False):
        if embeddings.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D, got shape {tuple(embeddings.shape)}")
        rows, cols = embeddings.shape
        return cls(rows, cols, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse, _weight=embeddings,
                   _freeze=freeze)

    def forward(self, indices) -> Tensor:
        return F.embedding(indices, self.weight, self.padding_idx)

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}" + (
            f", padding_idx={self.padding_idx}" if self.padding_idx is not None else "")


class Unflatten(Module):
    """Split dim ``dim`` into ``unflattened_size``: Unflatten(1, (C, H, W)) turns a Linear's
    (N, C·H·W) output into images, the inverse of Flatten."""

    def __init__(self, dim: int, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, x):
        if not -x.ndim <= self.dim < max(x.ndim, 1):
            raise ValueError(f"{self!r}: dim {self.dim} is out of range for input of shape {x.shape}")
        try:
            return unflatten(x, self.dim, self.unflattened_size)
        except ValueError:
            raise ValueError(f"{self!r}: unflattened_size {self.unflattened_size} does not multiply up to "
                             f"size {x.shape[self.dim]} of dim {self.dim} of input of shape {x.shape}") from None

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Softmax(Module):
    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.softmax(x, self.dim, _stacklevel=5)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    def forward(self, x):
        return F.log_softmax(x, self.dim, _stacklevel=5)


class CosineSimilarity(Module):
    def __init__(self, dim: int = 1, eps: float = 1e-8):
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1, x2):
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1, x2):
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)


# ---- more activations, each a thin layer over its functional form (nn/functional.py has the math) ------------
class _Activation(Module):
    """A pointwise layer whose constructor arguments are its functional form's keyword arguments.  Siblings
    share bases below, never each other (a SELU is not a ReLU6, as in torch)."""

    _fn = None
    _shown = ()  # the arguments torch's repr prints, then ", inplace=True" when it is
    _shows_inplace = True  # Hardsigmoid and Hardswish print nothing at all, as torch's

    def __init__(self, **kwargs):
        super().__init__()
        self._kwargs = kwargs
        for k, v in kwargs.items():
            object.__setattr__(self, k, v)

    def forward(self, x):
        return type(self)._fn(x, **self._kwargs)

    def extra_repr(self):
        parts = [f"{k}={getattr(self, k)}" for k in self._shown]
        if self._shows_inplace and self._kwargs.get("inplace"):
            parts.append("inplace=True")
        return ", ".join(parts)


class _InplaceOnly(_Activation):
    """The layers whose one argument is ``inplace``."""

    def __init__(self, inplace: bool = False):
        super().__init__(inplace=inplace)


class _Shrink(_Activation):
    def __init__(self, lambd: float = 0.5):
        super().__init__(lambd=lambd)

    def extra_repr(self):
        return f"{self.lambd}"


class Hardtanh(_Activation):
    _fn, _shown = F.hardtanh, ("min_val", "max_val")

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
        super().__init__(min_val=min_val, max_val=max_val, inplace=inplace)


class ReLU6(_InplaceOnly):
    _fn = F.relu6


class Hardsigmoid(_InplaceOnly):
    _fn, _shows_inplace = F.hardsigmoid, False


class Hardswish(_InplaceOnly):
    _fn, _shows_inplace = F.hardswish, False


class SELU(_InplaceOnly):
    _fn = F.selu


class CELU(_Activation):
    _fn, _shown = F.celu, ("alpha",)

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__(alpha=alpha, inplace=inplace)


class Mish(_InplaceOnly):
    _fn = F.mish


class Softsign(_Activation):
    _fn = F.softsign


class Tanhshrink(_Activation):
    _fn = F.tanhshrink


class LogSigmoid(_Activation):
    _fn = F.logsigmoid


class Hardshrink(_Shrink):
    _fn = F.hardshrink


class Softshrink(_Shrink):
    _fn = F.softshrink


class Threshold(_Activation):
    _fn, _shown = F.threshold, ("threshold", "value")

    def __init__(self, threshold: float, value: float, inplace: bool = False):
        super().__init__(threshold=threshold, value=value, inplace=inplace)


class GLU(_Activation):
    _fn, _shown = F.glu, ("dim",)

    def __init__(self, dim: int = -1):
        super().__init__(dim=dim)


class Softmin(_Activation):
    _fn, _shown = F.softmin, ("dim",)

    def __init__(self, dim=None):
        super().__init__(dim=dim)
