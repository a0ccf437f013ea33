"""Layers and containers with PyTorch's names, signatures and state_dict keys."""
from .._unsupported import NOT_A_GAN_LAYER as _NOT_A_GAN_LAYER
from .._unsupported import module_getattr
from . import functional, init, parallel, utils
from .layers import (CELU, ELU, GELU, GLU, SELU, CosineSimilarity, Dropout, Dropout2d, Embedding, Flatten, Hardshrink,
                     Hardsigmoid, Hardswish, Hardtanh, Identity, LeakyReLU, Linear, LogSigmoid, LogSoftmax, Mish,
                     PairwiseDistance, PReLU, ReLU, ReLU6, Sigmoid, SiLU, Softmax, Softmin, Softplus, Softshrink,
                     Softsign, Tanh, Tanhshrink, Threshold, Unflatten)
from .loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, KLDivLoss, L1Loss, MSELoss, NLLLoss,
                   SmoothL1Loss)
from .module import Module, ModuleDict, ModuleList, Parameter, ParameterDict, ParameterList, Sequential
from .conv1d_layers import (AvgPool1d, ConstantPad1d, Conv1d, ConvTranspose1d, MaxPool1d, ReflectionPad1d,
                            ReplicationPad1d, ZeroPad1d)
from .conv_layers import (AdaptiveAvgPool2d, AvgPool2d, ConstantPad2d, Conv2d, ConvTranspose2d, MaxPool2d, PixelShuffle,
                          PixelUnshuffle, ReflectionPad2d, ReplicationPad2d, Upsample, UpsamplingBilinear2d,
                          UpsamplingNearest2d, ZeroPad2d)
from .norm_layers import BatchNorm1d, BatchNorm2d, GroupNorm, InstanceNorm1d, InstanceNorm2d, LayerNorm
from .parallel import DataParallel

__all__ = [
    "functional", "init", "utils", "Module", "ModuleList", "Parameter", "Sequential", "Linear", "ReLU", "LeakyReLU",
    "Tanh", "Sigmoid", "Softplus", "Identity", "Flatten", "Dropout", "BCELoss", "BCEWithLogitsLoss", "MSELoss",
    "Conv2d", "ConvTranspose2d", "BatchNorm2d", "Upsample", "UpsamplingNearest2d",
    "LayerNorm", "InstanceNorm2d", "GroupNorm", "AvgPool2d", "Unflatten", "Softmax", "LogSoftmax", "L1Loss",
    "NLLLoss", "CrossEntropyLoss",
]
__all__ += ["Embedding", "BatchNorm1d", "ModuleDict", "Dropout2d", "DataParallel", "parallel"]
__all__ += ["ELU", "SiLU", "GELU", "PReLU", "MaxPool2d", "AdaptiveAvgPool2d", "ZeroPad2d", "ConstantPad2d",
            "ReflectionPad2d", "ReplicationPad2d", "PixelShuffle", "PixelUnshuffle", "SmoothL1Loss", "HuberLoss",
            "KLDivLoss", "CosineSimilarity", "PairwiseDistance", "Hardtanh", "ReLU6", "Hardsigmoid", "Hardswish",
            "SELU", "CELU", "Mish", "Softsign", "Tanhshrink", "LogSigmoid", "Hardshrink", "Softshrink", "Threshold",
            "GLU", "Softmin", "ParameterList", "ParameterDict", "UpsamplingBilinear2d", "InstanceNorm1d", "Conv1d",
            "ConvTranspose1d", "AvgPool1d", "MaxPool1d", "ReflectionPad1d", "ReplicationPad1d", "ConstantPad1d",
            "ZeroPad1d"]

__getattr__ = module_getattr(__name__, {
    "Conv3d": _NOT_A_GAN_LAYER, "LSTM": _NOT_A_GAN_LAYER,
    "GRU": _NOT_A_GAN_LAYER, "MultiheadAttention": _NOT_A_GAN_LAYER,
    "SyncBatchNorm": "one device only: use BatchNorm2d",
})
