"""GAN losses, computed from logits.

D outputs a logit a; D(x) = σ(a).  Working with a instead of σ(a) keeps every
loss finite: log σ(a) = −softplus(−a) and log(1 − σ(a)) = −softplus(a), and
softplus(t) = max(t, 0) + log1p(e^−|t|) never overflows or takes log(0).

The two generator losses of Goodfellow et al. (2014):
  minimax         L_G = log(1 − D(G(z))) = −softplus(a),   dL/da = −σ(a)
  non-saturating  L_G = −log D(G(z))     =  softplus(−a),  dL/da = −σ(−a) = σ(a) − 1
Early in training D rejects fakes (a → −∞, D(G(z)) → 0): the minimax gradient
−σ(a) → 0 and G stops learning (saturation); the non-saturating one → −1.

The remedies (``OBJECTIVES``; ``train`` picks one by name) change what D's output means:
  wgan     (Arjovsky et al. 2017)  D is a critic with a real-valued score s, kept 1-Lipschitz by clipping
           its weights:  L_D = E[s(G(z))] − E[s(x)],  L_G = −E[s(G(z))]   (an Earth-Mover estimate)
  wgan-gp  (Gulrajani et al. 2017) the same losses, Lipschitz by a penalty instead of clipping:
           L_D += λ E[(‖∇x̂ s(x̂)‖₂ − 1)²],  x̂ = εx + (1 − ε)G(z), ε ~ U[0, 1] per example
  hinge    (Lim & Ye 2017; Miyato et al. 2018)  L_D = E[relu(1 − s(x))] + E[relu(1 + s(G(z)))],
           L_G = −E[s(G(z))]: D stops pushing on samples it already gets right by a margin of 1
and ``r1_penalty`` (Mescheder et al. 2018), γ/2 E[‖∇x D(x)‖²] on real data, adds to ns or hinge.
"""
from __future__ import annotations

import builtins
import math
from dataclasses import dataclass, field

from . import backend as B
from .creation import rand
from .ops import _xp, abs as _abs, clamp, getitem, log_softmax, mean, permute, relu, reshape, sigmoid, softplus, sqrt
from .ops import unsqueeze
from .tensor import Tensor, apply_op, grad

__all__ = ["bce_with_logits", "bce", "discriminator_loss", "generator_loss", "gan_loss", "reduce", "l1_loss",
           "nll_loss", "cross_entropy",
           "wgan_critic_loss", "wgan_generator_loss", "hinge_discriminator_loss", "hinge_generator_loss",
           "gradient_penalty", "r1_penalty", "Objective", "OBJECTIVES", "objective"]


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



# ----------------------------------------------------------------------------- the remedies


def wgan_critic_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """L_D = E[s(G(z))] − E[s(x)]: the negated Kantorovich–Rubinstein estimate of W₁(p_data, p_G).

    dL/ds(x_i) = −1/n,  dL/ds(G(z)_j) = +1/n: a constant push, which never saturates.
    """
    return mean(fake_scores) - mean(real_scores)


def wgan_generator_loss(fake_scores: Tensor) -> Tensor:
    """L_G = −E[s(G(z))]  (dL/ds = −1/n).  Also the hinge GAN's generator loss."""
    return -mean(fake_scores)


hinge_generator_loss = wgan_generator_loss


def hinge_discriminator_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """L_D = E[relu(1 − s(x))] + E[relu(1 + s(G(z)))].

    dL/ds(x) = −1/n where s(x) < 1, else 0;  dL/ds(G(z)) = +1/n where s(G(z)) > −1, else 0.
    """
    return mean(relu(1.0 - real_scores)) + mean(relu(1.0 + fake_scores))


def _input_gradient(critic, x: Tensor) -> Tensor:
    """∇x Σᵢ critic(x)ᵢ with the graph kept (create_graph), so a penalty on it trains the critic's weights.
    Each output depends only on its own example (or pack), so row i of the result is ∇ of output i."""
    (g,) = grad(critic(x).sum(), x, create_graph=True)
    return g


def _per_output(g: Tensor, n_out: int) -> Tensor:
    """(N, ...) gradients → (n_out, N·.../n_out): one row per critic output (per pack when packed)."""
    return g.reshape(n_out, -1)


def gradient_penalty(critic, real: Tensor, fake: Tensor, pack: int = 1) -> Tensor:
    """WGAN-GP's E[(‖∇x̂ s(x̂)‖₂ − 1)²] at x̂ = εx + (1 − ε)G(z), one ε ~ U[0, 1] per example.

    The optimal critic has unit gradient norm almost everywhere between the two distributions, so the
    penalty asks for it on random points of the lines joining real and fake samples.  The norm runs over
    all of an example's dimensions (and over a whole pack with PacGAN, whose critic sees a pack as one
    point).  ‖g‖ is sqrt(Σg² + 1e−12): d‖g‖/dg = g/‖g‖ is 0/0 at g = 0, which a freshly zeroed
    critic can hit; the 1e−12 keeps the double backward finite and changes nothing else.
    ε comes from the global RNG, so it is part of a run's random stream (and of bit-for-bit resume).
    Multiply by λ yourself (``Objective``/``train`` do).
    """
    real, fake = real.detach(), fake.detach()
    n_out = real.shape[0] // pack
    eps = rand(n_out, 1, dtype=real.dtype, device=real.device)
    eps = eps.expand(n_out, pack).reshape((real.shape[0],) + (1,) * (real.ndim - 1))
    x_hat = (eps * real + (1.0 - eps) * fake).requires_grad_(True)
    g = _per_output(_input_gradient(critic, x_hat), n_out)
    norm = sqrt((g * g).sum(dim=1) + 1e-12)
    return mean((norm - 1.0) ** 2)


def r1_penalty(critic, real: Tensor, pack: int = 1) -> Tensor:
    """R1 (Mescheder et al. 2018): E[‖∇x D(x)‖²] on real data, on D's logit (or score).

    Near the equilibrium p_G = p_data, D should be flat on the data; penalising its slope there
    removes the rotation that makes simultaneous gradient descent circle around the equilibrium.
    Multiply by γ/2 yourself (``train`` does)."""
    x = real.detach().requires_grad_(True)
    g = _per_output(_input_gradient(critic, x), real.shape[0] // pack)
    return mean((g * g).sum(dim=1))


@dataclass(frozen=True)
class Objective:
    """A GAN objective: D's and G's losses on D's outputs, what those outputs mean, and the settings
    its paper trains it with (``defaults``: TrainConfig fields that a recipe or the command line override).

    ``d_loss(real_scores, fake_scores, real_label)`` and ``g_loss(fake_scores)``.  ``logits``: D's output is
    a logit (D(x) = σ(s)), else a critic score with no probability meaning.  What keeps a critic Lipschitz
    is a setting, not a new loss: ``clip`` (WGAN's weight clipping) and ``gp`` (WGAN-GP's λ) are in
    ``defaults``, so ``--loss wgan-gp --gp 0`` is the bare critic loss.
    """

    name: str
    d_loss: object
    g_loss: object
    logits: bool
    defaults: dict = field(default_factory=dict)
    fixes: str = ""


def _standard_d(real_scores, fake_scores, real_label=1.0):
    return discriminator_loss(real_scores, fake_scores, real_label)


def _critic_d(loss):
    def d_loss(real_scores, fake_scores, real_label=1.0):
        if real_label != 1.0:
            raise ValueError("label smoothing only applies to the ns and minimax losses (a critic has no labels)")
        return loss(real_scores, fake_scores)
    return d_loss


OBJECTIVES = {
    "ns": Objective("ns", _standard_d, lambda s: generator_loss(s, "nonsaturating"), logits=True,
                    fixes="log(1 − D(G(z))) saturating when D wins (gradient −1 instead of −σ(a) → 0)"),
    "minimax": Objective("minimax", _standard_d, lambda s: generator_loss(s, "minimax"), logits=True,
                         fixes="nothing: the original game, saturates early in training"),
    # Arjovsky et al., Algorithm 1: RMSProp (momentum-based optimisers made the critic unstable), lr 5e-5,
    # n_critic 5, clip 0.01.
    "wgan": Objective("wgan", _critic_d(wgan_critic_loss), wgan_generator_loss, logits=False,
                      defaults=dict(optimizer="rmsprop", lr=5e-5, d_steps=5, clip=0.01),
                      fixes="vanishing gradients of a perfect D; a loss that tracks sample quality"),
    # Gulrajani et al., Algorithm 1: λ = 10, n_critic = 5, Adam(α = 1e-4, β1 = 0, β2 = 0.9).
    "wgan-gp": Objective("wgan-gp", _critic_d(wgan_critic_loss), wgan_generator_loss, logits=False,
                         defaults=dict(optimizer="adam", lr=1e-4, betas=(0.0, 0.9), d_steps=5, gp=10.0),
                         fixes="weight clipping's capacity loss and exploding/vanishing critic gradients"),
    # Miyato et al. 2018 train hinge + spectral norm well with the DCGAN settings (Adam 2e-4, β = (0.5,
    # 0.999), one D step: setting C of their Table 1), so the hinge keeps them.  Pair with --spectral-norm.
    "hinge": Objective("hinge", _critic_d(hinge_discriminator_loss), hinge_generator_loss, logits=False,
                       defaults=dict(optimizer="adam", lr=2e-4, betas=(0.5, 0.999), d_steps=1),
                       fixes="an overconfident D: no push on samples already beyond the margin"),
}


def objective(name: str) -> Objective:
    """The objective called ``name`` ("nonsaturating" is a synonym of "ns")."""
    name = "ns" if name == "nonsaturating" else name
    if name not in OBJECTIVES:
        raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(OBJECTIVES)}")
    return OBJECTIVES[name]
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
