"""Layers and containers with PyTorch's names, signatures and state_dict keys."""
from . import functional, init, utils
from .layers import Dropout, Embedding, Flatten, Identity, LeakyReLU, Linear, ReLU, Sigmoid, Softplus, Tanh
from .loss import BCELoss, BCEWithLogitsLoss, MSELoss
from .module import Module, ModuleList, Parameter, Sequential
from .conv import Conv2d, ConvTranspose2d, Upsample, UpsamplingNearest2d
from .norm import BatchNorm1d, BatchNorm2d

__all__ = [
    "functional", "init", "utils", "Module", "ModuleList", "Parameter", "Sequential", "Linear", "ReLU", "LeakyReLU",
    "Tanh", "Sigmoid", "Softplus", "Identity", "Flatten", "Dropout", "BCELoss", "BCEWithLogitsLoss", "MSELoss",
    "Conv2d", "ConvTranspose2d", "BatchNorm2d", "Upsample", "UpsamplingNearest2d",
]
__all__ += ["Embedding", "BatchNorm1d"]
