"""Time the package's public calls; print the medians as JSON.

Uses only the public API, so ``compare.py`` can run it against any version
of the package (put on ``PYTHONPATH``): the cubic basis jitted, value and
value_and_grad, at n = 10, 1e3 and 1e5 points and 10, 50 and 200 basis
functions (callback backend), and the curve-alignment model's gradient in a
jitted loop of 100 (as inside NUTS), on both backends.

Run: ``python benchmarks/probe.py [--examples DIR] [--quick]``.
"""

import argparse
import json
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
from _common import bench, in_loop, points, timed_jit

import bspline_callback as bc

CASES = [(n, nb) for n in (10, 1000, 100000) for nb in (10, 50, 200)]


def basis_calls(quick):
    fns = {}
    for n, nb in CASES[:6] if quick else CASES:
        t = bc.uniform_knots(0.0, 1.0, nb, 3)
        x = points(n)
        w = jnp.asarray(np.random.default_rng(1).normal(size=nb), x.dtype)
        fns[f"n={n}, {nb} functions: jit value"] = timed_jit(
            lambda x, t=t: bc.design_matrix(x, t, 3), x
        )
        loss = lambda x, t=t, w=w: jnp.sum(bc.design_matrix(x, t, 3) @ w)  # noqa: E731
        fns[f"n={n}, {nb} functions: jit value_and_grad"] = timed_jit(
            jax.value_and_grad(loss), x
        )
    return fns


def curve_gradient(examples):
    """The curve-alignment model's potential gradient, 100 in a jitted loop."""
    sys.path.insert(0, examples)
    import curve_alignment as ca
    from numpyro.infer import init_to_median
    from numpyro.infer.util import initialize_model

    fns = {}
    for backend in ("callback", "jax"):
        u, y, _, _ = ca.simulate(np.random.default_rng(2))
        base = ca.make_basis()
        basis = bc.BSplineBasis(base.t, base.k, backend=backend)
        margin = min(u.min() - ca.T_MIN, ca.T_MAX - u.max())
        info = initialize_model(
            jax.random.PRNGKey(0),
            ca.model,
            model_args=(jnp.asarray(u), basis, y.shape[0], margin),
            model_kwargs={"y": jnp.asarray(y)},
            init_strategy=init_to_median,
        )
        vg = jax.value_and_grad(info.potential_fn)

        def descend(z, vg=vg):  # a tiny step: each gradient depends on the last
            return jax.tree.map(lambda a, g: a - 1e-6 * g, z, vg(z)[1])

        key = f"curve-alignment gradient ({backend}), in a jitted loop"
        fns[key] = in_loop(descend, info.param_info.z, 100)
    return fns


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--examples", default=os.path.join(here, "..", "examples"))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default="", help="only the calls whose name has this")
    args = parser.parse_args()
    fns = {**basis_calls(args.quick), **curve_gradient(args.examples)}
    fns = {k: f for k, f in fns.items() if args.only in k}
    times = bench(fns, repeats=5 if args.quick else 7)
    # Per gradient in the loop.
    times = {k: v / 100 if "loop" in k else v for k, v in times.items()}
    print(json.dumps({"package": bc.__file__, "times": times}))


if __name__ == "__main__":
    main()
