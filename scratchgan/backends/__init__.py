"""``scratchgan.backends.cudnn.benchmark = True`` and friends: switches that old PyTorch code sets.

They are accepted and change nothing here (the engine has no cuDNN autotuner).  ``cudnn`` is a submodule so
that ``import scratchgan.backends.cudnn as cudnn`` works, as pytorch/examples' ``dcgan/main.py`` writes it.
"""
from types import SimpleNamespace

from . import cudnn

mps = SimpleNamespace(is_available=lambda: False, is_built=lambda: False)

__all__ = ["cudnn", "mps"]
