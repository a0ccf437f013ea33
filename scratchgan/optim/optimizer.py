"""The Optimizer base: parameter groups, per-parameter state, and (de)serialisation.

Updates run on raw backend arrays, in place and outside the graph: an optimiser
step is bookkeeping, not something to differentiate.
"""
from __future__ import annotations

import functools

from .. import backend as B
from ..tensor import Tensor


class Optimizer:
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
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.param_groups = []
        for g in groups:
            group = {**self.defaults, **g, "params": list(g["params"])}
            for p in group["params"]:
                if not isinstance(p, Tensor) or not p.requires_grad:
                    raise TypeError(f"{type(self).__name__} can only optimize Tensors that require grad")
            self.param_groups.append(group)
        self.state: dict[int, dict] = {}  # id(param) -> state arrays

    def _params(self):
        for group in self.param_groups:
            for p in group["params"]:
                yield group, p

    def zero_grad(self, set_to_none: bool = True):
        for _, p in self._params():
            p.grad = None if set_to_none or p.grad is None else Tensor(p.grad.array * 0)

    def step(self):
        raise NotImplementedError

    # ---- state: PyTorch's layout, parameters numbered in order, arrays on the host --------------
    def state_dict(self) -> dict:
        index = {id(p): i for i, (_, p) in enumerate(self._params())}
        state = {index[pid]: {k: (B.to_numpy(v).copy() if B._backend_of(v) is not None else v) for k, v in s.items()}
                 for pid, s in self.state.items() if pid in index}
        groups, start = [], 0
        for group in self.param_groups:
            n = len(group["params"])
            groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": list(range(start, start + n))})
            start += n
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict):
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
                len(g["params"]) != len(own["params"]) for g, own in zip(groups, self.param_groups)):
            raise ValueError(f"{type(self).__name__}.load_state_dict: the saved parameter groups "
                             f"{[len(g['params']) for g in groups]} do not match "
                             f"{[len(g['params']) for g in self.param_groups]}")
        params = [p for _, p in self._params()]
        self.state = {}
        for i, s in state_dict["state"].items():
            p = params[int(i)]
            restored = {}
            for k, v in s.items():
                if hasattr(v, "shape") and tuple(v.shape) == p.shape:  # a moment buffer: copy it in
                    restored[k] = B.to_device(B.numpy.array(v, dtype=p.dtype), p.device)
                elif hasattr(v, "shape") and len(v.shape) == 0:  # a step count saved as a 0-d array
                    restored[k] = B.numpy.asarray(v).item()
                else:
                    restored[k] = v
            self.state[id(p)] = restored
        for g in groups:
            unsupported = [k for k in ("amsgrad", "maximize", "foreach", "capturable", "differentiable", "fused")
                           if g.get(k) and k not in self.defaults]
            if unsupported:
                raise ValueError(f"{type(self).__name__}.load_state_dict: options {unsupported} are not supported")
        for g, own in zip(groups, self.param_groups):
            own.update({k: v for k, v in g.items() if k != "params"})
