"""``torch.nn.utils.parametrize``: a parameter computed from another on every access.

``register_parametrization(m, "weight", p)`` moves the Parameter to
``m.parametrizations.weight.original`` and makes ``m.weight`` a property returning
``p(original)``, so state_dict keys read ``parametrizations.weight.original`` (plus the
parametrization's own buffers, ``parametrizations.weight.0._u``) as in PyTorch.  The
property lives on a subclass made for the module (``ParametrizedLinear``), as PyTorch does:
Python looks properties up on the class, not the instance.
"""
from __future__ import annotations

from ...tensor import no_grad
from ..module import Module, ModuleDict, ModuleList, Parameter

__all__ = ["register_parametrization", "remove_parametrizations", "is_parametrized", "ParametrizationList"]


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor, applied in order to ``original``; or, when the first one's
    ``right_inverse`` returns several tensors (weight_norm's g and v), to ``original0``, ``original1``, ..."""

    def __init__(self, modules, original):
        super().__init__(modules)
        self.is_tensor = isinstance(original, Parameter)
        if self.is_tensor:
            self.original = original
        else:
            self.ntensors = len(original)
            for i, p in enumerate(original):
                setattr(self, f"original{i}", p)

    def originals(self) -> tuple:
        if self.is_tensor:
            return (self.original,)
        return tuple(getattr(self, f"original{i}") for i in range(self.ntensors))

    def right_inverse(self, value):
        for m in reversed(list(self)):
            if hasattr(m, "right_inverse"):
                value = m.right_inverse(value)
        return value

    def forward(self):
        first, *rest = list(self)
        x = first(*self.originals())
        for m in rest:
            x = m(x)
        return x


def _property(name: str):
    def get(module):
        return module.parametrizations[name]()

    def set_(module, value):  # m.weight = w stores right_inverse(w) in the originals, as PyTorch does
        plist = module.parametrizations[name]
        with no_grad():
            values = plist.right_inverse(value)
            for original, v in zip(plist.originals(), (values,) if plist.is_tensor else values):
                original.copy_(v)

    return property(get, set_)


def is_parametrized(module: Module, tensor_name: str | None = None) -> bool:
    plists = module.__dict__.get("_modules", {}).get("parametrizations")
    if not isinstance(plists, ModuleDict):
        return False
    return len(plists) > 0 if tensor_name is None else tensor_name in plists


def register_parametrization(module: Module, tensor_name: str, parametrization: Module, *, unsafe: bool = False):
    if is_parametrized(module, tensor_name):
        module.parametrizations[tensor_name].append(parametrization)
        return module
    param = module._parameters.get(tensor_name)
    if param is None:
        raise ValueError(f"register_parametrization: {type(module).__name__} has no parameter {tensor_name!r}")
    if not is_parametrized(module):
        cls = type(module)
        module.__class__ = type(f"Parametrized{cls.__name__}", (cls,), {"_unparametrized_class": cls})
        module.parametrizations = ModuleDict()
    delattr(module, tensor_name)
    with no_grad():
        original = parametrization.right_inverse(param) if hasattr(parametrization, "right_inverse") else param
    if isinstance(original, (tuple, list)):  # several originals: new Parameters, in the order given
        param = tuple(Parameter(o.detach().clone(), requires_grad=param.requires_grad) for o in original)
    elif original is not param:
        with no_grad():
            param.copy_(original)
    module.parametrizations[tensor_name] = ParametrizationList([parametrization], param)
    setattr(type(module), tensor_name, _property(tensor_name))
    return module


def remove_parametrizations(module: Module, tensor_name: str, leave_parametrized: bool = True) -> Module:
    """Back to a plain Parameter: the parametrized value (default) or ``original``."""
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {module} does not have a parametrization on {tensor_name}")
    plist = module.parametrizations[tensor_name]
    if not plist.is_tensor and not leave_parametrized:
        raise ValueError("Cannot leave unparametrized (`leave_parametrized=False`) a tensor that is parametrized "
                         "in terms of a sequence of tensors.")
    with no_grad():
        value = plist() if leave_parametrized else plist.original
    if plist.is_tensor:
        original = plist.original
        if leave_parametrized:
            with no_grad():
                original.copy_(value)
    else:
        original = Parameter(value.detach(), requires_grad=plist.original0.requires_grad)
    delattr(type(module), tensor_name)
    del module.parametrizations[tensor_name]
    module.register_parameter(tensor_name, original)
    if not module.parametrizations:
        delattr(module, "parametrizations")
        module.__class__ = module._unparametrized_class
    return module
