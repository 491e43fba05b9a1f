"""Tolerances keyed by dtype, and the reference implementations tests compare to."""

import contextlib
import logging
import os
import subprocess
import sys

import jax
import jax.extend
import jax.numpy as jnp
import numpy as np
from scipy.interpolate import BSpline

from bspline_callback import _transport

# Relative to the largest magnitude in the reference (derivative bases span
# several orders of magnitude, so a per-entry relative test would be noise).
RTOL = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 2e-5}


def float_dtype():
    """The dtype JAX gives a Python float in this run."""
    return np.dtype(jnp.result_type(float))


def assert_close(actual, desired, dtype=None, scale=1.0, err=""):
    """NaN where the reference is NaN, else close to dtype's tolerance."""
    actual = np.asarray(actual, dtype=np.float64)
    desired = np.asarray(desired, dtype=np.float64)
    assert actual.shape == desired.shape, (actual.shape, desired.shape)
    dtype = np.dtype(dtype) if dtype is not None else float_dtype()
    nan = np.isnan(desired)
    np.testing.assert_array_equal(np.isnan(actual), nan, err_msg=f"NaN pattern {err}")
    # Infinite reference entries (a polynomial piece extrapolated to inf)
    # must be matched exactly, sign included.
    inf = np.isinf(desired)
    np.testing.assert_array_equal(actual[inf], desired[inf], err_msg=f"inf {err}")
    finite = ~nan & ~inf
    if finite.any():
        mag = max(np.abs(desired[finite]).max(), 1.0)
        np.testing.assert_allclose(
            actual[finite],
            desired[finite],
            rtol=0,
            atol=RTOL[dtype] * mag * scale,
            err_msg=err,
        )


def snap_ends(x, t, k, dtype=None):
    """The end rule: points equal to ``t[k]`` or ``t[n]`` rounded to
    ``dtype`` (the run's float dtype by default) are those ends."""
    x = np.array(x, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    dtype = float_dtype() if dtype is None else np.dtype(dtype)
    for end in (t[k], t[len(t) - k - 1]):
        x[x == float(np.asarray(end, dtype))] = end
    return x


def scipy_basis(x, t, k, nu=0, extrapolate=False, dtype=None):
    """scipy's dense basis with the package's NaN policy and end rule.

    ``BSpline(t, eye, k, extrapolate)(x, nu)`` already gives NaN outside the
    base interval when not extrapolating; NaN/inf ``x`` rows are NaN too.
    Points equal to an end rounded to ``dtype`` are that end (``snap_ends``).
    ``"linear"``/``"constant"``: scipy's rows at the nearer end, continued
    as their Taylor polynomial of degree 1 or 0 (derivative levels: the
    derivatives of that polynomial).
    """
    x = snap_ends(x, t, k, dtype)
    t = np.asarray(t, dtype=np.float64)
    n = len(t) - k - 1
    if extrapolate in ("linear", "constant"):
        return _taylor_basis(x, t, k, nu, extrapolate)
    with np.errstate(invalid="ignore"):
        out = BSpline(t, np.eye(n), k, extrapolate=extrapolate)(x, nu)
    out[~np.isfinite(x)] = np.nan
    if extrapolate is False:
        # scipy returns zeros outside for nu > k (its derivative spline has
        # degree < 0 there); the policy is NaN outside whatever nu is.
        out[(x < t[k]) | (x > t[n])] = np.nan
    return out


def _taylor_basis(x, t, k, nu, mode):
    n = len(t) - k - 1
    lo, hi = t[k], t[n]
    spline = BSpline(t, np.eye(n), k, extrapolate=False)
    with np.errstate(invalid="ignore"):
        end = np.clip(x, lo, hi)
        out = spline(np.where(np.isfinite(x), end, lo), nu)
        past = np.isfinite(x) & ((x < lo) | (x > hi))
        if mode == "linear" and nu == 0:
            slope = spline(end[past], 1)
            out[past] += (x[past] - end[past])[:, None] * slope
        elif nu >= (2 if mode == "linear" else 1):
            out[past] = 0.0
    out[~np.isfinite(x)] = np.nan
    return out


def dense_from_compact(values, first, n_basis):
    """Scatter compact rows ``(values, first)`` into dense numpy rows;
    rows with a NaN value are NaN throughout."""
    values = np.asarray(values, np.float64)
    first = np.asarray(first)
    out = np.zeros(values.shape[:-1] + (n_basis,))
    rows = np.indices(first.shape)
    for j in range(values.shape[-1]):
        out[(*rows, first + j)] = values[..., j]
    out[np.isnan(values).any(-1)] = np.nan
    return out


def as_jax_points(x):
    """x as JAX sees it (float32 unless x64), and the float64 values of that."""
    xj = jnp.asarray(np.asarray(x, dtype=np.float64), dtype=jnp.result_type(float))
    return xj, np.asarray(xj, dtype=np.float64)


def host_call_primitive():
    """The primitive a host call runs through on this machine's CPU:
    ``buffer_callback`` where the package takes it (see
    ``_transport.host_call``), ``pure_callback`` otherwise."""
    return "buffer_callback" if _transport._buffer_path() else "pure_callback"


def host_call_eqns(jaxpr):
    """The host-call equations that run on a CPU, in a jaxpr and its
    sub-jaxprs.

    On the ``buffer_callback`` route every host call is a
    ``lax.platform_dependent`` with a ``buffer_callback`` branch for CPUs and
    a ``pure_callback`` default branch: this also checks that they pair up,
    so that a count or a shape read from one route holds for the other.
    """
    eqns = list(iter_eqns(jaxpr))
    pure = [e for e in eqns if e.primitive.name == "pure_callback"]
    buffer = [e for e in eqns if e.primitive.name == "buffer_callback"]
    if host_call_primitive() == "pure_callback":
        assert not buffer, "buffer_callback in the jaxpr on the pure_callback route"
        return pure
    assert [_avals(e) for e in buffer] == [_avals(e) for e in pure], (buffer, pure)
    return buffer


def _avals(eqn):
    return [v.aval for v in (*eqn.invars, *eqn.outvars)]


def host_call_shapes(fun, *args):
    """Output shapes of every host call in the jaxpr of ``fun(*args)``."""
    jaxpr = jax.make_jaxpr(fun)(*args).jaxpr
    return [tuple(v.aval.shape) for eqn in host_call_eqns(jaxpr) for v in eqn.outvars]


def callback_count(fun, *args):
    """Number of host calls (on a CPU) in the jaxpr of ``fun(*args)``."""
    return len(host_call_eqns(jax.make_jaxpr(fun)(*args).jaxpr))


def count_primitive(jaxpr, name):
    """Occurrences of primitive ``name`` in a jaxpr, sub-jaxprs included."""
    return sum(eqn.primitive.name == name for eqn in iter_eqns(jaxpr))


def iter_eqns(jaxpr):
    """Every equation of a jaxpr, sub-jaxprs included."""
    for eqn in jaxpr.eqns:
        yield eqn
        for sub in _sub_jaxprs(eqn.params.values()):
            yield from iter_eqns(sub)


def _sub_jaxprs(values):
    for v in values:
        if isinstance(v, jax.extend.core.ClosedJaxpr):
            yield v.jaxpr
        elif isinstance(v, jax.extend.core.Jaxpr):
            yield v
        elif isinstance(v, (tuple, list)):
            yield from _sub_jaxprs(v)


def run_python(script, args, *, cwd, env=None, timeout):
    """Run ``python script *args`` in a fresh process; its stdout.

    ``env`` adds to (or replaces entries of) this process' environment.
    Fails the test, showing the tails of stdout and stderr, unless it exits 0.
    """
    proc = subprocess.run(
        [sys.executable, str(script), *args],
        cwd=cwd,
        env=dict(os.environ, **(env or {})),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc.stdout


@contextlib.contextmanager
def no_compiles(caplog):
    """Fail if JAX compiles anything inside the block."""
    with jax.log_compiles(), caplog.at_level(logging.WARNING, logger="jax"):
        yield
    compiles = [r.getMessage() for r in caplog.records if "ompil" in r.getMessage()]
    assert compiles == [], compiles
