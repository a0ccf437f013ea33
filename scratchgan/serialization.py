"""``scratchgan.save`` / ``scratchgan.load``: PyTorch's ``torch.save``/``torch.load`` for data, in a format
that cannot run code when loaded.

A save is a zip archive (uncompressed, like PyTorch's) of

    scratchgan.json     {"format": "scratchgan-save", "version": 1, "tree": <the object as JSON>}
    arrays/<i>.npy      every tensor and array, in NumPy's .npy format, read with allow_pickle=False

The JSON tree holds what JSON can (None, bool, int, finite float, str) as itself, and everything else as
a tagged node: ``{"$": "dict", "items": [[key, value], ...]}`` (keys of any savable type, order kept;
``"OrderedDict"`` for that class), ``"list"``, ``"tuple"``, ``"tensor"`` (array index, requires_grad,
Parameter or not, the device it came from), ``"ndarray"``, ``"npscalar"``, ``"float"`` (nan/±inf),
``"bytes"``, ``"dtype"``, ``"device"``.  Loading builds only those types: no pickle, no imports, no calls —
the guarantee that ``torch.load(weights_only=True)`` gives for PyTorch files.  For the same reason a whole
``nn.Module`` (which PyTorch pickles, class and all) is refused: save ``model.state_dict()`` and rebuild the
model in code.
"""
from __future__ import annotations

import base64
import collections
import contextlib
import io
import json
import math
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from . import backend as B
from .tensor import Tensor

__all__ = ["save", "load", "FORMAT", "VERSION"]

FORMAT = "scratchgan-save"
VERSION = 1
_META = "scratchgan.json"


# ----------------------------------------------------------------------------- atomic files
@contextlib.contextmanager
def atomic_write(path, mode: str = "w", **open_kw):
    """``with atomic_write(path) as f: f.write(...)``: ``path`` holds either its old content or all the new one.

    The temporary file is ``.<name>.<random>.tmp`` in the same folder (``os.replace`` is atomic only within
    one file system); on any exception it is removed and the old file is left untouched.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **open_kw) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError) and e.errno is not None and e.filename is None:
            e.filename = str(path)  # a failed write() names no file; say which one it was
        raise
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    """Make a rename durable (POSIX; not possible on every platform)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


class _Writer:
    """Turns an object into a JSON tree, collecting its arrays."""

    def __init__(self):
        self.arrays: list[np.ndarray] = []
        self._seen: dict[int, int] = {}  # id(tensor or array) -> array index: one copy of a shared object

    def array(self, obj, host: np.ndarray) -> int:
        if id(obj) not in self._seen:
            if host.dtype.kind in "OSUV":
                raise TypeError(f"arrays of dtype {host.dtype} cannot be saved (numbers and bools only)")
            self._seen[id(obj)] = len(self.arrays)
            self.arrays.append(host if host.flags.c_contiguous else host.copy(order="C"))
        return self._seen[id(obj)]

    def encode(self, obj, where: str):
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int) and not isinstance(obj, bool):
            return int(obj)
        if isinstance(obj, float):
            return float(obj) if math.isfinite(obj) else {"$": "float", "v": repr(float(obj))}
        if isinstance(obj, Tensor):
            from .nn.module import Parameter  # noqa: PLC0415  (nn imports this package)

            return {"$": "tensor", "array": self.array(obj, B.to_numpy(obj.array)), "requires_grad": obj.requires_grad,
                    "parameter": isinstance(obj, Parameter), "device": str(obj.device)}
        if B._backend_of(obj) is not None:  # a NumPy (or CuPy) array
            return {"$": "ndarray", "array": self.array(obj, B.to_numpy(obj))}
        if isinstance(obj, np.generic) and not isinstance(obj, (np.str_, np.bytes_)):
            return {"$": "npscalar", "array": self.array(obj, np.asarray(obj))}
        if isinstance(obj, bytes):
            return {"$": "bytes", "v": base64.b64encode(obj).decode("ascii")}
        if isinstance(obj, np.dtype):
            return {"$": "dtype", "v": obj.str if obj.kind != "b" else "bool"}
        if isinstance(obj, B.device):
            return {"$": "device", "v": str(obj)}
        if isinstance(obj, dict):
            tag = "OrderedDict" if isinstance(obj, collections.OrderedDict) else "dict"
            return {"$": tag, "items": [[self.encode(k, f"{where} key {k!r}"), self.encode(v, f"{where}[{k!r}]")]
                                        for k, v in obj.items()]}
        if isinstance(obj, (list, tuple)):
            return {"$": "list" if isinstance(obj, list) else "tuple",
                    "items": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]}
        message = _cannot_save(obj, where)
        raise (NotSaveableError if message.startswith(_WHOLE) else TypeError)(message)


class NotSaveableError(NotImplementedError, TypeError):
    """Saving a whole module or optimizer (PyTorch pickles them): deliberately unsupported, so a
    NotImplementedError; also a TypeError, like any other object a save cannot hold."""


_WHOLE = "scratchgan.save: whole objects are not supported: "


def _cannot_save(obj, where: str) -> str:
    from .nn.module import Module  # noqa: PLC0415
    from .optim.optimizer import Optimizer  # noqa: PLC0415

    name = type(obj).__name__
    if isinstance(obj, Module):
        return (f"{_WHOLE}{where} is a whole nn.Module ({name}). PyTorch pickles modules (class and all), "
                "and loading a pickle runs code, so scratchgan saves data only: save its weights with "
                f"scratchgan.save(model.state_dict(), f) and load them into a model built in code: "
                f"model = {name}(...); model.load_state_dict(scratchgan.load(f))")
    if isinstance(obj, Optimizer):
        return (f"{_WHOLE}{where} is an optimizer ({name}); save optimizer.state_dict() and restore it "
                "with optimizer.load_state_dict(...)")
    return (f"scratchgan.save: cannot save {where} of type {type(obj).__module__}.{name}; a save holds nested "
            "dicts, lists and tuples of Tensors, NumPy arrays, numbers, strings, bytes, bools and None")


def save(obj, f, pickle_module=None, pickle_protocol=None, _use_new_zipfile_serialization=True) -> None:
    """Write ``obj`` (state_dicts, optimizer states, nested dicts/lists/tuples of tensors, arrays, numbers,
    strings) to ``f``, a path or a writable binary file.  A path is written atomically: a crash mid-write
    leaves the old file whole.  Tensors are saved from the host (a GPU tensor loads back to the GPU)."""
    if pickle_module is not None:
        raise NotImplementedError("scratchgan.save: pickle_module is not supported (saves are never pickled)")
    writer = _Writer()
    tree = writer.encode(obj, "obj")
    meta = json.dumps({"format": FORMAT, "version": VERSION, "tree": tree}, allow_nan=False)

    def write(fileobj):
        with zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as z:
            z.writestr(_META, meta)
            for i, arr in enumerate(writer.arrays):
                with z.open(f"arrays/{i}.npy", "w", force_zip64=arr.nbytes > 2 ** 30) as out:
                    np.lib.format.write_array(out, arr, allow_pickle=False)

    if isinstance(f, (str, os.PathLike)):
        path = Path(f)
        if path.is_dir():
            raise IsADirectoryError(f"scratchgan.save: {path} is a folder; give a file name such as {path / 'model.pt'}")
        with atomic_write(path, "wb") as out:
            write(out)
    else:
        write(f)


# ----------------------------------------------------------------------------- loading


def _target_device(saved: str, map_location, name):
    """Where a tensor saved from ``saved`` goes: PyTorch's map_location rules (None, a device, a dict)."""
    if map_location is None:
        dev = saved
    elif isinstance(map_location, dict):
        dev = next((v for k, v in map_location.items() if B.device(k) == B.device(saved)), saved)
    elif callable(map_location) and not isinstance(map_location, (str, B.device)):
        raise NotImplementedError("scratchgan.load: a callable map_location is not supported; "
                                  "give a device, a device name or a dict {'cuda:0': 'cpu'}")
    else:
        dev = map_location
    dev = B.device(dev) if isinstance(dev, str) else dev
    if dev.type == "cuda" and not B.cuda_is_available():
        raise RuntimeError(f"scratchgan.load: {name} holds tensors saved on {saved}, but CUDA is not available "
                           "here; pass map_location='cpu' to load them onto the CPU")
    return dev


class _Reader:
    def __init__(self, z: zipfile.ZipFile, name: str, map_location):
        self.z, self.name, self.map_location = z, name, map_location
        self._arrays: dict[int, np.ndarray] = {}
        self._tensors: dict[int, Tensor] = {}

    def array(self, i) -> np.ndarray:
        if i not in self._arrays:
            with self.z.open(f"arrays/{int(i)}.npy") as src:
                data = io.BytesIO(src.read())
            self._arrays[i] = np.lib.format.read_array(data, allow_pickle=False)
        return self._arrays[i]

    def decode(self, node):
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if not isinstance(node, dict) or "$" not in node:
            raise ValueError(f"unexpected node {str(node)[:80]!r}")
        tag = node["$"]
        if tag in ("dict", "OrderedDict"):
            cls = dict if tag == "dict" else collections.OrderedDict
            return cls((self.decode(k), self.decode(v)) for k, v in node["items"])
        if tag == "list":
            return [self.decode(v) for v in node["items"]]
        if tag == "tuple":
            return tuple(self.decode(v) for v in node["items"])
        if tag == "tensor":
            key = node["array"]
            if key not in self._tensors:  # one object saved twice loads as one object
                from .nn.module import Parameter  # noqa: PLC0415

                dev = _target_device(node.get("device", "cpu"), self.map_location, self.name)
                data = B.to_device(self.array(key), dev)
                rg = bool(node.get("requires_grad", False))
                self._tensors[key] = Parameter(data, requires_grad=rg) if node.get("parameter") else Tensor(data, requires_grad=rg)
            return self._tensors[key]
        if tag == "ndarray":
            return self.array(node["array"])
        if tag == "npscalar":
            return self.array(node["array"])[()]
        if tag == "float":
            return float(node["v"])
        if tag == "bytes":
            return base64.b64decode(node["v"])
        if tag == "dtype":
            return np.dtype(node["v"])
        if tag == "device":
            return B.device(node["v"])
        raise ValueError(f"unknown node type {tag!r}")


def _describe_foreign(z: zipfile.ZipFile, names: list) -> str:
    if any(n.endswith("data.pkl") for n in names):
        return ("a PyTorch file (torch.save's zip with a pickle); scratchgan.load reads only scratchgan.save "
                "files. In PyTorch, load it and convert: {k: v.numpy() for k, v in torch.load(f).items()}, "
                "then load_state_dict that dict (it takes NumPy arrays) or scratchgan.save it")
    if "meta.npy" in names:
        return "a scratchgan training checkpoint; read it with scratchgan.gan.checkpoint.load_checkpoint(path)"
    if names and all(n.endswith(".npy") for n in names):
        return "a NumPy .npz archive; read it with numpy.load(f, allow_pickle=False)"
    return f"a zip archive without {_META} (entries: {', '.join(names[:5])}{', ...' if len(names) > 5 else ''})"


def load(f, map_location=None, pickle_module=None, *, weights_only=True, mmap=None, **pickle_load_args):
    """Read what ``save`` wrote, from a path or a readable binary file.

    ``map_location``: None (each tensor back to the device it was saved from), a device (``"cpu"``) or a
    dict ``{"cuda:0": "cpu"}``.  ``weights_only`` is accepted for PyTorch's signature; a scratchgan save holds
    data only, so both values load the same.  A file that is not a scratchgan save raises ``ValueError``
    naming the file and what it looks like instead."""
    if pickle_module is not None:
        raise NotImplementedError("scratchgan.load: pickle_module is not supported (saves are never pickled)")
    name = str(f) if isinstance(f, (str, os.PathLike)) else getattr(f, "name", "<file object>")
    if isinstance(f, (str, os.PathLike)):
        path = Path(f)
        if not path.exists():
            raise FileNotFoundError(f"scratchgan.load: no such file: {path}")
        if path.is_dir():
            raise IsADirectoryError(f"scratchgan.load: {path} is a folder, not a file saved by scratchgan.save")
        with open(path, "rb") as src:
            return _load_from(src, name, map_location)
    if not (hasattr(f, "seekable") and f.seekable()):
        f = io.BytesIO(f.read())
    return _load_from(f, name, map_location)


def _load_from(fileobj, name, map_location):
    start = fileobj.read(4)
    fileobj.seek(-len(start), io.SEEK_CUR)
    if start[:2] != b"PK":
        what = ("an old-style (pre-1.6) PyTorch pickle" if start[:1] == b"\x80" else
                "empty" if not start else f"not a zip archive (starts with {start!r})")
        raise ValueError(f"scratchgan.load: {name} is not a file saved by scratchgan.save: it is {what}")
    try:
        with zipfile.ZipFile(fileobj) as z:
            names = z.namelist()
            if _META not in names:
                raise ValueError(f"scratchgan.load: {name} is not a file saved by scratchgan.save: it is "
                                 f"{_describe_foreign(z, names)}")
            try:
                meta = json.loads(z.read(_META))
            except ValueError as e:
                raise ValueError(f"scratchgan.load: {name}: {_META} is not valid JSON ({e}); the file is corrupt") from None
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                raise ValueError(f"scratchgan.load: {name} is not a file saved by scratchgan.save (format tag "
                                 f"{meta.get('format') if isinstance(meta, dict) else None!r}, expected {FORMAT!r})")
            if int(meta.get("version", -1)) > VERSION:
                raise ValueError(f"scratchgan.load: {name} was written by a newer scratchgan (format version "
                                 f"{meta['version']} > {VERSION}); upgrade scratchgan")
            try:
                return _Reader(z, name, map_location).decode(meta["tree"])
            except (KeyError, ValueError, TypeError) as e:
                raise ValueError(f"scratchgan.load: {name} is a damaged scratchgan save ({type(e).__name__}: {e})") from None
    except (zipfile.BadZipFile, EOFError, OSError) as e:
        raise ValueError(f"scratchgan.load: {name} is a truncated or corrupt file "
                         f"({type(e).__name__}: {e})") from None
