"""The bridge: ``jax.pure_callback`` for values, ``jax.custom_jvp`` for derivatives.

A host function ``host(x, nu)`` is row-wise in ``x`` and satisfies
``d/dx host(x, nu) == host(x, nu + 1)``. The JAX side is one primitive,
``_levels(spec, nu, m, x, ops)``, returning the ``m`` consecutive derivative
levels ``nu .. nu + m - 1`` from a single host call. Its JVP rule is the same
primitive one level longer, ``_levels(spec, nu, m + 1, ...)``: the primal
levels and the tangent levels come back together in one round trip, and
because the rule calls ``_levels`` again, the rule itself is differentiable,
to any order (hessians, third derivatives, ``jacfwd`` of ``jacrev``).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import operator
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero

from ._checks import check_order

__all__ = ["Spec", "differentiable_callback", "evaluate", "row_spec_function"]


@dataclasses.dataclass(frozen=True, eq=False)
class Spec:
    """What the bridge needs to know about one host function.

    Compared by identity: one ``Spec`` per wrapped function, created once and
    reused, so that jitted and eager callers hit JAX's caches.

    Attributes
    ----------
    host : callable
        ``host(x, nus, *ops, dtype) -> tuple`` of arrays, one per entry of
        ``nus``, each of shape ``(len(x), *feature_shape)``. ``x`` is 1-D
        float64; ``ops`` are extra operands (traced knots) with their core
        shapes; ``dtype`` is the dtype JAX expects back (float32 without
        x64): a host that writes it directly saves a cast copy.
    feature_shape : tuple of int
        Trailing shape of one row.
    op_core_ndims : tuple of int
        Number of core (non-batch) dimensions of each extra operand.
    op_grad_error : str
        Message raised when something differentiates with respect to an
        extra operand (it has no derivative rule).
    name : str
        Used in error messages.
    """

    host: Callable[..., Sequence[np.ndarray]]
    feature_shape: tuple[int, ...]
    op_core_ndims: tuple[int, ...] = ()
    op_grad_error: str = "this function is not differentiable in its operands."
    name: str = "differentiable_callback"


@dataclasses.dataclass(frozen=True)
class _HostCall:
    """The callable handed to ``pure_callback``.

    A frozen dataclass, so equal calls compare equal and hash alike: JAX keys
    its compilation caches on the callback, and a fresh closure or
    ``functools.partial`` per call would recompile every eager call.
    """

    spec: Spec
    nus: tuple[int, ...]
    dtype: str

    def __call__(self, x, *ops):
        spec = self.spec
        x = np.asarray(x)
        ops = tuple(np.asarray(o) for o in ops)
        # Under vmap with vmap_method="expand_dims" every argument gets the
        # same number of leading batch axes (size 1 where unbatched). The
        # operands' core rank is known, so their extra axes count the batch.
        n_batch = ops[0].ndim - spec.op_core_ndims[0] if ops else 0
        op_batch = [
            o.shape[: o.ndim - c] for o, c in zip(ops, spec.op_core_ndims, strict=True)
        ]
        if all(math.prod(b) == 1 for b in op_batch):
            core_ops = [o.reshape(o.shape[n_batch:]) for o in ops]
            results = self._run(x.reshape(-1), core_ops)
            return tuple(r.reshape(x.shape + spec.feature_shape) for r in results)
        # Batched operands (vmap over knots): one host call per distinct
        # operand value. Rare, and unavoidable: the basis depends on them.
        batch = np.broadcast_shapes(x.shape[:n_batch], *op_batch)
        x_core = x.shape[n_batch:]
        xb = np.broadcast_to(x, batch + x_core).reshape((-1, *x_core))
        obs = [
            np.broadcast_to(o, batch + o.shape[n_batch:]).reshape(
                (-1, *o.shape[n_batch:])
            )
            for o in ops
        ]
        per_item = [
            self._run(xb[i].reshape(-1), [o[i] for o in obs])
            for i in range(xb.shape[0])
        ]
        return tuple(
            np.stack([item[level] for item in per_item]).reshape(
                batch + x_core + spec.feature_shape
            )
            for level in range(len(self.nus))
        )

    def _run(self, x_flat, ops):
        x64 = np.asarray(x_flat, dtype=np.float64)
        results = self.spec.host(x64, self.nus, *ops, dtype=self.dtype)
        out = []
        for nu, r in zip(self.nus, results, strict=True):
            r = np.asarray(r)
            expected = (x64.shape[0], *self.spec.feature_shape)
            if r.shape != expected:
                raise ValueError(
                    f"{self.spec.name}: the host function returned shape "
                    f"{r.shape} for nu={nu} and {x64.shape[0]} points; "
                    f"expected {expected}."
                )
            out.append(r.astype(self.dtype, copy=False))
        return out


@functools.partial(jax.custom_jvp, nondiff_argnums=(0, 1, 2))
def _levels(spec: Spec, nu: int, m: int, x: jax.Array, ops: tuple) -> tuple:
    """Derivative levels ``nu .. nu + m - 1`` of ``spec.host`` in one callback."""
    call = _HostCall(spec, tuple(range(nu, nu + m)), x.dtype.name)
    shape = jax.ShapeDtypeStruct(x.shape + spec.feature_shape, x.dtype)
    # The host function is row-wise in x: a vmapped call is one host call on
    # the batch with a leading axis, never a loop over the batch.
    return jax.pure_callback(call, (shape,) * m, x, *ops, vmap_method="expand_dims")


def _levels_jvp(spec, nu, m, primals, tangents):
    x, ops = primals
    x_dot, ops_dot = tangents
    if any(not isinstance(d, SymbolicZero) for d in ops_dot):
        raise TypeError(spec.op_grad_error)
    if isinstance(x_dot, SymbolicZero):
        out = _levels(spec, nu, m, x, ops)
        return out, tuple(jnp.zeros_like(o) for o in out)
    # Value and next derivative from one host round trip.
    both = _levels(spec, nu, m + 1, x, ops)
    x_dot = x_dot.reshape(x_dot.shape + (1,) * len(spec.feature_shape))
    return both[:m], tuple(d * x_dot for d in both[1:])


_levels.defjvp(_levels_jvp, symbolic_zeros=True)


def _is_traced(*arrays) -> bool:
    # tree_leaves: a Python list of tracers counts as traced too.
    return any(
        isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(arrays)
    )


def evaluate(spec: Spec, x: Any, nu: int, ops: tuple = ()) -> jax.Array:
    """``nu``-th derivative level of ``spec`` at ``x``: ``(*x.shape, *feature)``.

    Concrete ``x`` (and operands) are evaluated on the host right away and
    returned as a constant, so a jitted model with observed covariates closed
    over contains no callback at all. Traced input goes through ``_levels``.
    """
    if not _is_traced(x, *ops):
        x_np = np.asarray(x)
        # canonicalize first: float64 numpy input under x64-off is float32
        # in JAX, without a truncation warning.
        dtype = jnp.result_type(float, jax.dtypes.canonicalize_dtype(x_np.dtype))
        call = _HostCall(spec, (nu,), np.dtype(dtype).name)
        return jnp.asarray(call(x_np, *(np.asarray(o) for o in ops))[0])
    x = jnp.asarray(x)
    x = x.astype(jnp.result_type(float, x.dtype))
    return _levels(spec, nu, 1, x, tuple(jnp.asarray(o) for o in ops))[0]


def differentiable_callback(
    host_fn: Callable[[np.ndarray, int], np.ndarray],
    *,
    feature_shape: int | Sequence[int],
) -> Callable[..., jax.Array]:
    """Make a row-wise host function jit-, vmap- and grad-able to any order.

    Parameters
    ----------
    host_fn : callable
        ``host_fn(x, nu)`` takes ``x``, a 1-D float64 numpy array of shape
        ``(n,)``, and ``nu``, a Python int ``>= 0``, and returns an array of
        shape ``(n, *feature_shape)`` (cast to float64). Row ``i`` must depend
        on ``x[i]`` only, and ``d/dx host_fn(x, nu) == host_fn(x, nu + 1)``.
        It runs on the host, outside JAX, so it may use numpy, scipy or any
        other Python code. It should return NaN rather than raise for points
        it cannot evaluate: an exception inside a callback aborts the traced
        computation (see the README's section on errors).
    feature_shape : int or tuple of int
        Trailing shape of one row of the output.

    Returns
    -------
    f : callable
        ``f(x, nu=0)``: ``x`` array_like of any shape and real dtype,
        concrete or traced; ``nu`` a Python int ``>= 0``. Returns the
        ``nu``-th derivative level, shape ``(*x.shape, *feature_shape)``,
        dtype ``jnp.result_type(float, x.dtype)`` (float32 by default,
        float64 under ``jax_enable_x64``). Works under ``jit``, ``vmap``
        (one batched host call) and ``grad``/``jacfwd``/``jacrev``/``hessian``
        to any order; concrete ``x`` is evaluated once on the host with no
        callback.

    Raises
    ------
    TypeError
        If ``host_fn`` is not callable, ``feature_shape`` is not an int or a
        sequence of ints, or ``nu`` is not an int (``f``).
    ValueError
        If ``feature_shape`` has a negative entry, or ``nu < 0`` (``f``).

    Examples
    --------
    >>> import numpy as np, jax, jax.numpy as jnp
    >>> from scipy.interpolate import CubicSpline
    >>> import bspline_callback as bc
    >>> cs = CubicSpline(np.linspace(0, 1, 8), np.sin(np.linspace(0, 1, 8)))
    >>> f = bc.differentiable_callback(lambda x, nu: cs(x, nu), feature_shape=())
    >>> float(jax.jit(jax.grad(lambda x: f(x)))(0.3))  # about cos(0.3)
    0.955...
    """
    name = "differentiable_callback"
    if not callable(host_fn):
        raise TypeError(
            f"{name}: `host_fn` must be callable as host_fn(x, nu), "
            f"got {host_fn!r} of type {type(host_fn).__name__}."
        )
    fshape = _check_feature_shape(name, feature_shape)
    return row_spec_function(host_fn, fshape, name)


def row_spec_function(
    host_fn: Callable[[np.ndarray, int], np.ndarray],
    feature_shape: tuple[int, ...],
    name: str,
) -> Callable[..., jax.Array]:
    """``f(x, nu=0)`` for a checked ``host_fn(x, nu)``; see differentiable_callback."""

    def host(x, nus, *, dtype):
        return tuple(np.asarray(host_fn(x, nu), dtype=dtype) for nu in nus)

    spec = Spec(host=host, feature_shape=tuple(feature_shape), name=name)

    def f(x, nu=0):
        return evaluate(spec, x, check_order(name, nu, "nu"))

    return f


def _check_feature_shape(name: str, feature_shape: Any) -> tuple[int, ...]:
    if isinstance(feature_shape, (int, np.integer)) and not isinstance(
        feature_shape, (bool, np.bool_)
    ):
        feature_shape = (feature_shape,)
    try:
        fshape = tuple(operator.index(d) for d in feature_shape)
    except TypeError:
        raise TypeError(
            f"{name}: `feature_shape` must be an int or a tuple of ints "
            f"(use () for one value per point), got {feature_shape!r}."
        ) from None
    if any(d < 0 for d in fshape):
        raise ValueError(f"{name}: `feature_shape` entries must be >= 0, got {fshape}.")
    return fshape
