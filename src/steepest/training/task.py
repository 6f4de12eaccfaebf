"""How ``fit`` and ``evaluate`` feed targets to the loss and count the metrics.

Targets: integer labels mean classification. With one output per class (``cross_entropy``)
the labels are passed to the loss as they are; with a single output (binary classification)
they become a float column ``(N, 1)``; a squared-error or binary cross-entropy loss on
several outputs gets one-hot rows. Float targets mean regression (a 1-D target becomes a
column when the model has one output).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from steepest import losses as _losses
from steepest.data import _as_ndarray, validate_dataset
from steepest.nn.layers import Linear
from steepest.nn.module import Module
from steepest.tensor import Tensor, no_grad

__all__ = ["METRICS", "linear_layers"]

METRICS = ("accuracy", "mse", "mae")
_ALIASES = {"acc": "accuracy", "mean_squared_error": "mse", "mean_absolute_error": "mae"}
_DEFAULT_METRICS = ("accuracy",)
_wrap = Tensor._wrap


def linear_layers(model: Module) -> list:
    """``[(name, Linear), ...]`` in depth order (the order ``forward`` of a Sequential uses).

    ``name`` is the layer's dotted name in the model (``'0'``, ``'2'`` ... for a Sequential).
    """
    return [(name, m) for name, m in model.named_modules() if isinstance(m, Linear)]



def _first_dtype(model: Module):
    for p in model.parameters():
        return p._data.dtype
    return np.dtype(np.float64)



# --------------------------------------------------------------------------- task setup

@dataclass
class _Task:
    """How targets are fed to the loss and how metrics are computed."""

    kind: str                  # 'multiclass', 'binary' or 'regression'
    targets: np.ndarray        # what the loss receives
    labels: np.ndarray | None  # int labels for accuracy (classification)
    threshold: float = 0.5     # binary: output > threshold means class 1
    metrics: tuple = ()
    n_outputs: int = 1


_ONE_HOT_LOSSES = (_losses.mse, _losses.sse, _losses.half_sse, _losses.binary_cross_entropy,
                   _losses.binary_cross_entropy_with_logits)


def _normalise_metrics(metrics) -> tuple:
    if metrics is None:
        return ()
    if isinstance(metrics, str):
        metrics = (metrics,)
    names = []
    for m in metrics:
        name = _ALIASES.get(m, m) if isinstance(m, str) else m
        if name not in METRICS:
            raise ValueError(f"unknown metric {m!r}; valid metrics: {', '.join(METRICS)}")
        if name not in names:
            names.append(name)
    return tuple(names)


def _n_outputs(model: Module, X: np.ndarray) -> int:
    """Outputs per sample: one forward pass of two rows in eval mode (draws no randomness)."""
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            out = model(_wrap(X[:2]))
    finally:
        model.train(was_training)
    out = _as_ndarray(out)
    if out.ndim == 1:
        return 1
    if out.ndim != 2:
        raise ValueError(f"the model's output has shape {out.shape}; fit expects "
                         f"(batch, outputs)")
    return out.shape[1]


def _prepare(model, loss_fn, x, y, metrics, batch_size=None, what="") -> tuple:
    """Validate (x, y) against the model and build the task description."""
    if not isinstance(model, Module):
        raise TypeError(f"model must be a steepest.nn.Module, got {type(model).__name__}")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable (e.g. st.losses.cross_entropy), got "
                        f"{type(loss_fn).__name__}")
    default_metrics = metrics is _DEFAULT_METRICS
    metrics = _normalise_metrics(metrics)
    X = _as_ndarray(x)
    Y = _as_ndarray(y)
    layers = linear_layers(model)
    n_features = layers[0][1].in_features if layers else None
    try:
        X, Y = validate_dataset(X, Y, n_features=n_features, batch_size=batch_size)
    except ValueError as error:
        raise ValueError(f"{what}{error}") from None
    X = X.astype(_first_dtype(model), copy=False)
    n_out = _n_outputs(model, X)
    dtype = X.dtype
    is_label = Y.dtype.kind in "iub" or (loss_fn is _losses.cross_entropy and Y.ndim == 1)
    if is_label:
        if Y.ndim != 1:
            raise ValueError(f"{what}class labels must be 1-D (one integer per sample), got "
                             f"shape {Y.shape}")
        n_classes = 2 if n_out == 1 else n_out
        try:
            _, labels = validate_dataset(X, Y, n_classes=n_classes)
        except ValueError as error:
            raise ValueError(f"{what}{error} (the model has {n_out} output"
                             f"{'s' if n_out != 1 else ''}, so "
                             f"{n_classes} classes)") from None
        if n_out == 1:
            kind = "binary"
            targets = labels.astype(dtype).reshape(-1, 1)
        else:
            kind = "multiclass"
            if loss_fn in _ONE_HOT_LOSSES:
                targets = np.eye(n_out, dtype=dtype)[labels]
            else:
                targets = labels
        threshold = 0.0 if loss_fn is _losses.binary_cross_entropy_with_logits else 0.5
        task = _Task(kind, targets, labels, threshold, n_outputs=n_out)
    else:
        targets = Y.astype(dtype, copy=False)
        if targets.ndim == 1 and n_out == 1:
            targets = targets.reshape(-1, 1)
        if targets.ndim != 2 or targets.shape[1] != n_out:
            raise ValueError(f"{what}targets have shape {Y.shape} but the model has {n_out} "
                             f"outputs per sample; expected ({len(Y)}, {n_out})")
        labels = None
        kind = "regression"
        if targets.shape[1] > 1 and np.all((targets == 0) | (targets == 1)) and \
                np.all(targets.sum(axis=1) == 1):
            labels = targets.argmax(axis=1)  # one-hot rows: accuracy still makes sense
        task = _Task(kind, targets, labels, n_outputs=n_out)
    if "accuracy" in metrics and task.labels is None:
        if default_metrics:
            metrics = ()
        else:
            raise ValueError(f"{what}metric 'accuracy' needs class labels (integer targets); "
                             f"for regression use metrics=('mse',) or ('mae',)")
    for m in ("mse", "mae"):
        if m in metrics and task.targets.ndim == 1:
            raise ValueError(f"{what}metric {m!r} compares outputs with targets of the same "
                             f"shape; with class labels use 'accuracy'")
    task.metrics = metrics
    return X, task


class _MetricSums:
    """Running sums for the metrics, updated from each batch's output array."""

    __slots__ = ("task", "correct", "se", "ae", "count")

    def __init__(self, task: _Task):
        self.task = task
        self.correct = 0
        self.se = 0.0
        self.ae = 0.0
        self.count = 0

    def update(self, out: np.ndarray, lo: int, hi: int, targets, labels) -> None:
        task = self.task
        self.count += hi - lo
        for m in task.metrics:
            if m == "accuracy":
                if task.kind == "binary":
                    pred = out.reshape(-1) > task.threshold
                else:
                    pred = out.argmax(axis=1)
                self.correct += int(np.count_nonzero(pred == labels[lo:hi]))
            else:
                diff = out - targets[lo:hi]
                if m == "mse":
                    self.se += float(np.dot(diff.ravel(), diff.ravel()))
                else:
                    self.ae += float(np.abs(diff).sum())

    def results(self, prefix: str = "") -> dict:
        logs = {}
        per_sample = self.task.n_outputs if self.task.targets.ndim == 2 else 1
        for m in self.task.metrics:
            if m == "accuracy":
                logs[prefix + m] = self.correct / max(self.count, 1)
            elif m == "mse":
                logs[prefix + m] = self.se / max(self.count * per_sample, 1)
            else:
                logs[prefix + m] = self.ae / max(self.count * per_sample, 1)
        return logs


# --------------------------------------------------------------------------- evaluate/predict

def _evaluate_arrays(model, loss_fn, X, task, batch_size, prefix="") -> dict:
    was_training = model.training
    model.eval()
    sums = _MetricSums(task)
    total = 0.0
    n = len(X)
    targets, labels = task.targets, task.labels
    try:
        with no_grad():
            for lo in range(0, n, batch_size):
                hi = min(lo + batch_size, n)
                out = model(_wrap(X[lo:hi]))
                total += float(loss_fn(out, targets[lo:hi]).item()) * (hi - lo)
                sums.update(out._data, lo, hi, targets, labels)
    finally:
        model.train(was_training)
    return {prefix + "loss": total / n, **sums.results(prefix)}

