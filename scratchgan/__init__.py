"""scratchgan: a from-scratch GAN engine on NumPy (CuPy on a GPU), shaped like PyTorch.

``import scratchgan as torch``, ``import scratchgan.nn as nn`` and
``import scratchgan.optim as optim`` run the PyTorch GAN scripts that the README lists under
"Porting PyTorch GAN code" with only those imports changed.
Start reading at ``tensor.py`` (the autograd engine), then ``ops.py``.
"""
from ._unsupported import module_getattr as _module_getattr
from . import autograd, backend, backends, cuda, linalg, losses, nn, optim, utils  # noqa: F401
from .backend import device
from .creation import (BoolTensor, ByteTensor, DoubleTensor, FloatTensor, HalfTensor, IntTensor, LongTensor, arange,
                       as_tensor, bernoulli, empty, empty_like, eye, from_numpy, full, full_like, is_tensor, linspace,
                       get_default_dtype, manual_seed, normal, ones, ones_like, rand, rand_like, randint, randn,
                       randn_like, randperm, set_default_dtype, tensor, zeros, zeros_like)
from .logical import (all, allclose, any, bitwise_and, bitwise_not, bitwise_or, bitwise_xor, equal,  # noqa: A004
                      isclose, isfinite, isinf, isnan, logical_and, logical_not, logical_or)
from .ops import (abs, add, argmax, argmin, bmm, cat, chunk, clamp, clone, div, dot, eq, exp, flatten, ge, gt, le, lerp,
                  log, log1p, logsigmoid, logsumexp, lt, masked_fill, matmul, max, maximum, mean, min, minimum, mul, mv,
                  ne, neg, permute, pow, relu, repeat_interleave, reshape, rsqrt, sigmoid, sign, softplus, split,
                  sqrt, square, squeeze, stack, std, sub, sum, t, tanh, transpose, unsqueeze, var, where)
from .generator import Generator, get_rng_state, initial_seed, seed, set_rng_state
from .kernels import get_num_threads, set_num_threads
from .nn import functional  # noqa: F401 - its old place: scratchgan.functional is nn.functional
from .index_ops import (argsort, cumsum, flip, gather, index_select, masked_select, meshgrid, movedim, narrow, nonzero,
                        roll, scatter, scatter_add, sort, topk, tril, triu, unbind, unique)
from .math_ops import (addcdiv, addcmul, addmm, cdist, cos, diagonal, erf, erfc, expm1, log2, log10, mm, norm, outer,
                       prod, reciprocal, sin, std_mean, trace, var_mean)
from .ops import amax, amin, broadcast_to, ceil, floor, log_softmax, nan_to_num, round, softmax  # noqa: A004
from .serialization import load, save
from .tensor import Tensor, enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled

__version__ = "0.1.0"

_np = backend.numpy
float32 = float = _np.dtype("float32")  # noqa: A001 - torch.float is float32
float64 = double = _np.dtype("float64")
int64 = long = _np.dtype("int64")
int32 = _np.dtype("int32")
uint8 = _np.dtype("uint8")
bool = _np.dtype("bool")  # noqa: A001
clip = clamp
moveaxis = movedim
ger = outer


def detach(x: Tensor) -> Tensor:
    return x.detach()


def numel(x: Tensor) -> int:
    return x.numel()


def swapaxes(x: Tensor, axis0: int, axis1: int) -> Tensor:
    return transpose(x, axis0, axis1)


swapdims = swapaxes

__getattr__ = _module_getattr(__name__, {
    "compile": "there is nothing to compile: the ops are NumPy/CuPy calls; drop the call",
    "autocast": "mixed precision is not supported: everything runs in float32 (float64 in gradient checks)",
    "einsum": "write the contraction with matmul/bmm, permute and reshape",
    "float16": "mixed precision is not supported: everything runs in float32 (float64 in gradient checks)",
    "bfloat16": "mixed precision is not supported: everything runs in float32 (float64 in gradient checks)",
    "jit": "TorchScript is not supported",
    "distributed": "one process, one device",
})
