"""The ready-made networks: shapes, state_dict keys, DCGAN initialisation, and a GAN step that
reaches every parameter (no cut gradient path)."""
import numpy as np
import pytest

import scratchgan as sg
import scratchgan.nn as nn
from scratchgan.gan.models import (DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator,
                               Toy1DDiscriminator, Toy1DGenerator, ToyDiscriminator, ToyGenerator, weights_init)


@pytest.mark.parametrize("size,channels", [(28, 1), (64, 3)])
@pytest.mark.parametrize("upsample", [None, "nearest"])
def test_dcgan_shapes(size, channels, upsample):
    g = DCGANGenerator(nz=8, ngf=4, channels=channels, image_size=size, upsample=upsample)
    d = DCGANDiscriminator(ndf=4, channels=channels, image_size=size)
    z = sg.randn(3, 8, 1, 1)
    x = g(z)
    assert x.shape == (3, channels, size, size)
    assert np.all(np.abs(x.array) <= 1)  # Tanh out
    assert g(sg.randn(3, 8)).shape == x.shape  # (N, nz) noise is reshaped
    assert d(x).shape == (3,)  # logits, the tutorial's netD(x).view(-1)


def test_dcgan28_state_dict_keys():
    g, d = DCGANGenerator(), DCGANDiscriminator()
    bn = ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert list(g.state_dict()) == (["main.0.weight"] + [f"main.1.{k}" for k in bn] + ["main.3.weight"]
                                    + [f"main.4.{k}" for k in bn] + ["main.6.weight"])
    assert list(d.state_dict()) == ["main.0.weight", "main.2.weight"] + [f"main.3.{k}" for k in bn] + ["main.5.weight"]
    shapes = {k: v.shape for k, v in g.state_dict().items()}
    assert shapes["main.0.weight"] == (100, 256, 7, 7) and shapes["main.3.weight"] == (256, 128, 4, 4)
    assert shapes["main.6.weight"] == (128, 1, 4, 4)
    assert d.state_dict()["main.5.weight"].shape == (1, 128, 7, 7)
    # sigmoid=True appends a parameter-free layer: same keys
    assert list(DCGANDiscriminator(sigmoid=True).state_dict()) == list(d.state_dict())
    assert isinstance(DCGANDiscriminator(sigmoid=True).main[-1], nn.Sigmoid)


def test_dcgan64_layers_match_the_paper():
    g = DCGANGenerator(nz=100, ngf=64, channels=3, image_size=64)
    convs = [m for m in g.main if isinstance(m, nn.ConvTranspose2d)]
    assert [(m.in_channels, m.out_channels, m.kernel_size[0], m.stride[0], m.padding[0]) for m in convs] == [
        (100, 512, 4, 1, 0), (512, 256, 4, 2, 1), (256, 128, 4, 2, 1), (128, 64, 4, 2, 1), (64, 3, 4, 2, 1)]
    assert all(m.bias is None for m in convs)
    d = DCGANDiscriminator(ndf=64, channels=3, image_size=64)
    assert [type(m).__name__ for m in d.main] == [
        "Conv2d", "LeakyReLU", "Conv2d", "BatchNorm2d", "LeakyReLU", "Conv2d", "BatchNorm2d", "LeakyReLU",
        "Conv2d", "BatchNorm2d", "LeakyReLU", "Conv2d"]
    assert d.main[-1].weight.shape == (1, 512, 4, 4)


def test_upsample_generator_replaces_strided_transposed_convolutions():
    g = DCGANGenerator(nz=10, ngf=4, image_size=28, upsample="nearest")
    names = [type(m).__name__ for m in g.main]
    assert names == ["ConvTranspose2d", "BatchNorm2d", "ReLU", "Upsample", "Conv2d", "BatchNorm2d", "ReLU",
                     "Upsample", "Conv2d", "Tanh"]
    assert g.main[4].weight.shape == (8, 16, 3, 3) and g.main[4].bias is None
    assert "main.4.weight" in g.state_dict()


def test_weights_init_statistics():
    sg.manual_seed(0)
    g = DCGANGenerator().apply(weights_init)
    w = g.main[3].weight.array  # 524,288 values
    assert abs(w.mean()) < 1e-3 and abs(w.std() - 0.02) < 5e-4
    bnw, bnb = g.main[1].weight.array, g.main[1].bias.array
    assert abs(bnw.mean() - 1) < 0.01 and 0.01 < bnw.std() < 0.03 and np.all(bnb == 0)
    d = DCGANDiscriminator().apply(weights_init)
    assert abs(d.main[2].weight.array.std() - 0.02) < 1e-3
    # non-DCGAN layers are left as they are
    lin = nn.Linear(3, 2)
    before = lin.weight.array.copy()
    weights_init(lin)
    np.testing.assert_array_equal(lin.weight.array, before)


@pytest.mark.parametrize("upsample", [None, "nearest"])
def test_every_parameter_gets_a_gradient_in_a_gan_step(upsample):
    """The 'cut gradient path' trap: after D's and G's updates every parameter has a non-zero gradient,
    and the D step (on fake.detach()) leaves G untouched."""
    sg.manual_seed(0)
    g = DCGANGenerator(nz=6, ngf=4, image_size=28, upsample=upsample).apply(weights_init)
    d = DCGANDiscriminator(ndf=4, image_size=28).apply(weights_init)
    bce = nn.BCEWithLogitsLoss()
    real = sg.rand(4, 1, 28, 28) * 2 - 1
    fake = g(sg.randn(4, 6))
    loss_d = bce(d(real), sg.ones(4)) + bce(d(fake.detach()), sg.zeros(4))
    loss_d.backward()
    assert all(p.grad is None for p in g.parameters())
    for name, p in d.named_parameters():
        assert p.grad is not None and np.abs(p.grad.array).sum() > 0, f"D.{name}"
    for p in d.parameters():
        p.grad = None
    bce(d(fake), sg.ones(4)).backward()
    for name, p in g.named_parameters():
        assert p.grad is not None and np.abs(p.grad.array).sum() > 0, f"G.{name}"


def test_mlp_models():
    g = MLPGenerator(image_shape=(1, 28, 28))
    assert [m.out_features for m in g.main if isinstance(m, nn.Linear)] == [256, 512, 1024, 784]
    x = g(sg.randn(5, 100))
    assert x.shape == (5, 1, 28, 28)
    assert MLPGenerator()(sg.randn(5, 100, 1, 1)).shape == (5, 784)
    d = MLPDiscriminator()
    assert [m.out_features for m in d.main if isinstance(m, nn.Linear)] == [512, 256, 1]
    assert d(x).shape == (5,) and d(sg.randn(5, 784)).shape == (5,)
    assert list(d.state_dict())[:2] == ["main.0.weight", "main.0.bias"]
    with pytest.raises(ValueError, match="MLPDiscriminator"):
        d(sg.randn(5, 10))


def test_toy_models_and_packing():
    g, d = Toy1DGenerator(), Toy1DDiscriminator()
    assert [type(m).__name__ for m in g.main] == ["Linear", "ReLU", "Linear"]
    assert g.main[0].weight.shape == (64, 10) and d.main[0].weight.shape == (64, 1)
    assert isinstance(d.main[1], nn.LeakyReLU) and d.main[1].negative_slope == 0.2
    assert d(g(sg.randn(7, 10))).shape == (7,)
    g2 = ToyGenerator(nz=2, out_dim=2, hidden=16, depth=3)
    assert len([m for m in g2.main if isinstance(m, nn.Linear)]) == 4
    pac = ToyDiscriminator(in_dim=2, hidden=16, depth=2, pack=4)
    assert pac.main[0].weight.shape == (16, 8)  # in_dim·pack inputs
    samples = sg.randn(12, 2)
    assert pac(samples).shape == (3,)
    # a pack is consecutive rows concatenated along the features
    first = pac.main(samples[0:4].reshape(1, 8))
    np.testing.assert_allclose(pac(samples).array[0], first.array[0, 0], rtol=1e-6)
    with pytest.raises(ValueError, match="packs of 4"):
        pac(sg.randn(10, 2))


def test_model_input_errors():
    with pytest.raises(ValueError, match=r"\(N, 100, 1, 1\)"):
        DCGANGenerator()(sg.randn(2, 10, 1, 1))
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        DCGANDiscriminator()(sg.randn(2, 1, 32, 32))
    with pytest.raises(ValueError, match="image_size"):
        DCGANGenerator(image_size=32)
