"""The ``scratchgan`` command (also ``python -m scratchgan``).

    scratchgan train                       the quick default: the 8-Gaussian ring (a few minutes)
    scratchgan train --data mnist --model dcgan --epochs 5 --out runs/mnist
    scratchgan train --resume runs/mnist/checkpoint.npz --epochs 10
    scratchgan train --data fashion-mnist --dry-run
    scratchgan sample --checkpoint runs/ring8/checkpoint.npz --n 2500 --out samples.npy
    scratchgan evaluate --samples samples.npy --data ring8
    scratchgan recipes

Every dataset has a recipe (``scratchgan.recipes``); options given on the command line override it.
"""
from __future__ import annotations

import argparse
import secrets
import sys
from pathlib import Path

__all__ = ["main", "build_parser", "config_from_args"]

EXIT_INTERRUPTED = 130

# Options of `train` that a resumed run may change; everything else comes from the checkpoint.
RESUME_OVERRIDABLE = {"steps", "epochs", "out", "checkpoint_every", "sample_every", "log_every", "device", "quiet",
                      "data_dir"}


def _positive_int(s: str) -> int:
    v = int(s)
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {s}")
    return v


def _nonneg_int(s: str) -> int:
    v = int(s)
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {s}")
    return v


def build_parser() -> argparse.ArgumentParser:
    from .train import IMAGE_DATASETS, TOY_DATASETS  # noqa: PLC0415

    p = argparse.ArgumentParser(prog="scratchgan", description="Train and sample GANs built on scratchgan's "
                                "from-scratch autograd engine.",
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="Run `scratchgan train` for the quick default (the 8-Gaussian ring).")
    sub = p.add_subparsers(dest="command", metavar="{train,sample,evaluate,recipes}")

    S = argparse.SUPPRESS  # options left out stay out of the namespace: the recipe (or checkpoint) decides
    t = sub.add_parser("train", help="train a GAN (default: the 8-Gaussian ring)", argument_default=S,
                       description="Train a GAN.  Every dataset has a default recipe (see `scratchgan recipes`); "
                                   "the options below override it.  Everything goes into --out: metrics.csv, "
                                   "progress pictures, losses.png, checkpoint.npz, eval.json (toy data).")
    names = ", ".join((*TOY_DATASETS, *IMAGE_DATASETS))
    t.add_argument("--data", metavar="NAME|PATH", help=f"{names}, or a folder of IDX image files (default ring8)")
    t.add_argument("--model", choices=("mlp", "dcgan"), help="image data: mlp or dcgan (toy data: toy MLPs)")
    length = t.add_mutually_exclusive_group()
    length.add_argument("--steps", type=_positive_int, help="generator updates")
    length.add_argument("--epochs", type=_positive_int, help="passes over the real data")
    t.add_argument("--loss", choices=("ns", "minimax"), help="generator loss: non-saturating or minimax")
    t.add_argument("--batch-size", type=_positive_int, dest="batch_size")
    t.add_argument("--lr", type=float, help="learning rate (G, and D unless --lr-d)")
    t.add_argument("--lr-d", type=float, dest="lr_d", help="D's learning rate")
    t.add_argument("--betas", type=float, nargs=2, metavar=("B1", "B2"), help="Adam betas")
    t.add_argument("--lr-decay", type=float, dest="lr_decay", metavar="FRACTION",
                   help="decay both lrs linearly to 0 over this last fraction of the run (0 = off)")
    t.add_argument("--d-steps", type=_positive_int, dest="d_steps", help="D updates per G update")
    t.add_argument("--label-smoothing", type=float, dest="label_smoothing", metavar="S",
                   help="one-sided label smoothing: real label 1 - S")
    t.add_argument("--pack", type=_positive_int, metavar="M", help="PacGAN: D judges M samples at once")
    t.add_argument("--nz", type=_positive_int, help="latent size")
    t.add_argument("--hidden", type=_positive_int, help="toy MLP width")
    t.add_argument("--depth", type=_positive_int, help="toy MLP hidden layers")
    t.add_argument("--ngf", type=_positive_int, help="DCGAN generator width")
    t.add_argument("--ndf", type=_positive_int, help="DCGAN discriminator width")
    t.add_argument("--seed", type=int, help="random seed (default: a random one, printed)")
    t.add_argument("--device", help="auto (cuda if available), cpu or cuda")
    t.add_argument("--out", metavar="DIR", help="run folder (default runs/<data>)")
    t.add_argument("--resume", metavar="CKPT", help="continue from a checkpoint.npz (or its run folder)")
    t.add_argument("--data-dir", dest="data_dir", metavar="DIR", help="folder holding the dataset's IDX files")
    t.add_argument("--checkpoint-every", type=_nonneg_int, dest="checkpoint_every", metavar="N",
                   help="steps between checkpoints (0: only at the end)")
    t.add_argument("--sample-every", type=_positive_int, dest="sample_every", metavar="N",
                   help="steps between progress pictures (default: each epoch; 10 per run for toy data)")
    t.add_argument("--log-every", type=_positive_int, dest="log_every", metavar="N", help="steps between metrics.csv rows")
    t.add_argument("--dry-run", action="store_true", dest="dry_run",
                   help="a few steps on tiny fake data, end to end: a smoke test to run first")
    t.add_argument("--quiet", action="store_true", help="no progress bar or progress lines")

    s = sub.add_parser("sample", help="draw samples from a trained generator into a .npy file")
    s.add_argument("--checkpoint", required=True, metavar="CKPT")
    s.add_argument("--n", type=_positive_int, default=2500, help="number of samples (default 2500)")
    s.add_argument("--out", required=True, metavar="FILE.npy")
    s.add_argument("--seed", type=int, default=None, help="noise seed (default: a random one, printed)")
    s.add_argument("--device", default="auto")

    e = sub.add_parser("evaluate", help="mode coverage (2-D mixtures) or mean/std/KS (1-D) of samples")
    src = e.add_mutually_exclusive_group(required=True)
    src.add_argument("--samples", metavar="FILE.npy", help="samples written by `scratchgan sample`")
    src.add_argument("--checkpoint", metavar="CKPT", help="draw --n fresh samples from this checkpoint")
    e.add_argument("--data", help="the target (toy datasets only; default: the checkpoint's)")
    e.add_argument("--n", type=_positive_int, default=2500)
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--device", default="auto")

    sub.add_parser("recipes", help="list the default recipe of every dataset")
    return p


def config_from_args(args: argparse.Namespace):
    """A TrainConfig: the checkpoint's (when resuming) or the dataset's recipe, then the options given."""
    from . import recipes  # noqa: PLC0415
    from .train import TrainConfig, config_from_checkpoint  # noqa: PLC0415

    given = {k: v for k, v in vars(args).items() if k != "command"}
    if "betas" in given:
        given["betas"] = tuple(given["betas"])
    if "resume" in given:
        resume = given.pop("resume")
        saved = config_from_checkpoint(resume)
        fixed = sorted(k for k in set(given) - RESUME_OVERRIDABLE if getattr(saved, k) != given[k])
        if fixed:
            opts = ", ".join("--" + k.replace("_", "-") for k in fixed)
            allowed = ", ".join("--" + k.replace("_", "-") for k in sorted(RESUME_OVERRIDABLE))
            raise ValueError(f"{opts}: cannot change when resuming (a resumed run keeps its checkpoint's config; "
                             f"only {allowed} may change)")
        cfg = config_from_checkpoint(resume, **{k: v for k, v in given.items() if k in RESUME_OVERRIDABLE})
        if "out" not in given:
            cfg.out = str(Path(cfg.resume).parent)
        return cfg
    data = given.get("data", "ring8")
    dry_run = given.get("dry_run", False)
    fields = dict(recipes.recipe(data, given.get("model")), data=data)
    if dry_run:  # tiny everything: a smoke test that takes seconds
        fields.update(steps=4, epochs=None, batch_size=16, checkpoint_every=2, sample_every=2, log_every=1,
                      eval_samples=500, toy_size=512, ngf=8, ndf=8, hidden=16)
        if fields.get("pack", 1) > 1:
            fields["pack"] = 2
    if "steps" in given:
        fields["epochs"] = None
    if "epochs" in given:
        fields["steps"] = None
    fields.update(given)
    fields.setdefault("out", recipes.default_out(data, dry_run))
    return TrainConfig(**fields)


def _cmd_train(args) -> int:
    from .checkpoint import load_checkpoint  # noqa: PLC0415
    from .train import NonFiniteLossError, generate, models_from_checkpoint, train  # noqa: PLC0415

    config = config_from_args(args)
    try:
        result = train(config)
    except NonFiniteLossError as e:
        print(f"scratchgan: {e}", file=sys.stderr)
        return 1
    if result.interrupted:
        return EXIT_INTERRUPTED
    if config.dry_run:  # check the checkpoint end to end: it loads, rebuilds G and samples
        ckpt = load_checkpoint(result.checkpoint)
        G, _, nz, _ = models_from_checkpoint(result.checkpoint, device=config.device)
        x = generate(G, 4, nz, seed=0, device=next(G.parameters()).device)
        print(f"dry run OK: {ckpt.step} steps, checkpoint {result.checkpoint} loads, samples of shape "
              f"{x.shape[1:]}; pictures in {result.out}.  Now run it for real without --dry-run.")
    return 0


def _cmd_sample(args) -> int:
    import numpy as np  # noqa: PLC0415

    from .train import generate, models_from_checkpoint  # noqa: PLC0415

    seed = args.seed
    if seed is None:
        seed = secrets.randbelow(2**31)
        print(f"seed: {seed} (pass --seed {seed} to draw the same samples)")
    G, _, nz, config = models_from_checkpoint(args.checkpoint, device=args.device)
    x = generate(G, args.n, nz, seed=seed, device=next(G.parameters()).device)
    out = Path(args.out)
    if out.suffix != ".npy":
        out = out.with_name(out.name + ".npy")  # what np.save would do silently
    out.parent.mkdir(parents=True, exist_ok=True)
    np.save(out, x.astype(np.float32))
    print(f"wrote {len(x)} samples of shape {x.shape[1:]} ({config.data}) to {out}")
    return 0


def _cmd_evaluate(args) -> int:
    import numpy as np  # noqa: PLC0415

    from . import data as datasets  # noqa: PLC0415
    from . import metrics  # noqa: PLC0415
    from .train import evaluate_samples, generate, models_from_checkpoint  # noqa: PLC0415

    name = args.data
    if args.checkpoint:
        G, _, nz, config = models_from_checkpoint(args.checkpoint, device=args.device)
        name = name or config.data
        x = generate(G, args.n, nz, seed=args.seed, device=next(G.parameters()).device)
        source = f"{args.n} samples from {args.checkpoint} (seed {args.seed})"
    else:
        if not name:
            raise ValueError("evaluate --samples needs --data (ring8, grid25 or gauss1d)")
        x = np.load(args.samples, allow_pickle=False)
        source = f"{len(x)} samples from {args.samples}"
    target = datasets.toy_dataset(name)
    if x.ndim != 2 or x.shape[1] != target.dim:
        raise ValueError(f"{source}: shape {x.shape} is not (N, {target.dim}) for {name}")
    print(metrics.format_report(evaluate_samples(x, target), f"{name}: {source}"))
    return 0


def _cmd_recipes(args) -> int:
    from .recipes import describe  # noqa: PLC0415

    print(describe())
    return 0


def main(argv=None) -> int:
    from .checkpoint import CheckpointError  # noqa: PLC0415
    from .data import DatasetNotFoundError, IDXError  # noqa: PLC0415

    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    handler = {"train": _cmd_train, "sample": _cmd_sample, "evaluate": _cmd_evaluate, "recipes": _cmd_recipes}
    try:
        return handler[args.command](args)
    except KeyboardInterrupt:  # outside the training loop (which saves and returns by itself)
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (CheckpointError, DatasetNotFoundError, IDXError, ValueError, RuntimeError, OSError) as e:
        print(f"scratchgan {args.command}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
