"""``scratchgan.cuda.is_available()``, as ``torch.cuda.is_available()``."""
from .backend import cuda_is_available as is_available


def device_count() -> int:
    if not is_available():
        return 0
    from .backend import get_backend  # noqa: PLC0415

    return int(get_backend("cuda").xp.cuda.runtime.getDeviceCount())


def manual_seed(seed: int) -> None:
    """Accepted: every random draw, CUDA tensors' included, comes from the one host generator that
    ``scratchgan.manual_seed`` seeds, so there is no separate CUDA generator to seed."""


manual_seed_all = manual_seed


def set_device(device) -> None:
    """Only device 0 exists for scratchgan (one GPU per process)."""
    index = getattr(device, "index", device)
    if isinstance(index, str):
        index = int(index.split(":")[1]) if ":" in index else 0
    if index not in (None, 0):
        raise NotImplementedError(f"cuda.set_device({device!r}): scratchgan uses one GPU, device 0; "
                                  "choose the GPU with CUDA_VISIBLE_DEVICES instead")


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
    if name == "amp":
        from ._unsupported import UnsupportedError  # noqa: PLC0415

        raise UnsupportedError("cuda.amp (autocast, GradScaler) is not implemented in scratchgan: mixed precision "
                               "is not supported; drop autocast and use loss.backward() / optimizer.step()")
    raise AttributeError(f"module 'scratchgan.cuda' has no attribute {name!r}")


__all__ = ["is_available", "device_count", "manual_seed", "manual_seed_all", "set_device"]
