"""Tensor-product B-splines in N dimensions: ``design_matrix_nd``, ``bspline_nd``.

Basis function ``(i_1, ..., i_d)`` is ``B_{i_1}(x_1) ... B_{i_d}(x_d)``,
columns in C order (scipy's flattening of ``c[i_1, ..., i_d]``). A point's
non-zero functions are the products of its ``k_i + 1`` per-axis band
values: the N-D band.

- callback backend: one level source with ``ndim = d`` (one host call per
  differentiation level: the ladder asks for the orders and their
  neighbours ``o + e_i`` at once): scipy's per-axis bands of every level
  those orders need, multiplied out in XLA by the source's unpacking;
- jax backend: the tensor product of the per-axis 1-D bands in JAX, each
  axis on its own 1-D ladder; no host call.

Each axis keeps the 1-D rules: the NaN policy (a point outside in any
coordinate gives a NaN row), the end rule, the extrapolation modes.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero

from . import _callback_backend
from ._band import dense_from_band, expand_band
from ._basis import BSplineBasis, _cached, dense_spline
from ._checks import (
    check_backend,
    check_extrapolate,
    check_knots,
    check_order,
    check_orders,
    check_points_ndim,
    check_real_points,
)
from ._jax_knots import take_clipped
from ._ladder import evaluate, is_traced, ladder, steps
from ._points import float_dtype as _float_dtype, prepare, report_outside, safe_points

__all__ = ["bspline_nd", "design_matrix_nd"]

#: Tensor products of up to this many basis functions take the gradient in
#: ``c`` through dense per-axis rows (matrix products); larger ones through
#: the transpose of the window gather (docs/performance.md).
DENSE_C_MAX = 1600


def _axes(func, t, k, extrapolate, backend):
    """Validate; the per-axis bases (cached) and the N-D sources."""
    extrapolate = check_extrapolate(func, extrapolate)
    backend = check_backend(func, backend)
    if is_traced(t):
        raise TypeError(f"{func}: the knots `t` must be concrete for N-D splines.")
    if not isinstance(t, (tuple, list)) or len(t) == 0:
        raise TypeError(
            f"{func}: `t` must be a tuple of d 1-D knot vectors (one per "
            f"coordinate), got {type(t).__name__}."
        )
    d = len(t)
    if isinstance(k, (tuple, list)):
        if len(k) != d:
            raise ValueError(f"{func}: `k` has {len(k)} degrees for {d} knot vectors.")
        ks = tuple(check_order(func, v, f"k[{i}]") for i, v in enumerate(k))
    else:
        ks = (check_order(func, k, "k"),) * d
    knots = tuple(
        check_knots(func, ti, ki, t_name=f"t[{i}]", k_name=f"k[{i}]").tobytes()
        for i, (ti, ki) in enumerate(zip(t, ks, strict=True))
    )
    return _tensor(knots, ks, extrapolate, backend)


@functools.lru_cache(maxsize=128)
def _tensor(knots, ks, extrapolate, backend):
    bases = tuple(
        _cached(t, k, extrapolate, backend) for t, k in zip(knots, ks, strict=True)
    )
    sources = None
    if backend == "callback":
        axes = tuple((b.t, b.k, extrapolate) for b in bases)
        sources = _callback_backend.nd_sources(axes, "design_matrix_nd")
    return _Tensor(bases, sources, extrapolate, backend)


class _Tensor:
    """The per-axis bases of a tensor product, and its N-D level sources
    (callback backend)."""

    def __init__(self, bases: tuple[BSplineBasis, ...], sources, extrapolate, backend):
        self.bases, self.sources = bases, sources
        self.extrapolate, self.backend = extrapolate, backend
        self.d = len(bases)
        self.sizes = tuple(b.n_basis for b in bases)
        self.windows = tuple(b.k + 1 for b in bases)

    def points(self, func, x):
        """``x`` per axis, ready: ``(columns, out_dtype)``."""
        check_real_points(func, x)
        x = jnp.asarray(x) if is_traced(x) else np.asarray(x)
        check_points_ndim(func, x.shape, self.d)
        cols, out_dtype = [], None
        ends = [b._levels.ends for b in self.bases]
        for i, end in enumerate(ends):
            xi, out_dtype = prepare(
                func, x[..., i], end, self.extrapolate, False, report=False
            )
            cols.append(xi)
        if self.extrapolate is False:
            # One report for all coordinates: a point outside in several
            # counts once.
            traced = is_traced(x)
            columns = [x[..., i] for i in range(self.d)]
            report_outside(func, columns, ends, _float_dtype(x, traced))
        return cols, out_dtype

    def band(self, cols, nu):
        """The N-D band at prepared points: ``(values, first)``.

        ``values``: on the callback backend the ``prod(k_i + 1)`` products
        of the per-axis band values (C order) as separate arrays of the
        points' shape; on the jax backend, per axis, its ``k_i + 1`` band
        values (multiplied out by ``_contract``). ``first``: the first
        column per axis ``(..., d)`` int32 (0 on NaN rows)."""
        if self.backend == "callback":
            values, (first,) = evaluate(self.sources[0], _stacked(cols), nu)
            products = [values[..., j] for j in range(values.shape[-1])]
        else:
            products, firsts = [], []
            for b, c, o in zip(self.bases, cols, nu, strict=True):
                vals, first = b._levels._band(c, o)
                products.append(tuple(vals))  # per axis: multiplied out later
                firsts.append(first)
            first = jnp.stack(firsts, axis=-1)
        return products, _column_index(first)

    def rows(self, c, first):
        """Each point's window of ``c``: ``(..., prod(k_i + 1), *trailing)``,
        C order, for first columns ``first`` ``(..., d)``.

        With more points than windows, row ``p`` of a table holds the
        coefficients of the window whose first functions are
        ``np.unravel_index(p, n_i - k_i)``: one gather of a row per point,
        where a gather per window entry would each be a pass over the
        points. With fewer, each point's entries are gathered from ``c``
        itself, so that the cost (and the gradient's scatter-add) scales
        with the points, not with ``prod(n_i - k_i)`` windows."""
        starts = tuple(n - w + 1 for n, w in zip(self.sizes, self.windows, strict=True))
        strides = [math.prod(self.sizes[i + 1 :]) for i in range(self.d)]  # c's
        offsets = np.meshgrid(*[np.arange(w) for w in self.windows], indexing="ij")
        window = sum(o.reshape(-1) * s for o, s in zip(offsets, strides, strict=True))
        flat_c = c.reshape((-1,) + c.shape[self.d :])
        n_points = math.prod(first.shape[:-1])
        if isinstance(n_points, int) and n_points < math.prod(starts):
            base = sum(first[..., i] * s for i, s in enumerate(strides))
            return take_clipped(flat_c, base[..., None] + window)
        grids = np.meshgrid(*[np.arange(s) for s in starts], indexing="ij")
        corners = sum(g.reshape(-1, 1) * s for g, s in zip(grids, strides, strict=True))
        table = jnp.take(flat_c, corners + window, axis=0)
        table_strides = [math.prod(starts[i + 1 :]) for i in range(self.d)]
        index = sum(first[..., i] * s for i, s in enumerate(table_strides))
        return take_clipped(table, index)

    def dense(self, cols, nu):
        if self.backend == "callback":
            return evaluate(self.sources[1], _stacked(cols), nu)[0]
        out = None
        for b, c, o in zip(self.bases, cols, nu, strict=True):
            rows = dense_from_band(*b._levels._band(c, o), b.n_basis)
            if out is not None:
                rows = (out[..., :, None] * rows[..., None, :]).reshape(
                    rows.shape[:-1] + (-1,)
                )
            out = rows
        return out


def _empty(cols, trailing, out_dtype):
    """The result for no points: its shape is static, and nothing to compute."""
    dtype = out_dtype or jnp.result_type(float, cols[0].dtype)
    return jnp.zeros(cols[0].shape + tuple(trailing), dtype)


def _stacked(cols):
    """The prepared per-axis points as one ``(..., d)`` array (numpy while
    all are concrete, which keeps them on the eager route)."""
    if any(is_traced(c) for c in cols):
        return jnp.stack([jnp.asarray(c) for c in cols], axis=-1)
    return np.stack([np.asarray(c) for c in cols], axis=-1)


def _column_index(first):
    """Float first columns (NaN on NaN rows) as int32 indices, 0 there."""
    return jnp.where(jnp.isnan(first), 0, first).astype(jnp.int32)


def _windowed(c, products, first, tensor):
    """``sum_j products[j] * c[window_j]``: one gather per point of its
    window (``_Tensor.rows``), then :func:`_windowed_rows`."""
    return _windowed_rows(tensor.rows(c, first), products, c.ndim - tensor.d)


def _windowed_rows(rows, products, trailing):
    """``sum_j products[j] * rows[..., j, *trailing]`` as elementwise
    products over the points (a reduction over the small window axis is a
    slow library call on XLA's CPU backend)."""
    lead = (...,) + (None,) * trailing
    points = (slice(None),) * (rows.ndim - 1 - trailing)
    return sum(p[lead] * rows[points + (j,)] for j, p in enumerate(products))


def _windowed_t(c, window, first, tensor):
    """``_windowed`` as a reduction over the window ``(..., prod(k_i + 1))``
    (the products stacked): for tangents in ``c``, whose transpose is then
    one product per point and window entry (the sum of slices transposes
    into a chain of padded adds)."""
    lead = (...,) + (None,) * (c.ndim - tensor.d)
    return jnp.sum(window[lead] * tensor.rows(c, first), axis=first.ndim - 1)


@functools.partial(jax.custom_jvp, nondiff_argnums=(3,))
def _gathered(c, products, first, tensor):
    """``_windowed``, with ``_windowed_t`` for the tangent in ``c``."""
    return _windowed(c, products, first, tensor)


@functools.partial(_gathered.defjvp, symbolic_zeros=True)
def _gathered_jvp(tensor, primals, tangents):
    c, products, first = primals
    c_dot, products_dot, _ = tangents
    out = _windowed(c, products, first, tensor)
    terms = []
    if not all(isinstance(p, SymbolicZero) for p in products_dot):
        dots = [
            jnp.zeros_like(p) if isinstance(d, SymbolicZero) else d
            for p, d in zip(products, products_dot, strict=True)
        ]
        terms.append(_windowed(c, dots, first, tensor))
    if not isinstance(c_dot, SymbolicZero):
        terms.append(_windowed_t(c_dot, jnp.stack(products, -1), first, tensor))
    return out, sum(terms) if terms else jnp.zeros_like(out)


def _host_levels(tensor, orders, x):
    """The N-D band's levels ``orders`` at traced points ``(..., d)``: flat
    windows ``(..., prod(k_i + 1))`` per order, and the first columns."""
    levels, (first,) = ladder(tensor.sources[0], orders, x, ())
    return levels, _column_index(first)


def _level_sums(c, levels, first, tensor):
    """Per level, the sum over its window of values times ``c``'s window
    (``(..., *trailing)`` each), from one gather of the windows."""
    rows, trailing = tensor.rows(c, first), c.ndim - tensor.d
    return [
        _windowed_rows(rows, [v[..., j] for j in range(v.shape[-1])], trailing)
        for v in levels
    ]


@functools.partial(jax.custom_jvp, nondiff_argnums=(0, 1))
def _host_spline(tensor, nu, c, x):
    """The callback backend's spline of level ``nu`` at traced points.

    Its derivative rule works on the spline, not on the basis: the
    derivative in ``x_i`` is the spline of level ``nu + e_i`` (contracted
    with ``c`` on the primal side, so the gradient in ``x`` is a product per
    point), fetched in the same host call; the tangent in ``c`` is linear.
    """
    levels, first = _host_levels(tensor, (nu,), x)
    return _level_sums(c, levels, first, tensor)[0]


@functools.partial(_host_spline.defjvp, symbolic_zeros=True)
def _host_spline_jvp(tensor, nu, primals, tangents):
    c, x = primals
    c_dot, x_dot = tangents
    trailing = c.ndim - tensor.d
    up = [] if isinstance(x_dot, SymbolicZero) else steps(nu, tensor.d)
    levels, first = _host_levels(tensor, (nu, *up), x)
    out, *slopes = _level_sums(c, levels, first, tensor)
    terms = [
        slopes[i] * x_dot[..., i].reshape(x_dot.shape[:-1] + (1,) * trailing)
        for i in range(len(up))
    ]
    if not isinstance(c_dot, SymbolicZero):
        terms.append(_windowed_t(c_dot, levels[0], first, tensor))
    return out, sum(terms) if terms else jnp.zeros_like(out)


def _products(vals):
    """Per-axis band values multiplied out, C order: ``prod(k_i + 1)`` arrays."""
    products = [None]
    for axis in vals:
        products = [v if p is None else p * v for p in products for v in axis]
    return products


@functools.partial(jax.custom_jvp, nondiff_argnums=(3,))
def _contract(c, vals, first, tensor):
    """The spline from the per-axis bands ``vals`` (a tuple per axis of its
    ``k_i + 1`` arrays): ``_windowed`` of their products.

    Linear in ``c``; its derivative rule writes the tangent in ``c`` through
    the dense per-axis rows, whose transpose (the gradient in ``c``) is one
    matrix product per axis where the gather's transpose would be a
    scatter-add of every point's window.
    """
    return _windowed(c, _products(vals), first, tensor)


def _contract_jvp(tensor, primals, tangents):
    c, vals, first = primals
    c_dot, vals_dot, _ = tangents
    rows, trailing = tensor.rows(c, first), c.ndim - tensor.d

    def combine(products):
        return _windowed_rows(rows, products, trailing)

    out = combine(_products(vals))
    terms = []
    for i, v_dot in enumerate(vals_dot):
        if not all(isinstance(v, SymbolicZero) for v in v_dot):
            # The product rule: axis i's band replaced by its tangent.
            v_dot = tuple(
                jnp.zeros_like(v) if isinstance(d, SymbolicZero) else d
                for v, d in zip(vals[i], v_dot, strict=True)
            )
            terms.append(combine(_products(vals[:i] + (v_dot,) + vals[i + 1 :])))
    if not isinstance(c_dot, SymbolicZero) and math.prod(tensor.sizes) > DENSE_C_MAX:
        window = jnp.stack(_products(vals), axis=-1)
        terms.append(_windowed_t(c_dot, window, first, tensor))
    elif not isinstance(c_dot, SymbolicZero):
        dense = [
            expand_band(v, first[..., i], None, n)
            for i, (v, n) in enumerate(zip(vals, tensor.sizes, strict=True))
        ]
        terms.append(_dense_contract(c_dot, dense))
    return out, sum(terms) if terms else jnp.zeros_like(out)


_contract.defjvp(_contract_jvp, symbolic_zeros=True)


def _dense_contract(c, rows):
    """``sum_{i_1..i_d} c[i_1, .., i_d, ...] rows_1[.., i_1] ... rows_d[.., i_d]``
    by a matrix product with the first axis' rows, then the others."""
    lead = rows[0].shape[:-1]
    m = math.prod(lead)
    flat = [r.reshape(m, r.shape[-1]) for r in rows]
    out = jnp.tensordot(flat[0], c, axes=(1, 0))  # (m, n_2, .., n_d, *trailing)
    for r in flat[1:]:
        out = (out * r.reshape(r.shape + (1,) * (out.ndim - 2))).sum(axis=1)
    return out.reshape(lead + c.shape[len(rows) :])


def design_matrix_nd(
    x: Any,
    t: Any,
    k: Any,
    *,
    nu: Any = 0,
    extrapolate: bool | str = False,
    backend: str = "callback",
) -> jax.Array:
    """The tensor-product B-spline basis (or a partial derivative) at ``x``.

    Equal to ``scipy.interpolate.NdBSpline(t, c, k, extrapolate)(x, nu)``
    with ``c`` each unit coefficient array in turn: column ``j`` is basis
    function ``np.unravel_index(j, (n_1, ..., n_d))`` (C order).

    Parameters
    ----------
    x : array_like, shape (..., d), real dtype
        Points, concrete or traced.
    t : tuple of d array_like
        Knot vectors, concrete, each as for :func:`design_matrix`.
    k : int or tuple of d ints
        Degrees.
    nu : int or tuple of d ints, default 0
        Partial derivative order in each coordinate (an int: the same in
        each).
    extrapolate : bool or {"periodic", "linear", "constant"}, default False
        As for :func:`design_matrix`, per coordinate: a point outside in any
        coordinate gives a NaN row without extrapolation.
    backend : {"callback", "jax"}, default "callback"
        As for :func:`design_matrix`.

    Returns
    -------
    jax.Array, shape (..., n_1 * ... * n_d)
        ``n_i = len(t[i]) - k_i - 1``; dtype ``jnp.result_type(float, x)``.
        Differentiable in ``x`` to any order: ``d/dx_i`` of level ``nu`` is
        level ``nu + e_i`` (one host call per differentiation level on the
        callback backend).

    Raises
    ------
    TypeError, ValueError
        As :func:`design_matrix` for each axis (naming ``t[i]``, ``k[i]``),
        and for ``x`` not of shape ``(..., d)``, ``k`` or ``nu`` of the wrong
        length, or knots that are not a tuple of 1-D vectors.
    """
    func = "design_matrix_nd"
    tensor = _axes(func, t, k, extrapolate, backend)
    order = check_orders(func, nu, tensor.d, "nu")
    cols, out_dtype = tensor.points(func, x)
    if cols[0].size == 0:
        return _empty(cols, (math.prod(tensor.sizes),), out_dtype)
    out = tensor.dense(cols, order)
    return out if out_dtype is None else out.astype(out_dtype)


def bspline_nd(
    x: Any,
    t: Any,
    c: Any,
    k: Any,
    *,
    nu: Any = 0,
    extrapolate: bool | str = False,
    backend: str = "callback",
) -> jax.Array:
    """The tensor-product spline with coefficients ``c`` at ``x``.

    ``NdBSpline(t, c, k, extrapolate)(x, nu)``. At traced points it is
    computed from the ``prod(k_i + 1)`` non-zero basis functions per point
    (a gather of a window of ``c``), never from the dense basis; at
    observed (concrete) points of up to ``1e6`` basis entries, points times
    functions (``2.5e6`` from three dimensions on), as the dense basis,
    built once, times ``c``: a matrix product, faster there
    (``benchmarks/fixed_points.py``). Differentiable in ``x`` (any order)
    and in ``c``.

    Parameters
    ----------
    x, t, k, nu, extrapolate, backend
        As for :func:`design_matrix_nd`.
    c : array_like, shape (n_1, ..., n_d, *trailing)
        Coefficients, concrete or traced.

    Returns
    -------
    jax.Array, shape (*x.shape[:-1], *trailing)
        NaN rows where the NaN policy applies; their gradients are 0, so a
        ``jnp.where`` over them masks cleanly.

    Raises
    ------
    ValueError
        ``c``'s leading shape is not ``(n_1, ..., n_d)``; and as
        :func:`design_matrix_nd`.
    """
    func = "bspline_nd"
    tensor = _axes(func, t, k, extrapolate, backend)
    order = check_orders(func, nu, tensor.d, "nu")
    c = jnp.asarray(c)
    if c.shape[: tensor.d] != tensor.sizes:
        raise ValueError(
            f"{func}: `c` must have shape {tensor.sizes} + trailing (the number "
            f"of basis functions per axis), got shape {c.shape}."
        )
    cols, out_dtype = tensor.points(func, x)
    if cols[0].size == 0:
        return _empty(cols, c.shape[tensor.d :], out_dtype)
    safe = [
        safe_points(col, b._levels.ends, tensor.extrapolate, False)
        for col, b in zip(cols, tensor.bases, strict=True)
    ]
    points = [s[1] for s in safe]
    xp = jnp if is_traced(points) else np
    bad = functools.reduce(xp.logical_or, [xp.asarray(s[0]) for s in safe])
    trailing = c.ndim - tensor.d
    n_basis = math.prod(tensor.sizes)
    if xp is np and dense_spline(bad.size, n_basis, tensor.d):
        with jax.ensure_compile_time_eval():  # a constant, built once
            B = tensor.dense(points, order)
        res = jnp.tensordot(B, c.reshape((n_basis,) + c.shape[tensor.d :]), axes=1)
        if not bad.any():  # concrete: no select where every point is inside
            return res if out_dtype is None else res.astype(out_dtype)
    elif tensor.backend == "callback" and is_traced(points):
        res = _host_spline(tensor, order, c, jnp.stack(points, axis=-1))
    else:
        values, first = tensor.band(points, order)
        contract = _contract if tensor.backend == "jax" else _gathered
        res = contract(c, tuple(values), first, tensor)
    res = jnp.where(jnp.asarray(bad).reshape(bad.shape + (1,) * trailing), jnp.nan, res)
    return res if out_dtype is None else res.astype(out_dtype)
