"""design_matrix_compact: the k + 1 non-zeros per row and the first column."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import (
    as_jax_points,
    assert_close,
    dense_from_compact,
    float_dtype,
    host_call_shapes,
    iter_eqns,
    scipy_basis,
)
from scipy.interpolate import BSpline

import bspline_callback as bc

K = 3
T = np.r_[[0.0] * 4, 0.1, 0.25, 0.25, 0.6, 0.9, [1.0] * 4]  # a repeated knot
N_BASIS = len(T) - K - 1
X = [0.0, 0.05, 0.25, 0.3, 0.599, 0.6, 0.95, 1.0, -0.1, 1.2, np.nan, np.inf]
BACKENDS = ["callback", "jax"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("extrapolate", [False, True, "periodic"])
@pytest.mark.parametrize("nu", [0, 1, 2, 3, 4])
def test_compact_scatters_to_scipy(backend, extrapolate, nu):
    t = T if extrapolate != "periodic" else np.linspace(-0.3, 1.3, 12)
    xj, x64 = as_jax_points(X)
    values, first = bc.design_matrix_compact(
        xj, t, K, nu=nu, extrapolate=extrapolate, backend=backend
    )
    n_basis = len(t) - K - 1
    assert values.shape == (len(X), K + 1) and values.dtype == float_dtype()
    assert first.shape == (len(X),) and first.dtype == jnp.int32
    first_np = np.asarray(first)
    assert ((first_np >= 0) & (first_np <= n_basis - K - 1)).all()
    ref = scipy_basis(x64, t, K, nu, extrapolate)
    assert_close(dense_from_compact(values, first, n_basis), ref)
    # NaN rows: values NaN, first 0.
    bad = np.isnan(ref).all(-1)
    assert np.isnan(np.asarray(values)[bad]).all()
    assert (first_np[bad] == 0).all()


def test_compact_matches_scipy_csr():
    """Same non-zeros and first column as scipy's CSR design matrix."""
    xj, x = as_jax_points(np.linspace(0.0, 1.0, 41))
    csr = BSpline.design_matrix(x, T, K)
    values, first = bc.design_matrix_compact(xj, T, K)
    ref_vals = csr.data.reshape(len(x), K + 1)
    ref_first = csr.indices[:: K + 1]
    assert_close(values, ref_vals)
    np.testing.assert_array_equal(np.asarray(first), ref_first)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("nu", [0, 1, 2])
def test_compact_traced_gradients_match_scipy(backend, nu):
    """Gradients and Hessians of the compact form against scipy's spline
    with random weights: d/dx of level nu is level nu + 1 at the same
    columns."""
    xj, x64 = as_jax_points([[0.05, 0.3], [0.61, 0.97]])
    w_np = np.random.default_rng(nu).normal(size=N_BASIS)
    w = jnp.asarray(w_np, float_dtype())
    spline = BSpline(T, w_np, K)

    def compact_loss(x):
        values, first = bc.design_matrix_compact(x, T, K, nu=nu, backend=backend)
        idx = first[..., None] + jnp.arange(K + 1)
        return jnp.sum(values * w[idx])

    grad = jax.jit(jax.grad(compact_loss))(xj)
    assert_close(grad, spline(x64, nu + 1), scale=10.0 ** (nu + 1))
    hess = jax.jit(jax.hessian(compact_loss))(xj).reshape(4, 4)
    assert_close(
        np.diagonal(hess), spline(x64, nu + 2).reshape(-1), scale=10.0 ** (nu + 2)
    )
    assert (np.asarray(hess)[~np.eye(4, dtype=bool)] == 0).all()
    v, f = jax.vmap(lambda x: bc.design_matrix_compact(x, T, K, backend=backend))(xj)
    assert v.shape == (2, 2, K + 1) and f.shape == (2, 2)
    assert_close(dense_from_compact(v, f, N_BASIS), scipy_basis(x64, T, K))


def test_compact_nan_rows_have_nan_gradients():
    g = jax.grad(lambda x: jnp.sum(bc.design_matrix_compact(x, T, K)[0]))(
        jnp.asarray([0.5, 1.5], float_dtype())
    )
    assert np.isfinite(g[0]) and np.isnan(g[1])


def test_compact_ships_no_dense_rows():
    """The callback returns (n, k + 2) numbers, never (n, n_basis)."""
    t = bc.uniform_knots(0.0, 1.0, 200, K)
    x = jnp.linspace(0.1, 0.9, 64, dtype=float_dtype())
    grad = jax.grad(lambda x: jnp.sum(bc.design_matrix_compact(x, t, K)[0]))
    jaxpr = jax.make_jaxpr(grad)(x)
    shapes = host_call_shapes(grad, x)
    assert shapes and all(s == (64, 2 * (K + 1) + 1) for s in shapes), shapes
    for eqn in iter_eqns(jaxpr.jaxpr):
        for v in eqn.outvars:
            assert 200 not in getattr(v.aval, "shape", ()), eqn


def test_compact_validation_names_the_function():
    with pytest.raises(ValueError, match="design_matrix_compact"):
        bc.design_matrix_compact([0.5], [0.0, 1.0], 3)
    with pytest.raises(TypeError, match="design_matrix_compact"):
        bc.design_matrix_compact([0.5], T, 3, nu=1.5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_basis_object_methods(backend):
    """``BSplineBasis`` carries the band and the spline too, equal to the
    free functions (which delegate to a cached instance) and to scipy."""
    basis = bc.BSplineBasis(T, K, backend=backend)
    xj, x64 = as_jax_points(X[:8])
    c = np.random.default_rng(3).normal(size=(N_BASIS, 2))
    for nu in (0, 1):
        values, first = jax.jit(lambda x, nu=nu: basis.compact(x, nu))(xj)
        v2, f2 = bc.design_matrix_compact(xj, T, K, nu=nu, backend=backend)
        np.testing.assert_array_equal(np.asarray(first), np.asarray(f2))
        assert_close(values, v2)
        assert_close(
            dense_from_compact(values, first, N_BASIS), scipy_basis(x64, T, K, nu)
        )
        spline = jax.jit(lambda x, nu=nu: basis.spline(x, c, nu))(xj)
        assert_close(spline, scipy_basis(x64, T, K, nu) @ c)
        assert_close(spline, bc.bspline(xj, T, c, K, nu=nu, backend=backend))
    with pytest.raises(ValueError, match=r"BSplineBasis.spline: `c` must have shape"):
        basis.spline(xj, np.ones(3))
    with pytest.raises(TypeError, match=r"BSplineBasis.compact: `nu` must be an int"):
        basis.compact(xj, 0.5)
