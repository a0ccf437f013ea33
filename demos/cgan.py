"""Conditional GAN (Mirza & Osindero 2014) on Fashion-MNIST, written as PyTorch-GAN's ``cgan.py`` is.

The code below is PyTorch code: only the imports differ (``import scratchgan as torch`` and friends), plus
two stand-ins for torchvision, which is not part of PyTorch itself — the dataset (a ``TensorDataset`` of the
IDX files, scaled to [-1, 1] as ``Normalize([0.5], [0.5])`` does) and ``save_image``.  G and D both see the
class through a label ``nn.Embedding``; G's hidden layers use ``nn.BatchNorm1d(n, 0.8)`` (0.8 is the
positional ``eps``, as in the original); the loss is least squares (``nn.MSELoss``) as in the original.

    python demos/cgan.py --n_epochs 5                          # Fashion-MNIST from /usr/share/datasets
    python demos/cgan.py --max_steps 300 --sample_interval 100   # a quick look: 300 batches
    python demos/cgan.py --dataset path/to/idx/folder            # any folder of IDX files

Writes ``<out>/images/<batches_done>.png`` (row i: one sample per class, columns 0..9) and
``<out>/generator.pt`` (``torch.save(generator.state_dict(), ...)``).
"""
import argparse
import os

import numpy as np

import scratchgan as torch
import scratchgan.nn as nn
from scratchgan.autograd import Variable
from scratchgan.gan.datasets import load_dataset
from scratchgan.gan.plotting import save_image_grid
from scratchgan.utils.data import DataLoader, TensorDataset


def save_image(tensor, fp, nrow=8, normalize=True):
    """torchvision.utils.save_image for images in [-1, 1]."""
    save_image_grid(tensor.detach().cpu().numpy(), fp, nrow=nrow)


parser = argparse.ArgumentParser()
parser.add_argument("--n_epochs", type=int, default=200, help="number of epochs of training")
parser.add_argument("--max_steps", type=int, default=None, help="stop after this many batches (all epochs)")
parser.add_argument("--batch_size", type=int, default=64, help="size of the batches")
parser.add_argument("--lr", type=float, default=0.0002, help="adam: learning rate")
parser.add_argument("--b1", type=float, default=0.5, help="adam: decay of first order momentum of gradient")
parser.add_argument("--b2", type=float, default=0.999, help="adam: decay of first order momentum of gradient")
parser.add_argument("--latent_dim", type=int, default=100, help="dimensionality of the latent space")
parser.add_argument("--n_classes", type=int, default=10, help="number of classes for dataset")
parser.add_argument("--sample_interval", type=int, default=400, help="interval between image sampling")
parser.add_argument("--dataset", default="fashion-mnist", help="a dataset name or a folder of IDX files")
parser.add_argument("--out", default="runs/cgan_demo", help="folder for images/ and generator.pt")
parser.add_argument("--seed", type=int, default=0)
opt = parser.parse_args()
print(opt)

torch.manual_seed(opt.seed)
np.random.seed(opt.seed)
os.makedirs(os.path.join(opt.out, "images"), exist_ok=True)

# Configure data loader
images, targets = load_dataset(opt.dataset, download=False)  # float32 (N, 1, 28, 28) in [-1, 1], uint8 labels
img_shape = tuple(images.shape[1:])
dataloader = DataLoader(
    TensorDataset(torch.from_numpy(images), torch.from_numpy(targets.astype(np.int64))),
    batch_size=opt.batch_size,
    shuffle=True,
)

cuda = True if torch.cuda.is_available() else False


class Generator(nn.Module):
    def __init__(self):
        super(Generator, self).__init__()

        self.label_emb = nn.Embedding(opt.n_classes, opt.n_classes)

        def block(in_feat, out_feat, normalize=True):
            layers = [nn.Linear(in_feat, out_feat)]
            if normalize:
                layers.append(nn.BatchNorm1d(out_feat, 0.8))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            return layers

        self.model = nn.Sequential(
            *block(opt.latent_dim + opt.n_classes, 128, normalize=False),
            *block(128, 256),
            *block(256, 512),
            *block(512, 1024),
            nn.Linear(1024, int(np.prod(img_shape))),
            nn.Tanh()
        )

    def forward(self, noise, labels):
        # Concatenate label embedding and noise to produce input
        gen_input = torch.cat((self.label_emb(labels), noise), -1)
        img = self.model(gen_input)
        img = img.view(img.size(0), *img_shape)
        return img


class Discriminator(nn.Module):
    def __init__(self):
        super(Discriminator, self).__init__()

        self.label_embedding = nn.Embedding(opt.n_classes, opt.n_classes)

        self.model = nn.Sequential(
            nn.Linear(opt.n_classes + int(np.prod(img_shape)), 512),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(512, 512),
            nn.Dropout(0.4),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(512, 512),
            nn.Dropout(0.4),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(512, 1),
        )

    def forward(self, img, labels):
        # Concatenate label embedding and image to produce input
        d_in = torch.cat((img.view(img.size(0), -1), self.label_embedding(labels)), -1)
        validity = self.model(d_in)
        return validity


# Loss functions
adversarial_loss = torch.nn.MSELoss()

# Initialize generator and discriminator
generator = Generator()
discriminator = Discriminator()

if cuda:
    generator.cuda()
    discriminator.cuda()
    adversarial_loss.cuda()

# Optimizers
optimizer_G = torch.optim.Adam(generator.parameters(), lr=opt.lr, betas=(opt.b1, opt.b2))
optimizer_D = torch.optim.Adam(discriminator.parameters(), lr=opt.lr, betas=(opt.b1, opt.b2))

FloatTensor = torch.cuda.FloatTensor if cuda else torch.FloatTensor
LongTensor = torch.cuda.LongTensor if cuda else torch.LongTensor


def sample_image(n_row, batches_done):
    """Saves a grid of generated images, one class per column"""
    # Sample noise
    z = Variable(FloatTensor(np.random.normal(0, 1, (n_row ** 2, opt.latent_dim))))
    # Get labels ranging from 0 to n_classes for n rows
    labels = np.array([num for _ in range(n_row) for num in range(n_row)])
    labels = Variable(LongTensor(labels))
    gen_imgs = generator(z, labels)
    save_image(gen_imgs.data, os.path.join(opt.out, "images", "%d.png" % batches_done), nrow=n_row, normalize=True)


# ----------
#  Training
# ----------

history = []  # (d_loss, g_loss) per batch
batches_done = 0
for epoch in range(opt.n_epochs):
    for i, (imgs, labels) in enumerate(dataloader):

        batch_size = imgs.shape[0]

        # Adversarial ground truths
        valid = Variable(FloatTensor(batch_size, 1).fill_(1.0), requires_grad=False)
        fake = Variable(FloatTensor(batch_size, 1).fill_(0.0), requires_grad=False)

        # Configure input
        real_imgs = Variable(imgs.type(FloatTensor))
        labels = Variable(labels.type(LongTensor))

        # -----------------
        #  Train Generator
        # -----------------

        optimizer_G.zero_grad()

        # Sample noise and labels as generator input
        z = Variable(FloatTensor(np.random.normal(0, 1, (batch_size, opt.latent_dim))))
        gen_labels = Variable(LongTensor(np.random.randint(0, opt.n_classes, batch_size)))

        # Generate a batch of images
        gen_imgs = generator(z, gen_labels)

        # Loss measures generator's ability to fool the discriminator
        validity = discriminator(gen_imgs, gen_labels)
        g_loss = adversarial_loss(validity, valid)

        g_loss.backward()
        optimizer_G.step()

        # ---------------------
        #  Train Discriminator
        # ---------------------

        optimizer_D.zero_grad()

        # Loss for real images
        validity_real = discriminator(real_imgs, labels)
        d_real_loss = adversarial_loss(validity_real, valid)

        # Loss for fake images
        validity_fake = discriminator(gen_imgs.detach(), gen_labels)
        d_fake_loss = adversarial_loss(validity_fake, fake)

        # Total discriminator loss
        d_loss = (d_real_loss + d_fake_loss) / 2

        d_loss.backward()
        optimizer_D.step()

        history.append((d_loss.item(), g_loss.item()))
        print(
            "[Epoch %d/%d] [Batch %d/%d] [D loss: %f] [G loss: %f]"
            % (epoch, opt.n_epochs, i, len(dataloader), d_loss.item(), g_loss.item())
        )

        if batches_done % opt.sample_interval == 0:
            sample_image(n_row=10, batches_done=batches_done)
        batches_done += 1
        if opt.max_steps is not None and batches_done >= opt.max_steps:
            break
    if opt.max_steps is not None and batches_done >= opt.max_steps:
        break

torch.save(generator.state_dict(), os.path.join(opt.out, "generator.pt"))
print("saved %s" % os.path.join(opt.out, "generator.pt"))
