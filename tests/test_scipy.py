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
from bspline_callback import _scipy_dense, _scipy_host


@pytest.mark.parametrize("extrapolate", EXTRAPOLATE, ids=str)
@pytest.mark.parametrize("name,t,k", CASES, ids=[c[0] for c in CASES])
def test_design_matrix_matches_scipy(name, t, k, extrapolate):
    xj, x64 = as_jax_points(points(t, k))
    nus = range(k + 2)

    def levels(x):
        return [bc.design_matrix(x, t, k, nu=nu, extrapolate=extrapolate) for nu in nus]

    # Every level in one jitted program: one compilation per case.
    for nu, eager, traced in zip(nus, levels(xj), jax.jit(levels)(xj), strict=True):
        expected = scipy_basis(x64, t, k, nu, extrapolate)
        assert_close(eager, expected)
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


def _dense_cases():
    rng = np.random.default_rng(11)
    for k in range(10):
        yield f"uniform-k{k}", bc.uniform_knots(0.0, 1.0, 12, k), k
        inner = np.r_[0.2, [0.5] * max(k, 1), 0.7]
        yield f"repeated-k{k}", np.r_[[0.0] * (k + 1), inner, [1.0] * (k + 1)], k
        yield f"unclamped-k{k}", np.sort(rng.uniform(-1.0, 2.0, 2 * k + 8)), k
    for k in (1, 3, 5):  # wide: large raising-coefficient matrices
        yield f"wide-k{k}", bc.uniform_knots(0.0, 1.0, 100, k), k


@pytest.mark.parametrize("extrapolate", EXTRAPOLATE, ids=str)
@pytest.mark.parametrize("name,t,k", list(_dense_cases()), ids=lambda v: str(v))
def test_host_dense_rows_both_ways_bit_for_bit(name, t, k, extrapolate):
    """Dense rows from scipy's spline evaluation equal the band written into
    zeros exactly, so that a result never depends on the route (or on how
    many points came with it). Degrees 8 and 9 also pin numpy's strided
    ``np.negative`` bug, which made the raising step wrong at p = 8."""
    rng = np.random.default_rng(k)
    x = rng.uniform(t[0] - 0.3, t[-1] + 0.3, 40)
    x[:6] = [np.nan, np.inf, -np.inf, t[k], t[-k - 1], t[k + 1]]
    orders = ORDERS[: k + 3]
    scipy_rows = _scipy_host.HostBasis(t, k, extrapolate)
    band_rows = _scipy_host.HostBasis(t, k, extrapolate, scipy_dense=False)
    # scipy's evaluation alone, on the points the host maps.
    x_eval, bad, _ = _scipy_host.prepare_points(
        x, t[k], t[-k - 1], extrapolate, "float64"
    )
    rows = _scipy_dense.DenseRows(
        t, k, extrapolate, _scipy_host._slopes(t, k), scipy_rows._trimmed
    )
    for dtype in (np.float64, np.float32):
        a_all = rows(x_eval, bad, orders, dtype)
        b_all = band_rows.dense(x, orders, dtype=dtype)
        c_all = scipy_rows.dense(x, orders, dtype=dtype)
        for nu, (a, b, c) in enumerate(zip(a_all, b_all, c_all, strict=True)):
            assert a.dtype == dtype
            np.testing.assert_array_equal(a, b, err_msg=f"nu={nu}")
            np.testing.assert_array_equal(c, b, err_msg=f"nu={nu}")
    # Up to nu = k + 1 only: scipy 1.15 corrupts memory past that.
    for nu, got in enumerate(scipy_rows.dense(x, orders[:-1])):
        assert_close(got, scipy_basis(x, t, k, nu, extrapolate), dtype=np.float64)


def test_host_dense_rows_fall_back_to_the_band_on_overflow():
    """Extrapolating so far out that the basis overflows (identity
    coefficients would turn 0 * inf into NaN off the band): the band is
    written into zeros instead, with its values."""
    t = bc.uniform_knots(0.0, 1.0, 10, 7)
    x = np.array([0.3, 1e60, -1e60, 0.7])
    got = _scipy_host.HostBasis(t, 7, True).dense(x, ORDERS[:2])
    expected = _scipy_host.HostBasis(t, 7, True, scipy_dense=False).dense(x, ORDERS[:2])
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_array_equal(a, b)
    assert np.isinf(got[0][1]).any()  # the overflow reached the output
    wide = bc.uniform_knots(0.0, 1.0, 300, 3)  # past MAX_BASIS: the band
    assert _scipy_host.HostBasis(wide, 3)._dense_rows is None


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
