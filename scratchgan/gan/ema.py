"""An exponential moving average of a generator's weights (Karras et al. 2018; Yazıcı et al. 2019).

    ema = EMA(G, beta=0.999)
    ...                                   # each step, after optG.step():
    ema.update(G)
    ema.recompute_batch_stats(noise)      # before sampling, when G has BatchNorm
    pictures = ema.model(z)

The averaged weights θ̄ follow G's weights θ_t with a decay that warms up:

    θ̄ ← β_t θ̄ + (1 − β_t) θ_t,     β_t = min(β, (1 + t) / (10 + t)),   t = updates so far

Without the warm-up (β_t = β from the start), θ̄ after T updates still holds β^T of G's random
initial weights: 0.999^2340 ≈ 10 % after 5 Fashion-MNIST epochs, enough to ruin the samples.
β_t = (1 + t)/(10 + t) starts at 0.1 (θ̄ ≈ the current θ), so the initial weights are forgotten
within the first steps, and the average lengthens as training goes on (β_t reaches 0.999 at t ≈ 9,000).

BatchNorm: G's running statistics were gathered by the *raw* weights along the way; the averaged
weights produce activations with different statistics, and normalising them with G's running
averages shifts and scales every layer wrongly.  So the averaged model keeps statistics of its
own, recomputed when it is used: reset, then a forward pass in train mode (no gradients) over a few
batches of noise with ``momentum=None`` — the exact average over those batches (what
``torch.optim.swa_utils.update_bn`` does for averaged weights).  The noise comes from its own
seeded generator, so recomputing never touches the training's random stream.
"""
from __future__ import annotations

import copy

import numpy as np

from .. import backend as B
from ..tensor import Tensor, no_grad

__all__ = ["EMA", "ema_decay"]


def ema_decay(beta: float, t: int, warmup: bool = True) -> float:
    """β_t = min(β, (1 + t)/(10 + t)) with warm-up, else β (t = updates before this one)."""
    return min(beta, (1.0 + t) / (10.0 + t)) if warmup else beta


def _batch_norms(module):
    return [m for m in module.modules() if hasattr(m, "running_mean") and hasattr(m, "reset_running_stats")
            and m.running_mean is not None]


class EMA:
    """The averaged copy ``model`` of a module, updated with ``update(module)`` after each optimiser step.

    ``warmup=False`` gives the plain average (β from the first step) and ``recompute_batch_stats`` may be
    left out, to measure what each fix brings.  ``state_dict()`` is the averaged model's (parameters and
    BatchNorm buffers); the update count ``num_updates`` is saved alongside by the caller.
    """

    def __init__(self, module, beta: float = 0.999, warmup: bool = True):
        if not 0.0 < beta < 1.0:
            raise ValueError(f"EMA: beta must be in (0, 1), got {beta}")
        self.beta, self.warmup, self.num_updates = float(beta), bool(warmup), 0
        self.model = copy.deepcopy(module)
        self.model.eval()
        for p in self.model.parameters():
            p.requires_grad = False

    def decay(self) -> float:
        return ema_decay(self.beta, self.num_updates, self.warmup)

    def update(self, module) -> None:
        """θ̄ ← β_t θ̄ + (1 − β_t) θ, in place, parameter by parameter."""
        b = self.decay()
        for avg, p in zip(self.model.parameters(), module.parameters()):
            avg.array *= b
            avg.array += (1.0 - b) * p.array
        if not _batch_norms(self.model):  # buffers other than BatchNorm's follow the live module
            for avg, buf in zip(self.model.buffers(), module.buffers()):
                avg.array[...] = buf.array
        self.num_updates += 1

    def recompute_batch_stats(self, noise_batches, *extra_inputs) -> None:
        """BatchNorm running statistics of the averaged weights: the exact mean over ``noise_batches``
        (arrays (n, nz) on the host or the model's device, or Tensors), computed in train mode without gradients.  ``extra_inputs`` holds, per
        batch, further arguments to the model (the class labels of a conditional G).  No-op without BN."""
        norms = _batch_norms(self.model)
        if not norms:
            return
        device = next(self.model.parameters()).device
        momenta = [m.momentum for m in norms]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # cumulative average: each batch weighs the same
        self.model.train()
        try:
            with no_grad():
                for i, z in enumerate(noise_batches):
                    args = [Tensor(_on(device, e[i])) for e in extra_inputs]
                    self.model(Tensor(_on(device, z).astype(np.float32, copy=False)), *args)
        finally:
            for m, mom in zip(norms, momenta):
                m.momentum = mom
            self.model.eval()

    def state_dict(self):
        return self.model.state_dict()

    def load_state_dict(self, state, num_updates: int) -> None:
        self.model.load_state_dict(state)
        self.num_updates = int(num_updates)


def _on(device, value):
    """A batch as an array on ``device``: a Tensor's own array, or a host/device array, moved
    (``numpy.asarray`` on a CuPy array would raise: CuPy refuses implicit device-to-host copies)."""
    return B.to_device(value.array if isinstance(value, Tensor) else value, device)
