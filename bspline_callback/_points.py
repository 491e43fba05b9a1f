"""Points as the B-spline functions take them: dtypes, the ends, the warning.

- Half-precision points are evaluated in float32 and the results rounded
  back; the end rule (a point equal to an end of the base interval rounded
  to its own dtype is that end) still uses their own dtype.
- Concrete points outside the base interval, without extrapolation, give a
  ``UserWarning`` that points at the caller's line; while
  :func:`record_outside` is active they are recorded instead, and so are
  traced points (through a debug callback).
- ``safe_points`` puts NaN rows on a point inside, so that their gradients
  stay finite (``bspline``).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
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

__all__ = [
    "Outside",
    "float_dtype",
    "prepare",
    "record_outside",
    "report_outside",
    "safe_points",
]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def float_dtype(x: Any, traced: bool) -> np.dtype:
    """The float dtype JAX gives points ``x`` (concrete or traced)."""
    return _jax_float_dtype(x if traced else np.asarray(x))


def _jax_float_dtype(x: Any) -> np.dtype:
    """The float dtype JAX gives ``x`` (float32 for float64 numpy input
    without x64)."""
    dtype = np.asarray(x).dtype if not hasattr(x, "dtype") else x.dtype
    return np.dtype(jnp.result_type(float, jax.dtypes.canonicalize_dtype(dtype)))


def prepare(
    func: str, x: Any, ends: tuple, extrapolate, knots_traced: bool, *, report=True
):
    """``x`` ready for a level source, and the dtype to round results to
    (None: keep them). ``ends`` are ``t[k]`` and ``t[n]``: floats, or
    traced scalars for traced knots. ``report``: report points outside
    (:func:`report_outside`); N-D callers report all coordinates at once."""
    check_real_points(func, x)
    traced = is_traced(x)
    x = jnp.asarray(x) if traced else x  # a list of tracers too
    dtype = float_dtype(x, traced)
    if traced and not jnp.issubdtype(x.dtype, jnp.inexact):
        x = x.astype(dtype)  # integer points: the host gets floats
    if report and not knots_traced and extrapolate is False:
        report_outside(func, [x if traced else np.asarray(x)], [ends], dtype)
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


def report_outside(func: str, columns: list, ends: list, dtype: np.dtype) -> None:
    """Points outside the base interval without extrapolation: one
    ``UserWarning`` per call for concrete points (a point outside in several
    coordinates counted once), or a record while :func:`record_outside` is
    active (for traced points, through a debug callback)."""
    recorder = _RECORDER.get()
    if any(is_traced(c) for c in columns):
        if recorder is not None:
            recorder.traced(func, columns, ends, dtype)
        return
    masks = [_outside(c, dtype, *e) for c, e in zip(columns, ends, strict=True)]
    size = masks[0].size
    count = int(np.count_nonzero(np.logical_or.reduce(masks))) if size else 0
    if not count:
        return
    counts = [int(np.count_nonzero(m)) for m in masks]
    if recorder is not None:
        recorder.add(func, count, size, counts, ends)
        return
    warnings.warn(
        f"{func}: {count} of {size} points lie outside the base interval "
        f"{_intervals(counts, ends)}, and their rows are NaN "
        "(extrapolate=False). Pass extrapolate='linear' (or True) to "
        "continue the basis past the ends, or use knots that cover the "
        "points. In a model whose points depend on parameters, "
        "bspline_callback.points_outside(model, ...) finds the calls whose "
        "points leave it.",
        UserWarning,
        stacklevel=_user_stacklevel(),
    )


def _outside(x: np.ndarray, dtype: np.dtype, lo: float, hi: float) -> np.ndarray:
    """Points outside ``[lo, hi]``, an end rounded to x's dtype inside; NaN
    is not outside (it has its own NaN row)."""
    xr = np.asarray(x).astype(dtype).astype(np.float64)
    lo_r, hi_r = float(np.asarray(lo, dtype)), float(np.asarray(hi, dtype))
    with np.errstate(invalid="ignore"):
        return ((xr < lo) & (xr != lo_r)) | ((xr > hi) & (xr != hi_r))


def _intervals(counts: list, ends: list) -> str:
    """``[lo, hi] of the knots``, or per coordinate with its count outside."""
    if len(ends) == 1:
        return f"[{ends[0][0]!r}, {ends[0][1]!r}] of the knots"
    return (
        "of the knots in some coordinate ("
        + "; ".join(
            f"coordinate {i}: {n} outside [{lo!r}, {hi!r}]"
            for i, (n, (lo, hi)) in enumerate(zip(counts, ends, strict=True))
            if n
        )
        + ")"
    )


@dataclasses.dataclass(frozen=True)
class Outside:
    """One call whose points left the base interval: the function, the
    caller's line, how many of how many points, and the interval(s)."""

    where: str
    function: str
    call_site: str
    outside: int
    points: int
    interval: str

    def __str__(self):
        return (
            f"{self.where}: {self.function} at {self.call_site}: {self.outside} "
            f"of {self.points} points outside the base interval {self.interval}"
        )


class _Recorder:
    """The calls seen while :func:`record_outside` is active."""

    def __init__(self):
        self.found: list[Outside] = []

    def add(self, func, count, size, counts, ends, site=None):
        where = "traced call" if site else "call"
        site = site or _call_site()
        self.found.append(
            Outside(where, func, site, count, size, _intervals(counts, ends))
        )

    def traced(self, func, columns, ends, dtype):
        """Count at run time, through a debug callback (it runs once per
        evaluation of what is being traced now)."""
        site = _call_site()
        lows = [jnp.asarray(lo, dtype) for lo, _ in ends]
        highs = [jnp.asarray(hi, dtype) for _, hi in ends]
        masks = [
            (c < lo) | (c > hi) for c, lo, hi in zip(columns, lows, highs, strict=True)
        ]
        total = functools.reduce(jnp.logical_or, masks)

        def record(count, counts):
            if int(count):
                counts = [int(n) for n in counts]
                self.add(func, int(count), total.size, counts, ends, site)

        jax.debug.callback(
            record, jnp.sum(total), jnp.stack([jnp.sum(m) for m in masks])
        )


_RECORDER: contextvars.ContextVar[_Recorder | None] = contextvars.ContextVar(
    "bspline_callback_recorder", default=None
)


@contextlib.contextmanager
def record_outside():
    """Record, instead of warning, every B-spline call whose points lie
    outside the base interval without extrapolation (their rows are NaN).

    Yields a list that fills as calls happen: one
    :class:`~bspline_callback._points.Outside` per call with points
    outside (``where``, ``function``, ``call_site``, ``outside``,
    ``points``, ``interval``; printed, one line). Concrete calls are
    recorded as they run. Calls traced inside the block carry a
    ``jax.debug.callback`` that records each evaluation: a checked mode,
    which costs a host call per evaluation, for a short diagnostic run such
    as ``mcmc.run`` on a new ``MCMC`` object (a computation traced before
    the block, served from JAX's or numpyro's caches, is not checked).

    Examples
    --------
    >>> with bc.record_outside() as found:  # doctest: +SKIP
    ...     mcmc.run(jax.random.PRNGKey(0), x_obs, y)
    >>> len(found), found[0]  # doctest: +SKIP
    (752, traced call: bspline at model.py:20: 6 of 150 points outside ...)
    """
    recorder = _Recorder()
    token = _RECORDER.set(recorder)
    try:
        yield recorder.found
    finally:
        jax.effects_barrier()
        _RECORDER.reset(token)


def _call_site() -> str:
    frame = sys._getframe(_user_stacklevel() - 1)  # its level 1 is this frame
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def _user_stacklevel() -> int:
    """``stacklevel`` of the first frame outside this package: the warning
    points at the user's call, however deep inside the package it is raised."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    return level
