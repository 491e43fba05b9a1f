"""How fast are tensor-product splines? Cubic, n = 1e4 points, float32.

Medians of interleaved repeats, ratios from the same run. value_and_grad of
``sum(spline(x))`` in the points ``x`` (n, 2) and the coefficients ``c``:

- at a 20 x 20 basis: ``bspline_nd`` (jax backend: per-axis bands
  multiplied out, a gather of ``c``'s window) against interpax's
  ``interp2d(method="cubic")`` on a 20 x 20 grid of values (the closest
  peer, if installed) and the callback backend;
- at a 50 x 50 basis: ``bspline_nd`` against the dense product
  ``design_matrix_nd(x) @ c.ravel()``;
- the callback backend's ``bspline_nd`` against its floor (an empty host
  call of the same shapes through the package's route) plus its host work,
  and the minor page faults per call of each (glibc hands large freed
  blocks back to the system, and a call that takes them again pays a
  fault per page; ``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_``
  set high keep them);
- the jax backend's two ways to the gradient in ``c``, by basis size:
  dense per-axis rows and a matrix product, or the transpose of the window
  gather (a scatter-add); ``_nd.DENSE_C_MAX`` is the crossover.

``--kernels``: instead, the XLA kernels (and the host call) each of the
20 x 20 contenders runs, µs per call from a ``jax.profiler`` trace.

Run: ``python benchmarks/nd.py [--quick] [--kernels]`` (--quick: n = 1e3).
"""

import argparse

import jax
import jax.numpy as jnp
import numpy as np
from _common import bench, kernel_times, machine_line, page_faults, timed_jit

import bspline_callback as bc
from bspline_callback import _nd
from bspline_callback._callback_backend import _TensorHost, _TensorShapes
from bspline_callback._scipy_host import HostBasis

try:
    import interpax
except ImportError:  # optional peer, for comparison only
    interpax = None

K = 3


def problem(n, n_basis):
    rng = np.random.default_rng(0)
    dtype = jnp.result_type(float)
    t = (bc.uniform_knots(0.0, 1.0, n_basis),) * 2
    x = jnp.asarray(rng.uniform(0.01, 0.99, (n, 2)), dtype)
    c = jnp.asarray(rng.normal(size=(n_basis, n_basis)), dtype)
    return t, x, c


def vg(loss, *args):
    return timed_jit(jax.value_and_grad(loss, argnums=(0, 1)), *args)


def spline_loss(t, backend):
    return lambda x, c: jnp.sum(bc.bspline_nd(x, t, c, K, backend=backend))


def dense_loss(t):
    return lambda x, c: jnp.sum(bc.design_matrix_nd(x, t, K, backend="jax") @ c.ravel())


def interpax_loss(grid):
    return lambda x, f: jnp.sum(
        interpax.interp2d(x[:, 0], x[:, 1], grid, grid, f, method="cubic")
    )


def floor_and_host(t, x):
    """The callback's floor (an empty host call returning the packed band of
    the orders a value_and_grad fetches, in its shape) and its host work
    alone."""
    orders = ((0, 0), (0, 1), (1, 0))
    hosts = tuple(HostBasis(ti, K) for ti in t)
    shapes = _TensorShapes((K + 1,) * 2, hosts[0].n_basis * hosts[1].n_basis, "band")
    ((width,),) = shapes(orders)
    zeros = np.zeros((x.shape[0], width), x.dtype)
    empty = bc.differentiable_callback(lambda p, nu: zeros, feature_shape=width, ndim=2)
    host = _TensorHost(hosts, "band")
    x64 = np.asarray(x, np.float64)
    return timed_jit(lambda p: empty(p), x), lambda: host(
        x64, orders, dtype=x.dtype.name
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n = 1e3")
    parser.add_argument("--kernels", action="store_true", help="per-kernel times")
    args = parser.parse_args()
    n = 1000 if args.quick else 10_000
    print(f"{machine_line()}; n = {n}, value_and_grad in x and c, µs\n")
    t, x, c = problem(n, 20)
    if args.kernels:
        kernels(t, x, c)
        return
    peers = {"jax bspline_nd": vg(spline_loss(t, "jax"), x, c)}
    if interpax is not None:
        grid = jnp.linspace(0.0, 1.0, 20, dtype=x.dtype)
        peers["interpax interp2d"] = vg(interpax_loss(grid), x, c)
    floor, host = floor_and_host(t, x)
    callback = {
        "callback bspline_nd": vg(spline_loss(t, "callback"), x, c),
        "floor": floor,
        "host": host,
    }
    # Two runs, each contender beside its own comparison: the callback's
    # long calls would disturb the short ones' timing.
    r = {k: v * 1e6 for k, v in {**bench(peers, repeats=11), **bench(callback)}.items()}
    ipx = r.get("interpax interp2d", float("nan"))
    print("20 x 20 basis:\n")
    print(
        "| jax bspline_nd | interpax interp2d | interpax / jax | callback bspline_nd "
        "| floor + host | callback / (floor + host) |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    fh = r["floor"] + r["host"]
    print(
        f"| {r['jax bspline_nd']:.0f} | {ipx:.0f} | {ipx / r['jax bspline_nd']:.2f} "
        f"| {r['callback bspline_nd']:.0f} | {fh:.0f} "
        f"| {r['callback bspline_nd'] / fh:.2f} |\n"
    )
    faults = {k: page_faults(f) for k, f in callback.items()}
    print(
        "minor page faults per call: "
        + ", ".join(f"{k} {v:.0f}" for k, v in faults.items())
        + "\n"
    )
    t, x, c = problem(n, 50)
    r = {
        k: v * 1e6
        for k, v in bench(
            {
                "bspline_nd": vg(spline_loss(t, "jax"), x, c),
                "dense": vg(dense_loss(t), x, c),
            }
        ).items()
    }
    print("50 x 50 basis, jax backend:\n")
    print("| bspline_nd | design_matrix_nd @ c | dense / bspline_nd |")
    print("|---:|---:|---:|")
    ratio = r["dense"] / r["bspline_nd"]
    print(f"| {r['bspline_nd']:.0f} | {r['dense']:.0f} | {ratio:.2f} |")
    c_gradient_table(n)


def kernels(t, x, c):
    """Per contender at 20 x 20, its kernels by time, and their sum."""
    fns = {
        "jax bspline_nd": vg(spline_loss(t, "jax"), x, c),
        "callback bspline_nd": vg(spline_loss(t, "callback"), x, c),
    }
    if interpax is not None:
        grid = jnp.linspace(0.0, 1.0, 20, dtype=x.dtype)
        fns["interpax interp2d"] = vg(interpax_loss(grid), x, c)
    for name, f in fns.items():
        times = kernel_times(f)
        print(f"{name}: {len(times)} kernels, {sum(times.values()):.0f} µs in all\n")
        print("| kernel | µs |\n|---|---:|")
        for kernel, us in times.items():
            if us >= 1:
                print(f"| {kernel} | {us:.0f} |")
        print()


def c_gradient_table(n):
    saved, fns = _nd.DENSE_C_MAX, {}
    sizes = (10, 20, 30, 40, 50)
    for nb in sizes:
        t, x, c = problem(n, nb)
        for route, cap in (("dense", 10**12), ("scatter", 0)):
            _nd.DENSE_C_MAX = cap  # read at trace time
            f = vg(spline_loss(t, "jax"), x, c)
            f()
            fns[(nb, route)] = f
    _nd.DENSE_C_MAX = saved
    r = {k: v * 1e6 for k, v in bench(fns).items()}
    print("\nthe gradient in c, jax backend, value_and_grad in x and c:\n")
    print("| basis | dense rows | window scatter | scatter / dense |")
    print("|---|---:|---:|---:|")
    for nb in sizes:
        d, s = r[(nb, "dense")], r[(nb, "scatter")]
        print(f"| {nb} x {nb} | {d:.0f} | {s:.0f} | {s / d:.2f} |")


if __name__ == "__main__":
    main()
