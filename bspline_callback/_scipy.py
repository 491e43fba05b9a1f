"""``from_scipy``: a scipy interpolant on the bridge, 1-D or N-D."""

from __future__ import annotations

import copy
from collections.abc import Callable

import jax
import numpy as np
from scipy.interpolate import (
    BSpline,
    NdBSpline,
    PPoly,
    RectBivariateSpline,
    RegularGridInterpolator,
)

from ._callback import row_function

__all__ = ["from_scipy"]

_SUPPORTED = (
    "scipy.interpolate.BSpline (also from make_interp_spline, make_lsq_spline, "
    "make_smoothing_spline; vector-valued coefficients and extrapolate "
    "False/True/'periodic' included) and scipy.interpolate.PPoly with its "
    "subclasses CubicSpline, PchipInterpolator, Akima1DInterpolator "
    "(method 'akima' or 'makima') and CubicHermiteSpline; in N-D, "
    "scipy.interpolate.NdBSpline, RectBivariateSpline and "
    "RegularGridInterpolator with method 'slinear', 'cubic' or 'quintic'"
)
_ND = (NdBSpline, RectBivariateSpline, RegularGridInterpolator)


def from_scipy(obj) -> Callable[..., jax.Array]:
    """A scipy interpolant as a JAX function, differentiable to any order.

    Parameters
    ----------
    obj : scipy.interpolate.BSpline or scipy.interpolate.PPoly
        Any instance of these classes or their subclasses: the results of
        ``make_interp_spline``, ``make_lsq_spline`` and
        ``make_smoothing_spline``; ``CubicSpline``, ``PchipInterpolator``,
        ``Akima1DInterpolator`` (``method="akima"`` or ``"makima"``) and
        ``CubicHermiteSpline``. Coefficients may be vector-valued (trailing
        shape ``s``) and the interpolation axis may be any axis. The object
        is copied, so changing it afterwards (``PPoly.extend``, say) does not
        change the returned function.

        In N dimensions: ``NdBSpline``, ``RectBivariateSpline`` and
        ``RegularGridInterpolator`` with a method that has derivatives
        (``"slinear"``, ``"cubic"``, ``"quintic"``). The result is then
        ``f(x, nu=(0,) * d)`` with ``x`` of shape ``(..., d)``, and ``d/dx_i
        f(x, nu) = f(x, nu + e_i)``. ``RectBivariateSpline`` is evaluated
        as the ``NdBSpline`` of its knots and coefficients: the same values,
        with the ``kx``-th derivatives scipy's ``ev`` refuses; outside its
        bounding box it holds the value at the nearest boundary point, as
        FITPACK does, and its derivatives there are 0 (FITPACK's are the
        boundary's, which are not the derivatives of those values). A
        ``RegularGridInterpolator`` with ``bounds_error=True`` gives NaN
        outside the grid instead of raising; with a finite ``fill_value``,
        the derivatives there are 0.

    Returns
    -------
    f : callable
        ``f(x, nu=0)`` equal to ``obj(x, nu)`` with the interpolation axis
        first: ``x`` array_like of any shape and real dtype, concrete or
        traced; ``nu`` a Python int ``>= 0``. Output shape ``(*x.shape, *s)``,
        dtype ``jnp.result_type(float, x.dtype)``. The object's own
        extrapolation semantics hold (``obj.extrapolate`` False: NaN outside
        the breakpoints; True: the end pieces continue; ``"periodic"``:
        wrapped), and NaN wherever scipy gives NaN (NaN ``x``, infinite ``x``
        for most objects); nothing raises inside a traced computation. A
        point equal to an end of the domain (base interval, breakpoints,
        grid or box) rounded to its own dtype counts as that end, as in
        :func:`design_matrix`: float32 data at the grid's edges is inside.
        ``d/dx f(x, nu) = f(x, nu + 1)``, so ``f`` works under ``jit``,
        ``vmap`` and ``grad``/``jacfwd``/``jacrev``/``hessian`` to any order,
        with one host call per derivative level.

    Raises
    ------
    TypeError
        If ``obj`` is not one of the supported scipy objects (the message
        lists them), or has complex coefficients; if ``nu`` is not an int
        (``f``).
    ValueError
        If ``nu < 0`` (``f``).
    RuntimeError, NotImplementedError
        As the ``f`` of :func:`differentiable_callback` (the same bridge):
        traced without a CPU device for the host call, or with a symbolic
        shape under ``jax.export``.

    Examples
    --------
    >>> import numpy as np, jax
    >>> from scipy.interpolate import make_smoothing_spline
    >>> import bspline_callback as bc
    >>> u = np.linspace(0, 3, 40)
    >>> f = bc.from_scipy(make_smoothing_spline(u, np.sin(u)))
    >>> float(jax.jit(jax.grad(f))(1.0))  # about cos(1.0)
    0.54...
    """
    if isinstance(obj, _ND) and not isinstance(obj, type):
        return _from_scipy_nd(copy.deepcopy(obj))
    if isinstance(obj, type) or not isinstance(obj, (BSpline, PPoly)):
        raise TypeError(
            f"from_scipy: unsupported object {obj!r} of type "
            f"{type(obj).__name__}. Supported: {_SUPPORTED}. For other host "
            "code, use differentiable_callback(host_fn, feature_shape=...)."
        )
    if np.iscomplexobj(obj.c):
        raise TypeError(
            f"from_scipy: {type(obj).__name__} has complex coefficients "
            f"(dtype {obj.c.dtype}); only real-valued interpolants are supported."
        )
    obj = copy.deepcopy(obj)
    # Both classes keep the coefficients with the interpolation axis first:
    # BSpline c is (n, *s), PPoly c is (order, pieces, *s).
    feature_shape = obj.c.shape[1:] if isinstance(obj, BSpline) else obj.c.shape[2:]
    name = f"from_scipy({type(obj).__name__})"
    if isinstance(obj, BSpline):
        ends = (_base_interval(obj.t, obj.k),)
    else:
        ends = ((float(np.min(obj.x)), float(np.max(obj.x))),)
    return row_function(_ScipyHost(obj), feature_shape, name, ends=ends)


class _ScipyHost:
    """``host_fn(x, nu) = obj(x, nu)`` with the interpolation axis first; a
    class, not a closure, so that the function pickles."""

    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj

    def __call__(self, x, nu):
        # NaN is the policy for points scipy cannot evaluate; numpy's
        # floating-point warnings (periodic wrapping of inf, say) must not
        # surface inside a callback, where a warnings filter could raise.
        with np.errstate(all="ignore"):
            out = self.obj(x, nu)
        axis = self.obj.axis
        return np.moveaxis(out, axis, 0) if axis else out

    def __getstate__(self):
        return self.obj

    def __setstate__(self, obj):
        self.obj = obj


def _from_scipy_nd(obj):
    name = f"from_scipy({type(obj).__name__})"
    if isinstance(obj, RectBivariateSpline):
        tx, ty = obj.get_knots()
        kx, ky = obj.degrees
        c = obj.get_coeffs().reshape(len(tx) - kx - 1, len(ty) - ky - 1)
        nd = NdBSpline((tx, ty), c, (kx, ky), extrapolate=True)
        lo, hi = np.array([tx[kx], ty[ky]]), np.array([tx[-kx - 1], ty[-ky - 1]])
        ends = tuple(zip(lo.tolist(), hi.tolist(), strict=True))
        return row_function(_ClampedHost(nd, lo, hi), (), name, 2, ends)
    if isinstance(obj, RegularGridInterpolator):
        if obj.method not in ("slinear", "cubic", "quintic"):
            raise TypeError(
                f"{name}: method {obj.method!r} has no derivatives in scipy; "
                "use method 'slinear', 'cubic' or 'quintic'."
            )
        if np.iscomplexobj(obj.values):
            raise TypeError(f"{name}: complex values are not supported.")
        if obj.bounds_error:
            obj.bounds_error, obj.fill_value = False, np.nan
        d = len(obj.grid)
        ends = tuple((float(np.min(g)), float(np.max(g))) for g in obj.grid)
        return row_function(_GridHost(obj), obj.values.shape[d:], name, d, ends)
    if np.iscomplexobj(obj.c):
        raise TypeError(f"{name}: complex coefficients are not supported.")
    d = len(obj.t)
    ends = tuple(_base_interval(t, k) for t, k in zip(obj.t, obj.k, strict=True))
    return row_function(_NdHost(obj), obj.c.shape[d:], name, d, ends)


def _base_interval(t, k):
    """``(t[k], t[n])`` as floats: the domain whose ends the end rule keeps."""
    return float(t[k]), float(t[len(t) - k - 1])


class _NdHost(_ScipyHost):
    """``host_fn(x, nu) = obj(x, nu=nu)`` for an ``NdBSpline`` (points as
    rows, so no axis to move)."""

    __slots__ = ()

    def __call__(self, x, nu):
        with np.errstate(all="ignore"):
            return self.obj(x, nu=nu)


class _ClampedHost(_NdHost):
    """FITPACK's evaluation outside the box: the value at the nearest
    boundary point (clamped coordinates), with derivatives 0 in a clamped
    coordinate (the derivatives of what is returned)."""

    __slots__ = ("lo", "hi")

    def __init__(self, obj, lo, hi):
        super().__init__(obj)
        self.lo, self.hi = lo, hi

    def __call__(self, x, nu):
        with np.errstate(all="ignore"):
            out = self.obj(np.clip(x, self.lo, self.hi), nu=nu)
        for i, order in enumerate(nu):
            if order:
                out[(x[:, i] < self.lo[i]) | (x[:, i] > self.hi[i])] = 0.0
        return out

    def __getstate__(self):
        return self.obj, self.lo, self.hi

    def __setstate__(self, state):
        self.obj, self.lo, self.hi = state


class _GridHost(_NdHost):
    """A ``RegularGridInterpolator`` with ``nu``; a finite ``fill_value``
    outside has derivatives 0."""

    __slots__ = ()

    def __call__(self, x, nu):
        with np.errstate(all="ignore"):
            out = np.asarray(self.obj(x, nu=nu), dtype=np.float64)
        fill = self.obj.fill_value
        if any(nu) and fill is not None and np.isfinite(fill):
            grid = self.obj.grid
            outside = np.zeros(x.shape[0], bool)
            for i, g in enumerate(grid):
                outside |= (x[:, i] < g[0]) | (x[:, i] > g[-1])
            out[outside] = 0.0
        return out
