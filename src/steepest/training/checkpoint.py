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
and Windows), and the directory is ``fsync``-ed. A crash or an exception mid-write leaves the
previous checkpoint intact and no temporary file behind.

Resuming exactly: :func:`steepest.fit` shuffles epoch ``e`` with a generator seeded by
``(seed, e)`` and the checkpoint restores steepest's global generator (used by Dropout), so
a resumed run continues bit for bit like the uninterrupted one.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile

import numpy as np

from steepest.tensor import Tensor, default_generator
from steepest.training.history import History

__all__ = ["save_checkpoint", "load_checkpoint", "checkpoint_info", "atomic_write", "FORMAT",
           "VERSION"]

FORMAT = "steepest-checkpoint"
VERSION = 1


# --------------------------------------------------------------------------- atomic writes

def _fsync_directory(directory: str) -> None:
    """Make the rename durable (POSIX); a no-op where directories cannot be opened."""
    if os.name != "posix":  # pragma: no cover - Windows has no directory fsync
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse
        pass
    finally:
        os.close(fd)


def atomic_write(path, write) -> None:
    """Create or replace ``path`` atomically: ``write(binary_file)`` fills a temporary file.

    The temporary file lives in the target's directory (so ``os.replace`` is a rename on one
    file system), is flushed and fsync-ed before the rename, and is removed if anything fails.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot write {path}: directory {directory} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp",
                               dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(directory)


# --------------------------------------------------------------------------- encoding

class _Encoder:
    """Nested Python/NumPy values -> JSON structure plus a dict of arrays (and back)."""

    def __init__(self, arrays: dict):
        self.arrays = arrays

    def _store(self, array: np.ndarray) -> dict:
        key = f"data/{len(self.arrays)}"  # unique: the dict only grows
        self.arrays[key] = np.ascontiguousarray(array)
        return {"__array__": key}

    def encode(self, value):
        if isinstance(value, Tensor):
            value = value.data
        if isinstance(value, np.ndarray):
            if value.dtype.kind not in "biufcU":
                raise TypeError(f"save_checkpoint: cannot store an array of dtype "
                                f"{value.dtype} (only numbers, booleans and text)")
            return self._store(value)
        if isinstance(value, np.generic):
            return {**self._store(np.asarray(value)), "scalar": True}
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, tuple):
            return {"__tuple__": [self.encode(v) for v in value]}
        if isinstance(value, list):
            return [self.encode(v) for v in value]
        if isinstance(value, dict):
            if all(isinstance(k, str) and not k.startswith("__") for k in value):
                return {k: self.encode(v) for k, v in value.items()}
            return {"__items__": [[self.encode(k), self.encode(v)] for k, v in value.items()]}
        raise TypeError(f"save_checkpoint: cannot store a value of type {type(value).__name__} "
                        f"(use numbers, strings, lists, tuples, dicts and arrays)")

    def decode(self, value):
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        if not isinstance(value, dict):
            return value
        if "__array__" in value:
            array = self.arrays[value["__array__"]]
            return array[()] if value.get("scalar") else array
        if "__tuple__" in value:
            return tuple(self.decode(v) for v in value["__tuple__"])
        if "__items__" in value:
            return {_hashable(self.decode(k)): self.decode(v) for k, v in value["__items__"]}
        return {k: self.decode(v) for k, v in value.items()}


def _hashable(key):
    return key.item() if isinstance(key, np.generic) else key


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
    encoder = _Encoder(arrays)
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
        "rng_state": encoder.encode(default_generator().bit_generator.state),
    }
    arrays["__meta__"] = np.array(json.dumps(meta))

    def write(fh):
        np.savez(fh, **arrays)
    atomic_write(path, write)


def _read(path):
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (zipfile.BadZipFile, ValueError, EOFError, OSError) as error:
        if isinstance(error, (FileNotFoundError, IsADirectoryError, PermissionError)):
            raise
        raise ValueError(f"{os.fspath(path)} is not a readable steepest checkpoint "
                         f"({type(error).__name__}: {error})") from None
    if "__meta__" not in arrays:
        raise ValueError(f"{os.fspath(path)} is not a steepest checkpoint (no __meta__ entry)")
    meta = json.loads(str(arrays.pop("__meta__")[()]))
    if meta.get("format") != FORMAT:
        raise ValueError(f"{os.fspath(path)} is not a steepest checkpoint "
                         f"(format {meta.get('format')!r})")
    if meta.get("version", 0) > VERSION:
        raise ValueError(f"{os.fspath(path)} was written by a newer steepest (checkpoint "
                         f"version {meta['version']}, this one reads up to {VERSION})")
    return meta, arrays


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

    Returns
    -------
    dict with ``epoch`` (completed epochs, or None), ``history`` (a
    :class:`steepest.training.History`, or None) and ``extra`` (or None).
    """
    meta, arrays = _read(path)
    decoder = _Encoder(arrays)
    # every check before anything is loaded: a refused checkpoint leaves no half-loaded state
    if optimizer is not None:
        saved_class = meta.get("optimizer_class")
        if saved_class is None:
            raise ValueError(f"checkpoint {os.fspath(path)} has no optimizer state; load it "
                             f"without optimizer=")
        if saved_class != type(optimizer).__name__:
            raise ValueError(f"checkpoint {os.fspath(path)} holds {saved_class} state, but the "
                             f"optimizer is {type(optimizer).__name__}")
    if scheduler is not None:
        saved_class = meta.get("scheduler_class")
        if saved_class != type(scheduler).__name__:
            raise ValueError(f"checkpoint {os.fspath(path)} holds "
                             f"{saved_class or 'no'} scheduler state, but the scheduler is "
                             f"{type(scheduler).__name__}")
    model_state = {key[len("model/"):]: arrays[key] for key in arrays if key.startswith("model/")}
    try:
        model.load_state_dict(model_state)
    except ValueError as error:
        raise ValueError(f"checkpoint {os.fspath(path)} does not fit this model: {error}") \
            from None
    if optimizer is not None:
        optimizer.load_state_dict(decoder.decode(meta["optimizer"]))
    if scheduler is not None:
        scheduler.load_state_dict(decoder.decode(meta["scheduler"]))
    if restore_rng and meta.get("rng_state") is not None:
        state = decoder.decode(meta["rng_state"])
        generator = default_generator()
        if state.get("bit_generator") == type(generator.bit_generator).__name__:
            generator.bit_generator.state = state
    return {"epoch": meta.get("epoch"), "history": _history_of(decoder, meta),
            "extra": decoder.decode(meta.get("extra"))}


def _history_of(decoder: _Encoder, meta: dict):
    payload = decoder.decode(meta.get("history"))
    if payload is None:
        return None
    return History({k: [float(v) for v in col] for k, col in payload["history"].items()},
                   [int(e) for e in payload["epoch"]], payload.get("params") or {})


def checkpoint_info(path) -> dict:
    """What a checkpoint holds, without a model: ``epoch``, ``history``, ``extra``,
    ``model_keys`` (parameter names), ``model_shapes``, ``optimizer_class`` and
    ``scheduler_class``. Useful to rebuild the right model before :func:`load_checkpoint`.
    """
    meta, arrays = _read(path)
    decoder = _Encoder(arrays)
    keys = meta.get("model_keys", [])
    return {"epoch": meta.get("epoch"), "history": _history_of(decoder, meta),
            "extra": decoder.decode(meta.get("extra")), "model_keys": list(keys),
            "model_shapes": {k: tuple(arrays[f"model/{k}"].shape) for k in keys
                             if f"model/{k}" in arrays},
            "optimizer_class": meta.get("optimizer_class"),
            "scheduler_class": meta.get("scheduler_class")}
