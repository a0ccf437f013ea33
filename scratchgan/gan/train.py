"""The GAN training loop, readable top to bottom.

    config = TrainConfig(data="ring8", steps=30_000, batch_size=512, pack=4, lr_decay=0.5, seed=0, out="runs/ring8")
    result = train(config)

The file reads in the order a run happens:

1. **the configuration** (``TrainConfig``): everything that defines a run;
2. **the loop** (``train``): set the learning rates, take one step, then the bookkeeping of that step;
3. **one step** (``train_step``), the loop of Goodfellow et al. (2014) as every PyTorch tutorial writes it:

       1. draw noise z and a real batch x;
       2. update D on x (label 1, or 1 − smoothing) and on the *detached* fake G(z) (label 0);
          repeat ``d_steps`` times;
       3. update G through D on the same fakes: non-saturating −log D(G(z)), or minimax log(1 − D(G(z))).

   ``--loss`` picks another objective (``objectives.OBJECTIVES``: wgan, wgan-gp, hinge) by name; its
   penalties (gradient penalty, R1) and WGAN's weight clipping are one line each in the step.
   A conditional model (``--conditional``) gets the class labels as a second input, G and D alike.
   With ``--ema`` an exponential moving average of G's weights (``scratchgan.gan.ema``) follows every
   step and is what the pictures, the evaluation and ``scratchgan sample`` use.

   With ``pack`` = m > 1 (PacGAN, Lin et al. 2018), D judges m samples at once, concatenated
   along features (toy data) or channels (images): a generator that collapses onto a few
   modes makes packs that look alike, which a packed D spots at once;
4. **starting a run**: the seed (chosen and printed when not given), the data, the models and
   optimizers, ``resume`` bit for bit from a checkpoint, and the run folder, locked against a second
   writer (a folder that holds another run is refused unless ``overwrite``);
5. **the bookkeeping around each step**, each a small named part: the learning-rate schedule,
   ``metrics.csv`` and the progress bar, pictures of fixed noise, an atomic ``checkpoint.npz``
   every N steps, the guard that stops at the first non-finite loss, weight or optimizer moment and
   keeps the last good checkpoint, and Ctrl-C or SIGTERM, which save and stop;
6. **the end of a run**: the final checkpoint, pictures, the evaluation (toy data), and the helpers
   that use a finished run (``generate``, ``models_from_checkpoint``).

How the files of a run folder are written (atomically) and locked lives in ``scratchgan.gan.runs``.
"""
from __future__ import annotations

import contextlib
import dataclasses
import errno
import math
import secrets
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import backend as B
from .. import nn
from .. import optim
from ..creation import manual_seed, randint, randn
from ..tensor import Tensor, no_grad
from . import datasets
from . import metrics as M
from . import objectives
from . import runs
from .checkpoint import CheckpointError, describe_run, load_checkpoint, save_checkpoint
from .ema import EMA

__all__ = ["TrainConfig", "TrainResult", "TrainState", "StepStats", "NonFiniteLossError", "train", "train_step",
           "build_models", "load_training_data", "resolve_device", "config_from_checkpoint", "generate",
           "models_from_checkpoint", "evaluate_samples", "IMAGE_DATASETS", "TOY_DATASETS"]

TOY_DATASETS = tuple(datasets.TOY_DATASETS)  # gauss1d, ring8, grid25
IMAGE_DATASETS = tuple(datasets.IMAGE_DATASETS)  # mnist, fashion-mnist


# ----------------------------------------------------------------------------- configuration


@dataclass
class TrainConfig:
    """Everything that defines a run.  Saved whole in every checkpoint, so a run can be repeated or resumed.

    ``steps`` counts generator updates (each after ``d_steps`` discriminator updates); give ``steps`` or
    ``epochs`` (passes over the real data).  ``batch_size`` counts samples (real and fake, each); with
    ``pack`` = m, D sees batch_size / m packs of m samples.
    """

    data: str = "ring8"  # gauss1d | ring8 | grid25 | mnist | fashion-mnist | a folder of IDX files
    model: str = "mlp"  # image data: mlp | dcgan; toy data always uses the toy MLPs
    steps: int | None = None
    epochs: int | None = None
    loss: str = "ns"  # ns | minimax | wgan | wgan-gp | hinge (objectives.OBJECTIVES; the CLI applies each one's defaults)
    optimizer: str | None = None  # adam | rmsprop (None: the objective's, e.g. rmsprop for wgan)
    clip: float | None = None  # WGAN weight clipping of D to [-clip, clip] (None: the objective's; 0 = off)
    gp: float | None = None  # WGAN-GP gradient penalty weight λ (None: the objective's; 0 = off)
    r1: float = 0.0  # R1 penalty weight γ: γ/2 E ||grad_x D(x)||^2 on real data (0 = off)
    spectral_norm: bool = False  # spectral normalisation of every conv and linear layer of D
    ema: float | None = None  # β of an exponential moving average of G's weights (e.g. 0.999), used for sampling
    conditional: bool = False  # class-conditional G and D (labelled image data only)
    num_classes: int | None = None  # conditional: set from the data's labels
    batch_size: int = 64
    lr: float = 2e-4  # G's learning rate, and D's unless lr_d is given
    lr_d: float | None = None
    betas: tuple = (0.5, 0.999)
    d_steps: int = 1  # D updates per G update
    label_smoothing: float = 0.0  # one-sided: real label = 1 - label_smoothing
    pack: int = 1  # PacGAN: D judges `pack` samples at once
    lr_decay: float = 0.0  # fraction of the run, at its end, over which both lrs fall linearly to 0
    nz: int | None = None  # latent size (default: 100 for images, 2 for 2-D toy data, 10 for gauss1d)
    hidden: int | None = None  # toy MLP width (None: the models' default)
    depth: int | None = None  # toy MLP hidden layers (None: the models' default)
    d_hidden: int | None = None  # toy D width when it differs from G's (None: hidden)
    ngf: int = 64  # DCGAN widths
    ndf: int = 64
    toy_size: int = 100_000  # toy data: size of the fixed training sample drawn from the mixture
    seed: int | None = None  # None: a random seed, chosen and printed
    device: str = "auto"  # auto (cuda if available) | cpu | cuda
    out: str = "runs/ring8"
    data_dir: str | None = None
    resume: str | None = None  # a checkpoint.npz (or its run folder) to continue
    checkpoint_every: int = 1000  # steps; 0 = only at the end
    sample_every: int | None = None  # steps between progress pictures (default: each epoch for images, 10 a run for toy data)
    log_every: int = 10  # steps between rows of metrics.csv
    n_fixed: int | None = None  # fixed-noise samples per picture (default: 64 images, 1000 toy points)
    eval_samples: int = 2500  # samples for the final evaluation (toy data)
    dry_run: bool = False  # a few steps on tiny fake data, end to end
    quiet: bool = False

    def __post_init__(self):
        self.betas = tuple(self.betas)
        if self.loss in objectives.OBJECTIVES:  # settings left at None come from the objective (saved resolved)
            defaults = objectives.objective(self.loss).defaults
            self.optimizer = self.optimizer or defaults.get("optimizer", "adam")
            self.clip = defaults.get("clip", 0.0) if self.clip is None else self.clip
            self.gp = defaults.get("gp", 0.0) if self.gp is None else self.gp

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"TrainConfig: unknown field(s) {', '.join(unknown)}")
        return cls(**d)

    @property
    def is_toy(self) -> bool:
        return self.data in TOY_DATASETS

    def validate(self) -> None:
        def bad(msg):
            raise ValueError(f"TrainConfig: {msg}")

        if self.loss not in (*objectives.OBJECTIVES, "nonsaturating"):
            bad(f"loss must be one of {', '.join(objectives.OBJECTIVES)}, got {self.loss!r}")
        if self.optimizer not in ("adam", "rmsprop"):
            bad(f"optimizer must be 'adam' or 'rmsprop', got {self.optimizer!r}")
        if self.clip < 0 or self.gp < 0 or self.r1 < 0:
            bad("clip, gp and r1 must be >= 0")
        if self.label_smoothing and not objectives.objective(self.loss).logits:
            bad(f"label smoothing needs a probability for D (ns or minimax), not loss {self.loss!r}")
        if self.ema is not None and not 0.0 < self.ema < 1.0:
            bad(f"ema must be a decay in (0, 1) such as 0.999, got {self.ema}")
        if self.conditional and self.is_toy:
            bad(f"--conditional needs labelled image data; {self.data} has no labels")
        if self.conditional and self.pack > 1:
            bad("--conditional does not combine with --pack (a pack would mix classes)")
        if self.model not in ("mlp", "dcgan"):
            bad(f"model must be 'mlp' or 'dcgan', got {self.model!r}")
        if self.steps is not None and self.epochs is not None:
            bad("give steps or epochs, not both")
        if self.steps is not None and self.steps < 1 or self.epochs is not None and self.epochs < 1:
            bad("steps and epochs must be at least 1")
        if self.batch_size < 1 or self.d_steps < 1 or self.pack < 1:
            bad("batch_size, d_steps and pack must be at least 1")
        if self.batch_size % self.pack:
            bad(f"batch_size {self.batch_size} must be a multiple of pack {self.pack}")
        if not 0.0 <= self.label_smoothing < 1.0:
            bad(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if not 0.0 <= self.lr_decay <= 1.0:
            bad(f"lr_decay must be a fraction in [0, 1], got {self.lr_decay}")
        for name in ("lr", "lr_d", "label_smoothing", "lr_decay"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value)):
                bad(f"{name} must be a finite number, got {value!r}")
        if self.lr <= 0 or (self.lr_d is not None and self.lr_d <= 0):
            bad("learning rates must be positive")
        if len(self.betas) != 2 or not all(isinstance(b, (int, float)) and 0.0 <= b < 1.0 for b in self.betas):
            bad(f"betas must be two numbers in [0, 1), got {self.betas}")
        if self.checkpoint_every < 0 or self.log_every < 1:
            bad("checkpoint_every must be >= 0 and log_every >= 1")
        if self.seed is not None and not (isinstance(self.seed, int) and self.seed >= 0):
            bad(f"seed (--seed) must be a non-negative integer, got {self.seed!r}")
        if self.data_dir is not None:
            if self.is_toy:
                bad(f"data_dir (--data-dir) is for image datasets; {self.data} is a toy distribution with nothing "
                    f"to load: leave it out")
            if not Path(self.data_dir).is_dir():
                bad(f"data_dir (--data-dir) {self.data_dir}: no such folder (give the folder holding the dataset's "
                    f"IDX files, or leave it out to use the cache)")


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss; ``step`` is the step it happened in."""

    def __init__(self, message: str, step: int, checkpoint: Path | None):
        super().__init__(message)
        self.step, self.checkpoint = step, checkpoint


@dataclass
class StepStats:
    loss_D: float
    loss_G: float
    D_x: float  # mean D(x) on the last real batch
    D_G_z: float  # mean D(G(z)) on the last fakes, before D's update
    # (D_x and D_G_z are probabilities for ns/minimax, a critic's raw scores for wgan, wgan-gp and hinge)
    grad_norm_D: float = float("nan")  # ||grad loss_D|| over D's parameters, at D's last update
    grad_norm_G: float = float("nan")  # ||grad loss_G|| over G's parameters


@dataclass
class TrainState:
    """What callbacks see after every step (``callbacks=[fn]``, ``fn(state)``)."""

    config: TrainConfig
    G: nn.Module
    D: nn.Module
    optG: optim.Optimizer
    optD: optim.Optimizer
    step: int = 0
    total_steps: int = 0
    epoch: float = 0.0
    stats: StepStats | None = None
    ema: EMA | None = None  # the moving average of G (``--ema``); ``ema.model`` is the averaged G


@dataclass
class TrainResult:
    out: Path
    seed: int
    step: int
    total_steps: int
    epoch: float
    checkpoint: Path | None
    interrupted: bool = False
    signal: int | None = None  # the signal that stopped the run (SIGINT or SIGTERM), when one did
    seconds: float = 0.0
    stats: StepStats | None = None
    evaluation: object = None  # metrics.ModeCoverage / Gaussian1DStats for toy data
    pictures: list = field(default_factory=list)


# ----------------------------------------------------------------------------- the loop


def train(config: TrainConfig, callbacks=None, *, overwrite: bool = False) -> TrainResult:
    """Train a GAN as ``config`` says, writing everything into ``config.out``.  See the module docstring.

    A folder that holds another run is refused unless ``overwrite`` (the run being resumed may continue in
    its own folder)."""
    run = _start_run(config, overwrite)  # seed, data, models, optimizers, resume, the run folder (locked)
    s, stop = run.state, _StopRequests()
    with run.lock, _named_write_errors(run):
        try:
            with stop, _FloatingPointErrors() as fp, run.log, run.bar:
                while s.step < s.total_steps:
                    _set_learning_rates(run, s.step)
                    run.in_step = True  # a hard abort from here to the end of the step keeps the last checkpoint
                    s.stats = train_step(s.G, s.D, s.optG, s.optD, run.batches, s.config, run.nz, run.device,
                                         step=s.step + 1)
                    if s.ema:
                        s.ema.update(s.G)
                    s.step, run.in_step = s.step + 1, False
                    s.epoch, epochs_done = _epoch_progress(run.batches)
                    # ---- bookkeeping of the step ----------------------------------------------------------
                    _guard(s, fp)
                    _log_step(run)
                    _progress_pictures(run, epochs_done)
                    _checkpoint_if_due(run)
                    for cb in callbacks or ():
                        cb(s)
                    if stop.requested:
                        raise KeyboardInterrupt
        except KeyboardInterrupt:
            return _stop_interrupted(run, stop.signum)
        except NonFiniteLossError as e:
            raise _diverged(run, e) from None
        return _finish(run)


# ----------------------------------------------------------------------------- one step


def _set_requires_grad(module: nn.Module, flag: bool):
    for p in module.parameters():
        p.requires_grad = flag


def _check_finite(what: str, value: float, step: int):
    if not math.isfinite(value):
        raise NonFiniteLossError(f"non-finite {what} = {value} at step {step}", step, None)


def train_step(G, D, optG, optD, real_batches, config: TrainConfig, nz: int, device, step: int = 0) -> StepStats:
    """One GAN step: ``d_steps`` updates of D, then one update of G, with ``config.loss``'s objective
    (``objectives.OBJECTIVES``) and its penalties.  Raises NonFiniteLossError before applying an update whose
    loss is NaN or infinite, so the weights stay those of the last good step."""
    obj = objectives.objective(config.loss)
    bs = config.batch_size
    # --- D: minimise the objective's D loss (+ penalties) on real x and *detached* fakes -------------------
    for _ in range(config.d_steps):
        x, y = _real_batch(real_batches, config, device)
        cond = _fake_labels(config, bs, device)  # () or (class labels,) for a conditional G and D
        fake = G(randn(bs, nz, device=device), *cond)
        optD.zero_grad()
        real_scores = D(x, *y).reshape(-1)
        fake_scores = D(fake.detach(), *cond).reshape(-1)  # detach: this loss must not reach G
        loss_D = obj.d_loss(real_scores, fake_scores, 1.0 - config.label_smoothing)
        if config.gp:  # λ E[(||grad D(x̂)|| - 1)^2] at random interpolates (conditional: the real labels)
            loss_D = loss_D + config.gp * objectives.gradient_penalty(lambda t: D(t, *y).reshape(-1), x, fake,
                                                                  pack=config.pack)
        if config.r1:  # γ/2 E[||grad D(x)||^2] on real data
            loss_D = loss_D + 0.5 * config.r1 * objectives.r1_penalty(lambda t: D(t, *y).reshape(-1), x,
                                                                  pack=config.pack)
        _check_finite("loss_D", loss_D.item(), step)
        loss_D.backward()
        grad_norm_D = _grad_norm(D)
        optD.step()
        if config.clip:  # WGAN: keep the critic K-Lipschitz by clipping every weight to [-c, c]
            _clip_weights(D, config.clip)
    # --- G: minimise the objective's G loss through the updated D, on the same fakes --------------------
    optG.zero_grad()
    _set_requires_grad(D, False)  # G's step needs gradients through D, not for D's weights
    try:
        loss_G = obj.g_loss(D(fake, *cond).reshape(-1))
        _check_finite("loss_G", loss_G.item(), step)
        loss_G.backward()
    finally:
        _set_requires_grad(D, True)
    grad_norm_G = _grad_norm(G)
    optG.step()
    real_out, fake_out = real_scores.detach(), fake_scores.detach()
    if obj.logits:  # report probabilities D(x) = σ(logit); a critic's scores are reported as they are
        real_out, fake_out = real_out.sigmoid(), fake_out.sigmoid()
    return StepStats(loss_D.item(), loss_G.item(), real_out.mean().item(), fake_out.mean().item(),
                     grad_norm_D, grad_norm_G)


def _real_batch(real_batches, config: TrainConfig, device):
    """(x, ()) or, for a conditional model, (x, (its labels,))."""
    if not config.conditional:
        return Tensor(B.to_device(next(real_batches), device)), ()
    x, y = next(real_batches)
    return Tensor(B.to_device(x, device)), (Tensor(B.to_device(y.astype(np.int64), device)),)


def _fake_labels(config: TrainConfig, n: int, device):
    """() or (n class labels drawn uniformly from the global RNG,) for a conditional G."""
    return (randint(0, config.num_classes, (n,), device=device),) if config.conditional else ()


def _grad_norm(module: nn.Module) -> float:
    """||grad||_2 over all of a module's parameters: the size of the step its loss asks for."""
    total = 0.0
    for p in module.parameters():
        if p.grad is not None:
            total += float((p.grad.array.astype("float64") ** 2).sum())
    return math.sqrt(total)


def _clip_weights(module: nn.Module, c: float):
    for p in module.parameters():
        xp = B.get_array_module(p.array)
        xp.clip(p.array, -c, c, out=p.array)


# ----------------------------------------------------------------------------- starting a run


@dataclass
class _Run:
    """A run in progress: the state the loop updates, and what its bookkeeping needs besides."""

    state: TrainState
    result: TrainResult
    device: B.device
    nz: int
    batches: datasets.BatchIterator
    target: object  # the toy distribution (None for images)
    fixed_noise: np.ndarray  # the noise of every progress picture
    fixed_labels: np.ndarray | None  # a conditional run's picture classes: row k of 10 images is class k
    sample_every: int  # steps between progress pictures; 0: one each epoch
    lock: runs.RunLock  # held from the start of the run to its end
    log: runs.MetricsLog
    bar: object  # tqdm progress bar
    seconds_before: float = 0.0  # training time before a resume
    last_good: Path | None = None  # the last whole checkpoint, kept when the guard stops the run
    last_epoch_done: int = 0
    in_step: bool = False
    t_start: float = field(default_factory=time.perf_counter)

    @property
    def out(self) -> Path:
        return self.result.out

    def elapsed(self) -> float:
        return self.seconds_before + time.perf_counter() - self.t_start


def _start_run(config: TrainConfig, overwrite: bool = False) -> _Run:
    """Everything before the first step: a copy of the config, checked; the seed; the data; the run folder,
    locked; models, optimizers and batches drawn from the seed; and, when resuming, the checkpoint's state."""
    config = dataclasses.replace(config)
    config.validate()
    ckpt = load_checkpoint(runs.checkpoint_path(config.resume)) if config.resume else None
    seed = config.seed = _choose_seed(config, ckpt)
    device = resolve_device(config.device)
    # The seed also feeds three independent streams of its own (numpy's SeedSequence([seed, k])): the toy
    # data sample (k=2), the batch order (k=3) and the fixed noise of the pictures (k=1).  The global RNG
    # (weights init, then the noise z of every step) is never touched by pictures or evaluation.
    # first: a missing dataset fails before anything is written
    real, target, labels = load_training_data(config, seed, with_labels=config.conditional)
    if config.conditional:
        config.num_classes = config.num_classes or int(labels.max()) + 1

    # Models, optimizers and data: all drawn from the seed, so a run is a function of its config.
    manual_seed(seed)
    G, D, nz = build_models(config)
    G.to(device)
    D.to(device)
    optG, optD = make_optimizer(G, config, config.lr), make_optimizer(D, config, config.lr_d or config.lr)
    batch_seed = int(np.random.SeedSequence([seed, 3]).generate_state(1)[0])
    batches = (_LabelledBatches(real, labels, config.batch_size, seed=batch_seed) if config.conditional
               else datasets.BatchIterator(real, config.batch_size, seed=batch_seed))
    n_fixed = config.n_fixed or (10 * config.num_classes if config.conditional else 64 if real.ndim == 4 else 1000)
    fixed_noise = np.random.default_rng([seed, 1]).standard_normal((n_fixed, nz), dtype=np.float32)
    fixed_labels = np.arange(n_fixed) // 10 % config.num_classes if config.conditional else None
    if config.steps is not None:
        total = config.steps
    else:
        total = max(1, (config.epochs or 1) * batches.steps_per_epoch // config.d_steps)
    state = TrainState(config, G, D, optG, optD, total_steps=total, ema=EMA(G, config.ema) if config.ema else None)
    seconds_before = _resume(ckpt, state, batches) if ckpt is not None else 0.0

    out, lock = _open_run_folder(config, ckpt, overwrite)  # from here until the end of train(), the folder is ours
    try:
        runs.write_json(out / "config.json", config.to_dict())  # strict JSON: validate() refused NaN and infinity
        log = _metrics_log(out, ckpt)
    except BaseException:
        lock.release()
        raise
    _say(config, f"training {config.data} ({'toy MLPs' if config.is_toy else config.model}) on {device}: "
                 f"{total} steps, batch {config.batch_size}, pack {config.pack}, seed {seed}; writing to {out}")
    return _Run(state=state, device=device, nz=nz, batches=batches, target=target, fixed_noise=fixed_noise,
                fixed_labels=fixed_labels,
                result=TrainResult(out=out, seed=seed, step=state.step, total_steps=total, epoch=0.0, checkpoint=None),
                sample_every=config.sample_every or (0 if real.ndim == 4 else max(1, total // 10)),
                lock=lock, log=log, bar=_progress_bar(config, total, state.step), seconds_before=seconds_before,
                last_good=ckpt.path if ckpt is not None else None, last_epoch_done=_epoch_progress(batches)[1])


def _choose_seed(config: TrainConfig, ckpt) -> int:
    """A resumed run keeps its checkpoint's seed; no seed given: a random one, printed so the run can be repeated."""
    if ckpt is not None:
        return int(ckpt.config["seed"])
    if config.seed is None:
        seed = secrets.randbelow(2**31)
        _say(config, f"seed: {seed} (chosen at random; pass --seed {seed} to repeat this run)", always=True)
        return seed
    return int(config.seed)


def _open_run_folder(config: TrainConfig, ckpt, overwrite: bool) -> tuple[Path, runs.RunLock]:
    """The run folder, created and locked against a second writer.  A run already in it is refused unless it
    is the run being resumed or ``overwrite`` asks to delete it; temp files of killed writes are removed."""
    out = runs.make_folder(config.out)
    lock = runs.RunLock(out)
    note = lock.acquire()
    if note:
        _say(config, note, always=True)
    try:
        own = ckpt is not None and ckpt.path.resolve().parent == out.resolve()
        if runs.holds_run(out) and not own:
            what = describe_run(out)
            if not overwrite:
                doing = f"resume {ckpt.path} into it" if ckpt is not None else "start a new run in it"
                raise runs.RunFolderError(
                    f"{out} already holds {what}; refusing to {doing}, which would replace its checkpoint and "
                    f"metrics.csv.  To continue that run: scratchgan train --resume {out}.  To keep it: choose "
                    f"another --out.  To delete it: add --overwrite.")
            gone = runs.clear_run(out)
            _say(config, f"--overwrite: deleted {what} in {out} ({len(gone)} files)", always=True)
        leftovers = runs.remove_leftover_temp_files(out)
        if leftovers:
            _say(config, f"note: removed {len(leftovers)} temporary file(s) of writes that were killed in {out}: "
                         f"{', '.join(p.name for p in leftovers)}", always=True)
    except BaseException:
        lock.release()
        raise
    return out, lock


def _resume(ckpt, state: TrainState, batches: datasets.BatchIterator) -> float:
    """Continue exactly where the checkpoint left off: weights, optimizer moments, step, both random streams.
    Returns the training time already spent."""
    ema = {"G_ema": state.ema.model} if state.ema else {}
    ckpt.load_into({"G": state.G, "D": state.D, **ema}, {"optG": state.optG, "optD": state.optD})
    state.step = ckpt.step
    if state.ema:
        state.ema.num_updates = int(ckpt.meta["ema_updates"])
    try:
        B.set_rng_state(ckpt.rng["host"])
        batches.load_state_dict(ckpt.rng["batches"])
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{ckpt.path}: cannot restore the random state ({e})") from None
    _say(state.config, f"resuming from {ckpt.path} at step {state.step} of {state.total_steps}")
    if state.step >= state.total_steps:
        _say(state.config, f"the checkpoint is already at step {state.step} >= {state.total_steps}; pass more "
                           f"--steps/--epochs to continue", always=True)
    return float(ckpt.meta.get("seconds", 0.0))


def config_from_checkpoint(path, **overrides) -> TrainConfig:
    """The config saved in a checkpoint, with ``overrides`` (steps, epochs, out, ...) and ``resume`` set."""
    path = runs.checkpoint_path(path)
    ckpt = load_checkpoint(path)
    cfg = TrainConfig.from_dict(ckpt.config)
    for k, v in overrides.items():
        setattr(cfg, k, v)
    if "steps" in overrides and overrides["steps"] is not None:
        cfg.epochs = None
    if "epochs" in overrides and overrides["epochs"] is not None:
        cfg.steps = None
    cfg.resume = str(path)
    cfg.dry_run = bool(ckpt.config.get("dry_run", False))
    return cfg


# models and data ---------------------------------------------------------------------------------------------


def resolve_device(name: str) -> B.device:
    """'auto' is cuda when CuPy sees a GPU, else cpu."""
    if name in (None, "auto"):
        return B.device("cuda" if B.cuda_is_available() else "cpu")
    dev = B.device(name)
    B.get_backend(dev)  # a clear error now if cuda is asked for and unusable
    return dev


class Packed(nn.Module):
    """PacGAN for any D: (N, C, H, W) → (N/m, m·C, H, W), or (N, d) → (N/m, m·d), then D."""

    def __init__(self, inner: nn.Module, pack: int):
        super().__init__()
        self.inner, self.pack = inner, pack

    def forward(self, x: Tensor) -> Tensor:
        n = x.shape[0]
        if n % self.pack:
            raise ValueError(f"Packed: batch of {n} samples is not a multiple of pack={self.pack}")
        return self.inner(x.reshape(n // self.pack, self.pack * x.shape[1], *x.shape[2:]))

    def extra_repr(self):
        return f"pack={self.pack}"


def _image_size(config: TrainConfig) -> int:
    return 28  # MNIST and Fashion-MNIST (and IDX folders of 28×28 digits)


def build_models(config: TrainConfig):
    """(G, D, nz) for the config, on the host; the caller moves them to the device."""
    from . import models  # noqa: PLC0415 - the architectures (written alongside the conv layers)

    if config.is_toy:
        dim = datasets.toy_dataset(config.data).dim
        kw = {k: v for k, v in (("hidden", config.hidden), ("depth", config.depth)) if v is not None}
        if dim == 1:  # the 1-D tutorial's nets: 10 → 64 → ReLU → 1 and 1 → 64 → LeakyReLU(0.2) → 1
            nz = config.nz or 10
            D = models.Toy1DDiscriminator(pack=config.pack, **kw)
            return models.Toy1DGenerator(nz=nz, **kw), _finish_discriminator(D, config, False), nz
        nz = config.nz or 2
        G = models.ToyGenerator(nz=nz, out_dim=dim, **kw)
        if config.d_hidden is not None:
            kw["hidden"] = config.d_hidden
        return G, _finish_discriminator(models.ToyDiscriminator(in_dim=dim, pack=config.pack, **kw), config, False), nz
    nz = config.nz or 100
    size = _image_size(config)
    nz_in = nz + (_EMBED_DIM if config.conditional else 0)  # a conditional G reads [z, class embedding]
    if config.model == "dcgan":
        G = models.DCGANGenerator(nz=nz_in, ngf=config.ngf, channels=1, image_size=size)
        # No BatchNorm in D under a gradient penalty (WGAN-GP, R1) or spectral normalisation.  The penalty is
        # per example, ||grad_x D(x)_i|| for each i, but BatchNorm makes D(x)_i depend on the whole batch, so
        # that gradient is no longer a property of example i (Gulrajani et al., sec. 4): LayerNorm instead,
        # which normalises each example by itself, as they advise.  Spectral norm bounds each layer's
        # Lipschitz constant by 1, which any normalisation's division by a std undoes: none there (Miyato et al.).
        norm = None if config.spectral_norm else "layer" if (config.gp or config.r1) else "batch"
        D = models.DCGANDiscriminator(ndf=config.ndf, channels=config.pack, image_size=size, norm=norm)
        G.apply(models.weights_init)
        D.apply(models.weights_init)
    else:
        G = models.MLPGenerator(nz=nz_in, out_features=size * size, image_shape=(1, size, size))
        D = models.MLPDiscriminator(in_features=size * size * config.pack)
    if config.conditional:
        G = models.ConditionalGenerator(G, config.num_classes or 10, _EMBED_DIM)
        D = models.ProjectionDiscriminator(D, config.num_classes or 10)
    return G, _finish_discriminator(D, config), nz


_EMBED_DIM = 50  # a conditional G's class embedding size


def _finish_discriminator(D: nn.Module, config: TrainConfig, pack: bool = True) -> nn.Module:
    """Spectral norm on every conv and linear layer of D (``--spectral-norm``), then packing (the toy
    discriminators pack by themselves: ``pack=False``)."""
    if config.spectral_norm:
        for m in list(D.modules()):
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.utils.spectral_norm(m)
    return Packed(D, config.pack) if pack and config.pack > 1 else D


def load_training_data(config: TrainConfig, seed: int, with_labels: bool = False):
    """(real samples as a host float32 array (N, ...), the toy target or None), and with ``with_labels``
    a third item, the class labels (int64 (N,)) — a clear error when the data has none.

    Toy data is a fixed sample of ``toy_size`` points drawn with the run's seed; images are the
    dataset in [-1, 1].  A dry run uses tiny fake data: random noise images (with random labels), 512 toy points.
    """
    if config.is_toy:
        if with_labels:
            raise ValueError(f"--conditional needs labelled image data; {config.data} has no labels")
        target = datasets.toy_dataset(config.data)
        n = 512 if config.dry_run else config.toy_size
        return target.sample(n, np.random.default_rng([seed, 2])), target, None
    if config.dry_run:
        rng = np.random.default_rng([seed, 2])
        # every class present, in random order: the model's class count comes from the labels (a random
        # draw of 32 misses some class about one run in 30, and the dry run would build a 9-class model)
        labels = rng.permutation(np.arange(32) % 10)
        return rng.uniform(-1, 1, size=(32, 1, 28, 28)).astype(np.float32), None, labels
    images, labels = datasets.load_dataset(config.data, data_dir=config.data_dir)
    if images.shape[1:] != (1, _image_size(config), _image_size(config)):
        raise ValueError(f"{config.data}: images of shape {images.shape[1:]}; the image models take 1×28×28")
    if with_labels and labels is None:
        raise ValueError(f"--conditional needs labels, and {config.data} has no IDX label file "
                         "(*-labels-idx1-ubyte) beside its images")
    return images, None, labels


class _LabelledBatches(datasets.BatchIterator):
    """(images, labels) batches, drawn with the same index stream (and state_dict) as BatchIterator."""

    def __init__(self, images, labels, batch_size: int, seed: int):
        super().__init__(images, batch_size, seed=seed)
        self.labels = np.asarray(labels, dtype=np.int64)

    def __next__(self):
        idx = self.next_indices()
        return self.data[idx], self.labels[idx]


def make_optimizer(module: nn.Module, config: TrainConfig, lr: float) -> optim.Optimizer:
    """Adam(lr, betas) or RMSprop(lr) (WGAN's choice: momentum made its critic unstable) for a module."""
    if config.optimizer == "rmsprop":
        return optim.RMSprop(module.parameters(), lr=lr)
    return optim.Adam(module.parameters(), lr=lr, betas=config.betas)


def _bn_batches(config: TrainConfig, nz: int, seed: int, n_batches: int = 8):
    """The noise (and, conditional, the labels) over which an EMA G's BatchNorm statistics are recomputed:
    ``n_batches`` training-size batches from a stream of their own (k=5), the same every time."""
    rng = np.random.default_rng([seed, 5])
    noise = rng.standard_normal((n_batches, config.batch_size, nz), dtype=np.float32)
    if not config.conditional:
        return (noise,)
    return noise, rng.integers(0, config.num_classes, size=(n_batches, config.batch_size))


# ----------------------------------------------------------------------------- the bookkeeping around each step

# schedule ---------------------------------------------------------------------------------------------------


def _set_learning_rates(run: _Run, step: int) -> None:
    """Both learning rates times the schedule's factor for this step."""
    s = run.state
    factor = _lr_factor(s.config, step, s.total_steps)
    for opt, lr in ((s.optG, s.config.lr), (s.optD, s.config.lr_d or s.config.lr)):
        for group in opt.param_groups:
            group["lr"] = lr * factor


def _lr_factor(config: TrainConfig, step: int, total: int) -> float:
    """1, then a linear fall to 0 over the last ``lr_decay`` fraction of the run (step counts from 0)."""
    if config.lr_decay <= 0:
        return 1.0
    span = config.lr_decay * total
    return min(1.0, (total - step) / span)


def _epoch_progress(it: datasets.BatchIterator) -> tuple[float, int]:
    """(epochs as a float, completed epochs) of a drop_last BatchIterator."""
    done = it.epoch + (1 if it.n - it.position < it.batch_size else 0)
    return it.epoch + it.position / it.n, done


# metrics.csv and the progress bar -----------------------------------------------------------------------------

_CSV_FIELDS = ("step", "epoch", *(f.name for f in dataclasses.fields(StepStats)), "seconds")


def _metrics_log(out: Path, ckpt) -> runs.MetricsLog:
    """A new metrics.csv; on resume it starts with the resumed run's rows up to the checkpoint's step."""
    if ckpt is None:
        return runs.MetricsLog(out / "metrics.csv", _CSV_FIELDS)
    return runs.MetricsLog(out / "metrics.csv", _CSV_FIELDS, keep_through=ckpt.step,
                           history=ckpt.path.parent / "metrics.csv")


def _log_step(run: _Run) -> None:
    """A row of metrics.csv every ``log_every`` steps (and at the last); the bar moves every step."""
    s, c = run.state, run.state.config
    if s.step % c.log_every == 0 or s.step == s.total_steps:
        stats = dataclasses.asdict(s.stats)
        run.log.write({"step": s.step, "epoch": f"{s.epoch:.4f}", **{k: f"{v:.6g}" for k, v in stats.items()},
                       "seconds": f"{run.elapsed():.3f}"})
        run.bar.set_postfix({"loss_D": f"{s.stats.loss_D:.3f}", "loss_G": f"{s.stats.loss_G:.3f}",
                             "D(x)": f"{s.stats.D_x:.2f}", "D(G(z))": f"{s.stats.D_G_z:.2f}"}, refresh=False)
        if run.bar.disable and not c.quiet and s.step % max(1, s.total_steps // 10) < c.log_every:
            print(f"step {s.step}/{s.total_steps}  epoch {s.epoch:.2f}  loss_D {s.stats.loss_D:.4f}  "
                  f"loss_G {s.stats.loss_G:.4f}  D(x) {s.stats.D_x:.3f}  D(G(z)) {s.stats.D_G_z:.3f}  "
                  f"{run.elapsed():.0f}s", flush=True)
    run.bar.update(1)


def _progress_bar(config: TrainConfig, total: int, initial: int):
    from tqdm.auto import tqdm  # noqa: PLC0415

    return tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, smoothing=0.05,
                disable=config.quiet or not sys.stderr.isatty(), desc=f"train {config.data}", file=sys.stderr)


def _say(config: TrainConfig, *msg, always: bool = False):
    """Progress talk is silenced by ``quiet``; the seed, warnings and the final report are ``always`` printed."""
    if always or not config.quiet:
        print(*msg, flush=True)


# pictures -----------------------------------------------------------------------------------------------------


def _progress_pictures(run: _Run, epochs_done: int) -> None:
    """Samples of the fixed noise every ``sample_every`` steps, or at the end of each epoch."""
    s, c = run.state, run.state.config
    if run.sample_every and s.step % run.sample_every == 0 and s.step < s.total_steps:
        _picture(run, f"samples_step{s.step:06d}.png", f"{c.data}, step {s.step}")
    elif not run.sample_every and epochs_done > run.last_epoch_done:
        _picture(run, f"samples_epoch{epochs_done:03d}.png", f"{c.data}, epoch {epochs_done}")
    run.last_epoch_done = epochs_done


def _picture(run: _Run, name: str, title: str) -> None:
    from .plotting import save_samples_picture  # noqa: PLC0415 - matplotlib loads only when drawing

    path = run.out / name
    samples = generate(_sampler(run), run.fixed_noise, device=run.device, labels=run.fixed_labels)
    save_samples_picture(samples, path, run.target, title)
    run.result.pictures.append(path)


def _write_loss_curves(run: _Run) -> None:
    from .plotting import read_metrics_csv, save_loss_curves  # noqa: PLC0415

    cols = read_metrics_csv(run.out / "metrics.csv")
    if cols:
        save_loss_curves(cols, run.out / "losses.png", title=f"{run.state.config.data}: losses")


def _sampler(run: _Run) -> nn.Module:
    """The G that pictures, evaluation and checkpoints' ``G_ema`` use: the moving average when there is one,
    with BatchNorm statistics recomputed for its own weights (``scratchgan.gan.ema``)."""
    s = run.state
    if s.ema is None:
        return s.G
    s.ema.recompute_batch_stats(*_bn_batches(s.config, run.nz, run.result.seed))
    return s.ema.model


# checkpoints and the guard ------------------------------------------------------------------------------------


def _checkpoint_if_due(run: _Run) -> None:
    """Every ``checkpoint_every`` steps (the guard has scanned this step's weights and moments)."""
    if _checkpoint_due(run.state):
        run.last_good = run.result.checkpoint = _save(run)


def _checkpoint_due(s: TrainState) -> bool:
    every = s.config.checkpoint_every
    return bool(every) and s.step % every == 0 and s.step < s.total_steps


def _save(run: _Run, completed: bool = False) -> Path:
    s = run.state
    meta = {"config": s.config.to_dict(), "step": s.step, "epoch": _epoch_progress(run.batches)[0],
            "seconds": run.elapsed(), "completed": completed,
            "rng": {"host": B.get_rng_state(), "batches": run.batches.state_dict()},
            "nz": run.nz, "scratchgan": _version()}
    models = {"G": s.G, "D": s.D}
    if s.ema:  # the averaged G, ready for `scratchgan sample`, and its update count (its warm-up depends on it)
        models["G_ema"], meta["ema_updates"] = _sampler(run), s.ema.num_updates
    return save_checkpoint(run.out / runs.CHECKPOINT, models, {"optG": s.optG, "optD": s.optD}, meta)


def _guard(s: TrainState, fp: "_FloatingPointErrors") -> None:
    """Divergence stops the run like a non-finite loss: a NaN or infinity in any weight or optimizer moment
    (huge gradients overflow Adam's v = E[g²] long before the loss turns NaN).

    A NaN or infinity is born in an overflow, an invalid operation or a division by zero, and NumPy
    raises a flag for each: on NumPy the scan runs on a step that raised one (as good as every step, at a
    fraction of the cost on small nets), and before every checkpoint, so a checkpoint is always finite.
    CuPy raises no flags: there it runs every step (one device sync)."""
    if fp.seen or _checkpoint_due(s) or s.step == s.total_steps or not _on_numpy(s):
        bad = _first_non_finite(s)
        if bad is not None:
            reported = f" (NumPy reported {', '.join(fp.seen)})" if fp.seen else ""
            raise NonFiniteLossError(f"non-finite values in {bad} after step {s.step}{reported}", s.step, None)
    fp.seen.clear()  # overflow in a value that was then discarded (a where() branch) is no divergence


def _on_numpy(s: TrainState) -> bool:
    return B.get_array_module(next(s.G.parameters()).array) is np


def _first_non_finite(s: TrainState) -> str | None:
    arrays = []
    for net_name, net, opt_name, opt in (("G", s.G, "optG", s.optG), ("D", s.D, "optD", s.optD)):
        for pname, p in net.named_parameters():
            arrays.append((f"{net_name}.{pname}", p.array))
            arrays += [(f"{opt_name} {k} of {net_name}.{pname}", v) for k, v in opt.state.get(p, {}).items()
                       if hasattr(v, "shape")]
    xp = B.get_array_module(arrays[0][1])
    if bool(xp.stack([xp.isfinite(a).all() for _, a in arrays]).all()):  # one device sync per step
        return None
    return next(name for name, a in arrays if not bool(xp.isfinite(a).all()))


class _FloatingPointErrors:
    """NumPy's floating-point errors (overflow, invalid value, division by zero) recorded, not printed: the
    guard names them in its one message when the run diverged, and drops them when it did not."""

    def __init__(self):
        self.seen: list[str] = []

    def _record(self, kind: str, flag: int) -> None:
        if kind not in self.seen:
            self.seen.append(kind)

    def __enter__(self):
        self._errstate = np.errstate(over="call", invalid="call", divide="call", call=self._record)
        self._errstate.__enter__()
        return self

    def __exit__(self, *exc):
        return self._errstate.__exit__(*exc)


def _diverged(run: _Run, e: NonFiniteLossError) -> NonFiniteLossError:
    """The guard fired: the loss curves so far, and an error naming the step and the checkpoint kept."""
    _write_loss_curves(run)
    return NonFiniteLossError(f"training stopped: {e}; {_kept(run)}. Try a lower --lr.", e.step, run.last_good)


def _kept(run: _Run) -> str:
    if run.last_good is None:
        return "no checkpoint had been written yet"
    return f"the last good checkpoint {run.last_good} is kept (step {load_checkpoint(run.last_good).step})"


@contextlib.contextmanager
def _named_write_errors(run: _Run):
    """A write that fails (a full disk, a folder removed or made read-only) stops the run with one message:
    which file, at which step, which checkpoint is kept, and what to do."""
    try:
        yield
    except OSError as e:
        what = e.filename or run.out
        fix = "free some space" if e.errno == errno.ENOSPC else f"make {run.out} writable again"
        again = (f"scratchgan train --resume {run.last_good}" if run.last_good is not None else
                 "run the same command again")
        raise runs.RunFolderError(f"cannot write {what} at step {run.state.step}: {e.strerror or e}; "
                                  f"{_kept(run)}.  To go on: {fix}, then {again}") from None


def _version() -> str:
    from .. import __version__  # noqa: PLC0415

    return __version__


# Ctrl-C and SIGTERM -------------------------------------------------------------------------------------------


class _StopRequests:
    """Ctrl-C (SIGINT) or SIGTERM (what ``timeout``, job schedulers and containers send) asks the loop to stop
    after the current step; it then saves a checkpoint.  A second signal raises KeyboardInterrupt at once.
    ``signum`` is the first signal.  Only installable in the main thread."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.requested = False
        self.signum = None
        self.previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = {sig: signal.signal(sig, self._handle) for sig in self.SIGNALS}
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested, self.signum = True, signum
        name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        print(f"\n{name}: stopping after this step and saving a checkpoint ({name} again to abort now)",
              file=sys.stderr, flush=True)

    def __exit__(self, *exc):
        for sig, previous in self.previous.items():
            signal.signal(sig, previous)
        return False


def _stop_interrupted(run: _Run, signum: int | None) -> TrainResult:
    """Stopped by Ctrl-C, SIGTERM (or a callback's KeyboardInterrupt): save, and say how to continue."""
    s, result = run.state, run.result
    result.interrupted, result.signal = True, signum
    if run.in_step:  # a hard abort inside a step: D may be updated and G not; keep the last whole checkpoint
        _say(s.config, f"interrupted inside step {s.step + 1}; kept the last checkpoint "
                       f"({run.last_good or 'none was written'})", always=True)
        result.checkpoint = run.last_good
    elif _first_non_finite(s) is not None:  # never save a diverged model over the last good one
        _say(s.config, f"interrupted at step {s.step}, with non-finite weights; kept the last checkpoint "
                       f"({run.last_good or 'none was written'})", always=True)
        result.checkpoint = run.last_good
    else:
        result.checkpoint = _save(run)
        _say(s.config, f"interrupted at step {s.step}/{s.total_steps}: checkpoint saved to {result.checkpoint}\n"
                       f"continue with: scratchgan train --resume {result.checkpoint}", always=True)
    _wrap_up(run)
    return result


# ----------------------------------------------------------------------------- the end of a run


def _wrap_up(run: _Run) -> None:
    s, result = run.state, run.result
    result.step, result.epoch, result.stats, result.seconds = s.step, s.epoch, s.stats, run.elapsed()
    _write_loss_curves(run)


def _finish(run: _Run) -> TrainResult:
    """The final checkpoint, the picture of the fixed noise, and the evaluation (toy data)."""
    s, c, out, result = run.state, run.state.config, run.out, run.result
    _wrap_up(run)
    if s.step > 0:
        result.checkpoint = _save(run, completed=True)
    _picture(run, "samples.png", f"{c.data}, step {s.step} (fixed noise)")
    _say(c, f"done: {s.step} steps in {result.seconds:.0f}s; checkpoint {result.checkpoint}", always=True)
    if run.target is not None:
        samples = generate(_sampler(run), c.eval_samples, run.nz, device=run.device, seed=result.seed + 4)
        result.evaluation = evaluate_samples(samples, run.target)
        M.write_report(out, result.evaluation, "eval.json")
        _say(c, M.format_report(result.evaluation, f"evaluation on {c.eval_samples} samples "
                                                  f"(written to {out / 'eval.json'}):"), always=True)
    _say(c, f"pictures: {out / 'samples.png'} and {out / 'losses.png'} (progress pictures: {out}/samples_*.png)",
         always=True)
    return result


# sampling and evaluation -------------------------------------------------------------------------------------


def generate(G: nn.Module, noise_or_n, nz: int | None = None, device="cpu", seed: int | None = None,
             chunk: int = 1000, labels=None) -> np.ndarray:
    """float32 host samples from G in eval mode, without touching the global RNG: from a given (N, nz)
    noise array, or from N fresh normals drawn with ``seed``.  ``labels`` (N class labels) for a
    conditional G."""
    if isinstance(noise_or_n, int):
        noise = np.random.default_rng(seed).standard_normal((noise_or_n, nz), dtype=np.float32)
    else:
        noise = np.asarray(noise_or_n, dtype=np.float32)
    labels = None if labels is None else np.asarray(labels, dtype=np.int64)

    def cond(i):
        return () if labels is None else (Tensor(B.to_device(labels[i:i + chunk], device)),)

    was_training = G.training
    G.eval()
    try:
        with no_grad():
            parts = [B.to_numpy(G(Tensor(B.to_device(noise[i:i + chunk], device)), *cond(i)).array)
                     for i in range(0, len(noise), chunk)]
    finally:
        G.train(was_training)
    return np.concatenate(parts).astype(np.float32, copy=False)


def evaluate_samples(samples: np.ndarray, target):
    """The toy protocol: mode coverage for 2-D mixtures, mean/std/KS for the 1-D Gaussian."""
    if target.dim == 1:
        return M.gaussian_1d_stats(samples, mean=float(target.centers[0, 0]), std=float(target.std))
    return M.mode_coverage(samples, target.centers, target.std)


# ----------------------------------------------------------------------------- using a finished run


def models_from_checkpoint(path, device="cpu", raw: bool = False):
    """(G, D, nz, config) rebuilt from a checkpoint, weights loaded, on ``device``.  G is the EMA
    generator when the run kept one (``--ema``), unless ``raw`` asks for the trained G itself."""
    ckpt = load_checkpoint(runs.checkpoint_path(path))
    config = TrainConfig.from_dict(ckpt.config)
    state = B.get_rng_state()
    try:
        G, D, nz = build_models(config)  # initialisation draws from the global RNG: leave it as it was
    finally:
        B.set_rng_state(state)
    ckpt.load_into({("G_ema" if "G_ema" in ckpt.models and not raw else "G"): G, "D": D})
    dev = resolve_device(device)
    return G.to(dev), D.to(dev), nz, config
