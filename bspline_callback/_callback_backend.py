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

__all__ = ["sources"]


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
