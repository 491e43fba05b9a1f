"""The question's tables: knots [0,0,0,0,0.25,1,1,1,1], x [0.1,0.5,0.9], order 3.

Reference values come from an exact rational derivation (Cox-de Boor and the
derivative formula in ``fractions.Fraction``), independent of the package
and of scipy, and from the question's own host code (``question_code.py``).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from cases import KNOTS, ORDER, X, exact_table
from helpers import assert_close, float_dtype
from question_code import b_spline_basis as question_b_spline_basis

import bspline_callback as bc


def test_exact_tables_match_a_hand_check():
    # Spot values worked by hand on [0, 0.25): B_1 = 3u(1-u)^2 + ... at u = 0.4:
    # the first basis function (dropped) is (1 - x/0.25)^3 = 0.216, and the
    # four kept ones sum to 1 - 0.216.
    assert exact_table(0)[0].sum() == pytest.approx(1 - 0.216, abs=1e-15)
    assert exact_table(0)[0, 3] == 0.0  # B_4 vanishes left of 0.25


@pytest.mark.parametrize("deriv", [0, 1, 2, 3])
@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_question_tables(deriv, jit):
    def f(x):
        return bc.b_spline_basis(KNOTS, ORDER, deriv, x)

    f = jax.jit(f) if jit else f
    x = jnp.asarray(X)  # traced under jit: exercises the callback
    got = f(x)
    assert got.shape == (3, 4)
    assert got.dtype == float_dtype()
    # x itself is rounded to float32 unless x64 is on; the cubic's third
    # derivative is piecewise constant and its second varies by ~1e-6 there.
    assert_close(got, exact_table(deriv), scale=10 if deriv >= 2 else 1)


@pytest.mark.parametrize("deriv", [0, 1, 2, 3, 4])
def test_question_code_agrees(deriv):
    """The drop-in returns what the question's own (un-jittable) code returns."""
    ref = question_b_spline_basis(KNOTS, ORDER, deriv, X)
    got = jax.jit(lambda x: bc.b_spline_basis(KNOTS, ORDER, deriv, x))(X)
    assert_close(got, np.asarray(ref), scale=10)


def test_keyword_arguments():
    got = bc.b_spline_basis(knots=KNOTS, order=ORDER, deriv=1, x=X)
    assert_close(got, exact_table(1), scale=10)


def test_deriv_above_order_is_zero():
    got = jax.jit(lambda x: bc.b_spline_basis(KNOTS, ORDER, 4, x))(X)
    np.testing.assert_array_equal(np.asarray(got), np.zeros((3, 4)))


@pytest.mark.parametrize(
    "w",
    [[1.0, 2.0, 3.0, 4.0], [0.49, -1.37, 2.21, 0.18]],
    ids=["question's weights", "random weights"],
)
@pytest.mark.parametrize("deriv", [0, 1, 2])
@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_question_test_jax(deriv, jit, w):
    """The question's test: value and grad of sum(basis @ weights); its
    weights are affine in the column, which would hide a column shift, so
    random ones too."""
    weights = jnp.array(w)

    def loss(x):
        return jnp.sum(bc.b_spline_basis(KNOTS, ORDER, deriv, x) @ weights)

    value_and_grad = jax.value_and_grad(loss)
    value_and_grad = jax.jit(value_and_grad) if jit else value_and_grad
    value, grad = value_and_grad(jnp.asarray(X))
    w = np.array(w)
    expected_value = (exact_table(deriv) @ w).sum()
    expected_grad = exact_table(deriv + 1) @ w
    assert_close(value, expected_value, scale=10)
    assert_close(grad, expected_grad, scale=10)
