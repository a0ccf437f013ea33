"""The ``scratchgan`` command (also ``python -m scratchgan``).

    scratchgan train                       the quick default: the 8-Gaussian ring (a few minutes)
    scratchgan train --data mnist --model dcgan --epochs 5 --out runs/mnist
    scratchgan train --resume runs/mnist/checkpoint.npz --epochs 10
    scratchgan train --data fashion-mnist --dry-run
    scratchgan train --data ring8 --loss wgan-gp            WGAN-GP with its paper's settings
    scratchgan train --data fashion-mnist --conditional --ema 0.999
    scratchgan sample --checkpoint runs/ring8/checkpoint.npz --n 2500 --out samples.npy
    scratchgan sample --checkpoint runs/fashion-mnist --class 3 --n 100 --out dresses.npy
    scratchgan evaluate --samples samples.npy --data ring8
    scratchgan recipes

Every dataset has a recipe (``scratchgan.gan.recipes``); options given on the command line override it.
"""
from __future__ import annotations

import argparse
import math
import secrets
import signal
import sys
from pathlib import Path

__all__ = ["main", "build_parser", "config_from_args"]

EXIT_INTERRUPTED = 130  # 128 + SIGINT, the shell's code for a run stopped by Ctrl-C (143 = 128 + SIGTERM)
OBJECTIVE_NAMES = ("ns", "minimax", "wgan", "wgan-gp", "hinge")  # objectives.OBJECTIVES (not imported at start-up)

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


def _finite_float(s: str) -> float:
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {s!r}") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {s}")
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
    t.add_argument("--loss", choices=OBJECTIVE_NAMES,
                   help="the objective: ns (non-saturating), minimax, wgan (weight clipping), wgan-gp "
                        "(gradient penalty) or hinge; each brings its paper's optimiser, lr, betas and "
                        "--d-steps unless given (see README)")
    t.add_argument("--optimizer", choices=("adam", "rmsprop"), help="default: the objective's")
    t.add_argument("--clip", type=float, metavar="C", help="clip D's weights to [-C, C] (wgan: 0.01)")
    t.add_argument("--gp", type=float, metavar="LAMBDA", help="gradient penalty weight (wgan-gp: 10)")
    t.add_argument("--r1", type=float, metavar="GAMMA", help="R1 penalty γ/2·E||∇D(x)||² on real data")
    t.add_argument("--spectral-norm", action="store_true", dest="spectral_norm",
                   help="spectral normalisation of every conv and linear layer of D")
    t.add_argument("--ema", type=float, metavar="BETA",
                   help="keep an exponential moving average of G's weights (e.g. 0.999) and sample from it")
    t.add_argument("--conditional", action="store_true",
                   help="class-conditional G and D (labelled image data): sample --class K draws class K")
    t.add_argument("--batch-size", type=_positive_int, dest="batch_size")
    t.add_argument("--lr", type=_finite_float, help="learning rate (G, and D unless --lr-d)")
    t.add_argument("--lr-d", type=_finite_float, dest="lr_d", help="D's learning rate")
    t.add_argument("--betas", type=_finite_float, nargs=2, metavar=("B1", "B2"), help="Adam betas")
    t.add_argument("--lr-decay", type=_finite_float, dest="lr_decay", metavar="FRACTION",
                   help="decay both lrs linearly to 0 over this last fraction of the run (0 = off)")
    t.add_argument("--d-steps", type=_positive_int, dest="d_steps", help="D updates per G update")
    t.add_argument("--label-smoothing", type=_finite_float, dest="label_smoothing", metavar="S",
                   help="one-sided label smoothing: real label 1 - S")
    t.add_argument("--pack", type=_positive_int, metavar="M", help="PacGAN: D judges M samples at once")
    t.add_argument("--nz", type=_positive_int, help="latent size")
    t.add_argument("--hidden", type=_positive_int, help="toy MLP width")
    t.add_argument("--depth", type=_positive_int, help="toy MLP hidden layers")
    t.add_argument("--d-hidden", type=_positive_int, dest="d_hidden", help="toy D width (default: --hidden)")
    t.add_argument("--ngf", type=_positive_int, help="DCGAN generator width")
    t.add_argument("--ndf", type=_positive_int, help="DCGAN discriminator width")
    t.add_argument("--seed", type=_nonneg_int, help="random seed, >= 0 (default: a random one, printed)")
    t.add_argument("--device", help="auto (cuda if available), cpu or cuda")
    t.add_argument("--out", metavar="DIR", help="run folder (default runs/<data>, or runs/<data>-2, ... when that "
                                                "holds a run)")
    t.add_argument("--resume", metavar="CKPT", help="continue from a checkpoint.npz (or its run folder)")
    t.add_argument("--overwrite", action="store_true",
                   help="delete the run that --out holds and start over there (without it, a folder that holds a "
                        "run is refused, except the resumed run's own)")
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
    s.add_argument("--checkpoint", required=True, metavar="CKPT", help="a checkpoint.npz (or its run folder)")
    s.add_argument("--n", type=_positive_int, default=2500, help="number of samples (default 2500)")
    s.add_argument("--out", required=True, metavar="FILE.npy")
    s.add_argument("--seed", type=_nonneg_int, default=None, help="noise seed (default: a random one, printed)")
    s.add_argument("--device", default="auto")
    s.add_argument("--class", type=int, dest="klass", metavar="K", help="conditional model: draw class K")
    s.add_argument("--raw", action="store_true", help="sample the trained G, not its moving average (--ema runs)")

    e = sub.add_parser("evaluate", help="mode coverage (2-D mixtures) or mean/std/KS (1-D) of samples")
    src = e.add_mutually_exclusive_group(required=True)
    src.add_argument("--samples", metavar="FILE.npy", help="samples written by `scratchgan sample`")
    src.add_argument("--checkpoint", metavar="CKPT", help="draw --n fresh samples from this checkpoint")
    e.add_argument("--data", help="the target (toy datasets only; default: the checkpoint's)")
    e.add_argument("--n", type=_positive_int, default=2500)
    e.add_argument("--seed", type=_nonneg_int, default=0)
    e.add_argument("--device", default="auto")
    e.add_argument("--raw", action="store_true", help="with --checkpoint: the trained G, not its moving average")

    sub.add_parser("recipes", help="list the default recipe of every dataset")
    return p


def config_from_args(args: argparse.Namespace):
    """A TrainConfig: the checkpoint's (when resuming) or the dataset's recipe, then the objective's defaults
    (when ``--loss`` names another objective than the recipe's), then the options given."""
    from . import recipes  # noqa: PLC0415
    from .objectives import objective  # noqa: PLC0415
    from .train import TrainConfig, config_from_checkpoint  # noqa: PLC0415

    given = {k: v for k, v in vars(args).items() if k not in ("command", "overwrite")}
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
    if given.get("loss", fields.get("loss", "ns")) != fields.get("loss", "ns"):
        fields.update(objective(given["loss"]).defaults)  # another objective than the recipe's: its settings
    if dry_run:  # tiny everything: a smoke test that takes seconds
        fields.update(steps=4, epochs=None, batch_size=16, checkpoint_every=2, sample_every=2, log_every=1,
                      eval_samples=500, toy_size=512, ngf=8, ndf=8, hidden=16, d_hidden=None)
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
    from . import runs  # noqa: PLC0415
    from .checkpoint import describe_run, load_checkpoint  # noqa: PLC0415
    from .train import NonFiniteLossError, generate, models_from_checkpoint, train  # noqa: PLC0415

    config = config_from_args(args)
    overwrite = getattr(args, "overwrite", False)
    if not any(hasattr(args, k) for k in ("out", "resume", "overwrite")) and runs.holds_run(config.out):
        fresh = str(runs.fresh_folder(config.out))  # the default folder holds a run: keep it, use the next one
        print(f"note: {config.out} holds {describe_run(config.out)}; this run goes to {fresh} "
              f"(to continue that one: --resume {config.out}; to replace it: --out {config.out} --overwrite)")
        config.out = fresh
    try:
        result = train(config, overwrite=overwrite)
    except NonFiniteLossError as e:
        print(f"scratchgan: {e}", file=sys.stderr)
        return 1
    if result.interrupted:
        return 128 + (result.signal or signal.SIGINT)
    if config.dry_run:  # check the checkpoint end to end: it loads, rebuilds G and samples
        ckpt = load_checkpoint(result.checkpoint)
        G, _, nz, _ = models_from_checkpoint(result.checkpoint, device=config.device)
        labels = [0, 1, 2, 3] if config.conditional else None
        x = generate(G, 4, nz, seed=0, device=next(G.parameters()).device, labels=labels)
        print(f"dry run OK: {ckpt.step} steps, checkpoint {result.checkpoint} loads, samples of shape "
              f"{x.shape[1:]}; pictures in {result.out}.  Now run it for real without --dry-run.")
    return 0


def _cmd_sample(args) -> int:
    import numpy as np  # noqa: PLC0415

    from . import runs  # noqa: PLC0415
    from .train import generate, models_from_checkpoint  # noqa: PLC0415

    seed = args.seed
    if seed is None:
        seed = secrets.randbelow(2**31)
        print(f"seed: {seed} (pass --seed {seed} to draw the same samples)")
    G, _, nz, config = models_from_checkpoint(args.checkpoint, device=args.device, raw=args.raw)
    labels = _sample_labels(config, args.klass, args.n, seed)
    x = generate(G, args.n, nz, seed=seed, device=next(G.parameters()).device, labels=labels)
    out = Path(args.out)
    if out.suffix != ".npy":
        out = out.with_name(out.name + ".npy")  # what np.save would do silently
    out.parent.mkdir(parents=True, exist_ok=True)
    with runs.atomic_write(out, "wb") as f:
        np.save(f, x.astype(np.float32))
    which = f", class {args.klass}" if args.klass is not None else ""
    print(f"wrote {len(x)} samples of shape {x.shape[1:]} ({config.data}{which}) to {out}")
    return 0


def _sample_labels(config, klass, n: int, seed: int):
    """The class labels to draw: K for --class K, uniform classes (said so) for a conditional model without it."""
    import numpy as np  # noqa: PLC0415

    if not config.conditional:
        if klass is not None:
            raise ValueError("--class needs a conditional model (trained with --conditional); this one is not")
        return None
    k = config.num_classes
    if klass is None:
        print(f"conditional model: drawing the {k} classes uniformly (pass --class K for one class)")
        return np.random.default_rng([seed, 6]).integers(0, k, size=n)
    if not 0 <= klass < k:
        raise ValueError(f"--class {klass} is out of range: this model has classes 0 to {k - 1}")
    return np.full(n, klass, dtype=np.int64)


def _cmd_evaluate(args) -> int:
    from . import datasets  # noqa: PLC0415
    from . import metrics  # noqa: PLC0415
    from .train import evaluate_samples, generate, models_from_checkpoint  # noqa: PLC0415

    name = args.data
    if args.checkpoint:
        G, _, nz, config = models_from_checkpoint(args.checkpoint, device=args.device, raw=args.raw)
        name = name or config.data
        x = generate(G, args.n, nz, seed=args.seed, device=next(G.parameters()).device)
        source = f"{args.n} samples from {args.checkpoint} (seed {args.seed})"
    else:
        if not name:
            raise ValueError("evaluate --samples needs --data (ring8, grid25 or gauss1d)")
        x = _load_samples(args.samples)
        source = f"{len(x)} samples from {args.samples}"
    target = datasets.toy_dataset(name)
    if x.ndim != 2 or x.shape[1] != target.dim:
        raise ValueError(f"{source}: shape {x.shape} is not (N, {target.dim}) for {name}")
    result = evaluate_samples(x, target)
    for warning in _implausible(x, target, result, name):
        print(f"warning: {warning}", file=sys.stderr)
    print(metrics.format_report(result, f"{name}: {source}"))
    return 0


def _load_samples(path):
    """A .npy array of samples, or a ValueError that says what the file is instead."""
    import numpy as np  # noqa: PLC0415

    try:
        x = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        if isinstance(e, FileNotFoundError):
            raise ValueError(f"--samples {path}: no such file") from None
        raise ValueError(f"--samples {path}: not a .npy array of samples (written by `scratchgan sample`): "
                         f"{e}") from None
    if not isinstance(x, np.ndarray):  # an .npz archive: a checkpoint, or np.savez output
        x.close()
        raise ValueError(f"--samples {path}: is a .npz archive, not a .npy array of samples; to evaluate a "
                         f"checkpoint, use `scratchgan evaluate --checkpoint {path}`")
    if not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"--samples {path}: holds {x.dtype} values, not numbers")
    return x


def _implausible(x, target, result, name) -> list[str]:
    """Why the numbers may mean nothing: NaN samples (a diverged G), or samples of another distribution."""
    import numpy as np  # noqa: PLC0415

    warnings = []
    finite = np.isfinite(x).all(axis=1)
    if not finite.all():
        warnings.append(f"{int((~finite).sum())} of {len(x)} samples are NaN or infinite (a diverged generator?); "
                        f"they count as misses")
    if finite.any():
        lo, hi = x[finite].min(axis=0), x[finite].max(axis=0)
        span = " × ".join(f"[{a:.3g}, {b:.3g}]" for a, b in zip(lo, hi))
        c_lo, c_hi = target.centers.min(axis=0) - 3 * target.std, target.centers.max(axis=0) + 3 * target.std
        modes = " × ".join(f"[{a:.3g}, {b:.3g}]" for a, b in zip(c_lo, c_hi))
        if target.dim == 1:
            far = abs(float(np.mean(x[finite])) - float(target.centers[0, 0])) > 3 * target.std
        else:
            far = result.high_quality_pct < 1.0
        if far:
            warnings.append(f"the samples (spanning {span}) hardly touch {name} (its mass lies in {modes}): "
                            f"are they samples of another dataset?  --data names the target they are judged "
                            f"against")
    return warnings


def _cmd_recipes(args) -> int:
    from .recipes import describe  # noqa: PLC0415

    print(describe())
    return 0


def main(argv=None) -> int:
    from .checkpoint import CheckpointError  # noqa: PLC0415
    from .datasets import DatasetNotFoundError, IDXError  # noqa: PLC0415

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
        if isinstance(e, OSError) and e.filename and e.strerror:
            e = f"{e.filename}: {e.strerror}"  # the file first, without the [Errno N]
        print(f"scratchgan {args.command}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
