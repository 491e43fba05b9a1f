"""The B-spline layer: one cached object per basis, handed to the ladder.

:class:`BSplineBasis` holds the validated knots and its level sources: the
band (``k + 1`` values per row and the column of the first), and for the
callback backend dense host rows too. The free functions delegate to a
cached instance (concrete knots) or to the same machinery with the knots as
an operand (traced knots). :func:`fetch_band` is the one place that decides
where a dense level comes from.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import _callback_backend, _jax_backend
from ._band import dense_from_band
from ._checks import (
    check_backend,
    check_extrapolate,
    check_knot_dtype,
    check_knot_shape,
    check_knots,
    check_order,
)
from ._ladder import LevelSource, evaluate, is_traced
from ._points import prepare, safe_points

__all__ = ["BSplineBasis", "dense_spline", "fetch_band", "for_knots"]

#: Traced dense levels of bases of up to ``DENSE_FETCH_MAX_BASIS`` functions
#: and up to ``DENSE_FETCH_MAX`` entries (points x functions) come from the
#: host as dense rows; all others as the band (docs/performance.md).
DENSE_FETCH_MAX = 10000
DENSE_FETCH_MAX_BASIS = 64

#: Splines at observed (concrete) points of up to this many basis entries
#: (points x functions) multiply the dense basis, built once, with ``c``; a
#: matrix product beats the band's gather there. The band of a d-dimensional
#: tensor product is ``prod(k_i + 1)`` wide, so the crossover grows with d
#: (``benchmarks/fixed_points.py``); 3 stands for d >= 3.
DENSE_SPLINE_MAX = {1: 30_000, 2: 1_000_000, 3: 2_500_000}


def dense_spline(n_points: Any, n_basis: int, d: int) -> bool:
    """Whether a spline at ``n_points`` observed points of a ``d``-dimensional
    basis of ``n_basis`` functions is the dense basis times ``c``."""
    limit = DENSE_SPLINE_MAX[min(d, 3)]
    return isinstance(n_points, int) and n_points * n_basis <= limit


_KNOT_GRAD_ERROR = (
    "{func}: differentiating with respect to the knots `{t_name}` is not "
    "supported; the basis is differentiable in `x` (and `bspline` in `c`) "
    "only. If the knots are fixed data, pass them as a concrete numpy array "
    "or wrap them in jax.lax.stop_gradient."
)


def fetch_band(backend: str, traced: bool, n_points: Any, n_basis: int) -> bool:
    """Whether a dense level is the band expanded in XLA (whose derivatives
    stay on the band: ``_band.dense_from_band``) rather than dense host rows.

    The jax backend always expands the band. The callback backend writes
    dense rows on the host for concrete points (embedded as a constant) and
    for small traced outputs of narrow bases, and ships the band otherwise.
    ``n_points`` may be symbolic under ``jax.export``: the band, whose host
    call then refuses the symbolic shape clearly.
    """
    if backend == "jax":
        return True
    if not traced:
        return False
    small = isinstance(n_points, int) and n_points * n_basis <= DENSE_FETCH_MAX
    return not (small and n_basis <= DENSE_FETCH_MAX_BASIS)


@dataclasses.dataclass(frozen=True, eq=False)
class _Levels:
    """The level sources of one basis, and what evaluating it needs."""

    band: LevelSource
    dense: LevelSource | None  # callback backend only
    n_basis: int
    k: int
    extrapolate: bool | str
    backend: str
    ends: tuple  # (t[k], t[n]): floats, or traced scalars
    ops: tuple = ()  # (t,) for traced knots

    def dense_level(self, func: str, x: Any, nu: int) -> jax.Array:
        x, out_dtype = prepare(func, x, self.ends, self.extrapolate, bool(self.ops))
        out = self._dense(x, nu)
        return out if out_dtype is None else out.astype(out_dtype)

    def _dense(self, x, nu):
        """The dense level at prepared points, from where ``fetch_band`` says."""
        traced = is_traced(x, self.ops)
        if fetch_band(self.backend, traced, _size(x), self.n_basis):
            return dense_from_band(*self._band(x, nu), self.n_basis)
        return evaluate(self.dense, x, (nu,), self.ops)[0]

    def _band(self, x, nu):
        """``(vals, first)``: ``k + 1`` arrays of x's shape, NaN on NaN rows,
        and the first column as a float (NaN on NaN rows)."""
        vals, (first,) = evaluate(self.band, x, (nu,), self.ops)
        return vals, first

    def band_level(self, func: str, x: Any, nu: int) -> tuple[jax.Array, jax.Array]:
        x, out_dtype = prepare(func, x, self.ends, self.extrapolate, bool(self.ops))
        vals, first = self._band(x, nu)
        values = jnp.stack(vals, axis=-1)
        first = jnp.where(jnp.isnan(first), 0, first).astype(jnp.int32)
        return (values if out_dtype is None else values.astype(out_dtype)), first

    def spline(self, func: str, x: Any, c: Any, nu: int) -> jax.Array:
        """``design_matrix(x) @ c`` from the band: a gather of ``c``."""
        c = jnp.asarray(c)
        if c.ndim == 0 or c.shape[0] != self.n_basis:
            raise ValueError(
                f"{func}: `c` must have shape (n_basis, ...) with n_basis = "
                f"len(t) - k - 1 = {self.n_basis}, got shape {c.shape}."
            )
        x, out_dtype = prepare(func, x, self.ends, self.extrapolate, bool(self.ops))
        # NaN rows are evaluated at a safe point and made NaN at the end, so
        # a caller who masks them (jnp.where) gets finite gradients.
        bad, x = safe_points(x, self.ends, self.extrapolate, bool(self.ops))
        lead = (...,) + (None,) * (c.ndim - 1)
        if not is_traced(x, self.ops) and dense_spline(_size(x), self.n_basis, 1):
            with jax.ensure_compile_time_eval():  # a constant, built once
                B = self._dense(x, nu)
            res = jnp.tensordot(B, c, axes=1)
            if np.any(bad):  # concrete: no select where every point is inside
                res = jnp.where(jnp.asarray(bad)[lead], jnp.nan, res)
            return res if out_dtype is None else res.astype(out_dtype)
        vals, first = self._band(x, nu)
        start = jnp.where(jnp.isnan(first), 0, first).astype(jnp.int32)
        # One gather per point of k + 1 consecutive coefficients, from a
        # small table of c's windows, where k + 1 gathers of c would each be
        # a pass over the points.
        band = jnp.arange(self.n_basis)[:, None] + jnp.arange(len(vals))
        windows = jnp.moveaxis(_jax_backend.take_clipped(c, band), 1, -1)
        rows = _jax_backend.take_clipped(windows, start)
        # Elementwise products, not an einsum over the band (a slow library
        # call on XLA's CPU backend); c's trailing axes kept.
        res = sum(v[lead] * rows[..., j] for j, v in enumerate(vals))
        # A select last: XLA's CPU backend would otherwise pull the products
        # into the caller's reduction (docs/design.md).
        res = jnp.where(jnp.asarray(bad)[lead], jnp.nan, res)
        return res if out_dtype is None else res.astype(out_dtype)


def _size(x) -> Any:
    """Number of points, possibly symbolic."""
    out = 1
    for d in np.shape(x):
        out = out * d
    return out


@functools.lru_cache(maxsize=512)
def _sources(knots: bytes | int, k, extrapolate, backend, func, t_name):
    """``(band, dense)`` sources, cached so that every call with the same
    basis hands JAX the same source (its caches key on it): ``knots`` float64
    bytes (closed over) or the number of traced knots (an operand)."""
    name = "BSplineBasis"
    op_grad_error = _KNOT_GRAD_ERROR.format(func=func, t_name=t_name)
    if not isinstance(knots, int):
        knots = np.frombuffer(knots, dtype=np.float64)
    if backend == "jax":
        band = _jax_backend.band_source(knots, k, extrapolate, name, op_grad_error)
        return band, None
    return _callback_backend.sources(knots, k, extrapolate, name, op_grad_error)


def for_knots(func, t, k, extrapolate, backend, *, t_name="t", k_name="k") -> _Levels:
    """Validate eagerly; the levels of the basis on concrete or traced knots."""
    k = check_order(func, k, k_name)
    extrapolate = check_extrapolate(func, extrapolate)
    backend = check_backend(func, backend)
    if not isinstance(t, jax.core.Tracer) and is_traced(t):
        t = jnp.stack([jnp.asarray(v) for v in t])  # a list holding tracers
    if not isinstance(t, jax.core.Tracer):
        t_arr = check_knots(func, t, k, t_name=t_name, k_name=k_name)
        return _cached(t_arr.tobytes(), k, extrapolate, backend)._levels
    check_knot_dtype(func, t.dtype, t_name, t)
    check_knot_shape(func, tuple(t.shape), k, t_name=t_name, k_name=k_name)
    if not jnp.issubdtype(t.dtype, jnp.floating):
        t = t.astype(jnp.result_type(float))
    elif jnp.finfo(t.dtype).bits < 32:
        t = t.astype(jnp.float32)  # half-precision points run in float32
    band, dense = _sources(t.shape[0], k, extrapolate, backend, func, t_name)
    n_basis = t.shape[0] - k - 1
    ends = (t[k], t[n_basis])
    return _Levels(band, dense, n_basis, k, extrapolate, backend, ends, (t,))


@functools.lru_cache(maxsize=512)
def _cached(t_bytes: bytes, k: int, extrapolate, backend: str) -> BSplineBasis:
    return BSplineBasis(
        np.frombuffer(t_bytes), k, extrapolate=extrapolate, backend=backend
    )


@dataclasses.dataclass(frozen=True)
class BSplineBasis:
    """A frozen, hashable B-spline basis of degree ``k`` on knots ``t``.

    Validated once at construction. Safe to close over in a model or to pass
    as a static argument to ``jax.jit``: equal bases (same knots, degree,
    extrapolation and backend) compare and hash equal and share their level
    sources, so a jitted function called with a new, equal basis does not
    retrace.

    Parameters
    ----------
    t : array_like, shape (nt,)
        Knots: 1-D, real, finite, non-decreasing, ``nt >= 2k + 2``, no
        value repeated more than ``k + 1`` times, with a non-empty base
        interval ``[t[k], t[n]]``, ``n = nt - k - 1``. Concrete values only.
    k : int
        Degree, ``k >= 0``.
    extrapolate : bool or {"periodic", "linear", "constant"}, default False
        As for :func:`design_matrix`.
    backend : {"callback", "jax"}, default "callback"
        As for :func:`design_matrix`.

    Attributes
    ----------
    t : ndarray, shape (nt,), float64, read-only
    k, n_basis : int
        Degree; ``nt - k - 1``, the number of basis functions (columns).
    extrapolate, backend

    Raises
    ------
    TypeError
        If ``t`` is traced or not real, or ``k`` is not an int.
    ValueError
        As :func:`design_matrix` for ``t``, ``k``, ``extrapolate`` and
        ``backend``.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> import bspline_callback as bc
    >>> basis = bc.BSplineBasis([0, 0, 0, 0, 0.25, 1, 1, 1, 1], 3)
    >>> basis.n_basis
    5
    >>> jax.jit(basis.basis)(jnp.array([0.1, 0.5])).shape
    (2, 5)
    """

    t: np.ndarray = dataclasses.field(compare=False)
    k: int = dataclasses.field(compare=False)
    extrapolate: bool | str = dataclasses.field(
        default=False, kw_only=True, compare=False
    )
    backend: str = dataclasses.field(default="callback", kw_only=True, compare=False)
    _key: tuple = dataclasses.field(init=False, repr=False)
    _levels: _Levels = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self):
        func = "BSplineBasis"
        if isinstance(self.t, jax.core.Tracer):
            raise TypeError(
                f"{func}: `t` must be concrete (numpy, list or a concrete jax "
                f"array), got a traced array {self.t!r}. For traced knots call "
                "bspline_callback.design_matrix(x, t, k) directly."
            )
        k = check_order(func, self.k, "k")
        extrapolate = check_extrapolate(func, self.extrapolate)
        backend = check_backend(func, self.backend)
        t = check_knots(func, self.t, k)
        band, dense = _sources(t.tobytes(), k, extrapolate, backend, func, "t")
        n_basis = t.shape[0] - k - 1
        ends = (float(t[k]), float(t[n_basis]))
        levels = _Levels(band, dense, n_basis, k, extrapolate, backend, ends)
        for name, value in [
            ("t", t),
            ("k", k),
            ("extrapolate", extrapolate),
            ("backend", backend),
            ("_levels", levels),
            ("_key", (t.tobytes(), k, extrapolate, backend)),
        ]:
            object.__setattr__(self, name, value)

    @property
    def n_basis(self) -> int:
        """The number of basis functions, ``len(t) - k - 1``."""
        return self._levels.n_basis

    def __reduce__(self):
        make = functools.partial(
            BSplineBasis, extrapolate=self.extrapolate, backend=self.backend
        )
        return (make, (self.t, self.k))

    def basis(self, x: Any, nu: int = 0) -> jax.Array:
        """``design_matrix(x, self.t, self.k, nu=nu, ...)``: the ``nu``-th
        derivative of the basis, shape ``(*x.shape, n_basis)``."""
        nu = check_order("BSplineBasis.basis", nu, "nu")
        return self._levels.dense_level("BSplineBasis.basis", x, nu)

    def __call__(self, x: Any, nu: int = 0) -> jax.Array:
        """Alias of :meth:`basis`."""
        return self.basis(x, nu)

    def compact(self, x: Any, nu: int = 0) -> tuple[jax.Array, jax.Array]:
        """``design_matrix_compact(x, self.t, self.k, nu=nu, ...)``: the band,
        ``values`` ``(*x.shape, k + 1)`` and ``first`` ``(*x.shape,)``."""
        nu = check_order("BSplineBasis.compact", nu, "nu")
        return self._levels.band_level("BSplineBasis.compact", x, nu)

    def spline(self, x: Any, c: Any, nu: int = 0) -> jax.Array:
        """``bspline(x, self.t, c, self.k, nu=nu, ...)``: the spline with
        coefficients ``c`` ``(n_basis, *trailing)``, from the band."""
        nu = check_order("BSplineBasis.spline", nu, "nu")
        return self._levels.spline("BSplineBasis.spline", x, c, nu)
