"""``import scratchgan.nn.functional as F`` works as ``torch.nn.functional`` does."""
from ..functional import *  # noqa: F401,F403
from ..functional import __all__  # noqa: F401
