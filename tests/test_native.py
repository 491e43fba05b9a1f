"""``backend="jax"``: the pure-JAX basis against scipy and the callback path.

References are scipy (``helpers.scipy_basis``) over the whole agreement
matrix of ``test_scipy`` (degrees 0..7, nu 0..k+1, repeated and unclamped
knots, points on knots, ends, outside, NaN, inf, three extrapolation modes),
the callback backend (to 1e-12 relative in float64), and the question's
exact tables.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from cases import CASES, EXTRAPOLATE, KNOTS, ORDER, X, exact_table, points
from helpers import (
    as_jax_points,
    assert_close,
    callback_count,
    float_dtype,
    iter_eqns,
    scipy_basis,
)
from scipy.interpolate import BSpline

import bspline_callback as bc

T = np.r_[[0.0] * 4, 0.2, 0.45, 0.45, 0.8, [1.0] * 4]
K = 3


def _cases():
    # Every sixth case by default (each compiles k + 2 levels, about a
    # second); the whole matrix with -m slow.
    for i, case in enumerate(CASES):
        marks = () if i % 6 == 0 else (pytest.mark.slow,)
        yield pytest.param(*case, id=case[0], marks=marks)


@pytest.mark.parametrize("extrapolate", EXTRAPOLATE, ids=str)
@pytest.mark.parametrize("name,t,k", list(_cases()))
def test_native_matches_scipy_and_callback(name, t, k, extrapolate):
    xj, x64 = as_jax_points(points(t, k))
    nus = tuple(range(k + 2))

    def all_levels(x, backend):
        return [
            bc.design_matrix(x, t, k, nu=nu, extrapolate=extrapolate, backend=backend)
            for nu in nus
        ]

    native = jax.jit(lambda x: all_levels(x, "jax"))(xj)
    # The callback path against scipy is test_scipy's; here, in float64,
    # the two backends against each other at 1e-12.
    callback = all_levels(x64, "callback") if float_dtype() == np.float64 else None
    rows, scale = slice(None), 1
    if extrapolate == "periodic" and float_dtype() == np.float32:
        # The native side wraps in float32, the host in float64: a point
        # that wraps to within float32 rounding of a knot may land on the
        # other side of it (a jump in the basis or its derivatives there).
        n = len(t) - k - 1
        lo, hi = t[k], t[n]
        with np.errstate(invalid="ignore"):  # inf wraps to NaN
            wrapped = lo + np.mod(x64 - lo, hi - lo)
        dist = np.abs(wrapped[:, None] - t[None, :]).min(axis=1)
        rows = ~(dist <= 1e-6 * max(hi - lo, 1.0))  # NaN rows are kept
        scale = 50  # and the wrapped point itself is rounded
    for nu, got in zip(nus, native, strict=True):
        assert got.dtype == float_dtype()
        expected = scipy_basis(x64, t, k, nu, extrapolate)
        assert_close(got[rows], expected[rows], scale=scale)
        if callback is not None:
            assert_close(got, callback[nu])


@pytest.mark.parametrize("deriv", range(4))
def test_native_question_tables(deriv):
    xj = jnp.asarray(X, float_dtype())
    got = jax.jit(lambda x: bc.b_spline_basis(KNOTS, ORDER, deriv, x, backend="jax"))
    assert_close(got(xj), exact_table(deriv), scale=10)


def test_native_has_no_callback_and_one_recurrence_per_level():
    xj = jnp.asarray(X, float_dtype())
    w_np = np.random.default_rng(8).normal(size=8)
    w = jnp.asarray(w_np, float_dtype())

    def f(x):
        return jnp.sum(bc.design_matrix(x, T, K, backend="jax") @ w)

    for fun in (f, jax.grad(f), jax.hessian(f)):
        assert callback_count(jax.jit(fun), xj) == 0
    assert callback_count(jax.vmap(jax.grad(f)), xj[None]) == 0
    # The derivative is the next level (the ladder), not autodiff through
    # the recurrence: a gradient at a point equals level 1 there.
    g = jax.jit(jax.grad(f))(xj)
    _, x64 = as_jax_points(X)
    assert_close(g, scipy_basis(x64, T, K, 1) @ w_np, scale=10)


def test_native_transformations():
    xj, x64 = as_jax_points(np.linspace(0.05, 0.95, 6).reshape(2, 3))
    w = np.random.default_rng(0).normal(size=8)

    def f(x):
        return jnp.sum(bc.design_matrix(x, T, K, backend="jax") @ w)

    spline = BSpline(T, w, K)
    assert_close(jax.jit(jax.grad(f))(xj), spline(x64, 1), scale=10)
    h = jax.jit(jax.hessian(f))(xj.reshape(-1))
    assert_close(np.diagonal(np.asarray(h)), spline(x64.reshape(-1), 2), scale=100)
    third = jax.grad(lambda s: jax.grad(lambda r: jax.grad(f)(r).sum())(s).sum())(xj)
    assert_close(third, spline(x64, 3), scale=1000)
    jf = jax.jacfwd(lambda x: bc.design_matrix(x, T, K, backend="jax"))(xj[0])
    jr = jax.jacrev(lambda x: bc.design_matrix(x, T, K, backend="jax"))(xj[0])
    np.testing.assert_allclose(np.asarray(jf), np.asarray(jr), rtol=0, atol=1e-6)
    batched = jax.vmap(lambda x: bc.design_matrix(x, T, K, backend="jax"))(xj)
    assert_close(batched, scipy_basis(x64, T, K), scale=10)


def test_native_exports_and_round_trips():
    """``jax.export`` (a model shipped without this package's Python, or
    run on another platform): the jax backend serializes, with a symbolic
    number of points too, and the deserialized computation gives scipy's
    values and derivatives. The callback backend cannot be serialized (a
    host callback is Python): refused at export with a clear error, never
    a later failure or a bare ``std::bad_cast`` (JAX's, for a callback
    with a symbolic shape)."""
    from jax import export

    xj, x64 = as_jax_points(X)
    w = np.random.default_rng(3).normal(size=8)

    def value_and_slope(x):
        f = lambda x: jnp.sum(bc.bspline(x, T, w, K, backend="jax"))  # noqa: E731
        return bc.design_matrix(x, T, K, backend="jax"), jax.grad(f)(x)

    (n,) = export.symbolic_shape("n")
    spec = jax.ShapeDtypeStruct((n,), float_dtype())
    exported = export.export(jax.jit(value_and_slope))(spec)
    restored = export.deserialize(exported.serialize())
    basis, slope = restored.call(xj)
    assert_close(basis, scipy_basis(x64, T, K))
    assert_close(slope, BSpline(T, w, K)(x64, 1), scale=10)
    assert restored.call(xj[:3])[0].shape == (3, 8)  # any number of points

    def callback_basis(x):
        return bc.design_matrix(x, T, K)

    with pytest.raises(NotImplementedError, match='use backend="jax"'):
        export.export(jax.jit(callback_basis))(spec)
    fixed = jax.ShapeDtypeStruct((5,), float_dtype())
    with pytest.raises(NotImplementedError, match="host_callbacks"):
        export.export(jax.jit(callback_basis))(fixed)


def test_native_traced_knots_and_knot_gradient_error():
    xj, x64 = as_jax_points(X)
    f = jax.jit(lambda t, x: bc.design_matrix(x, t, K, nu=1, backend="jax"))
    assert_close(f(jnp.asarray(T, float_dtype()), xj), scipy_basis(x64, T, K, 1))
    bad = T.copy()
    bad[5] = 0.9  # decreasing: invalid traced knots give NaN, no exception
    assert np.isnan(np.asarray(f(jnp.asarray(bad, float_dtype()), xj))).all()
    shifted = jax.vmap(lambda s: f(jnp.asarray(T, float_dtype()) + s, xj + s))(
        jnp.array([0.0, 0.25], float_dtype())
    )
    assert_close(shifted[1], scipy_basis(x64, T, K, 1), scale=10)
    with pytest.raises(TypeError, match="differentiating with respect to the knots"):
        jax.grad(lambda t: jnp.sum(bc.design_matrix(xj, t, K, backend="jax")))(
            jnp.asarray(T, float_dtype())
        )


@pytest.mark.parametrize("extrapolate", EXTRAPOLATE, ids=str)
def test_native_bspline_matches_scipy(extrapolate):
    t = np.r_[[0.0] * 4, 0.3, 0.5, 0.6, [1.0] * 4]
    c = np.random.default_rng(0).normal(size=(7, 2))
    xj, x64 = as_jax_points(np.linspace(-0.1, 1.1, 12).reshape(3, 4))
    for nu in range(5):
        got = jax.jit(
            lambda x, c, nu=nu: bc.bspline(
                x, t, c, 3, nu=nu, extrapolate=extrapolate, backend="jax"
            )
        )(xj, jnp.asarray(c, float_dtype()))
        expected = BSpline(t, c, 3, extrapolate=extrapolate)(x64, nu)
        if not extrapolate:
            expected[(x64 < 0) | (x64 > 1)] = np.nan
        assert_close(got, expected, scale=10)
    gc = jax.grad(
        lambda c: jnp.sum(bc.bspline(xj[:, 1:3], t, c, 3, backend="jax")), argnums=0
    )(jnp.asarray(c, float_dtype()))
    basis = BSpline(t, np.eye(7), 3)(x64[:, 1:3].reshape(-1))
    assert_close(gc, np.repeat(basis.sum(0)[:, None], 2, 1), scale=10)


def test_native_basis_object_and_validation():
    basis = bc.BSplineBasis(T, K, backend="jax")
    assert basis.backend == "jax" and "backend='jax'" in repr(basis)
    assert basis != bc.BSplineBasis(T, K)
    xj, x64 = as_jax_points(X)
    assert_close(jax.jit(basis.basis)(xj), scipy_basis(x64, T, K))
    # eager, concrete x: still no host
    assert_close(basis.basis(xj, 2), scipy_basis(x64, T, K, 2), scale=10)
    for call in (
        lambda: bc.design_matrix(xj, T, K, backend="numpy"),
        lambda: bc.BSplineBasis(T, K, backend=None),
        lambda: bc.bspline(xj, T, np.ones(8), K, backend="JAX"),
    ):
        with pytest.raises(ValueError, match="`backend` must be 'callback'"):
            call()


def test_native_bspline_never_builds_the_dense_basis():
    """Like the callback path, ``bspline`` works on the k + 1 non-zeros per
    row: nothing of shape ``(n, n_basis)`` appears, gradients included."""
    t = bc.uniform_knots(0.0, 1.0, 200, 3)
    x = jnp.linspace(0.05, 0.95, 7, dtype=float_dtype())
    c = jnp.ones(200, float_dtype())

    def loss(x, c):
        return jnp.sum(bc.bspline(x, t, c, 3, backend="jax"))

    jaxpr = jax.make_jaxpr(jax.value_and_grad(loss, (0, 1)))(x, c)
    eqns = list(iter_eqns(jaxpr.jaxpr))
    shapes = {tuple(v.aval.shape) for e in eqns for v in e.outvars}
    assert (7, 200) not in shapes
    # What replaces it: c's windows of k + 1 = 4 coefficients, (200, 4),
    # and one gather of a window per point, (7, 4).
    gathers = [
        (tuple(e.invars[0].aval.shape), tuple(e.outvars[0].aval.shape))
        for e in eqns
        if e.primitive.name == "gather"
    ]
    assert gathers.count(((200,), (200, 4))) == 1
    assert gathers.count(((200, 4), (7, 4))) == 1


def _long_knots(kind):
    """Clamped cubic knots with 40 interior knots: near-uniform (the span
    search uses bins) or clustered (it compares with every knot)."""
    rng = np.random.default_rng(7)
    if kind == "jittered":
        inner = np.linspace(0.0, 1.0, 42)[1:-1] + rng.uniform(-4e-3, 4e-3, 40)
    else:  # half of them 5e-4 apart: no bin size covers them in 3 steps
        # (near 0, where float32 resolves such short spans well)
        inner = np.r_[0.01 + 5e-4 * np.arange(20), np.linspace(0.03, 0.99, 20)]
    inner = np.sort(inner)
    inner[5] = inner[6]  # a double knot
    return np.r_[[0.0] * 4, inner, [1.0] * 4]


@pytest.mark.parametrize("extrapolate", EXTRAPOLATE, ids=str)
@pytest.mark.parametrize("kind", ["jittered", "clustered"])
def test_native_long_knot_vectors_span_search(kind, extrapolate):
    """Both span searches for concrete knots with many interior knots
    (``SpanBins`` and compare-with-every-knot) against scipy, at points on
    every knot, one float step either side of each, bin edges and outside."""
    from bspline_callback._jax_knots import SpanBins

    t, k = _long_knots(kind), 3
    bins = SpanBins.build(t, k)
    assert (bins is None) == (kind == "clustered")
    dtype = float_dtype()
    tj = t.astype(dtype)
    nonzero = tj[tj != 0]  # (a float step from 0 is subnormal: XLA flushes it)
    near = np.r_[tj, np.nextafter(nonzero, -np.inf), np.nextafter(nonzero, np.inf)]
    edges = np.linspace(0.0, 1.0, 4 * 41 + 1)
    x = np.r_[near, edges, np.linspace(-0.2, 1.2, 57), np.nan]
    xj, x64 = as_jax_points(x)
    for nu in (0, 1, 3):
        got = jax.jit(
            lambda x, nu=nu: bc.design_matrix(
                x, t, k, nu=nu, extrapolate=extrapolate, backend="jax"
            )
        )(xj)
        assert_close(got, scipy_basis(x64, t, k, nu, extrapolate), scale=10)
    values, first = bc.design_matrix_compact(
        xj, t, k, extrapolate=extrapolate, backend="jax"
    )
    expected_first = (
        np.clip(np.searchsorted(t, x64, side="right") - 1, k, len(t) - k - 2) - k
    )
    ok = np.isfinite(x64) & ((x64 >= 0) & (x64 <= 1) | (extrapolate is not False))
    if extrapolate == "periodic":
        ok &= (x64 >= 0) & (x64 < 1)  # wrapped points: checked by the values above
    np.testing.assert_array_equal(np.asarray(first)[ok], expected_first[ok])
