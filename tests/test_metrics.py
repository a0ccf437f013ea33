import json
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from scratchgan.gan.metrics import (
    ModeCoverage,
    format_report,
    gaussian_1d_stats,
    mode_coverage,
    normal_cdf,
    to_dict,
    write_report,
)

# ring8 and grid25 as the spec defines them; built here so this file does not depend on data.py.
RING = np.stack([np.cos(2 * np.pi * np.arange(8) / 8), np.sin(2 * np.pi * np.arange(8) / 8)], axis=1)
RING_STD = 0.01
GRID = np.array([(a, b) for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)], dtype=float)
GRID_STD = 0.05


def test_perfect_samples_cover_all_modes_evenly():
    rng = np.random.default_rng(0)
    # 300 per mode with noise inside the square |dx|,|dy| <= std: distance <= sqrt(2) std < 3 std.
    x = np.repeat(RING, 300, axis=0) + rng.uniform(-RING_STD, RING_STD, size=(2400, 2))
    r = mode_coverage(x, RING, RING_STD)
    assert (r.modes, r.n_modes, r.high_quality_pct, r.n_samples) == (8, 8, 100.0, 2400)
    assert r.counts == (300,) * 8
    assert r.reverse_kl == pytest.approx(0.0, abs=1e-12)


def test_true_mixture_samples():
    rng = np.random.default_rng(1)
    for centers, std in ((RING, RING_STD), (GRID, GRID_STD)):
        x = centers[rng.integers(len(centers), size=2500)] + std * rng.standard_normal((2500, 2))
        r = mode_coverage(x, centers, std)
        assert r.modes == len(centers)
        # P(Rayleigh radius > 3 sigma) = exp(-9/2) ~ 1.1%, so about 98.9% are high quality.
        assert 98.0 < r.high_quality_pct < 99.7
        assert r.reverse_kl < 0.02  # multinomial noise: E[KL] ~ (k - 1) / (2 n)


def test_collapsed_generator_captures_one_mode():
    x = RING[3] + 0.5 * RING_STD * np.random.default_rng(2).standard_normal((2500, 2))
    r = mode_coverage(x, RING, RING_STD)
    assert r.modes == 1 and r.counts[3] > 0 and sum(r.counts) == r.counts[3]
    assert r.reverse_kl == pytest.approx(math.log(8))


def test_far_off_samples_are_never_high_quality():
    x = np.random.default_rng(3).uniform(-0.5, 0.5, size=(2500, 2))  # inside the ring, >= 50 std from any mode
    r = mode_coverage(x, RING, RING_STD)
    assert r.modes == 0 and r.high_quality_pct == 0.0 and math.isnan(r.reverse_kl)


def test_threshold_is_inclusive_and_half_split():
    # std 0.25: 3 std = 0.75 exactly in binary; the sample at distance 0.75 counts, the one at 1.0 does not.
    x = np.array([[0.5, 0.0], [0.75, 0.0], [1.0, 0.0]])
    r = mode_coverage(x, np.array([[0.0, 0.0], [10.0, 0.0]]), 0.25)
    assert r.counts == (2, 0) and r.high_quality_pct == pytest.approx(200 / 3)
    # Two of four modes evenly: KL = log 4 - log 2 = log 2.
    sq = np.array([[0.0, 0], [1, 0], [0, 1], [1, 1]])
    r = mode_coverage(sq[[0, 0, 1, 1]], sq, 0.01)
    assert r.modes == 2 and r.reverse_kl == pytest.approx(math.log(2))


@settings(max_examples=50, deadline=None)
@given(
    counts=st.lists(st.integers(0, 40), min_size=2, max_size=25).filter(lambda c: sum(c) > 0),
    seed=st.integers(0, 2**32 - 1),
)
def test_coverage_properties(counts, seed):
    k = len(counts)
    centers = np.stack([np.arange(k, dtype=float), np.zeros(k)], axis=1)
    x = np.repeat(centers, counts, axis=0)
    x = x[np.random.default_rng(seed).permutation(len(x))]
    r = mode_coverage(x, centers, 0.1)
    assert r.counts == tuple(counts) and r.modes == sum(c > 0 for c in counts)
    p = np.array([c for c in counts if c]) / sum(counts)
    assert r.reverse_kl == pytest.approx(math.log(k) + float(np.sum(p * np.log(p))), abs=1e-12)
    assert 0.0 <= r.reverse_kl <= math.log(k) + 1e-12


def test_mode_coverage_rejects_bad_shapes():
    with pytest.raises(ValueError, match="must be"):
        mode_coverage(np.zeros((5, 3)), RING, 0.1)
    with pytest.raises(ValueError, match="at least one"):
        mode_coverage(np.zeros((0, 2)), RING, 0.1)


def test_normal_cdf():
    assert normal_cdf(0.0) == 0.5
    np.testing.assert_allclose(normal_cdf([1.959963984540054, -1.0]), [0.975, 0.15865525393145707], rtol=1e-12)
    assert normal_cdf(12.0, mean=10.0, std=2.0) == pytest.approx(0.8413447460685429)


def test_ks_distance():
    rng = np.random.default_rng(4)
    good = gaussian_1d_stats(10 + 2 * rng.standard_normal(5000))
    assert good.ks < 0.03 and abs(good.mean - 10) < 0.1 and abs(good.std - 2) < 0.1
    wrong = gaussian_1d_stats(rng.standard_normal(5000))  # N(0, 1) against N(10, 4)
    assert wrong.ks > 0.99
    shifted = gaussian_1d_stats(11 + 2 * rng.standard_normal(5000))
    # sup |Phi(z) - Phi(z - 1/2)| = 2 Phi(1/4) - 1 = 0.197 for a half-sigma shift.
    assert shifted.ks == pytest.approx(0.1974, abs=0.03)
    assert gaussian_1d_stats([10.0, 10.0]).ks == pytest.approx(0.5)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-50, 50), min_size=2, max_size=60))
def test_ks_is_the_sup_over_the_empirical_jumps(xs):
    r = gaussian_1d_stats(xs, mean=1.0, std=3.0)
    x = np.sort(np.array(xs))
    # Brute force: |F_n - Phi| just before and at every sample (F_n right-continuous).
    fn_at = np.searchsorted(x, x, side="right") / len(x)
    fn_before = np.searchsorted(x, x, side="left") / len(x)
    cdf = normal_cdf(x, 1.0, 3.0)
    assert r.ks == pytest.approx(max(np.abs(fn_at - cdf).max(), np.abs(fn_before - cdf).max()), abs=1e-12)
    assert 0.0 <= r.ks <= 1.0


def test_reports(tmp_path):
    r = ModeCoverage(modes=0, n_modes=8, high_quality_pct=0.0, reverse_kl=math.nan, n_samples=10, counts=(0,) * 8)
    d = to_dict(r)
    assert d["reverse_kl"] is None and d["counts"] == [0] * 8
    path = write_report(tmp_path / "run", {"ring8": r, "step": np.int64(7), "loss": np.float32(0.5)})
    assert path == tmp_path / "run" / "metrics.json"
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["metrics.json"]
    back = json.loads(path.read_text())
    assert back["ring8"]["modes"] == 0 and back["step"] == 7 and back["loss"] == 0.5
    text = format_report(gaussian_1d_stats([9.0, 11.0]), title="gauss1d")
    assert text.startswith("gauss1d\n") and "ks: 0.3085" in text and "mean: 10" in text
