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
    """The parametrizations of one tensor, applied in order to ``original``."""

    def __init__(self, modules, original: Parameter):
        super().__init__(modules)
        self.original = original

    def right_inverse(self, value):
        for m in reversed(list(self)):
            if hasattr(m, "right_inverse"):
                value = m.right_inverse(value)
        return value

    def forward(self):
        x = self.original
        for m in self:
            x = m(x)
        return x


def _property(name: str):
    def get(module):
        return module.parametrizations[name]()

    def set_(module, value):  # m.weight = w stores right_inverse(w) in original, as PyTorch does
        plist = module.parametrizations[name]
        with no_grad():
            plist.original.copy_(plist.right_inverse(value))

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
    if original is not param:
        param.copy_(original)
    module.parametrizations[tensor_name] = ParametrizationList([parametrization], param)
    setattr(type(module), tensor_name, _property(tensor_name))
    return module


def remove_parametrizations(module: Module, tensor_name: str, leave_parametrized: bool = True) -> Module:
    """Back to a plain Parameter: the parametrized value (default) or ``original``."""
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {module} does not have a parametrization on {tensor_name}")
    plist = module.parametrizations[tensor_name]
    with no_grad():
        value = plist() if leave_parametrized else plist.original
    original = plist.original
    if leave_parametrized:
        with no_grad():
            original.copy_(value)
    delattr(type(module), tensor_name)
    del module.parametrizations[tensor_name]
    module.register_parameter(tensor_name, original)
    if not module.parametrizations:
        delattr(module, "parametrizations")
        module.__class__ = module._unparametrized_class
    return module
