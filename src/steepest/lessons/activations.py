"""Lesson 5: the seven activation functions of the course, and their derivatives.

Each function of ``steepest.activations.ACTIVATIONS`` is evaluated on a grid; its derivative
is taken by the engine's autodiff (``f(z).sum().backward()``, which for an elementwise f
leaves f'(z) in ``z.grad``) and checked against the registry's NumPy derivative. Softmax is
not elementwise: its curve is the first probability of softmax([z, s2, s3]) as the first
score z varies, and its derivative the Jacobian's diagonal entry ∂p1/∂z1.
"""

from __future__ import annotations

import numpy as np

from steepest.activations import softmax
from steepest.tensor import tensor
from steepest.activations import ACTIVATIONS
from steepest.lessons._base import Lesson, Table, timed

__all__ = ["activations", "ORDER"]

#: The course's order.
ORDER = ("sigmoid", "tanh", "relu", "softmax", "binary_step", "linear", "leaky_relu")

COURSE = [
    "Activation functions introduce non-linearity, allowing a network to learn complex "
    "patterns. The seven most common: sigmoid, tanh, ReLU, softmax, binary step, linear and "
    "leaky ReLU (the last three are not popular).",
    "Sigmoid: range (0, 1), gradients become very small for large |z| (vanishing gradient), "
    "not symmetric around the origin. Tanh: range (−1, 1), symmetric, but still saturates.",
    "ReLU: range [0, ∞), activates only positive inputs, does not let the gradient vanish for "
    "them, sparse activations; preferred in hidden layers. Softmax: range (0, 1), turns raw "
    "output scores into probabilities summing to 1, for the output layer of classifiers.",
]


def _elementwise(name: str, grid: np.ndarray):
    z = tensor(grid, requires_grad=True)
    out = ACTIVATIONS[name].function(z)
    out.sum().backward()
    # linear is the identity: out is z itself, and z.grad holds d(sum z)/dz = 1
    return out._data.copy(), z.grad.copy(), ACTIVATIONS[name].derivative(grid)


def _softmax_curve(grid: np.ndarray, other_scores):
    scores = np.column_stack([grid] + [np.full_like(grid, s) for s in other_scores])
    z = tensor(scores, requires_grad=True)
    p = softmax(z, axis=-1)
    p[:, 0].sum().backward()          # ∂p1/∂z1 lands in column 0 (each row independent)
    numpy_derivative = np.array([ACTIVATIONS["softmax"].derivative(row)[0, 0]
                                 for row in scores])
    return p._data[:, 0].copy(), z.grad[:, 0].copy(), numpy_derivative


def _span(values) -> str:
    """'v' when every value is v, else 'between a and b'."""
    low, high = float(np.min(values)), float(np.max(values))
    return f"{low:g}" if low == high else f"between {low:g} and {high:g}"


def activations(z_min: float = -5.0, z_max: float = 5.0, points: int = 401,
                softmax_others=(0.0, 1.0), scores=(2.0, 1.0, 0.1, -1.0, 3.0)) -> Lesson:
    """Run lesson 5.

    z_min, z_max, points : the grid on which every function and derivative is evaluated.
    softmax_others : the other scores of the softmax curve (the first score varies).
    scores : a score vector to turn into probabilities with softmax.
    """
    with timed() as clock:
        grid = np.linspace(z_min, z_max, points)
        curves, rows, checks = {}, [], {}
        for name in ORDER:
            spec = ACTIVATIONS[name]
            if name == "softmax":
                f, autodiff, numpy_d = _softmax_curve(grid, softmax_others)
            else:
                f, autodiff, numpy_d = _elementwise(name, grid)
            gap = float(np.max(np.abs(autodiff - numpy_d)))
            checks[name] = gap
            curves[name] = {"f": f, "derivative": autodiff, "numpy_derivative": numpy_d}
            rows.append([name, spec.formula, spec.range, float(f.min()), float(f.max()),
                         float(autodiff.min()), float(autodiff.max()), gap,
                         spec.characteristic])

        s = tensor(np.array(scores, dtype=float))
        probabilities = softmax(s)._data
        order = np.argsort(-probabilities)
        jac = ACTIVATIONS["softmax"].derivative(np.array(scores, dtype=float))

        sig = curves["sigmoid"]["derivative"]
        tan = curves["tanh"]["derivative"]
        relu_d = curves["relu"]["derivative"]
        leaky_d = curves["leaky_relu"]["derivative"]
        linear_d = curves["linear"]["derivative"]
        far = np.abs(grid) >= 4.0
        positive = grid > 0
        order_kept = bool(np.array_equal(np.argsort(-np.asarray(scores)), order))
        inside = bool(np.all((probabilities > 0) & (probabilities < 1)))
        worst = max(checks, key=checks.get)
        findings = [
            f"On {points} points in [{z_min:g}, {z_max:g}] the autodiff derivatives "
            + ("match" if checks[worst] < 1e-9 else "do NOT all match")
            + f" the registry's NumPy derivatives (largest gap {checks[worst]:.1e}, {worst}).",
            f"The sigmoid's derivative peaks at {sig.max():.4f} (z = {grid[np.argmax(sig)]:g}) "
            f"and is at most {sig[far].max():.4f} for |z| ≥ 4: backpropagating through ten "
            f"sigmoid layers multiplies a gradient by ten such derivatives, at most "
            f"0.25¹⁰ ≈ {0.25 ** 10:.1e} (times the weights).",
            f"tanh's derivative peaks at {tan.max():.4f}, {tan.max() / sig.max():.0f} times the "
            f"sigmoid's, but is "
            f"at most {tan[far].max():.4f} for |z| ≥ 4: it saturates too.",
            f"ReLU's derivative is 1 at {int(np.sum(relu_d[positive] == 1))} of the "
            f"{int(np.sum(positive))} grid points with z > 0 and 0 at "
            f"{int(np.sum(relu_d[~positive] == 0))} of the {int(np.sum(~positive))} with z ≤ 0; "
            f"leaky ReLU's is {_span(leaky_d[~positive])} for z ≤ 0; the binary step's is "
            f"{_span(curves['binary_step']['derivative'])} on the whole grid"
            + (", so it cannot learn by gradient descent"
               if not np.any(curves["binary_step"]["derivative"]) else "")
            + f"; linear's is {_span(linear_d)}.",
            f"softmax turns the scores {list(scores)} into probabilities "
            f"{', '.join(f'{p:.4f}' for p in probabilities)} (sum "
            f"{probabilities.sum():.12g}); the order is "
            f"{'kept' if order_kept else 'NOT kept'} (highest: score {scores[order[0]]:g} "
            f"→ {probabilities[order[0]]:.3f}) and "
            + ("every probability lies in (0, 1)." if inside else
               f"the probabilities span [{probabilities.min():.3g}, {probabilities.max():.3g}]."),
        ]
        table = Table(
            "The seven activation functions",
            ["name", "formula", "range (course)", "min f on grid", "max f on grid",
             "min f′", "max f′", "|autodiff − NumPy| max", "characteristic"],
            rows, note=f"Grid: {points} points in [{z_min:g}, {z_max:g}]. Softmax: first "
                       f"probability of softmax([z, {', '.join(f'{v:g}' for v in softmax_others)}])"
                       f", derivative ∂p1/∂z1.")
        softmax_table = Table(
            "softmax of a score vector", ["score z_i", "probability softmax(z)_i",
                                          "∂p_i/∂z_i"],
            [[float(a), float(b), float(jac[i, i])]
             for i, (a, b) in enumerate(zip(scores, probabilities))],
            note=f"Sum of probabilities: {probabilities.sum():.15g}.")

    return Lesson(
        name="activations", title="5. Activation functions and their derivatives",
        course=COURSE, tables=[table, softmax_table], findings=findings,
        data={"grid": grid, "order": list(ORDER), "curves": curves, "max_gap": checks,
              "formulas": {n: ACTIVATIONS[n].formula for n in ORDER},
              "ranges": {n: ACTIVATIONS[n].range for n in ORDER},
              "softmax_others": list(softmax_others),
              "softmax": {"scores": list(scores), "probabilities": probabilities,
                          "jacobian": jac}},
        params={"z_min": z_min, "z_max": z_max, "points": points,
                "softmax_others": list(softmax_others), "scores": list(scores)},
        seconds=clock.seconds)
