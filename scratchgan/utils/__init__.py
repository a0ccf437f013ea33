"""``scratchgan.utils``: as ``torch.utils`` — ``data`` holds Dataset, DataLoader and friends; and torchvision's
``make_grid`` and ``save_image`` (``image``), which every GAN script calls."""
from . import data  # noqa: F401
from .image import make_grid, save_image  # noqa: F401
