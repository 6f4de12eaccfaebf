"""Neural-network building blocks: Module, Parameter, layers and initialisers."""

from steepest.nn import init
from steepest.nn.layers import (
    ACTIVATION_MODULES, BinaryStep, Dropout, Flatten, Identity, LeakyReLU, Linear, LogSoftmax,
    ReLU, Sequential, Sigmoid, Softmax, Tanh, mlp,
)
from steepest.nn.module import Module, Parameter

__all__ = ["Module", "Parameter", "Linear", "Sequential", "Sigmoid", "Tanh", "ReLU",
           "LeakyReLU", "Softmax", "LogSoftmax", "BinaryStep", "Identity", "Dropout", "Flatten",
           "ACTIVATION_MODULES", "mlp", "init"]
