"""Mode collapse on the 5×5 grid of Gaussians, and four ways of training against it, side by side.

The target is 25 Gaussians (std 0.05) on a 5×5 grid.  Each variant below is `scratchgan train --data grid25`
with a few options changed, so it trains with the grid25 recipe (`scratchgan recipes`) and, for another
objective, with that objective's own defaults (optimiser, learning rates, D steps):

    plain GAN              --pack 1                    the standard GAN: D judges one sample at a time
    packed GAN (PacGAN)    the recipe as it is         D judges 4 samples at once and sees a lack of variety
    WGAN-GP                --loss wgan-gp --pack 1     a critic with a gradient penalty (Gulrajani et al. 2017)
    hinge + spectral norm  --loss hinge --spectral-norm --pack 1    (Miyato et al. 2018)

    python demos/mode_collapse.py                       # the recipe's length for each variant
    python demos/mode_collapse.py --steps 5000 --out runs/mode_collapse

Each panel shows 2,500 samples (noise seed 0) and the standard scores: a sample is high quality within
3 std of its nearest mode; a mode is captured when it has at least one high-quality sample.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from scratchgan.gan import cli  # noqa: E402
from scratchgan.gan.datasets import toy_dataset  # noqa: E402
from scratchgan.gan.plotting import save_scatter_panels  # noqa: E402
from scratchgan.gan.train import evaluate_samples, generate, models_from_checkpoint, train  # noqa: E402

VARIANTS = [
    ("plain GAN", ["--pack", "1"]),
    ("packed GAN (pack 4)", ["--pack", "4"]),
    ("WGAN-GP", ["--loss", "wgan-gp", "--pack", "1"]),
    ("hinge + spectral norm", ["--loss", "hinge", "--spectral-norm", "--pack", "1"]),
]


def _config(flags):
    """The TrainConfig that `scratchgan train FLAGS` would run, or None when this scratchgan lacks an option."""
    parser = cli.build_parser()
    try:
        args, unknown = parser.parse_known_args(["train", *flags])
        if unknown:
            return None
        return cli.config_from_args(args)
    except SystemExit:  # argparse refused a choice (e.g. a --loss this version does not have)
        return None


def main(argv=None):
    p = argparse.ArgumentParser(description="grid25: plain GAN, packed GAN, WGAN-GP, hinge + spectral norm")
    p.add_argument("--steps", type=int, help="generator steps per variant (default: the recipe's)")
    p.add_argument("--batch-size", type=int, help="samples per batch (default: the recipe's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/mode_collapse", help="folder for the four runs and the picture")
    p.add_argument("--picture", help="where the picture goes (default OUT/mode_collapse.png)")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)

    grid = toy_dataset("grid25")
    panels, results = [], {}
    for name, flags in VARIANTS:
        run = os.path.join(args.out, name.split(" (")[0].replace(" + ", "_").replace(" ", "_").lower())
        common = ["--data", "grid25", "--seed", str(args.seed), "--out", run, "--quiet"]
        if args.steps:  # and a handful of progress pictures, not one a step on a tiny run
            common += ["--steps", str(args.steps), "--sample-every", str(max(1, args.steps // 4))]
        if args.batch_size:
            common += ["--batch-size", str(args.batch_size)]
        config = _config([*common, *flags])
        if config is None:
            print(f"{name}: skipped (this scratchgan has no `{' '.join(flags)}`)")
            continue
        if not args.quiet:
            print(f"{name}: scratchgan train {' '.join([*common, *flags])}", flush=True)
        result = train(config, overwrite=True)  # a rerun of the demo replaces its own runs
        G, _, nz, _ = models_from_checkpoint(result.checkpoint)
        samples = generate(G, 2500, nz, seed=0)
        score = evaluate_samples(samples, grid)
        results[name] = score
        print(f"{name}: {score.modes}/25 modes, {score.high_quality_pct:.1f} % high quality, "
              f"reverse KL {score.reverse_kl:.3f} ({result.step} steps, {result.seconds:.0f} s)", flush=True)
        panels.append((samples, f"{name}, {result.step} steps\n{score.modes}/25 modes, "
                                f"{score.high_quality_pct:.1f} % high quality"))
    path = save_scatter_panels(panels, args.picture or os.path.join(args.out, "mode_collapse.png"),
                               centers=grid.centers, std=grid.std)
    print(f"picture: {path}")
    return results


if __name__ == "__main__":
    main()
