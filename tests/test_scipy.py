"""Agreement with scipy: design_matrix == BSpline(t, eye(n), k, extrapolate)(x, nu).

Over degrees 0..7, nu 0..k+1, knot vectors from make_interp_spline with every
bc_type, repeated interior knots up to multiplicity k+1, non-uniform and
unclamped knots, points on every knot and both ends of the base interval,
outside it, NaN and inf, and the three extrapolation modes; eager (concrete
x, host path) and under jit (traced x, the callback).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from cases import CASES, EXTRAPOLATE, NAN_POLICY_BAD, NAN_POLICY_X, points
from helpers import (
    as_jax_points,
    assert_close,
    float_dtype,
    host_call_shapes,
    scipy_basis,
)
from scipy.interpolate import BSpline

import bspline_callback as bc
from bspline_callback import _scipy_host


@pytest.mark.parametrize("extrapolate", EXTRAPOLATE, ids=str)
@pytest.mark.parametrize("name,t,k", CASES, ids=[c[0] for c in CASES])
def test_design_matrix_matches_scipy(name, t, k, extrapolate):
    xj, x64 = as_jax_points(points(t, k))
    for nu in range(k + 2):
        expected = scipy_basis(x64, t, k, nu, extrapolate)
        eager = bc.design_matrix(xj, t, k, nu=nu, extrapolate=extrapolate)
        assert_close(eager, expected)
        traced = jax.jit(
            lambda x, nu=nu: bc.design_matrix(x, t, k, nu=nu, extrapolate=extrapolate)
        )(xj)
        assert_close(traced, expected)


@pytest.mark.parametrize("name,t,k", CASES[::3], ids=[c[0] for c in CASES[::3]])
def test_public_route_equals_private_route(name, t, k):
    """scipy's private compiled routine and its public design_matrix agree."""
    x = points(t, k)
    x = x[np.isfinite(x)]
    x = x[(x >= t[k]) & (x <= t[len(t) - k - 1])]
    private = _scipy_host.HostBasis(t, k, use_private=True)
    public = _scipy_host.HostBasis(t, k, use_private=False)
    orders = tuple((nu,) for nu in range(k + 1))
    np.testing.assert_array_equal(private.band(x, orders)[0], public.band(x, orders)[0])


def test_bspline_matches_scipy():
    t = np.r_[[0.0] * 4, 0.3, 0.5, 0.6, [1.0] * 4]
    rng = np.random.default_rng(0)
    c = rng.normal(size=(7, 2, 3))
    xj, x64 = as_jax_points(np.linspace(-0.1, 1.1, 30).reshape(5, 6))
    for nu in range(5):
        for extrapolate in EXTRAPOLATE:
            expected = BSpline(t, c, 3, extrapolate=extrapolate)(x64, nu)
            got = jax.jit(
                lambda x, c, nu=nu, e=extrapolate: bc.bspline(
                    x, t, c, 3, nu=nu, extrapolate=e
                )
            )(xj, c)
            assert got.shape == (5, 6, 2, 3)
            assert_close(got, expected)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [7, 5000])
def test_host_dense_levels_match_scipy(n, dtype):
    """The host's dense rows, written directly in the requested dtype."""
    t = np.r_[[0.0] * 4, 0.1, 0.3, 0.3, 0.7, [1.0] * 4]
    rng = np.random.default_rng(1)
    x = rng.uniform(-0.05, 1.05, n)
    x[:3] = [np.nan, 0.0, 1.0]
    host = _scipy_host.HostBasis(t, 3)
    levels = host.dense(x, ORDERS[:5], dtype=dtype)
    for nu, got in enumerate(levels):
        assert got.dtype == dtype and got.shape == (n, 8)
        assert_close(got, scipy_basis(x, t, 3, nu), dtype=dtype)


ORDERS = tuple((nu,) for nu in range(12))


@pytest.mark.parametrize("k", [8, 9])
def test_host_high_degree_derivatives_match_scipy(k):
    """numpy's ``np.negative`` (2.3.5, 2.4.6) with a 64-byte input stride
    and a strided ``out`` writes wrong values; the raising step hit it at
    p = 8 (degree 8 and 9 derivatives 94% off)."""
    t = bc.uniform_knots(0.0, 1.0, 20, k)
    x = np.linspace(0.01, 0.99, 300)
    for nu, got in enumerate(_scipy_host.HostBasis(t, k).dense(x, ORDERS[: k + 2])):
        assert_close(got, scipy_basis(x, t, k, nu), dtype=np.float64)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_host_band_matches_dense_levels(dtype):
    """The band the host ships equals its dense rows, NaN rows too."""
    t = np.r_[[0.0] * 4, 0.1, 0.3, 0.3, 0.7, [1.0] * 4]
    rng = np.random.default_rng(2)
    x = rng.uniform(-0.05, 1.05, 300)
    x[:4] = [np.nan, 0.0, 1.0, np.inf]
    host = _scipy_host.HostBasis(t, 3)
    orders = ORDERS[:5]
    (packed,) = host.band(x, orders, dtype=dtype)
    assert packed.dtype == dtype and packed.shape == (300, len(orders) * 4 + 1)
    first = packed[:, -1]
    bad = ~((x >= 0) & (x <= 1))
    assert np.isnan(packed[bad]).all() and np.isfinite(packed[~bad]).all()
    for i, dense in enumerate(host.dense(x, orders, dtype=dtype)):
        rebuilt = np.zeros_like(dense)
        rows = np.flatnonzero(~bad)
        cols = first[rows].astype(int)[:, None] + np.arange(4)
        rebuilt[rows[:, None], cols] = packed[rows, i * 4 : (i + 1) * 4]
        np.testing.assert_array_equal(rebuilt[~bad], dense[~bad])
    assert host.band(x[:0], orders)[0].shape == (0, len(orders) * 4 + 1)


def test_bspline_ships_banded_rows_not_dense_ones():
    """``bspline`` needs the k + 1 non-zeros per row only: its one callback
    returns ``(n, levels * (k + 1) + 1)`` numbers, whatever ``n_basis``."""
    t = bc.uniform_knots(0.0, 1.0, 200, 3)
    x = jnp.linspace(0.05, 0.95, 7, dtype=float_dtype())
    c = jnp.ones(200, float_dtype())
    vg = jax.value_and_grad(lambda x, c: jnp.sum(bc.bspline(x, t, c, 3)), (0, 1))
    assert host_call_shapes(vg, x, c) == [(7, 2 * 4 + 1)]


@pytest.mark.parametrize("backend", ["callback", "jax"])
@pytest.mark.parametrize("function", ["design_matrix", "bspline"])
def test_nan_policy_rows_values_and_gradients(backend, function):
    """NaN rows exactly where the policy says; the other rows' values,
    gradients and second derivatives are scipy's. ``bspline``'s NaN rows add
    0 to gradients (so that a caller can mask them); the dense basis' NaN
    rows have NaN gradients."""
    t = np.r_[[0.0] * 4, 0.3, 0.6, [1.0] * 4]
    c = np.random.default_rng(4).normal(size=(6, 2))
    cj = jnp.asarray(c, float_dtype())

    def f(x):
        if function == "bspline":
            return bc.bspline(x, t, cj, 3, backend=backend)
        return bc.design_matrix(x, t, 3, backend=backend) @ cj

    x = jnp.asarray(NAN_POLICY_X, float_dtype())
    bad = NAN_POLICY_BAD
    x_ok = np.asarray(x, np.float64)[~bad]
    spline = BSpline(t, c, 3)
    out = np.asarray(jax.jit(f)(x))
    assert out.shape == (6, 2)
    assert np.isnan(out[bad]).all()
    assert_close(out[~bad], spline(x_ok))
    gx = np.asarray(jax.jit(jax.grad(lambda x: jnp.sum(f(x))))(x))
    if function == "bspline":
        assert (gx[bad] == 0).all()
    else:
        assert np.isnan(gx[bad]).all()
    assert_close(gx[~bad], spline(x_ok, 1).sum(-1), scale=10)
    # forward mode (hessian) through the same ladder
    h = jax.jit(jax.hessian(lambda x: jnp.sum(f(x))))(x[~bad])
    assert_close(np.diagonal(np.asarray(h)), spline(x_ok, 2).sum(-1), scale=100)
