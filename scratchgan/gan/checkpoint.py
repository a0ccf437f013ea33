"""Checkpoints: one ``.npz`` file holding everything a run needs to continue bit for bit.

Layout (all plain NumPy arrays; nothing is pickled, so loading runs no code):

    G/<key>, D/<key>             the models' state_dicts (``main.0.weight``, ...; with spectral norm
                                 D's ``weight_orig``/``weight_u``/``weight_v``; a conditional model's
                                 ``embed.weight``)
    G_ema/<key>                  with ``--ema``: the averaged G (its BatchNorm statistics recomputed
                                 for its weights); ``meta`` then holds ``ema_updates``
    optG/state/<i>/<name>        optimizer state arrays (Adam's exp_avg, exp_avg_sq) of parameter i
    optD/state/<i>/<name>
    meta                         one JSON string: format tag and version, the full run config,
                                 (``conditional``, ``num_classes``, ``loss``, ... included),
                                 step, epoch, RNG states, optimizer scalars (Adam's step count)
                                 and param_groups (lr, betas, ...), and the list of array keys

Writing is atomic (``runs.atomic_write``): the arrays go to a temporary file in the same
folder, which is flushed, fsync'ed and then ``os.replace``'d over the old checkpoint, so a
crash or Ctrl-C mid-write leaves the previous checkpoint whole.  Loading checks the file
before anything touches a model and raises ``CheckpointError`` naming the file
for a truncated, corrupt or incomplete checkpoint.
"""
from __future__ import annotations

import json
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import backend as B
from .runs import CHECKPOINT, RUN_FILES, atomic_write

FORMAT = "scratchgan-checkpoint"
VERSION = 1

__all__ = ["CheckpointError", "Checkpoint", "save_checkpoint", "load_checkpoint", "describe_run", "FORMAT", "VERSION"]


class CheckpointError(ValueError):
    """A checkpoint file that is missing, truncated, corrupt or incomplete (the message names the file)."""


@dataclass
class Checkpoint:
    """A loaded checkpoint: ``models[name]`` are state_dicts, ``optimizers[name]`` optimizer state_dicts."""

    path: Path
    meta: dict
    models: dict = field(default_factory=dict)
    optimizers: dict = field(default_factory=dict)

    @property
    def config(self) -> dict:
        return self.meta.get("config", {})

    @property
    def step(self) -> int:
        return int(self.meta.get("step", 0))

    @property
    def epoch(self) -> int:
        return int(self.meta.get("epoch", 0))

    @property
    def rng(self) -> dict:
        return self.meta.get("rng", {})

    def load_into(self, models: dict | None = None, optimizers: dict | None = None) -> None:
        """Copy the saved state into live modules / optimizers, e.g. ``load_into({"G": G}, {"optG": optG})``.

        Any mismatch (a different architecture, a missing optimizer) is a ``CheckpointError`` naming the file.
        """
        for name, module in (models or {}).items():
            if name not in self.models:
                raise CheckpointError(f"{self.path}: checkpoint has no model {name!r} (has {sorted(self.models)})")
            try:
                module.load_state_dict(self.models[name])
            except (RuntimeError, ValueError) as e:
                raise CheckpointError(f"{self.path}: model {name!r} does not match this checkpoint:\n{e}") from None
        for name, opt in (optimizers or {}).items():
            if name not in self.optimizers:
                raise CheckpointError(f"{self.path}: checkpoint has no optimizer {name!r} (has {sorted(self.optimizers)})")
            try:
                opt.load_state_dict(self.optimizers[name])
            except (KeyError, IndexError, ValueError) as e:
                raise CheckpointError(f"{self.path}: optimizer {name!r} does not match this checkpoint: {e}") from None


# ----------------------------------------------------------------------------- saving


def _is_array(v) -> bool:
    return hasattr(v, "shape") and hasattr(v, "dtype")


def _host(v) -> np.ndarray:
    """A state value (a Tensor on any device, or a backend array) as the host array a file holds."""
    return v.detach().cpu().numpy() if hasattr(v, "detach") else B.to_numpy(v)


def _flatten_optimizer(prefix: str, state_dict: dict, arrays: dict) -> dict:
    """Arrays of an optimizer state_dict go into ``arrays``; the rest (JSON) is returned."""
    scalars = {}
    for i, entries in state_dict["state"].items():
        for name, v in entries.items():
            if _is_array(v):
                arrays[f"{prefix}/state/{int(i)}/{name}"] = _host(v)
            else:
                scalars.setdefault(str(int(i)), {})[name] = v.item() if isinstance(v, np.generic) else v
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in state_dict["param_groups"]]
    return {"scalars": scalars, "param_groups": groups}


def save_checkpoint(path, models: dict, optimizers: dict, meta: dict) -> Path:
    """Write ``models`` (name -> Module), ``optimizers`` (name -> Optimizer) and ``meta`` (JSON-able dict:
    config, step, epoch, rng, ...) to ``path`` atomically.  Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    for name, module in models.items():
        for key, value in module.state_dict().items():  # Tensors (views of the model) -> host arrays
            arrays[f"{name}/{key}"] = _host(value)
    meta = dict(meta, format=FORMAT, version=VERSION, optimizers={})
    for name, opt in optimizers.items():
        meta["optimizers"][name] = _flatten_optimizer(name, opt.state_dict(), arrays)
    meta["models"] = {name: [k for k in arrays if k.startswith(f"{name}/")] for name in models}
    meta["arrays"] = sorted(arrays)
    arrays["meta"] = np.array(json.dumps(meta, allow_nan=False))

    with atomic_write(path, "wb") as f:
        np.savez(f, **arrays)
    return path


# ----------------------------------------------------------------------------- loading


def _read_all(path: Path) -> dict:
    """Every array of the .npz, read eagerly so that CRC and truncation errors surface here."""
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder, not a checkpoint file (did you mean {path / 'checkpoint.npz'}?)")
    with open(path, "rb") as f:
        magic = f.read(6)
    if magic == b"\x93NUMPY":
        raise CheckpointError(f"{path}: is a .npy array (samples written by `scratchgan sample`?), not a checkpoint; "
                              f"give a run's checkpoint.npz, or its run folder")
    if not magic.startswith(b"PK"):
        what = "an empty file" if not magic else "not a .npz archive"
        raise CheckpointError(f"{path}: not a scratchgan checkpoint ({what}); give a run's checkpoint.npz, or its "
                              f"run folder")
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError) as e:
        raise CheckpointError(
            f"{path}: not a readable scratchgan checkpoint (truncated or corrupt file: {type(e).__name__}: {e})"
        ) from None


def load_checkpoint(path) -> Checkpoint:
    """Read and validate a checkpoint written by ``save_checkpoint``."""
    path = Path(path)
    arrays = _read_all(path)
    if "meta" not in arrays:
        raise CheckpointError(f"{path}: not a scratchgan checkpoint (no 'meta' entry)")
    try:
        meta = json.loads(str(arrays.pop("meta")))
    except (ValueError, TypeError) as e:
        raise CheckpointError(f"{path}: the 'meta' entry is not valid JSON ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a scratchgan checkpoint (format tag {meta.get('format') if isinstance(meta, dict) else None!r})")
    if int(meta.get("version", -1)) > VERSION:
        raise CheckpointError(f"{path}: checkpoint version {meta['version']} is newer than this scratchgan "
                              f"understands ({VERSION}); upgrade scratchgan")
    for required in ("config", "step", "models", "arrays", "optimizers"):
        if required not in meta:
            raise CheckpointError(f"{path}: incomplete checkpoint: 'meta' lacks {required!r}")
    missing = [k for k in meta["arrays"] if k not in arrays]
    if missing:
        shown = ", ".join(missing[:5]) + (f", ... ({len(missing)} in all)" if len(missing) > 5 else "")
        raise CheckpointError(f"{path}: incomplete checkpoint: missing entries {shown}")

    ckpt = Checkpoint(path=path, meta=meta)
    for name, keys in meta["models"].items():
        ckpt.models[name] = {k[len(name) + 1:]: arrays[k] for k in keys}
    for name, flat in meta["optimizers"].items():
        state: dict[int, dict] = {}
        prefix = f"{name}/state/"
        for k, v in arrays.items():
            if k.startswith(prefix):
                i, entry = k[len(prefix):].split("/", 1)
                state.setdefault(int(i), {})[entry] = v
        for i, entries in flat.get("scalars", {}).items():
            state.setdefault(int(i), {}).update(entries)
        groups = [{k: (tuple(v) if isinstance(v, list) and k != "params" else v) for k, v in g.items()}
                  for g in flat["param_groups"]]
        ckpt.optimizers[name] = {"state": dict(sorted(state.items())), "param_groups": groups}
    return ckpt


def describe_run(folder) -> str:
    """'a run at step 9026' (from its checkpoint), or the files it has."""
    folder = Path(folder)
    try:
        return f"a run at step {load_checkpoint(folder / CHECKPOINT).step}"
    except CheckpointError:
        return "a run (" + ", ".join(n for n in RUN_FILES if (folder / n).exists()) + ")"
