"""Idiom harness: real PyTorch GAN scripts, replayed with ``import scratchgan as torch``.

Each test rebuilds one script's models as its author wrote them (same layer calls, same init function, same
training-step statements, shrunk to tiny sizes) and runs one or two iterations on synthetic data made here.
The scripts (read, not copied):

* pytorch/examples ``dcgan/main.py`` (current and the 2017 ``Variable`` version)
* the official PyTorch DCGAN tutorial (``beginner_source/dcgan_faces_tutorial.py``)
* eriklindernoren/PyTorch-GAN ``implementations/{cgan,wgan,wgan_gp,dcgan,cyclegan,srgan,pix2pix}``
* christiancosgrove/pytorch-spectral-normalization-gan (its own ``SpectralNorm`` wrapper, hinge loss),
  and the same critic with ``nn.utils.spectral_norm``
* mit-han-lab/data-efficient-gans ``DiffAugment_pytorch.py`` (color, translation, cutout), verbatim
* EMA generators: StyleGAN2-ADA's ``p_ema.copy_(p.lerp(p_ema, beta))`` and the older
  ``p_ema.data.mul_(beta).add_(p.data, alpha=1 - beta)``

torchvision parts are out of scope: datasets become ``TensorDataset`` on random tensors, ``save_image`` /
``make_grid`` become ``scratchgan.gan.plotting.image_grid``.  Old idioms that current PyTorch itself rejects
(``loss.data[0]`` on a 0-dim tensor, ``data_iter.next()``) are replaced by their current form, as a user
porting the script to PyTorch 2 would.
"""
import copy
import itertools
import random

import numpy as np
import pytest

import scratchgan as torch
import scratchgan.nn as nn
import scratchgan.nn.functional as F  # noqa: N812 - the scripts' name
import scratchgan.optim as optim
from scratchgan.autograd import Variable
from scratchgan.gan.plotting import image_grid
from scratchgan.utils.data import DataLoader, TensorDataset
from tests.ported_scripts import compute_gradient_penalty, dcgan_tutorial, sngan_hinge, wgan_models


# ---- helpers ---------------------------------------------------------------------------------------------------
def snapshot(*modules):
    return [{k: v.detach().numpy().copy() for k, v in m.named_parameters()} for m in modules]


def assert_all_changed(before, module, skip=()):
    """Every trainable parameter moved (the optimizer reached it through the graph)."""
    for name, p in module.named_parameters():
        if p.requires_grad and name not in skip:
            assert not np.array_equal(before[name], p.detach().numpy()), f"{name} did not change"


def assert_finite(*losses):
    for loss in losses:
        assert np.isfinite(float(loss)), loss


def image_loader(n=16, c=1, s=8, batch_size=8, n_classes=None):
    imgs = torch.rand(n, c, s, s) * 2 - 1
    labels = torch.randint(0, n_classes or 10, (n,))
    return DataLoader(TensorDataset(imgs, labels), batch_size=batch_size, shuffle=True)


# A bias right before a BatchNorm gets exactly zero gradient (BN subtracts the batch mean), in PyTorch as here.
BIAS_BEFORE_BN = ["model.2.bias"]


def weights_init_normal(m):
    """PyTorch-GAN's and pytorch/examples' (2017) init, verbatim in shape: writes through ``.data``."""
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        m.weight.data.normal_(0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        m.weight.data.normal_(1.0, 0.02)
        m.bias.data.fill_(0)


# ---- pytorch/examples dcgan/main.py (current) --------------------------------------------------------------------
def test_pytorch_examples_dcgan(tmp_path):
    import scratchgan.backends.cudnn as cudnn
    import scratchgan.nn.parallel  # noqa: F401 - the script imports it for data_parallel
    import scratchgan.utils.data  # noqa: F401

    cudnn.benchmark = True
    torch.manual_seed(0)
    nz, ngf, ndf, nc, ngpu = 8, 4, 4, 3, 1
    device = torch.device("cuda:0" if torch.cuda.is_available() and False else "cpu")

    def weights_init(m):
        classname = m.__class__.__name__
        if classname.find("Conv") != -1:
            torch.nn.init.normal_(m.weight, 0.0, 0.02)
        elif classname.find("BatchNorm") != -1:
            torch.nn.init.normal_(m.weight, 1.0, 0.02)
            torch.nn.init.zeros_(m.bias)

    class Generator(nn.Module):
        def __init__(self, ngpu):
            super(Generator, self).__init__()
            self.ngpu = ngpu
            self.main = nn.Sequential(
                nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
                nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
                nn.ConvTranspose2d(ngf * 2, nc, 4, 2, 1, bias=False), nn.Tanh())

        def forward(self, input):  # noqa: A002
            if input.is_cuda and self.ngpu > 1:
                output = nn.parallel.data_parallel(self.main, input, range(self.ngpu))
            else:
                output = self.main(input)
            return output

    class Discriminator(nn.Module):
        def __init__(self, ngpu):
            super(Discriminator, self).__init__()
            self.ngpu = ngpu
            self.main = nn.Sequential(
                nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(ndf * 2, 1, 4, 1, 0, bias=False), nn.Sigmoid())

        def forward(self, input):  # noqa: A002
            if input.is_cuda and self.ngpu > 1:
                output = nn.parallel.data_parallel(self.main, input, range(self.ngpu))
            else:
                output = self.main(input)
            return output.view(-1, 1).squeeze(1)

    netG = Generator(ngpu).to(device)
    netG.apply(weights_init)
    netD = Discriminator(ngpu).to(device)
    netD.apply(weights_init)
    criterion = nn.BCELoss()
    fixed_noise = torch.randn(8, nz, 1, 1, device=device)
    real_label, fake_label = 1, 0
    optimizerD = optim.Adam(netD.parameters(), lr=0.0002, betas=(0.5, 0.999))
    optimizerG = optim.Adam(netG.parameters(), lr=0.0002, betas=(0.5, 0.999))
    before = snapshot(netD, netG)
    dataloader = image_loader(c=nc, s=16)
    for i, data in enumerate(dataloader, 0):
        netD.zero_grad()
        real_cpu = data[0].to(device)
        batch_size = real_cpu.size(0)
        label = torch.full((batch_size,), real_label, dtype=real_cpu.dtype, device=device)
        output = netD(real_cpu)
        errD_real = criterion(output, label)
        errD_real.backward()
        D_x = output.mean().item()
        noise = torch.randn(batch_size, nz, 1, 1, device=device)
        fake = netG(noise)
        label.fill_(fake_label)
        output = netD(fake.detach())
        errD_fake = criterion(output, label)
        errD_fake.backward()
        D_G_z1 = output.mean().item()
        errD = errD_real + errD_fake
        optimizerD.step()
        netG.zero_grad()
        label.fill_(real_label)
        output = netD(fake)
        errG = criterion(output, label)
        errG.backward()
        D_G_z2 = output.mean().item()
        optimizerG.step()
        line = ("[%d/%d][%d/%d] Loss_D: %.4f Loss_G: %.4f D(x): %.4f D(G(z)): %.4f / %.4f"
                % (0, 1, i, len(dataloader), errD.item(), errG.item(), D_x, D_G_z1, D_G_z2))
        assert "Loss_D" in line
        assert_finite(errD, errG)
    assert_all_changed(before[0], netD)
    assert_all_changed(before[1], netG)
    fake = netG(fixed_noise)
    assert image_grid(fake.detach().numpy()).ndim == 3  # vutils.save_image(fake.detach(), ...)
    torch.save(netG.state_dict(), tmp_path / "netG_epoch_0.pth")
    netG2 = Generator(ngpu)
    netG2.load_state_dict(torch.load(tmp_path / "netG_epoch_0.pth"))
    netG.eval(), netG2.eval()
    np.testing.assert_array_equal(netG2(fixed_noise).detach().numpy(), netG(fixed_noise).detach().numpy())


def test_pytorch_examples_dcgan_2017_variable_idioms():
    """The 2017 script: ``Variable``, ``FloatTensor(n, ...)`` buffers refilled through ``.data``."""
    nz = 4
    netD = nn.Sequential(nn.Linear(6, 1), nn.Sigmoid())
    netG = nn.Sequential(nn.Linear(nz, 6), nn.Tanh())
    criterion = nn.BCELoss()
    noise = Variable(torch.FloatTensor(5, nz))
    label = Variable(torch.FloatTensor(5))
    fixed_noise = Variable(torch.FloatTensor(5, nz).normal_(0, 1))
    optimizerD = optim.Adam(netD.parameters(), lr=1e-3)
    before = snapshot(netD)
    netD.zero_grad()
    label.data.fill_(1)
    noise.data.normal_(0, 1)
    assert float(noise.abs().sum()) > 0  # filling .data filled the Variable
    fake = netG(noise)
    output = netD(fake.detach()).view(-1)
    errD = criterion(output, label)
    errD.backward()
    optimizerD.step()
    assert isinstance(fixed_noise.data, torch.FloatTensor)
    assert not isinstance(fixed_noise.data, torch.cuda.FloatTensor)  # the script's multi-GPU test
    assert_all_changed(before[0], netD)
    with pytest.raises(NotImplementedError, match="resize_"):
        noise.data.resize_(3, nz)


# ---- the official DCGAN tutorial (text in tests/ported_scripts.py, shared with the PyTorch parity test) --------------
def test_official_dcgan_tutorial():
    rng = np.random.default_rng(0)
    batches = [dict(real=rng.uniform(-1, 1, (8, 1, 8, 8)).astype(np.float32),
                    z=rng.standard_normal((8, 4)).astype(np.float32)) for _ in range(2)]
    initial = {}
    losses, (netG, netD), fake = dcgan_tutorial(torch, batches, sync=lambda ms: initial.update(before=snapshot(*ms)))
    assert np.isfinite(losses).all() and len(losses) == 2
    assert fake.shape == (8, 1, 8, 8) and not fake.requires_grad
    assert image_grid(fake.numpy(), padding=2).ndim == 3  # vutils.make_grid(fake, padding=2, normalize=True)
    assert_all_changed(initial["before"][0], netG)
    assert_all_changed(initial["before"][1], netD)


# ---- PyTorch-GAN cgan.py -------------------------------------------------------------------------------------------
def test_pytorch_gan_cgan():
    n_classes, latent_dim, img_shape = 4, 6, (1, 4, 4)
    cuda = True if torch.cuda.is_available() and False else False

    class Generator(nn.Module):
        def __init__(self):
            super(Generator, self).__init__()
            self.label_emb = nn.Embedding(n_classes, n_classes)

            def block(in_feat, out_feat, normalize=True):
                layers = [nn.Linear(in_feat, out_feat)]
                if normalize:
                    layers.append(nn.BatchNorm1d(out_feat, 0.8))
                layers.append(nn.LeakyReLU(0.2, inplace=True))
                return layers

            self.model = nn.Sequential(*block(latent_dim + n_classes, 16, normalize=False), *block(16, 32),
                                       nn.Linear(32, int(np.prod(img_shape))), nn.Tanh())

        def forward(self, noise, labels):
            gen_input = torch.cat((self.label_emb(labels), noise), -1)
            img = self.model(gen_input)
            img = img.view(img.size(0), *img_shape)
            return img

    class Discriminator(nn.Module):
        def __init__(self):
            super(Discriminator, self).__init__()
            self.label_embedding = nn.Embedding(n_classes, n_classes)
            self.model = nn.Sequential(
                nn.Linear(n_classes + int(np.prod(img_shape)), 16), nn.LeakyReLU(0.2, inplace=True),
                nn.Linear(16, 16), nn.Dropout(0.4), nn.LeakyReLU(0.2, inplace=True), nn.Linear(16, 1))

        def forward(self, img, labels):
            d_in = torch.cat((img.view(img.size(0), -1), self.label_embedding(labels)), -1)
            return self.model(d_in)

    adversarial_loss = torch.nn.MSELoss()
    generator, discriminator = Generator(), Discriminator()
    assert generator.model[3].eps == 0.8  # BatchNorm1d(n, 0.8): the positional eps
    dataloader = torch.utils.data.DataLoader(TensorDataset(torch.rand(16, *img_shape) * 2 - 1,
                                                           torch.randint(0, n_classes, (16,))),
                                             batch_size=8, shuffle=True)
    optimizer_G = torch.optim.Adam(generator.parameters(), lr=0.0002, betas=(0.5, 0.999))
    optimizer_D = torch.optim.Adam(discriminator.parameters(), lr=0.0002, betas=(0.5, 0.999))
    FloatTensor = torch.cuda.FloatTensor if cuda else torch.FloatTensor
    LongTensor = torch.cuda.LongTensor if cuda else torch.LongTensor
    before = snapshot(generator, discriminator)
    g_loss_epoch = d_loss_epoch = 0
    for i, (imgs, labels) in enumerate(dataloader):
        batch_size = imgs.shape[0]
        valid = Variable(FloatTensor(batch_size, 1).fill_(1.0), requires_grad=False)
        fake = Variable(FloatTensor(batch_size, 1).fill_(0.0), requires_grad=False)
        real_imgs = Variable(imgs.type(FloatTensor))
        labels = Variable(labels.type(LongTensor))
        optimizer_G.zero_grad()
        z = Variable(FloatTensor(np.random.normal(0, 1, (batch_size, latent_dim))))
        gen_labels = Variable(LongTensor(np.random.randint(0, n_classes, batch_size)))
        gen_imgs = generator(z, gen_labels)
        validity = discriminator(gen_imgs, gen_labels)
        g_loss = adversarial_loss(validity, valid)
        g_loss.backward()
        optimizer_G.step()
        optimizer_D.zero_grad()
        validity_real = discriminator(real_imgs, labels)
        d_real_loss = adversarial_loss(validity_real, valid)
        validity_fake = discriminator(gen_imgs.detach(), gen_labels)
        d_fake_loss = adversarial_loss(validity_fake, fake)
        d_loss = (d_real_loss + d_fake_loss) / 2
        d_loss.backward()
        optimizer_D.step()
        g_loss_epoch += g_loss.item() / len(dataloader)
        d_loss_epoch += d_loss.item() / len(dataloader)
        assert "[D loss: " in "[D loss: %f] [G loss: %f]" % (d_loss.item(), g_loss.item())
    assert gen_imgs.data[:4].shape == (4, *img_shape)
    assert_finite(g_loss_epoch, d_loss_epoch)
    assert_all_changed(before[0], generator)
    assert_all_changed(before[1], discriminator)


# ---- PyTorch-GAN wgan.py (weight clipping) and wgan_gp.py (gradient penalty) ----------------------------------------
def _wgan_models(latent_dim=4):
    generator, discriminator = wgan_models(nn, latent_dim)
    generator.apply(weights_init_normal)
    discriminator.apply(weights_init_normal)
    return generator, discriminator


def test_pytorch_gan_wgan_weight_clipping():
    latent_dim, clip_value, n_critic = 4, 0.01, 2
    generator, discriminator = _wgan_models(latent_dim)
    assert float(generator.model[3].bias.abs().sum()) == 0  # weights_init_normal's m.bias.data.fill_(0)
    optimizer_G = torch.optim.RMSprop(generator.parameters(), lr=5e-5)
    optimizer_D = torch.optim.RMSprop(discriminator.parameters(), lr=5e-5)
    Tensor = torch.FloatTensor
    loader = image_loader(n=32, c=1, s=4, batch_size=8)
    before = snapshot(generator, discriminator)
    data_iter = iter(loader)
    for i in range(len(data_iter) // n_critic):
        for _ in range(n_critic):
            (imgs, _) = next(data_iter)
            real_imgs = Variable(imgs.type(Tensor))
            optimizer_D.zero_grad()
            z = Variable(Tensor(np.random.normal(0, 1, (imgs.shape[0], latent_dim))))
            fake_imgs = generator(z).detach()
            loss_D = -torch.mean(discriminator(real_imgs)) + torch.mean(discriminator(fake_imgs))
            loss_D.backward()
            optimizer_D.step()
            for p in discriminator.parameters():
                p.data.clamp_(-clip_value, clip_value)
        optimizer_G.zero_grad()
        gen_imgs = generator(z)
        loss_G = -torch.mean(discriminator(gen_imgs))
        loss_G.backward()
        optimizer_G.step()
        assert_finite(loss_D, loss_G)
    assert all(float(p.abs().max()) <= clip_value for p in discriminator.parameters())
    assert_all_changed(before[0], generator, skip=BIAS_BEFORE_BN)
    assert_all_changed(before[1], discriminator, skip=["model.4.bias"])  # zero Wasserstein gradient, see wgan_gp


def test_pytorch_gan_wgan_backward_with_gradient_and_freed_graph():
    """The older wgan.py: ``validity.backward(valid)``; and its G step that reuses a freed graph raises,
    as in PyTorch."""
    generator, discriminator = _wgan_models()
    Tensor = torch.FloatTensor
    z = Variable(Tensor(np.random.normal(0, 1, (8, 4))))
    valid = Variable(Tensor(8, 1).fill_(-1.0), requires_grad=False)
    fake = Variable(Tensor(8, 1).fill_(1.0), requires_grad=False)
    fake_imgs = generator(z)
    real_validity = discriminator(torch.rand(8, 1, 4, 4))
    real_validity.backward(valid)
    fake_validity = discriminator(fake_imgs)
    fake_validity.backward(fake)
    assert all(p.grad is not None for p in generator.parameters())
    with pytest.raises(RuntimeError, match="second time|retain_graph"):
        discriminator(fake_imgs).backward(valid)


def test_pytorch_gan_wgan_gp():
    latent_dim, lambda_gp, n_critic = 4, 10, 2
    generator, discriminator = _wgan_models(latent_dim)
    Tensor = torch.FloatTensor

    optimizer_G = torch.optim.Adam(generator.parameters(), lr=0.0002, betas=(0.5, 0.999))
    optimizer_D = torch.optim.Adam(discriminator.parameters(), lr=0.0002, betas=(0.5, 0.999))
    before = snapshot(generator, discriminator)
    for i, (imgs, _) in enumerate(image_loader(n=32, c=1, s=4, batch_size=8)):
        real_imgs = Variable(imgs.type(Tensor))
        optimizer_D.zero_grad()
        z = Variable(Tensor(np.random.normal(0, 1, (imgs.shape[0], latent_dim))))
        fake_imgs = generator(z)
        real_validity = discriminator(real_imgs)
        fake_validity = discriminator(fake_imgs)
        alpha = Tensor(np.random.random((real_imgs.size(0), 1, 1, 1)))
        gradient_penalty = compute_gradient_penalty(torch, discriminator, real_imgs.data, fake_imgs.data, alpha)
        d_loss = -torch.mean(real_validity) + torch.mean(fake_validity) + lambda_gp * gradient_penalty
        d_loss.backward()
        optimizer_D.step()
        optimizer_G.zero_grad()
        if i % n_critic == 0:
            fake_imgs = generator(z)
            g_loss = -torch.mean(discriminator(fake_imgs))
            g_loss.backward()
            optimizer_G.step()
        assert float(gradient_penalty) > 0
        assert_finite(d_loss, g_loss)
    assert_all_changed(before[0], generator, skip=BIAS_BEFORE_BN)
    # the critic's last bias gets -mean(1) + mean(1) = 0 from the Wasserstein terms, and none from the penalty
    assert_all_changed(before[1], discriminator, skip=["model.4.bias"])
    np.testing.assert_array_equal(before[1]["model.4.bias"], discriminator.model[4].bias.detach().numpy())


# ---- PyTorch-GAN dcgan.py --------------------------------------------------------------------------------------------
def test_pytorch_gan_dcgan():
    latent_dim, img_size, channels = 6, 16, 1

    class Generator(nn.Module):
        def __init__(self):
            super(Generator, self).__init__()
            self.init_size = img_size // 4
            self.l1 = nn.Sequential(nn.Linear(latent_dim, 8 * self.init_size ** 2))
            self.conv_blocks = nn.Sequential(
                nn.BatchNorm2d(8), nn.Upsample(scale_factor=2), nn.Conv2d(8, 8, 3, stride=1, padding=1),
                nn.BatchNorm2d(8, 0.8), nn.LeakyReLU(0.2, inplace=True),
                nn.Upsample(scale_factor=2), nn.Conv2d(8, 4, 3, stride=1, padding=1),
                nn.BatchNorm2d(4, 0.8), nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(4, channels, 3, stride=1, padding=1), nn.Tanh())

        def forward(self, z):
            out = self.l1(z)
            out = out.view(out.shape[0], 8, self.init_size, self.init_size)
            return self.conv_blocks(out)

    class Discriminator(nn.Module):
        def __init__(self):
            super(Discriminator, self).__init__()

            def discriminator_block(in_filters, out_filters, bn=True):
                block = [nn.Conv2d(in_filters, out_filters, 3, 2, 1), nn.LeakyReLU(0.2, inplace=True),
                         nn.Dropout2d(0.25)]
                if bn:
                    block.append(nn.BatchNorm2d(out_filters, 0.8))
                return block

            self.model = nn.Sequential(*discriminator_block(channels, 4, bn=False), *discriminator_block(4, 8),
                                       *discriminator_block(8, 8), *discriminator_block(8, 16))
            ds_size = img_size // 2 ** 4
            self.adv_layer = nn.Sequential(nn.Linear(16 * ds_size ** 2, 1), nn.Sigmoid())

        def forward(self, img):
            out = self.model(img)
            out = out.view(out.shape[0], -1)
            return self.adv_layer(out)

    adversarial_loss = torch.nn.BCELoss()
    generator, discriminator = Generator(), Discriminator()
    generator.apply(weights_init_normal)
    discriminator.apply(weights_init_normal)
    optimizer_G = torch.optim.Adam(generator.parameters(), lr=0.0002, betas=(0.5, 0.999))
    optimizer_D = torch.optim.Adam(discriminator.parameters(), lr=0.0002, betas=(0.5, 0.999))
    Tensor = torch.FloatTensor
    before = snapshot(generator, discriminator)
    for i, (imgs, _) in enumerate(image_loader(c=channels, s=img_size)):
        valid = Variable(Tensor(imgs.shape[0], 1).fill_(1.0), requires_grad=False)
        fake = Variable(Tensor(imgs.shape[0], 1).fill_(0.0), requires_grad=False)
        real_imgs = Variable(imgs.type(Tensor))
        optimizer_G.zero_grad()
        z = Variable(Tensor(np.random.normal(0, 1, (imgs.shape[0], latent_dim))))
        gen_imgs = generator(z)
        g_loss = adversarial_loss(discriminator(gen_imgs), valid)
        g_loss.backward()
        optimizer_G.step()
        optimizer_D.zero_grad()
        real_loss = adversarial_loss(discriminator(real_imgs), valid)
        fake_loss = adversarial_loss(discriminator(gen_imgs.detach()), fake)
        d_loss = (real_loss + fake_loss) / 2
        d_loss.backward()
        optimizer_D.step()
        assert_finite(d_loss.data.cpu().numpy(), g_loss.item())
    assert gen_imgs.shape == (8, channels, img_size, img_size)
    assert_all_changed(before[0], generator, skip=["conv_blocks.2.bias", "conv_blocks.6.bias"])  # before a BN
    assert_all_changed(before[1], discriminator)
    discriminator.eval()  # Dropout2d is the identity in eval mode
    x = torch.rand(2, channels, img_size, img_size)
    np.testing.assert_array_equal(discriminator(x).detach().numpy(), discriminator(x).detach().numpy())


# ---- SN-GAN with hinge loss ------------------------------------------------------------------------------------------
def _sngan_run(own_wrapper):
    rng = np.random.default_rng(0)
    batches = [dict(real=rng.uniform(-1, 1, (8, 1, 8, 8)).astype(np.float32),
                    z=rng.standard_normal((8, 4)).astype(np.float32)) for _ in range(2)]
    batches.append(dict(real=batches[0]["real"][:5], z=batches[0]["z"][:5]))  # a short last batch: skipped
    initial = {}
    losses, (generator, discriminator) = sngan_hinge(torch, batches, own_wrapper=own_wrapper,
                                                     sync=lambda ms: initial.update(before=snapshot(*ms)))
    assert len(losses) == 2 and np.isfinite(losses).all()
    return initial["before"], generator, discriminator


def test_sngan_hinge_with_the_scripts_own_spectral_norm():
    before, generator, discriminator = _sngan_run(own_wrapper=True)
    names = [n for n, _ in discriminator.named_parameters()]
    assert "conv1.module.weight_bar" in names and "conv1.module.weight" not in names
    # u, v are buffers in all but name (requires_grad=False, left out of Adam by the script's filter);
    # fc's bias: zero hinge gradient, see below
    u_v = [n for n in names if n.endswith(("_u", "_v"))]
    assert_all_changed(before[1], discriminator, skip=u_v + ["fc.module.bias"])
    assert_all_changed(before[0], generator)
    # after a forward, W / sigma has spectral norm about 1 (one power iteration per call, warm-started)
    for _ in range(20):
        discriminator(torch.rand(2, 1, 8, 8))
    w = discriminator.conv2.module.weight.detach().numpy().reshape(8, -1)
    assert np.linalg.norm(w, 2) == pytest.approx(1.0, rel=1e-2)


def test_sngan_hinge_with_nn_utils_spectral_norm():
    before, generator, discriminator = _sngan_run(own_wrapper=False)
    assert {"conv1.weight_orig", "conv1.weight_u", "conv1.weight_v"} <= set(discriminator.state_dict())
    # the last bias's hinge gradient, -#(D(x) < 1) + #(D(G(z)) > -1), is 0 while every output is within the margin
    assert_all_changed(before[1], discriminator, skip=["fc.bias"])
    assert_all_changed(before[0], generator)


# ---- EMA generators --------------------------------------------------------------------------------------------------
def _ema_pair():
    G = nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    opt = optim.Adam(G.parameters(), lr=1e-2)
    loss = G(torch.randn(16, 3)).pow(2).mean()
    loss.backward()
    opt.step()
    return G, G_ema


def test_stylegan2_ada_ema_update():
    G, G_ema = _ema_pair()
    assert all(not p.requires_grad for p in G_ema.parameters())
    ema_kimg, batch_size, cur_nimg, ema_rampup = 10, 16, 16, 0.05
    ema_nimg = ema_kimg * 1000
    if ema_rampup is not None:
        ema_nimg = min(ema_nimg, cur_nimg * ema_rampup)
    ema_beta = 0.5 ** (batch_size / max(ema_nimg, 1e-8))
    old = {k: v.numpy().copy() for k, v in G_ema.state_dict().items()}
    G.requires_grad_(False)  # the training phase leaves G so (phase.module.requires_grad_(False)); no no_grad here
    with torch.autograd.profiler.record_function("Gema"):
        for p_ema, p in zip(G_ema.parameters(), G.parameters()):
            p_ema.copy_(p.lerp(p_ema, ema_beta))
        for b_ema, b in zip(G_ema.buffers(), G.buffers()):
            b_ema.copy_(b)
    for (name, p_ema), p in zip(G_ema.named_parameters(), G.parameters()):
        want = p.detach().numpy() + ema_beta * (old[name] - p.detach().numpy())
        np.testing.assert_allclose(p_ema.detach().numpy(), want, rtol=1e-5, atol=1e-7)
        assert not p_ema.requires_grad
    np.testing.assert_array_equal(G_ema[1].running_mean.numpy(), G[1].running_mean.numpy())


def test_data_ema_update():
    G, G_ema = _ema_pair()
    beta = 0.999
    old = [p.detach().numpy().copy() for p in G_ema.parameters()]
    for p_ema, p in zip(G_ema.parameters(), G.parameters()):
        p_ema.data.mul_(beta).add_(p.data, alpha=1 - beta)
    for o, p_ema, p in zip(old, G_ema.parameters(), G.parameters()):
        np.testing.assert_allclose(p_ema.detach().numpy(), beta * o + (1 - beta) * p.detach().numpy(), rtol=1e-5)
    G_ema.load_state_dict(G.state_dict())  # "copy the weights back" as some scripts do at the start
    for p_ema, p in zip(G_ema.parameters(), G.parameters()):
        np.testing.assert_array_equal(p_ema.detach().numpy(), p.detach().numpy())


def test_hand_written_sgd_step_and_grad_zeroing():
    """``p -= lr * p.grad`` under ``no_grad`` and ``p.grad.data.zero_()``: the pre-optim idioms."""
    model = nn.Linear(3, 1)
    before = snapshot(model)
    loss = model(torch.randn(4, 3)).pow(2).mean()
    loss.backward()
    with torch.no_grad():
        for p in model.parameters():
            p -= 0.1 * p.grad
    assert_all_changed(before[0], model)
    for p in model.parameters():
        p.grad.data.zero_()
        assert float(p.grad.abs().sum()) == 0


# ---- rosinality/stylegan2-pytorch train.py: R1, logistic loss, requires_grad toggles, accumulate ------------------------
def test_stylegan2_pytorch_training_idioms():
    def requires_grad(model, flag=True):
        for p in model.parameters():
            p.requires_grad = flag

    def accumulate(model1, model2, decay=0.999):
        par1 = dict(model1.named_parameters())
        par2 = dict(model2.named_parameters())
        for k in par1.keys():
            par1[k].data.mul_(decay).add_(par2[k].data, alpha=1 - decay)

    def d_logistic_loss(real_pred, fake_pred):
        real_loss = F.softplus(-real_pred)
        fake_loss = F.softplus(fake_pred)
        return real_loss.mean() + fake_loss.mean()

    def d_r1_loss(real_pred, real_img):
        grad_real, = torch.autograd.grad(outputs=real_pred.sum(), inputs=real_img, create_graph=True)
        return grad_real.pow(2).reshape(grad_real.shape[0], -1).sum(1).mean()

    def g_nonsaturating_loss(fake_pred):
        return F.softplus(-fake_pred).mean()

    generator = nn.Sequential(nn.Linear(4, 16), nn.LeakyReLU(0.2), nn.Linear(16, 8))
    discriminator = nn.Sequential(nn.Linear(8, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
    g_ema = copy.deepcopy(generator)
    g_ema.eval()
    accumulate(g_ema, generator, 0)
    g_optim = optim.Adam(generator.parameters(), lr=0.002, betas=(0, 0.99))
    d_optim = optim.Adam(discriminator.parameters(), lr=0.002, betas=(0, 0.99))
    r1, d_reg_every, accum = 10, 16, 0.5 ** (32 / (10 * 1000))
    for i in range(2):
        real_img = torch.randn(8, 8)
        requires_grad(generator, False)
        requires_grad(discriminator, True)
        g_before, d_before = snapshot(generator, discriminator)
        fake_img = generator(torch.randn(8, 4))
        d_loss = d_logistic_loss(discriminator(real_img), discriminator(fake_img))
        discriminator.zero_grad()
        d_loss.backward()
        d_optim.step()
        # G was frozen: the D step left its .grad as it was (None, then the last G step's gradient)
        assert all(p.grad is None if i == 0 else np.array_equal(p.grad.numpy(), g_grads[k])
                   for k, p in generator.named_parameters())
        assert_all_changed(d_before, discriminator)
        real_img.requires_grad = True
        real_pred = discriminator(real_img)
        r1_loss = d_r1_loss(real_pred, real_img)
        discriminator.zero_grad()
        (r1 / 2 * r1_loss * d_reg_every + 0 * real_pred[0]).backward()
        assert float(discriminator[0].weight.grad.abs().sum()) > 0  # double backprop reached D's first layer
        d_optim.step()
        requires_grad(generator, True)
        requires_grad(discriminator, False)
        d_before = snapshot(discriminator)[0]
        g_loss = g_nonsaturating_loss(discriminator(generator(torch.randn(8, 4))))
        generator.zero_grad()
        g_loss.backward()
        g_optim.step()
        g_grads = {k: p.grad.numpy().copy() for k, p in generator.named_parameters()}
        assert_all_changed(g_before, generator)
        assert all(np.array_equal(d_before[k], p.detach().numpy()) for k, p in discriminator.named_parameters())
        ema_before = snapshot(g_ema)[0]
        accumulate(g_ema, generator, accum)
        for k, p in g_ema.named_parameters():
            want = accum * ema_before[k] + (1 - accum) * dict(generator.named_parameters())[k].detach().numpy()
            np.testing.assert_allclose(p.detach().numpy(), want, rtol=1e-5, atol=1e-7)
        assert_finite(d_loss, r1_loss, g_loss)
        assert f"d: {d_loss.item():.4f}; g: {g_loss:.4f}; r1: {r1_loss:.4f}".startswith("d: ")


# ---- PyTorch-GAN cyclegan: ReflectionPad2d, InstanceNorm2d, ZeroPad2d, residual blocks, a replay buffer ----------
class ResidualBlock(nn.Module):
    def __init__(self, in_features):
        super(ResidualBlock, self).__init__()

        self.block = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(in_features, in_features, 3),
            nn.InstanceNorm2d(in_features),
            nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(in_features, in_features, 3),
            nn.InstanceNorm2d(in_features),
        )

    def forward(self, x):
        return x + self.block(x)


class GeneratorResNet(nn.Module):
    def __init__(self, input_shape, num_residual_blocks, base=64):  # base: the script's 64, shrunk here
        super(GeneratorResNet, self).__init__()
        channels = input_shape[0]
        out_features = base
        model = [nn.ReflectionPad2d(channels), nn.Conv2d(channels, out_features, 7), nn.InstanceNorm2d(out_features),
                 nn.ReLU(inplace=True)]
        in_features = out_features
        for _ in range(2):
            out_features *= 2
            model += [nn.Conv2d(in_features, out_features, 3, stride=2, padding=1), nn.InstanceNorm2d(out_features),
                      nn.ReLU(inplace=True)]
            in_features = out_features
        for _ in range(num_residual_blocks):
            model += [ResidualBlock(out_features)]
        for _ in range(2):
            out_features //= 2
            model += [nn.Upsample(scale_factor=2), nn.Conv2d(in_features, out_features, 3, stride=1, padding=1),
                      nn.InstanceNorm2d(out_features), nn.ReLU(inplace=True)]
            in_features = out_features
        model += [nn.ReflectionPad2d(channels), nn.Conv2d(out_features, channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*model)

    def forward(self, x):
        return self.model(x)


class PatchDiscriminator(nn.Module):
    def __init__(self, input_shape, base=64):
        super(PatchDiscriminator, self).__init__()
        channels, height, width = input_shape
        self.output_shape = (1, height // 2 ** 4, width // 2 ** 4)

        def discriminator_block(in_filters, out_filters, normalize=True):
            layers = [nn.Conv2d(in_filters, out_filters, 4, stride=2, padding=1)]
            if normalize:
                layers.append(nn.InstanceNorm2d(out_filters))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            return layers

        self.model = nn.Sequential(
            *discriminator_block(channels, base, normalize=False),
            *discriminator_block(base, base * 2),
            *discriminator_block(base * 2, base * 4),
            *discriminator_block(base * 4, base * 8),
            nn.ZeroPad2d((1, 0, 1, 0)),
            nn.Conv2d(base * 8, 1, 4, padding=1)
        )

    def forward(self, img):
        return self.model(img)


class ReplayBuffer:
    def __init__(self, max_size=50):
        self.max_size = max_size
        self.data = []

    def push_and_pop(self, data):
        to_return = []
        for element in data.data:
            element = torch.unsqueeze(element, 0)
            if len(self.data) < self.max_size:
                self.data.append(element)
                to_return.append(element)
            else:
                if random.uniform(0, 1) > 0.5:
                    i = random.randint(0, self.max_size - 1)
                    to_return.append(self.data[i].clone())
                    self.data[i] = element
                else:
                    to_return.append(element)
        return Variable(torch.cat(to_return))


class DecayLambda:
    def __init__(self, n_epochs, offset, decay_start_epoch):
        self.n_epochs, self.offset, self.decay_start_epoch = n_epochs, offset, decay_start_epoch

    def step(self, epoch):
        return 1.0 - max(0, epoch + self.offset - self.decay_start_epoch) / (self.n_epochs - self.decay_start_epoch)


def test_pytorch_gan_cyclegan():
    random.seed(0)
    torch.manual_seed(0)
    input_shape = (3, 32, 32)
    G_AB, G_BA = GeneratorResNet(input_shape, 1, base=4), GeneratorResNet(input_shape, 1, base=4)
    D_A, D_B = PatchDiscriminator(input_shape, base=4), PatchDiscriminator(input_shape, base=4)
    for m in (G_AB, G_BA, D_A, D_B):
        m.apply(weights_init_normal)
    criterion_GAN, criterion_cycle, criterion_identity = torch.nn.MSELoss(), torch.nn.L1Loss(), torch.nn.L1Loss()
    optimizer_G = torch.optim.Adam(itertools.chain(G_AB.parameters(), G_BA.parameters()), lr=0.01, betas=(0.5, 0.999))
    optimizer_D_A = torch.optim.Adam(D_A.parameters(), lr=0.01, betas=(0.5, 0.999))
    optimizer_D_B = torch.optim.Adam(D_B.parameters(), lr=0.01, betas=(0.5, 0.999))
    lr_scheduler_G = torch.optim.lr_scheduler.LambdaLR(optimizer_G, lr_lambda=DecayLambda(4, 0, 2).step)
    Tensor = torch.Tensor
    fake_A_buffer, fake_B_buffer = ReplayBuffer(max_size=2), ReplayBuffer(max_size=2)
    before = snapshot(G_AB, G_BA, D_A, D_B)
    for _ in range(2):  # the second pass draws from the full replay buffers
        real_A, real_B = Variable((torch.rand(2, 3, 32, 32) * 2 - 1).type(Tensor)), Variable(torch.rand(2, 3, 32, 32).type(Tensor))
        valid = Variable(Tensor(np.ones((real_A.size(0), *D_A.output_shape))), requires_grad=False)
        fake = Variable(Tensor(np.zeros((real_A.size(0), *D_A.output_shape))), requires_grad=False)
        G_AB.train()
        G_BA.train()
        optimizer_G.zero_grad()
        loss_identity = (criterion_identity(G_BA(real_A), real_A) + criterion_identity(G_AB(real_B), real_B)) / 2
        fake_B = G_AB(real_A)
        loss_GAN_AB = criterion_GAN(D_B(fake_B), valid)
        fake_A = G_BA(real_B)
        loss_GAN_BA = criterion_GAN(D_A(fake_A), valid)
        loss_GAN = (loss_GAN_AB + loss_GAN_BA) / 2
        loss_cycle = (criterion_cycle(G_BA(fake_B), real_A) + criterion_cycle(G_AB(fake_A), real_B)) / 2
        loss_G = loss_GAN + 10.0 * loss_cycle + 5.0 * loss_identity
        loss_G.backward()
        optimizer_G.step()
        optimizer_D_A.zero_grad()
        loss_real = criterion_GAN(D_A(real_A), valid)
        fake_A_ = fake_A_buffer.push_and_pop(fake_A)
        loss_D_A = (loss_real + criterion_GAN(D_A(fake_A_.detach()), fake)) / 2
        loss_D_A.backward()
        optimizer_D_A.step()
        optimizer_D_B.zero_grad()
        loss_real = criterion_GAN(D_B(real_B), valid)
        fake_B_ = fake_B_buffer.push_and_pop(fake_B)
        loss_D_B = (loss_real + criterion_GAN(D_B(fake_B_.detach()), fake)) / 2
        loss_D_B.backward()
        optimizer_D_B.step()
        lr_scheduler_G.step()
        assert_finite(loss_G.item(), loss_D_A.item(), loss_D_B.item())
    assert fake_B.shape == (2, 3, 32, 32) and D_A(real_A).shape == (2, 1, 2, 2)
    assert optimizer_G.param_groups[0]["lr"] == pytest.approx(0.01)  # decay starts at epoch 2 of 4
    # a conv bias right before an InstanceNorm gets no gradient (the norm subtracts the mean), as in PyTorch
    before_norm = [n for n, m in G_AB.named_modules() if isinstance(m, nn.Conv2d)][:-1]
    for b, m in zip(before, (G_AB, G_BA, D_A, D_B)):
        skip = [f"{n}.bias" for n in before_norm] if m in (G_AB, G_BA) else \
            [f"{n}.bias" for n, mm in m.named_modules() if isinstance(mm, nn.Conv2d)][1:-1]
        assert_all_changed(b, m, skip=skip)


# ---- PyTorch-GAN srgan: PReLU, PixelShuffle, BatchNorm2d(n, 0.8), torch.add; VGG features replaced ----------------
class SRResidualBlock(nn.Module):
    def __init__(self, in_features):
        super(SRResidualBlock, self).__init__()
        self.conv_block = nn.Sequential(
            nn.Conv2d(in_features, in_features, kernel_size=3, stride=1, padding=1),
            nn.BatchNorm2d(in_features, 0.8),
            nn.PReLU(),
            nn.Conv2d(in_features, in_features, kernel_size=3, stride=1, padding=1),
            nn.BatchNorm2d(in_features, 0.8),
        )

    def forward(self, x):
        return x + self.conv_block(x)


class SRGeneratorResNet(nn.Module):
    def __init__(self, in_channels=3, out_channels=3, n_residual_blocks=16, width=64):  # width: the script's 64
        super(SRGeneratorResNet, self).__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(in_channels, width, kernel_size=9, stride=1, padding=4), nn.PReLU())
        self.res_blocks = nn.Sequential(*[SRResidualBlock(width) for _ in range(n_residual_blocks)])
        self.conv2 = nn.Sequential(nn.Conv2d(width, width, kernel_size=3, stride=1, padding=1), nn.BatchNorm2d(width, 0.8))
        upsampling = []
        for out_features in range(2):
            upsampling += [
                nn.Conv2d(width, width * 4, 3, 1, 1),
                nn.BatchNorm2d(width * 4),
                nn.PixelShuffle(upscale_factor=2),
                nn.PReLU(),
            ]
        self.upsampling = nn.Sequential(*upsampling)
        self.conv3 = nn.Sequential(nn.Conv2d(width, out_channels, kernel_size=9, stride=1, padding=4), nn.Tanh())

    def forward(self, x):
        out1 = self.conv1(x)
        out = self.res_blocks(out1)
        out2 = self.conv2(out)
        out = torch.add(out1, out2)
        out = self.upsampling(out)
        out = self.conv3(out)
        return out


def test_pytorch_gan_srgan():
    torch.manual_seed(0)
    generator = SRGeneratorResNet(n_residual_blocks=1, width=4)
    # the script's discriminator is the PatchGAN shape of cyclegan's; torchvision's VGG19 feature extractor
    # (out of scope) becomes a small frozen conv net, put in eval mode as the script does
    discriminator = PatchDiscriminator((3, 32, 32), base=4)
    feature_extractor = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())
    feature_extractor.eval()
    for p in feature_extractor.parameters():
        p.requires_grad = False
    criterion_GAN, criterion_content = torch.nn.MSELoss(), torch.nn.L1Loss()
    optimizer_G = torch.optim.Adam(generator.parameters(), lr=0.01, betas=(0.5, 0.999))
    optimizer_D = torch.optim.Adam(discriminator.parameters(), lr=0.01, betas=(0.5, 0.999))
    Tensor = torch.Tensor
    before = snapshot(generator, discriminator)
    imgs_lr = Variable(torch.rand(2, 3, 8, 8).type(Tensor))
    imgs_hr = Variable(torch.rand(2, 3, 32, 32).type(Tensor))
    valid = Variable(Tensor(np.ones((imgs_lr.size(0), *discriminator.output_shape))), requires_grad=False)
    fake = Variable(Tensor(np.zeros((imgs_lr.size(0), *discriminator.output_shape))), requires_grad=False)
    optimizer_G.zero_grad()
    gen_hr = generator(imgs_lr)
    loss_GAN = criterion_GAN(discriminator(gen_hr), valid)
    gen_features = feature_extractor(gen_hr)
    real_features = feature_extractor(imgs_hr)
    loss_content = criterion_content(gen_features, real_features.detach())
    loss_G = loss_content + 1e-3 * loss_GAN
    loss_G.backward()
    optimizer_G.step()
    optimizer_D.zero_grad()
    loss_real = criterion_GAN(discriminator(imgs_hr), valid)
    loss_fake = criterion_GAN(discriminator(gen_hr.detach()), fake)
    loss_D = (loss_real + loss_fake) / 2
    loss_D.backward()
    optimizer_D.step()
    assert_finite(loss_G.item(), loss_D.item())
    assert gen_hr.shape == (2, 3, 32, 32)                                        # ×4 through two PixelShuffles
    # conv biases right before a BatchNorm get no gradient, as in PyTorch
    skip_g = [f"{n}.bias" for n, m in generator.named_modules() if isinstance(m, nn.Conv2d) and "conv3" not in n
              and "conv1" not in n]
    assert_all_changed(before[0], generator, skip=skip_g)
    assert_all_changed(before[1], discriminator, skip=[f"{n}.bias" for n, m in discriminator.named_modules()
                                                      if isinstance(m, nn.Conv2d)][1:-1])


# ---- DiffAugment (mit-han-lab/data-efficient-gans, DiffAugment_pytorch.py): the limited-data remedy -------------
def rand_brightness(x):
    x = x + (torch.rand(x.size(0), 1, 1, 1, dtype=x.dtype, device=x.device) - 0.5)
    return x


def rand_saturation(x):
    x_mean = x.mean(dim=1, keepdim=True)
    x = (x - x_mean) * (torch.rand(x.size(0), 1, 1, 1, dtype=x.dtype, device=x.device) * 2) + x_mean
    return x


def rand_contrast(x):
    x_mean = x.mean(dim=[1, 2, 3], keepdim=True)
    x = (x - x_mean) * (torch.rand(x.size(0), 1, 1, 1, dtype=x.dtype, device=x.device) + 0.5) + x_mean
    return x


def rand_translation(x, ratio=0.125):
    shift_x, shift_y = int(x.size(2) * ratio + 0.5), int(x.size(3) * ratio + 0.5)
    translation_x = torch.randint(-shift_x, shift_x + 1, size=[x.size(0), 1, 1], device=x.device)
    translation_y = torch.randint(-shift_y, shift_y + 1, size=[x.size(0), 1, 1], device=x.device)
    grid_batch, grid_x, grid_y = torch.meshgrid(
        torch.arange(x.size(0), dtype=torch.long, device=x.device),
        torch.arange(x.size(2), dtype=torch.long, device=x.device),
        torch.arange(x.size(3), dtype=torch.long, device=x.device),
    )
    grid_x = torch.clamp(grid_x + translation_x + 1, 0, x.size(2) + 1)
    grid_y = torch.clamp(grid_y + translation_y + 1, 0, x.size(3) + 1)
    x_pad = F.pad(x, [1, 1, 1, 1, 0, 0, 0, 0])
    x = x_pad.permute(0, 2, 3, 1).contiguous()[grid_batch, grid_x, grid_y].permute(0, 3, 1, 2).contiguous()
    return x


def rand_cutout(x, ratio=0.5):
    cutout_size = int(x.size(2) * ratio + 0.5), int(x.size(3) * ratio + 0.5)
    offset_x = torch.randint(0, x.size(2) + (1 - cutout_size[0] % 2), size=[x.size(0), 1, 1], device=x.device)
    offset_y = torch.randint(0, x.size(3) + (1 - cutout_size[1] % 2), size=[x.size(0), 1, 1], device=x.device)
    grid_batch, grid_x, grid_y = torch.meshgrid(
        torch.arange(x.size(0), dtype=torch.long, device=x.device),
        torch.arange(cutout_size[0], dtype=torch.long, device=x.device),
        torch.arange(cutout_size[1], dtype=torch.long, device=x.device),
    )
    grid_x = torch.clamp(grid_x + offset_x - cutout_size[0] // 2, min=0, max=x.size(2) - 1)
    grid_y = torch.clamp(grid_y + offset_y - cutout_size[1] // 2, min=0, max=x.size(3) - 1)
    mask = torch.ones(x.size(0), x.size(2), x.size(3), dtype=x.dtype, device=x.device)
    mask[grid_batch, grid_x, grid_y] = 0
    x = x * mask.unsqueeze(1)
    return x


AUGMENT_FNS = {
    'color': [rand_brightness, rand_saturation, rand_contrast],
    'translation': [rand_translation],
    'cutout': [rand_cutout],
}


def DiffAugment(x, policy='', channels_first=True):  # noqa: N802 - the script's name
    if policy:
        if not channels_first:
            x = x.permute(0, 3, 1, 2)
        for p in policy.split(','):
            for f in AUGMENT_FNS[p]:
                x = f(x)
        if not channels_first:
            x = x.permute(0, 2, 3, 1)
        x = x.contiguous()
    return x


@pytest.mark.filterwarnings("ignore:torch.meshgrid")  # the script calls meshgrid without indexing=, as torch warns
def test_diffaugment_reaches_the_generator_through_every_augmentation():
    torch.manual_seed(0)
    G = nn.Sequential(nn.Linear(4, 3 * 8 * 8), nn.Tanh(), nn.Unflatten(1, (3, 8, 8)))
    D = nn.Sequential(nn.Conv2d(3, 4, 4, 2, 1), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(4 * 4 * 4, 1))
    opt_g, opt_d = optim.Adam(G.parameters(), lr=0.01), optim.Adam(D.parameters(), lr=0.01)
    before = snapshot(G, D)
    policy = 'color,translation,cutout'
    reals = torch.rand(4, 3, 8, 8) * 2 - 1
    # the paper's loss: D and G both see augmented images, and G's gradient flows through the augmentation
    opt_d.zero_grad()
    d_loss = F.softplus(-D(DiffAugment(reals, policy))).mean() + \
        F.softplus(D(DiffAugment(G(torch.randn(4, 4)).detach(), policy))).mean()
    d_loss.backward()
    opt_d.step()
    opt_g.zero_grad()
    fake = G(torch.randn(4, 4))
    fake.retain_grad()
    g_loss = F.softplus(-D(DiffAugment(fake, policy))).mean()
    g_loss.backward()
    opt_g.step()
    assert_finite(d_loss.item(), g_loss.item())
    assert fake.grad.abs().sum().item() > 0
    assert_all_changed(before[0], G)
    assert_all_changed(before[1], D)
    # each augmentation keeps the shape; translation only moves pixels (or brings in zeros), cutout only zeroes
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8) + 1
    for f in (rand_brightness, rand_saturation, rand_contrast, rand_translation, rand_cutout):
        assert f(x).shape == x.shape
    moved = rand_translation(x)
    assert set(moved.unique().tolist()) <= set(x.unique().tolist()) | {0.0}
    xg = x.clone().requires_grad_(True)
    cut = rand_cutout(xg)
    assert ((cut == x) | (cut == 0)).all().item() and 0 < (cut == 0).sum().item() <= 2 * 3 * 16  # a 4×4 hole, cut by the border
    cut.sum().backward()
    assert torch.equal(xg.grad, (cut != 0).float())                            # no gradient through the hole


# ---- PyTorch-GAN pix2pix: a U-Net with skip connections (torch.cat), dropout, a conditional PatchGAN ------------
class UNetDown(nn.Module):
    def __init__(self, in_size, out_size, normalize=True, dropout=0.0):
        super(UNetDown, self).__init__()
        layers = [nn.Conv2d(in_size, out_size, 4, 2, 1, bias=False)]
        if normalize:
            layers.append(nn.InstanceNorm2d(out_size))
        layers.append(nn.LeakyReLU(0.2))
        if dropout:
            layers.append(nn.Dropout(dropout))
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


class UNetUp(nn.Module):
    def __init__(self, in_size, out_size, dropout=0.0):
        super(UNetUp, self).__init__()
        layers = [
            nn.ConvTranspose2d(in_size, out_size, 4, 2, 1, bias=False),
            nn.InstanceNorm2d(out_size),
            nn.ReLU(inplace=True),
        ]
        if dropout:
            layers.append(nn.Dropout(dropout))
        self.model = nn.Sequential(*layers)

    def forward(self, x, skip_input):
        x = self.model(x)
        x = torch.cat((x, skip_input), 1)
        return x


class GeneratorUNet(nn.Module):
    def __init__(self, in_channels=3, out_channels=3, k=64):  # k: the script's 64 (its widths are k·1 ... k·8)
        super(GeneratorUNet, self).__init__()
        self.down1 = UNetDown(in_channels, k, normalize=False)
        self.down2 = UNetDown(k, 2 * k)
        self.down3 = UNetDown(2 * k, 4 * k)
        self.down4 = UNetDown(4 * k, 8 * k, dropout=0.5)
        self.down5 = UNetDown(8 * k, 8 * k, dropout=0.5)
        self.down6 = UNetDown(8 * k, 8 * k, dropout=0.5)
        self.down7 = UNetDown(8 * k, 8 * k, dropout=0.5)
        self.down8 = UNetDown(8 * k, 8 * k, normalize=False, dropout=0.5)
        self.up1 = UNetUp(8 * k, 8 * k, dropout=0.5)
        self.up2 = UNetUp(16 * k, 8 * k, dropout=0.5)
        self.up3 = UNetUp(16 * k, 8 * k, dropout=0.5)
        self.up4 = UNetUp(16 * k, 8 * k, dropout=0.5)
        self.up5 = UNetUp(16 * k, 4 * k)
        self.up6 = UNetUp(8 * k, 2 * k)
        self.up7 = UNetUp(4 * k, k)
        self.final = nn.Sequential(
            nn.Upsample(scale_factor=2),
            nn.ZeroPad2d((1, 0, 1, 0)),
            nn.Conv2d(2 * k, out_channels, 4, padding=1),
            nn.Tanh(),
        )

    def forward(self, x):
        d1 = self.down1(x)
        d2 = self.down2(d1)
        d3 = self.down3(d2)
        d4 = self.down4(d3)
        d5 = self.down5(d4)
        d6 = self.down6(d5)
        d7 = self.down7(d6)
        d8 = self.down8(d7)
        u1 = self.up1(d8, d7)
        u2 = self.up2(u1, d6)
        u3 = self.up3(u2, d5)
        u4 = self.up4(u3, d4)
        u5 = self.up5(u4, d3)
        u6 = self.up6(u5, d2)
        u7 = self.up7(u6, d1)
        return self.final(u7)


class Pix2PixDiscriminator(nn.Module):
    """pix2pix's critic: cyclegan's PatchGAN (above, the same blocks in the script) on the image pair, its last
    convolution without a bias."""

    def __init__(self, in_channels=3, k=64):
        super(Pix2PixDiscriminator, self).__init__()
        self.model = PatchDiscriminator((in_channels * 2, 256, 256), base=k).model
        self.model[-1] = nn.Conv2d(8 * k, 1, 4, padding=1, bias=False)

    def forward(self, img_A, img_B):
        img_input = torch.cat((img_A, img_B), 1)
        return self.model(img_input)


def test_pytorch_gan_pix2pix():
    torch.manual_seed(0)
    generator, discriminator = GeneratorUNet(k=2), Pix2PixDiscriminator(k=2)  # 256×256 images: eight halvings
    generator.apply(weights_init_normal)
    discriminator.apply(weights_init_normal)
    criterion_GAN, criterion_pixelwise = torch.nn.MSELoss(), torch.nn.L1Loss()
    lambda_pixel = 100
    patch = (1, 256 // 2 ** 4, 256 // 2 ** 4)
    optimizer_G = torch.optim.Adam(generator.parameters(), lr=0.01, betas=(0.5, 0.999))
    optimizer_D = torch.optim.Adam(discriminator.parameters(), lr=0.01, betas=(0.5, 0.999))
    Tensor = torch.FloatTensor
    before = snapshot(generator, discriminator)
    real_A = Variable((torch.rand(1, 3, 256, 256) * 2 - 1).type(Tensor))
    real_B = Variable((torch.rand(1, 3, 256, 256) * 2 - 1).type(Tensor))
    valid = Variable(Tensor(np.ones((real_A.size(0), *patch))), requires_grad=False)
    fake = Variable(Tensor(np.zeros((real_A.size(0), *patch))), requires_grad=False)
    optimizer_G.zero_grad()
    fake_B = generator(real_A)
    pred_fake = discriminator(fake_B, real_A)
    loss_GAN = criterion_GAN(pred_fake, valid)
    loss_pixel = criterion_pixelwise(fake_B, real_B)
    loss_G = loss_GAN + lambda_pixel * loss_pixel
    loss_G.backward()
    optimizer_G.step()
    optimizer_D.zero_grad()
    pred_real = discriminator(real_B, real_A)
    loss_real = criterion_GAN(pred_real, valid)
    pred_fake = discriminator(fake_B.detach(), real_A)
    loss_fake = criterion_GAN(pred_fake, fake)
    loss_D = 0.5 * (loss_real + loss_fake)
    loss_D.backward()
    optimizer_D.step()
    assert_finite(loss_G.item(), loss_D.item())
    assert fake_B.shape == (1, 3, 256, 256) and pred_real.shape == (1, *patch)
    assert_all_changed(before[0], generator)  # the U-Net's convolutions have no biases: all of them learn
    assert_all_changed(before[1], discriminator, skip=[f"{n}.bias" for n, m in discriminator.named_modules()
                                                       if isinstance(m, nn.Conv2d)][1:-1])
