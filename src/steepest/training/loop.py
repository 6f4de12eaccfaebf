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
``fit(..., initial_epoch=4, epochs=10)`` (see :mod:`steepest.training.checkpoint`).
"""

from __future__ import annotations

import math
import numbers
import shutil
import sys
import time

import numpy as np

from steepest.compile import CompiledStep
from steepest.data import _as_ndarray, _check_int, train_test_split
from steepest.nn.utils.clip_grad import clip_grad_norm_
from steepest.tensor import Tensor, no_grad
from steepest.training import callbacks as cbmod
from steepest.training.diagnostics import diagnose
from steepest.training.history import DivergenceError, History
from steepest.training.task import (
    _DEFAULT_METRICS, _evaluate_arrays, _first_dtype, _MetricSums, _prepare, linear_layers,
)

__all__ = ["fit", "evaluate", "predict"]

_wrap = Tensor._wrap


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
            tqdm = _bar_base()
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


def _bar_base():
    """tqdm's notebook widget where it can work, else its text bar (never tqdm.auto, which
    warns ``IProgress not found`` in a notebook without ipywidgets)."""
    if _in_notebook():
        try:
            import ipywidgets  # noqa: F401  (the widget bar needs it)
        except ImportError:
            pass
        else:
            import warnings

            from tqdm import TqdmWarning
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", TqdmWarning)
                from tqdm.notebook import tqdm
            return tqdm
    from tqdm.std import tqdm
    return tqdm


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

def _closure_step(optimizer, model, loss_fn, x, target):
    """One step of an optimizer that calls ``step(closure)`` (L-BFGS, Newton) on one batch;
    the batch's output and loss are those of the closure's first evaluation, before the step
    (the loss torch's ``LBFGS.step`` returns too). The closure keeps the graph
    (``retain_graph``): Newton differentiates the loss a second time."""
    first = []

    def closure():
        optimizer.zero_grad()
        out = model(x)
        loss = loss_fn(out, target)
        loss.backward(retain_graph=True)
        if not first:
            first.append((out, loss))
        return loss
    optimizer.step(closure)
    return first[0]


def fit(model, loss_fn, optimizer, x, y, *, epochs: int = 10, batch_size: int = 32,
        validation_data=None, callbacks=(), metrics=_DEFAULT_METRICS, shuffle: bool = True,
        seed: int = 0, verbose="auto", scheduler=None, initial_epoch: int = 0,
        history: History | dict | None = None, clip_grad_norm: float | None = None,
        divergence_guard: bool = True, validation_batch_size: int = 256,
        validation_split: float | None = None, compile: bool = False) -> History:
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
    callbacks : iterable of :class:`steepest.training.callbacks.Callback`
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
        Epoch to start at (for resuming; see :mod:`steepest.training.checkpoint`).
    history : History or dict, optional
        A history to continue (the resumed run appends to it).
    clip_grad_norm : float, optional
        Clip the total gradient norm to this value before each step (:func:`clip_grad_norm_`).
    divergence_guard : bool
        Add a :class:`~steepest.training.callbacks.DivergenceGuard` (unless one is in ``callbacks``):
        stop with :class:`DivergenceError` at the first NaN/inf or exploding loss.
    validation_batch_size : int
        Batch size for the validation pass (it only changes speed, not the result).
    validation_split : float in (0, 1), optional
        Instead of ``validation_data``: hold out this fraction of (x, y) for validation,
        drawn at random from ``seed`` (stratified by class for class labels), as
        :func:`steepest.data.train_test_split` does and ``steepest train --val-split``.
    compile : bool
        Run each training step through :func:`steepest.compile` (traced once per batch shape,
        then replayed: the same bits as the eager loop, less Python per step). With
        ``clip_grad_norm`` (a step whose scale depends on the gradient's value) the loop stays
        eager and says so.

    Returns
    -------
    History
        ``history.history['loss']`` etc., one value per epoch run in this call appended to
        ``history`` if given. ``history.diagnosis`` says what looks wrong at the end, and
        what to try (chance-level accuracy, dead ReLUs, vanishing gradients; see
        :func:`~steepest.training.diagnostics.diagnose`); it is printed unless ``verbose`` is
        silent.
    """
    epochs = _check_int("epochs", epochs, 0)
    initial_epoch = _check_int("initial_epoch", initial_epoch, 0)
    seed = _check_int("seed", seed, 0)
    validation_batch_size = _check_int("validation_batch_size", validation_batch_size, 1)
    if validation_split is not None:
        if validation_data is not None:
            raise ValueError("pass either validation_data or validation_split, not both")
        x, y, validation_data = _split(x, y, validation_split, seed)
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
    _check_optimizer_holds_the_model(optimizer, model)

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
    needs_closure = getattr(optimizer, "needs_closure", False)
    if needs_closure and clip_grad_norm is not None:
        raise ValueError(f"fit: clip_grad_norm does not apply to {type(optimizer).__name__}, "
                         f"which evaluates the loss itself inside step(closure)")
    compiled = _compiled_step(model, loss_fn, optimizer, clip_grad_norm) if compile else None

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
                if needs_closure:  # L-BFGS, Newton: the optimizer evaluates the batch itself
                    out, loss = _closure_step(optimizer, model, loss_fn, _wrap(Xe[lo:hi]),
                                              Te[lo:hi])
                elif compiled is not None:  # the optimizers leave .grad as backward made it
                    loss, out = compiled(_wrap(Xe[lo:hi]), Te[lo:hi])
                else:
                    zero_grad()
                    out = model(_wrap(Xe[lo:hi]))
                    loss = loss_fn(out, Te[lo:hi])
                    loss.backward()
                for i, w in enumerate(weights):
                    g = w._grad
                    if g is not None:
                        g = g.ravel()
                        norm_sums[i] += sqrt(dot(g, g))
                if compiled is None and not needs_closure:
                    if clip_grad_norm is not None:
                        clip_grad_norm_(trainable, clip_grad_norm)
                    step_fn()
                value = loss.item()
                loss_total += value * (hi - lo)
                if task.metrics:
                    sums.update(out._data, lo, hi, Te, Le)
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
    if epochs > initial_epoch and len(history):
        lr = float(optimizer.param_groups[0]["lr"])
        history.diagnosis = diagnose(model, history, X, task.labels, lr=lr)
        if progress.mode != "quiet":
            for finding in history.diagnosis:
                print(f"diagnosis: {finding}", flush=True)
    return history


def _compiled_step(model, loss_fn, optimizer, clip_grad_norm):
    """fit's step (forward, backward, update) compiled, or None (with a note) where it stays
    eager."""
    if clip_grad_norm is not None:
        print("fit(compile=True): clip_grad_norm scales the step by the gradient's norm, a "
              "value read in Python each step; training eagerly", file=sys.stderr)
        return None
    if optimizer.needs_closure:
        print(f"fit(compile=True): {type(optimizer).__name__} evaluates the loss itself inside "
              f"step(closure), a varying number of times; training eagerly", file=sys.stderr)
        return None

    def train_step(inputs, targets):
        optimizer.zero_grad()
        out = model(inputs)
        loss = loss_fn(out, targets)
        loss.backward()
        optimizer.step()
        return loss, out
    return CompiledStep(train_step, models=[model])


def _split(x, y, fraction, seed):
    """``(x_train, y_train, (x_val, y_val))`` for ``fit(validation_split=fraction)``."""
    if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real) or \
            not 0 < fraction < 1:
        raise ValueError(f"validation_split must be a fraction strictly between 0 and 1, got "
                         f"{fraction!r}")
    X, Y = _as_ndarray(x), _as_ndarray(y)
    labels = Y.ndim == 1 and Y.dtype.kind in "iub"
    X_train, X_val, y_train, y_val = train_test_split(X, Y, test_size=float(fraction),
                                                      seed=seed, stratify=labels)
    return X_train, y_train, (X_val, y_val)


def _check_optimizer_holds_the_model(optimizer, model) -> None:
    """An optimizer over none of the model's trainable parameters would train nothing."""
    groups = getattr(optimizer, "param_groups", None)
    if groups is None:
        return
    held = {id(p) for group in groups for p in group["params"]}
    trainable = [p for p in model.parameters() if p.requires_grad]
    if trainable and not any(id(p) in held for p in trainable):
        raise ValueError(f"the optimizer holds none of the model's {len(trainable)} trainable "
                         f"parameters, so fit would train nothing; make it with "
                         f"model.parameters(), e.g. st.optim.Adam(model.parameters())")

