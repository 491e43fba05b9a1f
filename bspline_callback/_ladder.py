"""The derivative ladder: one primitive, one JVP, whatever computes the levels.

A *level source* computes derivative levels of a function ``f`` of points
``x``: level ``o`` (a multi-index, one derivative order per coordinate of a
point) is ``d^o f(x)``, so that ``d/dx_i level(o) == level(o + e_i)``. The
primitive :func:`ladder` returns the levels for a tuple of orders; its JVP
asks the same source for those orders and their neighbours ``o + e_i`` in
one call, and is itself differentiable, so every order of ``grad``,
``jacfwd``/``jacrev`` and ``hessian`` is one call per differentiation
level. Nothing here knows what the source computes (docs/design.md).
"""

from __future__ import annotations

import abc
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero

__all__ = ["LevelSource", "evaluate", "is_traced", "ladder", "steps"]


class LevelSource(abc.ABC):
    """Where derivative levels come from.

    Implementations are compared by identity (or by value, if frozen
    dataclasses): JAX keys its caches on them, so one instance serves every
    call with the same function.

    Attributes
    ----------
    name : str
        The public function, for error messages.
    ndim : int or None
        ``None``: each entry of ``x`` is a point; ``d``: the points are the
        rows of ``x[..., d]`` and orders have ``d`` entries.
    op_grad_error : str
        Raised (``TypeError``) when something differentiates with respect to
        an extra operand, which has no derivative rule.
    """

    name: str = "ladder"
    ndim: int | None = None
    op_grad_error: str = "this function is not differentiable in its operands."

    @abc.abstractmethod
    def levels(self, x: jax.Array, ops: tuple, orders: tuple) -> tuple[tuple, tuple]:
        """``(levels, aux)`` at traced or concrete JAX points ``x``.

        ``levels`` holds one pytree per order, whose leaves have the points'
        shape as leading axes; ``aux`` is a pytree that has no derivative
        (an index, say).
        """

    def concrete(self, x: np.ndarray, ops: tuple, orders: tuple) -> tuple | None:
        """``(levels, aux)`` of concrete points as JAX arrays, computed now
        and embedded as constants, or None to go through :meth:`levels`."""
        return None


def is_traced(*trees: Any) -> bool:
    """Whether any leaf is a tracer (a Python list of tracers included)."""
    return any(isinstance(v, jax.core.Tracer) for v in jax.tree_util.tree_leaves(trees))


def evaluate(source: LevelSource, x: Any, order: tuple, ops: tuple = ()) -> tuple:
    """Level ``order`` of ``source`` at ``x``: ``(level, aux)``.

    Concrete points and operands are evaluated right away where the source
    can (a host source: no callback in a jaxpr that closes over observed
    data); everything else goes through :func:`ladder`.
    """
    if not is_traced(x, ops):
        out = source.concrete(
            np.asarray(x), tuple(np.asarray(o) for o in ops), (order,)
        )
        if out is not None:
            (level,), aux = out
            return level, aux
    x = jnp.asarray(x)
    x = x.astype(jnp.result_type(float, x.dtype))  # integer points: floats
    (level,), aux = ladder(source, (order,), x, tuple(jnp.asarray(o) for o in ops))
    return level, aux


@functools.partial(jax.custom_jvp, nondiff_argnums=(0, 1))
def ladder(source: LevelSource, orders: tuple, x: jax.Array, ops: tuple) -> tuple:
    """``source.levels(x, ops, orders)``, differentiable in ``x`` to any order."""
    return source.levels(x, ops, orders)


def steps(order: tuple, d: int) -> list[tuple]:
    """``order + e_i`` for each coordinate ``i``."""
    return [tuple(o + (i == j) for j, o in enumerate(order)) for i in range(d)]


def _ladder_jvp(source, orders, primals, tangents):
    x, ops = primals
    x_dot, ops_dot = tangents
    if any(not isinstance(d, SymbolicZero) for d in ops_dot):
        raise TypeError(source.op_grad_error)
    if isinstance(x_dot, SymbolicZero):
        out = ladder(source, orders, x, ops)
        return out, jax.tree_util.tree_map(jnp.zeros_like, out)
    d = 1 if source.ndim is None else source.ndim
    # The orders and their neighbours from one call: primal and tangent
    # levels come back together.
    wanted = sorted(set(orders).union(*(steps(o, d) for o in orders)))
    levels, aux = ladder(source, tuple(wanted), x, ops)
    by_order = dict(zip(wanted, levels, strict=True))
    points = x.shape if source.ndim is None else x.shape[:-1]
    x_dots = [x_dot] if source.ndim is None else [x_dot[..., i] for i in range(d)]

    def times(level, x_dot_i):
        def leaf(v):
            return v * x_dot_i.reshape(points + (1,) * (v.ndim - len(points)))

        return jax.tree_util.tree_map(leaf, level)

    tangent = []
    for o in orders:
        terms = [
            times(by_order[s], xd) for s, xd in zip(steps(o, d), x_dots, strict=True)
        ]
        tangent.append(functools.reduce(_tree_add, terms))
    primal = tuple(by_order[o] for o in orders)
    aux_dot = jax.tree_util.tree_map(jnp.zeros_like, aux)
    return (primal, aux), (tuple(tangent), aux_dot)


def _tree_add(a, b):
    return jax.tree_util.tree_map(jnp.add, a, b)


ladder.defjvp(_ladder_jvp, symbolic_zeros=True)
