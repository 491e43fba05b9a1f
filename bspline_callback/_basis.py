"""The B-spline basis on the bridge.

``design_matrix``, ``BSplineBasis``, ``bspline`` and the drop-in ``b_spline_basis``.
"""

from __future__ import annotations

import functools
import os
import sys
import warnings
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _host
from ._bridge import Spec, _as_jax_float, _is_traced, evaluate, evaluate_banded
from ._checks import (
    check_backend,
    check_extrapolate,
    check_knot_dtype,
    check_knot_shape,
    check_knots,
    check_order,
    check_real_points,
)
from ._native import NativeKnots, native_levels, take_clipped, traced_knots

__all__ = [
    "BSplineBasis",
    "b_spline_basis",
    "bspline",
    "design_matrix",
    "design_matrix_compact",
]

_KNOT_GRAD_ERROR = (
    "{func}: differentiating with respect to the knots `{t_name}` is not "
    "supported; the basis is differentiable in `x` (and `bspline` in `c`) "
    "only. If the knots are fixed data, pass them as a concrete numpy array "
    "or wrap them in jax.lax.stop_gradient."
)


@functools.lru_cache(maxsize=512)
def _concrete_spec(t_bytes: bytes, k: int, extrapolate: bool | str) -> Spec:
    """One shared ``Spec`` per (knots, degree, extrapolate).

    Cached so that every ``design_matrix`` call, and every equal
    ``BSplineBasis``, hands JAX the same callback: JAX's compilation caches
    are keyed on it. The knots are closed over as float64 host data, not
    passed as a callback operand (an operand costs a host transfer per call
    and, without x64, would round the knots to float32).
    """
    t = np.frombuffer(t_bytes, dtype=np.float64)
    basis = _host.HostBasis(t, k, extrapolate)  # knot-only work done once

    def host(x, nus, *, dtype):
        return basis.levels(x, nus, dtype=dtype)

    def banded(x, nus, *, dtype):
        return basis.banded(x, nus, dtype=dtype)

    return Spec(
        host=host,
        feature_shape=(basis.n_basis,),
        name="design_matrix",
        checked=True,  # HostBasis writes the declared shapes and dtype
        **_band_fields(banded, basis.n_basis, k),
    )


def _native_fn(k: int, extrapolate: bool | str, t_const: np.ndarray | None):
    """``Spec.native`` for degree ``k``: knots closed over, or the operand."""
    periodic = extrapolate == "periodic"
    knots = None if t_const is None else NativeKnots(t_const, k, periodic)

    # jit: one compiled computation per shape when called eagerly (op by op
    # it would dispatch dozens of small operations); inlined under jit.
    @functools.partial(jax.jit, static_argnames=("nus", "banded"))
    def native(x, *ops, nus, banded):
        if knots is None:
            kn = traced_knots(jnp.asarray(ops[0], x.dtype), k, periodic)
        else:
            kn = knots.arrays(x.dtype)
        return native_levels(
            x, kn, k=k, nus=nus, extrapolate=extrapolate, banded=banded
        )

    return native


@functools.lru_cache(maxsize=512)
def _native_spec(t_bytes: bytes, k: int, extrapolate: bool | str) -> Spec:
    """``backend="jax"`` with concrete knots (cached like ``_concrete_spec``)."""
    t = np.frombuffer(t_bytes, dtype=np.float64)
    n_basis = t.shape[0] - k - 1
    return Spec(
        host=None,
        feature_shape=(n_basis,),
        name="design_matrix",
        band=_band_width(n_basis, k),
        native=_native_fn(k, extrapolate, t),
        expand_band=_expand_always,
    )


@functools.lru_cache(maxsize=512)
def _native_traced_spec(
    n_knots: int, k: int, extrapolate: bool | str, func: str, t_name: str
) -> Spec:
    """``backend="jax"`` with traced knots (an operand of the computation)."""
    return Spec(
        host=None,
        feature_shape=(n_knots - k - 1,),
        op_core_ndims=(1,),
        op_grad_error=_KNOT_GRAD_ERROR.format(func=func, t_name=t_name),
        name=func,
        band=_band_width(n_knots - k - 1, k),
        native=_native_fn(k, extrapolate, None),
        expand_band=_expand_always,
    )


def _band_width(n_basis: int, k: int) -> int:
    """``Spec.band``: ``k + 1``, or 0 (no banded form) where a float32 first
    column index would not be exact."""
    if n_basis + k >= _host.MAX_BANDED_BASIS:  # pragma: no cover - 16M columns
        return 0
    return k + 1


def _band_fields(banded, n_basis: int, k: int) -> dict:
    """Spec fields that make traced callback calls ship banded rows: always
    for ``bspline``, and for dense levels where the host's dense fill is
    not cheap (derivative levels included: a gradient asks for two)."""
    width = _band_width(n_basis, k)
    if not width:  # pragma: no cover - 16M columns
        return {}

    def expand_band(size):
        if not isinstance(size, int):
            # A symbolic size (jax.export's shape polymorphism) has no
            # answer to the size test; either route reaches
            # ``_bridge._levels``, which refuses symbolic shapes clearly.
            return True
        return not _host.small_route(size, n_basis, derivative=True)

    return {"banded": banded, "band": width, "expand_band": expand_band}


def _expand_always(size: int) -> bool:
    """``Spec.expand_band`` of the jax backend: its dense levels always come
    from the banded ones (no host; gradients stay banded)."""
    return True


@functools.lru_cache(maxsize=512)
def _traced_spec(
    n_knots: int, k: int, extrapolate: bool | str, func: str, t_name: str
) -> Spec:
    """Knots as a callback operand, for knots that are traced (jit arguments)."""

    def host(x, nus, t, *, dtype):
        t = np.asarray(t, dtype=np.float64)
        if _host.bad_knots(t, k):
            # Invalid traced knots cannot raise here: the rows become NaN.
            nan = np.full((x.shape[0], n_knots - k - 1), np.nan, dtype)
            return (nan,) * len(nus)
        return _host.dense_basis_levels(x, t, k, nus, extrapolate, dtype=dtype)

    def banded(x, nus, t, *, dtype):
        t = np.asarray(t, dtype=np.float64)
        if _host.bad_knots(t, k):
            return np.full((x.shape[0], len(nus) * (k + 1) + 1), np.nan, dtype)
        return _host.HostBasis(t, k, extrapolate).banded(x, nus, dtype=dtype)

    return Spec(
        host=host,
        feature_shape=(n_knots - k - 1,),
        op_core_ndims=(1,),
        op_grad_error=_KNOT_GRAD_ERROR.format(func=func, t_name=t_name),
        name=func,
        checked=True,  # as _concrete_spec's, NaN rows included
        **_band_fields(banded, n_knots - k - 1, k),
    )


class BSplineBasis:
    """A frozen, hashable B-spline basis of degree ``k`` on knots ``t``.

    Validated once at construction. Safe to close over in a model or to pass
    as a static argument to ``jax.jit``: equal bases (same knots, degree and
    extrapolation) compare and hash equal and share one host callback, so
    calling a jitted function with it again and again does not retrace.

    Parameters
    ----------
    t : array_like, shape (nt,)
        Knots: 1-D, real, finite, non-decreasing, ``nt >= 2k + 2``, with a
        non-empty base interval ``[t[k], t[n]]``, ``n = nt - k - 1``.
        Concrete values only (numpy, list, concrete jax array).
    k : int
        Degree, ``k >= 0``.
    extrapolate : bool or {"periodic", "linear", "constant"}, default False
        As for :func:`design_matrix`.
    backend : {"callback", "jax"}, default "callback"
        As for :func:`design_matrix`.

    Attributes
    ----------
    t : ndarray, shape (nt,), float64, read-only
    k : int
    n_basis : int
        ``nt - k - 1``, the number of basis functions (columns).
    extrapolate : bool or "periodic"
    backend : str

    Raises
    ------
    TypeError
        If ``t`` is traced or not real, or ``k`` is not an int.
    ValueError
        If ``t`` is not 1-D, not finite, decreasing, too short for ``k``,
        has an empty base interval, or ``extrapolate`` or ``backend`` is
        unknown.

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

    __slots__ = ("_t", "_k", "_extrapolate", "_key", "_spec")

    def __init__(
        self,
        t: Any,
        k: int,
        *,
        extrapolate: bool | str = False,
        backend: str = "callback",
    ) -> None:
        func = "BSplineBasis"
        if isinstance(t, jax.core.Tracer):
            raise TypeError(
                f"{func}: `t` must be concrete (numpy, list or a concrete jax "
                f"array), got a traced array {t!r}. For traced knots call "
                f"bspline_callback.design_matrix(x, t, k) directly."
            )
        k = check_order(func, k, "k")
        extrapolate = check_extrapolate(func, extrapolate)
        t_arr = check_knots(func, t, k)
        backend = check_backend(func, backend)
        key = (t_arr.tobytes(), k, extrapolate, backend)
        object.__setattr__(self, "_t", t_arr)
        object.__setattr__(self, "_k", k)
        object.__setattr__(self, "_extrapolate", extrapolate)
        object.__setattr__(self, "_key", key)
        make = _native_spec if backend == "jax" else _concrete_spec
        object.__setattr__(self, "_spec", make(*key[:3]))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"BSplineBasis is frozen; cannot set {name!r}.")

    @property
    def t(self) -> np.ndarray:
        """The knots, float64, read-only."""
        return self._t

    @property
    def k(self) -> int:
        """The degree."""
        return self._k

    @property
    def n_basis(self) -> int:
        """The number of basis functions, ``len(t) - k - 1``."""
        return self._t.shape[0] - self._k - 1

    @property
    def extrapolate(self) -> bool | str:
        """``False``, ``True`` or ``"periodic"``."""
        return self._extrapolate

    @property
    def backend(self) -> str:
        """``"callback"`` or ``"jax"``."""
        return self._key[3]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BSplineBasis):
            return NotImplemented
        return self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def __repr__(self) -> str:
        return (
            f"BSplineBasis(t={np.array2string(self._t, separator=', ')}, "
            f"k={self._k}, extrapolate={self._extrapolate!r}, "
            f"backend={self.backend!r})"
        )

    def __reduce__(self):
        return (
            functools.partial(
                BSplineBasis, extrapolate=self._extrapolate, backend=self.backend
            ),
            (self._t, self._k),
        )

    def basis(self, x: Any, nu: int = 0) -> jax.Array:
        """The ``nu``-th derivative of the basis at ``x``.

        Parameters
        ----------
        x : array_like, any shape, real dtype
            Concrete or traced. Integer ``x`` is promoted to float.
        nu : int, default 0
            Derivative order with respect to ``x``; ``nu > k`` gives zeros.

        Returns
        -------
        jax.Array, shape (*x.shape, n_basis), dtype ``result_type(float, x)``
            Equal to ``design_matrix(x, self.t, self.k, nu=nu,
            extrapolate=self.extrapolate)``.
        """
        nu = check_order("BSplineBasis.basis", nu, "nu")
        ends = (float(self._t[self._k]), float(self._t[-self._k - 1]))
        call = _Call("BSplineBasis.basis", self._spec, nu, (), ends, self._extrapolate)
        return _dense(call, x)

    def __call__(self, x: Any, nu: int = 0) -> jax.Array:
        """Alias of :meth:`basis`."""
        return self.basis(x, nu)


class _Call(NamedTuple):
    """A validated call: what to evaluate, and where its points may lie."""

    func: str
    spec: Spec
    nu: int
    ops: tuple  # (t,) for traced knots
    ends: tuple  # (t[k], t[n]): floats, or traced scalars
    extrapolate: bool | str


def _spec_for(
    func: str,
    t: Any,
    k: Any,
    nu: Any,
    extrapolate: Any,
    *,
    backend: Any = "callback",
    t_name: str = "t",
    k_name: str = "k",
    nu_name: str = "nu",
) -> _Call:
    """Shared front end: validate eagerly; the spec, ``nu`` and operands."""
    k = check_order(func, k, k_name)
    nu = check_order(func, nu, nu_name)
    extrapolate = check_extrapolate(func, extrapolate)
    native = check_backend(func, backend) == "jax"
    if not isinstance(t, jax.core.Tracer) and _is_traced(t):
        t = jnp.stack([jnp.asarray(v) for v in t])  # a list holding tracers
    if isinstance(t, jax.core.Tracer):
        check_knot_dtype(func, t.dtype, t_name, t)
        check_knot_shape(func, tuple(t.shape), k, t_name=t_name, k_name=k_name)
        if not jnp.issubdtype(t.dtype, jnp.floating):
            t = t.astype(jnp.result_type(float))
        elif jnp.finfo(t.dtype).bits < 32:
            t = t.astype(jnp.float32)  # half-precision points run in float32
        make = _native_traced_spec if native else _traced_spec
        spec = make(t.shape[0], k, extrapolate, func, t_name)
        return _Call(func, spec, nu, (t,), (t[k], t[-k - 1]), extrapolate)
    t_arr = check_knots(func, t, k, t_name=t_name, k_name=k_name)
    make = _native_spec if native else _concrete_spec
    spec = make(t_arr.tobytes(), k, extrapolate)
    ends = (float(t_arr[k]), float(t_arr[-k - 1]))
    return _Call(func, spec, nu, (), ends, extrapolate)


def _jax_float_dtype(x: Any) -> np.dtype:
    """The float dtype JAX gives ``x`` (float32 for float64 numpy input
    without x64)."""
    dtype = np.asarray(x).dtype if not hasattr(x, "dtype") else x.dtype
    return np.dtype(jnp.result_type(float, jax.dtypes.canonicalize_dtype(dtype)))


def _points(call: _Call, x: Any) -> tuple[Any, np.dtype | None]:
    """``x`` for the bridge, and the dtype to cast its results to.

    Warns for concrete points outside the base interval without
    extrapolation. Half-precision points are evaluated in float32 and the
    results rounded back; the end rule still uses their own dtype, so a
    point equal to an end's rounding to float16 becomes that end in float32.
    """
    check_real_points(call.func, x)
    traced = _is_traced(x)
    x = jnp.asarray(x) if traced else x  # a list of tracers too
    dtype = _jax_float_dtype(x if traced else np.asarray(x))
    lo, hi = call.ends
    if not traced and not call.ops and call.extrapolate is False:
        _warn_outside(call.func, np.asarray(x), dtype, lo, hi)
    if dtype.itemsize >= 4:
        return x, None
    xp = jnp if traced or call.ops else np
    x = xp.asarray(x)
    x32 = x.astype(np.float32)
    for end in (lo, hi):
        rounded = xp.asarray(end, dtype) if not call.ops else end.astype(dtype)
        x32 = xp.where(x == rounded, xp.asarray(end, np.float32), x32)
    return x32, dtype


def _warn_outside(func: str, x: np.ndarray, dtype: np.dtype, lo: float, hi: float):
    """A ``UserWarning`` for concrete points outside ``[lo, hi]`` (the end
    rule applied: an end rounded to x's dtype is inside)."""
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


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _user_stacklevel() -> int:
    """``stacklevel`` of the first frame outside this package: the warning
    points at the user's call, however deep inside the package it is raised."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    return level


def _dense(call: _Call, x: Any) -> jax.Array:
    """The dense level ``call.nu`` at ``x``."""
    x, out_dtype = _points(call, x)
    out = evaluate(call.spec, x, call.nu, call.ops)
    return out if out_dtype is None else out.astype(out_dtype)


def _basis_or_traced(
    func: str, x: Any, t: Any, k: Any, nu: Any, extrapolate: Any, **names
) -> jax.Array:
    """Validate eagerly, then evaluate the dense basis for concrete or traced knots."""
    return _dense(_spec_for(func, t, k, nu, extrapolate, **names), x)


def design_matrix(
    x: Any,
    t: Any,
    k: int,
    *,
    nu: int = 0,
    extrapolate: bool | str = False,
    backend: str = "callback",
) -> jax.Array:
    """The dense B-spline basis (or its ``nu``-th derivative) at ``x``.

    Equal to ``scipy.interpolate.BSpline(t, np.eye(n), k, extrapolate)(x, nu)``,
    evaluated by scipy's compiled routines on the host through a host
    callback (``jax.pure_callback``; on a CPU, ``buffer_callback``: see
    ``_bridge._host_callback``), and differentiable in ``x`` to any order through
    ``jax.custom_jvp`` (the derivative of level ``nu`` is level ``nu + 1``).

    Parameters
    ----------
    x : array_like, any shape (scalar, 1-D, n-D, empty), real dtype
        Evaluation points, concrete or traced. Integer ``x`` is promoted.
    t : array_like, shape (nt,)
        Knots: 1-D, real, finite, non-decreasing, ``nt >= 2k + 2``. Concrete
        knots are validated here, before any tracing. Traced knots (a ``jit``
        argument) are accepted: invalid ones give NaN rows, and they are
        passed to the host in x's float dtype (float32 unless x64 is on).
    k : int
        Degree, ``k >= 0``.
    nu : int, default 0
        Derivative order with respect to ``x``, ``nu >= 0``; ``nu > k`` gives
        zeros.
    extrapolate : bool or {"periodic", "linear", "constant"}, default False
        What happens to ``x`` outside the base interval ``[t[k], t[n]]``
        (``n = nt - k - 1``, both ends included; a point equal to an end
        rounded to x's dtype is that end):

        - ``False``: NaN rows (and a ``UserWarning`` for concrete ``x``);
        - ``True``: the end polynomial pieces continue (scipy);
        - ``"periodic"``: ``x`` is wrapped into the base interval (scipy);
        - ``"linear"``: each basis function continues as its tangent at the
          nearer end (scikit-learn's ``SplineTransformer``); level 1 is the
          end slope there and higher levels are 0. The choice for points
          that depend on parameters: finite and differentiable everywhere;
        - ``"constant"``: each continues as its value at the nearer end;
          levels ``>= 1`` are 0 there.

        NaN or infinite ``x`` always gives a NaN row. To drop NaN rows
        after the call, clip ``x`` first or use ``"linear"``/
        ``"constant"``: a ``jnp.where`` on the dense result leaves NaN in
        the gradient with respect to ``x`` (:func:`bspline` masks cleanly).
    backend : {"callback", "jax"}, default "callback"
        ``"callback"``: scipy's compiled routines on the host through a
        host callback (exactly scipy's values). ``"jax"``: the same
        basis in pure ``jax.numpy`` (span search and de Boor's recurrence on
        the ``k + 1`` non-zeros; agrees with scipy to rounding), with no
        host round trip: faster for small and medium problems, and it runs
        on accelerators. Same shapes, dtypes, NaN policy and errors.

    Returns
    -------
    jax.Array, shape (*x.shape, nt - k - 1)
        Dtype ``jnp.result_type(float, x.dtype)``: float32 by default,
        float64 under ``jax_enable_x64``.

    Raises
    ------
    TypeError
        ``k`` or ``nu`` not an int (bool and float included); ``t`` not real.
    ValueError
        ``k`` or ``nu`` negative; ``t`` not 1-D, with NaN or inf, decreasing,
        shorter than ``2k + 2``, or with an empty base interval; unknown
        ``extrapolate`` or ``backend``. Also ``TypeError`` when
        differentiating with respect to traced knots (not supported; never
        silently zero).
    RuntimeError
        When traced with the callback backend in a process whose JAX has
        no CPU device for the host call (``JAX_PLATFORMS=cuda``): list
        ``cpu`` too, or use ``backend="jax"``.
    NotImplementedError
        When traced with the callback backend for ``jax.export`` with a
        symbolic number of points (a host callback cannot be exported; the
        jax backend can).

    Notes
    -----
    The B-splines satisfy the Cox-de Boor recurrence, and their derivative

    .. math:: B'_{i,k}(x) = k \\left(\\frac{B_{i,k-1}(x)}{t_{i+k} - t_i}
              - \\frac{B_{i+1,k-1}(x)}{t_{i+k+1} - t_{i+1}}\\right)

    is again a (lower-degree) basis, which is what the host computes for
    ``nu > 0``. Runtime problems never raise inside the traced computation:
    under NUTS a NaN potential is a rejected proposal, an exception would
    end the run.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> import bspline_callback as bc
    >>> t = [0, 0, 0, 0, 0.25, 1, 1, 1, 1]
    >>> B = jax.jit(lambda x: bc.design_matrix(x, t, 3))(jnp.array([0.1, 0.5]))
    >>> B.shape
    (2, 5)
    >>> float(B.sum(axis=-1)[0])  # partition of unity
    1.0
    """
    return _basis_or_traced("design_matrix", x, t, k, nu, extrapolate, backend=backend)


def b_spline_basis(
    knots: Any, order: int, deriv: int, x: Any, *, backend: str = "callback"
) -> jax.Array:
    """Drop-in for the question's ``b_spline_basis(knots, order, deriv, x)``.

    The ``deriv``-th derivative (with respect to ``x``) of scipy's
    ``BSpline.design_matrix(x, knots, order)`` with its first column removed,
    now usable under ``jit``, ``vmap`` and ``grad`` of any order.

    Parameters
    ----------
    knots : array_like, shape (nt,)
        Knots, as for :func:`design_matrix` ``t``.
    order : int
        Spline degree (scipy's ``k``; the question calls it order).
    deriv : int
        Derivative order, ``>= 0``; ``deriv > order`` gives zeros.
    x : array_like, any shape
        Evaluation points inside ``[knots[order], knots[-order - 1]]``;
        points outside (or NaN) give NaN rows instead of the ``ValueError``
        scipy raises, so that a traced model never raises.
    backend : {"callback", "jax"}, default "callback"
        As for :func:`design_matrix` (keyword only; the question's four
        positional arguments are unchanged).

    Returns
    -------
    jax.Array, shape (*x.shape, nt - order - 2)

    Raises
    ------
    TypeError, ValueError, RuntimeError, NotImplementedError
        As :func:`design_matrix`, naming ``knots``, ``order`` and ``deriv``.
    """
    full = _basis_or_traced(
        "b_spline_basis",
        x,
        knots,
        order,
        deriv,
        False,
        backend=backend,
        t_name="knots",
        k_name="order",
        nu_name="deriv",
    )
    return full[..., 1:]


def bspline(
    x: Any,
    t: Any,
    c: Any,
    k: int,
    *,
    nu: int = 0,
    extrapolate: bool | str = False,
    backend: str = "callback",
) -> jax.Array:
    """Spline value ``design_matrix(x, t, k, nu=nu) @ c``.

    Differentiable in ``x`` (any order) and in the coefficients ``c`` (the
    usual numpyro case: ``c`` are model parameters).

    Parameters
    ----------
    x : array_like, any shape
    t : array_like, shape (nt,)
    c : array_like, shape (n_basis, *trailing)
        Coefficients, ``n_basis = nt - k - 1``; concrete or traced.
    k : int
    nu : int, default 0
    extrapolate : bool or {"periodic", "linear", "constant"}, default False
    backend : {"callback", "jax"}, default "callback"
        As for :func:`design_matrix`.

    Returns
    -------
    jax.Array, shape (*x.shape, *trailing)
        NaN on the rows the NaN policy makes NaN; their gradients (in ``x``
        and ``c``) are 0, so ``jnp.where(ok, bspline(...), 0.0)`` masks them
        with finite gradients.
        Equal to ``scipy.interpolate.BSpline(t, c, k, extrapolate)(x, nu)``.

    Raises
    ------
    ValueError
        ``c`` is a scalar or ``c.shape[0] != nt - k - 1``; and as
        :func:`design_matrix`.
    """
    call = _spec_for("bspline", t, k, nu, extrapolate, backend=backend)
    c = jnp.asarray(c)
    n_basis = call.spec.feature_shape[0]
    if c.ndim == 0 or c.shape[0] != n_basis:
        raise ValueError(
            f"bspline: `c` must have shape (n_basis, ...) with "
            f"n_basis = len(t) - k - 1 = {n_basis}, got shape {c.shape}."
        )
    if not call.spec.band:  # pragma: no cover - over 16M basis functions
        return jnp.tensordot(_dense(call, x), c, axes=([-1], [0]))
    # Only the k + 1 non-zeros per row: a gather of c, so the cost grows
    # with n * k, not with n * n_basis.
    x, out_dtype = _points(call, x)
    # The NaN rows are evaluated at a safe point and made NaN at the end, so
    # a caller who masks them (jnp.where) gets finite gradients in x and c.
    bad, x = _safe_points(call, x)
    vals, start = _band(call, x)
    # One gather per point of a row of k + 1 consecutive coefficients (a
    # small (n_basis, ..., k + 1) table of c's windows, built per call),
    # where k + 1 gathers of c would each be a pass over the points.
    band = jnp.arange(n_basis)[:, None] + jnp.arange(len(vals))
    windows = jnp.moveaxis(take_clipped(c, band), 1, -1)  # (n_basis, ..., k + 1)
    rows = take_clipped(windows, start)  # (*x.shape, *c.shape[1:], k + 1)
    # Elementwise products over the points, not an einsum over the band (a
    # slow library call on XLA's CPU backend); c's trailing axes kept.
    lead = (...,) + (None,) * (c.ndim - 1)
    res = sum(v[lead] * rows[..., j] for j, v in enumerate(vals))
    # A select last: XLA's CPU backend would otherwise pull the products
    # into the caller's reduction (docs/design.md).
    res = jnp.where(jnp.asarray(bad)[lead], jnp.nan, res)
    return res if out_dtype is None else res.astype(out_dtype)


def _safe_points(call: _Call, x: Any) -> tuple[Any, Any]:
    """The rows the NaN policy makes NaN, and ``x`` with a point inside
    the base interval on those rows (numpy for concrete input, so that it
    stays on the eager host path)."""
    concrete = not _is_traced(x) and not call.ops
    xp = np if concrete else jnp
    x = _as_jax_float(x) if concrete else jnp.asarray(x)
    lo, hi = (xp.asarray(e).astype(x.dtype) for e in call.ends)
    if call.extrapolate is False:
        # With the end rule, comparing with the ends rounded to x's dtype
        # is exact.
        bad = ~((x >= lo) & (x <= hi))
    else:
        bad = ~xp.isfinite(x)
    return bad, xp.where(bad, lo, x)


def _band(call: _Call, x: Any) -> tuple[tuple, jax.Array]:
    """Banded level ``call.nu`` at prepared points: ``band`` arrays of x's
    shape (NaN rows NaN, at every level) and the first column as int32 (0
    on NaN rows)."""
    vals, first = evaluate_banded(call.spec, x, call.nu, call.ops)
    return vals, jnp.where(jnp.isnan(first), 0, first).astype(jnp.int32)


def design_matrix_compact(
    x: Any,
    t: Any,
    k: int,
    *,
    nu: int = 0,
    extrapolate: bool | str = False,
    backend: str = "callback",
) -> tuple[jax.Array, jax.Array]:
    """The ``k + 1`` possibly non-zero entries of each row of the basis.

    What ``scipy.interpolate.BSpline.design_matrix`` stores per row of its
    CSR matrix, without the ``(n, n_basis)`` zeros: for large bases the
    cost and the transfer grow with ``n * k``, not ``n * n_basis``.
    ``design_matrix(x, t, k, nu=nu)[..., first + j] == values[..., j]``,
    and every other column is zero.

    Parameters
    ----------
    x, t, k, nu, extrapolate, backend
        As for :func:`design_matrix`.

    Returns
    -------
    values : jax.Array, shape (*x.shape, k + 1)
        ``values[..., j]`` is the ``nu``-th derivative of B-spline
        ``first + j`` at ``x``; dtype ``jnp.result_type(float, x.dtype)``.
        Differentiable in ``x`` to any order (d/dx of level ``nu`` is level
        ``nu + 1`` at the same ``first``). Rows where the NaN policy applies
        are NaN, and so are their derivatives.
    first : jax.Array, shape (*x.shape,), int32
        Column of ``values[..., 0]``, in ``0 .. n_basis - k - 1``;
        piecewise constant in ``x`` (no derivative); 0 on NaN rows.

    Raises
    ------
    TypeError, ValueError, RuntimeError, NotImplementedError
        As :func:`design_matrix`, naming ``design_matrix_compact``; also
        ``ValueError`` for more than ``2**24`` basis functions with the
        callback backend (the column would not be exact in float32).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> import bspline_callback as bc
    >>> values, first = bc.design_matrix_compact(
    ...     jnp.array([0.1, 0.9]), [0, 0, 0, 0, 0.5, 1, 1, 1, 1], 3
    ... )
    >>> values.shape, first.tolist()
    ((2, 4), [0, 1])
    """
    func = "design_matrix_compact"
    call = _spec_for(func, t, k, nu, extrapolate, backend=backend)
    if not call.spec.band:  # pragma: no cover - over 16M basis functions
        raise ValueError(
            f"{func}: the compact form needs fewer than 2**24 basis "
            f"functions, got {call.spec.feature_shape[0]}; use design_matrix."
        )
    x, out_dtype = _points(call, x)
    vals, first = _band(call, x)
    values = jnp.stack(vals, axis=-1)
    return (values if out_dtype is None else values.astype(out_dtype)), first
