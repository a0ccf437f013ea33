"""Layers and containers with PyTorch's names, signatures and state_dict keys."""
from . import functional, init, utils
from .layers import (Dropout, Embedding, Flatten, Identity, LeakyReLU, Linear, LogSoftmax, ReLU, Sigmoid, Softmax,
                     Softplus, Tanh, Unflatten)
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss
from .module import Module, ModuleDict, ModuleList, Parameter, Sequential
from .conv import AvgPool2d, Conv2d, ConvTranspose2d, Upsample, UpsamplingNearest2d
from .norm import BatchNorm1d, BatchNorm2d, GroupNorm, InstanceNorm2d, LayerNorm

__all__ = [
    "functional", "init", "utils", "Module", "ModuleList", "Parameter", "Sequential", "Linear", "ReLU", "LeakyReLU",
    "Tanh", "Sigmoid", "Softplus", "Identity", "Flatten", "Dropout", "BCELoss", "BCEWithLogitsLoss", "MSELoss",
    "Conv2d", "ConvTranspose2d", "BatchNorm2d", "Upsample", "UpsamplingNearest2d",
    "LayerNorm", "InstanceNorm2d", "GroupNorm", "AvgPool2d", "Unflatten", "Softmax", "LogSoftmax", "L1Loss",
    "NLLLoss", "CrossEntropyLoss",
]
__all__ += ["Embedding", "BatchNorm1d", "ModuleDict"]
