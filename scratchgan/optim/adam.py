"""Adam (Kingma & Ba, 2015), AMSGrad (Reddi et al., 2018) and AdamW (Loshchilov & Hutter, 2019),
with PyTorch's exact update order."""
from __future__ import annotations

import math

from .. import backend as B
from .. import kernels
from .optimizer import Optimizer, check_hyper, check_unsupported


class Adam(Optimizer):
    r"""For each parameter θ with gradient g, at step t:

        g ← g + λθ                                  (weight_decay λ: L2, as torch.optim.Adam)
        θ ← θ(1 − lr·λ)  instead, if decoupled_weight_decay (AdamW)
        m ← β₁m + (1−β₁)g,   v ← β₂v + (1−β₂)g²
        v̂ ← max(v̂, v) if amsgrad, else v
        θ ← θ − (lr / (1−β₁ᵗ)) · m / (√v̂ / √(1−β₂ᵗ) + ε)

    The bias corrections undo the zero start of m and v; eps sits outside the sqrt.
    AMSGrad keeps the running maximum of v (state ``max_exp_avg_sq``), so the step size never grows back.
    ``step`` folds the corrections into one constant and runs in place; the paper's lines with m̂ and v̂
    written out are ``scratchgan.reference.Adam``, which gives the same results.
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0,
                 amsgrad: bool = False, *, foreach=None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused=None, decoupled_weight_decay: bool = False):
        name = type(self).__name__
        check_hyper(name, "learning rate", lr)
        check_hyper(name, "epsilon value", eps)
        betas = tuple(betas)
        if len(betas) != 2:
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas}")
        for i, b in enumerate(betas):
            check_hyper(name, f"beta parameter at index {i} (betas[{i}])", b, upper=1.0)
        check_hyper(name, "weight_decay value", weight_decay)
        check_unsupported(name, capturable=capturable, differentiable=differentiable, fused=fused)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=bool(amsgrad),
                                      maximize=bool(maximize), decoupled_weight_decay=bool(decoupled_weight_decay)))

    def step(self, closure=None):
        loss = self._closure(closure)
        updates = []
        for group, p in self._params():
            if p.grad is None:
                continue
            lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
            amsgrad = group.get("amsgrad", False)
            xp = B.get_array_module(p.array)
            g = -p.grad.array if group.get("maximize") else p.grad.array
            if wd and group.get("decoupled_weight_decay"):
                p.array *= 1 - lr * wd  # AdamW: shrink θ directly, outside the adaptive scaling
            elif wd:
                g = g + wd * p.array
            st = self.state[p]
            if not st:
                st.update(step=0, exp_avg=xp.zeros_like(p.array), exp_avg_sq=xp.zeros_like(p.array))
                if amsgrad:
                    st["max_exp_avg_sq"] = xp.zeros_like(p.array)
            st["step"] += 1
            t = st["step"]
            # lr/bc1 · m / (√v/√bc2 + eps) = (lr·√bc2/bc1) · m / (√v + eps·√bc2): one pass fewer
            bc1, sqrt_bc2 = 1 - b1 ** t, math.sqrt(1 - b2 ** t)
            updates.append((p.array, g, st["exp_avg"], st["exp_avg_sq"], st.get("max_exp_avg_sq") if amsgrad else None,
                            b1, b2, eps * sqrt_bc2, -lr * sqrt_bc2 / bc1))
        # All parameters' updates in one go, each cut between the cores (elementwise: same bits).
        kernels.lane_foreach(_update, updates)
        return loss


def _update(p, g, m, v, v_max, b1, b2, eps_hat, step):
    """m, v and θ in place, with one scratch array: memory traffic is what an Adam step costs."""
    xp = B.get_array_module(p)
    m *= b1
    tmp = xp.multiply(g, 1 - b1, out=xp.empty_like(m))  # out=: an array even for a 0-d parameter
    m += tmp
    v *= b2
    xp.multiply(g, g, out=tmp)
    tmp *= 1 - b2
    v += tmp
    if v_max is not None:  # AMSGrad
        v = xp.maximum(v_max, v, out=v_max)
    xp.sqrt(v, out=tmp)
    tmp += eps_hat
    xp.divide(m, tmp, out=tmp)
    tmp *= step
    p += tmp


class AdamW(Adam):
    """Adam with decoupled weight decay: θ ← θ(1 − lr·λ) each step, then the Adam step on the bare gradient
    (``torch.optim.AdamW``; weight_decay defaults to 1e-2)."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 1e-2,
                 amsgrad: bool = False, *, maximize: bool = False, foreach=None, capturable: bool = False,
                 differentiable: bool = False, fused=None):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         foreach=foreach, maximize=maximize, capturable=capturable, differentiable=differentiable,
                         fused=fused, decoupled_weight_decay=True)
