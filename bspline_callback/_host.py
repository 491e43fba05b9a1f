"""Host-side numpy/scipy code: everything that runs inside a callback.

Nothing here imports JAX. Every function is row-wise in ``x`` (row ``i`` of
the result depends on ``x[i]`` only) and never raises for runtime input: bad
points and bad knots become NaN rows, because an exception raised inside a
``pure_callback`` aborts the whole traced computation (a NUTS run, say).
"""

from __future__ import annotations

import functools

import numpy as np
from scipy.interpolate import BSpline

try:  # scipy >= 1.15 (tested: 1.15 - 1.17): the compiled routine behind
    # ``BSpline.design_matrix``, without the CSR packaging around it.
    from scipy.interpolate._dierckx import data_matrix as _dierckx_data_matrix
except ImportError:  # pragma: no cover - depends on the installed scipy
    _dierckx_data_matrix = None


def _find_evaluate_spline():
    """scipy's compiled ``BSpline.__call__`` routine as ``f(t, c, k, x, nu,
    extrapolate) -> (len(x), c.shape[1])``, or None.

    Private, and its signature changed: scipy 1.15 writes into a 7th
    argument ``out``, 1.16 and 1.17 return the result. Each form is tried on
    a tiny problem once, at import; tests check the result against the
    public route.
    """
    try:
        from scipy.interpolate._dierckx import evaluate_spline
    except ImportError:  # pragma: no cover - depends on the installed scipy
        return None
    t, c, x = np.array([0.0, 0.0, 1.0, 1.0]), np.eye(2), np.array([0.25])
    try:
        if np.allclose(evaluate_spline(t, c, 1, x, 0, False), [[0.75, 0.25]]):
            return evaluate_spline
    except TypeError:  # pragma: no cover - scipy 1.15
        pass

    def with_out(t, c, k, x, nu, extrapolate):  # pragma: no cover - scipy 1.15
        out = np.empty((x.shape[0], c.shape[1]))
        evaluate_spline(t, c, k, x, nu, extrapolate, out)
        return out

    try:  # pragma: no cover - scipy 1.15
        if np.allclose(with_out(t, c, 1, x, 0, False), [[0.75, 0.25]]):
            return with_out
    except TypeError:  # pragma: no cover
        pass
    return None  # pragma: no cover


_dierckx_evaluate_spline = _find_evaluate_spline()

__all__ = [
    "MAX_BANDED_BASIS",
    "HostBasis",
    "bad_knots",
    "compact_basis",
    "dense_basis",
    "dense_basis_levels",
]


def _data_matrix_public(x, t, k, extrapolate):
    """The ``k + 1`` non-zero B-splines per row through scipy's public API."""
    csr = BSpline.design_matrix(x, t, k, extrapolate=extrapolate)
    # design_matrix builds the CSR arrays row by row with exactly k + 1 stored
    # entries (explicit zeros kept), so the data reshapes to (n, k + 1).
    return csr.data.reshape(len(x), k + 1), csr.indices[:: k + 1].astype(np.intp)


def _data_matrix(x, t, k, extrapolate, *, use_private=True):
    """Values ``(n, k + 1)`` and first column index ``(n,)`` of the design matrix.

    ``x`` must be float64, finite and inside the base interval unless
    ``extrapolate`` is true (the caller guarantees that).
    """
    if use_private and _dierckx_data_matrix is not None:
        vals, offsets, _ = _dierckx_data_matrix(
            x, t, k, np.ones(x.shape[0]), bool(extrapolate)
        )
        return vals, offsets.astype(np.intp, copy=False)
    return _data_matrix_public(x, t, k, bool(extrapolate))


def bad_knots(t, k):
    """Whether ``t`` is unusable as a knot vector for degree ``k``.

    Used for traced knots, which cannot be validated before tracing: instead
    of raising inside a callback, the basis becomes NaN.
    """
    n = t.shape[0] - k - 1
    return bool(
        t.ndim != 1
        or n < k + 1
        or not np.all(np.isfinite(t))
        or np.any(np.diff(t) < 0)
        or not t[k] < t[n]
        or np.any(t[k + 1 :] <= t[: -k - 1])
    )


def _slopes(t, k):
    """The derivative recurrence's knot factors, per degree.

    ``slopes[p][i] = p / (t[i + p] - t[i])`` (0 where the span is empty,
    i.e. repeated knots) for ``p = 1 .. k``; ``slopes[0]`` is empty.
    """
    out = [np.zeros(0)]
    for p in range(1, k + 1):
        span = t[p:] - t[:-p]
        with np.errstate(over="ignore"):
            a = np.divide(p, span, out=np.zeros_like(span), where=span != 0)
        # A gap so small that p / gap overflows: the largest finite value
        # keeps 0 * a at 0, as scipy's division by the gap does.
        out.append(np.minimum(a, np.finfo(np.float64).max))
    return tuple(out)


def _slope_tables(slopes):
    """Per-degree tables of ``_slopes``, one row per first non-zero B-spline.

    ``tables[p][i, j] = slopes[p][i + j]``: row ``i`` holds the ``p``
    factors a row whose first non-zero is B-spline ``i`` needs, so raising
    the degree gathers one contiguous row per point. They depend on the
    knots only and are built once per basis.
    """
    tables = [np.zeros((0, 0))]
    for p, a in enumerate(slopes[1:], start=1):
        windows = np.arange(a.shape[0] - p + 1)[:, None] + np.arange(p)
        tables.append(a[windows])
    return tuple(tables)


def _raise_matrix(a):
    """``R`` with ``(B @ R)[:, j] = a[j-1] B[:, j-1] - a[j] B[:, j]``: one
    raising step (``_raise_derivative``) as spline coefficients, shape
    ``(len(a), len(a) + 1)``."""
    m = a.shape[0]
    r = np.zeros((m, m + 1))
    r[np.arange(m), np.arange(m)] = -a
    r[np.arange(m), np.arange(1, m + 1)] = a
    r.flags.writeable = False
    return r


@functools.lru_cache(maxsize=32)
def _raise_coefficients(slopes):
    """``_raise_matrix`` of the float64 slopes given as bytes, shared and
    bounded (32 matrices of at most 256 x 257 floats: 17 MB)."""
    return _raise_matrix(np.frombuffer(slopes))


@functools.lru_cache(maxsize=16)
def _identity(m):
    """A read-only ``eye(m)``, shared: the coefficients of the small route
    for values (16 of at most 256 x 256 floats: 8 MB)."""
    eye = np.eye(m)
    eye.flags.writeable = False
    return eye


def _raise_derivative(vals, first, tables, p_from, p_to):
    """Differentiate ``p_to - p_from`` times by raising the degree.

    ``vals`` holds, per row, the non-zero B-splines of degree ``p_from`` with
    indices ``first .. first + p_from``. Each step applies

        d/dx B_{i,p} = a_i B_{i,p-1} - a_{i+1} B_{i+1,p-1},
        a_i = p / (t[i+p] - t[i])  (0 where the span is empty),

    so starting from degree ``k - nu`` gives the ``nu``-th derivative of the
    degree-``k`` basis. Each step is one gather of a table row per point,
    one product and one difference: the loop is over the degree (at most
    ``k`` steps), never over points or columns.
    """
    n_rows = vals.shape[0]
    for p in range(p_from + 1, p_to + 1):
        with np.errstate(over="ignore", invalid="ignore"):  # tiny knot gaps
            g = vals * tables[p][first]  # g[:, j] = a[first+j] B_{first+j, p-1}
        new = np.empty((n_rows, p + 1))
        # Not np.negative(..., out=new[:, 0]): numpy (seen with 2.3.5 and
        # 2.4.6 on x86_64) writes wrong values when the input's stride is 64
        # bytes (float64) and the output is strided, i.e. here at p = 8.
        new[:, 0] = -g[:, 0]
        np.subtract(g[:, :-1], g[:, 1:], out=new[:, 1:p])
        new[:, p] = g[:, -1]
        vals, first = new, first - 1
    return vals, first


def _snap_ends(x, lo, hi, dtype):
    """The end rule: a point equal to an end's rounding to ``dtype`` (the
    dtype ``x`` had in JAX) is that end."""
    lo_r, hi_r = _rounded(lo, dtype), _rounded(hi, dtype)
    if lo_r != lo:
        x = np.where(x == lo_r, lo, x)
    if hi_r != hi:
        x = np.where(x == hi_r, hi, x)
    return x


@functools.lru_cache(maxsize=1024)
def _rounded(value, dtype):
    return float(np.asarray(value, dtype=dtype))


def _prepare_x(x, lo, hi, extrapolate, dtype):
    """Map ``x`` into evaluable points.

    Returns ``(x_eval, bad, past)``: the points to evaluate at, the NaN rows
    (or None), and for ``"linear"``/``"constant"`` the rows past an end with
    their distance from it (``(rows, delta)``, or None). ``x`` is 1-D
    float64. The common case, every point inside, is decided by two
    reductions (NaN fails both compares): this runs on every call.
    """
    if x.shape[0] == 0:
        return x, None, None
    low, high = x.min(), x.max()
    lo_r, hi_r = _rounded(lo, dtype), _rounded(hi, dtype)
    if (
        lo <= low
        and high <= hi
        and not (low == lo_r != lo or high == hi_r != hi)  # no end to snap
        and not (extrapolate == "periodic" and high == hi)  # hi wraps to lo
    ):
        return x, None, None
    x = _snap_ends(x, lo, hi, dtype)
    past = None
    with np.errstate(invalid="ignore"):
        if extrapolate == "periodic":
            x = lo + np.mod(x - lo, hi - lo)  # NaN and inf map to NaN
        if extrapolate is False:
            bad = ~((x >= lo) & (x <= hi))  # NaN compares False: bad too
        else:
            bad = ~np.isfinite(x)
        if extrapolate in ("linear", "constant"):
            rows = np.flatnonzero(~bad & ((x < lo) | (x > hi)))
            if rows.size:
                ends = np.where(x[rows] < lo, lo, hi)
                past = (rows, x[rows] - ends)
                x = x.copy()
                x[rows] = ends
    if not bad.any():
        return x, None, past
    # Safe stand-in for the bad rows so the compiled routine sees valid input.
    return np.where(bad, lo, x), bad, past


class HostBasis:
    """The basis of degree ``k`` on valid knots ``t``, evaluated on the host.

    Everything that depends on the knots only (trimmed knot vectors, the
    derivative recurrence's factors) is computed once here; the evaluation
    methods keep no state, so one instance may serve concurrent callbacks.

    Parameters
    ----------
    t : ndarray, shape (nt,), float64
        Valid knots (validated by the caller).
    k : int
        Degree, ``>= 0``.
    extrapolate : bool or "periodic"
    use_private : bool
        Use scipy's private compiled ``data_matrix`` when it exists (the
        public ``BSpline.design_matrix`` route otherwise); tests compare both.
    """

    __slots__ = (
        "t",
        "k",
        "n_basis",
        "extrapolate",
        "_lo",
        "_hi",
        "_tables",
        "_dense_slopes",
        "_trimmed",
        "_raise_keys",
        "_use_private",
    )

    def __init__(self, t, k, extrapolate=False, *, use_private=True):
        self.t = np.ascontiguousarray(t, dtype=np.float64)
        self.k = k
        self.n_basis = self.t.shape[0] - k - 1
        self.extrapolate = extrapolate
        self._lo, self._hi = self.t[k], self.t[self.n_basis]
        slopes = _slopes(self.t, k)
        self._tables = _slope_tables(slopes)
        # Dense raising (``_levels_small``): the degree p - 1 columns are
        # B-splines k - p + 1 .. n_basis - 1 of the full knot vector.
        self._dense_slopes = tuple(
            a[k - p + 1 : self.n_basis] for p, a in enumerate(slopes)
        )
        # B_{j, k-nu}(t[nu:-nu]) == B_{j+nu, k-nu}(t): the knots whose
        # degree k - nu basis ``_compact`` and ``_levels_small`` raise.
        nt = self.t.shape[0]
        self._trimmed = tuple(self.t[nu : nt - nu] for nu in range(k + 1))
        self._use_private = use_private
        # Keys of the coefficients that make scipy's evaluation of the
        # degree k - nu basis apply the first raising step too
        # (``_raise_coefficients``, built on first use in a bounded shared
        # cache: a (n_basis - nu, n_basis - nu + 1) matrix per nu).
        self._raise_keys = (None,) + tuple(
            self._dense_slopes[k - nu + 1].tobytes() for nu in range(1, k + 1)
        )

    def _prepare(self, x, dtype):
        return _prepare_x(x, self._lo, self._hi, self.extrapolate, np.dtype(dtype))

    def _dm(self, x, t, p):
        extrap = self.extrapolate is True
        return _data_matrix(x, t, p, extrap, use_private=self._use_private)

    def _compact(self, x_eval, nu):
        """Band of level ``nu`` at points already mapped by ``_prepare_x``."""
        t, k = self.t, self.k
        if nu > k:
            # Derivatives past the degree vanish; keep the span bookkeeping
            # of the value basis so that ``first`` is still meaningful.
            _, first = self._dm(x_eval, t, k)
            return np.zeros((x_eval.shape[0], k + 1)), first
        if nu == 0:
            return self._dm(x_eval, t, k)
        # Degree k - nu B-splines on t trimmed by nu knots at each end have
        # the same base interval and spans as degree k on t.
        low, first = self._dm(x_eval, self._trimmed[nu], k - nu)
        return _raise_derivative(low, first + nu, self._tables, k - nu, k)

    def _band_level(self, x_eval, past, nu):
        """``_compact`` with ``"linear"``/``"constant"`` applied to the rows
        past an end: the Taylor polynomial of degree 1 or 0 at that end
        (``x_eval`` holds the end there), whose derivatives are the next
        levels (the slope, then 0)."""
        vals, first = self._compact(x_eval, nu)
        if past is None:
            return vals, first
        rows, delta = past
        if nu == 0 and self.extrapolate == "linear":
            slope, _ = self._compact(x_eval[rows], 1)
            vals = np.array(vals, dtype=np.float64)  # never scipy's buffer
            vals[rows] += delta[:, None] * slope
        elif nu >= (2 if self.extrapolate == "linear" else 1):
            vals = np.array(vals, dtype=np.float64)
            vals[rows] = 0.0
        return vals, first

    def compact(self, x, nu=0, *, dtype=np.float64):
        """The ``k + 1`` possibly non-zero entries of each row of the basis.

        Parameters
        ----------
        x : array_like, shape (n,)
        nu : int, ``>= 0``
        dtype : the dtype ``x`` had in JAX (for the end rule)

        Returns
        -------
        vals : ndarray, shape (n, k + 1), float64
            ``vals[i, j]`` is the ``nu``-th derivative of B-spline
            ``first[i] + j`` at ``x[i]``. Rows where the NaN policy applies
            are NaN.
        first : ndarray, shape (n,), intp
            Index of the first of the ``k + 1`` columns.
        bad : ndarray, shape (n,), bool
            Rows that are NaN (outside the base interval without
            extrapolation, NaN or infinite ``x``).
        """
        x = np.ascontiguousarray(x, dtype=np.float64).reshape(-1)
        x_eval, bad, past = self._prepare(x, dtype)
        vals, first = self._band_level(x_eval, past, nu)
        if bad is None:
            return vals, first, np.zeros(x.shape, bool)
        vals = np.array(vals, dtype=np.float64)
        vals[bad] = np.nan
        return vals, first, bad

    def banded(self, x, nus, *, dtype=np.float64):
        """Derivative levels ``nus`` in banded form, packed in one array.

        What a traced call ships back from the host: per row the ``k + 1``
        possibly non-zero values of each level and the index of the first
        of their columns, instead of ``len(nus)`` dense ``(n, n_basis)``
        arrays; the dense rows are rebuilt on the JAX side.

        Returns
        -------
        ndarray, shape (n, len(nus) * (k + 1) + 1), ``dtype``
            Columns ``i * (k + 1) .. (i + 1) * (k + 1) - 1`` hold level
            ``nus[i]`` as in :meth:`compact`; the last column holds
            ``first`` as a float (exact: ``n_basis < 2**24``). Rows that
            the NaN policy makes all NaN are NaN throughout.
        """
        x = np.ascontiguousarray(x, dtype=np.float64).reshape(-1)
        width = self.k + 1
        out = np.empty((x.shape[0], len(nus) * width + 1), dtype)
        if x.shape[0] == 0:
            return out
        x_eval, bad, past = self._prepare(x, dtype)
        for i, nu in enumerate(nus):
            vals, first = self._band_level(x_eval, past, nu)
            out[:, i * width : (i + 1) * width] = vals
        out[:, -1] = first
        if bad is not None:
            # NaN values too, not only the marker: reverse-mode derivatives
            # reach x through the values, and must be NaN on these rows.
            out[bad] = np.nan
        return out

    def levels(self, x, nus, *, dtype=np.float64):
        """Dense derivative bases, one per ``nu`` in ``nus``, each ``(n, n_basis)``.

        Level ``nu`` equals ``BSpline(t, np.eye(n_basis), k, extrapolate)(x,
        nu)`` (NaN rows where the NaN policy applies), built from the ``k +
        1`` non-zeros per row with scipy's compiled design-matrix routine and
        written directly in ``dtype``, the dtype ``x`` had in JAX. Small
        outputs (``_small_route``) take a shorter route with the same values
        (``_levels_small``).
        """
        x = np.ascontiguousarray(x, dtype=np.float64).reshape(-1)
        n_rows, n_basis, k = x.shape[0], self.n_basis, self.k
        if n_rows == 0:
            return tuple(np.zeros((0, n_basis), dtype) for _ in nus)
        x_eval, bad, past = self._prepare(x, dtype)
        if past is None and self._small_route(n_rows, max(nus) > 0):
            out = self._levels_small(x_eval, bad, nus, dtype)
            if out is not None:
                return out
        # Flat offsets of each row's k + 1 non-zeros in the dense output.
        row_start = np.arange(0, n_rows * n_basis, n_basis)
        out = []
        for nu in nus:
            vals, first = self._band_level(x_eval, past, nu)
            dense = np.zeros((n_rows, n_basis), dtype)
            flat = dense.reshape(-1)
            base = row_start + first
            if n_rows <= _SMALL:
                # Few rows: one fancy assignment has the least overhead.
                flat[base[:, None] + np.arange(k + 1)] = vals
            else:
                # Many rows: column by column (a loop over k + 1, not over
                # points) keeps the index arrays small and the writes in order.
                for j in range(k + 1):
                    flat[base + j] = vals[:, j]
            if bad is not None:
                dense[bad] = np.nan
            out.append(dense)
        return tuple(out)

    def _small_route(self, n_rows, derivative=True):
        """Whether ``levels`` takes ``_levels_small`` for ``n_rows`` points:
        up to ``SMALL_DENSE`` output entries (``n * n_basis``), twice that
        for derivative levels of bases up to 64 functions (measured
        crossovers with the banded route: ``python benchmarks/basis.py
        --routes``). ``derivative``: some requested ``nu > 0``."""
        return self._use_private and small_route(n_rows, self.n_basis, derivative)

    def _levels_small(self, x_eval, bad, nus, dtype):
        """``levels`` for small outputs, or None (then the banded route runs).

        At a few thousand entries the banded route's dozen numpy calls cost
        more than the arithmetic, and inside a callback (a cold cache on
        XLA's callback thread) the first of them cost two to three times
        their usual time. Here scipy's compiled spline evaluation writes the
        dense rows of one level in one call: the degree ``k`` basis with
        identity coefficients, or for ``nu >= 1`` the degree ``k - nu``
        basis with the first derivative step as the coefficients
        (``_raise_matrix``). Any further derivative steps are the banded
        route's products applied to whole columns. Either way the values
        are the banded route's, bit for bit (up to the sign of zeros): the
        same products, summed in the same order, with exact zeros for the
        columns off the band.

        ``x_eval`` is 1-D float64; ``bad`` the NaN rows or None (then
        scipy's own NaN rows stand, as ``levels`` arranges). Returns a
        tuple of ``(n, n_basis)`` arrays of ``dtype``, one per ``nu``.
        """
        k, n_basis = self.k, self.n_basis
        extrap = self.extrapolate is True
        n_rows = x_eval.shape[0]
        out = []
        for nu in nus:
            if nu > k:
                out.append(np.zeros((n_rows, n_basis), dtype))
            else:
                if nu == 0:
                    coef = _identity(n_basis)
                else:
                    # The first raising step as the coefficients: column j
                    # sums a_{j-1} B_{j-1} and -a_j B_j, the same products
                    # and difference as below, so the same values.
                    coef = _raise_coefficients(self._raise_keys[nu])
                with np.errstate(over="ignore", invalid="ignore"):
                    vals = _dierckx_evaluate_spline(
                        self._trimmed[nu], coef, k - nu, x_eval, 0, extrap
                    )
                if not np.isfinite(vals).all():
                    # Overflow (far outside, or a tiny knot gap): 0 * inf in
                    # the coefficient product would put NaN where the
                    # banded route has 0.
                    return None
                # Steps after the first (nu >= 2): on dense columns.
                with np.errstate(over="ignore", invalid="ignore"):
                    vals = self._dense_steps(vals, nu, dtype)
                out.append(vals.astype(dtype, copy=False))
            if bad is not None:
                out[-1][bad] = np.nan
        return tuple(out)

    def _dense_steps(self, vals, nu, dtype):
        """Raising steps after the first for dense level ``nu`` columns.

        ``d/dx B_{m,p} = a_m B_{m,p-1} - a_{m+1} B_{m+1,p-1}``: with ``g = a
        B`` zero-padded at both ends, one difference of neighbours (the
        banded route's ``-g[0], g[j-1] - g[j], g[-1]``, up to the sign of
        zero). The last step writes the output dtype directly.
        """
        n_rows = vals.shape[0]
        for p in range(self.k - nu + 2, self.k + 1):
            g = np.zeros((n_rows, vals.shape[1] + 2))
            np.multiply(vals, self._dense_slopes[p], out=g[:, 1:-1])
            out_dtype = dtype if p == self.k else g.dtype
            out = np.empty((n_rows, g.shape[1] - 1), out_dtype)
            vals = np.subtract(g[:, :-1], g[:, 1:], out=out, casting="same_kind")
        return vals


#: ``HostBasis.levels`` evaluates through ``_levels_small`` up to this many
#: output entries (``n * n_basis``; see ``HostBasis._small_route``).
SMALL_DENSE = 8192

#: Largest basis the small route takes (its identity and raising
#: coefficients are ``n_basis**2`` floats each, in bounded caches).
SMALL_MAX_BASIS = 256


def small_route(n_rows, n_basis, derivative=True):
    """Whether dense levels of ``n_basis`` functions at ``n_rows`` points
    take ``HostBasis``'s small route (see ``HostBasis._small_route``).

    Where they do not, a dense fill costs the host more than the banded
    route's values: traced dense calls then fetch the band instead and
    expand it in XLA (``Spec.expand_band``).
    """
    if _dierckx_evaluate_spline is None or n_basis > SMALL_MAX_BASIS:
        return False
    limit = SMALL_DENSE
    if derivative and n_basis <= 64:
        limit *= 2
    return n_rows * n_basis <= limit


_SMALL = 2048

#: Largest column index a banded row can carry exactly in float32.
MAX_BANDED_BASIS = 2**24


def compact_basis(x, t, k, nu=0, extrapolate=False, *, use_private=True):
    """``HostBasis(t, k, extrapolate, use_private=...).compact(x, nu)``."""
    return HostBasis(t, k, extrapolate, use_private=use_private).compact(x, nu)


def dense_basis_levels(x, t, k, nus, extrapolate=False, *, dtype=np.float64):
    """``HostBasis(t, k, extrapolate).levels(x, nus, dtype=dtype)``."""
    return HostBasis(t, k, extrapolate).levels(x, nus, dtype=dtype)


def dense_basis(x, t, k, nu=0, extrapolate=False, *, dtype=np.float64):
    """The dense ``nu``-th derivative basis, shape ``(len(x), len(t) - k - 1)``."""
    return HostBasis(t, k, extrapolate).levels(x, (nu,), dtype=dtype)[0]
