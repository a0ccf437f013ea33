"""Making tensors: ``tensor``, ``randn``, ``zeros``, ... with PyTorch's signatures.

Floats default to float32.  Random numbers come from the one host generator in
``backend`` (seeded by ``manual_seed``) and are then moved to ``device``, so a seed
gives the same numbers on the CPU and on a GPU.
"""
from __future__ import annotations

from . import backend as B
from .ops import _shape_arg, resolve_dtype
from .tensor import Tensor

_np = B.numpy


def _finish(host_or_device_array, device, requires_grad):
    data = B.to_device(host_or_device_array, device if device is not None else "cpu")
    return Tensor(data, requires_grad=requires_grad)


def tensor(data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new tensor from Python data or an array (copied).  Python floats become float32."""
    if isinstance(data, Tensor):
        data = data.array
    src = B._backend_of(data)
    if src is not None:  # an array: keep its dtype unless told, keep its device unless told
        arr = data.astype(resolve_dtype(dtype), copy=True) if dtype is not None else data.copy()
        return _finish(arr, device if device is not None else B.device_of(data), requires_grad)
    arr = _np.array(data)
    if dtype is not None:
        arr = arr.astype(resolve_dtype(dtype))
    elif arr.dtype == _np.float64:
        arr = arr.astype(_np.float32)
    return _finish(arr, device, requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    if isinstance(data, Tensor) and dtype is None and device is None:
        return data
    return tensor(data, dtype=dtype, device=device)


def from_numpy(array) -> Tensor:
    """Shares memory with ``array`` (CPU), like ``torch.from_numpy``."""
    return Tensor(array)


def _filled(fill, size, dtype, device, requires_grad):
    shape = _shape_arg(size)
    xp = B.get_backend(device if device is not None else "cpu").xp
    return Tensor(xp.full(shape, fill, dtype=resolve_dtype(dtype)), requires_grad=requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _filled(0, size, dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _filled(1, size, dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _filled(0, size, dtype, device, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Without a dtype, PyTorch's: bool for True/False, int64 for an int, float32 for a float."""
    if dtype is None and isinstance(fill_value, (bool, int, _np.bool_, _np.integer)):
        dtype = _np.bool_ if isinstance(fill_value, (bool, _np.bool_)) else _np.int64
    return _filled(fill_value, (size,) if isinstance(size, int) else tuple(size), dtype, device, requires_grad)


def zeros_like(t: Tensor, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _filled(0, t.shape, dtype or t.dtype, device or t.device, requires_grad)


def ones_like(t: Tensor, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _filled(1, t.shape, dtype or t.dtype, device or t.device, requires_grad)


def full_like(t: Tensor, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _filled(fill_value, t.shape, dtype or t.dtype, device or t.device, requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False) -> Tensor:
    if end is None:
        start, end = 0, start
    ints = all(isinstance(v, int) for v in (start, end, step))
    arr = _np.arange(start, end, step, dtype=resolve_dtype(dtype if dtype is not None else (_np.int64 if ints else None)))
    return _finish(arr, device, requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _finish(_np.linspace(start, end, steps, dtype=resolve_dtype(dtype)), device, requires_grad)


def randn(*size, dtype=None, device=None, requires_grad=False, generator=None) -> Tensor:
    """Standard normal samples."""
    rng = generator or B.host_rng()
    dt = resolve_dtype(dtype)
    arr = rng.standard_normal(_shape_arg(size), dtype=dt if dt in (_np.float32, _np.float64) else _np.float64)
    return _finish(arr.astype(dt, copy=False), device, requires_grad)


def rand(*size, dtype=None, device=None, requires_grad=False, generator=None) -> Tensor:
    """Uniform samples on [0, 1)."""
    rng = generator or B.host_rng()
    dt = resolve_dtype(dtype)
    arr = rng.random(_shape_arg(size), dtype=dt if dt in (_np.float32, _np.float64) else _np.float64)
    return _finish(arr.astype(dt, copy=False), device, requires_grad)


def randint(low, high=None, size=(1,), dtype=None, device=None, generator=None) -> Tensor:
    if high is None:
        low, high = 0, low
    rng = generator or B.host_rng()
    arr = rng.integers(low, high, size=tuple(size), dtype=_np.int64)
    return _finish(arr.astype(resolve_dtype(dtype or _np.int64), copy=False), device, False)


def randperm(n, device=None, generator=None) -> Tensor:
    return _finish((generator or B.host_rng()).permutation(n).astype(_np.int64), device, False)


def manual_seed(seed: int):
    """Seed scratchgan's global random generator (``torch.manual_seed``)."""
    return B.manual_seed(seed)


def get_default_dtype():
    """float32: scratchgan's floats (float64 only where asked for, as in gradient checks)."""
    return _np.dtype(_np.float32)


def set_default_dtype(d) -> None:
    """Only float32 is accepted: the engine's factories make float32 unless given ``dtype=``."""
    if resolve_dtype(d) != _np.float32:
        raise NotImplementedError(
            f"set_default_dtype({d}) is not supported in scratchgan: floats are float32 by default; pass "
            "dtype= to the factories (randn, zeros, tensor, ...) or call .double() on the tensors and modules")


def randn_like(t: Tensor, dtype=None, device=None, requires_grad=False) -> Tensor:
    return randn(*t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def rand_like(t: Tensor, dtype=None, device=None, requires_grad=False) -> Tensor:
    return rand(*t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def empty_like(t: Tensor, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uninitialised in torch; here zeros (NumPy's empty would hand out old memory, for no gain worth the risk)."""
    return zeros_like(t, dtype=dtype, device=device, requires_grad=requires_grad)


def bernoulli(p: Tensor, generator=None) -> Tensor:
    """1 with probability p, else 0, one draw per value of p (noisy labels: ``torch.bernoulli(0.9 * ones)``)."""
    rng = generator or B.host_rng()
    draws = rng.random(p.shape) < B.to_numpy(p.array)
    return _finish(draws.astype(p.dtype), p.device, False)


def normal(mean, std=1.0, size=None, generator=None, dtype=None, device=None) -> Tensor:
    """mean + std·N(0, 1): floats with ``size``, or tensors broadcast together (then differentiable in
    them, as torch: d/dmean = 1, d/dstd = the standard normal draw)."""
    if size is not None:
        return randn(*size, dtype=dtype, device=device, generator=generator) * std + mean
    like = mean if isinstance(mean, Tensor) else std
    if not isinstance(like, Tensor):
        raise TypeError("normal: give a size for float mean and std, or a tensor mean or std")
    shape = _np.broadcast_shapes(tuple(_np.shape(getattr(mean, "array", mean))), tuple(_np.shape(getattr(std, "array", std))))
    return mean + std * randn(*shape, dtype=like.dtype, device=like.device, generator=generator)


def eye(n: int, m: int | None = None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """The n × m identity matrix (m = n by default)."""
    return _finish(_np.eye(n, m, dtype=resolve_dtype(dtype)), device, requires_grad)


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


# ---- legacy typed constructors: FloatTensor(2, 3), LongTensor(np_array), x.type(FloatTensor) -------------
class _LegacyTensorType(type):
    """``isinstance(x, FloatTensor)`` is a dtype (and device) check, as in old PyTorch."""

    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.dtype == cls.dtype and obj.device.type == cls.device_type


def _legacy(name: str, dtype, device_type: str = "cpu"):
    def __new__(cls, *args, device=None):
        """``T(n, m, ...)``: a zero-filled tensor of that shape (PyTorch leaves it uninitialised);
        ``T(data)``: a copy of a list, array or tensor with this dtype."""
        dev = device if device is not None else device_type
        if not args or all(isinstance(a, int) and not isinstance(a, bool) for a in args):
            return zeros(*args, dtype=cls.dtype, device=dev)
        if len(args) != 1:
            raise TypeError(f"{name}(): expected sizes (ints) or one data argument, got {args!r}")
        return tensor(args[0], dtype=cls.dtype, device=dev)

    return _LegacyTensorType(name, (), {"__new__": __new__, "dtype": _np.dtype(dtype), "device_type": device_type,
                                       "__doc__": f"Legacy ``torch.{name}``: builds {_np.dtype(dtype)} tensors."})


FloatTensor = _legacy("FloatTensor", _np.float32)
DoubleTensor = _legacy("DoubleTensor", _np.float64)
HalfTensor = _legacy("HalfTensor", _np.float16)
LongTensor = _legacy("LongTensor", _np.int64)
IntTensor = _legacy("IntTensor", _np.int32)
ByteTensor = _legacy("ByteTensor", _np.uint8)
BoolTensor = _legacy("BoolTensor", _np.bool_)


# ---- x.new_zeros(size) & co.: new tensors with x's dtype and device ---------------------------------------------
def _new_filled(fill):
    def new_(x: Tensor, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
        return _filled(fill, size, dtype if dtype is not None else x.dtype,
                       device if device is not None else x.device, requires_grad)

    return new_


def _new_full(x: Tensor, size, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _filled(fill_value, (size,), dtype if dtype is not None else x.dtype,
                   device if device is not None else x.device, requires_grad)


def _new_tensor(x: Tensor, data, dtype=None, device=None, requires_grad=False) -> Tensor:
    return tensor(data, dtype=dtype if dtype is not None else x.dtype,
                  device=device if device is not None else x.device, requires_grad=requires_grad)


def _legacy_new(x: Tensor, *args) -> Tensor:
    """Old ``x.new(n, m)`` (zeros here; PyTorch leaves them uninitialised) or ``x.new(data)``, in x's dtype."""
    if not args or all(isinstance(a, int) and not isinstance(a, bool) for a in args):
        return _filled(0, args, x.dtype, x.device, False)
    return _new_tensor(x, args[0])


Tensor.new_zeros = _new_filled(0)
Tensor.new_ones = _new_filled(1)
Tensor.new_empty = _new_filled(0)
Tensor.new_full = _new_full
Tensor.new_tensor = _new_tensor
Tensor.new = _legacy_new
