"""The curvature lessons (quick sizes) against independent truth: closed forms, a dense
Hessian from the data, torch's L-BFGS, and the lessons' own measurements."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from steepest.lessons import run_lesson
from steepest.lessons.curvature import digits_subset
from steepest.optim.functions import FUNCTIONS


@pytest.fixture(scope="module")
def critical():
    return run_lesson("critical_rate", quick=True)


@pytest.fixture(scope="module")
def second():
    return run_lesson("second_order", quick=True)


def test_the_course_quadratic_has_its_closed_form_rate(critical):
    quadratic = critical.data["quadratic"]
    assert quadratic["measured"] == pytest.approx(2 * 0.55, rel=1e-12)
    assert "1.81818" in critical.findings[0]


def test_the_linear_model_lambda_max_is_the_data_covariances(critical):
    """½·mean‖Wx + b − y‖² has the constant Hessian (1/n)·Σ x̃x̃ᵀ ⊗ I (x̃ = [x, 1]): its top
    eigenvalue comes straight from the data, with no autodiff."""
    X, _ = digits_subset(critical.params["samples"])
    design = np.hstack([np.asarray(X.numpy()), np.ones((len(X), 1))])
    expected = np.linalg.eigvalsh(design.T @ design / len(design))[-1]
    assert critical.data["runs"]["linear model"]["lambda0"] == pytest.approx(expected, rel=1e-8)


def test_a_quadratic_converges_below_two_over_lambda_and_diverges_above(critical):
    runs = {r["factor"]: r["losses"] for r in critical.data["runs"]["linear model"]["runs"]}
    assert np.all(np.diff(runs[0.9]) < 0)
    assert runs[1.1][-1] > 10 * runs[1.1][0]
    assert not np.isfinite(runs[2.0][-1]) or runs[2.0][-1] > 1e3 * runs[2.0][0]


def test_the_table_and_findings_carry_the_measured_numbers(critical):
    table = critical.table("Gradient descent at multiples")
    outcomes = {(row[0], row[2]): row[-1] for row in table.rows}
    assert outcomes[("linear model", 0.9)] == "converged"
    assert outcomes[("linear model", 1.1)] == "diverged"
    mlp = critical.data["runs"]["tanh MLP"]
    assert f"{mlp['lambda0']:.5g}" in critical.findings[2]
    json.dumps(critical.to_dict(), allow_nan=False)


def test_second_order_newton_solves_the_quadratic_in_one_step(second):
    runs = second.data["rotated_quadratic"]["runs"]
    assert runs["Newton"]["iterations"] == 1
    assert runs["Newton"]["gaps"][-1] < 1e-20
    assert second.data["rotated_quadratic"]["condition"] == pytest.approx(20.0, rel=1e-12)


def test_second_order_gd_takes_the_closed_form_number_of_steps(second):
    """GD with lr = 1/λ_max on ½(u² + 20v²): each eigen-component shrinks by (1 − lr·λ) a step,
    so f − f* after k steps is ½Σ λ_i c_i² (1 − lr λ_i)^{2k}."""
    function = FUNCTIONS["rotated_quadratic"]
    angle = np.radians(36.87)
    rotation = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
    c = rotation @ np.array(function.start)
    lam = np.array([1.0, 20.0])
    k = np.arange(5000)
    gap = 0.5 * (lam * c ** 2 * (1 - lam / 20.0)[None, :] ** (2 * k[:, None])).sum(axis=1)
    expected = int(np.argmax(gap < second.params["tol"]))
    assert second.data["rotated_quadratic"]["runs"]["GD"]["iterations"] == expected


def test_second_order_lbfgs_counts_equal_torchs(second):
    function = FUNCTIONS["rosenbrock"]
    p = torch.tensor(function.start, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([p], lr=1, history_size=10, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2
        loss.backward()
        return loss
    while closure().item() >= second.params["tol"]:
        opt.step(closure)
    assert second.data["rosenbrock"]["runs"]["L-BFGS"]["iterations"] == opt.state[p]["n_iter"]


def test_second_order_findings_name_the_condition_numbers(second):
    assert "κ = 20" in second.findings[0]
    kappa = second.data["rosenbrock"]["condition"]
    assert kappa == pytest.approx(2508.0, rel=1e-3)  # (1001.6 / 0.3994) at (1, 1)
    assert f"κ = {kappa:.4g}" in second.findings[1]


def test_edge_of_stability_reaches_two_over_eta():
    lesson = run_lesson("edge_of_stability", quick=True)
    (run,) = lesson.data["runs"]
    assert run["reached_at"] is not None
    assert math.isfinite(run["plateau"]) and run["plateau"] >= 0.9 * run["threshold"]
    assert run["losses"][-1] < run["losses"][0]
    assert f"{run['threshold']:.4g}" in lesson.findings[0]


def test_loss_landscape_line_and_plane():
    lesson = run_lesson("loss_landscape", quick=True)
    line, plane = lesson.data["line"], lesson.data["plane"]
    alphas, losses = np.asarray(line["alphas"]), np.asarray(line["losses"])
    assert 0.0 in alphas and 1.0 in alphas
    assert losses[alphas == 1.0][0] < losses[alphas == 0.0][0]  # training lowered the loss
    path = np.asarray(plane["path"])
    np.testing.assert_allclose(path[-1], [0.0, 0.0], atol=1e-12)  # centred at the end
    assert 0 < sum(plane["explained"]) <= 1 + 1e-12
    assert np.asarray(plane["losses"]).shape == (len(plane["ys"]), len(plane["xs"]))
