"""Weight initialisers (``torch.nn.init``), in place and outside the graph.

Each accepts a Tensor (``m.weight`` or ``m.weight.data``, as the DCGAN
tutorial's ``weights_init`` passes).
"""
from __future__ import annotations

import math

from .. import backend as B
from ..tensor import Tensor, no_grad

__all__ = ["calculate_gain", "uniform_", "normal_", "constant_", "zeros_", "ones_", "kaiming_uniform_",
           "xavier_uniform_", "xavier_normal_"]


def _fill(t, host_values):
    data = t.array if isinstance(t, Tensor) else t
    with no_grad():
        data[...] = B.to_device(host_values.astype(data.dtype), B.device_of(data))
    return t


def _shape(t):
    return tuple((t.array if isinstance(t, Tensor) else t).shape)


def _fan_in_and_fan_out(t):
    """fan_in = size(1)·k, fan_out = size(0)·k, k = receptive field: PyTorch's rule, which for a
    ConvTranspose2d weight (in, out, kh, kw) counts ``out`` as fan-in."""
    shape = _shape(t)
    if len(shape) < 2:
        raise ValueError(f"fan in and fan out need a tensor of at least 2 dims, got shape {shape}")
    k = math.prod(shape[2:])
    return shape[1] * k, shape[0] * k


def calculate_gain(nonlinearity: str, param=None) -> float:
    if nonlinearity in ("linear", "conv1d", "conv2d", "conv_transpose2d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope ** 2))
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def uniform_(t, a: float = 0.0, b: float = 1.0, generator=None):
    return _fill(t, (generator or B.host_rng()).uniform(a, b, size=_shape(t)))


def normal_(t, mean: float = 0.0, std: float = 1.0, generator=None):
    return _fill(t, (generator or B.host_rng()).normal(mean, std, size=_shape(t)))


def constant_(t, val: float):
    return _fill(t, B.numpy.full(_shape(t), val))


def zeros_(t):
    return constant_(t, 0.0)


def ones_(t):
    return constant_(t, 1.0)


def kaiming_uniform_(t, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", generator=None):
    """U(−b, b), b = gain·√(3/fan).  With a = √5 (PyTorch's Linear/Conv default) b = 1/√fan_in."""
    fan_in, fan_out = _fan_in_and_fan_out(t)
    fan = fan_in if mode == "fan_in" else fan_out
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    return uniform_(t, -bound, bound, generator)


def xavier_uniform_(t, gain: float = 1.0, generator=None):
    fan_in, fan_out = _fan_in_and_fan_out(t)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -bound, bound, generator)


def xavier_normal_(t, gain: float = 1.0, generator=None):
    fan_in, fan_out = _fan_in_and_fan_out(t)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def default_layer_init_(weight, bias=None):
    """PyTorch's reset_parameters for Linear and Conv: weight ~ kaiming_uniform(a=√5),
    bias ~ U(−1/√fan_in, 1/√fan_in)."""
    kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = _fan_in_and_fan_out(weight)
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        uniform_(bias, -bound, bound)
