"""Where should a traced dense basis come from: dense host rows, or the band?

The callback backend's one fetch rule (``_basis.fetch_band``: dense rows up
to ``DENSE_FETCH_MAX`` points x functions, the band expanded in XLA above)
is a measurement, and so is the host's way of writing dense rows
(``_scipy_dense``): this script times, side by side, jitted ``design_matrix``
(value) and ``value_and_grad`` of ``sum(design_matrix(x) @ w)`` with the
rule forced each way, over sizes around any crossover, and the
curve-alignment model's gradient in a jitted loop (160 points, 16
functions). A route stays only where it wins by more than 10%.

Run: ``python benchmarks/routes.py [--quick]``.
"""

import argparse
import contextlib
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
from _common import bench, in_loop, machine_line, points, timed_jit

import bspline_callback as bc
from bspline_callback import _basis

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))
import curve_alignment as ca  # noqa: E402

SIZES = [
    (10, 10),
    (10, 50),
    (10, 200),
    (100, 10),
    (100, 50),
    (100, 200),
    (300, 50),
    (1000, 10),
    (1000, 50),
    (3000, 10),
]


@contextlib.contextmanager
def fetch(route):
    """Trace with every traced dense level fetched as ``route``."""
    saved = _basis.DENSE_FETCH_MAX, _basis.DENSE_FETCH_MAX_BASIS
    big = 10**12 if route == "dense" else 0
    _basis.DENSE_FETCH_MAX = _basis.DENSE_FETCH_MAX_BASIS = big
    try:
        yield
    finally:
        _basis.DENSE_FETCH_MAX, _basis.DENSE_FETCH_MAX_BASIS = saved


def traced(fn, route):
    """Trace and compile ``fn`` under ``route`` now (the rule is read at
    trace time); the compiled call keeps it."""
    with fetch(route):
        fn()
    return fn


def curve_loop():
    from numpyro.infer import init_to_median
    from numpyro.infer.util import initialize_model

    u, y, _, _ = ca.simulate(np.random.default_rng(2))
    margin = min(u.min() - ca.T_MIN, ca.T_MAX - u.max())
    info = initialize_model(
        jax.random.PRNGKey(0),
        ca.model,
        model_args=(jnp.asarray(u), ca.make_basis(), y.shape[0], margin),
        model_kwargs={"y": jnp.asarray(y)},
        init_strategy=init_to_median,
    )
    vg = jax.value_and_grad(info.potential_fn)
    return lambda: in_loop(
        lambda z: jax.tree.map(lambda a, g: a - 1e-6 * g, z, vg(z)[1]),
        info.param_info.z,
        100,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    fns, rows = {}, []
    for n, nb in SIZES[:3] if args.quick else SIZES:
        t = bc.uniform_knots(0.0, 1.0, nb, 3)
        x = points(n)
        w = jnp.asarray(np.random.default_rng(1).normal(size=nb), x.dtype)
        loss = lambda x, t=t, w=w: jnp.sum(bc.design_matrix(x, t, 3) @ w)  # noqa: E731
        for route in ("dense", "band"):
            fns[(n, nb, "value", route)] = traced(
                timed_jit(lambda x, t=t: bc.design_matrix(x, t, 3), x), route
            )
            fns[(n, nb, "value_and_grad", route)] = traced(
                timed_jit(jax.value_and_grad(loss), x), route
            )
        rows += [(n, nb, "value"), (n, nb, "value_and_grad")]
    make = curve_loop()
    for route in ("dense", "band"):
        with fetch(route):
            loop = make()
            loop()
        fns[(160, 16, "curve gradient, loop of 100", route)] = loop
    rows.append((160, 16, "curve gradient, loop of 100"))
    times = bench(fns)
    print(f"{machine_line()}; µs per call\n")
    print("| n | functions | call | dense rows | band | band / dense |")
    print("|---:|---:|---|---:|---:|---:|")
    for n, nb, call in rows:
        d, b = times[(n, nb, call, "dense")], times[(n, nb, call, "band")]
        print(f"| {n} | {nb} | {call} | {d * 1e6:.0f} | {b * 1e6:.0f} | {b / d:.2f} |")


if __name__ == "__main__":
    main()
