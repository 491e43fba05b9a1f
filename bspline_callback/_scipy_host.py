"""The callback backend's host side: the basis from scipy's compiled routines.

Nothing here imports JAX. Every function is row-wise in ``x`` (row ``i`` of
the result depends on ``x[i]`` only) and never raises for runtime input:
bad points and bad knots become NaN rows, because an exception inside a
host call aborts the whole traced computation (a NUTS run, say).

Per row, scipy's design-matrix routine gives the ``k + 1`` non-zero
B-splines (the *band*: values and the column of the first); derivative
levels come from the degree ``k - nu`` band raised ``nu`` times with the
derivative recurrence, vectorised over rows. Dense rows come from scipy's
spline evaluation (``_scipy_dense``), or are the band written into zeros.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
from scipy.interpolate import BSpline

from ._scipy_dense import DenseRows

try:  # the compiled routine behind BSpline.design_matrix (recent scipy)
    from scipy.interpolate._dierckx import data_matrix as _dierckx_data_matrix
except ImportError:  # pragma: no cover - depends on the installed scipy
    _dierckx_data_matrix = None

__all__ = ["HostBasis", "TracedKnotsHost", "bad_knots", "snap_ends"]


def _data_matrix(x, t, k, extrapolate, use_private=True):
    """Band values ``(n, k + 1)`` and first columns ``(n,)`` at float64 ``x``
    (finite, and inside the base interval unless ``extrapolate``)."""
    if use_private and _dierckx_data_matrix is not None:
        ones = np.ones(x.shape[0])
        vals, offsets, _ = _dierckx_data_matrix(x, t, k, ones, bool(extrapolate))
        return vals, offsets.astype(np.intp, copy=False)
    csr = BSpline.design_matrix(x, t, k, extrapolate=bool(extrapolate))
    # Exactly k + 1 stored entries per row, explicit zeros kept.
    return csr.data.reshape(len(x), k + 1), csr.indices[:: k + 1].astype(np.intp)


def bad_knots(t, k):
    """Whether ``t`` is unusable as a knot vector for degree ``k`` (traced
    knots, which could not be validated before tracing, give NaN rows)."""
    n = t.shape[0] - k - 1
    return bool(
        t.ndim != 1
        or n < k + 1
        or not np.all(np.isfinite(t))
        or np.any(np.diff(t) < 0)
        or not t[k] < t[n]
        or np.any(t[k + 1 :] <= t[: -k - 1])
    )


def _slopes(t, k):
    """Per degree ``p = 0 .. k``, the derivative recurrence's factors ``a_i =
    p / (t[i + p] - t[i])`` (0 on an empty span; none for ``p = 0``)."""
    out = [np.zeros(0)]
    for p in range(1, k + 1):
        span = t[p:] - t[:-p]
        with np.errstate(over="ignore"):
            a = np.divide(p, span, out=np.zeros_like(span), where=span != 0)
        # A gap so small that p / gap overflows: the largest finite value
        # keeps 0 * a at 0, as scipy's division by the gap does.
        out.append(np.minimum(a, np.finfo(np.float64).max))
    return tuple(out)


def _slope_tables(slopes):
    """Per degree, a table whose row ``i`` holds ``a_i .. a_{i+p-1}``: the
    factors one raising step needs for a row whose band starts at ``i``."""
    tables = [np.zeros((0, 0))]
    for p, a in enumerate(slopes[1:], start=1):
        windows = np.arange(a.shape[0] - p + 1)[:, None] + np.arange(p)
        tables.append(a[windows])
    return tuple(tables)


def _raise_derivative(vals, first, tables, p_from, p_to):
    """Differentiate a band ``p_to - p_from`` times by raising its degree:
    ``d/dx B_{i,p} = a_i B_{i,p-1} - a_{i+1} B_{i+1,p-1}``. A loop over the
    degree, never over points or columns."""
    n_rows = vals.shape[0]
    for p in range(p_from + 1, p_to + 1):
        with np.errstate(over="ignore", invalid="ignore"):  # tiny knot gaps
            g = vals * tables[p][first]  # g[:, j] = a[first+j] B_{first+j, p-1}
        new = np.empty((n_rows, p + 1))
        # Not np.negative(..., out=new[:, 0]): numpy writes wrong values for
        # a 64-byte input stride into a strided output (p = 8).
        new[:, 0] = -g[:, 0]
        np.subtract(g[:, :-1], g[:, 1:], out=new[:, 1:p])
        new[:, p] = g[:, -1]
        vals, first = new, first - 1
    return vals, first


@functools.lru_cache(maxsize=1024)
def _rounded(value, dtype):
    return float(np.asarray(value, dtype=dtype))


def snap_ends(x, lo, hi, dtype):
    """``x`` with the points equal to ``lo`` or ``hi`` rounded to ``dtype``
    (the dtype ``x`` had in JAX) set to that end: the end rule."""
    for end in (lo, hi):
        rounded = _rounded(end, dtype)
        if rounded != end:
            x = np.where(x == rounded, end, x)
    return x


def prepare_points(x, lo, hi, extrapolate, dtype):
    """Map float64 ``x`` into evaluable points: ``(x_eval, bad, past)``.

    ``bad``: the NaN rows (or None); ``past``: for ``"linear"`` and
    ``"constant"``, the rows past an end and their distance from it
    (``(rows, delta)``, or None). A point equal to an end rounded to
    ``dtype`` (the dtype ``x`` had in JAX) is that end. The common case,
    every point inside and no end to snap, costs two reductions.
    """
    if x.shape[0] == 0:
        return x, None, None
    low, high = x.min(), x.max()
    lo_r, hi_r = _rounded(lo, dtype), _rounded(hi, dtype)
    if (
        lo <= low
        and high <= hi
        and not (low == lo_r != lo or high == hi_r != hi)
        and not (extrapolate == "periodic" and high == hi)  # hi wraps to lo
    ):
        return x, None, None
    x = snap_ends(x, lo, hi, dtype)
    past = None
    with np.errstate(invalid="ignore"):
        if extrapolate == "periodic":
            x = lo + np.mod(x - lo, hi - lo)  # NaN and inf map to NaN
        if extrapolate is False:
            bad = ~((x >= lo) & (x <= hi))  # NaN compares False: bad too
        else:
            bad = ~np.isfinite(x)
        if extrapolate in ("linear", "constant"):
            rows = np.flatnonzero(~bad & ((x < lo) | (x > hi)))
            if rows.size:
                ends = np.where(x[rows] < lo, lo, hi)
                past = (rows, x[rows] - ends)
                x = x.copy()
                x[rows] = ends
    if not bad.any():
        return x, None, past
    return np.where(bad, lo, x), bad, past  # a safe stand-in on bad rows


class HostBasis:
    """The basis of degree ``k`` on valid float64 knots ``t``, on the host.

    Everything that depends on the knots only is computed once here; the
    evaluation methods keep no state, so one instance serves concurrent
    callbacks. ``use_private``: scipy's private compiled ``data_matrix``
    where it exists, else the public ``BSpline.design_matrix`` (tested
    equal). ``scipy_dense``: dense rows from scipy's spline evaluation where
    it applies (``_scipy_dense``), else the band written into zeros (the
    same values; tested).
    """

    def __init__(self, t, k, extrapolate=False, *, use_private=True, scipy_dense=True):
        self.t = np.ascontiguousarray(t, dtype=np.float64)
        self.k = k
        self.n_basis = self.t.shape[0] - k - 1
        self.extrapolate = extrapolate
        self._lo, self._hi = self.t[k], self.t[self.n_basis]
        slopes = _slopes(self.t, k)
        self._tables = _slope_tables(slopes)
        # B_{j, k-nu}(t[nu:-nu]) == B_{j+nu, k-nu}(t): the knots whose
        # degree k - nu band is raised to level nu.
        nt = self.t.shape[0]
        self._trimmed = tuple(self.t[nu : nt - nu] for nu in range(k + 1))
        self._use_private = use_private
        rows = DenseRows(self.t, k, extrapolate, slopes, self._trimmed)
        self._dense_rows = rows if scipy_dense and rows.applies() else None

    def _level(self, x_eval, nu):
        """Band of level ``nu`` at points mapped by :func:`prepare_points`."""
        t, k, extrap = self.t, self.k, self.extrapolate is True
        if nu > k:  # zeros, at the value basis' columns
            _, first = _data_matrix(x_eval, t, k, extrap, self._use_private)
            return np.zeros((x_eval.shape[0], k + 1)), first
        low, first = _data_matrix(
            x_eval, self._trimmed[nu], k - nu, extrap, self._use_private
        )
        return _raise_derivative(low, first + nu, self._tables, k - nu, k)

    def _continued(self, x_eval, past, nu):
        """``_level`` with ``"linear"``/``"constant"`` on the rows past an
        end: its Taylor polynomial of degree 1 or 0 there, whose derivatives
        are the next levels (the slope, then 0)."""
        vals, first = self._level(x_eval, nu)
        if past is None:
            return vals, first
        rows, delta = past
        vals = np.array(vals, dtype=np.float64)  # never scipy's own buffer
        if nu == 0 and self.extrapolate == "linear":
            vals[rows] += delta[:, None] * self._level(x_eval[rows], 1)[0]
        elif nu >= (2 if self.extrapolate == "linear" else 1):
            vals[rows] = 0.0
        return vals, first

    def band_levels(self, x, nus, *, dtype=np.float64):
        """Float64 bands of levels ``nus`` at float64 ``x`` that had ``dtype``
        in JAX: ``({nu: vals (n, k + 1)}, first (n,), bad (n,) or None)``;
        bad rows hold stand-in values (for the tensor products of
        ``design_matrix_nd``)."""
        x = np.ascontiguousarray(x, dtype=np.float64).reshape(-1)
        x_eval, bad, past = prepare_points(
            x, self._lo, self._hi, self.extrapolate, dtype
        )
        out, first = {}, np.zeros(x.shape[0], np.intp)
        for nu in nus:
            out[nu], first = self._continued(x_eval, past, nu)
        return out, first, bad

    def band(self, x, orders, *, dtype=np.float64):
        """Levels ``orders`` (1-tuples) packed in one ``(n, len(orders) * (k
        + 1) + 1)`` array of ``dtype``: each level's band, then the first
        column as a float (exact below 2**24 columns). Bad rows are NaN
        throughout, values included (reverse-mode derivatives reach ``x``
        through them)."""
        x = np.ascontiguousarray(x, dtype=np.float64).reshape(-1)
        width = self.k + 1
        out = np.empty((x.shape[0], len(orders) * width + 1), dtype)
        if x.shape[0] == 0:
            return (out,)
        x_eval, bad, past = prepare_points(
            x, self._lo, self._hi, self.extrapolate, dtype
        )
        for i, (nu,) in enumerate(orders):
            vals, first = self._continued(x_eval, past, nu)
            out[:, i * width : (i + 1) * width] = vals
        out[:, -1] = first
        if bad is not None:
            out[bad] = np.nan
        return (out,)

    def dense(self, x, orders, *, dtype=np.float64):
        """Levels ``orders`` (1-tuples) as dense ``(n, n_basis)`` rows of
        ``dtype``: ``BSpline(t, eye(n_basis), k, extrapolate)(x, nu)`` with
        the NaN policy; from scipy's spline evaluation where it applies
        (``_scipy_dense``), else the band written into zeros."""
        x = np.ascontiguousarray(x, dtype=np.float64).reshape(-1)
        n_rows, n_basis = x.shape[0], self.n_basis
        if n_rows == 0:
            return tuple(np.zeros((0, n_basis), dtype) for _ in orders)
        x_eval, bad, past = prepare_points(
            x, self._lo, self._hi, self.extrapolate, dtype
        )
        if self._dense_rows is not None and past is None:
            out = self._dense_rows(x_eval, bad, orders, dtype)
            if out is not None:
                return out
        row_start = np.arange(0, n_rows * n_basis, n_basis)
        out = []
        for (nu,) in orders:
            vals, first = self._continued(x_eval, past, nu)
            dense = np.zeros((n_rows, n_basis), dtype)
            flat, base = dense.reshape(-1), row_start + first
            for j in range(self.k + 1):  # a loop over the band, not the points
                flat[base + j] = vals[:, j]
            if bad is not None:
                dense[bad] = np.nan
            out.append(dense)
        return tuple(out)


@dataclasses.dataclass(frozen=True)
class TracedKnotsHost:
    """``HostCall.fn`` for traced knots, passed as an operand in x's dtype:
    the basis is built per call, and invalid knots give NaN rows."""

    k: int
    extrapolate: bool | str
    form: str  # "dense" or "band"

    def __call__(self, x, orders, t, *, dtype):
        t = np.asarray(t, dtype=np.float64)
        n_basis = t.shape[0] - self.k - 1
        if bad_knots(t, self.k):
            if self.form == "band":
                width = len(orders) * (self.k + 1) + 1
                return (np.full((x.shape[0], width), np.nan, dtype),)
            return tuple(np.full((x.shape[0], n_basis), np.nan, dtype) for _ in orders)
        basis = HostBasis(t, self.k, self.extrapolate)
        return getattr(basis, self.form)(x, orders, dtype=dtype)
