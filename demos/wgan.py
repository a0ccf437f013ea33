"""WGAN with weight clipping (Arjovsky, Chintala & Bottou 2017, Algorithm 1) on a ring of 8 Gaussians,
written as PyTorch-GAN's ``wgan.py`` is, with only the imports changed.

Algorithm 1, with the paper's defaults α = 0.00005 (RMSprop), c = 0.01, m = 64, n_critic = 5:

    for each critic step:   L_D = −mean f(x) + mean f(G(z));  RMSprop step;  clip every weight of f to [−c, c]
    every n_critic-th step: L_G = −mean f(G(z));  RMSprop step

The critic f has no sigmoid: −L_D estimates the Wasserstein-1 distance (up to the Lipschitz constant that
clipping enforces).  The data: 8 Gaussians (std 0.01) on the unit circle,
``scratchgan.gan.datasets.toy_dataset("ring8")``, served by a ``DataLoader`` like any dataset.

    python demos/wgan.py                                # the paper's settings (lr 5e-5), 20 epochs of 500 batches
    python demos/wgan.py --lr 5e-4 --n_epochs 40        # larger steps

Writes ``<out>/samples.png`` (G's samples over the 8 modes), ``<out>/generator.pt`` and prints the mode coverage.
"""
import argparse
import os

import numpy as np

import scratchgan as torch
import scratchgan.nn as nn
from scratchgan.autograd import Variable
from scratchgan.gan.datasets import toy_dataset
from scratchgan.gan.metrics import format_report, mode_coverage
from scratchgan.gan.plotting import save_scatter_2d
from scratchgan.utils.data import DataLoader, TensorDataset

parser = argparse.ArgumentParser()
parser.add_argument("--n_epochs", type=int, default=20, help="number of epochs of training")
parser.add_argument("--n_samples", type=int, default=64 * 500, help="size of the training set")
parser.add_argument("--batch_size", type=int, default=64, help="size of the batches")
parser.add_argument("--lr", type=float, default=0.00005, help="learning rate")
parser.add_argument("--latent_dim", type=int, default=2, help="dimensionality of the latent space")
parser.add_argument("--hidden", type=int, default=128, help="width of the hidden layers")
parser.add_argument("--n_critic", type=int, default=5, help="number of training steps for discriminator per iter")
parser.add_argument("--clip_value", type=float, default=0.01, help="lower and upper clip value for disc. weights")
parser.add_argument("--out", default="runs/wgan_demo", help="folder for samples.png and generator.pt")
parser.add_argument("--seed", type=int, default=0)
opt = parser.parse_args()
print(opt)

torch.manual_seed(opt.seed)
np.random.seed(opt.seed)
os.makedirs(opt.out, exist_ok=True)

ring = toy_dataset("ring8")
data = ring.sample(opt.n_samples, rng=opt.seed)  # float32 (n, 2)
dataloader = DataLoader(TensorDataset(torch.from_numpy(data)), batch_size=opt.batch_size, shuffle=True,
                        drop_last=True)

cuda = True if torch.cuda.is_available() else False


class Generator(nn.Module):
    def __init__(self):
        super(Generator, self).__init__()
        self.model = nn.Sequential(
            nn.Linear(opt.latent_dim, opt.hidden),
            nn.ReLU(inplace=True),
            nn.Linear(opt.hidden, opt.hidden),
            nn.ReLU(inplace=True),
            nn.Linear(opt.hidden, opt.hidden),
            nn.ReLU(inplace=True),
            nn.Linear(opt.hidden, 2),
        )

    def forward(self, z):
        return self.model(z)


class Discriminator(nn.Module):
    def __init__(self):
        super(Discriminator, self).__init__()
        self.model = nn.Sequential(
            nn.Linear(2, opt.hidden),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(opt.hidden, opt.hidden),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(opt.hidden, opt.hidden),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(opt.hidden, 1),
        )

    def forward(self, x):
        return self.model(x)  # a critic: no sigmoid


# Initialize generator and discriminator
generator = Generator()
discriminator = Discriminator()

if cuda:
    generator.cuda()
    discriminator.cuda()

# Optimizers
optimizer_G = torch.optim.RMSprop(generator.parameters(), lr=opt.lr)
optimizer_D = torch.optim.RMSprop(discriminator.parameters(), lr=opt.lr)

Tensor = torch.cuda.FloatTensor if cuda else torch.FloatTensor

# ----------
#  Training
# ----------

history = []  # (loss_D, loss_G) at each generator step
batches_done = 0
for epoch in range(opt.n_epochs):

    for i, (points,) in enumerate(dataloader):

        # Configure input
        real = Variable(points.type(Tensor))

        # ---------------------
        #  Train Discriminator
        # ---------------------

        optimizer_D.zero_grad()

        # Sample noise as generator input
        z = Variable(Tensor(np.random.normal(0, 1, (points.shape[0], opt.latent_dim))))

        # Generate a batch of points
        fake = generator(z).detach()
        # Adversarial loss
        loss_D = -torch.mean(discriminator(real)) + torch.mean(discriminator(fake))

        loss_D.backward()
        optimizer_D.step()

        # Clip weights of discriminator
        for p in discriminator.parameters():
            p.data.clamp_(-opt.clip_value, opt.clip_value)

        # Train the generator every n_critic iterations
        if i % opt.n_critic == 0:

            # -----------------
            #  Train Generator
            # -----------------

            optimizer_G.zero_grad()

            # Generate a batch of points
            gen = generator(z)
            # Adversarial loss
            loss_G = -torch.mean(discriminator(gen))

            loss_G.backward()
            optimizer_G.step()

            history.append((loss_D.item(), loss_G.item()))
            if len(history) % 100 == 1:
                print(
                    "[Epoch %d/%d] [Batch %d/%d] [D loss: %f] [G loss: %f]"
                    % (epoch, opt.n_epochs, batches_done % len(dataloader), len(dataloader), loss_D.item(),
                       loss_G.item())
                )
        batches_done += 1

with torch.no_grad():
    generator.eval()
    samples = generator(Tensor(np.random.normal(0, 1, (2500, opt.latent_dim)))).cpu().numpy()
coverage = mode_coverage(samples, ring.centers, ring.std)
print(format_report(coverage, "mode coverage of 2,500 samples"))
save_scatter_2d(samples, os.path.join(opt.out, "samples.png"), centers=ring.centers, std=ring.std,
                title="WGAN (weight clipping), %d epochs" % opt.n_epochs)
torch.save(generator.state_dict(), os.path.join(opt.out, "generator.pt"))
print("saved %s" % os.path.join(opt.out, "generator.pt"))
