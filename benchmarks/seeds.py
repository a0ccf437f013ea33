"""A recipe over several seeds: train, sample 2,500 points, evaluate, and print one table row per seed.

    python benchmarks/seeds.py --data grid25                      # the default recipe, seeds 0-4
    python benchmarks/seeds.py --data ring8 --seeds 3 -- --pack 1 --steps 10000
    python benchmarks/seeds.py --data grid25 --seed-list 0 7 -- --loss hinge

Everything after ``--`` goes to ``scratchgan train`` as it is.  For each seed the script runs, as
separate processes (so the wall time is what a user sees),

    scratchgan train --data D --seed S --out OUT/seedS --quiet --overwrite [flags]
    scratchgan sample --checkpoint OUT/seedS/checkpoint.npz --n 2500 --seed 0 --out OUT/seedS/samples.npy

then evaluates the samples with ``train.evaluate_samples`` (what ``scratchgan evaluate`` prints: a
sample is high quality within 3 std of its nearest mode, a mode is captured with one high-quality
sample, reverse KL of the high-quality samples' mode histogram against uniform).  The table gives
modes, % high quality, reverse KL, the training wall time and the machine's 1-minute load average
when the seed finished (timings on a shared machine mean little without it), then how many seeds
meet the target (all modes and the dataset's % high quality: 90 for grid25, 95 for ring8).

The child processes run with one BLAS thread (OMP_NUM_THREADS=1 unless already set): the toy MLPs
are far too small to gain from threads, and on a busy machine BLAS threads fighting for the cores
made a step 30 times slower (6 ms against 200 ms measured on 2 cores under load).
"""
from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scratchgan.gan.datasets import toy_dataset  # noqa: E402
from scratchgan.gan.train import evaluate_samples  # noqa: E402

# % high quality a seed must reach (besides capturing every mode): the targets of the toy recipes.
TARGET_HQ = {"ring8": 95.0, "grid25": 90.0}


def _child_env() -> dict:
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def _scratchgan(args: list[str], in_process: bool) -> None:
    if in_process:
        from scratchgan.gan import cli  # noqa: PLC0415

        rc = cli.main(args)
    else:
        rc = subprocess.run([sys.executable, "-m", "scratchgan", *args], env=_child_env(),
                            stdout=subprocess.DEVNULL).returncode
    if rc != 0:
        raise RuntimeError(f"`scratchgan {shlex.join(args)}` failed with exit status {rc}")


def run_seed(data: str, seed: int, flags: list[str], out: Path, n: int = 2500, in_process: bool = False) -> dict:
    """Train, sample and evaluate one seed; a dict with the table's columns."""
    run = out / f"seed{seed}"
    t0 = time.perf_counter()
    # --overwrite: a rerun of the benchmark replaces its own earlier run of this seed
    _scratchgan(["train", "--data", data, "--seed", str(seed), "--out", str(run), "--quiet", "--overwrite", *flags],
                in_process)
    seconds = time.perf_counter() - t0
    load = os.getloadavg()[0]
    samples = run / "samples.npy"
    _scratchgan(["sample", "--checkpoint", str(run / "checkpoint.npz"), "--n", str(n), "--seed", "0",
                 "--out", str(samples)], in_process)
    result = evaluate_samples(np.load(samples), toy_dataset(data))
    return dict(seed=seed, modes=result.modes, n_modes=result.n_modes, hq=result.high_quality_pct,
                rkl=result.reverse_kl, seconds=seconds, load=load)


def format_row(r: dict) -> str:
    return (f"| {r['seed']} | {r['modes']} / {r['n_modes']} | {r['hq']:.1f} % | {r['rkl']:.4f} | "
            f"{r['seconds']:.0f} s | {r['load']:.1f} |")


def meets(r: dict, target_hq: float) -> bool:
    return r["modes"] == r["n_modes"] and r["hq"] >= target_hq


def main(argv=None) -> list[dict]:
    argv = sys.argv[1:] if argv is None else list(argv)
    flags = []
    if "--" in argv:
        i = argv.index("--")
        argv, flags = argv[:i], argv[i + 1:]
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                epilog="Flags after `--` go to `scratchgan train`.")
    p.add_argument("--data", default="grid25", choices=sorted(TARGET_HQ))
    seeds = p.add_mutually_exclusive_group()
    seeds.add_argument("--seeds", type=int, default=5, help="seeds 0 .. N-1 (default 5)")
    seeds.add_argument("--seed-list", type=int, nargs="+", metavar="S", help="these seeds instead")
    p.add_argument("--n", type=int, default=2500, help="samples to evaluate (default 2500)")
    p.add_argument("--target-hq", type=float, help="%% high quality a seed must reach (default: 90 for grid25, "
                                                   "95 for ring8)")
    p.add_argument("--out", help="folder for the runs (default runs/seeds-<data>)")
    p.add_argument("--in-process", action="store_true",
                   help="run the commands inside this Python process (for tests; the wall time then "
                        "leaves out interpreter start-up)")
    args = p.parse_args(argv)
    seed_list = args.seed_list if args.seed_list is not None else list(range(args.seeds))
    target_hq = TARGET_HQ[args.data] if args.target_hq is None else args.target_hq
    out = Path(args.out or f"runs/seeds-{args.data}")

    cmd = shlex.join(["scratchgan", "train", "--data", args.data, "--seed", "S", *flags])
    print(f"{cmd}   (S = {', '.join(map(str, seed_list))}; runs in {out})", flush=True)
    print("| seed | modes | high quality | reverse KL | wall time | load |\n|---|---|---|---|---|---|", flush=True)
    rows = []
    for seed in seed_list:
        rows.append(run_seed(args.data, seed, flags, out, n=args.n, in_process=args.in_process))
        print(format_row(rows[-1]), flush=True)
    good = sum(meets(r, target_hq) for r in rows)
    n_modes = rows[0]["n_modes"]
    print(f"{good} of {len(rows)} seeds meet the target ({n_modes}/{n_modes} modes, >= {target_hq:g} % high "
          f"quality); median {np.median([r['hq'] for r in rows]):.1f} % high quality, "
          f"{np.median([r['seconds'] for r in rows]):.0f} s per seed", flush=True)
    return rows


if __name__ == "__main__":
    main()
