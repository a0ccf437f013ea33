"""Module, Parameter and the containers, shaped like ``torch.nn``.

A Module registers the Parameters, sub-Modules and buffers assigned to it, in
order, so ``state_dict()`` keys read like PyTorch's (``main.0.weight``,
``main.1.running_mean``) and a PyTorch state_dict of the same architecture loads
one to one.
"""
from __future__ import annotations

from collections import OrderedDict

from .. import backend as B
from ..ops import resolve_dtype
from ..tensor import Tensor, no_grad

_np = B.numpy


class Parameter(Tensor):
    """A Tensor that a Module learns: ``requires_grad`` is on by default."""

    __slots__ = ()

    def __init__(self, data, requires_grad: bool = True):
        super().__init__(data.array if isinstance(data, Tensor) else data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


def new_parameter(*shape) -> Parameter:
    """An uninitialised float32 Parameter; layers fill it in ``reset_parameters``/init."""
    return Parameter(_np.empty(shape, dtype=_np.float32))


class RemovableHandle:
    """What ``register_*_hook`` returns: ``handle.remove()`` takes the hook off again."""

    _next_id = 0

    def __init__(self, hooks: OrderedDict, hook):
        self.hooks, self.id = hooks, RemovableHandle._next_id
        RemovableHandle._next_id += 1
        hooks[self.id] = hook

    def remove(self):
        self.hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class Module:
    """Base class of every layer and model."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "training", True)

    # ---- registration ---------------------------------------------------------------------
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before assigning {name!r}")
        if isinstance(value, Parameter):
            self._modules.pop(name, None)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._parameters.pop(name, None)
            self._modules[name] = value
        elif name in self._buffers:  # BatchNorm reassigns its running statistics
            self._buffers[name] = value
        elif name in self._parameters or name in self._modules:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} to {name!r}: it is a registered "
                                "Parameter or Module (assign a Parameter, a Module or None)")
            (self._parameters if name in self._parameters else self._modules)[name] = None
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        for registry in (self._parameters, self._buffers, self._modules):
            registry.pop(name, None)
        self.__dict__.get("_non_persistent", set()).discard(name)
        object.__delattr__(self, name)

    def register_buffer(self, name: str, tensor, persistent: bool = True):
        """A state tensor that is saved but not learned (BatchNorm's running statistics)."""
        self._buffers[name] = tensor
        object.__setattr__(self, name, tensor)
        if not persistent:
            self.__dict__.setdefault("_non_persistent", set()).add(name)

    def register_parameter(self, name: str, param):
        if param is None:
            self._parameters[name] = None
            object.__setattr__(self, name, None)
        else:
            setattr(self, name, param)

    def add_module(self, name: str, module):
        self._modules[name] = module
        object.__setattr__(self, name, module)

    # ---- calling ---------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        for hook in tuple(self._forward_pre_hooks.values()):  # spectral_norm recomputes its weight here
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        out = self.forward(*args, **kwargs)
        for hook in tuple(self._forward_hooks.values()):
            result = hook(self, args, out)
            if result is not None:
                out = result
        return out

    def register_forward_pre_hook(self, hook) -> "RemovableHandle":
        """``hook(module, args)`` runs before each forward; a non-None result replaces the inputs."""
        return RemovableHandle(self._forward_pre_hooks, hook)

    def register_forward_hook(self, hook) -> "RemovableHandle":
        """``hook(module, args, output)`` runs after each forward; a non-None result replaces the output."""
        return RemovableHandle(self._forward_hooks, hook)

    # ---- traversal --------------------------------------------------------------------------
    def named_modules(self, prefix: str = ""):
        seen = set()
        stack = [(prefix, self)]
        while stack:  # pre-order, children in registration order
            name, m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            yield name, m
            for child_name, child in reversed(m._modules.items()):
                if child is not None:
                    stack.append((f"{name}.{child_name}" if name else child_name, child))

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def named_parameters(self, prefix: str = "", recurse: bool = True):
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mod_name, m in modules:
            for name, p in m._parameters.items():
                if p is not None and id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self, recurse: bool = True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = ""):
        for mod_name, m in self.named_modules(prefix):
            for name, b in m._buffers.items():
                if b is not None:
                    yield (f"{mod_name}.{name}" if mod_name else name), b

    def buffers(self):
        for _, b in self.named_buffers():
            yield b

    def apply(self, fn):
        """Call ``fn`` on every sub-module (children first) and on self, like torch."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ---- modes ------------------------------------------------------------------------------
    def train(self, mode: bool = True):
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True):
        for p in self.parameters():
            p.requires_grad = bool(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True):
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad = Tensor(p.grad.array * 0)

    # ---- device and dtype -------------------------------------------------------------------
    def to(self, *args, **kwargs):
        """Move (and/or cast) every parameter and buffer in place; Parameters keep their identity,
        so an optimizer built before ``.to()`` still updates them."""
        dev, dtype = kwargs.get("device"), kwargs.get("dtype")
        for a in args:
            if isinstance(a, (str, B.device)):
                dev = a
            else:
                dtype = a
        for t in list(self.parameters()) + list(self.buffers()):
            data = B.to_device(t.array, dev) if dev is not None else t.array
            if dtype is not None and data.dtype.kind == "f":
                data = data.astype(resolve_dtype(dtype), copy=False)
            t.array = data
            if t.grad is not None:
                t.grad = None
        return self

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    def float(self):
        return self.to(_np.float32)

    def double(self):
        return self.to(_np.float64)

    # ---- state ------------------------------------------------------------------------------
    def state_dict(self) -> OrderedDict:
        """name -> host NumPy array (a copy) for every parameter and persistent buffer."""
        out = OrderedDict()
        for mod_name, m in self.named_modules():
            skip = m.__dict__.get("_non_persistent", ())
            for registry in (m._parameters, m._buffers):
                for name, t in registry.items():
                    if t is not None and name not in skip:
                        out[f"{mod_name}.{name}" if mod_name else name] = B.to_numpy(t.array).copy()
        return out

    def load_state_dict(self, state_dict, strict: bool = True):
        """Copy arrays (NumPy, Tensors, or anything ``numpy.asarray`` accepts, such as CPU torch
        tensors) into the parameters and buffers in place.  Strict by default: a missing,
        unexpected or mis-shaped key raises with the names and shapes."""
        own = OrderedDict()
        for mod_name, m in self.named_modules():
            skip = m.__dict__.get("_non_persistent", ())
            for registry in (m._parameters, m._buffers):
                for name, t in registry.items():
                    if t is not None and name not in skip:
                        own[f"{mod_name}.{name}" if mod_name else name] = t
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        values = {}
        for k, t in own.items():
            if k not in state_dict:
                continue
            v = state_dict[k]
            arr = B.to_numpy(v.array) if isinstance(v, Tensor) else _np.asarray(v)
            if tuple(arr.shape) != t.shape:
                errors.append(f"size mismatch for {k}: copying a param with shape {tuple(arr.shape)}, "
                              f"the shape in the current model is {t.shape}")
            values[k] = arr
        if strict and (missing or unexpected):
            if missing:
                errors.append("missing key(s): " + ", ".join(missing))
            if unexpected:
                errors.append("unexpected key(s): " + ", ".join(unexpected))
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n  " + "\n  ".join(errors))
        with no_grad():
            for k, arr in values.items():
                t = own[k]
                t.array = B.to_device(arr.astype(t.dtype, copy=True), t.device)
        return missing, unexpected

    # ---- printing ---------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self):
        lines = [f"({name}): " + repr(m).replace("\n", "\n  ") for name, m in self._modules.items()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"


class Sequential(Module):
    """Calls its modules in order; they are named "0", "1", ... as in PyTorch."""

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def __getitem__(self, i):
        mods = list(self._modules.values())
        if isinstance(i, slice):
            return Sequential(*mods[i])
        return mods[i]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self


class ModuleList(Module):
    def __init__(self, modules=()):
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, module):
        self.add_module(str(len(self._modules)), module)
        return self

    def __getitem__(self, i):
        return list(self._modules.values())[i]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())
