"""steepest: neural-network optimization, exact and visible.

A NumPy reverse-mode autodiff engine (``Tensor``), the course's activations and losses,
layers and optimizers that follow PyTorch's conventions, training with diagnostics, and
lessons that show how a network learns.
"""

import numpy as _np

from steepest._version import __version__
from steepest.tensor import (
    Tensor, arange, default_generator, enable_grad, float32, float64, from_numpy, full,
    get_default_dtype, int32, int64, is_grad_enabled, linspace, manual_seed, no_grad, ones,
    ones_like, rand, randn, randn_like, set_default_dtype, tensor, zeros, zeros_like,
)
from steepest.ops import (
    abs, argmax, argmin, cat, clip, clone, concatenate, cos, exp, flatten, linear, log, matmul,
    max, maximum, mean, min, minimum, permute, pow, reshape, sin, sqrt, squeeze, stack, sum,
    transpose, unsqueeze, where,
)
from steepest.activations import (
    binary_step, identity, leaky_relu, log_softmax, relu, sigmoid, softmax, tanh,
)
from steepest.gradcheck import gradcheck
from steepest import losses, nn, optim, data
from steepest import utils
from steepest import training
from steepest.training import (
    DivergenceError, History, callbacks, checkpoint, diagnostics, evaluate, fit, predict,
)
from steepest.training import loop as train
from steepest.serialization import load, save
from steepest import viz
from steepest.sweeps import dask_executor, log_range, sweep, sweep_mlp

# ``st.train``, ``st.callbacks``, ``st.checkpoint`` and ``st.diagnostics`` are the training
# package's modules; the old import paths (``from steepest.train import fit``) are small
# modules of their own that re-export them with a DeprecationWarning.

#: torch's dtype names (``st.float`` is float32 as in torch; Python floats are float64 here)
float = float32
double = float64
long = int64
int = int32
bool = _np.dtype(_np.bool_)
clamp = clip

