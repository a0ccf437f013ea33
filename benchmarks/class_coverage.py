"""Which classes do generated images fall into?  A softmax-regression probe on the real data.

    scratchgan sample --checkpoint runs/fashion-mnist/checkpoint.npz --n 2000 --seed 0 --out s.npy
    python benchmarks/class_coverage.py s.npy --data fashion-mnist

A conditional model: are the samples of class K put in class K?

    scratchgan sample --checkpoint runs/fm-cond --class 3 --n 500 --seed 0 --out s3.npy
    python benchmarks/class_coverage.py s3.npy --class 3          # one class, from its samples
    python benchmarks/class_coverage.py --per-class runs/fm-cond   # every class (draws like sample --class K)

Trains multinomial logistic regression (host NumPy, a few seconds) on the training split, prints
its test accuracy, then the histogram of predicted classes of the samples: a mode-collapsed
generator shows up as missing or dominant classes.  A coarse probe, not a quality score.
"""
import argparse
from dataclasses import dataclass

import numpy as np

from scratchgan.gan.datasets import load_dataset

NAMES = {"fashion-mnist": ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                           "Bag", "Boot"],
         "mnist": [str(d) for d in range(10)]}


def fit_softmax(X, y, epochs=8, lr=0.05, batch=256, seed=0):
    W = np.zeros((X.shape[1], 10), np.float32)
    b = np.zeros(10, np.float32)
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        for idx in np.array_split(rng.permutation(len(X)), len(X) // batch):
            z = X[idx] @ W + b
            p = np.exp(z - z.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            p[np.arange(len(idx)), y[idx]] -= 1  # d(cross-entropy)/dz = softmax − onehot
            W -= lr * X[idx].T @ p / len(idx)
            b -= lr * p.mean(0)
    return W, b


@dataclass
class Probe:
    """The fitted probe, with the real test images and its logits on them (what samples are compared with)."""
    W: np.ndarray
    b: np.ndarray
    accuracy: float  # on the test split
    test_images: np.ndarray
    test_logits: np.ndarray

    def logits(self, images):
        return images.reshape(len(images), -1) @ self.W + self.b


def fit_probe(data="fashion-mnist", data_dir=None) -> Probe:
    """The softmax probe, trained on a labelled dataset's training split and tested on its test split."""
    x, y = load_dataset(data, data_dir=data_dir)
    xt, yt = load_dataset(data, data_dir=data_dir, split="test")
    W, b = fit_softmax(x.reshape(len(x), -1), y)
    zt = xt.reshape(len(xt), -1) @ W + b
    return Probe(W, b, float((zt.argmax(1) == yt).mean()), xt, zt)


def frechet(a, b):
    """‖μa − μb‖² + tr(Σa + Σb − 2 (Σa Σb)^½), with the square root from the eigenvalues of Σa Σb."""
    ma, mb = a.mean(0), b.mean(0)
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    eig = np.linalg.eigvals(ca @ cb)
    return float(((ma - mb) ** 2).sum() + np.trace(ca) + np.trace(cb) - 2 * np.sqrt(np.clip(eig.real, 0, None)).sum())


def scores(x, probe: Probe) -> dict:
    """Probe score (the Inception-score formula with the probe as the classifier: exp E_x KL(p(y|x) ‖ p(y))),
    mean confidence, the count of samples put in each class, how many classes occur, and the Fréchet
    distance between Gaussians fitted to the probe's logits on ``x`` and on the real test images: lower
    is closer to the real data."""
    z = probe.logits(x)
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    marginal = p.mean(0)
    score = np.exp(np.mean(np.sum(p * (np.log(p + 1e-12) - np.log(marginal + 1e-12)), axis=1)))
    counts = np.bincount(z.argmax(1), minlength=10)
    return dict(probe_score=float(score), confidence=float(p.max(1).mean()), counts=counts,
                classes=int((counts > 0).sum()), fd=frechet(z, probe.test_logits))


def class_accuracy(samples, k, probe: Probe) -> float:
    """The fraction of ``samples`` (meant to be class k) that the probe puts in class k."""
    return float((probe.logits(samples).argmax(1) == k).mean())


def per_class(checkpoint, n, seed, probe: Probe, names, raw=False):
    """For each class K, ``n`` samples drawn as ``scratchgan sample --class K --seed seed`` draws them, and the
    probe's accuracy on them; returns the list of accuracies."""
    from scratchgan.gan.train import generate, models_from_checkpoint

    G, _, nz, config = models_from_checkpoint(checkpoint, raw=raw)
    if not config.conditional:
        raise SystemExit(f"{checkpoint}: not a conditional model (train with --conditional)")
    accs = []
    for k in range(config.num_classes):
        x = generate(G, n, nz, seed=seed, labels=np.full(n, k))
        accs.append(class_accuracy(x, k, probe))
        print(f"  class {k} {names[k]:10s} {100 * accs[-1]:5.1f} % put in class {k}")
    print(f"mean over the {len(accs)} classes: {100 * np.mean(accs):.1f} % ({n} samples each, seed {seed})")
    return accs


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("samples", nargs="?", help=".npy of images (N, 1, 28, 28) in [-1, 1]")
    ap.add_argument("--data", default="fashion-mnist", choices=sorted(NAMES))
    ap.add_argument("--data-dir")
    ap.add_argument("--class", type=int, dest="klass", metavar="K",
                    help="the samples were drawn with --class K: report how many the probe puts in class K")
    ap.add_argument("--per-class", metavar="CKPT", help="a conditional checkpoint (or run folder): the accuracy "
                    "for every class, drawing --n samples of each as `scratchgan sample --class K` does")
    ap.add_argument("--n", type=int, default=500, help="--per-class: samples per class (default 500)")
    ap.add_argument("--seed", type=int, default=0, help="--per-class: noise seed (default 0)")
    ap.add_argument("--raw", action="store_true", help="--per-class: the raw G of an --ema run")
    args = ap.parse_args()
    if (args.samples is None) == (args.per_class is None):
        ap.error("give a samples .npy file or --per-class CKPT")
    probe = fit_probe(args.data, args.data_dir)
    acc = probe.accuracy
    if args.per_class:
        print(f"probe test accuracy {acc:.3f}")
        per_class(args.per_class, args.n, args.seed, probe, NAMES[args.data], raw=args.raw)
        return
    s = np.load(args.samples)
    if args.klass is not None:
        print(f"probe test accuracy {acc:.3f}; {100 * class_accuracy(s, args.klass, probe):.1f} % of {len(s)} "
              f"samples put in class {args.klass} ({NAMES[args.data][args.klass]})")
        return
    r = scores(s, probe)
    print(f"probe test accuracy {acc:.3f}; {r['classes']}/10 classes among {len(s)} samples; "
          f"mean confidence {r['confidence']:.3f}; probe score {r['probe_score']:.2f} (10 at best); "
          f"FD (probe logits) {r['fd']:.2f} (0 at best)")
    for name, c in zip(NAMES[args.data], r["counts"]):
        print(f"  {name:10s} {c:6d}  ({100 * c / len(s):.1f} %)")


if __name__ == "__main__":
    main()
