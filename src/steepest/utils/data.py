"""Datasets and a DataLoader with torch.utils.data's names, defaults and behaviour.

    train = TensorDataset(st.tensor(X), st.tensor(y))
    for X_batch, y_batch in DataLoader(train, batch_size=64, shuffle=True):
        ...                                 # tensors, ready for model(X_batch)

As in torch: no shuffling unless asked, the last batch may be smaller (``drop_last=False``),
``len(loader)`` is the number of batches and ``len(loader.dataset)`` the number of samples.
Shuffling draws from ``generator`` (a ``st.Generator``) or from steepest's global generator,
which ``st.manual_seed`` reseeds, exactly as torch draws: each epoch takes a base seed (one
int64 ``random_``) from that generator, then ``randperm`` from it (with ``generator=``) or from
a fresh generator seeded by one more int64 draw (without). So the same seed gives torch's batch
order, and the global stream is where torch's is after every epoch. A
``numpy.random.Generator`` is still accepted (NumPy's permutation, no base seed).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from steepest import random as _random
from steepest.tensor import Tensor, _share_version, tensor

__all__ = ["Dataset", "TensorDataset", "Subset", "DataLoader", "random_split", "default_collate",
           "default_convert"]


class Dataset:
    """A map-style dataset: ``dataset[i]`` is one sample, ``len(dataset)`` how many there are."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")


class TensorDataset(Dataset):
    """Samples are rows of tensors of equal length: ``dataset[i] = (X[i], y[i])``."""

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: give at least one tensor")
        self.tensors = tuple(t if isinstance(t, Tensor) else tensor(t) for t in tensors)
        lengths = [t.shape[0] if t.ndim else None for t in self.tensors]
        if None in lengths or len(set(lengths)) != 1:
            shapes = [t.shape for t in self.tensors]
            raise ValueError(f"TensorDataset: every tensor needs the same first dimension (one "
                             f"row per sample), got shapes {shapes}")

    def __getitem__(self, index):
        """Row ``index`` of each tensor: for one integer index a view, as torch (a sample of a
        1-D tensor is a 0-d tensor, and ``x += 1`` changes the dataset's tensor); for an array
        of indices a batch (a copy)."""
        if isinstance(index, (numbers.Integral, np.integer)) and not isinstance(index, bool):
            return tuple(_row_view(t, int(index)) for t in self.tensors)
        return tuple(Tensor._wrap(t._data[index]) for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]


def _row_view(t: Tensor, index: int) -> Tensor:
    view = Tensor._wrap(t._data[index, ...])
    _share_version(view, t)
    return view


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = [int(i) for i in indices]

    def __getitem__(self, index):
        if isinstance(index, (list, np.ndarray)):
            return self.dataset[np.asarray(self.indices)[np.asarray(index, dtype=np.int64)]]
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)


def _generator(function: str, generator):
    if generator is None:
        return _random.default_generator
    if isinstance(generator, (_random.Generator, np.random.Generator)):
        return generator
    raise TypeError(f"{function}: generator must be a st.Generator, a numpy.random.Generator "
                    f"or None, got {type(generator).__name__}")


def _permutation(generator, n: int) -> np.ndarray:
    """torch's ``randperm(n, generator=...)`` (NumPy's permutation for a NumPy generator)."""
    if isinstance(generator, np.random.Generator):
        return generator.permutation(n)
    return _random.randperm(n, generator=generator)._data


def _int64_seed(generator) -> int:
    """One ``torch.empty((), dtype=torch.int64).random_(generator=...)`` draw."""
    return int(_random.random_(Tensor._wrap(np.zeros((), np.int64)), generator=generator))


def random_split(dataset, lengths, generator=None) -> list:
    """Split ``dataset`` into non-overlapping random Subsets of the given lengths.

    ``lengths`` are sample counts summing to ``len(dataset)``, or fractions summing to 1
    (torch's rule: floor each, then hand the remainder out one by one from the first).
    """
    n = len(dataset)
    lengths = list(lengths)
    if math.isclose(sum(lengths), 1.0) and sum(lengths) <= 1.0 and n != 1:
        if any(x < 0 for x in lengths):
            raise ValueError(f"random_split: fractions must be >= 0, got {lengths}")
        counts = [int(math.floor(n * x)) for x in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if (any(isinstance(x, bool) or not isinstance(x, numbers.Integral) or x < 0
            for x in lengths) or sum(lengths) != n):
        raise ValueError(f"random_split: lengths must be counts summing to the dataset's "
                         f"length {n} or fractions summing to 1, got {lengths}")
    order = _permutation(_generator("random_split", generator), n)
    bounds = np.cumsum([0] + lengths)
    return [Subset(dataset, order[start:stop]) for start, stop in zip(bounds[:-1], bounds[1:])]


def default_collate(samples: list):
    """Stack a list of samples into one batch, field by field, as torch's default_collate.

    Tensors and arrays are stacked along a new first dim; Python floats become a float64
    tensor (torch's rule, whatever the default dtype), ints an int64 tensor; tuples, lists and
    dicts are collated per field (a tuple of tensors for tuple or list samples).
    """
    first = samples[0]
    if isinstance(first, Tensor):
        return Tensor._wrap(np.stack([s._data for s in samples]))
    if isinstance(first, (np.ndarray, np.generic)):
        return Tensor._wrap(np.stack([np.asarray(s) for s in samples]))
    if isinstance(first, numbers.Number) and not isinstance(first, bool):
        return tensor(samples, dtype=np.float64 if isinstance(first, float) else None)
    if isinstance(first, dict):
        return {key: default_collate([s[key] for s in samples]) for key in first}
    if isinstance(first, (tuple, list)):
        sizes = {len(s) for s in samples}
        if len(sizes) != 1:
            raise ValueError(f"default_collate: samples have different numbers of fields "
                             f"{sorted(sizes)}; each sample must have the same fields")
        return tuple(default_collate(list(field)) for field in zip(*samples))
    raise TypeError(f"default_collate: cannot batch samples of type {type(first).__name__}; "
                    f"return tensors, arrays, numbers, or tuples/dicts of them")


def default_convert(sample):
    """A sample as it is, with NumPy arrays made tensors (tuples become lists), as torch's
    ``default_convert``: what ``DataLoader(batch_size=None)`` yields."""
    if isinstance(sample, np.ndarray):
        return Tensor._wrap(sample)
    if isinstance(sample, dict):
        return {key: default_convert(value) for key, value in sample.items()}
    if isinstance(sample, (tuple, list)):
        return [default_convert(value) for value in sample]
    return sample


def _indexable_by_batch(dataset) -> bool:
    """Whether ``dataset[array_of_indices]`` gives the collated batch directly: only for
    TensorDataset and Subset themselves, not for subclasses with their own ``__getitem__``
    (a per-sample transform must see one sample at a time)."""
    while type(dataset).__getitem__ is Subset.__getitem__ and isinstance(dataset, Subset):
        dataset = dataset.dataset
    return (isinstance(dataset, TensorDataset)
            and type(dataset).__getitem__ is TensorDataset.__getitem__)


class DataLoader:
    """Iterate over a dataset in batches, torch's way.

    Parameters
    ----------
    dataset : Dataset (anything with ``__getitem__`` and ``__len__``)
    batch_size : int or None
        Samples per batch (default 1, as in torch). None turns batching off: each sample
        comes by itself, as ``default_convert`` leaves it (no batch dimension).
    shuffle : bool
        Visit the samples in a new random order each epoch (default False, as in torch).
    drop_last : bool
        Skip the last batch if it is smaller than ``batch_size``.
    generator : st.Generator, numpy.random.Generator or None
        Source of the shuffling order; None uses steepest's global generator.
    collate_fn : callable
        Turns a list of samples into a batch (default: ``default_collate``).
    num_workers, pin_memory :
        Accepted so torch scripts run; batches are always made in this process (the batches
        are the same either way).
    """

    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False, *,
                 drop_last: bool = False, generator=None, collate_fn=None,
                 num_workers: int = 0, pin_memory: bool = False):
        if not (hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")):
            raise TypeError(f"DataLoader: dataset must support indexing and len() (a Dataset, "
                            f"e.g. TensorDataset(X, y)), got {type(dataset).__name__}")
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(
                batch_size, numbers.Integral) or batch_size < 1):
            raise ValueError(f"DataLoader: batch_size must be a positive integer or None, got "
                             f"{batch_size!r}")
        if batch_size is None and drop_last:
            raise ValueError("DataLoader: batch_size=None option disables auto-batching and "
                             "is mutually exclusive with drop_last")
        self.dataset = dataset
        self.batch_size = None if batch_size is None else int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.generator = None if generator is None else _generator("DataLoader", generator)
        self.collate_fn = collate_fn or (default_collate if batch_size else default_convert)

    def __len__(self) -> int:
        """Number of batches per epoch (of samples, when ``batch_size`` is None)."""
        n = len(self.dataset)
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _fetch(self, indices: np.ndarray):
        if _indexable_by_batch(self.dataset) and self.collate_fn is default_collate:
            return self.dataset[indices]   # one fancy index per tensor, no per-sample loop
        return self.collate_fn([self.dataset[int(i)] for i in indices])

    def __iter__(self):
        """One epoch. As torch, the base seed is drawn when the epoch starts and the order at
        the first batch; a ``generator=`` also gives the second ``randperm`` that torch's
        RandomSampler draws when an epoch runs to its end."""
        if not isinstance(self.generator, np.random.Generator):
            _int64_seed(self.generator)
        return self._batches()

    def _batches(self):
        n = len(self.dataset)
        if not self.shuffle:
            order = np.arange(n)
        elif self.generator is None:
            order = _permutation(_random.Generator().manual_seed(_int64_seed(None)), n)
        else:
            order = _permutation(self.generator, n)
        if self.batch_size is None:
            for i in order:
                yield self.collate_fn(self.dataset[int(i)])
        else:
            for b in range(len(self)):
                yield self._fetch(order[b * self.batch_size:(b + 1) * self.batch_size])
        if self.shuffle and isinstance(self.generator, _random.Generator):
            _permutation(self.generator, n)

    def __repr__(self) -> str:
        return (f"DataLoader(samples={len(self.dataset)}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}, batches={len(self)})")
