"""The host call: run a host function on JAX's points, from inside a trace.

:func:`host_call` is the package's one host-call site. It declares the
outputs up front (``jax.ShapeDtypeStruct``), batches under ``vmap`` with
``vmap_method="expand_dims"`` (one call on the whole batch, never a loop),
and takes one of two JAX primitives for the same :class:`HostCall`:

- ``jax.experimental.buffer_callback`` on a CPU in a process with one CPU
  device: XLA's buffers handed over as they are, a fraction of the fixed
  cost of ``pure_callback`` (docs/design.md, "The host call");
- ``jax.pure_callback`` everywhere else, and with
  ``BSPLINE_CALLBACK_HOST_CALL=pure_callback``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from collections.abc import Callable

import jax
import numpy as np

try:  # experimental: checked once per process, _buffer_callback_ok
    from jax.experimental.buffer_callback import buffer_callback as _buffer_callback
except ImportError:  # pragma: no cover - depends on the installed jax
    _buffer_callback = None

__all__ = ["HOST_CALL_ENV", "HostCall", "host_call"]

#: Environment variable that picks the host-call primitive: ``auto``
#: (``buffer_callback`` where it is the same computation) or
#: ``pure_callback`` (always). Read at trace time.
HOST_CALL_ENV = "BSPLINE_CALLBACK_HOST_CALL"


@dataclasses.dataclass(frozen=True)
class HostCall:
    """The callable handed to the host-call primitive.

    A frozen dataclass, so that equal calls compare equal and hash alike:
    JAX keys its compilation caches on the callback (JAX's own
    ``_FlatCallback`` idiom), where a fresh closure would recompile.

    ``fn(x, orders, *ops, dtype=...)`` gets the points flattened to a 1-D,
    read-only float64 array (rows ``(n, ndim)`` for ``ndim`` coordinates)
    and returns one array per entry of ``row_shapes``, shaped ``(n,
    *row_shape)``, in ``dtype``. ``checked`` functions are trusted to do so;
    the others' results are cast and their shapes checked.
    """

    fn: Callable
    orders: tuple
    dtype: str
    row_shapes: tuple
    ndim: int | None = None
    op_ndims: tuple = ()
    checked: bool = False
    name: str = "differentiable_callback"

    def __call__(self, x, *ops):
        x = np.asarray(x)
        lead = x.shape if self.ndim is None else x.shape[:-1]
        if not ops:
            results = self.run(x, ())
            if len(lead) == 1:  # already (n, ...)
                return results
            return tuple(r.reshape(lead + r.shape[1:]) for r in results)
        ops = tuple(np.asarray(o) for o in ops)
        # Under vmap, expand_dims gives every argument the same number of
        # leading batch axes (size 1 where unbatched); the operands' core
        # rank is known, so their extra axes count the batch.
        n_batch = ops[0].ndim - self.op_ndims[0]
        op_batch = [
            o.shape[: o.ndim - c] for o, c in zip(ops, self.op_ndims, strict=True)
        ]
        if all(math.prod(b) == 1 for b in op_batch):
            core = [o.reshape(o.shape[n_batch:]) for o in ops]
            return tuple(r.reshape(lead + r.shape[1:]) for r in self.run(x, core))
        # Batched operands (vmap over knots): one run per operand value, as
        # the function depends on them.
        batch = np.broadcast_shapes(x.shape[:n_batch], *op_batch)
        x_core = x.shape[n_batch:]
        xb = np.broadcast_to(x, batch + x_core).reshape((-1, *x_core))
        obs = [
            np.broadcast_to(o, batch + o.shape[n_batch:]).reshape(
                (-1, *o.shape[n_batch:])
            )
            for o in ops
        ]
        items = [self.run(xb[i], [o[i] for o in obs]) for i in range(xb.shape[0])]
        core = lead[n_batch:]
        return tuple(
            np.stack([item[j] for item in items]).reshape(batch + core + r.shape[1:])
            for j, r in enumerate(items[0])
        )

    def run(self, x, ops):
        """``fn`` on the points of ``x`` as rows; the results, checked."""
        if x.dtype == np.float64:
            # Never a writable array: on the eager route it could be the
            # caller's own (pure_callback's arrays are read-only too).
            x64 = read_only(x) if x.flags.writeable else x
        else:
            x64 = x.astype(np.float64)
            x64.flags.writeable = False
        if self.ndim is not None:
            x64 = x64.reshape(-1, self.ndim)
        elif x64.ndim != 1:
            x64 = x64.reshape(-1)
        results = self.fn(x64, self.orders, *ops, dtype=self.dtype)
        if self.checked:
            return results
        n = x64.shape[0]
        out = []
        dtype = np.dtype(self.dtype)
        for r, shape in zip(results, self.row_shapes, strict=True):
            r = np.asarray(r).astype(dtype, copy=False)
            if r.shape != (n, *shape):
                raise ValueError(
                    f"{self.name}: the host function returned shape {r.shape} "
                    f"for {n} points; expected {(n, *shape)}."
                )
            out.append(r)
        return out


def read_only(a: np.ndarray) -> np.ndarray:
    """A read-only view of ``a``."""
    view = a.view()
    view.flags.writeable = False
    return view


def host_call(call: HostCall, shapes: tuple, x: jax.Array, ops: tuple) -> tuple:
    """Run ``call`` on traced ``x`` and ``ops``, declared ``shapes`` out.

    Raises, at trace time, where the call cannot run: no CPU device
    (``RuntimeError``), or a symbolic shape under ``jax.export``
    (``NotImplementedError``).
    """
    _require_host_device(call.name)
    _require_concrete_shape(call.name, x)
    args = (x, *ops)

    def via_pure(*args):
        return jax.pure_callback(call, shapes, *args, vmap_method="expand_dims")

    if _buffer_path():

        def via_buffer(*args):
            run = _buffer_callback(_BufferCall(call), shapes, vmap_method="expand_dims")
            return run(*args)

        out = jax.lax.platform_dependent(*args, cpu=via_buffer, default=via_pure)
    else:
        out = via_pure(*args)
    varying = _varying_axes(*args)
    if varying:
        # Inside shard_map a host call declares its results invariant across
        # the mesh; they vary with x, and so do the ladder's tangents.
        out = jax.lax.pcast(out, varying, to="varying")
    return tuple(out)


@dataclasses.dataclass(frozen=True)
class _BufferCall:
    """``call`` in ``buffer_callback``'s convention, ``(ctx, out, *args)``:
    read-only views of XLA's input buffers in, the results copied into its
    output buffers. Frozen for JAX's caches, as ``HostCall``."""

    call: Callable

    def __call__(self, ctx, out, *args) -> None:
        del ctx  # the stream, on GPUs; this route runs on CPUs only
        results = self.call(*(read_only(np.asarray(a)) for a in args))
        for buffer, result in zip(out, results, strict=True):
            np.copyto(np.asarray(buffer), result)


def _buffer_path() -> bool:
    """Whether :func:`host_call` may take ``buffer_callback`` on a CPU."""
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
    """``buffer_callback`` exists, this process has one CPU device (XLA's
    SPMD partitioner would run the unannotated call once per device on a
    sharded ``x``), and a tiny jitted call gives the right values: the API
    is experimental, so its convention is checked once, not trusted."""
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
        # Usually first reached while tracing: evaluated now, never traced
        # into the caller's jaxpr.
        with jax.ensure_compile_time_eval(), jax.default_device(cpu):
            (out,) = jax.jit(probe)(x)
        return bool(np.array_equal(np.asarray(out), x + 1))
    except Exception:  # noqa: BLE001 - any failure means: not this route
        return False


@functools.cache
def _host_device_error() -> str | None:
    """Why JAX has no CPU device, or None (fixed once JAX's backends start)."""
    try:
        jax.devices("cpu")
    except RuntimeError as e:
        return str(e)
    return None


def _require_host_device(name: str) -> None:
    """A process started with ``JAX_PLATFORMS=cuda`` has no CPU device, and
    the host call would fail only when it runs, deep inside a sampler."""
    error = _host_device_error()
    if error is not None:
        raise RuntimeError(
            f"{name}: the callback backend runs scipy on the host, and "
            "jax.pure_callback needs a CPU device for that, but JAX was "
            f"started without one (jax_platforms={jax.config.jax_platforms!r}: "
            f"{error}). List cpu too (JAX_PLATFORMS=cuda,cpu, or "
            'numpyro.set_platform("cuda,cpu")), or use backend="jax", which '
            "needs no host."
        )


def _require_concrete_shape(name: str, x: jax.Array) -> None:
    """Symbolic shapes (``jax.export``) cannot be declared for a host call
    (JAX fails with a bare ``std::bad_cast``), nor exported with one."""
    if not all(isinstance(d, int) for d in x.shape):
        raise NotImplementedError(
            f"{name}: the callback backend runs Python on the host, which "
            f"jax.export cannot serialize (x has the symbolic shape {x.shape}); "
            'use backend="jax", which exports with symbolic shapes too.'
        )


def _varying_axes(*arrays) -> tuple:
    """Mesh axes along which any of ``arrays`` varies (inside ``shard_map``)."""
    axes = set()
    for a in arrays:
        mat = getattr(jax.typeof(a), "manual_axis_type", None)
        axes |= set(getattr(mat, "varying", ()))
    return tuple(sorted(axes))
