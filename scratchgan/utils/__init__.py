"""``scratchgan.utils``: as ``torch.utils`` — ``data`` holds Dataset, DataLoader and friends."""
from . import data  # noqa: F401
