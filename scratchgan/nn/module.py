"""Module, Parameter and the containers, shaped like ``torch.nn``.

A Module registers the Parameters, sub-Modules and buffers assigned to it, in
order, so ``state_dict()`` keys read like PyTorch's (``main.0.weight``,
``main.1.running_mean``) and a PyTorch state_dict of the same architecture loads
one to one.
"""
from __future__ import annotations

from collections import OrderedDict, namedtuple

from .. import backend as B
from ..ops import resolve_dtype
from ..tensor import RemovableHandle, Tensor, _bump, no_grad

_np = B.numpy


class Parameter(Tensor):
    """A Tensor that a Module learns: ``requires_grad`` is on by default."""

    __slots__ = ()

    def __init__(self, data, requires_grad: bool = True):
        super().__init__(data.array if isinstance(data, Tensor) else data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns, as in PyTorch: ``result.missing_keys``, ``result.unexpected_keys``."""

    __slots__ = ()

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


def _host_array(value, key: str):
    """A state_dict value as an array: a Tensor's own array, a (PyTorch) tensor through
    ``.detach().cpu().numpy()``, anything else through ``numpy.asarray``."""
    if isinstance(value, Tensor):
        return value.array
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu().numpy()
    try:
        arr = _np.asarray(value)
    except (TypeError, ValueError) as e:
        arr, why = None, f": {e}"
    else:
        why = ""
    if arr is None or arr.dtype == object:
        raise TypeError(f"load_state_dict: cannot read the value of {key!r} ({type(value).__name__}) as a numeric "
                        f"array{why}; expected a Tensor, a NumPy array or a CPU torch tensor")
    return arr


def new_parameter(*shape) -> Parameter:
    """An uninitialised float32 Parameter; layers fill it in ``reset_parameters``/init."""
    return Parameter(_np.empty(shape, dtype=_np.float32))


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
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {type(module).__name__} is not a Module subclass")
        self._modules[name] = module
        object.__setattr__(self, name, module)

    register_module = add_module

    # ---- calling ---------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        if self._forward_pre_hooks:  # spectral_norm recomputes its weight here
            for hook in tuple(self._forward_pre_hooks.values()):
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        out = self.forward(*args, **kwargs)
        if self._forward_hooks:
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
    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True):
        """(name, module) pairs, pre-order, children in registration order (self first, named ``prefix``)."""
        seen = set() if memo is None else memo
        stack = [(prefix, self)]
        while stack:
            name, m = stack.pop()
            if remove_duplicate:
                if m in seen:
                    continue
                seen.add(m)
            yield name, m
            for child_name, child in reversed(m._modules.items()):
                if child is not None:
                    stack.append((f"{name}.{child_name}" if name else child_name, child))

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        """Each child once, under its first name (a module registered twice is one child, as in torch)."""
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named_members(self, registry: str, prefix: str, recurse: bool, remove_duplicate: bool):
        seen = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for mod_name, m in modules:
            for name, t in getattr(m, registry).items():
                if t is None or (remove_duplicate and id(t) in seen):
                    continue
                seen.add(id(t))
                yield (f"{mod_name}.{name}" if mod_name else name), t

    def named_parameters(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        """(name, Parameter) pairs; a Parameter shared by two modules is listed once."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str) -> "Module":
        """``model.get_submodule("main.0")``: the module at a dotted path ("" is self)."""
        m = self
        for part in target.split(".") if target else []:
            child = m._modules.get(part)
            if child is None:
                raise AttributeError(f"{type(m).__name__} has no submodule {part!r} (in {target!r})")
            m = child
        return m

    def _get_member(self, registry: str, kind: str, target: str):
        mod_path, _, name = target.rpartition(".")
        m = self.get_submodule(mod_path)
        t = getattr(m, registry).get(name)
        if t is None:
            raise AttributeError(f"{type(m).__name__} has no {kind} {name!r} (in {target!r})")
        return t

    def get_parameter(self, target: str):
        return self._get_member("_parameters", "parameter", target)

    def get_buffer(self, target: str):
        return self._get_member("_buffers", "buffer", target)

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
        def convert(a):
            a = B.to_device(a, dev) if dev is not None else a
            return a.astype(resolve_dtype(dtype), copy=False) if dtype is not None and a.dtype.kind == "f" else a

        for t in list(self.parameters()) + list(self.buffers()):
            data = convert(t.array)
            if data is not t.array:
                t.array = data
                _bump(t)
            if t.grad is not None:  # gradients move with their parameters, as in PyTorch
                g = convert(t.grad.array)
                if g is not t.grad.array:
                    t.grad = Tensor(g)
        return self

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    def float(self):
        return self.to(_np.float32)

    def double(self):
        return self.to(_np.float64)

    def half(self):
        raise NotImplementedError("Module.half(): float16 is not supported (NumPy has no fast float16 matmul)")

    bfloat16 = half

    # ---- state ------------------------------------------------------------------------------
    def _state_entries(self, prefix: str = ""):
        """(key, tensor) for every parameter and persistent buffer, in PyTorch's order: a module's own
        parameters, then its buffers, then each child's entries (a module reached twice appears twice)."""
        skip = self.__dict__.get("_non_persistent", ())
        for registry in (self._parameters, self._buffers):
            for name, t in registry.items():
                if t is not None and name not in skip:
                    yield prefix + name, t
        for name, child in self._modules.items():
            if child is not None:
                yield from child._state_entries(f"{prefix}{name}.")

    def state_dict(self, destination=None, prefix: str = "", keep_vars: bool = False) -> OrderedDict:
        """name -> Tensor for every parameter and persistent buffer.

        As in PyTorch the values are *detached views* sharing memory with the module: an optimizer
        step shows through them, and writing into them writes into the model.  Snapshot with
        ``{k: v.clone() for k, v in m.state_dict().items()}`` (or ``copy.deepcopy``).
        ``keep_vars=True`` returns the Parameters themselves.
        """
        out = OrderedDict() if destination is None else destination
        for key, t in self._state_entries(prefix):
            out[key] = t if keep_vars else t.detach()
        return out

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False) -> "_IncompatibleKeys":
        """Copy values into the parameters and buffers in place (they keep their identity, so an
        optimizer built earlier still updates them).

        Values may be scratchgan Tensors, NumPy arrays, PyTorch CPU tensors (anything with
        ``.detach().cpu().numpy()``) or anything ``numpy.asarray`` reads.  ``strict`` (default): a
        missing or unexpected key is an error; ``strict=False`` loads what matches and reports the rest
        in the returned ``(missing_keys, unexpected_keys)``.  A shape mismatch is always an error.
        ``assign=True`` makes the tensors hold the given values' memory instead of copying into theirs.
        """
        own = OrderedDict(self._state_entries())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors, values = [], {}
        for k, t in own.items():
            if k not in state_dict:
                continue
            arr = _host_array(state_dict[k], k)
            if tuple(arr.shape) != t.shape:
                errors.append(f"size mismatch for {k}: copying a param with shape {tuple(arr.shape)} from checkpoint, "
                              f"the shape in current model is {t.shape}.")
            values[k] = arr
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ". ")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ". ")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors))
        with no_grad():
            for k, arr in values.items():
                t = own[k]
                if assign:  # new memory under the same Tensor: a graph that saved t must notice
                    t.array = B.to_device(arr, t.device)
                    _bump(t)
                else:  # into the tensor's own memory: state_dict views and shared (tied) weights see it
                    t.copy_(arr)
        return _IncompatibleKeys(missing, unexpected)

    # ---- printing ---------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self):
        # torch's layout: a one-line extra_repr without children stays inline; otherwise every extra line and
        # every child on its own line, indented by two
        extra_repr = self.extra_repr()
        extra = extra_repr.split("\n") if extra_repr else []
        children = [f"({name}): " + repr(m).replace("\n", "\n  ") for name, m in self._modules.items()]
        if len(extra) == 1 and not children:
            return f"{type(self).__name__}({extra[0]})"
        lines = extra + children
        return f"{type(self).__name__}(" + ("\n  " + "\n  ".join(lines) + "\n" if lines else "") + ")"


def _renumber(container: Module, mods) -> None:
    """``mods`` as the container's children "0", "1", ... (after a deletion or insertion, as torch), the old
    names removed from the registry and the attributes both."""
    for k in list(container._modules):
        delattr(container, k)
    for i, m in enumerate(mods):
        container.add_module(str(i), m)


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

    def _key(self, i: int) -> str:
        keys = list(self._modules)
        if not -len(keys) <= i < len(keys):
            raise IndexError(f"index {i} is out of range for a Sequential of {len(keys)} modules")
        return keys[i]

    def __getitem__(self, i):
        if isinstance(i, slice):  # a slice keeps its modules' names, so its state_dict keys match the whole's
            return Sequential(OrderedDict(list(self._modules.items())[i]))
        return self._modules[self._key(i)]

    def __setitem__(self, i: int, module) -> None:
        self.add_module(self._key(i), module)

    def __delitem__(self, i) -> None:
        gone = set(list(self._modules)[i] if isinstance(i, slice) else [self._key(i)])
        _renumber(self, [m for k, m in self._modules.items() if k not in gone])

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module):
        n = len(self)
        if not -n <= index <= n:
            raise IndexError(f"Index out of range: {index}")
        mods = list(self._modules.values())
        mods.insert(index, module)  # list.insert's meaning of a negative index, as torch's
        _renumber(self, mods)
        return self

    def pop(self, i: int):
        module = self[i]
        del self[i]
        return module


class ModuleList(Module):
    """A list of modules, registered as "0", "1", ... (so their parameters are the model's)."""

    def __init__(self, modules=()):
        super().__init__()
        self.extend(modules)

    def append(self, module):
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module):
        mods = list(self._modules.values())
        mods.insert(index, module)
        _renumber(self, mods)

    def __getitem__(self, i):
        mods = list(self._modules.values())
        return ModuleList(mods[i]) if isinstance(i, slice) else mods[i]

    def __setitem__(self, i: int, module):
        self.add_module(list(self._modules)[i], module)

    def __delitem__(self, i):
        mods = list(self._modules.values())
        del mods[i]
        _renumber(self, mods)

    def __iadd__(self, modules):
        return self.extend(modules)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class ModuleDict(Module):
    """An ordered dict of modules, registered under their keys (``state_dict`` keys ``<key>.weight``)."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str):
        return self._modules[key]

    def __setitem__(self, key: str, module):
        self.add_module(key, module)

    def __delitem__(self, key: str):
        delattr(self, key)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def pop(self, key: str):
        m = self._modules[key]
        del self[key]
        return m

    def clear(self):
        for k in list(self._modules):
            del self[k]

    def update(self, modules):
        pairs = modules.items() if hasattr(modules, "items") else modules
        for key, m in pairs:
            self[key] = m


class ParameterList(Module):
    """A list of Parameters registered as "0", "1", ... (learnable per-layer scalars, noise strengths)."""

    def __init__(self, values=None):
        super().__init__()
        for v in values or ():
            self.append(v)

    def _key(self, i: int) -> str:
        n = len(self._parameters)
        if not -n <= i < n:
            raise IndexError(f"index {i} is out of range for a ParameterList of {n}")
        return str(i % n)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return ParameterList(list(self._parameters.values())[i])
        return self._parameters[self._key(i)]

    def __setitem__(self, i: int, param) -> None:
        self.register_parameter(self._key(i), param if isinstance(param, Parameter) else Parameter(param))

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters.values())

    def append(self, value):
        self.register_parameter(str(len(self)), value if isinstance(value, Parameter) else Parameter(value))
        return self

    def extend(self, values):
        for v in values:
            self.append(v)
        return self

    def extra_repr(self):  # as torch's, indentation included
        return "\n".join(f"  ({k}): Parameter containing: [torch.{p.dtype} of size {'x'.join(map(str, p.shape))}]"
                          for k, p in self._parameters.items())


class ParameterDict(Module):
    """An ordered dict of Parameters registered under their keys."""

    def __init__(self, parameters=None):
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key: str):
        return self._parameters[key]

    def __setitem__(self, key: str, param) -> None:
        self.register_parameter(key, param if isinstance(param, Parameter) else Parameter(param))

    def __delitem__(self, key: str) -> None:
        del self._parameters[key]
        object.__delattr__(self, key)

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters)

    def __contains__(self, key):
        return key in self._parameters

    def keys(self):
        return self._parameters.keys()

    def items(self):
        return self._parameters.items()

    def values(self):
        return self._parameters.values()

    def update(self, parameters):
        pairs = parameters.items() if hasattr(parameters, "items") else parameters
        for key, p in pairs:
            self[key] = p

    def extra_repr(self):  # torch's (the legacy type name here)
        return "\n".join(f"  ({k}): Parameter containing: [{p.type()} of size {'x'.join(map(str, p.shape))}]"
                          for k, p in self._parameters.items())
