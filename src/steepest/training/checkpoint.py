"""Checkpoints: model weights, optimizer state, epoch and history in one ``.npz`` file.

    from steepest.training.checkpoint import load_checkpoint, save_checkpoint
    save_checkpoint("run/checkpoint.npz", model, optimizer, epoch=5, history=history)
    info = load_checkpoint("run/checkpoint.npz", model, optimizer)
    st.fit(model, loss_fn, optimizer, X, y, epochs=10, initial_epoch=info["epoch"],
           history=info["history"])      # same weights as 10 epochs in one go

File format: a NumPy ``.npz`` archive (written with ``np.savez``, read with
``allow_pickle=False``, so loading a checkpoint never runs code):

* ``model/<parameter name>``: one array per parameter (``np.load(path)["model/0.weight"]``);
* ``data/<n>``: every other array (optimizer buffers such as Adam's moments, the history's
  columns, arrays in ``extra``);
* ``__meta__``: a JSON string (stored as a 0-d unicode array) with the structure: format
  name and version, epoch, the optimizer's class and ``state_dict`` layout, the history,
  ``extra`` and the state of steepest's global random generator, with references
  ``{"__array__": "data/<n>"}`` where arrays go. Tuples, non-string dict keys and NumPy
  scalars are tagged so that everything round-trips exactly.

Writes are atomic: the archive goes to a temporary file in the same directory, which is
flushed and ``fsync``-ed, then renamed over the target with ``os.replace`` (atomic on POSIX
and Windows), and the directory is ``fsync``-ed. An exception mid-write leaves the previous
checkpoint intact and no temporary file behind; a process killed mid-write leaves its
temporary file ``.<name>.<random>.tmp``, which the next save to the same path removes. The
file gets the permissions of any new file (``0o666`` less the umask).

Resuming exactly: :func:`steepest.fit` shuffles epoch ``e`` with a generator seeded by
``(seed, e)`` and the checkpoint restores steepest's global generator (used by Dropout), so
a resumed run continues bit for bit like the uninterrupted one.
"""

from __future__ import annotations

import copy
import json
import os
import zipfile

import numpy as np

from steepest.io import ArrayEncoder, atomic_write
from steepest.random import default_generator
from steepest.training.history import History

__all__ = ["save_checkpoint", "load_checkpoint", "checkpoint_info", "FORMAT", "VERSION"]

FORMAT = "steepest-checkpoint"
VERSION = 1


# --------------------------------------------------------------------------- encoding

def _history_payload(history):
    if history is None:
        return None
    if hasattr(history, "history") and hasattr(history, "epoch"):
        hist, epochs, params = history.history, history.epoch, getattr(history, "params", {})
    elif isinstance(history, dict) and "history" in history:
        hist, epochs, params = history["history"], history.get("epoch", []), \
            history.get("params", {})
    elif isinstance(history, dict):
        hist, epochs, params = history, None, {}
    else:
        raise TypeError(f"save_checkpoint: history must be a History or a dict of lists, got "
                        f"{type(history).__name__}")
    columns = {k: np.array([np.nan if v is None else v for v in vals], dtype=np.float64)
               for k, vals in hist.items()}
    if epochs is None:
        epochs = list(range(max((len(v) for v in columns.values()), default=0)))
    params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items()}
    return {"history": columns, "epoch": np.array(epochs, dtype=np.int64), "params": params}


# --------------------------------------------------------------------------- save / load

def save_checkpoint(path, model, optimizer=None, epoch=None, history=None, extra=None, *,
                    scheduler=None) -> None:
    """Write model weights (and optimizer state, epoch, history, extra) to ``path`` atomically.

    Parameters
    ----------
    path : str or PathLike
        The file to create or replace (written exactly there; use a ``.npz`` name).
    model : Module
    optimizer : Optimizer, optional
        Its ``state_dict()`` (hyperparameters and buffers) is saved.
    epoch : int, optional
        Number of completed epochs (what ``fit(..., initial_epoch=...)`` takes to resume).
    history : History or dict, optional
    extra : dict, optional
        Anything else made of numbers, strings, lists, tuples, dicts and arrays (e.g. the
        run's configuration, a standardizer's mean and scale).
    scheduler : an ``st.optim.lr_scheduler`` scheduler, optional
        Its ``state_dict()`` is saved too, so a resumed schedule continues where it stopped.
    """
    arrays: dict = {}
    encoder = ArrayEncoder(arrays)
    model_state = model.state_dict()
    for name, array in model_state.items():
        arrays[f"model/{name}"] = array
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "epoch": None if epoch is None else int(epoch),
        "model_class": type(model).__name__,
        "model_keys": list(model_state),
        "optimizer_class": None if optimizer is None else type(optimizer).__name__,
        "optimizer": None if optimizer is None else encoder.encode(optimizer.state_dict()),
        "history": encoder.encode(_history_payload(history)),
        "extra": encoder.encode(extra),
        "scheduler_class": None if scheduler is None else type(scheduler).__name__,
        "scheduler": None if scheduler is None else encoder.encode(scheduler.state_dict()),
        "rng_state": encoder.encode(default_generator.bit_generator.state),
    }
    arrays["__meta__"] = np.array(json.dumps(meta))

    def write(fh):
        np.savez(fh, **arrays)
    atomic_write(path, write)


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _read(path):
    """``(meta, arrays)`` of a checkpoint, with the metadata's structure checked."""
    where = os.fspath(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (zipfile.BadZipFile, ValueError, EOFError, OSError) as error:
        if isinstance(error, (FileNotFoundError, IsADirectoryError, PermissionError)):
            raise
        raise ValueError(f"{where} is not a readable steepest checkpoint "
                         f"({type(error).__name__}: {error})") from None
    if "__meta__" not in arrays:
        raise ValueError(f"{where} is not a steepest checkpoint (no __meta__ entry)")
    try:
        meta = json.loads(str(arrays.pop("__meta__")[()]))
    except (ValueError, IndexError) as error:
        raise ValueError(f"{where} is not a readable steepest checkpoint (its metadata is not "
                         f"JSON: {error})") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{where} is not a steepest checkpoint (its metadata is a JSON "
                         f"{type(meta).__name__}, expected an object)")
    if meta.get("format") != FORMAT:
        raise ValueError(f"{where} is not a steepest checkpoint (format {meta.get('format')!r})")
    version = meta.get("version")
    if not _whole(version) or version < 1:
        raise ValueError(f"{where} has a malformed checkpoint version {version!r}; expected a "
                         f"whole number from 1 to {VERSION}")
    if version > VERSION:
        raise ValueError(f"{where} was written by a newer steepest (checkpoint version "
                         f"{version}, this one reads up to {VERSION})")
    for key in ("model_class", "optimizer_class", "scheduler_class"):
        value = meta.get(key)
        if value is not None and not (isinstance(value, str) and value.isidentifier()):
            raise ValueError(f"{where} has a malformed {key} {value!r}; expected a class name")
    epoch = meta.get("epoch")
    if epoch is not None and not (_whole(epoch) and epoch >= 0):
        raise ValueError(f"{where} has a malformed epoch {epoch!r}; expected a whole number "
                         f">= 0")
    keys = meta.get("model_keys", [])
    if not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)):
        raise ValueError(f"{where} has malformed model_keys; expected a list of names")
    missing = [k for k in keys if f"model/{k}" not in arrays]
    if missing:
        raise ValueError(f"{where} is damaged: the arrays of {', '.join(missing)} are missing")
    return meta, arrays


def _decode(decoder: ArrayEncoder, meta: dict, key: str, path):
    """Decode one metadata entry; a damaged entry is a ValueError that names it."""
    try:
        return decoder.decode(meta.get(key))
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"{os.fspath(path)} is damaged: its {key} entry is malformed "
                         f"({error})") from None


def _history(decoder: ArrayEncoder, meta: dict, path):
    """The saved History, checked: named numeric columns, one value per recorded epoch."""
    payload = _decode(decoder, meta, "history", path)
    if payload is None:
        return None
    bad = f"{os.fspath(path)} is damaged: its history entry is malformed"
    if not isinstance(payload, dict) or not isinstance(payload.get("history"), dict):
        raise ValueError(f"{bad} (expected {{'history': {{name: values}}, 'epoch': [...]}})")
    try:
        epochs = np.asarray(payload.get("epoch", []))
        if epochs.ndim != 1 or (epochs.size and epochs.dtype.kind not in "iu"):
            raise ValueError("the epochs are not a list of whole numbers")
        columns = {}
        for name, values in payload["history"].items():
            column = np.asarray(values)
            if column.ndim != 1 or (column.size and column.dtype.kind not in "iuf"):
                raise ValueError(f"column {name!r} is not a list of numbers")
            if len(column) != len(epochs):
                raise ValueError(f"column {name!r} has {len(column)} values for "
                                 f"{len(epochs)} epochs")
            columns[str(name)] = [float(v) for v in column]
    except (ValueError, TypeError) as error:
        raise ValueError(f"{bad} ({error})") from None
    params = payload.get("params") or {}
    if not isinstance(params, dict):
        raise ValueError(f"{bad} (its params are a {type(params).__name__}, expected a dict)")
    return History(columns, [int(e) for e in epochs], params)


def _rng_state(decoder: ArrayEncoder, meta: dict, path):
    """The saved state of steepest's generator, tried on a scratch generator first."""
    state = _decode(decoder, meta, "rng_state", path)
    if state is None:
        return None
    kind = type(default_generator.bit_generator)
    try:
        if not isinstance(state, dict) or state.get("bit_generator") != kind.__name__:
            raise ValueError(f"expected the state of a {kind.__name__} generator")
        kind().state = state
    except (ValueError, TypeError, KeyError, OverflowError) as error:
        raise ValueError(f"{os.fspath(path)} is damaged: its rng_state entry is malformed "
                         f"({error})") from None
    return state


def load_checkpoint(path, model, optimizer=None, restore_rng: bool = True, *,
                    scheduler=None) -> dict:
    """Load weights into ``model`` (and state into ``optimizer``) from ``path``.

    Parameters
    ----------
    path : str or PathLike
    model : Module with the same parameter names and shapes as the saved one (checked;
        ``ValueError`` lists missing/unexpected names and differing shapes).
    optimizer : Optimizer, optional
        Of the saved class, over the same parameters; gets hyperparameters and buffers.
    restore_rng : bool
        Also restore steepest's global random generator (Dropout, ``st.randn``), so that a
        resumed run draws the same numbers as the uninterrupted one.
    scheduler : optional
        A scheduler of the saved class (made for ``optimizer``); gets the saved state.

    All or nothing: the whole file is read, decoded and checked first (metadata, arrays,
    history, generator state), and if loading into the model, optimizer or scheduler still
    fails, their previous state is put back. A refused checkpoint is a ``ValueError`` that
    says what is wrong, and changes nothing.

    Returns
    -------
    dict with ``epoch`` (completed epochs, or None), ``history`` (a
    :class:`steepest.training.History`, or None) and ``extra`` (or None).
    """
    meta, arrays = _read(path)
    where = os.fspath(path)
    decoder = ArrayEncoder(arrays)
    # 1. read and check everything; nothing is touched yet
    if optimizer is not None:
        saved_class = meta.get("optimizer_class")
        if saved_class is None:
            raise ValueError(f"checkpoint {where} has no optimizer state; load it without "
                             f"optimizer=")
        if saved_class != type(optimizer).__name__:
            raise ValueError(f"checkpoint {where} holds {saved_class} state, but the "
                             f"optimizer is {type(optimizer).__name__}")
        optimizer_state = _decode(decoder, meta, "optimizer", path)
        if not isinstance(optimizer_state, dict):
            raise ValueError(f"{where} is damaged: its optimizer entry is not a state dict")
    if scheduler is not None:
        saved_class = meta.get("scheduler_class")
        if saved_class != type(scheduler).__name__:
            raise ValueError(f"checkpoint {where} holds {saved_class or 'no'} scheduler state, "
                             f"but the scheduler is {type(scheduler).__name__}")
        scheduler_state = _decode(decoder, meta, "scheduler", path)
        if not isinstance(scheduler_state, dict):
            raise ValueError(f"{where} is damaged: its scheduler entry is not a state dict")
    model_state = {key[len("model/"):]: arrays[key] for key in arrays if key.startswith("model/")}
    not_numbers = [k for k, v in model_state.items() if v.dtype.kind not in "iuf"]
    if not_numbers:
        raise ValueError(f"{where} is damaged: the weights {', '.join(not_numbers)} are not "
                         f"real numbers")
    history = _history(decoder, meta, path)
    extra = _decode(decoder, meta, "extra", path)
    rng_state = _rng_state(decoder, meta, path) if restore_rng else None

    # 2. write, putting everything back if a target still refuses its part
    before_model = copy.deepcopy(model.state_dict())  # state_dict aliases the weights
    before_optimizer = None if optimizer is None else copy.deepcopy(optimizer.state_dict())
    before_scheduler = None if scheduler is None else copy.deepcopy(scheduler.state_dict())
    try:
        try:
            model.load_state_dict(model_state)
        except ValueError as error:
            raise ValueError(f"checkpoint {where} does not fit this model: {error}") from None
        try:
            if optimizer is not None:
                optimizer.load_state_dict(optimizer_state)
            if scheduler is not None:
                scheduler.load_state_dict(scheduler_state)
        except (ValueError, KeyError, TypeError, IndexError, AttributeError) as error:
            raise ValueError(f"checkpoint {where} does not fit this "
                             f"{'optimizer' if optimizer is not None else 'scheduler'}: "
                             f"{error}") from None
    except BaseException:
        model.load_state_dict(before_model)
        if before_optimizer is not None:
            optimizer.load_state_dict(before_optimizer)
        if before_scheduler is not None:
            scheduler.load_state_dict(before_scheduler)
        raise
    if rng_state is not None:
        default_generator.bit_generator.state = rng_state
    return {"epoch": meta.get("epoch"), "history": history, "extra": extra}


def checkpoint_info(path) -> dict:
    """What a checkpoint holds, without a model: ``epoch``, ``history``, ``extra``,
    ``model_keys`` (parameter names), ``model_shapes``, ``optimizer_class`` and
    ``scheduler_class``. Useful to rebuild the right model before :func:`load_checkpoint`.
    The file is checked as :func:`load_checkpoint` checks it (``ValueError`` if damaged).
    """
    meta, arrays = _read(path)
    decoder = ArrayEncoder(arrays)
    keys = meta.get("model_keys", [])
    return {"epoch": meta.get("epoch"), "history": _history(decoder, meta, path),
            "extra": _decode(decoder, meta, "extra", path), "model_keys": list(keys),
            "model_shapes": {k: tuple(arrays[f"model/{k}"].shape) for k in keys},
            "optimizer_class": meta.get("optimizer_class"),
            "scheduler_class": meta.get("scheduler_class")}
