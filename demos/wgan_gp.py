"""WGAN-GP, Algorithm 1 of Gulrajani et al. (2017), "Improved Training of Wasserstein GANs" — as PyTorch code.

Everything below the imports is plain PyTorch: swap the four scratchgan imports for
``import torch``, ``import torch.nn as nn``, ``import torch.optim as optim`` and
``from torch import autograd`` and it runs on PyTorch unchanged (the evaluation at the end
uses scratchgan's mode-coverage metric and plotting, which are not part of the algorithm).

    python demos/wgan_gp.py                       # 8 Gaussians on a ring, the paper's toy task
    python demos/wgan_gp.py --iters 500 --out runs/wgan_gp_demo

Algorithm 1 (defaults λ = 10, n_critic = 5, α = 1e-4, β1 = 0, β2 = 0.9):

    while θ has not converged:
        for t = 1, ..., n_critic:
            for i = 1, ..., m:
                sample real x ~ P_r, latent z ~ p(z), a random number ε ~ U[0, 1]
                x̃ ← G_θ(z);   x̂ ← εx + (1 − ε)x̃
                L⁽ⁱ⁾ ← D_w(x̃) − D_w(x) + λ(‖∇x̂ D_w(x̂)‖₂ − 1)²
            w ← Adam(∇w (1/m) Σᵢ L⁽ⁱ⁾, w, α, β1, β2)
        sample a batch of latents {z⁽ⁱ⁾} ~ p(z)
        θ ← Adam(∇θ (1/m) Σᵢ −D_w(G_θ(z⁽ⁱ⁾)), θ, α, β1, β2)

The critic has no BatchNorm: the penalty constrains each example's gradient norm, and BatchNorm
would make D's output for one example depend on the rest of the batch.
"""
import argparse
import math
import os

import numpy as np

import scratchgan as torch  # import torch
import scratchgan.nn as nn  # import torch.nn as nn
import scratchgan.optim as optim  # import torch.optim as optim
from scratchgan import autograd  # from torch import autograd


def eight_gaussians(batch_size, rng, std=0.01):
    """The toy target of the paper's code: 8 Gaussians on the unit circle."""
    angles = 2 * np.pi * rng.integers(0, 8, size=batch_size) / 8
    centers = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return (centers + std * rng.standard_normal((batch_size, 2))).astype(np.float32)


class Generator(nn.Module):
    def __init__(self, nz=2, dim=128):
        super().__init__()
        self.main = nn.Sequential(nn.Linear(nz, dim), nn.ReLU(True), nn.Linear(dim, dim), nn.ReLU(True),
                                  nn.Linear(dim, dim), nn.ReLU(True), nn.Linear(dim, 2))

    def forward(self, z):
        return self.main(z)


class Critic(nn.Module):
    def __init__(self, dim=128):
        super().__init__()
        self.main = nn.Sequential(nn.Linear(2, dim), nn.ReLU(True), nn.Linear(dim, dim), nn.ReLU(True),
                                  nn.Linear(dim, dim), nn.ReLU(True), nn.Linear(dim, 1))

    def forward(self, x):
        return self.main(x).view(-1)


def gradient_penalty(netD, real, fake, lam):
    """λ E[(‖∇x̂ D(x̂)‖₂ − 1)²] at x̂ = εx + (1 − ε)x̃, one ε per example."""
    eps = torch.rand(real.size(0), 1, device=real.device).expand_as(real)
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    d_hat = netD(x_hat)
    gradients = autograd.grad(outputs=d_hat, inputs=x_hat, grad_outputs=torch.ones_like(d_hat),
                              create_graph=True, retain_graph=True)[0]  # create_graph: the penalty trains D
    return lam * ((gradients.norm(2, dim=1) - 1) ** 2).mean()


def main(argv=None):
    parser = argparse.ArgumentParser(description="WGAN-GP (Algorithm 1) on 8 Gaussians")
    parser.add_argument("--iters", type=int, default=4000, help="generator iterations")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--dim", type=int, default=128, help="hidden width of G and D")
    parser.add_argument("--critic-iters", type=int, default=5)
    parser.add_argument("--lam", type=float, default=10.0)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/wgan_gp_demo")
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    netG, netD = Generator(dim=args.dim).to(device), Critic(dim=args.dim).to(device)
    optG = optim.Adam(netG.parameters(), lr=args.lr, betas=(0.0, 0.9))
    optD = optim.Adam(netD.parameters(), lr=args.lr, betas=(0.0, 0.9))

    for iteration in range(1, args.iters + 1):
        # (1) the critic, n_critic times: minimise D(x̃) − D(x) + GP
        for p in netD.parameters():
            p.requires_grad = True
        for _ in range(args.critic_iters):
            real = torch.from_numpy(eight_gaussians(args.batch_size, rng)).to(device)
            with torch.no_grad():
                fake = netG(torch.randn(args.batch_size, 2, device=device))
            netD.zero_grad()
            d_real, d_fake = netD(real).mean(), netD(fake).mean()
            gp = gradient_penalty(netD, real, fake, args.lam)
            loss_D = d_fake - d_real + gp
            loss_D.backward()
            optD.step()
        # (2) the generator: minimise −D(G(z))
        for p in netD.parameters():
            p.requires_grad = False  # no gradients for the critic's weights here
        netG.zero_grad()
        loss_G = -netD(netG(torch.randn(args.batch_size, 2, device=device))).mean()
        loss_G.backward()
        optG.step()
        if iteration % max(1, args.iters // 10) == 0:
            print(f"iter {iteration:5d}  critic loss {loss_D.item():.4f}  W estimate {(d_real - d_fake).item():.4f}  "
                  f"GP {gp.item():.4f}  G loss {loss_G.item():.4f}")

    # ---- evaluation (scratchgan's toy protocol; not part of the algorithm) -------------------------------
    from scratchgan.gan.datasets import toy_dataset
    from scratchgan.gan.metrics import format_report, mode_coverage
    from scratchgan.gan.plotting import save_scatter_2d

    with torch.no_grad():
        samples = netG(torch.randn(2500, 2, device=device)).cpu().numpy()
    ring = toy_dataset("ring8")
    result = mode_coverage(samples, ring.centers, ring.std)
    print(format_report(result, f"WGAN-GP, {args.iters} generator iterations:"))
    os.makedirs(args.out, exist_ok=True)
    path = save_scatter_2d(samples, os.path.join(args.out, "wgan_gp_ring8.png"), centers=ring.centers,
                           std=ring.std, title=f"WGAN-GP: {result.modes}/8 modes, "
                                                f"{result.high_quality_pct:.1f}% high quality")
    print(f"picture: {path}")
    assert math.isfinite(loss_D.item())
    return result


if __name__ == "__main__":
    main()
