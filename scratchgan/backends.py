"""``scratchgan.backends.cudnn.benchmark = True`` and friends: switches that old PyTorch code sets.

They are accepted and change nothing here (the engine has no cuDNN autotuner).
"""
from types import SimpleNamespace

cudnn = SimpleNamespace(benchmark=False, deterministic=False, enabled=True, allow_tf32=True,
                        is_available=lambda: False)
mps = SimpleNamespace(is_available=lambda: False, is_built=lambda: False)

__all__ = ["cudnn", "mps"]
