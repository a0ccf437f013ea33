"""Why the generator's loss is −log D(G(z)) and not log(1 − D(G(z))): the vanishing gradient.

Early in training D easily rejects the fakes, so D(G(z)) ≈ 0.  Write D's output as σ(a) for a
logit a.  The two generator losses of Goodfellow et al. (2014) are

    minimax          L = log(1 − σ(a))      dL/da = −σ(a)       → 0 as D(G(z)) → 0   (saturates)
    non-saturating   L = −log σ(a)          dL/da = σ(a) − 1    → −1 as D(G(z)) → 0

Every gradient G receives flows through dL/da, so with the minimax loss G learns nothing exactly
when it is worst.  This script computes both losses and their gradients with scratchgan's own
autograd (``objectives.generator_loss`` on logits, then ``.backward()``), checks them against the
formulas above, and plots them against D(G(z)) ∈ (0, 1).

    python demos/saturation.py --out runs/saturation
    python demos/saturation.py --train 2000    # also: real training, --loss minimax beside --loss ns

With ``--train N`` it also trains the ring8 GAN twice for N steps (``scratchgan.gan.train``, same seed, no
packing), once with each generator loss, and plots G's gradient norm (``grad_norm_G`` of metrics.csv)
and mean D(G(z)) against the step, side by side: the saturation in a real run.
"""
import argparse
import os

import numpy as np

import scratchgan as torch
from scratchgan.gan import objectives


def curves(p):
    """(loss, dloss/dlogit) of both generator losses at D(G(z)) = p, by autograd, one logit at a time."""
    out = {"minimax": ([], []), "nonsaturating": ([], [])}
    for kind, (values, grads) in out.items():
        for pi in p:
            a = torch.tensor([np.log(pi) - np.log1p(-pi)], dtype=torch.float64, requires_grad=True)  # logit
            loss = objectives.generator_loss(a, kind=kind)
            loss.backward()
            values.append(loss.item())
            grads.append(a.grad.item())
    return {k: (np.array(v), np.array(g)) for k, (v, g) in out.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description="the vanishing gradient of log(1 - D(G(z)))")
    parser.add_argument("--out", default="runs/saturation")
    parser.add_argument("--points", type=int, default=199)
    parser.add_argument("--train", type=int, default=0, metavar="STEPS",
                        help="also train ring8 with each loss for STEPS steps and plot G's gradient norm")
    args = parser.parse_args(argv)

    p = np.linspace(0.0, 1.0, args.points + 2)[1:-1]  # D(G(z)) strictly inside (0, 1)
    c = curves(p)
    mm_loss, ns_loss, mm_grad, ns_grad = objectives.saturation_curves(p)  # the closed forms
    assert np.allclose(c["minimax"][0], mm_loss) and np.allclose(c["nonsaturating"][0], ns_loss)
    assert np.allclose(c["minimax"][1], mm_grad) and np.allclose(c["nonsaturating"][1], ns_grad)

    print("D(G(z))   dL/da minimax   dL/da non-saturating")
    for q in (0.001, 0.01, 0.1, 0.5, 0.9):
        i = int(np.abs(p - q).argmin())
        print(f"{p[i]:7.3f}   {c['minimax'][1][i]:13.4f}   {c['nonsaturating'][1][i]:20.4f}")
    print("autograd matches the closed forms; near D(G(z)) = 0 the minimax gradient vanishes.")

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.6), dpi=100)
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    ax1.plot(p, c["minimax"][0], label="minimax: log(1 − D(G(z)))")
    ax1.plot(p, c["nonsaturating"][0], label="non-saturating: −log D(G(z))")
    ax1.set_ylim(-5, 5)
    ax1.set_title("generator loss")
    ax2.plot(p, c["minimax"][1], label="minimax: −D(G(z))")
    ax2.plot(p, c["nonsaturating"][1], label="non-saturating: D(G(z)) − 1")
    ax2.axvspan(0, 0.1, color="tab:red", alpha=0.1, label="early training: D rejects fakes")
    ax2.set_title("gradient w.r.t. D's logit (autograd)")
    for ax in (ax1, ax2):
        ax.set_xlabel("D(G(z))")
        ax.axhline(0, color="k", lw=0.5)
        ax.legend(fontsize=7)
    fig.tight_layout()
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "saturation.png")
    fig.savefig(path)
    print(f"picture: {path}")
    if args.train:
        side_by_side_training(args.train, args.out)
    return c


def side_by_side_training(steps, out):
    """ring8, --loss minimax and --loss ns from the same seed: G's gradient norm and D(G(z)) per step."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from scratchgan.gan.plotting import read_metrics_csv
    from scratchgan.gan.train import TrainConfig, train

    runs = {}
    for loss in ("minimax", "ns"):
        cfg = TrainConfig(data="ring8", loss=loss, steps=steps, batch_size=256, pack=1, seed=0, log_every=5,
                          checkpoint_every=0, sample_every=steps, quiet=True, out=os.path.join(out, f"train_{loss}"))
        runs[loss] = read_metrics_csv(os.path.join(train(cfg).out, "metrics.csv"))
        print(f"--loss {loss}: median ‖∇G‖ {np.median(runs[loss]['grad_norm_G']):.4g}, "
              f"final mean D(G(z)) {runs[loss]['D_G_z'][-1]:.3f}")
    fig = Figure(figsize=(9, 3.6), dpi=100)
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for loss, cols in runs.items():
        ax1.plot(cols["step"], np.maximum(cols["grad_norm_G"], 1e-12), lw=0.8, label=f"--loss {loss}")
        ax2.plot(cols["step"], cols["D_G_z"], lw=0.8, label=f"--loss {loss}")
    ax1.set_yscale("log")
    ax1.set_title("‖∇ loss_G‖ over G's weights (ring8)")
    ax2.set_title("mean D(G(z))")
    for ax in (ax1, ax2):
        ax.set_xlabel("step")
        ax.legend(fontsize=7)
    fig.tight_layout()
    path = os.path.join(out, "saturation_training.png")
    fig.savefig(path)
    print(f"picture: {path}")
    return runs


if __name__ == "__main__":
    main()
