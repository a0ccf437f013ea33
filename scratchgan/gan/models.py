"""Ready-made generator/discriminator pairs: DCGAN (28×28 and 64×64), MLP, and toy MLPs.

Every network keeps its layers in ``self.main = nn.Sequential(...)`` as the PyTorch
DCGAN tutorial does, so state_dict keys read ``main.0.weight``, ``main.1.running_mean``,
... and a PyTorch module holding the same ``nn.Sequential`` loads them key for key.

Discriminators return logits of shape (N,) — ``self.main(x)`` flattened, the tutorial's
``netD(x).view(-1)`` — for ``BCEWithLogitsLoss`` (the numerically stable form of
Sigmoid + BCELoss).  ``DCGANDiscriminator(sigmoid=True)`` appends the tutorial's Sigmoid
for use with ``BCELoss`` (same state_dict keys: a Sigmoid has no parameters).
"""
from __future__ import annotations

from .. import nn
from ..ops import cat, reshape
from ..tensor import Tensor

__all__ = ["weights_init", "DCGANGenerator", "DCGANDiscriminator", "MLPGenerator", "MLPDiscriminator",
           "ToyGenerator", "ToyDiscriminator", "Toy1DGenerator", "Toy1DDiscriminator", "ConditionalGenerator",
           "ProjectionDiscriminator"]


def weights_init(m):
    """The DCGAN paper's initialisation, exactly the PyTorch tutorial's function, applied with
    ``netG.apply(weights_init)``: conv weights ~ N(0, 0.02); BatchNorm weight ~ N(1, 0.02), bias 0."""
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        nn.init.normal_(m.weight.data, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        nn.init.normal_(m.weight.data, 1.0, 0.02)
        nn.init.constant_(m.bias.data, 0)


def _check_image(x: Tensor, channels: int, size: int, who):
    if x.ndim != 4 or x.shape[1:] != (channels, size, size):
        raise ValueError(f"{who}: expected images of shape (N, {channels}, {size}, {size}), got {x.shape}")


def _up_block(c_in: int, c_out: int, upsample):
    """A ×2 upsampling step: ConvT(4, 2, 1), or with upsample='nearest' Upsample(×2) → Conv(3, 1, 1)."""
    if upsample is None:
        return [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False)]
    return [nn.Upsample(scale_factor=2, mode=upsample), nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False)]


class DCGANGenerator(nn.Module):
    """z (N, nz, 1, 1) or (N, nz) → images (N, channels, image_size, image_size) in [−1, 1].

    image_size=28 (MNIST): ConvT(nz, 4·ngf, 7, 1, 0) → BN → ReLU → ConvT(4·ngf, 2·ngf, 4, 2, 1) → BN → ReLU
    → ConvT(2·ngf, channels, 4, 2, 1) → Tanh  (7 → 14 → 28).
    image_size=64: the DCGAN paper's generator, ConvT(nz, 8·ngf, 4, 1, 0) then four ConvT(4, 2, 1) with
    BN + ReLU between (4 → 8 → 16 → 32 → 64), Tanh out.  All convolutions bias=False.
    ``upsample="nearest"`` swaps each stride-2 ConvT for Upsample(×2) → Conv2d(3, 1, 1) (resize-convolution,
    no checkerboard artifacts); output sizes are the same, the state_dict keys differ.
    """

    def __init__(self, nz: int = 100, ngf: int = 64, channels: int = 1, image_size: int = 28, upsample=None):
        super().__init__()
        if image_size not in (28, 64):
            raise ValueError(f"DCGANGenerator: image_size must be 28 or 64, got {image_size}")
        if upsample not in (None, "nearest"):
            raise ValueError(f"DCGANGenerator: upsample must be None or 'nearest', got {upsample!r}")
        self.nz, self.ngf, self.channels, self.image_size, self.upsample = nz, ngf, channels, image_size, upsample
        if image_size == 28:
            widths, first_kernel = [4 * ngf, 2 * ngf], 7
        else:
            widths, first_kernel = [8 * ngf, 4 * ngf, 2 * ngf, ngf], 4
        layers = [nn.ConvTranspose2d(nz, widths[0], first_kernel, 1, 0, bias=False), nn.BatchNorm2d(widths[0]),
                  nn.ReLU(True)]
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            layers += _up_block(c_in, c_out, upsample) + [nn.BatchNorm2d(c_out), nn.ReLU(True)]
        layers += _up_block(widths[-1], channels, upsample) + [nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        if z.ndim == 2:
            z = reshape(z, (z.shape[0], z.shape[1], 1, 1))
        if z.ndim != 4 or z.shape[1:] != (self.nz, 1, 1):
            raise ValueError(f"DCGANGenerator: expected noise of shape (N, {self.nz}, 1, 1) or (N, {self.nz}), "
                             f"got {z.shape}")
        return self.main(z)


class DCGANDiscriminator(nn.Module):
    """images (N, channels, image_size, image_size) → logits (N,).

    image_size=28: Conv(channels, ndf, 4, 2, 1) → LeakyReLU(0.2) → Conv(ndf, 2·ndf, 4, 2, 1) → BN
    → LeakyReLU(0.2) → Conv(2·ndf, 1, 7, 1, 0)  (28 → 14 → 7 → 1).
    image_size=64: Conv(4, 2, 1) from channels to ndf, 2·ndf, 4·ndf, 8·ndf (BN after all but the first,
    LeakyReLU(0.2) after each), then Conv(8·ndf, 1, 4, 1, 0).  All convolutions bias=False.
    ``sigmoid=True`` appends Sigmoid (probabilities, for BCELoss) as in the tutorial.
    ``norm="layer"`` puts LayerNorm over (C, H, W) where the BatchNorms were, ``norm=None`` Identity (same
    state_dict keys for the convolutions): a critic trained with a gradient penalty or spectral
    normalisation must not use BatchNorm (see ``train.build_models``).
    """

    def __init__(self, ndf: int = 64, channels: int = 1, image_size: int = 28, sigmoid: bool = False,
                 norm: str | None = "batch"):
        super().__init__()
        if image_size not in (28, 64):
            raise ValueError(f"DCGANDiscriminator: image_size must be 28 or 64, got {image_size}")
        if norm not in ("batch", "layer", None):
            raise ValueError(f"DCGANDiscriminator: norm must be 'batch', 'layer' or None, got {norm!r}")
        self.ndf, self.channels, self.image_size, self.sigmoid = ndf, channels, image_size, sigmoid
        widths, last_kernel = ([ndf, 2 * ndf], 7) if image_size == 28 else ([ndf, 2 * ndf, 4 * ndf, 8 * ndf], 4)
        self.feature_shape = (widths[-1], last_kernel, last_kernel)  # what the last conv sees, whole
        layers = [nn.Conv2d(channels, widths[0], 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
        for i, (c_in, c_out) in enumerate(zip(widths[:-1], widths[1:])):
            side = image_size // 2 ** (i + 2)  # each stride-2 conv halves the side
            normalise = {"batch": lambda: nn.BatchNorm2d(c_out), "layer": lambda: nn.LayerNorm([c_out, side, side]),
                         None: nn.Identity}[norm]()
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False), normalise, nn.LeakyReLU(0.2, inplace=True)]
        layers.append(nn.Conv2d(widths[-1], 1, last_kernel, 1, 0, bias=False))
        if sigmoid:
            layers.append(nn.Sigmoid())
        self.main = nn.Sequential(*layers)

    def features(self, x: Tensor) -> Tensor:
        """The activations the final convolution reads (N, 2·ndf, 7, 7) at 28×28."""
        _check_image(x, self.channels, self.image_size, "DCGANDiscriminator")
        return self.main[:-2 if self.sigmoid else -1](x)

    def head(self, h: Tensor) -> Tensor:
        return reshape(self.main[-2 if self.sigmoid else -1](h), (-1,))

    def forward(self, x: Tensor) -> Tensor:
        _check_image(x, self.channels, self.image_size, "DCGANDiscriminator")
        return reshape(self.main(x), (-1,))


class MLPGenerator(nn.Module):
    """z (N, nz) → (N, out_features) in [−1, 1], or (N, *image_shape) when image_shape is given.

    Linear layers of widths ``hidden`` with LeakyReLU(0.2) between, Tanh out (default 100 → 256 → 512
    → 1024 → 784: the benchmark MLP).
    """

    def __init__(self, nz: int = 100, hidden=(256, 512, 1024), out_features: int = 784, image_shape=None):
        super().__init__()
        self.nz, self.out_features = nz, out_features
        self.image_shape = tuple(image_shape) if image_shape is not None else None
        if self.image_shape is not None and _prod(self.image_shape) != out_features:
            raise ValueError(f"MLPGenerator: image_shape {self.image_shape} does not hold {out_features} values")
        layers, width = [], nz
        for h in hidden:
            layers += [nn.Linear(width, h), nn.LeakyReLU(0.2)]
            width = h
        layers += [nn.Linear(width, out_features), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        if z.ndim == 4:  # (N, nz, 1, 1) noise, as a DCGAN generator takes it
            z = reshape(z, (z.shape[0], -1))
        if z.ndim != 2 or z.shape[1] != self.nz:
            raise ValueError(f"MLPGenerator: expected noise of shape (N, {self.nz}), got {z.shape}")
        out = self.main(z)
        return out if self.image_shape is None else reshape(out, (z.shape[0],) + self.image_shape)


class MLPDiscriminator(nn.Module):
    """(N, in_features) or images (N, *) with in_features values each → logits (N,).

    Linear layers of widths ``hidden`` with LeakyReLU(0.2) after each, then Linear(·, 1)
    (default 784 → 512 → 256 → 1: the benchmark MLP).
    """

    def __init__(self, in_features: int = 784, hidden=(512, 256)):
        super().__init__()
        self.in_features = in_features
        layers, width = [], in_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.LeakyReLU(0.2)]
            width = h
        self.feature_shape = (width,)
        layers.append(nn.Linear(width, 1))
        self.main = nn.Sequential(*layers)

    def features(self, x: Tensor) -> Tensor:
        """The last hidden layer's activations (N, hidden[-1])."""
        if x.ndim < 1 or _prod(x.shape[1:]) != self.in_features:
            raise ValueError(f"MLPDiscriminator: expected input of shape (N, {self.in_features}) "
                             f"(or images with {self.in_features} values each), got {x.shape}")
        return self.main[:-1](reshape(x, (x.shape[0], self.in_features)))

    def head(self, h: Tensor) -> Tensor:
        return reshape(self.main[-1](h), (-1,))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


def _prod(shape) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n


class ToyGenerator(nn.Module):
    """z (N, nz) → samples (N, out_dim) for low-dimensional targets (1-D densities, 2-D mixtures):
    ``depth`` hidden Linear layers of width ``hidden`` with ReLU, a linear output."""

    def __init__(self, nz: int = 2, out_dim: int = 2, hidden: int = 128, depth: int = 3):
        super().__init__()
        if depth < 1:
            raise ValueError(f"ToyGenerator: depth must be at least 1, got {depth}")
        self.nz, self.out_dim = nz, out_dim
        layers, width = [], nz
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        layers.append(nn.Linear(width, out_dim))
        self.main = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        if z.ndim != 2 or z.shape[1] != self.nz:
            raise ValueError(f"{type(self).__name__}: expected noise of shape (N, {self.nz}), got {z.shape}")
        return self.main(z)


class ToyDiscriminator(nn.Module):
    """samples (N, in_dim) → logits (N // pack,): ``depth`` hidden Linear layers with LeakyReLU(0.2).

    PacGAN packing (Lin et al., 2018): with ``pack`` = m the discriminator judges m samples at
    once, concatenated along the features (consecutive rows form a pack), so its first layer has
    in_dim·m inputs.  Seeing several samples together lets it detect a lack of diversity, which
    penalises mode collapse.  N must be a multiple of ``pack``.
    """

    def __init__(self, in_dim: int = 2, hidden: int = 128, depth: int = 3, pack: int = 1):
        super().__init__()
        if depth < 1 or pack < 1:
            raise ValueError(f"ToyDiscriminator: depth and pack must be at least 1, got {depth} and {pack}")
        self.in_dim, self.pack = in_dim, pack
        layers, width = [], in_dim * pack
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
            width = hidden
        layers.append(nn.Linear(width, 1))
        self.main = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 2 or x.shape[1] != self.in_dim:
            raise ValueError(f"{type(self).__name__}: expected samples of shape (N, {self.in_dim}), got {x.shape}")
        if x.shape[0] % self.pack:
            raise ValueError(f"{type(self).__name__}: a batch of {x.shape[0]} samples does not split into "
                             f"packs of {self.pack}")
        packed = reshape(x, (x.shape[0] // self.pack, self.in_dim * self.pack))
        return reshape(self.main(packed), (-1,))


class Toy1DGenerator(ToyGenerator):
    """The 1-D toy generator: nz=10 → 64 → ReLU → 1."""

    def __init__(self, nz: int = 10, hidden: int = 64, depth: int = 1):
        super().__init__(nz, 1, hidden, depth)


class Toy1DDiscriminator(ToyDiscriminator):
    """The 1-D toy discriminator: 1 → 64 → LeakyReLU(0.2) → 1 logit."""

    def __init__(self, hidden: int = 64, depth: int = 1, pack: int = 1):
        super().__init__(1, hidden, depth, pack)


# ----------------------------------------------------------------------------- class-conditional models


def _check_labels(y: Tensor, n: int, num_classes: int, who: str):
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"{who}: expected {n} class labels of shape ({n},), got {y.shape}")


class ConditionalGenerator(nn.Module):
    """G(z, y) = inner([z, e_y]): the class y enters as a learned embedding e_y ∈ R^embed_dim concatenated
    to the noise, so ``inner`` is any generator built for nz + embed_dim inputs (DCGAN, MLP, toy MLP).

    An embedding rather than a one-hot vector: the same thing for the first layer (one-hot times a weight
    matrix is a row lookup), but its size is a free choice and it reads like the PyTorch examples.

    e_y starts small, N(0, 0.02²), not at nn.Embedding's N(0, 1): a unit-size class vector is a strong,
    fixed signal beside the noise, G learns to lean on it and drowns z (the samples of a class all alike).
    Measured on Fashion-MNIST (DCGAN at width 16, projection D, 200 steps): the spread of G's output over z
    for a fixed class was 0.08 with N(0, 1), 0.23 with N(0, 0.02²), 0.39 for the unconditional G.
    """

    def __init__(self, inner: nn.Module, num_classes: int, embed_dim: int = 50):
        super().__init__()
        self.inner, self.num_classes, self.nz = inner, int(num_classes), inner.nz - embed_dim
        self.embed = nn.Embedding(num_classes, embed_dim)
        nn.init.normal_(self.embed.weight, 0.0, 0.02)

    def forward(self, z: Tensor, y: Tensor) -> Tensor:
        if z.ndim == 4:
            z = reshape(z, (z.shape[0], -1))
        _check_labels(y, z.shape[0], self.num_classes, "ConditionalGenerator")
        return self.inner(cat([z, self.embed(y)], dim=1))


class ProjectionDiscriminator(nn.Module):
    """D(x, y) = ψ(φ(x)) + ⟨e_y, φ(x)⟩  (Miyato & Koyama 2018); φ = ``inner.features``, ψ = ``inner.head``.

    Why projection and not concatenating y to the input: the optimal D is the log density ratio
    log p(x|y)/q(x|y) = log p(x)/q(x) + log p(y|x)/q(y|x); with a softmax-like model of the class posterior
    the second term is exactly an inner product between a class embedding and features of x.  So projection
    is the form the optimum takes, it lets every class share φ, and it judges "is this a convincing y"
    with a term D cannot ignore, whereas a label concatenated to the pixels can be (and in practice is)
    largely ignored by a convolutional D.  Miyato & Koyama measured it better than concatenation.

    Here φ(x) is the whole feature map the final layer reads (7×7×2·ndf for the 28×28 DCGAN critic), so
    the class term is a class-specific final convolution; e_y starts at N(0, 0.02²), as small as that layer.
    """

    def __init__(self, inner: nn.Module, num_classes: int):
        super().__init__()
        self.inner, self.num_classes = inner, int(num_classes)
        self.embed = nn.Embedding(num_classes, _prod(inner.feature_shape))
        nn.init.normal_(self.embed.weight, 0.0, 0.02)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        _check_labels(y, x.shape[0], self.num_classes, "ProjectionDiscriminator")
        h = self.inner.features(x)
        flat = reshape(h, (h.shape[0], -1))
        return self.inner.head(h) + (self.embed(y) * flat).sum(dim=1)
