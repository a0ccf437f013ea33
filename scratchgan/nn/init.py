"""Weight initialisers (``torch.nn.init``), in place and outside the graph.

Each accepts a Tensor (``m.weight`` or ``m.weight.data``, as the DCGAN
tutorial's ``weights_init`` passes).
"""
from __future__ import annotations

import math
from statistics import NormalDist

from .. import backend as B
from ..tensor import Tensor, _bump, no_grad

__all__ = ["calculate_gain", "uniform_", "normal_", "constant_", "zeros_", "ones_", "kaiming_uniform_",
           "kaiming_normal_", "xavier_uniform_", "xavier_normal_", "orthogonal_", "trunc_normal_"]


def _fill(t, host_values):
    """Write the values into t's memory; an in-place write, so t's version moves on (a graph that
    saved t for its backward then refuses to run instead of using the new values)."""
    data = t.array if isinstance(t, Tensor) else t
    with no_grad():
        data[...] = B.to_device(host_values.astype(data.dtype), B.device_of(data))
    if isinstance(t, Tensor):
        _bump(t)
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


_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The factor that keeps activations' variance: 1 for linear maps and sigmoid, 5/3 for tanh,
    √2 for relu, √(2/(1 + slope²)) for leaky_relu (slope 0.01 unless given), 3/4 for selu."""
    if nonlinearity in _LINEAR or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
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


def _kaiming_std(t, a, mode, nonlinearity) -> float:
    """gain/√fan (He et al., 2015): fan_in keeps the forward variance, fan_out the backward one."""
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _fan_in_and_fan_out(t)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan_in if mode == "fan_in" else fan_out)


def kaiming_uniform_(t, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", generator=None):
    """U(−b, b), b = gain·√(3/fan).  With a = √5 (PyTorch's Linear/Conv default) b = 1/√fan_in."""
    bound = math.sqrt(3.0) * _kaiming_std(t, a, mode, nonlinearity)
    return uniform_(t, -bound, bound, generator)


def kaiming_normal_(t, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", generator=None):
    """N(0, std²), std = gain/√fan."""
    return normal_(t, 0.0, _kaiming_std(t, a, mode, nonlinearity), generator)


def xavier_uniform_(t, gain: float = 1.0, generator=None):
    fan_in, fan_out = _fan_in_and_fan_out(t)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -bound, bound, generator)


def xavier_normal_(t, gain: float = 1.0, generator=None):
    fan_in, fan_out = _fan_in_and_fan_out(t)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def orthogonal_(t, gain: float = 1.0, generator=None):
    """A (semi-)orthogonal matrix (Saxe et al., 2013) over t viewed as (size(0), rest): the Q of
    the QR decomposition of a Gaussian matrix, signs fixed by R's diagonal so Q is uniform (Haar)."""
    shape = _shape(t)
    if len(shape) < 2:
        raise ValueError(f"orthogonal_: only tensors with 2 or more dimensions are supported, got shape {shape}")
    rows = shape[0]
    cols = math.prod(shape) // rows if rows else 0
    if rows == 0 or cols == 0:
        return t
    a = (generator or B.host_rng()).normal(0.0, 1.0, size=(rows, cols))
    if rows < cols:
        a = a.T
    q, r = B.numpy.linalg.qr(a)
    q *= B.numpy.sign(B.numpy.diag(r))
    if rows < cols:
        q = q.T
    return _fill(t, (gain * q).reshape(shape))


def trunc_normal_(t, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0, generator=None):
    """N(mean, std²) restricted to [a, b] (absolute bounds, as in PyTorch), by redrawing the values
    that fall outside; bounds that hold under 5 % of the mass use the inverse CDF instead."""
    if not a < b:
        raise ValueError(f"trunc_normal_: expected a < b, got a={a}, b={b}")
    rng = generator or B.host_rng()
    n = math.prod(_shape(t))
    lo, hi = (NormalDist(mean, std).cdf(v) for v in (a, b))
    if hi - lo < 0.05:  # rejection would take too many rounds: map uniform draws through Φ⁻¹
        inv = B.numpy.vectorize(NormalDist(mean, std).inv_cdf, otypes=[float])
        return _fill(t, B.numpy.clip(inv(rng.uniform(lo, hi, size=_shape(t))), a, b))
    values = rng.normal(mean, std, size=n)
    bad = (values < a) | (values > b)
    while bad.any():  # each round keeps the fraction inside [a, b]: a few rounds for usual bounds
        values[bad] = rng.normal(mean, std, size=int(bad.sum()))
        bad = (values < a) | (values > b)
    return _fill(t, values.reshape(_shape(t)))


def default_layer_init_(weight, bias=None):
    """PyTorch's reset_parameters for Linear and Conv: weight ~ kaiming_uniform(a=√5),
    bias ~ U(−1/√fan_in, 1/√fan_in)."""
    kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = _fan_in_and_fan_out(weight)
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        uniform_(bias, -bound, bound)
