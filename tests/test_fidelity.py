"""Points from data and from parameters: every dtype gives scipy's answer.

The end rule (a point equal to an end of the base interval rounded to its
own dtype is that end), the ``"linear"`` and ``"constant"`` extrapolation
modes against scikit-learn's ``SplineTransformer``, the warning for
concrete points outside, knots that would make a basis function vanish,
half precision, knots far from zero, bad input, the host-function contract
and masking after the call. Each on both backends; dtypes are explicit, so
every test means the same under both x64 settings.
"""

import functools
import pickle
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import (
    assert_close,
    dense_from_compact,
    float_dtype,
    scipy_basis,
    snap_ends,
)
from scipy.interpolate import BSpline, CubicSpline
from sklearn.preprocessing import SplineTransformer

import bspline_callback as bc

BACKENDS = ["callback", "jax"]
HALF = [jnp.float16, jnp.bfloat16]


def _rows(out, n_basis):
    """Dense float64 rows from any entry point's result."""
    if isinstance(out, tuple):
        return dense_from_compact(*out, n_basis)
    return np.asarray(out, np.float64)


def _every_function(t, k, backend, extrapolate=False, nu=0, *, bridges=True):
    """Every public entry point as a function of x (``_rows`` of its result
    are the dense rows); ``bridges``: with the N-D functions at d = 1 and
    ``from_scipy``, which take their points through the same 1-D rules."""
    n_basis = len(t) - k - 1
    c = np.eye(n_basis)

    def compact(x):
        return bc.design_matrix_compact(
            x, t, k, nu=nu, extrapolate=extrapolate, backend=backend
        )

    basis = bc.BSplineBasis(t, k, extrapolate=extrapolate, backend=backend)
    fns = {
        "design_matrix": lambda x: bc.design_matrix(
            x, t, k, nu=nu, extrapolate=extrapolate, backend=backend
        ),
        "design_matrix_compact": compact,
        "bspline": lambda x: bc.bspline(
            x, t, c, k, nu=nu, extrapolate=extrapolate, backend=backend
        ),
        "BSplineBasis": lambda x: basis(x, nu),
        "traced knots": lambda x: jax.jit(
            lambda x, t: bc.design_matrix(
                x, t, k, nu=nu, extrapolate=extrapolate, backend=backend
            )
        )(x, jnp.asarray(t, jnp.promote_types(x.dtype, jnp.float32))),
    }
    if bridges:
        fns["design_matrix_nd"] = lambda x: bc.design_matrix_nd(
            x[..., None], (t,), k, nu=nu, extrapolate=extrapolate, backend=backend
        )
        fns["bspline_nd"] = lambda x: bc.bspline_nd(
            x[..., None], (t,), c, k, nu=nu, extrapolate=extrapolate, backend=backend
        )
    if bridges and extrapolate in (False, True, "periodic"):
        scipy_spline = bc.from_scipy(BSpline(t, c, k, extrapolate=extrapolate))
        fns["from_scipy"] = lambda x: scipy_spline(x, nu)
    if extrapolate is False:
        fns["b_spline_basis"] = lambda x: jnp.concatenate(
            [
                jnp.full(x.shape + (1,), jnp.nan, x.dtype),
                bc.b_spline_basis(t, k, nu, x, backend=backend),
            ],
            axis=-1,
        )
    return fns


def _jit_all(fns):
    """Every function of ``fns`` in one jitted program: ``x -> {name: out}``."""
    return jax.jit(lambda x: {name: f(x) for name, f in fns.items()})


# --- the end rule -------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_float32_data_at_its_own_extremes_is_inside(backend, jit):
    """Data from 0 to 3.7: 3.7 rounds up in float32, past the float64 end."""
    t = bc.uniform_knots(0.0, 3.7, 8)
    x = jnp.linspace(0.0, 3.7, 5, dtype=jnp.float32)
    assert float(x[-1]) > 3.7  # the rounding this rule is about
    f = lambda x: bc.design_matrix(x, t, 3, backend=backend)  # noqa: E731
    B = np.asarray((jax.jit(f) if jit else f)(x), np.float64)
    ref = BSpline(t, np.eye(8), 3)(np.r_[np.asarray(x[:-1], np.float64), 3.7])
    np.testing.assert_allclose(B, ref, atol=2e-6)
    # A float64 numpy array passed to jit: float32 without x64, same rows.
    x64 = np.linspace(0.0, 3.7, 5)
    B_np = np.asarray(jax.jit(f)(x64), np.float64)
    assert np.isfinite(B_np).all()
    np.testing.assert_allclose(np.asarray(f(x64)), B_np, atol=1e-6)


#: Knots whose ends float32 rounds into the base interval (0.1 up, 1.3
#: down), and out of it (0.7 down, 1.1 up).
ENDS = {
    "inward": np.r_[[0.1] * 4, 0.37, 0.81, [1.3] * 4],
    "outward": np.r_[[0.7] * 4, 0.83, 0.97, [1.1] * 4],
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [jnp.float32, *HALF])
@pytest.mark.parametrize("rounding", ENDS)
def test_end_rule_in_every_function(backend, dtype, rounding):
    """Ends rounded to x's dtype (up or down) give scipy's end rows; one step
    further out stays outside; concrete and traced, eager and jitted."""
    t = ENDS[rounding]
    k, n = 3, 6
    ends = [np.asarray(e, dtype) for e in (t[k], t[n])]
    out_lo = np.nextafter(ends[0], np.asarray(-np.inf, dtype))
    out_hi = np.nextafter(ends[1], np.asarray(np.inf, dtype))
    mid = (t[k] + t[n]) / 2
    x = jnp.asarray(np.array([ends[0], ends[1], out_lo, out_hi, mid], dtype))
    ref = scipy_basis(np.r_[t[k], t[n], -1.0, 9.0, float(x[4])], t, k)
    tol = float(jnp.finfo(dtype).eps) * 4
    fns = _every_function(t, k, backend)
    jitted = _jit_all(fns)(x)
    for name, f in fns.items():
        for how, out in (("eager", f(x)), ("jit", jitted[name])):
            B = _rows(out, len(t) - k - 1)
            assert np.isnan(B[2:4]).all(), (name, how)
            cols = slice(1, None) if name == "b_spline_basis" else slice(None)
            np.testing.assert_allclose(
                B[[0, 1, 4], cols], ref[[0, 1, 4], cols], atol=tol, err_msg=name + how
            )


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("rounding", ENDS)
def test_periodic_at_rounded_ends(backend, rounding):
    """``"periodic"``: float32 points at either end rounded are that end, and
    the upper end wraps to the lower, as scipy wraps the exact ends; every
    entry point, eager and jitted, and each derivative level."""
    t = ENDS[rounding]
    k, n = 3, 6
    x = jnp.asarray(np.array([t[k], t[n], (t[k] + t[n]) / 2], np.float32))
    for nu in range(2):
        ref = scipy_basis(np.r_[t[k], t[n], float(x[2])], t, k, nu, "periodic")
        fns = _every_function(t, k, backend, "periodic", nu)
        jitted = _jit_all(fns)(x)
        for name, f in fns.items():
            for how, out in (("eager", f(x)), ("jit", jitted[name])):
                assert_close(
                    _rows(out, n),
                    ref,
                    jnp.float32,
                    scale=10.0**nu,
                    err=f"{name} {how} nu={nu}",
                )


@pytest.mark.parametrize("backend", BACKENDS)
def test_knot_helpers_on_float32_data_never_give_nan_rows(backend):
    """Knots placed on float64 data; the same data as a float32 JAX array."""
    rng = np.random.default_rng(7)
    # The jax backend compiles anew for every knot vector: fewer sets.
    sets = 200 if backend == "callback" else 4
    for i in range(sets):
        x = rng.normal(rng.uniform(-1e3, 1e3), rng.uniform(1e-3, 1e3), 30)
        for t in (
            bc.quantile_knots(x, 10),
            bc.uniform_knots(x.min(), x.max(), 9, clamped=bool(i % 2)),
        ):
            B = bc.design_matrix(jnp.asarray(x, jnp.float32), t, 3, backend=backend)
            assert not np.isnan(np.asarray(B)).any(), (i, x.min(), x.max())


# --- linear and constant extrapolation ---------------------------------------


def _transformer_cases():
    rng = np.random.default_rng(3)
    X = rng.gamma(2.0, 2.0, (60, 1))
    cases = []
    for degree in (0, 1, 2, 3, 5):
        for mode in ("linear", "constant"):
            if degree == 0 and mode == "constant":
                continue  # scikit-learn's own transform fails there
            for knots in ("uniform", "quantile"):
                # Uniform knots take the same path as quantile knots: one
                # degree of them by default, the rest with -m slow.
                slow = knots == "uniform" and degree != 3
                marks = (pytest.mark.slow,) if slow else ()
                cases.append(pytest.param(degree, mode, knots, X, marks=marks))
    return cases


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "degree,mode,knots,X",
    _transformer_cases(),
    ids=lambda v: str(v) if not isinstance(v, np.ndarray) else "",
)
def test_linear_and_constant_match_spline_transformer(backend, degree, mode, knots, X):
    st = SplineTransformer(
        n_knots=6, degree=degree, knots=knots, extrapolation=mode
    ).fit(X)
    t = st.bsplines_[0].t
    x = jnp.asarray(np.r_[np.linspace(-8, 20, 57), X[:5, 0]], float_dtype())
    x64 = np.asarray(x, np.float64)
    ref = st.transform(x64[:, None])
    n_basis = len(t) - degree - 1
    fns = _every_function(t, degree, backend, mode, bridges=False)
    jitted = _jit_all(fns)(x)  # one compilation for every entry point
    for name, f in fns.items():
        assert_close(_rows(jitted[name], n_basis), ref, err=name)
        if backend == "callback":
            # Concrete points take the host's eager route; the jax backend
            # runs the same code eagerly as under jit, op by op.
            eager = _rows(f(x), n_basis)
            assert_close(eager, scipy_basis(x64, t, degree, 0, mode), err=name)


@pytest.mark.parametrize(
    # The jax backend's eager jacfwd dispatches op by op: with -m slow.
    "backend",
    ["callback", pytest.param("jax", marks=pytest.mark.slow)],
)
@pytest.mark.parametrize("mode", ["linear", "constant"])
def test_new_modes_follow_the_ladder(backend, mode):
    """Level 1 past the ends is the end slope ("linear") or 0; higher levels
    are 0; each level is the derivative of the one before (jacfwd and grad),
    and every entry point agrees."""
    t = np.r_[[0.0] * 4, 0.2, 0.45, 0.5, 0.8, [1.0] * 4]
    k = 3
    x = jnp.asarray([-0.7, -0.01, 0.0, 0.3, 1.0, 1.2, 3.0], float_dtype())
    x64 = np.asarray(x, np.float64)
    w = np.random.default_rng(1).normal(size=8)

    def level(x, nu):
        return bc.design_matrix(x, t, k, nu=nu, extrapolate=mode, backend=backend)

    @functools.partial(jax.jit, static_argnums=1)  # one program per level
    def checks(x, nu):
        fns = _every_function(t, k, backend, mode, nu, bridges=False)
        grad = jax.grad(
            lambda x: jnp.sum(
                bc.bspline(x, t, w, k, nu=nu, extrapolate=mode, backend=backend)
            )
        )(x)
        return {n: f(x) for n, f in fns.items()}, grad

    for nu in range(5):
        ref = scipy_basis(x64, t, k, nu, mode)
        outs, grad = checks(x, nu)
        for name, out in outs.items():
            assert_close(_rows(out, 8), ref, scale=10.0**nu, err=f"{name} nu={nu}")
        # Eagerly, where the same operations give the same bits (XLA's
        # fusion under jit may round differently in the two programs).
        jac = jax.vmap(jax.jacfwd(level), (0, None))(x, nu)
        np.testing.assert_array_equal(jac, level(x, nu + 1))
        assert_close(grad, scipy_basis(x64, t, k, nu + 1, mode) @ w, scale=10.0**nu)


# --- the warning for concrete points outside ---------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_concrete_points_outside_warn_once_per_call_site(backend):
    t = bc.uniform_knots(0.0, 1.0, 6)
    x = np.array([-0.5, 0.2, 1.5, 2.0, np.nan])
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("default")  # Python's default: once per site
        for _ in range(3):
            bc.design_matrix(x, t, 3, backend=backend)  # this line
    assert len(seen) == 1, [str(w.message) for w in seen]
    (w,) = seen
    assert w.category is UserWarning
    assert w.filename == __file__  # points at the caller, not the package
    message = str(w.message)
    for part in ("design_matrix", "3 of 5 points", "[0.0, 1.0]", "'linear'", "True"):
        assert part in message, message
    for fn, name in [
        (lambda: bc.bspline(x, t, np.ones(6), 3, backend=backend), "bspline"),
        (lambda: bc.design_matrix_compact(x, t, 3, backend=backend), "compact"),
        (lambda: bc.BSplineBasis(t, 3, backend=backend)(x), "BSplineBasis"),
        (lambda: bc.b_spline_basis(t, 3, 0, x, backend=backend), "b_spline_basis"),
    ]:
        with pytest.warns(UserWarning, match=name):
            fn()


@pytest.mark.parametrize("backend", BACKENDS)
def test_traced_points_and_inside_points_stay_silent(backend):
    t = bc.uniform_knots(0.0, 1.0, 6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        jax.jit(lambda x: bc.design_matrix(x, t, 3, backend=backend))(
            jnp.array([-0.5, 2.0])
        )
        jax.grad(lambda x: bc.bspline(x, t, jnp.ones(6), 3, backend=backend))(3.0)
        bc.design_matrix(np.linspace(0, 1, 9), t, 3, backend=backend)
        bc.design_matrix(np.array([-1.0, 2.0]), t, 3, extrapolate="linear")
        bc.design_matrix(jnp.asarray([0.0, 1.0], jnp.float16), t, 3, backend=backend)


# --- knots that would make a basis function vanish ---------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_end_multiplicity_above_k_plus_1(backend):
    """An eager ValueError for concrete knots; NaN rows for traced ones."""
    t = np.array([0, 0, 0, 0, 0.46, 0.96, 1, 1, 1, 1, 1, 1.0])
    with pytest.raises(ValueError, match=r"repeated more than k \+ 1 = 4 times"):
        bc.design_matrix(1.0, t, 3, backend=backend)
    with pytest.raises(ValueError, match=r"basis function 6 is zero everywhere"):
        bc.BSplineBasis(t, 3, backend=backend)
    interior = np.r_[[0.0] * 4, [0.5] * 5, [1.0] * 4]
    with pytest.raises(ValueError, match="repeated more than"):
        bc.design_matrix(0.2, interior, 3, backend=backend)
    B = jax.jit(
        lambda t: bc.design_matrix(jnp.array([0.5, 1.0]), t, 3, backend=backend)
    )(jnp.asarray(t))
    assert np.isnan(np.asarray(B)).all()


def test_quantile_knots_with_ties_are_valid():
    """Data tied at a saturating sensor's maximum, and ties inside."""
    rng = np.random.default_rng(0)
    saturated = np.r_[rng.uniform(0, 1, 50), np.ones(60)]
    t = bc.quantile_knots(saturated, 8)
    assert np.all(np.diff(t[3:-3]) > 0)  # simple interior knots, inside (lo, hi)
    bc.BSplineBasis(t, 3)  # valid
    np.testing.assert_array_equal(
        t[4:-4], np.quantile(np.unique(saturated), np.linspace(0, 1, 6)[1:-1])
    )
    tied = np.repeat(np.arange(6.0), 20)
    assert np.all(np.diff(bc.quantile_knots(tied, 7)[3:-3]) > 0)
    with pytest.raises(ValueError, match=r"only 1 distinct value\(s\)"):
        bc.quantile_knots(np.full(10, 0.5), 6, lo=0.0, hi=1.0)
    # Without ties the knots are the plain quantiles (patsy's rule).
    x = rng.normal(size=40)
    np.testing.assert_array_equal(
        bc.quantile_knots(x, 7)[4:-4], np.quantile(x, np.linspace(0, 1, 5)[1:-1])
    )


# --- half precision -----------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize(
    "n_basis", [10, pytest.param(300, marks=pytest.mark.slow), 3000]
)
def test_half_precision(backend, dtype, n_basis):
    """The right columns for any number of basis functions, and scipy's
    values at the rounded points, computed in float32 or better and rounded
    to x's dtype."""
    t = bc.uniform_knots(0.0, 1.0, n_basis)
    x = jnp.asarray(np.linspace(0.0, 1.0, 23)[1:-1] + 0.003, dtype)
    x64 = np.asarray(x, np.float64)
    csr = BSpline.design_matrix(x64, t, 3)
    ref_vals, ref_first = csr.data.reshape(-1, 4), csr.indices[::4]
    eps = float(jnp.finfo(dtype).eps)
    for f in (
        bc.design_matrix_compact,
        jax.jit(bc.design_matrix_compact, static_argnums=2, static_argnames="backend"),
    ):
        values, first = f(x, t, 3, backend=backend)
        assert values.dtype == dtype
        np.testing.assert_array_equal(first, ref_first)
        np.testing.assert_allclose(np.asarray(values, np.float64), ref_vals, atol=eps)
    c = np.random.default_rng(0).normal(size=n_basis)
    s = bc.bspline(x, t, c, 3, backend=backend)
    assert s.dtype == dtype
    np.testing.assert_allclose(
        np.asarray(s, np.float64), BSpline(t, c, 3)(x64), atol=4 * eps * np.abs(c).max()
    )
    if n_basis <= 300:
        B = bc.design_matrix(x, t, 3, nu=1, backend=backend)
        assert B.dtype == dtype
        ref = BSpline(t, np.eye(n_basis), 3)(x64, 1)
        np.testing.assert_allclose(
            np.asarray(B, np.float64), ref, atol=eps * np.abs(ref).max()
        )


# --- the jax backend with knots far from zero --------------------------------


@pytest.mark.parametrize(
    "offset,step",
    [(1e5, 0.1), (1.7e9, 600.0), (-3e7, 1.0)],
    ids=["1e5", "epoch", "neg"],
)
def test_jax_backend_far_from_zero_matches_callback(offset, step):
    """x - t is formed from the float64 knots, not from knots rounded to x's
    dtype; the callback is exact at the rounded points."""
    rng = np.random.default_rng(2)
    t = offset + step * np.r_[[0.0] * 3, np.cumsum(rng.uniform(0.5, 1.5, 14))]
    t = np.r_[t, [t[-1]] * 3]
    lo, hi = t[3], t[-4]
    x = jnp.asarray(rng.uniform(lo, hi, 200), jnp.float32)
    x = jnp.concatenate([x, jnp.asarray([lo, hi], jnp.float32)])
    for nu in (0, 1, 2):
        a = bc.design_matrix(x, t, 3, nu=nu, backend="jax")
        b = bc.design_matrix(x, t, 3, nu=nu)
        scale = step**-nu
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5 * scale)
    assert not np.isnan(np.asarray(a)).any()


@pytest.mark.parametrize("backend", BACKENDS)
def test_nearly_coincident_knots_give_no_zero_rows(backend):
    t = np.r_[[0.0] * 4, 0.5, 1.0, 1.0 + 1e-9, 1.5, [2.0] * 4]
    x = jnp.asarray([0.99, 1.0, 1.0 + 1e-9, 1.2], float_dtype())
    B = np.asarray(bc.design_matrix(x, t, 3, backend=backend), np.float64)
    np.testing.assert_allclose(B.sum(-1), 1.0, atol=1e-6)
    assert_close(B, scipy_basis(np.asarray(x, np.float64), t, 3))


def test_degree_0_with_many_non_uniform_knots():
    rng = np.random.default_rng(0)
    t = np.sort(rng.uniform(0, 1, 300)) ** 3  # clustered: no equal bins
    x = np.r_[rng.uniform(t[0], t[-1], 2000), t[:-1]]
    xj, x64 = jnp.asarray(x, float_dtype()), None
    x64 = np.asarray(xj, np.float64)
    B = np.asarray(jax.jit(lambda x: bc.design_matrix(x, t, 0, backend="jax"))(xj))
    np.testing.assert_array_equal(B, scipy_basis(x64, t, 0))


# --- bad input ------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_complex_points_are_a_type_error(backend):
    t = bc.uniform_knots(0.0, 1.0, 6)
    z = np.array([0.5 + 1j])
    for f in (
        lambda x: bc.design_matrix(x, t, 3, backend=backend),
        lambda x: bc.bspline(x, t, np.ones(6), 3, backend=backend),
        lambda x: bc.design_matrix_compact(x, t, 3, backend=backend),
    ):
        with pytest.raises(TypeError, match="`x` must be real, got dtype complex"):
            f(z)
        with pytest.raises(TypeError, match="`x` must be real"):
            jax.jit(f)(jnp.asarray(z))
    g = bc.differentiable_callback(lambda x, nu: x, feature_shape=())
    with pytest.raises(TypeError, match="differentiable_callback: `x` must be real"):
        jax.jit(g)(jnp.asarray(z))


@pytest.mark.parametrize("backend", BACKENDS)
def test_knots_as_a_list_holding_tracers(backend):
    t = [0.0, 0.0, 0.0, 0.0, 0.3, 1.0, 1.0, 1.0, 1.0]
    x = jnp.asarray([0.1, 0.5, 0.9])

    def from_list(x, inner):
        knots = t[:4] + [inner] + t[5:]
        return bc.design_matrix(x, knots, 3, backend=backend)

    got = jax.jit(from_list)(x, 0.3)
    assert_close(got, scipy_basis(np.asarray(x, np.float64), t, 3))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [jnp.bool_, jnp.complex64])
def test_traced_knots_of_bool_or_complex_dtype(backend, dtype):
    concrete = np.zeros(8, dtype)
    with pytest.raises(TypeError, match=r"`t` must hold real numbers, got dtype") as e1:
        bc.design_matrix(0.5, concrete, 3, backend=backend)
    with pytest.raises(TypeError, match=r"`t` must hold real numbers, got dtype") as e2:
        jax.jit(lambda t: bc.design_matrix(0.5, t, 3, backend=backend))(concrete)
    assert str(e1.value).split("(")[0] == str(e2.value).split("(")[0]


def test_quantile_knots_of_traced_points():
    with pytest.raises(TypeError, match="quantile_knots: `x` must be concrete"):
        jax.jit(lambda x: bc.quantile_knots(x, 6))(jnp.linspace(0, 1, 20))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("gap", [5e-324, 1e-310, 1e-40])
def test_subnormal_knot_gap(backend, gap):
    """No NaN where scipy is finite, for a gap that is subnormal in float64
    (or whose reciprocal overflows)."""
    t = np.r_[[-1.0] * 4, 0.0, gap, [1.0] * 4]
    x = jnp.asarray([-0.5, -1e-3, 0.25, 0.5, 1.0], float_dtype())
    x64 = np.asarray(x, np.float64)
    for nu in range(4):
        with np.errstate(all="ignore"):
            ref = BSpline(t, np.eye(6), 3)(x64, nu)
        got = np.asarray(bc.design_matrix(x, t, 3, nu=nu, backend=backend), np.float64)
        finite = np.isfinite(ref).all(-1)
        assert np.isfinite(got[finite]).all(), (nu, got)
        assert_close(got[finite], ref[finite], scale=10.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_negative_zero_knot(backend):
    a = bc.BSplineBasis([-0.0, -0.0, 1.0, 1.0], 1, backend=backend)
    b = bc.BSplineBasis([0.0, 0.0, 1.0, 1.0], 1, backend=backend)
    assert a == b and hash(a) == hash(b)
    assert not np.signbit(a.t).any()


def test_from_scipy_pickles():
    cs = CubicSpline(np.linspace(0, 2, 7), np.sin(np.linspace(0, 2, 7)))
    f = bc.from_scipy(cs)
    g = pickle.loads(pickle.dumps(f))
    x = jnp.asarray([0.3, 1.1])
    np.testing.assert_array_equal(np.asarray(g(x)), np.asarray(f(x)))
    assert_close(jax.jit(jax.vmap(jax.grad(g)))(x), cs(np.asarray(x, np.float64), 1))
    h = pickle.loads(pickle.dumps(bc.BSplineBasis(bc.uniform_knots(0, 1, 6), 3)))
    assert h == bc.BSplineBasis(bc.uniform_knots(0, 1, 6), 3)


# --- the host-function contract ---------------------------------------------


def test_host_function_never_gets_the_callers_array_writable():
    caller = np.linspace(0.0, 1.0, 5)  # float64: no conversion needed
    before = caller.copy()
    seen = []

    def host(x, nu):
        seen.append((x.flags.writeable, np.shares_memory(x, caller)))
        try:
            x[0] = 99.0
        except ValueError:
            pass
        return np.zeros((x.shape[0],))

    f = bc.differentiable_callback(host, feature_shape=())
    f(caller)
    jax.jit(f)(caller)
    np.testing.assert_array_equal(caller, before)
    assert all(not writeable for writeable, _ in seen), seen


def test_a_stored_exception_gains_one_note():
    error = ArithmeticError("stored")

    def host(x, nu):
        raise error

    f = bc.differentiable_callback(host, feature_shape=())
    for _ in range(3):
        with pytest.raises(ArithmeticError):
            f(np.array([0.5]))
    assert len(error.__notes__) == 1, error.__notes__


def test_thread_safety_is_in_the_contract():
    assert "thread-safe" in bc.differentiable_callback.__doc__


# --- masking after the call -----------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_masking_bspline_gives_finite_gradients(backend):
    """``jnp.where`` over NaN rows of ``bspline``: finite gradients in ``x``
    and ``c``, equal to the gradients of the kept rows (from scipy)."""
    t = bc.uniform_knots(0.0, 1.0, 7)
    rng = np.random.default_rng(5)
    c = jnp.asarray(rng.normal(size=7), float_dtype())
    x = jnp.asarray([-0.3, 0.2, 0.55, 1.4, 0.9], float_dtype())
    keep = (x >= 0) & (x <= 1)

    def loss(x, c):
        s = bc.bspline(x, t, c, 3, backend=backend)
        return jnp.sum(jnp.where(keep, s, 0.0) ** 2)

    gx, gc = jax.grad(loss, argnums=(0, 1))(x, c)
    x64, c64 = np.asarray(x, np.float64), np.asarray(c, np.float64)
    inside = np.asarray(keep)
    B = scipy_basis(x64[inside], t, 3)
    s = B @ c64
    ref_gc = 2 * B.T @ s
    ref_gx = np.zeros(5)
    ref_gx[inside] = 2 * s * (scipy_basis(x64[inside], t, 3, 1) @ c64)
    assert_close(gc, ref_gc)
    assert_close(gx, ref_gx)
    # Unmasked, the value is NaN: nothing silent.
    assert np.isnan(float(jnp.sum(bc.bspline(x, t, c, 3, backend=backend))))


def test_snap_ends_reference_is_the_rule():
    """The tests' reference applies the rule as stated: only exact roundings."""
    t = np.r_[[0.1] * 2, [0.7] * 2]
    x = np.array([np.float32(0.1), np.float32(0.7), np.nextafter(np.float32(0.7), 1)])
    np.testing.assert_array_equal(
        snap_ends(x, t, 1, np.float32), [0.1, 0.7, float(x[2])]
    )
