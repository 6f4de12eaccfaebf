"""steepest.exercises: every checker accepts the right answer and names each typical mistake."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

import steepest as st
from steepest import exercises as ex
from steepest.exercises import (
    ExerciseError, NotFilledInError, check_adam, check_chain_rule, check_critical_learning_rate,
    check_derivative, check_gradient, check_linear_gradient, check_loss_below, check_momentum,
    check_sigmoid_derivative, check_update,
)

INPUT, TARGET, W1 = ex.NOTEBOOK_INPUT, ex.NOTEBOOK_TARGET, ex.NOTEBOOK_W1
PREDICTION = INPUT @ W1
G1 = np.outer(INPUT, 2 * (PREDICTION - TARGET) / 4)


def raises(mistake: str, match: str):
    """pytest.raises for an ExerciseError with this message and this mistake code."""
    class _Checker:
        def __enter__(self):
            self._ctx = pytest.raises(ExerciseError, match=match)
            self.info = self._ctx.__enter__()
            return self.info

        def __exit__(self, *exc):
            result = self._ctx.__exit__(*exc)
            assert self.info.value.mistake == mistake, (self.info.value.mistake, str(
                self.info.value))
            return result
    return _Checker()


# ----------------------------------------------------------------------------- basics
def test_exercise_error_is_an_assertion_error():
    assert issubclass(ExerciseError, AssertionError)
    assert issubclass(NotFilledInError, ExerciseError)


@pytest.mark.parametrize("call", [
    lambda: check_gradient(...),
    lambda: check_gradient(None),
    lambda: check_update(..., 0.05),
    lambda: check_update(W1 - 0.05 * G1, ...),
    lambda: check_loss_below(...),
    lambda: check_linear_gradient(...),
    lambda: check_critical_learning_rate(...),
    lambda: check_chain_rule(dE_dw2=...),
    lambda: check_chain_rule(),
    lambda: check_sigmoid_derivative(...),
    lambda: check_sigmoid_derivative(lambda z: ...),
    lambda: check_momentum(..., [0.0], [[1.0]]),
    lambda: check_adam(None, [0.0], [[1.0]]),
], ids=["gradient", "gradient-None", "update", "update-lr", "loss", "linear", "critical",
        "chain", "chain-nothing", "sigmoid", "sigmoid-body", "momentum", "adam"])
def test_unfilled_todo_says_so(call):
    with pytest.raises(NotFilledInError, match="you have not filled in this TODO yet") as info:
        call()
    assert info.value.mistake == "todo"


def test_success_prints_and_returns_true(capsys):
    assert check_gradient(G1) is True
    out = capsys.readouterr().out
    assert "Correct" in out


# ----------------------------------------------------------------------------- check_gradient
def test_gradient_truth_is_the_engines_and_the_reference():
    W = st.tensor(W1, requires_grad=True)
    st.losses.mse(st.tensor(INPUT) @ W, st.tensor(TARGET)).backward()
    np.testing.assert_allclose(W.grad, G1)
    np.testing.assert_allclose(G1[0], [6.5, 5, 7, 3])
    assert check_gradient(G1)


def test_gradient_accepts_tensor_list_and_float32():
    assert check_gradient(st.tensor(G1))
    assert check_gradient(G1.tolist())
    assert check_gradient(G1.astype(np.float32))


def test_gradient_at_another_point():
    W = W1 + 0.1
    G = np.outer(INPUT, 2 * (INPUT @ W - TARGET) / 4)
    assert check_gradient(G, W1=W)
    with raises("wrong", "not the gradient"):
        check_gradient(G1, W1=W)


@pytest.mark.parametrize("answer, mistake, match", [
    (G1.T, "transposed", "transposed"),
    (-G1, "sign", "sign flipped"),
    (-G1.T, "transposed", "transposed and its sign is flipped"),
    (G1 / 2, "factor_2_missing", "factor 2 is missing"),
    (4 * G1, "mean_missing", "1/n of the mean is missing"),
    (2 * G1, "mean_missing", "both the 1/n of the mean .* and the factor 2"),
    (G1 / 4, "mean_extra", "divided by n = 4 once too often"),
    (-G1 / 2, "factor_2_missing", "factor 2 is missing.*sign is flipped"),
    (2 * G1.T, "mean_missing", "also transposed"),
    (3 * G1, "scale", "3 times the true gradient"),
    (np.outer(2 * (W1 @ INPUT - TARGET) / 4, INPUT), "wrong_model", r"W1 @ input"),
    (np.outer(INPUT, 2 * (W1 @ INPUT - TARGET) / 4), "wrong_model",
     r"right formula.*computed as W1 @ input"),
    (np.outer(INPUT, 2 * (W1 @ INPUT - TARGET)), "mean_missing", r"W1 @ input"),
    (np.tile(2 * (PREDICTION - TARGET) / 4, (4, 1)), "chain_incomplete", "every row"),
    (G1 * (1 + 0.003 * np.sin(np.arange(16)).reshape(4, 4)), "rounded", "within 1%"),
    (G1 + np.eye(4), "wrong", r"4 of 16 entries differ"),
    (np.zeros((4, 4)), "wrong", r"entry \[0, 0\] is 0 but should be 6.5"),
])
def test_gradient_mistakes(answer, mistake, match):
    with raises(mistake, match):
        check_gradient(answer)


@pytest.mark.parametrize("answer, match", [
    (2 * (PREDICTION - TARGET) / 4, r"shape \(4,\), the shape of the prediction"),
    (1.5, "single number"),
    (np.ones((3, 3)), r"shape \(3, 3\)"),
    (G1.reshape(2, 8), r"W1's shape \(4, 4\)"),
])
def test_gradient_shape_mistakes(answer, match):
    with raises("shape", match):
        check_gradient(answer)


def test_gradient_rejects_non_numbers_and_nan():
    with raises("type", "should be numbers"):
        check_gradient("six point five")
    bad = G1.copy()
    bad[0, 0] = np.nan
    with raises("nonfinite", "nan or inf"):
        check_gradient(bad)


# ----------------------------------------------------------------------------- check_update
def _numbers_after(text: str, words: str) -> list:
    """The numbers that follow ``words`` in a message, as floats."""
    return [float(m) for m in re.findall(re.escape(words) + r"\s*([-+0-9.e]+\d)", text)]


def test_update_accepts_a_descending_step(capsys):
    assert check_update(W1 - 0.05 * G1, 0.05)
    out = capsys.readouterr().out
    # reference: the loss after one step at lr 0.05 is exactly 7.828125 (125.25·(1 − 0.75)²)
    assert _numbers_after(out, "to") == [pytest.approx(7.828125, rel=1e-5)], out
    W = W1 - 0.05 * G1
    G = np.outer(INPUT, 2 * (INPUT @ W - TARGET) / 4)
    assert check_update(W - 0.01 * G, 0.01, W1_old=W)


@pytest.mark.parametrize("new, lr, mistake, match", [
    (W1 + 0.05 * G1, 0.05, "added", "added the gradient"),
    (W1 - G1, 0.05, "lr_missing", "learning rate is missing"),
    (W1 - 0.05 * G1.T, 0.05, "transposed", "transposed"),
    (W1.copy(), 0.05, "unchanged", "equal the old ones"),
    (W1 - 0.07 * G1, 0.05, "lr_mismatch", r"W1 − 0.07·G1, but you passed lr = 0.05"),
    (W1 - 0.05 * G1 / 2, 0.05, "scale", "off by a factor 0.5"),
    (W1 - 0.05 * 4 * G1, 0.05, "scale", "off by a factor 4"),
    (W1 - 0.05 * np.outer(2 * (W1 @ INPUT - TARGET) / 4, INPUT), 0.05, "wrong_model",
     r"W1 @ input"),
    (W1 - 0.05 * np.outer(INPUT, 2 * (W1 @ INPUT - TARGET) / 4), 0.05, "wrong_model",
     r"computed from prediction = W1 @ input"),
    (W1 - 0.05 * G1 + 0.3, 0.05, "wrong", "not W1 − lr·G1"),
    (W1 - 0.05 * G1, -0.05, "lr_invalid", "negative"),
    (W1 - 0.05 * G1, 0.0, "lr_invalid", "is 0"),
    (np.ones(4), 0.05, "shape", "keeps the shape"),
])
def test_update_mistakes(new, lr, mistake, match):
    with raises(mistake, match):
        check_update(new, lr)


@pytest.mark.parametrize("lr", [0.14, 0.2, 1.0])
def test_update_lr_too_large_loss_grew(lr):
    with raises("lr_too_large", r"loss grew from 125.25 .* lr = .* too large.*above 0.1333"):
        check_update(W1 - lr * G1, lr)


@pytest.mark.parametrize("lr", [0.001, 0.05, 1 / 15, 0.1, 0.13])
def test_update_any_lr_below_two_fifteenths_passes(lr):
    assert check_update(W1 - lr * G1, lr)


def test_critical_rate_is_measured_not_hard_coded():
    assert math.isclose(ex._critical_lr(INPUT, TARGET), 2 / 15, rel_tol=1e-12)
    x = np.array([1.0, 1.0])
    assert math.isclose(ex._critical_lr(x, np.array([0.0, 1.0, 2.0])), 2 / (2 * 2 / 3),
                        rel_tol=1e-12)


# ----------------------------------------------------------------------------- check_loss_below
def _train(lr, steps, layout="row"):
    W = W1.copy()
    for _ in range(steps):
        if layout == "row":
            W = W - lr * np.outer(INPUT, 2 * (INPUT @ W - TARGET) / 4)
        else:
            W = W - lr * np.outer(2 * (W @ INPUT - TARGET) / 4, INPUT)
    return W


def test_loss_below_accepts_trained_weights():
    assert check_loss_below(_train(0.05, 2))      # reference: 2 steps at lr 0.05
    assert check_loss_below(_train(0.01, 15))     # reference: 15 steps at lr 0.01
    assert check_loss_below(_train(1 / 15, 1))    # exact in one step
    with raises("not_below", "not yet below 1.3"):
        check_loss_below(_train(0.01, 14))
    assert check_loss_below(_train(0.01, 14), threshold=2.0)


def test_loss_below_not_yet_names_the_loss():
    with raises("not_below", "not yet below 1.3") as info:
        check_loss_below(_train(0.05, 1))
    assert _numbers_after(str(info.value), "the loss is") == [pytest.approx(7.828125, rel=1e-5)]


@pytest.mark.parametrize("value", [7.828125, np.nextafter(7.828125, 8), np.nextafter(7.828125, 7),
                                   7.828125 * (1 + 4e-16), 7.828125 * (1 - 4e-16)])
def test_displayed_numbers_do_not_depend_on_the_last_bit(value):
    """A tie like 7.828125 (exact) prints the same whichever way its last bit came out."""
    assert ex._num(value) == "7.82813"
    assert ex._num(-value) == "-7.82813"


@pytest.mark.parametrize("value, digits, shown", [
    (125.25, 6, "125.25"), (0.0, 6, "0"), (2 / 15, 4, "0.1333"), (1e-7, 6, "1e-07"),
    (123456789.0, 6, "1.23457e+08"), (9.9999996, 6, "10"), (float("nan"), 6, "nan"),
])
def test_displayed_numbers_keep_their_significant_digits(value, digits, shown):
    assert ex._num(value, digits) == shown


@pytest.mark.parametrize("W, mistake, match", [
    (_train(0.14, 3), "lr_too_large", "larger than where it started"),
    (W1.copy(), "unchanged", "still the starting weights"),
    (_train(0.05, 20, layout="column"), "wrong_model", r"W1 @ input"),
    (_train(0.01, 5, layout="column"), "wrong_model", r"gradient of the wrong model"),
    (W1 + 0.01 * G1, "added", "moved up the gradient"),
    (np.ones((2, 2)), "shape", "4x4"),
])
def test_loss_below_mistakes(W, mistake, match):
    with raises(mistake, match):
        check_loss_below(W)


def _same_gradient(lr, steps, layout="row"):
    """The course notes' loop, re-run ``steps`` times: ``W1 = W1 − lr·G1`` with G1 never
    recomputed (computed once, at the starting weights)."""
    G = G1 if layout == "row" else np.outer(2 * (W1 @ INPUT - TARGET) / 4, INPUT)
    W = W1.copy()
    for _ in range(steps):
        W = W - lr * G
    return W


@pytest.mark.parametrize("lr, steps", [(0.01, 100), (0.01, 14), (0.01, 12), (0.05, 5),
                                       (0.001, 300)])
def test_loss_below_names_a_gradient_not_recomputed(lr, steps):
    with raises("stale_gradient", "gradient was not recomputed") as info:
        check_loss_below(_same_gradient(lr, steps))
    assert "lr_too_large" not in str(info.value)
    assert "W1 @ input" not in str(info.value)


def test_loss_below_uses_the_learning_rate_given():
    # 20 stale steps at 0.01 and one true step at 0.2 both give W1 − 0.2·G1
    with raises("lr_too_large", "learning rate is too large.*Or, if you repeated"):
        check_loss_below(_same_gradient(0.01, 20))
    with raises("stale_gradient", "20 steps of W1 = W1 − 0.01·G1"):
        check_loss_below(_same_gradient(0.01, 20), lr=0.01)
    with raises("not_below", "not yet below.*Or, if you repeated"):   # or one step at 0.1
        check_loss_below(_same_gradient(0.01, 10))
    with raises("stale_gradient", "10 steps of W1 = W1 − 0.01·G1"):
        check_loss_below(_same_gradient(0.01, 10), lr=0.01)
    with raises("lr_too_large", "too large"):
        check_loss_below(_train(0.2, 1), lr=0.2)
    with raises("lr_too_large", "too large"):
        check_loss_below(_train(0.14, 3), lr=0.14)


def test_loss_below_true_descent_is_never_called_stale():
    """Every true descent W_k stays on the line W1 − c·G1; none may be blamed on a stale G1."""
    for lr in ex._TYPICAL_RATES:
        for steps in range(1, 40):
            W = _train(lr, steps)
            try:
                check_loss_below(W)
            except ExerciseError as error:
                assert error.mistake != "stale_gradient", (lr, steps, str(error))


def test_loss_below_names_the_course_notes_orientation_with_a_stale_gradient():
    with raises("stale_gradient", r"not recomputed.*W1 @ input"):
        check_loss_below(_same_gradient(0.01, 30, layout="column"))


# ----------------------------------------------------------------------------- line fit
X = ex.LINE_X
Z = 2 * X


def dJdw(w):
    return -2 * np.sum(X * (Z - w * X))


def test_linear_gradient_reference_values():
    for w, expected in zip([0.2, 0.992, 1.43552], [-1.98, -1.1088, -0.620928]):
        assert math.isclose(dJdw(w), expected, rel_tol=1e-12)
        assert check_linear_gradient(dJdw(w), w)
    ws = np.array([0.2, 0.992, 1.43552])
    assert check_linear_gradient(-2 * np.sum(X * (Z - ws[:, None] * X), axis=1), ws)


def test_linear_gradient_other_data():
    x = np.array([1.0, 2.0])
    z = np.array([3.0, 1.0])
    assert check_linear_gradient(-2 * np.sum(x * (z - 0.5 * x)), 0.5, x=x, z=z)


@pytest.mark.parametrize("answer, mistake, match", [
    (-dJdw(0.2), "sign", "sign flipped"),
    (dJdw(0.2) / 2, "factor_2_missing", "factor 2 is missing"),
    (2 * dJdw(0.2), "factor_2_extra", "extra factor 2"),
    (dJdw(0.2) / 5, "mean_extra", "sum Σ over the n = 5 points, not a mean"),
    (-dJdw(0.2) / 2, "factor_2_missing", "sign is flipped"),
    (np.sum((Z - 0.2 * X) ** 2), "not_derivative", "J\\(w\\) itself"),
    (2 * np.sum(Z - 0.2 * X), "chain_incomplete", "inner derivative is missing"),
    (-2 * np.sum(Z - 0.2 * X), "chain_incomplete", "factor x"),
    (-1.99, "rounded", "within 1%"),
    (3.0, "wrong", "not dJ/dw"),
])
def test_linear_gradient_mistakes(answer, mistake, match):
    with raises(mistake, match):
        check_linear_gradient(answer, 0.2)


def test_linear_gradient_per_sample_terms():
    with raises("shape", "terms of the sum"):
        check_linear_gradient(-2 * X * (Z - 0.2 * X), 0.2)
    with raises("shape", "w has shape"):
        check_linear_gradient([1.0, 2.0], np.array([0.1, 0.2, 0.3]))


def test_critical_learning_rate():
    assert check_critical_learning_rate(1 / 0.55)
    with raises("factor_2_missing", "overshooting starts"):
        check_critical_learning_rate(1 / 1.1)
    with raises("factor_2_extra", "twice the critical rate"):
        check_critical_learning_rate(2 / 0.55)
    with raises("mean_extra", "factor n"):
        check_critical_learning_rate(1 / 0.55 / 5)
    with raises("wrong", "not the critical learning rate"):
        check_critical_learning_rate(1.0)


# ----------------------------------------------------------------------------- chain rule
def _chain():
    c = ex.CHAIN
    s = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    z1 = c["w1"] * c["x"] + c["b1"]
    a1 = s(z1)
    z2 = c["w2"] * a1 + c["b2"]
    a2 = s(z2)
    d = -(c["T"] - a2) * a2 * (1 - a2)
    delta1 = d * c["w2"] * a1 * (1 - a1)
    return dict(z1=z1, a1=a1, z2=z2, a2=a2, w2=d * a1, b2=d, w1=delta1 * c["x"], b1=delta1, d=d)


C = _chain()


def test_chain_rule_accepts_the_reference_values(capsys):
    reference = {"w2": 0.05707039820105493, "b2": 0.0947562809690847,
                 "w1": 0.0010213958814763399, "b1": 0.010213958814763398}
    for k, v in reference.items():
        assert math.isclose(C[k], v, rel_tol=1e-12)
    assert check_chain_rule(C["w2"], C["b2"], C["w1"], C["b1"])
    assert "56x smaller" in capsys.readouterr().out
    assert check_chain_rule(dE_db1=C["b1"])
    assert check_chain_rule(dE_dw2=st.tensor(C["w2"]))


def test_chain_rule_other_parameters():
    # T above a2: the gradients change sign; the checker follows the parameters given
    c = dict(ex.CHAIN, T=0.9)
    a2 = C["a2"]
    d = -(0.9 - a2) * a2 * (1 - a2)
    assert check_chain_rule(dE_dw2=d * C["a1"], T=0.9)
    with raises("sign", "sign flipped"):
        check_chain_rule(dE_dw2=-d * C["a1"], **{"T": c["T"]})
    with pytest.raises(TypeError, match="unknown parameter"):
        check_chain_rule(dE_dw2=1.0, lr=0.4)


a1, a2, z1, z2 = C["a1"], C["a2"], C["z1"], C["z2"]
s1, s2 = a1 * (1 - a1), a2 * (1 - a2)


@pytest.mark.parametrize("kwargs, mistake, match", [
    ({"dE_dw2": -C["w2"]}, "sign", "dE_dw2 has the sign flipped"),
    ({"dE_dw2": C["w2"] / s2}, "sigma_prime_missing", r"σ'\(z2\) = a2·\(1 − a2\).*missing"),
    ({"dE_dw2": C["w2"] / s2 * z2 * (1 - z2)}, "z_instead_of_a", r"z2·\(1 − z2\)"),
    ({"dE_dw2": C["w2"] / a1 * z1}, "z_instead_of_a", "used z1 as the input"),
    ({"dE_dw2": 2 * C["w2"]}, "factor_2_extra", "½ of E .* cancels the 2"),
    ({"dE_dw2": C["w2"] / 2}, "factor_2_missing", "kept the ½"),
    ({"dE_dw2": C["b2"]}, "chain_incomplete", r"∂z2/∂w2 = a1 is missing"),
    ({"dE_db2": C["w2"]}, "wrong_variable", r"∂z2/∂b2 = 1"),
    ({"dE_db2": C["b2"] / s2}, "sigma_prime_missing", "missing"),
    ({"dE_dw1": C["w1"] / s1}, "sigma_prime_missing", r"σ'\(z1\)"),
    ({"dE_dw1": C["w1"] / s2}, "sigma_prime_missing", r"σ'\(z2\)"),
    ({"dE_dw1": C["w1"] / (s1 * s2)}, "sigma_prime_missing", "both sigmoid derivatives"),
    ({"dE_dw1": -C["w1"] / s1}, "sigma_prime_missing", "sign is flipped"),
    ({"dE_dw1": C["w1"] / ex.CHAIN["w2"]}, "chain_incomplete", r"∂z2/∂a1 = w2"),
    ({"dE_dw1": C["b1"]}, "chain_incomplete", r"∂z1/∂w1 = x is missing"),
    ({"dE_dw1": C["w2"]}, "wrong_variable", "second neuron's weight"),
    ({"dE_db1": C["w1"]}, "wrong_variable", r"∂z1/∂b1 = 1"),
    ({"dE_db1": C["b1"] / s1 * z1 * (1 - z1)}, "z_instead_of_a", r"z1·\(1 − z1\)"),
    ({"dE_db1": round(C["b1"], 4)}, "rounded", "within 1%"),
    ({"dE_db1": 0.3}, "wrong", r"dE_db1 = 0.3 is not ∂E/∂b1"),
    ({"dE_dw2": C["w2"], "dE_db2": -C["b2"]}, "sign", "dE_db2 has the sign flipped"),
])
def test_chain_rule_mistakes(kwargs, mistake, match):
    with raises(mistake, match):
        check_chain_rule(**kwargs)


def test_chain_rule_not_filled_names_the_gradient():
    with pytest.raises(NotFilledInError, match="dE_db1 is still"):
        check_chain_rule(C["w2"], C["b2"], C["w1"], ...)
    with raises("shape", "single number"):
        check_chain_rule(dE_dw2=[1.0, 2.0])


# ----------------------------------------------------------------------------- derivatives
def _sig(z):
    return 1 / (1 + np.exp(-z))


def sigmoid_derivative(z):
    return _sig(z) * (1 - _sig(z))


def test_sigmoid_derivative_accepts_array_and_scalar_functions():
    assert check_sigmoid_derivative(sigmoid_derivative)

    def scalar_only(z):
        s = 1 / (1 + math.exp(-z))
        return s * (1 - s)
    assert check_sigmoid_derivative(scalar_only)
    assert check_sigmoid_derivative(lambda z: st.sigmoid(st.tensor(z)) * (1 - st.sigmoid(
        st.tensor(z))))


@pytest.mark.parametrize("fn, mistake, match", [
    (_sig, "not_derivative", "activation sigmoid\\(z\\) itself"),
    (lambda z: z * (1 - z), "z_instead_of_a", r"z·\(1 − z\)"),
    (lambda z: -sigmoid_derivative(z), "sign", "sign is flipped"),
    (lambda z: sigmoid_derivative(z) / 2, "factor_2_missing", "half"),
    (lambda z: 2 * sigmoid_derivative(z), "factor_2_extra", "twice"),
    (lambda z: 1 - _sig(z), "chain_incomplete", r"1 − σ\(z\)"),
    (lambda z: 0.25, "wrong", "at z = -?6 it gives 0.25"),
    (lambda z: None, "type", "forget the `return`"),
    (lambda z: math.log(-1.0), "type", "raised ValueError"),
    (3, "type", "expected a function"),
])
def test_sigmoid_derivative_mistakes(fn, mistake, match):
    with raises(mistake, match):
        check_sigmoid_derivative(fn)


def test_other_activation_derivatives():
    assert check_derivative(lambda z: 1 - np.tanh(z) ** 2, "tanh")
    assert check_derivative(lambda z: (z > 0) * 1.0, "relu")
    assert check_derivative(lambda z: np.where(z > 0, 1.0, 0.01), "leaky_relu")
    with raises("z_instead_of_a", r"1 − z²"):
        check_derivative(lambda z: 1 - z ** 2, "tanh")
    with raises("factor_2_missing", "squared"):
        check_derivative(lambda z: 1 - np.tanh(z), "tanh")
    with raises("wrong", "1 everywhere"):
        check_derivative(lambda z: np.ones_like(z), "relu")
    with raises("sign", "mirrored"):
        check_derivative(lambda z: (z < 0) * 1.0, "relu")
    with pytest.raises(ValueError, match="activation must be one of"):
        check_derivative(lambda z: z, "swish")


# ----------------------------------------------------------------------------- optimizers
W0 = np.array([1.0, -2.0])
GRADS = [np.array([0.5, -1.0]), np.array([0.3, 0.2]), np.array([0.1, 0.4])]


def _momentum(lr=0.1, mu=0.9):
    w, v = W0.copy(), np.zeros(2)
    for g in GRADS:
        v = mu * v + g
        w = w - lr * v
    return w


def _adam(lr=0.1, b1=0.9, b2=0.999, eps=1e-8, correct=True, sqrt=True):
    w, m, v = W0.copy(), np.zeros(2), np.zeros(2)
    for t, g in enumerate(GRADS, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        mh, vh = (m / (1 - b1 ** t), v / (1 - b2 ** t)) if correct else (m, v)
        w = w - lr * mh / ((np.sqrt(vh) if sqrt else vh) + eps)
    return w


def test_momentum():
    assert check_momentum(_momentum(), W0, GRADS, lr=0.1, momentum=0.9)
    assert check_momentum(_momentum(0.01, 0.5), W0, GRADS, lr=0.01, momentum=0.5)
    with raises("velocity", "plain gradient-descent"):
        check_momentum(W0 - 0.1 * sum(GRADS), W0, GRADS)
    with raises("added", "uphill"):
        check_momentum(2 * W0 - _momentum(), W0, GRADS)
    with raises("unchanged", "equal the starting ones"):
        check_momentum(W0, W0, GRADS)
    with raises("shape", "keep the weights' shape"):
        check_momentum(np.zeros(3), W0, GRADS)


def test_adam():
    assert check_adam(_adam(), W0, GRADS, lr=0.1)
    assert check_adam(_adam(lr=0.01, b1=0.8), W0, GRADS, lr=0.01, betas=(0.8, 0.999))
    with raises("bias_correction", "bias correction is missing"):
        check_adam(_adam(correct=False), W0, GRADS)
    with raises("sqrt_missing", "square root is missing"):
        check_adam(_adam(sqrt=False), W0, GRADS)
    with raises("added", "uphill"):
        check_adam(2 * W0 - _adam(), W0, GRADS)
    with raises("wrong", "not Adam's"):
        check_adam(W0 + 1.0, W0, GRADS)


# ----------------------------------------------------------------------------- notebook editions
def _notebook():
    def cell(kind, source, tags=()):
        c = {"cell_type": kind, "metadata": {"tags": list(tags)} if tags else {},
             "source": source}
        if kind == "code":
            c.update(outputs=[{"output_type": "stream", "name": "stdout", "text": "x"}],
                     execution_count=3)
        return c
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        cell("markdown", "# title"),
        cell("code", "G1 = ...  # TODO", ["exercise"]),
        cell("code", "G1 = 1", ["solution"]),
        cell("code", "check_gradient(G1)", ["check"]),
    ]}


def test_learner_version_drops_solutions_and_outputs():
    from steepest import notebook_editions as editions

    nb = _notebook()
    learner = editions.learner_version(nb)
    assert [c["source"] for c in learner["cells"]] == ["# title", "G1 = ...  # TODO",
                                                       "check_gradient(G1)"]
    assert all(c["outputs"] == [] and c["execution_count"] is None
               for c in learner["cells"] if c["cell_type"] == "code")
    assert len(nb["cells"]) == 4 and nb["cells"][1]["outputs"]  # the input is not modified
    assert editions.solution_sources(nb) == ["G1 = 1"]


def test_cli_learner_solutions_strip(tmp_path, capsys):
    from steepest import notebook_editions as editions

    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(_notebook()))
    assert editions.main(["strip", str(path), "--check"]) == 1
    assert editions.main(["strip", str(path)]) == 0
    assert editions.main(["strip", str(path), "--check"]) == 0
    assert editions.main(["learner", str(path), "-o", str(tmp_path / "out")]) == 0
    learner = json.loads((tmp_path / "out" / "nb.ipynb").read_text())
    assert len(learner["cells"]) == 3
    capsys.readouterr()
    assert editions.main(["solutions", str(path)]) == 0
    assert "G1 = 1" in capsys.readouterr().out


def test_the_old_command_name_still_runs_the_editions(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(_notebook()))
    done = subprocess.run([sys.executable, "-m", "steepest.exercises", "strip", str(path),
                           "--check"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "notebooks with outputs" in done.stderr
    from steepest.notebook_editions import learner_version

    assert ex.learner_version is learner_version  # still importable from steepest.exercises
