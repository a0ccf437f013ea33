"""``scratchgan.cuda``: the parts of ``torch.cuda`` training scripts call (``is_available``, ``device_count``,
``synchronize`` around a timer, ``empty_cache`` between runs, ``memory_allocated`` in a log line), on CuPy."""
from .backend import cuda_is_available as is_available


def _cupy(what: str):
    """CuPy, or torch's error on a machine without CUDA."""
    if not is_available():
        raise RuntimeError(f"cuda.{what}: no CUDA device is available (scratchgan.cuda.is_available() is False)")
    from .backend import get_backend  # noqa: PLC0415

    return get_backend("cuda").xp


def device_count() -> int:
    if not is_available():
        return 0
    from .backend import get_backend  # noqa: PLC0415

    return int(get_backend("cuda").xp.cuda.runtime.getDeviceCount())


def synchronize(device=None) -> None:
    """Wait for the GPU's queued work (time a step only after it)."""
    _cupy("synchronize").cuda.Device().synchronize()


def current_device() -> int:
    _cupy("current_device")
    return 0


def get_device_name(device=None) -> str:
    props = _cupy("get_device_name").cuda.runtime.getDeviceProperties(0)
    name = props["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def memory_allocated(device=None) -> int:
    """Bytes held by live arrays (CuPy's memory pool in use); 0 before CUDA is used or without it, as torch."""
    if not is_available():
        return 0
    return int(_cupy("memory_allocated").get_default_memory_pool().used_bytes())


def max_memory_allocated(device=None) -> int:
    """CuPy's pool does not track a peak: the bytes it holds now (in use or cached), a bound on the peak."""
    if not is_available():
        return 0
    return int(_cupy("max_memory_allocated").get_default_memory_pool().total_bytes())


def empty_cache() -> None:
    """Give cached, unused GPU memory back to the driver; a no-op without CUDA, as torch's."""
    if is_available():
        _cupy("empty_cache").get_default_memory_pool().free_all_blocks()


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


__all__ = ["is_available", "device_count", "manual_seed", "manual_seed_all", "set_device", "synchronize",
           "current_device", "get_device_name", "memory_allocated", "max_memory_allocated", "empty_cache"]
