"""Host-side numpy/scipy code: everything that runs inside a callback.

Nothing here imports JAX. Every function is row-wise in ``x`` (row ``i`` of
the result depends on ``x[i]`` only) and never raises for runtime input: bad
points and bad knots become NaN rows, because an exception raised inside a
``pure_callback`` aborts the whole traced computation (a NUTS run, say).
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import BSpline

try:  # scipy >= 1.15 (tested: 1.15 - 1.17): the compiled routine behind
    # ``BSpline.design_matrix``, without the CSR packaging around it.
    from scipy.interpolate._dierckx import data_matrix as _dierckx_data_matrix
except ImportError:  # pragma: no cover - depends on the installed scipy
    _dierckx_data_matrix = None

__all__ = [
    "bad_knots",
    "compact_basis",
    "dense_basis",
    "dense_basis_levels",
]


def _data_matrix_public(x, t, k, extrapolate):
    """The ``k + 1`` non-zero B-splines per row through scipy's public API."""
    csr = BSpline.design_matrix(x, t, k, extrapolate=extrapolate)
    # design_matrix builds the CSR arrays row by row with exactly k + 1 stored
    # entries (explicit zeros kept), so the data reshapes to (n, k + 1).
    return csr.data.reshape(len(x), k + 1), csr.indices[:: k + 1].astype(np.intp)


def _data_matrix(x, t, k, extrapolate, *, use_private=True):
    """Values ``(n, k + 1)`` and first column index ``(n,)`` of the design matrix.

    ``x`` must be float64, finite and inside the base interval unless
    ``extrapolate`` is true (the caller guarantees that).
    """
    if use_private and _dierckx_data_matrix is not None:
        vals, offsets, _ = _dierckx_data_matrix(
            x, t, k, np.ones_like(x), bool(extrapolate)
        )
        return vals, offsets.astype(np.intp, copy=False)
    return _data_matrix_public(x, t, k, bool(extrapolate))


def bad_knots(t, k):
    """Whether ``t`` is unusable as a knot vector for degree ``k``.

    Used for traced knots, which cannot be validated before tracing: instead
    of raising inside a callback, the basis becomes NaN.
    """
    n = t.shape[0] - k - 1
    return bool(
        t.ndim != 1
        or n < k + 1
        or not np.all(np.isfinite(t))
        or np.any(np.diff(t) < 0)
        or not t[k] < t[n]
    )


def _raise_derivative(vals, first, t, p_from, p_to):
    """Differentiate ``p_to - p_from`` times by raising the degree.

    ``vals`` holds, per row, the non-zero B-splines of degree ``p_from`` with
    indices ``first .. first + p_from``. Each step applies

        d/dx B_{i,p} = p * (B_{i,p-1} / (t[i+p] - t[i])
                            - B_{i+1,p-1} / (t[i+p+1] - t[i+1]))

    with a zero term where the denominator is zero (repeated knots), so
    starting from degree ``k - nu`` gives the ``nu``-th derivative of the
    degree-``k`` basis. The loop is over the degree (at most ``k`` steps),
    never over points or columns.
    """
    n_rows = vals.shape[0]
    zeros = np.zeros((n_rows, 1))
    for p in range(p_from + 1, p_to + 1):
        first = first - 1  # degree-p indices run first .. first + p
        idx = first[:, None] + np.arange(p + 1)
        left = np.concatenate([zeros, vals], axis=1)  # B_{i, p-1}
        right = np.concatenate([vals, zeros], axis=1)  # B_{i+1, p-1}
        d_left = t[idx + p] - t[idx]
        d_right = t[idx + p + 1] - t[idx + 1]
        term_l = np.divide(left, d_left, out=np.zeros_like(left), where=d_left != 0)
        term_r = np.divide(right, d_right, out=np.zeros_like(right), where=d_right != 0)
        vals = p * (term_l - term_r)
    return vals, first


def _prepare_x(x, t, k, extrapolate):
    """Map ``x`` into evaluable points and flag the rows that must be NaN."""
    n = t.shape[0] - k - 1
    lo, hi = t[k], t[n]
    if extrapolate == "periodic":
        with np.errstate(invalid="ignore"):
            x = lo + np.mod(x - lo, hi - lo)
    bad = ~np.isfinite(x)
    if extrapolate is False:
        with np.errstate(invalid="ignore"):
            bad |= (x < lo) | (x > hi)
    # Safe stand-in for the bad rows so the compiled routine sees valid input.
    x_eval = np.where(bad, lo, x) if bad.any() else x
    return np.ascontiguousarray(x_eval, dtype=np.float64), bad


def compact_basis(x, t, k, nu=0, extrapolate=False, *, use_private=True):
    """The ``k + 1`` possibly non-zero entries of each row of the basis.

    Parameters
    ----------
    x : ndarray, shape (n,), float64
    t : ndarray, shape (nt,), float64
        Valid knots (validated by the caller).
    k, nu : int
        Degree and derivative order, ``0 <= nu``.
    extrapolate : bool or "periodic"

    Returns
    -------
    vals : ndarray, shape (n, k + 1), float64
        ``vals[i, j]`` is the ``nu``-th derivative of B-spline
        ``first[i] + j`` at ``x[i]``. Rows where the NaN policy applies are NaN.
    first : ndarray, shape (n,), intp
        Index of the first of the ``k + 1`` columns.
    bad : ndarray, shape (n,), bool
        Rows that are NaN (outside the base interval without extrapolation,
        NaN or infinite ``x``).
    """
    x_eval, bad = _prepare_x(x, t, k, extrapolate)
    extrap = extrapolate is True
    if nu > k:
        # Derivatives past the degree vanish; keep the span bookkeeping of
        # the value basis so that ``first`` is still meaningful.
        _, first = _data_matrix(x_eval, t, k, extrap, use_private=use_private)
        vals = np.zeros((x_eval.shape[0], k + 1))
    elif nu == 0:
        vals, first = _data_matrix(x_eval, t, k, extrap, use_private=use_private)
    else:
        # Degree k - nu B-splines on t trimmed by nu knots at each end have
        # the same base interval and spans as degree k on t, and
        # B_{j, k-nu}(t[nu:-nu]) == B_{j+nu, k-nu}(t).
        low, first = _data_matrix(
            x_eval, t[nu : t.shape[0] - nu], k - nu, extrap, use_private=use_private
        )
        vals, first = _raise_derivative(low, first + nu, t, k - nu, k)
    if bad.any():
        vals = np.array(vals, dtype=np.float64)  # never write into scipy's buffer
        vals[bad] = np.nan
    return vals, first, bad


def dense_basis(x, t, k, nu=0, extrapolate=False, *, dtype=np.float64):
    """The dense ``nu``-th derivative basis, shape ``(len(x), len(t) - k - 1)``.

    Equal to ``BSpline(t, np.eye(n), k, extrapolate)(x, nu)`` (NaN rows where
    the NaN policy applies), but built from the ``k + 1`` non-zeros per row
    with scipy's compiled design-matrix routine, which is several times
    faster than evaluating a spline with identity coefficients.
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    n_rows, n_basis = x.shape[0], t.shape[0] - k - 1
    out = np.zeros((n_rows, n_basis), dtype=dtype)
    if n_rows == 0:
        return out
    vals, first, bad = compact_basis(x, t, k, nu, extrapolate)
    cols = first[:, None] + np.arange(k + 1)
    np.put_along_axis(out, cols, vals, axis=1)
    if bad.any():
        out[bad] = np.nan
    return out


def dense_basis_levels(x, t, k, nus, extrapolate=False, *, dtype=np.float64):
    """``tuple(dense_basis(x, t, k, nu, extrapolate) for nu in nus)``."""
    return tuple(dense_basis(x, t, k, nu, extrapolate, dtype=dtype) for nu in nus)
