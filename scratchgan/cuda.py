"""``scratchgan.cuda.is_available()``, as ``torch.cuda.is_available()``."""
from .backend import cuda_is_available as is_available


def device_count() -> int:
    if not is_available():
        return 0
    from .backend import get_backend  # noqa: PLC0415

    return int(get_backend("cuda").xp.cuda.runtime.getDeviceCount())


__all__ = ["is_available", "device_count"]
