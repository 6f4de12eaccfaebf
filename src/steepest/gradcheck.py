"""Check a function's autodiff gradients against central finite differences.

For users checking their own functions as much as for steepest's own tests: the analytic
gradient from ``backward()`` is compared, element by element, with
(f(x + ε) − f(x − ε)) / 2ε computed in float64.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from steepest.tensor import Tensor

__all__ = ["gradcheck", "GradcheckResult"]


@dataclass
class GradcheckResult:
    """Outcome of ``gradcheck``: the largest errors and where the worst one is."""

    ok: bool
    max_abs_error: float
    max_rel_error: float
    worst_input: int
    worst_index: tuple

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        verdict = "passed" if self.ok else "FAILED"
        return (f"gradcheck {verdict}: max abs error {self.max_abs_error:.3g}, max rel error "
                f"{self.max_rel_error:.3g} (worst at input {self.worst_input}, index "
                f"{self.worst_index})")


def _scalar_output(fn, inputs, projection):
    out = fn(*inputs)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    if projection is None:
        return out
    return (out * projection).sum()


def gradcheck(fn, *inputs, eps: float = 1e-6, atol: float = 1e-7, rtol: float = 1e-5,
              seed: int = 0, raise_on_failure: bool = False) -> GradcheckResult:
    """Compare autodiff and finite-difference gradients of ``fn`` at ``inputs``.

    Parameters
    ----------
    fn : callable
        Takes the inputs (Tensors) and returns a Tensor. A non-scalar output is reduced with a
        fixed random weighting Σ r_i·out_i, which checks the vector-Jacobian product.
    inputs : array_like or Tensor
        Points at which to check; each is copied to float64 and differentiated.
    eps, atol, rtol : float
        Step of the central difference and the tolerance |a − n| ≤ atol + rtol·|n|.

    Returns
    -------
    GradcheckResult
        ``ok``, the largest absolute and relative errors and where the worst one sits.
    """
    points = [Tensor(np.array(x._data if isinstance(x, Tensor) else x, dtype=np.float64),
                     requires_grad=True) for x in inputs]
    first = _scalar_output(fn, points, None)
    projection = None
    if first._data.size != 1:
        projection = np.random.default_rng(seed).standard_normal(first.shape)
    _scalar_output(fn, points, projection).backward()
    analytic = [p._grad if p._grad is not None else np.zeros_like(p._data) for p in points]

    worst = (0.0, 0.0, 0, ())
    ok = True
    for which, point in enumerate(points):
        flat = point._data.reshape(-1)
        for i in range(flat.size):
            original = flat[i]
            flat[i] = original + eps
            plus = _scalar_output(fn, points, projection).item()
            flat[i] = original - eps
            minus = _scalar_output(fn, points, projection).item()
            flat[i] = original
            numeric = (plus - minus) / (2 * eps)
            got = analytic[which].reshape(-1)[i]
            abs_error = abs(got - numeric)
            rel_error = abs_error / max(abs(numeric), 1e-12)
            if abs_error > atol + rtol * abs(numeric):
                ok = False
            if abs_error > worst[0]:
                worst = (abs_error, rel_error, which,
                         tuple(int(k) for k in np.unravel_index(i, point.shape)))
    result = GradcheckResult(ok, worst[0], worst[1], worst[2], worst[3])
    if raise_on_failure and not ok:
        raise AssertionError(str(result))
    return result
