"""Cost of the callback path against its floor, cubic basis.

For n points and n_basis functions, times (medians of interleaved repeats,
so that the noise of a shared machine hits every contender alike):

- ``question``: the question's host code (``design_matrix(...).todense()``
  and Python loops over columns for derivatives), float64;
- ``fetched``: what a traced ``design_matrix`` fetches from the host:
  ``dense`` rows where the host's small route takes them, else the
  ``band`` (k + 1 values per row and level, and the first column), which
  XLA expands (``_host.small_route``, ``Spec.expand_band``);
- ``host``: the package's dense host function alone
  (``HostBasis.levels``: dense rows written in JAX's float dtype);
- ``floor``: a jitted ``pure_callback`` that returns a preallocated array of
  the dense output's shape (no host work: dispatch, transfer and copy
  only); where the band is fetched, the same ratios are also printed over
  the band's own floor (an empty callback returning the band's shape) and
  host work (``HostBasis.banded``): the XLA expansion is then the extra;
- ``jit``: the jitted package call (value), and ``jit vg``: jitted
  ``value_and_grad`` of ``sum(basis(x) @ w)`` (one callback, two levels),
  with their floors ``floor`` and ``floor2`` (two dense outputs);
- ``vmap64``: a jitted vmap over 64 point sets of n points, against one
  jitted call on 64 n points (only where 64 n rows fit comfortably);
- ``interpax vg``: where interpax is installed, its closest equivalent,
  jitted ``value_and_grad`` of ``sum(interp1d(x, xp, w, method="cubic2"))``
  (a natural cubic spline through n_basis values: same size of problem,
  pure JAX). bsplx needs Python >= 3.12 and is skipped when missing.

The package's host call is ``buffer_callback`` on a one-CPU process
(``_bridge._host_callback``): ``buffer floor`` is an empty one (copying
preallocated arrays into XLA's buffers), and ``pure_callback route`` the
same jitted calls traced with ``BSPLINE_CALLBACK_HOST_CALL=pure_callback``.

Ratios printed: question / host (host speed-up), jit / (floor + host) and
jit vg / (floor2 + host of two levels) (overhead over the issue's floor, an
empty ``pure_callback``), the same over the ``buffer_callback`` floor,
vmap64 / one call on 64 n points. A second table times the host function against the
question's code for nu = 0..3 (n = 1e5, 50 functions, float64, with the
largest difference in values), both as ``bspline`` runs it (banded: the
k + 1 non-zeros per row and their first column) and as ``design_matrix``
runs it (dense output, ``HostBasis.levels``), and the
dense host function against filling a dense output of 200 columns.
A third table (``--routes`` prints only it) times the host's two dense
routes against each other around the crossover ``HostBasis._small_route``
uses. A fourth (``--fetch`` prints only it) times a traced
``design_matrix`` fetching dense rows against fetching the band, around
the size where the package switches (``_host.small_route``). Run:
``python benchmarks/basis.py [--quick | --routes | --fetch]``.
"""

import argparse
import dataclasses
import functools
import os
import platform
import sys
import time
from unittest import mock

import jax
import jax.numpy as jnp
import numpy as np

import bspline_callback as bc
from bspline_callback import _basis, _bridge, _host

try:
    import interpax
except ImportError:  # optional peer, for comparison only
    interpax = None

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
from question_code import b_spline_basis as question_basis  # noqa: E402


def bench(fns, *, min_time=0.2, repeats=7):
    """Median seconds per call of each function, repeats interleaved."""
    for f in fns.values():  # warm up (compile) and size the inner loop
        f()
    inner = {}
    for name, f in fns.items():
        t0 = time.perf_counter()
        f()
        dt = max(time.perf_counter() - t0, 1e-6)
        inner[name] = max(1, int(min_time / repeats / dt))
    samples = {name: [] for name in fns}
    for _ in range(repeats):
        for name, f in fns.items():
            t0 = time.perf_counter()
            for _ in range(inner[name]):
                f()
            samples[name].append((time.perf_counter() - t0) / inner[name])
    return {name: float(np.median(v)) for name, v in samples.items()}


def machine_line():
    """What the tables were measured on: CPU, cores, JAX backend, dtype."""
    return (
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"jax {jax.__version__} ({jax.default_backend()}: "
        f"{jax.devices()[0].device_kind}), "
        f"dtype {np.dtype(jnp.result_type(float)).name}"
    )


def pure_callback_route():
    """A context in which traces take the ``pure_callback`` route (the
    package reads ``BSPLINE_CALLBACK_HOST_CALL`` at trace time): call a
    jitted function once inside it to compile it on that route."""
    return mock.patch.dict(os.environ, {_bridge.HOST_CALL_ENV: "pure_callback"})


def empty_callback(*arrays, route="pure_callback"):
    """A jitted host call on ``x`` returning ``arrays`` (preallocated, no host
    work): the floor of a call fetching their shapes, through
    ``pure_callback`` or ``buffer_callback`` (copying them into XLA's
    buffers, as the package's host call does)."""
    shapes = tuple(jax.ShapeDtypeStruct(a.shape, a.dtype) for a in arrays)
    if route == "pure_callback":
        return jax.jit(
            lambda x: jax.pure_callback(
                lambda x: arrays, shapes, x, vmap_method="expand_dims"
            )
        )

    def fill(ctx, out, x):
        for buffer, a in zip(out, arrays, strict=True):
            np.copyto(np.asarray(buffer), a)

    # The package's own import of the experimental API (None on old JAX,
    # where the package, and so this floor, is never on this route).
    return jax.jit(_bridge._buffer_callback(fill, shapes, vmap_method="expand_dims"))


def sync(f):
    return lambda *a: jax.block_until_ready(f(*a))


def timed_jit(f, *args):
    """A zero-argument call of the jitted ``f`` on ``args``, synchronised."""
    jitted = jax.jit(f)
    return lambda: sync(jitted)(*args)


def case(n, n_basis, quick):
    k = 3
    t = bc.uniform_knots(0.0, 1.0, n_basis, k)
    rng = np.random.default_rng(0)
    dtype = jnp.result_type(float)
    xj = jnp.asarray(rng.uniform(0.0, 1.0, n), dtype=dtype)
    x64 = np.asarray(xj, dtype=np.float64)
    w = jnp.asarray(rng.normal(size=n_basis), dtype=dtype)
    host = _host.HostBasis(t, k)
    # Floors: empty callbacks returning what a value and a value_and_grad
    # fetch, and the host work that produces it: dense rows (the output's
    # shape, the floor), and where a traced call fetches the band
    # instead (beyond the host's small route), the band's too.
    banded = not _host.small_route(n, n_basis)
    dense_out = np.zeros((n, n_basis), dtype)
    width = k + 2  # k + 1 values and the first column, per level
    band_out = np.zeros((n, width), dtype), np.zeros((n, 2 * width - 1), dtype)

    floors = {
        "floor": empty_callback(dense_out),
        "floor2": empty_callback(dense_out, dense_out),
    }
    if banded:
        floors["band floor"] = empty_callback(band_out[0])
        floors["band floor2"] = empty_callback(band_out[1])
    if _bridge._buffer_path():  # the route the package takes here
        floors["buffer floor"] = empty_callback(dense_out, route="buffer_callback")
        floors["buffer floor2"] = empty_callback(
            dense_out, dense_out, route="buffer_callback"
        )
    value = jax.jit(lambda x: bc.design_matrix(x, t, k))
    vg = jax.jit(jax.value_and_grad(lambda x: jnp.sum(bc.design_matrix(x, t, k) @ w)))
    with pure_callback_route():  # the same calls on the other route
        pure_value = jax.jit(lambda x: bc.design_matrix(x, t, k))
        pure_vg = jax.jit(
            jax.value_and_grad(lambda x: jnp.sum(bc.design_matrix(x, t, k) @ w))
        )
        sync(pure_value)(xj), sync(pure_vg)(xj)  # traced and compiled here
    fns = {
        "question": lambda: question_basis(t, k, 0, x64),
        "pure jit": lambda: sync(pure_value)(xj),
        "pure jit vg": lambda: sync(pure_vg)(xj),
        "host": lambda: host.levels(x64, (0,), dtype=dtype),
        "host2": lambda: host.levels(x64, (0, 1), dtype=dtype),
        "jit": lambda: sync(value)(xj),
        "jit vg": lambda: sync(vg)(xj),
    }
    fns.update({name: functools.partial(sync(f), xj) for name, f in floors.items()})
    if banded:
        fns["band host"] = lambda: host.banded(x64, (0,), dtype=dtype)
        fns["band host2"] = lambda: host.banded(x64, (0, 1), dtype=dtype)
    if interpax is not None:
        xp = jnp.linspace(0.0, 1.0, n_basis, dtype=dtype)
        ivg = jax.jit(
            jax.value_and_grad(
                lambda x: jnp.sum(interpax.interp1d(x, xp, w, method="cubic2"))
            )
        )
        fns["interpax vg"] = lambda: sync(ivg)(xj)
    batch = 64
    if n * batch * n_basis <= 2_000_000 and not quick:
        xb = jnp.asarray(rng.uniform(0.0, 1.0, (batch, n)), dtype=dtype)
        vmapped = jax.jit(jax.vmap(lambda x: bc.design_matrix(x, t, k)))
        fns["vmap64"] = lambda: sync(vmapped)(xb)
        fns["one 64n"] = lambda: sync(value)(xb.reshape(-1))
    return banded, bench(fns, min_time=0.1 if quick else 0.3)


def host_by_nu(n, n_basis):
    """The host function against the question's code for nu = 0..3, float64."""
    k = 3
    t = bc.uniform_knots(0.0, 1.0, n_basis, k)
    x = np.random.default_rng(1).uniform(0.0, 1.0, n)
    host = _host.HostBasis(t, k)
    print(f"\nHost function alone, n={n}, n_basis={n_basis}, cubic, float64:\n")
    print(
        "| nu | question ms | banded host ms | dense host ms | question/banded "
        "| question/dense | max rel diff |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for nu in range(4):
        # Same values: the question drops the first column.
        ref = np.asarray(question_basis(t, k, nu, x))
        diff = np.abs(ref - host.levels(x, (nu,))[0][:, 1:]).max() / np.abs(ref).max()
        r = bench(
            {
                "question": lambda nu=nu: question_basis(t, k, nu, x),
                "banded": lambda nu=nu: host.banded(x, (nu,)),
                "dense": lambda nu=nu: host.levels(x, (nu,)),
            },
            repeats=5,
        )
        print(
            f"| {nu} | {r['question'] * 1e3:.1f} | {r['banded'] * 1e3:.1f} "
            f"| {r['dense'] * 1e3:.1f} | {r['question'] / r['banded']:.2f} "
            f"| {r['question'] / r['dense']:.2f} | {diff:.1e} |"
        )
    wide = _host.HostBasis(bc.uniform_knots(0.0, 1.0, 200, k), k)
    r = bench(
        {
            "fill": lambda: np.ones((n, 200)),
            "host": lambda: wide.levels(x, (0,)),
        },
        repeats=5,
    )
    print(
        f"\nn_basis=200: dense host {r['host'] * 1e3:.1f} ms, filling the dense "
        f"output (np.ones) {r['fill'] * 1e3:.1f} ms, ratio "
        f"{r['host'] / r['fill']:.2f}"
    )


class _BandedOnly(_host.HostBasis):
    """A ``HostBasis`` whose ``levels`` always takes the banded route."""

    __slots__ = ()

    def _small_route(self, n_rows, derivative=True):
        return False


def route_table():
    """The host's two dense routes side by side (``HostBasis._small_route``
    picks one): scipy's compiled evaluation with identity (and raising)
    coefficients against the banded route (design-matrix rows scattered
    into zeros), value and value-and-first-derivative levels, float32."""
    k = 3
    print(
        "\nHost routes, cubic, float32, µs (small: _levels_small; banded: the "
        "scatter of design-matrix rows); the route levels() takes:\n"
    )
    print(
        "| n_basis | n | n * n_basis | small (0,) | banded (0,) | small (0, 1) "
        "| banded (0, 1) | banded / small (0, 1) | levels() takes (0,) / (0, 1) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for nb in (10, 16, 50, 200):
        t = bc.uniform_knots(0.0, 1.0, nb, k)
        host, banded = _host.HostBasis(t, k), _BandedOnly(t, k)
        for n in (10, 100, 300, 1000, 3000):
            x = np.random.default_rng(2).uniform(0.0, 1.0, n)
            fns = {}
            for nus in ((0,), (0, 1)):
                fns[f"small {nus}"] = functools.partial(
                    host._levels_small, x, None, nus, np.float32
                )
                fns[f"banded {nus}"] = functools.partial(
                    banded.levels, x, nus, dtype=np.float32
                )
            r = {key: v * 1e6 for key, v in bench(fns, min_time=0.05).items()}
            route = "/".join(
                "small" if host._small_route(n, d) else "banded" for d in (0, 1)
            )
            print(
                f"| {nb} | {n} | {n * nb} | {r['small (0,)']:.0f} "
                f"| {r['banded (0,)']:.0f} | {r['small (0, 1)']:.0f} "
                f"| {r['banded (0, 1)']:.0f} "
                f"| {r['banded (0, 1)'] / r['small (0, 1)']:.2f} | {route} |",
                flush=True,
            )


def fetched(x, t, k, band, backend="callback"):
    """A traced ``design_matrix`` that fetches dense levels or the band
    expanded in XLA, whatever the package's rule would pick: the package's
    own ``evaluate`` with ``Spec.expand_band`` forced."""
    spec, nu, ops = _basis._spec_for("design_matrix", t, k, 0, False, backend=backend)
    forced = dataclasses.replace(spec, expand_band=lambda size: band)
    return _bridge.evaluate(forced, x, nu, ops)


def fetch_table():
    """A traced callback ``design_matrix`` fetching dense rows against
    fetching the band (expanded in XLA), jitted value and value_and_grad
    of ``sum(basis(x) @ w)``, around the size where the package switches
    (``_host.small_route``), float32."""
    k = 3
    dtype = jnp.result_type(float)
    print(
        "\nTraced design_matrix, callback, dense rows fetched against the band "
        "fetched and expanded in XLA, cubic, µs:\n"
    )
    print(
        "| n_basis | n | n * n_basis | dense jit | band jit | dense vg | band vg "
        "| dense/band jit | dense/band vg | fetched |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for nb in (10, 50, 200):
        t = bc.uniform_knots(0.0, 1.0, nb, k)
        w = jnp.asarray(np.random.default_rng(3).normal(size=nb), dtype)
        for n in (100, 300, 1000, 3000, 100_000):
            x = jnp.asarray(np.random.default_rng(2).uniform(0.0, 1.0, n), dtype)
            fns = {}
            for name, band in (("dense", False), ("band", True)):
                fns[f"{name} jit"] = timed_jit(
                    lambda x, band=band, t=t: fetched(x, t, k, band), x
                )
                fns[f"{name} vg"] = timed_jit(
                    jax.value_and_grad(
                        lambda x, band=band, t=t, w=w: jnp.sum(
                            fetched(x, t, k, band) @ w
                        )
                    ),
                    x,
                )
            r = {key: v * 1e6 for key, v in bench(fns, min_time=0.1).items()}
            taken = "dense" if _host.small_route(n, nb) else "band"
            print(
                f"| {nb} | {n} | {n * nb} | {r['dense jit']:.0f} "
                f"| {r['band jit']:.0f} | {r['dense vg']:.0f} | {r['band vg']:.0f} "
                f"| {r['dense jit'] / r['band jit']:.2f} "
                f"| {r['dense vg'] / r['band vg']:.2f} | {taken} |",
                flush=True,
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter runs")
    parser.add_argument(
        "--routes", action="store_true", help="only the host routes' crossover table"
    )
    parser.add_argument(
        "--fetch",
        action="store_true",
        help="only the table of dense rows against the band fetched",
    )
    args = parser.parse_args()
    if args.routes or args.fetch:
        print(machine_line())
        (route_table if args.routes else fetch_table)()
        return
    sizes = [10, 1000] if args.quick else [10, 1000, 100_000]
    widths = [10, 50] if args.quick else [10, 50, 200]
    print(machine_line() + "\n")
    print(
        "| n | n_basis | fetched | question µs | host µs | floor µs "
        "| buffer floor µs | jit µs | jit vg µs | pure_callback route: jit, vg µs "
        "| question/host | jit/(floor+host) | vg/(floor2+host2) "
        "| jit, vg over the buffer floor + host "
        "| jit, vg over the band's floor + host | vmap64/one 64n "
        "| interpax vg / jit vg |"
    )
    print(
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---|---|"
        "---:|---:|"
    )
    # A discarded warm-up case: the first timings of a process (thread
    # pools, allocator, CPU clocks) run slow and would skew the first row.
    case(sizes[0], widths[0], True)
    for n in sizes:
        for nb in widths:
            banded, r = case(n, nb, args.quick)
            r = {key: v * 1e6 for key, v in r.items()}
            vmap = f"{r['vmap64'] / r['one 64n']:.2f}" if "vmap64" in r else "-"
            ipx = f"{r['interpax vg'] / r['jit vg']:.2f}" if "interpax vg" in r else "-"
            buffer, buffer_ratios = "-", "-"
            if "buffer floor" in r:
                buffer = f"{r['buffer floor']:.0f}"
                buffer_ratios = (
                    f"{r['jit'] / (r['buffer floor'] + r['host']):.2f}, "
                    f"{r['jit vg'] / (r['buffer floor2'] + r['host2']):.2f}"
                )
            band = "-"
            if banded:
                band = (
                    f"{r['jit'] / (r['band floor'] + r['band host']):.2f}, "
                    f"{r['jit vg'] / (r['band floor2'] + r['band host2']):.2f}"
                )
            print(
                f"| {n} | {nb} | {'band' if banded else 'dense'} "
                f"| {r['question']:.0f} | {r['host']:.0f} "
                f"| {r['floor']:.0f} | {buffer} | {r['jit']:.0f} | {r['jit vg']:.0f} "
                f"| {r['pure jit']:.0f}, {r['pure jit vg']:.0f} "
                f"| {r['question'] / r['host']:.2f} "
                f"| {r['jit'] / (r['floor'] + r['host']):.2f} "
                f"| {r['jit vg'] / (r['floor2'] + r['host2']):.2f} | {buffer_ratios} "
                f"| {band} "
                f"| {vmap} | {ipx} |",
                flush=True,
            )
    host_by_nu(10_000 if args.quick else 100_000, 50)
    if not args.quick:
        route_table()
        fetch_table()


if __name__ == "__main__":
    main()
