"""Knot vectors as patsy, formulaic and scikit-learn users know them.

Both helpers return a float64 knot vector ``t`` of length ``n_basis + k + 1``
for :func:`design_matrix` / :class:`BSplineBasis`: ``k + 1`` end knots on
each side and ``n_basis - k - 1`` interior knots.

- ``clamped=True`` (the default) repeats each boundary ``k + 1`` times, as
  patsy's ``bs`` (and formulaic's ``bs``, and R's ``splines::bs``) do.
- ``clamped=False`` continues the first and last knot spacing past the
  boundaries, as scikit-learn's ``SplineTransformer`` does.

Either way the base interval is ``[lo, hi]``.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from ._checks import check_order

__all__ = ["quantile_knots", "uniform_knots"]


def _check_n_basis(func: str, n_basis: Any, k: int) -> int:
    n_basis = check_order(func, n_basis, "n_basis")
    if n_basis < k + 1:
        raise ValueError(
            f"{func}: need n_basis >= k + 1 = {k + 1} basis functions for "
            f"degree k={k}, got n_basis={n_basis}."
        )
    return n_basis


def _check_bound(func: str, name: str, value: Any) -> float:
    if isinstance(value, jax.core.Tracer):
        raise TypeError(
            f"{func}: `{name}` must be concrete (a Python or numpy number), got "
            f"a traced value {value!r}. Knots fix the basis and are built once "
            "from data, outside jit and outside the model."
        )
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(
            f"{func}: `{name}` must be a real number, got {value!r}."
        ) from None
    if not np.isfinite(value):
        raise ValueError(f"{func}: `{name}` must be finite, got {value}.")
    return value


def _with_ends(breaks: np.ndarray, k: int, clamped: bool) -> np.ndarray:
    """Add ``k`` end knots on each side of the breakpoints ``lo .. hi``."""
    if clamped:
        left, right = np.full(k, breaks[0]), np.full(k, breaks[-1])
    else:
        steps = np.arange(1, k + 1)
        left = breaks[0] - (breaks[1] - breaks[0]) * steps[::-1]
        right = breaks[-1] + (breaks[-1] - breaks[-2]) * steps
    t = np.concatenate([left, breaks, right])
    t.flags.writeable = False
    return t


def uniform_knots(lo, hi, n_basis, k=3, *, clamped=True):
    """Equally spaced knots for ``n_basis`` B-splines of degree ``k`` on ``[lo, hi]``.

    Parameters
    ----------
    lo, hi : float
        The base interval, ``lo < hi``, finite.
    n_basis : int
        Number of basis functions, ``>= k + 1``.
    k : int, default 3
        Degree.
    clamped : bool, default True
        Repeat ``lo`` and ``hi`` ``k + 1`` times (patsy ``bs``), or continue
        the uniform spacing past them (scikit-learn ``SplineTransformer``
        with ``knots="uniform"`` and ``n_knots = n_basis - k + 1``).

    Returns
    -------
    t : ndarray, shape (n_basis + k + 1,), float64, read-only
        Breakpoints ``np.linspace(lo, hi, n_basis - k + 1)`` plus ``k`` end
        knots on each side.

    Raises
    ------
    TypeError
        If ``lo``/``hi`` are not real numbers, or ``n_basis``/``k`` are not
        ints.
    ValueError
        If ``lo >= hi``, either is not finite, ``k < 0`` or
        ``n_basis < k + 1``.

    Examples
    --------
    >>> import bspline_callback as bc
    >>> bc.uniform_knots(0.0, 1.0, n_basis=5, k=3)
    array([0. , 0. , 0. , 0. , 0.5, 1. , 1. , 1. , 1. ])
    """
    func = "uniform_knots"
    k = check_order(func, k, "k")
    n_basis = _check_n_basis(func, n_basis, k)
    lo, hi = _check_bound(func, "lo", lo), _check_bound(func, "hi", hi)
    if not lo < hi:
        raise ValueError(f"{func}: need lo < hi, got lo={lo}, hi={hi}.")
    return _with_ends(np.linspace(lo, hi, n_basis - k + 1), k, clamped)


def quantile_knots(x, n_basis, k=3, *, lo=None, hi=None, clamped=True):
    """Interior knots at quantiles of data ``x``, for ``n_basis`` B-splines.

    Parameters
    ----------
    x : array_like, shape (m,)
        Data (concrete: knots are static), finite, at least one value.
    n_basis : int
        Number of basis functions, ``>= k + 1``.
    k : int, default 3
        Degree.
    lo, hi : float, optional
        Boundaries; ``min(x)`` and ``max(x)`` by default (patsy's
        ``lower_bound`` / ``upper_bound``).
    clamped : bool, default True
        As in :func:`uniform_knots`.

    Returns
    -------
    t : ndarray, shape (n_basis + k + 1,), float64, read-only
        Interior knots ``np.quantile(x, q)`` at ``q = linspace(0, 1,
        n_basis - k + 1)[1:-1]`` (numpy's default, linear interpolation,
        which is R's type 7 as patsy uses) between ``lo`` and ``hi``, plus
        ``k`` end knots on each side.

        - ``clamped=True`` equals patsy's ``bs(x, df=n_basis,
          include_intercept=True, degree=k)`` knots, and ``bs(x,
          df=n_basis - 1, degree=k)`` (no intercept) is
          ``b_spline_basis(t, k, 0, x)``, which drops the first column.
        - ``clamped=False`` (no ``lo``/``hi``) equals scikit-learn's
          ``SplineTransformer(n_knots=n_basis - k + 1, degree=k,
          knots="quantile")`` knots.

        Ties: where tied data would make two knots coincide, or put an
        interior knot on ``lo`` or ``hi`` (data piled up at a saturating
        sensor's maximum, say), the interior knots are the same quantiles
        of the distinct values of ``x`` instead. Every interior knot is
        then simple and strictly inside ``(lo, hi)``, so no basis function
        is zero everywhere; the equalities above hold for data whose
        quantiles are distinct.

    Raises
    ------
    TypeError
        If ``n_basis`` or ``k`` are not ints, ``lo``/``hi`` are not real, or
        ``x`` is traced (knots are computed from concrete data, outside
        ``jit``).
    ValueError
        If ``x`` is empty, not 1-D or not finite; if the boundaries are not
        ``lo < hi``, or data quantiles fall outside ``[lo, hi]``; if
        ``k < 0`` or ``n_basis < k + 1``; if ``x`` has too few distinct
        values for ``n_basis - k - 1`` distinct interior knots.

    Examples
    --------
    >>> import numpy as np, bspline_callback as bc
    >>> bc.quantile_knots(np.arange(11.0) ** 2, n_basis=5, k=3)
    array([  0.,   0.,   0.,   0.,  25., 100., 100., 100., 100.])
    """
    func = "quantile_knots"
    k = check_order(func, k, "k")
    n_basis = _check_n_basis(func, n_basis, k)
    if any(isinstance(v, jax.core.Tracer) for v in jax.tree_util.tree_leaves(x)):
        raise TypeError(
            f"{func}: `x` must be concrete data (numpy, or a JAX array outside "
            "jit), got a traced array: knots fix the basis' shape, so they are "
            "computed once from the observed data, outside the model or the "
            "jitted function, and passed in as constants."
        )
    x = np.asarray(x)
    if x.ndim != 1 or x.shape[0] == 0 or x.dtype.kind not in "iuf":
        raise ValueError(
            f"{func}: `x` must be a non-empty 1-D array of real numbers, got "
            f"an array of shape {x.shape} and dtype {x.dtype}."
        )
    x = x.astype(np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{func}: `x` must be finite; it has NaN or inf values.")
    lo = float(x.min()) if lo is None else _check_bound(func, "lo", lo)
    hi = float(x.max()) if hi is None else _check_bound(func, "hi", hi)
    if not lo < hi:
        raise ValueError(
            f"{func}: need lo < hi, got lo={lo}, hi={hi} (all of `x` equal, "
            "or bounds in the wrong order?)."
        )
    q = np.linspace(0, 1, n_basis - k + 1)[1:-1]
    inner = np.quantile(x, q)
    if inner.size and (inner[0] < lo or inner[-1] > hi):
        raise ValueError(
            f"{func}: the data quantiles {inner} fall outside [lo, hi] = "
            f"[{lo}, {hi}]; widen the bounds."
        )
    breaks = np.r_[lo, inner, hi]
    if np.any(np.diff(breaks) <= 0):
        # Ties put knots on top of each other (a repeated interior knot, or
        # one on a boundary: a basis function that is zero everywhere); the
        # quantiles of the distinct values are distinct.
        distinct = np.unique(x[(x >= lo) & (x <= hi)])
        inner = np.quantile(distinct, q)
        breaks = np.r_[lo, inner, hi]
        if np.any(np.diff(breaks) <= 0):
            raise ValueError(
                f"{func}: `x` has only {distinct.size} distinct value(s) between "
                f"lo={lo} and hi={hi}, too few for {n_basis - k - 1} distinct "
                f"interior knots (n_basis={n_basis}, k={k}); ask for fewer basis "
                "functions or use uniform_knots."
            )
    return _with_ends(breaks, k, clamped)
