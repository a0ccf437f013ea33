"""``scratchgan.cuda.is_available()``, as ``torch.cuda.is_available()``."""
from .backend import cuda_is_available as is_available


def device_count() -> int:
    if not is_available():
        return 0
    from .backend import get_backend  # noqa: PLC0415

    return int(get_backend("cuda").xp.cuda.runtime.getDeviceCount())


_TYPES: dict = {}


def _legacy_types():
    from .creation import _legacy  # noqa: PLC0415

    np = __import__("numpy")
    if not _TYPES:
        _TYPES.update({name: _legacy(name, dtype, "cuda") for name, dtype in (
            ("FloatTensor", np.float32), ("DoubleTensor", np.float64), ("HalfTensor", np.float16),
            ("LongTensor", np.int64), ("IntTensor", np.int32), ("ByteTensor", np.uint8), ("BoolTensor", np.bool_))})
    return _TYPES


def __getattr__(name):
    """``torch.cuda.FloatTensor`` & co. (old code's ``Tensor = cuda.FloatTensor if cuda else FloatTensor``)."""
    types = _legacy_types()
    if name in types:
        return types[name]
    raise AttributeError(f"module 'scratchgan.cuda' has no attribute {name!r}")


__all__ = ["is_available", "device_count"]
