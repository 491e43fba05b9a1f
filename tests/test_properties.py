"""Property tests of the basis (hypothesis, derandomized profile in conftest)."""

import jax
import jax.numpy as jnp
import numpy as np
from cases import unit_knots
from helpers import RTOL, float_dtype
from hypothesis import given, strategies as st

import bspline_callback as bc


@st.composite
def knots_and_points(draw):
    t, k = draw(unit_knots(max_degree=5, max_inner=8))
    n = len(t) - k - 1
    lo, hi = t[k], t[n]
    x = draw(
        st.lists(
            st.one_of(st.floats(lo, hi), st.sampled_from(list(t[k : n + 1]))),
            min_size=1,
            max_size=12,
        )
    )
    return t, k, np.array(x)


def _tol(mag=1.0):
    return RTOL[float_dtype()] * 10 * mag


@given(knots_and_points())
def test_partition_of_unity_nonnegative_local_support(case):
    t, k, x = case
    B = np.asarray(bc.design_matrix(x, t, k), dtype=np.float64)
    assert np.isfinite(B).all()
    np.testing.assert_allclose(B.sum(axis=-1), 1.0, atol=_tol())
    assert (B >= -_tol()).all()
    assert ((B != 0).sum(axis=-1) <= k + 1).all()


@given(knots_and_points(), st.integers(1, 3))
def test_derivative_rows_sum_to_zero(case, nu):
    t, k, x = case
    D = np.asarray(bc.design_matrix(x, t, k, nu=nu), dtype=np.float64)
    assert np.isfinite(D).all()
    mag = max(np.abs(D).max(), 1.0)
    np.testing.assert_allclose(D.sum(axis=-1), 0.0, atol=_tol(mag))
    assert ((D != 0).sum(axis=-1) <= k + 1).all()
    if nu > k:
        assert (D == 0).all()


BASIS = bc.BSplineBasis(np.r_[[0.0] * 4, 0.1, 0.2, 0.55, 0.6, [1.0] * 4], 3)
_JITTED = jax.jit(jax.vmap(jax.value_and_grad(lambda x: jnp.sum(BASIS.basis(x)))))


@given(
    st.lists(
        st.one_of(
            # XLA flushes subnormals to zero before the host sees them.
            st.floats(-0.5, 1.5, allow_subnormal=False),
            st.just(float("nan")),
        ),
        min_size=8,
        max_size=8,
    )
)
def test_traced_properties_and_nan_policy(xs):
    """Under jit+vmap+grad: NaN rows exactly outside [0, 1] (or NaN x)."""
    x = jnp.asarray(np.array(xs).reshape(2, 4), dtype=float_dtype())
    value, grad = _JITTED(x)
    x64 = np.asarray(x, np.float64)
    outside = ~((x64 >= 0) & (x64 <= 1))
    value, grad = np.asarray(value), np.asarray(grad)
    np.testing.assert_array_equal(np.isnan(value), outside.any(axis=1))
    np.testing.assert_array_equal(np.isnan(grad), outside)
    # sum over the basis is 1 per point, so its derivative is 0 per point
    inside_rows = ~outside.any(axis=1)
    np.testing.assert_allclose(value[inside_rows], 4.0, atol=_tol(4))
    np.testing.assert_allclose(grad[~outside], 0.0, atol=_tol(100))
