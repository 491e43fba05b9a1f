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
strictly positive on a non-empty span: repeated knots never give 0/0. Those
differences and the knots around each span are per-span constants
(``knot_table``): one gathered row per point feeds the whole recurrence,
which is then products and sums only. That matters on XLA's CPU backend:
it fuses cheap elementwise work into a few passes, but gives every division
and every small gather a pass of its own (dozens of passes over ``x``
before). The loops are over the degree only (unrolled, ``O(k**2)``
operations on arrays of ``x``'s shape), never over points or columns.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from ._band import expand_band

__all__ = ["SpanBins", "knot_table", "native_levels", "take_clipped"]


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


def _end_spans(t, k):
    """First and last non-empty spans of the base interval ``[t[k], t[n]]``
    (``k`` and ``n - 1`` unless an end knot has multiplicity above ``k +
    1``): every span index is clipped to them (scipy's rule, which also
    picks the end spans for extrapolation). numpy for concrete knots."""
    n = t.shape[0] - k - 1
    xp = np if isinstance(t, np.ndarray) else jnp
    lo = xp.sum(t <= t[k]) - 1
    hi = xp.sum(t < t[n]) - 1
    return xp.minimum(lo, n - 1), xp.maximum(hi, k)


@dataclasses.dataclass(frozen=True, eq=False)
class SpanBins:
    """A span search for concrete knots in O(1) per point.

    The base interval is cut into ``m`` equal bins. A point in bin ``b``
    starts from ``base[b]``, the span of bin ``b - 1``'s left edge, and
    counts the next ``steps`` knots at or below it: the spans between bin
    ``b - 1``'s left edge and bin ``b + 1``'s right edge are all within
    reach, so the float rounding of ``b`` (at most one bin) never matters,
    and the compares are exact (``_at_or_below``).
    """

    lo_edge: float
    width: float
    base: np.ndarray  # (m,) int32
    steps: int

    @classmethod
    def build(cls, t, k, max_steps=3):
        """The ``SpanBins`` of float64 knots ``t``, or None when some bin
        would need more than ``max_steps`` knot compares (knots far from
        uniform: the caller then compares with every knot).

        The fewest compares win (XLA's CPU backend repeats the search once
        per gathered table column, so a compare saved is saved 13 times
        for a cubic), then the fewest bins: 1 compare with up to 16 bins
        per span (uniform knots need 4), else 2, else 3.
        """
        n = t.shape[0] - k - 1
        lo, hi = _end_spans(t, k)
        a, b = t[k], t[n]
        n_spans = int(hi - lo + 1)
        best = None
        for m in (n_spans, 2 * n_spans, 4 * n_spans, 16 * n_spans):
            edges = a + (b - a) * np.arange(m + 1) / m
            span = np.clip(np.searchsorted(t, edges, side="right") - 1, lo, hi)
            bins = np.arange(m)
            base = span[np.maximum(bins - 1, 0)]
            steps = int(np.max(span[np.minimum(bins + 2, m)] - base))
            # Fewer compares (below 1 they cost the same) beat fewer bins.
            if steps <= max_steps and (best is None or max(steps, 1) < best[0]):
                best = (
                    max(steps, 1),
                    cls(a, (b - a) / m, base.astype(np.int32), steps),
                )
        return None if best is None else best[1]

    def __call__(self, x, t, t_lo):
        m = self.base.shape[0]
        q = (x - jnp.asarray(self.lo_edge, x.dtype)) / jnp.asarray(self.width, x.dtype)
        b = jnp.clip(jnp.floor(q), 0, m - 1).astype(jnp.int32)  # NaN: bad rows
        i = take_clipped(jnp.asarray(self.base), b)
        count = i
        for s in range(1, self.steps + 1):
            knot_lo = None if t_lo is None else take_clipped(t_lo, i + s)
            below = _at_or_below(take_clipped(t, i + s), knot_lo, x)
            count = count + below.astype(jnp.int32)
        return count


def _span(x, t, t_lo, k, n, t_const=None, bins=None):
    """Index ``i`` of the knot span for each ``x`` (int32, ``x``'s shape).

    Every compare is exact (``_at_or_below``). XLA's CPU backend computes
    a cheap index inside the gather that consumes it (the knot-table row:
    once per column), so the method is picked by its cost per point.
    """
    lo, hi = _end_spans(t if t_const is None else t_const, k)
    if t_const is not None:
        # Concrete knots: only the knots strictly inside the end spans can
        # move i, so count those.
        lo, hi = int(lo), int(hi)
        inner = range(lo + 1, hi + 1)
        start = lo
    else:
        inner, start = range(t.shape[0]), -1
    if bins is not None and len(inner) > 16:
        i = bins(x, t, t_lo)  # O(1): a bin and a few compares
    elif len(inner) <= 64:
        # One compare-and-add per knot on arrays of x's shape: elementwise
        # work that XLA fuses, faster than a binary search's gathers for
        # the knot counts splines use.
        i = jnp.full(x.shape, start, jnp.int32)
        for j in inner:
            tj_lo = None if t_lo is None else t_lo[j]
            i = i + _at_or_below(t[j], tj_lo, x).astype(jnp.int32)
    else:
        # Long knot vectors without bins: binary search on the rounded
        # knots (exact ties with float32 rounding of a knot are not
        # resolved here).
        search = jax.vmap(lambda v: jnp.searchsorted(t, v, side="right"))
        i = search(x.reshape(-1)).reshape(x.shape).astype(jnp.int32) - 1
    return jnp.clip(i, lo, hi)


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


def knot_table(t, k, xp=jnp):
    """Per-span constants of the recurrence, one row per knot index ``i``.

    Columns ``0 .. 2k - 1``: the knots ``t[i - k + 1 .. i + k]`` (indices
    clipped to the array); then, for ``j = 1 .. k`` and ``m = 1 .. j``, the
    reciprocal ``1 / (t[i + m] - t[i + m - j])``, 0 for an empty span (where
    scipy's ``_deBoor_D`` skips the term). Every knot difference the
    recurrence and the derivative steps divide by is one of these, and none
    depends on ``x``: one gather of a row per point replaces ``2k`` knot
    gathers, and the elementwise work is products and sums only (XLA fuses
    those; divisions it keeps in separate passes). ``xp`` is ``numpy`` for
    concrete knots (the table is then a constant) or ``jax.numpy``.
    """
    nt = t.shape[0]
    idx = xp.arange(nt)
    cols = [t[xp.clip(idx + d, 0, nt - 1)] for d in range(-k + 1, k + 1)]
    for j in range(1, k + 1):
        for m in range(1, j + 1):
            diff = cols[m + k - 1] - cols[m - j + k - 1]
            # Knots closer than the float32 rounding can collapse a span
            # after rounding: contribute 0 there, never NaN.
            pos = diff > 0
            cols.append(xp.where(pos, 1 / xp.where(pos, diff, 1), 0))
    # Last column: the row's first non-zero B-spline, i - k, as a float.
    cols.append((idx - k).astype(t.dtype))
    return xp.stack(cols, axis=-1)


class _Row:
    """The knot-table row of each point's span (see ``knot_table``)."""

    def __init__(self, table, i, k):
        self.rows = take_clipped(table, i)  # (*x.shape, n_columns)
        self.i, self.k = i, k
        # Row indices are exact in the float column below 2**mantissa.
        self.exact = table.shape[0] < 2 ** jnp.finfo(table.dtype).nmant

    def t(self, d):
        """``t[i + d]``, ``d = -k + 1 .. k``."""
        return self.rows[..., d + self.k - 1]

    def first(self):
        """``i - k`` (int32): read back from the gathered row, because XLA
        would otherwise recompute the span search inside every consumer
        (the dense expansion: once per column)."""
        if not self.exact:  # pragma: no cover - over 8M knots in float32
            return self.i - self.k
        return self.rows[..., -1].astype(jnp.int32)

    def inv(self, j, m):
        """``1 / (t[i + m] - t[i + m - j])`` (0 on an empty span)."""
        return self.rows[..., 2 * self.k + j * (j - 1) // 2 + m - 1]


def _de_boor(x, row, p_max):
    """Non-zero B-splines of every degree at each point's span.

    scipy's ``_deBoor_D`` (de Boor's BSPLVB) with its divisions by knot
    differences read from the table as reciprocals. Returns a list, entry
    ``p`` (``0 .. p_max``) a list of ``p + 1`` arrays: the values of
    ``B_{i-p, p} .. B_{i, p}`` at ``x``.
    """
    h = [jnp.ones_like(x)]
    out = [h]
    for j in range(1, p_max + 1):
        prev, h = h, [None] * (j + 1)
        acc = jnp.zeros_like(x)
        for m in range(1, j + 1):
            w = prev[m - 1] * row.inv(j, m)
            h[m - 1] = acc + w * (row.t(m) - x)
            acc = w * (x - row.t(m - j))
        h[j] = acc
        out.append(h)
    return out


def _raise(vals, row, p_from, p_to):
    """Differentiate ``p_to - p_from`` times by raising the degree.

    ``vals`` are the ``p_from + 1`` non-zero B-splines of degree ``p_from``
    at the span ``i``; each step applies ``d/dx B_{m,p} = a_m B_{m,p-1} -
    a_{m+1} B_{m+1,p-1}``, ``a_m = p / (t[m+p] - t[m])``.
    """
    for p in range(p_from + 1, p_to + 1):
        # a_{i-p+1+q} = p / (t[i+1+q] - t[i+1+q-p]), q = 0 .. p-1.
        g = [p * row.inv(p, q + 1) * vals[q] for q in range(p)]
        vals = [-g[0]] + [g[q - 1] - g[q] for q in range(1, p)] + [g[p - 1]]
    return vals


def _bad_knots(t, k, n):
    """Scalar: ``t`` is unusable (traced knots are checked here, not eagerly)."""
    return ~(jnp.all(jnp.isfinite(t)) & jnp.all(jnp.diff(t) >= 0) & (t[k] < t[n]))


def native_levels(
    x,
    t,
    t_lo=None,
    *,
    k,
    nus,
    extrapolate,
    banded,
    table=None,
    t_const=None,
    bins=None,
):
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
    table : array, shape (nt, 2k + k(k+1)/2 + 1), x's dtype, or None
        ``knot_table(t, k)``, precomputed for concrete knots; built from
        ``t`` when None.
    t_const : numpy.ndarray, shape (nt,), float64, or None
        The knots when they are concrete: the span search then skips the
        knots that cannot move a point's span.
    bins : SpanBins or None
        A span search in O(1) per point for concrete knots.

    Returns
    -------
    (levels, aux)
        As ``_bridge._levels``: ``banded`` gives per level a tuple of
        ``k + 1`` arrays of ``x``'s shape and ``aux = (first,)`` (float,
        NaN on NaN rows); otherwise
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
    if t_const is None:
        bad = bad | _bad_knots(t, k, n)
    x_safe = jnp.where(bad, lo, x)  # keeps the recurrence finite on bad rows
    i = _span(x_safe, t, t_lo, k, n, t_const, bins)
    if table is None:
        table = knot_table(t, k)
    row = _Row(jnp.asarray(table, x.dtype), i, k)
    by_degree = _de_boor(x_safe, row, max(k - min(nus), 0))
    levels = []
    for nu in nus:
        if nu > k:
            vals = [jnp.zeros_like(x)] * (k + 1)
        else:
            vals = _raise(by_degree[k - nu], row, k - nu, k)
        levels.append(vals)
    first = row.first()
    if banded:
        # A select, not a product with a NaN mask: XLA's CPU backend folds
        # products into a consumer's reduction (a library call, slow per
        # operation: jnp.sum of the result), and stops at a select.
        # (Derivatives never pass through here: they are the next level.)
        out = tuple(tuple(jnp.where(bad, jnp.nan, v) for v in lv) for lv in levels)
        return out, (jnp.where(bad, jnp.nan, first.astype(x.dtype)),)
    # Stacked, the band is computed in one pass that writes every level's
    # k + 1 arrays, and the dense expansion reads it. XLA would instead fuse
    # the recurrence (products and sums: cheap) into the expansion,
    # recomputing it for every column; it keeps a division in its own
    # pass, so the NaN rows are applied by dividing by NaN (1 elsewhere).
    nan = jnp.where(bad, jnp.nan, 1).astype(x.dtype)
    band = jnp.stack([jnp.stack(v) for v in levels]) / nan
    return tuple(expand_band(b, first, bad, n) for b in band), ()
