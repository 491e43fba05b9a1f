"""``backend="callback"``: the basis from scipy on the host, as level sources.

Two sources per basis over the same ``_scipy_host`` code: dense rows
``(n, n_basis)`` per level, and the band packed in one array per call
(``len(orders) * (k + 1) + 1`` numbers per point, whatever ``n_basis``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ._scipy_host import HostBasis, TracedKnotsHost
from ._sources import HostLevels

__all__ = ["nd_sources", "sources"]


@dataclasses.dataclass(frozen=True)
class _DenseRows:
    """Row shapes of dense levels: ``(n_basis,)`` per order."""

    n_basis: int

    def __call__(self, orders):
        return ((self.n_basis,),) * len(orders)


@dataclasses.dataclass(frozen=True)
class _PackedBand:
    """Row shape of the packed band, and its unpacking into the ladder's
    form: per order ``width`` arrays (column ``first + j``), and ``aux =
    (first,)`` as a float."""

    width: int

    def __call__(self, orders):
        return ((len(orders) * self.width + 1,),)

    def unpack(self, arrays, orders):
        (packed,) = arrays
        w = self.width
        levels = tuple(
            tuple(packed[..., i * w + j] for j in range(w)) for i in range(len(orders))
        )
        return levels, (packed[..., -1],)


def sources(knots, k, extrapolate, name, op_grad_error):
    """``(band, dense)`` sources of degree ``k``: ``knots`` float64 (closed
    over; the knot-only work done once) or an int, the number of traced
    knots (then an operand in x's dtype, and the basis is built per call)."""
    if isinstance(knots, int):
        n_basis, op_ndims = knots - k - 1, (1,)
        band_fn = TracedKnotsHost(k, extrapolate, "band")
        dense_fn = TracedKnotsHost(k, extrapolate, "dense")
    else:
        basis = HostBasis(np.asarray(knots), k, extrapolate)
        n_basis, op_ndims = basis.n_basis, ()
        band_fn, dense_fn = basis.band, basis.dense
    packed = _PackedBand(k + 1)
    common = dict(
        name=name, op_ndims=op_ndims, op_grad_error=op_grad_error, checked=True
    )
    band = HostLevels(band_fn, packed, unpack=packed.unpack, **common)
    dense = HostLevels(dense_fn, _DenseRows(n_basis), **common)
    return band, dense


@dataclasses.dataclass(frozen=True, eq=False)
class _TensorHost:
    """``HostCall.fn`` for a tensor-product basis: per axis the bands of the
    levels the orders ask for. ``form`` "band": per axis its bands (laid out
    by :func:`_band_blocks`), then the first column per axis (as floats),
    multiplied out by ``_TensorShapes.unpack`` in XLA; "dense": per order
    the dense rows, C order."""

    axes: tuple  # HostBasis per coordinate
    form: str

    def __call__(self, x, orders, *, dtype):
        n, d = x.shape
        per_axis = [
            basis.band_levels(x[:, i], _axis_levels(orders, i), dtype=dtype)
            for i, basis in enumerate(self.axes)
        ]
        bad = np.zeros(n, bool)
        for _, _, b in per_axis:
            if b is not None:
                bad |= b
        firsts = np.stack([first for _, first, _ in per_axis], axis=-1)
        if self.form == "band":
            # The products are left to XLA, which fuses them into their
            # consumers: numpy's products over windows of k + 1 were half the
            # host's time, and the packed array is smaller.
            windows = tuple(basis.k + 1 for basis in self.axes)
            blocks, width = _band_blocks(orders, windows)
            out = np.empty((n, width + d), dtype)
            for i, nu, start, stop in blocks:
                out[:, start:stop] = per_axis[i][0][nu]
            out[:, width:] = firsts
            out[bad] = np.nan
            return (out,)
        values = [
            _outer([per_axis[i][0][nu] for i, nu in enumerate(o)]) for o in orders
        ]
        return tuple(self._dense(v, firsts, bad, dtype) for v in values)

    def _dense(self, values, firsts, bad, dtype):
        """The values written into zeros at their C-order columns."""
        n, d = firsts.shape
        sizes = [basis.n_basis for basis in self.axes]
        cols = np.zeros((n,) + (1,) * d, np.intp)
        for i in range(d):
            stride = int(np.prod(sizes[i + 1 :]))
            window = firsts[:, i][:, None] + np.arange(values.shape[1 + i])
            shape = (n,) + (1,) * i + (values.shape[1 + i],) + (1,) * (d - 1 - i)
            cols = cols + window.reshape(shape) * stride
        dense = np.zeros((n, int(np.prod(sizes))), dtype)
        dense[np.arange(n).reshape((n,) + (1,) * d), cols] = values
        dense[bad] = np.nan
        return dense


def _outer(bands):
    """``(n, k_1 + 1, ..., k_d + 1)``: the products of each row's bands."""
    prod = bands[0]
    for b in bands[1:]:
        prod = prod[..., None] * b.reshape(b.shape[0], *[1] * (prod.ndim - 1), -1)
    return prod


@dataclasses.dataclass(frozen=True)
class _TensorShapes:
    """Row shapes and unpacking of ``_TensorHost``'s outputs."""

    windows: tuple  # k_i + 1 per axis
    n_columns: int
    form: str

    def __call__(self, orders):
        if self.form == "dense":
            return ((self.n_columns,),) * len(orders)
        _, width = _band_blocks(orders, self.windows)
        return ((width + len(self.windows),),)

    def unpack(self, arrays, orders):
        """Per order the product of its axes' bands, flat windows (C order,
        as the contraction with ``c`` reads them)."""
        if self.form == "dense":
            return tuple(arrays), ()
        (packed,) = arrays
        blocks, width = _band_blocks(orders, self.windows)
        bands = {(i, nu): packed[..., start:stop] for i, nu, start, stop in blocks}
        lead = packed.shape[:-1]
        out = []
        for o in orders:
            prod = bands[0, o[0]]
            for i in range(1, len(o)):
                prod = (prod[..., :, None] * bands[i, o[i]][..., None, :]).reshape(
                    lead + (-1,)
                )
            out.append(prod)
        return tuple(out), (packed[..., width:],)


def _axis_levels(orders, i):
    """The derivative levels of axis ``i`` that ``orders`` ask for, sorted."""
    return sorted({o[i] for o in orders})


def _band_blocks(orders, windows):
    """The packed band's layout, shared by its writer and its reader:
    ``([(axis, level, start, stop), ...], width)``, axis by axis, each
    level's ``k_i + 1`` values in columns ``start:stop``."""
    blocks, start = [], 0
    for i, w in enumerate(windows):
        for nu in _axis_levels(orders, i):
            blocks.append((i, nu, start, start + w))
            start += w
    return blocks, start


def nd_sources(axes, name):
    """``(band, dense)`` sources of the tensor product of ``axes`` (float64
    knot vectors and degrees, one pair per coordinate)."""
    hosts = tuple(
        HostBasis(np.asarray(t), k, extrapolate) for t, k, extrapolate in axes
    )
    windows = tuple(h.k + 1 for h in hosts)
    n_columns = int(np.prod([h.n_basis for h in hosts]))
    out = []
    for form in ("band", "dense"):
        shapes = _TensorShapes(windows, n_columns, form)
        fn = _TensorHost(hosts, form)
        out.append(
            HostLevels(
                fn,
                shapes,
                name=name,
                unpack=shapes.unpack,
                ndim=len(hosts),
                checked=True,
            )
        )
    return tuple(out)
