"""Tests for steepest.data: toy sets, digits, splitting, scaling, the split of train and sweep, and bad input."""

import hashlib

import numpy as np
import pytest

import steepest
from steepest.data import (
    DATASET_NAMES, Standardizer, load_dataset, load_digits, make_blobs,
    make_circles, make_moons, make_spirals, make_xor, train_test_split, validate_dataset,
)

TOY = {
    "moons": (make_moons, 2),
    "circles": (make_circles, 2),
    "spirals": (make_spirals, 3),
    "xor": (make_xor, 2),
    "blobs": (make_blobs, 3),
}


# --------------------------------------------------------------------------- toy sets

@pytest.mark.parametrize("name", sorted(TOY))
@pytest.mark.parametrize("n", [7, 101, 300])
def test_toy_shapes_dtypes_and_balance(name, n):
    maker, k = TOY[name]
    X, y = maker(n_samples=n, seed=3)
    assert X.shape == (n, 2) and X.dtype == np.float64
    assert y.shape == (n,) and y.dtype == np.int64
    counts = np.bincount(y, minlength=k)
    assert len(counts) == k and counts.sum() == n
    assert counts.max() - counts.min() <= 1
    assert np.isfinite(X).all()


@pytest.mark.parametrize("name", sorted(TOY))
def test_toy_deterministic_by_seed_and_different_across_seeds(name):
    maker, _ = TOY[name]
    X1, y1 = maker(n_samples=120, seed=11)
    X2, y2 = maker(n_samples=120, seed=11)
    X3, y3 = maker(n_samples=120, seed=12)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)


@pytest.mark.parametrize("name", sorted(TOY))
def test_toy_seed_none_follows_manual_seed_and_generator_is_accepted(name):
    maker, _ = TOY[name]
    steepest.manual_seed(5)
    Xa, _ = maker(n_samples=50, seed=None)
    steepest.manual_seed(5)
    Xb, _ = maker(n_samples=50, seed=None)
    np.testing.assert_array_equal(Xa, Xb)
    Xg, _ = maker(n_samples=50, seed=np.random.default_rng(9))
    Xi, _ = maker(n_samples=50, seed=9)
    np.testing.assert_array_equal(Xg, Xi)


@pytest.mark.parametrize("name", sorted(TOY))
def test_toy_rows_are_shuffled(name):
    maker, _ = TOY[name]
    _, y = maker(n_samples=200, seed=0)
    # sorted labels would be a single run per class; interleaved data changes label often
    assert np.count_nonzero(np.diff(y)) > 50


def test_moons_geometry_noise_free():
    X, y = make_moons(n_samples=202, noise=0.0, seed=0)
    upper, lower = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1.0, atol=1e-12)
    assert upper[:, 1].min() >= -1e-12 and lower[:, 1].max() <= 0.5 + 1e-12
    # the arcs are fully covered: endpoints present
    for point in [(-1, 0), (1, 0), (0, 1)]:
        assert np.min(np.linalg.norm(upper - point, axis=1)) < 1e-12
    for point in [(0, 0.5), (2, 0.5), (1, -0.5)]:
        assert np.min(np.linalg.norm(lower - point, axis=1)) < 1e-12


def test_moons_noisy_points_stay_near_their_arcs():
    noise = 0.1
    X, y = make_moons(n_samples=1000, noise=noise, seed=1)
    d0 = np.hypot(X[y == 0, 0], X[y == 0, 1]) - 1
    d1 = np.hypot(X[y == 1, 0] - 1, X[y == 1, 1] - 0.5) - 1
    for d in (d0, d1):
        assert abs(d.mean()) < 0.03
        assert 0.5 * noise < d.std() < 1.5 * noise


def test_moons_not_linearly_separable_certificate():
    # A class-1 point inside the convex hull of class-0 points: no line can separate them.
    X, y = make_moons(n_samples=200, noise=0.0, seed=0)
    upper, lower = X[y == 0], X[y == 1]
    a, b, c = (upper[np.argmin(np.linalg.norm(upper - p, axis=1))]
               for p in [(-1, 0), (1, 0), (0, 1)])
    p = lower[np.argmin(np.linalg.norm(lower - (0, 0.5), axis=1))]
    # barycentric coordinates of p in triangle abc
    T = np.column_stack([b - a, c - a])
    u, v = np.linalg.solve(T, p - a)
    assert u > 0 and v > 0 and u + v < 1


def test_moons_best_linear_fit_is_imperfect():
    X, y = make_moons(n_samples=400, noise=0.1, seed=2)
    A = np.column_stack([X, np.ones(len(X))])
    w, *_ = np.linalg.lstsq(A, 2.0 * y - 1, rcond=None)
    accuracy = np.mean((A @ w > 0) == (y == 1))
    assert 0.75 < accuracy < 0.95


def test_circles_radii():
    X, y = make_circles(n_samples=100, noise=0.0, factor=0.3, seed=0)
    r = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(r[y == 0], 1.0, atol=1e-12)
    np.testing.assert_allclose(r[y == 1], 0.3, atol=1e-12)


@pytest.mark.parametrize("n_arms", [2, 3, 5])
def test_spirals_geometry(n_arms):
    turns = 1.5
    X, y = make_spirals(n_samples=60 * n_arms, n_arms=n_arms, noise=0.0, turns=turns, seed=0)
    assert set(np.unique(y)) == set(range(n_arms))
    r = np.hypot(X[:, 0], X[:, 1])
    assert r.max() == pytest.approx(1.0) and r.min() == pytest.approx(0.0, abs=1e-12)
    keep = r > 1e-9
    angle = np.arctan2(X[keep, 1], X[keep, 0])
    expected = 2 * np.pi * (turns * r[keep] + y[keep] / n_arms)
    wrapped = np.angle(np.exp(1j * (angle - expected)))
    np.testing.assert_allclose(wrapped, 0.0, atol=1e-9)


def test_xor_labels_match_quadrants_without_noise():
    X, y = make_xor(n_samples=203, noise=0.0, seed=4)
    np.testing.assert_array_equal(y, ((X[:, 0] < 0) != (X[:, 1] < 0)).astype(int))
    assert np.abs(X).min() >= 0.1 and np.abs(X).max() <= 1.0
    quadrant_counts = np.unique(np.sign(X), axis=0, return_counts=True)[1]
    assert len(quadrant_counts) == 4 and quadrant_counts.max() - quadrant_counts.min() <= 1


def test_blobs_centres_and_spread():
    centres = np.array([[0.0, 0.0], [5.0, 5.0], [-5.0, 3.0], [4.0, -4.0]])
    X, y = make_blobs(n_samples=4000, centers=centres, noise=0.5, seed=0)
    for k, c in enumerate(centres):
        np.testing.assert_allclose(X[y == k].mean(axis=0), c, atol=0.06)
        np.testing.assert_allclose(X[y == k].std(axis=0), 0.5, atol=0.05)
    X, y = make_blobs(n_samples=90, centers=5, noise=0.0, seed=0)
    assert len(np.unique(X, axis=0)) == 5
    np.testing.assert_allclose(np.hypot(X[:, 0], X[:, 1]), 2.0)


@pytest.mark.parametrize("call, match", [
    (lambda: make_moons(n_samples=1), "n_samples"),
    (lambda: make_moons(noise=-0.1), "noise"),
    (lambda: make_circles(factor=1.5), "factor"),
    (lambda: make_spirals(n_arms=1), "n_arms"),
    (lambda: make_spirals(n_samples=2, n_arms=3), "n_samples"),
    (lambda: make_blobs(centers=np.zeros((3, 3))), "centers"),
    (lambda: make_xor(seed="abc"), "seed"),
    (lambda: make_spirals(n_arms=True), "make_spirals: n_arms must be an integer >= 2, got True"),
    (lambda: make_blobs(n_samples=2.5), "make_blobs: n_samples must be an integer >= 3, got 2.5"),
])
def test_toy_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --------------------------------------------------------------------------- digits

DIGIT_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
FIRST_DIGIT = [0, 0, 5, 13, 9, 1, 0, 0, 0, 0, 13, 15, 10, 15, 5, 0, 0, 3, 15, 2, 0, 11, 8, 0,
               0, 4, 12, 0, 0, 8, 8, 0, 0, 5, 8, 0, 0, 9, 8, 0, 0, 4, 11, 0, 1, 12, 7, 0,
               0, 2, 14, 5, 10, 12, 0, 0, 0, 0, 6, 13, 10, 0, 0, 0]


def test_digits_shape_labels_and_counts():
    X, y = load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float64
    assert y.shape == (1797,) and y.dtype == np.int64
    assert np.bincount(y).tolist() == DIGIT_COUNTS
    assert y[:20].tolist() == list(range(10)) * 2


def test_digits_pixel_range_and_known_values():
    X, _ = load_digits(normalize=True)
    assert X.min() == 0.0 and X.max() == 1.0
    raw, _ = load_digits(normalize=False)
    assert raw.min() == 0 and raw.max() == 16
    np.testing.assert_array_equal(raw, np.round(raw))
    np.testing.assert_allclose(X * 16, raw)
    assert raw[0].tolist() == FIRST_DIGIT
    assert raw.sum() == 561718


def test_digits_checksums_match_readme():
    raw, y = load_digits(normalize=False)
    assert hashlib.sha256(raw.astype(np.uint8).tobytes()).hexdigest() == \
        "8f26b2bd9d135c256808f68f14fdabddde6d9c7f869ae419704b051f0f14b3b3"
    assert hashlib.sha256(y.astype(np.uint8).tobytes()).hexdigest() == \
        "8ba4f891220f5e4c9c819638d1602d74b83618f167043c6da52a2a247841ddf0"


def test_digits_returns_fresh_writable_copies():
    X1, y1 = load_digits()
    X1[0, 0] = 99.0
    y1[0] = 7
    X2, y2 = load_digits()
    assert X2[0, 0] == 0.0 and y2[0] == 0


def test_digits_match_scikit_learn_when_available():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    ref = sklearn_datasets.load_digits()
    raw, y = load_digits(normalize=False)
    np.testing.assert_array_equal(raw, ref.data)
    np.testing.assert_array_equal(y, ref.target)


# --------------------------------------------------------------------------- registry

def test_load_dataset_by_name():
    assert DATASET_NAMES == ("blobs", "circles", "digits", "moons", "spirals", "xor")
    for name in DATASET_NAMES:
        X, y = load_dataset(name)
        assert X.ndim == 2 and len(X) == len(y) and y.dtype == np.int64
    X, y = load_dataset(" Moons ", n_samples=50, noise=0.2, seed=3)
    Xm, ym = make_moons(n_samples=50, noise=0.2, seed=3)
    np.testing.assert_array_equal(X, Xm)
    np.testing.assert_array_equal(y, ym)
    X, _ = load_dataset("digits", normalize=False)
    assert X.max() == 16


def test_load_dataset_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match=r"unknown data set 'mnist'.*blobs, circles, digits, "
                                         r"moons, spirals, xor"):
        load_dataset("mnist")


def test_load_dataset_rejects_arguments_the_set_does_not_take():
    with pytest.raises(ValueError, match=r"'digits' does not take argument\(s\) noise.*normalize"):
        load_dataset("digits", noise=0.1)


# --------------------------------------------------------------------------- splitting

def _indexed(n, n_features=3):
    """X whose first column is the row id, so rows can be traced through a split."""
    X = np.column_stack([np.arange(n, dtype=float),
                         np.random.default_rng(0).normal(size=(n, n_features - 1))])
    y = np.arange(n) % 3
    return X, y


@pytest.mark.parametrize("n, test_size, n_test", [(103, 0.2, 21), (100, 0.25, 25),
                                                  (50, 7, 7), (10, 0.5, 5)])
def test_split_sizes_disjoint_and_cover(n, test_size, n_test):
    X, y = _indexed(n)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=test_size, seed=1)
    assert len(X_te) == len(y_te) == n_test
    assert len(X_tr) == len(y_tr) == n - n_test
    ids_tr, ids_te = X_tr[:, 0].astype(int), X_te[:, 0].astype(int)
    assert not set(ids_tr) & set(ids_te)
    assert sorted(np.concatenate([ids_tr, ids_te])) == list(range(n))
    # rows stay intact: label and features travel together
    np.testing.assert_array_equal(y_tr, y[ids_tr])
    np.testing.assert_array_equal(X_te, X[ids_te])


def test_split_reproducible_and_seed_dependent():
    X, y = _indexed(60)
    a = train_test_split(X, y, seed=4)
    b = train_test_split(X, y, seed=4)
    c = train_test_split(X, y, seed=5)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[1], c[1])


@pytest.mark.parametrize("seed", range(5))
def test_split_stratified_keeps_class_proportions(seed):
    y = np.repeat([0, 1, 2], [140, 50, 10])
    X = np.arange(len(y), dtype=float)[:, None]
    _, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, seed=seed, stratify=True)
    assert len(y_te) == 60
    np.testing.assert_array_equal(np.bincount(y_te), [42, 15, 3])
    np.testing.assert_array_equal(np.bincount(y_tr), [98, 35, 7])
    np.testing.assert_array_equal(y[X_te[:, 0].astype(int)], y_te)


def test_split_stratified_with_uneven_fractions_sums_exactly():
    y = np.repeat([0, 1, 2, 3], [33, 21, 17, 9])     # 80 rows
    X = np.arange(80, dtype=float)[:, None]
    _, _, y_tr, y_te = train_test_split(X, y, test_size=0.25, seed=0, stratify=True)
    assert len(y_te) == 20
    expected = 20 * np.bincount(y) / 80
    assert np.all(np.abs(np.bincount(y_te, minlength=4) - expected) < 1)
    np.testing.assert_array_equal(np.bincount(y_tr) + np.bincount(y_te), np.bincount(y))


def test_split_unstratified_can_miss_a_rare_class_but_stratified_never_does():
    y = np.array([0] * 95 + [1] * 5)
    X = np.zeros((100, 1))
    misses = sum(1 not in train_test_split(X, y, test_size=0.2, seed=s)[3] for s in range(30))
    assert misses > 0
    for s in range(30):
        assert np.count_nonzero(train_test_split(X, y, test_size=0.2, seed=s,
                                                 stratify=True)[3] == 1) == 1


def test_split_stratified_breaks_exact_ties_at_random():
    # 10 test rows, shares 9.5 and 0.5: the rare class gets 0 or 1 row, depending on the seed
    y = np.array([0] * 95 + [1] * 5)
    X = np.zeros((100, 1))
    rare = {int(np.sum(train_test_split(X, y, test_size=0.1, seed=s, stratify=True)[3] == 1))
            for s in range(30)}
    assert rare == {0, 1}


@pytest.mark.parametrize("kwargs, match", [
    (dict(test_size=0.0), "test_size"),
    (dict(test_size=1.0), "test_size"),
    (dict(test_size=10), "both parts must be non-empty"),
    (dict(test_size=0), "both parts must be non-empty"),
])
def test_split_bad_test_size(kwargs, match):
    X, y = _indexed(10)
    with pytest.raises(ValueError, match=match):
        train_test_split(X, y, **kwargs)


def test_split_stratify_needs_two_rows_per_class():
    X, y = np.zeros((5, 1)), np.array([0, 0, 1, 1, 2])
    with pytest.raises(ValueError, match="class 2 has 1"):
        train_test_split(X, y, test_size=2, stratify=True)


# --------------------------------------------------------------------------- scaling

def test_standardizer_train_mean_zero_std_one_and_test_uses_train_stats():
    rng = np.random.default_rng(0)
    X_tr = rng.normal(loc=[3.0, -2.0, 100.0], scale=[0.5, 4.0, 20.0], size=(200, 3))
    X_te = rng.normal(loc=[3.0, -2.0, 100.0], scale=[0.5, 4.0, 20.0], size=(50, 3)) + 1.0
    s = Standardizer().fit(X_tr)
    Z = s.transform(X_tr)
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(Z.std(axis=0), 1.0, atol=1e-12)
    np.testing.assert_allclose(s.transform(X_te), (X_te - X_tr.mean(0)) / X_tr.std(0))
    np.testing.assert_allclose(s.inverse_transform(s.transform(X_te)), X_te)
    np.testing.assert_allclose(Standardizer().fit_transform(X_tr), Z)


def test_standardizer_constant_column_is_safe():
    X = np.column_stack([np.full(20, 7.0), np.arange(20.0), np.full(20, 0.1)])
    s = Standardizer()
    with np.errstate(all="raise"):
        Z = s.fit_transform(X)
    assert np.isfinite(Z).all()
    np.testing.assert_array_equal(Z[:, 0], 0.0)
    np.testing.assert_allclose(Z[:, 2], 0.0, atol=1e-12)
    np.testing.assert_allclose(Z[:, 1].std(), 1.0)
    np.testing.assert_allclose(s.inverse_transform(Z), X)
    np.testing.assert_allclose(s.transform([[8.0, 0.0, 0.1]])[0, 0], 1.0)


def test_standardizer_errors():
    with pytest.raises(RuntimeError, match="not fitted"):
        Standardizer().transform(np.ones((3, 2)))
    s = Standardizer().fit(np.random.default_rng(0).normal(size=(10, 2)))
    with pytest.raises(ValueError, match="got 3, the Standardizer was fitted on 2"):
        s.transform(np.ones((4, 3)))
    with pytest.raises(ValueError, match="NaN"):
        Standardizer().fit(np.array([[1.0], [np.nan]]))


# --------------------------------------------------------------------------- bad input

def test_validate_accepts_good_data_and_returns_arrays():
    X, y = validate_dataset([[0, 1], [2, 3]], [1.0, 0.0], n_features=2, n_classes=2)
    assert X.dtype == np.float64 and y.dtype == np.int64
    np.testing.assert_array_equal(y, [1, 0])


def test_bad_lengths_reports_both():
    with pytest.raises(ValueError, match=r"different lengths: X has 10 samples, y has 9"):
        validate_dataset(np.zeros((10, 2)), np.zeros(9))


def test_bad_feature_count_reports_got_and_expected():
    with pytest.raises(ValueError, match=r"wrong number of features: got 3, the model expects 2"):
        validate_dataset(np.zeros((5, 3)), np.zeros(5), n_features=2)


@pytest.mark.parametrize("labels, match", [
    ([0, 1, 3, 2], r"labels outside \[0, 3\): got min 0, max 3 \(1 label"),
    ([-1, 0, 1, 2], r"labels outside \[0, 3\): got min -1, max 2"),
    ([-2, 5, 0, 1], r"got min -2, max 5 \(2 label"),
])
def test_bad_labels_report_min_and_max(labels, match):
    with pytest.raises(ValueError, match=match):
        validate_dataset(np.zeros((4, 2)), np.array(labels), n_classes=3)


def test_bad_fractional_labels():
    with pytest.raises(ValueError, match=r"whole numbers, got 0.5 in row 1"):
        validate_dataset(np.zeros((3, 2)), np.array([1.0, 0.5, 0.0]), n_classes=2)


def test_bad_non_finite_features_report_counts_and_first_row():
    X = np.zeros((6, 3))
    X[4, 1] = np.nan
    X[2, 0] = np.inf
    X[5, 2] = -np.inf
    X[4, 2] = np.nan
    with pytest.raises(ValueError, match=r"2 NaN and 2 inf; first in row 2"):
        validate_dataset(X, np.zeros(6))


def test_bad_non_finite_targets():
    with pytest.raises(ValueError, match=r"y contains 1 non-finite.*row 3"):
        validate_dataset(np.zeros((4, 1)), np.array([0.0, 1.0, 2.0, np.nan]))


@pytest.mark.parametrize("batch_size", [0, -4, 2.5, True])
def test_bad_batch_size(batch_size):
    with pytest.raises(ValueError, match=rf"batch_size must be an integer >= 1, got {batch_size}"):
        validate_dataset(np.zeros((4, 2)), np.zeros(4), batch_size=batch_size)


def test_bad_empty_dataset():
    with pytest.raises(ValueError, match=r"empty data set: X has 0 samples"):
        validate_dataset(np.zeros((0, 2)), np.zeros(0))
    with pytest.raises(ValueError, match=r"empty data set: X has 0 features"):
        validate_dataset(np.zeros((3, 0)), np.zeros(3))


@pytest.mark.parametrize("shape", [(5,), (2, 2, 2), ()])
def test_bad_dimensionality(shape):
    with pytest.raises(ValueError, match=rf"X must be 2-D \(n_samples, n_features\), got "
                                         rf"{len(shape)}-D"):
        validate_dataset(np.zeros(shape), np.zeros(5))


def test_bad_1d_features_suggests_reshape():
    with pytest.raises(ValueError, match=r"reshape\(-1, 1\)"):
        validate_dataset(np.arange(5.0), np.zeros(5))


def test_bad_non_numeric_features():
    with pytest.raises(ValueError, match=r"X must be numeric"):
        validate_dataset(np.array([["a", "b"]]), np.zeros(1))


def test_bad_complex_features_are_not_silently_truncated():
    with pytest.raises(ValueError, match=r"X must be numeric \(real numbers or booleans\), "
                                         r"got dtype complex128"):
        validate_dataset(np.ones((2, 2)) * 1j, np.zeros(2))


# --------------------------------------------------------------------------- load_split

def test_load_split_is_load_then_stratified_split_then_standardize_on_the_training_part():
    from steepest.data import load_split

    split = load_split("moons", seed=4, val_split=0.25, n_samples=80, noise=0.2)
    X, y = load_dataset("moons", n_samples=80, noise=0.2, seed=4)
    X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.25, seed=4,
                                                      stratify=True)
    scaler = Standardizer().fit(X_train)
    np.testing.assert_array_equal(split.X_train, scaler.transform(X_train))
    np.testing.assert_array_equal(split.X_val, scaler.transform(X_val))
    np.testing.assert_array_equal(split.y_val, y_val)
    assert split.n_classes == 2 and split.scaler.mean_.tolist() == scaler.mean_.tolist()
    raw = load_split("moons", seed=4, val_split=0.25, n_samples=80, noise=0.2,
                     standardize=False)
    assert raw.scaler is None and np.array_equal(raw.X_train, X_train)


def test_load_split_seeds_only_the_split_of_the_digits_and_refuses_overflowing_noise():
    from steepest.data import load_split

    a, b = (load_split("digits", seed=s, standardize=False) for s in (0, 1))
    rows = [np.vstack([p.X_train, p.X_val]) for p in (a, b)]
    np.testing.assert_array_equal(np.unique(rows[0], axis=0), np.unique(rows[1], axis=0))
    assert not np.array_equal(a.X_train, b.X_train) and a.n_classes == 10
    with np.errstate(over="ignore"), pytest.raises(ValueError, match=r"noise 1e\+308 is too"):
        load_split("moons", noise=1e308)
