"""Tensor-product splines in N dimensions against scipy's NdBSpline.

The oracle is ``NdBSpline`` with unit coefficient arrays (one column of the
basis each; not ``NdBSpline.design_matrix``, which can return too few
columns), and with the user's ``c`` for ``bspline_nd``. Both backends;
degrees (1, 3), (3, 3), (0, 2), (5, 2) and 3-D; every ``nu`` of total order
up to 3; repeated and non-uniform knots; points on knots, at the ends and
outside; ``extrapolate`` True and False.
"""

import itertools

import jax
import jax.extend
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_close, callback_count, float_dtype, scipy_basis
from jax.test_util import check_grads
from scipy.interpolate import NdBSpline, RectBivariateSpline, RegularGridInterpolator

import bspline_callback as bc

BACKENDS = ["callback", "jax"]
RNG = np.random.default_rng(23)


def knots(k, n_inner, kind):
    inner = {
        "uniform": np.linspace(0, 1, n_inner + 2)[1:-1],
        "nonuniform": np.sort(RNG.uniform(0.05, 0.95, n_inner)),
        "repeated": np.r_[0.3, [0.5] * max(k, 1), 0.8],
    }[kind]
    return np.r_[[0.0] * (k + 1), inner, [1.0] * (k + 1)]


CASES = [
    ((1, 3), ("uniform", "nonuniform")),
    ((3, 3), ("repeated", "uniform")),
    ((0, 2), ("nonuniform", "repeated")),
    ((5, 2), ("uniform", "nonuniform")),
    ((2, 1, 3), ("uniform", "repeated", "nonuniform")),
]


def points(t, k, n=9):
    """Random points, and points on knots and at the ends (per axis)."""
    d = len(t)
    x = RNG.uniform(0, 1, (n, d))
    for i in range(d):
        x[i % n, i] = t[i][k[i]]  # lower end
        x[(i + 1) % n, i] = t[i][-k[i] - 1]  # upper end
        x[(i + 2) % n, i] = t[i][len(t[i]) // 2]  # a knot
    return x


def scipy_basis_nd(x, t, k, nu, extrapolate=False):
    """NdBSpline with unit coefficients: the dense basis, C order."""
    sizes = tuple(len(ti) - ki - 1 for ti, ki in zip(t, k, strict=True))
    m = int(np.prod(sizes))
    # Unit coefficient arrays as one trailing axis: column j is the spline
    # whose coefficients are the j-th unit array.
    c = np.eye(m).reshape(sizes + (m,))
    out = NdBSpline(t, c, k, extrapolate=extrapolate)(x, nu=nu).reshape(len(x), m)
    if not extrapolate:
        lo = np.array([ti[ki] for ti, ki in zip(t, k, strict=True)])
        hi = np.array([ti[-ki - 1] for ti, ki in zip(t, k, strict=True)])
        out[((x < lo) | (x > hi)).any(-1)] = np.nan
    return out


def orders(d, total=3):
    return [o for o in itertools.product(range(total + 1), repeat=d) if sum(o) <= total]


def _nd_cases():
    """Every case on the callback backend; on the jax backend degrees (1, 3)
    and (3, 3), which take the paths of (5, 2) and (2, 1, 3), with -m slow."""
    for backend in BACKENDS:
        for k, kinds in CASES:
            slow = backend == "jax" and k in ((1, 3), (3, 3))
            marks = (pytest.mark.slow,) if slow else ()
            yield pytest.param(backend, k, kinds, marks=marks, id=f"{k}-{backend}")


@pytest.mark.parametrize("backend,k,kinds", list(_nd_cases()))
def test_design_matrix_nd_matches_ndbspline(backend, k, kinds):
    t = tuple(knots(ki, 3, kind) for ki, kind in zip(k, kinds, strict=True))
    x = points(t, k)
    xj = jnp.asarray(x, float_dtype())
    x64 = np.asarray(xj, np.float64)
    for nu in orders(len(k)):
        f = jax.jit(
            lambda x, nu=nu: bc.design_matrix_nd(x, t, k, nu=nu, backend=backend)
        )
        got = f(xj)
        assert got.shape == (
            x.shape[0],
            int(np.prod([len(a) - b - 1 for a, b in zip(t, k, strict=True)])),
        )
        assert_close(
            got, scipy_basis_nd(x64, t, k, nu), scale=10.0 ** sum(nu), err=str(nu)
        )


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("extrapolate", [False, True])
def test_bspline_nd_matches_ndbspline(backend, extrapolate):
    t = (knots(3, 4, "nonuniform"), knots(2, 3, "repeated"))
    k = (3, 2)
    c = RNG.normal(size=(len(t[0]) - 4, len(t[1]) - 3, 2))
    x = np.r_[points(t, k), [[-0.2, 0.5], [0.5, 1.3], [1.1, -0.1]]]
    xj = jnp.asarray(x, float_dtype())
    x64 = np.asarray(xj, np.float64)
    spline = NdBSpline(t, c, k, extrapolate=extrapolate)
    outside = ((x64 < 0) | (x64 > 1)).any(-1)
    for nu in orders(2):
        got = jax.jit(
            lambda x, nu=nu: bc.bspline_nd(
                x, t, c, k, nu=nu, extrapolate=extrapolate, backend=backend
            )
        )(xj)
        ref = spline(x64, nu=nu)
        if not extrapolate:
            ref[outside] = np.nan
        assert got.shape == (len(x), 2)
        assert_close(got, ref, scale=10.0 ** sum(nu), err=str(nu))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n_inner", [3, 40])  # 40: above _nd.DENSE_C_MAX
@pytest.mark.parametrize("traced", [True, False])
def test_bspline_nd_gradients_in_x_and_c(backend, n_inner, traced):
    """value_and_grad of a weighted sum in the points and the coefficients
    (trailing axes, random weights, a NaN row masked by ``jnp.where``)
    against scipy: the gradient in ``x_i`` is the spline of ``nu = e_i``,
    the gradient in ``c`` the basis rows' transpose times the weights;
    jacfwd in ``c`` equals jacrev."""
    t = (knots(3, n_inner, "nonuniform"), knots(2, 4, "uniform"))
    k = (3, 2)
    sizes = (len(t[0]) - 4, len(t[1]) - 3)
    c = jnp.asarray(RNG.normal(size=sizes + (2,)), float_dtype())
    x = np.r_[RNG.uniform(0, 1, (6, 2)), [[0.5, 1.5]]]  # the last row: NaN
    w = RNG.normal(size=(7, 2))
    xj = jnp.asarray(x, float_dtype())
    x64 = np.asarray(xj, np.float64)
    ok = np.arange(7) < 6

    def loss(p, c):
        p = p if traced else xj  # concrete points: only c is traced
        v = bc.bspline_nd(p, t, c, k, backend=backend)
        return jnp.sum(jnp.where(ok[:, None], v, 0.0) * w)

    value, (gx, gc) = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))(xj, c)
    c64 = np.asarray(c, np.float64)
    a = scipy_basis(x64[:6, 0], t[0], 3)
    b = scipy_basis(x64[:6, 1], t[1], 2)
    rows = (a[:, :, None] * b[:, None, :]).reshape(6, -1)
    assert_close(value, np.sum(rows @ c64.reshape(-1, 2) * w[:6]), scale=10)
    ref_c = (rows.T @ w[:6]).reshape(c.shape)
    assert_close(gc, ref_c, scale=10)
    if traced:
        for i, nu in enumerate([(1, 0), (0, 1)]):
            slope = NdBSpline(t, c64, k)(x64[:6], nu=nu)
            assert_close(gx[:6, i], np.sum(slope * w[:6], axis=-1), scale=10)
        assert np.all(np.asarray(gx[6]) == 0)
    fwd = jax.jacfwd(lambda c: bc.bspline_nd(xj[:6], t, c, k, backend=backend))(c)
    rev = jax.jacrev(lambda c: bc.bspline_nd(xj[:6], t, c, k, backend=backend))(c)
    np.testing.assert_allclose(np.asarray(fwd), np.asarray(rev), rtol=0, atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_d1_equals_design_matrix(backend):
    t = knots(3, 4, "nonuniform")
    x = jnp.asarray(RNG.uniform(0, 1, 8), float_dtype())
    for nu in range(3):
        a = bc.design_matrix_nd(x[:, None], (t,), 3, nu=nu, backend=backend)
        b = bc.design_matrix(x, t, 3, nu=nu, backend=backend)
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_ladder_in_n_dimensions(backend):
    """One host call for a value_and_grad and for a hessian (callback; none
    on the jax backend); jacfwd equals jacrev; the mixed partial equals
    scipy's nu=(1, 1); vmap and nested vmap."""
    t = (knots(3, 3, "uniform"), knots(3, 4, "nonuniform"))
    k = (3, 3)
    c = RNG.normal(size=(7, 8))
    spline = NdBSpline(t, c, k)
    xj = jnp.asarray(RNG.uniform(0.05, 0.95, (5, 2)), float_dtype())
    x64 = np.asarray(xj, np.float64)

    def f(p):
        return bc.bspline_nd(p, t, c, k, backend=backend)

    calls = 1 if backend == "callback" else 0
    assert callback_count(jax.value_and_grad(lambda x: f(x).sum()), xj) == calls
    assert callback_count(jax.hessian(f), xj[0]) == calls
    H = jax.jit(jax.vmap(jax.hessian(f)))(xj)
    assert_close(H[:, 0, 1], spline(x64, nu=(1, 1)), scale=100)
    assert_close(H[:, 1, 0], spline(x64, nu=(1, 1)), scale=100)
    assert_close(H[:, 0, 0], spline(x64, nu=(2, 0)), scale=100)
    jf = jax.jacfwd(lambda x: bc.design_matrix_nd(x, t, k, backend=backend))(xj[0])
    jr = jax.jacrev(lambda x: bc.design_matrix_nd(x, t, k, backend=backend))(xj[0])
    np.testing.assert_allclose(np.asarray(jf), np.asarray(jr), rtol=0, atol=1e-5)
    nested = jax.jit(jax.vmap(jax.vmap(f)))(xj.reshape(5, 1, 2))
    assert_close(nested.reshape(-1), spline(x64))


@pytest.mark.parametrize("backend", BACKENDS)
def test_check_grads_second_order(backend, x64):
    if not x64:
        pytest.skip("numerical gradient checks need float64 (JAX_ENABLE_X64=1)")
    t = (knots(3, 3, "uniform"), knots(2, 3, "nonuniform"))
    c = RNG.normal(size=(7, 6))
    x = jnp.asarray(RNG.uniform(0.1, 0.9, (4, 2)))
    check_grads(
        lambda x: bc.bspline_nd(x, t, c, (3, 2), backend=backend), (x,), order=2
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_nd_policy_per_coordinate(backend):
    """A point outside in any coordinate is a NaN row; float32 ends round to
    the ends; linear extrapolation per axis."""
    t = (knots(3, 3, "uniform") * 3.7, knots(2, 3, "uniform"))
    k = (3, 2)
    x = np.array([[3.7, 0.5], [0.5, 1.2], [np.nan, 0.5], [1.0, 0.3]])
    xj = jnp.asarray(x, jnp.float32)
    B = np.asarray(bc.design_matrix_nd(xj, t, k, backend=backend))
    np.testing.assert_array_equal(np.isnan(B).all(-1), [False, True, True, False])
    ref = scipy_basis_nd(
        np.r_[[[3.7, 0.5]], np.asarray(xj[3:], np.float64)], t, k, (0, 0)
    )
    np.testing.assert_allclose(B[[0, 3]], ref, atol=1e-6)
    lin = bc.design_matrix_nd(xj[:2], t, k, extrapolate="linear", backend=backend)
    assert np.isfinite(np.asarray(lin)).all()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_empty_and_integer_points(backend, jit):
    """No points give empty results of the right shape (as in 1-D); integer
    points are promoted, traced too (the host never sees an int array)."""
    t = (knots(3, 3, "uniform"), knots(2, 3, "uniform"))
    c = RNG.normal(size=(7, 6, 2))

    def maybe(f):
        return jax.jit(f) if jit else f

    dm = maybe(lambda x: bc.design_matrix_nd(x, t, (3, 2), backend=backend))
    sp = maybe(lambda x, c: bc.bspline_nd(x, t, c, (3, 2), backend=backend))
    empty = jnp.zeros((0, 2), float_dtype())
    assert dm(empty).shape == (0, 42)
    assert sp(empty, c).shape == (0, 2)
    assert dm(jnp.zeros((3, 0, 2))).shape == (3, 0, 42)
    grad = jax.grad(lambda c: sp(empty, c).sum())(c)
    np.testing.assert_array_equal(grad, 0.0)
    xi = jnp.asarray([[0, 1], [1, 0]], jnp.int32)
    ref = NdBSpline(t, c, (3, 2))(np.array([[0.0, 1.0], [1.0, 0.0]]))
    assert_close(sp(xi, c), ref)
    assert_close(dm(xi), scipy_basis_nd(np.asarray(xi, float), t, (3, 2), (0, 0)))


def test_nd_outside_warning_counts_points_once_and_names_coordinates():
    t = (knots(3, 3, "uniform"), knots(2, 3, "uniform"))
    x = np.array([[2.0, 2.0], [0.5, 2.0], [0.5, 0.5], [-1.0, 0.5]])
    for f in (
        lambda: bc.design_matrix_nd(x, t, (3, 2)),
        lambda: bc.bspline_nd(x, t, np.ones((7, 6)), (3, 2)),
    ):
        with pytest.warns(UserWarning) as seen:
            f()
        assert len(seen) == 1, [str(w.message) for w in seen]
        message = str(seen[0].message)
        assert "3 of 4 points" in message, message
        assert "coordinate 0: 2 outside [0.0, 1.0]" in message, message
        assert "coordinate 1: 2 outside [0.0, 1.0]" in message, message


def _largest_intermediate(jaxpr):
    """The most entries of any array a jaxpr (and its sub-jaxprs) makes."""
    most = 0
    for eqn in jaxpr.eqns:
        for var in eqn.outvars:
            most = max(most, int(np.prod(getattr(var.aval, "shape", ()))))
        for sub in jax.extend.core.jaxprs_in_params(eqn.params):
            most = max(most, _largest_intermediate(sub))
    return most


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "traced",
    [pytest.param(False, marks=pytest.mark.slow), True],
    ids=["observed x", "traced x"],
)
def test_gradient_in_c_scales_with_the_points(backend, traced):
    """10 points in a 30^3 basis: the value and gradient in ``c`` make no
    array larger than a few times ``c`` (a table of every window would hold
    27^3 * 64 = 1.26 million entries), and equal the dense product's."""
    t = (knots(3, 26, "uniform"),) * 3
    c = jnp.asarray(RNG.normal(size=(30, 30, 30)), float_dtype())
    x = RNG.uniform(0, 1, (10, 3))

    def loss(c, x):
        return jnp.sum(jnp.sin(bc.bspline_nd(x, t, c, 3, backend=backend)))

    f = jax.value_and_grad(loss) if traced else jax.value_and_grad(lambda c: loss(c, x))
    args = (c, jnp.asarray(x, float_dtype())) if traced else (c,)
    assert _largest_intermediate(jax.make_jaxpr(f)(*args).jaxpr) <= 4 * c.size
    # The tensor product of scipy's 1-D bases, C order.
    xs = np.asarray(jnp.asarray(x, float_dtype()), np.float64)
    b = [scipy_basis(xs[:, i], t[i], 3) for i in range(3)]
    B = np.einsum("pi,pj,pl->pijl", *b).reshape(len(xs), -1)
    value, grad = jax.jit(f)(*args)
    s = B @ np.asarray(c, np.float64).ravel()
    assert_close(value, np.sin(s).sum(), scale=10)
    assert_close(grad.ravel(), B.T @ np.cos(s))


def test_nd_validation():
    t = (knots(3, 3, "uniform"), knots(2, 3, "uniform"))
    x = jnp.ones((4, 2)) * 0.5
    with pytest.raises(ValueError, match=r"`x` must have shape \(\.\.\., 2\)"):
        bc.design_matrix_nd(jnp.ones((4, 3)), t, (3, 2))
    with pytest.raises(
        ValueError, match=r"`nu` must be an int or a sequence of 2 ints"
    ):
        bc.design_matrix_nd(x, t, (3, 2), nu=(1, 0, 0))
    with pytest.raises(ValueError, match=r"`k` has 3 degrees for 2 knot vectors"):
        bc.design_matrix_nd(x, t, (3, 2, 1))
    with pytest.raises(ValueError, match=r"`t\[1\]` must be a 1-D array"):
        bc.design_matrix_nd(x, (t[0], np.ones((3, 3))), (3, 2))
    with pytest.raises(TypeError, match=r"`t` must be a tuple of d 1-D knot vectors"):
        bc.design_matrix_nd(x, t[0], 3)
    with pytest.raises(ValueError, match=r"`c` must have shape \(7, 6\)"):
        bc.bspline_nd(x, t, np.ones((6, 6)), (3, 2))


def test_from_scipy_nd_objects():
    gx, gy = np.linspace(0, 1, 12), np.linspace(0, 2, 15)
    z = np.sin(3 * gx)[:, None] * np.cos(2 * gy)[None, :]
    xj = jnp.asarray(RNG.uniform([0, 0], [1, 2], (6, 2)), float_dtype())
    x64 = np.asarray(xj, np.float64)
    rbs = RectBivariateSpline(gx, gy, z)
    f = bc.from_scipy(rbs)
    assert_close(jax.jit(f)(xj), rbs.ev(x64[:, 0], x64[:, 1]))
    grad = jax.jit(jax.vmap(jax.grad(f)))(xj)
    assert_close(grad[:, 0], rbs.ev(x64[:, 0], x64[:, 1], dx=1), scale=10)
    assert_close(grad[:, 1], rbs.ev(x64[:, 0], x64[:, 1], dy=1), scale=10)
    # FITPACK holds the boundary value outside its box; derivatives there 0.
    assert_close(f(jnp.asarray([[1.5, 1.0]])), rbs.ev([1.0], [1.0]))
    assert float(jax.grad(f)(jnp.asarray([1.5, 1.0]))[0]) == 0.0
    rgi = RegularGridInterpolator((gx, gy), z, method="cubic")
    g = bc.from_scipy(rgi)
    assert_close(g(xj), rgi(x64))
    assert_close(jax.vmap(jax.grad(g))(xj)[:, 1], rgi(x64, nu=(0, 1)), scale=10)
    assert np.isnan(float(g(jnp.asarray([[1.5, 1.0]]))[0]))  # bounds_error: NaN
    with pytest.raises(TypeError, match="method 'linear' has no derivatives"):
        bc.from_scipy(RegularGridInterpolator((gx, gy), z))
    nd = NdBSpline((knots(3, 3, "uniform"),) * 2, RNG.normal(size=(7, 7, 3)), 3)
    h = bc.from_scipy(nd)
    assert h(xj[:, :1].repeat(2, -1) / 2).shape == (6, 3)
    assert_close(h(xj / 2, (1, 2)), nd(x64 / 2, nu=(1, 2)), scale=100)


def test_from_scipy_nd_outside_on_every_side():
    """Below and above each coordinate, and both at once: FITPACK's clamped
    value with derivative 0 in each clamped coordinate (the derivative of a
    constant) and scipy's own in the other; a grid's finite fill value with
    derivatives 0."""
    gx, gy = np.linspace(0, 1, 12), np.linspace(0, 2, 15)
    z = np.sin(3 * gx)[:, None] * np.cos(2 * gy)[None, :] + gy[None, :]
    pts = np.array([[-0.5, 1.0], [1.5, 1.0], [0.5, -0.3], [0.5, 2.4], [-0.2, 2.5]])
    xj = jnp.asarray(pts, float_dtype())
    x64 = np.asarray(xj, np.float64)
    lo, hi = np.array([0.0, 0.0]), np.array([1.0, 2.0])
    inside = (x64 >= lo) & (x64 <= hi)
    c = np.clip(x64, lo, hi)
    rbs = RectBivariateSpline(gx, gy, z)
    f = bc.from_scipy(rbs)
    assert_close(f(xj), rbs.ev(c[:, 0], c[:, 1]))
    grad = jax.jit(jax.vmap(jax.grad(f)))(xj)
    assert_close(grad[:, 0], np.where(inside[:, 0], rbs.ev(*c.T, dx=1), 0), scale=10)
    assert_close(grad[:, 1], np.where(inside[:, 1], rbs.ev(*c.T, dy=1), 0), scale=10)
    for method in ("slinear", "cubic"):
        rgi = RegularGridInterpolator(
            (gx, gy), z, method=method, bounds_error=False, fill_value=5.0
        )
        g = bc.from_scipy(rgi)
        np.testing.assert_array_equal(g(xj), rgi(x64))  # the fill value
        np.testing.assert_array_equal(jax.vmap(jax.grad(g))(xj), 0.0)
        np.testing.assert_array_equal(jax.vmap(jax.hessian(g))(xj), 0.0)


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_from_scipy_nd_keeps_the_end_rule(jit):
    """float32 points at a grid's edges (0.3 rounds up in float32) are
    inside: scipy's values and derivatives at the edge, not NaN or 0."""
    g = np.linspace(0, 0.3, 7)
    z = np.sin(5 * g)[:, None] + g[None, :] ** 2
    edge = np.float32(0.3)
    assert float(edge) > 0.3
    xj = jnp.asarray([[edge, 0.15], [0.15, edge]], jnp.float32)
    x64 = np.array([[0.3, 0.15], [0.15, 0.3]])
    rgi = RegularGridInterpolator((g, g), z, method="cubic")
    rbs = RectBivariateSpline(g, g, z)
    for obj, ref, ref_dx in (
        (rgi, rgi(x64), rgi(x64, nu=(1, 0))),
        (rbs, rbs.ev(*x64.T), rbs.ev(*x64.T, dx=1)),
    ):
        f = bc.from_scipy(obj)
        value = jax.jit(f) if jit else f
        slope = jax.vmap(jax.grad(f))
        np.testing.assert_allclose(value(xj), ref, rtol=2e-5)
        np.testing.assert_allclose(
            (jax.jit(slope) if jit else slope)(xj)[:, 0], ref_dx, rtol=2e-5, atol=1e-5
        )


def test_differentiable_callback_ndim():
    """A user's N-D host code, unchanged: x (n, d), nu a tuple."""
    nd = NdBSpline((knots(3, 3, "uniform"),) * 2, RNG.normal(size=(7, 7)), 3)
    f = bc.differentiable_callback(lambda x, nu: nd(x, nu=nu), feature_shape=(), ndim=2)
    xj = jnp.asarray(RNG.uniform(0, 1, (4, 2)), float_dtype())
    x64 = np.asarray(xj, np.float64)
    assert callback_count(jax.hessian(f), xj[0]) == 1
    H = jax.jit(jax.vmap(jax.hessian(f)))(xj)
    assert_close(H[:, 0, 1], nd(x64, nu=(1, 1)), scale=100)
    with pytest.raises(ValueError, match=r"`x` must have shape \(\.\.\., 2\)"):
        f(jnp.ones((3, 3)))
    with pytest.raises(ValueError, match="`ndim` must be >= 1"):
        bc.differentiable_callback(lambda x, nu: x, feature_shape=(), ndim=0)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mode", [True, "periodic", "linear", "constant"])
def test_extrapolation_per_axis(backend, mode):
    """Each mode applies per coordinate: the N-D basis is the product of the
    1-D bases of scipy (with the Taylor continuation for "linear" and
    "constant"), derivatives included."""
    t = (knots(3, 3, "nonuniform"), knots(2, 2, "uniform"))
    k = (3, 2)
    x = jnp.asarray([[-0.3, 0.5], [0.4, 1.4], [1.2, -0.2], [0.5, 0.5]], float_dtype())
    x64 = np.asarray(x, np.float64)
    for nu in [(0, 0), (1, 0), (1, 1)]:
        got = bc.design_matrix_nd(x, t, k, nu=nu, extrapolate=mode, backend=backend)
        a = scipy_basis(x64[:, 0], t[0], 3, nu[0], mode)
        b = scipy_basis(x64[:, 1], t[1], 2, nu[1], mode)
        ref = (a[:, :, None] * b[:, None, :]).reshape(len(x), -1)
        assert_close(got, ref, scale=100, err=f"{mode} {nu}")
