"""Optimisers written out by hand with PyTorch's semantics: ``SGD``, ``Adam`` (``amsgrad``), ``AdamW``,
``RMSprop``; learning-rate schedules in ``lr_scheduler``."""
from . import lr_scheduler
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["lr_scheduler", "Optimizer", "Adam", "AdamW", "RMSprop", "SGD"]
