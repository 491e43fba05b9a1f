"""Dense levels built in XLA from banded ones (``_band.dense_from_band``).

The jax backend always builds its dense basis this way; the callback
backend does for traced points where the fetch rule says so
(``_basis.fetch_band``).
The expansion's derivative rule is its own (a windowed scatter, transposed
to a windowed gather), so values, tangents and cotangents are each checked
against a plain numpy construction, and the routes against scipy.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import (
    as_jax_points,
    assert_close,
    callback_count,
    float_dtype,
    host_call_shapes,
    scipy_basis,
)

import bspline_callback as bc
from bspline_callback import _basis
from bspline_callback._band import dense_from_band

K = 3
N_BASIS = 12
T = bc.uniform_knots(0.0, 1.0, N_BASIS, K)
# Random weights: weights affine in the column index would hide a column
# shift (its gradient changes by slope x the row sum of B', which is 0).
W = np.random.default_rng(11).normal(size=N_BASIS)


def numpy_expand(vals, first, n_basis):
    """Reference: row by row, NaN rows where ``first`` is NaN."""
    vals = [np.asarray(v, np.float64).reshape(-1) for v in vals]
    first = np.asarray(first, np.float64).reshape(-1)
    out = np.zeros((first.shape[0], n_basis))
    for i, f in enumerate(first):
        if np.isnan(f):
            out[i] = np.nan
            continue
        for j, v in enumerate(vals):
            out[i, int(f) + j] = v[i]
    return out


def band_case(shape=(2, 5), seed=0):
    """Random band values and first columns, rows 1 and 6 NaN."""
    rng = np.random.default_rng(seed)
    dtype = float_dtype()
    m = int(np.prod(shape))
    first = rng.integers(0, N_BASIS - K, m).astype(np.float64)
    vals = rng.normal(size=(K + 1, m))
    first[[1, 6]] = np.nan
    vals[:, [1, 6]] = np.nan
    return (
        tuple(jnp.asarray(v.reshape(shape), dtype) for v in vals),
        jnp.asarray(first.reshape(shape), dtype),
    )


def test_dense_from_band_values_tangents_and_cotangents():
    vals, first = band_case()
    shape = first.shape
    f = jax.jit(lambda v: dense_from_band(v, first, N_BASIS))
    out = np.asarray(f(vals))
    expected = numpy_expand(vals, first, N_BASIS).reshape(shape + (N_BASIS,))
    np.testing.assert_array_equal(out, expected.astype(out.dtype))

    # Tangent: the expansion of the tangents, NaN rows NaN even where the
    # tangents are finite there.
    rng = np.random.default_rng(1)
    dots = tuple(jnp.asarray(rng.normal(size=shape), float_dtype()) for _ in vals)
    _, tangent = jax.jvp(f, (vals,), (dots,))
    expected_dot = numpy_expand(dots, first, N_BASIS).reshape(tangent.shape)
    np.testing.assert_array_equal(np.asarray(tangent), expected_dot.astype(out.dtype))

    # Cotangent: each band entry reads its own column of the row's cotangent.
    ct = rng.normal(size=shape + (N_BASIS,))
    _, vjp = jax.vjp(f, vals)
    (ct_vals,) = vjp(jnp.asarray(ct, float_dtype()))
    f64 = np.asarray(first, np.float64)
    for j, got in enumerate(ct_vals):
        want = np.full(shape, np.nan)
        for idx in np.ndindex(shape):
            if not np.isnan(f64[idx]):
                want[idx] = ct[idx + (int(f64[idx]) + j,)]
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6)


def test_dense_from_band_under_vmap_and_second_order():
    vals, first = band_case(shape=(3, 4), seed=2)
    f = lambda v, f0: dense_from_band(v, f0, N_BASIS)  # noqa: E731
    batched = jax.vmap(f)(vals, first)
    for i in range(first.shape[0]):
        one = f(tuple(v[i] for v in vals), first[i])
        np.testing.assert_array_equal(np.asarray(batched[i]), np.asarray(one))
    # Linear in the values: the second derivative is zero (finite rows).
    w = jnp.asarray(W, float_dtype())
    good = ~np.isnan(np.asarray(first))

    def g(s):
        return jnp.sum(f(tuple(v * s for v in vals), first)[good] @ w)

    assert float(jax.grad(jax.grad(g))(1.0)) == 0.0


def points(n):
    """``n`` points over the base interval, with four bad ones (NaN rows
    when not extrapolating) placed among them."""
    x = np.linspace(0.0, 1.0, n)
    x[[3, n // 2, n - 5, n - 2]] = [-0.25, np.nan, 1.5, np.inf]
    return x


# The largest number of points whose dense rows the host writes (the fetch
# rule, whatever its constant), where there is one, and a larger one (the
# band fetched and expanded in XLA).
SMALL_N = _basis.DENSE_FETCH_MAX // N_BASIS
LARGE_N = max(SMALL_N + 1, 100)


@pytest.mark.parametrize("n", [n for n in (SMALL_N, LARGE_N) if n >= 6])
def test_callback_route_by_size(n):
    dense_route = not _basis.fetch_band("callback", True, n, N_BASIS)
    xj, x64 = as_jax_points(points(n))
    basis = jax.jit(lambda x: bc.design_matrix(x, T, K))
    loss = lambda x: jnp.sum(bc.design_matrix(x, T, K) @ W)  # noqa: E731
    vg = jax.jit(jax.value_and_grad(loss))
    if dense_route:
        assert host_call_shapes(basis, xj) == [(n, N_BASIS)]
        assert host_call_shapes(vg, xj) == [(n, N_BASIS)] * 2
    else:
        assert host_call_shapes(basis, xj) == [(n, K + 2)]
        assert host_call_shapes(vg, xj) == [(n, 2 * (K + 1) + 1)]
    out = basis(xj)
    # Equal to the host's own dense rows (no callback: concrete input)...
    np.testing.assert_array_equal(
        np.asarray(out), np.asarray(bc.design_matrix(x64, T, K))
    )
    # ...and to scipy's.
    assert_close(out, scipy_basis(x64, T, K))
    value, grad = vg(xj)
    bad = ~np.isfinite(x64) | (x64 < 0) | (x64 > 1)
    assert np.isnan(value)
    assert np.isnan(np.asarray(grad)[bad]).all()
    assert_close(np.asarray(grad)[~bad], scipy_basis(x64[~bad], T, K, 1) @ W)
    # Second derivatives through the same one callback (rows are
    # independent: the Hessian-vector product with ones is its diagonal).
    hvp = jax.jit(lambda x: jax.jvp(jax.grad(loss), (x,), (jnp.ones_like(x),))[1])
    assert callback_count(hvp, xj) == 1
    second = np.asarray(hvp(xj))
    assert np.isnan(second[bad]).all()
    assert_close(second[~bad], scipy_basis(x64[~bad], T, K, 2) @ W, scale=10)


@pytest.mark.parametrize("backend", ["callback", "jax"])
def test_expanded_routes_extrapolate_and_batch(backend):
    n = LARGE_N
    xj, x64 = as_jax_points(np.linspace(-0.2, 1.2, n))
    f = jax.jit(
        jax.vmap(lambda x: bc.design_matrix(x, T, K, extrapolate=True, backend=backend))
    )
    batch = jnp.stack([xj, xj[::-1]])
    out = np.asarray(f(batch))
    assert_close(out[0], scipy_basis(x64, T, K, 0, True), scale=10)
    assert_close(out[1], scipy_basis(x64[::-1], T, K, 0, True), scale=10)
    # Forward mode (the expansion's scatter): the tangent along ones is the
    # next level.
    jvp = jax.jit(
        lambda x: jax.jvp(
            lambda x: bc.design_matrix(x, T, K, extrapolate=True, backend=backend),
            (x,),
            (jnp.ones_like(x),),
        )[1]
    )
    assert_close(jvp(xj), scipy_basis(x64, T, K, 1, True), scale=10)
