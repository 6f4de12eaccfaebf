"""Training loops: ``fit``, ``evaluate``, ``predict`` and the ``History`` they record.

``fit`` is the Keras-like loop of the course::

    history = st.fit(model, st.losses.cross_entropy, optimizer, X, y, epochs=20,
                     validation_data=(X_val, y_val))
    history.history["val_accuracy"][-1]

What it does each step is exactly the loop one would write by hand (and the loop that is
benchmarked against torch)::

    optimizer.zero_grad(); out = model(x_batch); loss = loss_fn(out, y_batch)
    loss.backward(); optimizer.step()

plus, cheaply: ``loss.item()`` once, a running count for the metrics, and the L2 norm of
each Linear weight's gradient. Nothing is kept from one step to the next (``backward``
frees the graph), so memory stays flat across epochs, and the only copy of the data per
epoch is the shuffled one (batches are views of it).

Reproducibility and resuming: the shuffling order of epoch ``e`` comes from
``np.random.default_rng((seed, e))``, a function of the seed and the epoch number only. So
``fit(..., epochs=10)`` gives exactly the same weights as ``fit(..., epochs=4)`` followed by
saving a checkpoint, loading it into a fresh model and optimizer and
``fit(..., initial_epoch=4, epochs=10)`` (see :mod:`steepest.checkpoint`).

Targets: integer labels mean classification. With one output per class (``cross_entropy``)
the labels are passed to the loss as they are; with a single output (binary classification)
they become a float column ``(N, 1)``; a squared-error or binary cross-entropy loss on
several outputs gets one-hot rows. Float targets mean regression (a 1-D target becomes a
column when the model has one output).
"""

from __future__ import annotations

import math
import numbers
import shutil
import sys
import time
from dataclasses import dataclass

import numpy as np

from steepest import losses as _losses
from steepest.data import _as_ndarray, _check_int, validate_dataset
from steepest.nn.layers import Linear
from steepest.nn.module import Module
from steepest.tensor import Tensor, no_grad

__all__ = ["fit", "evaluate", "predict", "History", "DivergenceError", "clip_grad_norm_",
           "linear_layers", "METRICS"]

#: The metric names ``fit`` and ``evaluate`` understand.
METRICS = ("accuracy", "mse", "mae")
_ALIASES = {"acc": "accuracy", "mean_squared_error": "mse", "mean_absolute_error": "mae"}
_DEFAULT_METRICS = ("accuracy",)
_wrap = Tensor._wrap


class DivergenceError(RuntimeError):
    """Training diverged: the loss became NaN or infinite, or exploded.

    Raised by :class:`steepest.callbacks.DivergenceGuard` (on by default in :func:`fit`).
    Attributes: ``epoch`` (0-based), ``step`` (0-based within the epoch), ``loss``, ``lr``
    and ``history`` (the epochs completed before it happened, when raised inside ``fit``).
    """

    def __init__(self, message: str, *, epoch=None, step=None, loss=None, lr=None):
        super().__init__(message)
        self.epoch = epoch
        self.step = step
        self.loss = loss
        self.lr = lr
        self.history = None


# --------------------------------------------------------------------------- small utilities

def linear_layers(model: Module) -> list:
    """``[(name, Linear), ...]`` in depth order (the order ``forward`` of a Sequential uses).

    ``name`` is the layer's dotted name in the model (``'0'``, ``'2'`` ... for a Sequential).
    """
    return [(name, m) for name, m in model.named_modules() if isinstance(m, Linear)]


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> float:
    """Scale gradients in place so that their total norm is at most ``max_norm`` (torch's rule).

    The total norm is taken over all gradients together, as if concatenated into one vector.
    If it exceeds ``max_norm``, every gradient is multiplied by
    ``max_norm / (total_norm + 1e-6)``. Returns the total norm *before* clipping, as a float.
    ``norm_type`` may be any p >= 1 or ``inf``.
    """
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    grads = [p.grad for p in parameters if p.grad is not None]
    max_norm = float(max_norm)
    norm_type = float(norm_type)
    if not grads:
        return 0.0
    if norm_type == math.inf:
        total = max(float(np.max(np.abs(g))) if g.size else 0.0 for g in grads)
    elif norm_type == 2.0:
        total = math.sqrt(sum(float(np.dot(g.ravel(), g.ravel())) for g in grads))
    else:
        total = sum(float(np.sum(np.abs(g) ** norm_type)) for g in grads) ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the "
                           f"gradients is non-finite ({total}), so it cannot be clipped")
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for g in grads:
            g *= coef
    return total


def _first_dtype(model: Module):
    for p in model.parameters():
        return p.data.dtype
    return np.dtype(np.float64)


# --------------------------------------------------------------------------- History

class History:
    """What ``fit`` recorded, Keras-style.

    Attributes
    ----------
    history : dict[str, list[float]]
        One list per quantity, one entry per epoch: ``'loss'`` (mean training loss over the
        epoch's samples), each metric (``'accuracy'`` ...), ``'val_loss'`` and ``'val_<metric>'``
        with validation data, ``'lr'`` (learning rate of the first parameter group during the
        epoch) and ``'grad_norm/<layer>'`` (mean over the epoch's steps of the L2 norm of that
        Linear layer's weight gradient, layers in depth order).
    epoch : list[int]
        The 0-based epoch numbers, as Keras records them.
    params : dict
        ``epochs``, ``steps`` (per epoch), ``batch_size``, ``samples``, ``metrics``.
    """

    def __init__(self, history: dict | None = None, epoch=None, params: dict | None = None):
        self.history: dict = {k: list(v) for k, v in (history or {}).items()}
        self.epoch: list = list(epoch or [])
        self.params: dict = dict(params or {})
        self.model = None

    def append(self, epoch: int, logs: dict) -> None:
        """Record one epoch's logs (keys seen for the first time are padded with NaN)."""
        n = len(self.epoch)
        for key, value in logs.items():
            column = self.history.get(key)
            if column is None:
                column = self.history[key] = [math.nan] * n
            column.append(float(value))
        for key, column in self.history.items():
            if len(column) < n + 1:
                column.append(math.nan)
        self.epoch.append(int(epoch))

    def __getitem__(self, key: str) -> list:
        return self.history[key]

    def __contains__(self, key) -> bool:
        return key in self.history

    def __len__(self) -> int:
        return len(self.epoch)

    def layer_grad_norms(self) -> dict:
        """``{layer: [norm per epoch]}`` from the ``'grad_norm/<layer>'`` entries (depth order)."""
        prefix = "grad_norm/"
        return {k[len(prefix):]: v for k, v in self.history.items() if k.startswith(prefix)}

    def to_dict(self) -> dict:
        """A JSON-serialisable copy: ``{'epoch': [...], 'history': {...}, 'params': {...}}``.

        Non-finite numbers (a diverged loss) become ``None`` so that the result is strict JSON.
        """
        def clean(v):
            v = float(v)
            return v if math.isfinite(v) else None
        params = {k: (list(v) if isinstance(v, (tuple, list)) else v)
                  for k, v in self.params.items()}
        return {"epoch": [int(e) for e in self.epoch],
                "history": {k: [clean(v) for v in vals] for k, vals in self.history.items()},
                "params": params}

    @classmethod
    def from_dict(cls, data: dict) -> "History":
        """Rebuild a History from :meth:`to_dict`'s output (``None`` becomes NaN)."""
        hist = {k: [math.nan if v is None else float(v) for v in vals]
                for k, vals in data.get("history", {}).items()}
        return cls(hist, data.get("epoch", []), data.get("params", {}))

    def plot(self, path, title: str | None = None):
        """Save loss curves (and accuracy curves when recorded) as a PNG; returns the path.

        Uses matplotlib's Agg canvas directly, so it works without a display and does not
        touch pyplot's global state.
        """
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator

        h = self.history
        if not self.epoch:
            raise ValueError("History.plot: nothing to plot, no epoch was recorded")
        epochs = [e + 1 for e in self.epoch]
        metric = next((m for m in ("accuracy", "mae", "mse") if m in h or f"val_{m}" in h), None)
        panels = 2 if metric else 1
        fig = Figure(figsize=(5.5 * panels, 4), layout="constrained")
        axes = fig.subplots(1, panels, squeeze=False)[0]
        for ax, key, label in ((axes[0], "loss", "loss"),) + (
                ((axes[1], metric, metric),) if metric else ()):
            if key in h:
                ax.plot(epochs, h[key], label=f"training {label}", marker="." if
                        len(epochs) < 30 else None)
            if f"val_{key}" in h:
                ax.plot(epochs, h[f"val_{key}"], label=f"validation {label}",
                        marker="." if len(epochs) < 30 else None)
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_ylabel(label)
            ax.set_title(label.capitalize() + " per epoch")
            ax.grid(alpha=0.3)
            ax.legend()
        loss_values = [v for v in h.get("loss", []) + h.get("val_loss", []) if
                       math.isfinite(v) and v > 0]
        if loss_values and max(loss_values) / min(loss_values) > 100:
            axes[0].set_yscale("log")
        if title:
            fig.suptitle(title)
        fig.savefig(path, dpi=100)
        return path

    def __repr__(self) -> str:
        if not self.epoch:
            return "History(no epochs)"
        last = {k: v[-1] for k, v in self.history.items() if not k.startswith("grad_norm/")}
        shown = ", ".join(f"{k}={v:.4g}" for k, v in last.items())
        return f"History({len(self.epoch)} epochs; last: {shown})"


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
                sums.update(out.data, lo, hi, targets, labels)
    finally:
        model.train(was_training)
    return {prefix + "loss": total / n, **sums.results(prefix)}


def evaluate(model, loss_fn, x, y, batch_size: int = 256, metrics=_DEFAULT_METRICS) -> dict:
    """Loss (mean over samples) and metrics on (x, y), without gradients, in eval mode.

    Returns e.g. ``{'loss': 0.08, 'accuracy': 0.975}``. The model's training/eval mode is
    restored afterwards. ``metrics``: 'accuracy' (argmax of the outputs, or output > 0.5 for a
    single output; > 0 with ``binary_cross_entropy_with_logits``), 'mse', 'mae'.
    """
    X, task = _prepare(model, loss_fn, x, y, metrics, batch_size)
    return _evaluate_arrays(model, loss_fn, X, task, int(batch_size))


def predict(model, x, batch_size: int = 256) -> np.ndarray:
    """The model's outputs for ``x`` as one ndarray, batch by batch, under no_grad and eval mode.

    For a classifier these are logits: ``predict(model, X).argmax(axis=1)`` gives classes.
    """
    X = _as_ndarray(x)
    if X.ndim == 1:
        raise ValueError(f"predict: x must be 2-D (n_samples, n_features), got shape "
                         f"{X.shape}; for one sample use x.reshape(1, -1)")
    batch_size = _check_int("batch_size", batch_size, 1)
    layers = linear_layers(model)
    if layers and X.shape[-1] != layers[0][1].in_features:
        raise ValueError(f"wrong number of features: got {X.shape[-1]}, the model expects "
                         f"{layers[0][1].in_features}")
    X = X.astype(_first_dtype(model), copy=False)
    was_training = model.training
    model.eval()
    outputs = []
    try:
        with no_grad():
            for lo in range(0, len(X), batch_size):
                outputs.append(_as_ndarray(model(_wrap(X[lo:lo + batch_size]))))
    finally:
        model.train(was_training)
    if not outputs:
        return np.empty((0,))
    return np.concatenate(outputs)


# --------------------------------------------------------------------------- progress

def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None or "ipykernel" not in sys.modules:
        return False
    try:
        return type(shell.get_ipython()).__name__ == "ZMQInteractiveShell"
    except Exception:  # pragma: no cover - exotic shells
        return False


def _isatty() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def _format_logs(logs: dict) -> str:
    return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items()
                      if not k.startswith("grad_norm/") and k != "lr")


class _Progress:
    """Keras-like progress: a tqdm bar per epoch (TTY / notebook) or one line per epoch."""

    def __init__(self, verbose, epochs: int, steps: int):
        if verbose not in ("auto", 0, 1, 2, True, False):
            raise ValueError(f"verbose must be 'auto', 0, 1 or 2, got {verbose!r}")
        interactive = _isatty() or _in_notebook()
        if verbose == "auto":
            mode = "bar" if interactive else "quiet"
        elif not verbose:
            mode = "quiet"
        elif verbose == 2:
            mode = "line"
        else:
            mode = "bar" if interactive else "line"
        self.mode = mode
        self.epochs = epochs
        self.steps = steps
        self.bar = None
        self.start = 0.0

    def begin_epoch(self, epoch: int) -> None:
        self.start = time.perf_counter()
        if self.mode == "bar":
            from tqdm.auto import tqdm

            width = len(str(self.epochs))
            size = shutil.get_terminal_size((120, 24))
            self.bar = _keras_bar(tqdm)(
                total=self.steps, desc=f"Epoch {epoch + 1:>{width}}/{self.epochs}",
                file=sys.stdout, leave=True, dynamic_ncols=False,
                ncols=size.columns or 120, nrows=size.lines or 24,
                bar_format="{desc}  {n_fmt}/{total_fmt} {bar:20} {elapsed_s:.1f}s "
                           "{per_step} {stats}", ascii=" ━", mininterval=0.1)

    def update(self, loss_mean: float) -> None:
        bar = self.bar
        if bar is not None:
            bar.stats = f"- loss: {loss_mean:.4f}"
            bar.update(1)

    def end_epoch(self, epoch: int, steps_done: int, logs: dict) -> None:
        elapsed = time.perf_counter() - self.start
        per_step = f"{1000 * elapsed / max(steps_done, 1):.0f}ms/step"
        if self.bar is not None:
            self.bar.stats = "- " + _format_logs(logs)
            self.bar.ncols = max(self.bar.ncols or 0, 1000)  # the final line is never cut
            self.bar.refresh()
            self.bar.close()
            self.bar = None
        elif self.mode == "line":
            width = len(str(self.epochs))
            print(f"Epoch {epoch + 1:>{width}}/{self.epochs}  {steps_done}/{self.steps} "
                  f"{elapsed:.1f}s {per_step} - {_format_logs(logs)}", flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


_BAR_CLASSES: dict = {}


def _keras_bar(base):
    """A tqdm subclass whose bar_format can show ``{stats}`` and ``{per_step}``."""
    cls = _BAR_CLASSES.get(base)
    if cls is None:
        class KerasBar(base):
            stats = ""

            @property
            def format_dict(self):
                d = super().format_dict
                n = max(d.get("n") or 0, 1)
                d["per_step"] = f"{1000 * d.get('elapsed', 0) / n:.0f}ms/step"
                d["stats"] = self.stats
                return d
        cls = _BAR_CLASSES[base] = KerasBar
    return cls


# --------------------------------------------------------------------------- fit

def fit(model, loss_fn, optimizer, x, y, *, epochs: int = 10, batch_size: int = 32,
        validation_data=None, callbacks=(), metrics=_DEFAULT_METRICS, shuffle: bool = True,
        seed: int = 0, verbose="auto", scheduler=None, initial_epoch: int = 0,
        history: History | dict | None = None, clip_grad_norm: float | None = None,
        divergence_guard: bool = True, validation_batch_size: int = 256) -> History:
    """Train ``model`` on (x, y) with mini-batch gradient descent; return the :class:`History`.

    Parameters
    ----------
    model : Module
    loss_fn : callable ``(output Tensor, target) -> scalar Tensor``
        e.g. ``st.losses.cross_entropy`` (logits and integer labels).
    optimizer : steepest.optim.Optimizer over the model's parameters
    x, y : ndarrays (or Tensors). Checked first by :func:`steepest.data.validate_dataset`
        (lengths, feature count against the model's first Linear, labels against the number
        of outputs, NaN/inf, emptiness); errors are ``ValueError`` saying what is wrong.
    epochs : int
        Train until this many epochs are done in total (Keras' meaning, so with
        ``initial_epoch=4, epochs=10`` six more epochs run).
    batch_size : int
        Samples per step; the last batch of an epoch may be smaller.
    validation_data : (x_val, y_val), optional
        Evaluated after each epoch (eval mode, no grad): ``val_loss`` and ``val_<metric>``.
    callbacks : iterable of :class:`steepest.callbacks.Callback`
        Called in the given order, except that learning-rate scheduler callbacks come first
        (so a ModelCheckpoint saves the schedule as the next epoch will use it).
    metrics : names among 'accuracy', 'mse', 'mae'. Training metrics are running values over
        the epoch (the weights change during it), as in Keras.
    shuffle : bool
        Visit samples in a new order each epoch, drawn from ``default_rng((seed, epoch))``.
    seed : int
        Shuffling seed, >= 0 (the model's initialisation is the caller's: ``st.manual_seed``).
    verbose : 'auto', 0, 1 or 2
        'auto': a progress bar per epoch on a terminal or in a notebook, silence otherwise
        (CI, logs). 1: the bar, or one summary line per epoch when output is not a terminal.
        2: one line per epoch. 0: silent.
    scheduler : an ``st.optim.lr_scheduler`` scheduler, optional
        Stepped once per epoch (per step for OneCycleLR); ReduceLROnPlateau gets
        ``val_loss`` (or ``loss`` without validation data). Same as passing
        ``callbacks.LRSchedulerCallback(scheduler)``.
    initial_epoch : int
        Epoch to start at (for resuming; see :mod:`steepest.checkpoint`).
    history : History or dict, optional
        A history to continue (the resumed run appends to it).
    clip_grad_norm : float, optional
        Clip the total gradient norm to this value before each step (:func:`clip_grad_norm_`).
    divergence_guard : bool
        Add a :class:`~steepest.callbacks.DivergenceGuard` (unless one is in ``callbacks``):
        stop with :class:`DivergenceError` at the first NaN/inf or exploding loss.
    validation_batch_size : int
        Batch size for the validation pass (it only changes speed, not the result).

    Returns
    -------
    History
        ``history.history['loss']`` etc., one value per epoch run in this call appended to
        ``history`` if given.
    """
    from steepest import callbacks as cbmod  # callbacks import this module: import lazily

    epochs = _check_int("epochs", epochs, 0)
    initial_epoch = _check_int("initial_epoch", initial_epoch, 0)
    seed = _check_int("seed", seed, 0)
    validation_batch_size = _check_int("validation_batch_size", validation_batch_size, 1)
    X, task = _prepare(model, loss_fn, x, y, metrics, batch_size)
    val = None
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError("validation_data must be a pair (x_val, y_val)")
        X_val, val_task = _prepare(model, loss_fn, validation_data[0], validation_data[1],
                                   task.metrics, None, what="validation_data: ")
        val = (X_val, val_task)
    if clip_grad_norm is not None and not (isinstance(clip_grad_norm, numbers.Real)
                                           and clip_grad_norm > 0):
        raise ValueError(f"clip_grad_norm must be a number > 0, got {clip_grad_norm!r}")
    if not hasattr(optimizer, "step") or not hasattr(optimizer, "zero_grad"):
        raise TypeError(f"optimizer must be a steepest.optim optimizer, got "
                        f"{type(optimizer).__name__}")

    n = len(X)
    batch_size = int(batch_size)
    steps = -(-n // batch_size)
    if isinstance(history, dict):
        history = History.from_dict(history)
    history = history if history is not None else History()
    history.model = model

    callbacks = list(callbacks or ())
    for cb in callbacks:
        if not isinstance(cb, cbmod.Callback):
            raise TypeError(f"callbacks must be steepest.callbacks.Callback instances, got "
                            f"{type(cb).__name__}")
    if scheduler is not None:
        callbacks.append(cbmod.LRSchedulerCallback(scheduler))
    # schedulers step first at each epoch end, so that a checkpoint saved by a later callback
    # holds the state the next epoch starts from (what resuming needs)
    callbacks.sort(key=lambda cb: not isinstance(cb, cbmod.LRSchedulerCallback))
    if divergence_guard and not any(isinstance(cb, cbmod.DivergenceGuard) for cb in callbacks):
        callbacks.insert(0, cbmod.DivergenceGuard())
    log_keys = ["loss", *task.metrics]
    if val is not None:
        log_keys += ["val_loss", *(f"val_{m}" for m in task.metrics)]
    layers = linear_layers(model)
    log_keys += ["lr", *(f"grad_norm/{name}" for name, _ in layers)]
    history.params.update(epochs=epochs, steps=steps, batch_size=batch_size, samples=n,
                          metrics=log_keys)
    for cb in callbacks:
        cb.set_context(model=model, optimizer=optimizer, history=history,
                       params=dict(history.params))
    batch_cbs = [cb for cb in callbacks if cb.wants_batches()]

    weights = [layer.weight for _, layer in layers]
    norm_sums = np.zeros(len(weights))
    trainable = [p for p in model.parameters() if p.requires_grad]
    progress = _Progress(verbose, epochs, steps)
    targets, labels = task.targets, task.labels
    sqrt, dot = math.sqrt, np.dot
    zero_grad, step_fn = optimizer.zero_grad, optimizer.step

    for cb in callbacks:
        cb.on_train_begin()
    epoch = initial_epoch
    try:
        for epoch in range(initial_epoch, epochs):
            model.train()
            for cb in callbacks:
                cb.on_epoch_begin(epoch)
            if shuffle:
                order = np.random.default_rng((seed, epoch)).permutation(n)
                Xe, Te = X[order], targets[order]
                Le = labels[order] if labels is not None else None
            else:
                Xe, Te, Le = X, targets, labels
            sums = _MetricSums(task)
            loss_total = 0.0
            norm_sums[:] = 0.0
            stop = False
            progress.begin_epoch(epoch)
            step = 0
            for step in range(steps):
                lo = step * batch_size
                hi = lo + batch_size if lo + batch_size < n else n
                zero_grad()
                out = model(_wrap(Xe[lo:hi]))
                loss = loss_fn(out, Te[lo:hi])
                loss.backward()
                for i, w in enumerate(weights):
                    g = w.grad
                    if g is not None:
                        g = g.ravel()
                        norm_sums[i] += sqrt(dot(g, g))
                if clip_grad_norm is not None:
                    clip_grad_norm_(trainable, clip_grad_norm)
                step_fn()
                value = loss.item()
                loss_total += value * (hi - lo)
                if task.metrics:
                    sums.update(out.data, lo, hi, Te, Le)
                if batch_cbs:
                    batch_logs = {"loss": value, "size": hi - lo}
                    for cb in batch_cbs:
                        cb.on_batch_end(step, batch_logs)
                    if any(cb.stop_training for cb in callbacks):
                        stop = True
                        break
                if progress.bar is not None:
                    progress.update(loss_total / hi)
            del out, loss
            done = step + 1
            seen = min(done * batch_size, n)
            logs = {"loss": loss_total / seen, **sums.results()}
            if val is not None:
                logs.update(_evaluate_arrays(model, loss_fn, val[0], val[1],
                                             validation_batch_size, prefix="val_"))
            logs["lr"] = float(optimizer.param_groups[0]["lr"])
            for i, (name, _) in enumerate(layers):
                logs[f"grad_norm/{name}"] = norm_sums[i] / done
            history.append(epoch, logs)
            progress.end_epoch(epoch, done, logs)
            for cb in callbacks:
                cb.on_epoch_end(epoch, logs)
            if stop or any(cb.stop_training for cb in callbacks):
                break
    except DivergenceError as error:
        error.history = history
        raise
    finally:
        progress.close()
    for cb in callbacks:
        cb.on_train_end()
    return history

