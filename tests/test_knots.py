"""Knot helpers against patsy's ``bs`` and scikit-learn's ``SplineTransformer``."""

import jax
import jax.numpy as jnp
import numpy as np
import patsy
import pytest
from helpers import as_jax_points, assert_close
from sklearn.preprocessing import SplineTransformer

import bspline_callback as bc

# Skewed data, exactly representable in float32: the points JAX sees without
# x64 are the data the knots were placed on (patsy raises for points
# outside its boundary knots).
X = np.random.default_rng(4).gamma(2.0, 1.5, size=200).astype(np.float32).astype(float)


def test_uniform_knots_definition():
    t = bc.uniform_knots(-1.0, 3.0, n_basis=7, k=3)
    np.testing.assert_array_equal(t, np.r_[[-1.0] * 4, 0.0, 1.0, 2.0, [3.0] * 4])
    assert bc.BSplineBasis(t, 3).n_basis == 7
    u = bc.uniform_knots(0.0, 1.0, n_basis=6, k=2, clamped=False)
    np.testing.assert_allclose(u, np.arange(-2, 7) / 4)
    assert not t.flags.writeable


@pytest.mark.parametrize("df", [4, 6, 9])
@pytest.mark.parametrize("degree", [1, 2, 3])
def test_quantile_knots_equal_patsy_bs(df, degree):
    # patsy's bs without intercept drops the first column: the question's
    # b_spline_basis convention, with n_basis = df + 1. X is exactly
    # representable in float32, so the points JAX sees are patsy's.
    xj, _ = as_jax_points(X)
    t = bc.quantile_knots(X, n_basis=df + 1, k=degree)
    assert_close(bc.b_spline_basis(t, degree, 0, xj), patsy.bs(X, df=df, degree=degree))
    assert_close(
        bc.design_matrix(xj, bc.quantile_knots(X, n_basis=df, k=degree), degree),
        patsy.bs(X, df=df, degree=degree, include_intercept=True),
    )


def test_quantile_knots_bounds_match_patsy():
    t = bc.quantile_knots(X, n_basis=6, k=3, lo=0.0, hi=20.0)
    assert t[0] == 0.0 and t[-1] == 20.0
    expected = patsy.bs(
        X, df=6, degree=3, include_intercept=True, lower_bound=0.0, upper_bound=20.0
    )
    assert_close(bc.design_matrix(jnp.asarray(X), t, 3), expected)


@pytest.mark.parametrize("knots", ["uniform", "quantile"])
@pytest.mark.parametrize("degree", [2, 3])
def test_unclamped_knots_equal_spline_transformer(knots, degree):
    n_knots = 6
    st = SplineTransformer(n_knots=n_knots, degree=degree, knots=knots)
    st.fit(X[:, None])
    n_basis = n_knots + degree - 1
    if knots == "uniform":
        t = bc.uniform_knots(X.min(), X.max(), n_basis, degree, clamped=False)
    else:
        t = bc.quantile_knots(X, n_basis, degree, clamped=False)
    np.testing.assert_allclose(t, st.bsplines_[0].t, rtol=1e-13, atol=1e-13)
    xj, x64 = as_jax_points(X)
    assert_close(bc.design_matrix(xj, t, degree), st.transform(x64[:, None]))


def test_knot_helper_errors():
    with pytest.raises(ValueError, match="n_basis >= k \\+ 1"):
        bc.uniform_knots(0.0, 1.0, n_basis=3, k=3)
    with pytest.raises(ValueError, match="lo < hi"):
        bc.uniform_knots(1.0, 1.0, n_basis=5)
    with pytest.raises(ValueError, match="finite"):
        bc.uniform_knots(0.0, np.inf, n_basis=5)
    with pytest.raises(TypeError, match="`n_basis` must be an int"):
        bc.uniform_knots(0.0, 1.0, n_basis=5.0)
    with pytest.raises(TypeError, match="`lo` must be a real number"):
        bc.uniform_knots("a", 1.0, n_basis=5)
    with pytest.raises(ValueError, match="non-empty 1-D"):
        bc.quantile_knots(np.ones((2, 2)), n_basis=5)
    with pytest.raises(ValueError, match="non-empty 1-D"):
        bc.quantile_knots([], n_basis=5)
    with pytest.raises(ValueError, match="finite"):
        bc.quantile_knots([0.0, np.nan, 1.0], n_basis=5)
    with pytest.raises(ValueError, match="lo < hi"):
        bc.quantile_knots([2.0, 2.0], n_basis=5)
    with pytest.raises(ValueError, match="widen the bounds"):
        bc.quantile_knots(X, n_basis=6, lo=5.0, hi=6.0)


def test_traced_bounds_are_a_clear_type_error():
    with pytest.raises(TypeError, match="`lo` must be concrete"):
        jax.jit(lambda lo: bc.uniform_knots(lo, 1.0, 6))(0.0)
    with pytest.raises(TypeError, match="`hi` must be concrete"):
        jax.jit(lambda hi: bc.quantile_knots(np.linspace(0, 1, 9), 6, hi=hi))(1.0)
