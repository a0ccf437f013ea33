"""Pictures of a run: sample grids, 2-D scatters, 1-D histograms and loss curves (PNG files).

Host-side only: every function takes NumPy arrays and writes one PNG, atomically.  Figures are
drawn with matplotlib's Agg canvas directly (``matplotlib.figure.Figure`` +
``FigureCanvasAgg``), never through ``pyplot``, so nothing here changes the
matplotlib backend of a notebook or script that imports scratchgan, and nothing
needs a display.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .runs import atomic_write

__all__ = ["image_grid", "save_image_grid", "save_scatter_2d", "save_scatter_panels", "save_histogram_1d",
           "save_loss_curves", "read_metrics_csv", "save_samples_picture"]


def _save(fig: Figure, path) -> Path:
    """Written atomically (``runs.atomic_write``): a picture is the old one or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format=path.suffix[1:] or "png")
    return path


def image_grid(images, nrow: int | None = None, padding: int = 2, pad_value: float = 1.0) -> np.ndarray:
    """Tile (N, C, H, W) images in [-1, 1] into one (rows·H', cols·W', C) array in [0, 1]
    (like torchvision's ``make_grid(normalize=True, value_range=(-1, 1))``)."""
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4:
        raise ValueError(f"image_grid: expected images (N, C, H, W), got shape {x.shape}")
    n, c, h, w = x.shape
    nrow = nrow or int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / nrow))
    x = np.clip((x + 1.0) / 2.0, 0.0, 1.0)
    grid = np.full((rows * (h + padding) + padding, nrow * (w + padding) + padding, c), pad_value, np.float32)
    for i in range(n):
        r, col = divmod(i, nrow)
        top, left = padding + r * (h + padding), padding + col * (w + padding)
        grid[top:top + h, left:left + w] = x[i].transpose(1, 2, 0)
    return grid


def save_image_grid(images, path, nrow: int | None = None, scale: int = 2) -> Path:
    """A PNG of the image grid, each pixel ``scale``×``scale`` (gray for one channel).  Written as plain
    pixels (``matplotlib.image.imsave``), with no figure to lay out: fast enough for every epoch."""
    from matplotlib.image import imsave  # noqa: PLC0415

    grid = image_grid(images, nrow)
    if scale > 1:
        grid = grid.repeat(scale, axis=0).repeat(scale, axis=1)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if grid.shape[2] == 1:
        imsave(path, grid[:, :, 0], cmap="gray", vmin=0.0, vmax=1.0)
    else:
        imsave(path, grid)
    return path


def save_scatter_2d(samples, path, centers=None, std: float | None = None, title: str | None = None,
                    target=None) -> Path:
    """Generated 2-D points over the target: its modes (and 3-std circles) or a cloud of real samples."""
    fig = Figure(figsize=(4.2, 4.2), dpi=100)
    _draw_scatter_2d(fig.add_subplot(1, 1, 1), samples, centers, std, title, target)
    fig.tight_layout()
    return _save(fig, path)


def save_scatter_panels(panels, path, centers=None, std: float | None = None) -> Path:
    """Several 2-D sample sets side by side, one scatter each over the same modes: ``panels`` is a list of
    (samples, title)."""
    fig = Figure(figsize=(3.6 * len(panels), 3.9), dpi=100)
    for i, (samples, title) in enumerate(panels):
        _draw_scatter_2d(fig.add_subplot(1, len(panels), i + 1), samples, centers, std, title)
    fig.tight_layout()
    return _save(fig, path)


def _draw_scatter_2d(ax, samples, centers=None, std=None, title=None, target=None):
    x = np.asarray(samples, dtype=np.float64).reshape(len(samples), -1)
    if target is not None:
        t = np.asarray(target)
        ax.scatter(t[:, 0], t[:, 1], s=2, c="tab:gray", alpha=0.3, label="real", linewidths=0)
    ax.scatter(x[:, 0], x[:, 1], s=3, c="tab:blue", alpha=0.5, label="generated", linewidths=0)
    if centers is not None:
        c = np.asarray(centers)
        ax.scatter(c[:, 0], c[:, 1], s=30, marker="x", c="tab:red", label="modes")
        if std:
            for cx, cy in c:
                ax.add_patch(_circle((cx, cy), 3 * std))
        span = np.abs(c).max() + max(0.5, 0.25 * np.abs(c).max())
        ax.set_xlim(-span, span)
        ax.set_ylim(-span, span)
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=7, markerscale=2)
    if title:
        ax.set_title(title, fontsize=9)


def _circle(center, radius):
    from matplotlib.patches import Circle  # noqa: PLC0415

    return Circle(center, radius, fill=False, color="tab:red", linewidth=0.6)


def save_histogram_1d(samples, path, mean: float | None = None, std: float | None = None, title: str | None = None,
                      d_curve: tuple | None = None) -> Path:
    """Histogram of 1-D samples over the N(mean, std²) density; optionally D(x) = d_curve[1] at x = d_curve[0]."""
    x = np.asarray(samples, dtype=np.float64).ravel()
    fig = Figure(figsize=(5.5, 3.6), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    lo, hi = np.percentile(x, [0.5, 99.5]) if x.size else (0.0, 1.0)
    if mean is not None and std is not None:
        lo, hi = min(lo, mean - 4 * std), max(hi, mean + 4 * std)
    ax.hist(x, bins=60, range=(lo, hi), density=True, color="tab:blue", alpha=0.6, label="generated")
    if mean is not None and std is not None:
        t = np.linspace(lo, hi, 400)
        ax.plot(t, np.exp(-0.5 * ((t - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi)), c="k", lw=1.5,
                label=f"target N({mean:g}, {std:g}²)")
    ax.set_xlabel("x")
    ax.set_ylabel("density")
    if d_curve is not None:
        ax2 = ax.twinx()
        ax2.plot(d_curve[0], d_curve[1], c="tab:red", lw=1.2, label="D(x)")
        ax2.set_ylim(0, 1)
        ax2.set_ylabel("D(x)", color="tab:red")
        ax2.legend(loc="upper right", fontsize=8)
    ax.legend(loc="upper left", fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def read_metrics_csv(path) -> dict[str, np.ndarray]:
    """Columns of a run's metrics.csv as float arrays ({} for an empty log).  A row cut short by a killed
    write (missing or unreadable values) is skipped."""
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames or []
        rows = []
        for r in reader:
            try:
                rows.append([float(r[k]) for k in fields])
            except (TypeError, ValueError):
                continue
    if not rows:
        return {}
    return dict(zip(fields, np.array(rows, dtype=np.float64).T))


def save_loss_curves(metrics, path, title: str | None = None) -> Path:
    """Loss curves (top), mean D(x), D(G(z)) (middle) and, when logged, the gradient norms of G's and D's
    parameters (bottom, log scale) against the step, from metrics.csv or its columns.

    The gradient panel shows what the losses hide: with ``--loss minimax`` G's gradient norm collapses as
    soon as D wins (log(1 − D(G(z))) saturates), with ``--loss ns`` it does not."""
    cols = read_metrics_csv(metrics) if isinstance(metrics, (str, Path)) else metrics
    grads = bool(cols) and "grad_norm_G" in cols and bool(np.isfinite(cols["grad_norm_G"]).any())
    fig = Figure(figsize=(6.0, 6.6 if grads else 4.8), dpi=100)
    n = 3 if grads else 2
    ax1, ax2 = fig.add_subplot(n, 1, 1), fig.add_subplot(n, 1, 2)
    probabilities = True
    if cols:
        step = cols["step"]
        for key, label in (("loss_D", "loss D"), ("loss_G", "loss G")):
            ax1.plot(step, cols[key], lw=0.8, label=label)
        for key, label in (("D_x", "mean D(x)"), ("D_G_z", "mean D(G(z))")):
            ax2.plot(step, cols[key], lw=0.8, label=label)
        probabilities = bool(((cols["D_x"] >= 0) & (cols["D_x"] <= 1)).all() and
                             ((cols["D_G_z"] >= 0) & (cols["D_G_z"] <= 1)).all())
    ax1.set_ylabel("loss")
    ax1.legend(fontsize=8)
    ax2.set_ylabel("D output" if probabilities else "critic score")
    if probabilities:
        ax2.set_ylim(0, 1)
    ax2.legend(fontsize=8)
    if grads:
        ax3 = fig.add_subplot(n, 1, 3)
        for key, label in (("grad_norm_G", "‖∇ loss G‖ over G's weights"),
                           ("grad_norm_D", "‖∇ loss D‖ over D's weights")):
            ax3.plot(step, np.maximum(cols[key], 1e-12), lw=0.8, label=label)
        ax3.set_yscale("log")
        ax3.set_ylabel("gradient norm")
        ax3.legend(fontsize=8)
    fig.axes[-1].set_xlabel("step")
    if title:
        ax1.set_title(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def save_samples_picture(samples, path, target=None, title: str | None = None) -> Path:
    """The right picture for the data: an image grid, a 2-D scatter over the modes, or a 1-D histogram.

    ``target`` is a ``scratchgan.gan.datasets.GaussianMixture`` for toy data (None for images).
    """
    x = np.asarray(samples)
    if x.ndim == 4:
        return save_image_grid(x, path)
    if target is not None and target.dim == 1:
        return save_histogram_1d(x, path, mean=float(target.centers[0, 0]), std=float(target.std), title=title)
    if target is not None and target.dim == 2:
        return save_scatter_2d(x, path, centers=target.centers, std=target.std, title=title)
    raise ValueError(f"save_samples_picture: cannot draw samples of shape {x.shape} with target {target!r}")
