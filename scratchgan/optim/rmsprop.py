"""RMSprop (Hinton, Coursera lecture 6e, 2012) with PyTorch's formulation; the optimiser of WGAN
(Arjovsky et al., 2017, Algorithm 1)."""
from __future__ import annotations

from .. import backend as B
from .optimizer import Optimizer, check_hyper, check_unsupported


class RMSprop(Optimizer):
    r"""For each parameter θ with gradient g (α alpha, λ weight_decay, μ momentum):

        g ← g + λθ
        s ← αs + (1−α)g²                               (state ``square_avg``)
        ḡ ← ḡ + (1−α)(g − ḡ)   if centered             (state ``grad_avg``: a running mean of g)
        d ← √(s − ḡ²) + ε  if centered, else √s + ε     (centered: divide by a running std, not the RMS)
        b ← μb + g/d;  θ ← θ − lr·b    if μ > 0       (state ``momentum_buffer``)
        θ ← θ − lr·g/d                 otherwise

    Unlike Adam there is no bias correction: s starts at 0, so the first steps are large (g/√(1−α)).
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0,
                 momentum: float = 0, centered: bool = False, capturable: bool = False, foreach=None,
                 maximize: bool = False, differentiable: bool = False):
        for what, v in (("learning rate", lr), ("epsilon value", eps), ("momentum value", momentum),
                        ("weight_decay value", weight_decay), ("alpha value", alpha)):
            check_hyper("RMSprop", what, v)
        check_unsupported("RMSprop", capturable=capturable, differentiable=differentiable)
        super().__init__(params, dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=bool(centered),
                                      weight_decay=weight_decay, maximize=bool(maximize)))

    def step(self, closure=None):
        loss = self._closure(closure)
        for group, p in self._params():
            if p.grad is None:
                continue
            lr, alpha, eps, wd, mu = group["lr"], group["alpha"], group["eps"], group["weight_decay"], group["momentum"]
            xp = B.get_array_module(p.array)
            g = -p.grad.array if group.get("maximize") else p.grad.array
            if wd:
                g = g + wd * p.array
            st = self.state[p]
            if not st:
                st.update(step=0, square_avg=xp.zeros_like(p.array))
                if mu > 0:
                    st["momentum_buffer"] = xp.zeros_like(p.array)
                if group["centered"]:
                    st["grad_avg"] = xp.zeros_like(p.array)
            st["step"] += 1
            s = st["square_avg"]
            s *= alpha
            s += (1 - alpha) * (g * g)
            if group["centered"]:
                ga = st["grad_avg"]
                ga += (1 - alpha) * (g - ga)
                d = xp.sqrt(s - ga * ga)
            else:
                d = xp.sqrt(s)
            d += eps
            if mu > 0:
                buf = st["momentum_buffer"]
                buf *= mu
                buf += g / d
                p.array -= lr * buf
            else:
                p.array -= lr * (g / d)
        return loss
