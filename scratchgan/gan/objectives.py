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

import math
from dataclasses import dataclass, field

from .. import backend as B
from ..creation import rand
from ..losses import bce_with_logits
from ..ops import mean, relu, softplus, sqrt
from ..tensor import Tensor, grad

__all__ = ["discriminator_loss", "generator_loss", "gan_loss", "saturation_curves",
           "wgan_critic_loss", "wgan_generator_loss", "hinge_discriminator_loss", "hinge_generator_loss",
           "gradient_penalty", "r1_penalty", "Objective", "OBJECTIVES", "objective"]


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
