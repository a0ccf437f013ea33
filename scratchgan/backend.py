"""The one place that knows NumPy and CuPy.

Every op asks ``get_array_module(*arrays)`` for the array module of its inputs
(``numpy`` for host arrays, ``cupy`` for GPU arrays) and calls only that module,
so one code path serves both.  Devices follow PyTorch's idiom:
``scratchgan.device("cpu" | "cuda")``.

Random numbers are always drawn on the host from one seeded NumPy generator and
then moved to the device: a seed gives the same numbers on every backend, and a
checkpoint needs to save only one RNG state.
"""
from __future__ import annotations

import numpy

__all__ = [
    "Backend", "device", "register_backend", "get_backend", "get_array_module", "device_of",
    "to_device", "to_numpy", "cuda_is_available", "manual_seed", "host_rng",
    "get_rng_state", "set_rng_state", "scatter_add", "is_self_overlapping",
]

GPU_INSTALL_HINT = (
    "CUDA needs CuPy and a visible NVIDIA GPU: install the CuPy wheel for your CUDA version "
    '(`pip install -e ".[gpu]"` for CUDA 12.x, `".[gpu-cuda13]"` for CUDA 13.x; nvidia-smi shows the version) '
    "and check `scratchgan.cuda.is_available()`."
)


class Backend:
    """An array library for one device type.

    ``xp`` is the array module the ops call; ``array_types`` recognise its arrays;
    ``from_numpy``/``to_numpy`` move data between it and the host.
    """

    def __init__(self, name, xp, array_types, from_numpy, to_numpy):
        self.name, self.xp, self.array_types = name, xp, tuple(array_types)
        self.from_numpy, self.to_numpy = from_numpy, to_numpy

    def __repr__(self):
        return f"Backend({self.name!r})"


_BACKENDS: dict[str, Backend] = {
    "cpu": Backend("cpu", numpy, (numpy.ndarray,), lambda a: a, lambda a: a),
}
# type(array) -> Backend, filled lazily; keeps get_array_module a dict lookup in hot paths.
_TYPE_CACHE: dict[type, Backend] = {numpy.ndarray: _BACKENDS["cpu"]}
_CUDA_STATE: dict = {}


def register_backend(name: str, xp, array_types, from_numpy, to_numpy) -> Backend:
    """Add a device type (the tests register a strict one that refuses NumPy arrays)."""
    b = Backend(name, xp, array_types, from_numpy, to_numpy)
    _BACKENDS[name] = b
    for t in b.array_types:
        _TYPE_CACHE[t] = b
    return b


def _load_cupy():
    """Import CuPy and check for a GPU once; returns the cuda Backend or None."""
    if "backend" not in _CUDA_STATE:
        backend = None
        try:
            import cupy  # noqa: PLC0415 - optional dependency

            if cupy.cuda.runtime.getDeviceCount() > 0:
                backend = register_backend("cuda", cupy, (cupy.ndarray,), cupy.asarray, cupy.asnumpy)
        except Exception as exc:  # ImportError, or CUDA driver/runtime errors
            _CUDA_STATE["error"] = f"{type(exc).__name__}: {exc}"
        _CUDA_STATE["backend"] = backend
    return _CUDA_STATE["backend"]


def cuda_is_available() -> bool:
    """True only when CuPy imports and sees at least one GPU."""
    return _load_cupy() is not None


class device:
    """Where a tensor's data lives: ``device("cpu")``, ``device("cuda")`` or ``device("cuda:0")``."""

    __slots__ = ("type", "index")

    def __init__(self, type="cpu", index=None):
        if isinstance(type, device):
            type, index = type.type, type.index
        type = str(type)
        if ":" in type:
            type, idx = type.split(":", 1)
            index = int(idx)
        if type not in _BACKENDS and type != "cuda":
            known = ", ".join(sorted(set(_BACKENDS) | {"cuda"}))
            raise ValueError(f"device: unknown device type {type!r}; expected one of {known}")
        self.type, self.index = type, index

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and self.type == other.type and (self.index or 0) == (other.index or 0)

    def __hash__(self):
        return hash((self.type, self.index or 0))

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        return f"device(type={self.type!r})" if self.index is None else f"device(type={self.type!r}, index={self.index})"


def get_backend(dev) -> Backend:
    """The Backend for a device (or device string); a clear error when CUDA is not usable."""
    name = device(dev).type if dev is not None else "cpu"
    if name == "cuda":
        b = _load_cupy()
        if b is None:
            why = _CUDA_STATE.get("error", "CuPy found no GPU")
            raise RuntimeError(f"device 'cuda' is not available ({why}). {GPU_INSTALL_HINT}")
        return b
    return _BACKENDS[name]


def _backend_of(a):
    b = _TYPE_CACHE.get(type(a))
    if b is None:
        for cand in _BACKENDS.values():
            if isinstance(a, cand.array_types):
                b = _TYPE_CACHE[type(a)] = cand
                break
    return b


def get_array_module(*arrays):
    """The array module (numpy, cupy, ...) that holds ``arrays``; scalars are neutral.

    Arrays from two backends are an error, never a silent host/device copy.
    """
    found = None
    for a in arrays:
        b = _backend_of(a)
        if b is None or b is found:
            continue
        if found is not None:
            raise TypeError(
                f"arrays on different devices ({found.name} and {b.name}); "
                "move tensors to one device with .to(device) first"
            )
        found = b
    return (found or _BACKENDS["cpu"]).xp


def device_of(a) -> device:
    b = _backend_of(a)
    return device(b.name if b is not None else "cpu")


def to_device(a, dev):
    """Move a backend array (or anything NumPy accepts) to ``dev``; no copy if it is already there."""
    target = get_backend(dev)
    src = _backend_of(a)
    if src is target:
        return a
    host = src.to_numpy(a) if src is not None else numpy.asarray(a)
    return target.from_numpy(host)


def to_numpy(a) -> numpy.ndarray:
    """A host NumPy copy (or view, on the CPU) of a backend array."""
    src = _backend_of(a)
    return src.to_numpy(a) if src is not None else numpy.asarray(a)


def is_self_overlapping(a) -> bool:
    """True for a view in which several elements share one memory location (``expand``/``broadcast_to``):
    writing through it is undefined.  NumPy marks such views read-only; CuPy's ``flags`` has no
    ``writeable`` and its broadcast views are writable, so a stride of 0 on a dimension longer than 1
    tells there.  (Any other read-only NumPy array counts too: it cannot be written either.)"""
    if not getattr(a.flags, "writeable", True):
        return True
    return any(st == 0 and n > 1 for st, n in zip(a.strides, a.shape))


def scatter_add(xp, target, index, values):
    """target[index] += values with repeated indices summed (NumPy's add.at; CuPy's scatter_add)."""
    if xp is numpy:
        numpy.add.at(target, index, values)
    elif getattr(xp, "__name__", "") == "cupy":
        import cupyx  # noqa: PLC0415

        cupyx.scatter_add(target, index, values)
    else:
        xp.add.at(target, index, values)
    return target


# ---- random numbers: one host generator, moved to the device -------------------------------
_RNG = [numpy.random.default_rng(0)]
_SEED = [0]


def manual_seed(seed: int):
    """Seed the global generator (like ``torch.manual_seed``)."""
    _SEED[0] = int(seed)
    _RNG[0] = numpy.random.default_rng(_SEED[0])
    return _RNG[0]


def initial_seed() -> int:
    return _SEED[0]


def host_rng() -> numpy.random.Generator:
    return _RNG[0]


def get_rng_state() -> dict:
    return _RNG[0].bit_generator.state


def set_rng_state(state: dict):
    _RNG[0].bit_generator.state = state
