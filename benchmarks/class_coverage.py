"""Which classes do generated images fall into?  A softmax-regression probe on the real data.

    scratchgan sample --checkpoint runs/fashion-mnist/checkpoint.npz --n 2000 --seed 0 --out s.npy
    python benchmarks/class_coverage.py s.npy --data fashion-mnist

Trains multinomial logistic regression (host NumPy, a few seconds) on the training split, prints
its test accuracy, then the histogram of predicted classes of the samples: a mode-collapsed
generator shows up as missing or dominant classes.  A coarse probe, not a quality score.
"""
import argparse

import numpy as np

from scratchgan.data import load_dataset

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


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("samples", help=".npy of images (N, 1, 28, 28) in [-1, 1]")
    ap.add_argument("--data", default="fashion-mnist", choices=sorted(NAMES))
    ap.add_argument("--data-dir")
    args = ap.parse_args()
    x, y = load_dataset(args.data, data_dir=args.data_dir)
    xt, yt = load_dataset(args.data, data_dir=args.data_dir, split="test")
    W, b = fit_softmax(x.reshape(len(x), -1), y)
    acc = ((xt.reshape(len(xt), -1) @ W + b).argmax(1) == yt).mean()
    s = np.load(args.samples)
    z = s.reshape(len(s), -1) @ W + b
    counts = np.bincount(z.argmax(1), minlength=10)
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    # the Inception-score formula with this probe as the classifier: exp E_x KL(p(y|x) || p(y))
    marginal = p.mean(0)
    score = np.exp(np.mean(np.sum(p * (np.log(p + 1e-12) - np.log(marginal + 1e-12)), axis=1)))
    print(f"probe test accuracy {acc:.3f}; {int((counts > 0).sum())}/10 classes among {len(s)} samples; "
          f"mean confidence {p.max(1).mean():.3f}; probe score {score:.2f} (10 at best)")
    for name, c in zip(NAMES[args.data], counts):
        print(f"  {name:10s} {c:6d}  ({100 * c / len(s):.1f} %)")


if __name__ == "__main__":
    main()
