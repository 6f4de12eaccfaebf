"""Neural-network building blocks: Module, Parameter, layers, losses and initialisers.

``steepest.nn.functional`` (import as ``F``) holds torch.nn.functional's names,
``steepest.nn.utils`` gradient clipping.
"""

from steepest.nn import functional, init, utils
from steepest.nn.layers import (
    ACTIVATION_MODULES, BatchNorm1d, BinaryStep, Dropout, Embedding, Flatten, Identity,
    LayerNorm, LeakyReLU, Linear, LogSoftmax, ModuleDict, ModuleList, ReLU, Sequential, Sigmoid,
    Softmax, Tanh, mlp,
)
from steepest.nn.loss import (
    BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss,
)
from steepest.nn.module import Module, Parameter

__all__ = ["Module", "Parameter", "Linear", "Sequential", "ModuleList", "ModuleDict", "Sigmoid",
           "Tanh", "ReLU", "LeakyReLU", "Softmax", "LogSoftmax", "BinaryStep", "Identity",
           "Dropout", "Flatten", "Embedding", "BatchNorm1d", "LayerNorm", "MSELoss", "L1Loss", "CrossEntropyLoss", "NLLLoss", "BCELoss",
           "BCEWithLogitsLoss", "ACTIVATION_MODULES", "mlp", "functional", "init", "utils"]
