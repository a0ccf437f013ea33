"""``scratchgan.Generator``: a random-number generator object, as ``torch.Generator``.

It wraps one NumPy ``Generator`` (PCG64) and forwards NumPy's sampling methods to it, so it can be
passed as ``generator=`` anywhere scratchgan takes one (``randn``, ``randperm``, ``normal_``,
``DataLoader``, ``random_split``).  Without one, those use the global generator of ``manual_seed``.
The numbers differ from PyTorch's (a different algorithm); seeding gives the same reproducibility.
"""
from __future__ import annotations

import json

import numpy as np

from . import backend as B
from .tensor import Tensor

__all__ = ["Generator", "default_generator_rng", "get_rng_state", "set_rng_state", "seed", "initial_seed"]


# torch hands a generator's state around as a uint8 tensor (to save in a checkpoint and set back); here
# those bytes are the JSON text of NumPy's bit-generator state, so they survive ``save``/``load`` as any tensor
def _state_tensor(state: dict) -> Tensor:
    return Tensor(np.frombuffer(json.dumps(state).encode(), dtype=np.uint8).copy())


def _state_dict(state) -> dict:
    if isinstance(state, dict):
        return state
    data = B.to_numpy(state.array if isinstance(state, Tensor) else state)
    if data.dtype != np.uint8 or data.ndim != 1:
        raise TypeError(f"set_rng_state: expected the uint8 tensor that get_rng_state returned, "
                        f"got dtype {data.dtype} and shape {data.shape}")
    try:
        return json.loads(data.tobytes().decode())
    except ValueError as e:
        raise ValueError("set_rng_state: these bytes are not a scratchgan generator state "
                         "(a state saved by PyTorch cannot be read: the generators differ)") from e


def get_rng_state() -> Tensor:
    """The global generator's state as a uint8 tensor, as ``torch.get_rng_state``."""
    return _state_tensor(B.get_rng_state())


def set_rng_state(new_state) -> None:
    """Put back a state from ``get_rng_state``: the draws after it repeat exactly."""
    B.set_rng_state(_state_dict(new_state))


def _fresh_seed() -> int:
    """A seed from fresh OS entropy, in torch's range (a non-negative int64)."""
    return int(np.random.SeedSequence().entropy % (2 ** 63))


def seed() -> int:
    """Seed the global generator from fresh OS entropy; returns the seed (``torch.seed``)."""
    s = _fresh_seed()
    B.manual_seed(s)
    return s


def initial_seed() -> int:
    """The seed of the last ``manual_seed``/``seed`` (0 at import: scratchgan starts seeded)."""
    return B.initial_seed()


class Generator:
    def __init__(self, device="cpu"):
        self.device = B.device(device) if isinstance(device, str) else device
        self.manual_seed(_fresh_seed())

    def manual_seed(self, seed: int) -> "Generator":
        """Restart the stream from ``seed``; returns self (``g = Generator().manual_seed(0)``)."""
        self._seed = int(seed)
        self._rng = np.random.default_rng(self._seed)
        return self

    def seed(self) -> int:
        """Re-seed from fresh OS entropy; returns the new seed."""
        self.manual_seed(_fresh_seed())
        return self._seed

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> Tensor:
        """The bit generator's state as a uint8 tensor, as torch's (the bytes of its JSON text)."""
        return _state_tensor(self._rng.bit_generator.state)

    def set_state(self, state) -> "Generator":
        self._rng.bit_generator.state = _state_dict(state)
        return self

    def __getattr__(self, name):
        # NumPy's sampling methods (permutation, integers, standard_normal, ...): used by the engine
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._rng, name)

    def __repr__(self):
        return f"<scratchgan.Generator seed={self._seed}>"


def default_generator_rng(generator=None):
    """The NumPy generator to draw from: ``generator``'s, or the global one of ``manual_seed``."""
    if generator is None:
        return B.host_rng()
    return generator._rng if isinstance(generator, Generator) else generator
