"""``differentiable_callback``: any row-wise host function on the ladder."""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np

from ._checks import check_order, check_orders, check_points_ndim, check_real_points
from ._ladder import evaluate
from ._scipy_host import snap_ends
from ._sources import HostLevels

__all__ = ["differentiable_callback", "row_function"]


def differentiable_callback(
    host_fn: Callable[[np.ndarray, Any], np.ndarray],
    *,
    feature_shape: int | Sequence[int],
    ndim: int | None = None,
) -> Callable[..., jax.Array]:
    """Make a row-wise host function jit-, vmap- and grad-able to any order.

    Parameters
    ----------
    host_fn : callable
        ``host_fn(x, nu)`` takes ``x``, a 1-D, read-only float64 numpy
        array of shape ``(n,)`` (the points as JAX holds them, in its float
        dtype), and ``nu``, a Python int ``>= 0``, and returns an array of
        shape ``(n, *feature_shape)`` (cast to JAX's float dtype). Row ``i``
        must depend on ``x[i]`` only, and ``d/dx host_fn(x, nu) ==
        host_fn(x, nu + 1)``. It runs on the host, outside JAX, so it may
        use numpy, scipy or any other Python code. It should return NaN
        rather than raise for points it cannot evaluate: an exception
        inside a callback aborts the traced computation. It must be
        thread-safe: XLA may run several calls at once (chains under
        ``pmap`` or ``vmap`` of independent computations, ``jit`` from
        several threads), each from its own thread.
    feature_shape : int or tuple of int
        Trailing shape of one row of the output.
    ndim : int, optional
        Points of ``ndim`` coordinates: ``host_fn(x, nu)`` then takes ``x``
        of shape ``(n, ndim)`` and ``nu`` a tuple of ``ndim`` ints, with
        ``d/dx_i host_fn(x, nu) == host_fn(x, nu + e_i)``, and ``f(x,
        nu=(0,) * ndim)`` takes ``x`` of shape ``(..., ndim)``. A gradient
        or a hessian is still one host call.

    Returns
    -------
    f : callable
        ``f(x, nu=0)``: ``x`` array_like of any shape and real dtype,
        concrete or traced; ``nu`` a Python int ``>= 0``. Returns the
        ``nu``-th derivative level, shape ``(*x.shape, *feature_shape)``,
        dtype ``jnp.result_type(float, x.dtype)`` (float32 by default,
        float64 under ``jax_enable_x64``). Works under ``jit``, ``vmap``
        (one batched host call) and ``grad``/``jacfwd``/``jacrev``/``hessian``
        to any order; concrete ``x`` is evaluated once on the host with no
        callback.

    Raises
    ------
    TypeError
        If ``host_fn`` is not callable, ``feature_shape`` is not an int or a
        sequence of ints, or ``nu`` is not an int (``f``).
    ValueError
        If ``feature_shape`` has a negative entry, or ``nu < 0`` (``f``).
    RuntimeError
        When ``f`` is traced in a process whose JAX has no CPU device for
        the host call (``JAX_PLATFORMS=cuda``): list ``cpu`` too.
    NotImplementedError
        When ``f`` is traced for ``jax.export`` with a symbolic shape (a
        host callback cannot be exported).

    Examples
    --------
    >>> import numpy as np, jax, jax.numpy as jnp
    >>> from scipy.interpolate import CubicSpline
    >>> import bspline_callback as bc
    >>> cs = CubicSpline(np.linspace(0, 1, 8), np.sin(np.linspace(0, 1, 8)))
    >>> f = bc.differentiable_callback(lambda x, nu: cs(x, nu), feature_shape=())
    >>> float(jax.jit(jax.grad(lambda x: f(x)))(0.3))  # about cos(0.3)
    0.955...
    """
    name = "differentiable_callback"
    if not callable(host_fn):
        raise TypeError(
            f"{name}: `host_fn` must be callable as host_fn(x, nu), "
            f"got {host_fn!r} of type {type(host_fn).__name__}."
        )
    if ndim is not None:
        ndim = check_order(name, ndim, "ndim")
        if ndim < 1:
            raise ValueError(f"{name}: `ndim` must be >= 1 or None, got {ndim}.")
    fshape = _check_feature_shape(name, feature_shape)
    return row_function(host_fn, fshape, name, ndim)


def row_function(
    host_fn: Callable, feature_shape: tuple, name: str, ndim=None, ends=None
):
    """``f(x, nu)`` for a checked ``host_fn(x, nu)``; ``ends``: the domain's
    ``(lo, hi)`` per coordinate, for the end rule (None: no domain)."""
    return RowFunction(host_fn, tuple(feature_shape), name, ndim, ends)


@dataclasses.dataclass(frozen=True)
class _RowHost:
    """``HostCall.fn`` for a user's ``host_fn(x, nu)``: one call per level."""

    host_fn: Callable
    name: str
    ndim: int | None = None
    ends: tuple | None = None  # (lo, hi) per coordinate: the end rule

    def __call__(self, x, orders, *, dtype):
        if self.ends is not None:
            cols = x.reshape(x.shape[0], -1)  # (n, d); 1-D as one column
            snapped = [
                snap_ends(cols[:, i], lo, hi, dtype)
                for i, (lo, hi) in enumerate(self.ends)
            ]
            x = np.stack(snapped, axis=-1).reshape(x.shape)
        out = []
        for order in orders:
            nu = order[0] if self.ndim is None else order
            try:
                out.append(np.asarray(self.host_fn(x, nu), dtype=dtype))
            except Exception as e:
                # Inside a callback JAX turns the exception into a
                # JaxRuntimeError whose message is this traceback; the note
                # says which call it was (once: a host function may raise
                # one stored instance again and again).
                note = f"{self.name}: raised by the host function at nu={nu}"
                if not any(n.startswith(note) for n in getattr(e, "__notes__", ())):
                    e.add_note(f"{note} for {x.shape[0]} points.")
                raise
        return tuple(out)


class RowFunction:
    """``f(x, nu=0)``: a row-wise host function on the ladder.

    One level source per instance (JAX's caches key on it); pickled as its
    host function, feature shape and name.
    """

    __slots__ = (
        "host_fn",
        "feature_shape",
        "name",
        "ndim",
        "ends",
        "_source",
        "__weakref__",
    )

    def __init__(self, host_fn, feature_shape, name, ndim=None, ends=None):
        self.host_fn, self.feature_shape, self.name = host_fn, feature_shape, name
        self.ndim, self.ends = ndim, ends
        self._source = HostLevels(
            _RowHost(host_fn, name, ndim, ends),
            lambda orders: (feature_shape,) * len(orders),
            name=name,
            ndim=ndim,
        )

    def __call__(self, x, nu=None):
        check_real_points(self.name, x)
        if self.ndim is None:
            order = (check_order(self.name, 0 if nu is None else nu, "nu"),)
        else:
            order = check_orders(self.name, 0 if nu is None else nu, self.ndim, "nu")
            check_points_ndim(self.name, np.shape(x), self.ndim)
        return evaluate(self._source, x, order)[0]

    def __reduce__(self):
        return (
            RowFunction,
            (self.host_fn, self.feature_shape, self.name, self.ndim, self.ends),
        )

    def __repr__(self):
        return f"<{self.name} function, feature_shape={self.feature_shape}>"


def _check_feature_shape(name: str, feature_shape: Any) -> tuple[int, ...]:
    if isinstance(feature_shape, (int, np.integer)) and not isinstance(
        feature_shape, (bool, np.bool_)
    ):
        feature_shape = (feature_shape,)
    try:
        fshape = tuple(operator.index(d) for d in feature_shape)
    except TypeError:
        raise TypeError(
            f"{name}: `feature_shape` must be an int or a tuple of ints "
            f"(use () for one value per point), got {feature_shape!r}."
        ) from None
    if any(d < 0 for d in fshape):
        raise ValueError(f"{name}: `feature_shape` entries must be >= 0, got {fshape}.")
    return fshape
