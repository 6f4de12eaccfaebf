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
the file is written at exactly ``path`` (NumPy's ``.npz`` suffix is not appended).
"""

from __future__ import annotations

import json
import os
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


def save(obj, f) -> None:
    """Write ``obj`` (tensors, arrays, numbers, and dicts/lists/tuples of them) to ``f``.

    ``f`` is a path (written atomically) or a binary file object.
    """
    arrays: dict = {}
    structure = _TensorEncoder(arrays, owner="save").encode(obj)
    arrays["__meta__"] = np.array(json.dumps({"format": FORMAT, "version": VERSION,
                                              "object": structure}))

    def write(fh):
        np.savez(fh, **arrays)
    if hasattr(f, "write"):
        write(f)
    else:
        atomic_write(f, write)


def load(f, map_location=None, weights_only: bool = True):
    """Read what :func:`save` wrote (a path or a binary file object); never unpickles.

    ``map_location`` may be None or "cpu" and ``weights_only`` is accepted (loading is always
    weights-only here), so torch's ``torch.load(path, weights_only=True)`` calls run as is.
    """
    if map_location is not None and not _is_cpu(map_location):
        raise ValueError(f"load: map_location {map_location!r} is not available; steepest "
                         f"computes on the CPU only (use 'cpu' or None)")
    name = f if not hasattr(f, "read") else getattr(f, "name", "the file")
    try:
        with np.load(f, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (ValueError, OSError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise ValueError(f"load: {os.fspath(name) if not hasattr(name, 'read') else name} is "
                         f"not a file written by st.save ({error})") from None
    meta = json.loads(str(arrays.pop("__meta__")[()])) if "__meta__" in arrays else {}
    if meta.get("format") != FORMAT:
        raise ValueError(f"load: {name} is not a file written by st.save (no steepest-save "
                         f"header)")
    if meta.get("version", 0) > VERSION:
        raise ValueError(f"load: {name} was written by a newer steepest (format version "
                         f"{meta['version']}; this one reads up to {VERSION})")
    return _TensorEncoder(arrays).decode(meta["object"])
