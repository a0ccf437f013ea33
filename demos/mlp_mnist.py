"""The MLP GAN on MNIST (Goodfellow et al. 2014 style): fully connected nets, no convolutions.

G: 100 → 256 → 512 → 1024 → 784 with LeakyReLU(0.2), Tanh out;  D: 784 → 512 → 256 → 1.
(scratchgan/gan/models.py: MLPGenerator, MLPDiscriminator.)  Fast on a CPU: an epoch is a minute or so.

    python demos/mlp_mnist.py --epochs 20
    python demos/mlp_mnist.py --data-dir /path/to/mnist --data fashion-mnist --epochs 1

Writes a grid of samples from fixed noise after every epoch.
"""
import argparse
import os

import scratchgan as torch
import scratchgan.optim as optim
from scratchgan.gan import objectives
from scratchgan.gan.datasets import BatchIterator, load_dataset
from scratchgan.gan.models import MLPDiscriminator, MLPGenerator
from scratchgan.gan.plotting import save_image_grid


def main(argv=None):
    parser = argparse.ArgumentParser(description="MLP GAN on MNIST")
    parser.add_argument("--data", default="mnist", help="mnist, fashion-mnist or a folder of IDX files")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--steps", type=int, default=None, help="stop after this many steps (default: all epochs)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-images", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/mlp_demo")
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    images, _ = load_dataset(args.data, data_dir=args.data_dir)
    images = images[: args.max_images]
    batches = BatchIterator(images, args.batch_size, seed=args.seed)
    nz = 100
    G = MLPGenerator(nz=nz, image_shape=(1, 28, 28)).to(device)
    D = MLPDiscriminator(in_features=784).to(device)
    opt_G = optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_D = optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    fixed_noise = torch.randn(64, nz, device=device)
    os.makedirs(args.out, exist_ok=True)

    step, total = 0, args.steps or args.epochs * batches.steps_per_epoch
    for epoch in range(1, args.epochs + 1):
        for _ in range(batches.steps_per_epoch):
            if step == total:
                break
            step += 1
            real = torch.tensor(next(batches), device=device)
            fake = G(torch.randn(real.shape[0], nz, device=device))
            loss_D = objectives.discriminator_loss(D(real), D(fake.detach()))
            opt_D.zero_grad()
            loss_D.backward()
            opt_D.step()
            loss_G = objectives.generator_loss(D(fake), kind="nonsaturating")
            opt_G.zero_grad()
            loss_G.backward()
            opt_G.step()
            if step % 200 == 0 or step == 1:
                print(f"epoch {epoch} step {step}/{total}  loss_D {loss_D.item():.4f}  loss_G {loss_G.item():.4f}")
        with torch.no_grad():
            grid = G(fixed_noise).cpu().numpy()
        path = save_image_grid(grid, os.path.join(args.out, f"epoch{epoch:03d}.png"))
        print(f"epoch {epoch}: samples in {path}")
        if step == total:
            break
    return G


if __name__ == "__main__":
    main()
