"""GAN losses: formulas, stability at extreme logits, and the saturation of log(1 − D(G(z)))."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import scratchgan as sg
from scratchgan import losses, nn
from scratchgan.gan import objectives
from tests.gradcheck import check_backward


def sigmoid(a):
    return np.exp(-np.logaddexp(0.0, -np.asarray(a, dtype=np.float64)))  # 1/(1+e⁻ᵃ) without overflow


def logit_grad(fn, a, dtype=sg.float64):
    x = sg.tensor(np.atleast_1d(np.asarray(a, dtype=np.float64)), dtype=dtype, requires_grad=True)
    fn(x).backward()
    return x.grad.numpy()


@given(a=st.floats(-30, 30))
def test_generator_losses_match_their_formulas(a):
    x = sg.tensor([a], dtype=sg.float64)
    # log(1 − σ(a)) = −log(1 + eᵃ),  −log σ(a) = log(1 + e⁻ᵃ), evaluated in high precision by math
    assert math.isclose(objectives.generator_loss(x, "minimax").item(), -math.log1p(math.exp(a)), rel_tol=1e-12)
    assert math.isclose(objectives.generator_loss(x, "nonsaturating").item(), math.log1p(math.exp(-a)), rel_tol=1e-12)


@given(a=st.floats(-40, -5))
def test_saturation_minimax_flat_nonsaturating_not(a):
    """As D(G(z)) → 0 (logit a → −∞): d/da log(1 − σ(a)) = −σ(a) → 0 but d/da −log σ(a) = σ(a) − 1 → −1."""
    g_minimax = logit_grad(lambda x: objectives.generator_loss(x, "minimax"), a)[0]
    g_ns = logit_grad(lambda x: objectives.generator_loss(x, "nonsaturating"), a)[0]
    assert math.isclose(g_minimax, -sigmoid(a), rel_tol=1e-9)
    assert abs(g_minimax) < 7e-3           # flat: G learns nothing from a confident D
    assert abs(g_ns + 1) < 7e-3            # steep: full-size gradient
    assert abs(g_ns) > 100 * abs(g_minimax)


def test_saturation_gets_worse_monotonically():
    grads = [abs(logit_grad(lambda x: objectives.generator_loss(x, "minimax"), a)[0]) for a in (-2, -5, -10, -20, -40)]
    assert all(g1 > g2 for g1, g2 in zip(grads, grads[1:])) and grads[-1] < 1e-16


@given(x=hnp.arrays(np.float32, st.integers(1, 8), elements=st.floats(-1e4, 1e4, width=32)),
       y=st.sampled_from([0.0, 1.0, 0.9]))
def test_bce_with_logits_is_finite_with_correct_gradients_at_extreme_logits_float32(x, y):
    t = sg.tensor(x, requires_grad=True)
    loss = losses.bce_with_logits(t, y, reduction="sum")
    assert loss.dtype == np.float32 and np.isfinite(loss.item())
    loss.backward()
    g = t.grad.numpy()
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g, sigmoid(x.astype(np.float64)) - y, atol=1e-6)
    expected = np.maximum(x, 0).astype(np.float64) - x * y + np.log1p(np.exp(-np.abs(x.astype(np.float64))))
    np.testing.assert_allclose(loss.item(), expected.sum(), rtol=1e-5, atol=1e-3)


def test_bce_with_logits_extremes_exact():
    x = sg.tensor([1e4, -1e4, 0.0], requires_grad=True)
    loss = losses.bce_with_logits(x, sg.tensor([0.0, 1.0, 1.0]), reduction="none")
    np.testing.assert_allclose(loss.detach().numpy(), [1e4, 1e4, math.log(2)], rtol=1e-6)


def test_bce_on_probabilities_clamps_log_like_pytorch():
    p = sg.tensor([0.0, 1.0, 0.5], requires_grad=True)
    loss = losses.bce(p, sg.tensor([1.0, 0.0, 1.0]), reduction="none")
    np.testing.assert_allclose(loss.detach().numpy(), [100.0, 100.0, math.log(2)], rtol=1e-6)
    loss.sum().backward()
    assert np.all(np.isfinite(p.grad.numpy()))
    with pytest.raises(ValueError, match="between 0 and 1"):
        losses.bce(sg.tensor([1.5]), 1.0)


@pytest.mark.parametrize("kind", ["nonsaturating", "minimax"])
def test_loss_gradients_finite_differences(device, kind):
    rng = np.random.default_rng(0)
    a, b, y = rng.normal(0, 3, 6), rng.normal(0, 3, 6), rng.uniform(0, 1, 6)
    check_backward(lambda x: objectives.generator_loss(x, kind), [a], device)
    check_backward(lambda r, f: objectives.discriminator_loss(r, f, real_label=0.9), [a, b], device)
    check_backward(lambda x, t: losses.bce_with_logits(x, t), [a, y], device)
    check_backward(lambda p, t: losses.bce(p, t), [sigmoid(a), y], device)


def test_discriminator_loss_formula_and_label_smoothing():
    r, f = np.array([2.0, -1.0]), np.array([0.5, -3.0])
    val = objectives.discriminator_loss(sg.tensor(r, dtype=sg.float64), sg.tensor(f, dtype=sg.float64), 0.9).item()
    expected = np.mean(-(0.9 * np.log(sigmoid(r)) + 0.1 * np.log(1 - sigmoid(r)))) + np.mean(-np.log(1 - sigmoid(f)))
    assert math.isclose(val, expected, rel_tol=1e-12)


def test_loss_shape_mismatch_is_an_error_not_a_broadcast():
    with pytest.raises(ValueError, match=r"\(128,\).*\(128, 1\)"):
        nn.BCEWithLogitsLoss()(sg.randn(128, 1), sg.ones(128))


def test_gan_loss_teaching_helper():
    assert math.isclose(objectives.gan_loss(0.5, 0.5), 2 * math.log(2))
    assert math.isclose(objectives.gan_loss(0.9, 0.2), -math.log(0.9) - math.log(0.8))
    for bad in (0.0, 1.0, -0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="must be strictly between 0 and 1"):
            objectives.gan_loss(bad, 0.5)
        with pytest.raises(ValueError, match="must be strictly between 0 and 1"):
            objectives.gan_loss(0.5, bad)


def test_unknown_generator_loss_kind():
    with pytest.raises(ValueError, match="minimax"):
        objectives.generator_loss(sg.zeros(1), "wasserstein")
