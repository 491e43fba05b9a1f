"""Dense basis rows from the band, with a derivative rule that stays on the band.

A B-spline basis row has ``k + 1`` consecutive non-zeros: the values
``vals[j]`` in column ``first + j``. The dense row is written by one select
per band entry over the dense shape (XLA fuses them into one pass that also
writes the zeros).

Differentiating that select chain as it stands is slow where it matters
most, in gradients: the transpose of ``where(col == first + j, v_j, ...)``
in ``v_j`` is a masked reduction over every column, ``k + 1`` of them. So
:func:`dense_from_band` carries a derivative rule of its own: its tangent
writes the band into the dense shape with one windowed ``scatter_add``,
whose transpose JAX derives as one windowed gather, ``k + 1`` consecutive
entries of each cotangent row. A gradient of ``f(design_matrix(x))`` then
reads the cotangent's band only and never builds the dense derivative
level.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

__all__ = ["dense_from_band", "expand_band"]


def expand_band(band, first, bad, n_basis):
    """Dense rows ``(*first.shape, n_basis)`` from the band.

    ``band`` ``(width, *first.shape)`` (an array or a sequence of arrays)
    holds each row's values for columns ``first .. first + width - 1``
    (``first`` int32); rows where ``bad`` (bool, or None for none) are NaN
    throughout.
    """
    offset = jnp.arange(n_basis, dtype=first.dtype) - first[..., None]
    dense = jnp.zeros((), band[0].dtype)
    for j in reversed(range(len(band))):
        dense = jnp.where(offset == j, band[j][..., None], dense)
    if bad is None:
        return dense
    return jnp.where(bad[..., None], jnp.nan, dense).astype(band[0].dtype)


def dense_from_band(vals, first, n_basis):
    """Dense rows from the band of a level, differentiable along the band.

    Parameters
    ----------
    vals : tuple of jax.Array
        ``width`` arrays of one shape ``s`` and a float dtype: column
        ``first + j`` of each row; NaN on NaN rows.
    first : jax.Array, shape ``s``, the same dtype
        The band's first column (exact integers), NaN on NaN rows;
        ``first + width <= n_basis``. Piecewise constant: no derivative.
    n_basis : int

    Returns
    -------
    jax.Array, shape ``(*s, n_basis)``, ``vals``' dtype
        Zero off the band; NaN throughout NaN rows (values, tangents and
        cotangents alike).
    """
    bad = jnp.isnan(first)
    start = jnp.where(bad, 0, first).astype(jnp.int32)
    dense = _expand(tuple(vals), start, n_basis)
    # A product, not a select: a select with a NaN constant is not linear,
    # so the NaN rows would have zero tangents; the product keeps them NaN
    # in tangents and cotangents too, as the callback path's dense rows do.
    return dense * jnp.where(bad, jnp.nan, 1).astype(dense.dtype)[..., None]


@functools.partial(jax.custom_jvp, nondiff_argnums=(2,))
def _expand(vals, start, n_basis):
    return expand_band(vals, start, None, n_basis)


@_expand.defjvp
def _expand_jvp(n_basis, primals, tangents):
    vals, start = primals
    vals_dot, _ = tangents  # start is an integer array: no tangent
    return _expand(vals, start, n_basis), _scatter_band(vals_dot, start, n_basis)


def _scatter_band(vals, start, n_basis):
    """``expand_band`` (linear in ``vals``) as one windowed scatter-add: its
    transpose is one windowed gather of ``len(vals)`` entries per row."""
    shape = start.shape
    updates = jnp.stack([jnp.reshape(v, -1) for v in vals], axis=-1)  # (m, width)
    cols = start.reshape(-1, 1)
    # Rows as a batch dimension (each row's window lands in its own row):
    # no row indices to build, and under a sharding mesh the rows stay
    # sharded as the points are.
    dims = jax.lax.ScatterDimensionNumbers(
        update_window_dims=(1,),
        inserted_window_dims=(),
        scatter_dims_to_operand_dims=(1,),
        operand_batching_dims=(0,),
        scatter_indices_batching_dims=(0,),
    )
    dense = jax.lax.scatter_add(
        jnp.zeros((cols.shape[0], n_basis), updates.dtype),
        cols,
        updates,
        dims,
        indices_are_sorted=True,
        unique_indices=True,
        mode=jax.lax.GatherScatterMode.CLIP,
    )
    return dense.reshape(shape + (n_basis,))
