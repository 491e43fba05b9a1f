"""The two level sources: a host function through the host call, or JAX code.

Every function of the package gets its derivative levels from one of these
(``_ladder.LevelSource``): scipy on the host (the callback backend, and any
user host function through :func:`differentiable_callback`), or pure JAX
(the jax backend).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._ladder import LevelSource
from ._transport import HostCall, host_call

__all__ = ["HostLevels", "JaxLevels", "as_jax_float"]


def as_jax_float(x: Any) -> np.ndarray:
    """Concrete ``x`` as numpy in the float dtype JAX gives it: eager and
    jitted calls then see the same points (float64 input is rounded to
    float32 without x64)."""
    x = np.asarray(x)
    dtype = jnp.result_type(float, jax.dtypes.canonicalize_dtype(x.dtype))
    return x.astype(dtype, copy=False)


def _as_is(arrays: tuple, orders: tuple) -> tuple:
    return tuple(arrays), ()


@dataclasses.dataclass(frozen=True, eq=False)
class HostLevels(LevelSource):
    """Levels computed on the host by ``fn`` (see ``_transport.HostCall``).

    ``row_shapes(orders)`` gives the trailing shape of each array ``fn``
    returns for those orders; ``unpack(arrays, orders)`` turns them into
    ``(levels, aux)`` (by default, one array per order and no aux).
    Compared by identity: one instance per function, built once.
    """

    fn: Callable
    row_shapes: Callable[[tuple], tuple]
    name: str = "differentiable_callback"
    unpack: Callable[[tuple, tuple], tuple] = _as_is
    ndim: int | None = None
    op_ndims: tuple = ()
    op_grad_error: str = "this function is not differentiable in its operands."
    checked: bool = False

    def _call(self, orders: tuple, dtype: str) -> HostCall:
        return HostCall(
            self.fn,
            orders,
            dtype,
            self.row_shapes(orders),
            self.ndim,
            self.op_ndims,
            self.checked,
            self.name,
        )

    def levels(self, x, ops, orders):
        call = self._call(orders, x.dtype.name)
        points = x.shape if self.ndim is None else x.shape[:-1]
        shapes = tuple(
            jax.ShapeDtypeStruct(points + s, x.dtype) for s in call.row_shapes
        )
        return self.unpack(host_call(call, shapes, x, ops), orders)

    def concrete(self, x, ops, orders):
        x = as_jax_float(x)
        arrays = self._call(orders, x.dtype.name)(x, *ops)
        return self.unpack(tuple(jnp.asarray(a) for a in arrays), orders)


@dataclasses.dataclass(frozen=True, eq=False)
class JaxLevels(LevelSource):
    """Levels computed by JAX code: ``fn(x, *ops, orders=...) -> (levels,
    aux)``, traced into the caller's computation (no host call)."""

    fn: Callable
    name: str = "bspline_callback"
    ndim: int | None = None
    op_grad_error: str = "this function is not differentiable in its operands."

    def levels(self, x, ops, orders):
        return self.fn(x, *ops, orders=orders)
