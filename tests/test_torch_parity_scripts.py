"""Ported scripts against PyTorch: the same script text run under both frameworks, same weights, same batches.

Each script is one function in tests/ported_scripts.py taking the framework (``torch`` or ``scratchgan``), so
both sides run literally the same statements, written as PyTorch-GAN's ``wgan_gp.py``, the official DCGAN
tutorial and christiancosgrove's SN-GAN (hinge loss; its own SpectralNorm wrapper and ``nn.utils.spectral_norm``)
write them.
The weights start equal (PyTorch's initial state_dict loaded into scratchgan), every random draw (real
batches, z, the penalty's alpha) is a NumPy array made here, and the losses of 3 iterations must agree.

Skipped unless PyTorch is importable:
``PYTHONPATH=. /work/torchvenv/bin/python -m pytest tests/test_torch_parity_scripts.py -q``.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import scratchgan as sg  # noqa: E402
from tests.ported_scripts import dcgan_tutorial, sngan_hinge, wgan_gp  # noqa: E402

ITERS, BATCH = 3, 8


def _batches(shape, latent_dim, seed=0):
    rng = np.random.default_rng(seed)
    return [dict(real=rng.uniform(-1, 1, (BATCH, *shape)).astype(np.float32),
                 z=rng.standard_normal((BATCH, latent_dim)).astype(np.float32),
                 alpha=rng.random((BATCH, 1, 1, 1)).astype(np.float32)) for _ in range(ITERS)]


def _params(module):
    return {k: v.detach().cpu().numpy().copy() for k, v in module.state_dict().items()}


def sngan_own_wrapper(fw, batches, **kwargs):
    return sngan_hinge(fw, batches, own_wrapper=True, **kwargs)


# G's bias right before a BatchNorm, and that BatchNorm's running mean, which carries it: the bias's true
# gradient is 0, so Adam steps on float round-off (g / (sqrt(v) + eps) with g ~ 1e-9), which differs between
# any two implementations.  Every output is unaffected (BN subtracts the bias again).
BIAS_BEFORE_BN = {wgan_gp: ("model.2.bias", "model.3.running_mean"),
                  sngan_hinge: ("model.0.bias", "model.1.running_mean"),
                  sngan_own_wrapper: ("model.0.bias", "model.1.running_mean")}


@pytest.mark.parametrize("script,shape", [(wgan_gp, (1, 4, 4)), (dcgan_tutorial, (1, 8, 8)),
                                          (sngan_hinge, (1, 8, 8)), (sngan_own_wrapper, (1, 8, 8))])
def test_script_losses_and_weights_match_pytorch(script, shape):
    """lr 0.01 in every script here, so that 3 steps move the weights well past float round-off."""
    batches = _batches(shape, latent_dim=4)
    torch.manual_seed(0)
    initial = {}

    def keep_initial(models):
        initial["models"] = [{k: v.clone() for k, v in m.state_dict().items()} for m in models]

    torch_losses, torch_models = script(torch, batches, sync=keep_initial, lr=0.01)[:2]

    def load_initial(models):
        for state, m in zip(initial["models"], models):
            result = m.load_state_dict(state)
            assert not result.missing_keys and not result.unexpected_keys

    sg_losses, sg_models = script(sg, batches, sync=load_initial, lr=0.01)[:2]
    assert len(sg_losses) == ITERS
    np.testing.assert_allclose(np.array(sg_losses), np.array(torch_losses), rtol=1e-4, atol=1e-5)
    for tm, sm in zip(torch_models, sg_models):
        tp, sp = _params(tm), _params(sm)
        assert list(tp) == list(sp)  # state_dict keys and order
        for k in tp:
            if k in BIAS_BEFORE_BN.get(script, ()):
                continue
            np.testing.assert_allclose(sp[k], tp[k], rtol=1e-3, atol=1e-5, err_msg=k)
