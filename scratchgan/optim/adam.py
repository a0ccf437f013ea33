"""Adam (Kingma & Ba, 2015) with PyTorch's exact update order."""
from __future__ import annotations

import math

from .. import backend as B
from .optimizer import Optimizer


class Adam(Optimizer):
    r"""For each parameter θ with gradient g, at step t:

        g ← g + λθ                                  (weight_decay λ: L2, as torch.optim.Adam)
        m ← β₁m + (1−β₁)g,   v ← β₂v + (1−β₂)g²
        θ ← θ − (lr / (1−β₁ᵗ)) · m / (√v / √(1−β₂ᵗ) + ε)

    The bias corrections undo the zero start of m and v; eps sits outside the sqrt.
    ``step`` folds them into one constant and runs in place; the paper's lines with m̂ and v̂
    written out are ``scratchgan.reference.Adam``, which gives the same results.
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        if lr < 0 or eps < 0 or weight_decay < 0 or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"Adam: invalid hyper-parameters lr={lr}, betas={betas}, eps={eps}, "
                             f"weight_decay={weight_decay}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))

    def step(self):
        for group, p in self._params():
            if p.grad is None:
                continue
            lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
            xp = B.get_array_module(p.array)
            g = p.grad.array
            if wd:
                g = g + wd * p.array
            st = self.state.get(id(p))
            if st is None:
                st = self.state[id(p)] = {"step": 0, "exp_avg": xp.zeros_like(p.array), "exp_avg_sq": xp.zeros_like(p.array)}
            st["step"] += 1
            t, m, v = st["step"], st["exp_avg"], st["exp_avg_sq"]
            # In place, with one scratch array: memory traffic is what an Adam step costs.
            m *= b1
            tmp = xp.multiply(g, 1 - b1)
            m += tmp
            v *= b2
            xp.multiply(g, g, out=tmp)
            tmp *= 1 - b2
            v += tmp
            # lr/bc1 · m / (√v/√bc2 + eps) = (lr·√bc2/bc1) · m / (√v + eps·√bc2): one pass fewer
            bc1, sqrt_bc2 = 1 - b1 ** t, math.sqrt(1 - b2 ** t)
            xp.sqrt(v, out=tmp)
            tmp += eps * sqrt_bc2
            xp.divide(m, tmp, out=tmp)
            tmp *= -lr * sqrt_bc2 / bc1
            p.array += tmp
