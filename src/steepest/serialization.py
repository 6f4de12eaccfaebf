"""``st.save(obj, path)`` / ``st.load(path)``: tensors and state dicts in one ``.npz`` file.

    st.save(model.state_dict(), "model.npz")
    model.load_state_dict(st.load("model.npz"))

``obj`` may nest dicts (any keys that are strings or numbers), lists, tuples, Tensors
(Parameters stay Parameters, ``requires_grad`` is kept), NumPy arrays and scalars, and Python
numbers, strings, booleans and None. The file is a NumPy ``.npz`` archive: one entry per
array, plus ``__meta__``, a JSON description of the structure (the encoding of
``steepest.checkpoint``). Loading uses ``allow_pickle=False``, so it never runs code; unlike
``torch.load`` it cannot store arbitrary Python objects (a whole model, say): save the
``state_dict()`` instead. Writes to a path are atomic (a temporary file renamed over it), and
the file is written at exactly ``path`` (NumPy's ``.npz`` suffix is not appended; a symbolic
link is written through, so its target is updated and the link stays).
"""

from __future__ import annotations

import io
import json
import os
import zipfile
import zlib
from collections import OrderedDict

import numpy as np

from steepest.io import ArrayEncoder, atomic_write
from steepest.nn.module import Parameter, _is_cpu
from steepest.tensor import Tensor

__all__ = ["save", "load"]

FORMAT = "steepest-save"
VERSION = 1


class _TensorEncoder(ArrayEncoder):
    """The checkpoint encoding, with Tensors (and Parameters) and OrderedDicts (state dicts)
    tagged so they come back as what they were."""

    def encode(self, value):
        if isinstance(value, OrderedDict):
            return {"__ordered__": super().encode(dict(value))}
        if isinstance(value, Tensor):
            return {"__tensor__": super().encode(value._data),
                    "requires_grad": bool(value.requires_grad),
                    "parameter": isinstance(value, Parameter)}
        return super().encode(value)

    def decode(self, value):
        if isinstance(value, dict) and "__ordered__" in value:
            return OrderedDict(super().decode(value["__ordered__"]))
        if isinstance(value, dict) and "__tensor__" in value:
            data = super().decode(value["__tensor__"])
            kind = Parameter if value.get("parameter") else Tensor
            return kind(data, requires_grad=bool(value.get("requires_grad")))
        return super().decode(value)


#: the deepest nesting of lists, tuples and dicts that save writes and load rebuilds (a fixed
#: bound, not Python's recursion limit, which other code may raise or lower)
MAX_NESTING = 100


def _nesting(structure) -> int:
    """How deeply lists and dicts nest in a JSON ``structure`` (iteratively: any depth)."""
    deepest, stack = 0, [(structure, 0)]
    while stack:
        value, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
        elif isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
    return deepest


def save(obj, f) -> None:
    """Write ``obj`` (tensors, arrays, numbers, and dicts/lists/tuples of them) to ``f``.

    ``f`` is a path (written atomically) or a binary file object.
    """
    arrays: dict = {}
    try:
        structure = _TensorEncoder(arrays, owner="save").encode(obj)
    except RecursionError:
        structure = None
    if structure is None or _nesting(structure) > MAX_NESTING:
        raise ValueError(f"save: the object nests lists, tuples and dicts more than "
                         f"{MAX_NESTING} levels deep, more than load rebuilds; flatten it")
    arrays["__meta__"] = np.array(json.dumps({"format": FORMAT, "version": VERSION,
                                              "object": structure}))

    def write(fh):
        np.savez(fh, **arrays)
    if hasattr(f, "write"):
        write(f)
    else:
        atomic_write(os.path.realpath(f), write)  # through a symbolic link, as torch.save


class _Damaged(Exception):
    """What is wrong with a file given to :func:`load` (turned into one ValueError)."""


#: errors that reading or decoding a damaged file raises (a truncated zip, a bad header...)
_READ_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError,
                KeyError, IndexError, TypeError, AttributeError, RecursionError, zlib.error,
                NotImplementedError)

_NPY_HEADERS = {(1, 0): np.lib.format.read_array_header_1_0,
                (2, 0): np.lib.format.read_array_header_2_0}


def _read_array(data: bytes, member: str) -> np.ndarray:
    """One ``.npy`` member, checked before anything is allocated: the header's shape must
    match the bytes that follow it, and object (pickled) arrays are refused."""
    buffer = io.BytesIO(data)
    version = np.lib.format.read_magic(buffer)
    if version not in _NPY_HEADERS:
        raise _Damaged(f"its array {member!r} has .npy format version {version}, which st.save "
                       f"does not write")
    shape, _, dtype = _NPY_HEADERS[version](buffer)
    if dtype.hasobject:
        raise _Damaged(f"its array {member!r} holds Python objects (pickled data is never "
                       f"loaded)")
    count = 1
    for size in shape:
        count *= size
    if count * dtype.itemsize != len(data) - buffer.tell():
        raise _Damaged(f"its array {member!r} should hold {count * dtype.itemsize} bytes for "
                       f"shape {shape} and dtype {dtype}, but {len(data) - buffer.tell()} "
                       f"follow its header")
    buffer.seek(0)
    return np.lib.format.read_array(buffer, allow_pickle=False)


def _read_arrays(f) -> dict:
    """The arrays of an ``.npz`` archive by name (without ``.npy``)."""
    arrays = {}
    with zipfile.ZipFile(f) as archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                raise _Damaged(f"it holds {info.filename!r}, which is not a NumPy array")
            with archive.open(info) as member:
                arrays[info.filename[:-len(".npy")]] = _read_array(member.read(), info.filename)
    return arrays


def _header(arrays: dict) -> dict:
    """The JSON description stored as ``__meta__``, checked for the keys load needs."""
    meta = arrays.pop("__meta__", None)
    if meta is None:
        raise _Damaged("it has no __meta__ entry")
    if meta.dtype.kind != "U" or meta.shape != ():
        raise _Damaged(f"its __meta__ entry is a {meta.dtype} array of shape {meta.shape}, not "
                       f"one JSON string")
    try:
        header = json.loads(str(meta[()]))
    except (ValueError, RecursionError) as error:
        raise _Damaged(f"its __meta__ entry is not valid JSON ({error})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise _Damaged("its __meta__ entry is not a steepest-save header")
    version = header.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _Damaged(f"its header has format version {version!r}, not a positive integer")
    if version > VERSION:
        raise _Damaged(f"it was written by a newer steepest (format version {version}; this "
                       f"one reads up to {VERSION})")
    if "object" not in header:
        raise _Damaged("its header has no 'object' entry (the saved structure)")
    return header


def load(f, map_location=None, weights_only: bool = True):
    """Read what :func:`save` wrote (a path or a binary file object); never unpickles.

    ``map_location`` may be None or "cpu" and ``weights_only`` is accepted (loading is always
    weights-only here), so torch's ``torch.load(path, weights_only=True)`` calls run as is.
    A file that is missing or unreadable raises the usual ``OSError``; any other problem
    (truncated, empty, not an archive, damaged entries or header) raises one ValueError that
    names the file and what is wrong with it.
    """
    if map_location is not None and not _is_cpu(map_location):
        raise ValueError(f"load: map_location {map_location!r} is not available; steepest "
                         f"computes on the CPU only (use 'cpu' or None)")
    name = getattr(f, "name", "the file object") if hasattr(f, "read") else os.fspath(f)
    try:
        if not hasattr(f, "read") and os.path.isfile(f) and os.path.getsize(f) == 0:
            raise _Damaged("it is empty")
        try:
            arrays = _read_arrays(f)
        except zipfile.BadZipFile as error:
            raise _Damaged(f"it is not a zip archive, or it is truncated ({error})") from None
        header = _header(arrays)
        if _nesting(header["object"]) > MAX_NESTING:
            raise _Damaged(f"its structure is nested too deeply to rebuild (more than "
                           f"{MAX_NESTING} levels)")
        return _TensorEncoder(arrays).decode(header["object"])
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except _Damaged as error:
        raise ValueError(f"load: {name} is not a file written by st.save, or it is damaged: "
                         f"{error}") from None
    except _READ_ERRORS as error:
        raise ValueError(f"load: {name} is not a file written by st.save, or it is damaged: "
                         f"{type(error).__name__}: {error}") from None
