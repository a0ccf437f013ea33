"""The engine's losses: the numerically stable pieces that ``nn.functional``'s losses are built on.

Binary cross-entropy is computed from the logit a (D(x) = σ(a)), never from σ(a): with
log σ(a) = −softplus(−a), log(1 − σ(a)) = −softplus(a) and softplus(t) = max(t, 0) + log1p(e^−|t|),
no loss overflows or takes log(0).  The GAN objectives built on these (both generator losses and
their gradients, derived; WGAN, WGAN-GP, hinge, R1) belong to the training app:
``scratchgan/gan/objectives.py``.
"""
from __future__ import annotations

import builtins

from .ops import _xp, abs as _abs, clamp, getitem, log_softmax, mean, permute, reshape, sigmoid, unsqueeze
from .tensor import Tensor, apply_op

__all__ = ["bce_with_logits", "bce", "reduce", "l1_loss", "nll_loss", "cross_entropy"]


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


# ---- regression and classification losses (torch.nn.functional) -----------------------------------
def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:  # noqa: A002
    """|x − y|, reduced; d|x − y|/dx = sign(x − y) (0 at a tie, as in PyTorch)."""
    _check_same_shape("l1_loss", input, target)
    return reduce(_abs(input - target), reduction)


def _class_last(x: Tensor) -> Tensor:
    """(N, C, d1, ...) -> (N·d1·..., C): one row of class scores per prediction."""
    if x.ndim > 2:
        x = permute(x, (0,) + tuple(range(2, x.ndim)) + (1,))
    return reshape(x, (-1, x.shape[-1]))


def _check_class_target(who, x: Tensor, target: Tensor):
    want = (x.shape[0],) + x.shape[2:]
    if target.shape != want:
        raise ValueError(f"{who}: expected target of shape {want} (class indices) for input of shape {x.shape}, "
                         f"got {target.shape}")
    if target.dtype.kind not in "iu":
        raise RuntimeError(f"{who}: expected a target of class indices with an integer dtype (int64), got "
                           f"{target.dtype}; class-probability targets need the input's shape")


def _picked_weights(who, target, c: int, weight, ignore_index: int, dtype):
    """Per-prediction weight w[t_i] (0 where t_i == ignore_index) and the safe indices to pick."""
    xp = _xp(target)
    t = target.array.reshape(-1)
    keep = t != ignore_index
    bad = keep & ((t < 0) | (t >= c))
    if bool(bad.any()):
        raise IndexError(f"{who}: target {int(t[bad][0])} is out of bounds for {c} classes "
                         f"(ignore_index={ignore_index})")
    safe = xp.where(keep, t, 0)
    w = keep.astype(dtype)
    if weight is not None:
        w = w * (weight.array if isinstance(weight, Tensor) else xp.asarray(weight)).astype(dtype)[safe]
    return safe, w


def _check_weight(who, weight, c: int):
    if weight is not None and tuple(weight.shape) != (c,):
        raise ValueError(f"{who}: weight must have one entry per class, shape ({c},), got {tuple(weight.shape)}")


def nll_loss(input: Tensor, target: Tensor, weight=None, ignore_index: int = -100,  # noqa: A002
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class indices from log-probabilities (N, C, *):

        ℓ_i = −w[t_i]·x[i, t_i],   'mean' = Σ ℓ_i / Σ w[t_i]  (ignored targets count in neither).

    The pick is indexing, whose gradient scatters −w[t_i]·g back to x[i, t_i]."""
    x = input
    if x.ndim == 1:  # unbatched (C,) with a 0-d target
        return nll_loss(unsqueeze(x, 0), reshape(target, (1,)), weight, ignore_index=ignore_index,
                        reduction=reduction if reduction != "none" else "sum")
    if x.ndim < 2:
        raise ValueError(f"nll_loss: expected input of shape (N, C, *) or (C,), got {x.shape}")
    c = x.shape[1]
    _check_class_target("nll_loss", x, target)
    _check_weight("nll_loss", weight, c)
    xp = _xp(x)
    safe, w = _picked_weights("nll_loss", target, c, weight, ignore_index, x.dtype)
    rows = _class_last(x)
    picked = getitem(rows, (xp.arange(rows.shape[0]), safe))
    losses = picked * Tensor(-w)
    if reduction == "none":
        return reshape(losses, target.shape)
    if reduction == "mean":
        return losses.sum() / Tensor(xp.asarray(w.sum()))  # asarray: a NumPy scalar would become float32
    return reduce(losses, reduction)


def cross_entropy(input: Tensor, target: Tensor, weight=None, ignore_index: int = -100,  # noqa: A002
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """``F.cross_entropy``: nll_loss(log_softmax(x, 1)) for class-index targets, or
    −Σ_c w_c·y_c·log_softmax(x)_c for class-probability targets (a float target of x's shape).

    log_softmax subtracts the max first, so logits of ±1e4 give finite losses and gradients
    (softmax − onehot).  ``label_smoothing`` ε mixes the target with the uniform distribution:
        ℓ = (1 − ε)·ℓ_nll + (ε/C)·(−Σ_c w_c log p_c)   (normalised like the nll term under 'mean')."""
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"cross_entropy: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    x = input
    if x.ndim == 0:
        raise ValueError("cross_entropy: expected input of shape (N, C, *) or (C,), got a 0-d tensor")
    class_dim = 0 if x.ndim == 1 else 1
    c = x.shape[class_dim]
    _check_weight("cross_entropy", weight, c)
    logp = log_softmax(x, class_dim)
    wshape = (c,) + (1,) * (x.ndim - class_dim - 1)
    w_t = None if weight is None else reshape(weight if isinstance(weight, Tensor) else Tensor(weight), wshape)
    if target.dtype.kind == "f":  # class probabilities
        if target.shape != x.shape:
            raise ValueError(f"cross_entropy: a class-probability target must have the input's shape {x.shape}, "
                             f"got {target.shape}")
        y = target * (1.0 - label_smoothing) + label_smoothing / c if label_smoothing else target
        terms = logp * y if w_t is None else logp * y * w_t
        losses = -terms.sum(dim=class_dim)
        if reduction == "mean":  # averaged over predictions, not normalised by the weights
            return losses.sum() * (1.0 / builtins.max(1, x.numel() // c))
        return reduce(losses, reduction)
    nll = nll_loss(logp, target, weight, ignore_index=ignore_index, reduction=reduction)
    if not label_smoothing:
        return nll
    xp = _xp(x)
    keep = Tensor((target.array != ignore_index).astype(x.dtype))
    smooth = -(logp.sum(dim=class_dim) if w_t is None else (logp * w_t).sum(dim=class_dim)) * keep
    if reduction == "mean":
        _, w = _picked_weights("cross_entropy", reshape(target, (-1,)), c, weight, ignore_index, x.dtype)
        smooth = smooth.sum() / Tensor(xp.asarray(w.sum()))
    elif reduction == "sum":
        smooth = smooth.sum()
    return nll * (1.0 - label_smoothing) + smooth * (label_smoothing / c)
