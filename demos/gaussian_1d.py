"""A GAN that learns a 1-D Gaussian, N(10, 2²): the seed tutorial, written as in PyTorch.

The only change from the PyTorch original is the three imports below: ``scratchgan`` is
shaped like PyTorch, so ``torch.randn``, ``nn.Linear``, ``optim.Adam``, ``.to(device)``,
``.detach()`` and ``.item()`` all mean what they mean there.

    python demos/gaussian_1d.py                 # 10,000 steps, a few seconds on a laptop CPU
    python demos/gaussian_1d.py --steps 2000 --out runs/gaussian_1d

It prints the losses as it trains, then the mean and std it learnt, and writes a picture
(histogram of generated samples over the target density, and D's output D(x)).
"""
import argparse
import os

import scratchgan as torch  # the only changes: these three imports
import scratchgan.nn as nn
import scratchgan.optim as optim

REAL_MEAN, REAL_STD = 10.0, 2.0
NOISE_DIM = 10


def make_models(device):
    generator = nn.Sequential(nn.Linear(NOISE_DIM, 64), nn.ReLU(), nn.Linear(64, 1)).to(device)
    discriminator = nn.Sequential(nn.Linear(1, 64), nn.LeakyReLU(0.2), nn.Linear(64, 1)).to(device)
    return generator, discriminator


def train(steps=10_000, batch_size=128, seed=0, log_every=1000, device=None):
    """Train the tutorial's GAN; returns (generator, discriminator)."""
    torch.manual_seed(seed)
    device = device or torch.device("cuda" if torch.cuda.is_available() else "cpu")
    G, D = make_models(device)
    criterion = nn.BCEWithLogitsLoss()
    opt_G = optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_D = optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    ones = torch.ones(batch_size, 1, device=device)
    zeros = torch.zeros(batch_size, 1, device=device)

    for step in range(1, steps + 1):
        # Train D: real samples labelled 1, generated samples labelled 0.
        real = REAL_MEAN + REAL_STD * torch.randn(batch_size, 1, device=device)
        fake = G(torch.randn(batch_size, NOISE_DIM, device=device))
        loss_D = criterion(D(real), ones) + criterion(D(fake.detach()), zeros)
        opt_D.zero_grad()
        loss_D.backward()
        opt_D.step()

        # Train G: make D call its samples real (the non-saturating loss, -log D(G(z))).
        loss_G = criterion(D(fake), ones)
        opt_G.zero_grad()
        loss_G.backward()
        opt_G.step()

        if log_every and (step % log_every == 0 or step == 1):
            print(f"step {step:5d}  loss_D {loss_D.item():.4f}  loss_G {loss_G.item():.4f}")
    return G, D


def sample(G, n=10_000, device=None):
    device = device or next(G.parameters()).device
    with torch.no_grad():
        return G(torch.randn(n, NOISE_DIM, device=device)).cpu().numpy().ravel()


def d_curve(D, lo=0.0, hi=20.0, n=400):
    """D's probability that x is real, D(x) = σ(logit), on a grid of x."""
    device = next(D.parameters()).device
    xs = torch.linspace(lo, hi, n).reshape(n, 1).to(device)
    with torch.no_grad():
        return xs.cpu().numpy().ravel(), torch.sigmoid(D(xs)).cpu().numpy().ravel()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/gaussian_1d", help="folder for the picture")
    args = parser.parse_args(argv)

    G, D = train(args.steps, args.batch_size, args.seed, log_every=max(1, args.steps // 10))
    x = sample(G)
    print(f"generated: mean {x.mean():.3f}, std {x.std():.3f}   (target: mean {REAL_MEAN}, std {REAL_STD})")

    from scratchgan.gan.plotting import save_histogram_1d

    os.makedirs(args.out, exist_ok=True)
    path = save_histogram_1d(x, os.path.join(args.out, "gaussian_1d.png"), mean=REAL_MEAN, std=REAL_STD,
                             title=f"1-D GAN after {args.steps} steps: mean {x.mean():.2f}, std {x.std():.2f}",
                             d_curve=d_curve(D))
    print(f"picture: {path}")
    return x


if __name__ == "__main__":
    main()
