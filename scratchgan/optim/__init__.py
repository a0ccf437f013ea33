"""Optimisers written out by hand: ``Adam`` and ``SGD`` with PyTorch's semantics."""
from .adam import Adam
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["Optimizer", "Adam", "SGD"]
