"""GAN losses, computed from logits.

D outputs a logit a; D(x) = σ(a).  Working with a instead of σ(a) keeps every
loss finite: log σ(a) = −softplus(−a) and log(1 − σ(a)) = −softplus(a), and
softplus(t) = max(t, 0) + log1p(e^−|t|) never overflows or takes log(0).

The two generator losses of Goodfellow et al. (2014):
  minimax         L_G = log(1 − D(G(z))) = −softplus(a),   dL/da = −σ(a)
  non-saturating  L_G = −log D(G(z))     =  softplus(−a),  dL/da = −σ(−a) = σ(a) − 1
Early in training D rejects fakes (a → −∞, D(G(z)) → 0): the minimax gradient
−σ(a) → 0 and G stops learning (saturation); the non-saturating one → −1.
"""
from __future__ import annotations

import math

from . import backend as B
from .ops import _xp, clamp, mean, sigmoid, softplus
from .tensor import Tensor, apply_op

__all__ = ["bce_with_logits", "bce", "discriminator_loss", "generator_loss", "gan_loss", "reduce"]


def _check_same_shape(what, x: Tensor, y: Tensor):
    if x.shape != y.shape:
        raise ValueError(
            f"{what}: target shape {y.shape} differs from input shape {x.shape}; "
            "reshape one of them (broadcasting here would silently compare every input with every target)"
        )


def reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return mean(loss)
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def bce_with_logits(logits: Tensor, targets, weight=None, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of σ(x) against y, from the logit x:

        ℓ(x, y) = −[y log σ(x) + (1 − y) log(1 − σ(x))] = max(x, 0) − x·y + log1p(e^−|x|)

    dℓ/dx = σ(x) − y;  dℓ/dy = −x.  Finite for every finite x, in float32 too.
    ``targets`` may be a Tensor of the same shape or a number (a label for every element).
    """
    x = logits
    y = targets if isinstance(targets, Tensor) else Tensor(_xp(x).full(x.shape, targets, dtype=x.dtype))
    _check_same_shape("bce_with_logits", x, y)
    xp = _xp(x, y)
    data = xp.maximum(x.array, 0) - x.array * y.array + xp.log1p(xp.exp(-xp.abs(x.array)))

    def backward(g, out):
        gx = g * (sigmoid(x) - y) if x.requires_grad else None
        gy = -g * x if y.requires_grad else None
        return gx, gy

    loss = apply_op(data, (x, y), backward, "bce_with_logits", saved=(x, y if x.requires_grad else None))
    if weight is not None:
        loss = loss * weight
    return reduce(loss, reduction)


def _clamped_log(xp, p):
    """max(log p, −100): PyTorch's BCELoss clamp, without evaluating log(0)."""
    positive = p > 0
    return xp.maximum(xp.where(positive, xp.log(xp.where(positive, p, 1)), -100), -100)


def bce(probs: Tensor, targets, weight=None, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy on probabilities (``nn.BCELoss``), with PyTorch's numerics:

        ℓ(p, y) = −[y · max(log p, −100) + (1 − y) · max(log(1 − p), −100)]
        dℓ/dp = (p − y) / max(p (1 − p), 1e−12)

    Prefer ``bce_with_logits``: σ then log loses everything beyond |logit| ≈ 17 in float32.
    """
    p = probs
    y = targets if isinstance(targets, Tensor) else Tensor(_xp(p).full(p.shape, targets, dtype=p.dtype))
    _check_same_shape("bce", p, y)
    xp = _xp(p, y)
    if bool(((p.array < 0) | (p.array > 1)).any()):
        raise ValueError("bce: all input probabilities must be between 0 and 1 (did you mean bce_with_logits?)")
    log_p, log_q = _clamped_log(xp, p.array), _clamped_log(xp, 1 - p.array)
    data = -(y.array * log_p + (1 - y.array) * log_q)

    def backward(g, out):
        gp = g * (p - y) / clamp(p * (1.0 - p), min=1e-12) if p.requires_grad else None
        gy = g * Tensor(log_q - log_p) if y.requires_grad else None
        return gp, gy

    loss = apply_op(data, (p, y), backward, "bce", saved=(p, y) if p.requires_grad else ())
    if weight is not None:
        loss = loss * weight
    return reduce(loss, reduction)


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor, real_label: float = 1.0) -> Tensor:
    """L_D = −mean log D(x) − mean log(1 − D(G(z))), from logits.

    ``real_label`` < 1 is one-sided label smoothing (Salimans et al. 2016): real
    targets become e.g. 0.9 while fake targets stay 0, so D is never rewarded for
    extreme confidence on real data.
    """
    return bce_with_logits(real_logits, real_label) + bce_with_logits(fake_logits, 0.0)


def generator_loss(fake_logits: Tensor, kind: str = "nonsaturating") -> Tensor:
    """The generator's loss on D's logits a = D(G(z)):

    ``"nonsaturating"``: mean −log σ(a) = mean softplus(−a)   (strong gradient when D wins)
    ``"minimax"``:       mean log(1 − σ(a)) = mean −softplus(a) (the original game; saturates)
    """
    if kind in ("nonsaturating", "ns"):
        return mean(softplus(-fake_logits))
    if kind == "minimax":
        return mean(-softplus(fake_logits))
    raise ValueError(f"generator_loss: kind must be 'nonsaturating' or 'minimax', got {kind!r}")


def gan_loss(d_real: float, d_fake: float) -> float:
    """The value of the GAN game for one real/fake pair, on probabilities:

        V = −log D(x) − log(1 − D(G(z)))

    A teaching helper: D's output must lie strictly inside (0, 1), else the logs
    are infinite.  Training code uses the logit losses above, which need no guard.
    """
    for name, v in (("d_real", d_real), ("d_fake", d_fake)):
        v = float(v)
        if not 0.0 < v < 1.0 or math.isnan(v):
            raise ValueError(f"gan_loss: {name} = {v!r} must be strictly between 0 and 1")
    return -math.log(float(d_real)) - math.log1p(-float(d_fake))


def saturation_curves(p):
    """Both generator losses and their logit gradients at D(G(z)) = p (NumPy, for plots).

    Returns (minimax loss, non-saturating loss, d minimax/da, d non-saturating/da).
    """
    np = B.numpy
    p = np.asarray(p, dtype=np.float64)
    return np.log1p(-p), -np.log(p), -p, p - 1.0

