"""Fuzzing (hypothesis, derandomized in CI): random knot vectors and points.

Knots: non-uniform, interior repeats up to multiplicity k + 1, clamped or
not, degrees 0..9, scaled so that the base interval spans 1e-8 to 1e8 and
offset from zero. Points: inside, on knots, on both ends, outside, NaN,
+-inf, empty and n-D. Invariants: agreement with scipy at the points as JAX
sees them (rounded to its float dtype), partition of unity, NaN rows exactly
where the policy says, traced equal to concrete, and nothing raises.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from cases import unit_knots, valid_knots
from helpers import (
    RTOL,
    assert_close,
    float_dtype,
    scipy_basis,
    snap_ends,
)
from hypothesis import given, settings, strategies as st

import bspline_callback as bc


@st.composite
def knot_vectors(draw):
    """``unit_knots`` scaled so that the base interval spans 1e-8 to 1e8,
    and offset from zero."""
    unit, k = draw(unit_knots())
    scale = 10.0 ** draw(st.integers(-8, 8))
    offset = draw(st.sampled_from([0.0, -0.5, 3.0]))
    t = (unit + offset) * scale
    if not valid_knots(t, k):
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
    with np.errstate(invalid="ignore"):
        tiny = np.abs(a) < jnp.finfo(a.dtype).tiny
    return np.where(tiny, 0, a).astype(a.dtype)


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


@given(cases())
def test_fuzz_callback_matches_scipy(case):
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


# --- points from data and parameters: dtypes, ends, offsets, modes -----------

MODES = [False, True, "periodic", "linear", "constant"]


@st.composite
def fidelity_cases(draw):
    """Knots (possibly far from zero compared with their spacing), a dtype
    for the points (half precision included), points at the ends rounded to
    that dtype and one step either side, inside, outside, NaN; a mode."""
    dtypes = [np.float32, jnp.float16, jnp.bfloat16]
    if jax.config.jax_enable_x64:
        dtypes.append(np.float64)
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    k = draw(st.integers(0, 5))
    inner = np.sort(draw(st.lists(st.floats(0.01, 0.99), max_size=8, unique=True)))
    unit = np.r_[[0.0] * (k + 1), inner, [1.0] * (k + 1)]
    if draw(st.booleans()):
        unit = np.r_[
            -0.3 * np.arange(k, 0, -1), 0.0, inner, 1.0, 1 + 0.3 * np.arange(1, k + 1)
        ]
    half = dtype.itemsize == 2
    scale = 10.0 ** draw(st.integers(-2, 2) if half else st.integers(-6, 6))
    far = draw(st.sampled_from([0.0, 7.0] if half else [0.0, 1e3, 1e5, -2e4]))
    t = (unit + far) * scale
    if not valid_knots(t, k):
        t = unit * scale
    n = len(t) - k - 1
    lo, hi = (np.asarray(e, dtype) for e in (t[k], t[n]))
    steps = [
        np.nextafter(e, np.asarray(d * np.inf, dtype))
        for e in (lo, hi)
        for d in (-1, 1)
    ]
    span = t[n] - t[k]
    special = [lo, hi, *steps, t[k] - span / 4, t[n] + span / 4, np.nan]
    x = draw(
        st.lists(
            st.one_of(
                st.floats(0.0, 1.0).map(lambda u: t[k] + u * span),
                st.sampled_from(special),
            ),
            min_size=1,
            max_size=10,
        )
    )
    x = np.asarray(np.asarray(x, np.float64), dtype)
    return t, k, x, draw(st.integers(0, 2)), draw(st.sampled_from(MODES))


def _fidelity(t, k, x, nu, mode, backend, scale=1.0):
    if backend == "jax":
        x = _flush_subnormals(x)  # as XLA does on a CPU
    B = bc.design_matrix(jnp.asarray(x), t, k, nu=nu, extrapolate=mode, backend=backend)
    assert B.dtype == x.dtype
    ref = scipy_basis(np.asarray(x, np.float64), t, k, nu, mode, dtype=x.dtype)
    if x.dtype.itemsize == 2:
        # Computed in float32 or better, then rounded to x's dtype (past
        # its largest value: inf).
        B = np.asarray(B, np.float64)
        with np.errstate(over="ignore"):
            ref = ref.astype(np.float32).astype(x.dtype).astype(np.float64)
        assert_close(B, ref, dtype=np.float32, scale=jnp.finfo(x.dtype).eps / 2e-5)
    else:
        assert_close(B, ref, dtype=x.dtype, scale=scale)


@given(fidelity_cases())
def test_fuzz_fidelity_callback(case):
    _fidelity(*case, backend="callback")


@pytest.mark.slow
@settings(max_examples=40)
@given(fidelity_cases())
def test_fuzz_fidelity_native(case):
    t, k, x, nu, mode = case
    # The recurrence runs in float32 for float32 and half points.
    _fidelity(*case, backend="jax", scale=1.0 if x.dtype == np.float64 else 50.0)


@given(knot_vectors(), st.integers(1, 3), st.sampled_from(["lo", "hi", "inner"]))
def test_fuzz_knots_with_a_vanishing_basis_function_are_rejected(tk, extra, where):
    """A knot repeated more than k + 1 times (an end included): an eager
    ValueError on both backends, never a zero column."""
    t, k = tk
    n = len(t) - k - 1
    v = {"lo": t[k], "hi": t[n], "inner": t[(k + n) // 2]}[where]
    t = np.sort(np.r_[t, [v] * (k + extra)])  # v now at least k + 2 times
    assert not valid_knots(t, k)
    for backend in ("callback", "jax"):
        with pytest.raises(ValueError, match="repeated more than|is empty"):
            bc.BSplineBasis(t, k, backend=backend)
