"""Fuzzing (hypothesis, derandomized in CI): random knot vectors and points.

Knots: non-uniform, interior repeats up to multiplicity k + 1, clamped or
not, degrees 0..9, scaled so that the base interval spans 1e-8 to 1e8 and
offset from zero. Points: inside, on knots, on both ends, outside, NaN,
+-inf, empty and n-D. Invariants: agreement with scipy at the points as JAX
sees them (rounded to its float dtype), partition of unity, NaN rows exactly
where the policy says, traced equal to concrete, and nothing raises. The
callback fuzz draws the host route too (``HostBasis._small_route``: few
points take the small route unless forced onto the banded one).
"""

import contextlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import (
    RTOL,
    assert_close,
    banded_route_only,
    float_dtype,
    scipy_basis,
    snap_ends,
)
from hypothesis import given, settings, strategies as st

import bspline_callback as bc


@st.composite
def knot_vectors(draw):
    k = draw(st.integers(0, 9))
    # Interior knots in (0, 1): from a coarse grid (so that repeats happen)
    # or anywhere; each value kept at most k + 1 times.
    grid = np.linspace(0.0, 1.0, 9)[1:-1]
    inner = draw(
        st.lists(
            st.one_of(st.sampled_from(list(grid)), st.floats(0.001, 0.999)),
            max_size=10,
        )
    )
    values, counts = np.unique(np.asarray(inner, dtype=np.float64), return_counts=True)
    inner = np.repeat(values, np.minimum(counts, k + 1))
    if draw(st.booleans()):
        unit = np.r_[[0.0] * (k + 1), inner, [1.0] * (k + 1)]
    else:
        step = draw(st.sampled_from([0.05, 0.3, 1.0]))
        unit = np.r_[
            -step * np.arange(k, 0, -1), 0.0, inner, 1.0, 1 + step * np.arange(1, k + 1)
        ]
    scale = 10.0 ** draw(st.integers(-8, 8))
    offset = draw(st.sampled_from([0.0, -0.5, 3.0]))
    t = (unit + offset) * scale
    if not np.all(np.diff(t) >= 0) or not t[k] < t[len(t) - k - 1]:
        # Rounding at an extreme scale merged knots: not a valid vector.
        t = unit * scale
    return t, k


@st.composite
def points(draw, t, k):
    n = len(t) - k - 1
    lo, hi = t[k], t[n]
    span = hi - lo
    special = [lo, hi, lo - span / 3, hi + span / 3, np.nan, np.inf, -np.inf]
    special += list(t[k : n + 1])  # on knots
    x = draw(
        st.lists(
            st.one_of(
                st.floats(0.0, 1.0).map(lambda u: lo + u * span),
                st.sampled_from(special),
            ),
            max_size=12,
        )
    )
    x = np.asarray(x, dtype=np.float64)
    if len(x) >= 4 and draw(st.booleans()):
        x = x[: len(x) // 2 * 2].reshape(2, -1)  # n-D input
    return x


@st.composite
def cases(draw):
    t, k = draw(knot_vectors())
    return t, k, draw(points(t, k)), draw(st.integers(0, 2))


def _as_jax_sees_it(x):
    """The points rounded to JAX's float dtype, back in float64."""
    return np.asarray(np.asarray(x, float_dtype()), np.float64)


def _flush_subnormals(a):
    """XLA flushes subnormal floats to zero on CPU; a concrete (numpy) result
    keeps them."""
    a = np.asarray(a)
    return np.where(np.abs(a) < np.finfo(a.dtype).tiny, 0, a)


def _check(B, xr, t, k, nu, scale=1.0):
    """``B`` against scipy at the float64 points ``xr``."""
    x = xr
    n_basis = len(t) - k - 1
    assert B.shape == x.shape + (n_basis,)
    assert B.dtype == float_dtype()
    ref = scipy_basis(xr.reshape(-1), t, k, nu).reshape(B.shape)
    B64 = np.asarray(B, np.float64)
    # NaN rows exactly where x is outside [t[k], t[n]], NaN or infinite
    # (a point equal to an end rounded to JAX's dtype is that end).
    xs = snap_ends(xr.reshape(-1), t, k).reshape(xr.shape)
    bad = ~((xs >= t[k]) & (xs <= t[n_basis]))
    np.testing.assert_array_equal(np.isnan(B64).all(-1), bad)
    assert np.isfinite(B64[~bad]).all()
    assert_close(B64, ref, scale=scale)
    if nu == 0 and (~bad).any():
        np.testing.assert_allclose(
            B64[~bad].sum(-1), 1.0, atol=10 * RTOL[float_dtype()]
        )


@given(cases(), st.booleans())
def test_fuzz_callback_matches_scipy(case, banded):
    with banded_route_only() if banded else contextlib.nullcontext():
        _fuzz_callback(*case)


def _fuzz_callback(t, k, x, nu):
    # Concrete numpy float64 points are evaluated as JAX sees them (rounded
    # to its float dtype), as they would be under jit.
    _check(bc.design_matrix(x, t, k, nu=nu), _as_jax_sees_it(x), t, k, nu)
    # JAX arrays hold the points rounded to JAX's dtype; traced and
    # concrete calls run the same host code on them, bit for bit.
    # (XLA flushes subnormal inputs to zero before a traced call's host sees
    # them, as documented; take them as zero from the start.)
    xj = jnp.asarray(_flush_subnormals(np.asarray(x, float_dtype())))
    B = bc.design_matrix(xj, t, k, nu=nu)
    _check(B, np.asarray(xj, np.float64), t, k, nu)
    Bj = jax.jit(lambda x: bc.design_matrix(x, t, k, nu=nu))(xj)
    np.testing.assert_array_equal(_flush_subnormals(Bj), _flush_subnormals(B))


@pytest.mark.slow
@settings(max_examples=40)
@given(cases())
def test_fuzz_native_matches_scipy(case):
    t, k, x, nu = case
    xj = jnp.asarray(x, float_dtype())
    B = bc.design_matrix(xj, t, k, nu=nu, backend="jax")
    # The recurrence runs in JAX's float dtype (float32 by default), where
    # high degrees and extreme knot ratios lose a few more digits.
    scale = 1.0 if float_dtype() == np.float64 else 50.0
    _check(B, _as_jax_sees_it(x), t, k, nu, scale=scale)
