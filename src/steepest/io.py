"""Files written whole or not at all, and nested values stored as JSON plus arrays.

The lowest layer that touches files: checkpoints (``steepest.training``), ``st.save``
(``serialization``), sweeps and the CLI write through :func:`atomic_write`, and the two
``.npz`` formats share :class:`ArrayEncoder`. Nothing here imports the rest of steepest.
"""

from __future__ import annotations

import json
import os
import tempfile
import time

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

import numpy as np

__all__ = ["atomic_write", "write_text", "write_json", "ArrayEncoder", "STALE_SECONDS"]


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


def _file_mode() -> int:
    """The permissions a new file gets here: ``0o666`` less the process's umask."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:  # Linux: read without a race
            for line in fh:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


#: without file locks (Windows), a temporary file this old is taken as orphaned
STALE_SECONDS = 3600.0


def _lock(fh, blocking: bool) -> bool:
    """An exclusive advisory lock on an open file (POSIX); False if another holds it."""
    if fcntl is None:  # pragma: no cover - Windows
        return True
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    return True


def _remove_orphans(directory: str, name: str) -> list:
    """Delete ``.<name>.*.tmp`` files left by writes that were killed; return their names.

    A writer holds a lock on its temporary file until it is renamed, and the system drops
    the lock when a process dies, so a file that can be locked is an orphan. Without locks a
    file older than :data:`STALE_SECONDS` is.
    """
    prefix = f".{name}."
    removed = []
    for entry in os.listdir(directory):
        if not (entry.startswith(prefix) and entry.endswith(".tmp")):
            continue
        candidate = os.path.join(directory, entry)
        try:
            with open(candidate, "rb") as fh:
                if fcntl is not None:
                    orphaned = _lock(fh, blocking=False)
                else:  # pragma: no cover - Windows
                    orphaned = time.time() - os.fstat(fh.fileno()).st_mtime > STALE_SECONDS
            if orphaned:
                os.unlink(candidate)
                removed.append(entry)
        except OSError:  # gone meanwhile, or not ours to delete
            continue
    return removed


def atomic_write(path, write) -> None:
    """Create or replace ``path`` atomically: ``write(binary_file)`` fills a temporary file.

    The temporary file ``.<name>.<random>.tmp`` lives in the target's directory (so
    ``os.replace`` is a rename on one file system), is locked while written, flushed and
    fsync-ed before the rename, and removed if anything fails. Temporary files of earlier
    writes that were killed (so never renamed nor removed) are deleted first. The final file
    gets the usual permissions of a new file (``0o666`` less the umask).
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot write {path}: directory {directory} does not exist")
    name = os.path.basename(path)
    _remove_orphans(directory, name)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            _lock(fh, blocking=True)
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
            os.chmod(tmp, _file_mode())
            if fcntl is not None:  # rename while still locked: no cleaner takes it for an orphan
                os.replace(tmp, path)
        if fcntl is None:  # pragma: no cover - Windows renames only closed files
            os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(directory)


def write_text(path, text: str) -> None:
    """Create or replace the text file ``path`` (UTF-8) atomically."""
    data = text.encode("utf-8")
    atomic_write(path, lambda fh: fh.write(data))


def write_json(path, payload, **dumps_options) -> None:
    """Create or replace ``path`` with ``json.dumps(payload, **dumps_options)`` atomically."""
    write_text(path, json.dumps(payload, **dumps_options))


# --------------------------------------------------------------------------- encoding

class ArrayEncoder:
    """Nested Python/NumPy values -> a JSON structure plus a dict of arrays (and back).

    Arrays (and objects with ``__array__``, such as Tensors) go into ``arrays`` under
    ``data/<n>`` and are referenced as ``{"__array__": "data/<n>"}``; NumPy scalars are tagged
    ``"scalar"``, tuples ``{"__tuple__": [...]}``, dicts with keys that are not plain strings
    ``{"__items__": [[k, v], ...]}``, so everything comes back as it was. ``owner`` begins
    the messages of values that cannot be stored ("save_checkpoint: cannot store ...").
    """

    def __init__(self, arrays: dict, owner: str = "save_checkpoint"):
        self.arrays = arrays
        self.owner = owner

    def _store(self, array: np.ndarray) -> dict:
        key = f"data/{len(self.arrays)}"  # unique: the dict only grows
        self.arrays[key] = np.asarray(array, order="C")  # ascontiguousarray makes 0-d 1-d
        return {"__array__": key}

    def encode(self, value):
        if hasattr(value, "__array__") and not isinstance(value, (np.ndarray, np.generic)):
            value = np.asarray(value)
        if isinstance(value, np.ndarray):
            if value.dtype.kind not in "biufcU":
                raise TypeError(f"{self.owner}: cannot store an array of dtype "
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
        raise TypeError(f"{self.owner}: cannot store a value of type {type(value).__name__} "
                        f"(use numbers, strings, lists, tuples, dicts and arrays)")

    def decode(self, value):
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        if not isinstance(value, dict):
            return value
        if "__array__" in value:
            key = value["__array__"]
            if not isinstance(key, str) or key not in self.arrays:
                raise ValueError(f"it refers to an array {key!r} that the file does not hold")
            array = self.arrays[key]
            return array[()] if value.get("scalar") else array
        if "__tuple__" in value:
            return tuple(self.decode(v) for v in value["__tuple__"])
        if "__items__" in value:
            return {_hashable(self.decode(k)): self.decode(v) for k, v in value["__items__"]}
        return {k: self.decode(v) for k, v in value.items()}


def _hashable(key):
    return key.item() if isinstance(key, np.generic) else key
