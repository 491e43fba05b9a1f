"""The public bridge: ``differentiable_callback`` and ``from_scipy``.

References are scipy's own objects evaluated in float64, the question's
exact tables (``test_reference.exact_table``), and the question's own host
code (``question_code.py``), which is wrapped here unchanged.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.interpolate as si
from cases import KNOTS, ORDER, X, exact_table
from helpers import (
    as_jax_points,
    assert_close,
    callback_count,
    float_dtype,
    no_compiles,
)
from question_code import BSpline as QBSpline, _b_spline_eval

import bspline_callback as bc


def question_host(x, nu):
    """The question's host code, unchanged, as a ``host_fn(x, nu)``."""
    spline = QBSpline(t=KNOTS, k=ORDER, c=np.zeros(len(KNOTS) - ORDER - 1))
    return np.asarray(_b_spline_eval(spline, x, nu))[:, 1:]


question_f = bc.differentiable_callback(question_host, feature_shape=4)


@pytest.mark.parametrize("deriv", [0, 1, 2, 3])
def test_question_host_code_passes_its_tables_under_jit_and_vmap(deriv):
    x = jnp.asarray(X)
    assert_close(jax.jit(lambda x: question_f(x, deriv))(x), exact_table(deriv))
    # vmap over a batch of point sets: one batched host call
    batch = jnp.stack([x, x[::-1]])
    out = jax.jit(jax.vmap(lambda x: question_f(x, deriv)))(batch)
    assert_close(out[0], exact_table(deriv))
    assert_close(out[1], exact_table(deriv)[::-1])


def test_question_host_code_nested_grad():
    """d/dx of the basis is the next table; d2/dx2 the one after (jit, vmap)."""
    w = jnp.array([1.0, -2.0, 0.5, 3.0])

    def s(xi):
        return question_f(xi) @ w

    for n, fn in enumerate([s, jax.grad(s), jax.grad(jax.grad(s))]):
        got = jax.jit(jax.vmap(fn))(jnp.asarray(X))
        assert_close(got, exact_table(n) @ np.asarray(w, np.float64), scale=10)
    third = jax.jit(jax.vmap(jax.grad(jax.grad(jax.grad(s)))))(jnp.asarray(X))
    assert_close(third, exact_table(3) @ np.asarray(w, np.float64), scale=100)
    # hessian of a sum over points: diagonal of second derivatives
    h = jax.jit(jax.hessian(lambda x: jnp.sum(question_f(x) @ w)))(jnp.asarray(X))
    assert_close(np.diag(h), exact_table(2) @ np.asarray(w, np.float64), scale=10)


def test_bridge_transformations_and_cost():
    cs = si.CubicSpline(np.linspace(0, 2, 9), np.cos(np.linspace(0, 2, 9)))
    f = bc.differentiable_callback(lambda x, nu: cs(x, nu), feature_shape=())
    xj, x64 = as_jax_points([[0.1, 0.7], [1.2, 1.9]])
    assert f(xj).shape == (2, 2) and f(xj).dtype == float_dtype()
    assert_close(jax.jit(f)(xj), cs(x64))
    g = jax.jit(jax.vmap(jax.vmap(jax.grad(f))))(xj)
    assert_close(g, cs(x64, 1))
    jf = jax.jacfwd(lambda x: f(x) ** 2)(xj[0])
    jr = jax.jacrev(lambda x: f(x) ** 2)(xj[0])
    assert_close(jf, jr)

    def total(x):
        return jnp.sum(f(x) ** 2)

    assert callback_count(jax.jit(jax.value_and_grad(total)), xj) == 1
    assert callback_count(jax.hessian(total), xj) == 1
    assert callback_count(jax.jit(jax.vmap(jax.grad(total))), xj[None]) == 1
    # concrete x: evaluated once, no callback
    assert callback_count(jax.jit(lambda: f(x64))) == 0


def test_bridge_no_retrace_no_recompile(caplog):
    f = bc.differentiable_callback(
        lambda x, nu: np.sin(x + nu * np.pi / 2), feature_shape=()
    )
    traces = []

    @jax.jit
    def vg(x):
        traces.append(1)
        return jax.value_and_grad(lambda x: jnp.sum(f(x)))(x)

    x = jnp.linspace(0.0, 1.0, 5)
    vg(x)
    grad = jax.grad(lambda x: jnp.sum(f(x)))
    grad(x)
    with no_compiles(caplog):
        for _ in range(3):
            vg(x)
            grad(x)
    assert traces == [1]


def test_bridge_feature_shape_and_validation():
    f = bc.differentiable_callback(
        lambda x, nu: np.stack([x**2, x**3], -1)[:, None, :] * (nu == 0),
        feature_shape=(1, 2),
    )
    assert f(jnp.ones((3, 4))).shape == (3, 4, 1, 2)
    with pytest.raises(TypeError, match="host_fn"):
        bc.differentiable_callback(3, feature_shape=())
    with pytest.raises(TypeError, match="feature_shape"):
        bc.differentiable_callback(np.sin, feature_shape="2")
    with pytest.raises(ValueError, match="feature_shape"):
        bc.differentiable_callback(np.sin, feature_shape=(-1,))
    with pytest.raises(TypeError, match="nu"):
        f(1.0, nu=1.0)
    with pytest.raises(ValueError, match="nu"):
        f(1.0, nu=-1)
    bad = bc.differentiable_callback(
        lambda x, nu: np.zeros((len(x), 3)), feature_shape=2
    )
    with pytest.raises(ValueError, match="returned shape"):
        bad(jnp.ones(2))


# --- from_scipy ------------------------------------------------------------

XS = np.linspace(0.0, 2.0, 9)
YS = np.sin(2 * XS) + XS
Y2 = np.stack([YS, np.cos(XS)], axis=1)  # vector-valued, (9, 2)


def _objects():
    interp = si.make_interp_spline(XS, YS, k=3)
    periodic_y = np.r_[YS[:-1], YS[0]]
    yield "make_interp_spline", interp
    yield (
        "BSpline_extrapolate_false",
        si.BSpline(interp.t, interp.c, 3, extrapolate=False),
    )
    yield "BSpline_periodic", si.BSpline(interp.t, interp.c, 3, extrapolate="periodic")
    yield "BSpline_vector", si.make_interp_spline(XS, Y2, k=3)
    yield "BSpline_axis1", si.make_interp_spline(XS, Y2.T, k=3, axis=1)
    yield "BSpline_quintic", si.make_interp_spline(XS, YS, k=5)
    yield (
        "make_lsq_spline",
        si.make_lsq_spline(XS, YS, np.r_[[0.0] * 4, 0.7, 1.3, [2.0] * 4]),
    )
    yield "make_smoothing_spline", si.make_smoothing_spline(XS, YS)
    yield "PPoly", si.PPoly.from_spline(interp)
    yield "CubicSpline", si.CubicSpline(XS, YS)
    yield "CubicSpline_periodic", si.CubicSpline(XS, periodic_y, bc_type="periodic")
    yield "CubicSpline_vector_axis1", si.CubicSpline(XS, Y2.T, axis=1)
    yield "Pchip", si.PchipInterpolator(XS, YS)
    yield "Pchip_no_extrapolate", si.PchipInterpolator(XS, YS, extrapolate=False)
    yield "Akima", si.Akima1DInterpolator(XS, YS)
    yield "makima", si.Akima1DInterpolator(XS, YS, method="makima", extrapolate=True)
    yield "CubicHermiteSpline", si.CubicHermiteSpline(XS, YS, np.cos(XS))


OBJECTS = list(_objects())
# inside, on breakpoints, both ends, outside, NaN, inf
POINTS = np.r_[np.linspace(-0.3, 2.3, 23), XS, np.nan, np.inf, -np.inf]


def _scipy_rows(obj, x, nu):
    with np.errstate(all="ignore"):
        out = obj(x, nu)
    return np.moveaxis(out, obj.axis, 0)


@pytest.mark.parametrize("name,obj", OBJECTS, ids=[o[0] for o in OBJECTS])
def test_from_scipy_matches_scipy(name, obj):
    f = bc.from_scipy(obj)
    xj, x64 = as_jax_points(POINTS)
    for nu in range(4):
        expected = _scipy_rows(obj, x64, nu)
        got = jax.jit(lambda x, nu=nu: f(x, nu))(xj)
        assert got.shape == expected.shape and got.dtype == float_dtype()
        assert_close(got, expected)
        assert_close(f(x64 if jax.config.jax_enable_x64 else xj, nu), expected)


@pytest.mark.parametrize("name,obj", OBJECTS[::4], ids=[o[0] for o in OBJECTS[::4]])
def test_from_scipy_derivatives_are_the_ladder(name, obj):
    f = bc.from_scipy(obj)
    xj, x64 = as_jax_points(np.linspace(0.05, 1.95, 7) + 0.01)  # off breakpoints
    trailing = f(xj[:1]).shape[1:]

    def s(xi):  # a scalar of one point, through every output component
        return jnp.sum(
            f(xi[None])[0] * jnp.arange(1.0, 1.0 + np.prod(trailing)).reshape(trailing)
        )

    weights = np.arange(1.0, 1.0 + np.prod(trailing)).reshape(trailing)
    fns = [s, jax.grad(s), jax.grad(jax.grad(s)), jax.grad(jax.grad(jax.grad(s)))]
    for nu, fn in enumerate(fns):
        expected = np.sum(
            _scipy_rows(obj, x64, nu) * weights, axis=tuple(range(1, 1 + len(trailing)))
        )
        assert_close(jax.jit(jax.vmap(fn))(xj), expected, scale=10)


def test_from_scipy_copies_the_object():
    pp = si.PPoly.from_spline(si.make_interp_spline(XS, YS))
    f = bc.from_scipy(pp)
    before = np.asarray(f(jnp.asarray([0.5])))
    pp.c[:] = 0.0
    np.testing.assert_array_equal(np.asarray(f(jnp.asarray([0.5]))), before)


@pytest.mark.parametrize(
    "obj",
    [
        si.interp1d(XS, YS),
        si.UnivariateSpline(XS, YS),
        si.BPoly.from_derivatives([0, 1], [[0, 1], [1, 0]]),
        si.BSpline,
        np.sin,
    ],
    ids=["interp1d", "UnivariateSpline", "BPoly", "class", "function"],
)
def test_from_scipy_rejects_unsupported(obj):
    with pytest.raises(TypeError, match="Supported: scipy.interpolate.BSpline"):
        bc.from_scipy(obj)


def test_from_scipy_rejects_complex():
    with pytest.raises(TypeError, match="complex"):
        bc.from_scipy(si.CubicSpline(XS, YS + 1j * YS))


# --- bspline with parameter coefficients -----------------------------------


def test_bspline_gradient_in_coefficients_is_the_basis():
    t = np.r_[[0.0] * 4, 0.3, 0.6, [1.0] * 4]
    xj, x64 = as_jax_points([0.1, 0.45, 0.9])
    c = jnp.asarray(np.random.default_rng(3).normal(size=(6, 2)), dtype=float_dtype())
    for nu in range(3):
        jac = jax.jit(
            jax.jacrev(lambda c, nu=nu: bc.bspline(xj, t, c, 3, nu=nu), argnums=0)
        )(c)
        # d out[i, m] / d c[j, m'] = B_j^(nu)(x_i) if m == m'
        basis = si.BSpline(t, np.eye(6), 3)(x64, nu)
        assert_close(jac[:, 0, :, 0], basis, scale=10)
        assert_close(jac[:, 1, :, 1], basis, scale=10)
        np.testing.assert_array_equal(np.asarray(jac[:, 0, :, 1]), 0.0)
    # and jointly in x and c under one jit
    gx, gc = jax.jit(
        jax.grad(lambda x, c: jnp.sum(bc.bspline(x, t, c, 3)), argnums=(0, 1))
    )(xj, c)
    assert_close(
        gx, si.BSpline(t, np.asarray(c, np.float64), 3)(x64, 1).sum(-1), scale=10
    )
    assert_close(gc, np.repeat(si.BSpline(t, np.eye(6), 3)(x64).sum(0)[:, None], 2, 1))
