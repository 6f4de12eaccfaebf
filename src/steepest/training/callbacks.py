"""Callbacks: code that :func:`steepest.fit` runs at fixed points of training.

A callback subclasses :class:`Callback` and overrides any of ``on_train_begin``,
``on_epoch_begin``, ``on_batch_end``, ``on_epoch_end`` and ``on_train_end``. Before training
``fit`` sets ``self.model``, ``self.optimizer``, ``self.history`` and ``self.params``
(``epochs``, ``steps`` per epoch, ``batch_size``, ``samples`` and ``metrics``: the keys each
epoch's ``logs`` will have). Setting ``self.stop_training = True`` ends training after the
current epoch (after the current step when set in ``on_batch_end``).

``on_batch_end`` is the only per-step hook and is called only for callbacks that override
it, so callbacks that work per epoch add nothing to the cost of a step.

Provided here: :class:`EarlyStopping`, :class:`ModelCheckpoint`, :class:`LRSchedulerCallback`,
:class:`CSVLogger`, :class:`JSONLogger`, :class:`StepLosses` and :class:`DivergenceGuard` (on by default in ``fit``).
"""

from __future__ import annotations

import inspect
import math
import os
import re
import string

from steepest.data import _check_int
from steepest.io import write_json
from steepest.training.checkpoint import save_checkpoint
from steepest.training.history import DivergenceError

__all__ = ["Callback", "EarlyStopping", "ModelCheckpoint", "LRSchedulerCallback", "CSVLogger",
           "JSONLogger", "StepLosses", "DivergenceGuard", "DivergenceError"]


class Callback:
    """Base class: every hook does nothing. ``logs`` is a dict of floats.

    ``on_epoch_end``'s logs hold ``loss``, the metrics, ``val_*`` entries with validation
    data, ``lr`` and ``grad_norm/<layer>``; ``on_batch_end``'s hold ``loss`` (of that batch)
    and ``size`` (its number of samples).
    """

    model = None
    optimizer = None
    history = None
    params: dict = {}
    stop_training = False

    def set_context(self, model=None, optimizer=None, history=None, params=None) -> None:
        """Called by ``fit`` before training (and resets ``stop_training``)."""
        self.model = model
        self.optimizer = optimizer
        self.history = history
        self.params = dict(params or {})
        self.stop_training = False

    def wants_batches(self) -> bool:
        """Whether ``fit`` must call ``on_batch_end`` (True when a subclass overrides it)."""
        return type(self).on_batch_end is not Callback.on_batch_end

    def on_train_begin(self, logs=None) -> None:
        pass

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        pass

    def on_batch_end(self, batch: int, logs=None) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        pass

    def on_train_end(self, logs=None) -> None:
        pass


# --------------------------------------------------------------------------- helpers

def _resolve_mode(name: str, monitor: str, mode: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{name}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        return "max" if monitor.endswith(("accuracy", "acc")) else "min"
    return mode


def _check_monitor(name: str, monitor: str, params: dict) -> None:
    keys = params.get("metrics")
    if keys is not None and monitor not in keys:
        hint = (" (pass validation_data to fit, or monitor 'loss')"
                if monitor.startswith("val_") else "")
        raise ValueError(f"{name}: monitor {monitor!r} is not recorded in this run{hint}; "
                         f"available: {', '.join(k for k in keys if '/' not in k)}")


class _Improvement:
    """Tracks the best value of a monitored quantity, with a min_delta margin."""

    def __init__(self, mode: str, min_delta: float, best=None):
        self.mode = mode
        self.min_delta = abs(float(min_delta))
        self.best = best if best is not None else (math.inf if mode == "min" else -math.inf)

    def is_better(self, value: float) -> bool:
        if value is None or not math.isfinite(value):
            return False
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


# --------------------------------------------------------------------------- EarlyStopping

class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved for ``patience`` epochs (Keras semantics).

    Parameters
    ----------
    monitor : str
        A key of the epoch logs, e.g. 'val_loss' (default), 'val_accuracy', 'loss'.
    patience : int
        Epochs without improvement to wait before stopping.
    min_delta : float
        An improvement must beat the best value by more than this.
    mode : 'auto', 'min' or 'max'
        'auto' maximises accuracies and minimises everything else.
    restore_best_weights : bool
        At the end of training put back the weights of the best epoch.
    baseline : float, optional
        Stop unless the monitored value beats this within ``patience`` epochs.

    After training: ``stopped_epoch`` (0-based epoch at which it stopped, or None),
    ``best`` and ``best_epoch``.
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0,
                 mode: str = "auto", restore_best_weights: bool = False, baseline=None,
                 verbose: int = 0):
        self.monitor = monitor
        self.patience = _check_int("EarlyStopping: patience", patience, 0)
        self.min_delta = min_delta
        self.mode = _resolve_mode("EarlyStopping", monitor, mode)
        self.restore_best_weights = restore_best_weights
        self.baseline = baseline
        self.verbose = verbose
        self._reset()

    def _reset(self) -> None:
        self.tracker = _Improvement(self.mode, self.min_delta, self.baseline)
        self.wait = 0
        self.stopped_epoch = None
        self.best_epoch = None
        self.best_weights = None

    @property
    def best(self) -> float:
        return self.tracker.best

    def on_train_begin(self, logs=None) -> None:
        _check_monitor("EarlyStopping", self.monitor, self.params)
        self._reset()

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        value = (logs or {}).get(self.monitor)
        if self.tracker.is_better(value):
            self.tracker.best = value
            self.best_epoch = epoch
            self.wait = 0
            if self.restore_best_weights:
                self.best_weights = self.model.state_dict()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.stop_training = True
            if self.verbose:
                print(f"EarlyStopping: {self.monitor} has not improved on {self.best:.4g} "
                      f"(epoch {self.best_epoch + 1 if self.best_epoch is not None else '-'}) "
                      f"for {self.wait} epochs; stopping after epoch {epoch + 1}")

    def on_train_end(self, logs=None) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)
            if self.verbose:
                print(f"EarlyStopping: restored the weights of epoch {self.best_epoch + 1}")


# --------------------------------------------------------------------------- ModelCheckpoint

class ModelCheckpoint(Callback):
    """Save a checkpoint (model, optimizer, epoch, history) after epochs, atomically.

    Parameters
    ----------
    path : str or PathLike
        The ``.npz`` file. May contain ``{epoch}`` (1-based) or log keys, e.g.
        ``'ckpt-{epoch:03d}-{val_loss:.3f}.npz'``.
    monitor : str
        The quantity that decides "best" for ``save_best_only``.
    save_best_only : bool
        Only save when ``monitor`` improved (the file then always holds the best model).
    mode : 'auto', 'min' or 'max'
    save_optimizer : bool
        Also save the optimizer's state (needed to resume exactly).
    every : int
        Save every this many epochs (ignored with ``save_best_only``).
    extra : dict, optional
        Stored with each checkpoint (e.g. the configuration of the run).
    initial_value_threshold : float, optional
        With ``save_best_only``: the value to beat at first (e.g. the best of a resumed run).
    scheduler : optional
        A learning-rate scheduler whose state is saved too (to resume a schedule exactly).

    The stored ``epoch`` is the number of completed epochs, so
    ``fit(..., initial_epoch=checkpoint['epoch'])`` resumes where it stopped.
    """

    def __init__(self, path, monitor: str = "val_loss", save_best_only: bool = False,
                 mode: str = "auto", save_optimizer: bool = True, every: int = 1,
                 extra: dict | None = None, initial_value_threshold=None, verbose: int = 0,
                 scheduler=None):
        self.path = os.fspath(path)
        self.monitor = monitor
        self.save_best_only = save_best_only
        self.mode = _resolve_mode("ModelCheckpoint", monitor, mode)
        self.save_optimizer = save_optimizer
        self.every = _check_int("ModelCheckpoint: every", every, 1)
        self.extra = extra
        self.initial_value_threshold = initial_value_threshold
        self.verbose = verbose
        self.scheduler = scheduler
        self.tracker = _Improvement(self.mode, 0.0, initial_value_threshold)
        self.last_saved = None

    def on_train_begin(self, logs=None) -> None:
        if self.save_best_only:
            _check_monitor("ModelCheckpoint", self.monitor, self.params)
        self._check_template()
        self.tracker = _Improvement(self.mode, 0.0, self.initial_value_threshold)

    def _check_template(self) -> None:
        """Every ``{field}`` of the path must be ``epoch`` or a key this run logs."""
        keys = self.params.get("metrics")
        try:
            fields = [name for _, name, _, _ in string.Formatter().parse(self.path)
                      if name is not None]
        except ValueError as error:
            raise ValueError(f"ModelCheckpoint: the path {self.path!r} is not a valid "
                             f"template ({error})") from None
        for name in fields:
            key = re.split(r"[.\[]", name, maxsplit=1)[0]
            if key == "epoch" or keys is None or key in keys:
                continue
            if not key:
                raise ValueError(f"ModelCheckpoint: the path {self.path!r} has an unnamed "
                                 f"field {{}}; name it, e.g. {{epoch}} or {{val_loss:.3f}}")
            hint = (" (pass validation_data or validation_split to fit)"
                    if key.startswith("val_") else "")
            raise ValueError(f"ModelCheckpoint: the path {self.path!r} uses {{{key}}}, which "
                             f"this run does not record{hint}; available: epoch, "
                             f"{', '.join(k for k in keys if k.isidentifier())}")

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        logs = logs or {}
        if self.save_best_only:
            value = logs.get(self.monitor)
            if not self.tracker.is_better(value):
                return
            self.tracker.best = value
        elif (epoch + 1) % self.every:
            return
        fields = {k: v for k, v in logs.items() if k.isidentifier()}
        path = self.path.format(epoch=epoch + 1, **fields)
        save_checkpoint(path, self.model, self.optimizer if self.save_optimizer else None,
                        epoch=epoch + 1, history=self.history, extra=self.extra,
                        scheduler=self.scheduler)
        self.last_saved = path
        if self.verbose:
            print(f"ModelCheckpoint: saved {path} (epoch {epoch + 1})")


# --------------------------------------------------------------------------- schedulers

def _class_names(obj) -> set:
    return {cls.__name__ for cls in type(obj).__mro__}


def _needs_metric(scheduler) -> bool:
    """ReduceLROnPlateau-like: ``step`` takes a required metric argument."""
    if "ReduceLROnPlateau" in _class_names(scheduler):
        return True
    try:
        parameters = list(inspect.signature(scheduler.step).parameters.values())
    except (TypeError, ValueError):
        return False
    return bool(parameters) and parameters[0].default is inspect.Parameter.empty and \
        parameters[0].kind in (inspect.Parameter.POSITIONAL_ONLY,
                               inspect.Parameter.POSITIONAL_OR_KEYWORD)


class LRSchedulerCallback(Callback):
    """Step an ``st.optim.lr_scheduler`` scheduler during ``fit``.

    Parameters
    ----------
    scheduler : a scheduler over the optimizer passed to ``fit``
    monitor : str
        For ReduceLROnPlateau: the logged value passed to ``scheduler.step`` at each epoch end
        (falls back to 'loss' when 'val_loss' is asked for but there is no validation data).
    interval : 'auto', 'epoch' or 'batch'
        When to step. 'auto' is 'batch' for OneCycleLR (its ``total_steps`` counts batches,
        as in torch) and 'epoch' for every other scheduler.
    """

    def __init__(self, scheduler, monitor: str = "val_loss", interval: str = "auto"):
        if not hasattr(scheduler, "step"):
            raise TypeError(f"LRSchedulerCallback: expected a scheduler with a step() method, "
                            f"got {type(scheduler).__name__}")
        if interval not in ("auto", "epoch", "batch"):
            raise ValueError(f"LRSchedulerCallback: interval must be 'auto', 'epoch' or "
                             f"'batch', got {interval!r}")
        if interval == "auto":
            interval = "batch" if "OneCycleLR" in _class_names(scheduler) else "epoch"
        self.scheduler = scheduler
        self.monitor = monitor
        self.interval = interval
        self.needs_metric = _needs_metric(scheduler)
        self._key = monitor  # what this run passes to step(): monitor, or 'loss' as fallback

    def wants_batches(self) -> bool:
        return self.interval == "batch"

    def on_train_begin(self, logs=None) -> None:
        self._key = self.monitor
        if self.needs_metric:
            keys = self.params.get("metrics")
            if keys is not None and self.monitor not in keys:
                if self.monitor == "val_loss":
                    self._key = "loss"
                else:
                    _check_monitor("LRSchedulerCallback", self.monitor, self.params)

    def on_batch_end(self, batch: int, logs=None) -> None:
        if self.interval == "batch":
            self.scheduler.step()

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        if self.interval != "epoch":
            return
        if self.needs_metric:
            self.scheduler.step((logs or {})[self._key])
        else:
            self.scheduler.step()


# --------------------------------------------------------------------------- loggers

class CSVLogger(Callback):
    """Append one row per epoch (``epoch`` then the logs) to a CSV file.

    The file is opened, written and closed at each epoch end, so every finished epoch is on
    disk and no file is left open when training stops with an exception (a divergence).
    ``append=True`` keeps an existing file (for resumed runs) and writes no second header.
    """

    def __init__(self, path, separator: str = ",", append: bool = False):
        self.path = os.fspath(path)
        self.separator = separator
        self.append = append
        self.keys = None

    def on_train_begin(self, logs=None) -> None:
        self.keys = None
        if not self.append:
            open(self.path, "w", encoding="utf-8").close()  # a fresh, empty file
        elif os.path.exists(self.path) and os.path.getsize(self.path) > 0:
            with open(self.path, encoding="utf-8") as fh:
                header = fh.readline().rstrip("\n")
            self.keys = header.split(self.separator)[1:] if header else None

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        logs = logs or {}
        lines = []
        if self.keys is None:
            self.keys = list(logs)
            lines.append(self.separator.join(["epoch", *self.keys]))
        values = [str(epoch)] + [repr(float(logs[k])) if k in logs else "" for k in self.keys]
        lines.append(self.separator.join(values))
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")


class JSONLogger(Callback):
    """Rewrite ``path`` with the whole history (``History.to_dict()``) after every epoch.

    The file is replaced atomically, so it is always complete, valid JSON, even if training
    is interrupted while it is being written.
    """

    def __init__(self, path, indent: int | None = 1):
        self.path = os.fspath(path)
        self.indent = indent

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        write_json(self.path, self.history.to_dict(), indent=self.indent)


class StepLosses(Callback):
    """Keep every step's batch loss in ``self.losses`` (one float per step, in order).

    The per-epoch history has nothing to show when a run diverges in its first epoch; these
    are what ``steepest train`` plots then. On a divergence the guard raises before this
    callback sees the last loss: it is ``DivergenceError.loss``.
    """

    def __init__(self):
        self.losses: list = []

    def on_train_begin(self, logs=None) -> None:
        self.losses = []

    def on_batch_end(self, batch: int, logs=None) -> None:
        self.losses.append(float(logs["loss"]))


# --------------------------------------------------------------------------- DivergenceGuard

class DivergenceGuard(Callback):
    """Stop training at the first NaN/inf loss, or a loss that explodes, with a helpful error.

    After each step the batch loss is compared with the first loss of the run: training is
    declared diverged when it is NaN or infinite, or larger than ``factor`` times
    ``max(first loss, min_reference)``. Then :class:`~steepest.training.DivergenceError` is
    raised, saying at which epoch and step, the loss, the learning rate, and what to try.

    ``fit`` adds one by default (``divergence_guard=False`` turns it off). The default
    factor 1000 leaves ordinary noise (batch losses of a few times the first one) far below
    the threshold; ``min_reference`` keeps a resumed, already small loss from making the
    threshold tiny.
    """

    def __init__(self, factor: float = 1e3, min_reference: float = 1e-2):
        if not factor > 1:
            raise ValueError(f"DivergenceGuard: factor must be > 1, got {factor!r}")
        self.factor = float(factor)
        self.min_reference = float(min_reference)
        self.reference = None
        self.epoch = 0

    def on_train_begin(self, logs=None) -> None:
        self.reference = None

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self.epoch = epoch

    def on_batch_end(self, batch: int, logs=None) -> None:
        loss = logs["loss"]
        if self.reference is None and math.isfinite(loss):
            self.reference = loss
            return
        reference = max(self.reference if self.reference is not None else 0.0,
                        self.min_reference)
        if loss <= self.factor * reference:  # False for NaN too
            return
        self._raise(batch, loss)

    def _raise(self, batch: int, loss: float) -> None:
        lr = None
        if self.optimizer is not None and getattr(self.optimizer, "param_groups", None):
            lr = float(self.optimizer.param_groups[0]["lr"])
        epochs = self.params.get("epochs")
        steps = self.params.get("steps")
        where = (f"epoch {self.epoch + 1}" + (f" of {epochs}" if epochs else "") +
                 f", step {batch + 1}" + (f" of {steps}" if steps else ""))
        if math.isfinite(loss):
            what = (f"the loss reached {loss:.4g}, more than {self.factor:g} times its first "
                    f"value {self.reference:.4g}")
        else:
            what = f"the loss became {loss}"
            if self.reference is not None:
                what += f" (its first value was {self.reference:.4g})"
        at_lr = f" with learning rate lr = {lr:g}" if lr is not None else ""
        smaller = f" such as lr/10 = {lr / 10:g}" if lr else ""
        message = (f"training diverged at {where}{at_lr}: {what}. Try a smaller learning "
                   f"rate{smaller}, or gradient clipping (fit(..., clip_grad_norm=1.0)).")
        raise DivergenceError(message, epoch=self.epoch, step=batch, loss=loss, lr=lr)
