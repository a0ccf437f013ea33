"""Stochastic gradient descent with momentum (PyTorch's formulation)."""
from __future__ import annotations

from .. import backend as B
from .optimizer import Optimizer, check_hyper, check_unsupported


class SGD(Optimizer):
    r"""g ← g + λθ;  b ← μb + (1−τ)g (b = g at the first step);  g ← g + μb if nesterov else b;
    θ ← θ − lr·g.   (μ momentum, τ dampening, λ weight_decay)"""

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *, maximize: bool = False, foreach=None,
                 differentiable: bool = False, fused=None):
        for what, v in (("learning rate", lr), ("momentum value", momentum), ("weight_decay value", weight_decay)):
            check_hyper("SGD", what, v)
        check_unsupported("SGD", differentiable=differentiable, fused=fused)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=bool(maximize)))

    def step(self, closure=None):
        loss = self._closure(closure)
        for group, p in self._params():
            if p.grad is None:
                continue
            xp = B.get_array_module(p.array)
            g = -p.grad.array if group.get("maximize") else p.grad.array
            if group["weight_decay"]:
                g = g + group["weight_decay"] * p.array
            mu = group["momentum"]
            if mu:
                st = self.state[p]
                buf = st.get("momentum_buffer")
                if buf is None:
                    buf = st["momentum_buffer"] = xp.array(g, copy=True)
                else:
                    buf *= mu
                    buf += (1 - group["dampening"]) * g
                g = g + mu * buf if group["nesterov"] else buf
            p.array -= group["lr"] * g
        return loss
