"""DCGAN on MNIST or Fashion-MNIST: the PyTorch DCGAN tutorial, on scratchgan.

Convolutions, transposed convolutions and BatchNorm are scratchgan's own (scratchgan/conv.py,
scratchgan/norm.py); the nets are the tutorial's, sized for 28×28 images
(scratchgan/gan/models.py: DCGANGenerator, DCGANDiscriminator, weights_init).

    python demos/dcgan_mnist.py --data fashion-mnist --epochs 5
    python demos/dcgan_mnist.py --data-dir /path/to/mnist --epochs 1 --max-images 5000

Fashion-MNIST on Debian/Ubuntu: ``apt-get install dataset-fashion-mnist``; MNIST downloads into
~/.cache/scratchgan/mnist when online, or give --data-dir a folder of its IDX files.
Writes a grid of samples from fixed noise after every epoch.  On a GPU (CuPy) it runs on the GPU.
"""
import argparse
import os


import scratchgan as torch
import scratchgan.nn as nn
import scratchgan.optim as optim
from scratchgan.gan.datasets import BatchIterator, load_dataset
from scratchgan.gan.models import DCGANDiscriminator, DCGANGenerator, weights_init
from scratchgan.gan.plotting import save_image_grid


def main(argv=None):
    parser = argparse.ArgumentParser(description="DCGAN on MNIST / Fashion-MNIST")
    parser.add_argument("--data", default="mnist", help="mnist, fashion-mnist or a folder of IDX files")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--steps", type=int, default=None, help="stop after this many steps (default: all epochs)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--max-images", type=int, default=None, help="train on the first N images only")
    parser.add_argument("--ngf", type=int, default=64)
    parser.add_argument("--ndf", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/dcgan_demo")
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    images, _ = load_dataset(args.data, data_dir=args.data_dir)  # float32 (N, 1, 28, 28) in [-1, 1]
    images = images[: args.max_images]
    batches = BatchIterator(images, args.batch_size, seed=args.seed)
    nz = 100

    netG = DCGANGenerator(nz=nz, ngf=args.ngf, channels=1, image_size=28).to(device)
    netD = DCGANDiscriminator(ndf=args.ndf, channels=1, image_size=28).to(device)  # logits, shape (N,)
    netG.apply(weights_init)
    netD.apply(weights_init)
    criterion = nn.BCEWithLogitsLoss()
    fixed_noise = torch.randn(64, nz, 1, 1, device=device)
    optimizerD = optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optimizerG = optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
    os.makedirs(args.out, exist_ok=True)

    step, total = 0, args.steps or args.epochs * batches.steps_per_epoch
    for epoch in range(1, args.epochs + 1):
        for _ in range(batches.steps_per_epoch):
            if step == total:
                break
            step += 1
            # (1) Update D: maximize log(D(x)) + log(1 - D(G(z)))
            real = torch.tensor(next(batches), device=device)
            b = real.shape[0]
            netD.zero_grad()
            out_real = netD(real)
            errD_real = criterion(out_real, torch.ones(b, device=device))
            noise = torch.randn(b, nz, 1, 1, device=device)
            fake = netG(noise)
            out_fake = netD(fake.detach())
            errD_fake = criterion(out_fake, torch.zeros(b, device=device))
            errD = errD_real + errD_fake
            errD.backward()
            optimizerD.step()
            # (2) Update G: maximize log(D(G(z)))
            netG.zero_grad()
            output = netD(fake)
            errG = criterion(output, torch.ones(b, device=device))
            errG.backward()
            optimizerG.step()
            if step % 50 == 0 or step == 1:
                print(f"[{epoch}/{args.epochs}] step {step}/{total}  Loss_D {errD.item():.4f}  "
                      f"Loss_G {errG.item():.4f}  D(x) {torch.sigmoid(out_real).mean().item():.3f}  "
                      f"D(G(z)) {torch.sigmoid(out_fake).mean().item():.3f}")
        netG.eval()
        with torch.no_grad():
            grid = netG(fixed_noise).cpu().numpy()
        netG.train()
        path = save_image_grid(grid, os.path.join(args.out, f"epoch{epoch:03d}.png"))
        print(f"epoch {epoch}: samples in {path}")
        if step == total:
            break
    return netG


if __name__ == "__main__":
    main()
