"""``backend="jax"``: the B-spline basis in pure ``jax.numpy``, no host.

The same ladder as the callback path (``_bridge._levels``: the derivative of
level ``nu`` is level ``nu + 1`` times ``x_dot``), with the levels computed
by XLA instead of scipy:

1. span search: ``i`` with ``t[i] <= x < t[i + 1]``, clipped to the first
   and last non-empty spans of the base interval (scipy's rule; the clip
   also picks the end spans for extrapolation);
2. de Boor's triangular recurrence (scipy's ``_deBoor_D``, de Boor's
   BSPLVB) for the ``p + 1`` non-zero B-splines of every degree
   ``p = 0 .. k`` at that span;
3. level ``nu``: the degree ``k - nu`` values raised ``nu`` times with the
   derivative recurrence, as on the host (``_host._raise_derivative``).

Every denominator in 2 and 3 is ``t[a] - t[b]`` with ``b <= i < i + 1 <= a``,
strictly positive on a non-empty span: repeated knots never give 0/0. The
loops are over the degree only (unrolled, ``O(k**2)`` fused elementwise
operations on arrays of ``x``'s shape), never over points or columns.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["expand_band", "native_levels"]


def _at_or_below(t, t_lo, x):
    """``t <= x`` exactly for knots ``t + t_lo`` (a float64 value split into
    two floats of x's dtype) and x: with float32 x, the span search then
    agrees with scipy's float64 one even for points within a float32
    rounding of a knot."""
    if t_lo is None:
        return t <= x
    return (t < x) | ((t == x) & (t_lo <= 0))


def _at_or_above(t, t_lo, x):
    """``t >= x`` exactly (see ``_at_or_below``)."""
    if t_lo is None:
        return t >= x
    return (t > x) | ((t == x) & (t_lo >= 0))


def _span(x, t, t_lo, k, n):
    """Index ``i`` of the knot span for each ``x`` (int32, ``x``'s shape)."""
    if t.shape[0] <= 256:
        # Comparing with every knot is one fused pass, faster than a binary
        # search for the knot counts splines use, and exact (see above).
        below = _at_or_below(t, t_lo, x[..., None])
        i = jnp.sum(below, axis=-1, dtype=jnp.int32) - 1
    else:
        # Long knot vectors: binary search on the rounded knots (exact ties
        # with float32 rounding of a knot are not resolved here).
        search = jax.vmap(lambda v: jnp.searchsorted(t, v, side="right"))
        i = search(x.reshape(-1)).reshape(x.shape).astype(jnp.int32) - 1
    # First and last non-empty spans of [t[k], t[n]] (k and n - 1 unless an
    # end knot has multiplicity above k + 1).
    lo = jnp.sum(t <= t[k], dtype=jnp.int32) - 1
    hi = jnp.sum(t < t[n], dtype=jnp.int32) - 1
    return jnp.clip(i, jnp.minimum(lo, n - 1), jnp.maximum(hi, k))


def _div(a, b):
    # b > 0 on every non-empty span; knots closer than the float32 rounding
    # can collapse a span after rounding: contribute 0 there, never NaN.
    return a / jnp.where(b > 0, b, jnp.inf)


def take_clipped(table, idx):
    """``table[idx]`` along axis 0 (indices clipped), shaped ``idx.shape +
    table.shape[1:]``.

    Under an explicit-sharding mesh (``jit`` of a sharded ``x``) JAX needs
    the output sharding of a gather whose indices are sharded; it is the
    indices' sharding, the table being replicated.
    """
    sharding = jax.typeof(idx).sharding
    mesh = getattr(sharding, "mesh", None)
    if mesh is None or mesh.empty or all(s is None for s in sharding.spec):
        return jnp.take(table, idx, axis=0, mode="clip")
    spec = jax.sharding.PartitionSpec(
        *sharding.spec, *([None] * (idx.ndim - len(sharding.spec) + table.ndim - 1))
    )
    out = jax.sharding.NamedSharding(mesh, spec)
    return table.at[idx].get(mode="clip", out_sharding=out)


def _window(t, i, k):
    """``t[i + d]`` for ``d = -k + 1 .. k`` as a function of ``d``.

    One gather of the ``2k`` knots around each span serves the whole
    recurrence (``i - k + 1 >= 1`` and ``i + k <= nt - 2`` for every span
    ``_span`` returns); a gather per knot would not fuse and compiles slowly.
    """
    if k == 0:
        return lambda d: None
    # Offsets on the leading axis: each t[i + d] is a contiguous slice.
    offsets = jnp.arange(-k + 1, k + 1).reshape((2 * k,) + (1,) * i.ndim)
    win = take_clipped(t, i[None] + offsets)
    return lambda d: win[d + k - 1]


def _de_boor(x, tw, k):
    """Non-zero B-splines of every degree at the span of ``tw`` (``_window``).

    Returns a list, entry ``p`` (``0 .. k``) a list of ``p + 1`` arrays: the
    values of ``B_{i-p, p} .. B_{i, p}`` at ``x``.
    """
    right = [None] + [tw(j) - x for j in range(1, k + 1)]
    left = [None] + [x - tw(1 - j) for j in range(1, k + 1)]
    h = [jnp.ones_like(x)]
    out = [h]
    for j in range(1, k + 1):
        saved = jnp.zeros_like(x)
        new = []
        for r in range(j):
            term = _div(h[r], right[r + 1] + left[j - r])
            new.append(saved + right[r + 1] * term)
            saved = left[j - r] * term
        new.append(saved)
        h = new
        out.append(h)
    return out


def _raise(vals, tw, p_from, p_to):
    """Differentiate ``p_to - p_from`` times by raising the degree.

    ``vals`` are the ``p_from + 1`` non-zero B-splines of degree ``p_from``
    at the span ``i`` of ``tw``; each step applies ``d/dx B_{m,p} = a_m
    B_{m,p-1} - a_{m+1} B_{m+1,p-1}``, ``a_m = p / (t[m+p] - t[m])``.
    """
    for p in range(p_from + 1, p_to + 1):
        # a[q] = a_{i-p+1+q}, q = 0 .. p-1: the factors this span needs.
        a = [_div(p, tw(1 + q) - tw(1 - p + q)) for q in range(p)]
        g = [a[q] * vals[q] for q in range(p)]
        vals = [-g[0]] + [g[q - 1] - g[q] for q in range(1, p)] + [g[p - 1]]
    return vals


def _bad_knots(t, k, n):
    """Scalar: ``t`` is unusable (traced knots are checked here, not eagerly)."""
    return ~(jnp.all(jnp.isfinite(t)) & jnp.all(jnp.diff(t) >= 0) & (t[k] < t[n]))


def native_levels(x, t, t_lo=None, *, k, nus, extrapolate, banded):
    """Levels ``nus`` of the basis at ``x`` in pure JAX (see the module doc).

    Parameters
    ----------
    x : jax.Array, any shape, float dtype
    t : jax.Array, shape (nt,), x's dtype (concrete or traced)
    t_lo : jax.Array, shape (nt,), x's dtype, or None
        ``float64 knots - t`` when the knots are known in float64 but ``x``
        is float32: makes every comparison of ``x`` with a knot exact.
    k : int
    nus : tuple of int
    extrapolate : bool or "periodic"
    banded : bool

    Returns
    -------
    (levels, aux)
        As ``_bridge._levels``: ``banded`` gives per level ``(*x.shape,
        k + 1)`` and ``aux = (first,)`` (float, NaN on NaN rows); otherwise
        dense ``(*x.shape, nt - k - 1)`` levels and ``aux = ()``.
    """
    n = t.shape[0] - k - 1
    lo, hi = t[k], t[n]
    if extrapolate == "periodic":
        offset, period = x - lo, hi - lo
        if t_lo is not None:
            # Subtract the float64 lo, not its rounding: a float32 x just
            # below lo wraps to the top of the interval, as on the host.
            # (The barrier stops XLA from folding lo + t_lo[k] first, which
            # rounds the correction away.)
            offset = jax.lax.optimization_barrier(offset) - t_lo[k]
            period = period + (t_lo[n] - t_lo[k])
        x = lo + jnp.mod(offset, period)  # NaN and inf map to NaN
    if extrapolate is False:
        lo_lo, hi_lo = (None, None) if t_lo is None else (t_lo[k], t_lo[n])
        # lo <= x <= hi, exactly; NaN compares False: bad too.
        bad = ~(_at_or_below(lo, lo_lo, x) & _at_or_above(hi, hi_lo, x))
    else:
        bad = ~jnp.isfinite(x)
    bad = bad | _bad_knots(t, k, n)
    x_safe = jnp.where(bad, lo, x)  # keeps the recurrence finite on bad rows
    i = _span(x_safe, t, t_lo, k, n)
    tw = _window(t, i, k)
    by_degree = _de_boor(x_safe, tw, max(k - min(nus), 0))
    nan = jnp.where(bad, jnp.nan, 1).astype(x.dtype)[..., None]
    levels = []
    for nu in nus:
        if nu > k:
            vals = jnp.zeros(x.shape + (k + 1,), x.dtype)
        else:
            vals = jnp.stack(_raise(by_degree[k - nu], tw, k - nu, k), axis=-1)
        levels.append(vals * nan)  # NaN rows, with NaN (not zero) derivatives
    first = (i - k).astype(x.dtype)
    if banded:
        return tuple(levels), (jnp.where(bad, jnp.nan, first),)
    return tuple(expand_band(v, first, n) for v in levels), ()


def expand_band(vals, first, n_basis):
    """Dense rows ``(..., n_basis)`` from banded ones.

    ``vals`` ``(..., band)`` sits in columns ``first .. first + band - 1``
    (``first`` a float holding an integer); a row whose values are NaN is
    NaN throughout. Compares and selects over the dense shape, which XLA
    fuses into one pass that also writes the zeros.
    """
    cols = jnp.arange(n_basis, dtype=first.dtype)
    offset = cols - first[..., None]  # exact: small integers in float
    dense = jnp.where(offset == 0, vals[..., :1], 0)
    for j in range(1, vals.shape[-1]):
        dense = dense + jnp.where(offset == j, vals[..., j : j + 1], 0)
    # The selects above put a NaN row's NaN in its band only.
    row_nan = jnp.isnan(vals[..., :1])
    return jnp.where(row_nan, jnp.nan, dense).astype(vals.dtype)
