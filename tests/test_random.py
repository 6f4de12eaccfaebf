"""steepest.random against torch: the same seed gives torch's numbers, element for element."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st_h
from torch.utils import data as tdata

import steepest as st
from steepest.utils import data as sdata

SIZES = [1, 15, 16, 17, 100]
DTYPES = [(st.float32, torch.float32), (st.float64, torch.float64)]
DTYPE_IDS = ["float32", "float64"]


#: torch runs its random kernels' AVX2 versions (fused multiply-adds, avx_mathfun's float32
#: normal) on x86-64 CPUs with AVX2 or AVX-512: the values steepest reproduces bit for bit. On
#: other CPUs uniform(a, b), normal with a mean or std and float32 randn of 16 or more elements
#: may differ in the last bits (steepest/random.py's docstring), so there they get a few ulps.
TORCH_AVX2 = torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512")


def assert_torchs_values(ours: np.ndarray, theirs: np.ndarray) -> None:
    """Equal to the last bit where torch runs its AVX2 kernels, to a few ulps elsewhere."""
    if TORCH_AVX2 or not np.issubdtype(theirs.dtype, np.floating):
        np.testing.assert_array_equal(ours, theirs)
    else:
        ulps = 16 * np.finfo(theirs.dtype).eps
        np.testing.assert_allclose(ours, theirs, rtol=ulps, atol=ulps)


def _same(ours, theirs):
    """torch's values (``assert_torchs_values``), with the same dtype and shape."""
    ours = np.asarray(ours.numpy() if isinstance(ours, st.Tensor) else ours)
    theirs = theirs.numpy()
    assert ours.dtype == theirs.dtype
    assert ours.shape == theirs.shape
    assert_torchs_values(ours, theirs)


def _pair(seed):
    """A steepest generator and a torch generator, both seeded with ``seed``."""
    return st.Generator().manual_seed(seed), torch.Generator().manual_seed(seed)


def _both_global(seed):
    st.manual_seed(seed)
    torch.manual_seed(seed)


def _assert_same_state(ours, theirs):
    np.testing.assert_array_equal(ours.get_state().numpy(), theirs.get_state().numpy())


# ------------------------------------------------------------------ factories, global seed
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_rand_randn_and_normal_after_manual_seed(n, dtype):
    ours, theirs = dtype
    for seed in (0, 2147483647):
        _both_global(seed)
        _same(st.rand(n, dtype=ours), torch.rand(n, dtype=theirs))
        _same(st.randn(n, dtype=ours), torch.randn(n, dtype=theirs))
        _same(st.randn(n, dtype=ours), torch.randn(n, dtype=theirs))  # uses the cached half
        _same(st.normal(0.3, 2.5, (n,), dtype=ours), torch.normal(0.3, 2.5, (n,), dtype=theirs))
        _same(st.randn(3, n, dtype=ours), torch.randn(3, n, dtype=theirs))
        _assert_same_state(st.default_generator, torch.default_generator)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_factories_with_a_generator(n, dtype):
    ours, theirs = dtype
    g, tg = _pair(42)
    _same(st.rand(n, 2, dtype=ours, generator=g), torch.rand(n, 2, dtype=theirs, generator=tg))
    _same(st.randn(n, dtype=ours, generator=g), torch.randn(n, dtype=theirs, generator=tg))
    _same(st.normal(-1.0, 0.1, size=(n,), dtype=ours, generator=g),
          torch.normal(-1.0, 0.1, size=(n,), dtype=theirs, generator=tg))
    _same(st.randint(0, 10, (n,), generator=g), torch.randint(0, 10, (n,), generator=tg))
    _same(st.randperm(n, generator=g), torch.randperm(n, generator=tg))
    _assert_same_state(g, tg)


def test_the_default_dtype_is_float32_as_in_torch():
    _both_global(0)
    x = st.randn(20)
    assert x.dtype == st.float32 == st.get_default_dtype()
    _same(x, torch.randn(20))


@pytest.mark.parametrize("low,high", [(0, 3), (-10, 2**28 - 11), (-10, 2**28 + 5), (0, 2**40),
                                      (-2**62, 2**62)])
@pytest.mark.parametrize("dtype", [(np.int64, torch.int64), (np.int32, torch.int32)],
                         ids=["int64", "int32"])
def test_randint_over_every_range_width(low, high, dtype):
    ours, theirs = dtype
    if ours == np.int32 and high > 2**31:
        pytest.skip("the range does not fit in int32")
    g, tg = _pair(3)
    for n in SIZES:
        _same(st.randint(low, high, (n,), dtype=ours, generator=g),
              torch.randint(low, high, (n,), dtype=theirs, generator=tg))
    _same(st.randint(low, high, size=(4, 2), generator=g),
          torch.randint(low, high, size=(4, 2), generator=tg))
    if low == 0:
        _same(st.randint(high, (3,), generator=g), torch.randint(high, (3,), generator=tg))
        _same(st.randint(high=high, size=(3,), generator=g),
              torch.randint(high=high, size=(3,), generator=tg))


@pytest.mark.parametrize("n", [0, 1, 2, 15, 16, 17, 100, 1000])
def test_randperm(n):
    _both_global(11)
    _same(st.randperm(n), torch.randperm(n))
    _same(st.randperm(n, dtype=np.int32), torch.randperm(n, dtype=torch.int32))


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_normal_with_tensor_mean_or_std(n, dtype):
    ours, theirs = dtype
    g, tg = _pair(5)
    mean, tmean = st.randn(n, dtype=ours, generator=g), torch.randn(n, dtype=theirs, generator=tg)
    std, tstd = st.rand(n, dtype=ours, generator=g), torch.rand(n, dtype=theirs, generator=tg)
    _same(st.normal(mean, 2.0, generator=g), torch.normal(tmean, 2.0, generator=tg))
    _same(st.normal(1.0, std, generator=g), torch.normal(1.0, tstd, generator=tg))
    _same(st.normal(mean, std, generator=g), torch.normal(tmean, tstd, generator=tg))
    _assert_same_state(g, tg)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_bernoulli_with_a_tensor_and_with_a_number(n, dtype):
    ours, theirs = dtype
    g, tg = _pair(9)
    p, tp = st.rand(n, dtype=ours, generator=g), torch.rand(n, dtype=theirs, generator=tg)
    _same(st.bernoulli(p, generator=g), torch.bernoulli(tp, generator=tg))
    _same(st.bernoulli(p, 0.3, generator=g), torch.bernoulli(tp, 0.3, generator=tg))
    _both_global(9)
    _same(st.bernoulli(st.full((n,), 0.5, dtype=ours)), torch.bernoulli(torch.full((n,), 0.5,
                                                                                 dtype=theirs)))


@pytest.mark.parametrize("categories", [1, 5, 16, 17, 100])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_multinomial_with_and_without_replacement(categories, dtype):
    ours, theirs = dtype
    g, tg = _pair(2147483647)
    for k in sorted({1, min(categories, 3), categories}):
        w, tw = st.rand(4, categories, dtype=ours, generator=g), torch.rand(
            4, categories, dtype=theirs, generator=tg)
        _same(st.multinomial(w, k, generator=g), torch.multinomial(tw, k, generator=tg))
        _same(st.multinomial(w[0], k, generator=g), torch.multinomial(tw[0], k, generator=tg))
        _same(st.multinomial(w, 5 * k, replacement=True, generator=g),
              torch.multinomial(tw, 5 * k, replacement=True, generator=tg))
    _assert_same_state(g, tg)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_like_forms(dtype):
    ours, theirs = dtype
    x, tx = st.zeros(17, 2, dtype=ours), torch.zeros(17, 2, dtype=theirs)
    _both_global(1)
    _same(st.rand_like(x), torch.rand_like(tx))
    _same(st.randn_like(x), torch.randn_like(tx))
    _same(st.randint_like(x, 7), torch.randint_like(tx, 7))
    _same(st.randint_like(x, -3, 7), torch.randint_like(tx, -3, 7))
    g, tg = _pair(4)
    _same(st.randn_like(x, generator=g), torch.randn_like(tx, generator=tg))


# ------------------------------------------------------------------ in-place fills
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_in_place_fills(n, dtype):
    ours, theirs = dtype
    x, tx = st.zeros(n, dtype=ours), torch.zeros(n, dtype=theirs)
    _both_global(7)
    fills = [("uniform_", (-0.3, 0.7)), ("normal_", (0.5, 3.0)), ("random_", ()),
             ("random_", (100,)), ("random_", (-5, 100)), ("bernoulli_", (0.7,)),
             ("exponential_", (2.0,))]
    for name, args in fills:
        assert getattr(x, name)(*args) is x
        _same(x, getattr(tx, name)(*args))
    g, tg = _pair(8)
    _same(x.normal_(generator=g), tx.normal_(generator=tg))
    _same(x.bernoulli_(st.full((n,), 0.25, dtype=ours), generator=g),
          tx.bernoulli_(torch.full((n,), 0.25, dtype=theirs), generator=tg))
    _assert_same_state(st.default_generator, torch.default_generator)


@pytest.mark.parametrize("dtype", [(np.int64, torch.int64), (np.int32, torch.int32)],
                         ids=["int64", "int32"])
def test_random_fills_integer_tensors(dtype):
    ours, theirs = dtype
    x, tx = st.tensor(np.zeros(17, dtype=ours)), torch.zeros(17, dtype=theirs)
    _both_global(0)
    _same(x.random_(), tx.random_())
    _same(x.random_(3), tx.random_(3))


def test_normal_of_a_non_contiguous_view_is_drawn_one_by_one_as_torch():
    x, tx = st.zeros(20, 20), torch.zeros(20, 20)
    _both_global(0)
    view, tview = x[:, 2], tx[:, 2]
    view.normal_()
    tview.normal_()
    _same(x, tx)


def test_a_fill_of_a_parameter_that_requires_grad_needs_no_grad():
    w = st.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="uniform_: a tensor that requires grad"):
        w.uniform_()
    with st.no_grad():
        w.uniform_()
    assert w._version == 1


# ------------------------------------------------------------------ state
def test_get_state_is_torchs_state_and_set_state_takes_it_both_ways():
    _both_global(3)
    _assert_same_state(st.default_generator, torch.default_generator)  # freshly seeded
    st.randn(3, dtype=st.float64)
    torch.randn(3, dtype=torch.float64)  # leaves a cached normal in both
    _same(st.get_rng_state(), torch.get_rng_state())
    torch.rand(1000)
    st.set_rng_state(torch.get_rng_state())
    _same(st.randn(5, dtype=st.float64), torch.randn(5, dtype=torch.float64))
    torch.set_rng_state(torch.from_numpy(st.get_rng_state().numpy()))
    _same(st.rand(700), torch.rand(700))


def test_state_round_trips_including_the_cached_normal():
    g = st.Generator().manual_seed(1)
    st.randn(1, dtype=st.float64, generator=g)
    state = g.get_state()
    first = st.randn(30, generator=g).numpy().copy()
    g.set_state(state)
    np.testing.assert_array_equal(st.randn(30, generator=g).numpy(), first)
    other = st.Generator().set_state(state)
    np.testing.assert_array_equal(st.randn(30, generator=other).numpy(), first)


def test_seeds():
    assert st.Generator().initial_seed() == torch.Generator().initial_seed() == 67280421310721
    g = st.Generator().manual_seed(2**64 - 1)
    assert g.initial_seed() == 2**64 - 1
    _same(st.rand(5, generator=g), torch.rand(5, generator=torch.Generator().manual_seed(
        2**64 - 1)))
    st.manual_seed(-1)
    assert st.initial_seed() == 2**64 - 1
    s = st.seed()
    assert st.initial_seed() == s
    a = st.rand(4).numpy().copy()
    st.manual_seed(s)
    np.testing.assert_array_equal(st.rand(4).numpy(), a)


def test_errors_name_the_argument():
    with pytest.raises(TypeError, match="manual_seed: seed must be an int, got float"):
        st.manual_seed(1.5)
    with pytest.raises(ValueError, match="manual_seed: seed must be in"):
        st.manual_seed(2**64)
    with pytest.raises(TypeError, match="rand: generator must be a steepest.Generator"):
        st.rand(2, generator=torch.Generator())
    with pytest.raises(ValueError, match="set_state: expected torch's generator state"):
        st.Generator().set_state(st.tensor(np.zeros(10, np.uint8)))
    with pytest.raises(ValueError, match="randint: high must be greater than low"):
        st.randint(5, 5, (2,))
    with pytest.raises(ValueError, match="multinomial: cannot draw 3 samples without"):
        st.multinomial(st.ones(2), 3)
    with pytest.raises(TypeError, match="rand: dtype must be float32 or float64"):
        st.rand(2, dtype=np.int64)
    with pytest.raises(ValueError, match="Generator: device 'cuda'"):
        st.Generator("cuda")


@settings(max_examples=25, deadline=None)
@given(seed=st_h.integers(0, 2**64 - 1), n=st_h.integers(1, 70),
       dtype=st_h.sampled_from(DTYPES))
def test_any_seed_and_size_gives_torchs_numbers(seed, n, dtype):
    ours, theirs = dtype
    g, tg = _pair(seed)
    _same(st.randn(n, dtype=ours, generator=g), torch.randn(n, dtype=theirs, generator=tg))
    _same(st.rand(n, dtype=ours, generator=g), torch.rand(n, dtype=theirs, generator=tg))
    _same(st.randint(-n, n, (n,), generator=g), torch.randint(-n, n, (n,), generator=tg))


# ------------------------------------------------------------------ nn and data
def test_linear_after_manual_seed_has_torchs_weights():
    _both_global(0)
    ours, theirs = st.nn.Linear(64, 10), torch.nn.Linear(64, 10)
    _same(ours.weight.detach(), theirs.weight.detach())
    _same(ours.bias.detach(), theirs.bias.detach())
    with st.default_dtype(st.float64):
        torch.set_default_dtype(torch.float64)
        try:
            ours, theirs = st.nn.Linear(3, 17), torch.nn.Linear(3, 17)
        finally:
            torch.set_default_dtype(torch.float32)
    _same(ours.weight.detach(), theirs.weight.detach())


@pytest.mark.parametrize("name,kwargs", [
    ("uniform_", {"a": -2.0, "b": 3.0}), ("normal_", {"mean": 1.0, "std": 0.5}),
    ("xavier_uniform_", {"gain": 2.0}), ("xavier_normal_", {}),
    ("kaiming_uniform_", {"nonlinearity": "relu"}), ("kaiming_normal_", {"mode": "fan_out"}),
])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_init_functions(name, kwargs, dtype):
    ours, theirs = dtype
    for shape in [(3, 5), (30, 20)]:
        w, tw = st.zeros(*shape, dtype=ours, requires_grad=True), torch.zeros(*shape,
                                                                              dtype=theirs)
        _both_global(1)
        getattr(st.nn.init, name)(w, **kwargs)
        getattr(torch.nn.init, name)(tw, **kwargs)
        _same(w.detach(), tw)
        g, tg = _pair(2)
        getattr(st.nn.init, name)(w, **kwargs, generator=g)
        getattr(torch.nn.init, name)(tw, **kwargs, generator=tg)
        _same(w.detach(), tw)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_dropout_masks_are_torchs(dtype):
    ours, theirs = dtype
    x = np.random.default_rng(0).standard_normal((17, 3)).astype(ours)
    _both_global(5)
    _same(st.nn.functional.dropout(st.tensor(x), 0.3),
          torch.nn.functional.dropout(torch.tensor(x), 0.3))
    _same(st.nn.Dropout(0.5)(st.tensor(x)), torch.nn.Dropout(0.5)(torch.tensor(x)))
    g, tg = _pair(1)
    mask = st.nn.functional.dropout(st.ones(40, dtype=ours), 0.25, generator=g).numpy() != 0
    keep = torch.bernoulli(torch.full((40,), 0.75, dtype=torch.float64), generator=tg)
    np.testing.assert_array_equal(mask, keep.numpy() != 0)


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("with_generator", [False, True])
@pytest.mark.parametrize("drop_last", [False, True])
def test_dataloader_order_and_stream_are_torchs(shuffle, with_generator, drop_last):
    X = np.arange(23, dtype=np.float32).reshape(23, 1)
    _both_global(1)
    g, tg = _pair(9) if with_generator else (None, None)
    ours = sdata.DataLoader(sdata.TensorDataset(st.tensor(X)), batch_size=5, shuffle=shuffle,
                            generator=g, drop_last=drop_last)
    theirs = tdata.DataLoader(tdata.TensorDataset(torch.tensor(X)), batch_size=5,
                              shuffle=shuffle, generator=tg, drop_last=drop_last)
    for _ in range(3):
        assert [b[0].numpy().ravel().tolist() for b in ours] == \
            [b[0].numpy().ravel().tolist() for b in theirs]
    _assert_same_state(st.default_generator, torch.default_generator)
    if with_generator:
        _assert_same_state(g, tg)


@pytest.mark.parametrize("lengths", [[0.3, 0.3, 0.4], [10, 20], [0.5, 0.5]])
def test_random_split_is_torchs(lengths):
    _both_global(2)
    assert [list(s.indices) for s in sdata.random_split(list(range(30)), lengths)] == \
        [list(s.indices) for s in tdata.random_split(range(30), lengths)]
    g, tg = _pair(4)
    assert [list(s.indices) for s in sdata.random_split(list(range(30)), lengths, generator=g)]\
        == [list(s.indices) for s in tdata.random_split(range(30), lengths, generator=tg)]


def test_numpy_generators_are_still_accepted_where_they_were():
    w = st.zeros(4, 3)
    st.nn.init.normal_(w, generator=np.random.default_rng(0))
    np.testing.assert_array_equal(w.numpy(), np.random.default_rng(0).normal(0, 1, (4, 3))
                                  .astype(np.float32))
    assert st.default_generator.as_numpy().bit_generator is st.default_generator.bit_generator
