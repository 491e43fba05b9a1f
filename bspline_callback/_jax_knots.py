"""The knots as the jax backend reads them, prepared once per knot vector.

Every point is carried as its span ``i`` and its offset ``u = x - t[i]``,
and every knot the recurrence needs as its offset ``t[i + d] - t[i]``,
computed from the float64 knots: float32 points keep their accuracy when
the knots are far from zero compared with their spacing, and every compare
of a point with a knot is exact (a float64 knot is split into two floats of
x's dtype). The offsets and the reciprocals of the knot differences are
per-span constants (``knot_table``): one gathered row per point feeds the
whole recurrence, which is then products and sums only, the form XLA's CPU
backend fuses into few passes (docs/design.md).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "KnotArrays",
    "ConcreteKnots",
    "at_or_above",
    "at_or_below",
    "span",
    "take_clipped",
    "traced_knots",
]


def at_or_below(t, t_lo, x):
    """``t <= x`` exactly for the knot ``t + t_lo`` (a float64 value split
    into two floats of x's dtype; ``t_lo`` None when ``t`` is exact)."""
    if t_lo is None:
        return t <= x
    return (t < x) | ((t == x) & (t_lo <= 0))


def at_or_above(t, t_lo, x):
    """``t >= x`` exactly (see ``_at_or_below``)."""
    if t_lo is None:
        return t >= x
    return (t > x) | ((t == x) & (t_lo >= 0))


def _end_spans(t, k):
    """First and last non-empty spans of the base interval ``[t[k], t[n]]``:
    every span index is clipped to them (scipy's rule, which also picks the
    end spans for extrapolation). numpy for concrete knots."""
    n = t.shape[0] - k - 1
    xp = np if isinstance(t, np.ndarray) else jnp
    lo = xp.sum(t <= t[k]) - 1
    hi = xp.sum(t < t[n]) - 1
    return xp.minimum(lo, n - 1), xp.maximum(hi, k)


def _split(values, dtype):
    """float64 ``values`` as ``hi + lo`` in ``dtype`` (``lo`` None when the
    dtype is float64: ``hi`` is then exact)."""
    hi = values.astype(dtype)
    if np.dtype(dtype) == np.float64:
        return hi, None
    return hi, (values - hi.astype(np.float64)).astype(dtype)


def knot_table(t, k, xp=jnp):
    """Per-span constants of the recurrence, one row per knot index ``i``.

    Columns ``0 .. 2k - 1``: the offsets ``t[i + d] - t[i]`` for ``d = -k +
    1 .. k`` (indices clipped to the array); then, for ``j = 1 .. k`` and
    ``m = 1 .. j``, the reciprocal ``1 / (t[i + m] - t[i + m - j])``, 0 for
    an empty span (where scipy's ``_deBoor_D`` skips the term); last, ``i -
    k`` as a float. ``xp`` is numpy (float64, concrete knots: rounded to x's
    dtype afterwards, so every entry is one rounding of its exact value) or
    ``jax.numpy`` (traced knots).
    """
    nt = t.shape[0]
    idx = xp.arange(nt)
    knots = [t[xp.clip(idx + d, 0, nt - 1)] for d in range(-k + 1, k + 1)]
    cols = [a - t for a in knots]
    for j in range(1, k + 1):
        for m in range(1, j + 1):
            diff = knots[m + k - 1] - knots[m - j + k - 1]
            pos = diff > 0
            cols.append(xp.where(pos, 1 / xp.where(pos, diff, 1), 0))
    cols.append((idx - k).astype(t.dtype))
    return xp.stack(cols, axis=-1)


@dataclasses.dataclass(frozen=True)
class KnotArrays:
    """What ``_jax_backend.band_levels`` reads of the knots, in x's dtype.

    ``s``/``s_lo`` are the knots the points are searched among (the knots,
    or for periodic wrapping their offsets from ``t[k]``), split as in
    ``_split``; ``table`` is ``knot_table(s)`` plus two columns, ``s[i]``
    split, from which ``u = x - s[i]`` is formed; ``ends`` holds ``t[k]``
    and ``t[n]`` split (``(hi, lo)`` pairs, ``lo`` 0 where exact).
    """

    s: jax.Array
    s_lo: jax.Array | None
    table: jax.Array
    lo_span: jax.Array | int
    hi_span: jax.Array | int
    hi_u: jax.Array  # t[n] - s[hi_span]: u of a point at the upper end
    ends: tuple
    period: jax.Array | None
    bad: jax.Array | bool = False  # traced knots: invalid ones give NaN rows
    bins: SpanBins | None = None
    inner: range | None = None  # concrete knots: the ones that can move a span


@dataclasses.dataclass(frozen=True, eq=False)
class ConcreteKnots:
    """Concrete float64 knots, prepared once for ``_jax_backend.band_levels``.

    Everything here depends on the knots only; ``arrays(dtype)`` rounds it
    to x's dtype at trace time (cached, so the constants are built once).
    """

    t: np.ndarray
    k: int
    periodic: bool

    @functools.cached_property
    def _float64(self):
        t, k = self.t, self.k
        n = t.shape[0] - k - 1
        s = t - t[k] if self.periodic else t
        lo_span, hi_span = (int(v) for v in _end_spans(s, k))
        with np.errstate(over="ignore"):  # tiny gaps: see _clamp_reciprocals
            table = knot_table(s, k, np)
        return s, table, lo_span, hi_span, SpanBins.build(s, k, lo_span, hi_span), n

    @functools.cached_property
    def _by_dtype(self) -> dict:
        return {}

    def arrays(self, dtype) -> KnotArrays:
        """The knots in ``dtype``, built on first use (idempotent: threads
        that race build equal values)."""
        dtype = np.dtype(dtype)
        if dtype not in self._by_dtype:
            self._by_dtype[dtype] = self._arrays(dtype)
        return self._by_dtype[dtype]

    def _arrays(self, dtype) -> KnotArrays:
        t, k = self.t, self.k
        s, table, lo_span, hi_span, bins, n = self._float64
        s_hi, s_lo = _split(s, dtype)
        ref_lo = np.zeros_like(s_hi) if s_lo is None else s_lo
        with np.errstate(over="ignore"):
            reciprocals = _clamp_reciprocals(table.astype(dtype), 2 * k)
        full = np.concatenate([reciprocals, s_hi[:, None], ref_lo[:, None]], axis=1)
        ends = tuple(_pair(t[j], dtype) for j in (k, n))
        return KnotArrays(
            s=s_hi,
            s_lo=s_lo,
            table=full,
            lo_span=lo_span,
            hi_span=hi_span,
            hi_u=np.asarray(s[n] - s[hi_span], dtype),
            ends=ends,
            period=np.asarray(t[n] - t[k], dtype) if self.periodic else None,
            bins=bins,
            inner=range(lo_span + 1, hi_span + 1),
        )


def _pair(value, dtype):
    """A float64 scalar as ``(hi, lo)`` numpy scalars of ``dtype``."""
    hi = np.asarray(value, dtype)
    return hi, np.asarray(value - np.float64(hi), dtype)


def _clamp_reciprocals(table, start):
    """Reciprocals of knot gaps too small for the dtype overflow to inf, and
    ``0 * inf`` is NaN where scipy's division gives 0: the largest finite
    value keeps those products 0. Columns ``start .. -2`` of a
    ``knot_table``."""
    if isinstance(table, np.ndarray):
        table = table.copy()
        table[:, start:-1] = np.minimum(table[:, start:-1], np.finfo(table.dtype).max)
        return table
    return table.at[:, start:-1].min(jnp.finfo(table.dtype).max)


def traced_knots(t, k, periodic) -> KnotArrays:
    """``KnotArrays`` of traced knots ``t`` (already in x's dtype)."""
    n = t.shape[0] - k - 1
    s = t - t[k] if periodic else t
    lo_span, hi_span = _end_spans(s, k)
    table = _clamp_reciprocals(knot_table(s, k), 2 * k)
    zero = jnp.zeros_like(s)
    table = jnp.concatenate([table, s[:, None], zero[:, None]], axis=1)
    zero0 = jnp.zeros((), t.dtype)
    return KnotArrays(
        s=s,
        s_lo=None,
        table=table,
        lo_span=lo_span,
        hi_span=hi_span,
        hi_u=s[n] - s[hi_span],
        ends=((t[k], zero0), (t[n], zero0)),
        period=(t[n] - t[k]) if periodic else None,
        bad=_bad_knots(t, k, n),
    )


@dataclasses.dataclass(frozen=True, eq=False)
class SpanBins:
    """A span search for concrete knots in O(1) per point.

    The base interval is cut into ``m`` equal bins. A point in bin ``b``
    starts from ``base[b]``, the span of bin ``b - 1``'s left edge, and
    counts the next ``steps`` knots at or below it: the spans between bin
    ``b - 1``'s left edge and bin ``b + 1``'s right edge are all within
    reach, so an error of one bin in ``b`` never matters, and the compares
    are exact (``_at_or_below``).
    """

    lo_edge: float
    width: float
    base: np.ndarray  # (m,) int32
    steps: int

    @classmethod
    def build(cls, t, k, lo=None, hi=None, max_steps=3):
        """The ``SpanBins`` of float64 knots ``t``, or None when some bin
        would need more than ``max_steps`` knot compares (knots far from
        uniform: the caller then searches otherwise).

        The fewest compares win (XLA's CPU backend repeats the search once
        per gathered table column), then the fewest bins: 1 compare with up
        to 16 bins per span (uniform knots need 4), else 2, else 3.
        """
        n = t.shape[0] - k - 1
        if lo is None:
            lo, hi = (int(v) for v in _end_spans(t, k))
        a, b = t[k], t[n]
        n_spans = int(hi - lo + 1)
        if n_spans <= 17:
            return None  # a compare with each of the 16 inner knots is cheaper
        best = None
        for m in (n_spans, 2 * n_spans, 4 * n_spans, 16 * n_spans):
            edges = a + (b - a) * np.arange(m + 1) / m
            span = np.clip(np.searchsorted(t, edges, side="right") - 1, lo, hi)
            bins = np.arange(m)
            base = span[np.maximum(bins - 1, 0)]
            steps = int(np.max(span[np.minimum(bins + 2, m)] - base))
            if steps <= max_steps and (best is None or max(steps, 1) < best[0]):
                best = (
                    max(steps, 1),
                    cls(a, (b - a) / m, base.astype(np.int32), steps),
                )
        return None if best is None else best[1]

    def __call__(self, x, t, t_lo):
        m = self.base.shape[0]
        edge_hi, edge_lo = _pair(self.lo_edge, x.dtype)
        # x - lo_edge from the float64 edge: bins stay right far from zero.
        q = ((x - edge_hi) - edge_lo) / jnp.asarray(self.width, x.dtype)
        b = jnp.clip(jnp.floor(q), 0, m - 1).astype(jnp.int32)  # NaN: bad rows
        i = take_clipped(jnp.asarray(self.base), b)
        count = i
        for s in range(1, self.steps + 1):
            knot_lo = None if t_lo is None else take_clipped(t_lo, i + s)
            below = at_or_below(take_clipped(t, i + s), knot_lo, x)
            count = count + below.astype(jnp.int32)
        return count


def _binary_search(x, t, t_lo):
    """Index of the last knot at or below ``x`` (-1 if none), with exact
    compares: a bisection over the (sorted) knots, unrolled."""
    lo = jnp.zeros(x.shape, jnp.int32)
    hi = jnp.full(x.shape, t.shape[0], jnp.int32)
    for _ in range(int(np.ceil(np.log2(t.shape[0] + 1)))):
        mid = (lo + hi) // 2
        knot_lo = None if t_lo is None else take_clipped(t_lo, mid)
        below = at_or_below(take_clipped(t, mid), knot_lo, x) & (mid < hi)
        lo = jnp.where(below, mid + 1, lo)
        hi = jnp.where(below, hi, mid)
    return lo - 1


def span(x, kn: KnotArrays):
    """Index ``i`` of the knot span for each ``x`` (int32, ``x``'s shape),
    every compare exact (``_at_or_below``)."""
    t, t_lo = kn.s, kn.s_lo
    if kn.inner is not None:
        # Concrete knots: only the knots strictly inside the end spans can
        # move i, so count those.
        inner, start = kn.inner, kn.lo_span
    else:
        inner, start = range(t.shape[0]), -1
    if kn.bins is not None:
        i = kn.bins(x, t, t_lo)  # O(1): a bin and a few compares
    elif len(inner) <= 64:
        # One compare-and-add per knot: elementwise work that XLA fuses.
        i = jnp.full(x.shape, start, jnp.int32)
        for j in inner:
            tj_lo = None if t_lo is None else t_lo[j]
            i = i + at_or_below(t[j], tj_lo, x).astype(jnp.int32)
    else:
        i = _binary_search(x, t, t_lo)
    return jnp.clip(i, kn.lo_span, kn.hi_span)


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


def _bad_knots(t, k, n):
    """Scalar: traced ``t`` is unusable (not finite, decreasing, an empty
    base interval, or a basis function with empty support)."""
    ok = jnp.all(jnp.isfinite(t)) & jnp.all(jnp.diff(t) >= 0) & (t[k] < t[n])
    return ~(ok & jnp.all(t[k + 1 :] > t[: -k - 1]))
