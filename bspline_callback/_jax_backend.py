"""``backend="jax"``: the B-spline band in pure ``jax.numpy``, no host.

A level source for the ladder (``_sources.JaxLevels``), with the levels
computed by XLA instead of scipy:

1. span search: ``i`` with ``t[i] <= x < t[i + 1]``, clipped to the first
   and last non-empty spans of the base interval (scipy's rule; the clip
   also picks the end spans for extrapolation);
2. de Boor's triangular recurrence (scipy's ``_deBoor_D``, de Boor's
   BSPLVB) for the ``p + 1`` non-zero B-splines of every degree
   ``p = 0 .. k`` at that span;
3. level ``nu``: the degree ``k - nu`` values raised ``nu`` times with the
   derivative recurrence, as on the host (``_scipy_host``).

The knots are read as ``_jax_knots`` prepares them (offsets from each
span's left knot, from the float64 knots). The loops are over the degree
only, never over points or columns.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from ._jax_knots import (
    ConcreteKnots,
    KnotArrays,
    at_or_above,
    at_or_below,
    span,
    take_clipped,
    traced_knots,
)
from ._sources import JaxLevels

__all__ = ["band_source", "take_clipped"]


class _Row:
    """The knot-table row of each point's span (see ``knot_table``)."""

    def __init__(self, table, i, k):
        self.rows = take_clipped(table, i)  # (*x.shape, n_columns)
        self.i, self.k = i, k
        # Row indices are exact in the float column below 2**mantissa.
        self.exact = table.shape[0] < 2 ** jnp.finfo(table.dtype).nmant

    def rel(self, d):
        """``t[i + d] - t[i]``, ``d = -k + 1 .. k``."""
        return self.rows[..., d + self.k - 1]

    def first(self):
        """``i - k`` (int32): read back from the gathered row, because XLA
        would otherwise recompute the span search inside every consumer."""
        if not self.exact:  # pragma: no cover - over 8M knots in float32
            return self.i - self.k
        return self.rows[..., -3].astype(jnp.int32)

    def inv(self, j, m):
        """``1 / (t[i + m] - t[i + m - j])`` (0 on an empty span)."""
        return self.rows[..., 2 * self.k + j * (j - 1) // 2 + m - 1]

    def offset(self, x):
        """``x - t[i]``, from the knot's float64 value."""
        return (x - self.rows[..., -2]) - self.rows[..., -1]


def _de_boor(u, row, p_max):
    """Non-zero B-splines of every degree at each point's span.

    scipy's ``_deBoor_D`` (de Boor's BSPLVB), with ``t[i + d] - x`` written
    as ``rel(d) - u`` and its divisions read from the table as reciprocals.
    Returns a list, entry ``p`` (``0 .. p_max``) a list of ``p + 1`` arrays:
    the values of ``B_{i-p, p} .. B_{i, p}``.
    """
    h = [jnp.ones_like(u)]
    out = [h]
    for j in range(1, p_max + 1):
        prev, h = h, [None] * (j + 1)
        acc = jnp.zeros_like(u)
        for m in range(1, j + 1):
            w = prev[m - 1] * row.inv(j, m)
            h[m - 1] = acc + w * (row.rel(m) - u)
            acc = w * (u - row.rel(m - j))
        h[j] = acc
        out.append(h)
    return out


def _raise(vals, row, p_from, p_to):
    """Differentiate ``p_to - p_from`` times by raising the degree:
    ``d/dx B_{m,p} = a_m B_{m,p-1} - a_{m+1} B_{m+1,p-1}``, ``a_m = p /
    (t[m+p] - t[m])``."""
    for p in range(p_from + 1, p_to + 1):
        g = [p * row.inv(p, q + 1) * vals[q] for q in range(p)]
        vals = [-g[0]] + [g[q - 1] - g[q] for q in range(1, p)] + [g[p - 1]]
    return vals


def _locate(x, kn: KnotArrays, k, extrapolate):
    """Each point as ``(i, u, bad, outside)``: span, offset ``x - t[i]``,
    NaN rows, and for ``"linear"``/``"constant"`` the distance past the
    nearer end (0 inside)."""
    (lo_hi, lo_lo), (hi_hi, hi_lo) = kn.ends
    # A point equal to an end's rounding to x's dtype is that end.
    lo_end, hi_end = x == lo_hi, x == hi_hi
    outside = None
    if extrapolate == "periodic":
        # The offset from the float64 t[k] (the barrier stops XLA from
        # folding the two subtractions and rounding the correction away).
        offset = jax.lax.optimization_barrier(x - lo_hi) - lo_lo
        z = jnp.mod(jnp.where(lo_end | hi_end, 0, offset), kn.period)
        bad = ~jnp.isfinite(z)
        force_lo = force_hi = None
    else:
        z = x
        below = ~(at_or_below(lo_hi, lo_lo, x) | lo_end | jnp.isnan(x))
        above = ~(at_or_above(hi_hi, hi_lo, x) | hi_end | jnp.isnan(x))
        if extrapolate is False:
            bad = below | above | jnp.isnan(x)
        else:
            bad = ~jnp.isfinite(x)
        force_lo, force_hi = lo_end | bad, hi_end
        if extrapolate in ("linear", "constant"):
            force_lo, force_hi = force_lo | below, force_hi | above
            d_lo = (x - lo_hi) - lo_lo
            d_hi = (x - hi_hi) - hi_lo
            past = (below | above) & ~bad
            outside = (jnp.where(below, d_lo, d_hi), past)
    bad = bad | kn.bad
    z_safe = jnp.where(bad, kn.s[k], z)  # keeps the recurrence finite
    i = span(z_safe, kn)
    if force_lo is not None:
        i = jnp.where(force_lo, kn.lo_span, jnp.where(force_hi, kn.hi_span, i))
    return z_safe, i, bad, force_lo, force_hi, outside


def band_levels(x, kn: KnotArrays, *, k, nus, extrapolate):
    """The band of levels ``nus`` at ``x`` (float32 or float64), in the
    ladder's form: per level a tuple of ``k + 1`` arrays of ``x``'s shape
    (column ``first + j``), and ``aux = (first,)`` as a float, NaN on NaN
    rows (every level is NaN there too)."""
    z, i, bad, force_lo, force_hi, outside = _locate(x, kn, k, extrapolate)
    row = _Row(jnp.asarray(kn.table, x.dtype), i, k)
    u = row.offset(z)
    if force_lo is not None:
        # The end rule: u exactly 0 at t[k] (t[lo_span] == t[k]), and
        # t[n] - t[hi_span] at t[n].
        u = jnp.where(force_lo, 0, jnp.where(force_hi, kn.hi_u, u))
    need = set(nus)
    if extrapolate == "linear" and 0 in need:
        need.add(1)
    by_degree = _de_boor(u, row, max(k - min(need), 0))
    computed = {}
    for nu in sorted(need):
        if nu > k:
            computed[nu] = [jnp.zeros_like(x)] * (k + 1)
        else:
            computed[nu] = _raise(by_degree[k - nu], row, k - nu, k)
    levels = [_continue(computed, nu, extrapolate, outside) for nu in nus]
    # A select, not a product with a NaN mask: XLA's CPU backend folds
    # products into a consumer's reduction and stops at a select.
    out = tuple(tuple(jnp.where(bad, jnp.nan, v) for v in lv) for lv in levels)
    return out, (jnp.where(bad, jnp.nan, row.first().astype(x.dtype)),)


def band_source(knots, k, extrapolate, name, op_grad_error) -> JaxLevels:
    """The band of degree ``k`` as a level source: ``knots`` float64 (closed
    over, prepared once) or an int, the number of traced knots (then the
    knots are the source's operand)."""
    periodic = extrapolate == "periodic"
    concrete = None if isinstance(knots, int) else ConcreteKnots(knots, k, periodic)

    # jit: one compiled computation per shape when called eagerly; inlined
    # under an outer jit.
    @functools.partial(jax.jit, static_argnames=("orders",))
    def fn(x, *ops, orders):
        if concrete is None:
            kn = traced_knots(jnp.asarray(ops[0], x.dtype), k, periodic)
        else:
            kn = concrete.arrays(x.dtype)
        nus = tuple(o for (o,) in orders)
        return band_levels(x, kn, k=k, nus=nus, extrapolate=extrapolate)

    return JaxLevels(fn, name=name, op_grad_error=op_grad_error)


def _continue(computed, nu, extrapolate, outside):
    """Level ``nu`` with ``"linear"``/``"constant"`` past the ends: the
    Taylor polynomial of degree 1 or 0 at the nearer end (its own
    derivatives are the next levels: slope, then 0)."""
    vals = computed[nu]
    if outside is None:
        return vals
    delta, past = outside
    if extrapolate == "linear" and nu == 0:
        delta = jnp.where(past, delta, 0)
        return [v + delta * d for v, d in zip(vals, computed[1], strict=True)]
    if (extrapolate == "linear" and nu >= 2) or (extrapolate == "constant" and nu >= 1):
        return [jnp.where(past, 0, v) for v in vals]
    return vals
