"""Layers and containers with PyTorch's names, signatures and state_dict keys."""
from . import functional, init
from .layers import Dropout, Flatten, Identity, LeakyReLU, Linear, ReLU, Sigmoid, Softplus, Tanh
from .loss import BCELoss, BCEWithLogitsLoss, MSELoss
from .module import Module, ModuleList, Parameter, Sequential

__all__ = [
    "functional", "init", "Module", "ModuleList", "Parameter", "Sequential", "Linear", "ReLU", "LeakyReLU",
    "Tanh", "Sigmoid", "Softplus", "Identity", "Flatten", "Dropout", "BCELoss", "BCEWithLogitsLoss", "MSELoss",
]
