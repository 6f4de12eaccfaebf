"""Checkers for the course's exercises: a right answer passes, a wrong one says what went wrong.

Every notebook exercise has three parts: a ``# TODO`` cell where the learner writes the answer
(pre-filled with ``answer = ...``), then a check cell that calls one of the checkers below::

    from steepest.exercises import check_gradient

    G1 = ...            # TODO: the gradient of the loss with respect to W1
    check_gradient(G1)  # ExerciseError: you have not filled in this TODO yet: G1 is still `...`

A checker computes the true answer itself, with steepest's autodiff engine (the problem's data
are the course's: the course notebook's ``input``, ``target`` and ``W1``; the line fit
``z = 2x``; the two-neuron chain with ``x = 0.1, w1 = 0.15, ...``). On a correct answer (to
float tolerance) it prints a short confirmation and returns ``True``. On a wrong one it raises
:class:`ExerciseError` (an ``AssertionError``) whose message names the likely mistake and how
to fix it: transposed, sign flipped, factor 2 missing or extra, the ``1/n`` of the mean
missing, the learning rate forgotten or so large that the loss grew, ``σ'`` missing, ``z`` used
where ``a`` belongs, a rounded number. The mistake's short code is in ``error.mistake``.
An answer still ``...`` (or ``None``) raises :class:`NotFilledInError`, whose message starts
"you have not filled in this TODO yet", so an unfinished notebook fails helpfully rather than
with a ``NameError``.

Checkers
--------
* ``check_gradient(G1)``: the course notebook's ∂loss/∂W1, loss = mean((input @ W1 − target)²);
* ``check_update(W1_new, lr, W1_old=None)``: one gradient-descent step W1 − lr·G1;
* ``check_loss_below(W1, threshold=1.30)``: trained weights reach the course's target loss;
* ``check_linear_gradient(dJdw, w=0.2)``: dJ/dw of the line fit J(w) = Σ(z − w·x)²;
* ``check_critical_learning_rate(lr_max)``: the largest learning rate that converges on J;
* ``check_chain_rule(dE_dw2, dE_db2, dE_dw1, dE_db1)``: the gradients of the two-sigmoid chain;
* ``check_sigmoid_derivative(fn)``: σ'(z) written by the learner, tested on a grid;
* ``check_derivative(fn, "tanh")``: the same for tanh, relu and leaky_relu;
* ``check_momentum(w_final, w0, grads, lr, momentum)``: SGD with momentum by hand;
* ``check_adam(w_final, w0, grads, lr, betas, eps)``: Adam by hand;
* ``check_hessian_eigenvalue(lam)``: λ_max of the course notebook's loss, by hand;
* ``check_critical_rate(lr, model, loss_fn, X, y)``: 2/λ_max of a network, measured.

Solutions live in the notebooks themselves, in cells tagged ``solution``; the learner's
edition without them is made by :mod:`steepest.notebook_editions` (whose tools are also
importable from here, and ``python -m steepest.exercises`` still runs its command line).
"""

from __future__ import annotations

import decimal
import math
import sys

import numpy as np

from steepest import curvature, losses, nn
from steepest.activations import leaky_relu, relu, sigmoid, tanh
from steepest.notebook_editions import (  # noqa: F401  (importable from here, as before)
    SOLUTION_TAG, learner_version, solution_sources, strip_outputs,
)
from steepest.optim import SGD, Adam
from steepest.tensor import Tensor, tensor

__all__ = [
    "ExerciseError", "NotFilledInError",
    "check_gradient", "check_update", "check_loss_below", "check_linear_gradient",
    "check_critical_learning_rate", "check_chain_rule", "check_sigmoid_derivative",
    "check_derivative", "check_momentum", "check_adam", "check_hessian_eigenvalue",
    "check_critical_rate",
    "NOTEBOOK_INPUT", "NOTEBOOK_TARGET", "NOTEBOOK_W1", "LINE_X", "LINE_W0", "CHAIN",
    "learner_version", "strip_outputs", "solution_sources", "SOLUTION_TAG",
]

# --------------------------------------------------------------------------- the problems
#: The course notebook's data (000): ``prediction = input @ W1``,
#: ``loss = mean((prediction − target)²)``.
NOTEBOOK_INPUT = np.array([1.0, 2.0, 3.0, 4.0])
NOTEBOOK_TARGET = np.array([2.0, 3.0, 4.0, 5.0])
NOTEBOOK_W1 = np.array([[1.5, 1.3, 1.8, 1.1]] * 4)
#: The line fit's data (001): ``z = 2x``, ``J(w) = Σ(z − w·x)²``, started at ``w0 = 0.2``.
LINE_X = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
LINE_W0 = 0.2
#: The two-neuron chain (001): ``a1 = σ(w1·x + b1)``, ``a2 = σ(w2·a1 + b2)``, ``E = ½(T − a2)²``.
CHAIN = {"x": 0.1, "w1": 0.15, "b1": 0.4, "w2": 0.45, "b2": 0.65, "T": 0.25}


_RTOL = 1e-5   # float tolerance: float32 work by the learner still passes
_ATOL = 1e-8
_ROUNDED = 1e-2  # within 1 %, but not float-close: the learner rounded


class ExerciseError(AssertionError):
    """A wrong answer. The message says which mistake it looks like; ``mistake`` is its code.

    Codes: ``todo``, ``type``, ``shape``, ``nonfinite``, ``transposed``, ``sign``,
    ``factor_2_missing``, ``factor_2_extra``, ``mean_missing``, ``mean_extra``, ``scale``,
    ``wrong_model``, ``chain_incomplete``, ``sigma_prime_missing``, ``z_instead_of_a``,
    ``wrong_variable``, ``not_derivative``, ``rounded``, ``added``, ``unchanged``,
    ``lr_missing``, ``lr_mismatch``, ``lr_too_large``, ``lr_invalid``, ``not_below``,
    ``stale_gradient``,
    ``bias_correction``, ``sqrt_missing``, ``velocity``, ``wrong``.
    """

    def __init__(self, message: str, mistake: str = "wrong"):
        super().__init__(message)
        self.mistake = mistake


class NotFilledInError(ExerciseError):
    """The answer is still ``...`` (or ``None``): the TODO has not been done yet."""

    def __init__(self, what: str, hint: str = "", message: str | None = None):
        if message is None:
            message = f"{what} is still `...`."
        message = f"you have not filled in this TODO yet: {message}"
        if hint:
            message += f" {hint}"
        super().__init__(message, "todo")


# --------------------------------------------------------------------------- helpers
def _ok(message: str) -> bool:
    print(f"\u2713 Correct! {message}")
    return True


def _fail(message: str, mistake: str):
    raise ExerciseError(message, mistake)


def _reject_known(value, checks, suffix: str = "") -> None:
    """Fail with the first ``(candidate, mistake, message)`` whose candidate ``value`` equals
    (to float tolerance); the message gets ``suffix`` appended."""
    for candidate, mistake, message in checks:
        if _close(value, candidate):
            _fail(message + suffix, mistake)


def _unfilled(value) -> bool:
    return value is ... or value is None


def _array(value, name: str, hint: str = "", todo: str | None = None) -> np.ndarray:
    """The learner's answer as a float ndarray (Tensors and lists accepted).

    ``todo`` words the not-filled-in message ("the updated weights are still `...`.").
    """
    if _unfilled(value):
        raise NotFilledInError(name, hint, message=todo)
    if isinstance(value, Tensor):
        value = value._data
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        _fail(f"{name} should be numbers (a NumPy array or a float), got "
              f"{type(value).__name__}: {value!r:.80}", "type")
    return array


def _scalar(value, name: str, hint: str = "") -> float:
    array = _array(value, name, hint)
    if array.size != 1:
        _fail(f"{name} should be a single number, got an array of shape {array.shape}", "shape")
    return float(array.reshape(()))


def _close(a, b) -> bool:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=_RTOL, atol=_ATOL))


def _roughly(a, b) -> bool:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = max(float(np.abs(b).max(initial=0.0)), 1e-12)
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= _ROUNDED * scale))


def _fitted_scale(value: np.ndarray, truth: np.ndarray):
    """r such that value == r·truth (to float tolerance), or None."""
    if value.shape != truth.shape:
        return None
    norm = float(np.sum(truth * truth))
    if norm == 0.0:
        return None
    r = float(np.sum(value * truth)) / norm
    if abs(r) < 1e-6 or _close(r, 1.0):
        return None  # all zeros, or the truth itself: no constant factor to explain
    return r if _close(value, r * truth) else None


def _require_finite(value: np.ndarray, name: str) -> None:
    if not np.all(np.isfinite(value)):
        _fail(f"{name} contains nan or inf: something overflowed or divided by zero "
              f"before this point; print the intermediate values to find where", "nonfinite")


def _num(value, digits: int = 6) -> str:
    """``value`` to ``digits`` significant digits, the same on every machine.

    A float sum's last bit depends on the BLAS build and the CPU, and a value that is exactly
    a tie (the course's loss after one step, 7.828125) would print 7.82812 on one machine and
    7.82813 on another. So the value is rounded once to 12 significant digits (far above the
    last-bit noise), then half up to ``digits``: 7.828125 prints 7.82813 everywhere.
    """
    value = float(value)
    if value == 0.0 or not math.isfinite(value):
        return f"{value:g}"
    settled = decimal.Decimal(f"{value:.12e}")
    unit = decimal.Decimal(1).scaleb(settled.adjusted() - digits + 1)
    rounded = settled.quantize(unit, rounding=decimal.ROUND_HALF_UP)
    return f"{float(rounded):.{digits}g}"


def _fmt(value) -> str:
    value = np.asarray(value, dtype=np.float64)
    if value.size == 1:
        return _num(float(value))
    return np.array2string(value, precision=4, suppress_small=True, separator=", ")


def _first_difference(value: np.ndarray, truth: np.ndarray) -> str:
    wrong = ~np.isclose(value, truth, rtol=_RTOL, atol=_ATOL)
    index = tuple(int(i) for i in np.argwhere(wrong)[0])
    where = f"[{', '.join(map(str, index))}]" if index else ""
    return (f"{int(wrong.sum())} of {value.size} entries differ; e.g. entry {where} is "
            f"{_num(value[index])} but should be {_num(truth[index])}")


def _scale_message(name: str, r: float, n: int | None, mean: bool, sign_hint: str,
                   scalar: bool = False):
    """Explain a constant factor r between the answer and the truth: (mistake, message).

    None for a single number whose factor is none of the typical ones.
    """
    sign = " and its sign is flipped" if r < 0 else ""
    size = abs(r)
    if math.isclose(size, 1.0, rel_tol=1e-6):
        return "sign", f"{name} has the sign flipped: {sign_hint}."
    known = {0.5: ("factor_2_missing",
                   "is half the true gradient: the factor 2 is missing. The derivative of "
                   "u² is 2u·u'")}
    if n:
        if mean:
            known[float(n)] = ("mean_missing",
                               f"is {n} times the true gradient: the 1/n of the mean is missing. "
                               f"The loss is a mean over n = {n} outputs, so its gradient "
                               f"carries 1/{n}")
            known[n / 2] = ("mean_missing",
                            f"is {_fmt(n / 2)} times the true gradient: it looks like both the "
                            f"1/n of the mean (n = {n}) and the factor 2 of the square are "
                            f"missing (or an extra factor appeared). The mean of squares has "
                            f"derivative 2·(prediction − target)/{n}")
            known[1.0 / n] = ("mean_extra",
                              f"is 1/{n} of the true gradient: you divided by n = {n} once too "
                              f"often (the mean's 1/n appears exactly once)")
        else:
            known[1.0 / n] = ("mean_extra",
                              f"is 1/{n} of the true gradient: J is a sum Σ over the n = {n} "
                              f"points, not a mean, so there is no 1/n")
            known[float(n)] = ("scale", f"is n = {n} times the true gradient: did you multiply "
                                        f"by n instead of summing the n terms?")
    known.setdefault(2.0, ("factor_2_extra",
                           "is twice the true gradient: there is an extra factor 2 (the 2 of "
                           "the square appears once)"))
    for factor, (mistake, text) in known.items():
        if math.isclose(size, factor, rel_tol=1e-6):
            return mistake, f"{name} {text}{sign}."
    if scalar:
        return None  # any number is a multiple of a number: say nothing about it
    return "scale", (f"{name} points the right way but is {_fmt(r)} times the true gradient"
                     f"{sign}: check the constant factors (the 2 of the square"
                     f"{', the 1/n of the mean' if mean else ''}).")


# --------------------------------------------------------------------------- the notebook exercise
def _notebook_problem(W1, input, target):
    W1 = NOTEBOOK_W1 if W1 is None else _array(W1, "W1")
    input = NOTEBOOK_INPUT if input is None else _array(input, "input")
    target = NOTEBOOK_TARGET if target is None else _array(target, "target")
    return W1, input, target


def _notebook_loss(W1, input, target, layout: str = "row", grad: bool = True):
    """loss = mean((input @ W1 − target)²) and ∂loss/∂W1, by steepest's autodiff.

    ``layout="column"`` is the course notes' second cell, ``W1 @ input``.
    """
    W = tensor(np.array(W1, dtype=np.float64), requires_grad=grad)
    x = tensor(input)
    prediction = x @ W if layout == "row" else W @ x
    loss = losses.mse(prediction, tensor(target))
    if not grad:
        return loss.item(), None
    loss.backward()
    return loss.item(), W._grad


def check_gradient(G1, W1=None, input=None, target=None) -> bool:
    """Check ``G1 = ∂loss/∂W1`` for the course notebook's ``loss = mean((input @ W1 − target)²)``.

    The answer is ``np.outer(input, 2 * (prediction − target) / len(target))``, a 4x4 array
    (the shape of W1). ``W1``, ``input``, ``target`` default to the course's values.
    """
    G1 = _array(G1, "G1", "Write the gradient of the loss with respect to W1: it has W1's "
                          "shape, and by the chain rule ∂loss/∂W1[i, j] = input[i]·"
                          "∂loss/∂prediction[j].")
    W1, input, target = _notebook_problem(W1, input, target)
    loss, truth = _notebook_loss(W1, input, target)
    n = target.size
    if G1.shape != truth.shape:
        if G1.shape == target.shape:
            _fail(f"G1 has shape {G1.shape}, the shape of the prediction: this is "
                  f"∂loss/∂prediction, one step of the chain rule. The gradient with respect "
                  f"to W1 has W1's shape {truth.shape}: multiply by ∂prediction/∂W1, i.e. "
                  f"G1 = np.outer(input, ∂loss/∂prediction).", "shape")
        if G1.size == 1:
            _fail(f"G1 is a single number ({_fmt(G1)}), but W1 has {W1.size} weights and each "
                  f"gets its own derivative: G1 must have W1's shape {truth.shape}.", "shape")
        _fail(f"G1 has shape {G1.shape}, but the gradient of a scalar loss with respect to W1 "
              f"always has W1's shape {truth.shape}.", "shape")
    _require_finite(G1, "G1")
    if _close(G1, truth):
        return _ok("G1 = ∂loss/∂W1 = outer(input, 2·(prediction − target)/4). Each weight "
                   "W1[i, j] gets input[i] times the error signal of output j.")
    _, column_truth = _notebook_loss(W1, input, target, layout="column")
    prediction = input @ W1
    dprediction = 2.0 * (prediction - target) / n
    column_prediction = W1 @ input
    column_error = np.outer(input, 2.0 * (column_prediction - target) / n)
    checks = [
        (truth.T, "transposed",
         "G1 is transposed: prediction = input @ W1, so W1[i, j] connects input i to output j "
         "and ∂loss/∂W1[i, j] = input[i]·∂loss/∂prediction[j]. That is np.outer(input, "
         "∂loss/∂prediction), rows indexed by the input; you have np.outer(∂loss/∂prediction, "
         "input)."),
        (-truth.T, "transposed",
         "G1 is transposed and its sign is flipped: use np.outer(input, 2 * (prediction − "
         "target) / n) — input first (rows), and prediction − target, not target − "
         "prediction."),
        (column_truth, "wrong_model",
         "G1 is the gradient for prediction = W1 @ input (the course notes' second cell), but this "
         "exercise's model is prediction = input @ W1 (its first cell). The two are transposes "
         "of each other; use input @ W1 throughout: G1 = np.outer(input, ∂loss/∂prediction)."),
        (column_error, "wrong_model",
         f"G1 has the right formula, np.outer(input, 2·(prediction − target)/{n}), but its "
         f"prediction was computed as W1 @ input ({_fmt(column_prediction)}), the course "
         f"notes' second cell, instead of input @ W1 ({_fmt(prediction)}). The two products "
         f"are different models; use prediction = input @ W1 throughout."),
        (np.tile(dprediction, (W1.shape[0], 1)), "chain_incomplete",
         "every row of G1 is ∂loss/∂prediction: the chain rule stopped one step short. "
         "Multiply by ∂prediction[j]/∂W1[i, j] = input[i]: G1 = np.outer(input, "
         "∂loss/∂prediction)."),
        (np.tile(dprediction[:, None], (1, W1.shape[1])), "chain_incomplete",
         "every column of G1 is ∂loss/∂prediction: the chain rule stopped one step short. "
         "Multiply by ∂prediction[j]/∂W1[i, j] = input[i]: G1 = np.outer(input, "
         "∂loss/∂prediction)."),
    ]
    _reject_known(G1, checks)
    column_model = (" It is also computed for prediction = W1 @ input (the course notes' "
                    "second cell); the model is prediction = input @ W1.")
    for candidate, also in ((truth, ""),
                            (truth.T, " It is also transposed: rows go with the input, "
                                      "np.outer(input, ...)."),
                            (column_truth, column_model), (column_error, column_model)):
        r = _fitted_scale(G1, candidate)
        if r is not None:
            mistake, message = _scale_message(
                "G1", r, n, mean=True,
                sign_hint="the derivative of (prediction − target)² is +2·(prediction − "
                          "target); the gradient points uphill, and the minus sign belongs "
                          "in the update, not in the gradient")
            _fail(message + also, mistake)
    if _roughly(G1, truth):
        _fail("G1 is within 1% of the gradient but not exact: compute it in code instead of "
              "typing rounded numbers.", "rounded")
    _fail(f"G1 is not the gradient of the loss with respect to W1: "
          f"{_first_difference(G1, truth)}. Chain rule: ∂loss/∂prediction = 2·(prediction − "
          f"target)/{n}, then ∂loss/∂W1[i, j] = input[i]·∂loss/∂prediction[j].", "wrong")


def _learning_rate(lr) -> float:
    lr = _scalar(lr, "lr", "Choose a learning rate, a small positive number such as 0.01.")
    if not math.isfinite(lr):
        _fail(f"the learning rate is {lr}; it must be a finite positive number", "lr_invalid")
    if lr < 0:
        _fail(f"the learning rate is negative ({lr:g}): with W1 − lr·G1 that climbs up the "
              f"loss instead of down. Use a positive lr.", "lr_invalid")
    if lr == 0:
        _fail("the learning rate is 0, so W1 − lr·G1 never moves. Use a small positive lr "
              "such as 0.01.", "lr_invalid")
    return lr


def _critical_lr(input, target) -> float:
    """Largest stable lr, 2/λ, with λ the loss's curvature along the gradient (engine-measured).

    The loss is quadratic in W1 and its gradients all lie in the Hessian's one nonzero
    eigenspace (outer(input, ·), eigenvalue 2·Σinput²/n = 15 for the course's data). For a unit
    direction d in it, loss(W + d) + loss(W − d) − 2·loss(W) = λ exactly.
    """
    W = np.zeros((input.size, target.size))
    l0, g = _notebook_loss(W, input, target)
    d = g / np.linalg.norm(g)
    lp, _ = _notebook_loss(W + d, input, target, grad=False)
    lm, _ = _notebook_loss(W - d, input, target, grad=False)
    curvature = lp + lm - 2.0 * l0   # second derivative along d (exact for a quadratic)
    return 2.0 / curvature


def check_update(W1_new, lr, W1_old=None, input=None, target=None) -> bool:
    """Check one gradient-descent step ``W1_new = W1_old − lr·G1`` on the course notebook's loss.

    ``G1`` is computed here (with autodiff) at ``W1_old`` (default: the course's W1). A correct
    step whose loss went *up* is rejected too: the learning rate was too large.
    """
    W1_new = _array(W1_new, "the updated weights",
                    todo="the updated weights are still `...`.",
                    hint="Write one gradient-descent step: the old weights minus the learning "
                         "rate times the gradient.")
    lr = _learning_rate(lr)
    W1_old, input, target = _notebook_problem(W1_old, input, target)
    if W1_new.shape != W1_old.shape:
        _fail(f"the updated weights have shape {W1_new.shape}, but W1 has shape "
              f"{W1_old.shape}: an update changes each weight, it keeps the shape "
              f"(W1 − lr·G1).", "shape")
    _require_finite(W1_new, "the updated weights")
    loss_old, G = _notebook_loss(W1_old, input, target)
    loss_new, _ = _notebook_loss(W1_new, input, target, grad=False)
    critical = _critical_lr(input, target)
    if _close(W1_new, W1_old - lr * G):
        if loss_new > loss_old:
            _fail(f"the update W1 − lr·G1 is right, but the loss grew from {_num(loss_old)} to "
                  f"{_num(loss_new)}: the learning rate lr = {lr:g} is too large, the step "
                  f"overshoots the minimum. On this problem every step multiplies the error by "
                  f"(1 − lr·{_num(2 / critical, 4)}), so any lr above {_num(critical, 4)} makes "
                  f"the loss grow (it diverges). Try a smaller lr.", "lr_too_large")
        extra = ""
        if lr > critical / 2:
            extra = (" (lr is past half the critical rate, so the predictions overshoot the "
                     "target and come back: the error changes sign each step)")
        return _ok(f"W1 − lr·G1 with lr = {lr:g}: the loss went from {_num(loss_old)} to "
                   f"{_num(loss_new)}{extra}.")
    _, column_G = _notebook_loss(W1_old, input, target, layout="column")
    _reject_known(W1_new, [
        (W1_old, "unchanged",
         "the updated weights equal the old ones: the update was not applied (W1_new = "
         "W1 − lr·G1)."),
        (W1_old + lr * G, "added",
         f"you added the gradient (W1 + lr·G1): the gradient points uphill, where the "
         f"loss grows (here from {_num(loss_old)} to {_num(loss_new)}). Gradient descent "
         f"subtracts it: W1 − lr·G1. (If you did subtract, your G1 has the sign flipped: "
         f"run check_gradient(G1).)"),
        (W1_old - G, "lr_missing",
         f"the learning rate is missing: W1 − G1 takes a full gradient step (as if "
         f"lr = 1), and the loss went from {_num(loss_old)} to {_num(loss_new)}. Multiply "
         f"the gradient by lr: W1 − lr·G1."),
        (W1_old - lr * G.T, "transposed",
         "the gradient in your update is transposed: G1 must have rows indexed by the "
         "input, np.outer(input, ∂loss/∂prediction). Check it with check_gradient(G1)."),
        (W1_old - lr * column_G, "wrong_model",
         "your update uses the gradient of prediction = W1 @ input (the course notes' second "
         "cell); the model is prediction = input @ W1. Use G1 = np.outer(input, "
         "∂loss/∂prediction)."),
        (W1_old - lr * np.outer(input, 2.0 * (W1_old @ input - target) / target.size),
         "wrong_model",
         "your G1 was computed from prediction = W1 @ input (the course notes' second cell); "
         "the model is prediction = input @ W1. Compute the prediction as input @ W1, then "
         "G1 = np.outer(input, 2 * (prediction − target) / n)."),
    ])
    step = W1_old - W1_new
    r = _fitted_scale(step, G)
    if r is not None:
        ratio = r / lr
        if r < 0:
            _fail(f"your step goes uphill: W1_new = W1 + {_num(abs(r), 4)}·G1. Gradient descent "
                  f"subtracts: W1 − lr·G1.", "added")
        if any(math.isclose(ratio, f, rel_tol=1e-6) for f in (0.5, 2.0, 4.0, 0.25)):
            _fail(f"your step is {ratio:g}·lr·G1 instead of lr·G1: your G1 is off by a factor "
                  f"{ratio:g}. Run check_gradient(G1) first.", "scale")
        _fail(f"your step is W1 − {_num(r)}·G1, but you passed lr = {lr:g}: pass the learning "
              f"rate you actually used (or multiply by lr, not by another number).",
              "lr_mismatch")
    _fail(f"the updated weights are not W1 − lr·G1 (lr = {lr:g}): "
          f"{_first_difference(W1_new, W1_old - lr * G)}. Compute G1 at the old W1, then "
          f"W1_new = W1 − lr * G1.", "wrong")


#: Learning rates a learner typically types, most likely first: used to tell the mistakes of
#: check_loss_below apart when the learner does not pass ``lr``.
_TYPICAL_RATES = (0.01, 0.1, 0.05, 0.001, 0.02, 0.005, 0.03, 0.002, 0.2, 0.5)
_MOST_REPEATS = 1000  #: more repeats of the same step than a learner types or loops


def _multiple_along(step: np.ndarray, direction: np.ndarray):
    """c such that step == c·direction (to float tolerance), or None."""
    norm = float(np.sum(direction * direction))
    if step.shape != direction.shape or norm == 0.0:
        return None
    c = float(np.sum(step * direction)) / norm
    return c if c != 0.0 and _close(step, c * direction) else None


def _recomputed_reaches(c: float, lr: float, curvature: float) -> bool:
    """Whether k ≥ 1 true gradient-descent steps at ``lr`` reach W1 − c·G1.

    Every gradient of this loss is a multiple of the starting one, G1: after k steps the
    weights are W1 − c_k·G1 with c_k = (1 − (1 − lr·λ)^k)/λ, λ the curvature.
    """
    q, remaining = 1.0 - lr * curvature, 1.0 - curvature * c   # want q^k == remaining
    if q == 0.0 or remaining == 0.0 or abs(q) == 1.0:
        return math.isclose(c, lr, rel_tol=1e-6)
    if q > 0 > remaining:
        return False   # q^k > 0
    k = round(math.log(abs(remaining)) / math.log(abs(q)))
    return k >= 1 and math.isclose(q ** k, remaining, rel_tol=1e-6, abs_tol=1e-12)


def _same_gradient_steps(c: float, rates) -> tuple[int, float] | None:
    """(k, lr): k ≥ 2 steps ``W1 = W1 − lr·G1`` with G1 never recomputed give W1 − c·G1."""
    for lr in rates:
        k = round(c / lr)
        if 2 <= k <= _MOST_REPEATS and math.isclose(c, k * lr, rel_tol=1e-6):
            return k, lr
    return None


def check_loss_below(W1, threshold: float = 1.30, input=None, target=None, lr=None) -> bool:
    """Check that weights ``W1`` bring the course notebook's loss below ``threshold`` (1.30).

    Short of it, the message names the mistake: weights unchanged, the course notes'
    ``W1 @ input`` product, the gradient never recomputed (``W1 = W1 − lr·G1`` repeated with the
    starting G1, which overshoots), a learning rate too large, or too few steps. ``lr``, the
    learning rate you used, is optional; it helps tell these apart.
    """
    W1 = _array(W1, "your trained weights", todo="your trained weights are still `...`.",
                hint="Start from the course's W1 and repeat the gradient-descent step until "
                     "the loss is below the threshold.")
    rates = _TYPICAL_RATES if lr is None else (_learning_rate(lr),)
    start_W1, input, target = _notebook_problem(None, input, target)
    if W1.shape != (input.size, target.size):
        _fail(f"W1 has shape {W1.shape}, but the weights are {input.size}x{target.size}.",
              "shape")
    _require_finite(W1, "W1")
    loss, _ = _notebook_loss(W1, input, target, grad=False)
    if loss < threshold:
        return _ok(f"the loss is {_num(loss)}, below {threshold:g}.")
    start, G1 = _notebook_loss(start_W1, input, target)
    column, _ = _notebook_loss(W1, input, target, layout="column", grad=False)
    if column < threshold:
        _fail(f"with W1 @ input your loss is {_num(column)}, but the model is prediction = "
              f"input @ W1, for which it is {_num(loss)}. The course notes' second cell "
              f"transposed the product; train and evaluate with input @ W1.", "wrong_model")
    if _close(W1, start_W1):
        _fail(f"W1 is still the starting weights (loss {_num(loss)}): apply the update "
              f"W1 = W1 − lr·G1, several times if needed.", "unchanged")
    critical = _critical_lr(input, target)
    curvature = 2.0 / critical
    _, column_G1 = _notebook_loss(start_W1, input, target, layout="column")
    column_model = ("Your gradient is also that of prediction = W1 @ input (the course notes' "
                    "second cell); the model is prediction = input @ W1: use "
                    "G1 = np.outer(input, 2 * (prediction − target) / n).")
    for direction, also in ((G1, ""), (column_G1, " " + column_model)):
        c = _multiple_along(start_W1 - W1, direction)
        if c is None:
            continue
        if c < 0:
            _fail(f"your weights are W1 + {_num(-c)}·G1: they moved up the gradient, where the "
                  f"loss grows (here to {_num(loss)}). Gradient descent subtracts: "
                  f"W1 = W1 − lr·G1.{also}", "added")
        same = _same_gradient_steps(c, rates)
        recomputed = any(_recomputed_reaches(c, rate, curvature) for rate in rates)
        if same and not recomputed:
            k, rate = same
            _fail(f"the gradient was not recomputed: your weights are the starting W1 minus "
                  f"{_num(c)}·G1, with G1 the gradient at the starting weights, as after "
                  f"{k} steps of W1 = W1 − {rate:g}·G1 that reuse the same G1 "
                  f"({k}·{rate:g} = {_num(c)}). The gradient depends on W1: compute the "
                  f"prediction and G1 again at the current W1 before every step. With a stale "
                  f"G1 every step pushes the same way, past the minimum, and the loss (here "
                  f"{_num(loss)}, from {_num(start)}) grows again.{also}", "stale_gradient")
        if also:
            _fail(f"your weights moved along the gradient of the wrong model. {column_model} "
                  f"With input @ W1 your loss is {_num(loss)}.", "wrong_model")
        if same:
            k, rate = same
            stale_hint = (f" (Or, if you repeated W1 = W1 − lr·G1 without recomputing G1: "
                          f"{k} steps of lr = {rate:g} with the same G1 also give these "
                          f"weights; recompute G1 at the current W1 before every step.)")
            break
    else:
        stale_hint = ""
    if loss > start:
        _fail(f"the loss is {_num(loss)}, larger than where it started ({_num(start)}): the "
              f"learning rate is too large and the steps overshoot. On this problem the "
              f"loss shrinks only for lr below {_num(critical, 4)}.{stale_hint}",
              "lr_too_large")
    _fail(f"the loss is {_num(loss)}, not yet below {threshold:g} (it started at "
          f"{_num(start)}): take more steps, recomputing G1 at the current W1 each time, or use "
          f"a larger learning rate (below the critical rate {_num(critical, 4)}).{stale_hint}",
          "not_below")


# --------------------------------------------------------------------------- the line fit
def _line_problem(x, z):
    x = LINE_X if x is None else _array(x, "x")
    z = 2.0 * x if z is None else _array(z, "z")
    if x.shape != z.shape:
        raise ValueError(f"x has shape {x.shape} but z has shape {z.shape}")
    return x, z


def _line_gradient(w: np.ndarray, x, z):
    """J(w) = Σ(z − w·x)² and dJ/dw by autodiff, for each w (any shape)."""
    W = tensor(np.array(w, dtype=np.float64)[..., None], requires_grad=True)
    residual = tensor(z) - W * tensor(x)
    J = (residual * residual).sum(axis=-1)
    J.sum().backward()
    return J._data, W._grad[..., 0]


def check_linear_gradient(dJdw, w=LINE_W0, x=None, z=None) -> bool:
    """Check ``dJdw`` = dJ/dw of the line fit ``J(w) = Σ_i (z_i − w·x_i)²`` at ``w``.

    ``x`` defaults to ``[0.1, 0.2, 0.3, 0.4, 0.5]``, ``z`` to ``2x``, ``w`` to 0.2. ``w`` may
    be an array of values, then ``dJdw`` must have its shape. The answer is
    ``−2·Σ x·(z − w·x)``.
    """
    dJdw = _array(dJdw, "dJdw", "Differentiate J(w) = Σ(z − w·x)² with respect to w (chain "
                                "rule: the outer square, then the inside z − w·x).")
    w = _array(w, "w")
    x, z = _line_problem(x, z)
    J, truth = _line_gradient(w, x, z)
    if dJdw.shape != truth.shape:
        if dJdw.shape == x.shape and w.ndim == 0:
            total = float(dJdw.sum())
            if math.isclose(total, float(truth), rel_tol=_RTOL, abs_tol=_ATOL):
                _fail(f"dJdw has one value per data point (shape {dJdw.shape}): these are the "
                      f"terms of the sum. J sums over i, and so does its derivative: add them "
                      f"up (np.sum).", "shape")
            _fail(f"dJdw has one value per data point (shape {dJdw.shape}), but w is a single "
                  f"number, so dJ/dw is a single number: sum over the data points.", "shape")
        _fail(f"dJdw has shape {dJdw.shape}, but w has shape {w.shape}: dJ/dw has w's shape.",
              "shape")
    _require_finite(dJdw, "dJdw")
    if _close(dJdw, truth):
        return _ok(f"dJ/dw = −2·Σ x·(z − w·x) = {_fmt(truth)} at w = {_fmt(w)}.")
    wx = w[..., None] * x
    no_inner = -2.0 * (z - wx).sum(axis=-1)
    checks = [
        (J, "not_derivative",
         "dJdw equals J(w) itself, the cost, not its derivative: differentiate "
         "(z − w·x)² with respect to w."),
        (-no_inner, "chain_incomplete",
         "dJdw is 2·Σ(z − w·x): the inner derivative is missing. By the chain rule "
         "d/dw (z − w·x)² = 2(z − w·x)·(−x): multiply each term by −x."),
        (no_inner, "chain_incomplete",
         "dJdw is −2·Σ(z − w·x): the factor x from d(w·x)/dw = x is missing. "
         "dJ/dw = −2·Σ x·(z − w·x)."),
    ]
    _reject_known(dJdw, checks)
    r = _fitted_scale(dJdw, truth)
    explained = r is not None and _scale_message(
        "dJdw", r, x.size, mean=False, scalar=dJdw.size == 1,
        sign_hint="the inside z − w·x has derivative −x, so dJ/dw = −2·Σ x·(z − w·x), "
                  "negative while w is below the optimum (J decreases as w grows)")
    if explained:
        _fail(explained[1], explained[0])
    if _roughly(dJdw, truth):
        _fail("dJdw is within 1% of the derivative but not exact: compute it in code instead "
              "of typing rounded numbers.", "rounded")
    _fail(f"dJdw is not dJ/dw at w = {_fmt(w)}: you have {_fmt(dJdw)}, expected a value of "
          f"−2·Σ x·(z − w·x). Check that you used this w, and the chain rule for the square.",
          "wrong")


def check_critical_learning_rate(lr_max, x=None, z=None) -> bool:
    """Check ``lr_max``, the learning rate above which gradient descent on J(w) diverges.

    J(w) = Σ(z − w·x)² is a parabola with curvature J'' = 2Σx², so each step multiplies
    (w − w*) by (1 − α·J''): it converges for 0 < α < 2/J'' = 1/Σx².
    """
    lr_max = _scalar(lr_max, "lr_max", "Find the α at which |1 − α·J''| = 1, with "
                                       "J'' = d²J/dw² the curvature of J.")
    x, z = _line_problem(x, z)
    _, g = _line_gradient(np.array([0.0, 1.0]), x, z)
    curvature = float(g[1] - g[0])   # dJ/dw is linear in w: its slope is J''
    truth = 2.0 / curvature
    if _close(lr_max, truth):
        return _ok(f"gradient descent on J converges for 0 < α < {_num(truth)} = 1/Σx², "
                   f"overshoots (oscillates) above {_num(truth / 2)} and diverges above "
                   f"{_num(truth)}.")
    if _close(lr_max, truth / 2):
        _fail(f"{_num(lr_max)} is where overshooting starts (1 − α·J'' = 0, the one-step "
              f"jump to the minimum), not where divergence starts: above it w oscillates "
              f"around the optimum but still converges while |1 − α·J''| < 1.", "factor_2_missing")
    if _close(lr_max, 2 * truth):
        _fail(f"{_num(lr_max)} is twice the critical rate: the curvature of Σ(z − w·x)² is "
              f"J'' = 2Σx² (the 2 of the square), so the bound is 2/J'' = 1/Σx².",
              "factor_2_extra")
    if _close(lr_max, truth / x.size) or _close(lr_max, truth * x.size):
        _fail("off by a factor n: J is a sum over the points, not a mean; its curvature is "
              "2Σx².", "mean_extra")
    if _roughly(lr_max, truth):
        _fail(f"lr_max = {_num(lr_max)} is within 1% of the critical learning rate but not "
              f"exact: it looks rounded. Compute it in code from x (the check compares at "
              f"float precision) instead of typing a rounded number.", "rounded")
    _fail(f"{_num(lr_max)} is not the critical learning rate: each step multiplies the distance "
          f"to the optimum by (1 − α·J''), with J'' = d²J/dw²; find the α where that factor "
          f"reaches −1.", "wrong")


# --------------------------------------------------------------------------- the two-neuron chain
def _chain_truth(p: dict) -> dict:
    """Forward values and ∂E/∂(w1, b1, w2, b2) of the two-sigmoid chain, by autodiff."""
    def number(v):
        return np.array(float(v))  # float64 whatever steepest's default dtype is

    leaves = {k: tensor(number(p[k]), requires_grad=True) for k in ("w1", "b1", "w2", "b2")}
    z1 = leaves["w1"] * float(p["x"]) + leaves["b1"]
    a1 = sigmoid(z1)
    z2 = leaves["w2"] * a1 + leaves["b2"]
    a2 = sigmoid(z2)
    E = losses.half_sse(a2, tensor(number(p["T"])))
    E.backward()
    out = {k: float(v.grad) for k, v in leaves.items()}
    out.update(z1=float(z1._data), a1=float(a1._data), z2=float(z2._data), a2=float(a2._data),
               E=float(E._data))
    return out


def _chain_mistakes(name: str, f: dict, p: dict) -> list:
    """Typical wrong values of ∂E/∂<name> with their explanation, from the forward values."""
    x, w2, T = p["x"], p["w2"], p["T"]
    a1, a2, z1, z2 = f["a1"], f["a2"], f["z1"], f["z2"]
    dE_da2 = -(T - a2)
    s2, s1 = a2 * (1 - a2), a1 * (1 - a1)
    zs2, zs1 = z2 * (1 - z2), z1 * (1 - z1)
    truth = f[name]
    half = ("the ½ of E = ½(T − a2)² cancels the 2 of the square: ∂E/∂a2 = −(T − a2), "
            "no factor 2")
    kept_half = ("you kept the ½: E = ½(T − a2)² gives ∂E/∂a2 = ½·2·(−(T − a2)) = "
                 "−(T − a2)")
    sp2 = "the sigmoid's derivative σ'(z2) = a2·(1 − a2) of the second neuron is missing"
    sp1 = "the sigmoid's derivative σ'(z1) = a1·(1 − a1) of the first neuron is missing"
    mistakes = [
        (2 * truth, "factor_2_extra", f"there is an extra factor 2: {half}"),
        (truth / 2, "factor_2_missing", f"it is half the right value: {kept_half}"),
    ]
    if name in ("w2", "b2"):
        mistakes += [
            (truth / s2, "sigma_prime_missing", sp2),
            (truth / s2 * zs2, "z_instead_of_a",
             "you used z2·(1 − z2) for σ'(z2); the sigmoid's derivative is a2·(1 − a2), "
             "with the activation a2 = σ(z2), not the weighted sum z2"),
        ]
    if name == "w2":
        mistakes += [
            (truth / a1 * z1, "z_instead_of_a",
             "you used z1 as the input of the second neuron; its input is the activation "
             "a1 = σ(z1): ∂z2/∂w2 = a1"),
            (f["b2"], "chain_incomplete",
             "this is ∂E/∂b2: the last factor ∂z2/∂w2 = a1 is missing"),
            (f["w1"], "wrong_variable", "this is ∂E/∂w1, the first neuron's weight"),
        ]
    if name == "b2":
        mistakes += [
            (f["w2"], "wrong_variable",
             "this is ∂E/∂w2: for the bias, ∂z2/∂b2 = 1, not a1"),
        ]
    if name in ("w1", "b1"):
        mistakes += [
            (truth / s1, "sigma_prime_missing", sp1),
            (truth / s2, "sigma_prime_missing", sp2 + " (it is needed on the way back too)"),
            (truth / (s1 * s2), "sigma_prime_missing",
             "both sigmoid derivatives a2·(1 − a2) and a1·(1 − a1) are missing"),
            (truth / s1 * zs1, "z_instead_of_a",
             "you used z1·(1 − z1) for σ'(z1); the sigmoid's derivative is a1·(1 − a1)"),
            (truth / (s1 * s2) * zs1 * zs2, "z_instead_of_a",
             "you used z·(1 − z) for the sigmoid's derivatives; σ'(z) = a·(1 − a) with "
             "a = σ(z)"),
            (truth / w2, "chain_incomplete",
             "the factor ∂z2/∂a1 = w2 is missing: the error reaches the first neuron through "
             "the weight w2"),
        ]
    if name == "w1":
        mistakes += [
            (f["b1"], "chain_incomplete",
             "this is ∂E/∂b1: the last factor ∂z1/∂w1 = x is missing"),
            (f["w2"], "wrong_variable", "this is ∂E/∂w2, the second neuron's weight"),
        ]
    if name == "b1":
        mistakes += [
            (f["w1"], "wrong_variable", "this is ∂E/∂w1: for the bias, ∂z1/∂b1 = 1, not x"),
        ]
    return mistakes


_CHAIN_FORMULAS = {
    "w2": "−(T − a2)·a2·(1 − a2)·a1",
    "b2": "−(T − a2)·a2·(1 − a2)",
    "w1": "−(T − a2)·a2·(1 − a2)·w2·a1·(1 − a1)·x",
    "b1": "−(T − a2)·a2·(1 − a2)·w2·a1·(1 − a1)",
}


def check_chain_rule(dE_dw2=None, dE_db2=None, dE_dw1=None, dE_db1=None, **params) -> bool:
    """Check the gradients of ``E = ½(T − a2)²`` for the two-sigmoid chain.

    ``z1 = w1·x + b1, a1 = σ(z1), z2 = w2·a1 + b2, a2 = σ(z2)`` with the course's values
    ``x = 0.1, w1 = 0.15, b1 = 0.4, w2 = 0.45, b2 = 0.65, T = 0.25`` (override any of them by
    keyword). Pass the gradients you computed; those left ``None`` are not checked, those
    still ``...`` are reported as not filled in.
    """
    unknown = set(params) - set(CHAIN)
    if unknown:
        raise TypeError(f"check_chain_rule: unknown parameter(s) {sorted(unknown)}; the chain's "
                        f"parameters are {sorted(CHAIN)}")
    p = {**CHAIN, **{k: _scalar(v, k) for k, v in params.items()}}
    answers = {"w2": dE_dw2, "b2": dE_db2, "w1": dE_dw1, "b1": dE_db1}
    for name, value in answers.items():
        if value is ...:
            raise NotFilledInError(f"dE_d{name}",
                                   f"Apply the chain rule from E back to {name}, one factor "
                                   f"per step of the forward pass.")
    given = {k: v for k, v in answers.items() if v is not None}
    if not given:
        raise NotFilledInError("", message="no gradient was passed to check.",
                               hint="Pass at least one of dE_dw2, dE_db2, dE_dw1, dE_db1.")
    f = _chain_truth(p)
    for name, value in given.items():
        label = f"dE_d{name}"
        v = _scalar(value, label)
        truth = f[name]
        if not math.isfinite(v):
            _fail(f"{label} is {v}: something overflowed or divided by zero", "nonfinite")
        if _close(v, truth):
            continue
        if _close(v, -truth):
            _fail(f"{label} has the sign flipped: ∂E/∂a2 = −(T − a2) = a2 − T (positive here, "
                  f"since a2 = {f['a2']:.4f} > T = {p['T']}), so {label} = "
                  f"{_CHAIN_FORMULAS[name]}.", "sign")
        for candidate, mistake, reason in _chain_mistakes(name, f, p):
            if _close(v, candidate):
                _fail(f"{label} = {_num(v)} is not right: {reason}. The chain rule gives "
                      f"{label} = {_CHAIN_FORMULAS[name]}.", mistake)
            if _close(v, -candidate):
                _fail(f"{label} = {_num(v)} is not right: {reason}, and the sign is flipped "
                      f"(∂E/∂a2 = −(T − a2)). The chain rule gives {label} = "
                      f"{_CHAIN_FORMULAS[name]}.", mistake)
        if _roughly(v, truth):
            _fail(f"{label} = {_num(v)} is within 1% of the right value but not exact: compute "
                  f"it in code from the forward values rather than typing rounded numbers.",
                  "rounded")
        _fail(f"{label} = {_num(v)} is not ∂E/∂{name}. Multiply one factor per step back from "
              f"E: {label} = {_CHAIN_FORMULAS[name]}, with the forward values "
              f"a1 = σ(z1) and a2 = σ(z2).", "wrong")
    names = ", ".join(f"∂E/∂{n} = {_num(f[n])}" for n in given)
    extra = ""
    if "w1" in given and "w2" in given:
        extra = (f" Note ∂E/∂w1 is {f['w2'] / f['w1']:.0f}x smaller than ∂E/∂w2: each sigmoid "
                 f"multiplies in σ' ≤ 0.25 (the vanishing gradient).")
    return _ok(names + "." + extra)


# --------------------------------------------------------------------------- activation derivatives
_GRID = np.linspace(-6.0, 6.0, 49)


def _activation(name: str):
    table = {
        "sigmoid": (sigmoid, "σ'(z) = σ(z)·(1 − σ(z))"),
        "tanh": (tanh, "tanh'(z) = 1 − tanh(z)²"),
        "relu": (relu, "relu'(z) = 1 for z > 0, 0 for z < 0"),
        "leaky_relu": (leaky_relu, "leaky_relu'(z) = 1 for z > 0, 0.01 for z < 0"),
    }
    if name not in table:
        raise ValueError(f"check_derivative: activation must be one of {sorted(table)}, "
                         f"got {name!r}")
    return table[name]


_POINTWISE = object()  # "the array call failed: call fn point by point"


def _call_learner(fn, z: np.ndarray, name: str) -> np.ndarray:
    """fn applied to the grid: as an array function, or else point by point (math.exp)."""
    try:
        out = fn(z.copy())
    except Exception:  # noqa: BLE001 - e.g. math.exp on an array: retry point by point
        out = _POINTWISE
    if out is ...:
        raise NotFilledInError(f"the body of {name}", "Replace `...` with the derivative's "
                                                      "formula and `return` it.")
    if out is None:
        _fail(f"{name} returns None: did you forget the `return`?", "type")
    if out is not _POINTWISE:
        try:
            array = _array(out, f"the output of {name}")
        except ExerciseError:
            array = None
        if array is not None and array.shape == z.shape:
            return array
    values = []
    for v in z:
        try:
            out = fn(float(v))
        except Exception as error:  # noqa: BLE001 - reported to the learner
            _fail(f"{name} raised {type(error).__name__}: {error}. It should take z (a float "
                  f"or a NumPy array) and return the derivative.", "type")
        if out is None:
            _fail(f"{name} returns None: did you forget the `return`?", "type")
        values.append(_scalar(out, f"the output of {name}"))
    return np.array(values)



def check_derivative(fn, activation: str = "sigmoid") -> bool:
    """Check a learner's derivative ``fn(z)`` of an activation on a grid of z in [−6, 6].

    ``activation`` is ``"sigmoid"``, ``"tanh"``, ``"relu"`` or ``"leaky_relu"``. The truth is
    the gradient of ``activation(z).sum()`` by steepest's autodiff. ``fn`` may work on arrays
    or on single floats.
    """
    name = getattr(fn, "__name__", "<lambda>")
    name = "your function" if name == "<lambda>" else name
    if _unfilled(fn):
        raise NotFilledInError("the derivative function", "Define it with def, taking z and "
                                                           "returning the derivative.")
    if not callable(fn):
        _fail(f"expected a function of z, got {type(fn).__name__}: define it with "
              f"`def {activation}_derivative(z): ...`", "type")
    forward, formula = _activation(activation)
    z = _GRID if activation not in ("relu", "leaky_relu") else _GRID[_GRID != 0]
    Z = tensor(z.copy(), requires_grad=True)
    a_tensor = forward(Z)
    a_tensor.sum().backward()
    truth, a = Z._grad, a_tensor._data
    got = _call_learner(fn, z, name)
    _require_finite(got, f"the output of {name}")
    if _close(got, truth):
        return _ok(f"{formula}." + (" Its largest value is 0.25, at z = 0: every sigmoid "
                                    "layer shrinks the gradient by at least 4x."
                                    if activation == "sigmoid" else ""))
    checks = [(a, "not_derivative",
               f"{name} returns the activation {activation}(z) itself, not its derivative")]
    if activation == "sigmoid":
        checks += [(z * (1 - z), "z_instead_of_a",
                    "you computed z·(1 − z); the derivative is a·(1 − a) with a = σ(z), the "
                    "activation, not z"),
                   (1 - a, "chain_incomplete",
                    "you returned 1 − σ(z); the derivative is σ(z)·(1 − σ(z)), the product")]
    if activation == "tanh":
        checks += [(1 - z * z, "z_instead_of_a",
                    "you computed 1 − z²; the derivative is 1 − a² with a = tanh(z)"),
                   (1 - a, "factor_2_missing",
                    "you returned 1 − tanh(z); the derivative is 1 − tanh(z)², squared")]
    if activation in ("relu", "leaky_relu"):
        checks += [(np.ones_like(z), "wrong",
                    "you return 1 everywhere; for z < 0 the function is flat (relu) or has "
                    "slope 0.01 (leaky_relu)"),
                   (truth[::-1], "sign",
                    "your derivative is mirrored: the slope is 1 for z > 0, not z < 0")]
    checks += [(-truth, "sign", "the sign is flipped"),
               (truth / 2, "factor_2_missing", "it is half the derivative"),
               (2 * truth, "factor_2_extra", "it is twice the derivative")]
    _reject_known(got, checks, f": {formula}.")
    i = int(np.argmax(np.abs(got - truth)))
    _fail(f"{name} is not the derivative of {activation}: at z = {z[i]:g} it gives "
          f"{_num(got[i])}, but the derivative is {_num(truth[i])}. Use {formula}.", "wrong")


def check_sigmoid_derivative(fn) -> bool:
    """Check a learner's ``fn(z)`` = σ'(z) = σ(z)·(1 − σ(z)) on a grid of z in [−6, 6]."""
    return check_derivative(fn, "sigmoid")


# --------------------------------------------------------------------------- optimizers by hand
def _optimizer_run(make, w0: np.ndarray, grads: list) -> np.ndarray:
    """Apply ``make([param])`` to ``w0`` with the given gradient sequence; the final weights."""
    param = nn.Parameter(np.array(w0, dtype=np.float64))
    optimizer = make([param])
    for g in grads:
        param.grad = np.array(g, dtype=np.float64)
        optimizer.step()
    return param._data.copy()


def _unchanged(w_final, w0) -> None:
    if _close(w_final, w0):
        _fail("your final weights equal the starting ones: no update was applied (loop over "
              "the gradients and update w at each step).", "unchanged")


def _grads_and_start(w_final, w0, grads, what: str):
    w_final = _array(w_final, what, todo="your final weights are still `...`.",
                     hint="Loop over the gradients, updating the state and the weights at each "
                          "step.")
    w0 = _array(w0, "w0")
    grads = [_array(g, "each gradient") for g in grads]
    if not grads:
        raise ValueError("grads must hold at least one gradient")
    if w_final.shape != w0.shape:
        _fail(f"your final weights have shape {w_final.shape}, but w0 has shape {w0.shape}: "
              f"updates keep the weights' shape.", "shape")
    _require_finite(w_final, "your final weights")
    return w_final, w0, grads


def check_momentum(w_final, w0, grads, lr: float = 0.1, momentum: float = 0.9) -> bool:
    """Check SGD with momentum run by hand over a sequence of gradients.

    torch.optim.SGD's rule (and steepest's): ``v ← momentum·v + g`` (with v = g at the first
    step), ``w ← w − lr·v``. ``grads`` is the list of gradients of the successive steps.
    """
    w_final, w0, grads = _grads_and_start(w_final, w0, grads, "w_final")
    truth = _optimizer_run(lambda p: SGD(p, lr=lr, momentum=momentum), w0, grads)
    if _close(w_final, truth):
        return _ok(f"after {len(grads)} steps the velocity has gathered the past gradients: "
                   f"w moved by {_fmt(w0 - truth)} (plain GD: {_fmt(lr * sum(grads))}).")
    _unchanged(w_final, w0)
    plain = w0 - lr * sum(grads)
    v, wrong_order, w_damped = np.zeros_like(w0), w0.copy(), w0.copy()
    v_damped = np.zeros_like(w0)
    for g in grads:
        wrong_order = wrong_order - lr * v      # used the old velocity, then updated it
        v = momentum * v + g
        v_damped = momentum * v_damped + (1 - momentum) * g
        w_damped = w_damped - lr * v_damped
    plus = w0 + (w0 - truth)
    checks = [
        (plain, "velocity", "these are plain gradient-descent steps: the velocity is missing "
                            "(v ← momentum·v + g, then w ← w − lr·v)"),
        (wrong_order, "velocity", "you stepped with the old velocity before adding the new "
                                  "gradient: update v first, then w ← w − lr·v"),
        (w_damped, "velocity", "you used v ← momentum·v + (1 − momentum)·g (an average); "
                               "torch's and steepest's momentum adds the whole gradient: "
                               "v ← momentum·v + g"),
        (plus, "added", "your steps go uphill: subtract, w ← w − lr·v"),
    ]
    _reject_known(w_final, checks, ".")
    _fail(f"your final weights {_fmt(w_final)} are not those of SGD with momentum "
          f"({_fmt(truth)}). Per step: v ← momentum·v + g; w ← w − lr·v.", "wrong")


def check_adam(w_final, w0, grads, lr: float = 0.1, betas=(0.9, 0.999),
               eps: float = 1e-8) -> bool:
    """Check Adam run by hand over a sequence of gradients (torch.optim.Adam's rule).

    Per step t = 1, 2, ...: ``m ← β1·m + (1 − β1)·g``, ``v ← β2·v + (1 − β2)·g²``,
    ``m̂ = m/(1 − β1^t)``, ``v̂ = v/(1 − β2^t)``, ``w ← w − lr·m̂/(√v̂ + eps)``.
    """
    w_final, w0, grads = _grads_and_start(w_final, w0, grads, "w_final")
    truth = _optimizer_run(lambda p: Adam(p, lr=lr, betas=tuple(betas), eps=eps),
                           w0, grads)
    if _close(w_final, truth):
        return _ok(f"w moved by {_fmt(w0 - truth)}. Adam's steps are about lr = {lr:g} in "
                   f"size whatever the gradients' scale: m̂/√v̂ is ≈ ±1 while a gradient "
                   f"keeps its sign.")
    _unchanged(w_final, w0)
    b1, b2 = betas

    def variant(correct=True, sqrt=True, sign=1.0):
        w, m, v = w0.copy(), np.zeros_like(w0), np.zeros_like(w0)
        for t, g in enumerate(grads, start=1):
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            mh, vh = (m / (1 - b1 ** t), v / (1 - b2 ** t)) if correct else (m, v)
            w = w - sign * lr * mh / ((np.sqrt(vh) if sqrt else vh) + eps)
        return w

    checks = [
        (variant(correct=False), "bias_correction",
         "the bias correction is missing: m and v start at 0, so early on they are too small; "
         "divide by (1 − β1^t) and (1 − β2^t), with t counting steps from 1"),
        (variant(sqrt=False), "sqrt_missing",
         "the square root is missing: divide m̂ by √v̂ + eps, the root-mean-square of the "
         "gradients, not by v̂"),
        (variant(sign=-1.0), "added", "your steps go uphill: subtract, w ← w − lr·m̂/(√v̂ + eps)"),
        (w0 - lr * sum(grads), "velocity",
         "these are plain gradient-descent steps; Adam divides the averaged gradient m̂ by "
         "√v̂ + eps"),
    ]
    _reject_known(w_final, checks, ".")
    _fail(f"your final weights {_fmt(w_final)} are not Adam's ({_fmt(truth)}). Per step t: "
          f"m ← β1·m + (1 − β1)·g; v ← β2·v + (1 − β2)·g²; m̂ = m/(1 − β1^t); "
          f"v̂ = v/(1 − β2^t); w ← w − lr·m̂/(√v̂ + eps).", "wrong")


# --------------------------------------------------------------------------- curvature
def check_hessian_eigenvalue(lam, input=None, target=None) -> bool:
    """Check ``lam``, the largest eigenvalue of the Hessian of the course notebook's loss
    mean((input @ W1 − target)²) with respect to W1.

    ∂²loss/∂W1[i,j]∂W1[k,j] = (2/n)·input[i]·input[k] for each output j (n outputs), so the
    Hessian is (2/n)·input·inputᵀ in each column's block: λ_max = (2/n)·Σ input².
    """
    lam = _scalar(lam, "lam", "Differentiate the loss twice with respect to one column of W1.")
    W1, input, target = _notebook_problem(None, input, target)
    W = tensor(np.array(W1, dtype=np.float64), requires_grad=True)
    forward = lambda: losses.mse(tensor(input) @ W, tensor(target))  # noqa: E731
    truth = float(np.linalg.eigvalsh(curvature.HessianOperator([W], forward=forward)
                                     .dense())[-1])
    n, squares = target.size, float(np.sum(input ** 2))
    if _close(lam, truth):
        return _ok(f"λ_max = (2/n)·Σ input² = 2·{_num(squares)}/{n} = {_num(truth)}: gradient "
                   f"descent on this loss is stable for lr < 2/λ_max = {_num(2 / truth)}.")
    _reject_known(lam, [
        (truth / 2, "factor_2_missing", "half the answer: the square's derivative brings a "
                                        "factor 2, and differentiating again keeps it"),
        (truth * n, "mean_missing", f"{n} times too large: the loss is a mean over the {n} "
                                    f"outputs, so each second derivative carries 1/{n}"),
        (squares, "factor_2_missing", "Σ input² alone: the Hessian block is (2/n)·input·inputᵀ, "
                                      "and its eigenvalue (2/n)·Σ input²"),
        (2 / truth, "wrong_variable", "that is the critical learning rate 2/λ_max, not λ_max"),
    ])
    if _roughly(lam, truth):
        _fail(f"{_num(lam)} is within 1% of λ_max but not exact: it looks rounded; compute it "
              f"in code from input.", "rounded")
    _fail(f"{_num(lam)} is not λ_max: write loss = (1/n)·Σ_j (Σ_i input[i]·W1[i,j] − "
          f"target[j])² and differentiate twice with respect to W1[i,j] and W1[k,j].", "wrong")


def check_critical_rate(lr, model, loss_fn, X, y) -> bool:
    """Check ``lr``, the critical learning rate 2/λ_max of ``loss_fn(model(X), y)``, with λ_max
    measured by :func:`steepest.curvature.sharpness` (Lanczos on Hessian-vector products)."""
    lr = _scalar(lr, "lr", "Measure λ_max with st.curvature.sharpness, then take 2/λ_max.")
    top, _ = curvature.sharpness(model, loss_fn, X, y, iterations=40)
    truth = 2.0 / top
    if np.isclose(lr, truth, rtol=1e-4):
        return _ok(f"λ_max = {_num(top)}, so full-batch gradient descent overshoots along the "
                   f"sharpest direction for lr > 2/λ_max = {_num(truth)}.")
    _reject_known(lr, [
        (1.0 / top, "factor_2_missing", "1/λ_max is the rate that lands exactly on the "
                                        "minimum along the sharpest direction; divergence "
                                        "starts at twice that, 2/λ_max"),
        (top, "wrong_variable", "that is λ_max itself; the critical rate is 2/λ_max"),
        (top / 2, "wrong_variable", "λ_max/2 is upside down: the critical rate is 2/λ_max"),
    ])
    _fail(f"{_num(lr)} is not 2/λ_max = {_num(truth)} for this model and data: measure λ_max "
          f"with st.curvature.sharpness(model, loss_fn, X, y).", "wrong")


if __name__ == "__main__":  # the command's old name: python -m steepest.exercises learner ...
    from steepest.notebook_editions import main

    sys.exit(main())
