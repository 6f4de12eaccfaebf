"""The lessons: their numbers against the hand-computed reference values, and their claims
(learning-rate classes, vanishing gradient, derivatives) against their own measurements."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from steepest.lessons import (
    LESSON_NAMES, activations, backpropagation, gradient_descent, notebook_exercise,
    optimizers, run_lesson, vanishing_gradient,
)
from steepest.lessons.gradient_descent import classify_run
from steepest.lessons.optimizers import OPTIMIZERS, PROBLEMS, select_rate
from steepest.optim.functions import run_path

REFERENCE = json.loads((Path(__file__).parent / "data" / "reference_values.json")
                       .read_text(encoding="utf-8"))
RTOL = 1e-9


def assert_close(actual, expected, what):
    np.testing.assert_allclose(np.asarray(actual, dtype=float), np.asarray(expected, dtype=float),
                               rtol=RTOL, atol=0, err_msg=what)


@pytest.fixture(scope="module")
def gd():
    return gradient_descent()


@pytest.fixture(scope="module")
def exercise():
    return notebook_exercise()


@pytest.fixture(scope="module")
def backprop():
    return backpropagation()


# ------------------------------------------------------------------ 1. gradient descent
def test_gradient_descent_iterations_match_reference(gd):
    ref = REFERENCE["linear_gd"]
    it = gd.data["iterations"]
    assert it["iteration"] == [0, 1, 2, 3]
    assert_close(gd.data["x"], ref["x"], "x")
    assert_close(it["w"], ref["w"], "w per iteration")
    assert_close(it["J"], ref["J"], "J per iteration")
    assert_close(it["dJdw"], ref["dJdw"], "dJ/dw per iteration")
    assert gd.params["w0"] == ref["w0"] and gd.params["alpha"] == ref["alpha"]
    table = gd.table("Iterations")
    assert_close([row[1] for row in table.rows], ref["w"], "w in the table")


def test_gradient_descent_thresholds_from_sum_of_squares(gd):
    assert gd.data["sum_x2"] == pytest.approx(0.55, rel=1e-12)
    assert gd.data["thresholds"]["one_step"] == pytest.approx(1 / 1.1, rel=1e-12)
    assert gd.data["thresholds"]["divergence"] == pytest.approx(1 / 0.55, rel=1e-12)


def _distances(run):
    return np.abs(np.asarray(run["w"], dtype=float) - 2.0)


def _sign_changes(run):
    s = np.sign(np.asarray(run["w"], dtype=float) - 2.0)
    return int(np.sum(s[1:] * s[:-1] < 0))


def test_each_learning_rate_class_is_what_its_numbers_show(gd):
    runs = {r["class"]: r for r in gd.data["runs"]}
    assert set(runs) == {"slow", "well chosen", "overshooting", "divergent"}, \
        "the study must show all four behaviours"
    tol, steps = gd.data["tol"], gd.params["steps"]
    for run in gd.data["runs"]:
        d = _distances(run)
        changes = _sign_changes(run)
        assert len(d) == steps + 1
        if run["class"] == "slow":
            assert changes == 0 and np.all(np.diff(d) < 0), "slow: one-sided, shrinking"
            assert d[-1] >= tol, "slow: not converged within the steps"
        elif run["class"] == "well chosen":
            assert changes == 0, "well chosen: never overshoots"
            assert d.min() < tol and np.flatnonzero(d < tol)[0] == run["steps_to_tol"]
        elif run["class"] == "overshooting":
            assert changes == steps, "overshooting: w − 2 changes sign every step"
            assert np.all(np.diff(d) < 0), "overshooting here still converges"
        else:
            assert np.all(np.diff(d) > 0), "divergent: |w − 2| grows every step"
            assert d[-1] > 100 * d[0]


def test_learning_rate_classes_agree_with_the_theory(gd):
    """The engine's runs fall where 1 − 2αΣx² says they should."""
    th = gd.data["thresholds"]
    for run in gd.data["runs"]:
        a = run["alpha"]
        expected = ("divergent" if a > th["divergence"] else
                    "overshooting" if a > th["one_step"] else None)
        if expected:
            assert run["class"] == expected, (a, run["class"])
        else:
            assert run["class"] in ("slow", "well chosen"), (a, run["class"])
        assert run["mean_contraction"] == pytest.approx(abs(run["theory_factor"]), rel=1e-6)


@pytest.mark.parametrize("w, expected", [
    ([0.0, 0.5, 1.0, 1.4], "slow"),
    ([0.0, 1.9, 1.9999, 2.0], "well chosen"),
    ([0.0, 3.0, 1.5, 2.2], "overshooting"),
    ([1.0, 3.5, -0.5, 6.0], "divergent"),
    ([1.0, 0.5, 0.0, -1.0], "divergent"),
])
def test_classify_run_reads_trajectories(w, expected):
    assert classify_run(np.array(w), tol=1e-3)["class"] == expected


# ------------------------------------------------------------------ 2. notebook exercise
def test_notebook_exercise_matches_reference(exercise):
    ref = REFERENCE["notebook_exercise"]
    d = exercise.data
    assert_close(d["prediction"], ref["prediction"], "prediction")
    assert_close(d["loss"], ref["loss"], "loss")
    assert_close(d["gradient"], ref["gradient"], "G1")
    assert_close(d["diverges_above_lr"], ref["diverges_above_lr"], "limit 2/15")
    runs = {r["label"]: r for r in d["runs"]}
    for lr, value in ref["loss_after_one_step"].items():
        assert_close(runs[lr]["loss_after_one_step"], value, f"loss after one step, lr {lr}")
    for lr, steps in ref["steps_below_1_30"].items():
        assert runs[lr]["steps_to_threshold"] == steps, lr
    assert runs["1/15"]["steps_to_threshold"] == 1
    assert runs["1/15"]["loss_after_one_step"] < 1e-28
    assert runs["0.14"]["steps_to_threshold"] is None and runs["0.14"]["grows_every_step"]


def test_notebook_exercise_divergence_starts_at_two_fifteenths(exercise):
    limit = exercise.data["diverges_above_lr"]
    for run in exercise.data["runs"]:
        assert run["grows_every_step"] == (run["lr"] > limit), run["label"]


def test_notebook_exercise_loss_factor_per_step_is_the_theorys(exercise):
    """Each step multiplies the loss by (1 − 15 lr)², 15 = 2·Σinput²/4 (reference README)."""
    for run in exercise.data["runs"]:
        theory = (1 - 15 * run["lr"]) ** 2
        assert run["theory_factor"] == pytest.approx(theory, rel=1e-12), run["label"]
        losses = np.asarray(run["losses"], dtype=float)[:4]
        big = losses[:-1] > 1e-12   # past the exact 1/15 step only round-off is left
        np.testing.assert_allclose((losses[1:] / losses[:-1])[big], theory, rtol=1e-9,
                                   atol=1e-28, err_msg=run["label"])
    row = exercise.table("Gradient descent").rows[0]
    assert row[2] == pytest.approx(row[3], rel=1e-9)  # theory and measured columns agree


def test_notebook_exercise_points_out_the_transposed_cell(exercise):
    t = exercise.data["transposed"]
    assert_close(t["prediction"], [13.9] * 4, "New_W1 @ input with the original W1")
    assert_close(t["loss"], 109.41, "its loss")
    assert any("New_W1 @ input" in f and "109.41" in f for f in exercise.findings)


# ------------------------------------------------------------------ 3. backpropagation
def test_backpropagation_matches_reference(backprop):
    ref = REFERENCE["two_neuron_chain"]
    d = backprop.data
    for key in ("z1", "a1", "z2", "a2", "E", "dE_dw2", "dE_db2", "dE_dw1", "dE_db1"):
        assert_close(d[key], ref[key], key)
    for key, value in ref["after_one_step"].items():
        assert_close(d["after_one_step"][key], value, f"{key} after one step")
    for iteration, value in ref["E_before_iteration"].items():
        assert_close(d["E_before_iteration"][iteration], value, f"E before {iteration}")


def test_backpropagation_chain_rule_equals_autodiff(backprop):
    d = backprop.data
    for key, value in d["chain_rule"].items():
        assert_close(value, d[key], f"chain rule vs autodiff for {key}")
    f = d["factors"]
    assert_close(f["dE/da2 = −(T − a2)"], -(d["T"] - d["a2"]), "first factor")
    assert 55 < d["ratio_dw2_dw1"] < 57
    assert any(f"{d['ratio_dw2_dw1']:.1f}x smaller" in s for s in backprop.findings)


def test_backpropagation_trains_until_small_error(backprop):
    d = backprop.data
    errors = np.asarray(d["errors"])
    assert np.all(np.diff(errors) < 0)
    assert d["stopped_at"] == len(errors) and errors[-1] < 1e-4 <= errors[-2]


# ------------------------------------------------------------------ 4. vanishing gradient
@pytest.fixture(scope="module")
def vanishing():
    return vanishing_gradient(epochs=2, n_train=400)


def test_sigmoid_gradient_vanishes_compared_with_relu(vanishing):
    runs = vanishing.data["runs"]
    sigmoid, relu = runs["sigmoid"]["ratio_at_init"], runs["relu"]["ratio_at_init"]
    print(f"first/last gradient-norm ratio at init: sigmoid {sigmoid:.3g}, "
          f"tanh {runs['tanh']['ratio_at_init']:.3g}, relu {relu:.3g}")
    assert sigmoid < relu / 100
    assert sigmoid < 1e-3 and relu > 0.1
    assert runs["sigmoid"]["ratio_at_end"] < runs["relu"]["ratio_at_end"] / 100
    # the first sigmoid layer barely learns: its weights move far less than ReLU's
    assert runs["sigmoid"]["weight_change"][0] < runs["relu"]["weight_change"][0] / 1000
    assert len(runs["relu"]["val_accuracy"]) == vanishing.params["epochs"] + 1


def test_vanishing_gradient_norms_are_per_layer_in_depth_order(vanishing):
    layers = vanishing.data["layers"]
    assert len(layers) == vanishing.params["hidden_layers"] + 1
    for run in vanishing.data["runs"].values():
        norms = np.asarray(run["norms"])
        assert norms.shape == (vanishing.params["epochs"] + 1, len(layers))
        assert np.all(norms > 0)
    sig = np.asarray(vanishing.data["runs"]["sigmoid"]["norms"][0])
    assert np.all(np.diff(sig) > 0), "sigmoid: each layer's gradient smaller than the next's"


# ------------------------------------------------------------------ 5. activations
def test_activation_derivatives_autodiff_match_numpy():
    lesson = activations(points=101)
    assert lesson.data["order"] == ["sigmoid", "tanh", "relu", "softmax", "binary_step",
                                    "linear", "leaky_relu"]
    for name, gap in lesson.data["max_gap"].items():
        assert gap < 1e-12, name
    curves = lesson.data["curves"]
    assert max(curves["sigmoid"]["derivative"]) == pytest.approx(0.25)
    assert max(curves["tanh"]["derivative"]) == pytest.approx(1.0)
    assert not np.any(curves["binary_step"]["derivative"])
    probabilities = lesson.data["softmax"]["probabilities"]
    assert sum(probabilities) == pytest.approx(1.0, abs=1e-15)
    assert np.argmax(probabilities) == np.argmax(lesson.data["softmax"]["scores"])
    assert len(lesson.tables[0].rows) == 7


# ------------------------------------------------------------------ 6. optimizers
def _tame_nearest(f, start, optimum, name, grid, steps, max_path_ratio=5.0):
    """The selection rule, recomputed here from plain NumPy on the visited points: the rate
    ending nearest the optimum among the runs whose f never exceeds f(start) and whose path
    is at most max_path_ratio times the straight start-optimum distance."""
    best, best_distance, nearest = None, np.inf, (None, np.inf)
    for lr in grid:
        path = run_path(f, start, OPTIMIZERS[name], steps, lr=lr).points
        with np.errstate(all="ignore"):
            values = np.array([float(f(np.asarray(p))) for p in path])
            length = np.sum(np.sqrt(np.sum(np.diff(path, axis=0) ** 2, axis=1)))
            distance = np.sqrt(np.sum((path[-1] - np.asarray(optimum)) ** 2))
        straight = np.sqrt(np.sum((np.asarray(start) - np.asarray(optimum)) ** 2))
        if np.all(values <= values[0]) and length <= max_path_ratio * straight \
                and distance < best_distance:
            best, best_distance = lr, distance
        if distance < nearest[1]:
            nearest = (lr, distance)
    return (best, best_distance) if best is not None else nearest  # none tame: nearest


def test_select_rate_prefers_tame_runs():
    assert select_rate([3.0, 0.1, 0.01, np.inf], [True, True, False, False]) == 1
    assert select_rate([3.0, 0.1, np.nan], [False, False, False]) == 1  # none tame: nearest
    assert select_rate([0.5, 0.2, 0.3], [True, True, True]) == 1


def test_optimizers_small_run():
    grid = (1e-3, 1e-2, 0.1, 0.5)
    lesson = optimizers(quadratic_steps=30, rosenbrock_steps=60, lr_grid=grid, epochs=2,
                        n_train=300)
    assert lesson.data["names"] == ["GD", "SGD+momentum", "RMSprop", "Adam"]
    rejected = 0
    for key, land in lesson.data["landscapes"].items():
        for name, run in land["runs"].items():
            sweep = np.asarray(run["sweep"])
            lr, distance = _tame_nearest(PROBLEMS[key]["f"], land["start"], land["optimum"],
                                         name, grid, land["steps"])
            assert run["lr"] == lr, (key, name, run["lr"], lr)
            assert run["final_distance"] == pytest.approx(distance, rel=1e-12)
            assert run["final_distance"] == pytest.approx(sweep[grid.index(lr)], rel=1e-12)
            rejected += run["nearest_lr"] != run["lr"]
            path = np.asarray(run["path"])
            assert path.shape == (land["steps"] + 1, 2)
            assert run["final_distance"] < np.linalg.norm(
                np.subtract(land["start"], land["optimum"])), (key, name)
    assert rejected, "the grid should hold a nearest-ending run that is not tame"
    assert any("is shown" in f for f in lesson.findings)
    for name, run in lesson.data["digits"].items():
        assert len(run["val_accuracy"]) == 2
        assert run["loss"][-1] < np.log(10), name  # learned something in two epochs
    assert len(lesson.table("Digits").rows) == 4


def test_optimizers_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown optimizer 'Lion'; expected a name or label"):
        optimizers(names=("GD", "Lion"))


# ------------------------------------------------------------------ all lessons
def test_lessons_serialise_to_strict_json(gd, exercise, backprop):
    for lesson in (gd, exercise, backprop):
        text = json.dumps(lesson.to_dict(), allow_nan=False)
        back = json.loads(text)
        assert back["name"] == lesson.name and back["findings"] == lesson.findings


def test_diverging_numbers_become_strings_in_json():
    from steepest.lessons import to_jsonable
    assert to_jsonable([float("inf"), float("nan"), np.float64(-np.inf)]) == \
        ["inf", "nan", "-inf"]


def test_run_lesson_names():
    assert LESSON_NAMES == ("gradient_descent", "notebook_exercise", "backpropagation",
                            "vanishing_gradient", "activations", "optimizers")
    with pytest.raises(ValueError, match="valid names: gradient_descent"):
        run_lesson("gradient_ascent")
    assert run_lesson("backpropagation").name == "backpropagation"
