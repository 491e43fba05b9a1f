"""What does a basis call cost, against its floor? Cubic, callback backend.

For n points and n_basis functions (medians of interleaved repeats):

- ``host``: the host work a traced call asks for, alone, in a warm loop:
  the band of the value (a jitted value), and of the value and first
  derivative (a jitted value_and_grad: one host call for both);
- ``floor``: an empty host call of the same shapes through the package's
  own route (``differentiable_callback`` returning preallocated zeros):
  dispatch, transfer and copy, no work;
- ``jit value`` and ``jit vg``: jitted ``design_matrix(x, t, 3)`` and
  ``value_and_grad`` of ``sum(design_matrix(x, t, 3) @ w)``;
- the ratios of each call to its floor plus its host work: what the
  package adds around the host work (the XLA expansion of the band into
  dense rows included).

Run: ``python benchmarks/basis.py [--quick]`` (--quick: n <= 1e3).
"""

import argparse

import jax
import jax.numpy as jnp
import numpy as np
from _common import bench, machine_line, points, timed_jit

import bspline_callback as bc
from bspline_callback._scipy_host import HostBasis

K = 3
VALUE, VALUE_AND_SLOPE = ((0,),), ((0,), (1,))


def floor(n, width):
    """An empty jitted host call returning ``(n, width)`` zeros."""
    zeros = np.zeros((n, width), jnp.result_type(float))
    empty = bc.differentiable_callback(lambda x, nu: zeros, feature_shape=width)
    return timed_jit(empty, points(n))


def case(n, nb):
    t = bc.uniform_knots(0.0, 1.0, nb, K)
    x = points(n)
    x64 = np.asarray(x, np.float64)
    w = jnp.asarray(np.random.default_rng(1).normal(size=nb), x.dtype)
    host = HostBasis(t, K)
    dtype = x.dtype.name
    loss = lambda x: jnp.sum(bc.design_matrix(x, t, K) @ w)  # noqa: E731
    return {
        "host": lambda: host.band(x64, VALUE, dtype=dtype),
        "host2": lambda: host.band(x64, VALUE_AND_SLOPE, dtype=dtype),
        "floor": floor(n, K + 2),
        "floor2": floor(n, 2 * (K + 1) + 1),
        "jit": timed_jit(lambda x: bc.design_matrix(x, t, K), x),
        "vg": timed_jit(jax.value_and_grad(loss), x),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n <= 1e3")
    args = parser.parse_args()
    print(f"{machine_line()}; µs per call\n")
    print(
        "| n | n_basis | host (value, vg) | floor (value, vg) | jit value | jit vg "
        "| value / (floor + host) | vg / (floor + host) |"
    )
    print("|---:|---:|---|---|---:|---:|---:|---:|")
    for n in (10, 1000) if args.quick else (10, 1000, 100_000):
        for nb in (10, 50, 200):
            r = {k: v * 1e6 for k, v in bench(case(n, nb)).items()}
            print(
                f"| {n} | {nb} | {r['host']:.0f}, {r['host2']:.0f} "
                f"| {r['floor']:.0f}, {r['floor2']:.0f} | {r['jit']:.0f} "
                f"| {r['vg']:.0f} "
                f"| {r['jit'] / (r['floor'] + r['host']):.2f} "
                f"| {r['vg'] / (r['floor2'] + r['host2']):.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
