"""Shared test cases: the question's knots and exact tables, the scipy
agreement matrix and its points, and hypothesis strategies for knots.

Reference values here come from an exact rational derivation (Cox-de Boor
and the derivative formula in ``fractions.Fraction``), independent of the
package and of scipy.
"""

from fractions import Fraction as F

import numpy as np
from hypothesis import strategies as st
from scipy.interpolate import make_interp_spline

# --- the question ------------------------------------------------------------

KNOTS = np.array([0, 0, 0, 0, 0.25, 1, 1, 1, 1])
X = np.array([0.1, 0.5, 0.9])
ORDER = 3
T_EXACT = [F(0)] * 4 + [F(1, 4)] + [F(1)] * 4
X_EXACT = [F(1, 10), F(1, 2), F(9, 10)]


def _exact_b(i, p, nu, x):
    """nu-th derivative of B_{i,p}(x) on T_EXACT, exact (x strictly inside a span)."""
    t = T_EXACT
    if nu == 0:
        if p == 0:
            return F(1) if t[i] <= x < t[i + 1] else F(0)
        a = (
            (x - t[i]) / (t[i + p] - t[i]) * _exact_b(i, p - 1, 0, x)
            if t[i + p] != t[i]
            else F(0)
        )
        b = (
            (t[i + p + 1] - x)
            / (t[i + p + 1] - t[i + 1])
            * _exact_b(i + 1, p - 1, 0, x)
            if t[i + p + 1] != t[i + 1]
            else F(0)
        )
        return a + b
    if p == 0:
        return F(0)
    a = _exact_b(i, p - 1, nu - 1, x) / (t[i + p] - t[i]) if t[i + p] != t[i] else 0
    b = (
        _exact_b(i + 1, p - 1, nu - 1, x) / (t[i + p + 1] - t[i + 1])
        if t[i + p + 1] != t[i + 1]
        else 0
    )
    return p * (a - b)


def exact_table(deriv):
    """The question's table for ``deriv``: shape (3, 4), first column dropped."""
    n = len(T_EXACT) - ORDER - 1
    return np.array(
        [[float(_exact_b(i, ORDER, deriv, x)) for i in range(1, n)] for x in X_EXACT]
    )


# --- the NaN policy -------------------------------------------------------

#: Points in and out of [0, 1], NaN and inf, and which rows are NaN.
NAN_POLICY_X = [0.3, -0.5, np.nan, 0.7, 1.5, np.inf]
NAN_POLICY_BAD = np.array([False, True, True, False, True, True])


# --- the scipy agreement matrix ---------------------------------------------

EXTRAPOLATE = [False, True, "periodic"]


def _knot_cases():
    rng = np.random.default_rng(20240601)
    cases = []
    for k in range(8):
        cases.append(
            (f"uniform-k{k}", np.r_[[0.0] * k, np.linspace(0, 1, 7), [1.0] * k], k)
        )
        inner = np.sort(rng.uniform(0.0, 1.0, 5))
        cases.append(
            (f"nonuniform-k{k}", np.r_[[0.0] * (k + 1), inner, [1.0] * (k + 1)], k)
        )
        cases.append((f"unclamped-k{k}", np.sort(rng.uniform(-1.0, 2.0, 2 * k + 6)), k))
        if k >= 1:
            # Interior knot of full multiplicity k + 1: a discontinuity.
            for mult in sorted({2, k + 1}):
                inner = np.r_[0.2, [0.5] * mult, 0.7]
                cases.append(
                    (
                        f"mult{mult}-k{k}",
                        np.r_[[0.0] * (k + 1), inner, [1.0] * (k + 1)],
                        k,
                    )
                )
    xd = np.linspace(0.0, 2.0, 12)
    yd = np.cos(3 * xd)
    yp = np.r_[yd[:-1], yd[0]]
    for k in (1, 2, 3, 4, 5):
        cases.append((f"interp-notaknot-k{k}", make_interp_spline(xd, yd, k=k).t, k))
        cases.append(
            (
                f"interp-periodic-k{k}",
                make_interp_spline(xd, yp, k=k, bc_type="periodic").t,
                k,
            )
        )
    for bc_type in ("natural", "clamped", ([(1, 0.5)], [(2, -1.0)])):
        name = bc_type if isinstance(bc_type, str) else "explicit"
        cases.append(
            (f"interp-{name}-k3", make_interp_spline(xd, yd, k=3, bc_type=bc_type).t, 3)
        )
    five = ([(1, 0.0), (2, 0.0)], [(1, 0.0), (2, 0.0)])
    cases.append(
        ("interp-explicit-k5", make_interp_spline(xd, yd, k=5, bc_type=five).t, 5)
    )
    return cases


CASES = _knot_cases()


def points(t, k):
    """Points for knots ``t``: random inside, every knot, both ends, outside
    (far and just past each end), NaN and +-inf."""
    n = len(t) - k - 1
    lo, hi = t[k], t[n]
    rng = np.random.default_rng(len(t) * 31 + k)
    width = hi - lo
    return np.r_[
        rng.uniform(lo, hi, 25),
        t,  # every knot, both ends of the base interval included
        lo,
        hi,
        lo - 0.3 * width,
        hi + 0.3 * width,
        # Just outside (XLA flushes denormals, so not nextafter(0.0, -inf)).
        lo - 1e-6 * width,
        hi + 1e-6 * width,
        np.nan,
        np.inf,
        -np.inf,
    ]


# --- hypothesis strategies ---------------------------------------------------


def valid_knots(t, k):
    """Whether ``t`` is a valid knot vector for degree ``k`` (the package's
    rule: finite, non-decreasing, a non-empty base interval, no basis
    function with empty support)."""
    n = len(t) - k - 1
    return bool(
        n >= k + 1
        and np.all(np.isfinite(t))
        and np.all(np.diff(t) >= 0)
        and t[k] < t[n]
        and np.all(t[k + 1 :] > t[: -k - 1])
    )


@st.composite
def unit_knots(draw, max_degree=9, grid=9, max_inner=10):
    """A knot vector with base interval [0, 1]: clamped or not, interior
    knots from a coarse grid (so that repeats happen) or anywhere, each
    value at most k + 1 times. Returns ``(t, k)``."""
    k = draw(st.integers(0, max_degree))
    values = np.linspace(0.0, 1.0, grid)[1:-1]
    inner = draw(
        st.lists(
            st.one_of(st.sampled_from(list(values)), st.floats(0.001, 0.999)),
            max_size=max_inner,
        )
    )
    values, counts = np.unique(np.asarray(inner, dtype=np.float64), return_counts=True)
    inner = np.repeat(values, np.minimum(counts, k + 1))
    if draw(st.booleans()):
        return np.r_[[0.0] * (k + 1), inner, [1.0] * (k + 1)], k
    step = draw(st.sampled_from([0.05, 0.3, 1.0]))
    left = -step * np.arange(k, 0, -1)
    right = 1 + step * np.arange(1, k + 1)
    return np.r_[left, 0.0, inner, 1.0, right], k
