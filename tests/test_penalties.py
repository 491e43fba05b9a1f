"""Smoothness priors: difference penalties, sum-to-zero, the non-centred form.

References are direct constructions (``np.diff`` of the identity, the
penalty's quadratic form) and the algebra the functions promise, at random
points; the traced-basis tests differentiate through ``B(x) @ U``.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_close, float_dtype, scipy_basis
from scipy.stats import multivariate_normal

import bspline_callback as bc

RNG = np.random.default_rng(24)


@pytest.mark.parametrize("n", [5, 12, 40])
@pytest.mark.parametrize("order", [1, 2, 3])
def test_difference_penalty_is_eilers_and_marx(n, order):
    d = np.diff(np.eye(n), order, axis=0)
    S = bc.difference_penalty(n, order)
    np.testing.assert_array_equal(S, d.T @ d)
    assert np.linalg.matrix_rank(S) == n - order  # null space: degree < order
    # Polynomials in the index of degree < order are unpenalised.
    idx = np.arange(n, dtype=float)
    for p in range(order):
        np.testing.assert_allclose(S @ idx**p, 0, atol=1e-8 * n**order)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_cyclic_penalty(order):
    n = 9
    S = bc.difference_penalty(n, order, cyclic=True)
    beta = RNG.normal(size=n)
    # The order-th differences wrap around: beta[n] = beta[0].
    wrapped = np.diff(np.r_[beta, beta[:order]], order)
    assert float(beta @ S @ beta) == pytest.approx(float(wrapped @ wrapped), rel=1e-12)
    assert np.linalg.matrix_rank(S) == n - 1  # only the constants are free
    np.testing.assert_allclose(S @ np.ones(n), 0, atol=1e-12)
    # Invariant under a cyclic shift of the coefficients.
    assert float(np.roll(beta, 3) @ S @ np.roll(beta, 3)) == pytest.approx(
        float(beta @ S @ beta), rel=1e-12
    )


def test_difference_penalty_validation():
    with pytest.raises(ValueError, match="need n_basis > order = 2"):
        bc.difference_penalty(2, 2)
    with pytest.raises(ValueError, match="`order` must be >= 1"):
        bc.difference_penalty(5, 0)
    with pytest.raises(TypeError, match="`n_basis` must be an int"):
        bc.difference_penalty(5.0)
    with pytest.raises(TypeError, match="`cyclic` must be a bool"):
        bc.difference_penalty(5, 2, cyclic="yes")


def periodic_basis(x, lo, hi, n_basis, k, nu=0):
    """The documented recipe (docs/smoothing.md): ``n_basis`` independent
    periodic B-splines on ``[lo, hi]``, the wrapped columns folded."""
    h = (hi - lo) / n_basis
    t = lo + h * np.arange(-k, n_basis + k + 1)
    B = bc.design_matrix(x, t, k, nu=nu, extrapolate="periodic")
    return B[..., :n_basis].at[..., :k].add(B[..., n_basis:])


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_periodic_basis_recipe_gives_a_cyclic_smooth(k):
    """The spline and its first k - 1 derivatives agree at the two ends, the
    basis sums to one, and a cyclic penalty fit is periodic."""
    lo, hi, n_basis = 0.0, 2.0, 12
    c = RNG.normal(size=n_basis)
    h = (hi - lo) / n_basis
    t = lo + h * np.arange(-k, n_basis + k + 1)
    for nu in range(k):
        # Unwrapped ends (extrapolate=True) of the folded basis: equal values.
        B = np.asarray(
            bc.design_matrix(np.array([lo, hi]), t, k, nu=nu, extrapolate=True)
        )
        folded = B[:, :n_basis].copy()
        folded[:, :k] += B[:, n_basis:]
        f_lo, f_hi = folded @ c
        assert f_lo == pytest.approx(f_hi, rel=1e-5, abs=1e-5 * 10.0**nu), nu
    x = jnp.linspace(lo, hi, 25, dtype=float_dtype())
    np.testing.assert_allclose(
        np.asarray(periodic_basis(x, lo, hi, n_basis, k)).sum(-1), 1, atol=1e-5
    )
    # A penalised fit of noisy periodic data with the cyclic penalty.
    u = np.linspace(lo, hi, 80, endpoint=False)
    y = np.sin(np.pi * u) + 0.1 * RNG.normal(size=u.size)
    B = np.asarray(periodic_basis(u, lo, hi, n_basis, k), np.float64)
    S = bc.difference_penalty(n_basis, 2, cyclic=True)
    beta = np.linalg.solve(B.T @ B + 1.0 * S, B.T @ y)
    ends = np.asarray(
        periodic_basis(np.array([lo, hi - 1e-9]), lo, hi, n_basis, k), np.float64
    )
    assert (ends @ beta)[0] == pytest.approx((ends @ beta)[1], abs=1e-4)


def _basis_at_data(n=60, n_basis=10):
    x = np.sort(RNG.uniform(0, 1, n))
    t = bc.uniform_knots(0.0, 1.0, n_basis)
    return x, t, scipy_basis(x, t, 3)


def test_sum_to_zero():
    x, t, B = _basis_at_data()
    Z = bc.sum_to_zero(B)
    assert Z.shape == (10, 9)
    np.testing.assert_allclose(Z.T @ Z, np.eye(9), atol=1e-12)
    sums = np.ones(len(x)) @ B @ Z
    assert np.abs(sums).max() <= 1e-10 * np.abs(B.sum(0)).max()
    # Any constrained spline (zero sum over the data) is B @ Z @ gamma.
    beta = RNG.normal(size=10)
    beta -= (B.sum(0) @ beta) / (B.sum(0) @ B.sum(0)) * B.sum(0)
    gamma = Z.T @ beta
    np.testing.assert_allclose(Z @ gamma, beta, atol=1e-12)
    # The constrained penalty keeps the linear trend unpenalised, loses the
    # constant: rank n_basis - 2 of n_basis - 1.
    S = bc.difference_penalty(10, 2)
    assert np.linalg.matrix_rank(Z.T @ S @ Z) == 8
    for bad, err in [(np.ones(5), ValueError), (np.zeros((4, 3)), ValueError)]:
        with pytest.raises(err):
            bc.sum_to_zero(bad)
    with pytest.raises(TypeError, match="sum_to_zero: `B` must be concrete"):
        jax.jit(bc.sum_to_zero)(jnp.ones((3, 4)))


@pytest.mark.parametrize("order,n", [(1, 8), (2, 20), (2, 60), (3, 40), (2, 200)])
def test_penalty_reparam(order, n):
    S = bc.difference_penalty(n, order)
    U_null, U_pen = bc.penalty_reparam(S)
    assert U_null.shape == (n, order) and U_pen.shape == (n, n - order)
    # Accurate to about eps * (largest / smallest non-zero eigenvalue):
    # 1e-10 up to the sizes P-splines use, looser for 200 coefficients.
    tol = 1e-10 if n <= 60 else 1e-8
    np.testing.assert_allclose(U_pen.T @ S @ U_pen, np.eye(n - order), atol=tol)
    np.testing.assert_allclose(S @ U_null, 0, atol=1e-10)
    assert np.linalg.matrix_rank(np.c_[U_null, U_pen]) == n


@pytest.mark.parametrize(
    "n,order,cyclic",
    [
        (500, 3, False),
        (500, 3, True),
        (900, 3, False),
        (280, 4, False),
        pytest.param(2000, 2, False, marks=pytest.mark.slow),
    ],
)
def test_penalty_reparam_finds_the_known_null_space(n, order, cyclic):
    """The null space of a difference penalty is the polynomials of degree
    < order in the coefficient index (the constants when cyclic): D kills
    them and nothing else, as its rank is n - order. Its smallest non-zero
    eigenvalue here is 1e-15 to 1e-13 of the largest, near rounding."""
    S = bc.difference_penalty(n, order, cyclic=cyclic)
    U_null, U_pen = bc.penalty_reparam(S)
    dim = 1 if cyclic else order
    assert U_null.shape == (n, dim) and U_pen.shape == (n, n - dim)
    polys = np.vander(np.linspace(-1, 1, n), dim, increasing=True)
    np.testing.assert_allclose(U_null @ (U_null.T @ polys), polys, atol=1e-9)
    # With a sum-to-zero constraint (here of a basis whose columns sum
    # alike) the constants leave the null space.
    Z = bc.sum_to_zero(np.ones((1, n)))
    U_null, _ = bc.penalty_reparam(Z.T @ S @ Z)
    assert U_null.shape[1] == dim - 1


def test_penalty_reparam_null_tol_zero_is_allowed():
    """``null_tol=0`` (documented) is not a PSD failure on rounding."""
    S = bc.difference_penalty(30, 2)
    U_null, U_pen = bc.penalty_reparam(S, null_tol=0.0)
    assert U_null.shape[1] + U_pen.shape[1] == 30
    assert U_null.shape[1] <= 2
    with pytest.raises(ValueError, match="positive semi-definite"):
        bc.penalty_reparam(S - 1e-6 * np.eye(30), null_tol=0.0)


def test_the_non_centred_prior_has_the_penalty_density():
    """``beta = U_pen @ b``, ``b ~ N(0, tau^2 I)``: the log-density of ``b``
    equals ``-beta.T S beta / (2 tau^2)`` up to a constant, at random b."""
    n, tau = 15, 0.7
    S = bc.difference_penalty(n, 2)
    U_null, U_pen = bc.penalty_reparam(S)
    normal = multivariate_normal(np.zeros(n - 2), tau**2 * np.eye(n - 2))
    bs = RNG.normal(size=(6, n - 2))
    log_b = normal.logpdf(bs)
    betas = bs @ U_pen.T
    quad = -np.einsum("ij,jk,ik->i", betas, S, betas) / (2 * tau**2)
    np.testing.assert_allclose(log_b - quad, (log_b - quad)[0], rtol=0, atol=1e-9)
    # The null-space part does not change the penalty.
    shifted = betas[0] + U_null @ RNG.normal(size=2)
    assert shifted @ S @ shifted == pytest.approx(betas[0] @ S @ betas[0], rel=1e-8)


def test_penalty_reparam_validation():
    with pytest.raises(ValueError, match="square"):
        bc.penalty_reparam(np.ones((2, 3)))
    with pytest.raises(ValueError, match="symmetric"):
        bc.penalty_reparam(np.array([[1.0, 2.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="positive semi-definite"):
        bc.penalty_reparam(-np.eye(3))
    with pytest.raises(TypeError, match="must be concrete"):
        jax.jit(bc.penalty_reparam)(jnp.eye(3))


@pytest.mark.parametrize("backend", ["callback", "jax"])
def test_transforms_apply_to_a_traced_basis(backend):
    """``B(x) @ Z @ U`` under jit and grad in x: the gradient is ``B'(x) @
    Z @ U @ b`` (scipy's derivative basis)."""
    x, t, B = _basis_at_data(40)
    Z = bc.sum_to_zero(B)
    U_null, U_pen = bc.penalty_reparam(Z.T @ bc.difference_penalty(10, 2) @ Z)
    b = RNG.normal(size=U_pen.shape[1])
    w = Z @ U_pen @ b

    def f(x):
        return jnp.sum(
            bc.design_matrix(x, t, 3, backend=backend) @ jnp.asarray(w, float_dtype())
        )

    xj = jnp.asarray(x, float_dtype())
    x64 = np.asarray(xj, np.float64)
    value, grad = jax.jit(jax.value_and_grad(f))(xj)
    assert_close(value, (scipy_basis(x64, t, 3) @ w).sum(), scale=10)
    assert_close(grad, scipy_basis(x64, t, 3, 1) @ w, scale=10)
