"""Dense basis rows from scipy's compiled spline evaluation, one call a level.

For bases of up to ``MAX_BASIS`` functions, scipy's ``BSpline``
evaluation routine writes the dense rows of a level at once: the degree
``k`` basis with identity coefficients, or for ``nu >= 1`` the degree ``k -
nu`` basis with the first raising step as its coefficients; any further
raising steps apply to whole columns. The values are the band's written
into zeros bit for bit (the same products, summed in the same order; up to
the sign of zero). Where it applies, it is faster than writing the band
into zeros (docs/performance.md).
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["MAX_BASIS", "DenseRows"]

#: Largest basis written this way: its identity and raising coefficients are
#: ``n_basis**2`` floats each, in bounded shared caches.
MAX_BASIS = 256


def _find_evaluate_spline():
    """scipy's compiled ``BSpline.__call__`` routine as ``f(t, c, k, x, nu,
    extrapolate) -> (len(x), c.shape[1])``, or None.

    Private, and its signature differs across scipy releases: older ones
    write into a 7th argument ``out``, newer ones return the result. Each
    form is tried on a tiny problem once, at import; the tests compare the
    rows with the band's.
    """
    try:
        from scipy.interpolate._dierckx import evaluate_spline
    except ImportError:  # pragma: no cover - depends on the installed scipy
        return None
    t, c, x = np.array([0.0, 0.0, 1.0, 1.0]), np.eye(2), np.array([0.25])
    try:
        if np.allclose(evaluate_spline(t, c, 1, x, 0, False), [[0.75, 0.25]]):
            return evaluate_spline
    except TypeError:  # pragma: no cover - older scipy
        pass

    def with_out(t, c, k, x, nu, extrapolate):  # pragma: no cover - older scipy
        out = np.empty((x.shape[0], c.shape[1]))
        evaluate_spline(t, c, k, x, nu, extrapolate, out)
        return out

    try:  # pragma: no cover - older scipy
        if np.allclose(with_out(t, c, 1, x, 0, False), [[0.75, 0.25]]):
            return with_out
    except TypeError:  # pragma: no cover
        pass
    return None  # pragma: no cover


_evaluate_spline = _find_evaluate_spline()


@functools.lru_cache(maxsize=16)
def _identity(m):
    """A read-only ``eye(m)``, shared (16 of at most 256 x 256 floats)."""
    eye = np.eye(m)
    eye.flags.writeable = False
    return eye


@functools.lru_cache(maxsize=32)
def _raise_coefficients(slopes: bytes):
    """``R`` with ``(B @ R)[:, j] = a[j-1] B[:, j-1] - a[j] B[:, j]`` for the
    float64 slopes ``a`` given as bytes: one raising step as spline
    coefficients, ``(m, m + 1)``, shared (32 of at most 256 x 257 floats)."""
    a = np.frombuffer(slopes)
    m = a.shape[0]
    r = np.zeros((m, m + 1))
    r[np.arange(m), np.arange(m)] = -a
    r[np.arange(m), np.arange(1, m + 1)] = a
    r.flags.writeable = False
    return r


class DenseRows:
    """The dense levels of one basis by scipy's spline evaluation.

    ``slopes[p]`` are the derivative recurrence's factors ``p / (t[i + p] -
    t[i])`` over the whole knot vector; ``trimmed[nu]`` the knots trimmed by
    ``nu`` at each end. ``applies()`` says whether this route exists here.
    """

    def __init__(self, t, k, extrapolate, slopes, trimmed):
        n_basis = t.shape[0] - k - 1
        self.k, self.n_basis, self.extrapolate = k, n_basis, extrapolate is True
        self.trimmed = trimmed
        # The degree p - 1 columns are B-splines k - p + 1 .. n_basis - 1.
        self.slopes = tuple(a[k - p + 1 : n_basis] for p, a in enumerate(slopes))
        self.raise_keys = (None,) + tuple(
            self.slopes[k - nu + 1].tobytes() for nu in range(1, k + 1)
        )
        # Overflow needs points far outside or a knot gap near the float64
        # limit (a clamped slope): only then are the rows checked.
        huge = any(a.size and a.max() > 1e300 for a in slopes)
        self.may_overflow = self.extrapolate or huge

    def applies(self) -> bool:
        return _evaluate_spline is not None and self.n_basis <= MAX_BASIS

    def __call__(self, x_eval, bad, orders, dtype):
        """Levels ``orders`` at points mapped by ``prepare_points`` (``bad``:
        the NaN rows or None): a tuple of ``(n, n_basis)`` arrays of
        ``dtype``, or None where overflow (far outside, or a tiny knot gap)
        would turn ``0 * inf`` into NaN off the band: the band route then."""
        n_rows = x_eval.shape[0]
        out = []
        for (nu,) in orders:
            if nu > self.k:
                level = np.zeros((n_rows, self.n_basis), dtype)
            else:
                level = self._level(x_eval, nu, dtype)
                if level is None:
                    return None
            if bad is not None:
                level[bad] = np.nan
            out.append(level)
        return tuple(out)

    def _level(self, x_eval, nu, dtype):
        k = self.k
        coef = (
            _identity(self.n_basis)
            if nu == 0
            else _raise_coefficients(self.raise_keys[nu])
        )
        with np.errstate(over="ignore", invalid="ignore"):
            vals = _evaluate_spline(
                self.trimmed[nu], coef, k - nu, x_eval, 0, self.extrapolate
            )
            if not np.isfinite(vals).all():
                return None
            for p in range(k - nu + 2, k + 1):
                # The band's -g[0], g[j-1] - g[j], g[-1] on whole columns:
                # g = a B zero-padded at both ends, a difference of
                # neighbours; the last step writes the output dtype.
                g = np.zeros((x_eval.shape[0], vals.shape[1] + 2))
                np.multiply(vals, self.slopes[p], out=g[:, 1:-1])
                out = np.empty(
                    (g.shape[0], g.shape[1] - 1), dtype if p == k else g.dtype
                )
                vals = np.subtract(g[:, :-1], g[:, 1:], out=out, casting="same_kind")
        return vals.astype(dtype, copy=False)
