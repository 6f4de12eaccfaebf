"""The playground's 2-D data sets and input features, on the plane [-6, 6]².

Binary sets (circle, xor, gauss, spiral) and the regression sets (plane, reg-gauss) follow
TensorFlow Playground's recipes; moons, multiclass spirals and blobs come from
:mod:`steepest.data`, scaled onto the same plane. ``noise`` is a fraction in [0, 0.5] as in
TF Playground's 0–50 % slider. Classes are integer labels 0..k-1; regression targets lie
in [-1, 1].
"""

from __future__ import annotations

import numpy as np

from steepest import data as st_data

__all__ = [
    "features", "make_dataset", "split", "DOMAIN", "RADIUS", "CLASSIFICATION", "REGRESSION",
    "DATASETS", "MULTICLASS", "FEATURES",
]

DOMAIN = 6.0
RADIUS = 5.0

CLASSIFICATION = ("circle", "xor", "gauss", "spiral", "moons", "spirals", "blobs", "custom")
REGRESSION = ("plane", "reg-gauss")
DATASETS = CLASSIFICATION + REGRESSION
MULTICLASS = ("spirals", "blobs")

FEATURES = {
    "x1": ("X₁", lambda a, b: a),
    "x2": ("X₂", lambda a, b: b),
    "x1sq": ("X₁²", lambda a, b: a * a),
    "x2sq": ("X₂²", lambda a, b: b * b),
    "x1x2": ("X₁X₂", lambda a, b: a * b),
    "sinx1": ("sin X₁", lambda a, b: np.sin(a)),
    "sinx2": ("sin X₂", lambda a, b: np.sin(b)),
}


def features(points: np.ndarray, names) -> np.ndarray:
    """The chosen input features of points of shape (n, 2): shape (n, len(names))."""
    a, b = points[:, 0], points[:, 1]
    return np.column_stack([FEATURES[name][1](a, b) for name in names])


def _circle(n, noise, rng):
    half = n // 2
    r = np.concatenate([rng.uniform(0, RADIUS * 0.5, half), rng.uniform(RADIUS * 0.7, RADIUS, n - half)])
    angle = rng.uniform(0, 2 * np.pi, n)
    points = np.column_stack([r * np.sin(angle), r * np.cos(angle)])
    points += rng.uniform(-RADIUS, RADIUS, (n, 2)) * noise
    return points, (np.arange(n) >= half).astype(np.int64)


def _xor(n, noise, rng):
    points = rng.uniform(-RADIUS, RADIUS, (n, 2))
    points += np.where(points > 0, 0.3, -0.3)  # keep away from the axes
    labels = (points[:, 0] * points[:, 1] < 0).astype(np.int64)
    points += rng.uniform(-RADIUS, RADIUS, (n, 2)) * noise
    return points, labels


def _gauss(n, noise, rng):
    spread = 0.5 + 3.5 * noise
    labels = np.arange(n) % 2
    centres = np.array([[2.0, 2.0], [-2.0, -2.0]])
    return centres[labels] + rng.normal(0, spread, (n, 2)), labels


def _spiral(n, noise, rng):
    labels = np.arange(n) % 2
    t = np.repeat(np.arange((n + 1) // 2), 2)[:n] / max(1, n // 2)
    r = t * RADIUS
    angle = 1.75 * t * 2 * np.pi + labels * np.pi
    points = np.column_stack([r * np.sin(angle), r * np.cos(angle)])
    return points + rng.uniform(-1, 1, (n, 2)) * noise * RADIUS * 0.5, labels


def _plane(n, noise, rng):
    points = rng.uniform(-RADIUS, RADIUS, (n, 2))
    target = np.clip((points[:, 0] + points[:, 1]) / 10.0, -1, 1)
    return points + rng.uniform(-RADIUS, RADIUS, (n, 2)) * noise, target


_BUMPS = np.array([[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1], [-4, -2.5, -1], [0, -2.5, 1],
                   [4, -2.5, -1]], dtype=np.float64)


def _reg_gauss(n, noise, rng):
    points = rng.uniform(-RADIUS, RADIUS, (n, 2))
    d2 = ((points[:, None, :] - _BUMPS[None, :, :2]) ** 2).sum(axis=2)
    target = np.clip((_BUMPS[:, 2] * np.exp(-d2 / 2.0)).sum(axis=1), -1, 1)
    return points + rng.uniform(-RADIUS, RADIUS, (n, 2)) * noise, target


def _moons(n, noise, rng):
    X, y = st_data.make_moons(n, noise=noise, seed=rng)
    return (X - [0.5, 0.25]) * 2.8, y


def _spirals(n, noise, rng, n_classes):
    X, y = st_data.make_spirals(n, n_arms=n_classes, noise=noise * 0.5, seed=rng)
    return X * RADIUS, y


def _blobs(n, noise, rng, n_classes):
    X, y = st_data.make_blobs(n, centers=n_classes, noise=0.3 + 2 * noise, seed=rng)
    return X * 1.8, y


_MAKERS = {"circle": _circle, "xor": _xor, "gauss": _gauss, "spiral": _spiral, "moons": _moons,
           "plane": _plane, "reg-gauss": _reg_gauss}


def make_dataset(name: str, n_samples: int, noise: float, seed: int, n_classes: int = 3,
                 points=None):
    """``(X, y)`` for a playground data set: X of shape (n, 2), y labels or targets.

    ``points`` (for 'custom') is a list of ``[x1, x2, label]``.
    """
    rng = np.random.default_rng(seed)
    if name == "custom":
        rows = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        return rows[:, :2].copy(), rows[:, 2].astype(np.int64)
    if name == "spirals":
        return _spirals(n_samples, noise, rng, n_classes)
    if name == "blobs":
        return _blobs(n_samples, noise, rng, n_classes)
    return _MAKERS[name](n_samples, noise, rng)


def split(X, y, train_ratio: float, seed: int):
    """Shuffle with ``seed`` and cut into train and test parts (at least one row each)."""
    order = np.random.default_rng(seed + 1).permutation(len(X))
    n_train = min(len(X) - 1, max(1, int(round(len(X) * train_ratio))))
    return X[order[:n_train]], y[order[:n_train]], X[order[n_train:]], y[order[n_train:]]
