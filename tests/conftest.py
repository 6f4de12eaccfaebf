"""Shared test helpers: check a steepest op against torch, forward and backward.

``helper_test_op`` (the fixture of the same name hands it to tests) is modelled on tinygrad's
``helper_test_op``: the same inputs go through steepest and through torch; the output's shape
and dtype are asserted first, then its values, then the gradient of every input under a random
upstream gradient (a random one, not ones, so that a backward which ignores or transposes its
upstream gradient cannot pass).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import steepest as st

FLOAT_DTYPES = (np.float64, np.float32)

TOLERANCES = {
    np.dtype(np.float64): {"rtol": 1e-10, "atol": 1e-12},
    np.dtype(np.float32): {"rtol": 1e-5, "atol": 1e-5},
}

_TORCH_TO_NUMPY = {
    torch.float64: np.dtype(np.float64),
    torch.float32: np.dtype(np.float32),
    torch.int64: np.dtype(np.int64),
    torch.bool: np.dtype(bool),
}


def tolerance(dtype, rtol=None, atol=None) -> dict:
    """rtol/atol for comparing results computed in ``dtype`` (overridable per test)."""
    tol = dict(TOLERANCES[np.dtype(dtype)])
    if rtol is not None:
        tol["rtol"] = rtol
    if atol is not None:
        tol["atol"] = atol
    return tol


def _prepare(value, dtype):
    """An input as an ndarray: float data in ``dtype``, integer and boolean data unchanged."""
    array = np.asarray(value)
    return array.astype(dtype) if array.dtype.kind == "f" else array


def helper_test_op(st_fn, torch_fn=None, shapes=None, *, inputs=None, dtype=np.float64,
                   low=-2.0, high=2.0, requires_grad=None, seed=0, backward=True,
                   rtol=None, atol=None):
    """Run ``st_fn`` and ``torch_fn`` on the same inputs and compare everything.

    Parameters
    ----------
    st_fn, torch_fn : callable
        The op on steepest tensors and its torch equivalent (``torch_fn`` defaults to ``st_fn``,
        for expressions written with operators only, such as ``lambda a, b: a * b``).
    shapes : list of tuple
        Draw one uniform(low, high) input of each shape, in ``dtype`` (``low`` and ``high`` may
        be lists, one bound per input).
    inputs : list of array_like
        Explicit inputs instead of ``shapes``; float data is cast to ``dtype``, integer data
        (labels, indices) is passed as is and never requires grad.
    requires_grad : list of bool
        Which inputs to differentiate (default: every float input).
    backward : bool
        Also compare the gradient of every input that requires grad.

    Returns
    -------
    (steepest output, steepest inputs) for further checks by the caller.
    """
    torch_fn = st_fn if torch_fn is None else torch_fn
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    if inputs is None:
        lows = low if np.ndim(low) else [low] * len(shapes)
        highs = high if np.ndim(high) else [high] * len(shapes)
        arrays = [rng.uniform(lo, hi, size=shape).astype(dtype)
                  for shape, lo, hi in zip(shapes, lows, highs)]
    else:
        arrays = [_prepare(value, dtype) for value in inputs]
    if requires_grad is None:
        requires_grad = [a.dtype.kind == "f" for a in arrays]
    st_inputs = [st.tensor(a, requires_grad=rg) for a, rg in zip(arrays, requires_grad)]
    torch_inputs = [torch.tensor(a, requires_grad=rg) for a, rg in zip(arrays, requires_grad)]

    st_out = st_fn(*st_inputs)
    torch_out = torch_fn(*torch_inputs)

    # shape and dtype first
    assert isinstance(st_out, st.Tensor), f"expected a Tensor, got {type(st_out).__name__}"
    assert isinstance(st_out.data, np.ndarray), f"data is a {type(st_out.data).__name__}"
    assert st_out.shape == tuple(torch_out.shape), \
        f"shape: steepest {st_out.shape}, torch {tuple(torch_out.shape)}"
    assert st_out.dtype == _TORCH_TO_NUMPY[torch_out.dtype], \
        f"dtype: steepest {st_out.dtype}, torch {torch_out.dtype}"
    assert st_out.dtype == dtype, f"dtype: {dtype} in, {st_out.dtype} out"

    tol = tolerance(dtype, rtol, atol)
    np.testing.assert_allclose(st_out.data, torch_out.detach().numpy(), **tol,
                               err_msg="forward values differ from torch")
    if not backward:
        return st_out, st_inputs

    upstream = rng.standard_normal(st_out.shape).astype(dtype)
    st_out.backward(upstream)
    torch_out.backward(torch.tensor(upstream))
    for i, (s, t) in enumerate(zip(st_inputs, torch_inputs)):
        if not s.requires_grad:
            continue
        assert s.grad is not None, f"input {i}: no gradient"
        assert isinstance(s.grad, np.ndarray), f"input {i}: grad is a {type(s.grad).__name__}"
        assert s.grad.shape == s.shape, f"input {i}: grad shape {s.grad.shape} != {s.shape}"
        assert s.grad.dtype == s.dtype, f"input {i}: grad dtype {s.grad.dtype} != {s.dtype}"
        expected = np.zeros(s.shape, dtype) if t.grad is None else t.grad.numpy()
        np.testing.assert_allclose(s.grad, expected, **tol,
                                   err_msg=f"gradient of input {i} differs from torch")
    return st_out, st_inputs


@pytest.fixture(name="helper_test_op", scope="session")
def _helper_test_op_fixture():
    """The ``helper_test_op`` function (see its docstring)."""
    return helper_test_op


@pytest.fixture(params=FLOAT_DTYPES, ids=["float64", "float32"])
def float_dtype(request):
    """Each float dtype steepest computes in."""
    return np.dtype(request.param)


class NoFloatWarnings:
    """Overflow, division by zero and invalid operations raise inside (NumPy ``errstate``), and
    so does every Python warning (RuntimeWarning included).

    Underflow is left alone: exp(−1e4) underflowing to 0 is the intended, exact result.
    """

    def __enter__(self):
        self._errstate = np.errstate(over="raise", divide="raise", invalid="raise")
        self._errstate.__enter__()
        self._warnings = warnings.catch_warnings()
        self._warnings.__enter__()
        warnings.simplefilter("error")
        return self

    def __exit__(self, *exc):
        self._warnings.__exit__(*exc)
        return self._errstate.__exit__(*exc)


@pytest.fixture(scope="session")
def no_float_warnings():
    """The ``NoFloatWarnings`` context manager class: ``with no_float_warnings(): ...``."""
    return NoFloatWarnings


@pytest.fixture(scope="session")
def _tour_run(tmp_path_factory):
    """The whole tour with default parameters, run once per test session; every Figure it
    saves is kept (by lesson) so that the figure tests inspect the page's own figures. It
    takes 13-30 s on an idle 2-core machine, most of it lessons 4 and 6 and their figures."""
    from pathlib import Path

    from steepest.report import figures as figures_module
    from steepest.report import run_tour

    out = tmp_path_factory.mktemp("tour") / "report"
    lines, drawn = [], {}
    original = figures_module.save

    def keep(fig, path, **kwargs):  # figures are saved as <lesson>-<stem>.png
        drawn.setdefault(Path(path).name.split("-")[0], []).append(fig)
        original(fig, path, **kwargs)
    figures_module.save = keep
    try:
        index = run_tour(out, log=lines.append)
    finally:
        figures_module.save = original
    return {"out": out, "index": index, "lines": lines, "figures": drawn}


@pytest.fixture(scope="session")
def full_tour(_tour_run):
    """``(out folder, index.html path, progress lines)`` of the session's tour."""
    return _tour_run["out"], _tour_run["index"], _tour_run["lines"]


@pytest.fixture(scope="session")
def tour_figures(_tour_run):
    """``{lesson name: [matplotlib Figure, ...]}`` as the session's tour drew them."""
    return _tour_run["figures"]
