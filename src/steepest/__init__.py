"""steepest: neural-network optimization, exact and visible.

A NumPy reverse-mode autodiff engine (``Tensor``), the course's activations and losses,
layers and optimizers that follow PyTorch's conventions, training with diagnostics, and
lessons that show how a network learns.
"""

from steepest.tensor import (
    Tensor, arange, default_generator, enable_grad, full, get_default_dtype, is_grad_enabled,
    manual_seed, no_grad, ones, ones_like, rand, randn, set_default_dtype, tensor, zeros,
    zeros_like,
)
from steepest.ops import (
    abs, clip, concatenate, exp, linear, log, matmul, max, maximum, mean, min, minimum,
    reshape, sqrt, stack, sum, transpose, where,
)
from steepest.activations import (
    binary_step, identity, leaky_relu, log_softmax, relu, sigmoid, softmax, tanh,
)
from steepest.gradcheck import gradcheck
from steepest import losses, nn, optim, data
from steepest.train import History, evaluate, fit, predict
from steepest import callbacks, checkpoint, diagnostics
from steepest.sweep import dask_executor, log_range, sweep, sweep_mlp

__version__ = "0.1.0"
