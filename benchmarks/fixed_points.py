"""Observed points: does ``bspline``/``bspline_nd`` beat a dense basis?

With observed (concrete) points the basis is a constant. A spline can be
the band (``prod(k_i + 1)`` values per point, a gather of ``c``'s windows)
or the dense basis built once times ``c`` (a matrix product);
``bspline``/``bspline_nd`` choose the dense form up to
``_basis.DENSE_SPLINE_MAX`` basis entries (points x functions). Timed: the
gradient a model needs, ``value_and_grad`` in ``c`` of ``sum((spline(x) -
y)**2)`` with ``x`` closed over, under ``jit``, for the user's dense
product, the band (the limit set to 0), and the package's choice. Printed:
µs per call and dense / band, dense / chosen (above 1: faster than the
user's dense product).

    python benchmarks/fixed_points.py [--quick] [--backend jax]
"""

import argparse

import jax
import jax.numpy as jnp
import numpy as np
from _common import bench, machine_line, timed_jit

import bspline_callback as bc
from bspline_callback import _basis


def case(n, side, d, backend):
    """The spline's loss, the dense product's, and ``c``."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (n, d))
    t = (bc.uniform_knots(0, 1, side),) * d
    y = jnp.asarray(rng.normal(size=n), jnp.result_type(float))
    c = jnp.asarray(rng.normal(size=(side,) * d), jnp.result_type(float))
    if d == 1:
        B = bc.design_matrix(x[:, 0], t[0], 3)

        def spline(c):
            return jnp.sum((bc.bspline(x[:, 0], t[0], c, 3, backend=backend) - y) ** 2)
    else:
        B = bc.design_matrix_nd(x, t, 3)

        def spline(c):
            return jnp.sum((bc.bspline_nd(x, t, c, 3, backend=backend) - y) ** 2)

    def dense(c):
        return jnp.sum((B @ c.ravel() - y) ** 2)

    return spline, dense, c


def main(args):
    sizes = [100, 1000] if args.quick else [100, 1000, 3000, 10000]
    shapes = [(1, 10), (1, 30), (1, 100), (2, 7), (2, 10), (2, 20), (3, 5)]
    print(f"Measured {machine_line()}, backend {args.backend}\n")
    print(
        "| d | functions | n | dense µs | band µs | chosen µs | dense / band "
        "| dense / chosen |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    limits = dict(_basis.DENSE_SPLINE_MAX)
    for d, side in shapes:
        for n in sizes:
            spline, dense, c = case(n, side, d, args.backend)
            fns = {"dense": timed_jit(jax.value_and_grad(dense), c)}
            _basis.DENSE_SPLINE_MAX.update(dict.fromkeys(limits, 0))
            fns["band"] = timed_jit(jax.value_and_grad(spline), c)
            fns["band"]()  # traced (and compiled) under the zero limit
            _basis.DENSE_SPLINE_MAX.update(limits)
            fns["chosen"] = timed_jit(jax.value_and_grad(spline), c)
            t = bench(fns)
            print(
                f"| {d} | {side**d} | {n} | {1e6 * t['dense']:.0f} "
                f"| {1e6 * t['band']:.0f} | {1e6 * t['chosen']:.0f} "
                f"| {t['dense'] / t['band']:.2f} | {t['dense'] / t['chosen']:.2f} |"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--backend", default="callback", choices=["callback", "jax"])
    main(parser.parse_args())
