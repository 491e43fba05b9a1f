"""``from_scipy``: a scipy 1-D piecewise polynomial on the bridge."""

from __future__ import annotations

import copy
from collections.abc import Callable

import jax
import numpy as np
from scipy.interpolate import BSpline, PPoly

from ._callback import row_function

__all__ = ["from_scipy"]

_SUPPORTED = (
    "scipy.interpolate.BSpline (also from make_interp_spline, make_lsq_spline, "
    "make_smoothing_spline; vector-valued coefficients and extrapolate "
    "False/True/'periodic' included) and scipy.interpolate.PPoly with its "
    "subclasses CubicSpline, PchipInterpolator, Akima1DInterpolator "
    "(method 'akima' or 'makima') and CubicHermiteSpline"
)


def from_scipy(obj: BSpline | PPoly) -> Callable[..., jax.Array]:
    """A scipy 1-D interpolant as a JAX function, differentiable to any order.

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
        for most objects); nothing raises inside a traced computation.
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
    return row_function(_ScipyHost(obj), feature_shape, name)


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
