"""The bridge: a host callback for values, ``jax.custom_jvp`` for derivatives.

A host function ``host(x, nu)`` is row-wise in ``x`` and satisfies
``d/dx host(x, nu) == host(x, nu + 1)``. The JAX side is one primitive,
``_levels(spec, nu, m, banded, x, ops)``, returning the ``m`` consecutive derivative
levels ``nu .. nu + m - 1`` from a single host call. Its JVP rule is the same
primitive one level longer, ``_levels(spec, nu, m + 1, ...)``: the primal
levels and the tangent levels come back together in one round trip, and
because the rule calls ``_levels`` again, the rule itself is differentiable,
to any order (hessians, third derivatives, ``jacfwd`` of ``jacrev``).

A banded host (a B-spline basis: ``k + 1`` consecutive non-zeros per row)
can also ship only those non-zeros and the index of the first, for
consumers that never need dense rows (``bspline``: a gather of the
coefficients): the host does no dense fill and the transfer does not grow
with the number of columns.

The host call itself is ``jax.pure_callback`` with ``vmap_method=
"expand_dims"``, except on a CPU in a one-CPU-device process, where the same
host function runs through ``jax.experimental.buffer_callback`` (XLA's
buffers handed over as they are: about a tenth of ``pure_callback``'s fixed
cost per call; ``_host_callback``). ``BSPLINE_CALLBACK_HOST_CALL=
pure_callback`` keeps ``pure_callback`` everywhere.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import operator
import os
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero

from ._band import dense_from_band
from ._checks import check_order, check_real_points

__all__ = [
    "Spec",
    "differentiable_callback",
    "evaluate",
    "evaluate_banded",
    "row_spec_function",
]


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
    banded : callable or None
        For banded bases (``feature_shape == (n_basis,)`` and at most
        ``band`` consecutive non-zero columns per row):
        ``banded(x, nus, *ops, dtype)`` returns one array of shape
        ``(len(x), len(nus) * band + 1)``, the values of each level in the
        band followed by the band's first column as a float (NaN for rows
        that are all NaN). Traced ``evaluate_banded`` calls ship this
        instead of dense rows (see ``HostBasis.banded``).
    band : int
        Width of the band, ``k + 1`` for degree ``k``; 0 when the spec has
        no banded form (``evaluate_banded`` needs one, from ``banded`` or
        from ``native``).
    native : callable or None
        ``backend="jax"``: ``native(x, *ops, nus, banded) -> (levels,
        aux)`` computes what ``_levels`` returns in pure JAX, with no
        callback (``host`` and ``banded`` are then unused).
    expand_band : callable or None
        For banded specs: ``expand_band(size)`` says whether a traced dense
        evaluation of ``size`` points fetches the banded level instead and
        expands it in XLA (``_band.dense_from_band``): no dense fill or
        transfer on the host, and gradients that read only the band of
        their cotangent, never a dense derivative level. None: never.
    checked : bool
        ``True`` when ``host`` and ``banded`` are known to return numpy
        arrays of the declared shapes in the requested dtype (the
        package's own B-spline hosts, tested): the callback then skips its
        per-call check of the results. User host functions are checked.
    """

    host: Callable[..., Sequence[np.ndarray]] | None
    feature_shape: tuple[int, ...]
    op_core_ndims: tuple[int, ...] = ()
    op_grad_error: str = "this function is not differentiable in its operands."
    name: str = "differentiable_callback"
    banded: Callable[..., np.ndarray] | None = None
    band: int = 0
    native: Callable[..., tuple] | None = None
    expand_band: Callable[[int], bool] | None = None
    checked: bool = False


@functools.cache
def _np_dtype(name: str) -> np.dtype:
    # Cached: the callback compares results against it on every call.
    return np.dtype(name)


@dataclasses.dataclass(frozen=True)
class _HostCall:
    """The callable handed to ``pure_callback`` (``_BufferCall`` wraps it
    for ``buffer_callback``).

    A frozen dataclass, so equal calls compare equal and hash alike: JAX keys
    its compilation caches on the callback, and a fresh closure or
    ``functools.partial`` per call would recompile every eager call.
    """

    spec: Spec
    nus: tuple[int, ...]
    dtype: str
    banded: bool = False

    def __call__(self, x, *ops):
        x = np.asarray(x)
        if not ops:
            # The common case (concrete knots), kept short: inside a callback
            # every Python step costs about twice its usual time.
            if x.ndim == 1:
                return tuple(self._run(x, ()))
            results = self._run(x.reshape(-1), ())
            return tuple(r.reshape(x.shape + r.shape[1:]) for r in results)
        spec = self.spec
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
            return tuple(r.reshape(x.shape + r.shape[1:]) for r in results)
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
            np.stack([item[j] for item in per_item]).reshape(
                batch + x_core + per_item[0][j].shape[1:]
            )
            for j in range(len(per_item[0]))
        )

    def _run(self, x_flat, ops):
        spec = self.spec
        x64 = np.asarray(x_flat, dtype=np.float64)
        if x64.flags.writeable:
            # Host functions never get a writable array: on the eager route
            # it could be the caller's own.
            x64 = _read_only(x64)
        n = x64.shape[0]
        if self.banded:  # one packed array for all levels
            results = (spec.banded(x64, self.nus, *ops, dtype=self.dtype),)
        else:
            results = spec.host(x64, self.nus, *ops, dtype=self.dtype)
        if spec.checked:
            return results
        if self.banded:
            expected = [(n, len(self.nus) * spec.band + 1)]
        else:
            expected = [(n, *spec.feature_shape)] * len(self.nus)
        out = []
        dtype = _np_dtype(self.dtype)
        for i, (r, shape) in enumerate(zip(results, expected, strict=True)):
            if r.__class__ is not np.ndarray or r.dtype is not dtype:
                r = np.asarray(r).astype(dtype, copy=False)
            if r.shape != shape:
                label = f"nu in {self.nus}" if self.banded else f"nu={self.nus[i]}"
                raise ValueError(
                    f"{spec.name}: the host function returned shape "
                    f"{r.shape} for {label} and {n} points; expected {shape}."
                )
            out.append(r)
        return out


def _require_host_device(name: str) -> None:
    """Raise, at trace time, where JAX has no CPU device for the host call.

    ``pure_callback`` places its operands on a CPU device. A process started
    with ``JAX_PLATFORMS=cuda`` (or ``numpyro.set_platform("cuda")``) has
    none, and the call would fail only when it runs, deep inside a sampler,
    with no word of this package's ``backend="jax"``.

    Raises
    ------
    RuntimeError
        When ``jax.devices("cpu")`` fails: the CPU platform is not among
        JAX's platforms.
    """
    error = _host_device_error()
    if error is not None:
        raise RuntimeError(
            f"{name}: the callback backend runs scipy on the host, and "
            "jax.pure_callback needs a CPU device for that, but JAX was "
            f"started without one (jax_platforms="
            f"{jax.config.jax_platforms!r}: {error}). List "
            "cpu too (JAX_PLATFORMS=cuda,cpu, or "
            'numpyro.set_platform("cuda,cpu")), or use backend="jax", which '
            "needs no host."
        )


def _require_concrete_shape(name: str, x: jax.Array) -> None:
    """Raise, at trace time, for symbolic shapes (``jax.export``'s shape
    polymorphism), which ``pure_callback`` cannot declare (JAX fails there
    with a bare ``std::bad_cast``); an exported computation cannot hold a
    host callback anyway.

    Raises
    ------
    NotImplementedError
        When a dimension of ``x`` is symbolic.
    """
    if not all(isinstance(d, int) for d in x.shape):
        raise NotImplementedError(
            f"{name}: the callback backend runs Python on the host, which "
            f"jax.export cannot serialize (x has the symbolic shape "
            f'{x.shape}); use backend="jax", which exports with symbolic '
            "shapes too."
        )


try:  # experimental (jax >= 0.7; tested with 0.10.2): see _buffer_callback_ok
    from jax.experimental.buffer_callback import buffer_callback as _buffer_callback
except ImportError:  # pragma: no cover - depends on the installed jax
    _buffer_callback = None

#: Environment variable that picks the host-call primitive: ``auto``
#: (default: ``buffer_callback`` where ``_buffer_path`` allows it) or
#: ``pure_callback`` (always). Read at trace time.
HOST_CALL_ENV = "BSPLINE_CALLBACK_HOST_CALL"


def _host_callback(call: _HostCall, shapes: tuple, *args: jax.Array) -> tuple:
    """``jax.pure_callback(call, shapes, *args, vmap_method="expand_dims")``,
    through ``buffer_callback`` where that is the same computation, faster.

    ``pure_callback`` spends most of its time outside the host function:
    measured on the 2-core machines, an empty one inside a jitted loop costs
    about 120 µs per call, most of it ``device_put`` of its operands in
    Python before the function runs; an empty ``buffer_callback``, which
    hands the function XLA's buffers as they are, about 10 µs. Only on a CPU
    device (on a GPU its buffers are device memory), and only in a process
    with one CPU device: XLA's SPMD partitioner would run this unannotated
    custom call once per device on a sharded ``x``, where ``pure_callback``
    runs once. ``lax.platform_dependent`` lowers just the branch of the
    platform being compiled for.
    """

    def via_pure(*args):
        return jax.pure_callback(call, shapes, *args, vmap_method="expand_dims")

    if not _buffer_path():
        return via_pure(*args)

    def via_buffer(*args):
        run = _buffer_callback(_BufferCall(call), shapes, vmap_method="expand_dims")
        return run(*args)

    return jax.lax.platform_dependent(*args, cpu=via_buffer, default=via_pure)


def _buffer_path() -> bool:
    """Whether ``_host_callback`` may take ``buffer_callback`` on a CPU."""
    choice = os.environ.get(HOST_CALL_ENV, "auto")
    if choice == "pure_callback":
        return False
    if choice != "auto":
        raise ValueError(
            f"{HOST_CALL_ENV}={choice!r}: expected 'auto' or 'pure_callback'."
        )
    return _buffer_callback_ok()


@functools.cache
def _buffer_callback_ok() -> bool:
    """``buffer_callback`` exists, this process has exactly one CPU device,
    and a tiny jitted call gives the right values: the API is experimental,
    so its calling convention is checked once (one small compile) rather
    than trusted; ``pure_callback`` serves otherwise."""
    if _buffer_callback is None or _host_device_error() is not None:
        return False
    cpu, *others = jax.devices("cpu")
    if others:
        return False
    x = np.arange(3.0, dtype=np.float32)
    try:
        shapes = (jax.ShapeDtypeStruct(x.shape, x.dtype),)
        probe = _buffer_callback(
            _BufferCall(lambda a: (a + 1,)), shapes, vmap_method="expand_dims"
        )
        # Usually first reached while tracing: compile-time evaluation runs
        # the probe now instead of tracing it into the caller's jaxpr.
        with jax.ensure_compile_time_eval(), jax.default_device(cpu):
            (out,) = jax.jit(probe)(x)
        return bool(np.array_equal(np.asarray(out), x + 1))
    except Exception:  # noqa: BLE001 - any failure means: not this route
        return False


@dataclasses.dataclass(frozen=True)
class _BufferCall:
    """``call`` (a ``_HostCall``) in ``buffer_callback``'s convention:
    ``(ctx, out, *args)``, writing the results into XLA's output buffers.

    The inputs are XLA's own buffers: ``call`` gets read-only views of them
    (``pure_callback`` hands read-only arrays too), so a host function can
    neither write into a live JAX array nor keep a writable alias. Frozen,
    so that equal calls hash alike for JAX's caches (see ``_HostCall``).
    """

    call: Callable[..., Sequence[np.ndarray]]

    def __call__(self, ctx, out, *args) -> None:
        del ctx  # the stream, on GPUs; this route runs on CPUs only
        call = self.call
        if len(args) == 1 and isinstance(call, _HostCall):
            # The common case (x alone: knots closed over), short: inside a
            # callback every Python step costs about twice its usual time.
            # ``_run`` on the flat points, its (n, ...) results written
            # through flat views of the output buffers.
            flat = _read_only(np.asarray(args[0]).reshape(-1))
            for buffer, result in zip(out, call._run(flat, ()), strict=True):
                np.copyto(np.asarray(buffer).reshape(result.shape), result)
            return
        results = call(*(_read_only(np.asarray(a)) for a in args))
        for buffer, result in zip(out, results, strict=True):
            np.copyto(np.asarray(buffer), result)


def _read_only(a: np.ndarray) -> np.ndarray:
    """A read-only view of ``a``."""
    view = a.view()
    view.flags.writeable = False
    return view


@functools.cache
def _host_device_error() -> str | None:
    """Why JAX has no CPU device, or None. Cached: JAX's platforms are fixed
    once its backends start, and tracing has started them."""
    try:
        jax.devices("cpu")
    except RuntimeError as e:
        return str(e)
    return None


@functools.partial(jax.custom_jvp, nondiff_argnums=(0, 1, 2, 3))
def _levels(
    spec: Spec, nu: int, m: int, banded: bool, x: jax.Array, ops: tuple
) -> tuple:
    """Derivative levels ``nu .. nu + m - 1`` of ``spec`` in one callback.

    Returns ``(levels, aux)``: ``levels`` holds ``m`` arrays, each
    ``(*x.shape, *feature_shape)``, and ``aux`` is ``()``; or, with
    ``banded`` (a banded spec only: ``spec.banded`` is set), each level is
    a tuple of ``band`` arrays of ``x``'s shape (column ``first + j`` of
    the row), and ``aux`` is ``(first,)``, the band's first column as a
    float ``(*x.shape)``, piecewise constant in ``x``. Separate arrays, not
    one ``(*x.shape, band)`` array: the transposes of their products
    (gradients) are then elementwise sums, where a band axis would give
    reductions over ``band`` entries, which XLA's CPU backend runs slowly.
    """
    nus = tuple(range(nu, nu + m))
    if spec.native is not None:
        return spec.native(x, *ops, nus=nus, banded=banded)
    # The host function is row-wise in x: a vmapped call is one host call on
    # the batch with a leading axis, never a loop over the batch.
    varying = _varying_axes(x, *ops)
    _require_host_device(spec.name)
    _require_concrete_shape(spec.name, x)

    def cb(call, shapes):
        out = _host_callback(call, shapes, x, *ops)
        if varying:
            # Inside shard_map, a host call declares its results invariant
            # across the mesh; they vary with x, and the JVP rule's tangents
            # (products with x's tangent) do, so the types must say so.
            out = jax.lax.pcast(out, varying, to="varying")
        return out

    if not banded:
        shape = jax.ShapeDtypeStruct(x.shape + spec.feature_shape, x.dtype)
        return cb(_HostCall(spec, nus, x.dtype.name), (shape,) * m), ()
    b = spec.band
    shape = jax.ShapeDtypeStruct(x.shape + (m * b + 1,), x.dtype)
    call = _HostCall(spec, nus, x.dtype.name, banded=True)
    (packed,) = cb(call, (shape,))
    levels = tuple(tuple(packed[..., i * b + j] for j in range(b)) for i in range(m))
    return levels, (packed[..., -1],)


def _varying_axes(*arrays) -> tuple:
    """Mesh axes along which any of ``arrays`` varies (inside ``shard_map``).

    Read from the abstract value's ``manual_axis_type`` (JAX >= 0.8); empty
    outside ``shard_map`` or where the attribute does not exist.
    """
    axes = set()
    for a in arrays:
        mat = getattr(jax.typeof(a), "manual_axis_type", None)
        axes |= set(getattr(mat, "varying", ()))
    return tuple(sorted(axes))


def _levels_jvp(spec, nu, m, banded, primals, tangents):
    x, ops = primals
    x_dot, ops_dot = tangents
    if any(not isinstance(d, SymbolicZero) for d in ops_dot):
        raise TypeError(spec.op_grad_error)
    if isinstance(x_dot, SymbolicZero):
        out = _levels(spec, nu, m, banded, x, ops)
        return out, jax.tree_util.tree_map(jnp.zeros_like, out)
    # Value and next derivative from one host round trip.
    both, aux = _levels(spec, nu, m + 1, banded, x, ops)

    def times_x_dot(level):  # dense rows, or one band column
        return level * x_dot.reshape(x_dot.shape + (1,) * (level.ndim - x.ndim))

    tangent_levels = jax.tree_util.tree_map(times_x_dot, both[1:])
    return (both[:m], aux), (tangent_levels, tuple(jnp.zeros_like(a) for a in aux))


_levels.defjvp(_levels_jvp, symbolic_zeros=True)


def _is_traced(*arrays) -> bool:
    # tree_leaves: a Python list of tracers counts as traced too.
    return any(
        isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(arrays)
    )


def _as_jax_float(x: Any) -> np.ndarray:
    """Concrete ``x`` as numpy in the float dtype JAX would give it, so that
    eager and jitted calls see the same points (float64 numpy input is
    rounded to float32 without x64)."""
    x_np = np.asarray(x)
    dtype = jnp.result_type(float, jax.dtypes.canonicalize_dtype(x_np.dtype))
    return x_np.astype(dtype, copy=False)


def _traced_levels(spec: Spec, x: Any, nu: int, ops: tuple, banded: bool) -> tuple:
    x = jnp.asarray(x)
    x = x.astype(jnp.result_type(float, x.dtype))
    ops = tuple(jnp.asarray(o) for o in ops)
    levels, aux = _levels(spec, nu, 1, banded, x, ops)
    return levels[0], aux


def evaluate(spec: Spec, x: Any, nu: int, ops: tuple = ()) -> jax.Array:
    """``nu``-th derivative level of ``spec`` at ``x``: ``(*x.shape, *feature)``.

    Concrete ``x`` (and operands) are evaluated on the host right away and
    returned as a constant, so a jitted model with observed covariates closed
    over contains no callback at all. Traced input goes through ``_levels``:
    dense levels, or the banded level expanded in XLA where
    ``spec.expand_band`` says so.
    """
    check_real_points(spec.name, x)
    if spec.native is None and not _is_traced(x, *ops):
        x_np = _as_jax_float(x)
        call = _HostCall(spec, (nu,), x_np.dtype.name)
        return jnp.asarray(call(x_np, *(np.asarray(o) for o in ops))[0])
    x = jnp.asarray(x)  # a list of tracers too
    if spec.band and spec.expand_band is not None and spec.expand_band(x.size):
        # The banded level, expanded in XLA: its derivatives stay banded
        # (see ``_band``), where dense levels would make a gradient build
        # the dense derivative level and read all of it.
        vals, (first,) = _traced_levels(spec, x, nu, ops, banded=True)
        return dense_from_band(vals, first, spec.feature_shape[0])
    return _traced_levels(spec, x, nu, ops, banded=False)[0]


def evaluate_banded(
    spec: Spec, x: Any, nu: int, ops: tuple = ()
) -> tuple[jax.Array, jax.Array]:
    """Banded level ``nu`` of a banded ``spec``: ``(vals, first)``.

    ``vals`` is a tuple of ``band`` arrays of ``x``'s shape (column ``first
    + j`` of each row), ``first`` ``(*x.shape)`` in x's float dtype (NaN on
    all-NaN rows); see ``Spec.banded`` and ``_levels``. Concrete input is
    evaluated on the host right away, as in :func:`evaluate`.
    """
    check_real_points(spec.name, x)
    if spec.native is None and not _is_traced(x, *ops):
        x_np = _as_jax_float(x)
        call = _HostCall(spec, (nu,), x_np.dtype.name, banded=True)
        (packed,) = call(x_np, *(np.asarray(o) for o in ops))
        packed = jnp.asarray(packed)
        return tuple(packed[..., j] for j in range(spec.band)), packed[..., -1]
    level, (first,) = _traced_levels(spec, x, nu, ops, banded=True)
    return level, first


def differentiable_callback(
    host_fn: Callable[[np.ndarray, int], np.ndarray],
    *,
    feature_shape: int | Sequence[int],
) -> Callable[..., jax.Array]:
    """Make a row-wise host function jit-, vmap- and grad-able to any order.

    Parameters
    ----------
    host_fn : callable
        ``host_fn(x, nu)`` takes ``x``, a 1-D, read-only float64 numpy
        array of shape ``(n,)`` (the points as JAX holds them, in its float
        dtype), and ``nu``, a Python int ``>= 0``, and returns an array of
        shape ``(n, *feature_shape)`` (cast to JAX's float dtype). Row ``i``
        must depend on ``x[i]`` only, and ``d/dx host_fn(x, nu) ==
        host_fn(x, nu + 1)``. It runs on the host, outside JAX, so it may
        use numpy, scipy or any other Python code. It should return NaN
        rather than raise for points it cannot evaluate: an exception
        inside a callback aborts the traced computation. It must be
        thread-safe: XLA may run several calls at once (chains under
        ``pmap`` or ``vmap`` of independent computations, ``jit`` from
        several threads), each from its own thread.
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
    RuntimeError
        When ``f`` is traced in a process whose JAX has no CPU device for
        the host call (``JAX_PLATFORMS=cuda``): list ``cpu`` too.
    NotImplementedError
        When ``f`` is traced for ``jax.export`` with a symbolic shape (a
        host callback cannot be exported).

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
    return _RowFunction(host_fn, tuple(feature_shape), name)


@dataclasses.dataclass(frozen=True)
class _RowHost:
    """``Spec.host`` for a user's ``host_fn(x, nu)``: one call per level."""

    host_fn: Callable[[np.ndarray, int], np.ndarray]
    name: str

    def __call__(self, x, nus, *, dtype):
        out = []
        for nu in nus:
            try:
                out.append(np.asarray(self.host_fn(x, nu), dtype=dtype))
            except Exception as e:
                # Traced calls run this inside a callback, where JAX turns
                # the exception into a JaxRuntimeError whose message is this
                # traceback; the note says which call it was (once: a host
                # function may raise one stored instance again and again).
                note = f"{self.name}: raised by the host function at nu={nu}"
                if not any(n.startswith(note) for n in getattr(e, "__notes__", ())):
                    e.add_note(f"{note} for {x.shape[0]} points.")
                raise
        return tuple(out)


class _RowFunction:
    """``f(x, nu=0)``: a row-wise host function on the bridge.

    One ``Spec`` per instance (JAX's caches key on it); pickled as its host
    function, feature shape and name.
    """

    __slots__ = ("host_fn", "feature_shape", "name", "_spec", "__weakref__")

    def __init__(self, host_fn, feature_shape, name):
        self.host_fn, self.feature_shape, self.name = host_fn, feature_shape, name
        host = _RowHost(host_fn, name)
        self._spec = Spec(host=host, feature_shape=feature_shape, name=name)

    def __call__(self, x, nu=0):
        return evaluate(self._spec, x, check_order(self.name, nu, "nu"))

    def __reduce__(self):
        return (_RowFunction, (self.host_fn, self.feature_shape, self.name))

    def __repr__(self):
        return f"<{self.name} function, feature_shape={self.feature_shape}>"


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
