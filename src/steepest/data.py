"""Data for the lessons: toy 2-D sets, the 8x8 digits, splitting and scaling.

Everything here works on plain NumPy arrays: features ``X`` of shape ``(n_samples, n_features)``
(float64) and integer class labels ``y`` of shape ``(n_samples,)`` (int64). Training code wraps
batches in :class:`~steepest.tensor.Tensor` itself; keeping the data layer free of the autodiff
engine keeps it easy to inspect, plot and test.

Randomness follows one convention everywhere, through a ``seed`` argument:

* an ``int`` gives a fresh ``np.random.default_rng(seed)``, so equal seeds give equal results;
* a ``np.random.Generator`` is used as is (and advanced);
* ``None`` draws from steepest's global generator, which :func:`steepest.manual_seed` reseeds.

:func:`validate_dataset` checks data before any training and says exactly what is wrong
(which sizes, which values, which row), because a shape mistake found at epoch 0 by a clear
message is cheaper than one found by a strange loss curve.
"""

from __future__ import annotations

import inspect
import numbers
from functools import lru_cache
from typing import NamedTuple
from importlib import resources

import numpy as np

from steepest.tensor import Tensor, default_generator

__all__ = [
    "make_moons", "make_circles", "make_spirals", "make_xor", "make_blobs", "load_digits",
    "load_dataset", "DATASET_NAMES", "train_test_split", "Standardizer", "load_split", "Split",
    "validate_dataset",
]


# --------------------------------------------------------------------------- helpers

def _rng(seed) -> np.random.Generator:
    """The generator a ``seed`` argument stands for (see the module docstring)."""
    if seed is None:
        return default_generator()
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        return np.random.default_rng(int(seed))
    raise ValueError(f"seed must be an int, a numpy Generator or None, got {seed!r}")


def _check_int(name: str, value, low: int) -> int:
    """``value`` as an int; ValueError naming ``name`` unless it is a whole number >= ``low``.

    Booleans are refused (``True`` is an ``int`` to Python, never a size to a user). Shared by
    every integer argument of the training modules, so they all say the same thing.
    """
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _check_noise(noise, name: str) -> float:
    if not isinstance(noise, numbers.Real) or not np.isfinite(noise) or noise < 0:
        raise ValueError(f"{name}: noise must be a finite number >= 0, got {noise!r}")
    return float(noise)


def _balanced_labels(n_samples: int, n_classes: int) -> np.ndarray:
    """Labels 0..n_classes-1 with counts differing by at most one (lower classes get the extra)."""
    counts = np.full(n_classes, n_samples // n_classes)
    counts[: n_samples % n_classes] += 1
    return np.repeat(np.arange(n_classes, dtype=np.int64), counts)


def _shuffled(X: np.ndarray, y: np.ndarray, rng: np.random.Generator):
    """Rows in random order, so that classes are interleaved (batches see every class)."""
    order = rng.permutation(len(y))
    return X[order], y[order]


def _as_ndarray(a) -> np.ndarray:
    return a._data if isinstance(a, Tensor) else np.asarray(a)


# --------------------------------------------------------------------------- toy 2-D sets

def make_moons(n_samples: int = 200, noise: float = 0.1, seed=0):
    """Two interleaving half-circles: the smallest problem a linear model cannot solve.

    Class 0 lies on the upper unit half-circle centred at (0, 0); class 1 on the lower unit
    half-circle centred at (1, 0.5). Points are evenly spaced in angle, then Gaussian noise of
    standard deviation ``noise`` is added to both coordinates.

    Parameters
    ----------
    n_samples : int
        Total number of points (class 0 gets ``n_samples // 2``, class 1 the rest).
    noise : float
        Standard deviation of the Gaussian noise added to each coordinate.
    seed : int, numpy.random.Generator or None
        Source of randomness (noise and row order).

    Returns
    -------
    X : ndarray of shape (n_samples, 2), float64
    y : ndarray of shape (n_samples,), int64, values in {0, 1}
    """
    n = _check_int("make_moons: n_samples", n_samples, 2)
    noise = _check_noise(noise, "make_moons")
    rng = _rng(seed)
    n0 = n // 2
    t0 = np.linspace(0.0, np.pi, n0)
    t1 = np.linspace(0.0, np.pi, n - n0)
    upper = np.column_stack([np.cos(t0), np.sin(t0)])
    lower = np.column_stack([1.0 - np.cos(t1), 0.5 - np.sin(t1)])
    X = np.concatenate([upper, lower]) + noise * rng.standard_normal((n, 2))
    y = np.repeat(np.array([0, 1], dtype=np.int64), [n0, n - n0])
    return _shuffled(X, y, rng)


def make_circles(n_samples: int = 200, noise: float = 0.05, factor: float = 0.5, seed=0):
    """A small circle inside a large one: separable only by a curved (radial) boundary.

    Class 0 lies on the unit circle, class 1 on the concentric circle of radius ``factor``;
    both evenly spaced in angle, then Gaussian noise is added.

    Parameters
    ----------
    n_samples : int
        Total number of points (class 0 gets ``n_samples // 2``, class 1 the rest).
    noise : float
        Standard deviation of the Gaussian noise added to each coordinate.
    factor : float
        Radius of the inner circle, in (0, 1).
    seed : int, numpy.random.Generator or None
        Source of randomness.

    Returns
    -------
    X : ndarray of shape (n_samples, 2), float64
    y : ndarray of shape (n_samples,), int64, values in {0, 1}
    """
    n = _check_int("make_circles: n_samples", n_samples, 2)
    noise = _check_noise(noise, "make_circles")
    if not 0 < factor < 1:
        raise ValueError(f"make_circles: factor must be in (0, 1), got {factor!r}")
    rng = _rng(seed)
    n0 = n // 2
    t0 = np.linspace(0.0, 2 * np.pi, n0, endpoint=False)
    t1 = np.linspace(0.0, 2 * np.pi, n - n0, endpoint=False)
    outer = np.column_stack([np.cos(t0), np.sin(t0)])
    inner = factor * np.column_stack([np.cos(t1), np.sin(t1)])
    X = np.concatenate([outer, inner]) + noise * rng.standard_normal((n, 2))
    y = np.repeat(np.array([0, 1], dtype=np.int64), [n0, n - n0])
    return _shuffled(X, y, rng)


def make_spirals(n_samples: int = 300, n_arms: int = 3, noise: float = 0.05,
                 turns: float = 1.0, seed=0):
    """Interleaved spiral arms, one class per arm: needs a deep-enough, well-trained network.

    Arm ``k`` is the curve ``r * (cos(a), sin(a))`` with radius ``r`` evenly spaced in
    [0, 1] and angle ``a = 2*pi*(turns*r + k/n_arms)``, so at any angle neighbouring arms are
    ``1/n_arms`` apart in radius. Gaussian noise is then added to each coordinate.

    Parameters
    ----------
    n_samples : int
        Total number of points, shared out evenly over the arms (counts differ by at most 1).
    n_arms : int
        Number of arms, which is the number of classes (>= 2).
    noise : float
        Standard deviation of the Gaussian noise added to each coordinate.
    turns : float
        How many full turns each arm makes from the centre to radius 1.
    seed : int, numpy.random.Generator or None
        Source of randomness.

    Returns
    -------
    X : ndarray of shape (n_samples, 2), float64
    y : ndarray of shape (n_samples,), int64, values in 0..n_arms-1
    """
    n_arms = _check_int("make_spirals: n_arms", n_arms, 2)
    n = _check_int("make_spirals: n_samples", n_samples, n_arms)
    noise = _check_noise(noise, "make_spirals")
    rng = _rng(seed)
    y = _balanced_labels(n, n_arms)
    r = np.concatenate([np.linspace(0.0, 1.0, c) for c in np.bincount(y)])
    angle = 2 * np.pi * (turns * r + y / n_arms)
    X = r[:, None] * np.column_stack([np.cos(angle), np.sin(angle)])
    X = X + noise * rng.standard_normal((n, 2))
    return _shuffled(X, y, rng)


def make_xor(n_samples: int = 200, noise: float = 0.1, seed=0):
    """The XOR pattern: class 1 where exactly one coordinate is negative.

    Points are spread evenly over the four quadrants of the square [-1, 1]^2, uniformly within
    a quadrant but at least 0.1 from both axes; the label is ``(x < 0) != (y < 0)``, fixed
    *before* Gaussian noise is added (so large noise pushes points across the axes).

    Parameters
    ----------
    n_samples : int
        Total number of points (quadrant counts differ by at most 1, classes too).
    noise : float
        Standard deviation of the Gaussian noise added to each coordinate.
    seed : int, numpy.random.Generator or None
        Source of randomness.

    Returns
    -------
    X : ndarray of shape (n_samples, 2), float64
    y : ndarray of shape (n_samples,), int64, values in {0, 1}
    """
    n = _check_int("make_xor: n_samples", n_samples, 2)
    noise = _check_noise(noise, "make_xor")
    rng = _rng(seed)
    # quadrants in the order (+,+) (+,-) (-,-) (-,+): the class alternates 0, 1, 0, 1
    signs = np.array([[1, 1], [1, -1], [-1, -1], [-1, 1]], dtype=np.float64)
    quadrant = np.arange(n) % 4
    X = signs[quadrant] * rng.uniform(0.1, 1.0, size=(n, 2))
    y = (quadrant % 2).astype(np.int64)
    X = X + noise * rng.standard_normal((n, 2))
    return _shuffled(X, y, rng)


def make_blobs(n_samples: int = 200, centers=3, noise: float = 0.5, seed=0):
    """Isotropic Gaussian clusters, one class per cluster: the easy, (nearly) linear case.

    Parameters
    ----------
    n_samples : int
        Total number of points, shared out evenly over the clusters (counts differ by <= 1).
    centers : int or array_like of shape (n_classes, 2)
        Either the number of clusters, placed evenly on the circle of radius 2 around the
        origin (the first at (2, 0)), or the cluster centres themselves.
    noise : float
        Standard deviation of each cluster in each coordinate.
    seed : int, numpy.random.Generator or None
        Source of randomness.

    Returns
    -------
    X : ndarray of shape (n_samples, 2), float64
    y : ndarray of shape (n_samples,), int64, values in 0..n_classes-1
    """
    if isinstance(centers, numbers.Integral) and not isinstance(centers, bool):
        if centers < 1:
            raise ValueError(f"make_blobs: centers must be >= 1, got {centers}")
        angle = 2 * np.pi * np.arange(centers) / centers
        centres = 2.0 * np.column_stack([np.cos(angle), np.sin(angle)])
    else:
        centres = np.asarray(centers, dtype=np.float64)
        if centres.ndim != 2 or centres.shape[1] != 2 or len(centres) < 1:
            raise ValueError("make_blobs: centers must be an int or an array of shape "
                             f"(n_classes, 2), got shape {centres.shape}")
    k = len(centres)
    n = _check_int("make_blobs: n_samples", n_samples, k)
    noise = _check_noise(noise, "make_blobs")
    rng = _rng(seed)
    y = _balanced_labels(n, k)
    X = centres[y] + noise * rng.standard_normal((n, 2))
    return _shuffled(X, y, rng)


# --------------------------------------------------------------------------- digits

@lru_cache(maxsize=1)
def _digits_arrays():
    path = resources.files("steepest").joinpath("datasets").joinpath("digits.npz")
    with path.open("rb") as fh, np.load(fh) as archive:
        images, labels = archive["images"], archive["labels"]
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def load_digits(normalize: bool = True):
    """The 8x8 handwritten digits (UCI; 1797 images, 10 classes), shipped with steepest.

    Each image is an 8x8 grid of ink counts 0..16, flattened row by row into 64 features.
    No network and no scikit-learn needed: the data is a 45 kB file inside the package
    (see ``steepest/datasets/README.md`` for its source and licence).

    Parameters
    ----------
    normalize : bool
        Divide by 16 so that features lie in [0, 1] (what a network wants); otherwise the raw
        counts 0..16 are returned (as floats).

    Returns
    -------
    X : ndarray of shape (1797, 64), float64
        ``X[i].reshape(8, 8)`` is image ``i``.
    y : ndarray of shape (1797,), int64, values in 0..9
    """
    images, labels = _digits_arrays()
    X = images.reshape(len(images), 64).astype(np.float64)
    if normalize:
        X /= 16.0
    return X, labels.astype(np.int64)


# --------------------------------------------------------------------------- registry

_REGISTRY = {
    "blobs": make_blobs,
    "circles": make_circles,
    "digits": load_digits,
    "moons": make_moons,
    "spirals": make_spirals,
    "xor": make_xor,
}

#: The names :func:`load_dataset` accepts.
DATASET_NAMES = tuple(sorted(_REGISTRY))


def load_dataset(name: str, **kwargs):
    """A data set by name, as the CLI asks for it (``steepest train --data moons``).

    Parameters
    ----------
    name : str
        One of :data:`DATASET_NAMES`: 'blobs', 'circles', 'digits', 'moons', 'spirals', 'xor'
        (case and surrounding spaces are ignored).
    **kwargs
        Passed to the maker, e.g. ``n_samples``, ``noise``, ``seed``; ``normalize`` for digits.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float64
    y : ndarray of shape (n_samples,), int64

    Raises
    ------
    ValueError
        For an unknown name (the message lists the valid ones) or an argument that data set
        does not take (the message lists those it does).
    """
    key = name.strip().lower() if isinstance(name, str) else name
    if key not in _REGISTRY:
        raise ValueError(f"unknown data set {name!r}; valid names: {', '.join(DATASET_NAMES)}")
    maker = _REGISTRY[key]
    accepted = list(inspect.signature(maker).parameters)
    unexpected = sorted(set(kwargs) - set(accepted))
    if unexpected:
        raise ValueError(f"data set {key!r} does not take argument(s) {', '.join(unexpected)}; "
                         f"it takes: {', '.join(accepted)}")
    return maker(**kwargs)


# --------------------------------------------------------------------------- validation

def validate_dataset(X, y, n_features=None, n_classes=None, batch_size=None):
    """Check a data set before training and say precisely what is wrong with it.

    Parameters
    ----------
    X : array_like of shape (n_samples, n_features)
        Features; must be numeric, 2-D, non-empty and finite (no NaN, no inf).
    y : array_like of shape (n_samples, ...)
        Targets, one per row of ``X``.
    n_features : int, optional
        Number of input features the model expects.
    n_classes : int, optional
        Number of classes; when given, ``y`` must hold whole numbers in ``[0, n_classes)``.
    batch_size : int, optional
        Batch size to check (must be an integer >= 1).

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        Floating point (integer or boolean input becomes float64).
    y : ndarray of shape (n_samples, ...)
        int64 when ``n_classes`` is given, otherwise as given.

    Raises
    ------
    ValueError
        Naming the problem and the offending values.
    """
    if batch_size is not None:
        _check_int("batch_size", batch_size, 1)
    X = _as_ndarray(X)
    y = _as_ndarray(y)
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == np.bool_) \
            or np.issubdtype(X.dtype, np.complexfloating):
        raise ValueError(f"X must be numeric (real numbers or booleans), got dtype {X.dtype}")
    if X.ndim != 2:
        hint = " (for a single feature use X.reshape(-1, 1))" if X.ndim == 1 else ""
        raise ValueError(f"X must be 2-D (n_samples, n_features), got {X.ndim}-D array of "
                         f"shape {X.shape}{hint}")
    if X.shape[0] == 0:
        raise ValueError(f"empty data set: X has 0 samples (shape {X.shape})")
    if X.shape[1] == 0:
        raise ValueError(f"empty data set: X has 0 features (shape {X.shape})")
    if y.ndim == 0:
        raise ValueError(f"y must have one entry per sample, got a scalar {y!r}")
    if len(X) != len(y):
        raise ValueError(f"X and y have different lengths: X has {len(X)} samples, "
                         f"y has {len(y)}")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(f"wrong number of features: got {X.shape[1]}, "
                         f"the model expects {n_features}")
    if not np.issubdtype(X.dtype, np.floating):
        X = X.astype(np.float64)
    finite = np.isfinite(X)
    if not finite.all():
        n_nan = int(np.isnan(X).sum())
        n_inf = int(np.isinf(X).sum())
        first_row = int(np.argmin(finite.all(axis=1)))
        raise ValueError(f"X contains non-finite values: {n_nan} NaN and {n_inf} inf; "
                         f"first in row {first_row}")
    if np.issubdtype(y.dtype, np.floating) and not np.isfinite(y).all():
        first_row = int(np.argmin(np.isfinite(y).reshape(len(y), -1).all(axis=1)))
        raise ValueError(f"y contains {int((~np.isfinite(y)).sum())} non-finite values "
                         f"(NaN or inf); first in row {first_row}")
    if n_classes is not None:
        if not (np.issubdtype(y.dtype, np.number) or y.dtype == np.bool_):
            raise ValueError(f"labels must be integers, got dtype {y.dtype}")
        if y.ndim != 1:
            raise ValueError(f"labels must be 1-D (one class index per sample), got shape "
                             f"{y.shape}")
        if y.dtype == np.bool_:
            y = y.astype(np.int64)
        if np.issubdtype(y.dtype, np.floating) and not np.all(y == np.round(y)):
            bad = int(np.argmax(y != np.round(y)))
            raise ValueError(f"labels must be whole numbers, got {y[bad].item()} in row {bad}")
        low, high = y.min().item(), y.max().item()
        if low < 0 or high >= n_classes:
            n_bad = int(((y < 0) | (y >= n_classes)).sum())
            raise ValueError(f"labels outside [0, {n_classes}): got min {low:g}, max {high:g} "
                             f"({n_bad} label(s) out of range)")
        y = y.astype(np.int64)
    return X, y


# --------------------------------------------------------------------------- splitting

def train_test_split(X, y, test_size=0.2, seed=0, stratify: bool = False):
    """Split rows at random into a training and a held-out (test or validation) part.

    Parameters
    ----------
    X : array_like of shape (n_samples, n_features)
    y : array_like of shape (n_samples,)
    test_size : float in (0, 1) or int
        Fraction of the rows (rounded to the nearest whole row) or number of rows to hold out.
        Both parts must end up non-empty.
    seed : int, numpy.random.Generator or None
        Source of randomness.
    stratify : bool
        Keep each class's share the same in both parts: each class's test count is within one
        row of its exact proportional share (so a class due at least one test row gets it),
        and the counts add up to the test size exactly.

    Returns
    -------
    X_train, X_test, y_train, y_test : ndarray
        Rows in random order; every input row lands in exactly one part.
    """
    X, y = validate_dataset(X, y)
    n = len(X)
    if isinstance(test_size, numbers.Integral) and not isinstance(test_size, bool):
        n_test = int(test_size)
    elif isinstance(test_size, numbers.Real) and 0 < test_size < 1:
        n_test = int(round(test_size * n))
    else:
        raise ValueError(f"test_size must be a fraction in (0, 1) or a number of rows, "
                         f"got {test_size!r}")
    if not 1 <= n_test <= n - 1:
        raise ValueError(f"test_size={test_size!r} gives {n_test} test rows out of {n}; "
                         "both parts must be non-empty")
    rng = _rng(seed)
    if not stratify:
        order = rng.permutation(n)
        test, train = order[:n_test], order[n_test:]
    else:
        classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
        if counts.min() < 2:
            raise ValueError(f"stratify=True needs at least 2 rows per class; class "
                             f"{classes[np.argmin(counts)].item()!r} has {counts.min()}")
        # largest-remainder allocation: per-class test counts that sum to n_test exactly
        exact = n_test * counts / n
        per_class = np.floor(exact).astype(int)
        remainder = np.round(exact - per_class, 9)
        # the leftover rows go to the largest remainders; ties are broken at random
        extra = np.lexsort((rng.random(len(counts)), -remainder))[: n_test - per_class.sum()]
        per_class[extra] += 1
        test_parts, train_parts = [], []
        for c, k in enumerate(per_class):
            members = rng.permutation(np.flatnonzero(inverse.ravel() == c))
            test_parts.append(members[:k])
            train_parts.append(members[k:])
        test = rng.permutation(np.concatenate(test_parts))
        train = rng.permutation(np.concatenate(train_parts))
    return X[train], X[test], y[train], y[test]


# --------------------------------------------------------------------------- scaling

class Standardizer:
    """Shift and scale each feature to mean 0, standard deviation 1, using training data only.

    Fit on the training part and apply the same transform to validation and test data, so no
    information leaks from them into training. A feature that is constant in the training data
    (standard deviation 0) is only centred (its scale is taken as 1), never divided by zero.

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
    scale_ : ndarray of shape (n_features,)
        Standard deviation per feature (population, ``ddof=0``), with 0 replaced by 1.
    """

    def __init__(self):
        self.mean_ = None
        self.scale_ = None

    def _check(self, X, fitting: bool) -> np.ndarray:
        X = _as_ndarray(X)
        X, _ = validate_dataset(X, np.zeros(X.shape[0] if X.ndim else 1))
        if not fitting:
            if self.mean_ is None:
                raise RuntimeError("Standardizer is not fitted yet: call fit(X_train) first")
            if X.shape[1] != len(self.mean_):
                raise ValueError(f"wrong number of features: got {X.shape[1]}, the "
                                 f"Standardizer was fitted on {len(self.mean_)}")
        return X

    def fit(self, X) -> "Standardizer":
        """Learn per-feature mean and scale from ``X`` of shape (n_samples, n_features)."""
        X = self._check(X, fitting=True)
        self.mean_ = X.mean(axis=0)
        std = X.std(axis=0)
        # treat a spread at rounding-error level as constant too
        tiny = 10 * np.finfo(X.dtype).eps * np.maximum(np.abs(self.mean_), 1.0)
        self.scale_ = np.where(std > tiny, std, 1.0)
        return self

    def transform(self, X) -> np.ndarray:
        """``(X - mean_) / scale_``, shape (n_samples, n_features)."""
        X = self._check(X, fitting=False)
        return (X - self.mean_) / self.scale_

    def fit_transform(self, X) -> np.ndarray:
        """``fit(X)`` then ``transform(X)``."""
        return self.fit(X).transform(X)

    def inverse_transform(self, Z) -> np.ndarray:
        """Undo :meth:`transform`: ``Z * scale_ + mean_``, back in the original units."""
        Z = self._check(Z, fitting=False)
        return Z * self.scale_ + self.mean_

    def __repr__(self) -> str:
        state = "unfitted" if self.mean_ is None else f"n_features={len(self.mean_)}"
        return f"Standardizer({state})"


# --------------------------------------------------------------------------- batching

class Split(NamedTuple):
    """A data set split for training: arrays, the fitted Standardizer (or None), class count."""

    X_train: np.ndarray
    X_val: np.ndarray
    y_train: np.ndarray
    y_val: np.ndarray
    scaler: "Standardizer | None"
    n_classes: int


def load_split(name: str, *, seed: int = 0, val_split: float = 0.2, standardize: bool = True,
               n_samples: int | None = None, noise: float | None = None) -> Split:
    """The data set ``name`` split as ``steepest train`` and ``steepest sweep`` use it.

    ``seed`` drives the generated sets' points and the stratified split (the digits are
    fixed); the Standardizer is fitted on the training part only. ``n_samples`` and ``noise``
    (None: the set's default) apply to the generated sets.
    """
    kwargs = {k: v for k, v in (("n_samples", n_samples), ("noise", noise)) if v is not None}
    if name != "digits":
        kwargs["seed"] = seed
    X, y = load_dataset(name, **kwargs)
    if not np.isfinite(X).all():
        raise ValueError(f"noise {noise:g} is too large: the generated points overflow to "
                         f"infinity")
    X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=val_split, seed=seed,
                                                      stratify=True)
    scaler = None
    if standardize:
        scaler = Standardizer().fit(X_train)
        X_train, X_val = scaler.transform(X_train), scaler.transform(X_val)
    return Split(X_train, X_val, y_train, y_val, scaler, int(np.max(y)) + 1)
