"""L-BFGS: a quasi-Newton method that builds curvature from the last few steps and gradients."""

from __future__ import annotations

import copy
import math

import numpy as np

from steepest.optim.optimizer import Optimizer, _check_non_negative, check_hyperparameter
from steepest.tensor import bump_version, enable_grad

__all__ = ["LBFGS"]


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None) -> float:
    """The minimiser of the cubic through (x1, f1, g1) and (x2, f2, g2), clipped to bounds."""
    if bounds is not None:
        xmin_bound, xmax_bound = bounds
    else:
        xmin_bound, xmax_bound = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if d2_square >= 0:
        d2 = math.sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, xmin_bound), xmax_bound)
    return (xmin_bound + xmax_bound) / 2.0


def _strong_wolfe(obj_func, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9,
                  max_ls=25):
    """A step t along d meeting the strong Wolfe conditions (Nocedal & Wright, Alg. 3.5/3.6):
    f(x + t·d) ≤ f + c1·t·gtd and |∇f(x + t·d)·d| ≤ c2·|gtd|, by bracketing then zooming
    with cubic interpolation. Returns (f_new, g_new, t, function evaluations)."""
    d_norm = float(np.max(np.abs(d)))
    g = g.copy()
    f_new, g_new = obj_func(x, t, d)
    ls_func_evals = 1
    gtd_new = float(g_new.dot(d))
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    while ls_iter < max_ls:                     # bracket an interval
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        tmp = t
        t = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                               bounds=(min_step, max_step))
        t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new.copy(), gtd_new
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = float(g_new.dot(d))
        ls_iter += 1
    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]

    insuf_progress = False                      # zoom in on the bracket
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0],
                               bracket[1], bracket_f[1], bracket_gtd[1])
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:   # too close to an end
            if insuf_progress or t >= max(bracket) or t <= min(bracket):
                if abs(t - max(bracket)) < abs(t - min(bracket)):
                    t = max(bracket) - eps
                else:
                    t = min(bracket) + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = float(g_new.dot(d))
        ls_iter += 1
        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
            bracket[high_pos], bracket_f[high_pos] = t, f_new
            bracket_g[high_pos], bracket_gtd[high_pos] = g_new.copy(), gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                bracket[high_pos], bracket_f[high_pos] = bracket[low_pos], bracket_f[low_pos]
                bracket_g[high_pos] = bracket_g[low_pos]
                bracket_gtd[high_pos] = bracket_gtd[low_pos]
            bracket[low_pos], bracket_f[low_pos] = t, f_new
            bracket_g[low_pos], bracket_gtd[low_pos] = g_new.copy(), gtd_new
    return bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], ls_func_evals


class LBFGS(Optimizer):
    r"""L-BFGS (Liu & Nocedal, 1989), step for step as ``torch.optim.LBFGS``.

    ``step(closure)`` runs up to ``max_iter`` iterations; ``closure`` zeroes the gradients,
    computes the loss, calls ``backward()`` and returns the loss. With g the gradient of all
    parameters as one vector and the last pairs sₖ = Δw, yₖ = Δg (kept when yₖ·sₖ > 1e-10,
    at most ``history_size``), each iteration moves along d = −H·g where H ≈ ∇²f⁻¹ is
    applied by the two-loop recursion::

        q = −g ;  for k newest→oldest: αₖ = ρₖ·sₖ·q,  q ← q − αₖ·yₖ      (ρₖ = 1/(yₖ·sₖ))
        r = γ·q  (γ = yₖ·sₖ / yₖ·yₖ, the newest pair)
        for k oldest→newest: βₖ = ρₖ·yₖ·r,  r ← r + (αₖ − βₖ)·sₖ ;   d = r
        w ← w + t·d

    with t = lr (the first iteration ever: min(1, 1/‖g‖₁)·lr), or t from a strong-Wolfe
    line search (``line_search_fn='strong_wolfe'``). It stops early when max|g| ≤
    tolerance_grad, when the step or the loss change is below tolerance_change, or after
    ``max_eval`` closure calls. Defaults: lr=1, max_iter=20, max_eval=max_iter·5//4,
    tolerance_grad=1e-7, tolerance_change=1e-9, history_size=100, line_search_fn=None.
    One parameter group only; the state sits on the first parameter, as in torch.

    How far it equals torch (float64, measured in tests/test_optim_new.py): with max_iter ≤ 3,
    8 outer steps agree to ~1e-14 on a small MLP and on Rosenbrock, with or without the line
    search. Every dot product (yₖ·sₖ, the line search's g·d) sums in another order than
    torch's, and L-BFGS feeds those last-bit differences back into its step lengths, so with
    the defaults (20 inner iterations) the first outer step agrees to ~1e-14 (3e-13 with
    the line search) and the later ones drift: ~1e-8 after the second outer step on the MLP,
    ~1e-7 once the tolerances stop the two runs at different inner iterations; ~2e-10 on
    Rosenbrock. Both end at the same minimum.

    Keras differs: Keras has no L-BFGS (TensorFlow Probability's ``lbfgs_minimize`` runs a
    whole minimisation, with its own Hager–Zhang line search).
    """

    flat_storage = False
    needs_closure = True  #: step(closure): fit and the other surfaces pass one

    def __init__(self, params, lr: float = 1, max_iter: int = 20, max_eval: int | None = None,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9,
                 history_size: int = 100, line_search_fn: str | None = None):
        if max_eval is None and isinstance(max_iter, int):
            max_eval = max_iter * 5 // 4
        super().__init__(params, {"lr": lr, "max_iter": max_iter, "max_eval": max_eval,
                                  "tolerance_grad": tolerance_grad,
                                  "tolerance_change": tolerance_change,
                                  "history_size": history_size,
                                  "line_search_fn": line_search_fn})
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS: got several parameter groups; LBFGS (as in torch) takes "
                             "one list of parameters with one set of options")
        self._params = self.param_groups[0]["params"]

    def _validate(self, group: dict) -> None:
        super()._validate(group)
        name = type(self).__name__
        for key in ("max_iter", "max_eval", "history_size"):
            value = group[key]
            check_hyperparameter(name, key, value, isinstance(value, (int, np.integer))
                                 and not isinstance(value, bool) and value >= 1,
                                 "a positive integer")
        _check_non_negative(name, group, ("tolerance_grad", "tolerance_change"))
        check_hyperparameter(name, "line_search_fn", group["line_search_fn"],
                             group["line_search_fn"] in (None, "strong_wolfe"),
                             "None or 'strong_wolfe'")

    def _state_shape(self, key: str, param):
        return None  # the state is about all parameters as one vector

    def _gather_flat_grad(self) -> np.ndarray:
        return np.concatenate([np.zeros(p._data.size, dtype=p._data.dtype) if p._grad is None
                               else p._grad.reshape(-1) for p in self._params])

    def _add_grad(self, step_size: float, update: np.ndarray) -> None:
        offset = 0
        for p in self._params:
            numel = p._data.size
            p._data += update[offset:offset + numel].reshape(p._data.shape) * step_size
            bump_version(p)
            offset += numel

    def _set_param(self, values: list) -> None:
        for p, value in zip(self._params, values):
            p._data[...] = value
            bump_version(p)

    def _directional_evaluate(self, closure, x, t, d):
        self._add_grad(t, d)
        loss = float(closure())
        flat_grad = self._gather_flat_grad()
        self._set_param(x)
        return loss, flat_grad

    def step(self, closure):  # type: ignore[override]
        """Up to max_iter L-BFGS iterations; returns the loss of the first closure call."""
        if closure is None or not callable(closure):
            raise TypeError(f"LBFGS.step: closure must be a function that zeroes the "
                            f"gradients, computes the loss, calls backward() and returns the "
                            f"loss; got {closure!r}")

        def evaluate():
            with enable_grad():
                return closure()

        if len(self.param_groups) != 1:
            raise ValueError(f"LBFGS.step: has {len(self.param_groups)} parameter groups (one "
                             f"was added with add_param_group); LBFGS takes exactly one")
        self._step_count += 1
        group = self.param_groups[0]
        lr = float(group["lr"])
        max_iter, max_eval = group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn, history_size = group["line_search_fn"], group["history_size"]
        state = self.state.setdefault(self._params[0], {})
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = evaluate()
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._gather_flat_grad()
        if np.max(np.abs(flat_grad)) <= tolerance_grad:
            return orig_loss

        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        H_diag, prev_flat_grad = state.get("H_diag"), state.get("prev_flat_grad")
        prev_loss = state.get("prev_loss")
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:           # the direction: steepest descent at first
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1
            else:                              # then the two-loop recursion
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = float(y.dot(s))
                if ys > 1e-10:
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / float(y.dot(y))
                num_old = len(old_dirs)
                al = state.setdefault("al", [None] * history_size)
                q = -flat_grad
                for i in range(num_old - 1, -1, -1):
                    al[i] = float(old_stps[i].dot(q)) * ro[i]
                    q += old_dirs[i] * -al[i]
                d = r = q * H_diag
                for i in range(num_old):
                    be_i = float(old_dirs[i].dot(r)) * ro[i]
                    r += old_stps[i] * (al[i] - be_i)
            if prev_flat_grad is None:
                prev_flat_grad = flat_grad.copy()
            else:
                prev_flat_grad[...] = flat_grad
            prev_loss = loss

            if state["n_iter"] == 1:            # the step length
                t = min(1.0, 1.0 / float(np.sum(np.abs(flat_grad)))) * lr
            else:
                t = lr
            gtd = float(flat_grad.dot(d))
            if gtd > -tolerance_change:
                break
            ls_func_evals = 0
            if line_search_fn is not None:
                x_init = [p._data.copy() for p in self._params]
                loss, flat_grad, t, ls_func_evals = _strong_wolfe(
                    lambda x, t, d: self._directional_evaluate(evaluate, x, t, d),
                    x_init, t, d, loss, flat_grad, gtd, max_ls=max_eval - current_evals)
                self._add_grad(t, d)
                opt_cond = np.max(np.abs(flat_grad)) <= tolerance_grad
            else:
                self._add_grad(t, d)
                if n_iter != max_iter:         # no re-evaluation after the last iteration
                    loss = float(evaluate())
                    flat_grad = self._gather_flat_grad()
                    opt_cond = np.max(np.abs(flat_grad)) <= tolerance_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals
            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if np.max(np.abs(d * t)) <= tolerance_change:
                break
            if abs(loss - prev_loss) < tolerance_change:
                break
        state.update({"d": d, "t": t, "old_dirs": old_dirs, "old_stps": old_stps, "ro": ro,
                      "H_diag": H_diag, "prev_flat_grad": prev_flat_grad,
                      "prev_loss": prev_loss})
        return orig_loss

    def state_dict(self) -> dict:
        saved = super().state_dict()
        saved["state"] = copy.deepcopy(saved["state"])  # its history lists, not shared
        return saved

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        self.state = {p: copy.deepcopy(s) for p, s in self.state.items()}
