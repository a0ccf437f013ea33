"""Script text shared by tests/test_ported_scripts.py (scratchgan only) and tests/test_torch_parity_scripts.py
(PyTorch and scratchgan): each function takes the framework module, so both run the same statements.

Written as PyTorch-GAN's ``wgan.py``/``wgan_gp.py`` and the official PyTorch DCGAN tutorial write them, at
tiny sizes.  No torch import here: CI has no torch.
"""


def wgan_models(nn, latent_dim=4, img_size=4, channels=1, bn_eps=1e-5):
    """PyTorch-GAN's WGAN / WGAN-GP generator and critic (MLPs; the critic has no sigmoid)."""

    class Generator(nn.Module):
        def __init__(self):
            super(Generator, self).__init__()
            self.model = nn.Sequential(
                nn.Linear(latent_dim, 8), nn.LeakyReLU(0.2, inplace=True),
                nn.Linear(8, 16), nn.BatchNorm1d(16, bn_eps), nn.LeakyReLU(0.2, inplace=True),
                nn.Linear(16, img_size ** 2), nn.Tanh())

        def forward(self, noise):
            img = self.model(noise)
            return img.view(img.shape[0], channels, img_size, img_size)

    class Discriminator(nn.Module):
        def __init__(self):
            super(Discriminator, self).__init__()
            self.model = nn.Sequential(nn.Linear(img_size ** 2, 16), nn.LeakyReLU(0.2, inplace=True),
                                       nn.Linear(16, 8), nn.LeakyReLU(0.2, inplace=True), nn.Linear(8, 1))

        def forward(self, img):
            img_flat = img.view(img.shape[0], -1)
            return self.model(img_flat)

    return Generator(), Discriminator()


def compute_gradient_penalty(fw, D, real_samples, fake_samples, alpha):
    """wgan_gp.py's penalty, alpha passed in (the script draws it with np.random.random)."""
    Tensor = fw.FloatTensor
    interpolates = (alpha * real_samples + ((1 - alpha) * fake_samples)).requires_grad_(True)
    d_interpolates = D(interpolates)
    fake = fw.autograd.Variable(Tensor(real_samples.shape[0], 1).fill_(1.0), requires_grad=False)
    gradients = fw.autograd.grad(outputs=d_interpolates, inputs=interpolates, grad_outputs=fake,
                                 create_graph=True, retain_graph=True, only_inputs=True)[0]
    gradients = gradients.view(gradients.size(0), -1)
    return ((gradients.norm(2, dim=1) - 1) ** 2).mean()


def wgan_gp(fw, batches, sync=None, latent_dim=4, lambda_gp=10, n_critic=2, lr=0.01):
    """wgan_gp.py's loop; ``batches``: dicts of NumPy arrays ``real``, ``z``, ``alpha``.
    Returns [(d_loss, gradient_penalty, g_loss) per iteration] and (generator, discriminator)."""
    Tensor = fw.FloatTensor
    generator, discriminator = wgan_models(fw.nn, latent_dim, bn_eps=0.8)
    if sync is not None:
        sync([generator, discriminator])
    optimizer_G = fw.optim.Adam(generator.parameters(), lr=lr, betas=(0.5, 0.999))
    optimizer_D = fw.optim.Adam(discriminator.parameters(), lr=lr, betas=(0.5, 0.999))
    losses = []
    for i, b in enumerate(batches):
        real_imgs = Tensor(b["real"])
        optimizer_D.zero_grad()
        z = Tensor(b["z"])
        fake_imgs = generator(z)
        real_validity = discriminator(real_imgs)
        fake_validity = discriminator(fake_imgs)
        gradient_penalty = compute_gradient_penalty(fw, discriminator, real_imgs.data, fake_imgs.data,
                                                    Tensor(b["alpha"]))
        d_loss = -fw.mean(real_validity) + fw.mean(fake_validity) + lambda_gp * gradient_penalty
        d_loss.backward()
        optimizer_D.step()
        optimizer_G.zero_grad()
        g_loss = -fw.mean(discriminator(generator(z)))
        if i % n_critic == 0:
            g_loss.backward()
            optimizer_G.step()
        losses.append((d_loss.item(), gradient_penalty.item(), g_loss.item()))
    return losses, (generator, discriminator)


def dcgan_tutorial(fw, batches, sync=None, nz=4, ngf=4, ndf=4, nc=1, ngpu=1, lr=0.0002):
    """The official DCGAN tutorial's models, ``weights_init`` and loop (8×8 images).
    Returns [(errD, errG, D_x) per iteration], (netG, netD) and netG(fixed_noise) drawn under no_grad."""
    nn, optim = fw.nn, fw.optim
    device = fw.device("cuda:0" if (fw.cuda.is_available() and ngpu > 0 and False) else "cpu")

    def weights_init(m):
        classname = m.__class__.__name__
        if classname.find("Conv") != -1:
            nn.init.normal_(m.weight.data, 0.0, 0.02)
        elif classname.find("BatchNorm") != -1:
            nn.init.normal_(m.weight.data, 1.0, 0.02)
            nn.init.constant_(m.bias.data, 0)

    class Generator(nn.Module):
        def __init__(self, ngpu):
            super(Generator, self).__init__()
            self.ngpu = ngpu
            self.main = nn.Sequential(
                nn.ConvTranspose2d(nz, ngf * 2, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
                nn.ConvTranspose2d(ngf * 2, nc, 4, 2, 1, bias=False), nn.Tanh())

        def forward(self, input):  # noqa: A002
            return self.main(input)

    class Discriminator(nn.Module):
        def __init__(self, ngpu):
            super(Discriminator, self).__init__()
            self.ngpu = ngpu
            self.main = nn.Sequential(
                nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(ndf * 2, 1, 2, 1, 0, bias=False), nn.Sigmoid())

        def forward(self, input):  # noqa: A002
            return self.main(input)

    netG = Generator(ngpu).to(device)
    if (device.type == "cuda") and (ngpu > 1):
        netG = nn.DataParallel(netG, list(range(ngpu)))
    netG.apply(weights_init)
    netD = Discriminator(ngpu).to(device)
    netD.apply(weights_init)
    if sync is not None:
        sync([netG, netD])
    criterion = nn.BCELoss()
    fixed_noise = fw.from_numpy(batches[0]["z"]).view(-1, nz, 1, 1)
    real_label, fake_label = 1.0, 0.0
    optimizerD = optim.Adam(netD.parameters(), lr=lr, betas=(0.5, 0.999))
    optimizerG = optim.Adam(netG.parameters(), lr=lr, betas=(0.5, 0.999))
    losses = []
    for b in batches:
        netD.zero_grad()
        real_cpu = fw.from_numpy(b["real"]).to(device)
        b_size = real_cpu.size(0)
        label = fw.full((b_size,), real_label, dtype=fw.float, device=device)
        output = netD(real_cpu).view(-1)
        errD_real = criterion(output, label)
        errD_real.backward()
        D_x = output.mean().item()
        noise = fw.from_numpy(b["z"]).view(b_size, nz, 1, 1)
        fake = netG(noise)
        label.fill_(fake_label)
        output = netD(fake.detach()).view(-1)
        errD_fake = criterion(output, label)
        errD_fake.backward()
        errD = errD_real + errD_fake
        optimizerD.step()
        netG.zero_grad()
        label.fill_(real_label)
        output = netD(fake).view(-1)
        errG = criterion(output, label)
        errG.backward()
        optimizerG.step()
        losses.append((errD.item(), errG.item(), D_x))
    with fw.no_grad():
        fake = netG(fixed_noise).detach().cpu()
    return losses, (netG, netD), fake


# ---- SN-GAN with hinge loss (christiancosgrove/pytorch-spectral-normalization-gan) ------------------------------------
def l2normalize(v, eps=1e-12):
    return v / (v.norm() + eps)


def spectral_norm_wrapper(fw):
    """The repository's own ``SpectralNorm`` module, as written there: it swaps ``weight`` for ``weight_bar`` +
    ``weight_u``/``weight_v`` parameters and sets ``module.weight = w / sigma`` on each forward."""
    nn = fw.nn

    class SpectralNorm(nn.Module):
        def __init__(self, module, name="weight", power_iterations=1):
            super(SpectralNorm, self).__init__()
            self.module = module
            self.name = name
            self.power_iterations = power_iterations
            if not self._made_params():
                self._make_params()

        def _update_u_v(self):
            u = getattr(self.module, self.name + "_u")
            v = getattr(self.module, self.name + "_v")
            w = getattr(self.module, self.name + "_bar")
            height = w.data.shape[0]
            for _ in range(self.power_iterations):
                v.data = l2normalize(fw.mv(fw.t(w.view(height, -1).data), u.data))
                u.data = l2normalize(fw.mv(w.view(height, -1).data, v.data))
            sigma = u.dot(w.view(height, -1).mv(v))
            setattr(self.module, self.name, w / sigma.expand_as(w))

        def _made_params(self):
            try:
                getattr(self.module, self.name + "_u")
                getattr(self.module, self.name + "_v")
                getattr(self.module, self.name + "_bar")
                return True
            except AttributeError:
                return False

        def _make_params(self):
            w = getattr(self.module, self.name)
            height = w.data.shape[0]
            width = w.view(height, -1).data.shape[1]
            u = nn.Parameter(w.data.new(height).normal_(0, 1), requires_grad=False)
            v = nn.Parameter(w.data.new(width).normal_(0, 1), requires_grad=False)
            u.data = l2normalize(u.data)
            v.data = l2normalize(v.data)
            w_bar = nn.Parameter(w.data)
            del self.module._parameters[self.name]
            self.module.register_parameter(self.name + "_u", u)
            self.module.register_parameter(self.name + "_v", v)
            self.module.register_parameter(self.name + "_bar", w_bar)

        def forward(self, *args):
            self._update_u_v()
            return self.module.forward(*args)

    return SpectralNorm


def sngan_models(fw, own_wrapper: bool, z_dim=4):
    """The repository's DCGAN-like G and SN critic (8×8, 1 channel), the critic normalised by its own wrapper
    or by ``nn.utils.spectral_norm``."""
    nn = fw.nn
    SN = spectral_norm_wrapper(fw) if own_wrapper else nn.utils.spectral_norm

    class Generator(nn.Module):
        def __init__(self, z_dim):
            super(Generator, self).__init__()
            self.z_dim = z_dim
            self.model = nn.Sequential(
                nn.ConvTranspose2d(z_dim, 8, 4, stride=1), nn.BatchNorm2d(8), nn.ReLU(),
                nn.ConvTranspose2d(8, 1, 4, stride=2, padding=(1, 1)), nn.Tanh())

        def forward(self, z):
            return self.model(z.view(-1, self.z_dim, 1, 1))

    class Discriminator(nn.Module):
        def __init__(self):
            super(Discriminator, self).__init__()
            self.conv1 = SN(nn.Conv2d(1, 4, 3, stride=1, padding=(1, 1)))
            self.conv2 = SN(nn.Conv2d(4, 8, 4, stride=2, padding=(1, 1)))
            self.fc = SN(nn.Linear(4 * 4 * 8, 1))

        def forward(self, x):
            m = nn.LeakyReLU(0.1)(self.conv1(x))
            m = nn.LeakyReLU(0.1)(self.conv2(m))
            return self.fc(m.view(-1, 4 * 4 * 8))

    return Generator(z_dim), Discriminator()


def sngan_hinge(fw, batches, sync=None, own_wrapper=False, lr=2e-4, batch_size=8):
    """The repository's training step with the hinge loss.  Returns [(disc_loss, gen_loss)] and (G, D)."""
    generator, discriminator = sngan_models(fw, own_wrapper)
    if sync is not None:
        sync([generator, discriminator])
    optim_disc = fw.optim.Adam(filter(lambda p: p.requires_grad, discriminator.parameters()), lr=lr, betas=(0.0, 0.9))
    optim_gen = fw.optim.Adam(generator.parameters(), lr=lr, betas=(0.0, 0.9))
    nn, losses = fw.nn, []
    for b in batches:
        data = fw.from_numpy(b["real"])
        if data.size()[0] != batch_size:
            continue
        z = fw.autograd.Variable(fw.from_numpy(b["z"]))
        optim_disc.zero_grad()
        optim_gen.zero_grad()
        disc_loss = nn.ReLU()(1.0 - discriminator(data)).mean() + nn.ReLU()(1.0 + discriminator(generator(z))).mean()
        disc_loss.backward()
        optim_disc.step()
        optim_disc.zero_grad()
        optim_gen.zero_grad()
        gen_loss = -discriminator(generator(z)).mean()
        gen_loss.backward()
        optim_gen.step()
        losses.append((disc_loss.item(), gen_loss.item()))
    return losses, (generator, discriminator)
