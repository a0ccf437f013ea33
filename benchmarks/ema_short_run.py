"""Does the EMA generator help on a short run?  Raw G against three moving averages of it, in one run.

    python benchmarks/ema_short_run.py --epochs 1 --ngf 32 --ndf 32 --out /tmp/ema

One Fashion-MNIST DCGAN run (the default recipe, ``--ema BETA``: warm-up and recomputed BatchNorm
statistics) also keeps, through a callback, two more averages of the same G:
  plain       β from the first step, BatchNorm buffers copied from G (what the issue measured with PyTorch)
  warm-up     β_t = min(β, (1 + t)/(10 + t)), BatchNorm buffers copied from G
  ours        warm-up + statistics recomputed for the averaged weights (``scratchgan.gan.ema``; the run's G_ema)
Each generator draws the same 2,000 noise vectors; the scores use class_coverage's softmax probe:
the probe score (Inception-score formula, 10 at best), mean confidence, the classes covered, and an
FD-style distance between the probe's logits on the samples and on the 10,000 real test images
(Fréchet distance of Gaussians fitted to both; lower is better).
"""
import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from class_coverage import fit_probe, scores  # noqa: E402

import scratchgan as sg  # noqa: E402
from scratchgan.gan.ema import EMA  # noqa: E402
from scratchgan.gan.train import TrainConfig, build_models, generate, models_from_checkpoint, train  # noqa: E402


def copy_batchnorm_buffers(dst, src):
    for (name, a), (_, b) in zip(dst.named_buffers(), src.named_buffers()):
        a.array[...] = b.array


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--steps", type=int, help="instead of --epochs (a smoke test)")
    ap.add_argument("--ngf", type=int, default=64)
    ap.add_argument("--ndf", type=int, default=64)
    ap.add_argument("--beta", type=float, default=0.999)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", default="fashion-mnist")
    ap.add_argument("--out", default="/tmp/ema_short_run")
    args = ap.parse_args()

    cfg = TrainConfig(data=args.data, model="dcgan", epochs=None if args.steps else args.epochs, steps=args.steps,
                      batch_size=128, lr=2e-4,
                      betas=(0.5, 0.999), ngf=args.ngf, ndf=args.ndf, ema=args.beta, seed=args.seed,
                      out=args.out, quiet=True, checkpoint_every=0)
    sg.manual_seed(args.seed)  # train() seeds the same way before building: G0 is the run's initial G
    G0, _, _ = build_models(cfg)
    extra = {"plain": EMA(G0, args.beta, warmup=False), "warm-up": EMA(G0, args.beta, warmup=True)}

    def follow(state):  # the two other averages, updated after every step like the run's own
        for e in extra.values():
            e.update(state.G)

    result = train(cfg, callbacks=[follow])
    G_raw, _, nz, _ = models_from_checkpoint(result.checkpoint, raw=True)
    G_ours, *_ = models_from_checkpoint(result.checkpoint)
    for e in extra.values():
        copy_batchnorm_buffers(e.model, G_raw)
    same = all(np.array_equal(a.array, b.array) for a, b in zip(extra["warm-up"].model.parameters(),
                                                                   G_ours.parameters()))
    print(f"the warm-up average's weights equal the run's G_ema: {same} (only their BatchNorm statistics differ)")

    probe = fit_probe(args.data)
    noise = np.random.default_rng([args.seed, 99]).standard_normal((2000, nz), dtype=np.float32)
    print(f"{args.data}, {result.step} steps ({args.epochs} epoch(s), ngf {args.ngf}, ndf {args.ndf}), "
          f"beta {args.beta}, {result.seconds:.0f} s; probe test accuracy {probe.accuracy:.3f}")
    print(f"{'generator':34s} {'FD (probe logits)':>17s} {'probe score':>11s} {'confidence':>10s} {'classes':>7s}")
    real = scores(probe.test_images[:2000], probe)
    rows = [("real test images (2,000)", real), ("raw G", scores(generate(G_raw, noise), probe)),
            ("EMA plain (BN copied from G)", scores(generate(extra["plain"].model, noise), probe)),
            ("EMA warm-up (BN copied from G)", scores(generate(extra["warm-up"].model, noise), probe)),
            ("EMA warm-up + recomputed BN", scores(generate(G_ours, noise), probe))]
    for name, r in rows:
        print(f"{name:34s} {r['fd']:17.2f} {r['probe_score']:11.2f} {r['confidence']:10.3f} {r['classes']:7d}")


if __name__ == "__main__":
    main()
