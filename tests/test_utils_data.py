"""st.utils.data against torch.utils.data: same batches, lengths, splits and defaults."""

from __future__ import annotations

import hypothesis.strategies as st_h
import numpy as np
import pytest
import torch
from hypothesis import given, settings
import torch.utils.data as tdata

import steepest as st
from steepest.utils.data import (DataLoader, Dataset, Subset, TensorDataset, default_collate,
                                 random_split)

X = np.arange(22 * 3, dtype=np.float64).reshape(22, 3) / 7
Y = np.arange(22) % 4


def _as_numpy(batch):
    return [np.asarray(t.numpy() if isinstance(t, st.Tensor) else t.numpy()) for t in batch]


@pytest.mark.parametrize("batch_size, drop_last", [(1, False), (5, False), (5, True), (22, True),
                                                   (30, False)])
def test_batches_equal_torchs_without_shuffling(batch_size, drop_last):
    ours = DataLoader(TensorDataset(st.tensor(X), st.tensor(Y)), batch_size=batch_size,
                      drop_last=drop_last)
    theirs = tdata.DataLoader(tdata.TensorDataset(torch.tensor(X), torch.tensor(Y)),
                              batch_size=batch_size, drop_last=drop_last)
    assert len(ours) == len(theirs) and len(ours.dataset) == len(theirs.dataset) == 22
    ours_batches, theirs_batches = list(ours), list(theirs)
    assert len(ours_batches) == len(theirs_batches)
    for a, b in zip(ours_batches, theirs_batches):
        assert isinstance(a, tuple) and all(isinstance(t, st.Tensor) for t in a)
        for x, y in zip(_as_numpy(a), _as_numpy(b)):
            assert x.dtype == y.dtype
            np.testing.assert_array_equal(x, y)


def test_defaults_are_torchs():
    assert len(list(DataLoader(TensorDataset(X, Y), batch_size=8, num_workers=2,
                               pin_memory=True))) == 3   # accepted, batches made in-process
    loader = DataLoader(TensorDataset(X, Y))
    reference = tdata.DataLoader(tdata.TensorDataset(torch.tensor(X), torch.tensor(Y)))
    assert (loader.batch_size, loader.shuffle, loader.drop_last) == (1, False, False)
    assert reference.batch_size == 1 and len(loader) == len(reference) == 22
    xb, yb = next(iter(loader))
    assert xb.shape == (1, 3) and yb.shape == (1,) and yb.dtype == np.int64


def test_shuffle_visits_every_sample_once_and_follows_the_generator():
    dataset = TensorDataset(X, Y)

    def epoch(loader):
        return np.concatenate([xb.numpy()[:, 0] for xb, _ in loader])
    a = DataLoader(dataset, batch_size=4, shuffle=True, generator=np.random.default_rng(5))
    b = DataLoader(dataset, batch_size=4, shuffle=True, generator=np.random.default_rng(5))
    first, second = epoch(a), epoch(a)
    np.testing.assert_array_equal(np.sort(first), X[:, 0])
    assert not np.array_equal(first, X[:, 0]) and not np.array_equal(first, second)
    np.testing.assert_array_equal(epoch(b), first)
    st.manual_seed(3)
    c = epoch(DataLoader(dataset, batch_size=4, shuffle=True))
    st.manual_seed(3)
    np.testing.assert_array_equal(epoch(DataLoader(dataset, batch_size=4, shuffle=True)), c)


class Squares(Dataset):
    """A map-style dataset written as in torch's tutorials."""

    def __len__(self):
        return 7

    def __getitem__(self, i):
        return np.array([i, i * i], dtype=np.float32), i % 2, float(i) / 2


def test_custom_dataset_is_collated_like_torch():
    class TorchSquares(tdata.Dataset):
        __len__ = Squares.__len__
        __getitem__ = Squares.__getitem__
    ours = list(DataLoader(Squares(), batch_size=3))
    theirs = list(tdata.DataLoader(TorchSquares(), batch_size=3))
    for a, b in zip(ours, theirs):
        for x, y in zip(_as_numpy(a), _as_numpy(b)):
            assert x.dtype == y.dtype and x.shape == y.shape
            np.testing.assert_array_equal(x, y)


def test_collate_of_dicts_and_errors():
    batch = default_collate([{"x": np.ones(2), "y": 1}, {"x": np.zeros(2), "y": 0}])
    assert batch["x"].shape == (2, 2) and batch["y"].dtype == np.int64
    with pytest.raises(TypeError, match="cannot batch samples of type object"):
        default_collate([object()])
    with pytest.raises(ValueError, match="different numbers of fields"):
        default_collate([(1, 2), (1,)])


@pytest.mark.parametrize("lengths", [[0.7, 0.3], [0.5, 0.25, 0.25], [0.33, 0.33, 0.34],
                                     [15, 7], [22, 0]])
def test_random_split_sizes_like_torch_and_partition(lengths):
    dataset = TensorDataset(X, Y)
    parts = random_split(dataset, lengths, generator=np.random.default_rng(0))
    expected = tdata.random_split(range(22), lengths, generator=torch.Generator().manual_seed(0))
    assert [len(p) for p in parts] == [len(p) for p in expected]
    indices = np.concatenate([p.indices for p in parts])
    np.testing.assert_array_equal(np.sort(indices), np.arange(22))
    for part in parts:
        assert isinstance(part, Subset)
        for xb, yb in DataLoader(part, batch_size=4):
            assert xb.shape[1] == 3


def test_random_split_and_loader_errors():
    dataset = TensorDataset(X, Y)
    with pytest.raises(ValueError, match=r"random_split: lengths must be counts summing to .*22"):
        random_split(dataset, [10, 10])
    with pytest.raises(ValueError, match="batch_size must be a positive integer or None, got 0"):
        DataLoader(dataset, batch_size=0)
    with pytest.raises(TypeError, match="dataset must support indexing and len"):
        DataLoader(5)
    with pytest.raises(TypeError, match="generator must be a st.Generator, a numpy"):
        DataLoader(dataset, generator=torch.Generator())
    with pytest.raises(ValueError, match=r"same first dimension.*\(22, 3\), \(5,\)"):
        TensorDataset(X, Y[:5])


@settings(max_examples=60, deadline=None)
@given(n=st_h.integers(1, 40), batch_size=st_h.integers(1, 45), drop_last=st_h.booleans(),
       shuffle=st_h.booleans())
def test_batches_cover_the_dataset_once(n, batch_size, drop_last, shuffle):
    """Property: len(loader) batches of batch_size rows (the last may be short unless
    drop_last), together each sample at most once, all of them unless drop_last cut some."""
    rows = np.arange(n, dtype=np.float64)
    loader = DataLoader(TensorDataset(rows), batch_size=batch_size, shuffle=shuffle,
                        drop_last=drop_last, generator=np.random.default_rng(n))
    batches = [batch for (batch,) in loader]
    assert len(batches) == len(loader)
    assert all(len(b) == batch_size for b in batches[:-1])
    seen = np.concatenate([b.numpy() for b in batches]) if batches else np.zeros(0)
    assert len(np.unique(seen)) == len(seen)
    expected = n - n % batch_size if drop_last else n
    assert len(seen) == expected
    if not shuffle:
        np.testing.assert_array_equal(seen, rows[:expected])


def test_a_dataset_subclass_with_its_own_getitem_is_batched_sample_by_sample():
    from steepest.utils.data import DataLoader, Subset, TensorDataset

    class Reversed(TensorDataset):
        def __getitem__(self, index):
            x, y = super().__getitem__(index)
            return st.tensor(x.numpy()[::-1].copy()), y

    X, y = np.arange(6.0).reshape(3, 2), np.arange(3)
    dataset = Reversed(st.tensor(X), st.tensor(y))
    for data in (dataset, Subset(dataset, [0, 1, 2])):
        xb, yb = next(iter(DataLoader(data, batch_size=3)))
        np.testing.assert_array_equal(xb.numpy(), X[:, ::-1])
        np.testing.assert_array_equal(yb.numpy(), y)


# ----------------------------------------------------------------------------- issue 22.23, 24
def test_a_sample_of_a_one_dimensional_tensor_is_a_tensor_view_as_torch():
    ours = TensorDataset(st.arange(4.0), st.arange(4))
    theirs = tdata.TensorDataset(torch.arange(4.0), torch.arange(4))
    x, tx = ours[1][0], theirs[1][0]
    assert isinstance(x, st.Tensor) and x.shape == tuple(tx.shape) == ()
    x += 10
    tx += 10
    assert ours.tensors[0].tolist() == theirs.tensors[0].tolist() == [0.0, 11.0, 2.0, 3.0]
    assert ours[np.int64(2)][1].item() == 2


def test_dataloader_without_batching_yields_samples_as_torch():
    data = [np.array([1.0, 2.0]), np.array([3.0, 4.0])]
    ours, theirs = DataLoader(data, batch_size=None), tdata.DataLoader(data, batch_size=None)
    assert len(ours) == len(theirs) == 2
    for a, b in zip(ours, theirs):
        assert isinstance(a, st.Tensor) and a.tolist() == b.tolist()
    pairs = TensorDataset(st.arange(3.0), st.arange(3))
    tpairs = tdata.TensorDataset(torch.arange(3.0), torch.arange(3))
    got = [[t.tolist() for t in s] for s in DataLoader(pairs, batch_size=None)]
    assert got == [[t.tolist() for t in s] for s in tdata.DataLoader(tpairs, batch_size=None)]
    shuffled = list(DataLoader(pairs, batch_size=None, shuffle=True,
                               generator=np.random.default_rng(0)))
    assert sorted(s[1].item() for s in shuffled) == [0, 1, 2]
    with pytest.raises(ValueError, match="mutually exclusive with drop_last"):
        DataLoader(pairs, batch_size=None, drop_last=True)
