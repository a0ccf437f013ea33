"""Sample-quality metrics for the toy distributions, and report helpers (print / JSON into a run folder)."""
from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .runs import atomic_write


@dataclass(frozen=True)
class ModeCoverage:
    """Result of mode_coverage(); `counts[j]` is the number of high-quality samples assigned to mode j."""

    modes: int  # modes captured (>= 1 high-quality sample)
    n_modes: int
    high_quality_pct: float  # percent of all samples that are high quality, in [0, 100]
    reverse_kl: float  # KL(p_hat || uniform) in nats, in [0, log n_modes]; nan when no sample is high quality
    n_samples: int
    counts: tuple[int, ...]


def mode_coverage(samples, centers, std: float, threshold: float = 3.0) -> ModeCoverage:
    """Mode coverage of 2-D (or any d) samples against an equal-weight mixture with modes `centers` (k, d).

    Each sample goes to its nearest mode (Euclidean); it is high quality when that distance is <= threshold*std.
    Mode j is captured when it has at least one high-quality sample. With c_j those counts and
    p_j = c_j / sum(c), reverse_kl = KL(p || U_k) = sum_j p_j log(k p_j) = log k - H(p), using 0 log 0 = 0:
    0 for a perfectly even spread, log k when every high-quality sample sits on one mode. "Reverse" because the
    generator's distribution is the first argument (as in VEEGAN/PacGAN); the uniform target has full support,
    so the value is always finite.
    """
    x = np.asarray(samples, dtype=np.float64)
    c = np.asarray(centers, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or c.ndim != 2 or x.shape[1] != c.shape[1]:
        raise ValueError(f"samples {x.shape} and centers {c.shape} must be (n, d) and (k, d)")
    n, k = x.shape[0], c.shape[0]
    if n == 0:
        raise ValueError("mode_coverage needs at least one sample")
    # (n, k) squared distances by direct differences (exact, no |x|^2 - 2x.c + |c|^2 cancellation);
    # memory n*k*d floats, small for the few thousand samples and <= 25 modes this is used on.
    d2 = np.square(x[:, None, :] - c[None, :, :]).sum(axis=2)
    nearest = d2.argmin(axis=1)
    dist = np.sqrt(d2[np.arange(n), nearest])
    high = dist <= threshold * std
    counts = np.bincount(nearest[high], minlength=k)
    total = counts.sum()
    if total:
        p = counts[counts > 0] / total
        reverse_kl = float(max(math.log(k) + np.sum(p * np.log(p)), 0.0))  # clamp -1e-16 rounding
    else:
        reverse_kl = math.nan
    return ModeCoverage(
        modes=int((counts > 0).sum()),
        n_modes=k,
        high_quality_pct=100.0 * float(high.mean()),
        reverse_kl=reverse_kl,
        n_samples=n,
        counts=tuple(int(v) for v in counts),
    )


@dataclass(frozen=True)
class Gaussian1DStats:
    """Sample mean and std (ddof=1) and the Kolmogorov-Smirnov distance to N(target_mean, target_std^2)."""

    mean: float
    std: float
    ks: float
    n_samples: int
    target_mean: float
    target_std: float


# Phi(z) = (1 + erf(z / sqrt 2)) / 2. NumPy has no erf and scipy is not a dependency: frompyfunc maps math.erf
# element-wise in C (exact to double precision, no Python-level loop over samples).
_erf = np.frompyfunc(math.erf, 1, 1)


def normal_cdf(x, mean: float = 0.0, std: float = 1.0) -> np.ndarray:
    z = (np.asarray(x, dtype=np.float64) - mean) / (std * math.sqrt(2.0))
    return 0.5 * (1.0 + np.asarray(_erf(z), dtype=np.float64))


def gaussian_1d_stats(samples, mean: float = 10.0, std: float = 2.0) -> Gaussian1DStats:
    """Stats of 1-D samples against N(mean, std^2).

    KS distance D = sup_x |F_n(x) - Phi(x)|; for sorted x_(1..n) the sup is attained at a jump of F_n:
    D = max_i max(i/n - Phi(x_(i)), Phi(x_(i)) - (i-1)/n). For true samples D ~ 0.87/sqrt(n) on average.
    """
    x = np.sort(np.asarray(samples, dtype=np.float64).ravel())
    n = x.size
    if n < 2:
        raise ValueError("gaussian_1d_stats needs at least two samples")
    cdf = normal_cdf(x, mean, std)
    i = np.arange(1, n + 1)
    ks = float(max((i / n - cdf).max(), (cdf - (i - 1) / n).max()))
    return Gaussian1DStats(float(x.mean()), float(x.std(ddof=1)), ks, n, float(mean), float(std))


# ----------------------------------------------------------------------------- reports


def to_dict(result) -> dict:
    """Plain JSON-safe dict from a result dataclass or mapping: NumPy scalars/arrays become Python values,
    non-finite floats become None (JSON has no NaN)."""
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        result = dataclasses.asdict(result)
    return {str(k): _jsonable(v) for k, v in dict(result).items()}


def _jsonable(v):
    if isinstance(v, dict) or (dataclasses.is_dataclass(v) and not isinstance(v, type)):
        return to_dict(v)
    if isinstance(v, np.ndarray):
        return _jsonable(v.tolist())
    if isinstance(v, (list, tuple)):
        return [_jsonable(e) for e in v]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, Path):
        return str(v)
    return v


def format_report(result, title: str | None = None) -> str:
    """Human-readable 'key: value' lines, floats to 4 significant digits."""
    lines = [title] if title else []
    for k, v in to_dict(result).items():
        if isinstance(v, float):
            v = f"{v:.4g}"
        elif isinstance(v, list) and len(v) > 12:
            v = f"[{', '.join(map(str, v[:12]))}, ...] ({len(v)} values)"
        lines.append(f"  {k}: {v}" if title else f"{k}: {v}")
    return "\n".join(lines)


def write_report(run_dir: str | os.PathLike, result, filename: str = "metrics.json") -> Path:
    """Write to_dict(result) as JSON into run_dir/filename (atomic: temp file + os.replace); return the path."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / filename
    with atomic_write(path) as f:
        json.dump(to_dict(result), f, indent=2, sort_keys=True, allow_nan=False)
        f.write("\n")
    return path
