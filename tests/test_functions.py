"""The 2-D test functions (values and engine gradients against torch) and the path runner
(every catalogue optimizer, step for step as torch.optim)."""

import math

import numpy as np
import pytest
import torch

from steepest.optim.catalogue import OPTIMIZERS, validate
from steepest.optim.functions import FUNCTIONS, run_path, value_and_grad
from test_newton import TorchNewton  # torch's Hessian, solved: the reference Newton step

TORCH_CLASS = {"GD": torch.optim.SGD, "Newton": TorchNewton}


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_values_and_gradients_equal_torch_and_the_minimum_is_where_it_says(name):
    fn = FUNCTIONS[name]
    rng = np.random.default_rng(3)
    (x0, x1), (y0, y1) = fn.box
    for point in rng.uniform([x0, y0], [x1, y1], size=(5, 2)):
        value, grad = value_and_grad(fn, point)
        tp = torch.tensor(point, dtype=torch.float64, requires_grad=True)
        tvalue = fn(tp)
        tvalue.backward()
        assert value == pytest.approx(tvalue.item(), rel=1e-12, abs=1e-12)
        np.testing.assert_allclose(grad, tp.grad.numpy(), rtol=1e-10, atol=1e-12)
    value, grad = value_and_grad(fn, fn.optimum)
    assert value == pytest.approx(fn.minimum, abs=1e-12)
    np.testing.assert_allclose(grad, 0.0, atol=1e-9)
    grid = fn(np.stack(np.meshgrid(np.linspace(x0, x1, 9), np.linspace(y0, y1, 7))))
    assert grid.shape == (7, 9) and grid.min() >= fn.minimum - 1e-12


def test_the_quadratic_has_the_condition_number_it_is_named_for():
    hessian = np.array([value_and_grad(FUNCTIONS["rotated_quadratic"], e)[1]
                        for e in np.eye(2)])  # the gradient is linear: H e_i
    eigenvalues = np.linalg.eigvalsh((hessian + hessian.T) / 2)
    np.testing.assert_allclose(eigenvalues, [1.0, 20.0], rtol=1e-12)


@pytest.mark.parametrize("name", [n for n, e in OPTIMIZERS.items() if not e.needs_matrices])
def test_run_path_follows_torch_for_every_catalogue_optimizer(name):
    fn = FUNCTIONS["rosenbrock"]
    path = run_path(fn, fn.start, name, 20, lr=1e-4)
    values = validate("optimizer", name, {"lr": 1e-4})
    tp = torch.tensor(fn.start, dtype=torch.float64, requires_grad=True)
    entry = OPTIMIZERS[name]
    opt = (TORCH_CLASS.get(entry.cls.__name__) or getattr(torch.optim, entry.cls.__name__))(
        [tp], **values)
    expected = [tp.detach().numpy().copy()]
    def closure():
        opt.zero_grad()
        value = fn(tp)
        value.backward(create_graph=isinstance(opt, TorchNewton))
        return value
    for _ in range(20):
        if entry.cls.needs_closure:  # L-BFGS, Newton: one step(closure) per point, as run_path
            opt.step(closure)
        else:
            closure()
            opt.step()
        expected.append(tp.detach().numpy().copy())
    assert path.points.shape == (21, 2) and not path.escaped
    np.testing.assert_allclose(path.points, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(path.values, [fn(p) for p in path.points], rtol=1e-12)


def test_a_blow_up_keeps_its_last_value_and_an_escape_stops_inside():
    fn = FUNCTIONS["rosenbrock"]
    blown = run_path(fn, fn.start, "gd", 1000, lr=0.5)
    assert len(blown.values) < 1001 and not math.isfinite(blown.values[-1])
    assert not blown.escaped  # no escape bound: the overflow itself is the record
    bounded = run_path(fn, fn.start, "gd", 1000, lr=0.5, escape=1e6)
    assert bounded.escaped and np.all(np.abs(bounded.points) <= 1e6)
    assert np.all(np.isfinite(bounded.values))


def test_run_path_refuses_what_the_catalogue_refuses():
    with pytest.raises(ValueError, match="gd: unknown optimizer setting 'momentum'"):
        run_path(FUNCTIONS["saddle"], (1.0, 1.0), "gd", 3, momentum=0.9)
