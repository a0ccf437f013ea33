"""A test backend that behaves like CuPy where it matters: its arrays refuse to mix
with plain ``numpy.ndarray`` and refuse implicit conversion to NumPy.

Any op that calls ``numpy`` directly instead of the module ``get_array_module``
returns fails on it, so the op tests prove backend-agnosticism without a GPU.
"""
from __future__ import annotations

import types

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin

from scratchgan import backend


class ForeignArrayError(TypeError):
    pass


class StrictArray(NDArrayOperatorsMixin):
    """Wraps a NumPy array; every operation unwraps StrictArrays and rejects raw ndarrays."""

    __slots__ = ("_a",)

    def __init__(self, a):
        self._a = a

    def __array__(self, *args, **kwargs):  # what CuPy does on np.asarray(cupy_array)
        raise ForeignArrayError("implicit conversion of a StrictArray to numpy is not allowed (use to_numpy)")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        inputs = tuple(_unwrap(x) for x in inputs)
        if "out" in kwargs:
            kwargs["out"] = tuple(_unwrap(x) for x in kwargs["out"])
        return _wrap(getattr(ufunc, method)(*inputs, **kwargs))

    def __array_function__(self, func, types_, args, kwargs):
        raise ForeignArrayError(f"numpy.{func.__name__} called directly on a StrictArray; use the backend module")

    def __getitem__(self, key):
        return _wrap(self._a[_unwrap(key)])

    def __setitem__(self, key, value):
        self._a[_unwrap(key)] = _unwrap(value)

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (_wrap(v) for v in self._a)

    def __bool__(self):
        return bool(self._a)

    def __float__(self):
        return float(self._a)

    def __int__(self):
        return int(self._a)

    def __index__(self):
        return self._a.__index__()

    def __repr__(self):
        return f"StrictArray({self._a!r})"

    def __getattr__(self, name):
        if name.startswith("__"):  # no __array_interface__ & co.: NumPy must not see through the wrapper
            raise AttributeError(name)
        attr = getattr(self._a, name)
        if callable(attr):
            return lambda *a, **k: _wrap(attr(*(_unwrap(x) for x in a), **{n: _unwrap(v) for n, v in k.items()}))
        return _wrap(attr)

    @property
    def T(self):
        return _wrap(self._a.T)


def _unwrap(x):
    if isinstance(x, StrictArray):
        return x._a
    if isinstance(x, np.ndarray):
        raise ForeignArrayError(f"a plain numpy.ndarray of shape {x.shape} was mixed with StrictArrays")
    if isinstance(x, (tuple, list)):
        return type(x)(_unwrap(v) for v in x)
    return x


def _wrap(x):
    if isinstance(x, np.ndarray):
        return StrictArray(x)
    if isinstance(x, np.generic):  # CuPy reduces to 0-d arrays, not host scalars
        return StrictArray(np.asarray(x))
    if isinstance(x, tuple):
        return tuple(_wrap(v) for v in x)
    return x


class _StrictModule(types.ModuleType):
    """``numpy`` seen through StrictArrays: arguments unwrapped (raw ndarrays refused), results wrapped."""

    def __init__(self, target, name):
        super().__init__(name)
        self._target = target

    def __getattr__(self, name):
        attr = getattr(self._target, name)
        if isinstance(attr, types.ModuleType):
            return _StrictModule(attr, f"{self.__name__}.{name}")
        if isinstance(attr, np.ufunc):
            return _StrictUfunc(attr)
        if callable(attr) and not isinstance(attr, type):
            def call(*args, **kwargs):
                args = tuple(_unwrap(a) for a in args)
                kwargs = {k: _unwrap(v) for k, v in kwargs.items()}
                return _wrap(attr(*args, **kwargs))
            call.__name__ = name
            return call
        return attr


class _StrictUfunc:
    def __init__(self, uf):
        self._uf = uf

    def __call__(self, *args, **kwargs):
        args = tuple(_unwrap(a) for a in args)
        if "out" in kwargs:
            out = kwargs["out"]
            kwargs["out"] = _unwrap(out) if not isinstance(out, tuple) else tuple(_unwrap(o) for o in out)
        return _wrap(self._uf(*args, **kwargs))

    def __getattr__(self, name):
        attr = getattr(self._uf, name)
        if callable(attr):
            return lambda *a, **k: _wrap(attr(*(_unwrap(x) for x in a), **{n: _unwrap(v) for n, v in k.items()}))
        return attr


strict_numpy = _StrictModule(np, "strict_numpy")


def register():
    """Register the ``strict`` device type (idempotent)."""
    return backend.register_backend("strict", strict_numpy, (StrictArray,), StrictArray,
                                    lambda a: a._a)
