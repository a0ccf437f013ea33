"""A class-conditional DCGAN on Fashion-MNIST: ask for a class, get that class — one row per class.

G(z, y) reads the class through a learned embedding concatenated to the noise; D(x, y) is a
projection discriminator (Miyato & Koyama 2018): ψ(φ(x)) + ⟨e_y, φ(x)⟩.  Both wrap the DCGAN
nets of scratchgan/gan/models.py (ConditionalGenerator, ProjectionDiscriminator).  The loop is the
DCGAN tutorial's with the labels passed along: real images with their labels, fakes with
labels drawn uniformly.

    python demos/conditional.py --epochs 3                 # Fashion-MNIST (apt-get install dataset-fashion-mnist)
    python demos/conditional.py --data mnist --epochs 1 --ngf 32 --ndf 32

The same run from the command line: ``scratchgan train --data fashion-mnist --conditional --epochs 3``,
then ``scratchgan sample --checkpoint runs/fashion-mnist --class 3 --out dresses.npy``.
"""
import argparse
import os

import numpy as np

import scratchgan as torch
import scratchgan.optim as optim
from scratchgan.gan import objectives
from scratchgan.gan.datasets import load_dataset
from scratchgan.gan.models import (ConditionalGenerator, DCGANDiscriminator, DCGANGenerator, ProjectionDiscriminator,
                               weights_init)
from scratchgan.gan.plotting import save_image_grid

NAMES = {"fashion-mnist": "T-shirt Trouser Pullover Dress Coat Sandal Shirt Sneaker Bag Boot".split()}


def main(argv=None):
    parser = argparse.ArgumentParser(description="class-conditional DCGAN, one row per class")
    parser.add_argument("--data", default="fashion-mnist", help="fashion-mnist, mnist or a folder of IDX files")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--steps", type=int, default=None, help="stop after this many steps (default: all epochs)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--ngf", type=int, default=64)
    parser.add_argument("--ndf", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/conditional_demo")
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    images, labels = load_dataset(args.data, data_dir=args.data_dir)  # (N, 1, 28, 28) in [-1, 1], (N,)
    if labels is None:
        raise SystemExit(f"{args.data}: a conditional GAN needs labels (an IDX labels file beside the images)")
    k, nz, emb = int(labels.max()) + 1, 100, 50
    netG = DCGANGenerator(nz=nz + emb, ngf=args.ngf)  # reads [z, e_y]
    netD = DCGANDiscriminator(ndf=args.ndf)
    netG.apply(weights_init)
    netD.apply(weights_init)
    netG, netD = ConditionalGenerator(netG, k, emb).to(device), ProjectionDiscriminator(netD, k).to(device)
    optG = optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optD = optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
    fixed_noise = torch.randn(10 * k, nz, device=device)
    fixed_labels = torch.arange(k, device=device).repeat_interleave(10)  # row y: ten samples of class y
    rng = np.random.default_rng(args.seed)
    os.makedirs(args.out, exist_ok=True)

    steps_per_epoch = len(images) // args.batch_size
    step, total = 0, args.steps or args.epochs * steps_per_epoch
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(len(images))
        for i in range(steps_per_epoch):
            if step == total:
                break
            idx = order[i * args.batch_size:(i + 1) * args.batch_size]
            x = torch.tensor(images[idx], device=device)
            y = torch.tensor(labels[idx].astype(np.int64), device=device)
            y_fake = torch.randint(0, k, (len(idx),), device=device)
            fake = netG(torch.randn(len(idx), nz, device=device), y_fake)
            # D: real images with their own labels are real; fakes with the labels they were asked for are fake
            optD.zero_grad()
            loss_D = objectives.discriminator_loss(netD(x, y), netD(fake.detach(), y_fake))
            loss_D.backward()
            optD.step()
            # G: make D believe the fakes are real examples *of their class*
            optG.zero_grad()
            loss_G = objectives.generator_loss(netD(fake, y_fake), kind="nonsaturating")
            loss_G.backward()
            optG.step()
            step += 1
            if step % 100 == 0 or step == total:
                print(f"epoch {epoch} step {step}/{total}  loss_D {loss_D.item():.4f}  loss_G {loss_G.item():.4f}")
        netG.eval()
        with torch.no_grad():
            grid = netG(fixed_noise, fixed_labels).cpu().numpy()
        netG.train()
        path = save_image_grid(grid, os.path.join(args.out, f"epoch{epoch:03d}.png"), nrow=10)
        rows = NAMES.get(args.data, [str(c) for c in range(k)])
        print(f"epoch {epoch}: {path} (rows, top to bottom: {', '.join(rows)})")
        if step == total:
            break
    return netG


if __name__ == "__main__":
    main()
