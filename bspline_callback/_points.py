"""Points as the B-spline functions take them: dtypes, the ends, the warning.

- Half-precision points are evaluated in float32 and the results rounded
  back; the end rule (a point equal to an end of the base interval rounded
  to its own dtype is that end) still uses their own dtype.
- Concrete points outside the base interval, without extrapolation, give a
  ``UserWarning`` that points at the caller's line.
- ``safe_points`` puts NaN rows on a point inside, so that their gradients
  stay finite (``bspline``).
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._checks import check_real_points
from ._ladder import is_traced
from ._sources import as_jax_float

__all__ = ["prepare", "safe_points"]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _jax_float_dtype(x: Any) -> np.dtype:
    """The float dtype JAX gives ``x`` (float32 for float64 numpy input
    without x64)."""
    dtype = np.asarray(x).dtype if not hasattr(x, "dtype") else x.dtype
    return np.dtype(jnp.result_type(float, jax.dtypes.canonicalize_dtype(dtype)))


def prepare(func: str, x: Any, ends: tuple, extrapolate, knots_traced: bool):
    """``x`` ready for a level source, and the dtype to round results to
    (None: keep them). ``ends`` are ``t[k]`` and ``t[n]``: floats, or
    traced scalars for traced knots."""
    check_real_points(func, x)
    traced = is_traced(x)
    x = jnp.asarray(x) if traced else x  # a list of tracers too
    dtype = _jax_float_dtype(x if traced else np.asarray(x))
    if not traced and not knots_traced and extrapolate is False:
        _warn_outside(func, np.asarray(x), dtype, *ends)
    if dtype.itemsize >= 4:
        return x, None
    xp = jnp if traced or knots_traced else np
    x = xp.asarray(x)
    x32 = x.astype(np.float32)
    for end in ends:
        rounded = end.astype(dtype) if knots_traced else xp.asarray(end, dtype)
        x32 = xp.where(x == rounded, xp.asarray(end, np.float32), x32)
    return x32, dtype


def safe_points(x: Any, ends: tuple, extrapolate, knots_traced: bool):
    """``(bad, x_safe)``: the rows the NaN policy makes NaN, and ``x`` with
    ``t[k]`` on those rows (numpy for concrete input, which then stays on
    the eager path)."""
    concrete = not is_traced(x) and not knots_traced
    xp = np if concrete else jnp
    x = as_jax_float(x) if concrete else jnp.asarray(x)
    lo, hi = (xp.asarray(e).astype(x.dtype) for e in ends)
    if extrapolate is False:
        # With the end rule, comparing with the ends rounded to x's dtype
        # is exact.
        bad = ~((x >= lo) & (x <= hi))
    else:
        bad = ~xp.isfinite(x)
    return bad, xp.where(bad, lo, x)


def _warn_outside(func: str, x: np.ndarray, dtype: np.dtype, lo: float, hi: float):
    """A ``UserWarning`` for concrete points outside ``[lo, hi]`` (an end
    rounded to x's dtype is inside)."""
    if x.size == 0:
        return
    xr = np.asarray(x).astype(dtype).astype(np.float64)
    lo_r, hi_r = float(np.asarray(lo, dtype)), float(np.asarray(hi, dtype))
    with np.errstate(invalid="ignore"):
        outside = ((xr < lo) & (xr != lo_r)) | ((xr > hi) & (xr != hi_r))
    count = int(np.count_nonzero(outside))
    if count:
        warnings.warn(
            f"{func}: {count} of {x.size} points lie outside the base interval "
            f"[{lo!r}, {hi!r}] of the knots, and their rows are NaN "
            "(extrapolate=False). Pass extrapolate='linear' (or True) to "
            "continue the basis past the ends, or use knots that cover the "
            "points.",
            UserWarning,
            stacklevel=_user_stacklevel(),
        )


def _user_stacklevel() -> int:
    """``stacklevel`` of the first frame outside this package: the warning
    points at the user's call, however deep inside the package it is raised."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    return level
