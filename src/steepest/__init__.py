"""steepest: neural-network optimization, exact and visible.

A NumPy reverse-mode autodiff engine (``Tensor``), the course's activations and losses,
layers and optimizers that follow PyTorch's conventions, training with diagnostics, and
lessons that show how a network learns.
"""

import numpy as _np

from steepest._version import __version__
from steepest.tensor import (
    Size, Tensor, arange, default_dtype, enable_grad, float32, float64, from_numpy, full,
    full_like, get_default_dtype, int32, int64, is_grad_enabled, linspace, no_grad, ones,
    ones_like, set_default_dtype, tensor, zeros, zeros_like,
)
from steepest.random import (
    Generator, bernoulli, default_generator, get_rng_state, initial_seed, manual_seed,
    multinomial, normal, rand, rand_like, randint, randint_like, randn, randn_like, randperm,
    seed, set_rng_state,
)
from steepest.ops import (
    abs, argmax, argmin, cat, clip, clone, concatenate, cos, exp, flatten, linear, log, matmul,
    max, maximum, mean, min, minimum, permute, pow, reshape, sin, sqrt, squeeze, stack, sum,
    transpose, unsqueeze, where,
)
from steepest.ops import (
    bitwise_and, bitwise_not, bitwise_or, bitwise_xor, bmm, ceil, chunk, cumsum, dot, expand,
    expm1, flip, floor, floor_divide, gather, histogram, index_select, log10, log1p, log2, logsumexp,
    masked_fill, mm, norm, outer, prod, remainder, repeat, result_type, round, rsqrt, scatter,
    scatter_add, sign, sort, split, square, std, topk, trunc, var,
)
from steepest.ops import (
    all, allclose, any, count_nonzero, equal, isfinite, isinf, isnan, logical_and, logical_not,
    logical_or, logical_xor, masked_select, nonzero, tril, triu, unbind,
)
from steepest.activations import (
    binary_step, identity, leaky_relu, log_softmax, relu, sigmoid, softmax, tanh,
)
from steepest.gradcheck import gradcheck
from steepest import autograd
from steepest import losses, nn, optim, data, random
from steepest import utils
from steepest import training
from steepest.training import (
    DivergenceError, History, callbacks, checkpoint, diagnostics, evaluate, fit, predict,
)
from steepest.training import loop as train
from steepest.serialization import load, save
from steepest import viz
from steepest.sweeps import dask_executor, log_range, sweep, sweep_mlp
from steepest.compile import CompiledStep, CompileError, compile  # noqa: E402  (the function)

# ``st.train``, ``st.callbacks``, ``st.checkpoint`` and ``st.diagnostics`` are the training
# package's modules; the old import paths (``from steepest.train import fit``) are small
# modules of their own that re-export them with a DeprecationWarning.

#: torch's dtype names (``st.float`` is float32, the default dtype, as in torch)
float = float32
double = float64
long = int64
int = int32
bool = _np.dtype(_np.bool_)
clamp = clip

