"""jit, vmap, grad (any order), batching cost, tracing cost, shapes and dtypes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import (
    as_jax_points,
    assert_close,
    callback_count,
    count_primitive,
    float_dtype,
    host_call_eqns,
    no_compiles,
    scipy_basis,
)

import bspline_callback as bc

T = np.r_[[0.0] * 4, 0.15, 0.4, 0.45, 0.8, [1.0] * 4]
K = 3
N_BASIS = len(T) - K - 1
# Away from knots: derivatives of order >= k are discontinuous at knots.
X = np.array([0.05, 0.22, 0.43, 0.6, 0.93])
# Random weights: weights affine in the column index would hide a column
# shift (its gradient changes by slope x the row sum of B', which is 0).
W = np.random.default_rng(11).normal(size=N_BASIS)


def spline_sum(x, nu=0):
    return jnp.sum(bc.design_matrix(x, T, K, nu=nu) @ W)


def expected_level(x, nu):
    """d^nu/dx^nu of sum(basis(x) @ W), per point, from scipy."""
    return scipy_basis(x, T, K, nu) @ W


def test_jit_equals_eager():
    xj, x64 = as_jax_points(X)
    for nu in range(K + 2):
        eager = bc.design_matrix(xj, T, K, nu=nu)
        jitted = jax.jit(lambda x, nu=nu: bc.design_matrix(x, T, K, nu=nu))(xj)
        np.testing.assert_array_equal(np.asarray(eager), np.asarray(jitted))
        assert_close(jitted, scipy_basis(x64, T, K, nu))


def test_vmap_equals_loop_and_nested_vmap():
    xs, x64 = as_jax_points(np.linspace(0.0, 1.0, 24).reshape(2, 3, 4))
    f = lambda x: bc.design_matrix(x, T, K, nu=1)  # noqa: E731
    once = jax.vmap(f)(xs[0])
    loop = np.stack([np.asarray(f(xs[0, i])) for i in range(3)])
    np.testing.assert_array_equal(np.asarray(once), loop)
    nested = jax.jit(jax.vmap(jax.vmap(f)))(xs)
    assert nested.shape == (2, 3, 4, N_BASIS)
    assert_close(nested, scipy_basis(x64, T, K, 1))
    # vmap over the second axis (in_axes=1) too
    swapped = jax.vmap(f, in_axes=1)(xs[0])
    assert_close(swapped, np.swapaxes(scipy_basis(x64[0], T, K, 1), 0, 1))


@pytest.mark.parametrize("nu", [0, 1, 2])
def test_grad_and_higher_orders(nu):
    xj, x64 = as_jax_points(X)
    f = lambda x: spline_sum(x, nu)  # noqa: E731
    g = jax.jit(jax.grad(f))(xj)
    assert_close(g, expected_level(x64, nu + 1), scale=10)
    # Hessian of a row-wise function is diagonal with the next level.
    h = jax.jit(jax.hessian(f))(xj)
    assert_close(h, np.diag(expected_level(x64, nu + 2)), scale=10)
    # Third derivative of a scalar input through nested grad.
    third = jax.grad(jax.grad(jax.grad(lambda s: f(s[None]))))
    for xi, xi64 in zip(xj, x64, strict=True):
        assert_close(third(xi), expected_level(np.array([xi64]), nu + 3)[0], scale=10)


def test_jvp_vjp_jacfwd_jacrev():
    xj, x64 = as_jax_points(X)
    f = lambda x: bc.design_matrix(x, T, K)  # noqa: E731
    d1 = scipy_basis(x64, T, K, 1)
    tangent = jnp.linspace(0.5, 1.5, len(X)).astype(xj.dtype)
    _, jvp_out = jax.jvp(f, (xj,), (tangent,))
    assert_close(jvp_out, d1 * np.asarray(tangent)[:, None])
    cot = jnp.ones((len(X), N_BASIS), xj.dtype) * jnp.asarray(W, xj.dtype)
    (vjp_out,) = jax.vjp(f, xj)[1](cot)
    assert_close(vjp_out, d1 @ W)
    jf = jax.jacfwd(f)(xj)
    jr = jax.jacrev(f)(xj)
    assert jf.shape == jr.shape == (len(X), N_BASIS, len(X))
    np.testing.assert_allclose(np.asarray(jf), np.asarray(jr), rtol=1e-6, atol=1e-6)
    assert_close(jnp.einsum("iji->ij", jf), d1)
    # jacfwd of jacrev (forward over reverse) equals the second level.
    h = jax.jacfwd(jax.jacrev(lambda x: spline_sum(x, 1)))(xj)
    assert_close(jnp.diagonal(h), expected_level(x64, 3), scale=10)


def test_check_grads_float64(x64):
    if not x64:
        pytest.skip("numerical gradient checks need float64 (JAX_ENABLE_X64=1)")
    from jax.test_util import check_grads

    for nu in range(3):
        check_grads(
            lambda x, nu=nu: bc.design_matrix(x, T, K, nu=nu),
            (jnp.asarray(X),),
            order=2,
            modes=("fwd", "rev"),
            eps=1e-6,
        )


def test_vmap_is_one_batched_callback_no_loop():
    xs = jnp.linspace(0.01, 0.99, 12).reshape(3, 4)
    funs = {
        "basis": jax.vmap(lambda x: bc.design_matrix(x, T, K)),
        "grad": jax.vmap(jax.grad(spline_sum)),
        "value_and_grad": jax.vmap(jax.value_and_grad(spline_sum)),
    }
    for name, fun in funs.items():
        jaxpr = jax.make_jaxpr(fun)(xs).jaxpr
        assert len(host_call_eqns(jaxpr)) == 1, name
        assert count_primitive(jaxpr, "while") == 0, name
        assert count_primitive(jaxpr, "scan") == 0, name
    eqn_params = str(jax.make_jaxpr(funs["basis"])(xs))
    assert "vmap_method=expand_dims" in eqn_params


def test_one_callback_per_derivative_level():
    xj = jnp.asarray(X)
    # value and gradient fetched together from one host round trip
    assert callback_count(jax.jit(jax.value_and_grad(spline_sum)), xj) == 1
    assert callback_count(jax.jit(jax.grad(spline_sum)), xj) == 1
    assert callback_count(jax.hessian(spline_sum), xj) == 1
    assert callback_count(jax.jacfwd(jax.grad(spline_sum)), xj) == 1


def test_concrete_x_needs_no_callback():
    observed = np.linspace(0.0, 1.0, 7)  # closed over: concrete at trace time
    w = jnp.asarray(W)

    def model(scale):
        return jnp.sum(bc.design_matrix(observed, T, K) @ (w * scale))

    assert callback_count(jax.jit(model), 1.0) == 0
    assert callback_count(jax.grad(model), 1.0) == 0
    assert_close(jax.jit(model)(1.0), (scipy_basis(observed, T, K) @ W).sum())


def test_no_retrace_and_no_recompile(caplog):
    traces = []

    @jax.jit
    def f(x):
        traces.append(1)
        return jax.value_and_grad(spline_sum)(x)

    basis = bc.BSplineBasis(T, K)

    @jax.jit
    def g(x):
        traces.append(2)
        return basis.basis(x, 1)

    x = jnp.asarray(X)
    for _ in range(5):
        f(x)
        g(x)
        # Equal bases built anew are equal and hash alike: no retrace either.
        jax.jit(lambda x, b: b.basis(x), static_argnums=1)(x, bc.BSplineBasis(T, K))
    assert traces == [1, 2]
    # Repeated *eager* differentiated calls reuse the compiled callback.
    grad = jax.grad(spline_sum)
    # One warm-up call of each: the first may compile a transfer (on a GPU,
    # JAX's jit(stage) placing the host's float64 rows on the device).
    grad(x)
    bc.design_matrix(x, T, K)
    with no_compiles(caplog):
        for _ in range(3):
            grad(x)
            bc.design_matrix(x, T, K)


@pytest.mark.parametrize(
    "shape", [(), (0,), (1,), (5,), (2, 3), (2, 0, 3), (2, 1, 3, 1)], ids=str
)
@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_shapes(shape, jit):
    x = np.linspace(0.0, 1.0, max(int(np.prod(shape)), 1))[: int(np.prod(shape))]
    x = x.reshape(shape)
    f = lambda x: bc.design_matrix(x, T, K, nu=1)  # noqa: E731
    out = (jax.jit(f) if jit else f)(jnp.asarray(x))
    assert out.shape == (*shape, N_BASIS)
    assert out.dtype == float_dtype()
    xj, x64 = as_jax_points(x)
    assert_close(out, scipy_basis(x64, T, K, 1))


def test_dtypes(x64):
    ints = jnp.array([0, 1])
    for x in (ints, np.array([0, 1], np.int64), [0, 1], 0, 0.5, np.float32(0.5)):
        expected = jnp.result_type(float, jnp.asarray(x).dtype)
        assert jax.jit(lambda x: bc.design_matrix(x, T, K))(x).dtype == expected
        assert bc.design_matrix(x, T, K).dtype == expected
        if not isinstance(x, np.float32):
            assert expected == float_dtype()
    # integer x is promoted and stays differentiable through the float path
    assert_close(bc.design_matrix(ints, T, K), scipy_basis([0.0, 1.0], T, K))
    x32 = jnp.asarray(X, jnp.float32)
    assert jax.jit(lambda x: bc.design_matrix(x, T, K))(x32).dtype == jnp.float32
    if x64:
        assert bc.design_matrix(jnp.asarray(X), T, K).dtype == jnp.float64


def test_traced_knots():
    xj, x64 = as_jax_points(X)
    f = jax.jit(lambda t, x: bc.design_matrix(x, t, K, nu=1))
    assert_close(f(jnp.asarray(T), xj), scipy_basis(x64, T, K, 1), scale=10)
    # gradient in x with knots traced
    g = jax.jit(jax.grad(lambda x, t: jnp.sum(bc.design_matrix(x, t, K) @ W)))
    assert_close(g(xj, jnp.asarray(T)), expected_level(x64, 1), scale=10)
    # invalid traced knots: NaN, never an exception inside the callback
    bad = T.copy()
    bad[5], bad[6] = bad[6], bad[5] + 0.1
    bad[5] = 0.9
    assert np.isnan(np.asarray(f(jnp.asarray(bad), xj))).all()
    assert np.isnan(np.asarray(f(jnp.asarray(T).at[4].set(jnp.nan), xj))).all()


def test_vmap_over_knots():
    xj, x64 = as_jax_points(X)
    shift = jnp.array([0.0, 0.1, -0.2])
    ts = jnp.asarray(T)[None, :] + shift[:, None]
    out = jax.vmap(lambda t: bc.design_matrix(xj, t, K, extrapolate=True))(ts)
    for i in range(shift.shape[0]):
        t_i = np.asarray(ts[i], np.float64)
        assert_close(out[i], scipy_basis(x64, t_i, K, 0, True), scale=10)


def test_knot_gradient_raises_not_zero():
    x = jnp.asarray(X)
    with pytest.raises(TypeError, match="differentiating with respect to the knots"):
        jax.grad(lambda t: jnp.sum(bc.design_matrix(x, t, K)))(jnp.asarray(T))
    with pytest.raises(TypeError, match="`knots`"):
        jax.jacfwd(lambda t: bc.b_spline_basis(t, K, 0, x))(jnp.asarray(T))


@pytest.mark.parametrize("backend", ["callback", "jax"])
def test_vmap_over_points_and_knots_together(backend):
    """Each batch its own points and its own traced knots: values and
    gradients against scipy, batch by batch (a mix-up of batches, or every
    batch given the first one's points, fails)."""
    rng = np.random.default_rng(12)
    unit = np.r_[[0.0] * 4, 0.3, 0.5, 0.8, [1.0] * 4]
    knots = np.stack([unit * s + o for s, o in [(1.0, 0.0), (2.0, -1.0), (0.5, 3.0)]])
    xs = np.stack([rng.uniform(t[3], t[-4], 5) for t in knots])
    w = rng.normal(size=7)
    xj, x64 = as_jax_points(xs)
    tj, t64 = as_jax_points(knots)  # traced knots travel in x's dtype

    def f(x, t):
        return bc.design_matrix(x, t, 3, backend=backend)

    B = jax.jit(jax.vmap(f))(xj, tj)
    grad = jax.jit(jax.vmap(jax.grad(lambda x, t: jnp.sum(f(x, t) @ w))))(xj, tj)
    for b in range(3):
        assert_close(B[b], scipy_basis(x64[b], t64[b], 3))
        assert_close(grad[b], scipy_basis(x64[b], t64[b], 3, 1) @ w, scale=10)
