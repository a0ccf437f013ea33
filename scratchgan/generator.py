"""``scratchgan.Generator``: a random-number generator object, as ``torch.Generator``.

It wraps one NumPy ``Generator`` (PCG64) and forwards NumPy's sampling methods to it, so it can be
passed as ``generator=`` anywhere scratchgan takes one (``randn``, ``randperm``, ``normal_``,
``DataLoader``, ``random_split``).  Without one, those use the global generator of ``manual_seed``.
The numbers differ from PyTorch's (a different algorithm); seeding gives the same reproducibility.
"""
from __future__ import annotations

import numpy as np

from . import backend as B

__all__ = ["Generator", "default_generator_rng"]


class Generator:
    def __init__(self, device="cpu"):
        self.device = B.device(device) if isinstance(device, str) else device
        self._seed = int(np.random.SeedSequence().entropy % (2 ** 63))
        self._rng = np.random.default_rng(self._seed)

    def manual_seed(self, seed: int) -> "Generator":
        """Restart the stream from ``seed``; returns self (``g = Generator().manual_seed(0)``)."""
        self._seed = int(seed)
        self._rng = np.random.default_rng(self._seed)
        return self

    def seed(self) -> int:
        """Re-seed from fresh OS entropy; returns the new seed."""
        self.manual_seed(int(np.random.SeedSequence().entropy % (2 ** 63)))
        return self._seed

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> dict:
        """The bit generator's state (a JSON-able dict here; torch returns a uint8 tensor)."""
        return self._rng.bit_generator.state

    def set_state(self, state: dict) -> "Generator":
        self._rng.bit_generator.state = state
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
