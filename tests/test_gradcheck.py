"""gradcheck: it accepts correct gradients, catches wrong ones and says where; and, used as an
independent oracle, it confirms the engine's gradients by finite differences."""

from __future__ import annotations

import numpy as np
import pytest

import steepest as st
from steepest.gradcheck import GradcheckResult
from steepest.ops import _record

RNG = np.random.default_rng(11)


def bad_square(x):
    """x² with a wrong backward (g·x instead of 2·g·x): the error at element i is |g·x_i|."""
    return _record(x.numpy() ** 2, (x,), lambda g: (g * x.numpy(),), "BadSquare")


def bad_mul(a, b):
    """a·b whose gradient for b is half what it should be (a's is right)."""
    return _record(a.numpy() * b.numpy(), (a, b), lambda g: (g * b.numpy(), 0.5 * g * a.numpy()), "BadMul")


def ignores_upstream(x):
    """3x whose backward forgets the upstream gradient: right only under an all-ones upstream."""
    return _record(3.0 * x.numpy(), (x,), lambda g: (np.full_like(x.numpy(), 3.0),), "Bad3x")


def test_passes_on_a_correct_function():
    x, w = RNG.normal(size=(4, 3)), RNG.normal(size=(3, 2))
    result = st.gradcheck(lambda x, w: st.tanh(x @ w).sum(), x, w)
    assert isinstance(result, GradcheckResult)
    assert result.ok and bool(result)
    assert result.max_abs_error < 1e-7
    assert "passed" in str(result)


def test_passes_on_a_correct_non_scalar_function():
    assert st.gradcheck(lambda x: st.softmax(x * 2.0), RNG.normal(size=(3, 4))).ok


def test_fails_on_a_wrong_gradient_and_reports_the_worst_index():
    x = np.array([[0.5, -1.0], [2.5, 0.3]])
    result = st.gradcheck(lambda x: bad_square(x).sum(), x)
    assert not result.ok and not bool(result)
    assert result.worst_input == 0
    assert result.worst_index == (1, 0)              # the largest |x|
    np.testing.assert_allclose(result.max_abs_error, 2.5, rtol=1e-6)
    np.testing.assert_allclose(result.max_rel_error, 0.5, rtol=1e-6)
    assert "FAILED" in str(result) and "(1, 0)" in str(result)


def test_reports_which_input_is_wrong():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([0.5, -4.0, 1.0])
    result = st.gradcheck(lambda a, b: bad_mul(a, b).sum(), a, b)
    assert not result.ok
    assert result.worst_input == 1 and result.worst_index == (2,)   # largest |a| is a[2]


def test_non_scalar_output_checks_the_vector_jacobian_product():
    """With a random projection of the output, a backward that ignores g is caught."""
    assert st.gradcheck(lambda x: ignores_upstream(x).sum(), RNG.normal(size=3)).ok
    assert not st.gradcheck(ignores_upstream, RNG.normal(size=3)).ok


def test_raise_on_failure():
    with pytest.raises(AssertionError, match=r"gradcheck FAILED.*index \(1,\)"):
        st.gradcheck(lambda x: bad_square(x).sum(), np.array([0.1, 3.0]),
                     raise_on_failure=True)
    st.gradcheck(lambda x: (x * x).sum(), np.array([0.1, 3.0]), raise_on_failure=True)


def test_tolerances_are_respected():
    x = np.array([1e-3, 2e-3])   # the wrong gradient is off by |x| ≤ 2e-3
    assert not st.gradcheck(lambda x: bad_square(x).sum(), x).ok
    assert st.gradcheck(lambda x: bad_square(x).sum(), x, atol=1e-2).ok


def test_inputs_are_not_modified():
    x = np.array([1.0, 2.0])
    t = st.tensor([3.0, 4.0], requires_grad=True)
    st.gradcheck(lambda a, b: (a * b).sum(), x, t)
    np.testing.assert_array_equal(x, [1.0, 2.0])
    np.testing.assert_array_equal(t.numpy(), [3.0, 4.0])
    assert t.grad is None


def test_fn_must_return_a_tensor():
    with pytest.raises(TypeError, match="gradcheck.*Tensor.*float"):
        st.gradcheck(lambda x: 3.0, np.ones(2))


# ------------------------------------------------------------------------- as an oracle
LABELS = np.array([2, 0, 1])
FUNCTIONS = {
    "matmul batched": (lambda a, b: a @ b, [(2, 3, 4), (4, 2)]),
    "matmul 1-D": (lambda a, b: a @ b, [(4,), (4,)]),
    "linear": (st.linear, [(3, 4), (2, 4), (2,)]),
    "pow tensor": (lambda a, p: (a * a + 0.5) ** p, [(3,), (3,)]),
    "rpow": (lambda x: 3.0 ** x, [(2, 2)]),
    "mean/keepdims": (lambda x: x / x.mean(axis=1, keepdims=True).exp(), [(2, 3)]),
    "max axis": (lambda x: x.max(axis=0), [(3, 4)]),
    "sqrt log": (lambda x: (x * x + 1.0).sqrt().log(), [(5,)]),
    "getitem repeated": (lambda x: x[[0, 2, 2, 0]] * x[1:3].sum(), [(3, 2)]),
    "concatenate stack": (lambda a, b: st.stack([st.concatenate([a, b]), st.concatenate([b, a])]),
                          [(2, 2), (1, 2)]),
    "permute": (lambda x: x.permute(2, 0, 1) * st.tensor(np.arange(24.0).reshape(4, 2, 3)),
                [(2, 3, 4)]),
    "sigmoid tanh": (lambda x: st.sigmoid(x) * st.tanh(x), [(4,)]),
    "log_softmax": (lambda x: st.log_softmax(x, axis=0), [(3, 4)]),
    "cross_entropy": (lambda z: st.losses.cross_entropy(z, LABELS), [(3, 4)]),
    "cross_entropy soft": (lambda z: st.losses.cross_entropy(z, np.full((3, 4), 0.25),
                                                             reduction="none"), [(3, 4)]),
    "bce logits": (lambda z: st.losses.binary_cross_entropy_with_logits(z, np.full(4, 0.3)),
                   [(4,)]),
    "bce": (lambda z: st.losses.binary_cross_entropy(st.sigmoid(z), np.full(4, 0.7)), [(4,)]),
    "half_sse target": (lambda p, t: st.losses.half_sse(p, t), [(3,), (3,)]),
}


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_engine_gradients_match_finite_differences(name):
    fn, shapes = FUNCTIONS[name]
    rng = np.random.default_rng(5)
    inputs = [rng.normal(size=s) for s in shapes]
    result = st.gradcheck(fn, *inputs)
    assert result.ok, str(result)
