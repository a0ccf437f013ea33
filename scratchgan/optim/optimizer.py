"""The Optimizer base: parameter groups, per-parameter state, and (de)serialisation.

Updates run on raw backend arrays, in place and outside the graph: an optimiser
step is bookkeeping, not something to differentiate.
"""
from __future__ import annotations

import functools
import math
from collections import defaultdict

from .. import backend as B
from ..tensor import Tensor

# Options PyTorch optimisers take that only change how (not what) they compute, or that need
# machinery scratchgan does not have.  foreach is a speed hint: accepted and ignored.
_UNSUPPORTED = ("capturable", "differentiable", "fused")


def check_hyper(opt: str, name: str, value, upper: float | None = None) -> None:
    """PyTorch's ``Invalid ... value`` ValueError for a hyper-parameter that is NaN, infinite or negative
    (or not below ``upper``, for betas)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{opt}: Invalid {name}: {value!r} (expected a number)") from None
    ok = math.isfinite(v) and v >= 0.0 and (upper is None or v < upper)
    if not ok:
        rng = f"[0, {upper})" if upper is not None else "a finite number >= 0"
        raise ValueError(f"{opt}: Invalid {name}: {value} (must be {rng})")


def check_unsupported(opt: str, **flags) -> None:
    on = [k for k, v in flags.items() if v]
    if on:
        raise NotImplementedError(f"{opt}: {', '.join(f'{k}=True' for k in on)} is not supported by scratchgan")


def _host(v):
    """A NumPy view of a backend array or a torch tensor (torch's own ``.numpy()``, no ``__array__`` warning)."""
    if B._backend_of(v) is not None:
        return B.to_numpy(v)
    if hasattr(v, "detach") and hasattr(v, "numpy"):
        return v.detach().cpu().numpy()
    return v


class Optimizer:
    """``param_groups``: list of dicts (the hyper-parameters plus ``"params"``, the tensors);
    ``state``: per-parameter dict, keyed by the parameter tensor (tensors hash by identity)."""

    def __init_subclass__(cls, **kwargs):
        """Every ``step()`` writes the parameters in place, so it bumps their version counters (as
        PyTorch's does): a backward through a graph recorded before the step, which would read the
        new weights, raises "modified by an inplace operation" instead of giving a wrong gradient."""
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is None:
            return

        @functools.wraps(step)
        def step_and_bump(self, *args, **kw):
            result = step(self, *args, **kw)
            for _, p in self._params():
                if p.grad is not None:
                    p._vc[0] += 1
            return result

        cls.step = step_and_bump

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of Tensors or dicts, got a Tensor")
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        self.param_groups: list[dict] = []
        self.state: dict = defaultdict(dict)
        for g in (params if isinstance(params[0], dict) else [{"params": params}]):
            self.add_param_group(g)

    def add_param_group(self, param_group: dict) -> None:
        """Add a group (``{"params": [...], "lr": ...}``); unset options take ``defaults``."""
        ps = param_group["params"]
        ps = [ps] if isinstance(ps, Tensor) else list(ps)
        for p in ps:
            if not isinstance(p, Tensor) or not p.requires_grad:
                raise TypeError(f"{type(self).__name__} can only optimize Tensors that require grad")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in ps):
            raise ValueError(f"{type(self).__name__}: some parameters appear in more than one parameter group")
        self.param_groups.append({**self.defaults, **param_group, "params": ps})

    def _params(self):
        for group in self.param_groups:
            for p in group["params"]:
                yield group, p

    def zero_grad(self, set_to_none: bool = True):
        for _, p in self._params():
            p.grad = None if set_to_none or p.grad is None else Tensor(p.grad.array * 0)

    def step(self, closure=None):
        raise NotImplementedError

    def _closure(self, closure):
        """``step(closure)``: PyTorch re-evaluates the loss (with grad enabled) before stepping."""
        if closure is None:
            return None
        from ..tensor import enable_grad  # noqa: PLC0415

        with enable_grad():
            return closure()

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(g.items()) if k != "params"]
        return "\n".join(lines + [")"])

    # ---- state: PyTorch's layout, parameters numbered in order, arrays on the host --------------
    def state_dict(self) -> dict:
        """``{"state": {i: {name: value}}, "param_groups": [{..., "params": [i, ...]}]}`` with parameters
        numbered in group order, as ``torch.optim.Optimizer.state_dict``.  State buffers are CPU Tensors that
        are *copies* (PyTorch hands out the live buffers, which is why its users ``deepcopy`` them): the dict
        is a snapshot that further training does not change.  ``step`` is a Python int (a 0-d tensor in
        PyTorch; both load either way)."""
        index = {id(p): i for i, (_, p) in enumerate(self._params())}
        state = {index[id(p)]: {k: (Tensor(B.to_numpy(v).copy()) if B._backend_of(v) is not None else v)
                                for k, v in s.items()}
                 for p, s in self.state.items() if id(p) in index and s}
        groups, start = [], 0
        for group in self.param_groups:
            n = len(group["params"])
            groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": list(range(start, start + n))})
            start += n
        return {"state": dict(sorted(state.items())), "param_groups": groups}

    def load_state_dict(self, state_dict: dict):
        """Load a state_dict from ``state_dict()`` — or from ``torch.optim``'s (tensors, ``step`` a 0-d tensor).

        Moment buffers are copied onto each parameter's device in its dtype (as PyTorch casts them)."""
        name = type(self).__name__
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
                len(g["params"]) != len(own["params"]) for g, own in zip(groups, self.param_groups)):
            raise ValueError(f"{name}.load_state_dict: the saved parameter groups "
                             f"{[len(g['params']) for g in groups]} do not match "
                             f"{[len(g['params']) for g in self.param_groups]}")
        for g in groups:
            unsupported = [k for k in ("amsgrad", "maximize", "centered", "nesterov", *_UNSUPPORTED)
                           if g.get(k) and k not in self.defaults] + [k for k in _UNSUPPORTED if g.get(k)]
            if unsupported:
                raise ValueError(f"{name}.load_state_dict: options {sorted(set(unsupported))} are not supported")
        # saved index -> live parameter, through the saved groups' own numbering
        params = {}
        for g, own in zip(groups, self.param_groups):
            params.update(zip(g["params"], own["params"]))
        self.state = defaultdict(dict)
        for i, s in state_dict["state"].items():
            p = params[int(i)] if int(i) in params else params[i]
            restored = {}
            for k, v in s.items():
                if isinstance(v, Tensor):
                    v = v.array
                if k == "step":  # an int here; a 0-d float tensor in torch
                    restored[k] = int(round(float(v)))
                elif hasattr(v, "shape") and hasattr(v, "dtype"):
                    host = B.numpy.array(_host(v))
                    if tuple(host.shape) != p.shape:
                        raise ValueError(f"{name}.load_state_dict: state {k!r} of parameter {i} has shape "
                                         f"{tuple(host.shape)}, the parameter has {p.shape}")
                    if host.dtype.kind in "fc":
                        host = host.astype(p.dtype, copy=False)
                    restored[k] = B.to_device(host, p.device)
                else:
                    restored[k] = v
            self.state[p] = restored
        for g, own in zip(groups, self.param_groups):
            own.update({k: (tuple(v) if k == "betas" else v) for k, v in g.items()
                        if k != "params" and k not in ("foreach", *_UNSUPPORTED)})
